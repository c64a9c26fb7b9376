/* sse_backfill: what a (re)connected consumer does with the history stream
 * and its live queue until the two have met.
 *
 * After a start or a broker reconnect the hub's ring lacks whatever was
 * published while this replica was away. The live queue, bound anew, only
 * has what comes after its binding; the history stream (a RabbitMQ stream
 * bound to the same exchange) has everything. So the consumer binds its
 * live queue first and holds back what it delivers, finds the stream's end
 * (probe), reads the stream from a window before that end, publishes what
 * the ring does not have yet, and then lets the held-back live events
 * through, each event once, in order. Events are named by the producer's
 * message_id: a stream event without a decimal id cannot be matched and is
 * left out (such events are live-only).
 *
 * The read is done when it has reached the first held-back live event (the
 * two overlap: nothing in between can be missing), or, with nothing held
 * back, when it has passed the probed end and the stream stayed quiet for
 * a grace period (an event routed before the binding but committed to the
 * stream after the probe still arrives within it). The window is continuous
 * with the ring when the read met an event the ring already had; if it did
 * not (the replica was away for more events than the window, or the stream
 * lost them), the ring has a gap: the caller marks it in the hub, so that
 * no resume is served across it.
 *
 * Pure bookkeeping, no I/O: the consumer thread feeds it. Not thread-safe.
 */
#ifndef SSE_BACKFILL_H
#define SSE_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

struct sse_backfill;

/* have: the newest id in the ring (0: empty ring); live_max: how many live
 * deliveries may be held back (past it the read gives up). NULL if out of
 * memory. */
struct sse_backfill *sse_backfill_new(uint64_t have, size_t live_max);
/* Frees held-back events not yet taken; accepts NULL. */
void sse_backfill_free(struct sse_backfill *b);

/* Probe: the stream's end is this offset (-1: the stream is empty). */
void sse_backfill_set_end(struct sse_backfill *b, int64_t end);
/* The offset to read from, to get `window` events up to the end plus one
 * more (the one that proves continuity). Only after set_end with end >= 0. */
int64_t sse_backfill_start_offset(const struct sse_backfill *b, size_t window);

/* A stream event: id 0 when it has none. Returns 1 when it is new to the
 * ring and must be published now (with that id), 0 to skip it, and 2 to
 * publish it after marking a gap: it is the first new event and the read
 * met nothing the ring had before it. */
int sse_backfill_stream_event(struct sse_backfill *b, int64_t offset, uint64_t id);

/* A live delivery while backfilling: held back (body and message_id are
 * copied). 0, or -1 when the hold is full or memory ran out (give up). */
int sse_backfill_hold(struct sse_backfill *b, const char *body, size_t len, const char *message_id);

/* Whether the read is over: quiet_ms is how long the stream has been
 * silent. */
int sse_backfill_done(const struct sse_backfill *b, int64_t quiet_ms, int64_t grace_ms);

/* After the read (or after giving it up), before the held-back events: 1
 * when there was a ring to continue (have != 0), the read met no event it
 * had, and no gap was reported yet (the stream gave nothing new): the
 * held-back events do not follow on from the ring. */
int sse_backfill_gap(struct sse_backfill *b);

/* The held-back live deliveries, in order, one at a time: 1 with *body,
 * *len, *message_id set (owned by b, valid until the next call or free), 0
 * when none is left. The caller publishes those whose id is new (see
 * sse_backfill_is_new). */
int sse_backfill_next_held(struct sse_backfill *b, const char **body, size_t *len,
                           const char **message_id);

/* An id that was already published (by the read or an earlier event) is a
 * duplicate: 0. Ids from message_id strings; an event without a decimal id
 * is always new. */
int sse_backfill_is_new(const struct sse_backfill *b, const char *message_id);

/* Tell it an id the consumer published (from the stream or held back). */
void sse_backfill_published(struct sse_backfill *b, uint64_t id);

/* How many stream events were published, and how many were skipped as
 * already in the ring. */
struct sse_backfill_counts {
    uint64_t published, skipped, held;
};
void sse_backfill_counts(const struct sse_backfill *b, struct sse_backfill_counts *out);

/* A decimal message_id below SSE_ID_MAX, or 0. */
uint64_t sse_backfill_parse_id(const char *message_id);

#endif
