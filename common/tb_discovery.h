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
 *
 * Three layers, each usable alone:
 *   - tb_discover(): blocking, for tools and library set-up threads;
 *   - tb_resolver_t: the same lookup driven from the caller's event loop
 *     (file descriptors + timeout + process), never blocking;
 *   - tb_locator_t: pure policy for long-lived libraries: which endpoint to
 *     use now, fail over to the next, and when to resolve again (target
 *     unreachable for too long, smallest TTL expired).
 * Plus the pure pieces they are built from (RFC 2782 ordering, server-list
 * parsing, URL formatting), exposed for tests and for the tools.
 */
#ifndef TB_DISCOVERY_H
#define TB_DISCOVERY_H
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "thingsbus_errors.h"

/* The SRV service label; the name looked up is TB_SRV_PREFIX "<zone>". */
#define TB_SRV_PREFIX "_thingsbus._tcp."

/* Environment variable naming the DNS servers when none are given. */
#define TB_DNS_SERVERS_ENV "THINGSBUS_DNS_SERVERS"

/* Bounds on what one lookup returns (more records are ignored). */
#define TB_DISCOVERY_MAX_TARGETS   32   /* SRV records used */
#define TB_DISCOVERY_MAX_ADDRS      8   /* addresses used per target */

/* Default re-resolution delay when the chosen broker stays unreachable. */
#define TB_LOCATOR_DEFAULT_UNREACHABLE_MS 30000u

typedef enum {
    TB_SERVICE_PUB      = 0,   /* port P   */
    TB_SERVICE_INPUT    = 1,   /* port P+1 */
    TB_SERVICE_SNAPSHOT = 2    /* port P+2 */
} tb_service_t;

typedef struct {
    char     host[256];     /* SRV target name, without the trailing dot */
    char     address[64];   /* resolved address (IPv4 or IPv6 text) */
    uint16_t port;          /* SRV port + service offset */
    uint16_t priority;
    uint16_t weight;
    uint32_t ttl;           /* seconds, from the SRV answer */
    char     url[300];      /* "tcp://<address>:<port>" (IPv6 in brackets) */
    /* added fields */
    int      family;        /* AF_INET or AF_INET6 */
    uint16_t base_port;     /* the SRV record's port P */
    size_t   target_index;  /* rank of the SRV target in try order (0 = first);
                               consecutive items with the same index are the
                               addresses of one target */
} tb_endpoint_t;

/* One item per (target, address): a target with an A and an AAAA record
 * gives two consecutive items.  Callers try items[0], then items[1], ... */
typedef struct {
    size_t        count;    /* items in RFC 2782 try order */
    tb_endpoint_t *items;
    uint32_t      min_ttl;  /* smallest TTL seen (SRV and address records);
                               re-resolve after this many seconds */
    char          name[300];/* the SRV name that was looked up */
} tb_endpoints_t;

/* Returned by tb_resolver_result() while a lookup is still running. */
#define TB_RESOLVER_MAX_FDS 16  /* pollfds tb_resolver_pollfds can return */
#define TB_DISCOVERY_PENDING 1

/* ------------------------------------------------------------ blocking */

/* Blocking resolution for tools and for library set-up threads.
 * zone: e.g. "example.org" (the SRV name queried is _thingsbus._tcp.<zone>;
 *       a trailing dot is accepted; a zone already starting with
 *       "_thingsbus._tcp." is used as given).
 * dns_servers: NULL for the default order described above.
 * timeout_ms: total time allowed (<= 0 means 5000).
 * On success returns TB_OK and *out (free with tb_endpoints_free).
 * On failure returns TB_ERR_DNS_NO_RECORD / _NXDOMAIN / _TIMEOUT /
 * _UNREACHABLE / _FAILED (or TB_ERR_INVALID_ARG / TB_ERR_BAD_URL for a bad
 * server list / TB_ERR_NOMEM) and, when errbuf is given, plain words naming
 * the name that was looked up.  *out is NULL on failure. */
int tb_discover(const char *zone, const char *dns_servers, tb_service_t service,
                int timeout_ms, tb_endpoints_t **out, char *errbuf, size_t errlen);

/* Free a result; accepts NULL; sets *eps_p to NULL. */
void tb_endpoints_free(tb_endpoints_t **eps_p);

/* A deep copy of eps (NULL on OOM or when eps is NULL). */
tb_endpoints_t *tb_endpoints_dup(const tb_endpoints_t *eps);

/* ------------------------------------------------------------ async */

/* The event-loop form.  One object per lookup at a time; use it from one
 * thread at a time (objects are independent: several threads may each own
 * one).  Typical loop:
 *     tb_resolver_start(res, zone, TB_SERVICE_INPUT, 5000);
 *     while (tb_resolver_busy(res)) {
 *         struct pollfd fds[TB_RESOLVER_MAX_FDS];
 *         size_t n = tb_resolver_pollfds(res, fds, TB_RESOLVER_MAX_FDS);
 *         int ready = poll(fds, n, tb_resolver_timeout_ms(res));  (or merge
 *                               the fds and the timeout into your own loop)
 *         tb_resolver_process(res, ready > 0 ? fds : NULL, ready > 0 ? n : 0);
 *     }
 *     rc = tb_resolver_result(res, &eps, errbuf, sizeof errbuf);
 * A lookup ends by its own deadline: if some targets' addresses are known
 * when it comes, those are returned (TB_OK); otherwise TB_ERR_DNS_TIMEOUT. */
typedef struct tb_resolver_t tb_resolver_t;

/* Random source: returns uniformly distributed 32-bit values.  Used for the
 * RFC 2782 weighted choice; tests inject a seeded one. */
typedef uint32_t (*tb_rng_fn)(void *arg);

/* A resolver that never blocks.  dns_servers as for tb_discover (NULL: the
 * environment variable, else the system configuration); the list is parsed
 * here, so a bad list fails now with TB_ERR_BAD_URL and errbuf set.
 * On success returns TB_OK and *self_p. */
int tb_resolver_new(tb_resolver_t **self_p, const char *dns_servers,
                    char *errbuf, size_t errlen);

/* Cancel any lookup and free; accepts NULL; nulls *self_p. */
void tb_resolver_destroy(tb_resolver_t **self_p);

/* Replace the random source (NULL restores the default, seeded from the
 * OS).  rng_arg is borrowed. */
void tb_resolver_set_rng(tb_resolver_t *self, tb_rng_fn rng, void *rng_arg);

/* Start looking up zone (see tb_discover) for service; a lookup already
 * running is cancelled and its result dropped.  timeout_ms (<= 0: 5000) is
 * the total allowed.  The system resolver configuration is re-read on each
 * start, so a later re-resolution sees changes.
 * Returns TB_OK, TB_ERR_INVALID_ARG (bad zone) or TB_ERR_NOMEM /
 * TB_ERR_DNS_FAILED (c-ares could not start; the text is in
 * tb_resolver_result). */
int tb_resolver_start(tb_resolver_t *self, const char *zone,
                      tb_service_t service, int timeout_ms);

/* The sockets to watch now: fills up to max pollfds (fd and events
 * POLLIN/POLLOUT; revents zeroed) and returns how many (at most
 * TB_RESOLVER_MAX_FDS).
 * Ask again after every tb_resolver_process: the set changes.
 * The fds are plain sockets, usable in zmq_pollitem_t.fd too. */
size_t tb_resolver_pollfds(tb_resolver_t *self, struct pollfd *fds, size_t max);

/* Milliseconds until tb_resolver_process must be called even if no socket
 * is ready (0 = now); -1 when no lookup is running. */
int tb_resolver_timeout_ms(tb_resolver_t *self);

/* Handle ready sockets and expired timers.  fds/nfds: the array given to
 * poll() with revents filled in (NULL/0 when only the timeout expired). */
void tb_resolver_process(tb_resolver_t *self, const struct pollfd *fds, size_t nfds);

/* True while a lookup is running. */
bool tb_resolver_busy(const tb_resolver_t *self);

/* The outcome of the last lookup: TB_DISCOVERY_PENDING while running;
 * TB_OK with *out (caller frees; taken once, later calls return
 * TB_ERR_INVALID_ARG); or a negative code as for tb_discover with errbuf
 * set (the error stays until the next start). */
int tb_resolver_result(tb_resolver_t *self, tb_endpoints_t **out,
                       char *errbuf, size_t errlen);

/* ------------------------------------------------------------ locator */

/* Which endpoint to use, failover and re-resolution policy.  Pure logic:
 * every call takes the caller's monotonic clock in milliseconds (tests pass
 * a fake one); it does no I/O.  Typical use in a library loop:
 *     if (tb_locator_should_resolve(loc, now)) start a tb_resolver;
 *     on resolver success: if (tb_locator_set_endpoints(loc, eps, now))
 *                              (re)connect to tb_locator_current(loc);
 *     on resolver failure:  tb_locator_resolve_failed(loc, now);
 *     on connected:         tb_locator_connected(loc, now);
 *     on connect failure / lost peer: tb_locator_failed(loc, now) and
 *                              connect to the new tb_locator_current(). */
typedef struct tb_locator_t tb_locator_t;

/* unreachable_ms: re-resolve once the chosen broker has been unreachable
 * this long (0: TB_LOCATOR_DEFAULT_UNREACHABLE_MS).  NULL on OOM. */
tb_locator_t *tb_locator_new(uint32_t unreachable_ms);

/* Free (and the endpoint list it holds); accepts NULL; nulls *self_p. */
void tb_locator_destroy(tb_locator_t **self_p);

/* Give a fresh lookup result (ownership taken, even on false; NULL or an
 * empty list counts as a failed lookup).  If the endpoint in use is
 * connected and still listed at the best priority of the new list, it is
 * kept (no reconnection churn on every TTL, but a recovered primary is
 * moved back to); otherwise the first item of the new list becomes current
 * and, if the broker was unreachable, the unreachable clock restarts (the
 * new list gets a full period).  Returns true when the current endpoint
 * changed (the caller should reconnect). */
bool tb_locator_set_endpoints(tb_locator_t *self, tb_endpoints_t *eps, uint64_t now_ms);

/* The endpoint to use now (borrowed; valid until the next set_endpoints or
 * destroy), or NULL when no lookup has succeeded yet. */
const tb_endpoint_t *tb_locator_current(const tb_locator_t *self);

/* The whole list held (borrowed) or NULL. */
const tb_endpoints_t *tb_locator_endpoints(const tb_locator_t *self);

/* The current endpoint is reachable (connected, or a message got through). */
void tb_locator_connected(tb_locator_t *self, uint64_t now_ms);

/* The current endpoint failed: move to the next one in try order (wrapping
 * to the first after the last).  The unreachable clock starts at the first
 * failure after the last tb_locator_connected and is not reset by moving
 * on.  Returns the new current endpoint (NULL if none). */
const tb_endpoint_t *tb_locator_failed(tb_locator_t *self, uint64_t now_ms);

/* A lookup failed: keep the old list (if any) and retry later: after 1 s,
 * doubling per consecutive failure up to the unreachable delay. */
void tb_locator_resolve_failed(tb_locator_t *self, uint64_t now_ms);

/* True when a new lookup should start now: never resolved yet, the retry
 * time after a failed lookup has come, the current endpoint has been
 * unreachable for the configured time, or the smallest TTL has expired
 * (TTLs below 5 s count as 5 s, so a TTL of 0 cannot cause a query storm). */
bool tb_locator_should_resolve(const tb_locator_t *self, uint64_t now_ms);

/* Milliseconds until tb_locator_should_resolve becomes true (0: now;
 * -1: only after more events), for the caller's poll timeout. */
int64_t tb_locator_timeout_ms(const tb_locator_t *self, uint64_t now_ms);

/* Tell the locator a lookup was started, so should_resolve stays false
 * until its outcome is given (set_endpoints or resolve_failed). */
void tb_locator_resolving(tb_locator_t *self, uint64_t now_ms);

/* ------------------------------------------------------------ pieces */

/* One SRV record as found in the answer. */
typedef struct {
    char     target[256];   /* without the trailing dot; "." stays "." */
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    uint32_t ttl;
} tb_srv_record_t;

/* Reorder recs[0..n) in place into RFC 2782 try order: ascending priority;
 * within a priority, repeated weighted random choice: a record with weight
 * w > 0 comes next with probability w / (remaining total + z) where z is 1
 * if a weight-0 record remains, else 0; the weight-0 records share that
 * 1 / (total + 1) (RFC 2782's "very small chance"); when all remaining
 * weights are 0 they are chosen uniformly.  rng NULL uses the default
 * source.  Only the first
 * TB_SRV_ORDER_MAX records are ordered; any beyond are left in place. */
#define TB_SRV_ORDER_MAX 4096
void tb_srv_order(tb_srv_record_t *recs, size_t n, tb_rng_fn rng, void *rng_arg);

/* A small seeded generator (splitmix64) usable as a tb_rng_fn: state is a
 * uint64_t * holding the seed. */
uint32_t tb_rng_splitmix(void *state);

/* The default source (OS-seeded, thread-safe). */
uint32_t tb_rng_default(void *unused);

/* A uniform value in [0, bound] (inclusive) drawn from rng. */
uint32_t tb_rng_upto(tb_rng_fn rng, void *rng_arg, uint32_t bound);

/* One DNS server of a parsed list. */
typedef struct {
    int      family;        /* AF_INET or AF_INET6 */
    uint8_t  addr[16];      /* network order; 4 bytes used for AF_INET */
    uint16_t port;          /* 53 when not given */
    char     text[64];      /* "127.0.0.1:5353" / "[::1]:5353" */
} tb_dns_server_t;

/* Parse "host[:port][,host[:port]]..." where host is an IPv4 address or an
 * IPv6 address in brackets ("[::1]:5353"; a bare IPv6 address without port
 * is accepted too).  Spaces around items are ignored.  Names are refused:
 * a DNS server must be given by address.  Fills up to max servers.
 * Returns the count (>= 1), or TB_ERR_BAD_URL with errbuf naming the bad
 * item, or TB_ERR_INVALID_ARG. */
int tb_dns_servers_parse(const char *spec, tb_dns_server_t *out, size_t max,
                         char *errbuf, size_t errlen);

/* Write "scheme://address:port" (IPv6 addresses in brackets) into buf.
 * Returns TB_OK or TB_ERR_INVALID_ARG (NULL args / does not fit). */
int tb_format_url(char *buf, size_t len, const char *scheme,
                  const char *address, uint16_t port);

/* Build the SRV name for zone into buf (see tb_discover for the rules).
 * Returns TB_OK or TB_ERR_INVALID_ARG (empty, too long, bad characters). */
int tb_srv_name(const char *zone, char *buf, size_t len);

/* The smallest TTL among answer records of the given type (33 = SRV) in a
 * raw DNS message; bounds-checked, never reads outside msg.
 * Returns TB_OK and *ttl, TB_ERR_NO_DATA if there is no such record, or
 * TB_ERR_BAD_MESSAGE for a malformed message. */
int tb_dns_min_ttl(const unsigned char *msg, size_t len, uint16_t type,
                   uint32_t *ttl);

#endif
