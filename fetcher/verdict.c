/* verdict.c: what one CoinAPI answer means. The interface, and who owns what, is in
 * verdict.h. */
#include "verdict.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* As much of CoinAPI's words (or of a parser's reason) as a log line
 * carries. */
#define WORDS_MAX 300
/* CoinAPI's quota is a day; a longer pause is a misread header. */
#define PAUSE_MAX_S 86400
/* What to wait when no header says how long. */
#define PAUSE_DEFAULT_S 60

/* The statuses with a meaning of their own; other 5xx are SERVER_ERROR,
 * everything else but 200 OTHER. */
static const struct {
    long status;
    enum fetch_verdict_kind kind;
} status_kind[] = {
    {401, FETCH_VERDICT_BAD_KEY},
    {403, FETCH_VERDICT_NO_PERMISSION},
    {429, FETCH_VERDICT_PAUSE},
    {550, FETCH_VERDICT_NO_DATA},
};

static enum fetch_verdict_kind kind_of(long status)
{
    for (size_t i = 0; i < sizeof status_kind / sizeof status_kind[0]; i++)
        if (status_kind[i].status == status)
            return status_kind[i].kind;
    return status >= 500 ? FETCH_VERDICT_SERVER_ERROR : FETCH_VERDICT_OTHER;
}

/* Copy src[0..n) into out as one printable line, cut to fit outlen, with
 * control characters replaced by spaces and every occurrence of secret
 * (when not empty) by "***": replaced before cutting, so that no part of
 * it survives at the cut either. */
static void copy_line(char *out, size_t outlen, const char *src, size_t n, const char *secret)
{
    size_t slen = secret ? strlen(secret) : 0, o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen;) {
        if (slen && n - i >= slen && memcmp(src + i, secret, slen) == 0) {
            for (int k = 0; k < 3 && o + 1 < outlen; k++)
                out[o++] = '*';
            i += slen;
            continue;
        }
        out[o++] = (src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
        i++;
    }
    out[o] = '\0';
}

/* CoinAPI's own words from an error body: the "error" or "message" string,
 * else the start of the body. */
static void error_text(const char *body, size_t len, const char *secret, char *out, size_t outlen)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (!cJSON_IsString(msg))
        msg = cJSON_GetObjectItemCaseSensitive(j, "message");
    const char *src = cJSON_IsString(msg) ? msg->valuestring : body;
    size_t n = cJSON_IsString(msg) ? strlen(src) : len;
    if (n == 0)
        snprintf(out, outlen, "(empty body)");
    else
        copy_line(out, outlen, src, n, secret);
    cJSON_Delete(j);
}

/* A text this module wrote around words from elsewhere (a parser's reason,
 * libcurl's error), made safe to log in place. */
static void make_safe(char *s, size_t cap, const char *secret)
{
    char raw[FETCH_VERDICT_TEXT];
    snprintf(raw, sizeof raw, "%s", s);
    copy_line(s, cap, raw, strlen(raw), secret);
}

/* How long to ask nothing: Retry-After, else until the rate-limit reset,
 * else a minute. */
static void set_pause(struct fetch_pause *p, long retry_after, int64_t reset, int64_t now_s,
                      const char *reason)
{
    int64_t secs = retry_after > 0 ? retry_after : 0;
    p->source = "Retry-After";
    if (secs == 0 && reset > 0) {
        secs = reset - now_s;
        p->source = "X-RateLimit-Reset";
    }
    if (secs <= 0 || secs > PAUSE_MAX_S) {
        secs = PAUSE_DEFAULT_S;
        p->source = "no usable Retry-After";
    }
    p->secs = secs;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
}

/* A 200 from the per-pair endpoint: its tick, for that pair only. */
static void read_pair(struct fetch_verdict *v, const struct fetch_answer *a, const char *base,
                      const char *quote, struct fetch_group_item *item, const char *secret)
{
    char why[WORDS_MAX];
    if (rc_tick_parse(&item->tick, a->body, a->len, why, sizeof why) < 0) {
        v->kind = FETCH_VERDICT_INVALID;
        snprintf(v->text, sizeof v->text, "invalid answer dropped: %s", why);
    } else if (strcasecmp(item->tick.base, base) != 0 || strcasecmp(item->tick.quote, quote) != 0) {
        v->kind = FETCH_VERDICT_INVALID;
        snprintf(v->text, sizeof v->text, "answer names %s/%s: dropped", item->tick.base,
                 item->tick.quote);
        rc_tick_clear(&item->tick);
    } else {
        item->state = FETCH_ITEM_OK;
        return;
    }
    make_safe(v->text, sizeof v->text, secret);
}

/* A 200 from the all-rates endpoint: an item per quote, each of which may
 * be missing or invalid on its own. */
static void read_group(struct fetch_verdict *v, const struct fetch_answer *a, const char *base,
                       const char *const *quotes, size_t n, struct fetch_group_item *items,
                       const char *secret)
{
    char why[WORDS_MAX];
    if (fetch_group_parse(a->body, a->len, base, quotes, items, n, why, sizeof why) < 0) {
        v->kind = FETCH_VERDICT_INVALID;
        snprintf(v->text, sizeof v->text, "invalid answer dropped: %s", why);
        make_safe(v->text, sizeof v->text, secret);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].state == FETCH_ITEM_INVALID)
            make_safe(items[i].err, sizeof items[i].err, secret);
}

void fetch_verdict_judge(const struct fetch_answer *a, const char *base, const char *const *quotes,
                         size_t n, int64_t now_s, const char *secret, struct fetch_verdict *v,
                         struct fetch_group_item *items)
{
    char words[WORDS_MAX];
    *v = (struct fetch_verdict){.kind = FETCH_VERDICT_TICK,
                                .status = a->transport_error ? 0 : a->status,
                                .request_cost = a->request_cost,
                                .ratelimit_remaining = a->ratelimit_remaining};
    for (size_t i = 0; i < n; i++)
        items[i] = (struct fetch_group_item){.state = FETCH_ITEM_MISSING};
    if (a->transport_error) {
        v->kind = FETCH_VERDICT_TRANSPORT;
        copy_line(v->text, sizeof v->text, a->err, strnlen(a->err, sizeof a->err), secret);
    } else if (a->status != 200) {
        /* The status decides, whatever the body's size: a cut-off error
         * body still starts with CoinAPI's words. */
        v->kind = kind_of(a->status);
        error_text(a->body, a->len, secret, words, sizeof words);
        snprintf(v->text, sizeof v->text, "%s", words);
        if (v->kind == FETCH_VERDICT_PAUSE)
            set_pause(&v->pause, a->retry_after, a->ratelimit_reset, now_s, words);
    } else {
        /* Spent the quota: wait for the reset rather than collect 429s.
         * Retry-After belongs to a 429 and is not read here. */
        if (a->ratelimit_remaining == 0 && a->ratelimit_reset > 0)
            set_pause(&v->pause, -1, a->ratelimit_reset, now_s, "X-RateLimit-Remaining is 0");
        if (a->too_large) {
            v->kind = FETCH_VERDICT_TOO_LARGE;
            snprintf(v->text, sizeof v->text, "answer larger than %d bytes: dropped",
                     RC_TICK_MAX_BODY);
        } else if (n == 1) {
            read_pair(v, a, base, quotes[0], &items[0], secret);
        } else {
            read_group(v, a, base, quotes, n, items, secret);
        }
    }
}
