/* sse_consumer: the AMQP consumer thread (see consumer.h). */
#include "consumer.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "backfill.h"
#include "event_id.h"
#include "frame.h"
#include "rc_amqp.h"
#include "rc_log.h"
#include "rc_ratelimit.h"
#include "rc_tick.h"
#include "rc_time.h"

/* How long one consume call may block: bounds how late a stop is seen. */
#define POLL_MS 250
/* A flood of garbage must not flood the log: the counter has it all. */
#define INVALID_LOG_BURST     10
#define INVALID_LOG_WINDOW_MS 10000

struct sse_consumer {
    const struct sse_consumer_config *cfg;
    struct sse_hub *hub;
    pthread_t thread;
    atomic_int stop;
    uint64_t last_id;
    struct sse_hub_event batch[SSE_HUB_BATCH_MAX]; /* framed, not yet published */
    struct sse_event_meta batch_meta[SSE_HUB_BATCH_MAX];
    size_t nbatch;
    int history_refusal_logged;
    int history_retries;             /* transient refusals in a row */
    int history_empty;               /* the broker said the stream had nothing when declared */
    int first_fill;                  /* this backfill fills an empty ring */
    int64_t history_off_until;       /* no stream support: do not ask before this */
    struct rc_ratelimit invalid_log; /* lines about invalid messages */
    struct sse_consumer_stats st;
};

/* A producer that publishes at least once (the fetcher resends a tick whose
 * confirm a broken connection swallowed, and a cluster node can refuse the
 * first publish on a new channel after it routed it) delivers the same
 * message_id twice. An id at or below the last one is such a repeat when
 * the ring has it; otherwise it is a late producer's, and gets a new id as
 * before. */
static int is_duplicate(struct sse_consumer *c, const char *message_id)
{
    uint64_t id;
    if (message_id == NULL || sse_event_id_parse(message_id, &id) < 0 || id > c->last_id)
        return 0;
    if (id == c->last_id)
        return 1;
    for (size_t i = 0; i < c->nbatch; i++) /* framed, not yet in the ring */
        if (c->batch_meta[i].id == id)
            return 1;
    return sse_hub_has_id(c->hub, id);
}

/* Frame a message into *ev (its meta in *m): 0, or -1 when it is dropped
 * (invalid, counted and logged; or out of memory). It gets its id now. */
static int frame_message(struct sse_consumer *c, const char *body, size_t blen,
                         const char *message_id, struct sse_hub_event *ev, struct sse_event_meta *m)
{
    struct rc_tick t;
    char err[256];
    atomic_fetch_add(&c->st.received, 1);
    if (is_duplicate(c, message_id)) {
        atomic_fetch_add(&c->st.duplicates, 1);
        return -1;
    }
    if (rc_tick_parse(&t, body, blen, err, sizeof err) < 0) {
        uint64_t n = atomic_fetch_add(&c->st.invalid, 1) + 1, quiet;
        if (rc_ratelimit_allow(&c->invalid_log, rc_mono_ms(), &quiet)) {
            char more[64] = "";
            if (quiet)
                snprintf(more, sizeof more, " (%" PRIu64 " more like it not logged)", quiet);
            rc_warn("broker: invalid message dropped (%zu bytes, #%" PRIu64 "): %s%s", blen, n, err,
                    more);
        }
        return -1;
    }
    *m = (struct sse_event_meta){.id = sse_event_id_pick(message_id, c->last_id),
                                 .time_us = rc_tick_time_us(&t)};
    /* Filters compare upper case, as rc_pairs_parse() produces. */
    for (size_t i = 0; t.base[i]; i++)
        m->base[i] = (char)toupper((unsigned char)t.base[i]);
    for (size_t i = 0; t.quote[i]; i++)
        m->quote[i] = (char)toupper((unsigned char)t.quote[i]);
    ev->frame = sse_frame_event(m->id, NULL, t.json, t.json_len, &ev->len);
    ev->meta = m;
    rc_tick_clear(&t);
    if (ev->frame == NULL) {
        rc_error("out of memory framing a message: dropped");
        return -1;
    }
    c->last_id = m->id;
    return 0;
}

/* Frame a message and hand it to the hub on its own (as the past, with
 * past set: see sse_hub_publish_history). Returns the id it got, or 0 when
 * it was dropped. */
static uint64_t handle_message(struct sse_consumer *c, const char *body, size_t blen,
                               const char *message_id, int past)
{
    struct sse_hub_event ev;
    struct sse_event_meta m;
    if (frame_message(c, body, blen, message_id, &ev, &m) < 0)
        return 0;
    if (past)
        sse_hub_publish_history(c->hub, &ev, 1);
    else
        sse_hub_publish_batch(c->hub, &ev, 1);
    return m.id;
}

static void flush_batch(struct sse_consumer *c)
{
    if (c->nbatch == 0)
        return;
    sse_hub_publish_batch(c->hub, c->batch, c->nbatch);
    c->nbatch = 0;
}

/* Consume until the connection fails or we are told to stop.
 *
 * A fetcher tick of several pairs arrives as a burst. Deliveries that are
 * already here (in rabbitmq-c's buffer) are taken without waiting and go
 * to the hub as one batch, so each client is woken once and gets them in
 * one send(); the batch is handed over as soon as nothing more is waiting,
 * so a lone event is never held back to see whether others follow. */
static void consume(struct sse_consumer *c, struct rc_amqp *a)
{
    char err[512];
    struct rc_amqp_delivery d;
    while (!atomic_load(&c->stop)) {
        if (c->nbatch && (c->nbatch == SSE_HUB_BATCH_MAX || !rc_amqp_buffered(a)))
            flush_batch(c);
        int rc = rc_amqp_next(a, c->nbatch ? 0 : POLL_MS, &d, err, sizeof err);
        if (rc < 0) {
            flush_batch(c);
            rc_warn("broker: %s", err);
            return;
        }
        if (rc == 1) {
            if (!d.stream && frame_message(c, d.body, d.len, d.message_id, &c->batch[c->nbatch],
                                           &c->batch_meta[c->nbatch]) == 0)
                c->nbatch++;
            rc_amqp_delivery_clear(&d);
        }
    }
    flush_batch(c);
}

static void sleep_unless_stopped(struct sse_consumer *c, int64_t ms)
{
    int64_t end = rc_mono_ms() + ms;
    while (!atomic_load(&c->stop) && rc_mono_ms() < end) {
        int64_t step = rc_mono_ms() + POLL_MS;
        rc_sleep_until_ms(step < end ? step : end);
    }
}

/* ---- backfill from the history stream (see backfill.h) ------------------ */

/* How long the probe waits for the stream's last chunk, and how quiet it
 * must then stay; the grace after the end for late commits; the whole
 * read's limit; how many live events may wait meanwhile. */
#define PROBE_FIRST_MS  1000
#define PROBE_EMPTY_MS  150
#define PROBE_QUIET_MS  50
#define END_GRACE_MS    200
#define BACKFILL_MAX_MS 15000
#define HOLD_MAX        100000
#define STREAM_PREFETCH 1000

enum { BF_OK = 0, BF_REFUSED = 1, BF_GIVE_UP = 2, BF_LOST = -1, BF_STOP = -2 };

static void mark_gap(struct sse_consumer *c)
{
    atomic_fetch_add(&c->st.backfill_gaps, 1);
    rc_warn("broker: the history stream does not reach back to event %" PRIu64
            " (the newest this replica had): the events in between are lost; open streams "
            "are ended and resumes from before now get a reset",
            c->last_id);
    sse_hub_mark_gap(c->hub);
}

/* One delivery during a backfill: stream events go to the ring if new,
 * live ones are held back. *last_stream_ms is when the stream last spoke. */
static int bf_take(struct sse_consumer *c, struct sse_backfill *b, struct rc_amqp *a,
                   int64_t *last_stream_ms, int probing, int64_t *end)
{
    char err[512];
    struct rc_amqp_delivery d;
    int rc = rc_amqp_next(a, 50, &d, err, sizeof err);
    if (rc < 0) {
        rc_warn("broker: %s (during the history read)", err);
        return BF_LOST;
    }
    if (rc == 0)
        return BF_OK;
    if (d.stream) {
        *last_stream_ms = rc_mono_ms();
        if (probing) {
            if (d.offset > *end)
                *end = d.offset;
        } else {
            int v = sse_backfill_stream_event(b, d.offset, sse_backfill_parse_id(d.message_id));
            if (v == 2)
                mark_gap(c);
            if (v)
                sse_backfill_published(
                    b, handle_message(c, d.body, d.len, d.message_id, c->first_fill));
        }
    } else if (sse_backfill_hold(b, d.body, d.len, d.message_id) < 0) {
        rc_amqp_delivery_clear(&d);
        rc_warn("broker: more than %d live events arrived during the history read: giving it up",
                HOLD_MAX);
        return BF_GIVE_UP;
    }
    rc_amqp_delivery_clear(&d);
    return BF_OK;
}

/* Find the stream's last offset: read its last chunk ("last") until it
 * goes quiet. -1 in *end when the stream is empty. */
static int bf_probe(struct sse_consumer *c, struct sse_backfill *b, struct rc_amqp *a, int64_t *end)
{
    char err[512];
    int rc =
        rc_amqp_stream_open(a, c->cfg->history->name, "last", 0, STREAM_PREFETCH, err, sizeof err);
    if (rc != 0) {
        rc_warn("broker: %s", err);
        return rc == 1 || rc == 2 ? BF_REFUSED : BF_LOST;
    }
    int64_t t0 = rc_mono_ms(), heard = 0;
    *end = -1;
    while (!atomic_load(&c->stop)) {
        int64_t now = rc_mono_ms();
        /* A stream that was empty when declared answers "last" only if
         * something came since: no need to wait long for its last chunk. */
        int64_t first = c->history_empty ? PROBE_EMPTY_MS : PROBE_FIRST_MS;
        if (heard ? now - heard >= PROBE_QUIET_MS : now - t0 >= first)
            break;
        if ((rc = bf_take(c, b, a, &heard, 1, end)) != BF_OK)
            return rc;
    }
    if (rc_amqp_stream_close(a, err, sizeof err) < 0) {
        rc_warn("broker: %s", err);
        return BF_LOST;
    }
    return atomic_load(&c->stop) ? BF_STOP : BF_OK;
}

static int bf_read(struct sse_consumer *c, struct sse_backfill *b, struct rc_amqp *a)
{
    char err[512];
    int64_t from = sse_backfill_start_offset(b, c->cfg->backfill_window);
    int rc =
        rc_amqp_stream_open(a, c->cfg->history->name, NULL, from, STREAM_PREFETCH, err, sizeof err);
    if (rc != 0) {
        rc_warn("broker: %s", err);
        return rc == 1 || rc == 2 ? BF_REFUSED : BF_LOST;
    }
    int64_t t0 = rc_mono_ms(), heard = t0, ignored;
    while (!atomic_load(&c->stop) && !sse_backfill_done(b, rc_mono_ms() - heard, END_GRACE_MS)) {
        if (rc_mono_ms() - t0 > BACKFILL_MAX_MS) {
            rc_warn("broker: the history read did not meet the live queue within %d ms: "
                    "giving it up",
                    BACKFILL_MAX_MS);
            break;
        }
        if ((rc = bf_take(c, b, a, &heard, 0, &ignored)) != BF_OK)
            return rc;
    }
    if (rc_amqp_stream_close(a, err, sizeof err) < 0) {
        rc_warn("broker: %s", err);
        return BF_LOST;
    }
    return atomic_load(&c->stop) ? BF_STOP : BF_OK;
}

/* Let the held-back live events through: each once, after what the
 * stream gave. */
static void bf_release(struct sse_consumer *c, struct sse_backfill *b)
{
    const char *body, *mid;
    size_t len;
    while (sse_backfill_next_held(b, &body, &len, &mid)) {
        if (!sse_backfill_is_new(b, mid)) {
            atomic_fetch_add(&c->st.live_duplicates, 1);
            continue;
        }
        sse_backfill_published(b, handle_message(c, body, len, mid, 0));
    }
}

/* After a connect, with the live queue bound: fill the ring from the
 * history stream. BF_LOST when the connection failed (reconnect), BF_STOP
 * when stopping; otherwise the consumer goes live (with or without
 * history). */
static int backfill(struct sse_consumer *c, struct rc_amqp *a)
{
    int64_t t0 = rc_mono_ms(), end = -1;
    /* An empty ring is filled with the past: streams opened meanwhile are
     * live and do not get it (they would take it for new events); a ring
     * with a hole gets what its streams missed. */
    c->first_fill = c->last_id == 0;
    struct sse_backfill *b = sse_backfill_new(c->last_id, HOLD_MAX);
    if (b == NULL) {
        rc_error("out of memory starting the history read: going live without it");
        return BF_OK;
    }
    /* On a cluster the first read of a stream on a node can be refused
     * for a moment (406: no replica on the local node yet): try again. */
    int rc = BF_REFUSED;
    for (int attempt = 0; attempt < 4 && rc == BF_REFUSED; attempt++) {
        if (attempt)
            sleep_unless_stopped(c, 250 << attempt);
        if ((rc = bf_probe(c, b, a, &end)) == BF_OK) {
            sse_backfill_set_end(b, end);
            rc = bf_read(c, b, a);
        }
    }
    if (rc == BF_LOST || rc == BF_STOP) {
        /* What the stream gave is in the ring; what was held back is lost
         * with this connection, and the next connect reads from here. */
        sse_backfill_free(b);
        return rc;
    }
    if (rc == BF_REFUSED || rc == BF_GIVE_UP)
        atomic_fetch_add(&c->st.history_refused, 1);
    if (sse_backfill_gap(b))
        mark_gap(c);
    bf_release(c, b);
    struct sse_backfill_counts n;
    sse_backfill_counts(b, &n);
    sse_backfill_free(b);
    int64_t ms = rc_mono_ms() - t0;
    atomic_fetch_add(&c->st.backfills, 1);
    atomic_fetch_add(&c->st.backfilled, n.published);
    atomic_fetch_add(&c->st.backfill_skipped, n.skipped);
    atomic_store(&c->st.backfill_last_ms, ms);
    rc_info("broker: history: %" PRIu64 " events from the stream (%" PRIu64
            " already here), %" PRIu64 " live events held meanwhile, in %" PRId64 " ms",
            n.published, n.skipped, n.held, ms);
    return BF_OK;
}

/* How many reconnects a stream refused for now (e.g. its node restarting)
 * may cost before the consumer goes live without it; and how long a broker
 * without stream support is left alone before it is asked again. */
#define HISTORY_RETRIES        8
#define HISTORY_RETRY_LATER_MS (10 * 60 * 1000)

static void log_refusal(struct sse_consumer *c, const char *why)
{
    if (c->history_refusal_logged)
        return;
    rc_error("broker: the history stream '%s' was refused: %s. Serving live events only (no "
             "backfill, no resume across restarts); this is logged once, and "
             "sse_history_enabled is 0",
             c->cfg->history->name, why);
    c->history_refusal_logged = 1;
}

/* Declare the history stream, if there is one. A refusal (no stream
 * support, or an existing queue with other arguments) leaves the consumer
 * live-only, logged once; -1 only when the connection is lost. */
static int declare_history(struct sse_consumer *c, struct rc_amqp *a, int *ok, char *err,
                           size_t errlen)
{
    const struct rc_stream_spec *h = c->cfg->history;
    *ok = 0;
    if (h == NULL || rc_mono_ms() < c->history_off_until)
        return 0;
    char why[512];
    uint64_t messages = 0;
    int rc = rc_amqp_declare_stream(a, c->cfg->exchange, h, &messages, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (rc == 3) {
        /* No stream support: the broker closed the connection. Connect
         * again without it, and ask again only much later (an upgraded
         * broker, or a feature flag turned on). */
        c->history_off_until = rc_mono_ms() + HISTORY_RETRY_LATER_MS;
        atomic_fetch_add(&c->st.history_refused, 1);
        atomic_store(&c->st.history, 0);
        log_refusal(c, why);
        snprintf(err, errlen, "reconnecting without the history stream");
        return -1;
    }
    if (rc == 2 && ++c->history_retries <= HISTORY_RETRIES) {
        /* The stream's node is restarting (404) or the like: reconnect and
         * declare again, with backoff, rather than go on without it. */
        int n = snprintf(err, errlen,
                         "history stream not available yet (try %d of %d): ", c->history_retries,
                         HISTORY_RETRIES);
        if (n > 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, "%.400s", why);
        return -1;
    }
    c->history_retries = 0;
    if (rc > 0) {
        atomic_fetch_add(&c->st.history_refused, 1);
        atomic_store(&c->st.history, 0);
        log_refusal(c, why);
        return 0;
    }
    atomic_store(&c->st.history, 1);
    c->history_empty = messages == 0;
    *ok = 1;
    return 0;
}

static void *run(void *arg)
{
    struct sse_consumer *c = arg;
    struct rc_backoff bo = {.base_ms = 250, .cap_ms = c->cfg->reconnect_max_ms};
    struct rc_amqp_params p = {.url = c->cfg->amqp_url,
                               .ca_file = c->cfg->amqp_ca,
                               .heartbeat_s = c->cfg->heartbeat_s,
                               .timeout_ms = 5000,
                               .conn_name = "ratecast sse-server"};
    char err[512];
    while (!atomic_load(&c->stop)) {
        struct rc_amqp *a = rc_amqp_connect(&p, err, sizeof err);
        int history = 0;
        if (a && rc_amqp_declare_fanout(a, c->cfg->exchange, err, sizeof err) == 0 &&
            declare_history(c, a, &history, err, sizeof err) == 0 &&
            rc_amqp_consume_private(a, c->cfg->exchange, err, sizeof err) == 0) {
            rc_info("broker: consuming exchange '%s' on %s", c->cfg->exchange, rc_amqp_where(a));
            rc_backoff_reset(&bo);
            atomic_fetch_add(&c->st.connects, 1);
            int bf = history ? backfill(c, a) : BF_OK;
            if (bf == BF_OK) {
                atomic_store(&c->st.connected, 1);
                consume(c, a);
                atomic_store(&c->st.connected, 0);
            }
        } else {
            int64_t delay = rc_backoff_next(&bo);
            atomic_fetch_add(&c->st.connect_failures, 1);
            rc_warn("broker: %s; retrying in %" PRId64 " ms", err, delay);
            sleep_unless_stopped(c, delay);
        }
        rc_amqp_free(a);
    }
    return NULL;
}

struct sse_consumer *sse_consumer_start(const struct sse_consumer_config *cfg, struct sse_hub *hub)
{
    struct sse_consumer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cfg = cfg;
    c->hub = hub;
    rc_ratelimit_init(&c->invalid_log, INVALID_LOG_BURST, INVALID_LOG_WINDOW_MS);
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void sse_consumer_stop(struct sse_consumer *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    free(c);
}

const struct sse_consumer_stats *sse_consumer_stats(const struct sse_consumer *c)
{
    return &c->st;
}
