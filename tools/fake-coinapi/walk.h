/* walk: the fake exchange rates, one random walk per asset pair.
 *
 * Each call to fake_walk_next() moves the pair's rate by a small random
 * relative step and writes it as decimal text. The text deliberately carries
 * more significant digits than a double can hold (CoinAPI's own rates do
 * too), so a consumer that parses the number and prints it again produces a
 * different string: tests use that to prove the project forwards CoinAPI's
 * digits untouched.
 *
 * The walk is reproducible: the same seed and the same sequence of requests
 * give the same rates. It is safe to call from several threads at once (one
 * internal mutex); the order between threads is then whatever the scheduler
 * picks.
 *
 * Ownership: fake_walk_new() returns a walk the caller frees with
 * fake_walk_free() (NULL is accepted). Nothing else is allocated.
 */
#ifndef FAKE_WALK_H
#define FAKE_WALK_H

#include <stddef.h>
#include <stdint.h>

/* Longest asset id the walk remembers ("BTC", "USDT", ...). */
#define FAKE_ASSET_MAX 32

struct fake_walk;

struct fake_walk *fake_walk_new(uint64_t seed);
void fake_walk_free(struct fake_walk *w);

/* Step the walk of base/quote (at most FAKE_ASSET_MAX characters each,
 * compared exactly: pass them uppercased) and write the new rate, always
 * > 0, into out as a JSON number without exponent. Returns 0, or -1 when
 * out is too small (64 bytes is always enough). */
int fake_walk_next(struct fake_walk *w, const char *base, const char *quote, char *out,
                   size_t outlen);

#endif
