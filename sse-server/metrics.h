/* sse_metrics: the Prometheus text exposition for /metrics. Pure: reads
 * counters, writes text. The returned buffer is malloc'd; the caller frees
 * it. */
#ifndef SSE_METRICS_H
#define SSE_METRICS_H

#include <stddef.h>

#include "consumer.h"
#include "hub.h"

struct sse_http_stats {
    uint64_t request_timeouts; /* connections cut by --request-timeout */
};

char *sse_metrics_render(const struct sse_hub_stats *hub, const struct sse_consumer_stats *c,
                         const struct sse_http_stats *http, size_t *len);

#endif
