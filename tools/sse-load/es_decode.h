/*
 * es_decode: the EventSource stream decoder of the HTML standard (WHATWG HTML,
 * "Server-sent events", "Interpreting an event stream"), over bytes.
 *
 * The project's one reference for what a browser makes of a stream: sse-load decodes every
 * stream it holds with it, and the unit tests and the fuzz target of sse-server's framing
 * check their frames against it. It has its own unit test (tests/unit/test_es_decode.c) and
 * fuzz target (tests/fuzz/fuzz_es_decode.c: any split of the input decodes the same).
 *
 * Pure: no I/O, no clock, no globals. The caller owns the line buffer and passes it in, so
 * that a load client holding 18,000 streams can reuse each connection's own buffer and keep
 * memory per stream fixed. The decoder owns only the data buffer it may grow (data_max).
 *
 * Where it differs from a browser, on purpose and bounded:
 *   - it works on bytes: invalid UTF-8 is passed through, not replaced by U+FFFD;
 *   - a line longer than the caller's buffer is handled by its head (one buffer's worth) and
 *     the rest of it is dropped;
 *   - the event type and the last event ID keep at most ES_TYPE_MAX / ES_ID_MAX bytes, and the
 *     data at most data_max bytes (0: only its length is counted); ev->truncated says when
 *     something was cut.
 *
 * Not thread-safe: one decoder per stream, used by one thread.
 */
#ifndef ES_DECODE_H
#define ES_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ES_TYPE_MAX = 64, ES_ID_MAX = 64 };

/* One dispatched event. Every pointer is the decoder's and valid during the callback only. */
struct es_event {
    const char *data; /* the data buffer without its final LF: data_kept bytes of it, NUL
                         terminated (data may hold NULs too); NULL when data_max is 0 */
    size_t data_kept; /* data_len, unless the data was cut (truncated) or not kept */
    size_t data_len;  /* the full length, also when not (or not all) kept */
    const char *type; /* "message" unless an event field named it (NUL terminated) */
    const char *id;   /* the last event ID after this event, "" if none (NUL terminated) */
    size_t id_len;
    bool id_field;  /* an id field of this event set it (else it was carried over) */
    bool truncated; /* data, type or id was cut to fit */
};

/* What the decoder reports, to the ctx given to es_decoder_init. Only event is required. */
struct es_sink {
    void (*event)(void *ctx, const struct es_event *ev);
    /* A comment line (":..."): text is what follows the colon, a leading space included. */
    void (*comment)(void *ctx, const char *text, size_t len);
    /* Each data field's value as it is read, before the event is complete: lets a caller
     * that keeps no data still look into it (sse-load finds a tick's time there). */
    void (*data_line)(void *ctx, const char *value, size_t len);
    /* A retry field of digits only: the reconnection time in ms (saturated). */
    void (*retry)(void *ctx, uint64_t ms);
};

struct es_decoder {
    const struct es_sink *sink;
    void *ctx;
    char *data; /* malloc'd, grown up to data_max; NULL until needed or when data_max is 0 */
    size_t data_len, data_kept, data_cap, data_max;
    char type[ES_TYPE_MAX + 1];
    char id_buf[ES_ID_MAX + 1];  /* the spec's last event ID buffer (set by id fields) */
    char last_id[ES_ID_MAX + 1]; /* the EventSource's last event ID string (set at dispatch) */
    size_t type_len, id_buf_len, last_id_len;
    bool id_field, truncated;
    uint8_t flags; /* line state, private */
};

/* sink must outlive the decoder (one sink may serve many decoders); ctx is passed to its
 * callbacks. data_max: bytes of data to keep per event (0: none). */
void es_decoder_init(struct es_decoder *d, const struct es_sink *sink, void *ctx, size_t data_max);

/* Frees the data buffer; the decoder may be initialised again. */
void es_decoder_free(struct es_decoder *d);

/* A new response on the same EventSource (a reconnection): the line, data and event type
 * state start afresh; the last event ID is kept, as a browser keeps it to send it back. */
void es_decoder_restart(struct es_decoder *d);

/* Decodes every complete line in buf[0..len) (a line ends at LF, CRLF or CR, as the spec
 * says; a CRLF split over two calls is one line end) and moves the unfinished last line to
 * buf[0]. Returns its length: the caller appends the next bytes after it. cap is the size of
 * buf: when an unfinished line fills it, that head is handled as a complete line and the
 * rest of the line, when it comes, is dropped. */
size_t es_decode(struct es_decoder *d, char *buf, size_t len, size_t cap);

/* The same for bytes that are not in the buffer yet: copies in[0..n) into buf (which holds
 * *len unfinished bytes, of cap) a buffer's worth at a time and decodes as it goes. */
void es_decode_bytes(struct es_decoder *d, char *buf, size_t *len, size_t cap, const char *in,
                     size_t n);

/* The last event ID string (what a browser sends back as Last-Event-ID): "" if none. */
const char *es_last_event_id(const struct es_decoder *d, size_t *len);

#endif
