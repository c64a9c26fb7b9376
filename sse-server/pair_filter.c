/* Pair tags and per-subscriber pair filters (see pair_filter.h). */
#include "pair_filter.h"

#include <stdlib.h>

/* FNV-1a over "BASE/QUOTE": a cheap first test before comparing strings. */
static uint64_t pair_hash(const char *base, const char *quote)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = base; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = quote; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h | 1; /* never 0, which means "no pair" */
}

void sse_pair_tag_set(struct sse_pair_tag *t, const char *base, const char *quote)
{
    memset(t, 0, sizeof *t);
    if (base == NULL || quote == NULL || base[0] == '\0' || quote[0] == '\0')
        return;
    memcpy(t->pair.base, base, strnlen(base, RC_ASSET_MAX));
    memcpy(t->pair.quote, quote, strnlen(quote, RC_ASSET_MAX));
    t->hash = pair_hash(t->pair.base, t->pair.quote);
}

int sse_pair_filter_set(struct sse_pair_filter *f, const struct rc_pair *pairs, size_t n)
{
    if (pairs == NULL || n == 0)
        return 0;
    /* One allocation: hashes (8-byte aligned by malloc), then the pairs
     * (plain chars: no alignment). */
    uint64_t *hashes = malloc(n * (sizeof *f->hashes + sizeof *f->pairs));
    if (hashes == NULL)
        return -1;
    f->hashes = hashes;
    f->pairs = (struct rc_pair *)(hashes + n);
    for (size_t i = 0; i < n; i++) {
        struct sse_pair_tag t;
        sse_pair_tag_set(&t, pairs[i].base, pairs[i].quote);
        f->hashes[i] = t.hash;
        f->pairs[i] = t.pair;
    }
    f->n = n;
    return 0;
}

void sse_pair_filter_clear(struct sse_pair_filter *f)
{
    free(f->hashes);
    f->hashes = NULL;
    f->pairs = NULL;
    f->n = 0;
}
