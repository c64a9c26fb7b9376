/* es_decode: the EventSource stream decoder (see es_decode.h). The steps follow the HTML
 * standard's "Interpreting an event stream" in its order; the comments name them. */
#include "es_decode.h"

#include <stdlib.h>
#include <string.h>

enum {
    F_PENDING_CR = 1 << 0, /* the last line ended in CR: a LF first thing next is part of it */
    F_SKIP_LINE = 1 << 1,  /* the rest of an over-long line: drop until its end */
    F_STARTED = 1 << 2,    /* a line was read: a byte order mark can no longer come */
};

void es_decoder_init(struct es_decoder *d, const struct es_sink *sink, void *ctx, size_t data_max)
{
    memset(d, 0, sizeof *d);
    d->sink = sink;
    d->ctx = ctx;
    d->data_max = data_max;
}

void es_decoder_free(struct es_decoder *d)
{
    free(d->data);
    d->data = NULL;
    d->data_cap = d->data_kept = d->data_len = 0;
}

static void reset_event(struct es_decoder *d)
{
    d->data_len = d->data_kept = 0;
    d->type_len = 0;
    d->type[0] = '\0';
    d->id_field = d->truncated = false;
}

void es_decoder_restart(struct es_decoder *d)
{
    reset_event(d);
    d->flags = 0;
}

const char *es_last_event_id(const struct es_decoder *d, size_t *len)
{
    if (len != NULL)
        *len = d->last_id_len;
    return d->last_id;
}

/* Copies at most max bytes of v into dst (max + 1 bytes), NUL terminated. */
static size_t set_text(struct es_decoder *d, char *dst, size_t max, const char *v, size_t n)
{
    if (n > max) {
        n = max;
        d->truncated = true;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    return n;
}

/* "Append the field value to the data buffer, then append a single U+000A LINE FEED". */
static void append_data(struct es_decoder *d, const char *v, size_t n)
{
    d->data_len += n + 1;
    if (d->data_max == 0)
        return;
    size_t room = d->data_max - d->data_kept;
    size_t want = n + 1 <= room ? n + 1 : room;
    if (want < n + 1)
        d->truncated = true;
    if (d->data_kept + want + 1 > d->data_cap) { /* + 1: the NUL at dispatch */
        size_t cap = d->data_cap ? d->data_cap : 256;
        while (cap < d->data_kept + want + 1)
            cap *= 2;
        char *p = realloc(d->data, cap);
        if (p == NULL) {
            d->truncated = true; /* out of memory: the event goes out short, not lost */
            return;
        }
        d->data = p;
        d->data_cap = cap;
    }
    if (want > n) {
        memcpy(d->data + d->data_kept, v, n);
        d->data[d->data_kept + n] = '\n';
    } else {
        memcpy(d->data + d->data_kept, v, want);
    }
    d->data_kept += want;
}

/* "Dispatch the event" (for web browsers). */
static void dispatch(struct es_decoder *d)
{
    /* 1. The last event ID string takes the buffer's value, even when no event follows. */
    memcpy(d->last_id, d->id_buf, d->id_buf_len + 1);
    d->last_id_len = d->id_buf_len;
    /* 2. No data: nothing fires; the data and event type buffers are emptied. */
    if (d->data_len == 0) {
        reset_event(d);
        return;
    }
    /* 3. Remove the data buffer's last LF. */
    size_t len = d->data_len - 1;
    if (d->data_kept > len)
        d->data_kept = len;
    if (d->data != NULL)
        d->data[d->data_kept] = '\0';
    struct es_event ev = {
        .data = d->data_max ? (d->data ? d->data : "") : NULL,
        .data_kept = d->data_max > 0 ? d->data_kept : 0,
        .data_len = len,
        .type = d->type_len ? d->type : "message",
        .id = d->last_id,
        .id_len = d->last_id_len,
        .id_field = d->id_field,
        .truncated = d->truncated || (d->data_max > 0 && d->data_kept < len),
    };
    d->sink->event(d->ctx, &ev);
    reset_event(d);
}

static void retry_field(struct es_decoder *d, const char *v, size_t n)
{
    if (n == 0 || d->sink->retry == NULL)
        return;
    uint64_t ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return; /* "Otherwise, ignore the field." */
        unsigned digit = (unsigned)(v[i] - '0');
        ms = ms > (UINT64_MAX - digit) / 10 ? UINT64_MAX : ms * 10 + digit;
    }
    d->sink->retry(d->ctx, ms);
}

/* "Process the field" with name and value. */
static void field(struct es_decoder *d, const char *name, size_t nlen, const char *v, size_t n)
{
    if (nlen == 5 && memcmp(name, "event", 5) == 0) {
        d->type_len = set_text(d, d->type, ES_TYPE_MAX, v, n);
    } else if (nlen == 4 && memcmp(name, "data", 4) == 0) {
        append_data(d, v, n);
        if (d->sink->data_line != NULL)
            d->sink->data_line(d->ctx, v, n);
    } else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        if (memchr(v, '\0', n) != NULL)
            return; /* "If the field value does not contain U+0000 NULL ...": else ignored */
        d->id_buf_len = set_text(d, d->id_buf, ES_ID_MAX, v, n);
        d->id_field = true;
    } else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
        retry_field(d, v, n);
    }
    /* "Otherwise: The field is ignored." */
}

static void line(struct es_decoder *d, const char *p, size_t n)
{
    if (!(d->flags & F_STARTED)) {
        d->flags |= F_STARTED;
        /* UTF-8 decode strips one leading byte order mark. */
        if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    if (n == 0) { /* "If the line is empty (a blank line): Dispatch the event" */
        dispatch(d);
        return;
    }
    if (p[0] == ':') { /* "If the line starts with a U+003A COLON character": a comment */
        if (d->sink->comment != NULL)
            d->sink->comment(d->ctx, p + 1, n - 1);
        return;
    }
    /* The field name is up to the first colon, the value after it without one leading
     * space; a line without a colon is a name with an empty value. */
    const char *colon = memchr(p, ':', n);
    size_t nlen = colon != NULL ? (size_t)(colon - p) : n;
    const char *v = colon != NULL ? colon + 1 : p + n;
    size_t vlen = (size_t)(p + n - v);
    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    field(d, p, nlen, v, vlen);
}

size_t es_decode(struct es_decoder *d, char *buf, size_t len, size_t cap)
{
    size_t start = 0, i = 0;
    if ((d->flags & F_PENDING_CR) && len > 0) {
        d->flags &= (uint8_t)~F_PENDING_CR;
        if (buf[0] == '\n')
            start = i = 1; /* the LF of a CRLF split over two calls */
    }
    for (; i < len; i++) {
        if (buf[i] != '\n' && buf[i] != '\r')
            continue;
        if (d->flags & F_SKIP_LINE)
            d->flags &= (uint8_t)~F_SKIP_LINE; /* its head was handled already */
        else
            line(d, buf + start, i - start);
        if (buf[i] == '\r') {
            if (i + 1 == len)
                d->flags |= F_PENDING_CR;
            else if (buf[i + 1] == '\n')
                i++;
        }
        start = i + 1;
    }
    len -= start;
    if (d->flags & F_SKIP_LINE)
        return 0;
    memmove(buf, buf + start, len);
    if (len >= cap) {
        line(d, buf, len);
        d->flags |= F_SKIP_LINE;
        return 0;
    }
    return len;
}

void es_decode_bytes(struct es_decoder *d, char *buf, size_t *len, size_t cap, const char *in,
                     size_t n)
{
    while (n > 0) {
        size_t k = cap - *len < n ? cap - *len : n;
        memcpy(buf + *len, in, k);
        in += k;
        n -= k;
        *len = es_decode(d, buf, *len + k, cap);
    }
}
