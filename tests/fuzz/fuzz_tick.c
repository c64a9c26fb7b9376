/* libFuzzer target for rc_tick_parse() (common/rc_tick.h).
 *
 * The body is the raw fuzz input (any bytes, any length, not
 * NUL-terminated). Besides "no sanitizer report", every result must hold
 * the codec's contract; a violation is __builtin_trap():
 *
 *   failure: t.json == NULL and err is a non-empty C string of one line
 *            (the header promises a one-line reason: it goes to the log).
 *   success: t.json is NUL-terminated, strlen(t.json) == t.json_len, it
 *            holds no '\n', '\r' or NUL, starts with '{', t.rate is
 *            finite and > 0, and parsing t.json again succeeds with
 *            byte-identical json and the same time/base/quote/rate
 *            (the wire form is a fixed point).
 *   success: t.json is strict RFC 8259 JSON (what a browser's JSON.parse
 *            accepts: no control bytes, no leading zeros, no "5." ...),
 *            checked by the small validator below. cJSON is more lenient
 *            than JSON.parse, and rc_tick keeps the rate's original text.
 *
 * Switches for open bugs (see tests/fuzz/known-crashes), so that the
 * fuzzer can look for everything else meanwhile:
 *   RC_FUZZ_TICK_LENIENT_RATE=1       relax the strict-JSON check to
 *       cJSON's own number and whitespace rules ([0-9.eE+-]+, any byte
 *       0x01-0x20 as blank): "rate text kept verbatim even when
 *       JSON.parse rejects it";
 *   RC_FUZZ_TICK_LENIENT_ROUNDTRIP=1  skip "the re-parsed rate is the same
 *       double": "the cJSON fallback prints a different rate";
 *   RC_FUZZ_TICK_LENIENT_ERR=1        skip "err is one line": "a duplicate
 *       key is quoted raw into err".
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_tick.h"

#include "fuzz_check.h"

/* ---- strict RFC 8259 validator (no whitespace needed: compact form) ---- */

static int lenient_rate, lenient_roundtrip, lenient_err;

struct jv {
    const unsigned char *s;
    size_t len, i;
    int depth;
};

static int jv_value(struct jv *v);

static void jv_ws(struct jv *v)
{
    if (lenient_rate) {
        while (v->i < v->len && v->s[v->i] >= 0x01 && v->s[v->i] <= 0x20)
            v->i++;
        return;
    }
    while (v->i < v->len &&
           (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' || v->s[v->i] == '\r'))
        v->i++;
}

static int jv_lit(struct jv *v, const char *lit)
{
    size_t n = strlen(lit);
    if (v->len - v->i < n || memcmp(v->s + v->i, lit, n) != 0)
        return 0;
    v->i += n;
    return 1;
}

static int jv_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int jv_string(struct jv *v)
{
    if (v->i >= v->len || v->s[v->i] != '"')
        return 0;
    for (v->i++; v->i < v->len; v->i++) {
        unsigned char c = v->s[v->i];
        if (c == '"') {
            v->i++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++v->i >= v->len)
                return 0;
            c = v->s[v->i];
            if (c == 'u') {
                if (v->len - v->i < 5)
                    return 0;
                for (int k = 1; k <= 4; k++)
                    if (!jv_hex(v->s[v->i + k]))
                        return 0;
                v->i += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return 0;
            }
        }
    }
    return 0;
}

static int jv_digits(struct jv *v)
{
    size_t start = v->i;
    while (v->i < v->len && v->s[v->i] >= '0' && v->s[v->i] <= '9')
        v->i++;
    return v->i > start;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int jv_number(struct jv *v)
{
    if (lenient_rate) {
        size_t start = v->i;
        while (v->i < v->len && strchr("0123456789.eE+-", v->s[v->i]) && v->s[v->i])
            v->i++;
        return v->i > start;
    }
    if (v->i < v->len && v->s[v->i] == '-')
        v->i++;
    if (v->i >= v->len)
        return 0;
    if (v->s[v->i] == '0')
        v->i++;
    else if (!jv_digits(v))
        return 0;
    if (v->i < v->len && v->s[v->i] == '.') {
        v->i++;
        if (!jv_digits(v))
            return 0;
    }
    if (v->i < v->len && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
        v->i++;
        if (v->i < v->len && (v->s[v->i] == '+' || v->s[v->i] == '-'))
            v->i++;
        if (!jv_digits(v))
            return 0;
    }
    return 1;
}

static int jv_container(struct jv *v, char open, char close)
{
    if (++v->depth > 1000)
        return 0;
    v->i++; /* open */
    (void)open;
    jv_ws(v);
    if (v->i < v->len && v->s[v->i] == (unsigned char)close) {
        v->i++;
        v->depth--;
        return 1;
    }
    for (;;) {
        jv_ws(v);
        if (close == '}') {
            if (!jv_string(v))
                return 0;
            jv_ws(v);
            if (v->i >= v->len || v->s[v->i] != ':')
                return 0;
            v->i++;
        }
        if (!jv_value(v))
            return 0;
        jv_ws(v);
        if (v->i >= v->len)
            return 0;
        if (v->s[v->i] == ',') {
            v->i++;
            continue;
        }
        if (v->s[v->i] == (unsigned char)close) {
            v->i++;
            v->depth--;
            return 1;
        }
        return 0;
    }
}

static int jv_value(struct jv *v)
{
    jv_ws(v);
    if (v->i >= v->len)
        return 0;
    switch (v->s[v->i]) {
    case '{':
        return jv_container(v, '{', '}');
    case '[':
        return jv_container(v, '[', ']');
    case '"':
        return jv_string(v);
    case 't':
        return jv_lit(v, "true");
    case 'f':
        return jv_lit(v, "false");
    case 'n':
        return jv_lit(v, "null");
    default:
        return jv_number(v);
    }
}

static int json_strict_valid(const char *s, size_t len)
{
    struct jv v = {(const unsigned char *)s, len, 0, 0};
    if (!jv_value(&v))
        return 0;
    jv_ws(&v);
    return v.i == len;
}

/* ---- the target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *e = getenv("RC_FUZZ_TICK_LENIENT_RATE");
    lenient_rate = e != NULL && strcmp(e, "1") == 0;
    e = getenv("RC_FUZZ_TICK_LENIENT_ROUNDTRIP");
    lenient_roundtrip = e != NULL && strcmp(e, "1") == 0;
    e = getenv("RC_FUZZ_TICK_LENIENT_ERR");
    lenient_err = e != NULL && strcmp(e, "1") == 0;
    return 0;
}

static void check_success(const struct rc_tick *t)
{
    CHECK(t->json != NULL);
    CHECK(t->json[t->json_len] == '\0');
    CHECK(strlen(t->json) == t->json_len);
    CHECK(memchr(t->json, '\n', t->json_len) == NULL);
    CHECK(memchr(t->json, '\r', t->json_len) == NULL);
    CHECK(t->json_len > 0 && t->json[0] == '{');
    CHECK(isfinite(t->rate) && t->rate > 0);
    CHECK(memchr(t->time, '\0', sizeof t->time) != NULL);
    CHECK(rc_asset_valid(t->base, strlen(t->base)));
    CHECK(rc_asset_valid(t->quote, strlen(t->quote)));
#ifndef FUZZ_TICK_NO_STRICT_JSON
    CHECK(json_strict_valid(t->json, t->json_len));
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rc_tick t, again;
    char err[256], err2[256];

    memset(err, 'x', sizeof err);
    int rc = rc_tick_parse(&t, (const char *)data, size, err, sizeof err);
    CHECK(rc == 0 || rc == -1);
    if (rc == -1) {
        CHECK(t.json == NULL);
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        CHECK(lenient_err || strchr(err, '\n') == NULL);
        rc_tick_clear(&t);
        return 0;
    }
    check_success(&t);

    /* Idempotence: the wire form parses to itself. */
    int rc2 = rc_tick_parse(&again, t.json, t.json_len, err2, sizeof err2);
    CHECK(rc2 == 0);
    check_success(&again);
    CHECK(again.json_len == t.json_len);
    CHECK(memcmp(again.json, t.json, t.json_len) == 0);
    CHECK(strcmp(again.time, t.time) == 0);
    CHECK(strcmp(again.base, t.base) == 0);
    CHECK(strcmp(again.quote, t.quote) == 0);
    CHECK(lenient_roundtrip || again.rate == t.rate);
    /* Cheap enough to call on every success: must not crash. */
    (void)rc_tick_time_us(&t);

    rc_tick_clear(&again);
    rc_tick_clear(&t);
    CHECK(t.json == NULL && t.json_len == 0);
    rc_tick_clear(&t); /* twice is harmless */
    return 0;
}
