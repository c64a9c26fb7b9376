/* Unit tests for common/rc_pairs.h: "BTC/USD,ETH/USD" lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rc_pairs.h"

static void assert_pair(const struct rc_pair *p, const char *base, const char *quote)
{
    assert_string_equal(p->base, base);
    assert_string_equal(p->quote, quote);
}

static void expect_reject(const char *s, size_t max)
{
    struct rc_pair out[RC_PAIRS_MAX];
    char err[256] = "";
    int n = rc_pairs_parse(s, out, max, err, sizeof err);
    if (n != -1)
        print_error("'%s' accepted (%d pairs)\n", s, n);
    assert_int_equal(n, -1);
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n'));
}

static void test_single(void **state)
{
    (void)state;
    struct rc_pair out[4];
    char err[128] = "";
    assert_int_equal(rc_pairs_parse("BTC/USD", out, 4, err, sizeof err), 1);
    assert_pair(&out[0], "BTC", "USD");
}

static void test_uppercased(void **state)
{
    (void)state;
    struct rc_pair out[4];
    char err[128];
    assert_int_equal(rc_pairs_parse("btc/usd", out, 4, err, sizeof err), 1);
    assert_pair(&out[0], "BTC", "USD");
    assert_int_equal(rc_pairs_parse("eTh_2/uSdT9", out, 4, err, sizeof err), 1);
    assert_pair(&out[0], "ETH_2", "USDT9");
}

static void test_several_trimmed(void **state)
{
    (void)state;
    struct rc_pair out[4];
    char err[128];
    assert_int_equal(rc_pairs_parse(" BTC/USD , ETH/USD ", out, 4, err, sizeof err), 2);
    assert_pair(&out[0], "BTC", "USD");
    assert_pair(&out[1], "ETH", "USD");
    assert_int_equal(rc_pairs_parse("\tBTC/EUR\n,\r\nETH/BTC\t", out, 4, err, sizeof err), 2);
    assert_pair(&out[0], "BTC", "EUR");
    assert_pair(&out[1], "ETH", "BTC");
    assert_int_equal(rc_pairs_parse("A/B,C/D,E/F", out, 4, err, sizeof err), 3);
    assert_pair(&out[0], "A", "B");
    assert_pair(&out[1], "C", "D");
    assert_pair(&out[2], "E", "F");
}

static void test_duplicates_dropped(void **state)
{
    (void)state;
    struct rc_pair out[4];
    char err[128];
    assert_int_equal(rc_pairs_parse("BTC/USD,BTC/USD", out, 4, err, sizeof err), 1);
    assert_pair(&out[0], "BTC", "USD");
    /* duplicates after upper-casing and trimming, order of first sight kept */
    assert_int_equal(
        rc_pairs_parse("ETH/USD, btc/usd ,BTC/USD,eth/usd,Btc/Usd", out, 4, err, sizeof err), 2);
    assert_pair(&out[0], "ETH", "USD");
    assert_pair(&out[1], "BTC", "USD");
    /* the reverse pair is a different pair */
    assert_int_equal(rc_pairs_parse("BTC/USD,USD/BTC", out, 4, err, sizeof err), 2);
}

static void test_max_enforced(void **state)
{
    (void)state;
    struct rc_pair out[RC_PAIRS_MAX];
    char err[128] = "";
    assert_int_equal(rc_pairs_parse("A/B,C/D", out, 2, err, sizeof err), 2);
    assert_int_equal(rc_pairs_parse("A/B,C/D,E/F", out, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "2"));
    /* duplicates do not count against the limit */
    assert_int_equal(rc_pairs_parse("A/B,A/B,C/D,a/b,c/d", out, 2, err, sizeof err), 2);
    assert_int_equal(rc_pairs_parse("A/B", out, 1, err, sizeof err), 1);
    err[0] = '\0';
    assert_int_equal(rc_pairs_parse("A/B", out, 0, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void test_max_writes_no_further(void **state)
{
    (void)state;
    /* out has exactly max slots; a canary after them must survive. */
    struct rc_pair out[3];
    memset(&out[2], 0x5A, sizeof out[2]);
    char err[128];
    assert_int_equal(rc_pairs_parse("A/B,C/D,E/F,G/H", out, 2, err, sizeof err), -1);
    const unsigned char *c = (const unsigned char *)&out[2];
    for (size_t i = 0; i < sizeof out[2]; i++)
        assert_int_equal(c[i], 0x5A);
}

static void test_rc_pairs_max(void **state)
{
    (void)state;
    /* RC_PAIRS_MAX distinct pairs fit; one more does not. */
    char s[RC_PAIRS_MAX * 16];
    size_t n = 0;
    for (int i = 0; i <= RC_PAIRS_MAX; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "%sA%d/USD", i ? "," : "", i);
    struct rc_pair out[RC_PAIRS_MAX];
    char err[128];
    assert_int_equal(rc_pairs_parse(s, out, RC_PAIRS_MAX, err, sizeof err), -1);
    *strrchr(s, ',') = '\0';
    assert_int_equal(rc_pairs_parse(s, out, RC_PAIRS_MAX, err, sizeof err), RC_PAIRS_MAX);
    assert_pair(&out[RC_PAIRS_MAX - 1], "A63", "USD");
}

static void test_asset_lengths(void **state)
{
    (void)state;
    struct rc_pair out[2];
    char err[128];
    assert_int_equal(
        rc_pairs_parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345/abcdefghijklmnopqrstuvwxyz012345", out, 2,
                       err, sizeof err),
        1);
    assert_pair(&out[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    expect_reject("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456/USD", 2);
    expect_reject("BTC/ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 2);
}

static void test_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        " ",
        ",",
        "BTC",
        "BTC/",
        "/USD",
        "/",
        "BTC/USD/EUR",
        "BTC/US D",
        "BTC/USD,",
        ",BTC/USD",
        "BTC/USD,,ETH/USD",
        "BTC /USD",
        "BTC/ USD",
        "BTC-USD",
        "BTC\\USD",
        "BTC/USD;ETH/USD",
        "B\xc3\xa9/USD",
        "BTC/U$D",
        "BTC/USD, ",
        "BTC/USD,ETH",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i], 4);
}

static void test_err_names_item(void **state)
{
    (void)state;
    struct rc_pair out[4];
    char err[256] = "";
    assert_int_equal(rc_pairs_parse("BTC/USD,NOPE", out, 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "NOPE"));
    /* a very long item is cut in the message, not overflowing it */
    char big[600];
    memset(big, 'X', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char small[32];
    assert_int_equal(rc_pairs_parse(big, out, 4, small, sizeof small), -1);
    assert_non_null(memchr(small, '\0', sizeof small));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),          cmocka_unit_test(test_uppercased),
        cmocka_unit_test(test_several_trimmed), cmocka_unit_test(test_duplicates_dropped),
        cmocka_unit_test(test_max_enforced),    cmocka_unit_test(test_max_writes_no_further),
        cmocka_unit_test(test_rc_pairs_max),    cmocka_unit_test(test_asset_lengths),
        cmocka_unit_test(test_rejects),         cmocka_unit_test(test_err_names_item),
    };
    return cmocka_run_group_tests_name("pairs", tests, NULL, NULL);
}
