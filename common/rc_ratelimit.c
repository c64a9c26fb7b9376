/* rc_ratelimit: how often one kind of log line may be written (see the
 * header). */
#include "rc_ratelimit.h"

void rc_ratelimit_init(struct rc_ratelimit *rl, unsigned burst, int64_t window_ms)
{
    *rl = (struct rc_ratelimit){.burst = burst, .window_ms = window_ms};
    pthread_mutex_init(&rl->lock, NULL);
}

int rc_ratelimit_allow(struct rc_ratelimit *rl, int64_t now_ms, uint64_t *suppressed)
{
    pthread_mutex_lock(&rl->lock);
    *suppressed = 0;
    /* The count of what was left out goes with the first line of the next
     * window, which is always let through. */
    if (!rl->started || now_ms - rl->window_start >= rl->window_ms) {
        *suppressed = rl->dropped;
        rl->started = 1;
        rl->window_start = now_ms;
        rl->lines = 0;
        rl->dropped = 0;
    }
    int ok = rl->lines < rl->burst;
    if (ok)
        rl->lines++;
    else
        rl->dropped++;
    pthread_mutex_unlock(&rl->lock);
    return ok;
}
