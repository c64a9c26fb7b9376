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
 *   - reading the frame with the project's reference EventSource decoder
 *     (tools/sse-load/es_decode.h, the WHATWG algorithm) dispatches
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

#include "es_decode.h"
#include "frame.h"

#include "fuzz_buf.h"
#include "fuzz_check.h"

/* What the reference decoder (tools/sse-load/es_decode.h, the WHATWG stream
 * interpretation) makes of one frame. */
struct parsed {
    int dispatched; /* events fired */
    int comment_lines;
    size_t trailing;    /* bytes after the last line break (an unfinished line) */
    struct buf data;    /* data of the last dispatched event */
    struct buf event;   /* its type */
    struct buf id;      /* its last event id */
    int have_id;        /* set by an id field of its own */
    struct buf comment; /* text of the last comment line, after ": " */
};

static void parsed_free(struct parsed *p)
{
    free(p->data.p);
    free(p->event.p);
    free(p->id.p);
    free(p->comment.p);
}

static void on_event(void *ctx, const struct es_event *ev)
{
    struct parsed *p = ctx;
    CHECK(!ev->truncated);
    p->dispatched++;
    p->data.len = p->event.len = p->id.len = 0;
    buf_add(&p->data, ev->data, ev->data_len);
    buf_add(&p->event, ev->type, strlen(ev->type));
    buf_add(&p->id, ev->id, ev->id_len);
    p->have_id = ev->id_field;
}

static void on_comment(void *ctx, const char *text, size_t len)
{
    struct parsed *p = ctx;
    p->comment_lines++;
    p->comment.len = 0;
    buf_add(&p->comment, "", 0);
    if (len >= 1)
        buf_add(&p->comment, text + 1, len - 1); /* after the space of ": " */
}

static const struct es_sink SINK = {.event = on_event, .comment = on_comment};

static void es_parse(const char *s, size_t len, struct parsed *out)
{
    memset(out, 0, sizeof *out);
    struct es_decoder d;
    es_decoder_init(&d, &SINK, out, SIZE_MAX);
    char *line = malloc(len + 1); /* room for the whole frame: no line is cut */
    CHECK(line != NULL);
    es_decode_bytes(&d, line, &out->trailing, len + 1, s, len);
    free(line);
    es_decoder_free(&d);
}

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* The frame's lines as the frame module writes them: every line but the final blank one
 * starts with one of the given prefixes; returns the number of blank lines. */
static int check_lines(const char *f, size_t n, const char *const *prefixes)
{
    int blank = 0;
    for (size_t start = 0; start < n;) {
        const char *eol = memchr(f + start, '\n', n - start);
        CHECK(eol != NULL);
        size_t len = (size_t)(eol - (f + start));
        if (len > 0 && f[start + len - 1] == '\r')
            len--;
        if (len == 0) {
            blank++;
        } else {
            int ok = 0;
            for (const char *const *p = prefixes; *p != NULL; p++)
                ok |= starts(f + start, len, *p);
            CHECK(ok);
        }
        start = (size_t)(eol - f) + 1;
    }
    return blank;
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

    static const char *const event_lines[] = {"id: ", "event: ", "data: ", NULL};
    CHECK(check_lines(f, flen, event_lines) == 1); /* only the terminating blank line */
    struct parsed p;
    es_parse(f, flen, &p);
    CHECK(p.trailing == 0);
    CHECK(p.comment_lines == 0);
    CHECK(p.dispatched == 1);

    struct buf want = {0};
    normalise(data, len, &want);
    CHECK(p.data.len == want.len);
    CHECK(memcmp(p.data.p, want.p, want.len) == 0);
    free(want.p);

    const char *type = event != NULL && event[0] != '\0' ? event : "message";
    CHECK(p.event.len == strlen(type) && memcmp(p.event.p, type, p.event.len) == 0);
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

    static const char *const comment_lines[] = {": ", NULL};
    CHECK(check_lines(f, flen, comment_lines) == 1);
    struct parsed p;
    es_parse(f, flen, &p);
    CHECK(p.trailing == 0);
    CHECK(p.comment_lines == 1);
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
