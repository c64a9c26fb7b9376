/* rc_publisher: publishing ticks to the fanout exchange, for the fetcher
 * and for sse-server's broadcast endpoint.
 *
 * Owns one rc_amqp connection, opened lazily and reopened after a failure
 * with jittered exponential backoff, so a broker that is down at start or
 * restarts later costs ticks, not the process. A long-lived producer waits
 * between ticks inside rc_publisher_wait(), which services AMQP heartbeats:
 * a producer that sleeps in nanosleep() is dropped by the broker.
 *
 * Every message gets a message_id: microseconds since the epoch at publish
 * time, bumped on collision, so ids increase within a run and, clocks
 * permitting, across restarts, with no state on disk. Not thread-safe: one
 * thread at a time (sse-server serialises with its own lock).
 */
#ifndef RC_PUBLISHER_H
#define RC_PUBLISHER_H

#include <signal.h>
#include <stdint.h>

#include "rc_amqp.h"
#include "rc_tick.h"

struct rc_publisher;

/* params and exchange are borrowed and must outlive the publisher. */
struct rc_publisher *rc_publisher_new(const struct rc_amqp_params *params, const char *exchange);
void rc_publisher_free(struct rc_publisher *p);

/* Publish one validated tick under a fresh id. 0 when handed to the
 * broker, -1 when there is no usable connection (logged; the next call
 * retries once the backoff delay has passed). */
int rc_publisher_send(struct rc_publisher *p, const struct rc_tick *t);

/* Return at the CLOCK_MONOTONIC deadline (ms), or sooner once *stop is set. */
void rc_publisher_wait(struct rc_publisher *p, int64_t deadline_ms, volatile sig_atomic_t *stop);

#endif
