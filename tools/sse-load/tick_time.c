/* sse-load: a tick's own time, "YYYY-MM-DDTHH:MM:SS[.fff...]Z", found in one data line
 * and turned into microseconds since the epoch (see tick_time.h). */
#include "tick_time.h"

#include <string.h>

#include "sse_load.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): timegm()
 * would do, but this is pure and cannot touch the TZ machinery. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool parse_utc(const char *p, size_t n, int64_t *us)
{
    unsigned y, mo, d, h, mi, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' ||
        p[16] != ':')
        return false;
    if (!sl_digits(p, 4, &y) || !sl_digits(p + 5, 2, &mo) || !sl_digits(p + 8, 2, &d) ||
        !sl_digits(p + 11, 2, &h) || !sl_digits(p + 14, 2, &mi) || !sl_digits(p + 17, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (p[i] == '.') {
        int scale = 100000; /* the first fractional digit is 1/10 s = 100,000 us */
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            frac += (p[i] - '0') * scale;
            scale /= 10; /* digits past the sixth add nothing (0) */
        }
    }
    if (i + 1 != n || (p[i] != 'Z' && p[i] != 'z'))
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    *us = secs * 1000000 + frac;
    return true;
}

/* Finds "time":"..." in one data line. Not a JSON parser: ratecast's body is compact JSON
 * from our own encoder, and a wrong match only costs one latency sample. */
bool tick_time_find(const char *p, size_t n, int64_t *us)
{
    static const char key[] = "\"time\"";
    const size_t klen = sizeof key - 1;
    const char *end = p + n;
    const char *k = memmem(p, n, key, klen);
    for (; k != NULL; k = memmem(k + 1, (size_t)(end - k - 1), key, klen)) {
        const char *q = sl_skip_ws(k + klen, end);
        if (q == end || *q != ':')
            continue;
        q = sl_skip_ws(q + 1, end);
        if (q == end || *q != '"')
            continue;
        q++;
        const char *close = memchr(q, '"', (size_t)(end - q));
        if (close != NULL && parse_utc(q, (size_t)(close - q), us))
            return true;
    }
    return false;
}
