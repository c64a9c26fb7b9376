/* Unit tests for sse-server/hub.h: the frame ring and its subscribers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static void fake_park(void *ctx)
{
    struct fake *f = ctx;
    if (f->parked)
        f->violations++;
    f->parks++;
    f->parked = 1;
}

static void fake_wake(void *ctx)
{
    struct fake *f = ctx;
    if (!f->parked)
        f->violations++;
    f->wakes++;
    f->parked = 0;
}

/* A live subscriber (no filter, no resume) with an optional greeting. */
static struct sse_sub *subscribe_live(struct sse_hub *h, const char *greeting, size_t len,
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

static struct sse_sub *sub(struct sse_hub *h, struct fake *f, const char *greeting)
{
    memset(f, 0, sizeof *f);
    return subscribe_live(h, greeting, greeting ? strlen(greeting) : 0, fake_park, fake_wake, f);
}

static void publish_str(struct sse_hub *h, const char *s)
{
    char *f = strdup(s);
    assert_non_null(f);
    sse_hub_publish(h, f, strlen(s), NULL);
}

/* Read once expecting exactly `want` bytes. */
static void read_expect(struct sse_hub *h, struct sse_sub *s, const char *want)
{
    char buf[4096];
    ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
    if (n < 0 || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0)
        print_error("read %zd '%.*s', want '%s'\n", n, n > 0 ? (int)n : 0, buf, want);
    assert_int_equal(n, (ssize_t)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
}

#define read_parked(h, s) read_parked_at(h, s, __LINE__)
static void read_parked_at(struct sse_hub *h, struct sse_sub *s, int line)
{
    char buf[64];
    ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
    if (n != SSE_HUB_PARKED)
        print_error("line %d: read %zd '%.*s', want PARKED\n", line, n, n > 0 ? (int)n : 0, buf);
    assert_int_equal(n, SSE_HUB_PARKED);
}

static struct sse_hub_stats stats(struct sse_hub *h)
{
    struct sse_hub_stats st;
    memset(&st, 0xFF, sizeof st);
    sse_hub_get_stats(h, &st);
    return st;
}

/* ---- construction ---- */

static void test_new_free(void **state)
{
    (void)state;
    assert_null(sse_hub_new(0, 10));
    sse_hub_free(NULL);
    struct sse_hub *h = sse_hub_new(1, 10);
    assert_non_null(h);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.subscribers, 0);
    assert_int_equal(st.subscribed, 0);
    assert_int_equal(st.rejected_full, 0);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(sse_hub_full(h), 0);
    sse_hub_free(h);
}

static void test_free_with_subscribers_and_frames(void **state)
{
    (void)state;
    /* valgrind: the hub frees subscribers still registered and its frames */
    struct sse_hub *h = sse_hub_new(4, 10);
    assert_non_null(h);
    struct fake a, b;
    assert_non_null(sub(h, &a, "hi"));
    assert_non_null(sub(h, &b, NULL));
    for (int i = 0; i < 10; i++)
        publish_str(h, "data: x\n\n");
    sse_hub_free(h);
}

/* ---- reading ---- */

static void test_greeting_first(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, "retry: 3000\n: hello\n\n");
    assert_non_null(s);
    /* greeting alone, without parking */
    read_expect(h, s, "retry: 3000\n: hello\n\n");
    assert_int_equal(f.parks, 0);
    read_parked(h, s);
    assert_int_equal(f.parks, 1);

    /* greeting and a frame published before the first read come together,
     * greeting first */
    struct fake g;
    struct sse_sub *t = sub(h, &g, ": hi\n\n");
    publish_str(h, "data: 1\n\n");
    read_expect(h, t, ": hi\n\ndata: 1\n\n");
    assert_int_equal(g.wakes, 0); /* was never parked */
    sse_hub_unsubscribe(h, t);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_greeting_limits(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    char big[300];
    memset(big, 'g', sizeof big);
    struct fake f;
    memset(&f, 0, sizeof f);
    char big2[600];
    memset(big2, 'g', sizeof big2);
    assert_null(subscribe_live(h, big2, 513, fake_park, fake_wake, &f));
    assert_int_equal(stats(h).subscribers, 0);
    struct sse_sub *s = subscribe_live(h, big2, 512, fake_park, fake_wake, &f);
    assert_non_null(s);
    char buf[1024];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), 512);
    assert_memory_equal(buf, big2, 512);
    (void)big;
    sse_hub_unsubscribe(h, s);
    /* the greeting is copied: the caller's buffer may change */
    char greet[] = "GREETING";
    s = subscribe_live(h, greet, 8, fake_park, fake_wake, &f);
    memset(greet, 'X', 8);
    read_expect(h, s, "GREETING");
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_nothing_parks_once(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    read_parked(h, s);
    assert_int_equal(f.parks, 1);
    assert_int_equal(f.wakes, 0);
    assert_int_equal(f.parked, 1);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_publish_wakes_parked_once(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    struct fake pa, pb, busy;
    struct sse_sub *a = sub(h, &pa, NULL);
    struct sse_sub *b = sub(h, &pb, NULL);
    struct sse_sub *c = sub(h, &busy, "greet"); /* has data pending: never parks */
    read_parked(h, a);
    read_parked(h, b);
    publish_str(h, "data: 1\n\n");
    assert_int_equal(pa.wakes, 1);
    assert_int_equal(pb.wakes, 1);
    assert_int_equal(busy.wakes, 0);
    /* a second publish before they read does not wake them again */
    publish_str(h, "data: 2\n\n");
    assert_int_equal(pa.wakes, 1);
    assert_int_equal(pb.wakes, 1);
    assert_int_equal(busy.wakes, 0);
    read_expect(h, a, "data: 1\n\ndata: 2\n\n");
    read_expect(h, c, "greetdata: 1\n\ndata: 2\n\n");
    /* a reads again and parks; b has not read yet and stays unparked */
    read_parked(h, a);
    publish_str(h, "data: 3\n\n");
    assert_int_equal(pa.wakes, 2);
    assert_int_equal(pb.wakes, 1);
    assert_int_equal(busy.wakes, 0);
    read_expect(h, b, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    assert_int_equal(pa.violations + pb.violations + busy.violations, 0);
    assert_int_equal(pa.parks, 2);
    assert_int_equal(pb.parks, 1);
    assert_int_equal(busy.parks, 0);
    assert_int_equal(stats(h).published, 3);
    sse_hub_unsubscribe(h, a);
    sse_hub_unsubscribe(h, b);
    sse_hub_unsubscribe(h, c);
    sse_hub_free(h);
}

static void test_starts_at_live_end(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    publish_str(h, "data: old\n\n");
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    read_parked(h, s); /* history before subscribing is not replayed */
    publish_str(h, "data: new\n\n");
    read_expect(h, s, "data: new\n\n");
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_order_byte_exact(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    char want[1024] = "";
    for (int i = 0; i < 10; i++) {
        char fr[64];
        snprintf(fr, sizeof fr, "id: %d\ndata: {\"n\":%d}\n\n", i + 1, i);
        publish_str(h, fr);
        strcat(want, fr);
    }
    /* a frame with embedded NUL bytes is copied as bytes */
    char *bin = malloc(5);
    memcpy(bin, "a\0b\n\n", 5);
    sse_hub_publish(h, bin, 5, NULL);
    char buf[2048];
    ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
    size_t wl = strlen(want);
    assert_int_equal(n, (ssize_t)(wl + 5));
    assert_memory_equal(buf, want, wl);
    assert_memory_equal(buf + wl, "a\0b\n\n", 5);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_partial_reads(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    const char *greet = "retry: 1000\n\n";
    struct sse_sub *s = sub(h, &f, greet);
    char want[2048];
    size_t wl = (size_t)snprintf(want, sizeof want, "%s", greet);
    for (int i = 0; i < 12; i++) {
        char fr[128]; /* width i + 1 <= 12: fits; sized for the compiler's worst case */
        snprintf(fr, sizeof fr, "id: %d\ndata: %0*d\n\n", i + 1, (i + 1) % 16, i);
        publish_str(h, fr);
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", fr);
    }
    char got[2048];
    size_t gl = 0;
    for (;;) {
        char buf[3];
        ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
        if (n == SSE_HUB_PARKED)
            break;
        assert_true(n > 0 && n <= 3);
        /* a short read happens only at the very end */
        if (n < 3)
            assert_int_equal(gl + (size_t)n, wl);
        assert_true(gl + (size_t)n <= sizeof got);
        memcpy(got + gl, buf, (size_t)n);
        gl += (size_t)n;
    }
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
    assert_int_equal(f.parks, 1);

    /* max == 1 works too, and a frame published in the middle of a partly
     * read frame comes after it */
    publish_str(h, "data: AB\n\n");
    char one;
    assert_int_equal(sse_hub_read(h, s, &one, 1), 1);
    assert_int_equal(one, 'd');
    publish_str(h, "data: CD\n\n");
    read_expect(h, s, "ata: AB\n\ndata: CD\n\n");
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_read_max_zero(void **state)
{
    (void)state;
    /* max == 0 must not write anything and must not lose data */
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    publish_str(h, "data: z\n\n");
    char guard = 'G';
    ssize_t n = sse_hub_read(h, s, &guard, 0);
    assert_true(n == 0 || n == SSE_HUB_PARKED);
    assert_int_equal(guard, 'G');
    if (n == SSE_HUB_PARKED) {
        /* the next publish wakes it; unpark by publishing */
        publish_str(h, "data: y\n\n");
        read_expect(h, s, "data: z\n\ndata: y\n\n");
    } else {
        read_expect(h, s, "data: z\n\n");
    }
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* ---- lagging ---- */

static void test_ring_overflow_lags(void **state)
{
    (void)state;
    const size_t hist = 4;
    struct sse_hub *h = sse_hub_new(hist, 10);
    struct fake fs, ff, fe;
    struct sse_sub *slow = sub(h, &fs, NULL);
    struct sse_sub *fast = sub(h, &ff, NULL);
    struct sse_sub *edge = sub(h, &fe, NULL);
    /* edge reads after exactly `hist` frames: still all there */
    for (size_t i = 0; i < hist; i++) {
        char fr[32];
        snprintf(fr, sizeof fr, "data: %zu\n\n", i);
        publish_str(h, fr);
        read_expect(h, fast, fr);
    }
    read_expect(h, edge, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    /* one more: slow has read nothing while hist + 1 frames went by */
    publish_str(h, "data: 4\n\n");
    read_expect(h, fast, "data: 4\n\n");
    char buf[256];
    assert_int_equal(sse_hub_read(h, slow, buf, sizeof buf), SSE_HUB_LAGGED);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.lagged, 1);
    assert_int_equal(st.published, hist + 1);
    /* reading again still refuses, and counts the subscriber only once */
    assert_true(sse_hub_read(h, slow, buf, sizeof buf) < 0);
    assert_int_equal(stats(h).lagged, 1);
    /* the others are unaffected */
    read_expect(h, edge, "data: 4\n\n");
    read_parked(h, fast);
    publish_str(h, "data: 5\n\n");
    read_expect(h, fast, "data: 5\n\n");
    assert_int_equal(stats(h).lagged, 1);
    assert_int_equal(fs.parks, 0);
    sse_hub_unsubscribe(h, slow);
    sse_hub_unsubscribe(h, fast);
    sse_hub_unsubscribe(h, edge);
    assert_int_equal(stats(h).subscribers, 0);
    sse_hub_free(h);
}

static void test_lag_with_partial_frame(void **state)
{
    (void)state;
    /* A subscriber half way through a frame that is then overwritten must
     * be cut off, not sent the tail of a different frame. */
    struct sse_hub *h = sse_hub_new(2, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    publish_str(h, "data: AAAA\n\n");
    char buf[4];
    assert_int_equal(sse_hub_read(h, s, buf, 4), 4);
    assert_memory_equal(buf, "data", 4);
    publish_str(h, "data: BBBB\n\n");
    read_expect(h, s, ": AAAA\n\ndata: BBBB\n\n");
    assert_int_equal(sse_hub_read(h, s, buf, 4), SSE_HUB_PARKED);
    publish_str(h, "data: CCCC\n\n");
    assert_int_equal(sse_hub_read(h, s, buf, 4), 4); /* "data" of C */
    publish_str(h, "data: DDDD\n\n");
    publish_str(h, "data: EEEE\n\n"); /* overwrites C's slot */
    char big[64];
    assert_int_equal(sse_hub_read(h, s, big, sizeof big), SSE_HUB_LAGGED);
    assert_int_equal(stats(h).lagged, 1);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* A subscriber that is not parked (its socket is full: the client stopped
 * reading) and falls a whole ring behind is cut by the publish that laps
 * it, once, without waiting for a read that may never come. */
static int cuts;
static void count_cut(void *ctx)
{
    (void)ctx;
    cuts++;
}

static void test_cut_stalled(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f, g;
    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    struct sse_sub_params p = {.park = fake_park, .wake = fake_wake, .cut = count_cut, .ctx = &f};
    struct sse_resume r;
    struct sse_sub *stalled = sse_hub_subscribe(h, &p, &r);
    struct sse_sub *idle = sub(h, &g, NULL);
    read_parked(h, idle); /* a reading client: parks, is woken, reads */
    cuts = 0;
    for (int i = 0; i < 4; i++) {
        publish_str(h, "data: x\n\n");
        read_expect(h, idle, "data: x\n\n");
        read_parked(h, idle);
    }
    assert_int_equal(cuts, 0); /* 4 behind in a ring of 4: still readable */
    publish_str(h, "data: y\n\n");
    assert_int_equal(cuts, 1);
    read_expect(h, idle, "data: y\n\n");
    read_parked(h, idle);
    publish_str(h, "data: z\n\n");
    assert_int_equal(cuts, 1); /* once */
    read_expect(h, idle, "data: z\n\n");
    assert_int_equal(stats(h).lagged, 1);
    char buf[64];
    assert_int_equal(sse_hub_read(h, stalled, buf, sizeof buf), SSE_HUB_LAGGED);
    assert_int_equal(stats(h).lagged, 1);
    sse_hub_unsubscribe(h, stalled);
    sse_hub_unsubscribe(h, idle);
    sse_hub_free(h);
}

static void test_history_one(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(1, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    publish_str(h, "data: 1\n\n");
    read_expect(h, s, "data: 1\n\n");
    publish_str(h, "data: 2\n\n");
    publish_str(h, "data: 3\n\n");
    char buf[64];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), SSE_HUB_LAGGED);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* ---- limits ---- */

static void test_max_subs(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 2);
    struct fake a, b, c;
    struct sse_sub *sa = sub(h, &a, NULL);
    assert_int_equal(sse_hub_full(h), 0);
    struct sse_sub *sb = sub(h, &b, NULL);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_int_equal(sse_hub_full(h), 1);
    assert_null(sub(h, &c, NULL));
    assert_null(sub(h, &c, "g"));
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.subscribers, 2);
    assert_int_equal(st.subscribed, 2);
    assert_int_equal(st.rejected_full, 2);
    /* unsubscribe frees a slot */
    sse_hub_unsubscribe(h, sa);
    assert_int_equal(sse_hub_full(h), 0);
    st = stats(h);
    assert_int_equal(st.subscribers, 1);
    struct sse_sub *sc = sub(h, &c, NULL);
    assert_non_null(sc);
    st = stats(h);
    assert_int_equal(st.subscribers, 2);
    assert_int_equal(st.subscribed, 3);
    assert_int_equal(st.rejected_full, 2);
    /* the survivor still works after its neighbour left */
    read_parked(h, sb);
    publish_str(h, "data: q\n\n");
    assert_int_equal(b.wakes, 1);
    read_expect(h, sb, "data: q\n\n");
    sse_hub_unsubscribe(h, sb);
    sse_hub_unsubscribe(h, sc);
    assert_int_equal(stats(h).subscribers, 0);
    sse_hub_unsubscribe(h, NULL); /* harmless */
    sse_hub_free(h);
}

static void test_max_subs_zero(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 0);
    struct fake a;
    assert_int_equal(sse_hub_full(h), 1);
    assert_null(sub(h, &a, NULL));
    assert_int_equal(stats(h).rejected_full, 1);
    sse_hub_free(h);
}

static void test_unsubscribe_middle_of_list(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f[5];
    struct sse_sub *s[5];
    for (int i = 0; i < 5; i++) {
        s[i] = sub(h, &f[i], NULL);
        read_parked(h, s[i]);
    }
    sse_hub_unsubscribe(h, s[2]); /* middle */
    sse_hub_unsubscribe(h, s[4]); /* head (newest) */
    sse_hub_unsubscribe(h, s[0]); /* tail */
    assert_int_equal(stats(h).subscribers, 2);
    publish_str(h, "data: w\n\n");
    assert_int_equal(f[1].wakes, 1);
    assert_int_equal(f[3].wakes, 1);
    read_expect(h, s[1], "data: w\n\n");
    read_expect(h, s[3], "data: w\n\n");
    sse_hub_unsubscribe(h, s[1]);
    sse_hub_unsubscribe(h, s[3]);
    assert_int_equal(stats(h).subscribers, 0);
    assert_int_equal(stats(h).subscribed, 5);
    sse_hub_free(h);
}

/* ---- heartbeat ---- */

static void test_heartbeat(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake fp, fd, fi;
    struct sse_sub *parked = sub(h, &fp, NULL);
    struct sse_sub *pending = sub(h, &fd, NULL);
    struct sse_sub *idle = sub(h, &fi, NULL); /* never read: not parked */
    read_parked(h, parked);

    /* an idle parked subscriber: woken, reads the comment exactly once */
    sse_hub_heartbeat(h);
    assert_int_equal(fp.wakes, 1);
    assert_int_equal(fi.wakes, 0); /* not parked: not woken */
    read_expect(h, parked, ": heartbeat\n\n");
    read_parked(h, parked);
    assert_int_equal(fp.parks, 2);
    /* the never-parked one gets its comment on its next read */
    read_expect(h, idle, ": heartbeat\n\n");
    read_parked(h, idle);

    /* two heartbeats in a row still give one comment */
    sse_hub_heartbeat(h);
    sse_hub_heartbeat(h);
    assert_int_equal(fp.wakes, 2); /* the second found it already awake */
    read_expect(h, parked, ": heartbeat\n\n");
    read_parked(h, parked);

    /* a subscriber with pending data gets the data, not the comment */
    read_expect(h, pending, ": heartbeat\n\n"); /* catch up on the earlier ones */
    read_parked(h, pending);
    assert_int_equal(fd.wakes, 0);
    publish_str(h, "data: p\n\n");
    assert_int_equal(fd.wakes, 1);
    sse_hub_heartbeat(h);
    assert_int_equal(fd.wakes, 1); /* already awake */
    read_expect(h, pending, "data: p\n\n");
    read_parked(h, pending);

    /* catch everyone up: parked and idle saw the "p" heartbeat with the
     * event, so it counted as their activity */
    read_expect(h, parked, "data: p\n\n");
    read_parked(h, parked);
    read_expect(h, idle, "data: p\n\n");
    read_parked(h, idle);

    /* a stream that carried an event since the last heartbeat is not idle:
     * the next heartbeat wakes it but sends nothing; the one after does */
    publish_str(h, "data: q\n\n");
    read_expect(h, idle, "data: q\n\n");
    read_parked(h, idle);
    int wakes = fi.wakes;
    sse_hub_heartbeat(h);
    assert_int_equal(fi.wakes, wakes + 1);
    read_parked(h, idle);
    sse_hub_heartbeat(h);
    assert_int_equal(fi.wakes, wakes + 2);
    read_expect(h, idle, ": heartbeat\n\n");
    read_parked(h, idle);
    read_expect(h, parked, "data: q\n\n");
    read_parked(h, parked);
    read_expect(h, pending, "data: q\n\n");
    read_parked(h, pending);

    /* a read buffer too small for the comment gets nothing, not a piece */
    sse_hub_heartbeat(h);
    char small[4];
    assert_int_equal(sse_hub_read(h, parked, small, sizeof small), SSE_HUB_PARKED);

    assert_int_equal(fp.violations + fd.violations + fi.violations, 0);
    sse_hub_unsubscribe(h, parked);
    sse_hub_unsubscribe(h, pending);
    sse_hub_unsubscribe(h, idle);
    sse_hub_free(h);
}

static void test_heartbeat_with_greeting_pending(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, ": hello\n\n");
    sse_hub_heartbeat(h);
    read_expect(h, s, ": hello\n\n"); /* the greeting proves liveness */
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* Slices: subscribers are dealt round-robin into them, a slice's tick
 * concerns only its own, and a full round of ticks reaches everyone exactly
 * once, also after a subscriber in the middle of a slice has gone. */
static void test_heartbeat_slices(void **state)
{
    (void)state;
    enum { N = 7, SLICES = 3 };
    struct sse_hub *h = sse_hub_new(4, 10);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, 0), -1);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, SSE_HUB_HB_SLICES_MAX + 1), -1);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, SLICES), 0);
    struct fake f[N];
    struct sse_sub *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = sub(h, &f[i], NULL);
        read_parked(h, s[i]);
    }
    /* only while nobody is subscribed */
    assert_int_equal(sse_hub_set_heartbeat_slices(h, 2), -1);
    sse_hub_unsubscribe(h, s[3]); /* slice 0: 0, 3, 6 -> 0, 6 */
    s[3] = NULL;
    int sent = 0;
    for (unsigned slice = 0; slice < SLICES; slice++) {
        sse_hub_heartbeat_slice(h, slice);
        for (int i = 0; i < N; i++) {
            if (s[i] == NULL)
                continue;
            int mine = (unsigned)i % SLICES == slice;
            assert_int_equal(f[i].wakes, mine ? 1 : 0);
            if (mine) { /* only a woken one is read, as a writer would */
                read_expect(h, s[i], ": heartbeat\n\n");
                read_parked(h, s[i]);
                f[i].wakes = 0; /* counted: leave only the next slice's */
                sent++;
            }
        }
    }
    assert_int_equal(sent, N - 1);
    assert_int_equal(stats(h).heartbeats, N - 1);
    /* a slice out of range concerns nobody; the whole-hub heartbeat, all */
    sse_hub_heartbeat_slice(h, SLICES);
    for (int i = 0; i < N; i++)
        if (s[i])
            assert_int_equal(f[i].wakes, 0);
    sse_hub_heartbeat(h);
    for (int i = 0; i < N; i++) {
        if (s[i] == NULL)
            continue;
        assert_int_equal(f[i].wakes, 1);
        read_expect(h, s[i], ": heartbeat\n\n");
        read_parked(h, s[i]);
        assert_int_equal(f[i].violations, 0);
        sse_hub_unsubscribe(h, s[i]);
    }
    sse_hub_free(h);
}

/* ---- close ---- */

static void test_close(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake fp, fa;
    struct sse_sub *parked = sub(h, &fp, NULL);
    struct sse_sub *active = sub(h, &fa, "greet"); /* pending greeting, not parked */
    read_parked(h, parked);
    sse_hub_close(h);
    assert_int_equal(fp.wakes, 1);
    assert_int_equal(fa.wakes, 0);
    char buf[64];
    assert_int_equal(sse_hub_read(h, parked, buf, sizeof buf), SSE_HUB_EOF);
    assert_int_equal(sse_hub_read(h, parked, buf, sizeof buf), SSE_HUB_EOF); /* stays EOF */
    assert_int_equal(sse_hub_read(h, active, buf, sizeof buf), SSE_HUB_EOF);
    assert_int_equal(fp.parks, 1); /* EOF does not park */
    assert_int_equal(fa.parks, 0);
    /* later subscribes fail, and are not counted as "full" */
    struct fake fl;
    assert_null(sub(h, &fl, NULL));
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.rejected_full, 0);
    assert_int_equal(st.subscribers, 2);
    /* publish and heartbeat after close are harmless */
    publish_str(h, "data: late\n\n");
    sse_hub_heartbeat(h);
    assert_int_equal(sse_hub_read(h, active, buf, sizeof buf), SSE_HUB_EOF);
    assert_int_equal(fp.violations + fa.violations, 0);
    sse_hub_close(h); /* twice is harmless */
    sse_hub_unsubscribe(h, parked);
    sse_hub_unsubscribe(h, active);
    assert_int_equal(stats(h).subscribers, 0);
    sse_hub_free(h);
}

/* ---- kick (client hung up) ---- */

static void test_kick(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake fp, fa, fo;
    struct sse_sub *parked = sub(h, &fp, NULL);
    struct sse_sub *awake = sub(h, &fa, "greet");
    struct sse_sub *other = sub(h, &fo, NULL);
    read_parked(h, parked);
    read_parked(h, other);
    sse_hub_kick(h, parked);
    assert_int_equal(fp.wakes, 1); /* parked: woken so the read happens now */
    assert_int_equal(fo.wakes, 0); /* nobody else */
    sse_hub_kick(h, awake);
    assert_int_equal(fa.wakes, 0); /* not parked: no wake */
    char buf[64];
    assert_int_equal(sse_hub_read(h, parked, buf, sizeof buf), SSE_HUB_GONE);
    assert_int_equal(sse_hub_read(h, parked, buf, sizeof buf), SSE_HUB_GONE);
    assert_int_equal(sse_hub_read(h, awake, buf, sizeof buf), SSE_HUB_GONE);
    /* counted once per subscriber, however often kicked */
    sse_hub_kick(h, parked);
    assert_int_equal(stats(h).hangups, 2);
    /* the others are unaffected */
    publish_str(h, "data: k\n\n");
    assert_int_equal(fo.wakes, 1);
    read_expect(h, other, "data: k\n\n");
    assert_int_equal(fp.parks, 1); /* GONE never parks */
    assert_int_equal(fp.violations + fa.violations + fo.violations, 0);
    sse_hub_unsubscribe(h, parked);
    sse_hub_unsubscribe(h, awake);
    assert_int_equal(stats(h).subscribers, 1);
    assert_int_equal(stats(h).hangups, 2);
    /* close wins over kick */
    sse_hub_kick(h, other);
    sse_hub_close(h);
    ssize_t r = sse_hub_read(h, other, buf, sizeof buf);
    assert_true(r == SSE_HUB_EOF || r == SSE_HUB_GONE);
    sse_hub_unsubscribe(h, other);
    sse_hub_free(h);
}

/* ---- events with meta: ids, pairs, times ---- */

/* The frame text for an event: unique per id, so order is checkable. */
static size_t ev_text(char *buf, size_t cap, uint64_t id, const char *base, const char *quote)
{
    int n = snprintf(buf, cap, "id: %llu\ndata: %s/%s\n\n", (unsigned long long)id,
                     base ? base : "-", quote ? quote : "-");
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Publish an event with meta; base NULL publishes with NULL meta. */
static void publish_ev(struct sse_hub *h, uint64_t id, const char *base, const char *quote,
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
static void publish_ids(struct sse_hub *h, uint64_t from, uint64_t to, uint64_t step)
{
    for (uint64_t id = from; id <= to; id += step)
        publish_ev(h, id, "BTC", "USD", 0);
}

/* The concatenated frames of ids from..to (step), BTC/USD. */
static void want_ids(char *buf, size_t cap, uint64_t from, uint64_t to, uint64_t step)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint64_t id = from; id <= to; id += step)
        n += ev_text(buf + n, cap - n, id, "BTC", "USD");
}

/* Subscribe with p, parked and woken through f (reset). */
static struct sse_sub *sub_params(struct sse_hub *h, struct fake *f, struct sse_sub_params p,
                                  struct sse_resume *r)
{
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
static struct sse_sub *sub_with(struct sse_hub *h, struct fake *f, int resume, int valid,
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

#define expect_resume(r, k, a, o, n, b) expect_resume_at(r, k, a, o, n, b, __LINE__)
static void expect_resume_at(const struct sse_resume *r, enum sse_resume_kind kind, uint64_t after,
                             uint64_t oldest, uint64_t newest, size_t backlog, int line)
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

/* ---- resume ---- */

static void test_resume_exact_id(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 50, 10, 100, 5);
    char want[1024];
    want_ids(want, sizeof want, 60, 100, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    /* then live, no gap and no repeat */
    publish_ev(h, 110, "BTC", "USD", 0);
    want_ids(want, sizeof want, 110, 110, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.replays, 1);
    assert_int_equal(st.resets, 0);
    assert_int_equal(st.delivered, 6);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* A burst published as one batch: every parked subscriber is woken once
 * and reads the whole burst in one read; order and ids as published one
 * by one. */
static void test_publish_batch(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(8, 10);
    struct fake f1, f2;
    struct sse_sub *a = sub(h, &f1, NULL), *b = sub(h, &f2, NULL);
    read_parked(h, a);
    read_parked(h, b);
    struct sse_event_meta m[3];
    struct sse_hub_event ev[3];
    char text[128];
    for (int i = 0; i < 3; i++) {
        size_t n = ev_text(text, sizeof text, (uint64_t)(10 + i), "BTC", "USD");
        ev[i] = (struct sse_hub_event){.frame = malloc(n), .len = n, .meta = &m[i]};
        assert_non_null(ev[i].frame);
        memcpy(ev[i].frame, text, n);
        m[i] = (struct sse_event_meta){.id = (uint64_t)(10 + i)};
        snprintf(m[i].base, sizeof m[i].base, "BTC");
        snprintf(m[i].quote, sizeof m[i].quote, "USD");
    }
    sse_hub_publish_batch(h, ev, 3);
    assert_int_equal(f1.wakes, 1);
    assert_int_equal(f2.wakes, 1);
    char want[512];
    want_ids(want, sizeof want, 10, 12, 1);
    read_expect(h, a, want); /* the whole burst in one read */
    read_expect(h, b, want);
    read_parked(h, a);
    sse_hub_publish_batch(h, ev, 0); /* nothing: no wake */
    assert_int_equal(f1.wakes, 1);
    assert_int_equal(stats(h).published, 3);
    assert_int_equal(sse_hub_newest_id(h), 12);
    assert_int_equal(f1.violations + f2.violations, 0);
    sse_hub_unsubscribe(h, a);
    sse_hub_unsubscribe(h, b);
    sse_hub_free(h);
}

/* sse_hub_has_id: exactly the ids the ring still holds. */
static void test_has_id(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    assert_false(sse_hub_has_id(h, 10));
    publish_ids(h, 10, 60, 10); /* 10..60: the ring keeps 30..60 */
    assert_true(sse_hub_has_id(h, 30));
    assert_true(sse_hub_has_id(h, 60));
    assert_false(sse_hub_has_id(h, 20)); /* lapped */
    assert_false(sse_hub_has_id(h, 35));
    assert_false(sse_hub_has_id(h, 70));
    assert_false(sse_hub_has_id(h, 0));
    sse_hub_free(h);
}

/* A gap (events lost that the history stream could not fill): resumes
 * from before it get a reset, open streams are ended, and resumes from
 * after it replay as usual. */
static void test_gap(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 50, 10);
    struct fake fo, fr;
    struct sse_resume r;
    struct sse_sub *open = sub(h, &fo, NULL);
    read_parked(h, open);
    assert_int_equal(sse_hub_newest_id(h), 50);
    sse_hub_mark_gap(h);
    assert_int_equal(fo.wakes, 1); /* woken to read its end */
    char buf[64];
    assert_int_equal(sse_hub_read(h, open, buf, sizeof buf), SSE_HUB_GONE);
    /* Nothing after the gap yet: no resume can be vouched for. */
    struct sse_sub *s = sub_with(h, &fr, 1, 1, 50, NULL, 0, &r);
    assert_int_equal(r.kind, SSE_RESUME_RESET);
    sse_hub_unsubscribe(h, s);
    publish_ids(h, 100, 130, 10);
    /* From before the gap (even its last event): reset. */
    s = sub_with(h, &fr, 1, 1, 50, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 130, 100, 130, 0);
    sse_hub_unsubscribe(h, s);
    s = sub_with(h, &fr, 1, 1, 20, NULL, 0, &r);
    assert_int_equal(r.kind, SSE_RESUME_RESET);
    sse_hub_unsubscribe(h, s);
    /* From after it: replay. */
    s = sub_with(h, &fr, 1, 1, 110, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 110, 100, 130, 2);
    char want[256];
    want_ids(want, sizeof want, 120, 130, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.gap_cuts, 1);
    assert_int_equal(fo.violations + fr.violations, 0);
    sse_hub_unsubscribe(h, open);
    sse_hub_free(h);
}

static void test_resume_small_reads(void **state)
{
    (void)state;
    /* the replay is the same byte stream however it is read */
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, NULL, 0, &r);
    char want[1024], got[1024];
    want_ids(want, sizeof want, 60, 100, 10);
    size_t gl = 0;
    for (;;) {
        char buf[5];
        ssize_t n = sse_hub_read(h, s, buf, sizeof buf);
        if (n == SSE_HUB_PARKED)
            break;
        assert_true(n > 0 && gl + (size_t)n < sizeof got);
        memcpy(got + gl, buf, (size_t)n);
        gl += (size_t)n;
    }
    assert_int_equal(gl, strlen(want));
    assert_memory_equal(got, want, gl);
    assert_int_equal(stats(h).delivered, 5);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_resume_between_ids(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    /* 55 was never an id, but it lies inside what is kept: everything after
     * it is here, so the replay is gapless */
    struct sse_sub *s = sub_with(h, &f, 1, 1, 55, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 55, 10, 100, 5);
    char want[1024];
    want_ids(want, sizeof want, 60, 100, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* the oldest id itself: everything after it */
    s = sub_with(h, &f, 1, 1, 10, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 10, 10, 100, 9);
    want_ids(want, sizeof want, 20, 100, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* just below the newest */
    s = sub_with(h, &f, 1, 1, 99, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 99, 10, 100, 1);
    want_ids(want, sizeof want, 100, 100, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    assert_int_equal(stats(h).replays, 3);
    assert_int_equal(stats(h).resets, 0);
    sse_hub_free(h);
}

static void test_resume_at_newest(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 100, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 100, 10, 100, 0);
    read_parked(h, s);
    publish_ev(h, 110, "BTC", "USD", 0);
    assert_int_equal(f.wakes, 1);
    char want[256];
    want_ids(want, sizeof want, 110, 110, 10);
    read_expect(h, s, want);
    assert_int_equal(stats(h).replays, 1);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_resume_ahead_of_newest(void **state)
{
    (void)state;
    /* The client comes from a replica a little ahead of this one: it has
     * everything up to 150, this replica only up to 100. */
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 150, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 150, 10, 100, 0);
    read_parked(h, s);
    /* 110..150 arrive late here: the client already has them */
    publish_ev(h, 120, "BTC", "USD", 0);
    publish_ev(h, 150, "BTC", "USD", 0);
    read_parked(h, s);
    publish_ev(h, 160, "BTC", "USD", 0);
    char want[256];
    want_ids(want, sizeof want, 160, 160, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    /* a live subscriber gets all three */
    assert_int_equal(stats(h).delivered, 1);
    assert_int_equal(stats(h).replays, 1);
    assert_int_equal(stats(h).resets, 0);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_resume_too_old(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 5, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 100, 10, 100, 0);
    read_parked(h, s); /* nothing replayed */
    publish_ev(h, 110, "BTC", "USD", 0);
    char want[256];
    want_ids(want, sizeof want, 110, 110, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* 0 (a valid id, below every real one) is too old as well */
    s = sub_with(h, &f, 1, 1, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 110, 10, 110, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.resets, 2);
    assert_int_equal(st.replays, 0);
    sse_hub_free(h);
}

static void test_resume_after_wrap(void **state)
{
    (void)state;
    /* 40 events into a ring of 16: 250..400 are kept */
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 400, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 400, 250, 400, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* the last id overwritten */
    s = sub_with(h, &f, 1, 1, 240, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 400, 250, 400, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* the oldest kept: a gapless replay of the other 15 */
    s = sub_with(h, &f, 1, 1, 250, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 250, 250, 400, 15);
    char want[2048];
    want_ids(want, sizeof want, 260, 400, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* in the middle of the wrapped ring */
    s = sub_with(h, &f, 1, 1, 333, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 333, 250, 400, 7);
    want_ids(want, sizeof want, 340, 400, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.resets, 2);
    assert_int_equal(st.replays, 2);
    sse_hub_free(h);
}

static void test_resume_replay_then_lag(void **state)
{
    (void)state;
    /* A replay from the oldest kept frame that does not read before the
     * ring moves on has lost a frame: it must be cut off, not skip it. */
    struct sse_hub *h = sse_hub_new(4, 10);
    publish_ids(h, 10, 40, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 10, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 10, 10, 40, 3);
    publish_ev(h, 50, "BTC", "USD", 0); /* overwrites 10: 20 still kept */
    char want[512];
    want_ids(want, sizeof want, 20, 50, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    s = sub_with(h, &f, 1, 1, 20, NULL, 0, &r); /* ring 20..50, replay 30..50 */
    expect_resume(&r, SSE_RESUME_REPLAY, 20, 20, 50, 3);
    publish_ev(h, 60, "BTC", "USD", 0); /* overwrites 20 */
    publish_ev(h, 70, "BTC", "USD", 0); /* overwrites 30, unread */
    char buf[512];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), SSE_HUB_LAGGED);
    assert_int_equal(stats(h).lagged, 1);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_resume_invalid_and_empty(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    /* empty ring: nothing can be vouched for */
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 0, 0, 0, 0);
    read_parked(h, s);
    publish_ev(h, 60, "BTC", "USD", 0);
    char want[256];
    want_ids(want, sizeof want, 60, 60, 10);
    read_expect(h, s, want); /* live from now on */
    sse_hub_unsubscribe(h, s);
    publish_ids(h, 70, 100, 10);
    /* Last-Event-ID present but not a decimal id */
    s = sub_with(h, &f, 1, 0, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 100, 60, 100, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* invalid wins even if last_id happens to hold a replayable value */
    s = sub_with(h, &f, 1, 0, 80, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_RESET, 100, 60, 100, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* no Last-Event-ID at all: live, and last_id is ignored */
    s = sub_with(h, &f, 0, 1, 80, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 100, 60, 100, 0);
    read_parked(h, s);
    publish_ev(h, 110, "BTC", "USD", 0);
    want_ids(want, sizeof want, 110, 110, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.resets, 3);
    assert_int_equal(st.replays, 0);
    sse_hub_free(h);
}

static void test_live_on_empty_hub(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 0, 0, 0, 0);
    sse_hub_unsubscribe(h, s);
    /* frames without meta have no id */
    publish_str(h, "data: noid\n\n");
    s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 0, 0, 0, 0);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.resets + st.replays, 0);
    sse_hub_free(h);
}

static void test_resume_stats_counted_exactly(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 3);
    publish_ids(h, 10, 100, 10);
    struct fake f[3], g;
    struct sse_resume r;
    struct sse_sub *a = sub_with(h, &f[0], 1, 1, 50, NULL, 0, &r); /* replay */
    struct sse_sub *b = sub_with(h, &f[1], 1, 1, 1, NULL, 0, &r);  /* reset */
    struct sse_sub *c = sub_with(h, &f[2], 0, 0, 0, NULL, 0, &r);  /* live: neither */
    /* refused for the limit: not counted as a replay or a reset */
    memset(&g, 0, sizeof g);
    struct sse_sub_params p = {.resume = 1,
                               .resume_valid = 1,
                               .last_id = 50,
                               .park = fake_park,
                               .wake = fake_wake,
                               .ctx = &g};
    assert_null(sse_hub_subscribe(h, &p, &r));
    p.last_id = 1;
    assert_null(sse_hub_subscribe(h, &p, &r));
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.replays, 1);
    assert_int_equal(st.resets, 1);
    assert_int_equal(st.rejected_full, 2);
    sse_hub_unsubscribe(h, a);
    sse_hub_unsubscribe(h, b);
    sse_hub_unsubscribe(h, c);
    /* refused after close: not counted either */
    sse_hub_close(h);
    assert_null(sse_hub_subscribe(h, &p, &r));
    st = stats(h);
    assert_int_equal(st.replays, 1);
    assert_int_equal(st.resets, 1);
    sse_hub_free(h);
}

static void test_greeting_before_replay(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 80, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 80, 10, 100, 2);
    assert_int_equal(sse_hub_set_greeting(s, ": hi\nretry: 1000\n\n", 18), 0);
    char want[512];
    size_t n = (size_t)snprintf(want, sizeof want, ": hi\nretry: 1000\n\n");
    want_ids(want + n, sizeof want - n, 90, 100, 10);
    read_expect(h, s, want);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* a reset greeting comes first too, and nothing old follows it */
    s = sub_with(h, &f, 1, 1, 2, NULL, 0, &r);
    assert_int_equal(r.kind, SSE_RESUME_RESET);
    assert_int_equal(sse_hub_set_greeting(s, "event: reset\ndata: {}\n\n", 23), 0);
    publish_ev(h, 110, "BTC", "USD", 0);
    n = (size_t)snprintf(want, sizeof want, "event: reset\ndata: {}\n\n");
    want_ids(want + n, sizeof want - n, 110, 110, 10);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_set_greeting_limit(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    char big[1024];
    memset(big, 'x', sizeof big);
    assert_int_equal(sse_hub_set_greeting(s, big, 513), -1);
    assert_int_equal(sse_hub_set_greeting(s, big, sizeof big), -1);
    read_parked(h, s); /* a refused greeting sends nothing */
    sse_hub_unsubscribe(h, s);
    s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    assert_int_equal(sse_hub_set_greeting(s, big, 512), 0);
    char buf[1024];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), 512);
    assert_memory_equal(buf, big, 512);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* an empty greeting is no greeting */
    s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    assert_int_equal(sse_hub_set_greeting(s, "", 0), 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* ---- pair filter ---- */

static const struct rc_pair btc_usd[] = {{"BTC", "USD"}};
static const struct rc_pair btc_eth[] = {{"BTC", "USD"}, {"ETH", "EUR"}};

static void test_filter_one_pair(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f, fa;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, &r);
    struct sse_sub *all = sub_with(h, &fa, 0, 0, 0, NULL, 0, &r);
    publish_ev(h, 1, "BTC", "USD", 0);
    publish_ev(h, 2, "ETH", "USD", 0);
    publish_ev(h, 3, "BTC", "EUR", 0);
    publish_ev(h, 4, NULL, NULL, 0);   /* NULL meta: no pair */
    publish_ev(h, 5, "USD", "BTC", 0); /* reversed */
    publish_ev(h, 6, "BTCUSD", "", 0); /* half a pair is no pair */
    publish_ev(h, 7, "BT", "CUSD", 0); /* same letters, other split */
    publish_ev(h, 8, "BTC", "USD", 0);
    char want[1024], one[128];
    size_t n = ev_text(want, sizeof want, 1, "BTC", "USD");
    ev_text(want + n, sizeof want - n, 8, "BTC", "USD");
    read_expect(h, s, want);
    read_parked(h, s);
    /* the unfiltered subscriber gets all eight */
    char buf[2048];
    ssize_t got = sse_hub_read(h, all, buf, sizeof buf);
    assert_true(got > 0);
    buf[got] = '\0';
    ev_text(one, sizeof one, 4, NULL, NULL);
    assert_non_null(strstr(buf, one));
    ev_text(one, sizeof one, 6, "BTCUSD", "");
    assert_non_null(strstr(buf, one));
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.delivered, 2 + 8);
    assert_int_equal(st.published, 8);
    sse_hub_unsubscribe(h, s);
    sse_hub_unsubscribe(h, all);
    sse_hub_free(h);
}

static void test_filter_two_pairs(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_eth, 2, &r);
    publish_ev(h, 1, "ETH", "EUR", 0);
    publish_ev(h, 2, "ETH", "USD", 0);
    publish_ev(h, 3, "BTC", "USD", 0);
    publish_ev(h, 4, "BTC", "EUR", 0);
    publish_ev(h, 5, "ETH", "EUR", 0);
    char want[1024];
    size_t n = ev_text(want, sizeof want, 1, "ETH", "EUR");
    n += ev_text(want + n, sizeof want - n, 3, "BTC", "USD");
    ev_text(want + n, sizeof want - n, 5, "ETH", "EUR");
    read_expect(h, s, want);
    read_parked(h, s);
    assert_int_equal(stats(h).delivered, 3);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_copied(void **state)
{
    (void)state;
    /* the filter is copied: the caller's array may change or go away */
    struct sse_hub *h = sse_hub_new(16, 10);
    struct rc_pair mine[1] = {{"BTC", "USD"}};
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, mine, 1, &r);
    memset(mine, 0, sizeof mine);
    snprintf(mine[0].base, sizeof mine[0].base, "ETH");
    publish_ev(h, 1, "ETH", "USD", 0);
    publish_ev(h, 2, "BTC", "USD", 0);
    char want[128];
    ev_text(want, sizeof want, 2, "BTC", "USD");
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_npairs_zero_is_everything(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 0, &r);
    publish_ev(h, 1, "ETH", "USD", 0);
    publish_ev(h, 2, NULL, NULL, 0);
    char want[256];
    size_t n = ev_text(want, sizeof want, 1, "ETH", "USD");
    ev_text(want + n, sizeof want - n, 2, NULL, NULL);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_parked_woken_by_others(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, &r);
    read_parked(h, s);
    assert_int_equal(f.parks, 1);
    for (int i = 1; i <= 5; i++) {
        /* a non-matching publish wakes it (the hub does not filter at
         * wake time); the read finds nothing and parks again */
        publish_ev(h, (uint64_t)i, "ETH", "USD", 0);
        assert_int_equal(f.wakes, i);
        assert_int_equal(f.parked, 0);
        read_parked(h, s);
        assert_int_equal(f.parks, i + 1);
        assert_int_equal(f.parked, 1);
    }
    /* two non-matching publishes in a row: one wake */
    publish_ev(h, 6, "ETH", "USD", 0);
    publish_ev(h, 7, "ETH", "USD", 0);
    assert_int_equal(f.wakes, 6);
    read_parked(h, s);
    publish_ev(h, 8, "BTC", "USD", 0);
    assert_int_equal(f.wakes, 7);
    char want[128];
    ev_text(want, sizeof want, 8, "BTC", "USD");
    read_expect(h, s, want);
    read_parked(h, s);
    assert_int_equal(f.violations, 0);
    assert_int_equal(f.parks - f.wakes, 1);
    assert_int_equal(stats(h).delivered, 1);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_skipping_does_not_lag(void **state)
{
    (void)state;
    /* Many more non-matching frames than the ring holds: a filtered
     * subscriber that reads whenever woken skips them and is never cut off. */
    struct sse_hub *h = sse_hub_new(4, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, &r);
    read_parked(h, s);
    uint64_t id = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 3; i++) /* fewer than the ring between reads */
            publish_ev(h, ++id, "ETH", "USD", 0);
        read_parked(h, s);
    }
    publish_ev(h, ++id, "BTC", "USD", 0);
    char want[128];
    ev_text(want, sizeof want, id, "BTC", "USD");
    read_expect(h, s, want);
    /* exactly a ring's worth of skipped frames before the read is fine */
    for (int i = 0; i < 4; i++)
        publish_ev(h, ++id, "ETH", "USD", 0);
    read_parked(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_with_replay(void **state)
{
    (void)state;
    /* the replay is filtered too; backlog counts before filtering */
    struct sse_hub *h = sse_hub_new(16, 10);
    for (uint64_t id = 10; id <= 100; id += 10)
        publish_ev(h, id, id % 20 ? "ETH" : "BTC", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, btc_usd, 1, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 50, 10, 100, 5);
    char want[512];
    size_t n = ev_text(want, sizeof want, 60, "BTC", "USD");
    n += ev_text(want + n, sizeof want - n, 80, "BTC", "USD");
    ev_text(want + n, sizeof want - n, 100, "BTC", "USD");
    read_expect(h, s, want);
    read_parked(h, s);
    assert_int_equal(stats(h).delivered, 3);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_filter_heartbeat(void **state)
{
    (void)state;
    /* skipped frames are not activity: an idle filtered stream still gets
     * its heartbeat */
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, &r);
    read_parked(h, s);
    publish_ev(h, 1, "ETH", "USD", 0);
    read_parked(h, s);
    sse_hub_heartbeat(h);
    read_expect(h, s, ": heartbeat\n\n");
    read_parked(h, s);
    assert_int_equal(f.violations, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* ---- deliveries and the delay histogram ---- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The bucket a delay of d_ms falls in: the first bound >= d_ms. */
static size_t bucket_for_ms(int64_t d_ms)
{
    size_t b = 0;
    while (b < SSE_DELAY_BUCKETS && sse_delay_bounds_ms[b] < d_ms)
        b++;
    return b;
}

static uint64_t delay_total(const struct sse_hub_stats *st)
{
    uint64_t n = 0;
    for (size_t b = 0; b <= SSE_DELAY_BUCKETS; b++)
        n += st->delay.count[b];
    return n;
}

static void test_delay_bounds(void **state)
{
    (void)state;
    /* strictly increasing, so "the first bound >= d" is well defined */
    for (size_t b = 1; b < SSE_DELAY_BUCKETS; b++)
        assert_true(sse_delay_bounds_ms[b] > sse_delay_bounds_ms[b - 1]);
    assert_true(sse_delay_bounds_ms[0] > 0);
    assert_int_equal(bucket_for_ms(30), 4); /* {1,5,10,25,50,...}: the 50 ms bucket */
    assert_int_equal(sse_delay_bounds_ms[4], 50);
}

static void test_delivered_counts(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake fa, fb;
    struct sse_resume r;
    struct sse_sub *a = sub_with(h, &fa, 0, 0, 0, NULL, 0, &r);
    struct sse_sub *b = sub_with(h, &fb, 0, 0, 0, NULL, 0, &r);
    assert_int_equal(sse_hub_set_greeting(a, ": hi\n\n", 6), 0);
    publish_ev(h, 1, "BTC", "USD", 0);
    publish_ev(h, 2, NULL, NULL, 0);
    /* a partly read frame is not delivered yet; the greeting is not an
     * event */
    char buf[8];
    assert_int_equal(sse_hub_read(h, a, buf, 8), 8);
    assert_int_equal(stats(h).delivered, 0);
    char big[512];
    ssize_t n = sse_hub_read(h, a, big, sizeof big);
    assert_true(n > 0);
    assert_int_equal(stats(h).delivered, 2);
    read_parked(h, a);
    /* one per frame per subscriber */
    n = sse_hub_read(h, b, big, sizeof big);
    assert_true(n > 0);
    assert_int_equal(stats(h).delivered, 4);
    /* heartbeats are not deliveries (the first one finds b busy: no
     * comment; the second sends one) */
    read_parked(h, b);
    sse_hub_heartbeat(h);
    read_parked(h, b);
    sse_hub_heartbeat(h);
    read_expect(h, b, ": heartbeat\n\n");
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.delivered, 4);
    assert_int_equal(st.published, 2);
    /* time_us 0: delivered but not in the histogram */
    assert_int_equal(delay_total(&st), 0);
    assert_true(st.delay.sum_s == 0.0);
    sse_hub_unsubscribe(h, a);
    sse_hub_unsubscribe(h, b);
    sse_hub_free(h);
}

static void test_delay_histogram(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    /* Each delay measured is the age given to the stamp plus the window
     * from stamping to the end of the read, which a loaded machine can
     * stretch: every window is timed, and the bounds allow what it took
     * (slack: their sum, for the cumulative delay.sum_s). 1 ms more for
     * rounding to microseconds. */
    /* 30 ms old when published; read at once, so 30 ms plus a little */
    char buf[512];
    int64_t t0 = now_us();
    publish_ev(h, 1, "BTC", "USD", t0 - 30000);
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0);
    double slack = (double)(now_us() - t0) / 1e6;
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(delay_total(&st), 1);
    size_t want = bucket_for_ms(30);
    if (slack < 0.015) /* not on a machine so loaded that 30 ms became 50 */
        assert_int_equal(st.delay.count[want], 1);
    assert_true(st.delay.sum_s >= 0.030 && st.delay.sum_s <= 0.030 + slack + 0.001);

    /* unknown time: delivered, not timed */
    publish_ev(h, 2, "BTC", "USD", 0);
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0);
    st = stats(h);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(delay_total(&st), 1);

    /* a producer clock ahead of ours: no negative delay, first bucket */
    publish_ev(h, 3, "BTC", "USD", now_us() + 10 * 1000000);
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0);
    st = stats(h);
    assert_int_equal(delay_total(&st), 2);
    assert_int_equal(st.delay.count[0], 1);
    assert_true(st.delay.sum_s >= 0.030 && st.delay.sum_s <= 0.030 + slack + 0.001);

    /* very old: the overflow bucket past the last bound */
    t0 = now_us();
    publish_ev(h, 4, "BTC", "USD", t0 - (sse_delay_bounds_ms[SSE_DELAY_BUCKETS - 1] + 5000) * 1000);
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0);
    slack += (double)(now_us() - t0) / 1e6;
    st = stats(h);
    assert_int_equal(delay_total(&st), 3);
    assert_int_equal(st.delay.count[SSE_DELAY_BUCKETS], 1);
    double want_sum = 0.030 + (double)(sse_delay_bounds_ms[SSE_DELAY_BUCKETS - 1] + 5000) / 1000;
    assert_true(st.delay.sum_s >= want_sum - 0.001 && st.delay.sum_s <= want_sum + slack + 0.002);

    /* one sample per subscriber that reads the frame */
    struct fake g;
    struct sse_sub *t = sub_with(h, &g, 0, 0, 0, NULL, 0, &r);
    t0 = now_us();
    publish_ev(h, 5, "BTC", "USD", t0 - 200000); /* 200 ms: the 250 ms bucket */
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0);
    assert_true(sse_hub_read(h, t, buf, sizeof buf) > 0);
    double win = (double)(now_us() - t0) / 1e6;
    st = stats(h);
    assert_int_equal(st.delivered, 6);
    assert_int_equal(delay_total(&st), 5);
    if (win < 0.045) { /* 200 ms stayed under the 250 ms bound */
        assert_int_equal(st.delay.count[bucket_for_ms(200)], 2);
    } else { /* both at 250 ms or above, beside the very old one */
        uint64_t above = 0;
        for (size_t k = bucket_for_ms(200); k <= SSE_DELAY_BUCKETS; k++)
            above += st.delay.count[k];
        assert_int_equal(above, 3);
    }
    sse_hub_unsubscribe(h, t);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_resume_with_idless_frames(void **state)
{
    (void)state;
    /* Frames without an id (NULL meta) must not break the replay search:
     * they take the previous id as their search key. */
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ev(h, 10, "BTC", "USD", 0);
    publish_ev(h, 20, "BTC", "USD", 0);
    publish_ev(h, 30, NULL, NULL, 0); /* no meta: no id */
    publish_ev(h, 40, "BTC", "USD", 0);
    publish_ev(h, 50, "BTC", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 15, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 15, 10, 50, 4);
    char want[1024];
    size_t n = ev_text(want, sizeof want, 20, "BTC", "USD");
    n += ev_text(want + n, sizeof want - n, 30, NULL, NULL);
    n += ev_text(want + n, sizeof want - n, 40, "BTC", "USD");
    ev_text(want + n, sizeof want - n, 50, "BTC", "USD");
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* ---- threads: filters under concurrency ---- */

#define FSTRESS_FRAMES 6000 /* a third each of BTC/USD, ETH/EUR, no meta */

struct freader {
    struct sse_hub *hub;
    struct sse_sub *sub;
    pthread_mutex_t m;
    pthread_cond_t c;
    int woken;
    long want_frames;
    char *stream;
    size_t len, cap;
    int error;
    long parks, wakes, wake_unparked;
    int parked;
};

static void fr_park(void *ctx)
{
    struct freader *r = ctx;
    pthread_mutex_lock(&r->m);
    r->woken = 0;
    r->parks++;
    r->parked = 1;
    pthread_mutex_unlock(&r->m);
}

static void fr_wake(void *ctx)
{
    struct freader *r = ctx;
    pthread_mutex_lock(&r->m);
    if (!r->parked)
        r->wake_unparked++;
    r->parked = 0;
    r->woken = 1;
    r->wakes++;
    pthread_cond_signal(&r->c);
    pthread_mutex_unlock(&r->m);
}

static void *freader_main(void *arg)
{
    struct freader *r = arg;
    char buf[97];
    long blanks = 0;
    char prev = 0;
    while (blanks < r->want_frames) {
        ssize_t n = sse_hub_read(r->hub, r->sub, buf, sizeof buf);
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
        if (n < 0 || r->len + (size_t)n > r->cap) {
            r->error = n < 0 ? 3 : 5;
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
    return NULL;
}

static void *fpublisher_main(void *arg)
{
    struct sse_hub *h = arg;
    for (int i = 1; i <= FSTRESS_FRAMES; i++) {
        switch (i % 3) {
        case 0:
            publish_ev(h, (uint64_t)i, "BTC", "USD", 0);
            break;
        case 1:
            publish_ev(h, (uint64_t)i, "ETH", "EUR", 0);
            break;
        default:
            publish_ev(h, (uint64_t)i, NULL, NULL, 0);
            break;
        }
    }
    return NULL;
}

static void test_filter_threads(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(FSTRESS_FRAMES, 8);
    static const struct rc_pair *filters[2] = {btc_usd, btc_eth};
    static const size_t nfilters[2] = {1, 2};
    struct freader rd[2];
    pthread_t th[2], pt;
    for (int i = 0; i < 2; i++) {
        memset(&rd[i], 0, sizeof rd[i]);
        rd[i].hub = h;
        rd[i].want_frames = (FSTRESS_FRAMES / 3) * (long)nfilters[i];
        rd[i].cap = 64 * FSTRESS_FRAMES;
        rd[i].stream = malloc(rd[i].cap);
        assert_non_null(rd[i].stream);
        pthread_mutex_init(&rd[i].m, NULL);
        pthread_cond_init(&rd[i].c, NULL);
        struct sse_sub_params p = {.pairs = filters[i],
                                   .npairs = nfilters[i],
                                   .park = fr_park,
                                   .wake = fr_wake,
                                   .ctx = &rd[i]};
        struct sse_resume r;
        rd[i].sub = sse_hub_subscribe(h, &p, &r);
        assert_non_null(rd[i].sub);
        assert_int_equal(pthread_create(&th[i], NULL, freader_main, &rd[i]), 0);
    }
    assert_int_equal(pthread_create(&pt, NULL, fpublisher_main, h), 0);
    pthread_join(pt, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rd[i].error, 0);
        assert_int_equal(rd[i].wake_unparked, 0);
        assert_true(rd[i].parks - rd[i].wakes <= 1 && rd[i].parks >= rd[i].wakes);
        /* exactly the matching frames, in order */
        size_t pos = 0;
        for (int id = 1; id <= FSTRESS_FRAMES; id++) {
            if (id % 3 == 2 || (i == 0 && id % 3 == 1))
                continue;
            char want[128];
            size_t n = ev_text(want, sizeof want, (uint64_t)id, id % 3 ? "ETH" : "BTC",
                               id % 3 ? "EUR" : "USD");
            if (rd[i].len - pos < n || memcmp(rd[i].stream + pos, want, n) != 0) {
                print_error("reader %d: expected id %d at %zu, got '%.30s'\n", i, id, pos,
                            rd[i].stream + pos);
                fail();
            }
            pos += n;
        }
        assert_int_equal(pos, rd[i].len);
    }
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.delivered, FSTRESS_FRAMES / 3 * 3);
    assert_int_equal(st.lagged, 0);
    sse_hub_close(h);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rd[i].parks, rd[i].wakes);
        sse_hub_unsubscribe(h, rd[i].sub);
        pthread_mutex_destroy(&rd[i].m);
        pthread_cond_destroy(&rd[i].c);
        free(rd[i].stream);
    }
    sse_hub_free(h);
}

/* ---- threads ---- */

#define STRESS_FRAMES  10000
#define STRESS_READERS 4

struct reader {
    struct sse_hub *hub;
    struct sse_sub *sub;
    pthread_mutex_t m;
    pthread_cond_t c;
    int woken;
    size_t max; /* read size */
    /* results, checked by the main thread (cmocka asserts are not
     * thread-safe) */
    char *stream;
    size_t len, cap;
    int error; /* 0 ok; else a code */
    long parks, wakes;
};

static void cv_park(void *ctx)
{
    struct reader *r = ctx;
    pthread_mutex_lock(&r->m);
    r->woken = 0;
    r->parks++;
    pthread_mutex_unlock(&r->m);
}

static void cv_wake(void *ctx)
{
    struct reader *r = ctx;
    pthread_mutex_lock(&r->m);
    r->woken = 1;
    r->wakes++;
    pthread_cond_signal(&r->c);
    pthread_mutex_unlock(&r->m);
}

static const char stress_greeting[] = ": welcome\n\n";

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    char *buf = malloc(r->max);
    if (buf == NULL) {
        r->error = 1;
        return NULL;
    }
    /* greeting + STRESS_FRAMES frames, each ending in a blank line */
    long blanks = 0;
    char prev = 0;
    while (blanks < STRESS_FRAMES + 1) {
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
                r->error = 2; /* lost wake-up */
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

struct publisher {
    struct sse_hub *hub;
    int error;
};

static void *publisher_main(void *arg)
{
    struct publisher *p = arg;
    for (int i = 0; i < STRESS_FRAMES; i++) {
        char *f;
        int n = asprintf(&f, "id: %d\ndata: {\"seq\":%d}\n\n", i + 1, i);
        if (n < 0) {
            p->error = 1;
            return NULL;
        }
        struct sse_event_meta m = {.id = (uint64_t)i + 1};
        sse_hub_publish(p->hub, f, (size_t)n, &m);
        if (i % 1000 == 0)
            sse_hub_heartbeat(p->hub); /* mixed in: must never be delivered mid-frame */
    }
    return NULL;
}

/* Check a reader's stream: greeting, then frames 0..N-1 in order, with
 * heartbeats allowed only between frames. */
static void check_stream(const struct reader *r)
{
    const char *s = r->stream;
    size_t len = r->len;
    size_t gl = sizeof stress_greeting - 1;
    assert_true(len >= gl);
    assert_memory_equal(s, stress_greeting, gl);
    size_t pos = gl;
    int next = 0;
    static const char hb[] = ": heartbeat\n\n";
    while (pos < len) {
        if (len - pos >= sizeof hb - 1 && memcmp(s + pos, hb, sizeof hb - 1) == 0) {
            pos += sizeof hb - 1;
            continue;
        }
        char want[64];
        int n = snprintf(want, sizeof want, "id: %d\ndata: {\"seq\":%d}\n\n", next + 1, next);
        if (len - pos < (size_t)n || memcmp(s + pos, want, (size_t)n) != 0) {
            print_error("reader (max %zu): expected frame %d at byte %zu, got '%.40s'\n", r->max,
                        next, pos, s + pos);
            fail();
        }
        pos += (size_t)n;
        next++;
    }
    assert_int_equal(next, STRESS_FRAMES);
}

static void test_threads_stress(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16384, 64);
    assert_non_null(h);
    static const size_t sizes[STRESS_READERS] = {1, 7, 100, 65536};
    struct reader rd[STRESS_READERS];
    pthread_t th[STRESS_READERS], pt;
    for (int i = 0; i < STRESS_READERS; i++) {
        memset(&rd[i], 0, sizeof rd[i]);
        rd[i].hub = h;
        rd[i].max = sizes[i];
        rd[i].cap = 64 * (STRESS_FRAMES + 1000);
        rd[i].stream = malloc(rd[i].cap);
        assert_non_null(rd[i].stream);
        pthread_mutex_init(&rd[i].m, NULL);
        pthread_cond_init(&rd[i].c, NULL);
        rd[i].sub = subscribe_live(h, stress_greeting, sizeof stress_greeting - 1, cv_park, cv_wake,
                                   &rd[i]);
        assert_non_null(rd[i].sub);
    }
    for (int i = 0; i < STRESS_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
    struct publisher pub = {h, 0};
    assert_int_equal(pthread_create(&pt, NULL, publisher_main, &pub), 0);
    pthread_join(pt, NULL);
    for (int i = 0; i < STRESS_READERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(pub.error, 0);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.published, STRESS_FRAMES);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(st.subscribers, STRESS_READERS);
    for (int i = 0; i < STRESS_READERS; i++) {
        if (rd[i].error)
            print_error("reader %d (max %zu) error %d\n", i, rd[i].max, rd[i].error);
        assert_int_equal(rd[i].error, 0);
        check_stream(&rd[i]);
        /* every park was answered by exactly one wake, or is the last */
        assert_true(rd[i].wakes <= rd[i].parks);
        assert_true(rd[i].parks - rd[i].wakes <= 1);
    }
    /* close wakes any reader still parked */
    sse_hub_close(h);
    for (int i = 0; i < STRESS_READERS; i++) {
        assert_int_equal(rd[i].parks, rd[i].wakes);
        char b[8];
        assert_int_equal(sse_hub_read(h, rd[i].sub, b, sizeof b), SSE_HUB_EOF);
        sse_hub_unsubscribe(h, rd[i].sub);
        pthread_mutex_destroy(&rd[i].m);
        pthread_cond_destroy(&rd[i].c);
        free(rd[i].stream);
    }
    sse_hub_free(h);
}

/* ---- snapshot (the newest event of each pair) and ?since= ---- */

/* A hub keeping the newest frame of up to `pairs` pairs. */
static struct sse_hub *hub_latest(size_t history, size_t pairs)
{
    struct sse_hub *h = sse_hub_new(history, 10);
    assert_non_null(h);
    assert_int_equal(sse_hub_set_latest(h, pairs), 0);
    return h;
}

/* Subscribe without resuming, with a snapshot (snap) and/or since_us. */
static struct sse_sub *sub_snap(struct sse_hub *h, struct fake *f, int snap, int64_t since_us,
                                const struct rc_pair *pairs, size_t npairs, struct sse_resume *r)
{
    struct sse_sub_params p = {
        .pairs = pairs, .npairs = npairs, .snapshot = snap, .since_us = since_us};
    return sub_params(h, f, p, r);
}

/* Append the frame text of each (id, "BASE/QUOTE") in the list. */
static void want_evs(char *buf, size_t cap, const uint64_t *ids, const char *const *pairs, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char base[8], quote[8];
        assert_int_equal(sscanf(pairs[i], "%7[^/]/%7s", base, quote), 2);
        len += ev_text(buf + len, cap - len, ids[i], base, quote);
    }
}

static const struct rc_pair eth_xrp[] = {{"ETH", "USD"}, {"XRP", "USD"}};

static void test_snapshot_all_pairs_oldest_first(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_ev(h, 1, "BTC", "USD", 0);
    publish_ev(h, 2, "ETH", "USD", 0);
    publish_ev(h, 3, "BTC", "USD", 0);
    publish_ev(h, 4, "XRP", "USD", 0);
    publish_ev(h, 5, NULL, NULL, 0);   /* no pair: never in a snapshot */
    publish_ev(h, 6, "BTCUSD", "", 0); /* half a pair is no pair */
    publish_ev(h, 7, "ETH", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 7, 1, 7, 0);
    assert_int_equal(r.snapshot, 3);
    assert_int_equal(sse_hub_set_greeting(s, ": hi\n\n", 6), 0);
    char want[1024];
    /* the greeting, then the newest of each pair by id, then live */
    memcpy(want, ": hi\n\n", 6);
    want_evs(want + 6, sizeof want - 6, (const uint64_t[]){3, 4, 7},
             (const char *const[]){"BTC/USD", "XRP/USD", "ETH/USD"}, 3);
    read_expect(h, s, want);
    read_parked(h, s);
    publish_ev(h, 8, "BTC", "USD", 0);
    want_evs(want, sizeof want, (const uint64_t[]){8}, (const char *const[]){"BTC/USD"}, 1);
    read_expect(h, s, want);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(st.snap_events, 3);
    assert_int_equal(st.delivered, 1); /* snapshot events are counted apart */
    /* the subscriber's copy is its own: later publishes change nothing in it */
    struct fake g;
    struct sse_sub *t = sub_snap(h, &g, 1, 0, NULL, 0, &r);
    publish_ev(h, 9, "XRP", "USD", 0);
    want_evs(want, sizeof want, (const uint64_t[]){4, 7, 8, 9},
             (const char *const[]){"XRP/USD", "ETH/USD", "BTC/USD", "XRP/USD"}, 4);
    read_expect(h, t, want);
    sse_hub_unsubscribe(h, t);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_snapshot_filter(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_ev(h, 1, "XRP", "USD", 0);
    publish_ev(h, 2, "ETH", "USD", 0);
    publish_ev(h, 3, "BTC", "USD", 0);
    publish_ev(h, 4, "XRP", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, eth_xrp, 2, &r);
    assert_int_equal(r.snapshot, 2);
    char want[512];
    want_evs(want, sizeof want, (const uint64_t[]){2, 4},
             (const char *const[]){"ETH/USD", "XRP/USD"}, 2);
    read_expect(h, s, want);
    read_parked(h, s);
    /* a filter that matches nothing kept: no snapshot, not counted */
    struct fake g;
    static const struct rc_pair ltc[] = {{"LTC", "USD"}};
    struct sse_sub *t = sub_snap(h, &g, 1, 0, ltc, 1, &r);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, t);
    assert_int_equal(stats(h).snapshots, 1);
    sse_hub_unsubscribe(h, t);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_snapshot_outlives_the_ring(void **state)
{
    (void)state;
    /* a ring of 2: BTC's only event is lapped by ETH's, but kept for the
     * snapshot; then replaced (and freed: ASan/valgrind) by a newer one */
    struct sse_hub *h = hub_latest(2, 16);
    publish_ev(h, 1, "BTC", "USD", 0);
    for (uint64_t id = 2; id <= 5; id++)
        publish_ev(h, id, "ETH", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 5, 4, 5, 0);
    char want[512];
    want_evs(want, sizeof want, (const uint64_t[]){1, 5},
             (const char *const[]){"BTC/USD", "ETH/USD"}, 2);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    publish_ev(h, 6, "BTC", "USD", 0); /* BTC 1 is in neither ring nor table now */
    publish_ev(h, 7, "XRP", "USD", 0); /* ETH 5 leaves the ring, stays in the table */
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    want_evs(want, sizeof want, (const uint64_t[]){5, 6, 7},
             (const char *const[]){"ETH/USD", "BTC/USD", "XRP/USD"}, 3);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* history 1: every frame is lapped by the next */
    sse_hub_free(h);
    h = hub_latest(1, 16);
    for (uint64_t id = 1; id <= 6; id++)
        publish_ev(h, id, id % 2 ? "BTC" : "ETH", "USD", 0);
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    want_evs(want, sizeof want, (const uint64_t[]){5, 6},
             (const char *const[]){"BTC/USD", "ETH/USD"}, 2);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h); /* frees the table's frames the ring no longer holds */
}

static void test_snapshot_table_bound(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(2, 2);
    assert_int_equal(sse_hub_set_latest(h, SSE_HUB_LATEST_MAX + 1), -1);
    publish_ev(h, 1, "AAA", "USD", 0);
    publish_ev(h, 2, "BBB", "USD", 0);
    publish_ev(h, 3, "CCC", "USD", 0); /* full: AAA, seen least recently, goes */
    assert_int_equal(stats(h).pairs_evicted, 1);
    assert_int_equal(sse_hub_set_latest(h, 4), -1); /* only before the first publish */
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    char want[512];
    want_evs(want, sizeof want, (const uint64_t[]){2, 3},
             (const char *const[]){"BBB/USD", "CCC/USD"}, 2);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    publish_ev(h, 4, "BBB", "USD", 0); /* BBB seen again: CCC is now the least recent */
    publish_ev(h, 5, "DDD", "USD", 0);
    publish_ev(h, 6, "DDD", "USD", 0); /* a pair already kept evicts nobody */
    assert_int_equal(stats(h).pairs_evicted, 2);
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    want_evs(want, sizeof want, (const uint64_t[]){4, 6},
             (const char *const[]){"BBB/USD", "DDD/USD"}, 2);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_snapshot_then_live_no_duplicate(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_ev(h, 1, "BTC", "USD", 0);
    publish_ev(h, 2, "ETH", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    /* published after the placement, before the first read: once, after
     * the snapshot, though it is BTC's newest by the time of the read */
    publish_ev(h, 3, "BTC", "USD", 0);
    char want[512];
    want_evs(want, sizeof want, (const uint64_t[]){1, 2, 3},
             (const char *const[]){"BTC/USD", "ETH/USD", "BTC/USD"}, 3);
    /* in small pieces too: the snapshot is read like any greeting */
    char got[512];
    size_t n = 0;
    for (;;) {
        ssize_t k = sse_hub_read(h, s, got + n, 7);
        if (k == SSE_HUB_PARKED)
            break;
        assert_true(k > 0);
        n += (size_t)k;
    }
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_snapshot_off_is_today(void **state)
{
    (void)state;
    /* the table kept, but the subscriber asks for no snapshot */
    struct sse_hub *h = hub_latest(16, 16);
    publish_ev(h, 1, "BTC", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 0, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 1, 1, 1, 0);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    /* a resume gets no snapshot even when asked (the stream never asks) */
    struct sse_sub_params p = {.snapshot = 1, .resume = 1, .resume_valid = 1, .last_id = 1};
    s = sub_params(h, &f, p, &r);
    assert_int_equal(r.kind, SSE_RESUME_REPLAY);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
    /* no table (the default, and --snapshot off): nothing, as before */
    h = sse_hub_new(16, 10);
    publish_ev(h, 1, "BTC", "USD", 0);
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, s);
    assert_int_equal(stats(h).snapshots, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

/* Times: event i at i seconds (epoch us). */
#define SEC(i) ((int64_t)(i)*1000000)

static void test_since_window(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    publish_ev(h, 1, "BTC", "USD", SEC(100));
    publish_ev(h, 2, "ETH", "USD", SEC(200));
    publish_ev(h, 3, "BTC", "USD", 0); /* no time: goes with the one before */
    publish_ev(h, 4, "BTC", "USD", SEC(300));
    publish_ev(h, 5, "ETH", "USD", SEC(400));
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 0, SEC(150), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 5, 1, 5, 4);
    assert_int_equal(r.since_us, SEC(150)); /* covered: starts where asked */
    char want[1024];
    want_evs(want, sizeof want, (const uint64_t[]){2, 3, 4, 5},
             (const char *const[]){"ETH/USD", "BTC/USD", "BTC/USD", "ETH/USD"}, 4);
    read_expect(h, s, want);
    read_parked(h, s);
    publish_ev(h, 6, "BTC", "USD", SEC(500));
    want_evs(want, sizeof want, (const uint64_t[]){6}, (const char *const[]){"BTC/USD"}, 1);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* exactly at an event's time: that event is in */
    s = sub_snap(h, &f, 0, SEC(400), NULL, 0, &r);
    assert_int_equal(r.backlog, 2);
    sse_hub_unsubscribe(h, s);
    /* after the newest: nothing to replay, live */
    s = sub_snap(h, &f, 0, SEC(900), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 6, 1, 6, 0);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.since_replays, 3);
    assert_int_equal(delay_total(&st), 1); /* only the live event 6: a replay is no delay */
    sse_hub_free(h);
}

static void test_since_past_the_oldest(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4, 10);
    for (uint64_t id = 1; id <= 6; id++)
        publish_ev(h, id, "BTC", "USD", SEC(id * 100));
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 0, SEC(50), NULL, 0, &r);
    /* kept: 3..6; the window reaches past 3, so it starts there and says so */
    expect_resume(&r, SSE_RESUME_SINCE, 6, 3, 6, 4);
    assert_int_equal(r.since_us, SEC(300));
    char want[1024];
    want_ids(want, sizeof want, 3, 6, 1);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* a full ring of 128: start 1/64 later, so the next publish does not
     * cut a reader that has not read the oldest yet */
    sse_hub_free(h);
    h = sse_hub_new(128, 10);
    for (uint64_t id = 1; id <= 200; id++)
        publish_ev(h, id, "BTC", "USD", SEC(id));
    s = sub_snap(h, &f, 0, SEC(1), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 200, 73, 200, 126);
    assert_int_equal(r.since_us, SEC(75));
    publish_ev(h, 201, "BTC", "USD", SEC(201));
    char buf[64];
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0); /* not lagged */
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
    /* nothing kept: since_us 0, live */
    h = sse_hub_new(4, 10);
    s = sub_snap(h, &f, 0, SEC(50), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 0, 0, 0, 0);
    assert_int_equal(r.since_us, 0);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_since_filter_and_snapshot(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_ev(h, 1, "XRP", "USD", SEC(100)); /* XRP: nothing newer, before the window */
    publish_ev(h, 2, "BTC", "USD", SEC(150));
    publish_ev(h, 3, "ETH", "USD", SEC(200)); /* ETH before the window ... */
    publish_ev(h, 4, "BTC", "USD", SEC(300));
    publish_ev(h, 5, "ETH", "USD", SEC(400)); /* ... and in it */
    publish_ev(h, 6, "BTC", "USD", SEC(500));
    struct fake f;
    struct sse_resume r;
    /* since alone, filtered */
    struct sse_sub *s = sub_snap(h, &f, 0, SEC(250), eth_xrp, 2, &r);
    char want[1024];
    want_evs(want, sizeof want, (const uint64_t[]){5}, (const char *const[]){"ETH/USD"}, 1);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* with the snapshot: pairs with nothing in the window come first (XRP
     * 1), a pair with events in it only from the ring (ETH 5, not 3) */
    s = sub_snap(h, &f, 1, SEC(250), eth_xrp, 2, &r);
    assert_int_equal(r.snapshot, 1);
    want_evs(want, sizeof want, (const uint64_t[]){1, 5},
             (const char *const[]){"XRP/USD", "ETH/USD"}, 2);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* unfiltered */
    s = sub_snap(h, &f, 1, SEC(250), NULL, 0, &r);
    want_evs(want, sizeof want, (const uint64_t[]){1, 4, 5, 6},
             (const char *const[]){"XRP/USD", "BTC/USD", "ETH/USD", "BTC/USD"}, 4);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    sse_hub_free(h);
}

static void test_since_last_event_id_wins(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    for (uint64_t id = 1; id <= 5; id++)
        publish_ev(h, id, "BTC", "USD", SEC(id * 100));
    struct fake f;
    struct sse_sub_params p = {
        .resume = 1, .resume_valid = 1, .last_id = 3, .since_us = SEC(150), .snapshot = 1};
    struct sse_resume r;
    struct sse_sub *s = sub_params(h, &f, p, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 3, 1, 5, 2);
    char want[512];
    want_ids(want, sizeof want, 4, 5, 1);
    read_expect(h, s, want);
    sse_hub_unsubscribe(h, s);
    /* an invalid id wins too: a reset, no replay by time */
    p.resume_valid = 0;
    s = sub_params(h, &f, p, &r);
    assert_int_equal(r.kind, SSE_RESUME_RESET);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    assert_int_equal(stats(h).since_replays, 0);
    sse_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test(test_free_with_subscribers_and_frames),
        cmocka_unit_test(test_greeting_first),
        cmocka_unit_test(test_greeting_limits),
        cmocka_unit_test(test_nothing_parks_once),
        cmocka_unit_test(test_publish_wakes_parked_once),
        cmocka_unit_test(test_starts_at_live_end),
        cmocka_unit_test(test_order_byte_exact),
        cmocka_unit_test(test_partial_reads),
        cmocka_unit_test(test_read_max_zero),
        cmocka_unit_test(test_ring_overflow_lags),
        cmocka_unit_test(test_lag_with_partial_frame),
        cmocka_unit_test(test_history_one),
        cmocka_unit_test(test_cut_stalled),
        cmocka_unit_test(test_max_subs),
        cmocka_unit_test(test_max_subs_zero),
        cmocka_unit_test(test_unsubscribe_middle_of_list),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_heartbeat_with_greeting_pending),
        cmocka_unit_test(test_heartbeat_slices),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_resume_exact_id),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_has_id),
        cmocka_unit_test(test_publish_batch),
        cmocka_unit_test(test_resume_small_reads),
        cmocka_unit_test(test_resume_between_ids),
        cmocka_unit_test(test_resume_at_newest),
        cmocka_unit_test(test_resume_ahead_of_newest),
        cmocka_unit_test(test_resume_too_old),
        cmocka_unit_test(test_resume_after_wrap),
        cmocka_unit_test(test_resume_replay_then_lag),
        cmocka_unit_test(test_resume_invalid_and_empty),
        cmocka_unit_test(test_live_on_empty_hub),
        cmocka_unit_test(test_resume_stats_counted_exactly),
        cmocka_unit_test(test_greeting_before_replay),
        cmocka_unit_test(test_set_greeting_limit),
        cmocka_unit_test(test_filter_one_pair),
        cmocka_unit_test(test_filter_two_pairs),
        cmocka_unit_test(test_filter_copied),
        cmocka_unit_test(test_filter_npairs_zero_is_everything),
        cmocka_unit_test(test_filter_parked_woken_by_others),
        cmocka_unit_test(test_filter_skipping_does_not_lag),
        cmocka_unit_test(test_filter_with_replay),
        cmocka_unit_test(test_filter_heartbeat),
        cmocka_unit_test(test_delay_bounds),
        cmocka_unit_test(test_delivered_counts),
        cmocka_unit_test(test_delay_histogram),
        cmocka_unit_test(test_resume_with_idless_frames),
        cmocka_unit_test(test_threads_stress),
        cmocka_unit_test(test_filter_threads),
        cmocka_unit_test(test_snapshot_all_pairs_oldest_first),
        cmocka_unit_test(test_snapshot_filter),
        cmocka_unit_test(test_snapshot_outlives_the_ring),
        cmocka_unit_test(test_snapshot_table_bound),
        cmocka_unit_test(test_snapshot_then_live_no_duplicate),
        cmocka_unit_test(test_snapshot_off_is_today),
        cmocka_unit_test(test_since_window),
        cmocka_unit_test(test_since_past_the_oldest),
        cmocka_unit_test(test_since_filter_and_snapshot),
        cmocka_unit_test(test_since_last_event_id_wins),
    };
    return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
