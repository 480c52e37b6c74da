/*
 * adaptor_driver.c - drives libthingsbus-adaptor from a script, for the
 * Python integration tests (test/adaptor/test_*.py).
 *
 * Why this exists: the tests check the library's bytes with independent
 * decoders (python3-zmq, python3-msgpack) and control when peers come and
 * go; a tiny line protocol on stdin/stdout lets them call the library step
 * by step.  Every command prints exactly one reply line.
 *
 * Usage: adaptor_driver [--url URL | --udp HOST:PORT | --zone ZONE]
 *            [--dns SERVERS] [--zone-udp] [--ns NS] [--doc URL] [--no-doc]
 *            [--pub] [--form list|map] [--queue N] [--linger MS]
 *            [--suppress] [--heartbeat S] [--reresolve S]
 * Commands (stdin):
 *   send SUB TS JSON       tb_adaptor_send_json; SUB/TS "-" = none/now
 *   sendj SUB TS JSON      parse with jansson, then tb_adaptor_send
 *   sendhex SUB TS HEX     send_json with arbitrary bytes
 *   big SUB N              data = a JSON string of N 'x' characters
 *   burst N SUB            N sends of {"i":k}, k = 0..N-1; replies
 *                          "burst OK DROPPED REJECTED"
 *   flush MS               tb_adaptor_flush
 *   stats                  one line of JSON with the counters
 *   sleep MS
 *   quit                   destroy (linger) and reply "bye MS"
 * Replies to sends: "rc CODE".
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "thingsbus_adaptor.h"

static uint64_t
mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void
reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Split "A B rest..." : returns pointer to rest, fills a and b. */
static char *
two_words(char *s, char **a, char **b)
{
    *a = strtok(s, " ");
    *b = strtok(NULL, " ");
    char *rest = strtok(NULL, "");
    return rest ? rest : (char *)"";
}

static double
parse_ts(const char *t)
{
    return (!t || strcmp(t, "-") == 0) ? NAN : strtod(t, NULL);
}

static const char *
parse_sub(const char *s)
{
    return (!s || strcmp(s, "-") == 0) ? NULL : s;
}

int
main(int argc, char **argv)
{
    tb_adaptor_options_t o;
    tb_adaptor_options_init(&o);
    o.ns = "shop.shopbot";
    o.documentation_url = "http://example.com/Shopbot_Thingsbus_Documentation";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--url") && v) { o.broker_input_url = v; i++; }
        else if (!strcmp(a, "--udp") && v) { o.udp_address = v; i++; }
        else if (!strcmp(a, "--zone") && v) { o.zone = v; i++; }
        else if (!strcmp(a, "--dns") && v) { o.dns_servers = v; i++; }
        else if (!strcmp(a, "--zone-udp")) o.zone_udp = true;
        else if (!strcmp(a, "--ns") && v) { o.ns = v; i++; }
        else if (!strcmp(a, "--doc") && v) { o.documentation_url = v; i++; }
        else if (!strcmp(a, "--no-doc")) o.documentation_url = NULL;
        else if (!strcmp(a, "--pub")) o.zmq_mode = TB_ADAPTOR_PUB;
        else if (!strcmp(a, "--form") && v) {
            o.form = !strcmp(v, "list") ? TB_ADAPTOR_FORM_LIST : TB_ADAPTOR_FORM_MAP;
            i++;
        }
        else if (!strcmp(a, "--queue") && v) { o.queue_size = strtoul(v, NULL, 10); i++; }
        else if (!strcmp(a, "--linger") && v) { o.linger_ms = atoi(v); i++; }
        else if (!strcmp(a, "--suppress")) o.suppress_unchanged = true;
        else if (!strcmp(a, "--heartbeat") && v) { o.heartbeat_s = strtod(v, NULL); i++; }
        else if (!strcmp(a, "--reresolve") && v) { o.reresolve_s = strtod(v, NULL); i++; }
        else {
            fprintf(stderr, "adaptor_driver: bad argument %s\n", a);
            return 2;
        }
    }
    int err;
    tb_adaptor_t *ad = tb_adaptor_new(&o, &err);
    if (!ad) {
        reply("error %d %s", err, tb_adaptor_strerror(err));
        return 1;
    }
    reply("ready");

    static char line[4 * 1024 * 1024];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *cmd = strtok(line, " ");
        char *rest = strtok(NULL, "");
        if (!cmd)
            continue;
        char *a, *b;
        if (!strcmp(cmd, "send") && rest) {
            char *json = two_words(rest, &a, &b);
            reply("rc %d", tb_adaptor_send_json(ad, parse_sub(a), json, strlen(json), parse_ts(b)));
        } else if (!strcmp(cmd, "sendj") && rest) {
            char *json = two_words(rest, &a, &b);
            json_error_t jerr;
            json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
            reply("rc %d", tb_adaptor_send(ad, parse_sub(a), v, parse_ts(b)));
            json_decref(v);
        } else if (!strcmp(cmd, "sendhex") && rest) {
            char *hex = two_words(rest, &a, &b);
            size_t n = strlen(hex) / 2;
            char *bytes = malloc(n + 1);
            for (size_t i = 0; bytes && i < n; i++) {
                unsigned x;
                sscanf(hex + 2 * i, "%2x", &x);
                bytes[i] = (char)x;
            }
            reply("rc %d", bytes ? tb_adaptor_send_json(ad, parse_sub(a), bytes, n, parse_ts(b)) : -2);
            free(bytes);
        } else if (!strcmp(cmd, "big") && rest) {
            char *sub = strtok(rest, " ");
            char *count = strtok(NULL, " ");
            size_t n = count ? strtoul(count, NULL, 10) : 0;
            char *text = malloc(n + 3);
            if (!text) {
                reply("rc %d", -2);
                continue;
            }
            text[0] = '"';
            memset(text + 1, 'x', n);
            text[n + 1] = '"';
            text[n + 2] = '\0';
            reply("rc %d", tb_adaptor_send_json(ad, parse_sub(sub), text, n + 2, NAN));
            free(text);
        } else if (!strcmp(cmd, "burst") && rest) {
            char *count = strtok(rest, " ");
            char *sub = strtok(NULL, " ");
            long n = count ? strtol(count, NULL, 10) : 0;
            long ok = 0, dropped = 0, rejected = 0;
            for (long k = 0; k < n; k++) {
                char data[64];
                snprintf(data, sizeof data, "{\"i\":%ld}", k);
                int rc = tb_adaptor_send_json(ad, parse_sub(sub), data, (size_t)-1, NAN);
                if (rc == TB_OK) ok++;
                else if (rc == TB_ERR_QUEUE_FULL) dropped++;
                else rejected++;
            }
            reply("burst %ld %ld %ld", ok, dropped, rejected);
        } else if (!strcmp(cmd, "flush")) {
            reply("rc %d", tb_adaptor_flush(ad, rest ? atoi(rest) : 0));
        } else if (!strcmp(cmd, "stats")) {
            tb_adaptor_stats_t s;
            tb_adaptor_stats(ad, &s);
            reply("{\"sent\":%llu,\"dropped\":%llu,\"rejected\":%llu,\"errors\":%llu,"
                  "\"suppressed\":%llu,\"disconnects\":%llu,\"resolutions\":%llu,"
                  "\"queue_depth\":%zu,\"queue_size\":%zu,\"connected\":%s,\"last_error\":%d}",
                  (unsigned long long)s.sent, (unsigned long long)s.dropped,
                  (unsigned long long)s.rejected, (unsigned long long)s.errors,
                  (unsigned long long)s.suppressed, (unsigned long long)s.disconnects,
                  (unsigned long long)s.resolutions, s.queue_depth, s.queue_size,
                  s.connected ? "true" : "false", s.last_error);
        } else if (!strcmp(cmd, "sleep")) {
            int ms = rest ? atoi(rest) : 0;
            struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
            nanosleep(&t, NULL);
            reply("slept");
        } else if (!strcmp(cmd, "strerror")) {
            reply("%s", tb_adaptor_strerror(rest ? atoi(rest) : 0));
        } else if (!strcmp(cmd, "quit")) {
            break;
        } else {
            reply("unknown command");
        }
    }
    uint64_t t0 = mono_ms();
    tb_adaptor_destroy(&ad);
    tb_adaptor_destroy(&ad);    /* NULL-safe */
    reply("bye %llu", (unsigned long long)(mono_ms() - t0));
    return 0;
}
