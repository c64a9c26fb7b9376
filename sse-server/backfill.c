/* backfill.c: what a (re)connected consumer does with the history stream and its live queue
 * until the two have met. The interface, and who owns what, is in backfill.h. */
#include "backfill.h"

#include <stdlib.h>
#include <string.h>

#include "event_id.h"

struct held {
    char *body;
    size_t len;
    char message_id[64];
};

struct sse_backfill {
    uint64_t have;      /* the ring's newest id at the start */
    uint64_t last;      /* the newest id published since */
    int64_t end;        /* the probed end offset; -1: empty stream; -2: not probed */
    int64_t max_offset; /* the furthest stream offset read */
    uint64_t first_live;
    int met; /* the read met an event the ring already had */
    int gap; /* a gap was reported */
    int reached_live;
    struct held *held;
    size_t nheld, cap, next, live_max;
    struct sse_backfill_counts n;
};

uint64_t sse_backfill_parse_id(const char *message_id)
{
    uint64_t id;
    if (message_id == NULL || sse_event_id_parse(message_id, &id) < 0)
        return 0;
    return id;
}

struct sse_backfill *sse_backfill_new(uint64_t have, size_t live_max)
{
    struct sse_backfill *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->have = b->last = have;
    b->end = -2;
    b->max_offset = -1;
    b->live_max = live_max;
    return b;
}

void sse_backfill_free(struct sse_backfill *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nheld; i++)
        free(b->held[i].body);
    free(b->held);
    free(b);
}

void sse_backfill_set_end(struct sse_backfill *b, int64_t end)
{
    b->end = end < 0 ? -1 : end;
}

int64_t sse_backfill_start_offset(const struct sse_backfill *b, size_t window)
{
    /* window events up to the end, and the one before them: meeting an
     * event the ring has is what proves there is no gap. */
    int64_t back = (int64_t)window;
    return b->end > back ? b->end - back : 0;
}

int sse_backfill_stream_event(struct sse_backfill *b, int64_t offset, uint64_t id)
{
    if (offset > b->max_offset)
        b->max_offset = offset;
    if (id == 0) /* cannot be matched with the live queue's copy */
        return 0;
    if (b->first_live && id >= b->first_live)
        b->reached_live = 1;
    if (b->have && id <= b->have)
        b->met = 1;
    if (id <= b->last) {
        b->n.skipped++;
        return 0;
    }
    b->last = id;
    /* The stream is read in order: the first new event, with nothing met
     * before it, is beyond what the ring had, and so it stays. */
    int gap = b->have && !b->met && !b->gap;
    b->gap |= gap;
    b->n.published++;
    return gap ? 2 : 1;
}

int sse_backfill_hold(struct sse_backfill *b, const char *body, size_t len, const char *message_id)
{
    if (b->nheld >= b->live_max)
        return -1;
    if (b->nheld == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct held *h = realloc(b->held, cap * sizeof *h);
        if (h == NULL)
            return -1;
        b->held = h;
        b->cap = cap;
    }
    struct held *h = &b->held[b->nheld];
    if ((h->body = malloc(len ? len : 1)) == NULL)
        return -1;
    memcpy(h->body, body, len);
    h->len = len;
    h->message_id[0] = '\0';
    if (message_id)
        strncat(h->message_id, message_id, sizeof h->message_id - 1);
    b->nheld++;
    b->n.held++;
    if (b->first_live == 0)
        b->first_live = sse_backfill_parse_id(h->message_id);
    return 0;
}

int sse_backfill_done(const struct sse_backfill *b, int64_t quiet_ms, int64_t grace_ms)
{
    if (b->end == -2)
        return 0;
    if (b->reached_live)
        return 1;
    /* Held-back events with an id: the read must reach them, or events
     * routed between the end of the stream we saw and the live binding
     * could be missing. Without any, everything after the binding is in
     * the live queue, and the stream's end as probed (plus a quiet grace
     * for late commits) covers what came before it. */
    if (b->first_live)
        return 0;
    return b->max_offset >= b->end && quiet_ms >= grace_ms;
}

int sse_backfill_gap(struct sse_backfill *b)
{
    if (b->gap || !b->have || b->met)
        return 0;
    b->gap = 1;
    return 1;
}

int sse_backfill_next_held(struct sse_backfill *b, const char **body, size_t *len,
                           const char **message_id)
{
    if (b->next > 0) { /* the previous one is done with */
        free(b->held[b->next - 1].body);
        b->held[b->next - 1].body = NULL;
    }
    if (b->next >= b->nheld)
        return 0;
    const struct held *h = &b->held[b->next++];
    *body = h->body;
    *len = h->len;
    *message_id = h->message_id;
    return 1;
}

int sse_backfill_is_new(const struct sse_backfill *b, const char *message_id)
{
    uint64_t id = sse_backfill_parse_id(message_id);
    return id == 0 || id > b->last;
}

void sse_backfill_published(struct sse_backfill *b, uint64_t id)
{
    if (id > b->last)
        b->last = id;
}

void sse_backfill_counts(const struct sse_backfill *b, struct sse_backfill_counts *out)
{
    *out = b->n;
}
