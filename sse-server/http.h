/* sse_http: the HTTP side of sse-server (libmicrohttpd, epoll, thread
 * pool, suspend/resume).
 *
 * Routes: GET /api/v1/sso/stream (the event stream, see stream.h),
 * POST /api/v1/sso/broadcast (see broadcast.h), GET /healthz, /readyz and
 * /metrics. OPTIONS answers CORS preflights; other paths 404, other methods
 * 405 with Allow.
 */
#ifndef SSE_HTTP_H
#define SSE_HTTP_H

#include <stddef.h>

#include "broadcast.h"
#include "consumer.h"
#include "hub.h"

struct sse_http_config {
    const char *listen;         /* "0.0.0.0:8181", "[::]:8181", "localhost:8181" */
    unsigned max_clients;       /* streams; a few more sockets for health checks */
    const char *cors_origins;   /* "*" or a comma-separated list of origins */
    unsigned threads;           /* libmicrohttpd worker threads */
    unsigned request_timeout_s; /* for everything but streams (slow headers) */
    size_t conn_memory;         /* per-connection memory pool, bytes */
    size_t sndbuf;              /* SO_SNDBUF per connection, bytes; 0: kernel autotuning */
    unsigned retry_ms;          /* base of the jittered retry: field */
    const char *tls_cert;       /* PEM text: serve HTTPS (with tls_key); NULL: HTTP */
    const char *tls_key;        /* PEM text; both borrowed, must outlive the server */
    int reuse_port;             /* SO_REUSEPORT: several processes share the port */
    int snapshot;               /* new streams start with each pair's newest event */
};

struct sse_http;

/* cfg, hub and stats are borrowed and must outlive the server; broadcast
 * may be NULL (the endpoint then answers 404). */
struct sse_http *sse_http_start(const struct sse_http_config *cfg, struct sse_hub *hub,
                                const struct sse_consumer_stats *stats,
                                struct sse_broadcast *broadcast, char *err, size_t errlen);

/* Close connections whose request headers are overdue (--request-timeout
 * is a deadline, not an idle timeout). Call every few hundred ms. */
void sse_http_sweep(struct sse_http *s);

/* The TCP port actually bound (useful with --listen HOST:0). */
unsigned sse_http_port(const struct sse_http *s);

/* Stop accepting, end every stream (the hub must already be closed, so
 * that parked streams are resumed and read end-of-stream), wait for them
 * up to wait_ms, then stop the daemon and free. Accepts NULL. */
void sse_http_stop(struct sse_http *s, struct sse_hub *hub, int wait_ms);

/* 1 if origin is allowed by the list ("*" allows all). Exposed for tests. */
int sse_origin_allowed(const char *list, const char *origin);

#endif
