/* rc_log.c: levelled logging to stderr with UTC timestamps. The interface, and who owns what,
 * is in rc_log.h. */
#include "rc_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_name = "ratecast";
static _Atomic int log_level = RC_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void rc_log_set_name(const char *name)
{
    log_name = name;
}

void rc_log_set_level(enum rc_log_level level)
{
    atomic_store(&log_level, (int)level);
}

int rc_log_set_level_name(const char *name)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            rc_log_set_level((enum rc_log_level)i);
            return 0;
        }
    }
    return -1;
}

void rc_log(enum rc_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    /* Format the whole line first and write it in one call: stderr is
     * unbuffered, and several threads log at once. */
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_name, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: still end the line */
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
