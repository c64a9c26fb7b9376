/* fetch_publisher: the fetcher's side of the broker.
 *
 * Owns one rc_amqp connection, opened lazily and reopened after a failure
 * with jittered exponential backoff, so a broker that is down at start or
 * restarts later costs ticks, not the process. Between ticks the fetcher
 * waits inside fetch_publisher_wait(), which services AMQP heartbeats: a
 * producer that sleeps in nanosleep() is dropped by the broker.
 */
#ifndef FETCH_PUBLISHER_H
#define FETCH_PUBLISHER_H

#include <signal.h>
#include <stdint.h>

#include "rc_amqp.h"
#include "rc_tick.h"

struct fetch_publisher;

/* params and exchange are borrowed and must outlive the publisher. */
struct fetch_publisher *fetch_publisher_new(const struct rc_amqp_params *params,
                                            const char *exchange);
void fetch_publisher_free(struct fetch_publisher *p);

/* Publish one validated tick with its id. 0 when handed to the broker, -1
 * when there is no usable connection (logged; the next call retries once
 * the backoff delay has passed). */
int fetch_publisher_send(struct fetch_publisher *p, const struct rc_tick *t, uint64_t id);

/* Return at the CLOCK_MONOTONIC deadline (ms), or sooner once *stop is set. */
void fetch_publisher_wait(struct fetch_publisher *p, int64_t deadline_ms,
                          volatile sig_atomic_t *stop);

#endif
