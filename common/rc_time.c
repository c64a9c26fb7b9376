/* rc_time.c: clocks, deadlines and jittered exponential backoff. Stateless except for struct
 * rc_backoff, which its owner keeps. The interface, and who owns what, is in rc_time.h. */
#include "rc_time.h"

#include <sys/random.h>
#include <time.h>

int64_t rc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rc_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void rc_sleep_until_ms(int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000,
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
    /* Returns early on a signal, so callers see their stop flag promptly. */
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* xorshift64*, one state per thread, seeded from the kernel. */
static uint64_t next_rand(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        if (getrandom(&state, sizeof state, 0) != sizeof state || state == 0)
            state = (uint64_t)rc_real_us() | 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}

uint64_t rc_rand_below(uint64_t n)
{
    return next_rand() % n;
}

int64_t rc_backoff_next(struct rc_backoff *b)
{
    b->cur_ms = b->cur_ms == 0 ? b->base_ms : b->cur_ms * 2;
    if (b->cur_ms > b->cap_ms)
        b->cur_ms = b->cap_ms;
    int64_t half = b->cur_ms / 2;
    return half + (int64_t)rc_rand_below((uint64_t)(b->cur_ms - half) + 1);
}

void rc_backoff_reset(struct rc_backoff *b)
{
    b->cur_ms = 0;
}
