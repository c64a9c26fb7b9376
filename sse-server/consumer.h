/* sse_consumer: the AMQP consumer thread.
 *
 * Owns its own broker connection (rabbitmq-c wants one per thread) and an
 * exclusive, server-named, auto-delete queue bound to the fanout exchange,
 * so every sse-server replica receives every message. Each valid tick is
 * framed once and published to the hub; invalid messages are logged and
 * counted. A lost connection is retried forever with capped, jittered
 * exponential backoff; connected browsers are not affected meanwhile.
 *
 * With a history stream (see rc_amqp.h) the consumer declares it too, and
 * after every connect fills the ring from it before it says it is ready:
 * the newest events at start, whatever it missed after a reconnect (see
 * backfill.h). Without one, or when the broker refuses it, events published
 * while the consumer was away are lost to its clients, as they always were.
 */
#ifndef SSE_CONSUMER_H
#define SSE_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "rc_amqp.h"

struct sse_consumer_config {
    const char *amqp_url;
    const char *amqp_ca; /* CA bundle for amqps:// URLs */
    const char *exchange;
    unsigned heartbeat_s;
    int64_t reconnect_max_ms;
    const struct rc_stream_spec *history; /* NULL: no history stream */
    size_t backfill_window;               /* events read back from the stream's end */
};

/* Read by /metrics and /readyz from other threads. */
struct sse_consumer_stats {
    atomic_uint_fast64_t received;         /* messages taken from the broker */
    atomic_uint_fast64_t invalid;          /* dropped: not a valid tick */
    atomic_uint_fast64_t duplicates;       /* dropped: a message_id already delivered */
    atomic_uint_fast64_t connects;         /* successful (re)connections */
    atomic_uint_fast64_t connect_failures; /* attempts that failed */
    atomic_int connected;                  /* 1 while consuming (after any backfill) */
    atomic_int history;                    /* 1: the stream is declared and readable */
    atomic_uint_fast64_t history_refused;  /* declares or reads the broker refused */
    atomic_uint_fast64_t backfills;        /* backfill runs (one per connect) */
    atomic_uint_fast64_t backfilled;       /* events published from the stream */
    atomic_uint_fast64_t backfill_skipped; /* stream events the ring already had */
    atomic_uint_fast64_t live_duplicates;  /* held-back live events the stream had given */
    atomic_uint_fast64_t backfill_gaps;    /* runs that could not reach the ring's newest */
    atomic_int_fast64_t backfill_last_ms;  /* how long the last run took */
};

struct sse_consumer;

/* cfg and hub are borrowed and must outlive the consumer. NULL on failure
 * to start the thread. */
struct sse_consumer *sse_consumer_start(const struct sse_consumer_config *cfg, struct sse_hub *hub);
/* Stop the thread (within about 250 ms), close the connection, free. */
void sse_consumer_stop(struct sse_consumer *c);
const struct sse_consumer_stats *sse_consumer_stats(const struct sse_consumer *c);

#endif
