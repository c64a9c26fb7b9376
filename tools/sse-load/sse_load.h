/*
 * sse-load: a load client for Server-Sent Events streams (ratecast's sse-server, or any
 * SSE endpoint that speaks HTTP/1.1 without TLS).
 *
 * It holds thousands of streams open, decodes every event, and answers three questions:
 * did the server accept and keep every stream, did every client get every event (no gaps,
 * no duplicates), and how late did events arrive (receive time minus the tick's own JSON
 * "time"). Only libc: it must build wherever the project builds, with nothing to install.
 *
 * Shape
 *   The parent forks P workers; each owns N/P non-blocking sockets and one epoll loop.
 *   One process can hold only about 19,000 sockets here (RLIMIT_NOFILE is capped at 20,000,
 *   docs/conventions.md, the machines), so bigger runs need several processes anyway.
 *
 *   Parent and workers share anonymous MAP_SHARED memory: per-worker counters (the parent
 *   watches them to learn when every client has connected), a stop flag, and a byte per
 *   client saying whether its stream was still open at the end.
 *
 *   Every event a worker decodes is appended as a fixed 32-byte record to a temp file the
 *   parent created for that worker; the parent analyses all records after the workers exit.
 *   Why not analyse in the workers: the "all connected" moment is known only to the parent,
 *   and only after the fact (a worker may read an event before it could learn that moment),
 *   and misses need the union of ids seen by every worker. Filtering afterwards is exact and
 *   keeps the hot loop at "parse, fwrite". 18,000 clients x 40 events is 23 MB of records.
 *
 * Definitions (bench/README.md repeats them for readers of the report)
 *   all-connected  when the last client's first attempt was resolved: stream open, or failed
 *                  (refused, non-200, timeout). --duration counts from there.
 *   latency        receive time (CLOCK_REALTIME, read once per read()) minus the event's
 *                  "time", for events whose time is after all-connected, skipping each
 *                  client's first --warmup-events of those.
 *   reference set  the ids some client received after all-connected, without those first
 *                  seen in the last second (or the highest latency, if longer) before the
 *                  stop: they may still have been in flight to some clients.
 *   miss           a reference id a client did not receive, after its own first event and up
 *                  to the newest reference id (up to its own last id if its stream dropped:
 *                  that loss is already reported as a disconnect).
 *   duplicate      an id not greater than the highest id that client had seen before
 *                  (duplicates and out-of-order deliveries alike).
 *   ids            numeric (sse-server's, the floor's: the publisher's message_id, one per
 *                  message, also within a burst of several pairs), or Nchan's "<s>:<n>".
 *
 * Files
 *   main.c           the parent: forks the workers, watches them, stops them, reports
 *   options.c        the command line: the URL, the request, how many processes
 *   worker.c         a worker process: its connections, the epoll loop, a record per event
 *   http_response.c  an HTTP/1.1 response head and its body framing (chunked or not)
 *   es_decode.c      the EventSource decoder (the project's reference: unit-tested, fuzzed)
 *   tick_time.c      the tick's own "time" in a data line
 *   analysis.c       the records afterwards: misses, duplicates, latency, into struct report
 *   report.c         struct report as text and as JSON
 *   util.c           clocks and small parsers the others share
 */
#ifndef SSE_LOAD_H
#define SSE_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

enum {
    BUF_CAP = 4096,             /* per-connection buffer: request, then headers, then lines */
    REQUEST_MAX = BUF_CAP - 64, /* room left for Last-Event-ID and the final CRLF */
    MAX_HEADERS = 32,
    MAX_PROCS = 64,
    CLIENTS_PER_PROC = 15000, /* default split: headroom under the 20,000 fd cap */
    FD_RESERVE = 32,          /* fds a worker needs besides its sockets */
    STATUS_SLOTS = 8,         /* distinct non-200 codes remembered per worker */
    REASON_LEN = 160,
    EPOLL_BATCH = 1024,
    OPEN_BURST = 256, /* most connects started per loop turn, so reads are not starved */
    TICK_MS = 100,    /* timeout and reconnect scan period */
    RECONNECT_DELAY_MS = 1000,
    POLL_MS = 10, /* parent's watch period */
};

/* ------------------------------------------------------------------------------------ */
/* Configuration: built by the parent before fork, read-only afterwards.                  */

struct config {
    const char *url;
    const char *json_path;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned clients, procs, warmup;
    unsigned source_ips; /* spread over 127.0.0.1..N (IPv4 loopback targets), 1: don't */
    double rate, duration_s, connect_timeout_s;
    bool reconnect;
    char request[BUF_CAP]; /* request line and headers, without the final empty line */
    size_t request_len;
};

/* ------------------------------------------------------------------------------------ */
/* Shared memory between the parent and its workers.                                     */

struct status_count {
    unsigned code, count;
};

/* One per worker, written only by that worker. The atomics are read by the parent while
 * the worker runs; the rest only after the worker has exited. */
struct wstats {
    atomic_uint resolved;          /* first attempts resolved (stream open or failed) */
    atomic_llong last_resolved_us; /* CLOCK_REALTIME of the latest resolution */
    atomic_uint streaming;         /* streams open now */
    unsigned failed, disconnected, reconnects, reconnect_failed, protocol_errors, timeouts;
    unsigned long long heartbeats;
    bool record_error;
    struct status_count status[STATUS_SLOTS];
    unsigned status_other; /* non-200 answers whose code did not fit in status[] */
    long maxrss_kib;
    char first_error[REASON_LEN]; /* why the first failed connect failed */
    char first_drop[REASON_LEN];  /* why the first open stream ended */
};

struct shared {
    atomic_int stop;
    struct wstats w[MAX_PROCS];
};

/* The record a worker writes per event; the parent reads them back. */
enum { R_ID = 1, R_TIME = 2 };
struct record {
    uint64_t id;
    int64_t recv_us, ev_us;
    uint32_t client, flags;
};

/* ------------------------------------------------------------------------------------ */
/* The parent's view of a run (main.c), read by the analysis.                            */

struct run {
    const struct config *cfg;
    struct shared *sh;
    unsigned char *held;
    pid_t pids[MAX_PROCS];
    FILE *recs[MAX_PROCS];
    bool reaped[MAX_PROCS];
    int64_t t_start_us, t_all_us, t_stop_us;
    bool all_connected, interrupted;
};

/* ------------------------------------------------------------------------------------ */
/* What the analysis found (analysis.c), printed by report.c.                           */

struct report {
    unsigned requested, procs, connected, failed, disconnected, reconnects, reconnect_failed,
        protocol_errors, timeouts;
    unsigned pending; /* first attempts still unresolved when stopped early */
    struct status_count status[MAX_PROCS * STATUS_SLOTS];
    unsigned nstatus, status_other;
    char first_error[REASON_LEN], first_drop[REASON_LEN];
    unsigned long long events, heartbeats, duplicates, missed;
    unsigned ev_min, ev_max, clients_with_misses;
    double ev_avg;
    size_t reference;
    double reference_cutoff_s; /* reference ids were first seen at least this long before stop */
    bool misses_computed, all_connected, interrupted, record_error;
    size_t lat_count;
    double p50, p90, p99, max_ms;
    double connect_s, measured_s;
    long rss_total, rss_max, rss_parent;
    long netdev_backlog;
};

/* ------------------------------------------------------------------------------------ */
/* Entry points of the files (see the list above).                                        */

/* options.c: fills cfg from the command line. 0: run; -1: done (--help); >0: exit status. */
int sl_parse_args(int argc, char **argv, struct config *cfg);
/* options.c: how many worker processes, and the open-file limit they need. */
int sl_plan_procs(struct config *cfg);

/* worker.c: a worker process's whole life; returns its exit status. */
int sl_worker_main(const struct config *cfg, struct shared *sh, unsigned char *held, unsigned index,
                   uint32_t first_client, unsigned n, FILE *rec, pid_t parent);

/* analysis.c: both passes over the records and everything the report needs. */
int sl_analyse(const struct run *run, struct report *rep);

/* report.c */
void sl_print_report(FILE *o, const struct config *cfg, const struct report *r);
int sl_write_json(const char *path, const struct config *cfg, const struct report *r);

/* util.c */
int64_t sl_real_us(void); /* CLOCK_REALTIME */
int64_t sl_mono_ms(void); /* CLOCK_MONOTONIC */
/* Keeps the first reason only (dst holds REASON_LEN): later failures are usually
 * consequences of the first. */
void sl_set_reason(char *dst, const char *reason);
/* A decimal of up to 20 digits, nothing else, that fits in 64 bits. */
bool sl_parse_u64(const char *p, size_t n, uint64_t *out);
/* Exactly n decimal digits. */
bool sl_digits(const char *p, int n, unsigned *out);
const char *sl_skip_ws(const char *p, const char *end); /* spaces and tabs */

#endif
