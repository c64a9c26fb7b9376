/* server: the HTTP side of the fake CoinAPI (libmicrohttpd).
 *
 * Serves, on 127.0.0.1 (or the address of --bind):
 *   GET /v1/exchangerate/{BASE}/{QUOTE}   CoinAPI's current-rate endpoint
 *   GET /v1/exchangerate/{BASE}           CoinAPI's all-current-rates endpoint:
 *       {"asset_id_base":"BTC","rates":[{"time":..,"asset_id_quote":"USD",
 *       "rate":..},..]} for the quotes in filter_asset_id (comma- or
 *       semicolon-separated; absent: a fixed handful). invert=true and
 *       time= (historical) are not faked: 400 says so.
 *   GET /fake/stats                       counters, for tests (not counted)
 * Anything else is 404; a method other than GET is 405.
 *
 * An exchange-rate request goes through the same steps as at CoinAPI:
 *   1. key: X-CoinAPI-Key missing or empty, or not the configured key: 401.
 *      (Only the header is accepted, never the `apikey` query parameter:
 *      a client that sends its key in the URL is caught here.)
 *   2. mode: query parameter `fake=<mode>`, else header `X-Fake-Mode`, else
 *      the configured mode; an unknown name is 400. Mode `flap` picks the
 *      next step of a fixed cycle (see flap_cycle in server.c), one step per
 *      request that reaches this point, whatever its connection.
 *   3. the mode's answer, for the whole request: an error, or the asset ids
 *      are checked ([A-Za-z0-9_]{1,32}, at most 64 quotes, else 400) and
 *      the rates are served.
 *
 * All-rates answers leave out the quote named by ?fake_drop=, else the
 * X-Fake-Drop header, else cfg->drop_quote: how tests make a quote go
 * missing.
 *
 * Every rate served in a 200 is appended to the journal file, if any, as
 * the per-pair endpoint's body (one tick per line, also for each rate of
 * an all-rates answer), and a `malformed` body as it was sent; each line is
 * flushed before the response is queued, so a client that has read a
 * response can already find it in the journal. (`huge` and `wrongpair`
 * answers are not journalled: no client should publish them.)
 *
 * Ownership: fake_server_new() copies nothing but the pointers in cfg; the
 * strings they point to must outlive the server (argv/env/literals do).
 * fake_server_free() stops the daemon and frees everything; NULL is accepted.
 */
#ifndef FAKE_SERVER_H
#define FAKE_SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

enum fake_mode {
    FAKE_OK,        /* 200 with a rate */
    FAKE_401,       /* invalid key */
    FAKE_403,       /* quota exceeded */
    FAKE_429,       /* rate limited, with Retry-After */
    FAKE_500,       /* server error, {"message": ...} body */
    FAKE_550,       /* no data */
    FAKE_MALFORMED, /* 200 whose body is cut short: not valid JSON */
    FAKE_SLOW,      /* wait cfg->slow_ms, then as ok */
    FAKE_FLAP,      /* cycle through the others, deterministically */
    FAKE_HUGE,      /* 200 with a valid tick padded past 64 KiB */
    FAKE_WRONGPAIR, /* 200 with a valid tick for the pair turned round */
};

#define FAKE_MODE_NAMES "ok, 401, 403, 429, 500, 550, malformed, slow, flap, huge, wrongpair"

/* "ok", "429", ...: 0, or -1 for an unknown name. */
int fake_mode_parse(const char *name, enum fake_mode *out);
const char *fake_mode_name(enum fake_mode mode);

struct fake_config {
    /* IPv4 address to listen on: 127.0.0.1 unless the caller asks for more
     * (docker-compose's demo, where the fetcher is another container on a
     * private network). */
    struct in_addr bind;
    unsigned port;            /* 0: let the kernel pick (see fake_server_port) */
    enum fake_mode mode;      /* when the request does not choose one */
    unsigned retry_after;     /* seconds, for 429 */
    int64_t slow_ms;          /* delay of mode slow */
    const char *key;          /* NULL or "": accept any non-empty key */
    const char *journal_path; /* NULL or "": no journal */
    uint64_t seed;            /* random walk seed */
    unsigned rate_limit;      /* X-RateLimit-Limit */
    const char *drop_quote;   /* NULL or "": all-rates answers leave out no quote */
};

struct fake_server;

/* Bind, open the journal and start serving. NULL on failure, with a
 * one-line reason in err. */
struct fake_server *fake_server_new(const struct fake_config *cfg, char *err, size_t errlen);

/* The port actually bound (useful with cfg->port == 0). */
unsigned fake_server_port(const struct fake_server *s);

/* Stop serving (a request sleeping in mode slow is cut short) and free. */
void fake_server_free(struct fake_server *s);

#endif
