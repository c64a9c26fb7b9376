/* sse_respond: how every answer leaves: the CORS headers added, queued on
 * its connection, our reference dropped (the connection holds its own).
 * Called from libmicrohttpd's request handler, on its worker threads.
 */
#ifndef SSE_RESPOND_H
#define SSE_RESPOND_H

#include <microhttpd.h>
#include <stddef.h>

/* Queue r (consumed, may be NULL: out of memory, MHD_NO) with status.
 * cors_origins is --cors-origins. */
enum MHD_Result sse_respond(struct MHD_Connection *c, const char *cors_origins, unsigned status,
                            struct MHD_Response *r);

/* A text body of type, not cached; a 503 says when to come back
 * (Retry-After), a 401 which scheme it wants (WWW-Authenticate). With
 * must_free the body is malloc'd and becomes libmicrohttpd's; otherwise it
 * must outlive the response (a literal). */
enum MHD_Result sse_respond_text(struct MHD_Connection *c, const char *cors_origins,
                                 unsigned status, const char *type, const char *body, size_t len,
                                 int must_free);

/* A plain-text string literal. */
#define SSE_RESPOND_LITERAL(c, cors_origins, status, text)                                         \
    sse_respond_text(c, cors_origins, status, "text/plain; charset=utf-8", text, sizeof text - 1, 0)

/* A line of plain text (a newline is added), copied. */
enum MHD_Result sse_respond_line(struct MHD_Connection *c, const char *cors_origins,
                                 unsigned status, const char *line);

#endif
