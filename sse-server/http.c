#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "rc_log.h"
#include "rc_time.h"
#include "reaper.h"

#define STREAM_PATH "/api/v1/sso/stream"
/* Sockets beyond max_clients for /healthz, /metrics and 503 answers. */
#define SPARE_SOCKETS 64
/* The greeting is a comment so the headers reach the browser at once
 * instead of with the first event. */
static const char greeting[] = ": connected to ratecast\n\n";

struct sse_http {
    const struct sse_http_config *cfg;
    struct sse_hub *hub;
    const struct sse_consumer_stats *stats;
    struct MHD_Daemon *daemon;
    struct sse_reaper *reaper;
};

/* One per stream; freed by libmicrohttpd through free_client(). */
struct client {
    struct sse_http *srv;
    struct MHD_Connection *conn;
    struct sse_sub *sub;
    int fd; /* watched by the reaper under token */
    uint32_t token;
};

typedef enum MHD_Result (*handler_fn)(struct sse_http *, struct MHD_Connection *);

static void add_common_headers(struct sse_http *s, struct MHD_Response *r)
{
    MHD_add_response_header(r, "Access-Control-Allow-Origin", s->cfg->cors_origin);
    MHD_add_response_header(r, "Vary", "Origin");
}

static enum MHD_Result send_text(struct sse_http *s, struct MHD_Connection *c, unsigned status,
                                 const char *type, const char *body, size_t len, int must_free)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    add_common_headers(s, r);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "5");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define SEND_LITERAL(s, c, status, text)                                                           \
    send_text(s, c, status, "text/plain; charset=utf-8", text, sizeof text - 1, 0)

/* ---- the event stream ------------------------------------------------ */

static void park(void *ctx)
{
    struct client *cl = ctx;
    MHD_suspend_connection(cl->conn);
}

static void wake(void *ctx)
{
    struct client *cl = ctx;
    MHD_resume_connection(cl->conn);
}

/* libmicrohttpd pulls the body through here. With nothing to send we must
 * suspend the connection and return 0: returning 0 without suspending makes
 * libmicrohttpd busy-loop a core. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct client *cl = cls;
    ssize_t n = sse_hub_read(cl->srv->hub, cl->sub, buf, max);
    if (n == SSE_HUB_EOF)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == SSE_HUB_LAGGED) {
        rc_info("http: client fell behind the history ring: disconnected");
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == SSE_HUB_GONE)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

/* Runs on the reaper thread: the client hung up while parked. */
static void on_hangup(void *ctx)
{
    struct client *cl = ctx;
    sse_hub_kick(cl->srv->hub, cl->sub);
}

/* libmicrohttpd calls this when it drops the response: the only place a
 * stream's state is freed. */
static void free_client(void *cls)
{
    struct client *cl = cls;
    if (cl->srv->reaper)
        sse_reaper_unwatch(cl->srv->reaper, cl->fd, cl->token);
    sse_hub_unsubscribe(cl->srv->hub, cl->sub);
    free(cl);
}

static enum MHD_Result handle_stream(struct sse_http *s, struct MHD_Connection *c)
{
    struct client *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return MHD_NO;
    cl->srv = s;
    cl->conn = c;
    cl->sub = sse_hub_subscribe(s->hub, greeting, sizeof greeting - 1, park, wake, cl);
    if (cl->sub == NULL) {
        free(cl);
        if (sse_hub_full(s->hub))
            return SEND_LITERAL(s, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "too many clients, retry later\n");
        return SEND_LITERAL(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n");
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, cl, free_client);
    if (r == NULL) {
        free_client(cl);
        return MHD_NO;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cl->fd = ci ? ci->connect_fd : -1;
    if (s->reaper)
        cl->token = sse_reaper_watch(s->reaper, cl->fd, cl);
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    add_common_headers(s, r);
    /* A stream is idle for long stretches by design: only requests that
     * are not streams are subject to the request timeout. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r); /* the connection holds its own reference */
    return ret;
}

/* ---- small endpoints ------------------------------------------------- */

static enum MHD_Result handle_healthz(struct sse_http *s, struct MHD_Connection *c)
{
    return SEND_LITERAL(s, c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result handle_metrics(struct sse_http *s, struct MHD_Connection *c)
{
    struct sse_hub_stats hs;
    size_t len;
    sse_hub_get_stats(s->hub, &hs);
    char *body = sse_metrics_render(&hs, s->stats, &len);
    if (body == NULL)
        return MHD_NO;
    return send_text(s, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
}

static enum MHD_Result handle_preflight(struct sse_http *s, struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    add_common_headers(s, r);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Last-Event-ID, Cache-Control");
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- dispatch -------------------------------------------------------- */

static const struct route {
    const char *path;
    handler_fn get;
} routes[] = {
    {STREAM_PATH, handle_stream},
    {"/healthz", handle_healthz},
    {"/metrics", handle_metrics},
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    struct sse_http *s = cls;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
            return routes[i].get(s, c);
        if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0)
            return handle_preflight(s, c);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof "method not allowed\n" - 1,
                                            (void *)"method not allowed\n", MHD_RESPMEM_PERSISTENT);
        if (r == NULL)
            return MHD_NO;
        MHD_add_response_header(r, "Allow", "GET, OPTIONS");
        add_common_headers(s, r);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
    }
    return SEND_LITERAL(s, c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    /* A client going away mid-stream is routine, not a warning. */
    if (strstr(msg, "application error generating response") ||
        strstr(msg, "Failed to send the footers") || strstr(msg, "no longer available"))
        rc_debug("http: %s", msg);
    else
        rc_warn("http: %s", msg);
}

/* "host:port" or "[v6]:port" into a socket address. */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "--listen '%s': expected HOST:PORT", listen);
        return -1;
    }
    size_t hlen = (size_t)(colon - listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM},
                    *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "--listen '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

struct sse_http *sse_http_start(const struct sse_http_config *cfg, struct sse_hub *hub,
                                const struct sse_consumer_stats *stats, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (resolve_listen(cfg->listen, &ss, err, errlen) < 0)
        return NULL;
    struct sse_http *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->hub = hub;
    s->stats = stats;
    struct rlimit rl;
    int max_fd =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1 << 24 ? (int)rl.rlim_cur : 1 << 16;
    /* Without the reaper, hang-ups are still found by the next write. */
    if ((s->reaper = sse_reaper_start(max_fd, on_hangup)) == NULL)
        rc_warn("http: cannot start the hang-up watcher; dead clients found by heartbeats");
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Varargs must have exactly the types libmicrohttpd reads. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)(cfg->max_clients + SPARE_SOCKETS), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->request_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->conn_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not allowed?)", cfg->listen);
        free(s);
        return NULL;
    }
    return s;
}

unsigned sse_http_port(const struct sse_http *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void sse_http_stop(struct sse_http *s, struct sse_hub *hub, int wait_ms)
{
    if (s == NULL)
        return;
    MHD_quiesce_daemon(s->daemon);
    /* libmicrohttpd aborts the process if a connection is still suspended
     * at stop: the closed hub has resumed every stream; wait for them to
     * finish their last bytes. */
    int64_t end = rc_mono_ms() + wait_ms;
    struct sse_hub_stats st;
    for (sse_hub_get_stats(hub, &st); st.subscribers > 0 && rc_mono_ms() < end;
         sse_hub_get_stats(hub, &st))
        usleep(10000);
    MHD_stop_daemon(s->daemon);
    sse_reaper_stop(s->reaper); /* after the daemon: every stream is unwatched */
    free(s);
}
