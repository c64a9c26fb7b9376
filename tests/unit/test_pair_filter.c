/* Unit tests for sse-server/pair_filter.h (tags, filters, matching) and
 * for the hub's pair filters: what a ?pairs= stream reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sse-server/pair_filter.h"
#include "hub_fixture.h"

static const struct rc_pair btc_usd[] = {{"BTC", "USD"}};
static const struct rc_pair btc_eth[] = {{"BTC", "USD"}, {"ETH", "EUR"}};

/* ---- the module ---- */

static void test_tags(void **state)
{
    (void)state;
    struct sse_pair_tag a, b, none;
    sse_pair_tag_set(&a, "BTC", "USD");
    sse_pair_tag_set(&b, "BTC", "USD");
    assert_true(a.hash != 0);
    assert_string_equal(a.pair.base, "BTC");
    assert_string_equal(a.pair.quote, "USD");
    assert_true(sse_pair_tag_equal(&a, &b));
    /* half a pair, or none, is no pair: equal to nothing, not even itself */
    static const char *const halves[][2] = {
        {"BTCUSD", ""}, {"", "USD"}, {NULL, "USD"}, {"BTC", NULL}};
    for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++) {
        sse_pair_tag_set(&none, halves[i][0], halves[i][1]);
        assert_true(none.hash == 0);
        assert_false(sse_pair_tag_equal(&none, &none));
        assert_false(sse_pair_tag_equal(&a, &none));
    }
    /* same letters, other split; reversed */
    static const char *const others[][2] = {{"BT", "CUSD"}, {"USD", "BTC"}, {"BTC", "EUR"}};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        sse_pair_tag_set(&b, others[i][0], others[i][1]);
        assert_false(sse_pair_tag_equal(&a, &b));
    }
}

static void test_filter_set_match_clear(void **state)
{
    (void)state;
    struct sse_pair_tag btc, eth_usd, eth_eur, none;
    sse_pair_tag_set(&btc, "BTC", "USD");
    sse_pair_tag_set(&eth_usd, "ETH", "USD");
    sse_pair_tag_set(&eth_eur, "ETH", "EUR");
    sse_pair_tag_set(&none, NULL, NULL);
    /* no pairs, or n == 0: no filter, everything passes */
    struct sse_pair_filter f = {0};
    struct rc_pair two[2] = {{"ETH", "EUR"}, {"BTC", "USD"}};
    assert_int_equal(sse_pair_filter_set(&f, NULL, 3), 0);
    assert_null(f.hashes);
    assert_int_equal(sse_pair_filter_set(&f, two, 0), 0);
    assert_null(f.hashes);
    assert_true(sse_pair_filter_match(&f, &none));
    assert_true(sse_pair_filter_match(&f, &eth_usd));
    /* a copy: the caller's array may change */
    assert_int_equal(sse_pair_filter_set(&f, two, 2), 0);
    memset(two, 0, sizeof two);
    assert_int_equal(f.n, 2);
    assert_true(sse_pair_filter_match(&f, &btc));
    assert_true(sse_pair_filter_match(&f, &eth_eur));
    assert_false(sse_pair_filter_match(&f, &eth_usd));
    assert_false(sse_pair_filter_match(&f, &none)); /* no pair: only the unfiltered */
    sse_pair_filter_clear(&f);
    assert_null(f.hashes);
    assert_int_equal(f.n, 0);
    assert_true(sse_pair_filter_match(&f, &eth_usd));
    sse_pair_filter_clear(&f); /* twice is harmless */
}

/* ---- through the hub ---- */

/* A filtered subscriber and an unfiltered one read the events published:
 * the first exactly `want`, the second all of them. */
static const struct {
    struct rc_pair pairs[2];
    size_t npairs;
    const char *ev, *want;
} filter_cases[] = {
    /* no meta, reversed, half a pair, same letters split otherwise: no match */
    {{{"BTC", "USD"}},
     1,
     "1 BTC/USD 2 ETH/USD 3 BTC/EUR 4 -/- 5 USD/BTC 6 BTCUSD/ 7 BT/CUSD 8 BTC/USD",
     "1 BTC/USD 8 BTC/USD"},
    {{{"BTC", "USD"}, {"ETH", "EUR"}},
     2,
     "1 ETH/EUR 2 ETH/USD 3 BTC/USD 4 BTC/EUR 5 ETH/EUR",
     "1 ETH/EUR 3 BTC/USD 5 ETH/EUR"},
    /* npairs 0 is everything, whatever the array */
    {{{"BTC", "USD"}}, 0, "1 ETH/USD 2 -/-", "1 ETH/USD 2 -/-"},
};

static void test_filter_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof filter_cases / sizeof filter_cases[0]; i++) {
        struct sse_hub *h = hub_new(16, 10);
        struct fake f, fa;
        struct rc_pair mine[2];
        memcpy(mine, filter_cases[i].pairs, sizeof mine);
        struct sse_sub *s = sub_with(h, &f, 0, 0, 0, mine, filter_cases[i].npairs, NULL);
        struct sse_sub *all = sub_with(h, &fa, 0, 0, 0, NULL, 0, NULL);
        /* the filter is copied: the caller's array may change or go away */
        memset(mine, 0, sizeof mine);
        snprintf(mine[0].base, sizeof mine[0].base, "ETH");
        publish_evs(h, filter_cases[i].ev);
        read_evs(h, s, filter_cases[i].want);
        read_parked(h, s);
        read_evs(h, all, filter_cases[i].ev);
        struct evspec ev[16], want[16];
        size_t nev = parse_evs(filter_cases[i].ev, ev, 16);
        size_t nwant = parse_evs(filter_cases[i].want, want, 16);
        struct sse_hub_stats st = stats(h);
        assert_int_equal(st.delivered, nwant + nev);
        assert_int_equal(st.published, nev);
    }
}

static void test_filter_parked_woken_by_others(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
    struct fake f;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, NULL);
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
    publish_evs(h, "6 ETH/USD 7 ETH/USD");
    assert_int_equal(f.wakes, 6);
    read_parked(h, s);
    publish_ev(h, 8, "BTC", "USD", 0);
    assert_int_equal(f.wakes, 7);
    read_ids(h, s, 8, 8, 1);
    read_parked(h, s);
    assert_int_equal(f.violations, 0);
    assert_int_equal(f.parks - f.wakes, 1);
    assert_int_equal(stats(h).delivered, 1);
}

static void test_filter_skipping_does_not_lag(void **state)
{
    (void)state;
    /* Many more non-matching frames than the ring holds: a filtered
     * subscriber that reads whenever woken skips them and is never cut off. */
    struct sse_hub *h = hub_new(4, 10);
    struct fake f;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, NULL);
    read_parked(h, s);
    uint64_t id = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 3; i++) /* fewer than the ring between reads */
            publish_ev(h, ++id, "ETH", "USD", 0);
        read_parked(h, s);
    }
    publish_ev(h, ++id, "BTC", "USD", 0);
    read_ids(h, s, id, id, 1);
    /* exactly a ring's worth of skipped frames before the read is fine */
    for (int i = 0; i < 4; i++)
        publish_ev(h, ++id, "ETH", "USD", 0);
    read_parked(h, s);
    struct sse_hub_stats st = stats(h);
    assert_int_equal(st.lagged, 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(f.violations, 0);
}

static void test_filter_with_replay(void **state)
{
    (void)state;
    /* the replay is filtered too; backlog counts before filtering */
    struct sse_hub *h = hub_new(16, 10);
    for (uint64_t id = 10; id <= 100; id += 10)
        publish_ev(h, id, id % 20 ? "ETH" : "BTC", "USD", 0);
    struct fake f;
    struct sse_resume r;
    struct sse_sub *s = sub_with(h, &f, 1, 1, 50, btc_usd, 1, &r);
    expect_resume(&r, SSE_RESUME_REPLAY, 50, 10, 100, 5);
    read_ids(h, s, 60, 100, 20);
    read_parked(h, s);
    assert_int_equal(stats(h).delivered, 3);
}

static void test_filter_heartbeat(void **state)
{
    (void)state;
    /* skipped frames are not activity: an idle filtered stream still gets
     * its heartbeat */
    struct sse_hub *h = hub_new(16, 10);
    struct fake f;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, btc_usd, 1, NULL);
    read_parked(h, s);
    publish_ev(h, 1, "ETH", "USD", 0);
    read_parked(h, s);
    sse_hub_heartbeat(h);
    read_expect(h, s, ": heartbeat\n\n");
    read_parked(h, s);
    assert_int_equal(f.violations, 0);
}

/* ---- threads: filters under concurrency ---- */

#define FSTRESS_FRAMES 6000 /* a third each of BTC/USD, ETH/EUR, no meta */

static void *fpublisher_main(void *arg)
{
    struct sse_hub *h = arg;
    for (int i = 1; i <= FSTRESS_FRAMES; i++) {
        if (i % 3 == 2)
            publish_ev(h, (uint64_t)i, NULL, NULL, 0);
        else
            publish_ev(h, (uint64_t)i, i % 3 ? "ETH" : "BTC", i % 3 ? "EUR" : "USD", 0);
    }
    return NULL;
}

static void test_filter_threads(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(FSTRESS_FRAMES, 8);
    static const struct rc_pair *filters[2] = {btc_usd, btc_eth};
    static const size_t nfilters[2] = {1, 2};
    struct treader rd[2];
    pthread_t th[2], pt;
    for (int i = 0; i < 2; i++) {
        treader_init(&rd[i], h, 97, (FSTRESS_FRAMES / 3) * (long)nfilters[i], 64 * FSTRESS_FRAMES);
        struct sse_sub_params p = {.pairs = filters[i],
                                   .npairs = nfilters[i],
                                   .park = tr_park,
                                   .wake = tr_wake,
                                   .ctx = &rd[i]};
        struct sse_resume r;
        rd[i].sub = sse_hub_subscribe(h, &p, &r);
        assert_non_null(rd[i].sub);
        assert_int_equal(pthread_create(&th[i], NULL, treader_main, &rd[i]), 0);
    }
    assert_int_equal(pthread_create(&pt, NULL, fpublisher_main, h), 0);
    pthread_join(pt, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        treader_check(&rd[i], i);
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
        treader_destroy(&rd[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_tags),
        hub_test(test_filter_set_match_clear),
        hub_test(test_filter_cases),
        hub_test(test_filter_parked_woken_by_others),
        hub_test(test_filter_skipping_does_not_lag),
        hub_test(test_filter_with_replay),
        hub_test(test_filter_heartbeat),
        hub_test(test_filter_threads),
    };
    return cmocka_run_group_tests_name("pair_filter", tests, NULL, NULL);
}
