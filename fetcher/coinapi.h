/* fetch_coinapi: the CoinAPI REST client (libcurl).
 *
 * One client owns one curl easy handle, reused for every request so the
 * connection to CoinAPI stays alive between ticks. The API key goes only in
 * the X-CoinAPI-Key header (never the URL, which ends up in logs) and never
 * into any message this module produces.
 */
#ifndef FETCH_COINAPI_H
#define FETCH_COINAPI_H

#include <stddef.h>
#include <stdint.h>

#include "rc_pairs.h"

struct fetch_coinapi;

/* base_url: "https://rest.coinapi.io" (a trailing '/' is fine). key is
 * copied. timeout_ms bounds a whole request. NULL with err on bad input. */
struct fetch_coinapi *fetch_coinapi_new(const char *base_url, const char *key, int64_t timeout_ms,
                                        char *err, size_t errlen);
void fetch_coinapi_free(struct fetch_coinapi *c);

struct fetch_answer {
    long status;      /* HTTP status */
    const char *body; /* owned by the client; valid until the next request */
    size_t len;
    int too_large;    /* the body passed RC_TICK_MAX_BODY and was cut off */
    long retry_after; /* seconds from Retry-After, or -1 */
};

/* GET {base}/v1/exchangerate/{BASE}/{QUOTE}. Returns 0 with *ans filled for
 * any HTTP answer (check ans->status), or -1 with err set on a transport
 * error (DNS, connect, TLS, timeout). */
int fetch_coinapi_get(struct fetch_coinapi *c, const struct rc_pair *p, struct fetch_answer *ans,
                      char *err, size_t errlen);

/* CoinAPI's own words from an error body: the "error" or "message" string,
 * else the start of the body with control characters replaced. */
void fetch_coinapi_error_text(const char *body, size_t len, char *out, size_t outlen);

#endif
