/*
 * tb_discovery_util.c - the small pure pieces of discovery: the SRV name
 * for a zone, the DNS server list syntax, URL text, and the TTL of an
 * SRV answer.
 *
 * Why this exists: each is easy to get subtly wrong (IPv6 brackets, a
 * trailing dot, a compressed name pointing at itself) and each is tested on
 * its own with fixed inputs.  c-ares' SRV parser drops the TTL, which the
 * re-resolution policy needs, so we read it from the raw answer here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "tb_discovery.h"

static void
set_err(char *errbuf, size_t errlen, const char *fmt, const char *arg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, fmt, arg);
}

int
tb_srv_name(const char *zone, char *buf, size_t len)
{
    if (!zone || !buf || len == 0)
        return TB_ERR_INVALID_ARG;
    size_t zl = strlen(zone);
    if (zl > 0 && zone[zl - 1] == '.')
        zl--;                       /* "example.org." is the same zone */
    if (zl == 0 || zl > 253)
        return TB_ERR_INVALID_ARG;
    size_t label = 0;
    for (size_t i = 0; i < zl; i++) {
        char c = zone[i];
        if (c == '.') {
            if (label == 0)
                return TB_ERR_INVALID_ARG;   /* empty label: ".x", "a..b" */
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63)
            return TB_ERR_INVALID_ARG;
    }
    const char *prefix = TB_SRV_PREFIX;
    size_t pl = strlen(prefix);
    bool has_prefix = zl >= pl && strncasecmp(zone, prefix, pl) == 0;
    int n = snprintf(buf, len, "%s%.*s", has_prefix ? "" : prefix, (int)zl, zone);
    if (n < 0 || (size_t)n >= len || (size_t)n > 253)
        return TB_ERR_INVALID_ARG;
    return TB_OK;
}

int
tb_format_url(char *buf, size_t len, const char *scheme, const char *address,
              uint16_t port)
{
    if (!buf || len == 0 || !scheme || !address || !*address)
        return TB_ERR_INVALID_ARG;
    bool v6 = strchr(address, ':') != NULL && address[0] != '[';
    int n = snprintf(buf, len, v6 ? "%s://[%s]:%u" : "%s://%s:%u", scheme,
                     address, (unsigned)port);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return TB_ERR_INVALID_ARG;
    }
    return TB_OK;
}

/* Parse a decimal port 1..65535 from [s, s+n). */
static bool
parse_port(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* One item "[v6]:port", "v6", "v4:port" or "v4" in [s, s+n). */
static bool
parse_server(const char *s, size_t n, tb_dns_server_t *out)
{
    char host[64];
    const char *port_s = NULL;
    size_t port_n = 0;
    memset(out, 0, sizeof *out);
    out->port = 53;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || (size_t)(close - s - 1) >= sizeof host)
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest > 0) {
            if (close[1] != ':')
                return false;
            port_s = close + 2;
            port_n = rest - 1;
            if (port_n == 0)
                return false;
        }
        out->family = AF_INET6;
    } else {
        if (n >= sizeof host)
            return false;
        memcpy(host, s, n);
        host[n] = '\0';
        char *colon = strchr(host, ':');
        if (colon && strchr(colon + 1, ':')) {
            out->family = AF_INET6;          /* bare IPv6, no port */
        } else {
            out->family = AF_INET;
            if (colon) {
                *colon = '\0';
                port_s = s + (colon - host) + 1;
                port_n = n - (size_t)(colon - host) - 1;
                if (port_n == 0)
                    return false;
            }
        }
    }
    if (port_s && !parse_port(port_s, port_n, &out->port))
        return false;
    if (inet_pton(out->family, host, out->addr) != 1)
        return false;
    char text[INET6_ADDRSTRLEN];
    inet_ntop(out->family, out->addr, text, sizeof text);
    snprintf(out->text, sizeof out->text,
             out->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, (unsigned)out->port);
    return true;
}

int
tb_dns_servers_parse(const char *spec, tb_dns_server_t *out, size_t max,
                     char *errbuf, size_t errlen)
{
    if (!spec || !out || max == 0) {
        set_err(errbuf, errlen, "%s", "no DNS server list given");
        return TB_ERR_INVALID_ARG;
    }
    size_t count = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        char item[80];
        size_t n = (size_t)(b - a);
        snprintf(item, sizeof item, "%.*s", (int)(n < 70 ? n : 70), a);
        if (n == 0) {
            set_err(errbuf, errlen,
                    "bad DNS server list \"%s\": empty item (expected host:port[,host:port])",
                    spec);
            return TB_ERR_BAD_URL;
        }
        if (count == max) {
            set_err(errbuf, errlen, "too many DNS servers in \"%s\"", spec);
            return TB_ERR_BAD_URL;
        }
        if (!parse_server(a, n, &out[count])) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen,
                         "bad DNS server \"%s\": expected an IPv4 address or a "
                         "bracketed IPv6 address, with an optional port 1-65535 "
                         "(e.g. 127.0.0.1:5353 or [::1]:5353)", item);
            return TB_ERR_BAD_URL;
        }
        count++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return (int)count;
}

/* Skip a possibly compressed name starting at *pos; bounds-checked.  A
 * pointer ends the name (we never follow it: only its length matters). */
static bool
skip_name(const unsigned char *msg, size_t len, size_t *pos)
{
    size_t p = *pos;
    for (int labels = 0; labels < 128; labels++) {
        if (p >= len)
            return false;
        unsigned char c = msg[p];
        if (c == 0) {
            *pos = p + 1;
            return true;
        }
        if ((c & 0xC0) == 0xC0) {
            if (p + 2 > len)
                return false;
            *pos = p + 2;
            return true;
        }
        if (c & 0xC0)
            return false;           /* 0x40/0x80: reserved label types */
        p += 1u + c;
    }
    return false;
}

static uint16_t
get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

int
tb_dns_min_ttl(const unsigned char *msg, size_t len, uint16_t type, uint32_t *ttl)
{
    if (!msg || !ttl)
        return TB_ERR_INVALID_ARG;
    if (len < 12)
        return TB_ERR_BAD_MESSAGE;
    unsigned qd = get16(msg + 4), an = get16(msg + 6);
    size_t pos = 12;
    for (unsigned i = 0; i < qd; i++) {
        if (!skip_name(msg, len, &pos) || pos + 4 > len)
            return TB_ERR_BAD_MESSAGE;
        pos += 4;
    }
    bool found = false;
    uint32_t best = 0;
    for (unsigned i = 0; i < an; i++) {
        if (!skip_name(msg, len, &pos) || pos + 10 > len)
            return TB_ERR_BAD_MESSAGE;
        uint16_t rtype = get16(msg + pos);
        uint32_t t = ((uint32_t)msg[pos + 4] << 24) | ((uint32_t)msg[pos + 5] << 16) |
                     ((uint32_t)msg[pos + 6] << 8) | msg[pos + 7];
        uint16_t rdlen = get16(msg + pos + 8);
        pos += 10;
        if (pos + rdlen > len)
            return TB_ERR_BAD_MESSAGE;
        pos += rdlen;
        /* RFC 2181 8: a TTL with the top bit set is treated as zero. */
        if (t & 0x80000000u)
            t = 0;
        if (rtype == type && (!found || t < best)) {
            best = t;
            found = true;
        }
    }
    if (!found)
        return TB_ERR_NO_DATA;
    *ttl = best;
    return TB_OK;
}
