/* Subscribers dealt round-robin into heartbeat slices (see hb_slices.h). */
#include "hb_slices.h"

#include <string.h>

void sse_hb_slices_init(struct sse_hb_slices *sl)
{
    memset(sl, 0, sizeof *sl);
    sl->n = 1;
}

int sse_hb_slices_set(struct sse_hb_slices *sl, unsigned n)
{
    if (n < 1 || n > SSE_HB_SLICES_MAX)
        return -1;
    sl->n = n;
    return 0;
}

void sse_hb_slices_add(struct sse_hb_slices *sl, struct sse_hb_link *l)
{
    l->slice = (unsigned)(sl->next_slot++ % sl->n);
    l->prev = NULL;
    l->next = sl->heads[l->slice];
    if (l->next)
        l->next->prev = l;
    sl->heads[l->slice] = l;
}

void sse_hb_slices_remove(struct sse_hb_slices *sl, struct sse_hb_link *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        sl->heads[l->slice] = l->next;
    if (l->next)
        l->next->prev = l->prev;
}
