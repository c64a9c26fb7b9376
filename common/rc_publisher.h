/* rc_publisher: confirmed, ordered, buffered publishing of ticks to the
 * fanout exchange, for the fetcher and for sse-server's broadcast endpoint.
 *
 * Ticks are queued (copied) with their id and delivered strictly in order,
 * one at a time, each with publisher confirms and the mandatory flag:
 *  - basic.ack: delivered, removed from the queue;
 *  - basic.nack: published again;
 *  - basic.return + ack (NO_ROUTE: no sse-server queue bound right now, e.g.
 *    just after a broker restart): kept and retried every second for up to
 *    route_grace_ms after it was queued, then dropped and counted as
 *    unrouted. The first return of a run is logged, not every one.
 * The queue is bounded (buffer ticks); when full, the oldest tick is
 * dropped and counted. The broker connection is opened lazily and reopened
 * after a failure with jittered exponential backoff; nothing queued is lost
 * meanwhile. Waiting happens inside the AMQP library so heartbeats are
 * serviced (a producer that sleeps in nanosleep() is dropped by the
 * broker).
 *
 * Ids: microseconds since the epoch when the tick is queued, bumped on
 * collision, so they increase within a run and, clocks permitting, across
 * restarts, with no state on disk.
 *
 * Not thread-safe: one thread at a time (sse-server serialises with a
 * lock). Secrets in the URL are never logged.
 */
#ifndef RC_PUBLISHER_H
#define RC_PUBLISHER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_amqp.h"
#include "rc_tick.h"

struct rc_publisher_params {
    const struct rc_amqp_params *amqp; /* borrowed */
    const char *exchange;              /* borrowed */
    /* The history stream to declare with the exchange (borrowed), or NULL.
     * A refusal is logged once and publishing goes on: the exchange is
     * what matters, the stream only keeps a copy. */
    const struct rc_stream_spec *history;
    size_t buffer;              /* queue capacity in ticks (>= 1) */
    int64_t route_grace_ms;     /* how long an unroutable tick is retried */
    int64_t confirm_timeout_ms; /* how long to wait for one confirm */
};

struct rc_publisher_stats {
    uint64_t queued;           /* ticks accepted into the queue */
    uint64_t confirmed;        /* acked by the broker and routed */
    uint64_t nacked;           /* nacks received (each retried) */
    uint64_t returned;         /* NO_ROUTE returns received (each retried) */
    uint64_t dropped_overflow; /* oldest dropped because the queue was full */
    uint64_t dropped_unrouted; /* unroutable past route_grace_ms */
    uint64_t reconnects;       /* connections opened after a failure */
    uint64_t history_refused;  /* declares of the history stream the broker refused */
    int history;               /* 1 while the stream is declared on this connection */
    size_t pending;            /* in the queue now */
    size_t max_pending;        /* high-water mark */
    int connected;             /* 1 while a broker connection is open (opened lazily) */
};

struct rc_publisher;

struct rc_publisher *rc_publisher_new(const struct rc_publisher_params *p);
/* Frees the queue (what is still in it is lost: drain first). NULL ok. */
void rc_publisher_free(struct rc_publisher *p);

/* Queue a copy of t's JSON under a fresh id (returned in *id if not NULL).
 * -1 only when out of memory. */
int rc_publisher_enqueue(struct rc_publisher *p, const struct rc_tick *t, uint64_t *id);

/* Deliver queued ticks until the CLOCK_MONOTONIC deadline (ms), servicing
 * the connection and reconnecting as needed, and return at the deadline,
 * or as soon as *stop is set (stop may be NULL). With until_empty set,
 * return as soon as the queue is empty instead. */
void rc_publisher_run(struct rc_publisher *p, int64_t deadline_ms, int until_empty,
                      volatile sig_atomic_t *stop);

/* Empty the queue without delivering (counted nowhere: the caller says). */
void rc_publisher_discard(struct rc_publisher *p);

void rc_publisher_get_stats(const struct rc_publisher *p, struct rc_publisher_stats *out);

#endif
