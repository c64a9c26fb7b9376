/* Unit tests for fetcher/group.h: CoinAPI's all-rates answer split into
 * ticks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../fetcher/coinapi.h"
#include "../../fetcher/group.h"
#include "rc_pairs.h"

#define T1 "2026-11-28T02:31:19.5655909Z"
#define T2 "2026-11-28T02:31:19.4000000Z"
/* More digits than a double holds: printing a parsed double would differ. */
#define RATE_USD "60093.83349741237180123"
#define RATE_EUR "55012.0000000000000000001"

static const char *const QUOTES[] = {"USD", "EUR", "ETH"};
#define NQ 3

static char *entry(char *buf, size_t cap, const char *time, const char *quote, const char *rate)
{
    snprintf(buf, cap, "{\"time\":\"%s\",\"asset_id_quote\":\"%s\",\"rate\":%s}", time, quote,
             rate);
    return buf;
}

/* A grouped answer for base with the given entries (raw JSON, comma-joined). */
static char *answer(const char *base, const char *entries)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"asset_id_base\":\"%s\",\"rates\":[%s]}", base, entries);
    return buf;
}

static int parse(const char *body, struct fetch_group_item *items, char *err)
{
    return fetch_group_parse(body, strlen(body), "BTC", QUOTES, items, NQ, err, 256);
}

static void test_all_quotes_present(void **state)
{
    (void)state;
    char a[256], b[256], c[256], entries[1024], err[256] = "";
    struct fetch_group_item it[NQ];
    snprintf(entries, sizeof entries, "%s,%s,%s", entry(a, sizeof a, T2, "ETH", "19.5"),
             entry(b, sizeof b, T1, "USD", RATE_USD), entry(c, sizeof c, T2, "EUR", RATE_EUR));
    assert_int_equal(parse(answer("BTC", entries), it, err), 0);
    for (int i = 0; i < NQ; i++)
        assert_int_equal(it[i].state, FETCH_ITEM_OK);
    /* In the order asked, whatever the answer's order; the per-pair shape. */
    assert_string_equal(it[0].tick.json, "{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\","
                                         "\"asset_id_quote\":\"USD\",\"rate\":" RATE_USD "}");
    assert_string_equal(it[1].tick.json, "{\"time\":\"" T2 "\",\"asset_id_base\":\"BTC\","
                                         "\"asset_id_quote\":\"EUR\",\"rate\":" RATE_EUR "}");
    assert_string_equal(it[2].tick.quote, "ETH");
    assert_true(it[2].tick.rate == 19.5);
    fetch_group_clear(it, NQ);
}

/* Digit for digit, including a form a double would print otherwise. */
static void test_rate_text_kept(void **state)
{
    (void)state;
    static const char *const rates[] = {"0.000000012345678901234567", "1E+2", "3258.887541779804",
                                        "60000"};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        char e[256], want[512], err[256] = "";
        struct fetch_group_item it[NQ];
        assert_int_equal(parse(answer("BTC", entry(e, sizeof e, T1, "USD", rates[r])), it, err), 0);
        assert_int_equal(it[0].state, FETCH_ITEM_OK);
        snprintf(want, sizeof want,
                 "{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                 "\"rate\":%s}",
                 rates[r]);
        assert_string_equal(it[0].tick.json, want);
        fetch_group_clear(it, NQ);
    }
}

static void test_one_quote_missing(void **state)
{
    (void)state;
    char a[256], b[256], entries[1024], err[256] = "";
    struct fetch_group_item it[NQ];
    snprintf(entries, sizeof entries, "%s,%s", entry(a, sizeof a, T1, "USD", RATE_USD),
             entry(b, sizeof b, T1, "ETH", "19.5"));
    assert_int_equal(parse(answer("BTC", entries), it, err), 0);
    assert_int_equal(it[0].state, FETCH_ITEM_OK);
    assert_int_equal(it[1].state, FETCH_ITEM_MISSING);
    assert_null(it[1].tick.json);
    assert_int_equal(it[2].state, FETCH_ITEM_OK);
    fetch_group_clear(it, NQ);
}

static void test_empty_and_null_rates(void **state)
{
    (void)state;
    char err[256] = "";
    struct fetch_group_item it[NQ];
    assert_int_equal(parse(answer("BTC", ""), it, err), 0);
    for (int i = 0; i < NQ; i++)
        assert_int_equal(it[i].state, FETCH_ITEM_MISSING);
    assert_int_equal(parse("{\"asset_id_base\":\"BTC\",\"rates\":null}", it, err), 0);
    for (int i = 0; i < NQ; i++)
        assert_int_equal(it[i].state, FETCH_ITEM_MISSING);
}

/* Quotes not asked for are skipped, even when they would not be valid. */
static void test_extra_quotes_ignored(void **state)
{
    (void)state;
    char a[256], b[256], c[256], entries[1024], err[256] = "";
    struct fetch_group_item it[NQ];
    snprintf(entries, sizeof entries, "%s,%s,%s,42,{\"asset_id_quote\":\"JPY\"}",
             entry(a, sizeof a, T1, "GBP", "1e400"), entry(b, sizeof b, T1, "USD", RATE_USD),
             entry(c, sizeof c, T1, "CNY", "\"x\""));
    assert_int_equal(parse(answer("BTC", entries), it, err), 0);
    assert_int_equal(it[0].state, FETCH_ITEM_OK);
    assert_int_equal(it[1].state, FETCH_ITEM_MISSING);
    assert_int_equal(it[2].state, FETCH_ITEM_MISSING);
    fetch_group_clear(it, NQ);
}

static void test_wrong_base(void **state)
{
    (void)state;
    char a[256], err[256] = "";
    struct fetch_group_item it[NQ];
    assert_int_equal(parse(answer("ETH", entry(a, sizeof a, T1, "USD", "1.5")), it, err), -1);
    assert_string_equal(err, "answer names base ETH, not BTC");
    for (int i = 0; i < NQ; i++) {
        assert_int_equal(it[i].state, FETCH_ITEM_MISSING);
        assert_null(it[i].tick.json);
    }
    /* The base is compared like the per-pair endpoint's: case aside. */
    assert_int_equal(parse(answer("btc", entry(a, sizeof a, T1, "USD", "1.5")), it, err), 0);
    assert_int_equal(it[0].state, FETCH_ITEM_OK);
    fetch_group_clear(it, NQ);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"{\"asset_id_base\":\"BTC\",\"rates\":[{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\","
         "\"rate\":600",
         "not valid JSON"},
        {"", "empty body"},
        {"[]", "not a JSON object"},
        {"{\"asset_id_base\":\"BTC\",\"rates\":[]} x", "trailing data"},
        {"{\"asset_id_base\":\"BTC\"}", "\"rates\" is missing"},
        {"{\"asset_id_base\":\"BTC\",\"rates\":{}}", "not an array"},
        {"{\"asset_id_base\":\"BTC\",\"r\\u0061tes\":[]}", "written with escapes"},
        {"{\"rates\":[]}", "\"asset_id_base\" is missing"},
        {"{\"asset_id_base\":\"B-C\",\"rates\":[]}", "not an asset id"},
        {"{\"asset_id_base\":\"BTC\",\"rates\":[\x01]}", "control character"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char err[256] = "";
        struct fetch_group_item it[NQ];
        if (parse(bad[k].body, it, err) != -1 || strstr(err, bad[k].why) == NULL)
            fail_msg("body %zu: want -1 with \"%s\", got \"%s\"", k, bad[k].why, err);
    }
}

/* One bad entry spoils its own quote only. */
static void test_invalid_entries(void **state)
{
    (void)state;
    static const struct {
        const char *entry, *why;
    } bad[] = {
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":1e400}", "finite"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":-1}", "finite and positive"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":0}", "finite and positive"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":\"1.5\"}", "not a number"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\"}", "\"rate\" is missing"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"r\\u0061te\":1.5}", "escapes"},
        {"{\"time\":\"yesterday\",\"asset_id_quote\":\"USD\",\"rate\":1.5}", "ISO 8601"},
        {"{\"time\":\"x\\\",\\\"rate\\\":2,\\\"\",\"asset_id_quote\":\"USD\",\"rate\":1.5}",
         "not a plain string"},
        {"{\"asset_id_quote\":\"USD\",\"rate\":1.5}", "\"time\" is missing"},
        {"{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":1.5},"
         "{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\",\"rate\":1.6}",
         "more than one rate"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char e[256], entries[1024], err[256] = "";
        struct fetch_group_item it[NQ];
        snprintf(entries, sizeof entries, "%s,%s", entry(e, sizeof e, T1, "EUR", RATE_EUR),
                 bad[k].entry);
        assert_int_equal(parse(answer("BTC", entries), it, err), 0);
        if (it[0].state != FETCH_ITEM_INVALID || strstr(it[0].err, bad[k].why) == NULL)
            fail_msg("entry %zu: want invalid with \"%s\", got state %d \"%s\"", k, bad[k].why,
                     it[0].state, it[0].err);
        assert_null(it[0].tick.json);
        assert_int_equal(it[1].state, FETCH_ITEM_OK);
        assert_int_equal(it[2].state, FETCH_ITEM_MISSING);
        fetch_group_clear(it, NQ);
    }
}

/* Whitespace and a byte order mark, as any JSON writer may send them. */
static void test_pretty_printed(void **state)
{
    (void)state;
    const char *body = "\xef\xbb\xbf{ \"asset_id_base\" : \"BTC\",\n  \"rates\" : [\n"
                       "    { \"time\" : \"" T1 "\", \"asset_id_quote\" : \"USD\",\n"
                       "      \"rate\" : " RATE_USD " } ,\n"
                       "    { \"time\" : \"" T2 "\", \"asset_id_quote\" : \"EUR\", \"rate\" : 2 }\n"
                       "  ]\n}\n";
    char err[256] = "";
    struct fetch_group_item it[NQ];
    assert_int_equal(parse(body, it, err), 0);
    assert_int_equal(it[0].state, FETCH_ITEM_OK);
    assert_string_equal(it[0].tick.json, "{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\","
                                         "\"asset_id_quote\":\"USD\",\"rate\":" RATE_USD "}");
    assert_int_equal(it[1].state, FETCH_ITEM_OK);
    assert_string_equal(it[1].tick.json, "{\"time\":\"" T2 "\",\"asset_id_base\":\"BTC\","
                                         "\"asset_id_quote\":\"EUR\",\"rate\":2}");
    fetch_group_clear(it, NQ);
}

/* One request per distinct base, in the order the bases first appear, each
 * with its pairs in --pairs order. */
static void test_plan_one_request_per_base(void **state)
{
    (void)state;
    struct rc_pair pairs[RC_PAIRS_MAX];
    struct fetch_plan plans[RC_PAIRS_MAX];
    char err[128];
    int n = rc_pairs_parse("BTC/USD,ETH/USD,btc/eur,XRP/EUR,BTC/ETH,ETH/BTC", pairs, RC_PAIRS_MAX,
                           err, sizeof err);
    assert_int_equal(n, 6);
    assert_int_equal(fetch_coinapi_plan(pairs, (size_t)n, plans), 3);
    assert_string_equal(plans[0].base, "BTC");
    assert_int_equal(plans[0].n, 3);
    assert_int_equal(plans[0].pair[0], 0);
    assert_int_equal(plans[0].pair[1], 2);
    assert_int_equal(plans[0].pair[2], 4);
    assert_string_equal(plans[1].base, "ETH");
    assert_int_equal(plans[1].n, 2);
    assert_int_equal(plans[1].pair[0], 1);
    assert_int_equal(plans[1].pair[1], 5);
    assert_string_equal(plans[2].base, "XRP");
    assert_int_equal(plans[2].n, 1);
    assert_int_equal(plans[2].pair[0], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_quotes_present),
        cmocka_unit_test(test_rate_text_kept),
        cmocka_unit_test(test_one_quote_missing),
        cmocka_unit_test(test_empty_and_null_rates),
        cmocka_unit_test(test_extra_quotes_ignored),
        cmocka_unit_test(test_wrong_base),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_invalid_entries),
        cmocka_unit_test(test_pretty_printed),
        cmocka_unit_test(test_plan_one_request_per_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
