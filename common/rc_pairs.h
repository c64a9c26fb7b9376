/* rc_pairs: "BTC/USD,ETH/USD" lists of currency pairs, as given to
 * `fetcher --pairs` and to the stream's ?pairs= filter. */
#ifndef RC_PAIRS_H
#define RC_PAIRS_H

#include <stddef.h>

#include "rc_tick.h"

#define RC_PAIRS_MAX 64

struct rc_pair {
    char base[RC_ASSET_MAX + 1];  /* upper case */
    char quote[RC_ASSET_MAX + 1]; /* upper case */
};

/* Parse a comma-separated list of BASE/QUOTE into out[max]. Asset ids are
 * upper-cased; blanks around items are ignored; duplicates are dropped.
 * Returns the number of pairs (>= 1), or -1 with a reason in err. */
int rc_pairs_parse(const char *s, struct rc_pair *out, size_t max, char *err, size_t errlen);

#endif
