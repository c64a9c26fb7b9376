#include "coinapi.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_tick.h"

struct fetch_coinapi {
    CURL *curl;
    struct curl_slist *headers; /* holds the key: freed with the client */
    char base[512];
    char errbuf[CURL_ERROR_SIZE];
    char *body; /* RC_TICK_MAX_BODY + 1 bytes */
    size_t len;
    int too_large;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct fetch_coinapi *c = userp;
    size_t n = size * nmemb;
    if (c->len + n > RC_TICK_MAX_BODY) {
        /* Returning short aborts the transfer: no tick is this big. */
        c->too_large = 1;
        return 0;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    return n;
}

/* Check the base URL with libcurl's own parser: http(s) only, no query. */
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

struct fetch_coinapi *fetch_coinapi_new(const char *base_url, const char *key, int64_t timeout_ms,
                                        char *err, size_t errlen)
{
    struct fetch_coinapi *c = calloc(1, sizeof *c);
    char hdr[512];
    if (c == NULL || (c->body = malloc(RC_TICK_MAX_BODY + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (check_base_url(base_url, err, errlen) < 0)
        goto fail;
    size_t blen = strlen(base_url);
    while (blen > 0 && base_url[blen - 1] == '/')
        blen--;
    if (blen >= sizeof c->base - 100) {
        snprintf(err, errlen, "COIN_API_URL is too long");
        goto fail;
    }
    memcpy(c->base, base_url, blen);
    if (strlen(key) > 256 || strpbrk(key, "\r\n") != NULL) {
        snprintf(err, errlen, "COIN_API_KEY is malformed (too long or contains a line break)");
        goto fail;
    }
    snprintf(hdr, sizeof hdr, "X-CoinAPI-Key: %s", key);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    explicit_bzero(hdr, sizeof hdr);
    if (h == NULL || (c->headers = curl_slist_append(h, "Accept: application/json")) == NULL) {
        curl_slist_free_all(h);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((c->curl = curl_easy_init()) == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        goto fail;
    }
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for DNS timeouts */
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "ratecast-fetcher/0.1");
    curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl supports */
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    return c;
fail:
    fetch_coinapi_free(c);
    return NULL;
}

void fetch_coinapi_free(struct fetch_coinapi *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->headers) {
        /* Wipe the key from the header list before giving memory back. */
        explicit_bzero(c->headers->data, strlen(c->headers->data));
        curl_slist_free_all(c->headers);
    }
    free(c->body);
    free(c);
}

int fetch_coinapi_get(struct fetch_coinapi *c, const struct rc_pair *p, struct fetch_answer *ans,
                      char *err, size_t errlen)
{
    char url[700];
    /* Asset ids are validated [A-Za-z0-9_], so they need no escaping. */
    snprintf(url, sizeof url, "%s/v1/exchangerate/%s/%s", c->base, p->base, p->quote);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    c->len = 0;
    c->too_large = 0;
    c->errbuf[0] = '\0';

    CURLcode rc = curl_easy_perform(c->curl);
    memset(ans, 0, sizeof *ans);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && c->too_large)) {
        snprintf(err, errlen, "%s/%s: %s", p->base, p->quote,
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return -1;
    }
    curl_off_t retry = -1;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &ans->status);
    if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry) != CURLE_OK || retry <= 0)
        retry = -1;
    c->body[c->len] = '\0';
    ans->body = c->body;
    ans->len = c->len;
    ans->too_large = c->too_large;
    ans->retry_after = (long)retry;
    return 0;
}

void fetch_coinapi_error_text(const char *body, size_t len, char *out, size_t outlen)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (!cJSON_IsString(msg))
        msg = cJSON_GetObjectItemCaseSensitive(j, "message");
    const char *src = cJSON_IsString(msg) ? msg->valuestring : body;
    size_t n = cJSON_IsString(msg) ? strlen(src) : len;
    if (n == 0) {
        snprintf(out, outlen, "(empty body)");
    } else {
        size_t i = 0;
        for (; i < n && i + 1 < outlen; i++) /* keep log lines single and printable */
            out[i] = (src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
        out[i] = '\0';
    }
    cJSON_Delete(j);
}
