/* sse-load: the analysis, in the parent after the workers exit. Two passes over every
 * worker's records: counts, ids and latency samples first, then which reference ids each
 * client missed; the result is struct report (sse_load.h defines the terms). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sse_load.h"

/* Events first seen this close to the stop may not have reached every client yet: at least
 * this long, or the highest latency seen if that is longer. */
static const int64_t STOP_GRACE_US = 1000000;
/* Past this, the per-client miss bitmaps would be too big: misses are not computed. */
static const size_t MISS_BITMAP_MAX = (size_t)512 << 20;

struct client_acc {
    uint64_t first_id, max_id;
    uint32_t events, dups;
    uint32_t warm; /* events after all-connected left out of latency (--warmup-events) */
    bool has_id;
};

struct idinfo {
    uint64_t id;
    int64_t min_recv, max_recv;
    bool used;
};

/* Distinct event ids, open addressing: there are few (one per event published), but they
 * are the producer's, so not necessarily dense. */
struct idmap {
    struct idinfo *slot;
    size_t cap, count;
};

static size_t id_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static struct idinfo *idmap_get(struct idmap *m, uint64_t id)
{
    if (m->count * 2 >= m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        struct idinfo *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slot[i].used)
                continue;
            size_t j = id_hash(m->slot[i].id) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->slot[i];
        }
        free(m->slot);
        m->slot = ns;
        m->cap = ncap;
    }
    size_t j = id_hash(id) & (m->cap - 1);
    while (m->slot[j].used && m->slot[j].id != id)
        j = (j + 1) & (m->cap - 1);
    if (!m->slot[j].used) {
        m->slot[j] =
            (struct idinfo){.id = id, .min_recv = INT64_MAX, .max_recv = INT64_MIN, .used = true};
        m->count++;
    }
    return &m->slot[j];
}

struct analysis {
    const struct run *run;
    int64_t from_us; /* all-connected; INT64_MAX if never: then nothing is measured */
    struct client_acc *clients;
    struct idmap ids;
    int64_t *lat; /* latency samples, us */
    size_t nlat, lat_cap;
    int64_t max_lat_us; /* the highest latency after all-connected, warm-up included */
    int64_t cutoff_us;  /* reference ids were first seen before this */
    struct idinfo *ref; /* the reference set, sorted by id */
    size_t nref, words;
    uint64_t *bits; /* per client, which reference ids it received */
    unsigned long long events, duplicates, bad_records;
    bool oom;
};

typedef void (*record_fn)(struct analysis *, const struct record *);

static void for_each_record(struct analysis *a, record_fn fn)
{
    struct record blk[4096];
    for (unsigned p = 0; p < a->run->cfg->procs; p++) {
        FILE *f = a->run->recs[p];
        rewind(f);
        size_t n;
        while ((n = fread(blk, sizeof blk[0], sizeof blk / sizeof blk[0], f)) > 0)
            for (size_t i = 0; i < n; i++) {
                if (blk[i].client >= a->run->cfg->clients) {
                    a->bad_records++;
                    continue;
                }
                fn(a, &blk[i]);
            }
    }
}

static void push_sample(struct analysis *a, int64_t lat_us)
{
    if (a->nlat == a->lat_cap) {
        size_t ncap = a->lat_cap ? a->lat_cap * 2 : 65536;
        int64_t *nl = realloc(a->lat, ncap * sizeof *nl);
        if (nl == NULL) {
            a->oom = true;
            return;
        }
        a->lat = nl;
        a->lat_cap = ncap;
    }
    a->lat[a->nlat++] = lat_us;
}

/* Pass 1: counts per client, duplicates, latency samples, and when each id was seen. */
static void pass_counts(struct analysis *a, const struct record *r)
{
    struct client_acc *c = &a->clients[r->client];
    c->events++;
    a->events++;
    /* A client's records are in the order it read them: its first events come first. */
    if ((r->flags & R_TIME) && r->ev_us > a->from_us) {
        if (r->recv_us - r->ev_us > a->max_lat_us)
            a->max_lat_us = r->recv_us - r->ev_us;
        if (c->warm < a->run->cfg->warmup)
            c->warm++;
        else
            push_sample(a, r->recv_us - r->ev_us);
    }
    if (!(r->flags & R_ID))
        return;
    if (c->has_id && r->id <= c->max_id) {
        c->dups++;
        a->duplicates++;
    } else {
        if (!c->has_id)
            c->first_id = r->id;
        c->has_id = true;
        c->max_id = r->id;
    }
    struct idinfo *e = idmap_get(&a->ids, r->id);
    if (e == NULL) {
        a->oom = true;
        return;
    }
    if (r->recv_us < e->min_recv)
        e->min_recv = r->recv_us;
    if (r->recv_us > e->max_recv)
        e->max_recv = r->recv_us;
}

static int cmp_idinfo(const void *x, const void *y)
{
    const struct idinfo *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

/* The first reference index whose id is >= id. */
static size_t ref_lower(const struct analysis *a, uint64_t id)
{
    size_t lo = 0, hi = a->nref;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->ref[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static long ref_index(const struct analysis *a, uint64_t id)
{
    size_t k = ref_lower(a, id);
    return k < a->nref && a->ref[k].id == id ? (long)k : -1;
}

/* The reference set: ids received by someone after all-connected, and not first seen so
 * close to the stop that some client may not have had it yet. The latency spread between
 * clients is below the highest latency, so waiting that long is enough. */
static bool build_reference(struct analysis *a)
{
    const struct run *run = a->run;
    a->ref = malloc((a->ids.count + 1) * sizeof *a->ref);
    if (a->ref == NULL)
        return false;
    a->cutoff_us = run->t_stop_us - (a->max_lat_us > STOP_GRACE_US ? a->max_lat_us : STOP_GRACE_US);
    for (size_t i = 0; i < a->ids.cap; i++) {
        const struct idinfo *e = &a->ids.slot[i];
        if (e->used && e->max_recv > a->from_us && e->min_recv < a->cutoff_us)
            a->ref[a->nref++] = *e;
    }
    qsort(a->ref, a->nref, sizeof *a->ref, cmp_idinfo);
    return true;
}

/* Pass 2: which reference ids each client received. */
static void pass_bits(struct analysis *a, const struct record *r)
{
    if (!(r->flags & R_ID))
        return;
    long k = ref_index(a, r->id);
    if (k >= 0)
        a->bits[(size_t)r->client * a->words + (size_t)k / 64] |= 1ULL << (k % 64);
}

/* A client's misses: reference ids after its first event (a client with no event at all,
 * held to the end, should have had every id first seen after all-connected), up to the
 * newest reference id, or its own last id if its stream dropped. */
static unsigned long long client_misses(const struct analysis *a, unsigned i)
{
    const struct client_acc *c = &a->clients[i];
    const uint64_t *bits = a->bits + (size_t)i * a->words;
    bool held = a->run->held[i];
    if (a->nref == 0 || (!held && !c->has_id))
        return 0;
    uint64_t hi = held ? a->ref[a->nref - 1].id : c->max_id;
    unsigned long long miss = 0;
    size_t k = 0;
    if (c->has_id) {
        if (c->first_id == UINT64_MAX)
            return 0;
        k = ref_lower(a, c->first_id + 1);
    }
    for (; k < a->nref && a->ref[k].id <= hi; k++) {
        if (!c->has_id && a->ref[k].min_recv <= a->from_us)
            continue;
        if (!(bits[k / 64] & (1ULL << (k % 64))))
            miss++;
    }
    return miss;
}

static void merge_status(struct report *rep, const struct status_count *s)
{
    for (unsigned i = 0; i < rep->nstatus; i++) {
        if (rep->status[i].code == s->code) {
            rep->status[i].count += s->count;
            return;
        }
    }
    rep->status[rep->nstatus++] = *s;
}

static void report_workers(struct report *rep, const struct run *run)
{
    const struct config *cfg = run->cfg;
    for (unsigned p = 0; p < cfg->procs; p++) {
        const struct wstats *st = &run->sh->w[p];
        rep->failed += st->failed;
        rep->disconnected += st->disconnected;
        rep->reconnects += st->reconnects;
        rep->reconnect_failed += st->reconnect_failed;
        rep->protocol_errors += st->protocol_errors;
        rep->timeouts += st->timeouts;
        rep->heartbeats += st->heartbeats;
        rep->status_other += st->status_other;
        rep->record_error |= st->record_error;
        rep->pending += cfg->clients / cfg->procs + (p < cfg->clients % cfg->procs) -
                        atomic_load(&st->resolved);
        rep->rss_total += st->maxrss_kib;
        if (st->maxrss_kib > rep->rss_max)
            rep->rss_max = st->maxrss_kib;
        for (int s = 0; s < STATUS_SLOTS && st->status[s].code != 0; s++)
            merge_status(rep, &st->status[s]);
        if (rep->first_error[0] == '\0')
            sl_set_reason(rep->first_error, st->first_error);
        if (rep->first_drop[0] == '\0')
            sl_set_reason(rep->first_drop, st->first_drop);
    }
    for (unsigned i = 0; i < cfg->clients; i++)
        rep->connected += run->held[i];
}

static int cmp_i64(const void *x, const void *y)
{
    const int64_t *a = x, *b = y;
    return (*a > *b) - (*a < *b);
}

/* Nearest-rank percentile of sorted microseconds, in ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    if (k > 0)
        k--;
    if (k >= n)
        k = n - 1;
    return (double)v[k] / 1000.0;
}

static void report_latency(struct report *rep, struct analysis *a)
{
    size_t n = a->nlat;
    rep->lat_count = n;
    if (n == 0)
        return;
    qsort(a->lat, n, sizeof *a->lat, cmp_i64);
    rep->p50 = pct_ms(a->lat, n, 50);
    rep->p90 = pct_ms(a->lat, n, 90);
    rep->p99 = pct_ms(a->lat, n, 99);
    rep->max_ms = (double)a->lat[n - 1] / 1000.0;
}

static void report_clients(struct report *rep, struct analysis *a)
{
    unsigned n = a->run->cfg->clients;
    rep->ev_min = UINT_MAX;
    for (unsigned i = 0; i < n; i++) {
        unsigned e = a->clients[i].events;
        rep->ev_min = e < rep->ev_min ? e : rep->ev_min;
        rep->ev_max = e > rep->ev_max ? e : rep->ev_max;
        if (rep->misses_computed) {
            unsigned long long m = client_misses(a, i);
            rep->missed += m;
            rep->clients_with_misses += m > 0;
        }
    }
    rep->ev_avg = (double)a->events / n;
}

static long read_netdev_backlog(void)
{
    long v = -1;
    FILE *f = fopen("/proc/sys/net/core/netdev_max_backlog", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Both passes over the records and everything the report needs. */
int sl_analyse(const struct run *run, struct report *rep)
{
    const struct config *cfg = run->cfg;
    struct analysis a = {.run = run, .from_us = run->all_connected ? run->t_all_us : INT64_MAX};
    int rc = -1;
    rep->requested = cfg->clients;
    rep->procs = cfg->procs;
    rep->all_connected = run->all_connected;
    rep->interrupted = run->interrupted;
    rep->connect_s = run->all_connected ? (run->t_all_us - run->t_start_us) / 1e6 : -1;
    rep->measured_s = run->all_connected ? (run->t_stop_us - run->t_all_us) / 1e6 : 0;
    rep->netdev_backlog = read_netdev_backlog();
    report_workers(rep, run);

    a.clients = calloc(cfg->clients, sizeof *a.clients);
    if (a.clients == NULL)
        goto fail;
    for_each_record(&a, pass_counts);
    if (a.oom || !build_reference(&a))
        goto fail;
    rep->events = a.events;
    rep->duplicates = a.duplicates;
    rep->record_error |= a.bad_records > 0;
    rep->reference = a.nref;
    rep->reference_cutoff_s = (double)(run->t_stop_us - a.cutoff_us) / 1e6;

    /* Without all-connected there is no fair reference: a client still connecting
     * would be charged with events sent before it existed. */
    a.words = (a.nref + 63) / 64;
    if (run->all_connected && a.words > 0 &&
        (size_t)cfg->clients * a.words * sizeof(uint64_t) <= MISS_BITMAP_MAX) {
        a.bits = calloc((size_t)cfg->clients * a.words, sizeof(uint64_t));
        if (a.bits == NULL)
            goto fail;
        for_each_record(&a, pass_bits);
        rep->misses_computed = true;
    } else if (run->all_connected && a.words == 0) {
        rep->misses_computed = true; /* nothing to miss */
    }
    report_clients(rep, &a);
    report_latency(rep, &a);
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "sse-load: out of memory analysing the results\n");
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        rep->rss_parent = ru.ru_maxrss;
    free(a.clients);
    free(a.ids.slot);
    free(a.lat);
    free(a.ref);
    free(a.bits);
    return rc;
}
