/*
 * bench_directory.c - resident memory per Thing at a million Things.
 *
 * Why this exists: issue #4 sets a memory goal (at most 300 bytes of
 * resident memory per Thing beyond the stored update, at 1 000 000
 * Things).  This program fills a directory the way a large site would
 * (1000 adaptors x 1000 Things, one shared documentation URL per adaptor,
 * ~100-byte data) and reads VmRSS from /proc/self/status before and after.
 * A benchmark, not a test: it prints figures and asserts nothing.
 * Usage: bench_directory [THINGS]   (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "directory.h"
#include "tb_time.h"

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

int
main(int argc, char **argv)
{
    long things = argc > 1 ? atol(argv[1]) : 1000000;
    long per_site = 1000;
    tb_directory_t *d = tb_directory_new();
    if (!d)
        return 1;
    long before = rss_kib();
    uint64_t t0 = tb_time_mono_us();
    size_t stored = 0;
    char ns[64], data[160], url[80];
    /* the slowest single insert: a pause the broker's loop would see */
    uint64_t slowest_us = 0, prev = t0;
    long slowest_at = 0, over_ms = 0;
    for (long i = 0; i < things; i++) {
        long site = i / per_site;
        int nl = snprintf(ns, sizeof ns, "site%ld.sensor%ld", site, i % per_site);
        int dl = snprintf(data, sizeof data,
                          "{\"temperature\":%ld.5,\"humidity\":%ld,\"battery\":3.%03ld,"
                          "\"status\":\"ok\",\"counter\":%ld,\"rssi\":-%ld}",
                          i % 40, i % 100, i % 1000, i, 40 + i % 60);
        int ul = snprintf(url, sizeof url, "\"https://wiki.example.org/adaptors/site%ld\"", site);
        tb_thing_t *t = tb_directory_get(d, ns, (size_t)nl);
        if (!t || tb_directory_set(d, t, data, (size_t)dl, "1700000000.123456", 17,
                                   url, (size_t)ul, 1700000000.0, (uint64_t)i + 1) != 0) {
            fprintf(stderr, "out of memory at %ld\n", i);
            return 1;
        }
        stored += (size_t)nl + (size_t)dl + 17;
        uint64_t now = tb_time_mono_us();
        if (now - prev > slowest_us) {
            slowest_us = now - prev;
            slowest_at = i;
        }
        over_ms += now - prev > 1000;
        prev = now;
    }
    uint64_t t1 = tb_time_mono_us();
    long after = rss_kib();
    size_t count = tb_directory_count(d);
    double total = (double)(after - before) * 1024.0 / (double)count;
    double beyond = ((double)(after - before) * 1024.0 - (double)stored) / (double)count;
    printf("things %zu (with data %zu), doc urls %zu\n", count, tb_directory_with_data(d),
           tb_directory_doc_urls(d));
    printf("rss before %ld KiB, after %ld KiB\n", before, after);
    printf("stored update bytes (ns + data + ts) %.1f per Thing\n", (double)stored / (double)count);
    printf("resident bytes per Thing: %.1f total, %.1f beyond the stored update\n", total, beyond);
    printf("insert rate: %.0f Things/s\n", (double)count / ((double)(t1 - t0) / 1e6));
    printf("slowest insert: %.2f ms (Thing %ld); inserts over 1 ms: %ld\n",
           (double)slowest_us / 1000.0, slowest_at, over_ms);
    /* lookup rate over existing names (the steady-state hot path) */
    uint64_t t2 = tb_time_mono_us();
    long hits = 0;
    for (long i = 0; i < things; i++) {
        int nl = snprintf(ns, sizeof ns, "site%ld.sensor%ld", (i * 7919) % things / per_site,
                          (i * 7919) % things % per_site);
        if (tb_directory_find(d, ns, (size_t)nl))
            hits++;
    }
    uint64_t t3 = tb_time_mono_us();
    printf("lookup rate: %.0f/s (%ld hits)\n", (double)things / ((double)(t3 - t2) / 1e6), hits);
    tb_directory_destroy(&d);
    return 0;
}
