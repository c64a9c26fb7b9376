/* walk.c: the fake exchange rates, one random walk per asset pair. The interface, and who owns
 * what, is in walk.h. */
#include "walk.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A few dozen pairs is far more than any test asks for. When the table is
 * full the oldest pair is forgotten and its walk simply starts again: a
 * fixed-size table keeps a long demo run from growing without bound. */
#define WALK_PAIRS 64

/* Largest relative move per request (0.05 %): small enough that a chart of
 * the demo looks like a market, large enough that consecutive ticks differ. */
#define WALK_STEP 0.0005

/* Starting points spread by up to this fraction, so two runs with different
 * seeds do not begin on the same round number. */
#define WALK_START_SPREAD 0.01

/* A double holds 15 to 17 significant decimal digits; print 19. */
#define RATE_SIG_DIGITS 19

/* No real rate is this small; it only guards against underflow on an
 * absurdly long unlucky walk. */
#define RATE_FLOOR 1e-12

struct pair {
    char base[FAKE_ASSET_MAX + 1];
    char quote[FAKE_ASSET_MAX + 1];
    double rate;
};

struct fake_walk {
    pthread_mutex_t lock;
    uint64_t rng;      /* splitmix64 state */
    size_t used;       /* filled slots in pairs[] */
    size_t next_evict; /* slot to reuse when the table is full */
    struct pair pairs[WALK_PAIRS];
};

/* Plausible starting rates for the pairs people try first; anything else
 * starts near 1. */
static const struct {
    const char *base, *quote;
    double rate;
} known_starts[] = {
    {"BTC", "USD", 60000.0}, {"ETH", "USD", 3000.0}, {"BTC", "EUR", 55000.0},
    {"ETH", "EUR", 2750.0},  {"ETH", "BTC", 0.05},
};

/* splitmix64: tiny, fast and good enough for a fake market; unlike rand()
 * its state is ours, so the sequence depends only on --seed. */
static uint64_t next_u64(struct fake_walk *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static double next_signed_unit(struct fake_walk *w)
{
    return (double)(next_u64(w) >> 11) * 0x1.0p-52 - 1.0;
}

struct fake_walk *fake_walk_new(uint64_t seed)
{
    struct fake_walk *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return NULL;
    }
    w->rng = seed;
    return w;
}

void fake_walk_free(struct fake_walk *w)
{
    if (w == NULL)
        return;
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static double start_rate(struct fake_walk *w, const char *base, const char *quote)
{
    double rate = 1.0;
    for (size_t i = 0; i < sizeof known_starts / sizeof known_starts[0]; i++) {
        if (strcmp(known_starts[i].base, base) == 0 && strcmp(known_starts[i].quote, quote) == 0)
            rate = known_starts[i].rate;
    }
    return rate * (1.0 + WALK_START_SPREAD * next_signed_unit(w));
}

/* Find the pair's slot, creating (or recycling) one on first use.
 * Called with the lock held. */
static struct pair *find_pair(struct fake_walk *w, const char *base, const char *quote)
{
    for (size_t i = 0; i < w->used; i++) {
        struct pair *p = &w->pairs[i];
        if (strcmp(p->base, base) == 0 && strcmp(p->quote, quote) == 0)
            return p;
    }
    struct pair *p;
    if (w->used < WALK_PAIRS) {
        p = &w->pairs[w->used++];
    } else {
        p = &w->pairs[w->next_evict];
        w->next_evict = (w->next_evict + 1) % WALK_PAIRS;
    }
    snprintf(p->base, sizeof p->base, "%s", base);
    snprintf(p->quote, sizeof p->quote, "%s", quote);
    p->rate = start_rate(w, base, quote);
    return p;
}

/* Print RATE_SIG_DIGITS significant digits in plain notation: glibc prints
 * the exact binary value, so the digits past the 17th are real digits of
 * this double that no shortest-round-trip printer (cJSON, %.17g) would
 * write back. */
static int format_rate(double rate, char *out, size_t outlen)
{
    int exp10 = (int)floor(log10(rate));
    int decimals = RATE_SIG_DIGITS - 1 - exp10;
    if (decimals < 1)
        decimals = 1;
    if (decimals > 40)
        decimals = 40;
    int n = snprintf(out, outlen, "%.*f", decimals, rate);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int fake_walk_next(struct fake_walk *w, const char *base, const char *quote, char *out,
                   size_t outlen)
{
    pthread_mutex_lock(&w->lock);
    struct pair *p = find_pair(w, base, quote);
    /* A multiplicative step keeps the rate positive and its relative
     * volatility the same for BTC/USD and for a pair near 1. */
    p->rate *= 1.0 + WALK_STEP * next_signed_unit(w);
    if (p->rate < RATE_FLOOR)
        p->rate = RATE_FLOOR;
    double rate = p->rate;
    pthread_mutex_unlock(&w->lock);
    return format_rate(rate, out, outlen);
}
