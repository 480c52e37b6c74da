/*
 * bench_msg.h - the message shape shared by the bench loader and subscriber.
 *
 * Why this exists: the bench measures latency from the sender's clock to the
 * subscriber without parsing JSON or msgpack on the receiving side, and the
 * loader must produce hundreds of thousands of messages a second without
 * formatting each one.  So every message is a fixed template whose
 * variable fields (namespace, sequence, send stamp, ts) have a fixed width
 * and are patched in place, and the send stamp is an ASCII marker
 * ("@t" + 20 digits of CLOCK_MONOTONIC nanoseconds) that survives both the
 * broker's JSON re-serialization and a zero-work forwarder's raw copy of a
 * msgpack datagram: the subscriber finds it with memmem().
 */
#ifndef BENCH_MSG_H
#define BENCH_MSG_H
#include <stddef.h>
#include <stdint.h>

#define BENCH_STAMP_MARK      "@t"
#define BENCH_STAMP_DIGITS    20
#define BENCH_NS_WIDTH        16           /* "bench.g0000.t000" */
#define BENCH_SEQ_DIGITS      10
#define BENCH_MAX_MSG         4096

typedef enum { BENCH_FORM_JSON = 0, BENCH_FORM_MSGPACK_LIST } bench_form_t;

typedef struct {
    bench_form_t form;
    unsigned char buf[BENCH_MAX_MSG];
    size_t len;
    size_t ns_off, seq_off, stamp_off, ts_off;  /* offsets of patchable fields */
    size_t data_json_len;      /* bytes of the data value as JSON text */
    size_t ts_json_len;        /* bytes of the ts as a JSON number literal */
} bench_msg_t;

/* Build the template.  json_size: total size of the JSON form (166 in the
 * issue); the msgpack form carries the same data value, so the broker's
 * output has the same size for both inputs.  Returns 0, or -1 if json_size
 * is too small or too large for the fixed fields. */
int bench_msg_init(bench_msg_t *m, bench_form_t form, size_t json_size);

/* Patch namespace number i (0..9 999 999: "bench.g%04u.t%03u"), sequence,
 * wall-clock ts and the monotonic send stamp (nanoseconds). */
void bench_msg_set(bench_msg_t *m, uint32_t ns_index, uint64_t seq,
                   double ts, uint64_t stamp_ns);

/* The namespace text of index i into out (BENCH_NS_WIDTH + 1 bytes). */
void bench_ns_format(char *out, uint32_t ns_index);

/* Find the send stamp in a received message; returns 0 and sets *stamp_ns,
 * or -1 when the message carries none. */
int bench_stamp_find(const void *data, size_t len, uint64_t *stamp_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_mono_ns(void);

#endif
