#include "hub.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rc_time.h"

#define GREETING_MAX 512

const int64_t sse_delay_bounds_ms[SSE_DELAY_BUCKETS] = {1,   5,   10,   25,   50,   100,
                                                        250, 500, 1000, 2500, 5000, 10000};

static const char heartbeat[] = ": heartbeat\n\n";

struct frame {
    char *buf;
    size_t len;
    uint64_t id;
    uint64_t key; /* id, or the previous frame's key for an id-less frame:
                     never decreases along the ring, so it can be searched */
    int64_t time_us;
    uint64_t pair_hash; /* 0: no pair */
    char base[RC_ASSET_MAX + 1], quote[RC_ASSET_MAX + 1];
};

struct sse_sub {
    struct sse_sub *prev, *next;
    uint64_t next_seq;                 /* sequence number of the next frame to send */
    size_t off;                        /* bytes of that frame already sent */
    uint64_t min_id;                   /* frames with an id at or below this are skipped */
    struct sse_sub *hb_prev, *hb_next; /* its heartbeat slice's list */
    unsigned hb_slice;
    int hb_due; /* a heartbeat tick came for it since its last read */
    int parked;
    int gone;          /* kicked, or lagged: never read again */
    int lagged;        /* ... because the ring lapped it */
    int sent_since_hb; /* an event went out since the last heartbeat */
    void (*park)(void *);
    void (*wake)(void *);
    void (*cut)(void *);
    void *ctx;
    struct rc_pair *pairs; /* filter, or NULL for everything */
    uint64_t *hashes;      /* one per pair */
    size_t npairs;
    size_t greet_len, greet_off;
    char *greeting;
};

struct sse_hub {
    pthread_mutex_t lock;
    struct frame *ring;
    size_t cap;
    uint64_t head; /* sequence number the next frame will get */
    uint64_t last_key;
    /* The first sequence number a resume may start from: frames before it
     * are not continuous with what followed (a gap the history stream
     * could not fill). */
    uint64_t floor_seq;
    /* Heartbeat slices: subscribers are dealt round-robin into hb_slices
     * lists, so that a slice's tick walks only its own. */
    struct sse_sub *hb_heads[SSE_HUB_HB_SLICES_MAX];
    unsigned hb_slices;
    uint64_t next_slot;
    int closed;
    unsigned max_subs;
    struct sse_sub *subs;
    struct sse_hub_stats st;
};

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
    h->hb_slices = 1;
    return h;
}

static void free_sub(struct sse_sub *s)
{
    free(s->pairs);
    free(s->hashes);
    free(s->greeting);
    free(s);
}

void sse_hub_free(struct sse_hub *h)
{
    if (h == NULL)
        return;
    while (h->subs) {
        struct sse_sub *s = h->subs;
        h->subs = s->next;
        free_sub(s);
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

static int copy_filter(struct sse_sub *s, const struct rc_pair *pairs, size_t n)
{
    if (pairs == NULL || n == 0)
        return 0;
    s->pairs = malloc(n * sizeof *s->pairs);
    s->hashes = malloc(n * sizeof *s->hashes);
    if (s->pairs == NULL || s->hashes == NULL)
        return -1;
    memcpy(s->pairs, pairs, n * sizeof *pairs);
    for (size_t i = 0; i < n; i++)
        s->hashes[i] = pair_hash(pairs[i].base, pairs[i].quote);
    s->npairs = n;
    return 0;
}

/* Caller holds the lock. Ids in the ring increase with the sequence
 * number, so the first frame after `id` is found by binary search. */
static uint64_t first_seq_after(const struct sse_hub *h, uint64_t lo, uint64_t id)
{
    uint64_t hi = h->head;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (h->ring[mid % h->cap].key <= id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Caller holds the lock. Decide where a new subscriber starts. */
static void place(struct sse_hub *h, struct sse_sub *s, const struct sse_sub_params *p,
                  struct sse_resume *r)
{
    uint64_t count = h->head < h->cap ? h->head : h->cap;
    uint64_t first = h->head - count;
    if (first < h->floor_seq) { /* nothing before a gap can be vouched for */
        first = h->floor_seq;
        count = h->head - first;
    }
    memset(r, 0, sizeof *r);
    r->oldest = count ? h->ring[first % h->cap].key : 0;
    r->newest = count ? h->ring[(h->head - 1) % h->cap].key : 0;
    s->next_seq = h->head;
    r->after = r->newest;
    if (!p->resume) {
        r->kind = SSE_RESUME_LIVE;
        return;
    }
    /* Resuming needs ids we can vouch for: every event after last_id that
     * this replica received must still be in the ring, which holds only if
     * last_id is at least the oldest id kept. An id beyond the newest (the
     * client came from a replica a little ahead) resumes live, skipping
     * what it already has. */
    if (!p->resume_valid || count == 0 || r->oldest == 0 || p->last_id < r->oldest) {
        r->kind = SSE_RESUME_RESET;
        h->st.resets++;
        return;
    }
    r->kind = SSE_RESUME_REPLAY;
    r->after = p->last_id;
    s->min_id = p->last_id;
    s->next_seq = first_seq_after(h, first, p->last_id);
    r->backlog = (size_t)(h->head - s->next_seq);
    h->st.replays++;
}

struct sse_sub *sse_hub_subscribe(struct sse_hub *h, const struct sse_sub_params *p,
                                  struct sse_resume *out)
{
    struct sse_sub *s = calloc(1, sizeof *s);
    if (s == NULL || copy_filter(s, p->pairs, p->npairs) < 0)
        goto fail;
    s->park = p->park;
    s->wake = p->wake;
    s->cut = p->cut;
    s->ctx = p->ctx;

    pthread_mutex_lock(&h->lock);
    if (h->closed || h->st.subscribers >= h->max_subs) {
        if (!h->closed)
            h->st.rejected_full++;
        pthread_mutex_unlock(&h->lock);
        goto fail;
    }
    place(h, s, p, out);
    s->hb_slice = (unsigned)(h->next_slot++ % h->hb_slices);
    s->hb_next = h->hb_heads[s->hb_slice];
    if (s->hb_next)
        s->hb_next->hb_prev = s;
    h->hb_heads[s->hb_slice] = s;
    s->next = h->subs;
    if (h->subs)
        h->subs->prev = s;
    h->subs = s;
    h->st.subscribers++;
    h->st.subscribed++;
    pthread_mutex_unlock(&h->lock);
    return s;
fail:
    if (s)
        free_sub(s);
    return NULL;
}

int sse_hub_set_greeting(struct sse_sub *s, const char *greeting, size_t len)
{
    /* No lock: the subscriber is not readable before its first read. */
    if (len > GREETING_MAX)
        return -1;
    if (len == 0)
        return 0;
    if ((s->greeting = malloc(len)) == NULL)
        return -1;
    memcpy(s->greeting, greeting, len);
    s->greet_len = len;
    return 0;
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
    if (s->hb_prev)
        s->hb_prev->hb_next = s->hb_next;
    else
        h->hb_heads[s->hb_slice] = s->hb_next;
    if (s->hb_next)
        s->hb_next->hb_prev = s->hb_prev;
    h->st.subscribers--;
    pthread_mutex_unlock(&h->lock);
    free_sub(s);
}

/* Caller holds the lock. */
static void wake_one(struct sse_sub *s)
{
    if (s->parked) {
        s->parked = 0;
        s->wake(s->ctx);
    }
}

static void wake_parked(struct sse_hub *h)
{
    for (struct sse_sub *s = h->subs; s; s = s->next)
        wake_one(s);
}

void sse_hub_publish(struct sse_hub *h, char *frame, size_t len, const struct sse_event_meta *m)
{
    struct frame f = {.buf = frame, .len = len};
    if (m) {
        f.id = m->id;
        f.time_us = m->time_us;
        if (m->base[0] && m->quote[0]) {
            memcpy(f.base, m->base, sizeof f.base);
            memcpy(f.quote, m->quote, sizeof f.quote);
            f.pair_hash = pair_hash(f.base, f.quote);
        }
    }
    pthread_mutex_lock(&h->lock);
    if (f.id > h->last_key)
        h->last_key = f.id;
    f.key = h->last_key;
    struct frame *slot = &h->ring[h->head % h->cap];
    char *old = slot->buf;
    *slot = f;
    h->head++;
    h->st.published++;
    /* One pass: wake the idle, cut the stalled. A subscriber that is not
     * parked yet lags a whole ring behind has a full socket (its client
     * stopped reading); its reader would only run once the socket drains,
     * which may be never. */
    for (struct sse_sub *s = h->subs; s; s = s->next) {
        if (s->parked) {
            wake_one(s);
        } else if (!s->gone && s->next_seq + h->cap < h->head) {
            s->gone = s->lagged = 1;
            h->st.lagged++;
            if (s->cut)
                s->cut(s->ctx);
        }
    }
    pthread_mutex_unlock(&h->lock);
    free(old); /* outside the lock: nobody can reach it any more */
}

void sse_hub_heartbeat(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    for (struct sse_sub *s = h->subs; s; s = s->next) {
        s->hb_due = 1;
        wake_one(s);
    }
    pthread_mutex_unlock(&h->lock);
}

int sse_hub_set_heartbeat_slices(struct sse_hub *h, unsigned slices)
{
    pthread_mutex_lock(&h->lock);
    int ok = slices >= 1 && slices <= SSE_HUB_HB_SLICES_MAX && h->subs == NULL;
    if (ok)
        h->hb_slices = slices;
    pthread_mutex_unlock(&h->lock);
    return ok ? 0 : -1;
}

void sse_hub_heartbeat_slice(struct sse_hub *h, unsigned slice)
{
    pthread_mutex_lock(&h->lock);
    if (slice < h->hb_slices) {
        for (struct sse_sub *s = h->hb_heads[slice]; s; s = s->hb_next) {
            s->hb_due = 1;
            wake_one(s);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void sse_hub_kick(struct sse_hub *h, struct sse_sub *s)
{
    pthread_mutex_lock(&h->lock);
    if (!s->gone) {
        s->gone = 1;
        h->st.hangups++;
    }
    wake_one(s);
    pthread_mutex_unlock(&h->lock);
}

void sse_hub_mark_gap(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->floor_seq = h->head;
    h->st.gaps++;
    /* Every stream open now would run on across the gap without a word:
     * end them, so that their clients come back with Last-Event-ID and are
     * told (reset) instead. */
    for (struct sse_sub *s = h->subs; s; s = s->next) {
        if (!s->gone) {
            s->gone = 1;
            h->st.gap_cuts++;
            wake_one(s);
        }
    }
    pthread_mutex_unlock(&h->lock);
}

uint64_t sse_hub_newest_id(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t id = h->last_key;
    pthread_mutex_unlock(&h->lock);
    return id;
}

void sse_hub_close(struct sse_hub *h)
{
    pthread_mutex_lock(&h->lock);
    h->closed = 1;
    wake_parked(h);
    pthread_mutex_unlock(&h->lock);
}

static size_t copy_out(char *dst, size_t room, const char *src, size_t len, size_t *off)
{
    size_t n = len - *off < room ? len - *off : room;
    memcpy(dst, src + *off, n);
    *off += n;
    return n;
}

static int wanted(const struct sse_sub *s, const struct frame *f)
{
    if (f->id && f->id <= s->min_id)
        return 0; /* the client has it already (resume from a replica ahead) */
    if (s->pairs == NULL)
        return 1;
    for (size_t i = 0; i < s->npairs; i++)
        if (s->hashes[i] == f->pair_hash && strcmp(s->pairs[i].base, f->base) == 0 &&
            strcmp(s->pairs[i].quote, f->quote) == 0)
            return 1;
    return 0;
}

/* Caller holds the lock. */
static void count_delivery(struct sse_hub *h, const struct frame *f, int64_t now_us)
{
    h->st.delivered++;
    if (f->time_us == 0)
        return;
    int64_t d_us = now_us - f->time_us;
    if (d_us < 0)
        d_us = 0; /* producer clock ahead of ours */
    size_t b = 0;
    while (b < SSE_DELAY_BUCKETS && d_us > sse_delay_bounds_ms[b] * 1000)
        b++;
    h->st.delay_count[b]++;
    h->st.delay_sum_s += (double)d_us / 1e6;
}

/* Caller holds the lock. Copies whole or partial frames from the ring,
 * skipping those the subscriber does not want. */
static size_t copy_frames(struct sse_hub *h, struct sse_sub *s, char *buf, size_t max)
{
    size_t n = 0;
    int64_t now_us = 0;
    while (n < max && s->next_seq < h->head) {
        const struct frame *f = &h->ring[s->next_seq % h->cap];
        if (s->off == 0 && !wanted(s, f)) {
            s->next_seq++;
            continue;
        }
        n += copy_out(buf + n, max - n, f->buf, f->len, &s->off);
        if (s->off == f->len) {
            s->off = 0;
            s->next_seq++;
            if (now_us == 0)
                now_us = rc_real_us();
            count_delivery(h, f, now_us);
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
        rc = s->lagged ? SSE_HUB_LAGGED : SSE_HUB_GONE;
        goto out;
    }
    if (s->greet_off < s->greet_len) {
        n += copy_out(buf, max, s->greeting, s->greet_len, &s->greet_off);
        if (s->greet_off == s->greet_len) {
            /* Sent: 18,000 idle streams need not keep 18,000 greetings. */
            free(s->greeting);
            s->greeting = NULL;
            s->greet_len = s->greet_off = 0;
        }
    }
    /* The oldest frame still in the ring is head - cap: anything before it
     * has been overwritten. */
    if (h->head > h->cap && s->next_seq < h->head - h->cap) {
        h->st.lagged++;
        s->gone = s->lagged = 1; /* counted once; every later read refuses too */
        rc = SSE_HUB_LAGGED;
        goto out;
    }
    size_t framed = copy_frames(h, s, buf + n, max - n);
    n += framed;
    s->sent_since_hb |= framed > 0;
    if (s->hb_due) {
        /* A heartbeat keeps an idle stream alive through proxies; a stream
         * that carried an event since the last one is not idle. */
        s->hb_due = 0;
        if (!s->sent_since_hb && n == 0 && max >= sizeof heartbeat - 1) {
            memcpy(buf, heartbeat, sizeof heartbeat - 1);
            n = sizeof heartbeat - 1;
            h->st.heartbeats++;
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
