/* rc_publisher: the reliable tick publisher (see rc_publisher.h). */
#include "rc_publisher.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_log.h"
#include "rc_ratelimit.h"
#include "rc_time.h"

/* Waits are cut into slices so a stop flag set by a signal is noticed
 * quickly even though rabbitmq-c retries its poll() after EINTR. */
#define SLICE_MS 200
/* How soon an unroutable tick is offered again. */
#define ROUTE_RETRY_MS 1000
/* A long outage drops a tick per tick: say so once a minute, with the
 * running total. */
#define OVERFLOW_LOG_WINDOW_MS 60000

struct entry {
    char *json;
    size_t len;
    uint64_t id;
    int64_t queued_ms;
    int64_t retry_at_ms; /* not before this (after a return) */
};

struct rc_publisher {
    struct rc_publisher_params prm;
    struct rc_amqp *amqp;
    struct rc_backoff backoff;
    int64_t next_attempt_ms;          /* no reconnect before this */
    int failed_before;                /* log "connected" again only after a failure */
    int unrouted_logged;              /* a NO_ROUTE period is logged once */
    int history_logged;               /* a refused history stream is logged once */
    struct rc_ratelimit overflow_log; /* lines about dropped ticks */
    int64_t history_off_until;        /* no stream support: not asked again before this */
    uint64_t last_id;
    struct entry *q; /* ring of prm.buffer entries */
    size_t head, count;
    struct rc_publisher_stats st;
};

struct rc_publisher *rc_publisher_new(const struct rc_publisher_params *prm)
{
    struct rc_publisher *p = calloc(1, sizeof *p);
    if (p == NULL || prm->buffer == 0 || (p->q = calloc(prm->buffer, sizeof *p->q)) == NULL) {
        free(p);
        return NULL;
    }
    p->prm = *prm;
    p->backoff = (struct rc_backoff){.base_ms = 250, .cap_ms = 10000};
    rc_ratelimit_init(&p->overflow_log, 1, OVERFLOW_LOG_WINDOW_MS);
    return p;
}

void rc_publisher_discard(struct rc_publisher *p)
{
    for (; p->count > 0; p->count--, p->head = (p->head + 1) % p->prm.buffer)
        free(p->q[p->head].json);
    p->st.pending = 0;
}

void rc_publisher_free(struct rc_publisher *p)
{
    if (p == NULL)
        return;
    rc_publisher_discard(p);
    rc_amqp_free(p->amqp);
    free(p->q);
    free(p);
}

static void pop_head(struct rc_publisher *p)
{
    free(p->q[p->head].json);
    p->head = (p->head + 1) % p->prm.buffer;
    p->count--;
    p->st.pending = p->count;
}

int rc_publisher_enqueue(struct rc_publisher *p, const struct rc_tick *t, uint64_t *id)
{
    char *json = malloc(t->json_len + 1);
    if (json == NULL)
        return -1;
    memcpy(json, t->json, t->json_len + 1);
    if (p->count == p->prm.buffer) {
        /* Full (a long broker outage): the oldest tick is the least useful. */
        pop_head(p);
        p->st.dropped_overflow++;
        uint64_t quiet; /* the running total says it */
        if (rc_ratelimit_allow(&p->overflow_log, rc_mono_ms(), &quiet))
            rc_warn("broker: queue full (%zu ticks): dropping the oldest (%" PRIu64 " so far)",
                    p->prm.buffer, p->st.dropped_overflow);
    }
    uint64_t now_us = (uint64_t)rc_real_us();
    p->last_id = now_us > p->last_id ? now_us : p->last_id + 1;
    struct entry *e = &p->q[(p->head + p->count) % p->prm.buffer];
    *e = (struct entry){
        .json = json, .len = t->json_len, .id = p->last_id, .queued_ms = rc_mono_ms()};
    p->count++;
    p->st.queued++;
    p->st.pending = p->count;
    if (p->count > p->st.max_pending)
        p->st.max_pending = p->count;
    if (id)
        *id = e->id;
    return 0;
}

static void drop_connection(struct rc_publisher *p, const char *why)
{
    int64_t delay = rc_backoff_next(&p->backoff);
    rc_warn("broker: %s; retrying in %" PRId64 " ms (%zu ticks queued)", why, delay, p->count);
    rc_amqp_free(p->amqp);
    p->amqp = NULL;
    p->next_attempt_ms = rc_mono_ms() + delay;
    p->failed_before = 1;
}

/* -1 only when the connection is lost. */
static int declare_history(struct rc_publisher *p, char *err, size_t errlen)
{
    p->st.history = 0;
    if (p->prm.history == NULL || rc_mono_ms() < p->history_off_until)
        return 0;
    char why[512];
    int rc =
        rc_amqp_declare_stream(p->amqp, p->prm.exchange, p->prm.history, NULL, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (rc == 3) /* no stream support, and the connection closed: without it from now on */
        p->history_off_until = rc_mono_ms() + 10 * 60 * 1000;
    if (rc > 0) {
        p->st.history_refused++;
        if (!p->history_logged)
            rc_error("broker: the history stream '%s' was refused: %s. Publishing goes on "
                     "without it (this is logged once)",
                     p->prm.history->name, why);
        p->history_logged = 1;
        if (rc == 3) {
            snprintf(err, errlen, "reconnecting without the history stream");
            return -1;
        }
        return 0;
    }
    p->st.history = 1;
    return 0;
}

/* Connect if we have no connection and the backoff allows it. */
static int ensure_connected(struct rc_publisher *p)
{
    char err[512];
    if (p->amqp)
        return 0;
    if (rc_mono_ms() < p->next_attempt_ms)
        return -1;
    p->amqp = rc_amqp_connect(p->prm.amqp, err, sizeof err);
    if (p->amqp == NULL || rc_amqp_declare_fanout(p->amqp, p->prm.exchange, err, sizeof err) < 0 ||
        declare_history(p, err, sizeof err) < 0 ||
        rc_amqp_confirm_select(p->amqp, err, sizeof err) < 0) {
        drop_connection(p, err);
        return -1;
    }
    rc_backoff_reset(&p->backoff);
    if (p->failed_before) {
        p->st.reconnects++;
        rc_info("broker: connected again; %zu ticks queued", p->count);
    } else {
        rc_info("broker: connected, exchange '%s' declared", p->prm.exchange);
    }
    return 0;
}

/* The head was returned unroutable: keep it for a while, then give up. */
static void on_returned(struct rc_publisher *p, int64_t now)
{
    struct entry *e = &p->q[p->head];
    p->st.returned++;
    if (!p->unrouted_logged) {
        rc_warn("broker: no queue is bound to '%s' (no sse-server running?): holding ticks "
                "up to %" PRId64 " ms each; this is logged once",
                p->prm.exchange, p->prm.route_grace_ms);
        p->unrouted_logged = 1;
    }
    if (now - e->queued_ms >= p->prm.route_grace_ms) {
        pop_head(p);
        p->st.dropped_unrouted++;
    } else {
        e->retry_at_ms = now + ROUTE_RETRY_MS;
    }
}

/* Publish the head and wait for the broker's verdict. -1 if the
 * connection failed (the head stays queued). */
static int deliver_head(struct rc_publisher *p)
{
    char err[512], idtext[24];
    struct entry *e = &p->q[p->head];
    snprintf(idtext, sizeof idtext, "%" PRIu64, e->id);
    struct rc_amqp_msg m = {.body = e->json,
                            .len = e->len,
                            .message_id = idtext,
                            .timestamp = e->id / 1000000,
                            .type = "exchange_rate"};
    enum rc_confirm verdict;
    if (rc_amqp_publish(p->amqp, p->prm.exchange, &m, 1, err, sizeof err) < 0 ||
        rc_amqp_await(p->amqp, rc_mono_ms() + p->prm.confirm_timeout_ms, &verdict, err,
                      sizeof err) < 0) {
        drop_connection(p, err);
        return -1;
    }
    switch (verdict) {
    case RC_CONFIRM_ACK:
        if (p->unrouted_logged) {
            rc_info("broker: ticks are routed again");
            p->unrouted_logged = 0;
        }
        pop_head(p);
        p->st.confirmed++;
        break;
    case RC_CONFIRM_NACK:
        p->st.nacked++; /* the broker could not take it: the next round retries */
        break;
    case RC_CONFIRM_RETURNED:
        on_returned(p, rc_mono_ms());
        break;
    }
    return 0;
}

/* Wait until `until` doing only housekeeping: heartbeats on a live
 * connection, a plain sleep without one. */
static void idle(struct rc_publisher *p, int64_t until)
{
    char err[512];
    if (p->amqp && rc_amqp_wait(p->amqp, until, err, sizeof err) < 0)
        drop_connection(p, err);
    else if (p->amqp == NULL)
        rc_sleep_until_ms(until);
}

void rc_publisher_run(struct rc_publisher *p, int64_t deadline_ms, int until_empty,
                      volatile sig_atomic_t *stop)
{
    for (;;) {
        int64_t now = rc_mono_ms();
        if (now >= deadline_ms || (stop && *stop) || (until_empty && p->count == 0))
            return;
        int64_t until = now + SLICE_MS < deadline_ms ? now + SLICE_MS : deadline_ms;
        if (p->count == 0 || ensure_connected(p) < 0) {
            if (p->amqp == NULL && p->next_attempt_ms < until && p->next_attempt_ms > now)
                until = p->next_attempt_ms;
            idle(p, until);
            continue;
        }
        if (p->q[p->head].retry_at_ms > now) {
            idle(p, p->q[p->head].retry_at_ms < until ? p->q[p->head].retry_at_ms : until);
            continue;
        }
        deliver_head(p);
    }
}

void rc_publisher_get_stats(const struct rc_publisher *p, struct rc_publisher_stats *out)
{
    *out = p->st;
    out->connected = p->amqp != NULL;
}
