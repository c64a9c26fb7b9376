/* The hub: the ring (append, search by id and by time), the subscribers
 * (register, place, wake, cut) and the read path, all under one lock. What
 * the hub uses but is not the hub has its own module: pair filters
 * (pair_filter.h), the newest frame per pair for snapshots (latest.h),
 * heartbeat slices (hb_slices.h) and the delay histogram (delay.h). */
#include "hub.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hb_slices.h"
#include "latest.h"
#include "pair_filter.h"
#include "rc_time.h"

#define GREETING_MAX 512

_Static_assert(SSE_HUB_LATEST_MAX == SSE_LATEST_MAX, "the hub's table bound is latest.h's");
_Static_assert(SSE_HUB_HB_SLICES_MAX == SSE_HB_SLICES_MAX, "the hub's slices are hb_slices.h's");

static const char heartbeat[] = ": heartbeat\n\n";

struct frame {
    char *buf;
    size_t len;
    uint64_t id;
    uint64_t key; /* id, or the previous frame's key for an id-less frame:
                     never decreases along the ring, so it can be searched */
    int64_t time_us;
    uint64_t tkey;           /* the largest time_us so far: never decreases along
                                the ring, so ?since= can be searched too */
    struct sse_pair_tag tag; /* hash 0: no pair */
};

struct sse_sub {
    struct sse_sub *prev, *next;
    uint64_t next_seq;     /* sequence number of the next frame to send */
    size_t off;            /* bytes of that frame already sent */
    uint64_t min_id;       /* frames with an id at or below this are skipped */
    struct sse_hb_link hb; /* in its heartbeat slice */
    int hb_due;            /* a heartbeat tick came for it since its last read */
    int parked;
    int gone;          /* kicked, or lagged: never read again */
    int lagged;        /* ... because the ring lapped it */
    int sent_since_hb; /* an event went out since the last heartbeat */
    void (*park)(void *);
    void (*wake)(void *);
    void (*cut)(void *);
    void *ctx;
    struct sse_pair_filter filter;
    size_t greet_len, greet_off;
    char *greeting;    /* the greeting, then the snapshot (see place) */
    uint64_t live_seq; /* frames before this are a ?since= replay: their age is
                          not a delivery delay */
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
    uint64_t last_time;        /* the largest time_us published: the next tkey */
    struct sse_latest *latest; /* the newest frame per pair; NULL: none kept */
    struct sse_hb_slices slices;
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
    sse_hb_slices_init(&h->slices);
    return h;
}

int sse_hub_set_latest(struct sse_hub *h, size_t pairs)
{
    pthread_mutex_lock(&h->lock);
    int rc = -1;
    if (h->head == 0 && pairs <= SSE_HUB_LATEST_MAX) {
        struct sse_latest *t = NULL;
        if (pairs == 0 || (t = sse_latest_new(pairs)) != NULL) {
            sse_latest_free(h->latest, 0); /* nothing published: holds nothing */
            h->latest = t;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* Caller holds the lock. The oldest sequence number the ring still holds. */
static uint64_t ring_first(const struct sse_hub *h)
{
    return h->head > h->cap ? h->head - h->cap : 0;
}

static void free_sub(struct sse_sub *s)
{
    sse_pair_filter_clear(&s->filter);
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
    sse_latest_free(h->latest, ring_first(h)); /* the ring freed the others */
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

/* Caller holds the lock. Keys (ids; by_time: tkey) never decrease along
 * the ring, so the first frame from lo whose key is above v is found by
 * binary search. */
static uint64_t first_seq_above(const struct sse_hub *h, uint64_t lo, int by_time, uint64_t v)
{
    uint64_t hi = h->head;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const struct frame *f = &h->ring[mid % h->cap];
        if ((by_time ? f->tkey : f->key) <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t first_seq_after(const struct sse_hub *h, uint64_t lo, uint64_t id)
{
    return first_seq_above(h, lo, 0, id);
}

/* Caller holds the lock. ?since=: start at the first kept frame whose own
 * time is at or after `from`, or at the oldest kept one when the window
 * reaches past it. */
static void place_since(struct sse_hub *h, struct sse_sub *s, int64_t from, uint64_t first,
                        uint64_t count, struct sse_resume *r)
{
    r->kind = SSE_RESUME_SINCE;
    h->st.since_replays++;
    uint64_t start = from <= 1 ? first : first_seq_above(h, first, 1, (uint64_t)from - 1);
    r->since_us = count ? from : 0; /* nothing kept: it starts live */
    if (count && start == first) {
        /* The window reaches past the oldest kept frame. A full ring drops
         * that one at the next publish, which would cut a reader that had
         * not read it yet: start 1/64 of the ring later then. */
        if (count == h->cap)
            start += h->cap / 64;
        int64_t t = (int64_t)h->ring[start % h->cap].tkey;
        if (t > from)
            r->since_us = t;
    }
    s->next_seq = start;
    s->live_seq = h->head;
    r->backlog = (size_t)(h->head - start);
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
        if (p->since_us)
            place_since(h, s, p->since_us, first, count, r);
        /* The snapshot: the newest frame of each wanted pair from before
         * where s starts in the ring (a newer one reaches s from the ring
         * anyway: no duplicate), in s's greeting buffer, which is already
         * the bytes sent before any event, freed once sent. */
        if (p->snapshot && (r->snapshot = sse_latest_snapshot(h->latest, s->next_seq, &s->filter,
                                                              &s->greeting, &s->greet_len)) > 0) {
            h->st.snapshots++;
            h->st.snap_events += r->snapshot;
        }
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
    if (s == NULL || sse_pair_filter_set(&s->filter, p->pairs, p->npairs) < 0)
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
    sse_hb_slices_add(&h->slices, &s->hb);
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
    /* The snapshot, if any, is in the buffer already: the greeting goes
     * before it. */
    char *g = realloc(s->greeting, s->greet_len + len);
    if (g == NULL)
        return -1;
    memmove(g + len, g, s->greet_len);
    memcpy(g, greeting, len);
    s->greeting = g;
    s->greet_len += len;
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
    sse_hb_slices_remove(&h->slices, &s->hb);
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

/* Caller holds the lock. Put one frame in the ring; *old and *dropped get
 * buffers to free once the lock is released (or NULL). */
static void append_locked(struct sse_hub *h, char *frame, size_t len,
                          const struct sse_event_meta *m, char **old, char **dropped)
{
    struct frame f = {.buf = frame, .len = len};
    if (m) {
        f.id = m->id;
        f.time_us = m->time_us;
        sse_pair_tag_set(&f.tag, m->base, m->quote);
    }
    if (f.id > h->last_key)
        h->last_key = f.id;
    f.key = h->last_key;
    if (f.time_us > 0 && (uint64_t)f.time_us > h->last_time)
        h->last_time = (uint64_t)f.time_us;
    f.tkey = h->last_time;
    struct frame *slot = &h->ring[h->head % h->cap];
    *old = slot->buf;
    /* The frame leaving the ring may be its pair's newest: the table keeps it. */
    if (*old && sse_latest_holds(h->latest, h->head - h->cap, &slot->tag))
        *old = NULL;
    *slot = f;
    h->head++;
    h->st.published++;
    int evicted = 0;
    *dropped =
        sse_latest_keep(h->latest, h->head - 1, f.buf, f.len, &f.tag, ring_first(h), &evicted);
    h->st.pairs_evicted += (uint64_t)evicted;
}

/* Caller holds the lock. One pass over the subscribers after new frames:
 * wake the idle, cut the stalled. A subscriber that is not parked yet lags
 * a whole ring behind has a full socket (its client stopped reading); its
 * reader would only run once the socket drains, which may be never. */
static void wake_pass_locked(struct sse_hub *h)
{
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
}

void sse_hub_publish(struct sse_hub *h, char *frame, size_t len, const struct sse_event_meta *m)
{
    struct sse_hub_event ev = {.frame = frame, .len = len, .meta = m};
    sse_hub_publish_batch(h, &ev, 1);
}

void sse_hub_publish_batch(struct sse_hub *h, const struct sse_hub_event *ev, size_t n)
{
    char *gone[2 * SSE_HUB_BATCH_MAX];
    size_t ngone = 0;
    if (n > SSE_HUB_BATCH_MAX) { /* the caller's mistake; still, lose nothing */
        sse_hub_publish_batch(h, ev, SSE_HUB_BATCH_MAX);
        sse_hub_publish_batch(h, ev + SSE_HUB_BATCH_MAX, n - SSE_HUB_BATCH_MAX);
        return;
    }
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < n; i++) {
        append_locked(h, ev[i].frame, ev[i].len, ev[i].meta, &gone[ngone], &gone[ngone + 1]);
        ngone += 2;
    }
    /* Events that came together go out together: one wake per subscriber
     * for the whole batch, so each reads them in one go (one send()). */
    if (n > 0)
        wake_pass_locked(h);
    pthread_mutex_unlock(&h->lock);
    for (size_t i = 0; i < ngone; i++)
        free(gone[i]); /* outside the lock: nobody can reach them any more */
}

void sse_hub_publish_history(struct sse_hub *h, const struct sse_hub_event *ev, size_t n)
{
    char *gone[2];
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&h->lock);
        uint64_t before = h->head;
        append_locked(h, ev[i].frame, ev[i].len, ev[i].meta, &gone[0], &gone[1]);
        /* Past it for everyone who was caught up: to them it is the past. */
        for (struct sse_sub *s = h->subs; s; s = s->next)
            if (s->next_seq == before && s->off == 0)
                s->next_seq = h->head;
        pthread_mutex_unlock(&h->lock);
        free(gone[0]);
        free(gone[1]);
    }
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
    int rc = h->subs == NULL ? sse_hb_slices_set(&h->slices, slices) : -1;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void sse_hub_heartbeat_slice(struct sse_hub *h, unsigned slice)
{
    pthread_mutex_lock(&h->lock);
    for (struct sse_hb_link *l = sse_hb_slices_first(&h->slices, slice); l; l = l->next) {
        struct sse_sub *s = (struct sse_sub *)((char *)l - offsetof(struct sse_sub, hb));
        s->hb_due = 1;
        wake_one(s);
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

int sse_hub_has_id(struct sse_hub *h, uint64_t id)
{
    pthread_mutex_lock(&h->lock);
    uint64_t count = h->head < h->cap ? h->head : h->cap;
    uint64_t first = h->head - count;
    /* Keys never decrease along the ring: the first frame above id - 1 is
     * the one with id, if it is there. */
    uint64_t seq = id ? first_seq_above(h, first, 0, id - 1) : h->head;
    int has = seq < h->head && h->ring[seq % h->cap].id == id;
    pthread_mutex_unlock(&h->lock);
    return has;
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
    return sse_pair_filter_match(&s->filter, &f->tag);
}

/* Caller holds the lock. */
static void count_delivery(struct sse_hub *h, const struct frame *f, int64_t now_us)
{
    h->st.delivered++;
    if (f->time_us != 0 && now_us != 0)
        sse_delay_record(&h->st.delay, now_us - f->time_us);
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
            /* A ?since= replay's age is not a delivery delay (0: not timed). */
            count_delivery(h, f, s->next_seq > s->live_seq ? now_us : 0);
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
