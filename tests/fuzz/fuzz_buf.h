/* struct buf: a growable byte buffer the fuzz targets collect output in, always NUL
 * terminated (the bytes may hold NULs too: len is the length). */
#ifndef FUZZ_BUF_H
#define FUZZ_BUF_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

struct buf {
    char *p;
    size_t len, cap;
};

static inline void buf_add(struct buf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        CHECK(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#endif
