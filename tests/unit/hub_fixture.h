/* What the hub's unit tests share (test_hub*.c and the tests of the
 * modules the hub uses, where they test them through the hub): a fake
 * park/wake pair that counts and catches misuse, subscribing, publishing
 * events with meta, reading with exact checks, and a reader thread.
 *
 * Header-only (static inline, so a test that uses part of it has no unused
 * function) to keep each test one file, as the Makefile builds them.
 * Include it after cmocka.h.
 */
#ifndef HUB_FIXTURE_H
#define HUB_FIXTURE_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../sse-server/hub.h"

/* ---- fake park/wake ---- */

struct fake {
    int parks, wakes;
    int parked;     /* as the fake sees it */
    int violations; /* wake while not parked, or park while parked */
};

static inline void fake_park(void *ctx)
{
    struct fake *f = ctx;
    if (f->parked)
        f->violations++;
    f->parks++;
    f->parked = 1;
}

static inline void fake_wake(void *ctx)
{
    struct fake *f = ctx;
    if (!f->parked)
        f->violations++;
    f->wakes++;
    f->parked = 0;
}

/* ---- subscribing ---- */

/* A live subscriber (no filter, no resume) with an optional greeting. */
static inline struct sse_sub *subscribe_live(struct sse_hub *h, const char *greeting, size_t len,
                                             void (*park)(void *), void (*wake)(void *), void *ctx)
{
    struct sse_sub_params p = {.park = park, .wake = wake, .ctx = ctx};
    struct sse_resume r;
    struct sse_sub *s = sse_hub_subscribe(h, &p, &r);
    if (s && sse_hub_set_greeting(s, greeting, len) < 0) {
        sse_hub_unsubscribe(h, s);
        return NULL;
    }
    return s;
}

/* A live subscriber parked and woken through f (reset). */
static inline struct sse_sub *sub(struct sse_hub *h, struct fake *f, const char *greeting)
{
    memset(f, 0, sizeof *f);
    return subscribe_live(h, greeting, greeting ? strlen(greeting) : 0, fake_park, fake_wake, f);
}

/* Subscribe with p, parked and woken through f (reset); must succeed.
 * The outcome goes to *r, unless r is NULL. */
static inline struct sse_sub *sub_params(struct sse_hub *h, struct fake *f, struct sse_sub_params p,
                                         struct sse_resume *r)
{
    struct sse_resume unused;
    if (r == NULL)
        r = &unused;
    memset(f, 0, sizeof *f);
    p.park = fake_park;
    p.wake = fake_wake;
    p.ctx = f;
    memset(r, 0xAB, sizeof *r); /* every field must be written */
    struct sse_sub *s = sse_hub_subscribe(h, &p, r);
    assert_non_null(s);
    return s;
}

/* Subscribe with a resume and/or a filter; f is reset. */
static inline struct sse_sub *sub_with(struct sse_hub *h, struct fake *f, int resume, int valid,
                                       uint64_t last_id, const struct rc_pair *pairs, size_t npairs,
                                       struct sse_resume *r)
{
    struct sse_sub_params p = {.pairs = pairs,
                               .npairs = npairs,
                               .resume = resume,
                               .resume_valid = valid,
                               .last_id = last_id};
    return sub_params(h, f, p, r);
}

/* Subscribe without resuming, with a snapshot (snap) and/or since_us. */
static inline struct sse_sub *sub_snap(struct sse_hub *h, struct fake *f, int snap,
                                       int64_t since_us, const struct rc_pair *pairs, size_t npairs,
                                       struct sse_resume *r)
{
    struct sse_sub_params p = {
        .pairs = pairs, .npairs = npairs, .snapshot = snap, .since_us = since_us};
    return sub_params(h, f, p, r);
}

/* The test's hub, freed with every subscriber still on it by hub_teardown
 * (or by the next hub_new), so that a test need not unsubscribe at its end. */
static struct sse_hub *the_hub;

static inline int hub_teardown(void **state)
{
    (void)state;
    sse_hub_free(the_hub);
    the_hub = NULL;
    return 0;
}

static inline struct sse_hub *hub_new(size_t history, unsigned max_subs)
{
    hub_teardown(NULL);
    the_hub = sse_hub_new(history, max_subs);
    assert_non_null(the_hub);
    return the_hub;
}

#define hub_test(f) cmocka_unit_test_teardown(f, hub_teardown)

/* A hub keeping the newest frame of up to `pairs` pairs. */
static inline struct sse_hub *hub_latest(size_t history, size_t pairs)
{
    struct sse_hub *h = hub_new(history, 10);
    assert_int_equal(sse_hub_set_latest(h, pairs), 0);
    return h;
}

static inline struct sse_hub_stats stats(struct sse_hub *h)
{
    struct sse_hub_stats st;
    memset(&st, 0xFF, sizeof st);
    sse_hub_get_stats(h, &st);
    return st;
}

/* Samples in the delay histogram, over every bucket. */
static inline uint64_t delay_total(const struct sse_hub_stats *st)
{
    uint64_t n = 0;
    for (size_t b = 0; b <= SSE_DELAY_BUCKETS; b++)
        n += st->delay.count[b];
    return n;
}

/* ---- publishing ---- */

static inline void publish_str(struct sse_hub *h, const char *s)
{
    char *f = strdup(s);
    assert_non_null(f);
    sse_hub_publish(h, f, strlen(s), NULL);
}

/* The frame text for an event: unique per id, so order is checkable. */
static inline size_t ev_text(char *buf, size_t cap, uint64_t id, const char *base,
                             const char *quote)
{
    int n = snprintf(buf, cap, "id: %llu\ndata: %s/%s\n\n", (unsigned long long)id,
                     base ? base : "-", quote ? quote : "-");
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Publish an event with meta; base NULL publishes with NULL meta. */
static inline void publish_ev(struct sse_hub *h, uint64_t id, const char *base, const char *quote,
                              int64_t time_us)
{
    char text[128];
    size_t n = ev_text(text, sizeof text, id, base, quote);
    char *f = malloc(n);
    assert_non_null(f);
    memcpy(f, text, n);
    if (base == NULL) {
        sse_hub_publish(h, f, n, NULL);
        return;
    }
    struct sse_event_meta m = {.id = id, .time_us = time_us};
    snprintf(m.base, sizeof m.base, "%s", base);
    snprintf(m.quote, sizeof m.quote, "%s", quote);
    sse_hub_publish(h, f, n, &m);
}

/* Publish ids from, from+step, ..., to (BTC/USD, no time). */
static inline void publish_ids(struct sse_hub *h, uint64_t from, uint64_t to, uint64_t step)
{
    for (uint64_t id = from; id <= to; id += step)
        publish_ev(h, id, "BTC", "USD", 0);
}

/* The concatenated frames of ids from..to (step), BTC/USD. */
static inline void want_ids(char *buf, size_t cap, uint64_t from, uint64_t to, uint64_t step)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint64_t id = from; id <= to; id += step)
        n += ev_text(buf + n, cap - n, id, "BTC", "USD");
}

/* Events as text, "ID BASE/QUOTE ID BASE/QUOTE ...": "-/-" is an event
 * without meta, "BTCUSD/" half a pair. */
struct evspec {
    uint64_t id;
    char base[32], quote[32];
    int meta;
};

static inline size_t parse_evs(const char *spec, struct evspec *ev, size_t max)
{
    size_t n = 0;
    unsigned long long id;
    char pair[32];
    int used;
    while (n < max && sscanf(spec, " %llu %31s%n", &id, pair, &used) == 2) {
        char *slash = strchr(pair, '/');
        assert_non_null(slash);
        *slash = '\0';
        ev[n] = (struct evspec){.id = id, .meta = strcmp(pair, "-") != 0};
        snprintf(ev[n].base, sizeof ev[n].base, "%s", pair);
        snprintf(ev[n].quote, sizeof ev[n].quote, "%s", slash + 1);
        n++;
        spec += used;
    }
    assert_true(*spec == '\0');
    return n;
}

/* Publish the events in spec (no time). */
static inline void publish_evs(struct sse_hub *h, const char *spec)
{
    struct evspec ev[64];
    size_t n = parse_evs(spec, ev, 64);
    for (size_t i = 0; i < n; i++)
        publish_ev(h, ev[i].id, ev[i].meta ? ev[i].base : NULL, ev[i].quote, 0);
}

/* The frames of the events in spec, end to end; returns the length. */
static inline size_t want_evs(char *buf, size_t cap, const char *spec)
{
    struct evspec ev[64];
    size_t n = parse_evs(spec, ev, 64), len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += ev_text(buf + len, cap - len, ev[i].id, ev[i].meta ? ev[i].base : NULL, ev[i].quote);
    return len;
}

/* ---- reading ---- */

/* Read once expecting exactly `want` bytes. */
#define read_expect(h, s, want) read_expect_at(h, s, want, __LINE__)
static inline void read_expect_at(struct sse_hub *h, struct sse_sub *s, const char *want, int line)
{
    char buf[4096];
    ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
    if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0)
        print_error("line %d: read %zd '%.*s', want '%s'\n", line, n, n > 0 ? (int)n : 0, buf,
                    want);
    assert_int_equal(n, (ssize_t)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
}

#define read_parked(h, s) read_parked_at(h, s, __LINE__)
static inline void read_parked_at(struct sse_hub *h, struct sse_sub *s, int line)
{
    char buf[64];
    ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
    if (n != SSE_HUB_PARKED)
        print_error("line %d: read %zd '%.*s', want PARKED\n", line, n, n > 0 ? (int)n : 0, buf);
    assert_int_equal(n, SSE_HUB_PARKED);
}

/* Read what s has, `piece` bytes at a time, into out (cap bytes) until it
 * parks. Returns the length. */
static inline size_t read_pieces(struct sse_hub *h, struct sse_sub *s, size_t piece, char *out,
                                 size_t cap)
{
    size_t len = 0;
    int short_read = 0;
    for (;;) {
        assert_true(len + piece <= cap);
        ssize_t n = sse_hub_read(h, s, out + len, piece);
        if (n == SSE_HUB_PARKED)
            return len;
        assert_true(n > 0 && (size_t)n <= piece);
        assert_false(short_read); /* a short read happens only at the very end */
        short_read = (size_t)n < piece;
        len += (size_t)n;
    }
}

/* Read once expecting exactly the events in spec (see want_evs), or ids
 * from..to (step) of BTC/USD. */
#define read_evs(h, s, spec)                                                                       \
    do {                                                                                           \
        char want_[2048];                                                                          \
        want_evs(want_, sizeof want_, spec);                                                       \
        read_expect(h, s, want_);                                                                  \
    } while (0)
#define read_ids(h, s, from, to, step)                                                             \
    do {                                                                                           \
        char want_[2048];                                                                          \
        want_ids(want_, sizeof want_, from, to, step);                                             \
        read_expect(h, s, want_);                                                                  \
    } while (0)

/* Resume outcome, all five fields. */
#define expect_resume(r, k, a, o, n, b) expect_resume_at(r, k, a, o, n, b, __LINE__)
static inline void expect_resume_at(const struct sse_resume *r, enum sse_resume_kind kind,
                                    uint64_t after, uint64_t oldest, uint64_t newest,
                                    size_t backlog, int line)
{
    if (r->kind != kind || r->after != after || r->oldest != oldest || r->newest != newest ||
        r->backlog != backlog)
        print_error("line %d: resume kind %d after %llu oldest %llu newest %llu backlog %zu; "
                    "want %d %llu %llu %llu %zu\n",
                    line, (int)r->kind, (unsigned long long)r->after, (unsigned long long)r->oldest,
                    (unsigned long long)r->newest, r->backlog, (int)kind, (unsigned long long)after,
                    (unsigned long long)oldest, (unsigned long long)newest, backlog);
    assert_int_equal(r->kind, kind);
    assert_int_equal(r->after, after);
    assert_int_equal(r->oldest, oldest);
    assert_int_equal(r->newest, newest);
    assert_int_equal(r->backlog, backlog);
}

/* ---- a reader thread ---- */

/* Reads its subscriber until it has seen `blanks` blank lines (frames),
 * parking on a condition variable as a stream parks in libmicrohttpd.
 * Results are checked by the main thread (cmocka asserts are not
 * thread-safe). */
struct treader {
    struct sse_hub *hub;
    struct sse_sub *sub;
    pthread_mutex_t m;
    pthread_cond_t c;
    int woken;
    int parked;
    size_t max;  /* read size */
    long blanks; /* stop after this many */
    char *stream;
    size_t len, cap;
    int error; /* 0 ok; 1 no memory, 2 lost wake-up, 3 lagged, 4 bad read, 5 overflow */
    long parks, wakes, wake_unparked;
};

static inline void tr_park(void *ctx)
{
    struct treader *r = ctx;
    pthread_mutex_lock(&r->m);
    r->woken = 0;
    r->parks++;
    r->parked = 1;
    pthread_mutex_unlock(&r->m);
}

static inline void tr_wake(void *ctx)
{
    struct treader *r = ctx;
    pthread_mutex_lock(&r->m);
    if (!r->parked)
        r->wake_unparked++;
    r->parked = 0;
    r->woken = 1;
    r->wakes++;
    pthread_cond_signal(&r->c);
    pthread_mutex_unlock(&r->m);
}

static inline void treader_init(struct treader *r, struct sse_hub *h, size_t max, long blanks,
                                size_t cap)
{
    memset(r, 0, sizeof *r);
    r->hub = h;
    r->max = max;
    r->blanks = blanks;
    r->cap = cap;
    r->stream = malloc(cap);
    assert_non_null(r->stream);
    pthread_mutex_init(&r->m, NULL);
    pthread_cond_init(&r->c, NULL);
}

static inline void treader_destroy(struct treader *r)
{
    pthread_mutex_destroy(&r->m);
    pthread_cond_destroy(&r->c);
    free(r->stream);
}

static inline void *treader_main(void *arg)
{
    struct treader *r = arg;
    char *buf = malloc(r->max);
    if (buf == NULL) {
        r->error = 1;
        return NULL;
    }
    long blanks = 0;
    char prev = 0;
    while (blanks < r->blanks) {
        ssize_t n = sse_hub_read(r->hub, r->sub, buf, r->max);
        if (n == SSE_HUB_PARKED) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 60;
            pthread_mutex_lock(&r->m);
            int rc = 0;
            while (!r->woken && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&r->c, &r->m, &dl);
            pthread_mutex_unlock(&r->m);
            if (rc == ETIMEDOUT) {
                r->error = 2;
                break;
            }
            continue;
        }
        if (n < 0 || (size_t)n > r->max) {
            r->error = n == SSE_HUB_LAGGED ? 3 : 4;
            break;
        }
        if (r->len + (size_t)n > r->cap) {
            r->error = 5;
            break;
        }
        memcpy(r->stream + r->len, buf, (size_t)n);
        r->len += (size_t)n;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' && prev == '\n')
                blanks++;
            prev = buf[i];
        }
    }
    free(buf);
    return NULL;
}

/* After the readers joined: each got through, and every park was answered
 * by exactly one wake, or is the last. */
static inline void treader_check(const struct treader *r, int i)
{
    if (r->error)
        print_error("reader %d (max %zu) error %d\n", i, r->max, r->error);
    assert_int_equal(r->error, 0);
    assert_int_equal(r->wake_unparked, 0);
    assert_true(r->wakes <= r->parks);
    assert_true(r->parks - r->wakes <= 1);
}

#endif
