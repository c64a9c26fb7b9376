/* fetcher: polls CoinAPI's exchange-rate endpoint on a fixed schedule and
 * publishes every valid rate to the fanout exchange.
 *
 * Exit codes: 0 after --duration or on SIGINT/SIGTERM, 1 when a component
 * cannot start, 2 for a configuration error.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coinapi.h"
#include "rc_config.h"
#include "rc_log.h"
#include "rc_pairs.h"
#include "rc_publisher.h"
#include "rc_time.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct config {
    const char *pairs, *amqp_url, *exchange, *coinapi_url, *coinapi_key, *log_level;
    int64_t interval_ms, duration_ms, heartbeat_ms;
};

struct counters {
    uint64_t ticks, requests, published, http_errors, transport_errors, invalid, publish_failures;
};

static const char summary[] =
    "Poll CoinAPI's exchange rates and publish them to a RabbitMQ fanout exchange.";

static int load_config(struct config *c, int argc, char **argv)
{
    const struct rc_option opts[] = {
        {"pairs", "COIN_API_PAIRS", "BTC/USD", "currency pairs to poll, comma-separated",
         RC_OPT_STRING, &c->pairs, 0},
        {"interval", "COIN_API_INTERVAL", "1s", "time between ticks", RC_OPT_DURATION,
         &c->interval_ms, 0},
        {"duration", "COIN_API_DURATION", "60s", "how long to run; 0 = until stopped",
         RC_OPT_DURATION, &c->duration_ms, 0},
        {"amqp-url", "AMQP_URL", "amqp://guest:guest@localhost:5672/%2f", "broker URL",
         RC_OPT_STRING, &c->amqp_url, 0},
        {"exchange", "AMQP_EXCHANGE", "crypto-info", "fanout exchange to publish to", RC_OPT_STRING,
         &c->exchange, 0},
        {"amqp-heartbeat", "AMQP_HEARTBEAT", "10s", "AMQP heartbeat interval", RC_OPT_DURATION,
         &c->heartbeat_ms, 0},
        {"coinapi-url", "COIN_API_URL", "https://rest.coinapi.io", "CoinAPI REST base URL",
         RC_OPT_STRING, &c->coinapi_url, 0},
        {"coinapi-key", "COIN_API_KEY", NULL, "CoinAPI key", RC_OPT_STRING, &c->coinapi_key, 1},
        {"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", RC_OPT_STRING,
         &c->log_level, 0},
        {0},
    };
    char err[512];
    int rc = rc_config_parse(opts, argc, argv, "fetcher", summary, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            rc_error("%s", err);
        return rc;
    }
    enum rc_log_level lvl;
    if (rc_log_parse_level(c->log_level, &lvl) < 0) {
        rc_error("invalid --log-level '%s': expected debug, info, warn or error", c->log_level);
        return -1;
    }
    rc_log_set_level(lvl);
    if (c->interval_ms <= 0) {
        rc_error("--interval must be more than 0");
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

static void poll_pair(struct fetch_coinapi *api, struct rc_publisher *pub,
                      const struct rc_pair *pair, struct counters *n)
{
    struct fetch_answer ans;
    struct rc_tick tick;
    char err[512];

    n->requests++;
    if (fetch_coinapi_get(api, pair, &ans, err, sizeof err) < 0) {
        n->transport_errors++;
        rc_warn("coinapi: %s", err);
        return;
    }
    if (ans.status != 200) {
        n->http_errors++;
        fetch_coinapi_error_text(ans.body, ans.len, err, sizeof err);
        rc_warn("coinapi: %s/%s: HTTP %ld: %s", pair->base, pair->quote, ans.status, err);
        return;
    }
    if (ans.too_large) {
        n->invalid++;
        rc_warn("coinapi: %s/%s: answer larger than %d bytes, dropped", pair->base, pair->quote,
                RC_TICK_MAX_BODY);
        return;
    }
    if (rc_tick_parse(&tick, ans.body, ans.len, err, sizeof err) < 0) {
        n->invalid++;
        rc_warn("coinapi: %s/%s: invalid answer dropped: %s", pair->base, pair->quote, err);
        return;
    }
    if (strcasecmp(tick.base, pair->base) != 0 || strcasecmp(tick.quote, pair->quote) != 0) {
        n->invalid++;
        rc_warn("coinapi: asked for %s/%s, got %s/%s: dropped", pair->base, pair->quote, tick.base,
                tick.quote);
    } else if (rc_publisher_send(pub, &tick) == 0) {
        n->published++;
        rc_debug("published %s", tick.json);
    } else {
        n->publish_failures++;
    }
    rc_tick_clear(&tick);
}

int main(int argc, char **argv)
{
    struct config cfg = {0};
    struct counters n = {0};
    struct rc_pair pairs[RC_PAIRS_MAX];
    char err[512];
    int exit_code = 1;
    struct fetch_coinapi *api = NULL;
    struct rc_publisher *pub = NULL;

    rc_log_set_name("fetcher");
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int npairs = rc_pairs_parse(cfg.pairs, pairs, RC_PAIRS_MAX, err, sizeof err);
    if (npairs < 0) {
        rc_error("--pairs: %s", err);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc_error("curl_global_init failed");
        return 1;
    }
    /* A request must end before the next tick is due. */
    int64_t timeout_ms = cfg.interval_ms * 9 / 10 > 100 ? cfg.interval_ms * 9 / 10 : 100;
    api = fetch_coinapi_new(cfg.coinapi_url, cfg.coinapi_key, timeout_ms, err, sizeof err);
    if (api == NULL) {
        rc_error("%s", err);
        exit_code = 2;
        goto out;
    }
    struct rc_amqp_params ap = {.url = cfg.amqp_url,
                                .heartbeat_s = (unsigned)((cfg.heartbeat_ms + 999) / 1000),
                                .timeout_ms = 5000,
                                .conn_name = "ratecast fetcher"};
    if ((pub = rc_publisher_new(&ap, cfg.exchange)) == NULL) {
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
    while (!stop && (total == 0 || n.ticks < total)) {
        rc_publisher_wait(pub, deadline, &stop);
        if (stop)
            break;
        n.ticks++;
        for (int i = 0; i < npairs && !stop; i++)
            poll_pair(api, pub, &pairs[i], &n);
        /* Absolute deadlines: no drift. After an overrun, skip the ticks
         * that are already late instead of firing them in a burst. */
        deadline += cfg.interval_ms;
        int64_t now = rc_mono_ms();
        if (now > deadline) {
            int64_t late = (now - deadline) / cfg.interval_ms + 1;
            rc_warn("tick took too long: skipping %" PRId64 " tick(s)", late);
            deadline += late * cfg.interval_ms;
            n.ticks += (uint64_t)late;
        }
    }
    rc_info("summary: ticks=%" PRIu64 " requests=%" PRIu64 " published=%" PRIu64
            " http_errors=%" PRIu64 " transport_errors=%" PRIu64 " invalid=%" PRIu64
            " publish_failures=%" PRIu64,
            n.ticks, n.requests, n.published, n.http_errors, n.transport_errors, n.invalid,
            n.publish_failures);
    exit_code = 0;
out:
    rc_publisher_free(pub);
    fetch_coinapi_free(api);
    curl_global_cleanup();
    return exit_code;
}
