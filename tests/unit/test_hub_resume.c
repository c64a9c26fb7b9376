/* Unit tests for where a new subscriber starts in the hub's ring
 * (sse-server/hub.h, sse_hub_subscribe): live, a replay after a
 * Last-Event-ID, a reset, a time window (?since=), and gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub_fixture.h"

/* One resume against a hub holding BTC/USD ids from..to (step 10; from 0:
 * nothing): the outcome, the replay read at once (replay_from..replay_to,
 * or nothing), then the live ids published, of which only `got` reaches
 * the client. */
struct resume_case {
    size_t hist;
    uint64_t from, to;
    int resume, valid;
    uint64_t last;
    enum sse_resume_kind kind;
    uint64_t after, oldest, newest;
    size_t backlog;
    uint64_t replay_from, replay_to;
    uint64_t live[3], got;
};

static const struct resume_case resume_cases[] = {
    /* the id itself: the rest, then live, no gap and no repeat */
    {16, 10, 100, 1, 1, 50, SSE_RESUME_REPLAY, 50, 10, 100, 5, 60, 100, {110}, 110},
    /* 55 was never an id, but it lies inside what is kept: everything
     * after it is here, so the replay is gapless */
    {16, 10, 100, 1, 1, 55, SSE_RESUME_REPLAY, 55, 10, 100, 5, 60, 100, {0}, 0},
    /* the oldest id itself; just below the newest; the newest */
    {16, 10, 100, 1, 1, 10, SSE_RESUME_REPLAY, 10, 10, 100, 9, 20, 100, {0}, 0},
    {16, 10, 100, 1, 1, 99, SSE_RESUME_REPLAY, 99, 10, 100, 1, 100, 100, {0}, 0},
    {16, 10, 100, 1, 1, 100, SSE_RESUME_REPLAY, 100, 10, 100, 0, 0, 0, {110}, 110},
    /* from a replica a little ahead: it has up to 150, this one up to 100;
     * 120 and 150 arrive late here and are skipped */
    {16, 10, 100, 1, 1, 150, SSE_RESUME_REPLAY, 150, 10, 100, 0, 0, 0, {120, 150, 160}, 160},
    /* too old: nothing replayed, live; 0 (valid, below every id) too */
    {16, 10, 100, 1, 1, 5, SSE_RESUME_RESET, 100, 10, 100, 0, 0, 0, {110}, 110},
    {16, 10, 100, 1, 1, 0, SSE_RESUME_RESET, 100, 10, 100, 0, 0, 0, {0}, 0},
    /* 40 events into a ring of 16: 250..400 kept; older ids (even the last
     * one overwritten) reset, the oldest kept and the middle replay */
    {16, 10, 400, 1, 1, 50, SSE_RESUME_RESET, 400, 250, 400, 0, 0, 0, {0}, 0},
    {16, 10, 400, 1, 1, 240, SSE_RESUME_RESET, 400, 250, 400, 0, 0, 0, {0}, 0},
    {16, 10, 400, 1, 1, 250, SSE_RESUME_REPLAY, 250, 250, 400, 15, 260, 400, {0}, 0},
    {16, 10, 400, 1, 1, 333, SSE_RESUME_REPLAY, 333, 250, 400, 7, 340, 400, {0}, 0},
    /* an empty ring: nothing can be vouched for; live from then on */
    {16, 0, 0, 1, 1, 50, SSE_RESUME_RESET, 0, 0, 0, 0, 0, 0, {60}, 60},
    /* Last-Event-ID not a decimal id: reset, even when last_id happens to
     * hold a replayable value */
    {16, 60, 100, 1, 0, 0, SSE_RESUME_RESET, 100, 60, 100, 0, 0, 0, {0}, 0},
    {16, 60, 100, 1, 0, 80, SSE_RESUME_RESET, 100, 60, 100, 0, 0, 0, {0}, 0},
    /* no Last-Event-ID at all: live, and last_id is ignored */
    {16, 60, 100, 0, 1, 80, SSE_RESUME_LIVE, 100, 60, 100, 0, 0, 0, {110}, 110},
    {16, 0, 0, 0, 0, 0, SSE_RESUME_LIVE, 0, 0, 0, 0, 0, 0, {0}, 0},
};

static void test_resume_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof resume_cases / sizeof resume_cases[0]; i++) {
        const struct resume_case *c = &resume_cases[i];
        print_message("case %zu: last_id %llu\n", i, (unsigned long long)c->last);
        struct sse_hub *h = hub_new(c->hist, 10);
        if (c->from)
            publish_ids(h, c->from, c->to, 10);
        struct fake f;
        struct sse_resume r;
        struct sse_sub *s = sub_with(h, &f, c->resume, c->valid, c->last, NULL, 0, &r);
        expect_resume(&r, c->kind, c->after, c->oldest, c->newest, c->backlog);
        char want[2048];
        if (c->replay_from) {
            want_ids(want, sizeof want, c->replay_from, c->replay_to, 10);
            read_expect(h, s, want);
        }
        read_parked(h, s);
        for (size_t k = 0; k < 3 && c->live[k]; k++)
            publish_ids(h, c->live[k], c->live[k], 1);
        if (c->live[0]) {
            assert_int_equal(f.wakes, 1);
            want_ids(want, sizeof want, c->got, c->got, 1);
            read_expect(h, s, want);
            read_parked(h, s);
        }
        struct sse_hub_stats st = stats(h);
        assert_int_equal(st.replays, c->kind == SSE_RESUME_REPLAY);
        assert_int_equal(st.resets, c->kind == SSE_RESUME_RESET);
        assert_int_equal(st.delivered, r.backlog + (c->got != 0));
        assert_int_equal(f.violations, 0);
        /* the next hub_new frees this one */
    }
}

static void test_resume_small_reads(void **state)
{
    (void)state;
    /* the replay is the same byte stream however it is read */
    struct sse_hub *h = hub_new(16, 10);
    publish_ids(h, 10, 100, 10);
    struct fake f;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, NULL, 0, NULL);
    char want[1024], got[1024];
    want_ids(want, sizeof want, 60, 100, 10);
    size_t gl = read_pieces(h, s, 5, got, sizeof got);
    assert_int_equal(gl, strlen(want));
    assert_memory_equal(got, want, gl);
    assert_int_equal(stats(h).delivered, 5);
}

static void test_resume_replay_then_lag(void **state)
{
    (void)state;
    /* A replay from the oldest kept frame that does not read before the
     * ring moves on has lost a frame: it must be cut off, not skip it. */
    struct sse_hub *h = hub_new(4, 10);
    publish_ids(h, 10, 40, 10);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 10, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 10, 10, 40, 3);
    publish_ev(h, 50, "BTC", "USD", 0); /* overwrites 10: 20 still kept */
    read_ids(h, s, 20, 50, 10);
    sse_hub_unsubscribe(h, s);
    s = sub_with(h, &f, 1, 1, 20, NULL, 0, &r); /* ring 20..50, replay 30..50 */
    expect_resume(&r, SSE_RESUME_REPLAY, 20, 20, 50, 3);
    /* 60: overwrites 20; 70: overwrites 30, unread */
    publish_evs(h, "60 BTC/USD 70 BTC/USD");
    char buf[512];
    assert_int_equal(sse_hub_read(h, s, buf, sizeof buf), SSE_HUB_LAGGED);
    assert_int_equal(stats(h).lagged, 1);
}

static void test_live_after_idless_frame(void **state)
{
    (void)state;
    /* frames without meta have no id: still nothing to resume from */
    struct sse_hub *h = hub_new(16, 10);
    publish_str(h, "data: noid\n\n");
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 0, 0, 0, 0);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.resets + st.replays, 0);
}

static void test_resume_stats_counted_exactly(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 3);
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
}

static void test_greeting_before_replay(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
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
}

/* A gap (events lost that the history stream could not fill): resumes
 * from before it get a reset, open streams are ended, and resumes from
 * after it replay as usual. */
static void test_gap(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
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
    read_ids(h, s, 120, 130, 10);
    sse_hub_unsubscribe(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.gap_cuts, 1);
    assert_int_equal(fo.violations + fr.violations, 0);
}

static void test_resume_with_idless_frames(void **state)
{
    (void)state;
    /* Frames without an id (NULL meta) must not break the replay search:
     * they take the previous id as their search key. */
    struct sse_hub *h = hub_new(16, 10);
    /* 30: no meta: no id */
    publish_evs(h, "10 BTC/USD 20 BTC/USD 30 -/- 40 BTC/USD 50 BTC/USD");
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 15, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 15, 10, 50, 4);
    read_evs(h, s, "20 BTC/USD 30 -/- 40 BTC/USD 50 BTC/USD");
}

static const struct rc_pair eth_xrp[] = {{"ETH", "USD"}, {"XRP", "USD"}};

/* Times: event i at i seconds (epoch us). */
#define SEC(i) ((int64_t)(i)*1000000)

static void test_since_window(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
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
    read_evs(h, s, "2 ETH/USD 3 BTC/USD 4 BTC/USD 5 ETH/USD");
    read_parked(h, s);
    publish_ev(h, 6, "BTC", "USD", SEC(500));
    read_evs(h, s, "6 BTC/USD");
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
}

static void test_since_past_the_oldest(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(4, 10);
    for (uint64_t id = 1; id <= 6; id++)
        publish_ev(h, id, "BTC", "USD", SEC(id * 100));
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 0, SEC(50), NULL, 0, &r);
    /* kept: 3..6; the window reaches past 3, so it starts there and says so */
    expect_resume(&r, SSE_RESUME_SINCE, 6, 3, 6, 4);
    assert_int_equal(r.since_us, SEC(300));
    read_ids(h, s, 3, 6, 1);
    sse_hub_unsubscribe(h, s);
    /* a full ring of 128: start 1/64 later, so the next publish does not
     * cut a reader that has not read the oldest yet */
    h = hub_new(128, 10);
    for (uint64_t id = 1; id <= 200; id++)
        publish_ev(h, id, "BTC", "USD", SEC(id));
    s = sub_snap(h, &f, 0, SEC(1), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 200, 73, 200, 126);
    assert_int_equal(r.since_us, SEC(75));
    publish_ev(h, 201, "BTC", "USD", SEC(201));
    char buf[64];
    assert_true(sse_hub_read(h, s, buf, sizeof buf) > 0); /* not lagged */
    sse_hub_unsubscribe(h, s);
    /* nothing kept: since_us 0, live */
    h = hub_new(4, 10);
    s = sub_snap(h, &f, 0, SEC(50), NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_SINCE, 0, 0, 0, 0);
    assert_int_equal(r.since_us, 0);
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
    read_evs(h, s, "5 ETH/USD");
    sse_hub_unsubscribe(h, s);
    /* with the snapshot: pairs with nothing in the window come first (XRP
     * 1), a pair with events in it only from the ring (ETH 5, not 3) */
    s = sub_snap(h, &f, 1, SEC(250), eth_xrp, 2, &r);
    assert_int_equal(r.snapshot, 1);
    read_evs(h, s, "1 XRP/USD 5 ETH/USD");
    sse_hub_unsubscribe(h, s);
    /* unfiltered */
    s = sub_snap(h, &f, 1, SEC(250), NULL, 0, &r);
    read_evs(h, s, "1 XRP/USD 4 BTC/USD 5 ETH/USD 6 BTC/USD");
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
    read_ids(h, s, 4, 5, 1);
    sse_hub_unsubscribe(h, s);
    /* an invalid id wins too: a reset, no replay by time */
    p.resume_valid = 0;
    s = sub_params(h, &f, p, &r);
    assert_int_equal(r.kind, SSE_RESUME_RESET);
    read_parked(h, s);
    sse_hub_unsubscribe(h, s);
    assert_int_equal(stats(h).since_replays, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_resume_cases),
        hub_test(test_resume_small_reads),
        hub_test(test_resume_replay_then_lag),
        hub_test(test_live_after_idless_frame),
        hub_test(test_resume_stats_counted_exactly),
        hub_test(test_greeting_before_replay),
        hub_test(test_gap),
        hub_test(test_resume_with_idless_frames),
        hub_test(test_since_window),
        hub_test(test_since_past_the_oldest),
        hub_test(test_since_filter_and_snapshot),
        hub_test(test_since_last_event_id_wins),
    };
    return cmocka_run_group_tests_name("hub_resume", tests, NULL, NULL);
}
