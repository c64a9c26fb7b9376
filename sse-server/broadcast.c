/* sse_broadcast: POST /api/v1/sso/broadcast: admit, receive, publish (see
 * broadcast.h). */
#include "broadcast.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rc_log.h"
#include "rc_publisher.h"
#include "rc_tick.h"
#include "rc_time.h"

/* How long a POST may wait for the broker's confirm. */
#define BROADCAST_WAIT_MS 5000

struct sse_broadcast_upload {
    char buf[SSE_BROADCAST_MAX_BODY];
    size_t len;
    int too_large;
};

struct sse_broadcast {
    char *token;
    size_t token_len;
    pthread_mutex_t lock; /* one publisher, many HTTP threads */
    struct rc_publisher *pub;
};

struct sse_broadcast *sse_broadcast_new(const char *token, const struct rc_amqp_params *params,
                                        const char *exchange)
{
    /* One tick at a time, answered only once the broker confirmed it.
     * Every replica's own queue is bound, so NO_ROUTE means no replica at
     * all: give up quickly. */
    struct rc_publisher_params pp = {.amqp = params,
                                     .exchange = exchange,
                                     .buffer = 1,
                                     .route_grace_ms = 0,
                                     .confirm_timeout_ms = 3000};
    struct sse_broadcast *b = calloc(1, sizeof *b);
    if (b == NULL || (b->token = strdup(token)) == NULL ||
        (b->pub = rc_publisher_new(&pp)) == NULL) {
        sse_broadcast_free(b);
        return NULL;
    }
    b->token_len = strlen(token);
    pthread_mutex_init(&b->lock, NULL);
    return b;
}

void sse_broadcast_free(struct sse_broadcast *b)
{
    if (b == NULL)
        return;
    rc_publisher_free(b->pub);
    if (b->token) {
        explicit_bzero(b->token, b->token_len);
        free(b->token);
        pthread_mutex_destroy(&b->lock);
    }
    free(b);
}

int sse_broadcast_authorized(const struct sse_broadcast *b, const char *authorization)
{
    /* RFC 9110: the scheme is case-insensitive, followed by one or more
     * spaces. */
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t len = strlen(given);
    /* Constant time in the token's content: every byte is compared, so the
     * answer's timing does not tell how much of a guess was right. */
    unsigned char diff = len != b->token_len;
    for (size_t i = 0; i < b->token_len; i++)
        diff |= (unsigned char)(b->token[i] ^ (i < len ? given[i] : 0));
    return diff == 0;
}

unsigned sse_broadcast_publish(struct sse_broadcast *b, const char *body, size_t len, char *err,
                               size_t errlen)
{
    struct rc_tick t;
    if (rc_tick_parse(&t, body, len, err, errlen) < 0)
        return 400;
    pthread_mutex_lock(&b->lock);
    struct rc_publisher_stats before, after;
    rc_publisher_get_stats(b->pub, &before);
    int rc = rc_publisher_enqueue(b->pub, &t, NULL);
    if (rc == 0)
        rc_publisher_run(b->pub, rc_mono_ms() + BROADCAST_WAIT_MS, 1, NULL);
    rc_publisher_get_stats(b->pub, &after);
    rc_publisher_discard(b->pub); /* not confirmed in time: the client is told */
    pthread_mutex_unlock(&b->lock);
    rc_tick_clear(&t);
    if (rc < 0 || after.confirmed == before.confirmed) {
        snprintf(err, errlen, "broker unavailable or no replica bound: not published");
        return 503;
    }
    return 202;
}

unsigned sse_broadcast_admit(const struct sse_broadcast *b, const char *authorization,
                             const char *content_length, const char **why)
{
    if (b == NULL) {
        *why = "not found (broadcast is disabled)";
        return 404;
    }
    if (!sse_broadcast_authorized(b, authorization)) {
        *why = "missing or wrong bearer token";
        return 401;
    }
    if (content_length && strtoull(content_length, NULL, 10) > SSE_BROADCAST_MAX_BODY) {
        *why = "body too large";
        return 413;
    }
    return 0;
}

struct sse_broadcast_upload *sse_broadcast_upload_new(void)
{
    return calloc(1, sizeof(struct sse_broadcast_upload));
}

void sse_broadcast_upload_free(struct sse_broadcast_upload *u)
{
    free(u);
}

void sse_broadcast_upload_add(struct sse_broadcast_upload *u, const char *data, size_t len)
{
    if (u->len + len > sizeof u->buf)
        u->too_large = 1;
    else
        memcpy(u->buf + u->len, data, len);
    u->len += len;
}

unsigned sse_broadcast_upload_publish(struct sse_broadcast *b, const struct sse_broadcast_upload *u,
                                      char *err, size_t errlen)
{
    if (u->too_large) {
        snprintf(err, errlen, "body too large");
        return 413;
    }
    return sse_broadcast_publish(b, u->buf, u->len, err, errlen);
}
