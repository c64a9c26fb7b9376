#include "consumer.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "frame.h"
#include "rc_amqp.h"
#include "rc_log.h"
#include "rc_tick.h"
#include "rc_time.h"

/* How long one consume call may block: bounds how late a stop is seen. */
#define POLL_MS 250

struct sse_consumer {
    const struct sse_consumer_config *cfg;
    struct sse_hub *hub;
    pthread_t thread;
    atomic_int stop;
    uint64_t last_id;
    struct sse_consumer_stats st;
};

uint64_t sse_consumer_pick_id(const char *message_id, uint64_t last)
{
    if (message_id && *message_id >= '0' && *message_id <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(message_id, &end, 10);
        /* Ids past 2^63 are refused: one hostile message_id near 2^64 would
         * otherwise use up the id space for good. */
        if (errno == 0 && *end == '\0' && v > last && v < SSE_ID_MAX)
            return v;
    }
    /* Saturate rather than wrap: ids never go backwards. */
    return last < UINT64_MAX ? last + 1 : last;
}

static void handle_message(struct sse_consumer *c, const struct rc_amqp_delivery *d)
{
    struct rc_tick t;
    char err[256];
    atomic_fetch_add(&c->st.received, 1);
    if (rc_tick_parse(&t, d->body, d->len, err, sizeof err) < 0) {
        uint64_t n = atomic_fetch_add(&c->st.invalid, 1) + 1;
        /* A flood of garbage must not flood the log: the counter has it all. */
        if (n <= 10 || n % 1000 == 0)
            rc_warn("broker: invalid message dropped (%zu bytes, #%" PRIu64 "): %s", d->len, n,
                    err);
        return;
    }
    struct sse_event_meta m = {.id = sse_consumer_pick_id(d->message_id, c->last_id),
                               .time_us = rc_tick_time_us(&t)};
    /* Filters compare upper case, as rc_pairs_parse() produces. */
    for (size_t i = 0; t.base[i]; i++)
        m.base[i] = (char)toupper((unsigned char)t.base[i]);
    for (size_t i = 0; t.quote[i]; i++)
        m.quote[i] = (char)toupper((unsigned char)t.quote[i]);
    size_t len;
    char *frame = sse_frame_event(m.id, NULL, t.json, t.json_len, &len);
    rc_tick_clear(&t);
    if (frame == NULL) {
        rc_error("out of memory framing a message: dropped");
        return;
    }
    c->last_id = m.id;
    sse_hub_publish(c->hub, frame, len, &m);
}

/* Consume until the connection fails or we are told to stop. */
static void consume(struct sse_consumer *c, struct rc_amqp *a)
{
    char err[512];
    struct rc_amqp_delivery d;
    while (!atomic_load(&c->stop)) {
        int rc = rc_amqp_next(a, POLL_MS, &d, err, sizeof err);
        if (rc < 0) {
            rc_warn("broker: %s", err);
            return;
        }
        if (rc == 1) {
            handle_message(c, &d);
            rc_amqp_delivery_clear(&d);
        }
    }
}

static void sleep_unless_stopped(struct sse_consumer *c, int64_t ms)
{
    int64_t end = rc_mono_ms() + ms;
    while (!atomic_load(&c->stop) && rc_mono_ms() < end) {
        int64_t step = rc_mono_ms() + POLL_MS;
        rc_sleep_until_ms(step < end ? step : end);
    }
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
        if (a && rc_amqp_declare_fanout(a, c->cfg->exchange, err, sizeof err) == 0 &&
            rc_amqp_consume_private(a, c->cfg->exchange, err, sizeof err) == 0) {
            rc_info("broker: consuming exchange '%s'", c->cfg->exchange);
            rc_backoff_reset(&bo);
            atomic_fetch_add(&c->st.connects, 1);
            atomic_store(&c->st.connected, 1);
            consume(c, a);
            atomic_store(&c->st.connected, 0);
        } else {
            int64_t delay = rc_backoff_next(&bo);
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
