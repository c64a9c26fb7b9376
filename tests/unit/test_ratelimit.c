/* Unit tests for common/rc_ratelimit.h: the one limiter of repeated log
 * lines, driven with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "rc_ratelimit.h"

/* allow() at now_ms, checking its answer and the count it hands over. */
static void expect(struct rc_ratelimit *rl, int64_t now_ms, int ok, uint64_t suppressed)
{
    uint64_t n = 12345;
    assert_int_equal(rc_ratelimit_allow(rl, now_ms, &n), ok);
    assert_int_equal(n, suppressed);
}

/* The first line ever is logged, whatever the clock says (a monotonic
 * clock may be below one window right after boot). */
static void test_first_line_at_time_zero(void **state)
{
    (void)state;
    struct rc_ratelimit rl;
    rc_ratelimit_init(&rl, 1, 10000);
    expect(&rl, 0, 1, 0);
    expect(&rl, 1, 0, 0);
}

static void test_burst_then_count(void **state)
{
    (void)state;
    struct rc_ratelimit rl;
    rc_ratelimit_init(&rl, 3, 1000);
    expect(&rl, 5000, 1, 0);
    expect(&rl, 5001, 1, 0);
    expect(&rl, 5500, 1, 0);
    expect(&rl, 5600, 0, 0); /* the fourth in the window */
    expect(&rl, 5700, 0, 0);
    expect(&rl, 5999, 0, 0); /* the window is still open */
    /* The next window opens with a line that says what was left out... */
    expect(&rl, 6000, 1, 3);
    /* ...once: the count starts again. */
    expect(&rl, 6001, 1, 0);
    expect(&rl, 6002, 1, 0);
    expect(&rl, 6003, 0, 0);
    expect(&rl, 9000, 1, 1);
}

/* A window starts with the first line after the last one ended, not on a
 * fixed grid: one line per window means at least window_ms between lines. */
static void test_window_starts_with_its_first_line(void **state)
{
    (void)state;
    struct rc_ratelimit rl;
    rc_ratelimit_init(&rl, 1, 10000);
    expect(&rl, 100, 1, 0);
    expect(&rl, 10099, 0, 0);
    expect(&rl, 10100, 1, 1);
    expect(&rl, 25000, 1, 0); /* a quiet spell: nothing was left out */
    expect(&rl, 34999, 0, 0);
    expect(&rl, 35000, 1, 1);
}

static void test_static_initializer(void **state)
{
    (void)state;
    static struct rc_ratelimit rl = RC_RATELIMIT_INITIALIZER(2, 50);
    expect(&rl, 7, 1, 0);
    expect(&rl, 8, 1, 0);
    expect(&rl, 9, 0, 0);
    expect(&rl, 57, 1, 1);
}

/* Limiters are independent: one kind of line does not silence another. */
static void test_limiters_are_independent(void **state)
{
    (void)state;
    struct rc_ratelimit a, b;
    rc_ratelimit_init(&a, 1, 1000);
    rc_ratelimit_init(&b, 1, 1000);
    expect(&a, 0, 1, 0);
    expect(&a, 1, 0, 0);
    expect(&b, 2, 1, 0);
    expect(&b, 3, 0, 0);
    expect(&b, 4, 0, 0);
    expect(&a, 1000, 1, 1);
    expect(&b, 1002, 1, 2);
}

/* Shared by threads: every call is counted exactly once, let through or
 * left out. */
#define THREADS 4
#define CALLS   10000
static struct rc_ratelimit shared = RC_RATELIMIT_INITIALIZER(5, 1000000);
static void *hammer(void *arg)
{
    uint64_t *allowed = arg, suppressed;
    for (int i = 0; i < CALLS; i++)
        *allowed += (uint64_t)rc_ratelimit_allow(&shared, 1, &suppressed);
    return NULL;
}

static void test_threads_count_every_call(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    uint64_t allowed[THREADS] = {0}, total = 0;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &allowed[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += allowed[i];
    }
    assert_int_equal(total, 5);
    /* The next window's first line hands over every one left out. */
    expect(&shared, 1000001, 1, (uint64_t)THREADS * CALLS - 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_at_time_zero),
        cmocka_unit_test(test_burst_then_count),
        cmocka_unit_test(test_window_starts_with_its_first_line),
        cmocka_unit_test(test_static_initializer),
        cmocka_unit_test(test_limiters_are_independent),
        cmocka_unit_test(test_threads_count_every_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
