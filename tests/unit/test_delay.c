/* Unit tests for sse-server/delay.h (the delivery-delay histogram) and for
 * what the hub records into it: one sample per event per client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hub_fixture.h"

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

static void test_record(void **state)
{
    (void)state;
    static const struct {
        int64_t d_us;
        size_t bucket;
    } cases[] = {
        {-5000000, 0}, /* the producer's clock ahead of ours: no negative delay */
        {0, 0},
        {1000, 0}, /* on a bound: in its bucket */
        {1001, 1},
        {5000, 1},
        {30000, 4},
        {10000000, SSE_DELAY_BUCKETS - 1},
        {10000001, SSE_DELAY_BUCKETS}, /* past the last bound: the overflow bucket */
        {INT64_C(86400000000), SSE_DELAY_BUCKETS},
    };
    struct sse_delay_hist d;
    memset(&d, 0, sizeof d);
    uint64_t want[SSE_DELAY_BUCKETS + 1] = {0};
    double sum = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sse_delay_record(&d, cases[i].d_us);
        want[cases[i].bucket]++;
        sum += cases[i].d_us > 0 ? (double)cases[i].d_us / 1e6 : 0;
        assert_memory_equal(d.count, want, sizeof want);
        assert_true(d.sum_s > sum - 1e-6 && d.sum_s < sum + 1e-6);
    }
}

static void test_delivered_counts(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
    struct fake fa, fb;
    struct sse_sub *a = sub_with(h, &fa, 0, 0, 0, NULL, 0, NULL);
    struct sse_sub *b = sub_with(h, &fb, 0, 0, 0, NULL, 0, NULL);
    assert_int_equal(sse_hub_set_greeting(a, ": hi\n\n", 6), 0);
    publish_evs(h, "1 BTC/USD 2 -/-");
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
}

static void test_delay_histogram(void **state)
{
    (void)state;
    struct sse_hub *h = hub_new(16, 10);
    struct fake f;
    struct sse_sub *s = sub_with(h, &f, 0, 0, 0, NULL, 0, NULL);
    /* Each delay measured is the age given to the stamp plus the window
     * from stamping to the end of the read, which a loaded machine can
     * stretch: every window is timed, and the bounds allow what it took
     * (slack: their sum, for the cumulative sum_s). 1 ms more for
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
    struct sse_sub *t = sub_with(h, &g, 0, 0, 0, NULL, 0, NULL);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_delay_bounds),
        hub_test(test_record),
        hub_test(test_delivered_counts),
        hub_test(test_delay_histogram),
    };
    return cmocka_run_group_tests_name("delay", tests, NULL, NULL);
}
