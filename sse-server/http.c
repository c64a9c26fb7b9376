#include "http.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "metrics.h"
#include "page.h"
#include "rc_log.h"
#include "rc_time.h"
#include "reaper.h"
#include "stream.h"

/* Sockets beyond max_clients for /healthz, /metrics and 503 answers. */
#define SPARE_SOCKETS 64

struct sse_http {
    const struct sse_http_config *cfg;
    struct sse_hub *hub;
    const struct sse_consumer_stats *stats;
    struct sse_broadcast *broadcast;
    struct sse_stream_env env;
    struct sse_deadlines *deadlines;
    struct MHD_Daemon *daemon;
    pthread_t starter;   /* the thread in MHD_start_daemon */
    int starting;        /* read and written by the starter only */
    char start_err[512]; /* libmicrohttpd's first complaint while starting */
};

/* A POST body being received (the only requests with one). */
struct upload {
    char buf[SSE_BROADCAST_MAX_BODY];
    size_t len;
    int too_large;
};

typedef enum MHD_Result (*handler_fn)(struct sse_http *, struct MHD_Connection *);

int sse_origin_allowed(const char *list, const char *origin)
{
    if (strcmp(list, "*") == 0)
        return 1;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == olen && n > 0 && strncmp(p, origin, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/* CORS: "*" for everyone, or echo the request's Origin when it is listed
 * (and say it varies by Origin, so caches keep them apart). */
static void add_cors(struct sse_http *s, struct MHD_Connection *c, struct MHD_Response *r)
{
    const char *list = s->cfg->cors_origins;
    if (strcmp(list, "*") == 0) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
        return;
    }
    MHD_add_response_header(r, "Vary", "Origin");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin && sse_origin_allowed(list, origin))
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
}

static enum MHD_Result queue(struct sse_http *s, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r)
{
    if (r == NULL)
        return MHD_NO;
    add_cors(s, c, r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r); /* the connection holds its own reference */
    return ret;
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
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "5");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    return queue(s, c, status, r);
}

#define SEND_LITERAL(s, c, status, text)                                                           \
    send_text(s, c, status, "text/plain; charset=utf-8", text, sizeof text - 1, 0)

/* ---- handlers ---------------------------------------------------------- */

static enum MHD_Result handle_stream(struct sse_http *s, struct MHD_Connection *c)
{
    unsigned status;
    struct MHD_Response *r = sse_stream_open(&s->env, c, &status);
    return queue(s, c, status, r);
}

/* HEAD of the stream: what a GET would answer, without becoming a client
 * (monitors probe with HEAD; subscribing would count and greet a client
 * that never reads). libmicrohttpd sends no body for HEAD. */
static enum MHD_Result handle_stream_head(struct sse_http *s, struct MHD_Connection *c)
{
    /* Content-Length: 0, where the GET is chunked: libmicrohttpd 0.9.75
     * answers a HEAD of an unknown-size response with the chunked end
     * ("0\r\n\r\n") after the head, bytes a kept-alive client would take
     * for the start of its next response (hostile_http.sh checks). */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(s, c, MHD_HTTP_OK, r);
}

/* The demo page: same origin as the stream, so no CORS needed for it. */
static enum MHD_Result handle_index(struct sse_http *s, struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        (size_t)(sse_demo_html_end - sse_demo_html), (void *)sse_demo_html, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                            "style-src 'self' 'unsafe-inline'; connect-src 'self'");
    return queue(s, c, MHD_HTTP_OK, r);
}

static enum MHD_Result handle_healthz(struct sse_http *s, struct MHD_Connection *c)
{
    return SEND_LITERAL(s, c, MHD_HTTP_OK, "ok\n");
}

/* Ready = consuming from the broker, the ring filled from the history
 * stream: a load balancer should not send new clients (or resumes) to a
 * replica that cannot feed them yet. */
static enum MHD_Result handle_readyz(struct sse_http *s, struct MHD_Connection *c)
{
    if (atomic_load(&s->stats->connected))
        return SEND_LITERAL(s, c, MHD_HTTP_OK, "ready\n");
    return SEND_LITERAL(s, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "not ready: broker not connected, or history not read yet\n");
}

static enum MHD_Result handle_metrics(struct sse_http *s, struct MHD_Connection *c)
{
    struct sse_hub_stats hs;
    size_t len;
    sse_hub_get_stats(s->hub, &hs);
    struct sse_http_stats ht = {.request_timeouts = sse_deadlines_expired(s->deadlines)};
    char *body = sse_metrics_render(&hs, s->stats, &ht, &len);
    if (body == NULL)
        return MHD_NO;
    return send_text(s, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
}

static enum MHD_Result handle_preflight(struct sse_http *s, struct MHD_Connection *c,
                                        const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Last-Event-ID, Cache-Control, Authorization, Content-Type");
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    return queue(s, c, MHD_HTTP_NO_CONTENT, r);
}

/* First call of a POST /api/v1/sso/broadcast: refuse early what we can. */
static enum MHD_Result broadcast_begin(struct sse_http *s, struct MHD_Connection *c, void **req_cls)
{
    if (s->broadcast == NULL)
        return SEND_LITERAL(s, c, MHD_HTTP_NOT_FOUND, "not found (broadcast is disabled)\n");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!sse_broadcast_authorized(s->broadcast, auth))
        return SEND_LITERAL(s, c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token\n");
    const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (clen && strtoull(clen, NULL, 10) > SSE_BROADCAST_MAX_BODY)
        return SEND_LITERAL(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
    struct upload *u = calloc(1, sizeof *u);
    if (u == NULL)
        return MHD_NO;
    *req_cls = u;
    return MHD_YES;
}

static enum MHD_Result broadcast_step(struct sse_http *s, struct MHD_Connection *c,
                                      struct upload *u, const char *data, size_t *size)
{
    if (*size) {
        /* Chunked bodies have no Content-Length: enforce the limit here. */
        if (u->len + *size > sizeof u->buf)
            u->too_large = 1;
        else
            memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        *size = 0;
        return MHD_YES;
    }
    if (u->too_large)
        return SEND_LITERAL(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
    char err[256];
    unsigned status = sse_broadcast_publish(s->broadcast, u->buf, u->len, err, sizeof err);
    if (status == MHD_HTTP_ACCEPTED)
        return SEND_LITERAL(s, c, status, "published\n");
    char *body;
    int n = asprintf(&body, "%s\n", err);
    if (n < 0)
        return MHD_NO;
    return send_text(s, c, status, "text/plain; charset=utf-8", body, (size_t)n, 1);
}

static struct sse_deadline *deadline_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* *req_cls of a request that is not a broadcast, from its first call on.
 * libmicrohttpd 0.9.75 closes the connection ("Connection: close") after any
 * response queued on the first call, before it knows whether a body
 * follows; answering on the second call keeps the connection alive for the
 * next request (a scraper's, a health check's, the page's own stream).
 * A broadcast keeps its state in *req_cls instead (broadcast_begin). */
static char answer_next_call;

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sse_http *s = cls;
    (void)toe;
    if (*req_cls != &answer_next_call)
        free(*req_cls); /* a broadcast's state, or NULL */
    *req_cls = NULL;
    /* A kept-alive connection's next request is on the clock again. */
    sse_deadlines_restart(s->deadlines, deadline_of(c));
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct sse_http *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (i && s->cfg->sndbuf) {
            /* A client that stops reading fills its socket; with the kernel's
             * autotuning that is up to 4 MiB of kernel memory per client
             * (measured: 1.2 MiB queued after 25 s at 50 KiB/s) before the
             * ring laps it and it is cut. A fixed buffer bounds that, and an
             * SSE stream never needs more to keep up. */
            int v = (int)s->cfg->sndbuf;
            (void)setsockopt(i->connect_fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
        }
        *socket_context = i ? sse_deadlines_open(s->deadlines, i->connect_fd) : NULL;
    } else {
        sse_deadlines_close(s->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd would decode %00 into a NUL, silently cutting the path or
 * a parameter short for everything that reads it as a C string
 * ("/healthz%00x" would be "/healthz"). Such a value stays escaped, and
 * fails validation for what it is. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *str)
{
    (void)cls, (void)c;
    if (strstr(str, "%00") != NULL)
        return strlen(str);
    return MHD_http_unescape(str);
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct route {
    const char *path;
    handler_fn get;  /* NULL: not a GET (and HEAD) route */
    handler_fn head; /* HEAD when it must differ from GET's head; NULL: get */
    int post;        /* the broadcast route */
    const char *allow;
} routes[] = {
    {"/", handle_index, NULL, 0, "GET, HEAD"},
    {"/api/v1/sso/stream", handle_stream, handle_stream_head, 0, "GET, HEAD, OPTIONS"},
    {"/api/v1/sso/broadcast", NULL, NULL, 1, "POST, OPTIONS"},
    {"/healthz", handle_healthz, NULL, 0, "GET, HEAD"},
    {"/readyz", handle_readyz, NULL, 0, "GET, HEAD"},
    {"/metrics", handle_metrics, NULL, 0, "GET, HEAD"},
};

static enum MHD_Result method_not_allowed(struct sse_http *s, struct MHD_Connection *c,
                                          const char *allow)
{
    static const char msg[] = "method not allowed\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Allow", allow);
    return queue(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct sse_http *s = cls;
    if (*req_cls == NULL) {
        sse_deadlines_stop(s->deadlines, deadline_of(c)); /* the headers are in */
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            *req_cls = &answer_next_call;
            return MHD_YES;
        }
        /* A POST is routed now: a broadcast reads its body from the next
         * call on, and any other POST is refused before its body is read. */
    } else if (*req_cls != &answer_next_call) { /* a broadcast body arriving */
        return broadcast_step(s, c, *req_cls, upload_data, upload_data_size);
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (strcmp(url, rt->path) != 0)
            continue;
        if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0 && strstr(rt->allow, "OPTIONS"))
            return handle_preflight(s, c, rt->allow);
        if (rt->get && strcmp(method, MHD_HTTP_METHOD_GET) == 0)
            return rt->get(s, c);
        /* HEAD is GET without the body (RFC 9110 9.3.2), which libmicrohttpd
         * leaves out on its own. */
        if (rt->get && strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
            return (rt->head ? rt->head : rt->get)(s, c);
        if (rt->post && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
            return broadcast_begin(s, c, req_cls);
        return method_not_allowed(s, c, rt->allow);
    }
    return SEND_LITERAL(s, c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* libmicrohttpd logs one line per malformed request: a flood of bad
 * requests must not become a flood of log lines. At most LOG_BURST lines
 * per LOG_WINDOW_MS, then a count of what was left out. */
#define LOG_BURST     20
#define LOG_WINDOW_MS 10000

static int log_allowed(uint64_t *suppressed)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t window_start;
    static unsigned lines;
    static uint64_t dropped;
    int64_t now = rc_mono_ms();
    pthread_mutex_lock(&lock);
    *suppressed = 0;
    if (now - window_start >= LOG_WINDOW_MS) {
        *suppressed = dropped;
        window_start = now;
        lines = 0;
        dropped = 0;
    }
    int ok = lines < LOG_BURST;
    if (ok)
        lines++;
    else
        dropped++;
    pthread_mutex_unlock(&lock);
    return ok;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct sse_http *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    /* A failed start is explained only here (a bind error, a TLS error):
     * keep the first line for the caller's err. */
    if (pthread_equal(pthread_self(), s->starter) && s->starting && s->start_err[0] == '\0')
        snprintf(s->start_err, sizeof s->start_err, "%s", msg);
    /* A client going away mid-stream is routine, not a warning. */
    if (strstr(msg, "application error generating response") ||
        strstr(msg, "Failed to send the footers") || strstr(msg, "no longer available")) {
        rc_debug("http: %s", msg);
        return;
    }
    uint64_t suppressed;
    int ok = log_allowed(&suppressed);
    if (suppressed)
        rc_warn("http: %" PRIu64 " similar messages were not logged", suppressed);
    if (ok)
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

/* Options that depend on the configuration: varargs cannot be optional,
 * an MHD_OPTION_ARRAY can. o has room for 4. */
static void optional_options(const struct sse_http_config *cfg, struct MHD_OptionItem *o)
{
    size_t n = 0;
    if (cfg->tls_cert && cfg->tls_key) {
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key};
    }
    /* SO_REUSEPORT: every process bound with it shares the port, and the
     * kernel spreads new connections across them. */
    if (cfg->reuse_port)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

static int open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 1 << 24)
        return 1 << 16;
    return (int)rl.rlim_cur;
}

struct sse_http *sse_http_start(const struct sse_http_config *cfg, struct sse_hub *hub,
                                const struct sse_consumer_stats *stats,
                                struct sse_broadcast *broadcast, char *err, size_t errlen)
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
    s->broadcast = broadcast;
    s->env =
        (struct sse_stream_env){.hub = hub, .retry_ms = cfg->retry_ms, .snapshot = cfg->snapshot};
    if ((s->deadlines = sse_deadlines_new((int64_t)cfg->request_timeout_s * 1000)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    /* Without the reaper, hang-ups are still found by the next write. */
    s->env.reaper = sse_reaper_start(open_file_limit(), sse_stream_hangup);
    if (s->env.reaper == NULL)
        rc_warn("http: cannot start the hang-up watcher; dead clients found by heartbeats");
    /* Plain HTTP: streams leave libmicrohttpd after their greeting and are
     * written by these threads (writer.h); TLS streams cannot. */
    if (!(cfg->tls_cert && cfg->tls_key) &&
        (s->env.writers = sse_writers_start(cfg->threads, hub)) == NULL)
        rc_warn("http: cannot start the stream writers; every event goes through libmicrohttpd");
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert && cfg->tls_key)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem extra[4];
    optional_options(cfg, extra);
    s->starter = pthread_self();
    s->starting = 1;
    /* Varargs must have exactly the types libmicrohttpd reads. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)(cfg->max_clients + SPARE_SOCKETS), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->request_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->conn_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    s->starting = 0;
    if (s->daemon == NULL) {
        int in_use = strstr(s->start_err, "in use") != NULL;
        snprintf(err, errlen, "cannot listen on %s: %s%s", cfg->listen,
                 s->start_err[0] ? s->start_err : "libmicrohttpd refused to start",
                 !in_use           ? ""
                 : cfg->reuse_port ? " (the process holding it was started without --reuse-port)"
                                   : " (several sse-servers share a port only if each has "
                                     "--reuse-port)");
        sse_writers_stop(s->env.writers);
        sse_writers_free(s->env.writers);
        sse_reaper_stop(s->env.reaper);
        sse_deadlines_free(s->deadlines);
        free(s);
        return NULL;
    }
    return s;
}

void sse_http_sweep(struct sse_http *s)
{
    unsigned n = sse_deadlines_sweep(s->deadlines, rc_mono_ms());
    if (n)
        rc_info("http: closed %u connection(s) that did not send their headers within "
                "--request-timeout",
                n);
}

unsigned sse_http_port(const struct sse_http *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

static void wait_for_streams(struct sse_hub *hub, int64_t until_ms)
{
    struct sse_hub_stats st;
    for (sse_hub_get_stats(hub, &st); st.subscribers > 0 && rc_mono_ms() < until_ms;
         sse_hub_get_stats(hub, &st))
        usleep(10000);
}

void sse_http_stop(struct sse_http *s, struct sse_hub *hub, int wait_ms)
{
    if (s == NULL)
        return;
    MHD_quiesce_daemon(s->daemon);
    /* libmicrohttpd aborts the process if a connection is still suspended
     * at stop: the closed hub has woken every stream, and each ends as it
     * reads the end; wait for them to finish their last bytes. A stream
     * whose client stopped reading would wait forever: after most of the
     * wait the writers hand back whatever they still hold. */
    int64_t start = rc_mono_ms();
    wait_for_streams(hub, start + wait_ms * 3 / 4);
    sse_writers_stop(s->env.writers);
    wait_for_streams(hub, start + wait_ms);
    MHD_stop_daemon(s->daemon);
    sse_writers_free(s->env.writers); /* after the last reader call */
    sse_reaper_stop(s->env.reaper);   /* after the daemon: every stream is unwatched */
    sse_deadlines_free(s->deadlines);
    free(s);
}
