/* sse_broadcast: POST /api/v1/sso/broadcast, the original service's second
 * way in. A valid tick posted here is published to the fanout exchange, so
 * every replica (this one included) delivers it like any other.
 *
 * Disabled unless a token is configured. A POST is admitted (token, size)
 * before its body is read, the body is received in pieces (an upload),
 * then validated and published. Publishing goes through its own
 * rc_publisher (its own broker connection, opened on first use), guarded by
 * a lock because libmicrohttpd calls in from several worker threads. The
 * HTTP side (what is answered with which status) is the route's
 * (routes.c): nothing here knows libmicrohttpd.
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

/* Whether a POST may send its body, decided on its headers alone: 0, or
 * the status to refuse it with and in *why a line saying why (static
 * text): 404 when b is NULL (disabled), 401 (token), 413 (Content-Length
 * too large; NULL when the body is chunked). */
unsigned sse_broadcast_admit(const struct sse_broadcast *b, const char *authorization,
                             const char *content_length, const char **why);

/* One admitted POST's body, as it arrives in pieces; owned by the request
 * (one thread at a time). */
struct sse_broadcast_upload;
struct sse_broadcast_upload *sse_broadcast_upload_new(void);
/* Accepts NULL. */
void sse_broadcast_upload_free(struct sse_broadcast_upload *u);
/* The next piece. Past SSE_BROADCAST_MAX_BODY (a chunked body has no
 * Content-Length) the rest is counted, not kept. */
void sse_broadcast_upload_add(struct sse_broadcast_upload *u, const char *data, size_t len);
/* The body is complete: publish it. The status as sse_broadcast_publish
 * answers, or 413 when it was too large; the reason in err unless 202. */
unsigned sse_broadcast_upload_publish(struct sse_broadcast *b, const struct sse_broadcast_upload *u,
                                      char *err, size_t errlen);

#endif
