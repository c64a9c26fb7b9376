/* Unit tests for common/rc_tick.h: the exchange-rate message codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_tick.h"

#define T0 "2026-11-28T02:31:19.5655909Z"
#define GOOD                                                                                       \
    "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":60000.25}"

/* A body with the given rate text (raw JSON). */
static char *body_with_rate(const char *rate_text)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"time\":\"" T0
             "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":%s}",
             rate_text);
    return buf;
}

/* A body with the given time text (raw JSON value). */
static char *body_with_time(const char *time_text)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"time\":%s,\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1.5}",
             time_text);
    return buf;
}

/* A body with the given base and quote values (raw JSON). */
static char *body_with_assets(const char *base, const char *quote)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"time\":\"" T0 "\",\"asset_id_base\":%s,\"asset_id_quote\":%s,\"rate\":1.5}", base,
             quote);
    return buf;
}

/* Parse body[0..len) expecting success; returns the compact JSON (caller
 * frees) after checking the invariants every success must hold. */
static char *parse_ok_len(const char *body, size_t len)
{
    struct rc_tick t;
    char err[256] = "";
    int rc = rc_tick_parse(&t, body, len, err, sizeof err);
    if (rc != 0)
        print_error("unexpected rejection: %s\nbody: %.*s\n", err, (int)len, body);
    assert_int_equal(rc, 0);
    assert_non_null(t.json);
    assert_int_equal(t.json_len, strlen(t.json));
    assert_null(memchr(t.json, '\n', t.json_len));
    assert_null(memchr(t.json, '\r', t.json_len));
    assert_true(t.rate > 0);
    char *copy = strdup(t.json);
    assert_non_null(copy);
    rc_tick_clear(&t);
    assert_null(t.json);
    assert_int_equal(t.json_len, 0);
    rc_tick_clear(&t); /* twice is harmless */
    return copy;
}

static char *parse_ok(const char *body)
{
    return parse_ok_len(body, strlen(body));
}

static void expect_json(const char *body, const char *want)
{
    char *got = parse_ok(body);
    assert_string_equal(got, want);
    free(got);
}

/* Parse expecting rejection; err must be non-empty, one line, and contain
 * `needle` (case-sensitive) when given. */
static void reject_len(const char *body, size_t len, const char *needle)
{
    struct rc_tick t;
    char err[256] = "";
    memset(&t, 0xAB, sizeof t); /* parse must reset everything */
    int rc = rc_tick_parse(&t, body, len, err, sizeof err);
    if (rc != -1)
        print_error("unexpected acceptance: %s\nbody: %.*s\n", t.json ? t.json : "(null)",
                    (int)(len > 200 ? 200 : len), body);
    assert_int_equal(rc, -1);
    assert_null(t.json);
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n'));
    if (needle && strstr(err, needle) == NULL)
        print_error("err '%s' lacks '%s'\n", err, needle);
    if (needle)
        assert_non_null(strstr(err, needle));
    rc_tick_clear(&t); /* clearing after a failure is safe */
    assert_null(t.json);
}

static void reject(const char *body, const char *needle)
{
    reject_len(body, strlen(body), needle);
}

/* ---- happy path ---- */

static void test_valid_byte_exact(void **state)
{
    (void)state;
    struct rc_tick t;
    char err[128] = "";
    assert_int_equal(rc_tick_parse(&t, GOOD, strlen(GOOD), err, sizeof err), 0);
    assert_string_equal(t.json, GOOD);
    assert_int_equal(t.json_len, strlen(GOOD));
    assert_string_equal(t.time, T0);
    assert_string_equal(t.base, "BTC");
    assert_string_equal(t.quote, "USD");
    assert_true(t.rate == 60000.25);
    rc_tick_clear(&t);
    assert_null(t.json);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* The body is followed by garbage that is not part of len. */
    size_t n = strlen(GOOD);
    char *buf = malloc(n + 8);
    assert_non_null(buf);
    memcpy(buf, GOOD, n);
    memcpy(buf + n, "xxxxxxx", 8);
    char *got = parse_ok_len(buf, n);
    assert_string_equal(got, GOOD);
    free(got);
    free(buf);
}

static void test_rate_digits_kept(void **state)
{
    (void)state;
    static const char *rates[] = {
        "60000.2512345678901234",
        "1e-7",
        "3.0",
        "60000",
        "0.000000000000000000001",
        "1E+2",
        "123456789012345678901234567890",
        "2.50000000000000000000001",
        "7.25e3",
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        char want[512];
        snprintf(want, sizeof want, "%s", body_with_rate(rates[i]));
        expect_json(body_with_rate(rates[i]), want);
    }
}

static void test_rate_digits_kept_with_spaces(void **state)
{
    (void)state;
    expect_json("{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                "\"rate\" :  60000.2512345678901234  }",
                "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                "\"rate\":60000.2512345678901234}");
    /* rate first, other members after it */
    expect_json("{\"rate\":1.00000000000000000001,\"time\":\"" T0
                "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\"}",
                "{\"rate\":1.00000000000000000001,\"time\":\"" T0
                "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\"}");
}

static void test_rate_value_parsed(void **state)
{
    (void)state;
    struct rc_tick t;
    char err[128];
    const char *b = body_with_rate("1e-7");
    assert_int_equal(rc_tick_parse(&t, b, strlen(b), err, sizeof err), 0);
    assert_true(t.rate == 1e-7);
    rc_tick_clear(&t);
}

static void test_pretty_printed_compacted(void **state)
{
    (void)state;
    const char *pretty = "\r\n  {\n"
                         "\t\"time\" : \"" T0 "\",\r\n"
                         "    \"asset_id_base\":   \"BTC\",\n"
                         "    \"asset_id_quote\":\"USD\" ,\n"
                         "    \"extra\": { \"a\" : [ 1, 2 ,\n 3 ] },\n"
                         "    \"rate\":\n        60000.2512345678901234\n"
                         "  }\n\r\n  \t";
    expect_json(pretty, "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                        "\"extra\":{\"a\":[1,2,3]},\"rate\":60000.2512345678901234}");
}

static void test_unknown_fields_kept(void **state)
{
    (void)state;
    expect_json("{\"src\":\"coinapi\",\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\","
                "\"asset_id_quote\":\"USD\",\"rate\":2,\"n\":null,\"ok\":true,\"no\":false,"
                "\"arr\":[],\"obj\":{},\"num\":-3}",
                "{\"src\":\"coinapi\",\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\","
                "\"asset_id_quote\":\"USD\",\"rate\":2,\"n\":null,\"ok\":true,\"no\":false,"
                "\"arr\":[],\"obj\":{},\"num\":-3}");
}

static void test_escapes_stay_escaped(void **state)
{
    (void)state;
    char *got = parse_ok("{\"note\":\"line1\\nline2\\r\\nend\\t\\\"q\\\"\\\\\",\"time\":\"" T0
                         "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}");
    /* parse_ok already checked there is no raw CR or LF. */
    assert_non_null(strstr(got, "\"note\":\"line1\\nline2\\r\\nend\\t\\\"q\\\"\\\\\""));
    free(got);
    /* \u2028 and \u000a written as \u escapes must not come out raw either. */
    got = parse_ok("{\"note\":\"a\\u000ab\\u000dc\",\"time\":\"" T0
                   "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}");
    free(got);
}

static void test_utf8_in_extra_field(void **state)
{
    (void)state;
    /* € (3 bytes), 😀 (4 bytes), é (2 bytes) raw, plus an escaped surrogate pair. */
    const char *b =
        "{\"note\":\"\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9 \\ud83d\\ude00\",\"time\":\"" T0
        "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}";
    char *got = parse_ok(b);
    assert_non_null(strstr(got, "\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9 \xf0\x9f\x98\x80"));
    free(got);
}

static void test_time_shapes_accepted(void **state)
{
    (void)state;
    static const char *ok[] = {"\"2026-11-28T02:31:19Z\"", "\"2026-11-28T02:31:19.5Z\"",
                               "\"2026-11-28T02:31:19.123456789Z\""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *got = parse_ok(body_with_time(ok[i]));
        free(got);
    }
}

static void test_asset_ids_accepted(void **state)
{
    (void)state;
    char *got = parse_ok(body_with_assets("\"btc_2\"", "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\""));
    free(got);
    struct rc_tick t;
    char err[64];
    const char *b = body_with_assets("\"x\"", "\"Y9\"");
    assert_int_equal(rc_tick_parse(&t, b, strlen(b), err, sizeof err), 0);
    assert_string_equal(t.base, "x"); /* kept as sent */
    assert_string_equal(t.quote, "Y9");
    rc_tick_clear(&t);
}

static void test_trailing_whitespace_ok(void **state)
{
    (void)state;
    char buf[512];
    snprintf(buf, sizeof buf, "%s \t\r\n  ", GOOD);
    expect_json(buf, GOOD);
}

static void test_deep_nesting_accepted_under_limit(void **state)
{
    (void)state;
    /* 500 levels: cJSON accepts it; the rate scanner must skip it intact. */
    size_t depth = 500;
    size_t cap = 2 * depth + 256;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t n = (size_t)snprintf(b, cap, "{\"deep\":");
    memset(b + n, '[', depth);
    n += depth;
    memset(b + n, ']', depth);
    n += depth;
    snprintf(b + n, cap - n,
             ",\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
             "\"rate\":3.14159265358979323846}");
    char *got = parse_ok(b);
    assert_non_null(strstr(got, "\"rate\":3.14159265358979323846}"));
    free(got);
    free(b);
}

/* ---- rejections ---- */

static void test_reject_empty(void **state)
{
    (void)state;
    reject_len("", 0, "empty");
    reject_len(GOOD, 0, "empty");
    reject("   ", NULL);
    reject("\n", NULL);
}

static void test_reject_not_json(void **state)
{
    (void)state;
    reject("hello", "JSON");
    reject("{", "JSON");
    reject("{\"time\":", "JSON");
    reject("{'time':'x'}", "JSON");
    reject("<html>502 Bad Gateway</html>", "JSON");
    /* truncated tick */
    reject_len(GOOD, strlen(GOOD) - 1, "JSON");
}

static void test_reject_not_object(void **state)
{
    (void)state;
    reject("[" GOOD "]", "object");
    reject("[]", "object");
    reject("\"BTC/USD\"", "object");
    reject("60000.25", "object");
    reject("null", "object");
    reject("true", "object");
}

static void test_reject_trailing_garbage(void **state)
{
    (void)state;
    reject(GOOD " x", "trailing");
    reject(GOOD "x", "trailing");
    reject(GOOD GOOD, "trailing");
    reject(GOOD "\n" GOOD, "trailing");
    reject(GOOD "}", "trailing");
}

static void test_reject_missing_fields(void **state)
{
    (void)state;
    reject("{\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}", "time");
    reject("{\"time\":\"" T0 "\",\"asset_id_quote\":\"USD\",\"rate\":1}", "asset_id_base");
    reject("{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"rate\":1}", "asset_id_quote");
    reject("{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\"}", "rate");
    reject("{}", "missing");
    /* Keys are case-sensitive: "Rate" is not "rate". */
    reject("{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"Rate\":1}",
           "rate");
    reject("{\"TIME\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}",
           "time");
}

static void test_reject_wrong_types(void **state)
{
    (void)state;
    reject(body_with_rate("\"1.0\""), "rate");
    reject(body_with_rate("null"), "rate");
    reject(body_with_rate("true"), "rate");
    reject(body_with_rate("[1]"), "rate");
    reject(body_with_rate("{\"v\":1}"), "rate");
    reject(body_with_time("1764297079"), "time");
    reject(body_with_time("null"), "time");
    reject(body_with_time("[\"" T0 "\"]"), "time");
    reject(body_with_assets("1", "\"USD\""), "asset_id_base");
    reject(body_with_assets("\"BTC\"", "null"), "asset_id_quote");
}

static void test_reject_bad_rate_values(void **state)
{
    (void)state;
    reject(body_with_rate("1e400"), "finite");
    reject(body_with_rate("-1e400"), "rate");
    reject(body_with_rate("-1"), "positive");
    reject(body_with_rate("-0.0001"), "positive");
    reject(body_with_rate("0"), "positive");
    reject(body_with_rate("0.0"), "positive");
    reject(body_with_rate("-0"), "positive");
    reject(body_with_rate("0e10"), "positive");
    /* NaN-ish text is not JSON at all */
    reject(body_with_rate("NaN"), NULL);
    reject(body_with_rate("nan"), NULL);
    reject(body_with_rate("Infinity"), NULL);
    reject(body_with_rate("-Infinity"), NULL);
    reject(body_with_rate("inf"), NULL);
    reject(body_with_rate("0x10"), NULL);
    reject(body_with_rate("+1"), NULL);
    reject(body_with_rate(".5"), NULL);
    reject(body_with_rate(""), NULL);
}

static void test_reject_bad_time(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\"2026-11-28T02:31:19.5655909\"",     /* no Z */
        "\"2026-11-28T02:31:19.1234567890Z\"", /* 10 fractional digits */
        "\"2026-11-28\"",                      /* date only */
        "\"2026-11-28Z\"",
        "\"\"",
        "\"2026-11-28 02:31:19Z\"",      /* space instead of T */
        "\"2026-11-28T02:31:19.Z\"",     /* dot without digits */
        "\"2026-11-28T02:31:19+00:00\"", /* offset instead of Z */
        "\"2026-11-28T02:31:19.5655909Zjunk\"",
        "\"2026-11-28T02:31:19.5655909z\"",
        "\"26-11-28T02:31:19Z\"",
        "\"2026-1a-28T02:31:19Z\"",
        "\"2026-11-28T02:31:19.5655909Z \"",
        " \"x2026-11-28T02:31:19Z\"",
        "\"2026-11-28T02:31:19.56559090000000000000000000000000000000Z\"", /* too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        reject(body_with_time(bad[i]), "time");
}

static void test_reject_bad_assets(void **state)
{
    (void)state;
    reject(body_with_assets("\"\"", "\"USD\""), "asset");
    reject(body_with_assets("\"BTC\"", "\"\""), "asset");
    reject(body_with_assets("\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\"", "\"USD\""), "asset");
    reject(body_with_assets("\"BTC\"", "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\""), "asset");
    reject(body_with_assets("\"BTC/USD\"", "\"USD\""), "asset");
    reject(body_with_assets("\"BTC\"", "\"US D\""), "asset");
    reject(body_with_assets("\" BTC\"", "\"USD\""), "asset");
    reject(body_with_assets("\"BTC\\n\"", "\"USD\""), "asset");
    reject(body_with_assets("\"BTC-X\"", "\"USD\""), "asset");
    reject(body_with_assets("\"\xc3\xa9\"", "\"USD\""), "asset");
    /* A very long asset id: too long for the struct, still a clean error */
    char big[300];
    big[0] = '"';
    memset(big + 1, 'A', 200);
    big[201] = '"';
    big[202] = '\0';
    reject(body_with_assets(big, "\"USD\""), "asset_id_base");
}

static void test_reject_nul_byte(void **state)
{
    (void)state;
    char buf[512];
    size_t n = strlen(GOOD);
    memcpy(buf, GOOD, n);
    /* NUL after the object: cJSON alone would stop there and accept. */
    buf[n] = '\0';
    memcpy(buf + n + 1, "junk", 4);
    reject_len(buf, n + 5, "NUL");
    /* NUL inside a string value */
    memcpy(buf, GOOD, n);
    buf[12] = '\0';
    reject_len(buf, n, "NUL");
    /* NUL as the first byte */
    memcpy(buf, GOOD, n);
    buf[0] = '\0';
    reject_len(buf, n, "NUL");
}

static void test_reject_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xff",             /* never valid */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xed\xa0\x80",     /* UTF-16 surrogate D800 */
        "\xed\xbf\xbf",     /* surrogate DFFF */
        "\xe2\x82",         /* truncated € */
        "\xf0\x9f\x98",     /* truncated emoji */
        "\x80",             /* lone continuation */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "{\"note\":\"%s\",\"time\":\"" T0
                 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}",
                 bad[i]);
        reject(buf, "UTF-8");
    }
    /* Truncated sequence as the very last byte of the body. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s\xe2", GOOD);
    reject(buf, "UTF-8");
}

static void test_reject_too_large(void **state)
{
    (void)state;
    /* A valid tick padded with whitespace past the limit. */
    size_t len = RC_TICK_MAX_BODY + 1;
    char *b = malloc(len);
    assert_non_null(b);
    memset(b, ' ', len);
    memcpy(b, GOOD, strlen(GOOD));
    reject_len(b, len, "too large");
    /* Exactly at the limit is fine. */
    char *got = parse_ok_len(b, RC_TICK_MAX_BODY);
    assert_string_equal(got, GOOD);
    free(got);
    free(b);
}

static void test_reject_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 2000;
    size_t cap = 2 * depth + 256;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t n = (size_t)snprintf(b, cap,
                                "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\","
                                "\"asset_id_quote\":\"USD\",\"rate\":1,\"deep\":");
    memset(b + n, '[', depth);
    n += depth;
    memset(b + n, ']', depth);
    n += depth;
    b[n++] = '}';
    reject_len(b, n, NULL);
    /* Unbalanced: opening brackets only, up to the end of the body. */
    n = (size_t)snprintf(b, cap, "{\"deep\":");
    memset(b + n, '[', depth);
    n += depth;
    reject_len(b, n, NULL);
    free(b);
}

static void test_duplicate_rate_key(void **state)
{
    (void)state;
    /* JavaScript's JSON.parse keeps the LAST duplicate, cJSON the first: a
     * body whose second "rate" is invalid would reach browsers with a value
     * that was never validated. Such a body must be rejected, or the output
     * must carry exactly one "rate" member (the validated one). */
    const char *b = "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                    "\"rate\":1.5,\"rate\":-7}";
    struct rc_tick t;
    char err[256] = "";
    int rc = rc_tick_parse(&t, b, strlen(b), err, sizeof err);
    int rate_members = 0;
    if (rc == 0) {
        for (const char *p = t.json; (p = strstr(p, "\"rate\":")) != NULL; p++)
            rate_members++;
        rc_tick_clear(&t);
    } else {
        assert_null(t.json);
        assert_true(strlen(err) > 0);
    }
    /* Must not crash; whichever way it goes, clear is safe. */
    rc_tick_clear(&t);

    /* Refused: cJSON would validate the first copy, a browser read the last. */
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "duplicate field"));
    (void)rate_members;
}

static void test_duplicate_rate_key_with_escaped_name(void **state)
{
    (void)state;
    /* "r\u0061te" is "rate" to cJSON, but its text cannot be found to keep
     * the digits, and cJSON's own printing rounds (%1.15g): refused. */
    const char *b = "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                    "\"r\\u0061te\":1.0000000000000002}";
    struct rc_tick t;
    char err[256] = "";
    assert_int_equal(rc_tick_parse(&t, b, strlen(b), err, sizeof err), -1);
    assert_null(t.json);
    assert_non_null(strstr(err, "escapes"));
}

static void test_rate_not_strict_json(void **state)
{
    (void)state;
    /* cJSON reads these numbers; JSON.parse in a browser would not. */
    static const char *bad[] = {"06", "00.5", "5.", "5.e3", "1.E2", "-", "+1", ".5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char b[256];
        snprintf(b, sizeof b,
                 "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                 "\"rate\":%s}",
                 bad[i]);
        struct rc_tick t;
        char err[256] = "";
        if (rc_tick_parse(&t, b, strlen(b), err, sizeof err) == 0) {
            print_error("accepted rate %s as %s\n", bad[i], t.json);
            rc_tick_clear(&t);
            fail();
        }
        assert_null(t.json);
    }
    /* and control bytes, which cJSON takes for whitespace */
    const char *c = "{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\","
                    "\"rate\":6\x01}";
    struct rc_tick t;
    char err[256] = "";
    assert_int_equal(rc_tick_parse(&t, c, strlen(c), err, sizeof err), -1);
    assert_non_null(strstr(err, "control"));
}

static void test_duplicate_err_is_one_line(void **state)
{
    (void)state;
    const char *b = "{\"\\n\":0,\"\\n\":0}";
    struct rc_tick t;
    char err[256] = "";
    assert_int_equal(rc_tick_parse(&t, b, strlen(b), err, sizeof err), -1);
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, "duplicate field"));
}

static void test_nul_escape_does_not_leak(void **state)
{
    (void)state;
    /* \u0000 decodes to a NUL inside cJSON's C strings, silently cutting
     * the value ("BTC\u0000junk" would pass as "BTC"): refused. */
    const char *b = "{\"note\":\"a\\u0000b\",\"time\":\"" T0
                    "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}";
    struct rc_tick t;
    char err[256] = "";
    assert_int_equal(rc_tick_parse(&t, b, strlen(b), err, sizeof err), -1);
    assert_null(t.json);
    assert_non_null(strstr(err, "u0000"));
    /* An escaped backslash followed by the text u0000 is fine. */
    const char *ok = "{\"note\":\"a\\\\u0000b\",\"time\":\"" T0
                     "\",\"asset_id_base\":\"BTC\",\"asset_id_quote\":\"USD\",\"rate\":1}";
    assert_int_equal(rc_tick_parse(&t, ok, strlen(ok), err, sizeof err), 0);
    rc_tick_clear(&t);
}

static void test_bom_prefixed_body(void **state)
{
    (void)state;
    /* A UTF-8 byte order mark before the object: cJSON skips it. Either
     * reject the body or keep the rate's digits as promised in rc_tick.h. */
    const char *b = "\xef\xbb\xbf{\"time\":\"" T0 "\",\"asset_id_base\":\"BTC\","
                    "\"asset_id_quote\":\"USD\",\"rate\":60000.2512345678901234}";
    struct rc_tick t;
    char err[256] = "";
    int rc = rc_tick_parse(&t, b, strlen(b), err, sizeof err);
    int digits_kept = 0;
    if (rc == 0) {
        assert_null(memchr(t.json, '\n', t.json_len));
        digits_kept = strstr(t.json, "\"rate\":60000.2512345678901234") != NULL;
        rc_tick_clear(&t);
    } else {
        assert_null(t.json);
    }

    /* Accepted, and the digits are kept. */
    assert_int_equal(rc, 0);
    assert_true(digits_kept);
}

static void test_small_err_buffer(void **state)
{
    (void)state;
    struct rc_tick t;
    char err[8];
    memset(err, 'Z', sizeof err);
    assert_int_equal(rc_tick_parse(&t, "{}", 2, err, sizeof err), -1);
    assert_true(memchr(err, '\0', sizeof err) != NULL); /* truncated, terminated */
    assert_null(t.json);
}

static void test_clear_zeroed(void **state)
{
    (void)state;
    struct rc_tick t;
    memset(&t, 0, sizeof t);
    rc_tick_clear(&t);
    assert_null(t.json);
}

/* ---- rc_tick_time_us ---- */

/* Parse a body whose time is `time` (without quotes) and return its time in
 * microseconds. */
static int64_t time_us_of(const char *time)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\"", time);
    struct rc_tick t;
    char err[256] = "";
    const char *body = body_with_time(quoted);
    int rc = rc_tick_parse(&t, body, strlen(body), err, sizeof err);
    if (rc != 0)
        print_error("time '%s' rejected: %s\n", time, err);
    assert_int_equal(rc, 0);
    int64_t us = rc_tick_time_us(&t);
    rc_tick_clear(&t);
    return us;
}

#define expect_time_us(time, want) expect_time_us_at(time, want, __LINE__)
static void expect_time_us_at(const char *time, int64_t want, int line)
{
    int64_t got = time_us_of(time);
    if (got != want)
        print_error("line %d: '%s' -> %lld us, want %lld\n", line, time, (long long)got,
                    (long long)want);
    assert_int_equal(got, want);
}

/* Seconds since the epoch, computed with `date -u -d <time> +%s` when these
 * tests were written (GNU coreutils), independently of the code under test. */
#define S_T0    INT64_C(1795833079)   /* 2026-11-28T02:31:19 */
#define S_LEAP  INT64_C(951825600)    /* 2000-02-29T12:00:00 */
#define S_Y2038 INT64_C(2147483648)   /* 2038-01-19T03:14:08: past 32-bit time_t */
#define S_Y9999 INT64_C(253402300799) /* 9999-12-31T23:59:59 */

static void test_time_us_coinapi_shape(void **state)
{
    (void)state;
    /* CoinAPI's 7 fractional digits: truncated to microseconds */
    expect_time_us(T0, INT64_C(1795833079565590));
    expect_time_us(T0, S_T0 * 1000000 + 565590);
    /* the parsed GOOD body carries the same time */
    struct rc_tick t;
    char err[128];
    assert_int_equal(rc_tick_parse(&t, GOOD, strlen(GOOD), err, sizeof err), 0);
    assert_int_equal(rc_tick_time_us(&t), INT64_C(1795833079565590));
    rc_tick_clear(&t);
}

static void test_time_us_fractions(void **state)
{
    (void)state;
    const int64_t base = S_T0 * 1000000;
    expect_time_us("2026-11-28T02:31:19Z", base);                 /* no fraction */
    expect_time_us("2026-11-28T02:31:19.5Z", base + 500000);      /* 1 digit */
    expect_time_us("2026-11-28T02:31:19.05Z", base + 50000);      /* leading zero kept */
    expect_time_us("2026-11-28T02:31:19.123Z", base + 123000);    /* milliseconds */
    expect_time_us("2026-11-28T02:31:19.123456Z", base + 123456); /* exactly us */
    expect_time_us("2026-11-28T02:31:19.000001Z", base + 1);
    expect_time_us("2026-11-28T02:31:19.1234567Z", base + 123456);   /* 7: truncated */
    expect_time_us("2026-11-28T02:31:19.123456789Z", base + 123456); /* 9: truncated */
    expect_time_us("2026-11-28T02:31:19.999999999Z", base + 999999); /* never rounds up */
    expect_time_us("2026-11-28T02:31:19.0000009Z", base);
    expect_time_us("2026-11-28T02:31:19.000000000Z", base);
    expect_time_us("2026-11-28T02:31:19.0Z", base);
}

static void test_time_us_calendar(void **state)
{
    (void)state;
    expect_time_us("2000-02-29T12:00:00Z", S_LEAP * 1000000);
    expect_time_us("2038-01-19T03:14:08Z", S_Y2038 * 1000000);
    expect_time_us("9999-12-31T23:59:59.9999999Z", S_Y9999 * 1000000 + 999999);
    expect_time_us("1970-01-01T00:00:00.5Z", 500000);
    expect_time_us("1970-01-01T00:00:01Z", 1000000);
    expect_time_us("1970-01-01T00:00:00Z", 0); /* the epoch itself */
    /* the time is always UTC: no local time zone applies */
    expect_time_us("2026-11-28T00:00:00Z", (S_T0 - (2 * 3600 + 31 * 60 + 19)) * 1000000);
}

static void test_time_us_before_epoch(void **state)
{
    (void)state;
    expect_time_us("1969-12-31T23:59:59Z", 0);
    expect_time_us("1969-12-31T23:59:59.5Z", 0);
    expect_time_us("1969-07-20T20:17:40Z", 0);
    expect_time_us("1900-01-01T00:00:00Z", 0);
    expect_time_us("0000-01-01T00:00:00.123Z", 0);
}

static void test_time_us_fields_out_of_range(void **state)
{
    (void)state;
    /* Digits in range only: timegm() would quietly normalise these. */
    static const char *bad[] = {
        "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z",
        "2026-11-45T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z",
        "2026-11-28T02:61:00Z", "2026-11-28T02:31:61Z", "2026-13-45T25:61:61Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", bad[i]);
        const char *body = body_with_time(quoted);
        struct rc_tick t;
        char err[256];
        if (rc_tick_parse(&t, body, strlen(body), err, sizeof err) != 0)
            continue; /* rejected: fine */
        int64_t us = rc_tick_time_us(&t);
        rc_tick_clear(&t);
        if (us != 0)
            print_error("'%s' accepted, time %lld us\n", bad[i], (long long)us);
        assert_int_equal(us, 0);
    }
}

/* ---- helpers exported by rc_tick ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_int_equal(rc_utf8_valid("", 0), 1);
    assert_int_equal(rc_utf8_valid("plain ascii", 11), 1);
    assert_int_equal(rc_utf8_valid("\xc3\xa9", 2), 1);         /* é */
    assert_int_equal(rc_utf8_valid("\xe2\x82\xac", 3), 1);     /* € */
    assert_int_equal(rc_utf8_valid("\xf0\x9f\x98\x80", 4), 1); /* 😀 */
    assert_int_equal(rc_utf8_valid("\xf4\x8f\xbf\xbf", 4), 1); /* U+10FFFF */
    assert_int_equal(rc_utf8_valid("\xed\x9f\xbf", 3), 1);     /* U+D7FF */
    assert_int_equal(rc_utf8_valid("\xee\x80\x80", 3), 1);     /* U+E000 */
    assert_int_equal(rc_utf8_valid("\xc2\x80", 2), 1);         /* U+0080 */
    assert_int_equal(rc_utf8_valid("\xe0\xa0\x80", 3), 1);     /* U+0800 */
    assert_int_equal(rc_utf8_valid("\xf0\x90\x80\x80", 4), 1); /* U+10000 */
    assert_int_equal(rc_utf8_valid("a\0b", 3), 1);             /* NUL is valid UTF-8 */

    assert_int_equal(rc_utf8_valid("\xff", 1), 0);
    assert_int_equal(rc_utf8_valid("\xfe", 1), 0);
    assert_int_equal(rc_utf8_valid("\x80", 1), 0);
    assert_int_equal(rc_utf8_valid("\xbf", 1), 0);
    assert_int_equal(rc_utf8_valid("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(rc_utf8_valid("\xc1\xbf", 2), 0);         /* overlong */
    assert_int_equal(rc_utf8_valid("\xe0\x9f\xbf", 3), 0);     /* overlong */
    assert_int_equal(rc_utf8_valid("\xf0\x8f\xbf\xbf", 4), 0); /* overlong */
    assert_int_equal(rc_utf8_valid("\xed\xa0\x80", 3), 0);     /* D800 */
    assert_int_equal(rc_utf8_valid("\xed\xbf\xbf", 3), 0);     /* DFFF */
    assert_int_equal(rc_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* > 10FFFF */
    assert_int_equal(rc_utf8_valid("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(rc_utf8_valid("\xc3", 1), 0); /* truncated */
    assert_int_equal(rc_utf8_valid("\xe2\x82", 2), 0);
    assert_int_equal(rc_utf8_valid("\xf0\x9f\x98", 3), 0);
    assert_int_equal(rc_utf8_valid("\xc3(", 2), 0); /* bad continuation */
    assert_int_equal(rc_utf8_valid("\xe2\x28\xa1", 3), 0);
    assert_int_equal(rc_utf8_valid("\xf0\x9f\x98\x41", 4), 0);
    /* len limits the scan: a valid sequence cut by len is truncated. */
    assert_int_equal(rc_utf8_valid("\xe2\x82\xac", 2), 0);
    /* ... and bytes past len are not looked at. */
    assert_int_equal(rc_utf8_valid("ab\xff", 2), 1);
}

static void test_asset_valid(void **state)
{
    (void)state;
    assert_int_equal(rc_asset_valid("BTC", 3), 1);
    assert_int_equal(rc_asset_valid("btc", 3), 1);
    assert_int_equal(rc_asset_valid("A", 1), 1);
    assert_int_equal(rc_asset_valid("X_1", 3), 1);
    assert_int_equal(rc_asset_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 32), 1);
    assert_int_equal(rc_asset_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", 33), 0);
    assert_int_equal(rc_asset_valid("", 0), 0);
    assert_int_equal(rc_asset_valid("BTC/USD", 7), 0);
    assert_int_equal(rc_asset_valid("BT C", 4), 0);
    assert_int_equal(rc_asset_valid(" BTC", 4), 0);
    assert_int_equal(rc_asset_valid("BTC-", 4), 0);
    assert_int_equal(rc_asset_valid("BTC\n", 4), 0);
    assert_int_equal(rc_asset_valid("B\0C", 3), 0);
    assert_int_equal(rc_asset_valid("\xc3\xa9", 2), 0);
    /* Only len bytes count. */
    assert_int_equal(rc_asset_valid("BTC/USD", 3), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_byte_exact),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_rate_digits_kept),
        cmocka_unit_test(test_rate_digits_kept_with_spaces),
        cmocka_unit_test(test_rate_value_parsed),
        cmocka_unit_test(test_pretty_printed_compacted),
        cmocka_unit_test(test_unknown_fields_kept),
        cmocka_unit_test(test_escapes_stay_escaped),
        cmocka_unit_test(test_utf8_in_extra_field),
        cmocka_unit_test(test_time_shapes_accepted),
        cmocka_unit_test(test_asset_ids_accepted),
        cmocka_unit_test(test_trailing_whitespace_ok),
        cmocka_unit_test(test_deep_nesting_accepted_under_limit),
        cmocka_unit_test(test_reject_empty),
        cmocka_unit_test(test_reject_not_json),
        cmocka_unit_test(test_reject_not_object),
        cmocka_unit_test(test_reject_trailing_garbage),
        cmocka_unit_test(test_reject_missing_fields),
        cmocka_unit_test(test_reject_wrong_types),
        cmocka_unit_test(test_reject_bad_rate_values),
        cmocka_unit_test(test_reject_bad_time),
        cmocka_unit_test(test_reject_bad_assets),
        cmocka_unit_test(test_reject_nul_byte),
        cmocka_unit_test(test_reject_invalid_utf8),
        cmocka_unit_test(test_reject_too_large),
        cmocka_unit_test(test_reject_deep_nesting),
        cmocka_unit_test(test_duplicate_rate_key),
        cmocka_unit_test(test_duplicate_rate_key_with_escaped_name),
        cmocka_unit_test(test_rate_not_strict_json),
        cmocka_unit_test(test_duplicate_err_is_one_line),
        cmocka_unit_test(test_nul_escape_does_not_leak),
        cmocka_unit_test(test_bom_prefixed_body),
        cmocka_unit_test(test_small_err_buffer),
        cmocka_unit_test(test_clear_zeroed),
        cmocka_unit_test(test_time_us_coinapi_shape),
        cmocka_unit_test(test_time_us_fractions),
        cmocka_unit_test(test_time_us_calendar),
        cmocka_unit_test(test_time_us_before_epoch),
        cmocka_unit_test(test_time_us_fields_out_of_range),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_asset_valid),
    };
    return cmocka_run_group_tests_name("tick", tests, NULL, NULL);
}
