/* fetch_coinapi: the CoinAPI REST client (libcurl multi).
 *
 * One client polls a fixed list of pairs with one request per distinct
 * base asset: pairs that share a base are asked for together with CoinAPI's
 * all-rates endpoint, GET /v1/exchangerate/{BASE}?filter_asset_id=Q1,Q2,
 * filtered to the quotes wanted (see group.h for its answer); a base with a
 * single quote keeps GET /v1/exchangerate/{BASE}/{QUOTE}, which costs the
 * same one request and answers less. The client owns one curl easy handle
 * per request, kept across ticks so connections stay alive, and one multi
 * handle that runs a tick's requests concurrently: a tick costs one
 * request's latency. Over HTTP/2 (CoinAPI over TLS) the requests share one
 * multiplexed connection; over HTTP/1.1 each request keeps its own
 * keep-alive connection.
 *
 * Each answer comes back judged (verdict.h): what it means in CoinAPI's
 * terms, with CoinAPI's own words and the rates it carried, so that the
 * caller never reads a status or a header. One thread uses a client.
 *
 * The API key goes only into the X-CoinAPI-Key header (never the URL,
 * which ends up in logs) and never into any message or debug output this
 * module produces: verbose mode (debug) redacts it.
 */
#ifndef FETCH_COINAPI_H
#define FETCH_COINAPI_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "rc_pairs.h"
#include "verdict.h"

struct fetch_coinapi;

struct fetch_coinapi_config {
    const char *base_url; /* "https://rest.coinapi.io" (a trailing '/' is fine) */
    const char *key;      /* copied; wiped on free */
    int64_t timeout_ms;   /* bounds a whole request */
    int verbose;          /* log libcurl's exchange at debug level (key redacted) */
};

/* One request of a tick: the pairs it asks for, all with the same base. */
struct fetch_plan {
    char base[RC_ASSET_MAX + 1];
    size_t n;                  /* 1: the per-pair endpoint; more: the all-rates one */
    size_t pair[RC_PAIRS_MAX]; /* indexes into the pairs given, in their order */
};

/* Group pairs[0..n) (n <= RC_PAIRS_MAX) by base into plans, ordered by
 * each base's first pair. Returns the number of requests a tick makes. */
size_t fetch_coinapi_plan(const struct rc_pair *pairs, size_t n, struct fetch_plan *plans);

/* pairs[0..n) is copied. NULL with err on bad input. */
struct fetch_coinapi *fetch_coinapi_new(const struct fetch_coinapi_config *cfg,
                                        const struct rc_pair *pairs, size_t n, char *err,
                                        size_t errlen);
void fetch_coinapi_free(struct fetch_coinapi *c);

/* The requests a tick makes, and what each asks for (owned by the client;
 * valid until it is freed). */
size_t fetch_coinapi_requests(const struct fetch_coinapi *c);
const struct fetch_plan *fetch_coinapi_request(const struct fetch_coinapi *c, size_t i);

/* Every request at once, and what each answer means (verdict.h): out
 * holds one verdict per request, in the order of fetch_coinapi_request;
 * got[i] is for the i-th pair given to fetch_coinapi_new. The pairs of a
 * request whose verdict is FETCH_VERDICT_TICK get their items (the caller
 * owns the ticks: fetch_group_clear); the others' items are left as they
 * were. No verdict's text holds the key. */
void fetch_coinapi_get_all(struct fetch_coinapi *c, struct fetch_verdict *out,
                           struct fetch_group_item *got);

#endif
