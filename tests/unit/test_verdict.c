/* Unit tests for fetcher/verdict.h: what each of CoinAPI's answers means,
 * one table row per answer shape (the bodies are CoinAPI's, as the local
 * stand-in in tools/fake-coinapi serves them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../fetcher/verdict.h"

#define NOW 1796000000 /* the caller's clock, epoch seconds */
/* A key that is also a valid asset id, so that a parser could echo it. */
#define SECRET "sekrit_key_42"
#define T1     "2026-11-28T02:31:19.5655909Z"
#define T2     "2026-11-28T02:31:19.4000000Z"

/* The per-pair endpoint asks for QUOTES[0]; the all-rates one for all. */
static const char *const QUOTES[] = {"USD", "EUR", "ETH"};
#define NQ 3

#define BODY(s) .body = (s), .len = sizeof(s) - 1
#define HEADERS(retry, remaining, reset, cost)                                                     \
    .retry_after = (retry), .ratelimit_remaining = (remaining), .ratelimit_reset = (reset),        \
    .request_cost = (cost)
#define NO_HEADERS HEADERS(-1, -1, 0, -1)
/* What CoinAPI sends with every authenticated answer: a day's quota. */
#define QUOTA_LEFT(n) HEADERS(-1, n, NOW + 86400, 1)

#define PAIR_OK                                                                                    \
    "{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","                   \
    "\"rate\":60093.83349741237180123}"
#define GROUP_OK                                                                                   \
    "{\"asset_id_base\":\"BTC\",\"rates\":[{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\","       \
    "\"rate\":60093.83349741237180123},{\"time\":\"" T2 "\",\"asset_id_quote\":\"EUR\","           \
    "\"rate\":55012.0000000000000000001},{\"time\":\"" T2 "\",\"asset_id_quote\":\"ETH\","         \
    "\"rate\":19.5}]}"
#define GROUP_NO_EUR                                                                               \
    "{\"asset_id_base\":\"BTC\",\"rates\":[{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\","       \
    "\"rate\":60093.8},{\"time\":\"" T2 "\",\"asset_id_quote\":\"ETH\",\"rate\":19.5}]}"
#define GROUP_BAD_ETH                                                                              \
    "{\"asset_id_base\":\"BTC\",\"rates\":[{\"time\":\"" T1 "\",\"asset_id_quote\":\"USD\","       \
    "\"rate\":60093.8},{\"time\":\"" T2 "\",\"asset_id_quote\":\"EUR\",\"rate\":55012},"           \
    "{\"time\":\"" T2 "\",\"asset_id_quote\":\"ETH\",\"rate\":-1}]}"
#define QUOTA_BODY                                                                                 \
    "{\"title\":\"Forbidden\",\"status\":403,\"detail\":\"Quota exceeded: Insufficient Usage "     \
    "Credits or Subscription.\",\"error\":\"Forbidden (Quota exceeded: Insufficient Usage "        \
    "Credits or Subscription.)\",\"QuotaKey\":\"BA\"}"
#define NO_DATA "You requested specific single item that we don't have at this moment."

/* An answer cut off at RC_TICK_MAX_BODY (filled in main). */
static char big[RC_TICK_MAX_BODY + 1];

#define NO_PAUSE           0, NULL, NULL
#define PAUSE(s, src, why) (s), (src), (why)
#define LIMITED            "You have exceeded your API key rate limits"
#define LIMITED_BODY       "{\"error\":\"" LIMITED "\"}"

static const struct verdict_case {
    const char *name;
    struct fetch_answer in;
    size_t n; /* quotes asked for: 1 (per-pair endpoint) or NQ (all rates) */
    enum fetch_verdict_kind kind;
    long status;
    const char *text; /* exact, or its start when it ends in "..." */
    int64_t pause_s;  /* 0: none; else with its source and reason */
    const char *pause_source, *pause_reason;
    enum fetch_item_state item[NQ]; /* on a TICK (zero: FETCH_ITEM_MISSING) */
} cases[] = {
    /* clang-format off */
    {"200 with a rate",
     {.status = 200, BODY(PAIR_OK), QUOTA_LEFT(99)}, 1,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {FETCH_ITEM_OK}},
    {"200 with a grouped answer",
     {.status = 200, BODY(GROUP_OK), QUOTA_LEFT(99)}, NQ,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {FETCH_ITEM_OK, FETCH_ITEM_OK, FETCH_ITEM_OK}},
    {"200 grouped, a quote missing: for that pair only",
     {.status = 200, BODY(GROUP_NO_EUR), QUOTA_LEFT(99)}, NQ,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {FETCH_ITEM_OK, FETCH_ITEM_MISSING, FETCH_ITEM_OK}},
    {"200 grouped, a bad rate: for that pair only",
     {.status = 200, BODY(GROUP_BAD_ETH), QUOTA_LEFT(99)}, NQ,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {FETCH_ITEM_OK, FETCH_ITEM_OK, FETCH_ITEM_INVALID}},
    {"200 grouped, rates null",
     {.status = 200, BODY("{\"asset_id_base\":\"BTC\",\"rates\":null}"), NO_HEADERS}, NQ,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {0}},
    {"200 that spends the quota: read, then a pause until the reset",
     {.status = 200, BODY(PAIR_OK), HEADERS(-1, 0, NOW + 30, 1)}, 1,
     FETCH_VERDICT_TICK, 200, "",
     PAUSE(30, "X-RateLimit-Reset", "X-RateLimit-Remaining is 0"), {FETCH_ITEM_OK}},
    {"200 that spends the quota, reset already past: a minute",
     {.status = 200, BODY(PAIR_OK), HEADERS(-1, 0, NOW - 5, 1)}, 1,
     FETCH_VERDICT_TICK, 200, "",
     PAUSE(60, "no usable Retry-After", "X-RateLimit-Remaining is 0"), {FETCH_ITEM_OK}},
    {"200, quota spent but no reset time: no pause",
     {.status = 200, BODY(PAIR_OK), HEADERS(-1, 0, 0, 1)}, 1,
     FETCH_VERDICT_TICK, 200, "", NO_PAUSE, {FETCH_ITEM_OK}},
    {"200 whose Retry-After is not read (it belongs to a 429)",
     {.status = 200, BODY(PAIR_OK), HEADERS(5, 0, NOW + 30, 1)}, 1,
     FETCH_VERDICT_TICK, 200, "",
     PAUSE(30, "X-RateLimit-Reset", "X-RateLimit-Remaining is 0"), {FETCH_ITEM_OK}},
    {"401",
     {.status = 401, BODY("{\"error\":\"Invalid API key\"}"), NO_HEADERS}, 1,
     FETCH_VERDICT_BAD_KEY, 401, "Invalid API key", NO_PAUSE, {0}},
    {"401 grouped",
     {.status = 401, BODY("{\"error\":\"Invalid API key\"}"), NO_HEADERS}, NQ,
     FETCH_VERDICT_BAD_KEY, 401, "Invalid API key", NO_PAUSE, {0}},
    {"403 (quota)",
     {.status = 403, BODY(QUOTA_BODY), QUOTA_LEFT(0)}, 1,
     FETCH_VERDICT_NO_PERMISSION, 403,
     "Forbidden (Quota exceeded: Insufficient Usage Credits or Subscription.)", NO_PAUSE, {0}},
    {"429 with Retry-After",
     {.status = 429, BODY(LIMITED_BODY), HEADERS(2, 0, NOW + 86400, 1)}, NQ,
     FETCH_VERDICT_PAUSE, 429, LIMITED, PAUSE(2, "Retry-After", LIMITED), {0}},
    {"429 with only X-RateLimit-Reset",
     {.status = 429, BODY(LIMITED_BODY), HEADERS(-1, 0, NOW + 90, 1)}, 1,
     FETCH_VERDICT_PAUSE, 429, LIMITED, PAUSE(90, "X-RateLimit-Reset", LIMITED), {0}},
    {"429 without either header: a minute",
     {.status = 429, BODY(LIMITED_BODY), NO_HEADERS}, 1,
     FETCH_VERDICT_PAUSE, 429, LIMITED, PAUSE(60, "no usable Retry-After", LIMITED), {0}},
    {"429 with a Retry-After over a day: a minute",
     {.status = 429, BODY("{\"error\":\"slow down\"}"), HEADERS(86401, -1, 0, -1)}, 1,
     FETCH_VERDICT_PAUSE, 429, "slow down", PAUSE(60, "no usable Retry-After", "slow down"), {0}},
    {"550",
     {.status = 550, BODY("{\"error\":\"" NO_DATA "\"}"), QUOTA_LEFT(98)}, 1,
     FETCH_VERDICT_NO_DATA, 550, NO_DATA, NO_PAUSE, {0}},
    {"500 with .NET's {\"message\":...}",
     {.status = 500, BODY("{\"message\":\"An error has occurred.\"}"), NO_HEADERS}, NQ,
     FETCH_VERDICT_SERVER_ERROR, 500, "An error has occurred.", NO_PAUSE, {0}},
    {"502 from a proxy, not JSON: its start, on one line",
     {.status = 502, BODY("<html>\r\n<title>502 Bad Gateway</title>\r\n</html>"), NO_HEADERS}, 1,
     FETCH_VERDICT_SERVER_ERROR, 502, "<html>  <title>502 Bad Gateway</title>  </html>",
     NO_PAUSE, {0}},
    {"400",
     {.status = 400, BODY("{\"error\":\"Bad Request\"}"), NO_HEADERS}, 1,
     FETCH_VERDICT_OTHER, 400, "Bad Request", NO_PAUSE, {0}},
    {"404 with an empty body",
     {.status = 404, BODY(""), NO_HEADERS}, 1,
     FETCH_VERDICT_OTHER, 404, "(empty body)", NO_PAUSE, {0}},
    {"302 is not a 200",
     {.status = 302, BODY(""), NO_HEADERS}, 1,
     FETCH_VERDICT_OTHER, 302, "(empty body)", NO_PAUSE, {0}},
    {"200 that is not JSON",
     {.status = 200, BODY("<html>maintenance</html>"), NO_HEADERS}, 1,
     FETCH_VERDICT_INVALID, 200, "invalid answer dropped: not valid JSON", NO_PAUSE, {0}},
    {"200 grouped, not JSON",
     {.status = 200, BODY("<html>maintenance</html>"), NO_HEADERS}, NQ,
     FETCH_VERDICT_INVALID, 200, "invalid answer dropped: not valid JSON", NO_PAUSE, {0}},
    {"200 cut short",
     {.status = 200, BODY("{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\",\"rate\":600"),
      NO_HEADERS}, 1,
     FETCH_VERDICT_INVALID, 200, "invalid answer dropped: not valid JSON", NO_PAUSE, {0}},
    {"200 for another pair",
     {.status = 200, BODY("{\"time\":\"" T1 "\",\"asset_id_base\":\"USD\","
                          "\"asset_id_quote\":\"BTC\",\"rate\":2}"), NO_HEADERS}, 1,
     FETCH_VERDICT_INVALID, 200, "answer names USD/BTC: dropped", NO_PAUSE, {0}},
    {"200 grouped for another base",
     {.status = 200, BODY("{\"asset_id_base\":\"USD\",\"rates\":[]}"), NO_HEADERS}, NQ,
     FETCH_VERDICT_INVALID, 200, "invalid answer dropped: answer names base USD, not BTC",
     NO_PAUSE, {0}},
    {"200 oversized",
     {.status = 200, .body = big, .len = RC_TICK_MAX_BODY, .too_large = 1, QUOTA_LEFT(97)}, NQ,
     FETCH_VERDICT_TOO_LARGE, 200, "answer larger than 65536 bytes: dropped", NO_PAUSE, {0}},
    {"200 oversized that spends the quota: dropped, and a pause",
     {.status = 200, .body = big, .len = RC_TICK_MAX_BODY, .too_large = 1,
      HEADERS(-1, 0, NOW + 30, 1)}, 1,
     FETCH_VERDICT_TOO_LARGE, 200, "answer larger than 65536 bytes: dropped",
     PAUSE(30, "X-RateLimit-Reset", "X-RateLimit-Remaining is 0"), {0}},
    {"500 oversized: the status decides, the text is the body's start",
     {.status = 500, .body = big, .len = RC_TICK_MAX_BODY, .too_large = 1, NO_HEADERS}, 1,
     FETCH_VERDICT_SERVER_ERROR, 500, "{\"asset_id_base\":\"BTC\",\"pad\":\"xxx...", NO_PAUSE,
     {0}},
    {"transport error",
     {.transport_error = 1, .err = "Failed to connect to 127.0.0.1 port 1 after 0 ms: "
                                   "Couldn't connect to server", NO_HEADERS}, NQ,
     FETCH_VERDICT_TRANSPORT, 0,
     "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server", NO_PAUSE,
     {0}},
    {"transport error: timeout",
     {.transport_error = 1,
      .err = "Operation timed out after 1800 milliseconds with 0 bytes received", NO_HEADERS}, 1,
     FETCH_VERDICT_TRANSPORT, 0,
     "Operation timed out after 1800 milliseconds with 0 bytes received", NO_PAUSE, {0}},
    /* The key never reaches a text, wherever an answer would put it. */
    {"401 that quotes the key",
     {.status = 401, BODY("{\"error\":\"Invalid API key " SECRET " (" SECRET ")\"}"),
      NO_HEADERS}, 1,
     FETCH_VERDICT_BAD_KEY, 401, "Invalid API key *** (***)", NO_PAUSE, {0}},
    {"429 that quotes the key",
     {.status = 429, BODY("{\"error\":\"key " SECRET " is over its limit\"}"),
      HEADERS(3, -1, 0, -1)}, 1,
     FETCH_VERDICT_PAUSE, 429, "key *** is over its limit",
     PAUSE(3, "Retry-After", "key *** is over its limit"), {0}},
    {"transport error that names the key",
     {.transport_error = 1, .err = "bad header " SECRET, NO_HEADERS}, 1,
     FETCH_VERDICT_TRANSPORT, 0, "bad header ***", NO_PAUSE, {0}},
    {"200 for another pair whose id is the key",
     {.status = 200, BODY("{\"time\":\"" T1 "\",\"asset_id_base\":\"BTC\","
                          "\"asset_id_quote\":\"" SECRET "\",\"rate\":2}"), NO_HEADERS}, 1,
     FETCH_VERDICT_INVALID, 200, "answer names BTC/***: dropped", NO_PAUSE, {0}},
    /* clang-format on */
};

static void check_text(const char *name, const char *what, const char *got, const char *want)
{
    size_t n = strlen(want);
    int prefix = n >= 3 && strcmp(want + n - 3, "...") == 0;
    if (prefix ? strncmp(got, want, n - 3) != 0 : strcmp(got, want) != 0)
        fail_msg("%s: %s is \"%s\", want \"%s\"", name, what, got, want);
}

static void check_case(const struct verdict_case *c)
{
    struct fetch_verdict v;
    struct fetch_group_item items[NQ];
    memset(items, 0x5a, sizeof items); /* judge must set every one */
    fetch_verdict_judge(&c->in, "BTC", QUOTES, c->n, NOW, SECRET, &v, items);
    if (v.kind != c->kind || v.status != c->status)
        fail_msg("%s: verdict %d status %ld, want %d status %ld (text \"%s\")", c->name, v.kind,
                 v.status, c->kind, c->status, v.text);
    check_text(c->name, "text", v.text, c->text);
    if (v.pause.secs != c->pause_s)
        fail_msg("%s: pause %lld s, want %lld", c->name, (long long)v.pause.secs,
                 (long long)c->pause_s);
    if (c->pause_s) {
        check_text(c->name, "pause source", v.pause.source, c->pause_source);
        check_text(c->name, "pause reason", v.pause.reason, c->pause_reason);
    }
    if (v.request_cost != c->in.request_cost || v.ratelimit_remaining != c->in.ratelimit_remaining)
        fail_msg("%s: headers not passed on (cost %ld, remaining %ld)", c->name, v.request_cost,
                 v.ratelimit_remaining);
    for (size_t i = 0; i < c->n; i++) {
        enum fetch_item_state want =
            c->kind == FETCH_VERDICT_TICK ? c->item[i] : FETCH_ITEM_MISSING;
        if (items[i].state != want)
            fail_msg("%s: item %zu (%s) is %d, want %d (%s)", c->name, i, QUOTES[i], items[i].state,
                     want, items[i].err);
        if (want == FETCH_ITEM_OK &&
            (strcmp(items[i].tick.base, "BTC") != 0 || strcmp(items[i].tick.quote, QUOTES[i]) != 0))
            fail_msg("%s: item %zu holds %s/%s", c->name, i, items[i].tick.base,
                     items[i].tick.quote);
        if (want != FETCH_ITEM_OK && items[i].tick.json != NULL)
            fail_msg("%s: item %zu holds a tick it should not", c->name, i);
        if (want == FETCH_ITEM_INVALID && items[i].err[0] == '\0')
            fail_msg("%s: item %zu is invalid without a reason", c->name, i);
    }
    if (strstr(v.text, SECRET) || strstr(v.pause.reason, SECRET))
        fail_msg("%s: the key is in a text", c->name);
    for (size_t i = 0; i < c->n; i++)
        if (strstr(items[i].err, SECRET))
            fail_msg("%s: the key is in item %zu's reason", c->name, i);
    fetch_group_clear(items, c->n);
}

static void test_every_answer_shape(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        check_case(&cases[k]);
}

/* The per-pair endpoint's tick is CoinAPI's text, digit for digit. */
static void test_tick_kept_as_sent(void **state)
{
    (void)state;
    const char *const usd[] = {"USD"};
    struct fetch_answer a = {.status = 200, BODY(PAIR_OK), QUOTA_LEFT(5)};
    struct fetch_verdict v;
    struct fetch_group_item it;
    fetch_verdict_judge(&a, "BTC", usd, 1, NOW, NULL, &v, &it);
    assert_int_equal(v.kind, FETCH_VERDICT_TICK);
    assert_int_equal(it.state, FETCH_ITEM_OK);
    assert_string_equal(it.tick.json, PAIR_OK);
    fetch_group_clear(&it, 1);
}

/* CoinAPI's words are cut at 299 characters and control characters become
 * spaces; a key that straddles the cut is replaced before the cut, so not
 * even its first characters show. */
static void test_long_words(void **state)
{
    (void)state;
    static char body[2000];
    const char *const usd[] = {"USD"};
    int n = snprintf(body, sizeof body, "{\"error\":\"");
    memset(body + n, 'a', 290);
    n += 290;
    n += snprintf(body + n, sizeof body - (size_t)n, "\\u0001" SECRET "zzzzzzzzzz\"}");
    struct fetch_answer a = {.status = 500, .body = body, .len = (size_t)n, NO_HEADERS};
    struct fetch_verdict v;
    struct fetch_group_item it;
    fetch_verdict_judge(&a, "BTC", usd, 1, NOW, NULL, &v, &it);
    assert_int_equal(strlen(v.text), 299);
    assert_int_equal(v.text[290], ' ');
    fetch_verdict_judge(&a, "BTC", usd, 1, NOW, SECRET, &v, &it);
    assert_null(strstr(v.text, "sekrit"));
    assert_string_equal(v.text + 290, " ***zzzzz");
}

int main(void)
{
    /* A grouped answer padded past the limit, as the client keeps it. */
    int n = snprintf(big, sizeof big, "{\"asset_id_base\":\"BTC\",\"pad\":\"");
    memset(big + n, 'x', sizeof big - 1 - (size_t)n);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_answer_shape),
        cmocka_unit_test(test_tick_kept_as_sent),
        cmocka_unit_test(test_long_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
