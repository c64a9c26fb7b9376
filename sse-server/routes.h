/* sse_routes: what each path answers: the route table and its handlers.
 *
 * GET (and HEAD) /api/v1/sso/stream (the event stream, see stream.h),
 * POST /api/v1/sso/broadcast (see broadcast.h), GET /, /healthz, /readyz
 * and /metrics. OPTIONS answers CORS preflights (cors.h); other paths
 * 404, other methods 405 with Allow.
 *
 * Called by the daemon (http.c) on libmicrohttpd's worker threads, once
 * the request's headers are in.
 */
#ifndef SSE_ROUTES_H
#define SSE_ROUTES_H

#include <microhttpd.h>

#include "broadcast.h"
#include "consumer.h"
#include "deadline.h"
#include "hub.h"
#include "stream.h"

/* What the handlers read; everything borrowed, set before the daemon
 * starts and never changed after. */
struct sse_routes {
    const char *cors_origins;               /* "*" or a comma-separated list */
    const struct sse_consumer_stats *stats; /* /readyz, /metrics */
    struct sse_broadcast *broadcast;        /* NULL: the broadcast route answers 404 */
    struct sse_deadlines *deadlines;        /* /metrics: requests cut at their deadline */
    struct sse_stream_env stream;           /* the stream route (stream.hub: /metrics) */
};

/* Answer the request for url with method. A POST route that goes on to
 * read a body sets *req_cls to its own state, which libmicrohttpd hands
 * back with every piece (sse_routes_body) and which sse_routes_release
 * frees when the request completes. */
enum MHD_Result sse_routes_answer(const struct sse_routes *rt, struct MHD_Connection *c,
                                  const char *url, const char *method, void **req_cls);

/* The next piece of a body (*size bytes; 0 when it is complete), for the
 * route that set req_cls. */
enum MHD_Result sse_routes_body(const struct sse_routes *rt, struct MHD_Connection *c,
                                void *req_cls, const char *data, size_t *size);

/* Free what sse_routes_answer put in *req_cls; accepts NULL. */
void sse_routes_release(void *req_cls);

#endif
