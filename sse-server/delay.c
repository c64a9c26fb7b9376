/* The delivery-delay histogram's bucket bounds (see delay.h). */
#include "delay.h"

/* From 1 ms (a loopback hand-over) to 10 s (a replica far behind). */
const int64_t sse_delay_bounds_ms[SSE_DELAY_BUCKETS] = {1,   5,   10,   25,   50,   100,
                                                        250, 500, 1000, 2500, 5000, 10000};
