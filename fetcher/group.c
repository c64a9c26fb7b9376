/* group.c: CoinAPI's "all current rates" answer, split into ticks. The interface, and who owns
 * what, is in group.h. */
#include "group.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A tick's text is built around the rate's digits; no real rate is
 * anywhere near this long. */
#define RATE_TEXT_MAX 300

void fetch_group_clear(struct fetch_group_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rc_tick_clear(&items[i].tick);
}

/* The time goes back into a JSON string as decoded by cJSON: anything that
 * would need an escape there is refused here (rc_tick_parse then checks
 * the shape). */
static int time_text_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

/* One entry of the rates array, for the quote it names: a tick in the
 * per-pair endpoint's shape and field order, or the reason it is not. */
static void take_entry(struct fetch_group_item *it, const char *base, const cJSON *entry,
                       const char *text, size_t len)
{
    const cJSON *time = cJSON_GetObjectItemCaseSensitive(entry, "time");
    const cJSON *quote = cJSON_GetObjectItemCaseSensitive(entry, "asset_id_quote");
    const char *rate;
    size_t rlen;
    char body[512];
    it->state = FETCH_ITEM_INVALID;
    if (!cJSON_IsString(time) || !time_text_safe(time->valuestring)) {
        snprintf(it->err, sizeof it->err, "field \"time\" is missing or not a plain string");
        return;
    }
    if (rc_json_member_text(text, len, "rate", &rate, &rlen) < 0) {
        snprintf(it->err, sizeof it->err, "field \"rate\" is missing or written with escapes");
        return;
    }
    if (rlen > RATE_TEXT_MAX) {
        snprintf(it->err, sizeof it->err, "field \"rate\" is too long (%zu bytes)", rlen);
        return;
    }
    /* The quote was checked by the caller: an asset id needs no escaping. */
    snprintf(body, sizeof body,
             "{\"time\":\"%s\",\"asset_id_base\":\"%s\",\"asset_id_quote\":\"%s\",\"rate\":%.*s}",
             time->valuestring, base, quote->valuestring, (int)rlen, rate);
    if (rc_tick_parse(&it->tick, body, strlen(body), it->err, sizeof it->err) == 0)
        it->state = FETCH_ITEM_OK;
}

/* The entry's quote if it is one of quotes[0..n): its index, else -1. */
static int wanted(const cJSON *entry, const char *const *quotes, size_t n)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(entry, "asset_id_quote");
    if (!cJSON_IsString(q) || !rc_asset_valid(q->valuestring, strlen(q->valuestring)))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(q->valuestring, quotes[i]) == 0)
            return (int)i;
    return -1;
}

int fetch_group_parse(const char *body, size_t len, const char *base, const char *const *quotes,
                      struct fetch_group_item *items, size_t n, char *err, size_t errlen)
{
    const char *text, *rates_text;
    size_t tlen, rates_len;
    for (size_t i = 0; i < n; i++)
        items[i] = (struct fetch_group_item){.state = FETCH_ITEM_MISSING};
    cJSON *obj = rc_json_parse_object(body, len, RC_TICK_MAX_BODY, &text, &tlen, err, errlen);
    if (obj == NULL)
        return -1;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "asset_id_base");
    const cJSON *rates = cJSON_GetObjectItemCaseSensitive(obj, "rates");
    if (!cJSON_IsString(b) || !rc_asset_valid(b->valuestring, strlen(b->valuestring))) {
        snprintf(err, errlen, "field \"asset_id_base\" is missing or not an asset id");
        goto fail;
    }
    if (strcasecmp(b->valuestring, base) != 0) {
        snprintf(err, errlen, "answer names base %s, not %s", b->valuestring, base);
        goto fail;
    }
    if (cJSON_IsNull(rates)) { /* CoinAPI documents the array as nullable: no rates */
        cJSON_Delete(obj);
        return 0;
    }
    if (!cJSON_IsArray(rates) ||
        rc_json_member_text(text, tlen, "rates", &rates_text, &rates_len) < 0) {
        snprintf(err, errlen, "field \"rates\" is missing, not an array or written with escapes");
        goto fail;
    }
    /* cJSON's elements and the raw text's come in the same order. */
    size_t pos = 0;
    const char *etext;
    size_t elen;
    for (const cJSON *e = rates->child;
         e && rc_json_array_next(rates_text, rates_len, &pos, &etext, &elen); e = e->next) {
        int i = cJSON_IsObject(e) ? wanted(e, quotes, n) : -1;
        if (i < 0)
            continue; /* a quote not asked for */
        if (items[i].state != FETCH_ITEM_MISSING) {
            rc_tick_clear(&items[i].tick);
            items[i].state = FETCH_ITEM_INVALID;
            snprintf(items[i].err, sizeof items[i].err, "more than one rate for this quote");
            continue;
        }
        take_entry(&items[i], b->valuestring, e, etext, elen);
    }
    cJSON_Delete(obj);
    return 0;
fail:
    cJSON_Delete(obj);
    return -1;
}
