/* rc_tick: the exchange-rate message codec shared by both programs.
 *
 * A tick is CoinAPI's exchange-rate object:
 *   {"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC",
 *    "asset_id_quote":"USD","rate":60000.25}
 * rc_tick_parse() validates such a body (from CoinAPI in the fetcher, from
 * the broker in sse-server) and produces the compact one-line JSON that goes
 * on the wire. The rate is copied as the original text, digit for digit:
 * cJSON keeps only a double, which would round CoinAPI's longer rates; so
 * the rate must be a strict RFC 8259 number under a plainly written key.
 * What goes out is always strict JSON a browser's JSON.parse accepts.
 * Unknown extra fields are kept (compacted); nested values are re-printed by
 * cJSON. Duplicate members are refused: parsers disagree on which one wins.
 */
#ifndef RC_TICK_H
#define RC_TICK_H

#include <stddef.h>
#include <stdint.h>

/* CoinAPI answers are a few hundred bytes: anything past this is not a tick. */
#define RC_TICK_MAX_BODY (64 * 1024)
#define RC_ASSET_MAX     32
/* Top-level members allowed: the four fields plus a few extras. */
#define RC_TICK_MAX_FIELDS 64

struct rc_tick {
    char time[40];                /* as sent: ISO 8601 UTC, "...Z" */
    char base[RC_ASSET_MAX + 1];  /* asset_id_base, as sent */
    char quote[RC_ASSET_MAX + 1]; /* asset_id_quote, as sent */
    double rate;                  /* finite, > 0 */
    char *json;                   /* compact JSON, NUL-terminated; owned, see rc_tick_clear */
    size_t json_len;
};

/* Validate body[0..len) and fill *t. Returns 0, or -1 with a one-line
 * reason in err (t->json is then NULL). The body need not be
 * NUL-terminated. */
int rc_tick_parse(struct rc_tick *t, const char *body, size_t len, char *err, size_t errlen);

/* The tick's time in microseconds since the epoch (t->time was validated
 * by rc_tick_parse), or 0 if it is out of range. */
int64_t rc_tick_time_us(const struct rc_tick *t);

/* Free t->json; safe on a zeroed or already-cleared tick. */
void rc_tick_clear(struct rc_tick *t);

/* For bodies that carry rates in another shape (CoinAPI's all-rates answer,
 * read by the fetcher), the same checks and the same raw-text access that
 * keep the rate's digits here. */
struct cJSON;

/* Check body[0..len) as rc_tick_parse does before it reads any field (not
 * empty, at most max bytes after a byte order mark, no NUL, valid UTF-8,
 * no control characters, exactly one JSON object, no \u0000) and parse it.
 * Returns the object, which the caller frees with cJSON_Delete, and sets
 * *text and *textlen to the body without its byte order mark: the text to give
 * the raw-text helpers below. NULL with a one-line reason in err. */
struct cJSON *rc_json_parse_object(const char *body, size_t len, size_t max, const char **text,
                                   size_t *textlen, char *err, size_t errlen);

/* The raw text of the top-level member `key` of the object written at
 * s[0..len), which rc_json_parse_object accepted (directly or as part of a
 * larger body). Only a key written without escapes matches. 0 with
 * *start and *vlen pointing into s, or -1. */
int rc_json_member_text(const char *s, size_t len, const char *key, const char **start,
                        size_t *vlen);

/* Walk the elements of the array written at s[0..len) (accepted as above):
 * set *pos to 0, then each call returns 1 with the next element's text in
 * *start and *vlen, or 0 after the last one. */
int rc_json_array_next(const char *s, size_t len, size_t *pos, const char **start, size_t *vlen);

/* 1 if s is a well-formed asset id: 1..RC_ASSET_MAX of [A-Za-z0-9_]. */
int rc_asset_valid(const char *s, size_t len);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int rc_utf8_valid(const char *s, size_t len);

#endif
