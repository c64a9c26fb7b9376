/* fetch_metrics: the fetcher's counters, and a Prometheus endpoint for them.
 *
 * struct fetch_stats holds what the fetcher counts (the same numbers as
 * its summary line at exit). fetch_metrics_render() writes them in the
 * Prometheus text format; fetch_metrics_start() serves that at
 * GET /metrics on an address of the operator's choosing (libmicrohttpd,
 * one internal thread).
 *
 * Why a listener and not a node_exporter textfile: Prometheus scrapes
 * sse-server's /metrics already, so the fetcher is one more target of the
 * same kind; the systemd unit runs with ProtectSystem=strict and a dynamic
 * user, which a textfile directory would have to be opened up for; and in
 * docker-compose a file inside the container is seen by no node_exporter,
 * while a port on the compose network is. The listener is off unless asked
 * for. It serves counts only: no key, no URL, no password.
 *
 * Threads: the fetcher's loop owns its counters and hands the listener a
 * copy (fetch_metrics_update, under a lock) after each tick and every
 * slice of the wait between ticks; the listener's thread renders that
 * copy. Nothing else is shared.
 */
#ifndef FETCH_METRICS_H
#define FETCH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rc_publisher.h"

/* What happened to requests (or, for invalid and missing, to pairs), by
 * cause; the names are the summary line's and the metrics' label values. */
enum fetch_cause {
    FETCH_HTTP_429,
    FETCH_HTTP_5XX,
    FETCH_HTTP_550,
    FETCH_HTTP_OTHER,
    FETCH_TRANSPORT,
    FETCH_INVALID,
    FETCH_MISSING,
    FETCH_CAUSES
};
extern const char *const fetch_cause_name[FETCH_CAUSES];

struct fetch_stats {
    uint64_t scheduled, skipped; /* ticks */
    uint64_t requests;           /* CoinAPI requests made */
    uint64_t fetched;            /* valid rates queued for the broker */
    uint64_t failed[FETCH_CAUSES];
    uint64_t request_cost;    /* sum of CoinAPI's X-RateLimit-Request-Cost */
    long ratelimit_remaining; /* the lowest X-RateLimit-Remaining of the last tick
                                that had one, -1 before any */
    int paused;               /* 1 while requests pause after a 429 */
    size_t pairs, requests_per_tick;
    struct rc_publisher_stats pub;
};

/* The Prometheus text for s: malloc'd, the caller frees it; NULL when out
 * of memory. */
char *fetch_metrics_render(const struct fetch_stats *s, size_t *len);

struct fetch_metrics;

/* Serve GET /metrics on listen ("127.0.0.1:9464", "[::1]:9464"; port 0
 * picks one, see fetch_metrics_port). NULL with a reason in err. Until the
 * first fetch_metrics_update it serves zeros. */
struct fetch_metrics *fetch_metrics_start(const char *listen, char *err, size_t errlen);
unsigned fetch_metrics_port(const struct fetch_metrics *m);
/* Copy s for the next scrapes. m may be NULL (no listener): nothing. */
void fetch_metrics_update(struct fetch_metrics *m, const struct fetch_stats *s);
/* Stop serving and free; NULL is fine. */
void fetch_metrics_stop(struct fetch_metrics *m);

#endif
