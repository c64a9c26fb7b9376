/* rc_ratelimit: how often one kind of log line may be written.
 *
 * A flood (malformed requests, garbage on the broker, a failing upstream)
 * must not become a flood of log lines, and what was left out must still
 * be said. A limiter lets `burst` lines through per window of `window_ms`;
 * a window starts with the first line after the previous one ended. The
 * lines refused meanwhile are counted, and the count is handed to the next
 * line let through, which says how many similar ones were not logged.
 *
 * The struct is the caller's (embed it, one per kind of line); its fields
 * are private. Every call takes its lock, so a limiter may be shared by
 * threads.
 */
#ifndef RC_RATELIMIT_H
#define RC_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

struct rc_ratelimit {
    pthread_mutex_t lock;
    unsigned burst;       /* lines per window */
    int64_t window_ms;    /* length of a window */
    int started;          /* a window has begun */
    int64_t window_start; /* rc_mono_ms() of its first line */
    unsigned lines;       /* let through in this window */
    uint64_t dropped;     /* refused since the last line let through */
};

/* For a limiter with static storage. */
#define RC_RATELIMIT_INITIALIZER(burst_, window_ms_)                                               \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER, .burst = (burst_), .window_ms = (window_ms_)            \
    }

/* For one embedded elsewhere: at most burst (at least 1) lines per
 * window_ms. */
void rc_ratelimit_init(struct rc_ratelimit *rl, unsigned burst, int64_t window_ms);

/* 1: log this line; 0: leave it out (it is counted). now_ms is
 * rc_mono_ms() (a parameter, so that tests can drive the clock). When the
 * line may be logged, *suppressed is the number of lines left out since
 * the last one logged, to be said with it (0 when none); it is always 0
 * when the answer is 0. */
int rc_ratelimit_allow(struct rc_ratelimit *rl, int64_t now_ms, uint64_t *suppressed);

#endif
