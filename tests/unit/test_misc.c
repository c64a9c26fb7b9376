/* Unit tests for small helpers: rc_url_redact, sse_consumer_pick_id,
 * rc_backoff, sse_metrics_render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_amqp.h"
#include "rc_time.h"

#include "../../sse-server/consumer.h"
#include "../../sse-server/metrics.h"

/* ---- rc_url_redact ---- */

static void expect_redact(const char *url, const char *want)
{
    char out[256];
    memset(out, 'Z', sizeof out);
    rc_url_redact(url, out, sizeof out);
    if (strcmp(out, want) != 0)
        print_error("redact '%s' -> '%s', want '%s'\n", url, out, want);
    assert_string_equal(out, want);
}

static void test_redact_password(void **state)
{
    (void)state;
    expect_redact("amqp://guest:guest@127.0.0.1:5672/%2f", "amqp://guest:***@127.0.0.1:5672/%2f");
    expect_redact("amqp://user:hunter2@broker", "amqp://user:***@broker");
    expect_redact("amqps://u:p%40ss@h:5671/v", "amqps://u:***@h:5671/v");
    expect_redact("amqp://:secret@h", "amqp://:***@h");
    expect_redact("amqp://u:@h", "amqp://u:***@h");
    /* a ':' inside the password is still all password */
    expect_redact("amqp://u:p:q@h", "amqp://u:***@h");
    /* an '@' in the path after real userinfo does not matter */
    expect_redact("amqp://u:p@h/v@x", "amqp://u:***@h/v@x");
}

static void test_redact_no_password(void **state)
{
    (void)state;
    expect_redact("amqp://guest@127.0.0.1:5672/", "amqp://guest@127.0.0.1:5672/");
    expect_redact("amqp://127.0.0.1:5672/%2f", "amqp://127.0.0.1:5672/%2f");
    expect_redact("amqp://h", "amqp://h");
    expect_redact("", "");
    expect_redact("not a url", "not a url");
    expect_redact("u:p@h", "u:p@h"); /* no scheme: nothing recognisable */
}

static void test_redact_never_leaks_password(void **state)
{
    (void)state;
    /* Whatever the output, the password must not appear in it. */
    static const char *urls[] = {
        "amqp://u:SECRETPW@h:5672/v@x",
        "amqp://u:SECRETPW@h/",
        "amqp://u:SECRETPW@h:1/%2f?x=@",
        "amqp://u:SECRETPW@",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char out[256];
        rc_url_redact(urls[i], out, sizeof out);
        assert_null(strstr(out, "SECRETPW"));
    }
}

static void test_redact_truncates(void **state)
{
    (void)state;
    char out[12];
    memset(out, 'Z', sizeof out);
    rc_url_redact("amqp://user:verylongpassword@host:5672/%2f", out, sizeof out);
    assert_non_null(memchr(out, '\0', sizeof out));
    assert_null(strstr(out, "verylong"));
    memset(out, 'Z', sizeof out);
    rc_url_redact("amqp://a-very-long-host-name:5672", out, sizeof out);
    assert_non_null(memchr(out, '\0', sizeof out));
}

static void test_redact_at_in_path(void **state)
{
    (void)state;
    /* No userinfo, but an '@' in the path (or query). */
    const char *url = "amqp://broker:5672/vhost@prod";
    char out[256];
    rc_url_redact(url, out, sizeof out);
    int unchanged = strcmp(out, url) == 0;
    assert_true(unchanged);
    /* And with credentials, only the password goes. */
    rc_url_redact("amqp://u:p@h:5672/v@x", out, sizeof out);
    assert_string_equal(out, "amqp://u:***@h:5672/v@x");
}

/* ---- sse_consumer_pick_id ---- */

static void test_pick_id(void **state)
{
    (void)state;
    assert_int_equal(sse_consumer_pick_id("10", 5), 10); /* above: taken */
    assert_int_equal(sse_consumer_pick_id("6", 5), 6);
    assert_int_equal(sse_consumer_pick_id("5", 5), 6); /* equal */
    assert_int_equal(sse_consumer_pick_id("4", 5), 6); /* below */
    assert_int_equal(sse_consumer_pick_id("0", 5), 6);
    assert_int_equal(sse_consumer_pick_id("1", 0), 1);
    assert_int_equal(sse_consumer_pick_id("0", 0), 1); /* 0 is not above 0 */
    assert_int_equal(sse_consumer_pick_id("", 5), 6);  /* empty */
    assert_int_equal(sse_consumer_pick_id(NULL, 5), 6);
    assert_int_equal(sse_consumer_pick_id(NULL, 0), 1);
    assert_int_equal(sse_consumer_pick_id("abc", 5), 6); /* non-decimal */
    assert_int_equal(sse_consumer_pick_id("12abc", 5), 6);
    assert_int_equal(sse_consumer_pick_id("12 ", 5), 6);
    assert_int_equal(sse_consumer_pick_id(" 12", 5), 6);
    assert_int_equal(sse_consumer_pick_id("+12", 5), 6);
    assert_int_equal(sse_consumer_pick_id("-12", 5), 6);
    assert_int_equal(sse_consumer_pick_id("0x20", 5), 6);
    assert_int_equal(sse_consumer_pick_id("1e3", 5), 6);
    assert_int_equal(sse_consumer_pick_id("12.0", 5), 6);
    assert_int_equal(sse_consumer_pick_id("0012", 5), 12); /* leading zeros are decimal */
    assert_int_equal(sse_consumer_pick_id("1234567890123456789012345", 5), 6); /* overflow */
    assert_int_equal(sse_consumer_pick_id("18446744073709551616", 5), 6);      /* UINT64_MAX + 1 */
    /* At or past 2^63: refused (SSE_ID_MAX), so the id space cannot be used up. */
    assert_int_equal(sse_consumer_pick_id("18446744073709551615", 5), 6);
    assert_int_equal(sse_consumer_pick_id("18446744073709551614", 0), 1);
    /* a uuid-style message_id (what many producers send) */
    assert_int_equal(sse_consumer_pick_id("6f1c2a9e-0000-4000-8000-000000000000", 41), 42);
}

static void test_pick_id_never_backwards(void **state)
{
    (void)state;
    /* Feed a sequence of mixed ids; the result must strictly increase. */
    static const char *ids[] = {"3", NULL, "2", "10", "", "x", "10", "11", "9", "100", "abc"};
    uint64_t last = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint64_t id = sse_consumer_pick_id(ids[i], last);
        assert_true(id > last);
        last = id;
    }
    assert_int_equal(last, 101);
}

static void test_pick_id_at_max(void **state)
{
    (void)state;
    /* A producer's message_id "18446744073709551615" sets last to
     * UINT64_MAX; what comes next? */
    uint64_t next = sse_consumer_pick_id(NULL, UINT64_MAX);
    uint64_t next2 = sse_consumer_pick_id("5", UINT64_MAX);
    /* Saturates: never backwards, never 0. */
    assert_true(next == UINT64_MAX && next2 == UINT64_MAX);
    /* Producer ids at or past 2^63 are not taken. */
    assert_int_equal(sse_consumer_pick_id("18446744073709551615", 5), 6);
    assert_int_equal(sse_consumer_pick_id("9223372036854775808", 5), 6);
    assert_int_equal(sse_consumer_pick_id("9223372036854775807", 5), UINT64_C(9223372036854775807));
}

/* ---- rc_backoff ---- */

static void test_backoff_range_and_growth(void **state)
{
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        struct rc_backoff b = {.base_ms = 100, .cap_ms = 3000, .cur_ms = 0};
        static const int64_t expect_cur[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
        for (size_t i = 0; i < sizeof expect_cur / sizeof expect_cur[0]; i++) {
            int64_t d = rc_backoff_next(&b);
            assert_int_equal(b.cur_ms, expect_cur[i]);
            assert_true(d >= expect_cur[i] / 2);
            assert_true(d <= expect_cur[i]);
        }
    }
}

static void test_backoff_jitter_spread(void **state)
{
    (void)state;
    /* Over many draws the delay covers both halves of [cur/2, cur]. */
    int low = 0, high = 0, at_min = 0, at_max = 0;
    for (int i = 0; i < 4000; i++) {
        struct rc_backoff b = {.base_ms = 10, .cap_ms = 10, .cur_ms = 0};
        int64_t d = rc_backoff_next(&b);
        assert_true(d >= 5 && d <= 10);
        if (d < 8)
            low++;
        else
            high++;
        at_min += d == 5;
        at_max += d == 10;
    }
    assert_true(low > 100);
    assert_true(high > 100);
    assert_true(at_min > 0); /* both ends are reachable */
    assert_true(at_max > 0);
}

static void test_backoff_reset(void **state)
{
    (void)state;
    struct rc_backoff b = {.base_ms = 50, .cap_ms = 1000, .cur_ms = 0};
    for (int i = 0; i < 10; i++)
        (void)rc_backoff_next(&b);
    assert_int_equal(b.cur_ms, 1000);
    rc_backoff_reset(&b);
    assert_int_equal(b.cur_ms, 0);
    int64_t d = rc_backoff_next(&b);
    assert_int_equal(b.cur_ms, 50);
    assert_true(d >= 25 && d <= 50);
}

static void test_backoff_edges(void **state)
{
    (void)state;
    /* cap below base: capped from the first delay */
    struct rc_backoff b = {.base_ms = 5000, .cap_ms = 1000, .cur_ms = 0};
    int64_t d = rc_backoff_next(&b);
    assert_true(d >= 500 && d <= 1000);
    /* base 1 ms */
    struct rc_backoff c = {.base_ms = 1, .cap_ms = 4, .cur_ms = 0};
    d = rc_backoff_next(&c);
    assert_true(d >= 0 && d <= 1);
    d = rc_backoff_next(&c);
    assert_true(d >= 1 && d <= 2);
    /* a large cap does not overflow while doubling */
    struct rc_backoff e = {.base_ms = 1000, .cap_ms = INT64_MAX / 4, .cur_ms = 0};
    for (int i = 0; i < 80; i++) {
        d = rc_backoff_next(&e);
        assert_true(d > 0);
        assert_true(e.cur_ms <= INT64_MAX / 4);
    }
}

static void test_rand_below(void **state)
{
    (void)state;
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = rc_rand_below(7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 500);
    assert_int_equal(rc_rand_below(1), 0);
}

/* ---- sse_metrics_render ---- */

static void expect_line(const char *text, const char *line)
{
    /* a full line: preceded by a newline (or start) and followed by one */
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s\n", line);
    int found = strstr(text, needle) != NULL ||
                (strncmp(text, line, strlen(line)) == 0 && text[strlen(line)] == '\n');
    if (!found)
        print_error("metrics lack line '%s'\n%s\n", line, text);
    assert_true(found);
}

static void test_metrics_render(void **state)
{
    (void)state;
    struct sse_hub_stats hs = {.subscribers = 3,
                               .subscribed = 11,
                               .rejected_full = 2,
                               .published = 12345678901234ULL,
                               .lagged = 4,
                               .hangups = 6};
    struct sse_consumer_stats cs;
    atomic_init(&cs.received, 100);
    atomic_init(&cs.invalid, 7);
    atomic_init(&cs.connects, 5);
    atomic_init(&cs.connected, 1);
    size_t len = 0;
    char *t = sse_metrics_render(&hs, &cs, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    assert_true(len > 0);
    assert_int_equal(t[len - 1], '\n');
    expect_line(t, "sse_clients 3");
    expect_line(t, "sse_clients_total 11");
    expect_line(t, "sse_clients_rejected_total 2");
    expect_line(t, "sse_clients_lagged_total 4");
    expect_line(t, "sse_clients_hangups_total 6");
    expect_line(t, "sse_events_total 12345678901234");
    expect_line(t, "sse_broker_messages_total 100");
    expect_line(t, "sse_broker_invalid_messages_total 7");
    expect_line(t, "sse_broker_connects_total 5");
    expect_line(t, "sse_broker_connected 1");
    expect_line(t, "# TYPE sse_clients gauge");
    expect_line(t, "# TYPE sse_clients_total counter");
    expect_line(t, "# TYPE sse_broker_connected gauge");
    expect_line(t, "# TYPE sse_events_total counter");
    /* every line is a comment or "name value", no blank lines */
    int samples = 0;
    for (char *line = t; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(nl > line);
        if (line[0] != '#') {
            samples++;
            char *sp = memchr(line, ' ', (size_t)(nl - line));
            assert_non_null(sp);
            /* every sample has its HELP and TYPE */
            char meta[160];
            snprintf(meta, sizeof meta, "# HELP %.*s ", (int)(sp - line), line);
            assert_non_null(strstr(t, meta));
            snprintf(meta, sizeof meta, "# TYPE %.*s ", (int)(sp - line), line);
            assert_non_null(strstr(t, meta));
            for (char *p = sp + 1; p < nl; p++)
                assert_true(*p >= '0' && *p <= '9');
        } else {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
        }
        line = nl + 1;
    }
    assert_true(samples >= 10); /* the ten above; more may be added */
    free(t);
}

static void test_metrics_zero_and_max(void **state)
{
    (void)state;
    struct sse_hub_stats hs;
    memset(&hs, 0, sizeof hs);
    struct sse_consumer_stats cs;
    atomic_init(&cs.received, 0);
    atomic_init(&cs.invalid, 0);
    atomic_init(&cs.connects, 0);
    atomic_init(&cs.connected, 0);
    size_t len;
    char *t = sse_metrics_render(&hs, &cs, &len);
    assert_non_null(t);
    expect_line(t, "sse_clients 0");
    expect_line(t, "sse_broker_connected 0");
    free(t);
    hs.published = UINT64_MAX;
    hs.subscribed = UINT64_MAX;
    hs.rejected_full = UINT64_MAX;
    hs.lagged = UINT64_MAX;
    hs.subscribers = UINT32_MAX;
    atomic_store(&cs.received, UINT64_MAX);
    atomic_store(&cs.invalid, UINT64_MAX);
    atomic_store(&cs.connects, UINT64_MAX);
    t = sse_metrics_render(&hs, &cs, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    expect_line(t, "sse_events_total 18446744073709551615");
    expect_line(t, "sse_broker_messages_total 18446744073709551615");
    expect_line(t, "sse_clients 4294967295");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_password),
        cmocka_unit_test(test_redact_no_password),
        cmocka_unit_test(test_redact_never_leaks_password),
        cmocka_unit_test(test_redact_truncates),
        cmocka_unit_test(test_redact_at_in_path),
        cmocka_unit_test(test_pick_id),
        cmocka_unit_test(test_pick_id_never_backwards),
        cmocka_unit_test(test_pick_id_at_max),
        cmocka_unit_test(test_backoff_range_and_growth),
        cmocka_unit_test(test_backoff_jitter_spread),
        cmocka_unit_test(test_backoff_reset),
        cmocka_unit_test(test_backoff_edges),
        cmocka_unit_test(test_rand_below),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_metrics_zero_and_max),
    };
    return cmocka_run_group_tests_name("misc", tests, NULL, NULL);
}
