/* rc_time: clocks, deadlines and jittered exponential backoff.
 * Stateless except for struct rc_backoff, which its owner keeps. */
#ifndef RC_TIME_H
#define RC_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: for deadlines and intervals. */
int64_t rc_mono_ms(void);
/* CLOCK_REALTIME in microseconds since the epoch: for ids and timestamps. */
int64_t rc_real_us(void);
/* Sleep until the CLOCK_MONOTONIC deadline (ms) or a signal arrives. */
void rc_sleep_until_ms(int64_t deadline_ms);

/* A uniformly random integer in [0, n) (n > 0); thread-safe, not for
 * cryptography. */
uint64_t rc_rand_below(uint64_t n);

/* Exponential backoff with "full jitter": each delay is uniform in
 * [cur/2, cur], and cur doubles up to cap. Reset after a success. */
struct rc_backoff {
    int64_t base_ms;
    int64_t cap_ms;
    int64_t cur_ms; /* 0 before the first failure */
};

int64_t rc_backoff_next(struct rc_backoff *b);
void rc_backoff_reset(struct rc_backoff *b);

#endif
