/* server.c: the HTTP side of the fake CoinAPI (libmicrohttpd). The interface, and who owns
 * what, is in server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "rc_log.h"
#include "walk.h"

#define JSON_TYPE   "application/json; charset=utf-8"
#define RATE_PREFIX "/v1/exchangerate/"
#define STATS_PATH  "/fake/stats"

/* One thread per connection keeps the handler simple (mode slow just
 * sleeps); a test opens a handful of connections, a demo a few more. */
#define MAX_CONNECTIONS 256u
/* Idle keep-alive connections are closed after this, like any server. */
#define IDLE_TIMEOUT_S 60u
/* Mode slow sleeps in slices this long, so a shutdown is never held up. */
#define SLOW_SLICE_MS 50
/* Longest 200 body: two 32-character ids, a 64-character rate, the time. */
#define RATE_BODY_MAX 256
/* Quotes one all-rates request may name, like the fetcher's --pairs. */
#define QUOTES_MAX 64
/* Longest all-rates body: an entry (under RATE_BODY_MAX) per quote. */
#define GROUP_BODY_MAX (QUOTES_MAX * RATE_BODY_MAX + 128)

/* CoinAPI's own error texts, so a client's error handling meets the real
 * thing. Sources (kept in the report that came with this file):
 * - missing key: a response body quoted verbatim in a public project
 *   (double spaces included);
 * - "Invalid API key": the error example of CoinAPI's REST documentation;
 * - 429 and 550: the meanings in that documentation's error table;
 * - 403: CoinAPI's quota body, quoted verbatim in several public projects;
 * - 500: CoinAPI runs on .NET, whose Web API answers an unhandled error with
 *   {"message":"An error has occurred."}: our one {"message": ...} body. */
static const char MSG_NO_KEY[] =
    "You didn't specify API key or it is incorrectly formatted. You should do it in: query "
    "string parameter `apikey`,  in http header named `X-CoinAPI-Key`,  in http header named "
    "`Authorization` or  as part of URL /apikey-YOUR-API-KEY/";
static const char MSG_BAD_KEY[] = "Invalid API key";
static const char MSG_RATE_LIMIT[] = "You have exceeded your API key rate limits";
static const char MSG_NO_DATA[] =
    "You requested specific single item that we don't have at this moment.";
static const char MSG_SERVER_ERROR[] = "An error has occurred.";
static const char BODY_QUOTA[] =
    "{\"title\":\"Forbidden\",\"status\":403,"
    "\"detail\":\"Quota exceeded: Insufficient Usage Credits or Subscription.\","
    "\"error\":\"Forbidden (Quota exceeded: Insufficient Usage Credits or Subscription.)\","
    "\"QuotaKey\":\"BA\",\"QuotaName\":\"Insufficient Usage Credits or Subscription\","
    "\"QuotaType\":\"Organization Limit\",\"QuotaValueCurrentUsage\":0,\"QuotaValue\":0,"
    "\"QuotaValueUnit\":\"$\",\"QuotaValueAdjustable\":\"Yes, acquire or upgrade "
    "subscription, add service credits manually or setup auto-recharge.\"}";

/* The statuses /fake/stats reports, in this order. */
static const unsigned tracked_status[] = {200, 400, 401, 403, 404, 405, 429, 500, 550};
#define N_STATUS (sizeof tracked_status / sizeof tracked_status[0])

struct fake_server {
    struct fake_config cfg;
    struct MHD_Daemon *daemon;
    struct fake_walk *walk;
    unsigned port;
    atomic_bool stopping;

    FILE *journal;
    pthread_mutex_t journal_lock; /* one line at a time, from any thread */
    bool journal_failed;          /* warn once, under journal_lock */

    /* Counters are plain atomics: /fake/stats only needs each one exact,
     * not a snapshot of all of them at one instant. */
    atomic_ulong requests;
    atomic_ulong by_status[N_STATUS];
    atomic_ulong malformed, slow;
    atomic_ulong grouped;      /* requests to the all-rates endpoint */
    atomic_ulong rates;        /* rates served in 200 bodies (journalled or not) */
    atomic_ulong dropped;      /* quotes left out of all-rates answers on purpose */
    atomic_ulong flap_step;    /* next position in flap_cycle */
    atomic_ulong credits_used; /* drives X-RateLimit-Remaining */
    /* Rate requests being answered right now, and the most ever at once:
     * lets a test see that a client's requests overlap in time. */
    atomic_ulong in_flight, max_in_flight;
};

/* What a request's helpers share, so none of them takes six arguments. */
struct req {
    struct fake_server *srv;
    struct MHD_Connection *conn;
    const char *method, *url;
    bool counted;    /* false for /fake/stats: polling it must not move the counters */
    const char *why; /* reason shown in the log line; NULL for a plain 200 */
    bool via_flap;
    /* Asset ids as they appear in the URL (not terminated), then checked
     * and uppercased. quote_raw is NULL for the all-rates endpoint, whose
     * quotes come from filter_asset_id into quotes[]. */
    const char *base_raw, *quote_raw;
    size_t base_len, quote_len;
    char base[FAKE_ASSET_MAX + 1], quote[FAKE_ASSET_MAX + 1];
    char quotes[QUOTES_MAX][FAKE_ASSET_MAX + 1];
    size_t nquotes;
    /* Authenticated request: answer with X-RateLimit-* headers. */
    bool credit;
    unsigned long remaining;
};

struct header {
    const char *name, *value;
};

typedef enum MHD_Result (*mode_fn)(struct req *r);

/* ---- small helpers ------------------------------------------------------ */

/* CoinAPI's timestamp shape: UTC, 7 fractional digits (.NET's 100 ns
 * ticks), 'Z'. */
static void format_time(struct timespec ts, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 100);
}

static bool is_asset_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Check one asset id from the URL and store it uppercased: CoinAPI echoes
 * ids in upper case whatever the request used. */
static int copy_asset(const char *src, size_t len, char *out)
{
    if (len == 0 || len > FAKE_ASSET_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!is_asset_char(src[i]))
            return -1;
        out[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 'a' + 'A') : src[i];
    }
    out[len] = '\0';
    return 0;
}

static void count_status(struct fake_server *s, unsigned status)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        if (tracked_status[i] == status) {
            atomic_fetch_add(&s->by_status[i], 1);
            return;
        }
    }
}

/* Each authenticated exchange-rate request costs one credit, as at
 * CoinAPI; remaining stops at 0 (this fake never enforces the limit). */
static void take_credit(struct req *r)
{
    unsigned long used = atomic_fetch_add(&r->srv->credits_used, 1) + 1;
    unsigned long limit = r->srv->cfg.rate_limit;
    r->credit = true;
    r->remaining = limit > used ? limit - used : 0;
}

static void journal_append(struct fake_server *s, const char *body)
{
    if (s->journal == NULL)
        return;
    pthread_mutex_lock(&s->journal_lock);
    /* Flush at once: a test reads the journal as soon as its request has
     * returned, and this runs before the response is queued. */
    if ((fprintf(s->journal, "%s\n", body) < 0 || fflush(s->journal) != 0) && !s->journal_failed) {
        rc_warn("cannot write the journal: %s (further failures are not logged)", strerror(errno));
        s->journal_failed = true;
    }
    pthread_mutex_unlock(&s->journal_lock);
}

static void log_reply(const struct req *r, unsigned status)
{
    if (r->why == NULL) {
        rc_debug("%s %s -> %u", r->method, r->url, status);
        return;
    }
    rc_info("%s %s -> %u (%s%s)", r->method, r->url, status, r->why, r->via_flap ? ", flap" : "");
}

/* ---- replies ------------------------------------------------------------ */

static int add_headers(struct MHD_Response *resp, const struct header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (MHD_add_response_header(resp, h[i].name, h[i].value) != MHD_YES)
            return -1;
    }
    return 0;
}

/* The headers CoinAPI sends with every authenticated answer. The reset
 * time is a day ahead: CoinAPI's quota is a sliding 24-hour window. */
static int add_rate_limit_headers(const struct req *r, struct MHD_Response *resp)
{
    char limit[24], remaining[24], reset[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 24 * 60 * 60;
    format_time(ts, reset, sizeof reset);
    snprintf(limit, sizeof limit, "%u", r->srv->cfg.rate_limit);
    snprintf(remaining, sizeof remaining, "%lu", r->remaining);
    const struct header h[] = {
        {"X-RateLimit-Limit", limit},
        {"X-RateLimit-Remaining", remaining},
        {"X-RateLimit-Request-Cost", "1"},
        {"X-RateLimit-Reset", reset},
    };
    return add_headers(resp, h, sizeof h / sizeof h[0]);
}

/* Queue a JSON answer. Returning MHD_NO makes MHD drop the connection,
 * the only thing left to do when we cannot even build a response. */
static enum MHD_Result reply(struct req *r, unsigned status, const char *body,
                             const struct header *extra, size_t nextra)
{
    enum MHD_Result ret = MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    const struct header type = {MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE};
    if (add_headers(resp, &type, 1) < 0 || add_headers(resp, extra, nextra) < 0)
        goto out;
    if (r->credit && add_rate_limit_headers(r, resp) < 0)
        goto out;
    if (r->counted)
        count_status(r->srv, status);
    log_reply(r, status);
    ret = MHD_queue_response(r->conn, status, resp);
out:
    MHD_destroy_response(resp);
    return ret;
}

/* {"<field>":"<text>"}: CoinAPI's error shape, with the text escaped by
 * cJSON (it may quote the request). */
static enum MHD_Result reply_error(struct req *r, unsigned status, const char *field,
                                   const char *text, const struct header *extra, size_t nextra)
{
    enum MHD_Result ret = MHD_NO;
    char *body = NULL;
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL || cJSON_AddStringToObject(obj, field, text) == NULL)
        goto out;
    body = cJSON_PrintUnformatted(obj);
    if (body == NULL)
        goto out;
    ret = reply(r, status, body, extra, nextra);
out:
    cJSON_free(body);
    cJSON_Delete(obj);
    return ret;
}

static enum MHD_Result reply_not_found(struct req *r)
{
    r->why = "unknown path";
    return reply_error(r, MHD_HTTP_NOT_FOUND, "error",
                       "Not found: this fake serves GET /v1/exchangerate/{BASE}/{QUOTE}, "
                       "GET /v1/exchangerate/{BASE} and GET /fake/stats",
                       NULL, 0);
}

static enum MHD_Result reply_bad_asset(struct req *r)
{
    r->why = "bad asset id";
    return reply_error(r, MHD_HTTP_BAD_REQUEST, "error",
                       "Bad Request -- There is something wrong with your request: asset ids "
                       "must be 1 to 32 characters from A-Z, a-z, 0-9 and _",
                       NULL, 0);
}

/* ---- the modes ---------------------------------------------------------- */

/* What an all-rates request without filter_asset_id gets: CoinAPI would
 * list every asset it knows; a handful is enough for a stand-in. */
static const char *const default_quotes[] = {"USD", "EUR", "GBP", "JPY", "USDT", "ETH", "BTC"};

static int add_quote(struct req *r, const char *id, size_t len)
{
    char q[FAKE_ASSET_MAX + 1];
    if (copy_asset(id, len, q) < 0 || r->nquotes == QUOTES_MAX)
        return -1;
    for (size_t i = 0; i < r->nquotes; i++)
        if (strcmp(r->quotes[i], q) == 0)
            return 0; /* named twice: served once */
    memcpy(r->quotes[r->nquotes++], q, sizeof q);
    return 0;
}

/* filter_asset_id: ids separated by commas or semicolons, as CoinAPI
 * documents; absent or empty, the default list (without the base). */
static int parse_filter(struct req *r)
{
    const char *f = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "filter_asset_id");
    if (f == NULL || *f == '\0') {
        for (size_t i = 0; i < sizeof default_quotes / sizeof default_quotes[0]; i++)
            if (strcmp(default_quotes[i], r->base) != 0)
                add_quote(r, default_quotes[i], strlen(default_quotes[i]));
        return 0;
    }
    for (;;) {
        size_t len = strcspn(f, ",;");
        if (add_quote(r, f, len) < 0)
            return -1;
        if (f[len] == '\0')
            return 0;
        f += len + 1;
    }
}

/* Fill r->base and r->quote (or r->quotes) from the URL; -1 if any is not
 * an id. */
static int check_assets(struct req *r)
{
    if (copy_asset(r->base_raw, r->base_len, r->base) < 0)
        return -1;
    if (r->quote_raw == NULL)
        return parse_filter(r);
    return copy_asset(r->quote_raw, r->quote_len, r->quote);
}

/* One rate in CoinAPI's exact shape and field order, as the per-pair
 * endpoint serves it. The rate text comes from the walk as is: printing it
 * through a double would lose the digits the project has to prove it
 * keeps. */
static int tick_text(struct req *r, const char *quote, char *out, size_t outlen)
{
    char rate[64], now[64];
    struct timespec ts;
    if (fake_walk_next(r->srv->walk, r->base, quote, rate, sizeof rate) < 0)
        return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    format_time(ts, now, sizeof now);
    int n = snprintf(out, outlen,
                     "{\"time\":\"%s\",\"asset_id_base\":\"%s\",\"asset_id_quote\":\"%s\","
                     "\"rate\":%s}",
                     now, r->base, quote, rate);
    atomic_fetch_add(&r->srv->rates, 1);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* The quote a test asked to leave out of all-rates answers: ?fake_drop=,
 * else the X-Fake-Drop header, else --drop-quote; NULL for none. */
static const char *dropped_quote(const struct req *r)
{
    const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "fake_drop");
    if (q == NULL)
        q = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Fake-Drop");
    if (q == NULL)
        q = r->srv->cfg.drop_quote;
    return (q != NULL && *q != '\0') ? q : NULL;
}

/* The all-rates answer, {"asset_id_base":..,"rates":[{"time":..,
 * "asset_id_quote":..,"rate":..},..]}. Each entry is the per-pair tick
 * without its base; with `ticks` set, that tick goes to the journal. */
static int group_body(struct req *r, char *out, size_t outlen, bool ticks)
{
    const char *drop = dropped_quote(r);
    size_t n = (size_t)snprintf(out, outlen, "{\"asset_id_base\":\"%s\",\"rates\":[", r->base);
    bool first = true;
    for (size_t i = 0; i < r->nquotes; i++) {
        char tick[RATE_BODY_MAX], base_member[FAKE_ASSET_MAX + 24];
        if (drop != NULL && strcasecmp(drop, r->quotes[i]) == 0) {
            atomic_fetch_add(&r->srv->dropped, 1);
            continue;
        }
        if (tick_text(r, r->quotes[i], tick, sizeof tick) < 0)
            return -1;
        if (ticks)
            journal_append(r->srv, tick);
        /* The entry is the tick less its "asset_id_base" member. */
        int blen = snprintf(base_member, sizeof base_member, "\"asset_id_base\":\"%s\",", r->base);
        char *at = strstr(tick, base_member);
        memmove(at, at + blen, strlen(at + blen) + 1);
        int k = snprintf(out + n, outlen - n, "%s%s", first ? "" : ",", tick);
        if (k < 0 || (size_t)k >= outlen - n)
            return -1;
        n += (size_t)k;
        first = false;
    }
    int k = snprintf(out + n, outlen - n, "]}");
    return (k < 0 || (size_t)k >= outlen - n) ? -1 : 0;
}

/* The 200 body for either endpoint, into a malloc'd buffer (NULL when it
 * cannot be built). With `journal` set every rate served is journalled as
 * the per-pair tick it stands for. */
static char *ok_body(struct req *r, bool journal)
{
    char *body = malloc(GROUP_BODY_MAX);
    if (body == NULL)
        return NULL;
    int rc = r->quote_raw == NULL ? group_body(r, body, GROUP_BODY_MAX, journal)
                                  : tick_text(r, r->quote, body, GROUP_BODY_MAX);
    if (rc < 0) {
        free(body);
        return NULL;
    }
    if (journal && r->quote_raw != NULL)
        journal_append(r->srv, body);
    return body;
}

/* Serve what ok_body builds, after `edit` (if any) has changed it. The
 * assets were checked. */
static enum MHD_Result serve_body(struct req *r, bool journal, void (*edit)(struct req *, char *))
{
    char *body = ok_body(r, journal);
    if (body == NULL)
        return MHD_NO;
    if (edit)
        edit(r, body);
    enum MHD_Result ret = reply(r, MHD_HTTP_OK, body, NULL, 0);
    free(body);
    return ret;
}

static enum MHD_Result serve_rate(struct req *r)
{
    if (check_assets(r) < 0)
        return reply_bad_asset(r);
    return serve_body(r, true, NULL);
}

/* Stop inside the last rate, as when a proxy drops the connection
 * mid-body: it starts like JSON, so only a client that checks the whole
 * document notices. What was sent is journalled as sent. */
static void cut_short(struct req *r, char *body)
{
    char *rate = NULL;
    for (char *p = body; (p = strstr(p, "\"rate\":")) != NULL; p++)
        rate = p;
    rate[strlen("\"rate\":") + 3] = '\0'; /* a rate always has more than 3 characters */
    atomic_fetch_add(&r->srv->malformed, 1);
    journal_append(r->srv, body);
}

/* A 200 whose body is cut short (see cut_short). */
static enum MHD_Result serve_malformed(struct req *r)
{
    if (check_assets(r) < 0)
        return reply_bad_asset(r);
    /* A request that names no quote at all has no rate to cut. */
    if (r->quote_raw == NULL && r->nquotes == 0)
        return reply_bad_asset(r);
    return serve_body(r, false, cut_short);
}

static enum MHD_Result serve_slow(struct req *r)
{
    /* Sleep in slices: a shutdown must not wait for a long --slow. */
    for (int64_t left = r->srv->cfg.slow_ms; left > 0 && !atomic_load(&r->srv->stopping);
         left -= SLOW_SLICE_MS) {
        int64_t ms = left < SLOW_SLICE_MS ? left : SLOW_SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&r->srv->slow, 1);
    return serve_rate(r);
}

/* A valid answer padded past the 64 KiB a client should accept. */
static enum MHD_Result serve_huge(struct req *r)
{
    enum { PAD = 70 * 1024 };
    if (check_assets(r) < 0)
        return reply_bad_asset(r);
    char *body = ok_body(r, false);
    if (body == NULL)
        return MHD_NO;
    size_t len = strlen(body);
    char *big = malloc(len + PAD + 16);
    if (big == NULL) {
        free(body);
        return MHD_NO;
    }
    memcpy(big, body, len - 1); /* without the closing brace */
    free(body);
    size_t n = len - 1;
    n += (size_t)sprintf(big + n, ",\"pad\":\"");
    memset(big + n, 'x', PAD);
    n += PAD;
    memcpy(big + n, "\"}", 3);
    enum MHD_Result ret = reply(r, MHD_HTTP_OK, big, NULL, 0);
    free(big);
    return ret;
}

/* The right shape for the wrong pair: a client must check what it got.
 * Per pair: the pair turned round; all rates: the first quote's rates,
 * with the base as their only quote. */
static enum MHD_Result serve_wrongpair(struct req *r)
{
    if (check_assets(r) < 0)
        return reply_bad_asset(r);
    char swap[sizeof r->base];
    char *other = r->quote_raw != NULL ? r->quote : r->quotes[0];
    if (r->quote_raw == NULL && r->nquotes == 0)
        return reply_bad_asset(r);
    memcpy(swap, r->base, sizeof swap);
    memcpy(r->base, other, sizeof swap);
    memcpy(other, swap, sizeof swap);
    r->nquotes = r->nquotes ? 1 : 0;
    char *body = ok_body(r, false);
    if (body == NULL)
        return MHD_NO;
    enum MHD_Result ret = reply(r, MHD_HTTP_OK, body, NULL, 0);
    free(body);
    return ret;
}

static enum MHD_Result serve_401(struct req *r)
{
    return reply_error(r, MHD_HTTP_UNAUTHORIZED, "error", MSG_BAD_KEY, NULL, 0);
}

static enum MHD_Result serve_403(struct req *r)
{
    return reply(r, MHD_HTTP_FORBIDDEN, BODY_QUOTA, NULL, 0);
}

static enum MHD_Result serve_429(struct req *r)
{
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%u", r->srv->cfg.retry_after);
    const struct header h[] = {{MHD_HTTP_HEADER_RETRY_AFTER, seconds}};
    r->remaining = 0; /* what a real 429 would show */
    return reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "error", MSG_RATE_LIMIT, h, 1);
}

static enum MHD_Result serve_500(struct req *r)
{
    return reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "message", MSG_SERVER_ERROR, NULL, 0);
}

static enum MHD_Result serve_550(struct req *r)
{
    return reply_error(r, 550, "error", MSG_NO_DATA, NULL, 0);
}

/* Indexed by enum fake_mode. `why` is what the log line says. */
static const struct {
    const char *name;
    const char *why;
    mode_fn serve;
} modes[] = {
    [FAKE_OK] = {"ok", NULL, serve_rate},
    [FAKE_401] = {"401", "mode 401", serve_401},
    [FAKE_403] = {"403", "mode 403", serve_403},
    [FAKE_429] = {"429", "mode 429", serve_429},
    [FAKE_500] = {"500", "mode 500", serve_500},
    [FAKE_550] = {"550", "mode 550", serve_550},
    [FAKE_MALFORMED] = {"malformed", "mode malformed", serve_malformed},
    [FAKE_SLOW] = {"slow", "mode slow", serve_slow},
    [FAKE_FLAP] = {"flap", NULL, NULL}, /* resolved to a step of flap_cycle first */
    [FAKE_HUGE] = {"huge", "mode huge", serve_huge},
    [FAKE_WRONGPAIR] = {"wrongpair", "mode wrongpair", serve_wrongpair},
};
#define N_MODES (sizeof modes / sizeof modes[0])

/* What mode flap answers, request after request: a client that makes N
 * requests can compute exactly how many of each it must have seen. */
static const enum fake_mode flap_cycle[] = {
    FAKE_OK, FAKE_500, FAKE_OK, FAKE_429, FAKE_OK, FAKE_550, FAKE_OK, FAKE_MALFORMED,
};
#define FLAP_STEPS (sizeof flap_cycle / sizeof flap_cycle[0])

int fake_mode_parse(const char *name, enum fake_mode *out)
{
    for (size_t i = 0; i < N_MODES; i++) {
        if (strcmp(name, modes[i].name) == 0) {
            *out = (enum fake_mode)i;
            return 0;
        }
    }
    return -1;
}

const char *fake_mode_name(enum fake_mode mode)
{
    return (size_t)mode < N_MODES ? modes[mode].name : "?";
}

/* ---- routing ------------------------------------------------------------ */

/* The query parameter wins over the header, which wins over --mode. */
static const char *requested_mode(const struct req *r)
{
    const char *name = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "fake");
    if (name == NULL)
        name = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Fake-Mode");
    return name;
}

/* NULL if the key is acceptable, else the 401 text. Only the header counts
 * (see server.h). The key itself is never logged. */
static const char *key_problem(struct req *r)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CoinAPI-Key");
    const char *want = r->srv->cfg.key;
    if (key == NULL || *key == '\0') {
        r->why = "no key";
        return MSG_NO_KEY;
    }
    if (want != NULL && *want != '\0' && strcmp(key, want) != 0) {
        r->why = "wrong key";
        return MSG_BAD_KEY;
    }
    return NULL;
}

/* The all-rates endpoint's parameters this stand-in does not fake: a 400
 * that says so, rather than an answer that would pretend. NULL if none. */
static const char *unfaked_parameter(const struct req *r)
{
    const char *invert = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "invert");
    if (invert != NULL && strcasecmp(invert, "false") != 0)
        return "Bad Request -- this stand-in does not fake invert=true";
    if (MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "time") != NULL)
        return "Bad Request -- this stand-in does not fake historical rates (time=)";
    return NULL;
}

/* pair is what follows RATE_PREFIX: "BTC/USD", or "BTC" for all rates. */
static enum MHD_Result serve_exchangerate(struct req *r, const char *pair)
{
    const char *slash = strchr(pair, '/');
    if (slash != NULL && strchr(slash + 1, '/') != NULL)
        return reply_not_found(r);
    r->base_raw = pair;
    r->base_len = slash ? (size_t)(slash - pair) : strlen(pair);
    r->quote_raw = slash ? slash + 1 : NULL;
    r->quote_len = slash ? strlen(slash + 1) : 0;

    if (r->quote_raw == NULL)
        atomic_fetch_add(&r->srv->grouped, 1);
    const char *problem = key_problem(r);
    if (problem != NULL)
        return reply_error(r, MHD_HTTP_UNAUTHORIZED, "error", problem, NULL, 0);
    if (r->quote_raw == NULL) {
        if ((problem = unfaked_parameter(r)) != NULL) {
            r->why = "unfaked parameter";
            return reply_error(r, MHD_HTTP_BAD_REQUEST, "error", problem, NULL, 0);
        }
    }

    enum fake_mode mode = r->srv->cfg.mode;
    const char *asked = requested_mode(r);
    if (asked != NULL && fake_mode_parse(asked, &mode) < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "Unknown fake mode '%.40s': expected one of " FAKE_MODE_NAMES,
                 asked);
        r->why = "unknown fake mode";
        return reply_error(r, MHD_HTTP_BAD_REQUEST, "error", msg, NULL, 0);
    }
    if (mode == FAKE_FLAP) {
        mode = flap_cycle[atomic_fetch_add(&r->srv->flap_step, 1) % FLAP_STEPS];
        r->via_flap = true;
    }
    if (mode != FAKE_401)
        take_credit(r);
    r->why = modes[mode].why;
    return modes[mode].serve(r);
}

static enum MHD_Result serve_stats(struct req *r)
{
    struct fake_server *s = r->srv;
    enum MHD_Result ret = MHD_NO;
    char *body = NULL;
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL ||
        cJSON_AddNumberToObject(obj, "requests", (double)atomic_load(&s->requests)) == NULL)
        goto out;
    for (size_t i = 0; i < N_STATUS; i++) {
        char name[16];
        snprintf(name, sizeof name, "%u", tracked_status[i]);
        if (cJSON_AddNumberToObject(obj, name, (double)atomic_load(&s->by_status[i])) == NULL)
            goto out;
    }
    if (cJSON_AddNumberToObject(obj, "malformed", (double)atomic_load(&s->malformed)) == NULL ||
        cJSON_AddNumberToObject(obj, "slow", (double)atomic_load(&s->slow)) == NULL ||
        cJSON_AddNumberToObject(obj, "grouped", (double)atomic_load(&s->grouped)) == NULL ||
        cJSON_AddNumberToObject(obj, "rates", (double)atomic_load(&s->rates)) == NULL ||
        cJSON_AddNumberToObject(obj, "dropped", (double)atomic_load(&s->dropped)) == NULL ||
        cJSON_AddNumberToObject(obj, "max_concurrent", (double)atomic_load(&s->max_in_flight)) ==
            NULL)
        goto out;
    body = cJSON_PrintUnformatted(obj);
    if (body == NULL)
        goto out;
    ret = reply(r, MHD_HTTP_OK, body, NULL, 0);
out:
    cJSON_free(body);
    cJSON_Delete(obj);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    static int headers_seen; /* its address marks a request whose headers are in */
    (void)version;
    (void)upload_data;

    /* MHD calls once when the headers are in, again for each piece of a
     * body, and a last time with none. No endpoint takes a body: discard
     * it, and answer on the last call. */
    if (*req_cls == NULL) {
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct req r = {.srv = cls, .conn = conn, .method = method, .url = url, .counted = true};
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if (is_get && strcmp(url, STATS_PATH) == 0) {
        r.counted = false;
        return serve_stats(&r);
    }
    atomic_fetch_add(&r.srv->requests, 1);
    if (!is_get) {
        const struct header allow = {MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_GET};
        r.why = "method";
        return reply_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "error",
                           "Method not allowed: only GET is served", &allow, 1);
    }
    if (strncmp(url, RATE_PREFIX, strlen(RATE_PREFIX)) == 0) {
        unsigned long now = atomic_fetch_add(&r.srv->in_flight, 1) + 1;
        unsigned long max = atomic_load(&r.srv->max_in_flight);
        while (now > max && !atomic_compare_exchange_weak(&r.srv->max_in_flight, &max, now))
            ;
        enum MHD_Result ret = serve_exchangerate(&r, url + strlen(RATE_PREFIX));
        atomic_fetch_sub(&r.srv->in_flight, 1);
        return ret;
    }
    return reply_not_found(&r);
}

/* ---- life cycle --------------------------------------------------------- */

/* MHD's own complaints (bind failures, broken clients) go to our log. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    rc_warn("libmicrohttpd: %s", line);
}

static int start_daemon(struct fake_server *s, char *err, size_t errlen)
{
    /* Loopback by default: this fake should not be reachable from elsewhere
     * unless the caller binds it to a private network on purpose. */
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg.port);
    addr.sin_addr = s->cfg.bind;

    /* One option and its values per line: */
    /* clang-format off */
    s->daemon = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
        /* The logger first, or MHD logs its option parsing to stderr itself. */
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
        MHD_OPTION_END);
    /* clang-format on */
    if (s->daemon == NULL) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &s->cfg.bind, a, sizeof a);
        snprintf(err, errlen, "cannot listen on %s:%u (see the message above)", a, s->cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        snprintf(err, errlen, "cannot tell which port was bound");
        return -1;
    }
    s->port = info->port;
    return 0;
}

struct fake_server *fake_server_new(const struct fake_config *cfg, char *err, size_t errlen)
{
    struct fake_server *s = calloc(1, sizeof *s);
    if (s == NULL || pthread_mutex_init(&s->journal_lock, NULL) != 0) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->walk = fake_walk_new(cfg->seed);
    if (s->walk == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->journal_path != NULL && *cfg->journal_path != '\0') {
        s->journal = fopen(cfg->journal_path, "a");
        if (s->journal == NULL) {
            snprintf(err, errlen, "cannot open journal %s: %s", cfg->journal_path, strerror(errno));
            goto fail;
        }
    }
    if (start_daemon(s, err, errlen) < 0)
        goto fail;
    return s;
fail:
    fake_server_free(s);
    return NULL;
}

unsigned fake_server_port(const struct fake_server *s)
{
    return s->port;
}

void fake_server_free(struct fake_server *s)
{
    if (s == NULL)
        return;
    /* Wake sleepers first: MHD_stop_daemon joins every connection thread. */
    atomic_store(&s->stopping, true);
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    if (s->journal != NULL)
        fclose(s->journal);
    fake_walk_free(s->walk);
    pthread_mutex_destroy(&s->journal_lock);
    free(s);
}
