/* tick_time: the "time" of a ratecast tick in one SSE data line, for latency: receive time
 * minus this. Pure. */
#ifndef TICK_TIME_H
#define TICK_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Finds "time":"YYYY-MM-DDTHH:MM:SS[.fff...]Z" in p[0..n) and sets *us (microseconds since
 * the epoch, UTC; digits past the sixth fractional one are dropped). Not a JSON parser:
 * ratecast's body is compact JSON from our own encoder, and a wrong match only costs one
 * latency sample. */
bool tick_time_find(const char *p, size_t n, int64_t *us);

#endif
