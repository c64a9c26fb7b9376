/* The newest frame of each currency pair, for snapshots (see latest.h). */
#include "latest.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    uint64_t seq;
    char *buf;
    size_t len;
    struct sse_pair_tag tag;
};

struct sse_latest {
    size_t n, max;
    struct entry e[]; /* in no order */
};

struct sse_latest *sse_latest_new(size_t max)
{
    if (max == 0 || max > SSE_LATEST_MAX)
        return NULL;
    struct sse_latest *t = calloc(1, sizeof *t + max * sizeof t->e[0]);
    if (t)
        t->max = max;
    return t;
}

void sse_latest_free(struct sse_latest *t, uint64_t ring_first)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].seq < ring_first)
            free(t->e[i].buf); /* the ring frees the others */
    free(t);
}

/* The entry for tag's pair, or NULL. */
static struct entry *find(const struct sse_latest *t, const struct sse_pair_tag *tag)
{
    for (size_t i = 0; i < t->n; i++)
        if (sse_pair_tag_equal(&t->e[i].tag, tag))
            return (struct entry *)&t->e[i];
    return NULL;
}

char *sse_latest_keep(struct sse_latest *t, uint64_t seq, char *buf, size_t len,
                      const struct sse_pair_tag *tag, uint64_t ring_first, int *evicted)
{
    if (t == NULL || tag->hash == 0)
        return NULL;
    struct entry *e = find(t, tag);
    if (e == NULL && t->n < t->max) {
        t->e[t->n++] = (struct entry){.seq = seq, .buf = buf, .len = len, .tag = *tag};
        return NULL;
    }
    if (e == NULL) { /* full: the pair seen least recently makes room */
        e = &t->e[0];
        for (size_t j = 1; j < t->n; j++)
            if (t->e[j].seq < e->seq)
                e = &t->e[j];
        *evicted = 1;
    }
    char *drop = e->seq < ring_first ? e->buf : NULL; /* else the ring frees it */
    *e = (struct entry){.seq = seq, .buf = buf, .len = len, .tag = *tag};
    return drop;
}

int sse_latest_holds(const struct sse_latest *t, uint64_t seq, const struct sse_pair_tag *tag)
{
    if (t == NULL || tag->hash == 0)
        return 0;
    const struct entry *e = find(t, tag);
    return e != NULL && e->seq == seq;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x = (*(const struct entry *const *)a)->seq, y = (*(const struct entry *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Why a copy, made when the stream is placed, and not frames read from the
 * table at its first read: the table moves on (a pair's newer frame
 * replaces, and may free, the one a reader was half-way through), and a
 * snapshot taken later than placement would overlap the live events. The
 * copy is bounded by the table (pairs x frame size). */
size_t sse_latest_snapshot(const struct sse_latest *t, uint64_t before,
                           const struct sse_pair_filter *f, char **out, size_t *len)
{
    const struct entry *pick[SSE_LATEST_MAX];
    size_t n = 0, bytes = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        const struct entry *e = &t->e[i];
        if (e->seq < before && sse_pair_filter_match(f, &e->tag)) {
            pick[n++] = e;
            bytes += e->len;
        }
    }
    char *buf;
    if (n == 0 || (buf = malloc(bytes)) == NULL)
        return 0;
    qsort(pick, n, sizeof *pick, by_seq);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, pick[i]->buf, pick[i]->len);
        off += pick[i]->len;
    }
    *out = buf;
    *len = off;
    return n;
}
