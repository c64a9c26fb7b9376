/* rc_tick.c: the exchange-rate message codec shared by both programs. The interface, and who
 * owns what, is in rc_tick.h. */
#include "rc_tick.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rc_asset_valid(const char *s, size_t len)
{
    if (len == 0 || len > RC_ASSET_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

int rc_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z": the shape CoinAPI sends. Checked by
 * pattern rather than strptime: strptime accepts too much. */
static int time_valid(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;
    for (i = 0; pat[i]; i++) {
        if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
            return 0;
    }
    /* Digits alone are not a date: timegm() would quietly turn month 13
     * or 25:61 into some other real time. */
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = atoi(s), mon = atoi(s + 5), day = atoi(s + 8);
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        (mon == 2 && day == 29 && !leap) || atoi(s + 11) > 23 || atoi(s + 14) > 59 ||
        atoi(s + 17) > 59)
        return 0;
    if (s[i] == '.') {
        size_t digits = 0;
        for (i++; isdigit((unsigned char)s[i]); i++)
            digits++;
        if (digits == 0 || digits > 9)
            return 0;
    }
    return s[i] == 'Z' && s[i + 1] == '\0';
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Index just past the string starting at s[i] == '"'. */
static size_t skip_string(const char *s, size_t i, size_t len)
{
    for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i + 1;
}

/* Index just past the value starting at s[i]. */
static size_t skip_value(const char *s, size_t i, size_t len)
{
    if (s[i] == '"')
        return skip_string(s, i, len);
    if (s[i] != '{' && s[i] != '[') {
        while (i < len && !strchr(",}] \t\r\n", s[i]))
            i++;
        return i;
    }
    int depth = 0;
    for (; i < len; i++) {
        if (s[i] == '"') {
            i = skip_string(s, i, len) - 1;
        } else if (s[i] == '{' || s[i] == '[') {
            depth++;
        } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
            return i + 1;
        }
    }
    return i;
}

/* Find the text of the top-level member `key` in s, which cJSON has already
 * accepted as a JSON object (so this scanner can trust the syntax). Only a
 * key written without escapes matches; the caller falls back to cJSON's own
 * printing otherwise. Returns 0 with start and vlen set, or -1. */
static int find_member_text(const char *s, size_t len, const char *key, const char **start,
                            size_t *vlen)
{
    size_t klen = strlen(key);
    size_t i = skip_ws(s, 0, len) + 1; /* past '{' */
    for (;;) {
        i = skip_ws(s, i, len);
        if (i >= len || s[i] != '"')
            return -1;
        size_t kstart = i + 1;
        i = skip_string(s, i, len);
        int match = (i - 1 - kstart == klen && memcmp(s + kstart, key, klen) == 0);
        i = skip_ws(s, i, len) + 1; /* past ':' */
        i = skip_ws(s, i, len);
        size_t vend = skip_value(s, i, len);
        if (match) {
            *start = s + i;
            *vlen = vend - i;
            return 0;
        }
        i = skip_ws(s, vend, len);
        if (i >= len || s[i] != ',')
            return -1;
        i++;
    }
}

/* Copy a validated string member into dst[cap]; -1 if absent, not a string,
 * or too long. */
static int get_string(const cJSON *obj, const char *name, char *dst, size_t cap, char *err,
                      size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (it == NULL) {
        snprintf(err, errlen, "missing field \"%s\"", name);
        return -1;
    }
    if (!cJSON_IsString(it)) {
        snprintf(err, errlen, "field \"%s\" is not a string", name);
        return -1;
    }
    size_t n = strlen(it->valuestring);
    if (n >= cap) {
        snprintf(err, errlen, "field \"%s\" is too long (%zu bytes)", name, n);
        return -1;
    }
    memcpy(dst, it->valuestring, n + 1);
    return 0;
}

/* cJSON decodes \u0000 into a NUL inside a C string, which silently cuts
 * the value ("BTC\u0000junk" would pass as "BTC"). The body was already
 * accepted as JSON, so backslashes appear only as escapes in strings. */
static int has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
            return 1;
        i++; /* skip the escaped character: an escaped backslash before "u0000" is text */
    }
    return 0;
}

/* cJSON keeps duplicate members and its getter returns the first, while a
 * browser's JSON.parse keeps the last: a body with a duplicate could pass
 * validation here and show the unchecked copy to users. Refuse them. */
static int check_unique_members(const cJSON *obj, char *err, size_t errlen)
{
    int n = 0;
    for (const cJSON *a = obj->child; a; a = a->next, n++) {
        if (n >= RC_TICK_MAX_FIELDS) {
            snprintf(err, errlen, "more than %d fields", RC_TICK_MAX_FIELDS);
            return -1;
        }
        for (const cJSON *b = obj->child; b != a; b = b->next) {
            if (strcmp(a->string, b->string) == 0) {
                /* Only printable text goes into a reason that gets logged:
                 * a key may hold escaped line breaks. */
                char name[41];
                size_t k = 0;
                for (const char *p = a->string; *p && k < sizeof name - 1; p++)
                    name[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
                name[k] = '\0';
                snprintf(err, errlen, "duplicate field \"%s\"", name);
                return -1;
            }
        }
    }
    return 0;
}

static int check_fields(struct rc_tick *t, const cJSON *obj, char *err, size_t errlen)
{
    if (check_unique_members(obj, err, errlen) < 0)
        return -1;
    if (get_string(obj, "time", t->time, sizeof t->time, err, errlen) < 0 ||
        get_string(obj, "asset_id_base", t->base, sizeof t->base, err, errlen) < 0 ||
        get_string(obj, "asset_id_quote", t->quote, sizeof t->quote, err, errlen) < 0)
        return -1;
    if (!time_valid(t->time)) {
        snprintf(err, errlen, "field \"time\" is not an ISO 8601 UTC time");
        return -1;
    }
    if (!rc_asset_valid(t->base, strlen(t->base)) || !rc_asset_valid(t->quote, strlen(t->quote))) {
        snprintf(err, errlen, "asset ids must be 1-%d letters, digits or '_'", RC_ASSET_MAX);
        return -1;
    }
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(obj, "rate");
    if (rate == NULL) {
        snprintf(err, errlen, "missing field \"rate\"");
        return -1;
    }
    if (!cJSON_IsNumber(rate)) {
        snprintf(err, errlen, "field \"rate\" is not a number");
        return -1;
    }
    /* 1e400 parses as infinity; zero or negative rates are nonsense. */
    if (!isfinite(rate->valuedouble) || rate->valuedouble <= 0) {
        snprintf(err, errlen, "field \"rate\" must be finite and positive");
        return -1;
    }
    t->rate = rate->valuedouble;
    return 0;
}

/* RFC 8259's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * cJSON accepts more ("06", "5.", "5.e3"), and whatever text we pass on
 * must still be JSON to a browser's JSON.parse. */
static int json_number_valid(const char *s, size_t n)
{
    size_t i = 0;
#define DIGITS(min)                                                                                \
    do {                                                                                           \
        size_t d0 = i;                                                                             \
        while (i < n && s[i] >= '0' && s[i] <= '9')                                                \
            i++;                                                                                   \
        if (i - d0 < (min))                                                                        \
            return 0;                                                                              \
    } while (0)
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else
        DIGITS(1);
    if (i < n && s[i] == '.') {
        i++;
        DIGITS(1);
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        DIGITS(1);
    }
#undef DIGITS
    return i == n;
}

/* Replace the parsed rate by its original text so no digit is lost
 * (cJSON keeps a double, and prints it with %1.15g when that is only
 * approximately equal). The text must be where the scanner finds it (a
 * key written with escapes is refused), a strict JSON number, and the same
 * number cJSON read (duplicate keys were refused already). Returns 0, -1
 * with err set, or -2 when out of memory. */
static int keep_rate_digits(cJSON *obj, const char *body, size_t len, char *err, size_t errlen)
{
    const char *start;
    size_t vlen;
    if (find_member_text(body, len, "rate", &start, &vlen) < 0) {
        snprintf(err, errlen, "the \"rate\" key is written with escapes");
        return -1;
    }
    if (!json_number_valid(start, vlen)) {
        snprintf(err, errlen, "field \"rate\" is not a JSON number (RFC 8259)");
        return -1;
    }
    char *raw = strndup(start, vlen);
    if (raw == NULL)
        return -2;
    if (strtod(raw, NULL) != cJSON_GetObjectItemCaseSensitive(obj, "rate")->valuedouble) {
        free(raw);
        snprintf(err, errlen, "field \"rate\" is ambiguous");
        return -1;
    }
    cJSON *item = cJSON_CreateRaw(raw);
    free(raw);
    if (item == NULL)
        return -2;
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, "rate", item)) {
        cJSON_Delete(item);
        return -2;
    }
    return 0;
}

/* Bytes below 0x20 other than tab, line feed and carriage return are
 * neither JSON whitespace nor allowed raw in JSON strings; cJSON takes
 * them as whitespace, which would let them into what we pass on. */
static int has_control_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return 1;
    }
    return 0;
}

struct cJSON *rc_json_parse_object(const char *body, size_t len, size_t max, const char **text,
                                   size_t *textlen, char *err, size_t errlen)
{
    cJSON *obj = NULL;
    if (len == 0) {
        snprintf(err, errlen, "empty body");
        goto fail;
    }
    /* RFC 8259 lets a parser ignore a byte order mark; cJSON does, and so
     * must the raw-text scanner that keeps the rate's digits. */
    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
        body += 3;
        len -= 3;
    }
    if (len > max) {
        snprintf(err, errlen, "body too large (%zu bytes, limit %zu)", len, max);
        goto fail;
    }
    /* cJSON works on C strings: a NUL would silently cut the text. */
    if (memchr(body, '\0', len) != NULL) {
        snprintf(err, errlen, "body contains a NUL byte");
        goto fail;
    }
    if (!rc_utf8_valid(body, len)) {
        snprintf(err, errlen, "body is not valid UTF-8");
        goto fail;
    }
    if (has_control_bytes(body, len)) {
        snprintf(err, errlen, "body contains a control character");
        goto fail;
    }
    const char *end = NULL;
    obj = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (obj == NULL) {
        snprintf(err, errlen, "not valid JSON");
        goto fail;
    }
    /* cJSON stops at the end of the first value and ignores what follows. */
    if ((size_t)(end - body) < len && skip_ws(body, (size_t)(end - body), len) != len) {
        snprintf(err, errlen, "trailing data after the JSON value");
        goto fail;
    }
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "not a JSON object");
        goto fail;
    }
    if (has_nul_escape(body, len)) {
        snprintf(err, errlen, "a string contains \\u0000 (NUL)");
        goto fail;
    }
    *text = body;
    *textlen = len;
    return obj;
fail:
    cJSON_Delete(obj);
    return NULL;
}

int rc_json_member_text(const char *s, size_t len, const char *key, const char **start,
                        size_t *vlen)
{
    return find_member_text(s, len, key, start, vlen);
}

int rc_json_array_next(const char *s, size_t len, size_t *pos, const char **start, size_t *vlen)
{
    /* *pos is 0 before the '[', else just past the previous element. */
    size_t i = skip_ws(s, *pos, len);
    if (i >= len)
        return 0;
    if (*pos == 0 ? s[i] != '[' : s[i] != ',')
        return 0; /* ']' after the last element */
    i = skip_ws(s, i + 1, len);
    if (i >= len || s[i] == ']')
        return 0; /* an empty array */
    size_t vend = skip_value(s, i, len);
    *start = s + i;
    *vlen = vend - i;
    *pos = vend;
    return 1;
}

int rc_tick_parse(struct rc_tick *t, const char *body, size_t len, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    cJSON *obj = rc_json_parse_object(body, len, RC_TICK_MAX_BODY, &body, &len, err, errlen);
    if (obj == NULL)
        return -1;
    if (check_fields(t, obj, err, errlen) < 0)
        goto fail;
    int kept = keep_rate_digits(obj, body, len, err, errlen);
    if (kept < 0) {
        if (kept == -2)
            snprintf(err, errlen, "out of memory");
        goto fail;
    }
    t->json = cJSON_PrintUnformatted(obj);
    if (t->json == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    t->json_len = strlen(t->json);
    cJSON_Delete(obj);
    return 0;
fail:
    cJSON_Delete(obj);
    return -1;
}

int64_t rc_tick_time_us(const struct rc_tick *t)
{
    struct tm tm = {0};
    const char *s = t->time;
    /* The shape was checked by time_valid(): fixed positions. */
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    tm.tm_hour = atoi(s + 11);
    tm.tm_min = atoi(s + 14);
    tm.tm_sec = atoi(s + 17);
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1 || secs < 0)
        return 0;
    int64_t us = 0, scale = 100000;
    if (s[19] == '.')
        for (const char *p = s + 20; *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
            us += (*p - '0') * scale;
    return (int64_t)secs * 1000000 + us;
}

void rc_tick_clear(struct rc_tick *t)
{
    free(t->json);
    t->json = NULL;
    t->json_len = 0;
}
