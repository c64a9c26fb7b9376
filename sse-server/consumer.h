/* sse_consumer: the AMQP consumer thread.
 *
 * Owns its own broker connection (rabbitmq-c wants one per thread) and an
 * exclusive, server-named, auto-delete queue bound to the fanout exchange,
 * so every sse-server replica receives every message. Each valid tick is
 * framed once and published to the hub; invalid messages are logged and
 * counted. A lost connection is retried forever with capped, jittered
 * exponential backoff; connected browsers are not affected meanwhile.
 */
#ifndef SSE_CONSUMER_H
#define SSE_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hub.h"

struct sse_consumer_config {
    const char *amqp_url;
    const char *amqp_ca; /* CA bundle for amqps:// URLs */
    const char *exchange;
    unsigned heartbeat_s;
    int64_t reconnect_max_ms;
};

/* Read by /metrics and /readyz from other threads. */
struct sse_consumer_stats {
    atomic_uint_fast64_t received; /* messages taken from the broker */
    atomic_uint_fast64_t invalid;  /* dropped: not a valid tick */
    atomic_uint_fast64_t connects; /* successful (re)connections */
    atomic_int connected;          /* 1 while consuming */
};

struct sse_consumer;

/* cfg and hub are borrowed and must outlive the consumer. NULL on failure
 * to start the thread. */
struct sse_consumer *sse_consumer_start(const struct sse_consumer_config *cfg, struct sse_hub *hub);
/* Stop the thread (within about 250 ms), close the connection, free. */
void sse_consumer_stop(struct sse_consumer *c);
const struct sse_consumer_stats *sse_consumer_stats(const struct sse_consumer *c);

/* The id an event gets: the producer's message_id when it is a decimal
 * integer above the last id (so every replica names an event alike),
 * otherwise last + 1. Ids never go backwards (and never wrap). Exposed for
 * tests. */
#define SSE_ID_MAX (UINT64_C(1) << 63)
uint64_t sse_consumer_pick_id(const char *message_id, uint64_t last);

#endif
