/*
 * bridge_sources.h - the ZeroMQ SUB sockets tb-generic-zmq-adaptor reads
 * from (internal).
 *
 * Why this exists: one SUB socket per source URL, subscribed to
 * everything, so that a skipped message can be logged with the source it
 * came from and one flooding source cannot starve the others (the main
 * loop reads a bounded batch from each).  ZeroMQ reconnects a connecting
 * socket by itself when the source goes away and comes back; a socket
 * monitor per source reports those connects and disconnects so the
 * program can log them.
 */
#ifndef BRIDGE_SOURCES_H
#define BRIDGE_SOURCES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "bridge_rules.h"

typedef struct tb_bridge_sources_t tb_bridge_sources_t;

/* zmq_ctx: a ZeroMQ context owned by the caller (it must outlive the
 * sources).  Returns NULL when out of memory. */
tb_bridge_sources_t *tb_bridge_sources_new(void *zmq_ctx);

/* Closes every socket; accepts NULL; nulls *self_p. */
void tb_bridge_sources_destroy(tb_bridge_sources_t **self_p);

/* Adds each URL of the comma-separated list (blanks around a URL are
 * ignored): a SUB socket subscribed to "" connects to it.  Returns 0, or -1
 * with errbuf naming the URL (empty entry, malformed URL, unknown
 * transport).  Nothing needs to listen there yet. */
int tb_bridge_sources_add(tb_bridge_sources_t *self, const char *list,
                          char *errbuf, size_t errlen);

/* Number of sources. */
size_t tb_bridge_sources_count(const tb_bridge_sources_t *self);

/* URL of source i. */
const char *tb_bridge_sources_url(const tb_bridge_sources_t *self, size_t i);

/* Poll items: for every source its SUB socket and its monitor socket, in
 * that order (2 * count items).  Returns the number written, at most cap. */
size_t tb_bridge_sources_pollitems(const tb_bridge_sources_t *self,
                                   zmq_pollitem_t *items, size_t cap);

/* Receives one message from source i without waiting.
 * Returns 1 with *msg holding the (only) frame (the caller closes it with
 * zmq_msg_close), 0 when nothing is waiting, or 2 when the message had
 * several frames: they were all read and discarded (skip reason
 * multi_frame), *msg is closed.  *frames receives the frame count. */
int tb_bridge_sources_recv(tb_bridge_sources_t *self, size_t i, zmq_msg_t *msg,
                           size_t *frames);

/* Monitor events of source i, read without waiting.  Returns 1 and sets
 * *connected (true: a connection came up, false: it went down) for each
 * event of interest, 0 when none is waiting. */
int tb_bridge_sources_event(tb_bridge_sources_t *self, size_t i, bool *connected);

#endif
