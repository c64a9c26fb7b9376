/* sse_http: the libmicrohttpd daemon (epoll, thread pool,
 * suspend/resume): its options, the listen address, the per-connection
 * hooks (SO_SNDBUF, the header deadline of deadline.h, %00 left escaped),
 * its log (rate-limited), and each request handed to the route table
 * (routes.h) once its headers are in.
 *
 * The threads streams are handed to (the writers, the reaper) are
 * started and stopped by the caller, around this daemon: see main.c for
 * the order.
 */
#ifndef SSE_HTTP_H
#define SSE_HTTP_H

#include <stddef.h>

#include "broadcast.h"
#include "consumer.h"
#include "hub.h"
#include "reaper.h"
#include "writer.h"

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

/* Everything is borrowed and must outlive the server. broadcast may be
 * NULL (the endpoint then answers 404); reaper may be NULL (hang-ups are
 * found by the next write); writers NULL: every event goes through
 * libmicrohttpd (always so with TLS). */
struct sse_http *sse_http_start(const struct sse_http_config *cfg, struct sse_hub *hub,
                                const struct sse_consumer_stats *stats,
                                struct sse_broadcast *broadcast, struct sse_reaper *reaper,
                                struct sse_writers *writers, char *err, size_t errlen);

/* Close connections whose request headers are overdue (--request-timeout
 * is a deadline, not an idle timeout). Call every few hundred ms. */
void sse_http_sweep(struct sse_http *s);

/* The TCP port actually bound (useful with --listen HOST:0). */
unsigned sse_http_port(const struct sse_http *s);

/* Stop accepting new connections; those open go on. Accepts NULL. */
void sse_http_quiesce(struct sse_http *s);

/* Stop the daemon, closing every connection, and free. libmicrohttpd
 * aborts the process if a connection is still suspended: the hub must be
 * closed and every stream ended first. Accepts NULL. */
void sse_http_stop(struct sse_http *s);

#endif
