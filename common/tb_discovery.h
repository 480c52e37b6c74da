/*
 * tb_discovery.h - find the broker through the _thingsbus._tcp SRV record.
 *
 * Why this exists: adaptors, clients and tools are given a zone, not an
 * address.  We resolve _thingsbus._tcp.<zone> with c-ares, order the targets
 * by RFC 2782 (lowest priority first, weighted random within a priority),
 * resolve each target's A/AAAA through c-ares too, and derive the service
 * URLs from the record's base port P:
 *     client PUB       tcp://<target>:P
 *     adaptor input    tcp://<target>:P+1   (and UDP <target>:P+1)
 *     snapshot service tcp://<target>:P+2
 * DNS servers: the dns_servers argument ("host:port[,host:port]"), else the
 * environment variable THINGSBUS_DNS_SERVERS, else the system resolver
 * configuration.  Library-safe: no printing, no signals, no abort.
 */
#ifndef TB_DISCOVERY_H
#define TB_DISCOVERY_H
#include <stddef.h>
#include <stdint.h>
#include "thingsbus_errors.h"

typedef enum {
    TB_SERVICE_PUB      = 0,   /* port P   */
    TB_SERVICE_INPUT    = 1,   /* port P+1 */
    TB_SERVICE_SNAPSHOT = 2    /* port P+2 */
} tb_service_t;

typedef struct {
    char     host[256];     /* SRV target name, without the trailing dot */
    char     address[64];   /* first resolved address (IPv4 or IPv6 text) */
    uint16_t port;          /* SRV port + service offset */
    uint16_t priority;
    uint16_t weight;
    uint32_t ttl;           /* seconds, from the SRV answer */
    char     url[300];      /* "tcp://<address>:<port>" (IPv6 in brackets) */
} tb_endpoint_t;

typedef struct {
    size_t        count;    /* targets in RFC 2782 try order */
    tb_endpoint_t *items;
    uint32_t      min_ttl;  /* smallest TTL seen; re-resolve after this */
} tb_endpoints_t;

/* Blocking resolution for tools and for library set-up threads.
 * zone: e.g. "example.org" (the SRV name queried is _thingsbus._tcp.<zone>).
 * dns_servers: NULL for the default order described above.
 * timeout_ms: total time allowed.
 * On success returns TB_OK and *out (free with tb_endpoints_free).
 * On failure returns TB_ERR_DNS_NO_RECORD / _NXDOMAIN / _TIMEOUT /
 * _UNREACHABLE / _FAILED (or TB_ERR_INVALID_ARG / TB_ERR_NOMEM) and, when
 * errbuf is given, plain words naming the name that was looked up. */
int tb_discover(const char *zone, const char *dns_servers, tb_service_t service,
                int timeout_ms, tb_endpoints_t **out, char *errbuf, size_t errlen);

/* Free a result; accepts NULL; sets *eps_p to NULL. */
void tb_endpoints_free(tb_endpoints_t **eps_p);

#endif
