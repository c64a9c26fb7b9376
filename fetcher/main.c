/* fetcher: polls CoinAPI's exchange-rate endpoint on a fixed schedule and
 * publishes every valid rate, confirmed and in order, to the fanout
 * exchange.
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
#include "rc_config.h"
#include "rc_history.h"
#include "rc_log.h"
#include "rc_pairs.h"
#include "rc_publisher.h"
#include "rc_time.h"

enum { EXIT_CONFIG = 2, EXIT_UNAUTHORIZED = 3, EXIT_FORBIDDEN = 4 };

/* Repeated failures of one kind are logged at most this often. */
#define LOG_EVERY_MS 10000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct config {
    const char *pairs, *amqp_url, *amqp_ca, *exchange, *coinapi_url, *coinapi_key, *log_level;
    const char *history_stream;
    int64_t history_age_ms;
    int64_t interval_ms, duration_ms, heartbeat_ms, route_grace_ms, drain_ms;
    unsigned buffer;
};

/* What happened to requests, by cause. */
enum cause { C_HTTP_429, C_HTTP_5XX, C_HTTP_550, C_HTTP_OTHER, C_TRANSPORT, C_INVALID, C_N };
static const char *const cause_name[C_N] = {"http_429",   "http_5xx",  "http_550",
                                            "http_other", "transport", "invalid"};

struct run {
    uint64_t scheduled, skipped, requests, fetched, failed[C_N];
    int64_t paused_until_ms; /* 429: no requests before this */
    int64_t last_log_ms[C_N];
    uint64_t quiet[C_N]; /* failures not logged since the last line */
    int exit_code;       /* set by 401/403: stop */
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
        {"amqp-url", "AMQP_URL", "amqp://guest:guest@localhost:5672/%2f", "broker URL",
         RC_OPT_STRING, &c->amqp_url, 0},
        {"amqp-ca", "AMQP_CA_FILE", RC_AMQP_DEFAULT_CA,
         "CA bundle (PEM) that verifies the broker's certificate for amqps:// URLs", RC_OPT_STRING,
         &c->amqp_ca, 0},
        {"exchange", "AMQP_EXCHANGE", "crypto-info", "fanout exchange to publish to", RC_OPT_STRING,
         &c->exchange, 0},
        {"amqp-heartbeat", "AMQP_HEARTBEAT", "10s", "AMQP heartbeat interval", RC_OPT_DURATION,
         &c->heartbeat_ms, 0},
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
        {0},
    };
    char err[512];
    int rc = rc_config_parse(opts, argc, argv, "fetcher", summary, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            rc_error("%s", err);
        return rc;
    }
    if (rc_log_set_level_name(c->log_level) < 0) {
        rc_error("invalid --log-level '%s': expected debug, info, warn or error", c->log_level);
        return -1;
    }
    if (c->interval_ms <= 0 || c->buffer == 0) {
        rc_error("--interval and --buffer must be more than 0");
        return -1;
    }
    struct rc_amqp_params tls = {.url = c->amqp_url, .ca_file = c->amqp_ca};
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

/* Count a failure and log it, at most once per LOG_EVERY_MS per cause. */
static void fail(struct run *r, enum cause c, const struct rc_pair *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct run *r, enum cause c, const struct rc_pair *p, const char *fmt, ...)
{
    r->failed[c]++;
    int64_t now = rc_mono_ms();
    if (r->last_log_ms[c] && now - r->last_log_ms[c] < LOG_EVERY_MS) {
        r->quiet[c]++;
        return;
    }
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->quiet[c])
        rc_warn("coinapi: %s/%s: %s (%" PRIu64 " more like it not logged)", p->base, p->quote, msg,
                r->quiet[c]);
    else
        rc_warn("coinapi: %s/%s: %s", p->base, p->quote, msg);
    r->last_log_ms[c] = now;
    r->quiet[c] = 0;
}

/* 429: no more requests until CoinAPI says so: Retry-After, else the
 * rate-limit reset time, else a minute. Said once per pause. */
static void pause_for_429(struct run *r, const struct fetch_answer *a, const char *text)
{
    int64_t secs = a->retry_after > 0 ? a->retry_after : 0;
    const char *why = "Retry-After";
    if (secs == 0 && a->ratelimit_reset > 0) {
        secs = a->ratelimit_reset - rc_real_us() / 1000000;
        why = "X-RateLimit-Reset";
    }
    if (secs <= 0 || secs > 86400) {
        secs = 60;
        why = "no usable Retry-After";
    }
    int64_t until = rc_mono_ms() + secs * 1000;
    if (until > r->paused_until_ms) {
        if (r->paused_until_ms <= rc_mono_ms())
            rc_warn("coinapi: 429 rate limited (%s): pausing requests for %" PRId64
                    " s (%s); ticks until then are skipped",
                    text, secs, why);
        r->paused_until_ms = until;
    }
}

/* Judge one answer; on success the tick is queued for the broker. */
static void handle(struct run *r, struct rc_publisher *pub, const struct rc_pair *p,
                   const struct fetch_answer *a, char *line, size_t linecap)
{
    char text[300];
    struct rc_tick t;
    if (a->transport_error) {
        fail(r, C_TRANSPORT, p, "%s", a->err);
        return;
    }
    if (a->status != 200) {
        fetch_coinapi_error_text(a->body, a->len, text, sizeof text);
        if (a->status == 401 || a->status == 403) {
            rc_error("coinapi: HTTP %ld: %s", a->status, text);
            rc_error(a->status == 401
                         ? "CoinAPI refused the key (401): check COIN_API_KEY; stopping"
                         : "CoinAPI refused the request (403): the key lacks permission for "
                           "this endpoint or its quota is used up; stopping");
            r->exit_code = a->status == 401 ? EXIT_UNAUTHORIZED : EXIT_FORBIDDEN;
            return;
        }
        if (a->status == 429) {
            r->failed[C_HTTP_429]++;
            pause_for_429(r, a, text);
            return;
        }
        enum cause c = a->status == 550 ? C_HTTP_550 : a->status >= 500 ? C_HTTP_5XX : C_HTTP_OTHER;
        fail(r, c, p, "HTTP %ld: %s", a->status, text);
        return;
    }
    if (a->too_large) {
        fail(r, C_INVALID, p, "answer larger than %d bytes: dropped", RC_TICK_MAX_BODY);
        return;
    }
    if (rc_tick_parse(&t, a->body, a->len, text, sizeof text) < 0) {
        fail(r, C_INVALID, p, "invalid answer dropped: %s", text);
        return;
    }
    if (strcasecmp(t.base, p->base) != 0 || strcasecmp(t.quote, p->quote) != 0) {
        fail(r, C_INVALID, p, "answer names %s/%s: dropped", t.base, t.quote);
    } else if (rc_publisher_enqueue(pub, &t, NULL) == 0) {
        r->fetched++;
        size_t n = strlen(line);
        if (n + 90 < linecap) /* room for one more pair; else the line just stops */
            snprintf(line + n, linecap - n, " %.32s/%.32s=%.10g", p->base, p->quote, t.rate);
    }
    rc_tick_clear(&t);
    /* Spent the quota: wait for the reset rather than collect 429s. */
    if (a->ratelimit_remaining == 0 && a->ratelimit_reset > 0) {
        struct fetch_answer fake = *a;
        fake.retry_after = -1;
        pause_for_429(r, &fake, "X-RateLimit-Remaining is 0");
    }
}

static void do_tick(struct run *r, struct fetch_coinapi *api, struct rc_publisher *pub,
                    const struct rc_pair *pairs, size_t n, uint64_t total)
{
    struct fetch_answer ans[RC_PAIRS_MAX];
    char line[1024] = "";
    r->scheduled++;
    if (rc_mono_ms() < r->paused_until_ms) {
        r->skipped++;
        rc_info("tick %" PRIu64 ": skipped (rate limited)", r->scheduled);
        return;
    }
    r->requests += n;
    fetch_coinapi_get_all(api, ans);
    for (size_t i = 0; i < n && r->exit_code == 0; i++)
        handle(r, pub, &pairs[i], &ans[i], line, sizeof line);
    struct rc_publisher_stats ps;
    rc_publisher_get_stats(pub, &ps);
    char of[32] = "";
    if (total)
        snprintf(of, sizeof of, "/%" PRIu64, total);
    rc_info("tick %" PRIu64 "%s:%s%s (queued for the broker: %zu)", r->scheduled, of,
            line[0] ? line : " nothing fetched", "", ps.pending);
}

static void print_summary(const struct run *r, const struct rc_publisher_stats *ps)
{
    char failed[256] = "";
    size_t n = 0;
    for (int c = 0; c < C_N; c++)
        n += (size_t)snprintf(failed + n, sizeof failed - n, " %s=%" PRIu64, cause_name[c],
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

    char safe_url[512];
    rc_url_redact(cfg.amqp_url, safe_url, sizeof safe_url);
    uint64_t total = cfg.duration_ms ? (uint64_t)(cfg.duration_ms / cfg.interval_ms) : 0;
    rc_info("polling %s every %" PRId64 " ms (%s) from %s, publishing to '%s' on %s", cfg.pairs,
            cfg.interval_ms, total ? "for a fixed number of ticks" : "until stopped",
            cfg.coinapi_url, cfg.exchange, safe_url);

    int64_t deadline = rc_mono_ms();
    while (!stop && run.exit_code == 0 && (total == 0 || run.scheduled < total)) {
        /* Between ticks: deliver what is queued, service heartbeats. */
        rc_publisher_run(pub, deadline, 0, &stop);
        if (stop)
            break;
        do_tick(&run, api, pub, pairs, (size_t)npairs, total);
        /* Absolute deadlines: no drift. After an overrun, skip the ticks
         * that are already late instead of firing them in a burst. */
        deadline += cfg.interval_ms;
        int64_t now = rc_mono_ms();
        if (now > deadline) {
            int64_t late = (now - deadline) / cfg.interval_ms + 1;
            rc_warn("tick took too long: skipping %" PRId64 " tick(s)", late);
            deadline += late * cfg.interval_ms;
            run.scheduled += (uint64_t)late;
            run.skipped += (uint64_t)late;
        }
    }
    /* Deliver what is still queued, for a bounded time. */
    rc_publisher_run(pub, rc_mono_ms() + cfg.drain_ms, 1, NULL);
    struct rc_publisher_stats ps;
    rc_publisher_get_stats(pub, &ps);
    print_summary(&run, &ps);
    exit_code = run.exit_code;
out:
    rc_publisher_free(pub);
    fetch_coinapi_free(api);
    curl_global_cleanup();
    return exit_code;
}
