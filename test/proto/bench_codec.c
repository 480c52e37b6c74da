/*
 * bench_codec.c - micro-benchmark of the codec's hot path (not a test).
 *
 * Why this exists: the broker's throughput goal (issue #4) leaves a few
 * hundred nanoseconds per message for decoding and re-encoding; this
 * program measures tb_decode_json + tb_encode_update on typical 166-byte
 * updates against jansson json_loadb + json_dumps on the same bytes (what
 * a DOM-based broker would do), and the msgpack path.  Median of RUNS runs
 * of ITER messages each, in ns per message, on one core.
 * Usage: bench_codec [ITER [RUNS]]
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tb_proto.h"

static double
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef enum { OURS_JSON, OURS_JSON_DECODE, JANSSON, JANSSON_LOAD, OURS_MSGPACK } what_t;

static volatile size_t sink;

static double
run_once(what_t what, const char *msg, size_t len, long iter, tb_decoder_t *dec, tb_buf_t *out)
{
    double t0 = now_ns();
    for (long i = 0; i < iter; i++) {
        tb_update_t u;
        switch (what) {
        case OURS_JSON:
        case OURS_MSGPACK:
            if ((what == OURS_JSON ? tb_decode_json : tb_decode_msgpack)(dec, msg, len, &u, NULL)
                != TB_REASON_OK)
                abort();
            tb_buf_reset(out);
            tb_encode_update(out, u.ns, u.ns_len, u.data, u.data_len,
                             u.has_ts ? u.ts_json : "1.0", u.has_ts ? u.ts_json_len : 3,
                             u.doc_url, u.doc_url_len, i);
            sink += out->len;
            break;
        case OURS_JSON_DECODE:
            if (tb_decode_json(dec, msg, len, &u, NULL) != TB_REASON_OK)
                abort();
            sink += u.data_len;
            break;
        case JANSSON: {
            json_t *j = json_loadb(msg, len, 0, NULL);
            char *s = json_dumps(j, JSON_COMPACT);
            sink += strlen(s);
            free(s);
            json_decref(j);
            break;
        }
        case JANSSON_LOAD: {
            json_t *j = json_loadb(msg, len, 0, NULL);
            sink += json_object_size(j);
            json_decref(j);
            break;
        }
        }
    }
    return (now_ns() - t0) / (double)iter;
}

static double
median_of(what_t what, const char *msg, size_t len, long iter, int runs,
          tb_decoder_t *dec, tb_buf_t *out, double *lo, double *hi)
{
    double v[64];
    run_once(what, msg, len, iter / 10 + 1, dec, out);   /* warm up */
    for (int r = 0; r < runs; r++)
        v[r] = run_once(what, msg, len, iter, dec, out);
    qsort(v, (size_t)runs, sizeof *v, cmp_double);
    *lo = v[0];
    *hi = v[runs - 1];
    return v[runs / 2];
}

int
main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 300000;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (iter < 1 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: bench_codec [ITER [RUNS<=64]]\n");
        return 2;
    }
    /* the shape of test/bench's loader message, and a sensor-like one */
    const char *bench_msg =
        "{\"type\":\"thing_update\",\"ns\":\"bench.g0000.t042\",\"data\":{\"seq\":\"0000012345\","
        "\"stamp\":\"@t00000000001763725270\",\"pad\":\"x\"},"
        "\"ts\":1763725270.123456,\"documentation_url\":null}";
    const char *sensor_msg =
        "{\"type\":\"thing_update\",\"ns\":\"spacemon.electronics\",\"data\":{\"ratio_busy\":"
        "0.14315257352941177,\"luminance\":114.36166992},"
        "\"ts\":1423351104.945,\"documentation_url\":null}";
    /* msgpack list form of the sensor message, packed with msgpack-c */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_str_with_body(&pk, "spacemon.electronics", 20);
    msgpack_pack_double(&pk, 1423351104.945);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "ratio_busy", 10);
    msgpack_pack_double(&pk, 0.14315257352941177);
    msgpack_pack_str_with_body(&pk, "luminance", 9);
    msgpack_pack_double(&pk, 114.36166992);
    msgpack_pack_nil(&pk);

    tb_decoder_t *dec = tb_decoder_new(NULL);
    tb_buf_t out;
    tb_buf_init(&out, 0);
    struct { const char *name; const char *msg; size_t len; } msgs[] = {
        { "bench-loader", bench_msg, strlen(bench_msg) },
        { "sensor", sensor_msg, strlen(sensor_msg) },
    };
    printf("# %ld messages per run, median (min-max) of %d runs, ns/msg, one core\n", iter, runs);
    printf("%-14s %5s  %-34s %8s %s\n", "message", "bytes", "what", "median", "range");
    for (size_t m = 0; m < 2; m++) {
        static const struct { what_t w; const char *label; } rows[] = {
            { OURS_JSON, "tb_decode_json + tb_encode_update" },
            { OURS_JSON_DECODE, "tb_decode_json alone" },
            { JANSSON, "jansson json_loadb + json_dumps" },
            { JANSSON_LOAD, "jansson json_loadb alone" },
        };
        double ours = 0, theirs = 0;
        for (size_t r = 0; r < 4; r++) {
            double lo, hi;
            double med = median_of(rows[r].w, msgs[m].msg, msgs[m].len, iter, runs, dec, &out, &lo, &hi);
            printf("%-14s %5zu  %-34s %8.1f %.1f-%.1f\n", msgs[m].name, msgs[m].len,
                   rows[r].label, med, lo, hi);
            if (rows[r].w == OURS_JSON) ours = med;
            if (rows[r].w == JANSSON) theirs = med;
        }
        printf("%-14s %5s  %-34s %7.1fx\n", msgs[m].name, "", "speed-up over jansson", theirs / ours);
    }
    double lo, hi;
    double med = median_of(OURS_MSGPACK, sb.data, sb.size, iter, runs, dec, &out, &lo, &hi);
    printf("%-14s %5zu  %-34s %8.1f %.1f-%.1f\n", "sensor-msgpack", sb.size,
           "tb_decode_msgpack + tb_encode_update", med, lo, hi);
    tb_buf_free(&out);
    tb_decoder_destroy(&dec);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
