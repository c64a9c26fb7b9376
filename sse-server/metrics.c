/* metrics.c: the Prometheus text exposition for /metrics. Pure: reads counters, writes text.
 * The returned buffer is malloc'd; the caller frees it. The interface, and who owns what, is
 * in metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->failed = 1; /* never send a cut body */
    else
        o->len += (size_t)n;
}

/* The publish-to-delivery delay, as a Prometheus histogram (cumulative). */
static void put_delay(struct out *o, const struct sse_delay_hist *d)
{
    const char *name = "sse_delivery_delay_seconds";
    put(o, "# HELP %s Time from an event's own \"time\" to its hand-over to a client.\n", name);
    put(o, "# TYPE %s histogram\n", name);
    uint64_t cum = 0;
    for (size_t b = 0; b < SSE_DELAY_BUCKETS; b++) {
        cum += d->count[b];
        put(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, (double)sse_delay_bounds_ms[b] / 1000,
            cum);
    }
    cum += d->count[SSE_DELAY_BUCKETS];
    put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.6f\n%s_count %" PRIu64 "\n", name, cum,
        name, d->sum_s, name, cum);
}

char *sse_metrics_render(const struct sse_hub_stats *hub, const struct sse_consumer_stats *c,
                         const struct sse_http_stats *http, size_t *len)
{
    /* One table: name, type, help, value. */
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } rows[] = {
        {"sse_clients", "gauge", "Connected SSE clients.", hub->subscribers},
        {"sse_clients_total", "counter", "SSE clients accepted since start.", hub->subscribed},
        {"sse_clients_rejected_total", "counter", "SSE clients refused by --max-clients.",
         hub->rejected_full},
        {"sse_clients_lagged_total", "counter",
         "SSE clients disconnected for falling behind the history ring.", hub->lagged},
        {"sse_clients_hangups_total", "counter",
         "SSE clients released at once because they hung up while idle.", hub->hangups},
        {"sse_replays_total", "counter", "Resumes served from the history without a gap.",
         hub->replays},
        {"sse_resets_total", "counter",
         "Resumes that could not be served (id too old, unknown or invalid).", hub->resets},
        {"sse_snapshots_total", "counter",
         "Streams that started with a snapshot (the newest event of each pair).", hub->snapshots},
        {"sse_snapshot_events_total", "counter", "Events sent in snapshots.", hub->snap_events},
        {"sse_snapshot_pairs_evicted_total", "counter",
         "Pairs dropped from the full table of each pair's newest event (the least recent).",
         hub->pairs_evicted},
        {"sse_since_replays_total", "counter", "Streams that replayed a time window (?since=).",
         hub->since_replays},
        {"sse_events_total", "counter", "Events published to the hub.", hub->published},
        {"sse_deliveries_total", "counter", "Events handed to clients (one per client).",
         hub->delivered},
        {"sse_heartbeats_total", "counter", "Heartbeat comments sent on idle streams.",
         hub->heartbeats},
        {"sse_http_request_timeouts_total", "counter",
         "Connections closed for not sending their headers within --request-timeout.",
         http->request_timeouts},
        {"sse_broker_messages_total", "counter", "Messages received from the broker.",
         atomic_load(&c->received)},
        {"sse_broker_invalid_messages_total", "counter", "Broker messages dropped as invalid.",
         atomic_load(&c->invalid)},
        {"sse_broker_duplicates_total", "counter",
         "Broker messages dropped as repeats of a message_id already delivered (a producer's "
         "resend).",
         atomic_load(&c->duplicates)},
        {"sse_broker_connects_total", "counter", "Successful broker (re)connections.",
         atomic_load(&c->connects)},
        {"sse_broker_connected", "gauge", "1 while consuming from the broker.",
         (uint64_t)atomic_load(&c->connected)},
        {"sse_history_enabled", "gauge",
         "1 while the history stream is declared and read (0: off, or refused by the broker).",
         (uint64_t)atomic_load(&c->history)},
        {"sse_history_refused_total", "counter",
         "History stream declares or reads the broker refused.", atomic_load(&c->history_refused)},
        {"sse_backfills_total", "counter", "Reads of the history stream after a connect.",
         atomic_load(&c->backfills)},
        {"sse_backfill_events_total", "counter", "Events put in the ring from the history stream.",
         atomic_load(&c->backfilled)},
        {"sse_backfill_skipped_total", "counter", "History stream events the ring already had.",
         atomic_load(&c->backfill_skipped)},
        {"sse_backfill_live_duplicates_total", "counter",
         "Live events dropped because the history stream had already given them.",
         atomic_load(&c->live_duplicates)},
        {"sse_backfill_gaps_total", "counter",
         "Backfills that could not reach the ring's newest event: events were lost.",
         atomic_load(&c->backfill_gaps)},
        {"sse_backfill_last_ms", "gauge", "How long the last history read took, in ms.",
         (uint64_t)atomic_load(&c->backfill_last_ms)},
        {"sse_ring_gap_cuts_total", "counter",
         "Streams ended because a gap was marked in the ring (their clients resume into a reset).",
         hub->gap_cuts},
    };
    struct out o = {.cap = 8192};
    if ((o.buf = malloc(o.cap)) == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        put(&o, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", rows[i].name, rows[i].help,
            rows[i].name, rows[i].type, rows[i].name, rows[i].value);
    put_delay(&o, &hub->delay);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
