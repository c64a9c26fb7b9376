/* Unit tests for the pure helpers of the stream and HTTP modules:
 * sse_event_id_parse (sse-server/event_id.h), sse_parse_since (sse-server/stream.h) and
 * sse_origin_allowed (sse-server/cors.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sse-server/cors.h"
#include "../../sse-server/event_id.h"
#include "../../sse-server/stream.h"

/* ---- sse_event_id_parse ---- */

#define SENTINEL UINT64_C(0xDEADBEEFCAFEF00D)

static void expect_id(const char *s, uint64_t want)
{
    uint64_t id = SENTINEL;
    int rc = sse_event_id_parse(s, &id);
    if (rc != 0 || id != want)
        print_error("parse '%s' -> rc %d id %llu, want %llu\n", s, rc, (unsigned long long)id,
                    (unsigned long long)want);
    assert_int_equal(rc, 0);
    assert_int_equal(id, want);
}

static void expect_bad_id(const char *s)
{
    uint64_t id = SENTINEL;
    int rc = sse_event_id_parse(s, &id);
    if (rc != -1)
        print_error("parse '%s' accepted (id %llu), want rejected\n", s, (unsigned long long)id);
    assert_int_equal(rc, -1);
    assert_int_equal(id, SENTINEL); /* untouched on failure */
}

static void test_event_id_accepted(void **state)
{
    (void)state;
    expect_id("1", 1);
    expect_id("42", 42);
    expect_id("1795833079565590", UINT64_C(1795833079565590));
    /* 2^63 - 1: the largest id (SSE_ID_MAX is 2^63) */
    expect_id("9223372036854775807", UINT64_C(9223372036854775807));
    /* exactly 19 digits, below 2^63 */
    expect_id("1000000000000000000", UINT64_C(1000000000000000000));
    /* leading zeros are decimal, and count towards the 19 digits */
    expect_id("0012", 12);
    expect_id("0000000000000000001", 1);
}

static void test_event_id_zero(void **state)
{
    (void)state;
    /* "0" is 1 digit below 2^63, and the code accepts it as id 0 (the
     * header's "1 to 19 decimal digits below 2^63" is about digits, not a
     * minimum value). The hub then treats last_id 0 as older than any kept
     * event: a reset, not an error. */
    expect_id("0", 0);
    expect_id("000", 0);
}

static void test_event_id_range(void **state)
{
    (void)state;
    expect_bad_id("9223372036854775808");  /* 2^63 */
    expect_bad_id("9999999999999999999");  /* 19 digits, above 2^63 */
    expect_bad_id("18446744073709551615"); /* UINT64_MAX, 20 digits */
    expect_bad_id("10000000000000000000"); /* 20 digits */
    expect_bad_id("00000000000000000001"); /* 20 digits, even though small */
    expect_bad_id("18446744073709551616"); /* wraps a uint64 */
    expect_bad_id("123456789012345678901234567890");
}

static void test_event_id_syntax(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",     "-1",  "-0",  "12a", " 12", "12 ", "+1", "1e3",
        "0x10", "1.0", "1,2", "abc", "\t1", "1\n", "１", /* fullwidth digit one */
        "12\r", "1 2", " ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_id(bad[i]);
}

/* ---- sse_origin_allowed ---- */

static void test_origin_star(void **state)
{
    (void)state;
    assert_int_equal(sse_origin_allowed("*", "https://a.example"), 1);
    assert_int_equal(sse_origin_allowed("*", "http://localhost:4200"), 1);
    assert_int_equal(sse_origin_allowed("*", "null"), 1);
    assert_int_equal(sse_origin_allowed("*", ""), 1);
}

static void test_origin_list(void **state)
{
    (void)state;
    const char *list = "https://a.example,https://b.example";
    assert_int_equal(sse_origin_allowed(list, "https://a.example"), 1);
    assert_int_equal(sse_origin_allowed(list, "https://b.example"), 1);
    /* exact matches only */
    assert_int_equal(sse_origin_allowed(list, "https://a.example.evil"), 0);
    assert_int_equal(sse_origin_allowed(list, "https://a.exampl"), 0); /* a prefix */
    assert_int_equal(sse_origin_allowed(list, "https://a"), 0);
    assert_int_equal(sse_origin_allowed(list, "https://evil.a.example"), 0);
    assert_int_equal(sse_origin_allowed(list, "http://a.example"), 0); /* other scheme */
    assert_int_equal(sse_origin_allowed(list, "https://a.example:443"), 0);
    assert_int_equal(sse_origin_allowed(list, "https://c.example"), 0);
    assert_int_equal(sse_origin_allowed(list, ""), 0);
    assert_int_equal(sse_origin_allowed(list, "null"), 0);
    assert_int_equal(sse_origin_allowed(list, "*"), 0);
    /* the whole list is not an origin */
    assert_int_equal(sse_origin_allowed(list, list), 0);
    assert_int_equal(sse_origin_allowed(list, "https://a.example,"), 0);
    /* one entry */
    assert_int_equal(sse_origin_allowed("http://localhost:4200", "http://localhost:4200"), 1);
    assert_int_equal(sse_origin_allowed("http://localhost:4200", "http://localhost:42"), 0);
    assert_int_equal(sse_origin_allowed("http://localhost:4200", "http://localhost:42000"), 0);
}

static void test_origin_list_spaces(void **state)
{
    (void)state;
    const char *list = "  https://a.example , https://b.example  ,https://c.example ";
    assert_int_equal(sse_origin_allowed(list, "https://a.example"), 1);
    assert_int_equal(sse_origin_allowed(list, "https://b.example"), 1);
    assert_int_equal(sse_origin_allowed(list, "https://c.example"), 1);
    assert_int_equal(sse_origin_allowed(list, " https://a.example"), 0);
    assert_int_equal(sse_origin_allowed(list, "https://a.example "), 0);
    assert_int_equal(sse_origin_allowed(list, ""), 0);
    assert_int_equal(sse_origin_allowed(list, " "), 0);
    /* empty items and an empty list allow nothing */
    assert_int_equal(sse_origin_allowed(",,https://a.example,,", "https://a.example"), 1);
    assert_int_equal(sse_origin_allowed(",,", ""), 0);
    assert_int_equal(sse_origin_allowed("", ""), 0);
    assert_int_equal(sse_origin_allowed("", "https://a.example"), 0);
    /* "*" inside a list is not the wildcard */
    assert_int_equal(sse_origin_allowed("https://a.example,*", "https://b.example"), 0);
}

/* ---- sse_parse_since ---- */

#define NOW INT64_C(1795835057727362) /* 2026-11-28T03:04:17.727362Z */

static void test_since_accepted(void **state)
{
    (void)state;
    int64_t from = 0;
    assert_int_equal(sse_parse_since("15m", NOW, &from), 0);
    assert_int_equal(from, NOW - INT64_C(900000000));
    assert_int_equal(sse_parse_since("30s", NOW, &from), 0);
    assert_int_equal(from, NOW - INT64_C(30000000));
    assert_int_equal(sse_parse_since("2h", NOW, &from), 0);
    assert_int_equal(from, NOW - INT64_C(7200000000));
    assert_int_equal(sse_parse_since("500ms", NOW, &from), 0);
    assert_int_equal(from, NOW - 500000);
    /* further back than the epoch: everything kept (1, as 0 means none) */
    assert_int_equal(sse_parse_since("1000000h", NOW, &from), 0);
    assert_int_equal(from, 1);
    assert_int_equal(sse_parse_since("9223372036854775807ms", NOW, &from), 0);
    assert_int_equal(from, 1);
}

static void test_since_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "0",
                         "15",
                         "-5m",
                         "15 m",
                         "m",
                         "15min",
                         "1.5h",
                         "15M",
                         "abc",
                         "99999999999999999999h",
                         "15m;",
                         " 15m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t from = 42;
        if (sse_parse_since(bad[i], NOW, &from) != -1)
            print_error("'%s' accepted\n", bad[i]);
        assert_int_equal(sse_parse_since(bad[i], NOW, &from), -1);
        assert_int_equal(from, 42); /* untouched */
    }
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_id_accepted),
        cmocka_unit_test(test_event_id_zero),
        cmocka_unit_test(test_event_id_range),
        cmocka_unit_test(test_event_id_syntax),
        cmocka_unit_test(test_origin_star),
        cmocka_unit_test(test_origin_list),
        cmocka_unit_test(test_origin_list_spaces),
        cmocka_unit_test(test_since_accepted),
        cmocka_unit_test(test_since_refused),
    };
    /* clang-format on */
    return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
