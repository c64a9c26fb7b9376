/* sse_frame: Server-Sent Events framing. Pure: bytes in, bytes out, no I/O.
 *
 * Frames are built once per message and shared by every subscriber, so
 * these functions return a fresh malloc'd buffer the caller owns (free()).
 */
#ifndef SSE_FRAME_H
#define SSE_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* "id: <id>\n" (when id != 0), "event: <event>\n" (when event != NULL),
 * then one "data: " line per line of data ("\n", "\r\n" and "\r" all end a
 * line, as the EventSource parser reads them), then a blank line.
 * event must not contain line breaks. NULL on allocation failure. */
char *sse_frame_event(uint64_t id, const char *event, const char *data, size_t len,
                      size_t *out_len);

/* ": <text>\n\n", a comment: keeps proxies and the client's socket alive
 * without firing an event. Line breaks in text are replaced by spaces. */
char *sse_frame_comment(const char *text, size_t *out_len);

#endif
