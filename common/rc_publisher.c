#include "rc_publisher.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "rc_log.h"
#include "rc_time.h"

/* Waits are cut into slices so SIGINT/SIGTERM are noticed quickly even
 * though rabbitmq-c retries its poll() after a signal. */
#define WAIT_SLICE_MS 200

struct rc_publisher {
    const struct rc_amqp_params *params;
    const char *exchange;
    struct rc_amqp *amqp;
    struct rc_backoff backoff;
    int64_t next_attempt_ms; /* no reconnect before this */
    int failed_before;       /* log "connected" again only after a failure */
    uint64_t last_id;
};

static uint64_t next_id(uint64_t *last)
{
    uint64_t id = (uint64_t)rc_real_us();
    if (id <= *last)
        id = *last + 1;
    *last = id;
    return id;
}

struct rc_publisher *rc_publisher_new(const struct rc_amqp_params *params, const char *exchange)
{
    struct rc_publisher *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->params = params;
    p->exchange = exchange;
    p->backoff = (struct rc_backoff){.base_ms = 250, .cap_ms = 10000};
    return p;
}

void rc_publisher_free(struct rc_publisher *p)
{
    if (p == NULL)
        return;
    rc_amqp_free(p->amqp);
    free(p);
}

static void drop_connection(struct rc_publisher *p, const char *why)
{
    int64_t delay = rc_backoff_next(&p->backoff);
    rc_warn("broker: %s; retrying in %" PRId64 " ms", why, delay);
    rc_amqp_free(p->amqp);
    p->amqp = NULL;
    p->next_attempt_ms = rc_mono_ms() + delay;
    p->failed_before = 1;
}

/* Connect if we have no connection and the backoff allows it. */
static int ensure_connected(struct rc_publisher *p)
{
    char err[512];
    if (p->amqp)
        return 0;
    if (rc_mono_ms() < p->next_attempt_ms)
        return -1;
    p->amqp = rc_amqp_connect(p->params, err, sizeof err);
    if (p->amqp == NULL || rc_amqp_declare_fanout(p->amqp, p->exchange, err, sizeof err) < 0) {
        drop_connection(p, err);
        return -1;
    }
    rc_backoff_reset(&p->backoff);
    if (p->failed_before)
        rc_info("broker: connected again");
    else
        rc_info("broker: connected, exchange '%s' declared", p->exchange);
    return 0;
}

/* One publish on the current connection; drops it on failure. */
static int publish_once(struct rc_publisher *p, const struct rc_tick *t, const char *id)
{
    char err[512];
    struct rc_amqp_msg m = {.body = t->json,
                            .len = t->json_len,
                            .message_id = id,
                            .timestamp = (uint64_t)(rc_real_us() / 1000000),
                            .type = "exchange_rate"};
    if (rc_amqp_publish(p->amqp, p->exchange, &m, err, sizeof err) < 0) {
        drop_connection(p, err);
        return -1;
    }
    return 0;
}

int rc_publisher_send(struct rc_publisher *p, const struct rc_tick *t)
{
    char idtext[24];
    int had_connection = p->amqp != NULL;
    if (ensure_connected(p) < 0)
        return -1;
    snprintf(idtext, sizeof idtext, "%" PRIu64, next_id(&p->last_id));
    if (publish_once(p, t, idtext) == 0)
        return 0;
    /* A connection that sat idle may have died unnoticed (broker restart):
     * one fresh connection right away, before backing off. */
    if (!had_connection)
        return -1;
    p->next_attempt_ms = 0;
    if (ensure_connected(p) < 0)
        return -1;
    return publish_once(p, t, idtext);
}

void rc_publisher_wait(struct rc_publisher *p, int64_t deadline_ms, volatile sig_atomic_t *stop)
{
    char err[512];
    while (!*stop) {
        int64_t now = rc_mono_ms();
        if (now >= deadline_ms)
            return;
        int64_t until = now + WAIT_SLICE_MS < deadline_ms ? now + WAIT_SLICE_MS : deadline_ms;
        /* A lost connection is noticed here, between ticks, rather than by
         * the next publish. */
        if (p->amqp && rc_amqp_wait(p->amqp, until, err, sizeof err) < 0)
            drop_connection(p, err);
        else if (p->amqp == NULL)
            rc_sleep_until_ms(until);
    }
}
