/* sse-load: clocks and the small parsers its files share (see sse_load.h). */
#include "sse_load.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_real_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t sl_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

void sl_set_reason(char *dst, const char *reason)
{
    if (dst[0] == '\0')
        snprintf(dst, REASON_LEN, "%s", reason);
}

bool sl_parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool sl_digits(const char *p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

const char *sl_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}
