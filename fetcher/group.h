/* fetch_group: CoinAPI's "all current rates" answer, split into ticks.
 *
 * GET /v1/exchangerate/{BASE}?filter_asset_id=USD,EUR answers
 *   {"asset_id_base":"BTC","rates":[{"time":"...","asset_id_quote":"USD",
 *    "rate":60000.25},...]}
 * fetch_group_parse() turns every wanted quote's entry into the tick the
 * per-pair endpoint would have given, in the same wire format:
 *   {"time":"...","asset_id_base":"BTC","asset_id_quote":"USD","rate":60000.25}
 * with the time, the ids and the rate's digits exactly as CoinAPI sent
 * them (the tick goes through rc_tick_parse, so it meets every rule a
 * per-pair answer meets). Entries for quotes not asked for are ignored.
 *
 * Ownership: the caller owns each item's tick once its state is
 * FETCH_ITEM_OK and frees it with rc_tick_clear (fetch_group_clear does it
 * for all of them).
 */
#ifndef FETCH_GROUP_H
#define FETCH_GROUP_H

#include <stddef.h>

#include "rc_tick.h"

enum fetch_item_state {
    FETCH_ITEM_MISSING, /* no entry for this quote in the answer */
    FETCH_ITEM_OK,      /* tick is set */
    FETCH_ITEM_INVALID, /* an entry, but not a valid rate: see err */
};

struct fetch_group_item {
    enum fetch_item_state state;
    struct rc_tick tick; /* FETCH_ITEM_OK only */
    char err[160];       /* FETCH_ITEM_INVALID only: one line, printable */
};

/* Parse body[0..len), the answer for `base`, into items[i] for quotes[i]
 * (upper case, as rc_pairs gives them), i < n. Returns 0 when the answer
 * as a whole is usable (each item then says what became of its quote), or
 * -1 with a reason in err when it is not (not JSON, too large, no rates
 * array, another base): that verdict applies to every quote, and no item
 * holds a tick. */
int fetch_group_parse(const char *body, size_t len, const char *base, const char *const *quotes,
                      struct fetch_group_item *items, size_t n, char *err, size_t errlen);

/* rc_tick_clear on every item; safe on items that hold no tick. */
void fetch_group_clear(struct fetch_group_item *items, size_t n);

#endif
