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

static struct sse_sub *sub(struct sse_hub *h, struct fake *f, const char *greeting)
{
    memset(f, 0, sizeof *f);
    return sse_hub_subscribe(h, greeting, greeting ? strlen(greeting) : 0, fake_park, fake_wake, f);
}

static void publish_str(struct sse_hub *h, const char *s)
{
    char *f = strdup(s);
    assert_non_null(f);
    sse_hub_publish(h, f, strlen(s));
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
    assert_null(sse_hub_subscribe(h, big, 257, fake_park, fake_wake, &f));
    assert_int_equal(stats(h).subscribers, 0);
    struct sse_sub *s = sse_hub_subscribe(h, big, 256, fake_park, fake_wake, &f);
    assert_non_null(s);
    char buf[512];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), 256);
    assert_memory_equal(buf, big, 256);
    sse_hub_unsubscribe(h, s);
    /* the greeting is copied: the caller's buffer may change */
    char greet[] = "GREETING";
    s = sse_hub_subscribe(h, greet, 8, fake_park, fake_wake, &f);
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
    sse_hub_publish(h, bin, 5);
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
        char fr[64];
        snprintf(fr, sizeof fr, "id: %d\ndata: %0*d\n\n", i + 1, i + 1, i);
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
        sse_hub_publish(p->hub, f, (size_t)n);
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
        rd[i].sub = sse_hub_subscribe(h, stress_greeting, sizeof stress_greeting - 1, cv_park,
                                      cv_wake, &rd[i]);
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
        cmocka_unit_test(test_max_subs),
        cmocka_unit_test(test_max_subs_zero),
        cmocka_unit_test(test_unsubscribe_middle_of_list),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_heartbeat_with_greeting_pending),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_threads_stress),
    };
    return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
