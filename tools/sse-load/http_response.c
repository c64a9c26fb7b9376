/* sse-load: an HTTP/1.1 response head (status, and the three headers that decide how the
 * body is framed) and the decoding of that body in place (see http_response.h). Pure. */
#include "http_response.h"

#include <string.h>
#include <strings.h>

#include "sse_load.h"

/* Chunked transfer decoding, one byte of framing at a time (data is copied in bulk). */
enum chstate { CH_SIZE0, CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF };

/* Offset just past the empty line ending the head, or 0 if it has not arrived. Bare LF
 * line ends are accepted too (RFC 9112 allows a recipient to). */
size_t http_header_end(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* "text/event-stream", any case, optionally followed by parameters (charset=utf-8). */
static bool media_is_event_stream(const char *v, size_t n)
{
    static const char type[] = "text/event-stream";
    const size_t tlen = sizeof type - 1;
    if (n < tlen || strncasecmp(v, type, tlen) != 0)
        return false;
    return n == tlen || v[tlen] == ';' || v[tlen] == ' ' || v[tlen] == '\t';
}

static bool has_token_ci(const char *v, size_t n, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i + tlen <= n; i++)
        if (strncasecmp(v + i, token, tlen) == 0)
            return true;
    return false;
}

static void response_header(struct http_response *r, const char *name, size_t nlen, const char *v,
                            size_t vlen)
{
    if (name_is(name, nlen, "content-type"))
        r->event_stream = media_is_event_stream(v, vlen);
    else if (name_is(name, nlen, "transfer-encoding"))
        r->chunked = has_token_ci(v, vlen, "chunked");
    else if (name_is(name, nlen, "content-length"))
        r->has_length = sl_parse_u64(v, vlen, &r->length);
}

bool http_response_parse(const char *p, size_t n, struct http_response *r)
{
    memset(r, 0, sizeof *r);
    unsigned status;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !sl_digits(p + 9, 3, &status))
        return false;
    r->status = status;
    const char *end = p + n;
    const char *line = (const char *)memchr(p, '\n', n) + 1; /* http_header_end() found one */
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            break;
        const char *le = (eol > line && eol[-1] == '\r') ? eol - 1 : eol;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon != NULL) {
            const char *v = sl_skip_ws(colon + 1, le);
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            response_header(r, line, (size_t)(colon - line), v, (size_t)(ve - v));
        }
        line = eol + 1;
    }
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void chunk_size_done(struct http_body *c, bool *ended)
{
    if (c->left == 0)
        *ended = true;
    else
        c->chunk = CH_DATA;
}

/* One byte of chunk framing (size line, extension, the CRLF after data). */
static bool chunk_framing(struct http_body *c, unsigned char ch, bool *ended, const char **why)
{
    int v;
    switch (c->chunk) {
    case CH_SIZE0:
    case CH_SIZE:
        if ((v = hexval(ch)) >= 0) {
            if (c->left > (UINT64_MAX >> 4)) {
                *why = "chunk size overflows";
                return false;
            }
            c->left = c->left * 16 + (unsigned)v;
            c->chunk = CH_SIZE;
        } else if (c->chunk == CH_SIZE0) {
            *why = "malformed chunk size";
            return false;
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
            c->chunk = CH_EXT;
        } else if (ch == '\r') {
            c->chunk = CH_SIZE_LF;
        } else if (ch == '\n') {
            chunk_size_done(c, ended);
        } else {
            *why = "malformed chunk size";
            return false;
        }
        return true;
    case CH_EXT:
        if (ch == '\n')
            chunk_size_done(c, ended);
        return true;
    case CH_SIZE_LF:
        if (ch != '\n') {
            *why = "chunk size line not ended by CRLF";
            return false;
        }
        chunk_size_done(c, ended);
        return true;
    case CH_DATA_CR:
        if (ch != '\r' && ch != '\n') {
            *why = "chunk data not followed by CRLF";
            return false;
        }
        c->chunk = ch == '\r' ? CH_DATA_LF : CH_SIZE0;
        return true;
    case CH_DATA_LF:
        if (ch != '\n') {
            *why = "chunk data not followed by CRLF";
            return false;
        }
        c->chunk = CH_SIZE0;
        return true;
    default:
        return true;
    }
}

void http_body_init(struct http_body *b, const struct http_response *r)
{
    memset(b, 0, sizeof *b);
    if (r->chunked) {
        b->framing = HTTP_BODY_CHUNKED;
        b->chunk = CH_SIZE0;
    } else if (r->has_length) {
        b->framing = HTTP_BODY_LENGTH;
        b->left = r->length;
    } else {
        b->framing = HTTP_BODY_UNTIL_CLOSE;
    }
}

bool http_body_decode(struct http_body *c, char *buf, size_t start, size_t n, size_t *end,
                      bool *ended, const char **why)
{
    if (c->framing != HTTP_BODY_CHUNKED) {
        if (c->framing == HTTP_BODY_LENGTH) {
            if (n >= c->left) {
                n = (size_t)c->left;
                *ended = true;
            }
            c->left -= n;
        }
        *end = start + n;
        return true;
    }
    size_t r = start, stop = start + n, w = start;
    while (r < stop && !*ended) {
        if (c->chunk != CH_DATA) {
            if (!chunk_framing(c, (unsigned char)buf[r++], ended, why))
                return false;
            continue;
        }
        size_t k = stop - r;
        if (k > c->left)
            k = (size_t)c->left;
        memmove(buf + w, buf + r, k);
        w += k;
        r += k;
        c->left -= k;
        if (c->left == 0)
            c->chunk = CH_DATA_CR;
    }
    *end = w;
    return true;
}
