/* sse_stream: one EventSource stream = one hub subscriber.
 *
 * Parses what the client asked for (?pairs=, Last-Event-ID header or
 * ?last_event_id=, ?since=), subscribes to the hub (with a snapshot when
 * enabled and not resuming), writes the greeting (a comment,
 * a jittered retry: and, when a resume cannot be served, a reset event)
 * and builds the libmicrohttpd response whose reader pulls from the hub.
 * Once the greeting is out, the stream is handed to the writers (see
 * writer.h) when there are any. The per-client state lives until
 * libmicrohttpd frees the response.
 */
#ifndef SSE_STREAM_H
#define SSE_STREAM_H

#include <microhttpd.h>

#include "hub.h"
#include "reaper.h"
#include "writer.h"

struct sse_stream_env {
    struct sse_hub *hub;
    struct sse_reaper *reaper;   /* may be NULL */
    struct sse_writers *writers; /* after the greeting, streams are written by these;
                                    NULL: every event through libmicrohttpd (TLS) */
    unsigned retry_ms;           /* base for the jittered retry: field */
    int snapshot;                /* new streams without Last-Event-ID start with the
                                    newest event of each pair (--snapshot) */
};

/* The response for GET /api/v1/sso/stream and its status: 200 with the
 * stream, 400 (bad pairs or since), or 503 (client limit, shutting down). NULL only
 * when out of memory. The caller adds the common headers and queues it. */
struct MHD_Response *sse_stream_open(const struct sse_stream_env *env, struct MHD_Connection *c,
                                     unsigned *status);

/* For the reaper: the client behind ctx hung up. */
void sse_stream_hangup(void *ctx);

/* Parse a ?since= value: a positive duration ("30s", "15m", "2h", as
 * rc_parse_duration reads them) back from now_us, giving the epoch time
 * in us it starts at (at least 1). 0 and *from_us set, or -1 (untouched).
 * Exposed for tests. */
int sse_parse_since(const char *s, int64_t now_us, int64_t *from_us);

#endif
