/* fetch_verdict: what one CoinAPI answer means.
 *
 * The client (coinapi.h) collects each answer as it came: the HTTP status,
 * the body, the Retry-After and X-RateLimit-* headers, or the transport
 * error. fetch_verdict_judge() says what that answer means in CoinAPI's
 * terms, so that the fetcher's loop only schedules, counts, logs and
 * queues:
 *
 *   no HTTP answer               TRANSPORT      (DNS, connect, TLS, timeout)
 *   401                          BAD_KEY        the key is invalid
 *   403                          NO_PERMISSION  no permission, or the quota is used up
 *   429                          PAUSE          ask nothing for pause.secs
 *   550                          NO_DATA        CoinAPI has no data for it
 *   other 5xx                    SERVER_ERROR
 *   any other status but 200     OTHER
 *   200 over RC_TICK_MAX_BODY    TOO_LARGE      dropped
 *   200 not a usable answer      INVALID        dropped (not JSON, another pair or base...)
 *   200                          TICK           each pair asked for has an item
 *
 * An error status comes with CoinAPI's own words (the "error" or "message"
 * string of its JSON body). A 200 that spent the quota (X-RateLimit-
 * Remaining 0 with a reset time) is still read, and also asks for a pause
 * until the reset: pause.secs is set on a TICK, TOO_LARGE or INVALID
 * verdict too.
 *
 * Pure: no I/O, no clock (the caller passes the time), nothing shared;
 * any thread. No text of a verdict ever holds the secret it is given
 * (the API key): CoinAPI's words are relayed into logs.
 */
#ifndef FETCH_VERDICT_H
#define FETCH_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"

/* One answer as it came; the client fills it. */
struct fetch_answer {
    int transport_error; /* no HTTP answer: see err */
    char err[256];       /* transport error text (DNS, connect, TLS, timeout) */
    long status;         /* HTTP status */
    const char *body;    /* owned by the client; valid until the next fetch */
    size_t len;
    int too_large;            /* the body passed RC_TICK_MAX_BODY and was cut off */
    long retry_after;         /* seconds from Retry-After, or -1 */
    long ratelimit_remaining; /* X-RateLimit-Remaining, or -1 */
    int64_t ratelimit_reset;  /* X-RateLimit-Reset as epoch seconds, or 0 */
    long request_cost;        /* X-RateLimit-Request-Cost, or -1 */
};

enum fetch_verdict_kind {
    FETCH_VERDICT_TICK,
    FETCH_VERDICT_PAUSE,
    FETCH_VERDICT_BAD_KEY,
    FETCH_VERDICT_NO_PERMISSION,
    FETCH_VERDICT_SERVER_ERROR,
    FETCH_VERDICT_NO_DATA,
    FETCH_VERDICT_OTHER,
    FETCH_VERDICT_TRANSPORT,
    FETCH_VERDICT_TOO_LARGE,
    FETCH_VERDICT_INVALID,
};

/* Room for a verdict's text: CoinAPI's words are cut at 299 characters,
 * a reason for dropping a 200 adds its own words in front. */
#define FETCH_VERDICT_TEXT 400

/* No requests for a while: after a 429, or after a 200 that spent the
 * quota. */
struct fetch_pause {
    int64_t secs;       /* 0: no pause; else 1 to 86400 */
    const char *source; /* static: "Retry-After", "X-RateLimit-Reset" or "no usable Retry-After" */
    char reason[FETCH_VERDICT_TEXT]; /* CoinAPI's words for a 429; "X-RateLimit-Remaining is 0" */
};

struct fetch_verdict {
    enum fetch_verdict_kind kind;
    long status; /* HTTP status; 0 for TRANSPORT */
    /* One printable line: CoinAPI's own words for an error status (else
     * the start of its body, or "(empty body)"), the transport error, or
     * why a 200 was dropped; empty for TICK. */
    char text[FETCH_VERDICT_TEXT];
    struct fetch_pause pause;
    long request_cost;        /* X-RateLimit-Request-Cost, or -1 */
    long ratelimit_remaining; /* X-RateLimit-Remaining, or -1 */
};

/* Judge a, the answer to the request for base and quotes[0..n) (upper
 * case, as rc_pairs gives them): n == 1 is the per-pair endpoint's answer,
 * more the all-rates endpoint's (coinapi.h). now_s is the real time in
 * epoch seconds (for X-RateLimit-Reset); secret, if not NULL or empty, is
 * replaced by "***" wherever it would appear in a text.
 *
 * items[i] says what became of quotes[i]: on a TICK verdict, FETCH_ITEM_OK
 * with its tick (the caller owns it: fetch_group_clear), or, from the
 * all-rates endpoint, FETCH_ITEM_MISSING or FETCH_ITEM_INVALID for that
 * pair alone; on any other verdict every item is FETCH_ITEM_MISSING and
 * holds no tick. */
void fetch_verdict_judge(const struct fetch_answer *a, const char *base, const char *const *quotes,
                         size_t n, int64_t now_s, const char *secret, struct fetch_verdict *v,
                         struct fetch_group_item *items);

#endif
