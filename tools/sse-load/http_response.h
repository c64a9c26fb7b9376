/* http_response: what sse-load needs of an HTTP/1.1 response: its head (the status, whether
 * it is an event stream, how its body is framed) and the body's framing removed in place.
 * Pure: no I/O. */
#ifndef HTTP_RESPONSE_H
#define HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_response {
    unsigned status;
    bool event_stream, chunked, has_length;
    uint64_t length;
};

/* Offset just past the empty line ending the head in b[0..n), or 0 if it has not arrived.
 * Bare LF line ends are accepted too (RFC 9112 allows a recipient to). */
size_t http_header_end(const char *b, size_t n);

/* Parses a head http_header_end() found complete: false if the status line is malformed. */
bool http_response_parse(const char *p, size_t n, struct http_response *r);

enum http_body_framing { HTTP_BODY_UNTIL_CLOSE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

/* Where the decoding of one body stands. */
struct http_body {
    uint8_t framing; /* enum http_body_framing */
    uint8_t chunk;   /* chunked: the framing state (private) */
    uint64_t left;   /* chunk bytes left, or the size being read; or Content-Length left */
};

void http_body_init(struct http_body *b, const struct http_response *r);

/* Decodes the n raw body bytes at buf[start..] in place (output never outruns input) and
 * sets *end to the end of the decoded bytes; *ended: the body is complete (the bytes after
 * its end are dropped). false, with *why, when the chunked framing is broken. */
bool http_body_decode(struct http_body *b, char *buf, size_t start, size_t n, size_t *end,
                      bool *ended, const char **why);

#endif
