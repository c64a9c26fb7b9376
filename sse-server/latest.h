/* sse_latest: the newest frame of each currency pair, for snapshots.
 *
 * A small table, bounded in pairs: a new stream that asks for a snapshot
 * starts with the current price of every pair it wants, even a pair whose
 * last event the ring has long moved past. When a new pair arrives at a
 * full table, the pair seen least recently (smallest sequence number) is
 * dropped, so the table is bounded in memory too.
 *
 * Ownership of the frames: an entry's buffer is the ring's own while the
 * ring still holds that frame, and the table's alone after that; whichever
 * lets go of it last frees it. So the table never copies a frame, and the
 * hub asks it (sse_latest_holds) before freeing a frame leaving the ring.
 * Functions that may let go of a buffer take ring_first, the oldest
 * sequence number the ring still holds.
 *
 * Not thread-safe: the hub calls every function under its lock. Every
 * function accepts a NULL table (no snapshots: nothing kept).
 */
#ifndef SSE_LATEST_H
#define SSE_LATEST_H

#include <stddef.h>
#include <stdint.h>

#include "pair_filter.h"

#define SSE_LATEST_MAX 256

struct sse_latest;

/* A table for up to max pairs (1..SSE_LATEST_MAX); NULL if out of range or
 * out of memory. */
struct sse_latest *sse_latest_new(size_t max);
/* Frees the table and the buffers only it still holds (seq < ring_first). */
void sse_latest_free(struct sse_latest *t, uint64_t ring_first);

/* Frame seq (buf[len], tagged) just went into the ring: it becomes its
 * pair's newest (a frame without a pair is ignored). Returns the buffer
 * this lets go of for good, for the caller to free (outside its lock), or
 * NULL; *evicted is set to 1 when another pair was dropped for room, else
 * left alone. */
char *sse_latest_keep(struct sse_latest *t, uint64_t seq, char *buf, size_t len,
                      const struct sse_pair_tag *tag, uint64_t ring_first, int *evicted);

/* 1 when frame seq (tagged) is its pair's newest here: the ring, which is
 * overwriting it, must then leave its buffer to the table. */
int sse_latest_holds(const struct sse_latest *t, uint64_t seq, const struct sse_pair_tag *tag);

/* The snapshot: the newest frame of each pair f passes, of those from
 * before seq `before`, oldest first, copied end to end into *out
 * (malloc'd; the caller frees it) with its length in *len. Returns the
 * number of frames; 0 leaves *out and *len alone (nothing to send, or out
 * of memory: the stream starts without). */
size_t sse_latest_snapshot(const struct sse_latest *t, uint64_t before,
                           const struct sse_pair_filter *f, char **out, size_t *len);

#endif
