/*
 * tb_v2srv_int.h - state shared by the files of the v2 server engine.
 *
 * Why this exists: the engine is split by concern (requests and streams in
 * tb_v2srv.c, the filtered PUB and heartbeats in tb_v2srv_pub.c); this is
 * the one struct they share.  Not installed, not used outside broker/v2/.
 */
#ifndef TB_V2SRV_INT_H
#define TB_V2SRV_INT_H
#include "tb_v2srv.h"
#include "tb_buf.h"
#include "tb_ns.h"

#define V2_RID_MAX      32
#define V2_ROUTING_MAX  255

typedef enum { STREAM_SNAPSHOT, STREAM_CHILDREN } stream_kind_t;

typedef struct v2_stream_t {
    stream_kind_t kind;
    unsigned char routing_id[V2_ROUTING_MAX];
    size_t   routing_len;
    char     rid[V2_RID_MAX];
    size_t   rid_len;
    char     prefix[TB_NS_MAX_LEN];
    size_t   prefix_len;
    uint64_t cursor;
    uint64_t start_seq;       /* broker seq when the stream began */
    uint64_t start_last;      /* subtree_seq(prefix) when it began */
    unsigned credit;          /* batches the client still accepts */
    tb_buf_t batch;           /* the batch being filled */
    size_t   batch_items;
    bool     batch_ready;     /* closed, waiting for room in the pipe */
    bool     scan_done;
    uint64_t items, batches;
    uint64_t last_heard_ms;   /* last request from the client */
} v2_stream_t;

typedef struct {
    char  *topic;             /* "" or "ns." */
    size_t len;
} v2_prefix_t;

struct tb_v2srv_t {
    void              *router;
    void              *xpub;
    tb_v2_directory_t  dir;
    void              *dir_ctx;
    tb_v2srv_config_t  cfg;
    char               epoch_hex[17];
    v2_stream_t      **streams;     /* max_streams slots, NULL = free */
    unsigned           nstreams;
    unsigned           rr;          /* round-robin start */
    v2_prefix_t       *prefixes;
    unsigned           nprefixes;
    v2_prefix_t       *others;      /* subscribed topics that are not prefixes
                                       (no heartbeat, but someone listens) */
    unsigned           nothers, others_cap;
    bool               topics_unknown; /* a topic could not be tracked: assume
                                          someone always listens */
    uint64_t           next_heartbeat_ms;
    tb_buf_t           out;         /* scratch for replies and publishes */
    tb_buf_t           topic;
    tb_v2srv_stats_t   stats;
};

/* tb_v2srv_pub.c */
void v2_heartbeat_send(tb_v2srv_t *self, const char *topic, size_t topic_len);
void v2_prefixes_free(tb_v2srv_t *self);

/* shared helpers */
void v2_append_u64(tb_buf_t *b, uint64_t v);

#endif
