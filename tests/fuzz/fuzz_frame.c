/* libFuzzer target for sse_frame_event() and sse_frame_comment()
 * (sse-server/frame.h).
 *
 * Input layout (whatever is missing counts as zero/empty):
 *   byte 0      flags: bit 0 = give an id, bit 1 = give an event name
 *   8 bytes     the id, little endian (only with bit 0; 0 means "no id")
 *   1 byte      event name length, mod 48 (only with bit 1), then that many
 *               bytes of name; '\r', '\n' and NUL are replaced by '_'
 *               because the header forbids line breaks in event names
 *   the rest    the data (any bytes, NULs included); also the comment
 *               text, up to its first NUL
 *
 * Invariants (a violation is __builtin_trap()):
 *   - the frame ends with "\n\n" and holds no bare '\r';
 *   - every line but the final blank one starts with "id: ", "event: " or
 *     "data: " (events) or ": " (comments); no other blank line;
 *   - reading the frame with the WHATWG EventSource algorithm dispatches
 *     exactly one event whose data is the input with "\r\n" and "\r"
 *     normalised to "\n", whose type is the event name (or the default),
 *     and whose last-event-id is the decimal id (when id != 0);
 *   - a comment frame dispatches nothing and carries the text with line
 *     breaks turned into spaces.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#include "fuzz_check.h"

/* A growable byte buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        CHECK(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* What a WHATWG EventSource parser makes of one frame. */
struct parsed {
    int dispatched; /* events fired (data buffer non-empty at a blank line) */
    int blank_lines;
    int comment_lines;
    int bad_lines;    /* lines with a prefix the frame module never writes */
    int trailing;     /* bytes after the last line break (incomplete line) */
    struct buf data;  /* data of the last dispatched event */
    struct buf event; /* its type ("" = "message") */
    struct buf id;    /* last event id */
    int have_id;
    struct buf comment; /* text of the last comment line, after ": " */
};

static void parsed_free(struct parsed *p)
{
    free(p->data.p);
    free(p->event.p);
    free(p->id.p);
    free(p->comment.p);
}

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * (bytes, not decoded text: the frame module works on bytes). */
static void whatwg_parse(const char *s, size_t len, int comment_frame, struct parsed *out)
{
    struct buf data = {0}, event = {0};
    memset(out, 0, sizeof *out);
    buf_add(&out->data, "", 0);
    buf_add(&out->event, "", 0);
    buf_add(&out->id, "", 0);
    buf_add(&out->comment, "", 0);
    buf_add(&data, "", 0);
    buf_add(&event, "", 0);

    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != '\n' && s[i] != '\r')
            i++;
        if (i == len) {
            out->trailing = (int)(len - start);
            break;
        }
        const char *line = s + start;
        size_t n = i - start;
        if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
            i++;
        i++;

        if (n == 0) {
            out->blank_lines++;
            /* Dispatch. */
            if (data.len == 0) {
                event.len = 0;
                event.p[0] = '\0';
                continue;
            }
            data.len--; /* remove the trailing LF */
            data.p[data.len] = '\0';
            out->dispatched++;
            out->data.len = 0;
            buf_add(&out->data, data.p, data.len);
            out->event.len = 0;
            buf_add(&out->event, event.p, event.len);
            data.len = 0;
            data.p[0] = '\0';
            event.len = 0;
            event.p[0] = '\0';
            continue;
        }
        if (comment_frame ? !starts(line, n, ": ")
                          : !(starts(line, n, "id: ") || starts(line, n, "event: ") ||
                              starts(line, n, "data: ")))
            out->bad_lines++;
        if (line[0] == ':') {
            out->comment_lines++;
            out->comment.len = 0;
            if (n >= 2)
                buf_add(&out->comment, line + 2, n - 2);
            continue;
        }
        const char *colon = memchr(line, ':', n);
        size_t flen = colon ? (size_t)(colon - line) : n;
        const char *val = colon ? colon + 1 : line + n;
        size_t vlen = colon ? n - flen - 1 : 0;
        if (vlen > 0 && val[0] == ' ')
            val++, vlen--;
        if (flen == 5 && memcmp(line, "event", 5) == 0) {
            event.len = 0;
            buf_add(&event, val, vlen);
        } else if (flen == 4 && memcmp(line, "data", 4) == 0) {
            buf_add(&data, val, vlen);
            buf_add(&data, "\n", 1);
        } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
            if (memchr(val, '\0', vlen) == NULL) {
                out->id.len = 0;
                buf_add(&out->id, val, vlen);
                out->have_id = 1;
            }
        }
        /* retry and unknown fields: ignored */
    }
    free(data.p);
    free(event.p);
}

static void check_frame_shape(const char *f, size_t n)
{
    CHECK(n >= 2 && f[n - 2] == '\n' && f[n - 1] == '\n');
    for (size_t i = 0; i < n; i++)
        CHECK(f[i] != '\r' || (i + 1 < n && f[i + 1] == '\n'));
}

/* The data as the browser must see it: "\r\n" and "\r" become "\n". */
static void normalise(const char *d, size_t n, struct buf *out)
{
    out->p = malloc(n + 1);
    CHECK(out->p != NULL);
    out->cap = n + 1;
    out->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\r') {
            if (i + 1 < n && d[i + 1] == '\n')
                i++;
            out->p[out->len++] = '\n';
        } else {
            out->p[out->len++] = d[i];
        }
    }
    out->p[out->len] = '\0';
}

static void fuzz_event(uint64_t id, const char *event, const char *data, size_t len)
{
    size_t flen = (size_t)-1;
    char *f = sse_frame_event(id, event, data, len, &flen);
    CHECK(f != NULL);
    check_frame_shape(f, flen);

    struct parsed p;
    whatwg_parse(f, flen, 0, &p);
    CHECK(p.trailing == 0);
    CHECK(p.bad_lines == 0);
    CHECK(p.comment_lines == 0);
    CHECK(p.blank_lines == 1); /* only the terminating one */
    CHECK(p.dispatched == 1);

    struct buf want = {0};
    normalise(data, len, &want);
    CHECK(p.data.len == want.len);
    CHECK(memcmp(p.data.p, want.p, want.len) == 0);
    free(want.p);

    if (event) {
        CHECK(p.event.len == strlen(event) && memcmp(p.event.p, event, p.event.len) == 0);
    } else {
        CHECK(p.event.len == 0);
    }
    if (id) {
        char idtxt[32];
        int k = snprintf(idtxt, sizeof idtxt, "%" PRIu64, id);
        CHECK(p.have_id && p.id.len == (size_t)k && memcmp(p.id.p, idtxt, (size_t)k) == 0);
        CHECK(starts(f, flen, "id: "));
    } else {
        CHECK(!p.have_id);
    }
    parsed_free(&p);
    free(f);
}

static void fuzz_comment(const char *text)
{
    size_t flen = (size_t)-1;
    char *f = sse_frame_comment(text, &flen);
    CHECK(f != NULL);
    check_frame_shape(f, flen);
    size_t tlen = strlen(text);
    CHECK(flen == tlen + 4);

    struct parsed p;
    whatwg_parse(f, flen, 1, &p);
    CHECK(p.trailing == 0);
    CHECK(p.bad_lines == 0);
    CHECK(p.comment_lines == 1);
    CHECK(p.blank_lines == 1);
    CHECK(p.dispatched == 0);
    CHECK(p.comment.len == tlen);
    for (size_t i = 0; i < tlen; i++) {
        char want = (text[i] == '\r' || text[i] == '\n') ? ' ' : text[i];
        CHECK(p.comment.p[i] == want);
    }
    parsed_free(&p);
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    size_t i = 0;
    uint8_t flags = size > 0 ? in[i++] : 0;

    uint64_t id = 0;
    if (flags & 1) {
        for (int k = 0; k < 8 && i < size; k++)
            id |= (uint64_t)in[i++] << (8 * k);
    }

    char event[64];
    const char *ev = NULL;
    if (flags & 2) {
        size_t elen = i < size ? in[i++] % 48 : 0;
        if (elen > size - i)
            elen = size - i;
        for (size_t k = 0; k < elen; k++) {
            char c = (char)in[i + k];
            event[k] = (c == '\r' || c == '\n' || c == '\0') ? '_' : c;
        }
        event[elen] = '\0';
        i += elen;
        ev = event;
    }

    /* An exact-size heap copy, so ASan sees any read past the data. */
    size_t dlen = size - i;
    char *data = malloc(dlen ? dlen : 1);
    CHECK(data != NULL);
    if (dlen)
        memcpy(data, in + i, dlen);
    fuzz_event(id, ev, data, dlen);

    char *text = malloc(dlen + 1);
    CHECK(text != NULL);
    if (dlen)
        memcpy(text, in + i, dlen);
    text[dlen] = '\0';
    fuzz_comment(text);

    free(text);
    free(data);
    return 0;
}
