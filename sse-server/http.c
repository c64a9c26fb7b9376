/* sse_http: the libmicrohttpd daemon (see http.h): its options, the
 * listen address, the connection hooks, and each request handed to the
 * route table once its headers are in. */
#include "http.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "deadline.h"
#include "rc_log.h"
#include "rc_ratelimit.h"
#include "rc_time.h"
#include "routes.h"

/* Sockets beyond max_clients for /healthz, /metrics and 503 answers. */
#define SPARE_SOCKETS 64

struct sse_http {
    const struct sse_http_config *cfg;
    struct sse_routes routes;
    struct sse_deadlines *deadlines;
    struct rc_ratelimit log_limit; /* libmicrohttpd's complaints */
    struct MHD_Daemon *daemon;
    pthread_t starter;   /* the thread in MHD_start_daemon */
    int starting;        /* read and written by the starter only */
    char start_err[512]; /* libmicrohttpd's first complaint while starting */
};

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
 * A POST that reads a body keeps its state in *req_cls instead (routes.h). */
static char answer_next_call;

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sse_http *s = cls;
    (void)toe;
    if (*req_cls != &answer_next_call)
        sse_routes_release(*req_cls); /* a body's state, or NULL */
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
    } else if (*req_cls != &answer_next_call) { /* a body arriving */
        return sse_routes_body(&s->routes, c, *req_cls, upload_data, upload_data_size);
    }
    return sse_routes_answer(&s->routes, c, url, method, req_cls);
}

/* libmicrohttpd logs one line per malformed request: a flood of bad
 * requests must not become a flood of log lines. At most LOG_BURST lines
 * per LOG_WINDOW_MS, then a count of what was left out. */
#define LOG_BURST     20
#define LOG_WINDOW_MS 10000

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
    int ok = rc_ratelimit_allow(&s->log_limit, rc_mono_ms(), &suppressed);
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

struct sse_http *sse_http_start(const struct sse_http_config *cfg, struct sse_hub *hub,
                                const struct sse_consumer_stats *stats,
                                struct sse_broadcast *broadcast, struct sse_reaper *reaper,
                                struct sse_writers *writers, char *err, size_t errlen)
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
    if ((s->deadlines = sse_deadlines_new((int64_t)cfg->request_timeout_s * 1000)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->routes = (struct sse_routes){
        .cors_origins = cfg->cors_origins,
        .stats = stats,
        .broadcast = broadcast,
        .deadlines = s->deadlines,
        .stream = {.hub = hub,
                   .reaper = reaper,
                   .writers = writers,
                   .retry_ms = cfg->retry_ms,
                   .snapshot = cfg->snapshot},
    };
    rc_ratelimit_init(&s->log_limit, LOG_BURST, LOG_WINDOW_MS);
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

void sse_http_quiesce(struct sse_http *s)
{
    if (s)
        MHD_quiesce_daemon(s->daemon);
}

void sse_http_stop(struct sse_http *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon);
    sse_deadlines_free(s->deadlines);
    free(s);
}
