/* Unit tests for sse-server/latest.h (the newest frame of each pair) and
 * for the snapshots the hub takes from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sse-server/latest.h"
#include "hub_fixture.h"

/* ---- the module ---- */

/* Snapshot of t before seq `before` through f: exactly `want` (NULL: none). */
static void expect_snapshot(const struct sse_latest *t, uint64_t before,
                            const struct sse_pair_filter *f, const char *want)
{
    char *out = NULL;
    size_t len = 0;
    size_t n = sse_latest_snapshot(t, before, f, &out, &len);
    if (want == NULL) {
        assert_int_equal(n, 0);
        assert_null(out);
        return;
    }
    assert_int_equal(n, strlen(want)); /* one-byte frames here */
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    free(out);
}

static void test_table(void **state)
{
    (void)state;
    assert_null(sse_latest_new(0));
    assert_null(sse_latest_new(SSE_LATEST_MAX + 1));
    sse_latest_free(NULL, 0);
    struct sse_pair_tag btc, eth, xrp, none;
    sse_pair_tag_set(&btc, "BTC", "USD");
    sse_pair_tag_set(&eth, "ETH", "USD");
    sse_pair_tag_set(&xrp, "XRP", "USD");
    sse_pair_tag_set(&none, NULL, NULL);
    struct sse_pair_filter all = {0}, only_btc = {0};
    assert_int_equal(sse_pair_filter_set(&only_btc, &btc.pair, 1), 0);
    char *a = strdup("A"), *b = strdup("B"), *c = strdup("C"), *d = strdup("D"), *e = strdup("E");
    assert_true(a && b && c && d && e);
    int evicted = 0;
    /* no table: nothing kept, nothing held, no snapshot */
    assert_null(sse_latest_keep(NULL, 0, a, 1, &btc, 0, &evicted));
    assert_false(sse_latest_holds(NULL, 0, &btc));
    expect_snapshot(NULL, 10, &all, NULL);

    struct sse_latest *t = sse_latest_new(2);
    assert_non_null(t);
    /* a frame without a pair is ignored */
    assert_null(sse_latest_keep(t, 0, e, 1, &none, 0, &evicted));
    assert_false(sse_latest_holds(t, 0, &none));
    expect_snapshot(t, 10, &all, NULL);
    /* BTC 1, ETH 2: room for both */
    assert_null(sse_latest_keep(t, 1, a, 1, &btc, 0, &evicted));
    assert_null(sse_latest_keep(t, 2, b, 1, &eth, 0, &evicted));
    assert_true(sse_latest_holds(t, 1, &btc));
    assert_false(sse_latest_holds(t, 2, &btc));
    assert_true(sse_latest_holds(t, 2, &eth));
    /* BTC again at 3 while the ring still holds 1: the ring frees A */
    assert_null(sse_latest_keep(t, 3, c, 1, &btc, 0, &evicted));
    assert_false(sse_latest_holds(t, 1, &btc));
    assert_true(sse_latest_holds(t, 3, &btc));
    assert_int_equal(evicted, 0);
    /* before a seq only, oldest first, through the filter */
    expect_snapshot(t, 3, &all, "B");
    expect_snapshot(t, 4, &all, "BC");
    expect_snapshot(t, 4, &only_btc, "C");
    expect_snapshot(t, 2, &only_btc, NULL);
    /* XRP into the full table: ETH (seen least recently) goes, and as the
     * ring has moved past 2, its buffer is handed back */
    assert_ptr_equal(sse_latest_keep(t, 4, d, 1, &xrp, 3, &evicted), b);
    assert_int_equal(evicted, 1);
    evicted = 0;
    /* BTC again once the ring moved past 3: C handed back, nobody evicted */
    assert_ptr_equal(sse_latest_keep(t, 5, e, 1, &btc, 4, &evicted), c);
    assert_int_equal(evicted, 0);
    expect_snapshot(t, 6, &all, "DE");
    /* free: the buffers only the table holds (XRP 4, before ring_first 5) */
    sse_latest_free(t, 5);
    free(a);
    free(b);
    free(c);
    free(e);
    sse_pair_filter_clear(&only_btc);
}

/* ---- snapshots through the hub ---- */

static const struct rc_pair eth_xrp[] = {{"ETH", "USD"}, {"XRP", "USD"}};

static void test_snapshot_all_pairs_oldest_first(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    /* 5: no pair: never in a snapshot; 6: half a pair is no pair */
    publish_evs(h, "1 BTC/USD 2 ETH/USD 3 BTC/USD 4 XRP/USD 5 -/- 6 BTCUSD/ 7 ETH/USD");
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    expect_resume(&r, SSE_RESUME_LIVE, 7, 1, 7, 0);
    assert_int_equal(r.snapshot, 3);
    assert_int_equal(sse_hub_set_greeting(s, ": hi\n\n", 6), 0);
    char want[1024];
    /* the greeting, then the newest of each pair by id, then live */
    memcpy(want, ": hi\n\n", 6);
    want_evs(want + 6, sizeof want - 6, "3 BTC/USD 4 XRP/USD 7 ETH/USD");
    read_expect(h, s, want);
    read_parked(h, s);
    publish_ev(h, 8, "BTC", "USD", 0);
    read_evs(h, s, "8 BTC/USD");
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.snapshots, 1);
    assert_int_equal(st.snap_events, 3);
    assert_int_equal(st.delivered, 1); /* snapshot events are counted apart */
    /* the subscriber's copy is its own: later publishes change nothing in it */
    struct fake g;
    struct sse_sub *t = sub_snap(h, &g, 1, 0, NULL, 0, &r);
    publish_ev(h, 9, "XRP", "USD", 0);
    read_evs(h, t, "4 XRP/USD 7 ETH/USD 8 BTC/USD 9 XRP/USD");
}

static void test_snapshot_filter(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_evs(h, "1 XRP/USD 2 ETH/USD 3 BTC/USD 4 XRP/USD");
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, eth_xrp, 2, &r);
    assert_int_equal(r.snapshot, 2);
    read_evs(h, s, "2 ETH/USD 4 XRP/USD");
    read_parked(h, s);
    /* a filter that matches nothing kept: no snapshot, not counted */
    struct fake g;
    static const struct rc_pair ltc[] = {{"LTC", "USD"}};
    struct sse_sub *t = sub_snap(h, &g, 1, 0, ltc, 1, &r);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, t);
    assert_int_equal(stats(h).snapshots, 1);
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
    read_evs(h, s, "1 BTC/USD 5 ETH/USD");
    sse_hub_unsubscribe(h, s);
    /* 6: BTC 1 is in neither ring nor table now; 7: ETH 5 leaves the ring,
     * stays in the table */
    publish_evs(h, "6 BTC/USD 7 XRP/USD");
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    read_evs(h, s, "5 ETH/USD 6 BTC/USD 7 XRP/USD");
    sse_hub_unsubscribe(h, s);
    /* history 1: every frame is lapped by the next */
    h = hub_latest(1, 16);
    for (uint64_t id = 1; id <= 6; id++)
        publish_ev(h, id, id % 2 ? "BTC" : "ETH", "USD", 0);
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    read_evs(h, s, "5 BTC/USD 6 ETH/USD");
    sse_hub_unsubscribe(h, s);
    hub_teardown(NULL); /* frees the table's frames the ring no longer holds */
}

static void test_snapshot_table_bound(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(2, 2);
    assert_int_equal(sse_hub_set_latest(h, SSE_HUB_LATEST_MAX + 1), -1);
    /* 3: full: AAA, seen least recently, goes */
    publish_evs(h, "1 AAA/USD 2 BBB/USD 3 CCC/USD");
    assert_int_equal(stats(h).pairs_evicted, 1);
    assert_int_equal(sse_hub_set_latest(h, 4), -1); /* only before the first publish */
    struct fake f;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, NULL);
    read_evs(h, s, "2 BBB/USD 3 CCC/USD");
    sse_hub_unsubscribe(h, s);
    /* 4: BBB seen again: CCC is now the least recent; 6: a pair already
     * kept evicts nobody */
    publish_evs(h, "4 BBB/USD 5 DDD/USD 6 DDD/USD");
    assert_int_equal(stats(h).pairs_evicted, 2);
    s = sub_snap(h, &f, 1, 0, NULL, 0, NULL);
    read_evs(h, s, "4 BBB/USD 6 DDD/USD");
}

static void test_snapshot_then_live_no_duplicate(void **state)
{
    (void)state;
    struct sse_hub *h = hub_latest(16, 16);
    publish_evs(h, "1 BTC/USD 2 ETH/USD");
    struct fake f;
    struct sse_sub *s = sub_snap(h, &f, 1, 0, NULL, 0, NULL);
    /* published after the placement, before the first read: once, after
     * the snapshot, though it is BTC's newest by the time of the read */
    publish_ev(h, 3, "BTC", "USD", 0);
    char want[512];
    want_evs(want, sizeof want, "1 BTC/USD 2 ETH/USD 3 BTC/USD");
    /* in small pieces too: the snapshot is read like any greeting */
    char got[512];
    size_t n = read_pieces(h, s, 7, got, sizeof got);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
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
    /* no table (the default, and --snapshot off): nothing, as before */
    h = hub_new(16, 10);
    publish_ev(h, 1, "BTC", "USD", 0);
    s = sub_snap(h, &f, 1, 0, NULL, 0, &r);
    assert_int_equal(r.snapshot, 0);
    read_parked(h, s);
    assert_int_equal(stats(h).snapshots, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_table),
        hub_test(test_snapshot_all_pairs_oldest_first),
        hub_test(test_snapshot_filter),
        hub_test(test_snapshot_outlives_the_ring),
        hub_test(test_snapshot_table_bound),
        hub_test(test_snapshot_then_live_no_duplicate),
        hub_test(test_snapshot_off_is_today),
    };
    return cmocka_run_group_tests_name("latest", tests, NULL, NULL);
}
