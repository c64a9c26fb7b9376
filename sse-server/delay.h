/* sse_delay: the publish-to-delivery delay histogram.
 *
 * One sample per event handed to one client: how long after the event's
 * own time (its producer's clock) the hand-over happened. Fixed buckets in
 * milliseconds, one more for everything above the last bound, and the sum
 * in seconds: what a Prometheus histogram needs, nothing more.
 *
 * A low-level module: the hub records into one (sse_delay_record, once
 * per frame per subscriber, hence inline), metrics renders it. The struct
 * is plain data, copied by value with the hub's stats; it has no lock of
 * its own: the hub records under its lock, and readers get a copy.
 */
#ifndef SSE_DELAY_H
#define SSE_DELAY_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds (ms) of the buckets, strictly increasing; one more bucket
 * counts everything above the last. */
#define SSE_DELAY_BUCKETS 12
extern const int64_t sse_delay_bounds_ms[SSE_DELAY_BUCKETS];

struct sse_delay_hist {
    uint64_t count[SSE_DELAY_BUCKETS + 1]; /* per bucket, not cumulative */
    double sum_s;
};

/* Count one delay of d_us microseconds: a negative one (the producer's
 * clock ahead of ours) counts as 0. */
static inline void sse_delay_record(struct sse_delay_hist *d, int64_t d_us)
{
    if (d_us < 0)
        d_us = 0;
    size_t b = 0;
    while (b < SSE_DELAY_BUCKETS && d_us > sse_delay_bounds_ms[b] * 1000)
        b++;
    d->count[b]++;
    d->sum_s += (double)d_us / 1e6;
}

#endif
