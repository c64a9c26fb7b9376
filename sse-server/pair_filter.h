/* sse_pair_filter: which currency pairs a subscriber wants.
 *
 * A frame carries the pair it is about as a tag (struct sse_pair_tag: the
 * pair and a hash of it, computed once when the frame is published); a
 * subscriber that asked for ?pairs= carries a filter, its own copy of the
 * pairs with their hashes. Matching compares hashes first and strings
 * only on a hash hit, so the read path, which matches every frame against
 * every filtered subscriber, stays a few integer compares per frame: that
 * is why the match is inline and why the filter is a plain struct the
 * subscriber embeds (no extra allocation, no call per frame).
 *
 * Ownership: a filter owns its array (sse_pair_filter_set allocates,
 * sse_pair_filter_clear frees). No locking here: the hub calls these under
 * its lock, or before the subscriber is shared.
 */
#ifndef SSE_PAIR_FILTER_H
#define SSE_PAIR_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rc_pairs.h"

/* A pair and its hash; hash 0 means "no pair" (an event without one). */
struct sse_pair_tag {
    uint64_t hash;
    struct rc_pair pair;
};

/* Tag t with base/quote (upper case, each at most RC_ASSET_MAX); a missing
 * or empty half means no pair: hash 0. */
void sse_pair_tag_set(struct sse_pair_tag *t, const char *base, const char *quote);

/* 1 when both tags name the same pair (never for "no pair"). */
static inline int sse_pair_tag_equal(const struct sse_pair_tag *a, const struct sse_pair_tag *b)
{
    return a->hash != 0 && a->hash == b->hash && strcmp(a->pair.base, b->pair.base) == 0 &&
           strcmp(a->pair.quote, b->pair.quote) == 0;
}

struct sse_pair_filter {
    /* Hashes apart from the pairs, so that the per-frame scan reads one
     * dense array; both live in one allocation (hashes first). */
    uint64_t *hashes; /* NULL: everything passes */
    struct rc_pair *pairs;
    size_t n;
};

/* Copy pairs[n] into f (which must be empty: zeroed or cleared). NULL or
 * n == 0 is no filter. 0, or -1 if out of memory (f stays empty). */
int sse_pair_filter_set(struct sse_pair_filter *f, const struct rc_pair *pairs, size_t n);
/* Free f's copy; f is empty (everything passes) again. */
void sse_pair_filter_clear(struct sse_pair_filter *f);

/* 1 when a frame tagged t passes f. */
static inline int sse_pair_filter_match(const struct sse_pair_filter *f,
                                        const struct sse_pair_tag *t)
{
    if (f->hashes == NULL)
        return 1;
    if (t->hash == 0)
        return 0; /* no pair: only for the unfiltered */
    for (size_t i = 0; i < f->n; i++)
        if (f->hashes[i] == t->hash && strcmp(f->pairs[i].base, t->pair.base) == 0 &&
            strcmp(f->pairs[i].quote, t->pair.quote) == 0)
            return 1;
    return 0;
}

#endif
