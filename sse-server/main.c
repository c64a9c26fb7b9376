/* sse-server: streams every exchange-rate message from the fanout exchange
 * to every connected EventSource client.
 *
 * Threads: libmicrohttpd's workers (HTTP: requests, greetings), the stream
 * writers (every event after the greeting: writer.h), the reaper (hang-ups
 * of idle streams: reaper.h), one AMQP consumer (live queue and history
 * backfill: consumer.h), the broadcast publisher's callers (HTTP workers,
 * under its lock), and this main thread, which only waits for a signal and
 * drives heartbeats.
 *
 * Every thread is started and stopped here, in main(): the order of the
 * shutdown is written beside its code.
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when a component cannot start,
 * 2 for a configuration error.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "consumer.h"
#include "http.h"
#include "hub.h"
#include "rc_amqp.h"
#include "rc_config.h"
#include "rc_history.h"
#include "rc_log.h"
#include "rc_time.h"
#include "reaper.h"
#include "stream.h"
#include "tls.h"
#include "writer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct config {
    const char *listen, *amqp_url, *exchange, *cors, *log_level, *publish_token;
    unsigned max_clients, history, threads, conn_memory_kib, sndbuf_kib, retry_ms;
    int64_t heartbeat_ms, amqp_heartbeat_ms, reconnect_max_ms, request_timeout_ms;
    const char *amqp_ca, *tls_cert, *tls_key;
    int reuse_port, snapshot;
    const char *history_stream;
    int64_t history_age_ms;
    struct rc_history hist;
    int has_history;
};

static const char summary[] =
    "Stream exchange rates from a RabbitMQ fanout exchange to browsers over Server-Sent Events\n"
    "at GET /api/v1/sso/stream (also: POST /api/v1/sso/broadcast, /healthz, /readyz, /metrics).";

static int load_config(struct config *c, int argc, char **argv)
{
    const struct rc_option opts[] = {
        {"listen", "SSE_LISTEN", "0.0.0.0:8181", "address and port to serve on", RC_OPT_STRING,
         &c->listen, 0},
        {"tls-cert", "SSE_TLS_CERT", NULL,
         "certificate chain (PEM) to serve HTTPS with; needs --tls-key (unset: plain HTTP)",
         RC_OPT_STRING, &c->tls_cert, 0},
        {"tls-key", "SSE_TLS_KEY", NULL, "private key (PEM) of --tls-cert", RC_OPT_STRING,
         &c->tls_key, 0},
        {"reuse-port", "SSE_REUSE_PORT", "false",
         "share the port with other sse-server processes that also set it (SO_REUSEPORT)",
         RC_OPT_BOOL, &c->reuse_port, 0},
        RC_AMQP_OPTIONS(&c->amqp_url, &c->amqp_ca, &c->amqp_heartbeat_ms),
        {"exchange", "AMQP_EXCHANGE", "crypto-info", "fanout exchange to consume", RC_OPT_STRING,
         &c->exchange, 0},
        {"max-clients", "SSE_MAX_CLIENTS", "10000", "streams served at once; more get 503",
         RC_OPT_UINT, &c->max_clients, 0},
        {"history", "SSE_HISTORY", "4608",
         "events kept in the ring (4608: 15 minutes of 5 pairs at one tick a second)", RC_OPT_UINT,
         &c->history, 0},
        RC_HISTORY_OPTIONS(&c->history_stream, &c->history_age_ms),
        {"snapshot", "SSE_SNAPSHOT", "true",
         "a new stream without Last-Event-ID starts with the newest event of each of its pairs",
         RC_OPT_BOOL, &c->snapshot, 0},
        {"heartbeat", "SSE_HEARTBEAT", "15s", "comment sent on idle streams this often",
         RC_OPT_DURATION, &c->heartbeat_ms, 0},
        {"retry-ms", "SSE_RETRY_MS", "3000",
         "reconnect delay in ms told to clients (retry:), plus up to 50% random jitter",
         RC_OPT_UINT, &c->retry_ms, 0},
        {"cors-origins", "SSE_CORS_ORIGINS", "*",
         "allowed origins: * or a comma-separated list (https://a.example,https://b.example)",
         RC_OPT_STRING, &c->cors, 0},
        {"request-timeout", "SSE_REQUEST_TIMEOUT", "10s",
         "time allowed for a request that is not a stream (slow headers)", RC_OPT_DURATION,
         &c->request_timeout_ms, 0},
        {"conn-memory", "SSE_CONN_MEMORY_KIB", "6",
         "per-connection memory pool in KiB: holds the request head (6: about 2.8 KB of "
         "headers)",
         RC_OPT_UINT, &c->conn_memory_kib, 0},
        {"sndbuf", "SSE_SNDBUF_KIB", "32",
         "kernel send buffer per connection in KiB (0: the kernel's autotuning, up to MiBs)",
         RC_OPT_UINT, &c->sndbuf_kib, 0},
        {"publish-token", "SSE_PUBLISH_TOKEN", NULL,
         "bearer token enabling POST /api/v1/sso/broadcast (unset: disabled)", RC_OPT_STRING,
         &c->publish_token, 1},
        {"threads", "SSE_THREADS", "2",
         "HTTP worker threads, and as many threads writing the streams (plain HTTP)", RC_OPT_UINT,
         &c->threads, 0},
        {"reconnect-max", "AMQP_RECONNECT_MAX", "10s", "longest wait between reconnects",
         RC_OPT_DURATION, &c->reconnect_max_ms, 0},
        {"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", RC_OPT_STRING,
         &c->log_level, 0},
        {0},
    };
    int rc = rc_config_load(opts, argc, argv, "sse-server", summary, &c->log_level);
    if (rc != 0)
        return rc;
    if (c->max_clients == 0 || c->history == 0 || c->threads == 0 || c->heartbeat_ms <= 0 ||
        c->reconnect_max_ms <= 0 || c->request_timeout_ms < 1000 || c->conn_memory_kib < 4) {
        rc_error("--max-clients, --history, --threads, --heartbeat and --reconnect-max must be "
                 "more than 0, --request-timeout at least 1s, --conn-memory at least 4");
        return -1;
    }
    /* Half a TLS configuration is a mistake, not a request for plain HTTP. */
    if ((c->tls_cert != NULL) != (c->tls_key != NULL)) {
        rc_error("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither "
                 "for HTTP (only --%s was given)",
                 c->tls_cert ? "tls-cert" : "tls-key");
        return -1;
    }
    struct rc_amqp_params tls = {.url = c->amqp_url, .ca_file = c->amqp_ca};
    char err[512];
    if (rc_amqp_check_tls(&tls, err, sizeof err) < 0) {
        rc_error("%s", err);
        return -1;
    }
    c->has_history = rc_history_init(&c->hist, c->history_stream, c->exchange, c->history_age_ms,
                                     err, sizeof err);
    if (c->has_history < 0) {
        rc_error("%s", err);
        return -1;
    }
    if (c->retry_ms > 3600000) {
        rc_error("--retry-ms must be at most 3600000 (1 h)");
        return -1;
    }
    return 0;
}

/* With a history stream, listen only once the ring is filled from it (or
 * after STARTUP_WAIT_MS, when the broker is slow or away): a client that
 * resumes before then would get a reset for events the stream has, and
 * one that does not would be handed the past as new events. Until the port
 * listens, connections are refused, which a browser's EventSource retries
 * and a proxy passes to another replica (a 503 would end an EventSource
 * for good). */
#define STARTUP_WAIT_MS 5000
static void wait_for_history(const struct config *cfg, const struct sse_consumer_stats *st)
{
    if (!cfg->has_history)
        return;
    int64_t until = rc_mono_ms() + STARTUP_WAIT_MS;
    /* A broker that cannot be reached at all is not waited for: streams
     * are served meanwhile, as they always were. */
    while (!stop && !atomic_load(&st->connected) && rc_mono_ms() < until &&
           (atomic_load(&st->connects) > 0 || atomic_load(&st->connect_failures) == 0))
        rc_sleep_until_ms(rc_mono_ms() + 20);
    if (!atomic_load(&st->connected))
        rc_warn("broker: the history is not read after %d ms: listening anyway (/readyz says 503 "
                "until it is)",
                STARTUP_WAIT_MS);
}

/* Every client is a socket: lift the soft open-file limit to the hard one
 * and say so if it still cannot hold --max-clients. */
static void raise_nofile(unsigned max_clients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max_clients + 100)
        rc_warn("open-file limit %ju is too low for --max-clients %u", (uintmax_t)rl.rlim_cur,
                max_clients);
}

/* The reaper watches sockets numbered below this. */
static int open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 1 << 24)
        return 1 << 16;
    return (int)rl.rlim_cur;
}

/* Until every stream has ended (its subscriber gone) or until_ms. */
static void wait_for_streams(struct sse_hub *hub, int64_t until_ms)
{
    struct sse_hub_stats st;
    if (hub == NULL)
        return;
    for (sse_hub_get_stats(hub, &st); st.subscribers > 0 && rc_mono_ms() < until_ms;
         sse_hub_get_stats(hub, &st))
        usleep(10000);
}

/* How long the shutdown waits for streams to end on their own, then for
 * the ones the writers hand back. */
#define STOP_WAIT_MS 2000

int main(int argc, char **argv)
{
    struct config cfg = {0};
    char err[512];
    int exit_code = 1;
    struct sse_hub *hub = NULL;
    struct sse_consumer *consumer = NULL;
    struct sse_http *http = NULL;
    struct sse_reaper *reaper = NULL;
    struct sse_writers *writers = NULL;
    struct sse_broadcast *broadcast = NULL;
    struct sse_tls tls = {0};

    rc_log_set_name("sse-server");
    int rc = load_config(&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* Unreadable files or a key that is not the certificate's: a
     * configuration error, found before anything starts. */
    if (cfg.tls_cert && sse_tls_load(&tls, cfg.tls_cert, cfg.tls_key, err, sizeof err) < 0) {
        rc_error("%s", err);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    raise_nofile(cfg.max_clients);

    struct sse_consumer_config ccfg = {.amqp_url = cfg.amqp_url,
                                       .amqp_ca = cfg.amqp_ca,
                                       .exchange = cfg.exchange,
                                       .heartbeat_s =
                                           (unsigned)((cfg.amqp_heartbeat_ms + 999) / 1000),
                                       .reconnect_max_ms = cfg.reconnect_max_ms,
                                       .history = cfg.has_history ? &cfg.hist.spec : NULL,
                                       .backfill_window = cfg.history};
    struct sse_http_config hcfg = {.listen = cfg.listen,
                                   .max_clients = cfg.max_clients,
                                   .cors_origins = cfg.cors,
                                   .threads = cfg.threads,
                                   .request_timeout_s = (unsigned)(cfg.request_timeout_ms / 1000),
                                   .conn_memory = (size_t)cfg.conn_memory_kib * 1024,
                                   .sndbuf = (size_t)cfg.sndbuf_kib * 1024,
                                   .retry_ms = cfg.retry_ms,
                                   .tls_cert = tls.cert,
                                   .tls_key = tls.key,
                                   .reuse_port = cfg.reuse_port,
                                   .snapshot = cfg.snapshot};
    /* The broadcast connection only publishes, now and then: no AMQP
     * heartbeats to service (a dead connection is replaced on use). */
    struct rc_amqp_params bparams = {.url = cfg.amqp_url,
                                     .ca_file = cfg.amqp_ca,
                                     .heartbeat_s = 0,
                                     .timeout_ms = 5000,
                                     .conn_name = "ratecast sse-server broadcast"};
    if (cfg.publish_token && *cfg.publish_token &&
        (broadcast = sse_broadcast_new(cfg.publish_token, &bparams, cfg.exchange)) == NULL) {
        rc_error("out of memory");
        goto out;
    }
    /* The snapshot's table of each pair's newest frame: none without
     * --snapshot, so that it is exactly as if the feature did not exist. */
    if ((hub = sse_hub_new(cfg.history, cfg.max_clients)) == NULL ||
        sse_hub_set_latest(hub, cfg.snapshot ? SSE_HUB_LATEST_MAX : 0) < 0) {
        rc_error("out of memory");
        goto out;
    }
    /* Heartbeats go out one slice of the streams per second (per
     * --heartbeat / 60 when longer than a minute), so each stream still gets
     * one per --heartbeat, but never all at once: a burst to every stream
     * would hold up the events published during it. */
    int64_t hb_secs = cfg.heartbeat_ms / 1000;
    unsigned hb_slices = hb_secs < 1                       ? 1
                         : hb_secs > SSE_HUB_HB_SLICES_MAX ? SSE_HUB_HB_SLICES_MAX
                                                           : (unsigned)hb_secs;
    sse_hub_set_heartbeat_slices(hub, hb_slices); /* nobody subscribed yet: cannot fail */
    if ((consumer = sse_consumer_start(&ccfg, hub)) == NULL) {
        rc_error("cannot start the consumer thread");
        goto out;
    }
    wait_for_history(&cfg, sse_consumer_stats(consumer));
    /* Without the reaper, hang-ups are still found by the next write. */
    if ((reaper = sse_reaper_start(open_file_limit(), sse_stream_hangup)) == NULL)
        rc_warn("http: cannot start the hang-up watcher; dead clients found by heartbeats");
    /* Plain HTTP: streams leave libmicrohttpd after their greeting and are
     * written by these threads (writer.h); TLS streams cannot. */
    if (!(hcfg.tls_cert && hcfg.tls_key) && (writers = sse_writers_start(cfg.threads, hub)) == NULL)
        rc_warn("http: cannot start the stream writers; every event goes through libmicrohttpd");
    if ((http = sse_http_start(&hcfg, hub, sse_consumer_stats(consumer), broadcast, reaper, writers,
                               err, sizeof err)) == NULL) {
        rc_error("%s", err);
        goto out;
    }
    char safe_url[512];
    rc_url_redact(cfg.amqp_url, safe_url, sizeof safe_url);
    /* Tests and scripts read the port from this line when given port 0. */
    rc_info("listening on port %u, serving %s%s: stream at /api/v1/sso/stream (--listen %s, max "
            "%u clients, broadcast %s), consuming '%s' from %s, history stream %s%s%s",
            sse_http_port(http), tls.cert ? "HTTPS" : "HTTP",
            cfg.reuse_port ? " on a shared port (--reuse-port)" : "", cfg.listen, cfg.max_clients,
            broadcast ? "enabled" : "disabled", cfg.exchange, safe_url,
            cfg.has_history ? cfg.hist.name : "off", cfg.has_history ? " keeping " : "",
            cfg.has_history ? cfg.hist.max_age : "");

    int64_t hb_step = cfg.heartbeat_ms / hb_slices;
    unsigned hb_slice = 0;
    int64_t next_hb = rc_mono_ms() + hb_step;
    while (!stop) {
        int64_t now = rc_mono_ms();
        if (now >= next_hb) {
            sse_hub_heartbeat_slice(hub, hb_slice);
            hb_slice = (hb_slice + 1) % hb_slices;
            next_hb = now + hb_step;
        }
        sse_http_sweep(http);
        /* Wakes early on a signal. */
        rc_sleep_until_ms(next_hb < now + 250 ? next_hb : now + 250);
    }
    rc_info("stopping: closing streams");
    exit_code = 0;
out:
    /* The shutdown keeps the promise of SIGTERM (docs/api.md): stop accepting,
     * end every stream cleanly, exit 0 within a few seconds (the consumer's
     * poll, then at most STOP_WAIT_MS). In this order, because
     * libmicrohttpd aborts the process if a connection is still suspended
     * when its daemon stops, and a stream whose client stopped reading
     * would never end on its own:
     *  1. Stop the consumer: no new events.
     *  2. Close the hub (the flag): every parked stream is resumed, and its
     *     reader returns end-of-stream.
     *  3. Quiesce the daemon: no new connections.
     *  4. Wait, most of STOP_WAIT_MS, for the streams to send their last
     *     bytes and end.
     *  5. Stop the writers: they hand back what they still hold (clients
     *     that stopped reading) to libmicrohttpd, which ends it; wait the
     *     rest of STOP_WAIT_MS.
     *  6. Stop the daemon: every connection closes.
     *  7. Free the writers (no reader calls them any more), stop the reaper
     *     (every stream is unwatched now), free what the daemon borrowed:
     *     the broadcast, the hub, the TLS keys. */
    sse_consumer_stop(consumer); /* 1 */
    if (hub)
        sse_hub_close(hub); /* 2 */
    sse_http_quiesce(http); /* 3 */
    int64_t stop_start = rc_mono_ms();
    wait_for_streams(hub, stop_start + STOP_WAIT_MS * 3 / 4); /* 4 */
    sse_writers_stop(writers);                                /* 5 */
    wait_for_streams(hub, stop_start + STOP_WAIT_MS);
    sse_http_stop(http);       /* 6 */
    sse_writers_free(writers); /* 7 */
    sse_reaper_stop(reaper);
    sse_broadcast_free(broadcast);
    sse_hub_free(hub);
    sse_tls_clear(&tls);
    rc_info("stopped");
    return exit_code;
}
