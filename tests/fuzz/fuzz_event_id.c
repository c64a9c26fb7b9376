/* libFuzzer target for the small request parsers of sse-server:
 *   sse_event_id_parse()  (sse-server/event_id.h)  Last-Event-ID / ?last_event_id=
 *   rc_pairs_parse()      (common/rc_pairs.h)    ?pairs= and fetcher --pairs
 *   sse_origin_allowed()  (sse-server/cors.h)    the CORS origin list
 *
 * The input is copied and NUL-terminated (the functions take C strings, so
 * everything after an embedded NUL is invisible to them). The whole string
 * goes to the first two; for the origin check it is split at the first
 * '\n' into list and origin.
 *
 * Each result is compared with a straightforward model written from the
 * header comments; a disagreement is __builtin_trap():
 *   - parse_event_id accepts exactly 1-19 decimal digits whose value is
 *     < 2^63; then "%llu" of the value is the input without leading zeros
 *     (and *id is untouched on rejection);
 *   - rc_pairs_parse returns -1 (err non-empty) or 1..max pairs, each base
 *     and quote 1..32 chars of [A-Z0-9_] (it upper-cases), no duplicates,
 *     and the same pairs, in order, as the model;
 *   - sse_origin_allowed is 0 or 1: 1 for the list "*", otherwise 1 exactly
 *     when origin is one of the non-empty items separated by ' ' or ','.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cors.h"
#include "event_id.h"
#include "rc_pairs.h"
#include "rc_tick.h"
#include "stream.h"

#include "fuzz_check.h"

static void fuzz_event_id(const char *s)
{
    const uint64_t sentinel = 0xDEADBEEFCAFEF00DULL;
    uint64_t id = sentinel;
    int rc = sse_event_id_parse(s, &id);
    CHECK(rc == 0 || rc == -1);

    /* The model: digits only, 1..19 of them, value < 2^63. */
    size_t n = strlen(s);
    int want = n >= 1 && n <= 19;
    unsigned __int128 v = 0;
    for (size_t i = 0; want && i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            want = 0;
        else
            v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (want && v >= ((unsigned __int128)1 << 63))
        want = 0;
    CHECK((rc == 0) == want);

    if (rc != 0) {
        CHECK(id == sentinel);
        return;
    }
    CHECK((unsigned __int128)id == v);
    char txt[32];
    snprintf(txt, sizeof txt, "%llu", (unsigned long long)id);
    const char *stripped = s + strspn(s, "0");
    if (*stripped == '\0')
        stripped = "0";
    CHECK(strcmp(txt, stripped) == 0);
}

/* ---- rc_pairs_parse model ---- */

static int model_asset(const char *s, size_t len, char *dst)
{
    if (len < 1 || len > RC_ASSET_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return -1;
        dst[i] = (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
    }
    dst[len] = '\0';
    return 0;
}

static int model_pairs(const char *s, struct rc_pair *out, size_t max)
{
    size_t n = 0;
    const char *item = s;
    for (;;) {
        const char *end = strchr(item, ',');
        if (end == NULL)
            end = item + strlen(item);
        const char *a = item, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        const char *slash = memchr(a, '/', (size_t)(b - a));
        struct rc_pair p;
        if (slash == NULL || model_asset(a, (size_t)(slash - a), p.base) < 0 ||
            model_asset(slash + 1, (size_t)(b - slash - 1), p.quote) < 0)
            return -1;
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i].base, p.base) == 0 && strcmp(out[i].quote, p.quote) == 0)
                dup = 1;
        if (!dup) {
            if (n == max)
                return -1;
            out[n++] = p;
        }
        if (*end == '\0')
            return (int)n;
        item = end + 1;
    }
}

static int upper_asset(const char *s)
{
    size_t n = strnlen(s, RC_ASSET_MAX + 1);
    if (n < 1 || n > RC_ASSET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static void fuzz_pairs_max(const char *s, size_t max)
{
    struct rc_pair got[RC_PAIRS_MAX], want[RC_PAIRS_MAX];
    char err[256];
    memset(got, 0x5A, sizeof got);
    memset(err, 'x', sizeof err);
    int rc = rc_pairs_parse(s, got, max, err, sizeof err);
    CHECK(rc == -1 || (rc >= 1 && (size_t)rc <= max));
    if (rc == -1) {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
    }
    for (int i = 0; i < rc; i++) {
        CHECK(upper_asset(got[i].base));
        CHECK(upper_asset(got[i].quote));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(got[i].base, got[j].base) != 0 || strcmp(got[i].quote, got[j].quote) != 0);
    }
    int mrc = model_pairs(s, want, max);
    CHECK(rc == mrc);
    for (int i = 0; i < rc; i++) {
        CHECK(strcmp(got[i].base, want[i].base) == 0);
        CHECK(strcmp(got[i].quote, want[i].quote) == 0);
    }
}

/* ---- sse_origin_allowed model ---- */

static int model_origin(const char *list, const char *origin)
{
    if (strcmp(list, "*") == 0)
        return 1;
    size_t olen = strlen(origin);
    if (olen == 0)
        return 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *q = p;
        while (*q && *q != ' ' && *q != ',')
            q++;
        if ((size_t)(q - p) == olen && memcmp(p, origin, olen) == 0)
            return 1;
        p = q;
    }
    return 0;
}

static void fuzz_origin(const char *s)
{
    const char *nl = strchr(s, '\n');
    size_t llen = nl ? (size_t)(nl - s) : strlen(s);
    /* Exact-size heap copies so ASan sees any overread. */
    char *list = malloc(llen + 1);
    CHECK(list != NULL);
    memcpy(list, s, llen);
    list[llen] = '\0';
    const char *o = nl ? nl + 1 : "";
    char *origin = strdup(o);
    CHECK(origin != NULL);

    int rc = sse_origin_allowed(list, origin);
    CHECK(rc == 0 || rc == 1);
    CHECK(rc == model_origin(list, origin));
    free(origin);
    free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';

    fuzz_event_id(s);
    fuzz_pairs_max(s, RC_PAIRS_MAX);
    fuzz_pairs_max(s, 1); /* the "too many pairs" path */
    fuzz_origin(s);

    free(s);
    return 0;
}
