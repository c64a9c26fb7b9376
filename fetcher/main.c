/* fetcher: polls CoinAPI's exchange rates on a fixed schedule (one request
 * per distinct base asset, see coinapi.h) and publishes every valid rate,
 * confirmed and in --pairs order, to the fanout exchange. Its counters are
 * logged at exit and, with --metrics-listen, served to Prometheus. What
 * each CoinAPI answer means is the client's to say (verdict.h); this loop
 * only schedules, counts, logs and queues.
 *
 * Exit codes (also in README.md):
 *   0  the run ended (--duration reached, or SIGINT/SIGTERM)
 *   1  a component could not start
 *   2  configuration error (including a missing COIN_API_KEY)
 *   3  CoinAPI answered 401: the key is invalid
 *   4  CoinAPI answered 403: the key lacks permission, or the quota is used up
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coinapi.h"
#include "group.h"
#include "metrics.h"
#include "rc_config.h"
#include "rc_history.h"
#include "rc_log.h"
#include "rc_pairs.h"
#include "rc_publisher.h"
#include "rc_ratelimit.h"
#include "rc_time.h"

enum { EXIT_CONFIG = 2, EXIT_UNAUTHORIZED = 3, EXIT_FORBIDDEN = 4 };

/* Repeated failures of one kind are logged at most this often. */
#define LOG_EVERY_MS 10000
/* Between ticks the metrics are brought up to date this often, so confirms
 * and reconnects show without waiting for the next tick. */
#define METRICS_SLICE_MS 500

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct config {
    const char *pairs, *amqp_url, *amqp_ca, *exchange, *coinapi_url, *coinapi_key, *log_level,
        *metrics_listen;
    const char *history_stream;
    int64_t history_age_ms;
    int64_t interval_ms, duration_ms, heartbeat_ms, route_grace_ms, drain_ms;
    unsigned buffer;
};

struct run {
    struct fetch_stats st;                       /* counters: the summary line and the metrics */
    int64_t paused_until_ms;                     /* 429: no requests before this */
    struct rc_ratelimit log_limit[FETCH_CAUSES]; /* one line per cause per LOG_EVERY_MS */
    int exit_code;                               /* set by 401/403: stop */
};

static const char summary[] =
    "Poll CoinAPI's exchange rates and publish them to a RabbitMQ fanout exchange.\n"
    "Exit codes: 0 done, 1 cannot start, 2 bad configuration, 3 CoinAPI 401 (bad key),\n"
    "4 CoinAPI 403 (no permission or quota used up).";

static int load_config(struct config *c, int argc, char **argv)
{
    const struct rc_option opts[] = {
        {"pairs", "COIN_API_PAIRS", "BTC/USD", "currency pairs to poll, comma-separated",
         RC_OPT_STRING, &c->pairs, 0},
        {"interval", "COIN_API_INTERVAL", "1s", "time between ticks", RC_OPT_DURATION,
         &c->interval_ms, 0},
        {"duration", "COIN_API_DURATION", "60s",
         "how long to run, counted in ticks scheduled; 0 = until stopped", RC_OPT_DURATION,
         &c->duration_ms, 0},
        RC_AMQP_OPTIONS(&c->amqp_url, &c->amqp_ca, &c->heartbeat_ms),
        {"exchange", "AMQP_EXCHANGE", "crypto-info", "fanout exchange to publish to", RC_OPT_STRING,
         &c->exchange, 0},
        {"buffer", "FETCHER_BUFFER", "600",
         "ticks kept while the broker is unreachable (oldest dropped beyond)", RC_OPT_UINT,
         &c->buffer, 0},
        {"route-grace", "FETCHER_ROUTE_GRACE", "30s",
         "how long a tick no sse-server queue takes (NO_ROUTE) is retried", RC_OPT_DURATION,
         &c->route_grace_ms, 0},
        {"drain", "FETCHER_DRAIN", "10s",
         "at the end, how long to keep delivering ticks still queued", RC_OPT_DURATION,
         &c->drain_ms, 0},
        RC_HISTORY_OPTIONS(&c->history_stream, &c->history_age_ms),
        {"coinapi-url", "COIN_API_URL", "https://rest.coinapi.io", "CoinAPI REST base URL",
         RC_OPT_STRING, &c->coinapi_url, 0},
        {"coinapi-key", "COIN_API_KEY", NULL, "CoinAPI key", RC_OPT_STRING, &c->coinapi_key, 1},
        {"log-level", "LOG_LEVEL", "info",
         "debug (adds libcurl's exchange, key redacted), info (a line per tick), warn, error",
         RC_OPT_STRING, &c->log_level, 0},
        {"metrics-listen", "FETCHER_METRICS_LISTEN", "",
         "serve Prometheus metrics at GET /metrics on HOST:PORT (127.0.0.1:9464); empty = off",
         RC_OPT_STRING, &c->metrics_listen, 0},
        {0},
    };
    int rc = rc_config_load(opts, argc, argv, "fetcher", summary, &c->log_level);
    if (rc != 0)
        return rc;
    if (c->interval_ms <= 0 || c->buffer == 0) {
        rc_error("--interval and --buffer must be more than 0");
        return -1;
    }
    struct rc_amqp_params tls = {.url = c->amqp_url, .ca_file = c->amqp_ca};
    char err[512];
    if (rc_amqp_check_tls(&tls, err, sizeof err) < 0) {
        rc_error("%s", err);
        return -1;
    }
    if (c->coinapi_key == NULL || c->coinapi_key[0] == '\0') {
        rc_error("COIN_API_KEY is not set: get a free key at https://www.coinapi.io/ and "
                 "export COIN_API_KEY=..., or run 'make demo' to use the local CoinAPI "
                 "stand-in");
        return -1;
    }
    return 0;
}

/* Count a failure of `what` (a pair, or a request's pairs) and log it, at
 * most once per LOG_EVERY_MS per cause. */
static void fail(struct run *r, enum fetch_cause c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct run *r, enum fetch_cause c, const char *what, const char *fmt, ...)
{
    r->st.failed[c]++;
    uint64_t quiet;
    if (!rc_ratelimit_allow(&r->log_limit[c], rc_mono_ms(), &quiet))
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (quiet)
        rc_warn("coinapi: %s: %s (%" PRIu64 " more like it not logged)", what, msg, quiet);
    else
        rc_warn("coinapi: %s: %s", what, msg);
}

/* No requests until the verdict's pause is over. Said once per pause. */
static void pause_requests(struct run *r, const struct fetch_pause *p)
{
    int64_t until = rc_mono_ms() + p->secs * 1000;
    if (until > r->paused_until_ms) {
        if (r->paused_until_ms <= rc_mono_ms())
            rc_warn("coinapi: 429 rate limited (%s): pausing requests for %" PRId64
                    " s (%s); ticks until then are skipped",
                    p->reason, p->secs, p->source);
        r->paused_until_ms = until;
    }
}

/* "BTC/USD" for one pair, "BTC/USD,EUR,ETH" for a request's pairs. */
static void plan_label(const struct fetch_plan *q, const struct rc_pair *pairs, char *out,
                       size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s/", q->base);
    for (size_t i = 0; i < q->n && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", pairs[q->pair[i]].quote);
}

/* Act on one request's verdict: count, log, pause or stop. `what` names
 * the request's pairs; got holds every pair's item. */
static void heed(struct run *r, const char *what, const struct fetch_plan *q,
                 const struct rc_pair *pairs, const struct fetch_verdict *v,
                 const struct fetch_group_item *got)
{
    char one[2 * RC_ASSET_MAX + 2];
    if (v->request_cost >= 0)
        r->st.request_cost += (uint64_t)v->request_cost;
    switch (v->kind) {
    case FETCH_VERDICT_BAD_KEY:
    case FETCH_VERDICT_NO_PERMISSION:
        rc_error("coinapi: HTTP %ld: %s", v->status, v->text);
        rc_error(v->kind == FETCH_VERDICT_BAD_KEY
                     ? "CoinAPI refused the key (401): check COIN_API_KEY; stopping"
                     : "CoinAPI refused the request (403): the key lacks permission for "
                       "this endpoint or its quota is used up; stopping");
        r->exit_code = v->kind == FETCH_VERDICT_BAD_KEY ? EXIT_UNAUTHORIZED : EXIT_FORBIDDEN;
        return;
    case FETCH_VERDICT_PAUSE: /* counted, not logged: the pause is */
        r->st.failed[FETCH_HTTP_429]++;
        break;
    case FETCH_VERDICT_SERVER_ERROR:
        fail(r, FETCH_HTTP_5XX, what, "HTTP %ld: %s", v->status, v->text);
        return;
    case FETCH_VERDICT_NO_DATA:
        fail(r, FETCH_HTTP_550, what, "HTTP %ld: %s", v->status, v->text);
        return;
    case FETCH_VERDICT_OTHER:
        fail(r, FETCH_HTTP_OTHER, what, "HTTP %ld: %s", v->status, v->text);
        return;
    case FETCH_VERDICT_TRANSPORT:
        fail(r, FETCH_TRANSPORT, what, "%s", v->text);
        return;
    case FETCH_VERDICT_TICK:
    case FETCH_VERDICT_TOO_LARGE:
    case FETCH_VERDICT_INVALID:
        break; /* a 200: it may spend the quota, so the pause comes first */
    }
    if (v->pause.secs > 0)
        pause_requests(r, &v->pause);
    if (v->kind == FETCH_VERDICT_TOO_LARGE || v->kind == FETCH_VERDICT_INVALID)
        fail(r, FETCH_INVALID, what, "%s", v->text);
    if (v->kind != FETCH_VERDICT_TICK)
        return;
    /* A missing or bad quote is that pair's failure; the others still count. */
    for (size_t i = 0; i < q->n; i++) {
        const struct fetch_group_item *it = &got[q->pair[i]];
        snprintf(one, sizeof one, "%s/%s", q->base, pairs[q->pair[i]].quote);
        if (it->state == FETCH_ITEM_MISSING)
            fail(r, FETCH_MISSING, one, "not in CoinAPI's answer for %s: nothing to publish",
                 q->base);
        else if (it->state == FETCH_ITEM_INVALID)
            fail(r, FETCH_INVALID, one, "invalid rate dropped: %s", it->err);
    }
}

static void do_tick(struct run *r, struct fetch_coinapi *api, struct rc_publisher *pub,
                    const struct rc_pair *pairs, size_t n, uint64_t total)
{
    struct fetch_verdict v[RC_PAIRS_MAX];
    struct fetch_group_item got[RC_PAIRS_MAX] = {0}; /* per pair; all FETCH_ITEM_MISSING */
    char line[1024] = "", what[RC_PAIRS_MAX * (RC_ASSET_MAX + 1) + RC_ASSET_MAX + 2];
    r->st.scheduled++;
    if (rc_mono_ms() < r->paused_until_ms) {
        r->st.skipped++;
        rc_info("tick %" PRIu64 ": skipped (rate limited)", r->st.scheduled);
        return;
    }
    size_t nreq = fetch_coinapi_requests(api);
    r->st.requests += nreq;
    fetch_coinapi_get_all(api, v, got);
    /* The quota left is the lowest X-RateLimit-Remaining of the tick: its
     * requests run at once and answer in any order, and the lowest is what
     * CoinAPI counted last, whichever answer arrived last. */
    long remaining = -1;
    for (size_t k = 0; k < nreq; k++)
        if (v[k].ratelimit_remaining >= 0 &&
            (remaining < 0 || v[k].ratelimit_remaining < remaining))
            remaining = v[k].ratelimit_remaining;
    if (remaining >= 0)
        r->st.ratelimit_remaining = remaining;
    for (size_t k = 0; k < nreq && r->exit_code == 0; k++) {
        const struct fetch_plan *q = fetch_coinapi_request(api, k);
        plan_label(q, pairs, what, sizeof what);
        heed(r, what, q, pairs, &v[k], got);
    }
    /* Answers arrive in any order; ticks go out in --pairs order. */
    for (size_t i = 0; i < n && r->exit_code == 0; i++) {
        if (got[i].state != FETCH_ITEM_OK || rc_publisher_enqueue(pub, &got[i].tick, NULL) < 0)
            continue;
        r->st.fetched++;
        size_t len = strlen(line);
        if (len + 90 < sizeof line) /* room for one more pair; else the line just stops */
            snprintf(line + len, sizeof line - len, " %.32s/%.32s=%.10g", pairs[i].base,
                     pairs[i].quote, got[i].tick.rate);
    }
    fetch_group_clear(got, n);
    struct rc_publisher_stats ps;
    rc_publisher_get_stats(pub, &ps);
    char of[32] = "";
    if (total)
        snprintf(of, sizeof of, "/%" PRIu64, total);
    rc_info("tick %" PRIu64 "%s:%s%s (queued for the broker: %zu)", r->st.scheduled, of,
            line[0] ? line : " nothing fetched", "", ps.pending);
}

/* Hand the metrics listener (if any) the counters as they are now. */
static void share_stats(struct run *r, struct fetch_metrics *m, const struct rc_publisher *pub)
{
    rc_publisher_get_stats(pub, &r->st.pub);
    r->st.paused = rc_mono_ms() < r->paused_until_ms;
    fetch_metrics_update(m, &r->st);
}

/* Deliver and service the broker until the deadline, in slices after which
 * the metrics are brought up to date. */
static void wait_until(struct run *r, struct fetch_metrics *m, struct rc_publisher *pub,
                       int64_t deadline)
{
    for (;;) {
        int64_t until = rc_mono_ms() + METRICS_SLICE_MS;
        if (until > deadline || m == NULL)
            until = deadline;
        rc_publisher_run(pub, until, 0, &stop);
        share_stats(r, m, pub);
        if (until == deadline || stop)
            return;
    }
}

static void print_summary(const struct fetch_stats *r, const struct rc_publisher_stats *ps)
{
    char failed[256] = "";
    size_t n = 0;
    for (int c = 0; c < FETCH_CAUSES; c++)
        n += (size_t)snprintf(failed + n, sizeof failed - n, " %s=%" PRIu64, fetch_cause_name[c],
                              r->failed[c]);
    rc_info("summary: scheduled=%" PRIu64 " skipped=%" PRIu64 " requests=%" PRIu64
            " fetched=%" PRIu64 " failed:%s confirmed=%" PRIu64 " buffered_max=%zu"
            " dropped_overflow=%" PRIu64 " dropped_unrouted=%" PRIu64 " unsent=%zu"
            " returned=%" PRIu64 " nacked=%" PRIu64 " reconnects=%" PRIu64,
            r->scheduled, r->skipped, r->requests, r->fetched, failed, ps->confirmed,
            ps->max_pending, ps->dropped_overflow, ps->dropped_unrouted, ps->pending, ps->returned,
            ps->nacked, ps->reconnects);
}

int main(int argc, char **argv)
{
    struct config cfg = {0};
    struct run run = {0};
    struct rc_pair pairs[RC_PAIRS_MAX];
    char err[512];
    int exit_code = 1;
    struct fetch_coinapi *api = NULL;
    struct rc_publisher *pub = NULL;
    struct fetch_metrics *metrics = NULL;
    run.st.ratelimit_remaining = -1;
    for (int c = 0; c < FETCH_CAUSES; c++)
        rc_ratelimit_init(&run.log_limit[c], 1, LOG_EVERY_MS);

    rc_log_set_name("fetcher");
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_CONFIG;
    int npairs = rc_pairs_parse(cfg.pairs, pairs, RC_PAIRS_MAX, err, sizeof err);
    if (npairs < 0) {
        rc_error("--pairs: %s", err);
        return EXIT_CONFIG;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc_error("curl_global_init failed");
        return 1;
    }
    /* A request must end before the next tick is due. */
    struct fetch_coinapi_config ccfg = {
        .base_url = cfg.coinapi_url,
        .key = cfg.coinapi_key,
        .timeout_ms = cfg.interval_ms * 9 / 10 > 100 ? cfg.interval_ms * 9 / 10 : 100,
        .verbose = strcmp(cfg.log_level, "debug") == 0};
    api = fetch_coinapi_new(&ccfg, pairs, (size_t)npairs, err, sizeof err);
    if (api == NULL) {
        rc_error("%s", err);
        exit_code = EXIT_CONFIG;
        goto out;
    }
    struct rc_amqp_params ap = {.url = cfg.amqp_url,
                                .ca_file = cfg.amqp_ca,
                                .heartbeat_s = (unsigned)((cfg.heartbeat_ms + 999) / 1000),
                                .timeout_ms = 5000,
                                .conn_name = "ratecast fetcher"};
    struct rc_history hist;
    int has_history = rc_history_init(&hist, cfg.history_stream, cfg.exchange, cfg.history_age_ms,
                                      err, sizeof err);
    if (has_history < 0) {
        rc_error("%s", err);
        exit_code = EXIT_CONFIG;
        goto out;
    }
    struct rc_publisher_params pp = {.amqp = &ap,
                                     .exchange = cfg.exchange,
                                     .history = has_history ? &hist.spec : NULL,
                                     .buffer = cfg.buffer,
                                     .route_grace_ms = cfg.route_grace_ms,
                                     .confirm_timeout_ms = 5000};
    if ((pub = rc_publisher_new(&pp)) == NULL) {
        rc_error("out of memory");
        goto out;
    }

    run.st.pairs = (size_t)npairs;
    run.st.requests_per_tick = fetch_coinapi_requests(api);
    if (cfg.metrics_listen[0] != '\0') {
        if ((metrics = fetch_metrics_start(cfg.metrics_listen, err, sizeof err)) == NULL) {
            rc_error("%s", err);
            exit_code = EXIT_CONFIG;
            goto out;
        }
        share_stats(&run, metrics, pub);
        rc_info("metrics: serving GET /metrics on port %u (--metrics-listen %s)",
                fetch_metrics_port(metrics), cfg.metrics_listen);
    }

    char safe_url[512];
    rc_url_redact(cfg.amqp_url, safe_url, sizeof safe_url);
    uint64_t total = cfg.duration_ms ? (uint64_t)(cfg.duration_ms / cfg.interval_ms) : 0;
    rc_info("polling %s every %" PRId64 " ms (%s; %zu request(s) per tick) from %s, publishing "
            "to '%s' on %s",
            cfg.pairs, cfg.interval_ms, total ? "for a fixed number of ticks" : "until stopped",
            run.st.requests_per_tick, cfg.coinapi_url, cfg.exchange, safe_url);

    int64_t deadline = rc_mono_ms();
    while (!stop && run.exit_code == 0 && (total == 0 || run.st.scheduled < total)) {
        /* Between ticks: deliver what is queued, service heartbeats. */
        wait_until(&run, metrics, pub, deadline);
        if (stop)
            break;
        do_tick(&run, api, pub, pairs, (size_t)npairs, total);
        share_stats(&run, metrics, pub);
        /* Absolute deadlines: no drift. After an overrun, skip the ticks
         * that are already late instead of firing them in a burst. */
        deadline += cfg.interval_ms;
        int64_t now = rc_mono_ms();
        if (now > deadline) {
            int64_t late = (now - deadline) / cfg.interval_ms + 1;
            rc_warn("tick took too long: skipping %" PRId64 " tick(s)", late);
            deadline += late * cfg.interval_ms;
            run.st.scheduled += (uint64_t)late;
            run.st.skipped += (uint64_t)late;
        }
    }
    /* Deliver what is still queued, for a bounded time. */
    rc_publisher_run(pub, rc_mono_ms() + cfg.drain_ms, 1, NULL);
    share_stats(&run, metrics, pub);
    print_summary(&run.st, &run.st.pub);
    exit_code = run.exit_code;
out:
    fetch_metrics_stop(metrics);
    rc_publisher_free(pub);
    fetch_coinapi_free(api);
    curl_global_cleanup();
    return exit_code;
}
