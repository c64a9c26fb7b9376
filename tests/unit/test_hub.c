/* Unit tests for sse-server/hub.h: the ring, the subscribers and the read
 * path. Resume placement is tested in test_hub_resume.c; the modules the
 * hub uses in their own files, through the hub where it matters
 * (test_pair_filter.c, test_latest.c, test_hb_slices.c, test_delay.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub_fixture.h"

/* ---- construction ---- */

static void test_new_free(void **state)
{
    (void)state;
    assert_null(sse_hub_new(0, 10));
    sse_hub_free(NULL);
    struct sse_hub *h = hub_new(1, 10);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.subscribers, 0);
    assert_int_equal(st.subscribed, 0);
    assert_int_equal(st.rejected_full, 0);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(sse_hub_full(h), 0);
}

static void test_free_with_subscribers_and_frames(void **state)
{
    (void)state;
    /* valgrind: the hub frees subscribers still registered and its frames */
    struct sse_hub *h = hub_new(4, 10);
    struct fake a, b;
    assert_non_null(sub(h, &a, "hi"));
    assert_non_null(sub(h, &b, NULL));
    for (int i = 0; i < 10; i++)
        publish_str(h, "data: x\n\n");
}

/* ---- reading ---- */

static void test_greeting_first(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
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
}

static void test_greeting_limits(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
    struct fake f;
    memset(&f, 0, sizeof f);
    char big[1024], buf[1024];
    memset(big, 'g', sizeof big);
    /* at most 512 bytes: refused at subscribe, or by itself */
    assert_null(subscribe_live(h, big, 513, fake_park, fake_wake, &f));
    assert_int_equal(stats(h).subscribers, 0);
    struct sse_sub *s = sub(h, &f, NULL);
    assert_int_equal(sse_hub_set_greeting(s, big, 513), -1);
    assert_int_equal(sse_hub_set_greeting(s, big, sizeof big), -1);
    read_parked(h, s); /* a refused greeting sends nothing */
    sse_hub_unsubscribe(h, s);
    for (int how = 0; how < 2; how++) { /* 512 fits: at subscribe, or set after */
        s = how ? sub(h, &f, NULL) : subscribe_live(h, big, 512, fake_park, fake_wake, &f);
        assert_non_null(s);
        if (how)
            assert_int_equal(sse_hub_set_greeting(s, big, 512), 0);
        assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), 512);
        assert_memory_equal(buf, big, 512);
        read_parked(h, s);
        sse_hub_unsubscribe(h, s);
    }
    /* the greeting is copied: the caller's buffer may change */
    char greet[] = "GREETING";
    s = subscribe_live(h, greet, 8, fake_park, fake_wake, &f);
    memset(greet, 'X', 8);
    read_expect(h, s, "GREETING");
    sse_hub_unsubscribe(h, s);
    /* an empty greeting is no greeting */
    s = sub(h, &f, NULL);
    assert_int_equal(sse_hub_set_greeting(s, "", 0), 0);
    read_parked(h, s);
}

static void test_nothing_parks_once(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    read_parked(h, s);
    assert_int_equal(f.parks, 1);
    assert_int_equal(f.wakes, 0);
    assert_int_equal(f.parked, 1);
    assert_int_equal(f.violations, 0);
}

static void test_publish_wakes_parked_once(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
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
}

static void test_starts_at_live_end(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
    publish_str(h, "data: old\n\n");
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    read_parked(h, s); /* history before subscribing is not replayed */
    publish_str(h, "data: new\n\n");
    read_expect(h, s, "data: new\n\n");
}

static void test_order_byte_exact(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
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
}

static void test_partial_reads(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
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
    assert_int_equal(read_pieces(h, s, 3, got, sizeof got), wl);
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
}

static void test_read_max_zero(void **state)
{
    (void)state;
    /* max == 0 must not write anything and must not lose data */
    struct sse_hub *h = hub_new(4, 10);
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
}

/* ---- lagging ---- */

static void test_ring_overflow_lags(void **state)
{
    (void)state;
    const size_t hist = 4;
    struct sse_hub *h = hub_new(hist, 10);
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
}

static void test_lag_with_partial_frame(void **state)
{
    (void)state;
    /* A subscriber half way through a frame that is then overwritten must
     * be cut off, not sent the tail of a different frame. */
    struct sse_hub *h = hub_new(2, 10);
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
    struct sse_hub *h = hub_new(4, 10);
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
}

static void test_history_one(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(1, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, NULL);
    publish_str(h, "data: 1\n\n");
    read_expect(h, s, "data: 1\n\n");
    publish_str(h, "data: 2\n\n");
    publish_str(h, "data: 3\n\n");
    char buf[64];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), SSE_HUB_LAGGED);
}

/* ---- limits ---- */

static void test_max_subs(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 2);
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
}

static void test_max_subs_zero(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 0);
    struct fake a;
    assert_int_equal(sse_hub_full(h), 1);
    assert_null(sub(h, &a, NULL));
    assert_int_equal(stats(h).rejected_full, 1);
}

static void test_unsubscribe_middle_of_list(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
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
}

/* ---- heartbeat ---- */

static void test_heartbeat(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
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
}

static void test_heartbeat_with_greeting_pending(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
    struct fake f;
    struct sse_sub *s = sub(h, &f, ": hello\n\n");
    sse_hub_heartbeat(h);
    read_expect(h, s, ": hello\n\n"); /* the greeting proves liveness */
    read_parked(h, s);
}

/* ---- close ---- */

static void test_close(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
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
}

/* ---- kick (client hung up) ---- */

static void test_kick(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
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
}

/* A burst published as one batch: every parked subscriber is woken once
 * and reads the whole burst in one read; order and ids as published one
 * by one. */
static void test_publish_batch(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(8, 10);
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
    read_ids(h, a, 10, 12, 1); /* the whole burst in one read */
    read_ids(h, b, 10, 12, 1);
    read_parked(h, a);
    sse_hub_publish_batch(h, ev, 0); /* nothing: no wake */
    assert_int_equal(f1.wakes, 1);
    assert_int_equal(stats(h).published, 3);
    assert_int_equal(sse_hub_newest_id(h), 12);
    assert_int_equal(f1.violations + f2.violations, 0);
}

/* sse_hub_has_id: exactly the ids the ring still holds. */
static void test_has_id(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
    assert_false(sse_hub_has_id(h, 10));
    publish_ids(h, 10, 60, 10); /* 10..60: the ring keeps 30..60 */
    assert_true(sse_hub_has_id(h, 30));
    assert_true(sse_hub_has_id(h, 60));
    assert_false(sse_hub_has_id(h, 20)); /* lapped */
    assert_false(sse_hub_has_id(h, 35));
    assert_false(sse_hub_has_id(h, 70));
    assert_false(sse_hub_has_id(h, 0));
}

/* ---- threads ---- */

#define STRESS_FRAMES  10000
#define STRESS_READERS 4

static const char stress_greeting[] = ": welcome\n\n";

static void *publisher_main(void *arg)
{
    struct sse_hub *h = arg;
    for (int i = 0; i < STRESS_FRAMES; i++) {
        char *f;
        int n = asprintf(&f, "id: %d\ndata: {\"seq\":%d}\n\n", i + 1, i);
        if (n < 0)
            return "asprintf";
        struct sse_event_meta m = {.id = (uint64_t)i + 1};
        sse_hub_publish(h, f, (size_t)n, &m);
        if (i % 1000 == 0)
            sse_hub_heartbeat(h); /* mixed in: must never be delivered mid-frame */
    }
    return NULL;
}

/* Check a reader's stream: greeting, then frames 0..N-1 in order, with
 * heartbeats allowed only between frames. */
static void check_stream(const struct treader *r)
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
    struct sse_hub *h = hub_new(16384, 64);
    static const size_t sizes[STRESS_READERS] = {1, 7, 100, 65536};
    struct treader rd[STRESS_READERS];
    pthread_t th[STRESS_READERS], pt;
    for (int i = 0; i < STRESS_READERS; i++) {
        /* the greeting and every frame end in a blank line */
        treader_init(&rd[i], h, sizes[i], STRESS_FRAMES + 1, 64 * (STRESS_FRAMES + 1000));
        rd[i].sub = subscribe_live(h, stress_greeting, sizeof stress_greeting - 1, tr_park, tr_wake,
                                   &rd[i]);
        assert_non_null(rd[i].sub);
    }
    for (int i = 0; i < STRESS_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, treader_main, &rd[i]), 0);
    assert_int_equal(pthread_create(&pt, NULL, publisher_main, h), 0);
    void *pub_error;
    pthread_join(pt, &pub_error);
    for (int i = 0; i < STRESS_READERS; i++)
        pthread_join(th[i], NULL);
    assert_null(pub_error);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.published, STRESS_FRAMES);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(st.subscribers, STRESS_READERS);
    for (int i = 0; i < STRESS_READERS; i++) {
        treader_check(&rd[i], i);
        check_stream(&rd[i]);
    }
    /* close wakes any reader still parked */
    sse_hub_close(h);
    for (int i = 0; i < STRESS_READERS; i++) {
        assert_int_equal(rd[i].parks, rd[i].wakes);
        char b[8];
        assert_int_equal(sse_hub_read(h, rd[i].sub, b, sizeof b), SSE_HUB_EOF);
        sse_hub_unsubscribe(h, rd[i].sub);
        treader_destroy(&rd[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_new_free),
        hub_test(test_free_with_subscribers_and_frames),
        hub_test(test_greeting_first),
        hub_test(test_greeting_limits),
        hub_test(test_nothing_parks_once),
        hub_test(test_publish_wakes_parked_once),
        hub_test(test_starts_at_live_end),
        hub_test(test_order_byte_exact),
        hub_test(test_partial_reads),
        hub_test(test_read_max_zero),
        hub_test(test_ring_overflow_lags),
        hub_test(test_lag_with_partial_frame),
        hub_test(test_history_one),
        hub_test(test_cut_stalled),
        hub_test(test_max_subs),
        hub_test(test_max_subs_zero),
        hub_test(test_unsubscribe_middle_of_list),
        hub_test(test_heartbeat),
        hub_test(test_heartbeat_with_greeting_pending),
        hub_test(test_close),
        hub_test(test_kick),
        hub_test(test_publish_batch),
        hub_test(test_has_id),
        hub_test(test_threads_stress),
    };
    return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
