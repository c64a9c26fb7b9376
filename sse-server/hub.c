#include "hub.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GREETING_MAX 256

static const char heartbeat[] = ": heartbeat\n\n";

struct frame {
    char *buf;
    size_t len;
};

struct sse_sub {
    struct sse_sub *prev, *next;
    uint64_t next_seq; /* sequence number of the next frame to send */
    size_t off;        /* bytes of that frame already sent */
    uint64_t hb_gen;   /* last heartbeat generation seen */
    int parked;
    int gone;          /* kicked: the client hung up */
    int sent_since_hb; /* an event went out since the last heartbeat */
    void (*park)(void *);
    void (*wake)(void *);
    void *ctx;
    size_t greet_len, greet_off;
    char greeting[GREETING_MAX];
};

struct sse_hub {
    pthread_mutex_t lock;
    struct frame *ring;
    size_t cap;
    uint64_t head; /* sequence number the next frame will get */
    uint64_t hb_gen;
    int closed;
    unsigned max_subs;
    struct sse_sub *subs;
    struct sse_hub_stats st;
};

struct sse_hub *sse_hub_new(size_t history, unsigned max_subs)
{
    struct sse_hub *h = calloc(1, sizeof *h);
    if (h == NULL || history == 0 || (h->ring = calloc(history, sizeof *h->ring)) == NULL) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->cap = history;
    h->max_subs = max_subs;
    return h;
}

void sse_hub_free(struct sse_hub *h)
{
    if (h == NULL)
        return;
    while (h->subs) {
        struct sse_sub *s = h->subs;
        h->subs = s->next;
        free(s);
    }
    for (size_t i = 0; i < h->cap; i++)
        free(h->ring[i].buf);
    free(h->ring);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int sse_hub_full(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    int full = h->st.subscribers >= h->max_subs;
    pthread_mutex_unlock(&h->lock);
    return full;
}

struct sse_sub *sse_hub_subscribe(struct sse_hub *h, const char *greeting, size_t len,
                                  void (*park)(void *ctx), void (*wake)(void *ctx), void *ctx)
{
    if (len > GREETING_MAX)
        return NULL;
    struct sse_sub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    memcpy(s->greeting, greeting, len);
    s->greet_len = len;
    s->park = park;
    s->wake = wake;
    s->ctx = ctx;

    pthread_mutex_lock(&h->lock);
    if (h->closed || h->st.subscribers >= h->max_subs) {
        if (!h->closed)
            h->st.rejected_full++;
        pthread_mutex_unlock(&h->lock);
        free(s);
        return NULL;
    }
    s->next_seq = h->head;
    s->hb_gen = h->hb_gen;
    s->next = h->subs;
    if (h->subs)
        h->subs->prev = s;
    h->subs = s;
    h->st.subscribers++;
    h->st.subscribed++;
    pthread_mutex_unlock(&h->lock);
    return s;
}

void sse_hub_unsubscribe(struct sse_hub *h, struct sse_sub *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->st.subscribers--;
    pthread_mutex_unlock(&h->lock);
    free(s);
}

/* Caller holds the lock. */
static void wake_parked(struct sse_hub *h)
{
    for (struct sse_sub *s = h->subs; s; s = s->next) {
        if (s->parked) {
            s->parked = 0;
            s->wake(s->ctx);
        }
    }
}

void sse_hub_publish(struct sse_hub *h, char *frame, size_t len)
{
    pthread_mutex_lock(&h->lock);
    struct frame *slot = &h->ring[h->head % h->cap];
    char *old = slot->buf;
    slot->buf = frame;
    slot->len = len;
    h->head++;
    h->st.published++;
    wake_parked(h);
    pthread_mutex_unlock(&h->lock);
    free(old); /* outside the lock: nobody can reach it any more */
}

void sse_hub_heartbeat(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->hb_gen++;
    wake_parked(h);
    pthread_mutex_unlock(&h->lock);
}

void sse_hub_close(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->closed = 1;
    wake_parked(h);
    pthread_mutex_unlock(&h->lock);
}

void sse_hub_kick(struct sse_hub *h, struct sse_sub *s)
{
    pthread_mutex_lock(&h->lock);
    if (!s->gone) {
        s->gone = 1;
        h->st.hangups++;
    }
    if (s->parked) {
        s->parked = 0;
        s->wake(s->ctx);
    }
    pthread_mutex_unlock(&h->lock);
}

static size_t copy_out(char *dst, size_t room, const char *src, size_t len, size_t *off)
{
    size_t n = len - *off < room ? len - *off : room;
    memcpy(dst, src + *off, n);
    *off += n;
    return n;
}

/* Caller holds the lock. Copies whole or partial frames from the ring. */
static size_t copy_frames(struct sse_hub *h, struct sse_sub *s, char *buf, size_t max)
{
    size_t n = 0;
    while (n < max && s->next_seq < h->head) {
        const struct frame *f = &h->ring[s->next_seq % h->cap];
        n += copy_out(buf + n, max - n, f->buf, f->len, &s->off);
        if (s->off == f->len) {
            s->off = 0;
            s->next_seq++;
        }
    }
    return n;
}

ssize_t sse_hub_read(struct sse_hub *h, struct sse_sub *s, char *buf, size_t max)
{
    size_t n = 0;
    ssize_t rc;
    pthread_mutex_lock(&h->lock);
    if (h->closed) {
        rc = SSE_HUB_EOF;
        goto out;
    }
    if (s->gone) {
        rc = SSE_HUB_GONE;
        goto out;
    }
    if (s->greet_off < s->greet_len)
        n += copy_out(buf, max, s->greeting, s->greet_len, &s->greet_off);
    /* The oldest frame still in the ring is head - cap: anything before it
     * has been overwritten. */
    if (h->head > h->cap && s->next_seq < h->head - h->cap) {
        if (!s->gone) /* count the subscriber once, not every read */
            h->st.lagged++;
        s->gone = 1;
        rc = SSE_HUB_LAGGED;
        goto out;
    }
    size_t framed = copy_frames(h, s, buf + n, max - n);
    n += framed;
    s->sent_since_hb |= framed > 0;
    if (s->hb_gen != h->hb_gen) {
        /* A heartbeat keeps an idle stream alive through proxies; a stream
         * that carried an event since the last one is not idle. */
        s->hb_gen = h->hb_gen;
        if (!s->sent_since_hb && n == 0 && max >= sizeof heartbeat - 1) {
            memcpy(buf, heartbeat, sizeof heartbeat - 1);
            n = sizeof heartbeat - 1;
        }
        s->sent_since_hb = 0;
    }
    if (n == 0) {
        s->parked = 1;
        s->park(s->ctx);
    }
    rc = (ssize_t)n;
out:
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void sse_hub_get_stats(struct sse_hub *h, struct sse_hub_stats *out)
{
    pthread_mutex_lock(&h->lock);
    *out = h->st;
    pthread_mutex_unlock(&h->lock);
}
