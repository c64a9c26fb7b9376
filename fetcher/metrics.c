/* metrics.c: the fetcher's counters, and a Prometheus endpoint for them. The interface, and
 * who owns what, is in metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rc_log.h"

const char *const fetch_cause_name[FETCH_CAUSES] = {
    "http_429", "http_5xx", "http_550", "http_other", "transport", "invalid", "missing"};

#define TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Each metric once: its HELP and TYPE, then its samples. */
static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

char *fetch_metrics_render(const struct fetch_stats *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (f == NULL)
        return NULL;
    const struct rc_publisher_stats *p = &s->pub;
    one(f, "fetcher_ticks_scheduled_total", "counter", "Ticks scheduled since start.",
        s->scheduled);
    one(f, "fetcher_ticks_skipped_total", "counter",
        "Ticks skipped: rate limited (429) or already late.", s->skipped);
    one(f, "fetcher_coinapi_requests_total", "counter",
        "Requests made to CoinAPI (one per distinct base asset per tick).", s->requests);
    one(f, "fetcher_coinapi_request_cost_total", "counter",
        "Sum of CoinAPI's X-RateLimit-Request-Cost over the answers that carried it.",
        s->request_cost);
    head(f, "fetcher_coinapi_failures_total", "counter",
         "Failed requests by cause (invalid and missing count pairs within an answer too).");
    for (int c = 0; c < FETCH_CAUSES; c++)
        fprintf(f, "fetcher_coinapi_failures_total{cause=\"%s\"} %" PRIu64 "\n",
                fetch_cause_name[c], s->failed[c]);
    head(f, "fetcher_coinapi_ratelimit_remaining", "gauge",
         "The last X-RateLimit-Remaining CoinAPI sent (NaN before any).");
    if (s->ratelimit_remaining < 0)
        fprintf(f, "fetcher_coinapi_ratelimit_remaining NaN\n");
    else
        fprintf(f, "fetcher_coinapi_ratelimit_remaining %ld\n", s->ratelimit_remaining);
    one(f, "fetcher_coinapi_paused", "gauge", "1 while requests pause after a 429.",
        (uint64_t)s->paused);
    one(f, "fetcher_pairs", "gauge", "Pairs polled (--pairs).", s->pairs);
    one(f, "fetcher_coinapi_requests_per_tick", "gauge", "CoinAPI requests a tick makes.",
        s->requests_per_tick);
    one(f, "fetcher_rates_fetched_total", "counter", "Valid rates queued for the broker.",
        s->fetched);
    one(f, "fetcher_published_total", "counter", "Ticks the broker confirmed (delivered).",
        p->confirmed);
    one(f, "fetcher_broker_nacked_total", "counter", "Nacks from the broker (each retried).",
        p->nacked);
    one(f, "fetcher_broker_returned_total", "counter",
        "Ticks returned unroutable (NO_ROUTE; each retried for --route-grace).", p->returned);
    head(f, "fetcher_dropped_total", "counter",
         "Ticks dropped: the buffer was full, or no queue took them within --route-grace.");
    fprintf(f, "fetcher_dropped_total{reason=\"overflow\"} %" PRIu64 "\n", p->dropped_overflow);
    fprintf(f, "fetcher_dropped_total{reason=\"unrouted\"} %" PRIu64 "\n", p->dropped_unrouted);
    one(f, "fetcher_buffered", "gauge", "Ticks waiting for the broker now.", p->pending);
    one(f, "fetcher_buffered_max", "gauge", "The most ticks that waited for the broker at once.",
        p->max_pending);
    one(f, "fetcher_broker_reconnects_total", "counter",
        "Broker connections opened again after a failure.", p->reconnects);
    one(f, "fetcher_broker_connected", "gauge", "1 while a broker connection is open.",
        (uint64_t)p->connected);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

struct fetch_metrics {
    struct MHD_Daemon *daemon;
    unsigned port;
    pthread_mutex_t lock;
    struct fetch_stats snap; /* under lock */
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                              enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_TYPE);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    (void)req_cls;
    struct fetch_metrics *m = cls;
    if (*upload_size != 0) { /* no endpoint takes a body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", 19,
                      MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return answer(conn, MHD_HTTP_NOT_FOUND, "not found: GET /metrics\n", 24,
                      MHD_RESPMEM_PERSISTENT);
    struct fetch_stats snap;
    pthread_mutex_lock(&m->lock);
    snap = m->snap;
    pthread_mutex_unlock(&m->lock);
    size_t len;
    char *text = fetch_metrics_render(&snap, &len);
    if (text == NULL)
        return MHD_NO;
    return answer(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's own complaints (a bind failure, a broken client). */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    rc_warn("metrics: %s", line);
}

/* HOST:PORT, with [brackets] around an IPv6 host. Numeric only: an
 * address to bind, not a name to look up. */
static int parse_listen(const char *s, struct sockaddr_storage *out, char *err, size_t errlen)
{
    char host[64];
    const char *port = strrchr(s, ':');
    size_t n = port ? (size_t)(port - s) : 0;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        s++, n -= 2;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (n == 0 || n >= sizeof host || port[1] == '\0') {
        snprintf(err, errlen, "expected HOST:PORT such as 127.0.0.1:9464");
        return -1;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    int rc = getaddrinfo(host, port + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

struct fetch_metrics *fetch_metrics_start(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char why[200];
    if (parse_listen(listen, &ss, why, sizeof why) < 0) {
        snprintf(err, errlen, "--metrics-listen '%s': %s", listen, why);
        return NULL;
    }
    struct fetch_metrics *m = calloc(1, sizeof *m);
    if (m == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->snap.ratelimit_remaining = -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* A scraper or two: a few connections, short timeouts. */
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER,
                                 log_mhd, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                 MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
                                 10u, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        m->daemon ? MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info == NULL) {
        snprintf(err, errlen, "--metrics-listen '%s': cannot listen (see the message above)",
                 listen);
        fetch_metrics_stop(m);
        return NULL;
    }
    m->port = info->port;
    return m;
}

unsigned fetch_metrics_port(const struct fetch_metrics *m)
{
    return m->port;
}

void fetch_metrics_update(struct fetch_metrics *m, const struct fetch_stats *s)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->snap = *s;
    pthread_mutex_unlock(&m->lock);
}

void fetch_metrics_stop(struct fetch_metrics *m)
{
    if (m == NULL)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
