/* sse_hb_slices: subscribers dealt round-robin into heartbeat slices.
 *
 * A heartbeat to every stream at once is one burst (18,000 sends take a
 * core about 300 ms here, and events published meanwhile wait behind it).
 * With n slices, each subscriber is dealt into one of n lists in
 * subscription order, and a slice's tick walks only its own list; ticking
 * the slices in turn over the heartbeat interval spreads the burst.
 *
 * Intrusive: the subscriber embeds a struct sse_hb_link (no allocation
 * here) and the owner maps a link back to its subscriber. Not thread-safe:
 * the hub calls every function under its lock.
 */
#ifndef SSE_HB_SLICES_H
#define SSE_HB_SLICES_H

#include <stddef.h>
#include <stdint.h>

#define SSE_HB_SLICES_MAX 60

struct sse_hb_link {
    struct sse_hb_link *prev, *next; /* within its slice */
    unsigned slice;
};

struct sse_hb_slices {
    struct sse_hb_link *heads[SSE_HB_SLICES_MAX];
    unsigned n;         /* slices in use, 1..SSE_HB_SLICES_MAX */
    uint64_t next_slot; /* subscriptions dealt so far */
};

/* One slice, no member. */
void sse_hb_slices_init(struct sse_hb_slices *sl);
/* Use n slices (1..SSE_HB_SLICES_MAX); only while no link is in: the
 * caller checks that. -1 if n is out of range. */
int sse_hb_slices_set(struct sse_hb_slices *sl, unsigned n);
/* Deal l into the next slice in turn. */
void sse_hb_slices_add(struct sse_hb_slices *sl, struct sse_hb_link *l);
void sse_hb_slices_remove(struct sse_hb_slices *sl, struct sse_hb_link *l);
/* The first member of a slice (follow ->next), or NULL; a slice out of
 * range has none. */
static inline struct sse_hb_link *sse_hb_slices_first(const struct sse_hb_slices *sl,
                                                      unsigned slice)
{
    return slice < sl->n && slice < SSE_HB_SLICES_MAX ? sl->heads[slice] : NULL;
}

#endif
