/* sse_broadcast: POST /api/v1/sso/broadcast, the original service's second
 * way in. A valid tick posted here is published to the fanout exchange, so
 * every replica (this one included) delivers it like any other.
 *
 * Disabled unless a token is configured. Publishing goes through its own
 * rc_publisher (its own broker connection, opened on first use), guarded by
 * a lock because libmicrohttpd calls in from several worker threads.
 */
#ifndef SSE_BROADCAST_H
#define SSE_BROADCAST_H

#include <stddef.h>

#include "rc_amqp.h"

#define SSE_BROADCAST_MAX_BODY (16 * 1024)

struct sse_broadcast;

/* token: the bearer token (copied); params and exchange are borrowed. */
struct sse_broadcast *sse_broadcast_new(const char *token, const struct rc_amqp_params *params,
                                        const char *exchange);
void sse_broadcast_free(struct sse_broadcast *b);

/* 1 if the Authorization header value is "Bearer <token>", compared in
 * constant time; 0 otherwise (including NULL). */
int sse_broadcast_authorized(const struct sse_broadcast *b, const char *authorization);

/* Validate and publish a body. Returns the HTTP status to answer: 202
 * (published), 400 (not a valid tick; reason in err) or 503 (broker
 * unavailable). */
unsigned sse_broadcast_publish(struct sse_broadcast *b, const char *body, size_t len, char *err,
                               size_t errlen);

#endif
