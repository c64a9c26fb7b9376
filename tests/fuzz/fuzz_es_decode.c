/* libFuzzer target for the reference EventSource decoder (tools/sse-load/es_decode.h).
 *
 * Input layout: byte 0 seeds the split (see below); the rest is the stream, any bytes.
 *
 * Invariants (a violation is __builtin_trap()):
 *   - the same stream decodes to the same events, comments and retries whether it is fed
 *     whole or in pieces of 1 to 16 bytes (sizes from a generator seeded by byte 0): where
 *     reads happen to split a stream never changes what a client sees;
 *   - with a line buffer of 16 bytes and 8 bytes of data kept (a client with little memory),
 *     decoding never reads or writes out of bounds and never keeps more than it may: every
 *     event's kept data fits, and an event whose data was cut says so;
 *   - an event's data never holds CR (line breaks end lines; only LF joins data lines), its
 *     type and id never hold CR or LF, its id never NUL; at least as many blank lines as
 *     events were read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es_decode.h"

#include "fuzz_buf.h"
#include "fuzz_check.h"

/* Everything reported, serialised with lengths, to compare two decodings byte for byte. */
struct log {
    struct buf b;
    size_t data_max; /* the decoder's */
    int events;
};

static void log_field(struct log *l, char tag, const char *s, size_t n)
{
    buf_add(&l->b, &tag, 1);
    buf_add(&l->b, &n, sizeof n);
    buf_add(&l->b, s, n);
}

static void on_event(void *ctx, const struct es_event *ev)
{
    struct log *l = ctx;
    l->events++;
    size_t kept = ev->data_kept;
    CHECK(ev->data != NULL || (l->data_max == 0 && kept == 0));
    CHECK(kept <= ev->data_len && kept <= l->data_max);
    CHECK(kept == ev->data_len || ev->truncated || l->data_max == 0);
    if (ev->data != NULL)
        CHECK(ev->data[kept] == '\0' && memchr(ev->data, '\r', kept) == NULL);
    size_t tlen = strlen(ev->type);
    CHECK(tlen <= ES_TYPE_MAX && ev->id_len <= ES_ID_MAX && strlen(ev->id) == ev->id_len);
    CHECK(strpbrk(ev->type, "\r\n") == NULL && strpbrk(ev->id, "\r\n") == NULL);
    log_field(l, 'e', ev->type, tlen);
    log_field(l, 'i', ev->id, ev->id_len);
    log_field(l, ev->id_field ? 'f' : 'c', "", 0);
    log_field(l, 'd', ev->data ? ev->data : "", kept);
    buf_add(&l->b, &ev->data_len, sizeof ev->data_len);
}

static void on_comment(void *ctx, const char *text, size_t len)
{
    CHECK(memchr(text, '\r', len) == NULL && memchr(text, '\n', len) == NULL);
    log_field(ctx, '#', text, len);
}

static void on_retry(void *ctx, uint64_t ms)
{
    log_field(ctx, 'r', (const char *)&ms, sizeof ms);
}

static const struct es_sink SINK = {.event = on_event, .comment = on_comment, .retry = on_retry};

/* Decodes s[0..n) with a line buffer of cap bytes, in pieces from *seed (0: whole). */
static void decode(struct log *l, const char *s, size_t n, size_t cap, size_t data_max,
                   unsigned seed)
{
    memset(l, 0, sizeof *l);
    l->data_max = data_max;
    struct es_decoder d;
    es_decoder_init(&d, &SINK, l, data_max);
    char *buf = malloc(cap); /* exact size: ASan sees any overrun */
    CHECK(buf != NULL);
    size_t len = 0;
    for (size_t off = 0; off < n;) {
        size_t k = n - off;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1 + (seed >> 16) % 16;
            k = piece < k ? piece : k;
        }
        es_decode_bytes(&d, buf, &len, cap, s + off, k);
        off += k;
        CHECK(len < cap);
    }
    free(buf);
    es_decoder_free(&d);
}

static int blank_lines(const char *s, size_t n)
{
    int blanks = 0;
    int at_line_start = 1;
    size_t i = n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* the decoder drops it */
    for (; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n') {
            blanks += at_line_start;
            if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                i++;
            at_line_start = 1;
        } else {
            at_line_start = 0;
        }
    }
    return blanks;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    unsigned seed = size > 0 ? in[0] + 1u : 1u;
    const char *s = size > 0 ? (const char *)in + 1 : "";
    size_t n = size > 0 ? size - 1 : 0;

    struct log whole, pieces, small;
    decode(&whole, s, n, n + 1, SIZE_MAX, 0);
    decode(&pieces, s, n, n + 1, SIZE_MAX, seed);
    CHECK(whole.b.len == pieces.b.len && whole.events == pieces.events);
    CHECK(whole.b.len == 0 || memcmp(whole.b.p, pieces.b.p, whole.b.len) == 0);
    CHECK(whole.events <= blank_lines(s, n));

    decode(&small, s, n, 16, 8, seed);
    CHECK(small.events <= blank_lines(s, n));

    free(whole.b.p);
    free(pieces.b.p);
    free(small.b.p);
    return 0;
}
