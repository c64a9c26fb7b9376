/* rc_pairs.c: "BTC/USD,ETH/USD" lists of currency pairs, as given to `fetcher --pairs` and to
 * the stream's ?pairs= filter. The interface, and who owns what, is in rc_pairs.h. */
#include "rc_pairs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Copy an asset id, upper-cased, after validating it. */
static int take_asset(const char *s, size_t len, char *dst)
{
    if (!rc_asset_valid(s, len))
        return -1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)toupper((unsigned char)s[i]);
    dst[len] = '\0';
    return 0;
}

static int parse_one(const char *s, size_t len, struct rc_pair *p)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    const char *slash = memchr(s, '/', len);
    if (slash == NULL)
        return -1;
    size_t blen = (size_t)(slash - s);
    if (take_asset(s, blen, p->base) < 0 || take_asset(slash + 1, len - blen - 1, p->quote) < 0)
        return -1;
    return 0;
}

int rc_pairs_parse(const char *s, struct rc_pair *out, size_t max, char *err, size_t errlen)
{
    size_t n = 0;
    for (const char *item = s;;) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        struct rc_pair p;
        if (parse_one(item, len, &p) < 0) {
            snprintf(err, errlen, "invalid pair '%.*s': expected BASE/QUOTE such as BTC/USD",
                     (int)(len > 40 ? 40 : len), item);
            return -1;
        }
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= strcmp(out[i].base, p.base) == 0 && strcmp(out[i].quote, p.quote) == 0;
        if (!dup) {
            if (n == max) {
                snprintf(err, errlen, "too many pairs (at most %zu)", max);
                return -1;
            }
            out[n++] = p;
        }
        if (comma == NULL)
            break;
        item = comma + 1;
    }
    return (int)n;
}
