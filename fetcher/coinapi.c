/* coinapi.c: the CoinAPI REST client (libcurl multi). The interface, and who owns what, is in
 * coinapi.h. */
#include "coinapi.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"
#include "rc_tick.h"
#include "rc_time.h"

/* Room for the base URL (500), the path and 64 quotes of 32 characters. */
#define URL_MAX 3072

/* One request: its easy handle, what it asks for, where its answer goes. */
struct request {
    struct fetch_coinapi *c;
    CURL *curl;
    struct fetch_plan plan;
    char url[URL_MAX];
    char errbuf[CURL_ERROR_SIZE];
    char *body; /* RC_TICK_MAX_BODY + 1 bytes */
    size_t len;
    int too_large;
    struct fetch_answer ans; /* the last answer, as it came */
};

struct fetch_coinapi {
    CURLM *multi;
    struct curl_slist *headers; /* holds the key: wiped and freed with the client */
    char *key;
    struct request *req;
    size_t n;
    struct rc_pair pairs[RC_PAIRS_MAX]; /* as given: the quotes each answer is judged for */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct request *r = userp;
    size_t n = size * nmemb;
    if (r->len + n > RC_TICK_MAX_BODY) {
        /* Returning short aborts the transfer: no tick is this big. */
        r->too_large = 1;
        return 0;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return n;
}

/* Verbose output at debug level, one log line per line of libcurl's, with
 * the key replaced: CURLOPT_VERBOSE would print the header as sent. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
    (void)h;
    struct fetch_coinapi *c = userp;
    static const char *const tag[] = {"*", "<", ">"};
    if (type > CURLINFO_HEADER_OUT)
        return 0; /* bodies and TLS data: not useful in a log */
    char line[1024];
    size_t start = 0;
    while (start < size) {
        size_t end = start;
        while (end < size && data[end] != '\n' && data[end] != '\r')
            end++;
        size_t len = end - start < sizeof line - 1 ? end - start : sizeof line - 1;
        memcpy(line, data + start, len);
        line[len] = '\0';
        char *k = strstr(line, c->key);
        if (strncasecmp(line, "X-CoinAPI-Key:", 14) == 0)
            snprintf(line + 14, sizeof line - 14, " ***");
        else if (k) /* anywhere else, too (it never should be) */
            snprintf(k, sizeof line - (size_t)(k - line), "***");
        if (len)
            rc_debug("curl %s %s", tag[type], line);
        start = end + 1;
    }
    return 0;
}

/* Check the base URL with libcurl's own parser: http(s) only. */
static int check_base_url(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    int rc = -1;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        snprintf(err, errlen, "COIN_API_URL '%s' is not a valid URL", url);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(err, errlen, "COIN_API_URL must be http:// or https://, not %s://", scheme);
        goto out;
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

size_t fetch_coinapi_plan(const struct rc_pair *pairs, size_t n, struct fetch_plan *plans)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < np && strcmp(plans[k].base, pairs[i].base) != 0)
            k++;
        if (k == np) {
            plans[np].n = 0;
            memcpy(plans[np++].base, pairs[i].base, sizeof plans[k].base);
        }
        plans[k].pair[plans[k].n++] = i;
    }
    return np;
}

/* The per-pair endpoint for one quote, else the all-rates endpoint
 * filtered to the quotes wanted (CoinAPI takes them comma-separated; no
 * `invert`, so every rate is BASE/QUOTE like the per-pair answer). Asset
 * ids are validated [A-Za-z0-9_], so they need no escaping. */
static void build_url(struct request *r, const char *base, size_t blen, const struct rc_pair *pairs)
{
    const struct fetch_plan *p = &r->plan;
    int n = snprintf(r->url, sizeof r->url, "%.*s/v1/exchangerate/%s", (int)blen, base, p->base);
    if (p->n == 1) {
        snprintf(r->url + n, sizeof r->url - (size_t)n, "/%s", pairs[p->pair[0]].quote);
        return;
    }
    for (size_t i = 0; i < p->n; i++)
        n += snprintf(r->url + n, sizeof r->url - (size_t)n, "%s%s",
                      i ? "," : "?filter_asset_id=", pairs[p->pair[i]].quote);
}

static int setup_request(struct fetch_coinapi *c, struct request *r, const char *base, size_t blen,
                         const struct rc_pair *pairs, const struct fetch_coinapi_config *cfg)
{
    r->c = c;
    if ((r->body = malloc(RC_TICK_MAX_BODY + 1)) == NULL || (r->curl = curl_easy_init()) == NULL)
        return -1;
    build_url(r, base, blen, pairs);
    CURL *h = r->curl;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ratecast-fetcher/0.1");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L); /* prefer multiplexing on one HTTP/2 connection */
    if (cfg->verbose) {
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, c);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    }
    return 0;
}

struct fetch_coinapi *fetch_coinapi_new(const struct fetch_coinapi_config *cfg,
                                        const struct rc_pair *pairs, size_t n, char *err,
                                        size_t errlen)
{
    char hdr[512];
    struct fetch_coinapi *c = calloc(1, sizeof *c);
    if (c == NULL)
        goto oom;
    if (check_base_url(cfg->base_url, err, errlen) < 0)
        goto fail;
    size_t blen = strlen(cfg->base_url);
    while (blen > 0 && cfg->base_url[blen - 1] == '/')
        blen--;
    if (blen > 500) {
        snprintf(err, errlen, "COIN_API_URL is too long");
        goto fail;
    }
    if (strlen(cfg->key) > 256 || strpbrk(cfg->key, "\r\n") != NULL) {
        snprintf(err, errlen, "COIN_API_KEY is malformed (too long or contains a line break)");
        goto fail;
    }
    if ((c->key = strdup(cfg->key)) == NULL)
        goto oom;
    snprintf(hdr, sizeof hdr, "X-CoinAPI-Key: %s", cfg->key);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    explicit_bzero(hdr, sizeof hdr);
    if (h == NULL || (c->headers = curl_slist_append(h, "Accept: application/json")) == NULL) {
        curl_slist_free_all(h);
        goto oom;
    }
    if (n == 0 || n > RC_PAIRS_MAX) {
        snprintf(err, errlen, "1 to %d pairs, not %zu", RC_PAIRS_MAX, n);
        goto fail;
    }
    memcpy(c->pairs, pairs, n * sizeof *pairs);
    struct fetch_plan plans[RC_PAIRS_MAX];
    size_t nreq = fetch_coinapi_plan(pairs, n, plans);
    if ((c->multi = curl_multi_init()) == NULL || (c->req = calloc(nreq, sizeof *c->req)) == NULL)
        goto oom;
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    c->n = nreq;
    for (size_t i = 0; i < nreq; i++) {
        c->req[i].plan = plans[i];
        if (setup_request(c, &c->req[i], cfg->base_url, blen, pairs, cfg) < 0)
            goto oom;
    }
    return c;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    fetch_coinapi_free(c);
    return NULL;
}

void fetch_coinapi_free(struct fetch_coinapi *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->req[i].curl)
            curl_easy_cleanup(c->req[i].curl);
        free(c->req[i].body);
    }
    free(c->req);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->headers) {
        /* Wipe the key before giving memory back. */
        explicit_bzero(c->headers->data, strlen(c->headers->data));
        curl_slist_free_all(c->headers);
    }
    if (c->key) {
        explicit_bzero(c->key, strlen(c->key));
        free(c->key);
    }
    free(c);
}

/* X-RateLimit-Reset is an ISO 8601 UTC time at CoinAPI. */
static int64_t header_time(CURL *h, const char *name)
{
    struct curl_header *hd;
    struct tm tm = {0};
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK ||
        strptime(hd->value, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return 0;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? 0 : (int64_t)t;
}

static long header_long(CURL *h, const char *name)
{
    struct curl_header *hd;
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
        return -1;
    char *end;
    long v = strtol(hd->value, &end, 10);
    return end == hd->value || v < 0 ? -1 : v;
}

static void collect(struct request *r, CURLcode rc, struct fetch_answer *a)
{
    memset(a, 0, sizeof *a);
    a->retry_after = -1;
    a->ratelimit_remaining = -1;
    a->request_cost = -1;
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->too_large)) {
        a->transport_error = 1;
        snprintf(a->err, sizeof a->err, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        return;
    }
    curl_off_t retry = -1;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &a->status);
    if (curl_easy_getinfo(r->curl, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
        a->retry_after = (long)retry;
    a->ratelimit_remaining = header_long(r->curl, "X-RateLimit-Remaining");
    a->ratelimit_reset = header_time(r->curl, "X-RateLimit-Reset");
    a->request_cost = header_long(r->curl, "X-RateLimit-Request-Cost");
    r->body[r->len] = '\0';
    a->body = r->body;
    a->len = r->len;
    a->too_large = r->too_large;
}

size_t fetch_coinapi_requests(const struct fetch_coinapi *c)
{
    return c->n;
}

const struct fetch_plan *fetch_coinapi_request(const struct fetch_coinapi *c, size_t i)
{
    return &c->req[i].plan;
}

/* The answer as it came into r->ans, then what it means into *v and the
 * items of r's pairs into got. */
static void judge(struct fetch_coinapi *c, struct request *r, int64_t now_s,
                  struct fetch_verdict *v, struct fetch_group_item *got)
{
    const struct fetch_plan *p = &r->plan;
    const char *quotes[RC_PAIRS_MAX];
    struct fetch_group_item items[RC_PAIRS_MAX];
    for (size_t i = 0; i < p->n; i++)
        quotes[i] = c->pairs[p->pair[i]].quote;
    fetch_verdict_judge(&r->ans, p->base, quotes, p->n, now_s, c->key, v, items);
    if (v->kind != FETCH_VERDICT_TICK)
        return; /* no item holds a tick */
    for (size_t i = 0; i < p->n; i++)
        got[p->pair[i]] = items[i]; /* the tick moves over */
}

void fetch_coinapi_get_all(struct fetch_coinapi *c, struct fetch_verdict *out,
                           struct fetch_group_item *got)
{
    for (size_t i = 0; i < c->n; i++) {
        struct request *r = &c->req[i];
        /* Overwritten when the request completes; stays if libcurl fails. */
        r->ans = (struct fetch_answer){.transport_error = 1,
                                       .err = "request did not complete",
                                       .retry_after = -1,
                                       .ratelimit_remaining = -1,
                                       .request_cost = -1};
        r->len = 0;
        r->too_large = 0;
        r->errbuf[0] = '\0';
        curl_easy_setopt(r->curl, CURLOPT_PRIVATE, r);
        curl_multi_add_handle(c->multi, r->curl);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(c->multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(c->multi, NULL, 0, 100, NULL);
    }
    CURLMsg *m;
    int left;
    /* Every request either completed or was cut by its own timeout. */
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct request *r;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        collect(r, m->data.result, &r->ans);
    }
    int64_t now_s = rc_real_us() / 1000000; /* X-RateLimit-Reset is wall-clock time */
    for (size_t i = 0; i < c->n; i++) {
        curl_multi_remove_handle(c->multi, c->req[i].curl);
        judge(c, &c->req[i], now_s, &out[i], got);
    }
}
