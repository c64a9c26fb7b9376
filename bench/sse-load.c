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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
/* Events first seen this close to the stop may not have reached every client yet: at least
 * this long, or the highest latency seen if that is longer. */
static const int64_t STOP_GRACE_US = 1000000;
/* Past this, the per-client miss bitmaps would be too big: misses are not computed. */
static const size_t MISS_BITMAP_MAX = (size_t)512 << 20;

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
/* Small helpers.                                                                         */

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static int64_t real_us(void)
{
    return clock_us(CLOCK_REALTIME);
}
static int64_t mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

/* Keeps the first reason only: later failures are usually consequences of the first. */
static void set_reason(char *dst, const char *reason)
{
    if (dst[0] == '\0')
        snprintf(dst, REASON_LEN, "%s", reason);
}

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* ------------------------------------------------------------------------------------ */
/* Tick time: "YYYY-MM-DDTHH:MM:SS[.fff...]Z" to microseconds since the epoch.            */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): timegm()
 * would do, but this is pure and cannot touch the TZ machinery. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_utc(const char *p, size_t n, int64_t *us)
{
    unsigned y, mo, d, h, mi, s;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') || p[13] != ':' ||
        p[16] != ':')
        return false;
    if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d) ||
        !digits(p + 11, 2, &h) || !digits(p + 14, 2, &mi) || !digits(p + 17, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return false;
    size_t i = 19;
    int64_t frac = 0;
    if (p[i] == '.') {
        int scale = 100000; /* the first fractional digit is 1/10 s = 100,000 us */
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            frac += (p[i] - '0') * scale;
            scale /= 10; /* digits past the sixth add nothing (0) */
        }
    }
    if (i + 1 != n || (p[i] != 'Z' && p[i] != 'z'))
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    *us = secs * 1000000 + frac;
    return true;
}

/* Finds "time":"..." in one data line. Not a JSON parser: ratecast's body is compact JSON
 * from our own encoder, and a wrong match only costs one latency sample. */
static bool find_tick_time(const char *p, size_t n, int64_t *us)
{
    static const char key[] = "\"time\"";
    const size_t klen = sizeof key - 1;
    const char *end = p + n;
    const char *k = memmem(p, n, key, klen);
    for (; k != NULL; k = memmem(k + 1, (size_t)(end - k - 1), key, klen)) {
        const char *q = skip_ws(k + klen, end);
        if (q == end || *q != ':')
            continue;
        q = skip_ws(q + 1, end);
        if (q == end || *q != '"')
            continue;
        q++;
        const char *close = memchr(q, '"', (size_t)(end - q));
        if (close != NULL && parse_utc(q, (size_t)(close - q), us))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------ */
/* Worker: connections.                                                                   */

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_HEADERS, C_STREAM, C_WAIT, C_CLOSED };

/* Chunked transfer decoding, one byte of framing at a time (data is copied in bulk). */
enum chstate { CH_SIZE0, CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF };

enum {
    F_RESOLVED = 1 << 0,   /* the first attempt is over: later ones are reconnects */
    F_CHUNKED = 1 << 1,    /* Transfer-Encoding: chunked */
    F_BODY_LEN = 1 << 2,   /* Content-Length body (else: until EOF) */
    F_PENDING_CR = 1 << 3, /* the last line ended in CR: a LF next is part of it */
    F_SKIP_LINE = 1 << 4,  /* rest of an over-long line: drop until its end */
    F_FIRST_LINE = 1 << 5, /* a BOM may start the stream */
    F_EV_DATA = 1 << 6,    /* the event being read has a data field */
    F_EV_ID = 1 << 7,      /* ... a numeric id field */
    F_EV_TIME = 1 << 8,    /* ... a data line with a tick time */
    F_LAST_ID = 1 << 9,    /* last_id is valid: send Last-Event-ID on reconnect */
};

/* About 4.2 KiB per client: the buffer dominates. It holds the request while it is sent,
 * then the response headers, then the decoded body's unfinished line. */
struct conn {
    int fd;
    uint32_t client; /* global client number, across workers */
    uint8_t state, chunk;
    uint16_t flags;
    uint16_t len; /* bytes in buf */
    uint16_t out_off, out_len;
    uint64_t body_left; /* chunk bytes left (or the size being read), or Content-Length left */
    uint64_t ev_id, last_id;
    int64_t ev_time_us;
    int64_t deadline_ms; /* connect/headers timeout, or when to reconnect */
    char buf[BUF_CAP];
};

struct worker {
    const struct config *cfg;
    struct wstats *st;
    atomic_int *stop;
    unsigned char *held; /* indexed by global client number */
    struct conn *conns;
    unsigned n, opened;
    double rate; /* connects per second for this worker */
    int ep;
    FILE *rec;
    int64_t start_ms;
};

static void conn_resolve(struct worker *w, struct conn *c)
{
    c->flags |= F_RESOLVED;
    atomic_store(&w->st->last_resolved_us, real_us());
    atomic_fetch_add(&w->st->resolved, 1);
}

/* Ends a connection for any reason but our own shutdown. An open stream counts as
 * disconnected; an attempt that never got its stream counts as a failed connect (first
 * attempt) or a failed reconnect. */
static void conn_close(struct worker *w, struct conn *c, const char *reason)
{
    if (c->state == C_STREAM) {
        w->st->disconnected++;
        atomic_fetch_sub(&w->st->streaming, 1);
        set_reason(w->st->first_drop, reason);
    } else if (!(c->flags & F_RESOLVED)) {
        w->st->failed++;
        set_reason(w->st->first_error, reason);
        conn_resolve(w, c);
    } else {
        w->st->reconnect_failed++;
    }
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set: no one else holds this fd */
    c->fd = -1;
    c->len = 0;
    if (w->cfg->reconnect) {
        c->state = C_WAIT;
        c->deadline_ms = mono_ms() + RECONNECT_DELAY_MS;
    } else {
        c->state = C_CLOSED;
    }
}

static void conn_close_errno(struct worker *w, struct conn *c, const char *what, int err)
{
    char reason[REASON_LEN];
    snprintf(reason, sizeof reason, "%s: %s", what, strerror(err));
    conn_close(w, c, reason);
}

/* The request goes into the connection's own buffer: it is free until the response. */
static uint16_t request_build(const struct config *cfg, struct conn *c)
{
    size_t n = cfg->request_len;
    memcpy(c->buf, cfg->request, n);
    if (c->flags & F_LAST_ID)
        n +=
            (size_t)snprintf(c->buf + n, BUF_CAP - n, "Last-Event-ID: %" PRIu64 "\r\n", c->last_id);
    memcpy(c->buf + n, "\r\n", 2);
    return (uint16_t)(n + 2);
}

/* Binds a socket to the source address 127.0.0.(1 + k), leaving the port to connect().
 * Why: with one source address, every connect() to the one server port searches the
 * ephemeral range for a free 4-tuple, and that search grows with every connection held
 * (measured: 60% of sse-load's CPU at 18,000 clients, taken from the server on 2 cores).
 * More source addresses give each port several free tuples, and more than 28,000
 * connections become possible. */
static int bind_source(int fd, unsigned k)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + k);
    return bind(fd, (const struct sockaddr *)&sa, sizeof sa);
}

static void conn_start(struct worker *w, struct conn *c)
{
    const struct config *cfg = w->cfg;
    c->flags &= F_RESOLVED | F_LAST_ID; /* all that survives a reconnect */
    c->len = 0;
    c->out_off = 0;
    c->out_len = request_build(cfg, c);
    c->deadline_ms = mono_ms() + (int64_t)(cfg->connect_timeout_s * 1000);
    c->state = C_CONNECTING;
    c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_close_errno(w, c, "socket", errno);
        return;
    }
    if (cfg->source_ips > 1 && bind_source(c->fd, c->client % cfg->source_ips) < 0) {
        conn_close_errno(w, c, "bind", errno);
        return;
    }
    if (connect(c->fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) < 0 &&
        errno != EINPROGRESS) {
        conn_close_errno(w, c, "connect", errno);
        return;
    }
    /* Writable means connected (or failed: SO_ERROR says), even when connect() already
     * succeeded, so one path handles both. */
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        conn_close_errno(w, c, "epoll_ctl", errno);
}

static void conn_stream_open(struct worker *w, struct conn *c)
{
    c->state = C_STREAM;
    c->flags |= F_FIRST_LINE;
    atomic_fetch_add(&w->st->streaming, 1);
    if (c->flags & F_RESOLVED)
        w->st->reconnects++;
    else
        conn_resolve(w, c);
}

static void count_status(struct wstats *st, unsigned code)
{
    for (int i = 0; i < STATUS_SLOTS; i++) {
        if (st->status[i].code == code || st->status[i].code == 0) {
            st->status[i].code = code;
            st->status[i].count++;
            return;
        }
    }
    st->status_other++;
}

static void on_writable(struct worker *w, struct conn *c)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            conn_close_errno(w, c, "connect", err);
            return;
        }
        c->state = C_SENDING;
    }
    ssize_t n = send(c->fd, c->buf + c->out_off, (size_t)(c->out_len - c->out_off), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close_errno(w, c, "send", errno);
        return;
    }
    c->out_off += (uint16_t)n;
    if (c->out_off < c->out_len)
        return; /* the rest when writable again */
    c->state = C_HEADERS;
    c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        conn_close_errno(w, c, "epoll_ctl", errno);
}

/* ------------------------------------------------------------------------------------ */
/* Worker: HTTP response head.                                                            */

struct response {
    unsigned status;
    bool event_stream, chunked, has_length;
    uint64_t length;
};

/* Offset just past the empty line ending the head, or 0 if it has not arrived. Bare LF
 * line ends are accepted too (RFC 9112 allows a recipient to). */
static size_t header_end(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* "text/event-stream", any case, optionally followed by parameters (charset=utf-8). */
static bool media_is_event_stream(const char *v, size_t n)
{
    static const char type[] = "text/event-stream";
    const size_t tlen = sizeof type - 1;
    if (n < tlen || strncasecmp(v, type, tlen) != 0)
        return false;
    return n == tlen || v[tlen] == ';' || v[tlen] == ' ' || v[tlen] == '\t';
}

static bool has_token_ci(const char *v, size_t n, const char *token)
{
    size_t tlen = strlen(token);
    for (size_t i = 0; i + tlen <= n; i++)
        if (strncasecmp(v + i, token, tlen) == 0)
            return true;
    return false;
}

static void response_header(struct response *r, const char *name, size_t nlen, const char *v,
                            size_t vlen)
{
    if (name_is(name, nlen, "content-type"))
        r->event_stream = media_is_event_stream(v, vlen);
    else if (name_is(name, nlen, "transfer-encoding"))
        r->chunked = has_token_ci(v, vlen, "chunked");
    else if (name_is(name, nlen, "content-length"))
        r->has_length = parse_u64(v, vlen, &r->length);
}

static bool parse_response(const char *p, size_t n, struct response *r)
{
    memset(r, 0, sizeof *r);
    unsigned status;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !digits(p + 9, 3, &status))
        return false;
    r->status = status;
    const char *end = p + n;
    const char *line = (const char *)memchr(p, '\n', n) + 1; /* header_end() found one */
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            break;
        const char *le = (eol > line && eol[-1] == '\r') ? eol - 1 : eol;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon != NULL) {
            const char *v = skip_ws(colon + 1, le);
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            response_header(r, line, (size_t)(colon - line), v, (size_t)(ve - v));
        }
        line = eol + 1;
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Worker: SSE decoding (WHATWG HTML, "Interpreting an event stream").                    */

static void sse_dispatch(struct worker *w, struct conn *c, int64_t recv_us)
{
    /* The spec dispatches only when the data buffer is non-empty, i.e. a data field was
     * seen (an empty "data:" still makes an event). */
    if (c->flags & F_EV_DATA) {
        struct record rec = {
            .id = (c->flags & F_EV_ID) ? c->ev_id : 0,
            .recv_us = recv_us,
            .ev_us = (c->flags & F_EV_TIME) ? c->ev_time_us : 0,
            .client = c->client,
            .flags = ((c->flags & F_EV_ID) ? R_ID : 0) | ((c->flags & F_EV_TIME) ? R_TIME : 0),
        };
        if (fwrite(&rec, sizeof rec, 1, w->rec) != 1)
            w->st->record_error = true;
    }
    c->flags &= (uint16_t) ~(F_EV_DATA | F_EV_ID | F_EV_TIME);
}

/* Nchan's ids on a single channel, "<seconds>:<n>" (n counts the messages published within
 * that second), as one number that sorts the same way: seconds << NCHAN_TAG_BITS | n. */
enum { NCHAN_TAG_BITS = 20 };
static bool parse_nchan_id(const char *v, size_t n, uint64_t *out)
{
    const char *colon = memchr(v, ':', n);
    uint64_t sec, tag;
    if (colon == NULL || !parse_u64(v, (size_t)(colon - v), &sec) ||
        !parse_u64(colon + 1, n - (size_t)(colon - v) - 1, &tag) ||
        sec >= (UINT64_C(1) << (64 - NCHAN_TAG_BITS)) || tag >= (UINT64_C(1) << NCHAN_TAG_BITS))
        return false;
    *out = sec << NCHAN_TAG_BITS | tag;
    return true;
}

/* Only an id given in the event itself is recorded with it. The spec's lastEventId would
 * carry the previous id over to an event without one, which here would look like a
 * duplicate. Nchan's "<seconds>:<n>" ids are recorded (so misses, duplicates and order are
 * checked for Nchan too, bursts included) but not resumed from: Last-Event-ID would need the
 * original text. Other non-numeric ids are not recorded; we cannot resume from them either. */
static void sse_id(struct conn *c, const char *v, size_t n)
{
    if (memchr(v, '\0', n) != NULL)
        return; /* the spec ignores such a field entirely */
    uint64_t id;
    if (!parse_u64(v, n, &id)) {
        c->flags &= (uint16_t) ~(F_EV_ID | F_LAST_ID);
        if (parse_nchan_id(v, n, &id)) {
            c->ev_id = id;
            c->flags |= F_EV_ID;
        }
        return;
    }
    c->ev_id = id;
    c->last_id = id;
    c->flags |= F_EV_ID | F_LAST_ID;
}

static void sse_line(struct worker *w, struct conn *c, const char *p, size_t n, int64_t recv_us)
{
    if (c->flags & F_FIRST_LINE) {
        c->flags &= (uint16_t)~F_FIRST_LINE;
        if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;
            n -= 3;
        }
    }
    if (n == 0) {
        sse_dispatch(w, c, recv_us);
        return;
    }
    if (p[0] == ':') {
        w->st->heartbeats++;
        return;
    }
    const char *colon = memchr(p, ':', n);
    size_t flen = colon != NULL ? (size_t)(colon - p) : n;
    const char *v = colon != NULL ? colon + 1 : p + n;
    size_t vlen = (size_t)(p + n - v);
    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(p, "data", 4) == 0) {
        c->flags |= F_EV_DATA;
        if (!(c->flags & F_EV_TIME) && find_tick_time(v, vlen, &c->ev_time_us))
            c->flags |= F_EV_TIME;
    } else if (flen == 2 && memcmp(p, "id", 2) == 0) {
        sse_id(c, v, vlen);
    }
    /* "event" and "retry" do not change what we measure; unknown fields are ignored, as the
     * spec says. */
}

/* Consumes every complete line in buf[0..len) (ends: LF, CRLF or CR) and keeps the
 * unfinished one at the start of the buffer. A line that fills the whole buffer is
 * handled by its first 4 KiB (a tick's time is near the start) and the rest dropped, so
 * memory per client stays fixed whatever the server sends. */
static void sse_feed(struct worker *w, struct conn *c, int64_t recv_us)
{
    char *b = c->buf;
    size_t len = c->len, start = 0, i = 0;
    if ((c->flags & F_PENDING_CR) && len > 0) {
        c->flags &= (uint16_t)~F_PENDING_CR;
        if (b[0] == '\n')
            start = i = 1; /* the LF of a CRLF split across reads */
    }
    for (; i < len; i++) {
        if (b[i] != '\n' && b[i] != '\r')
            continue;
        if (c->flags & F_SKIP_LINE)
            c->flags &= (uint16_t)~F_SKIP_LINE; /* its head was handled already */
        else
            sse_line(w, c, b + start, i - start, recv_us);
        if (b[i] == '\r') {
            if (i + 1 == len)
                c->flags |= F_PENDING_CR;
            else if (b[i + 1] == '\n')
                i++;
        }
        start = i + 1;
    }
    len -= start;
    if (c->flags & F_SKIP_LINE) {
        len = 0;
    } else {
        memmove(b, b + start, len);
        if (len == BUF_CAP) {
            sse_line(w, c, b, len, recv_us);
            c->flags |= F_SKIP_LINE;
            len = 0;
        }
    }
    c->len = (uint16_t)len;
}

/* The end of a chunk-size line: a zero size ends the body (its trailers do not matter to
 * us), any other starts the chunk's data. */
static void chunk_size_done(struct conn *c, bool *ended)
{
    if (c->body_left == 0)
        *ended = true;
    else
        c->chunk = CH_DATA;
}

/* One byte of chunk framing (size line, extension, the CRLF after data). */
static bool chunk_framing(struct conn *c, unsigned char ch, bool *ended, const char **why)
{
    int v;
    switch (c->chunk) {
    case CH_SIZE0:
    case CH_SIZE:
        if ((v = hexval(ch)) >= 0) {
            if (c->body_left > (UINT64_MAX >> 4)) {
                *why = "chunk size overflows";
                return false;
            }
            c->body_left = c->body_left * 16 + (unsigned)v;
            c->chunk = CH_SIZE;
        } else if (c->chunk == CH_SIZE0) {
            *why = "malformed chunk size";
            return false;
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
            c->chunk = CH_EXT;
        } else if (ch == '\r') {
            c->chunk = CH_SIZE_LF;
        } else if (ch == '\n') {
            chunk_size_done(c, ended);
        } else {
            *why = "malformed chunk size";
            return false;
        }
        return true;
    case CH_EXT:
        if (ch == '\n')
            chunk_size_done(c, ended);
        return true;
    case CH_SIZE_LF:
        if (ch != '\n') {
            *why = "chunk size line not ended by CRLF";
            return false;
        }
        chunk_size_done(c, ended);
        return true;
    case CH_DATA_CR:
        if (ch != '\r' && ch != '\n') {
            *why = "chunk data not followed by CRLF";
            return false;
        }
        c->chunk = ch == '\r' ? CH_DATA_LF : CH_SIZE0;
        return true;
    case CH_DATA_LF:
        if (ch != '\n') {
            *why = "chunk data not followed by CRLF";
            return false;
        }
        c->chunk = CH_SIZE0;
        return true;
    default:
        return true;
    }
}

/* A body without chunked encoding: all of it is data, up to Content-Length if given. */
static void plain_decode(struct conn *c, size_t n, size_t *end, bool *ended)
{
    if (c->flags & F_BODY_LEN) {
        if (n >= c->body_left) {
            n = (size_t)c->body_left;
            *ended = true;
        }
        c->body_left -= n;
    }
    *end = c->len + n;
}

/* Decodes the n raw body bytes at buf[len..] in place (output never outruns input) and
 * sets *end to the end of the decoded bytes. *ended: the body is complete. */
static bool body_decode(struct conn *c, size_t n, size_t *end, bool *ended, const char **why)
{
    if (!(c->flags & F_CHUNKED)) {
        plain_decode(c, n, end, ended);
        return true;
    }
    char *b = c->buf;
    size_t r = c->len, stop = c->len + n, w = c->len;
    while (r < stop && !*ended) {
        if (c->chunk != CH_DATA) {
            if (!chunk_framing(c, (unsigned char)b[r++], ended, why))
                return false;
            continue;
        }
        size_t k = stop - r;
        if (k > c->body_left)
            k = (size_t)c->body_left;
        memmove(b + w, b + r, k);
        w += k;
        r += k;
        c->body_left -= k;
        if (c->body_left == 0)
            c->chunk = CH_DATA_CR;
    }
    *end = w;
    return true;
}

/* n new raw bytes are at buf[len..]: decode them, then split lines and events. */
static void body_input(struct worker *w, struct conn *c, size_t n, int64_t recv_us)
{
    size_t end = c->len;
    bool ended = false;
    const char *why = NULL;
    if (!body_decode(c, n, &end, &ended, &why)) {
        w->st->protocol_errors++;
        conn_close(w, c, why);
        return;
    }
    c->len = (uint16_t)end;
    sse_feed(w, c, recv_us);
    if (ended && c->state == C_STREAM)
        conn_close(w, c, "server ended the response body");
}

static void headers_input(struct worker *w, struct conn *c, int64_t recv_us)
{
    size_t end = header_end(c->buf, c->len);
    if (end == 0) {
        if (c->len == BUF_CAP) {
            w->st->protocol_errors++;
            conn_close(w, c, "response head larger than 4 KiB");
        }
        return;
    }
    struct response r;
    char reason[REASON_LEN];
    if (!parse_response(c->buf, end, &r)) {
        w->st->protocol_errors++;
        conn_close(w, c, "malformed HTTP status line");
        return;
    }
    if (r.status != 200) {
        count_status(w->st, r.status);
        snprintf(reason, sizeof reason, "HTTP %u", r.status);
        conn_close(w, c, reason);
        return;
    }
    if (!r.event_stream) {
        conn_close(w, c, "HTTP 200 without Content-Type: text/event-stream");
        return;
    }
    if (r.chunked) {
        c->flags |= F_CHUNKED;
        c->chunk = CH_SIZE0;
        c->body_left = 0;
    } else if (r.has_length) {
        c->flags |= F_BODY_LEN;
        c->body_left = r.length;
    }
    conn_stream_open(w, c);
    size_t rest = c->len - end;
    memmove(c->buf, c->buf + end, rest);
    c->len = 0;
    if (rest > 0 || r.has_length)
        body_input(w, c, rest, recv_us); /* also ends an empty Content-Length body */
}

static void on_readable(struct worker *w, struct conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close_errno(w, c, "read", errno);
        return;
    }
    if (n == 0) {
        if (c->state == C_HEADERS)
            conn_close(w, c, "connection closed before the response head");
        else if (c->flags & (F_CHUNKED | F_BODY_LEN))
            conn_close(w, c, "connection closed inside the response body");
        else
            conn_close(w, c, "server closed the stream");
        return;
    }
    /* One clock read per read(): every event in it arrived at the same moment for us. */
    int64_t now = real_us();
    if (c->state == C_HEADERS) {
        c->len += (uint16_t)n;
        headers_input(w, c, now);
    } else {
        body_input(w, c, (size_t)n, now);
    }
}

static void conn_event(struct worker *w, struct conn *c)
{
    switch (c->state) {
    case C_CONNECTING:
    case C_SENDING:
        on_writable(w, c);
        break;
    case C_HEADERS:
    case C_STREAM:
        on_readable(w, c);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Worker: the loop.                                                                      */

/* Opens connections on schedule: rate per second since the start, in bursts of at most
 * OPEN_BURST so that streams already open keep being read. */
static void worker_open_due(struct worker *w, int64_t now_ms)
{
    double due = (double)(now_ms - w->start_ms) * w->rate / 1000.0 + 1;
    unsigned target = due >= w->n ? w->n : (unsigned)due;
    for (unsigned k = 0; w->opened < target && k < OPEN_BURST; k++)
        conn_start(w, &w->conns[w->opened++]);
}

static void worker_timers(struct worker *w, int64_t now_ms)
{
    char reason[REASON_LEN];
    for (unsigned i = 0; i < w->opened; i++) {
        struct conn *c = &w->conns[i];
        if (now_ms < c->deadline_ms)
            continue;
        if (c->state == C_CONNECTING || c->state == C_SENDING || c->state == C_HEADERS) {
            if (!(c->flags & F_RESOLVED))
                w->st->timeouts++; /* reported as a kind of failed (first) connect */
            snprintf(reason, sizeof reason, "no response head within %.1f s%s",
                     w->cfg->connect_timeout_s,
                     c->state == C_HEADERS ? "" : " (TCP connect not finished)");
            conn_close(w, c, reason);
        } else if (c->state == C_WAIT) {
            conn_start(w, c);
        }
    }
}

/* Our own shutdown: records which streams were still open, then closes everything. Not a
 * disconnect in the report. */
static void worker_finish(struct worker *w)
{
    for (unsigned i = 0; i < w->opened; i++) {
        struct conn *c = &w->conns[i];
        w->held[c->client] = c->state == C_STREAM;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        w->st->maxrss_kib = ru.ru_maxrss;
    if (fflush(w->rec) != 0)
        w->st->record_error = true;
}

static int worker_loop(struct worker *w)
{
    struct epoll_event evs[EPOLL_BATCH];
    int64_t next_tick = mono_ms() + TICK_MS;
    w->start_ms = mono_ms();
    while (!atomic_load(w->stop)) {
        int timeout = TICK_MS;
        if (w->opened < w->n) {
            worker_open_due(w, mono_ms());
            timeout = 1;
        }
        int k = epoll_wait(w->ep, evs, EPOLL_BATCH, timeout);
        if (k < 0 && errno != EINTR) {
            fprintf(stderr, "sse-load: epoll_wait: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < k; i++)
            conn_event(w, evs[i].data.ptr);
        int64_t now = mono_ms();
        if (now >= next_tick) {
            worker_timers(w, now);
            next_tick = now + TICK_MS;
        }
    }
    worker_finish(w);
    return 0;
}

/* A worker process's whole life; returns its exit status. */
static int worker_main(const struct config *cfg, struct shared *sh, unsigned char *held,
                       unsigned index, uint32_t first_client, unsigned n, FILE *rec, pid_t parent)
{
    /* A worker without its parent has no one to report to: die with it. Ctrl-C reaches
     * the whole process group; the parent alone decides when to stop. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 1;
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);

    struct worker w = {
        .cfg = cfg,
        .st = &sh->w[index],
        .stop = &sh->stop,
        .held = held,
        .n = n,
        .rate = cfg->rate / cfg->procs,
        .rec = rec,
    };
    setvbuf(rec, NULL, _IOFBF, 1 << 18); /* records are small: write them in big blocks */
    w.conns = calloc(n, sizeof *w.conns);
    w.ep = epoll_create1(EPOLL_CLOEXEC);
    if (w.conns == NULL || w.ep < 0) {
        fprintf(stderr, "sse-load: worker %u: %s\n", index, strerror(errno));
        return 1;
    }
    for (unsigned i = 0; i < n; i++) {
        w.conns[i].fd = -1;
        w.conns[i].client = first_client + i;
    }
    int rc = worker_loop(&w);
    close(w.ep);
    free(w.conns);
    if (fclose(rec) != 0)
        w.st->record_error = true;
    return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Parent: command line.                                                                  */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: sse-load --url http://HOST:PORT/PATH --clients N [OPTION]...\n"
            "Open N Server-Sent Events streams, check every event arrives once, measure latency.\n"
            "\n"
            "  --url URL              stream URL (http only)\n"
            "  --clients N            streams to open\n"
            "  --rate R               connections opened per second, all processes (2000)\n"
            "  --duration D           seconds to measure after all clients connected (20)\n"
            "  --procs P              worker processes (enough for <= %d sockets each)\n"
            "  --warmup-events K      leave each client's first K events after all connected\n"
            "                         out of the latency figures (0)\n"
            "  --json FILE            also write the report as JSON to FILE\n"
            "  --header 'Name: value' extra request header (repeatable)\n"
            "  --reconnect            reconnect dropped streams after 1 s with Last-Event-ID\n"
            "  --connect-timeout S    seconds allowed to connect and get the response head (10)\n"
            "  --source-ips N         spread connections over source addresses 127.0.0.1..N\n"
            "                         (IPv4 loopback targets only; default 16; 1: one address)\n"
            "  --help                 this text\n"
            "\n"
            "Latency = receive time - the event's JSON \"time\" (same host clock), counted for\n"
            "events stamped after every client connected. Exit: 0 ran (read the report), 1 could\n"
            "not run, 2 usage error.\n",
            CLIENTS_PER_PROC);
}

static bool arg_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static bool arg_double(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* http://HOST[:PORT][/PATH]; HOST may be [v6]. Splits the URL into the Host header
 * (authority), the request target (path), and host and port for resolve_url(). */
static bool parse_url(const char *url, char *authority, size_t acap, const char **path,
                      char host[256], char port[16], char *err, size_t errlen)
{
    const char *u = url;
    if (strncasecmp(u, "http://", 7) != 0) {
        snprintf(err, errlen, "--url must start with http:// (no TLS)");
        return false;
    }
    u += 7;
    size_t alen = strcspn(u, "/?#");
    if (alen == 0 || alen >= acap) {
        snprintf(err, errlen, "--url has no usable host");
        return false;
    }
    memcpy(authority, u, alen);
    authority[alen] = '\0';
    *path = u[alen] == '/' ? u + alen : "/";
    if (u[alen] == '?') {
        snprintf(err, errlen, "--url needs a path before the query");
        return false;
    }

    const char *hs = authority, *he, *colon;
    if (authority[0] == '[') {
        hs = authority + 1;
        he = strchr(hs, ']');
        colon = he != NULL && he[1] == ':' ? he + 1 : NULL;
    } else {
        colon = strrchr(authority, ':');
        he = colon != NULL ? colon : authority + alen;
    }
    if (he == NULL || he == hs || (size_t)(he - hs) >= 256) {
        snprintf(err, errlen, "--url has no usable host");
        return false;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    snprintf(port, 16, "%s", colon != NULL ? colon + 1 : "80");
    char *end;
    unsigned long pn = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || pn == 0 || pn > 65535) {
        snprintf(err, errlen, "--url has a bad port '%s'", port);
        return false;
    }
    return true;
}

/* Names are resolved once, here: the workers connect to this one address. */
static bool resolve_url(struct config *cfg, const char *host, const char *port, char *err,
                        size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "--url %s: %s", host, gai_strerror(rc));
        return false;
    }
    memcpy(&cfg->addr, ai->ai_addr, ai->ai_addrlen);
    cfg->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon != NULL && colon != h && strpbrk(h, "\r\n") == NULL;
}

static bool build_request(struct config *cfg, const char *authority, const char *path,
                          const char **headers, unsigned nheaders)
{
    int n = snprintf(cfg->request, sizeof cfg->request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\nUser-Agent: sse-load\r\n",
                     path, authority);
    for (unsigned i = 0; i < nheaders && n >= 0 && n < REQUEST_MAX; i++)
        n += snprintf(cfg->request + n, sizeof cfg->request - (size_t)n, "%s\r\n", headers[i]);
    if (n < 0 || n >= REQUEST_MAX)
        return false;
    cfg->request_len = (size_t)n;
    return true;
}

enum {
    O_URL = 256,
    O_CLIENTS,
    O_RATE,
    O_DURATION,
    O_PROCS,
    O_WARMUP,
    O_JSON,
    O_HEADER,
    O_RECONNECT,
    O_TIMEOUT,
    O_SOURCES,
    O_HELP
};

struct headers {
    const char *v[MAX_HEADERS];
    unsigned n;
};

/* Applies one option; returns what is wrong with it, or NULL. */
static const char *apply_option(struct config *cfg, struct headers *h, int opt, const char *arg)
{
    switch (opt) {
    case O_URL:
        cfg->url = arg;
        return NULL;
    case O_CLIENTS:
        return arg_uint(arg, 1, 1000000, &cfg->clients) ? NULL : "--clients: 1..1000000";
    case O_RATE:
        return arg_double(arg, 0.1, 1e6, &cfg->rate) ? NULL : "--rate: 0.1..1000000";
    case O_DURATION:
        return arg_double(arg, 0, 1e6, &cfg->duration_s) ? NULL : "--duration: seconds >= 0";
    case O_PROCS:
        return arg_uint(arg, 1, MAX_PROCS, &cfg->procs) ? NULL : "--procs: 1..64";
    case O_WARMUP:
        return arg_uint(arg, 0, UINT_MAX, &cfg->warmup) ? NULL : "--warmup-events: a count";
    case O_JSON:
        cfg->json_path = arg;
        return NULL;
    case O_HEADER:
        if (h->n == MAX_HEADERS)
            return "--header: at most 32";
        if (!header_ok(arg))
            return "--header: expected 'Name: value' on one line";
        h->v[h->n++] = arg;
        return NULL;
    case O_RECONNECT:
        cfg->reconnect = true;
        return NULL;
    case O_TIMEOUT:
        return arg_double(arg, 0.1, 3600, &cfg->connect_timeout_s)
                   ? NULL
                   : "--connect-timeout: 0.1..3600 s";
    case O_SOURCES:
        return arg_uint(arg, 1, 250, &cfg->source_ips) ? NULL : "--source-ips: 1..250";
    default:
        return "unknown option";
    }
}

/* Source address spreading applies to IPv4 loopback targets only: elsewhere the host's
 * own addresses are unknown to us. */
static bool plan_sources(struct config *cfg)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg->addr;
    bool loop4 = cfg->addr.ss_family == AF_INET && (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    if (cfg->source_ips == 0) {
        cfg->source_ips = loop4 ? 16 : 1;
    } else if (cfg->source_ips > 1 && !loop4) {
        fprintf(stderr, "sse-load: --source-ips needs an IPv4 loopback target (127.x.x.x)\n");
        return false;
    }
    return true;
}

/* Returns 0 to run, -1 after --help, or the exit status for main (2: usage). */
static int parse_args(int argc, char **argv, struct config *cfg)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, O_URL},
        {"clients", required_argument, NULL, O_CLIENTS},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, O_DURATION},
        {"procs", required_argument, NULL, O_PROCS},
        {"warmup-events", required_argument, NULL, O_WARMUP},
        {"json", required_argument, NULL, O_JSON},
        {"header", required_argument, NULL, O_HEADER},
        {"reconnect", no_argument, NULL, O_RECONNECT},
        {"connect-timeout", required_argument, NULL, O_TIMEOUT},
        {"source-ips", required_argument, NULL, O_SOURCES},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct headers headers = {.n = 0};
    const char *bad = NULL;
    int opt;
    cfg->rate = 2000;
    cfg->duration_s = 20;
    cfg->connect_timeout_s = 10;
    while (bad == NULL && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == O_HELP) {
            usage(stdout);
            return -1;
        }
        if (opt == '?')
            return 2; /* getopt_long said why */
        bad = apply_option(cfg, &headers, opt, optarg);
    }
    if (bad == NULL && optind < argc)
        bad = "unexpected argument";
    if (bad == NULL && (cfg->url == NULL || cfg->clients == 0))
        bad = "--url and --clients are required";
    if (bad != NULL) {
        fprintf(stderr, "sse-load: %s\nTry 'sse-load --help'.\n", bad);
        return 2;
    }

    char authority[512], host[256], port[16], err[300];
    const char *path;
    if (!parse_url(cfg->url, authority, sizeof authority, &path, host, port, err, sizeof err)) {
        fprintf(stderr, "sse-load: %s\n", err);
        return 2;
    }
    if (!resolve_url(cfg, host, port, err, sizeof err)) {
        fprintf(stderr, "sse-load: %s\n", err);
        return 1; /* well-formed, but there is nothing to connect to */
    }
    if (!plan_sources(cfg))
        return 2;
    if (!build_request(cfg, authority, path, headers.v, headers.n)) {
        fprintf(stderr, "sse-load: request headers longer than %d bytes\n", REQUEST_MAX);
        return 2;
    }
    return 0;
}

/* Raises the soft open-file limit to the hard one and picks the number of workers.
 * Returns 0, or the exit status for main. */
static int plan_procs(struct config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned long limit = rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_cur;
    if (limit <= FD_RESERVE + 1) {
        fprintf(stderr, "sse-load: open-file limit %lu is too low\n", limit);
        return 1;
    }
    unsigned long fit = limit - FD_RESERVE;
    if (fit > CLIENTS_PER_PROC)
        fit = CLIENTS_PER_PROC;
    if (cfg->procs == 0) {
        unsigned long p = (cfg->clients + fit - 1) / fit;
        if (p > MAX_PROCS) {
            fprintf(stderr, "sse-load: %u clients need more than %d processes\n", cfg->clients,
                    MAX_PROCS);
            return 2;
        }
        cfg->procs = (unsigned)p;
    }
    if (cfg->procs > cfg->clients)
        cfg->procs = cfg->clients;
    unsigned per = (cfg->clients + cfg->procs - 1) / cfg->procs;
    if ((unsigned long)per + FD_RESERVE > limit) {
        fprintf(stderr,
                "sse-load: %u sockets per process exceed the open-file limit %lu: use more "
                "--procs\n",
                per, limit);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Parent: running the workers.                                                           */

/* The one global: signal handlers may only set a flag (docs/conventions.md, how the code is
 * written). */
static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

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

static int run_setup(struct run *run)
{
    const struct config *cfg = run->cfg;
    run->sh =
        mmap(NULL, sizeof *run->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    run->held = mmap(NULL, cfg->clients, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (run->sh == MAP_FAILED || run->held == MAP_FAILED) {
        fprintf(stderr, "sse-load: mmap: %s\n", strerror(errno));
        return -1;
    }
    atomic_init(&run->sh->stop, 0);
    for (unsigned i = 0; i < cfg->procs; i++) {
        atomic_init(&run->sh->w[i].resolved, 0);
        atomic_init(&run->sh->w[i].last_resolved_us, 0);
        atomic_init(&run->sh->w[i].streaming, 0);
        run->recs[i] = tmpfile();
        if (run->recs[i] == NULL) {
            fprintf(stderr, "sse-load: temp file: %s\n", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void run_kill_workers(struct run *run)
{
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        if (run->pids[i] > 0 && !run->reaped[i]) {
            kill(run->pids[i], SIGKILL);
            waitpid(run->pids[i], NULL, 0);
            run->reaped[i] = true;
        }
    }
}

static int run_spawn(struct run *run)
{
    const struct config *cfg = run->cfg;
    pid_t self = getpid();
    uint32_t first = 0;
    fflush(NULL); /* nothing buffered may be written twice */
    run->t_start_us = real_us();
    for (unsigned i = 0; i < cfg->procs; i++) {
        unsigned n = cfg->clients / cfg->procs + (i < cfg->clients % cfg->procs);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "sse-load: fork: %s\n", strerror(errno));
            run_kill_workers(run);
            return -1;
        }
        if (pid == 0)
            _exit(worker_main(cfg, run->sh, run->held, i, first, n, run->recs[i], self));
        run->pids[i] = pid;
        first += n;
    }
    return 0;
}

/* A worker that ends before it is told to has failed (out of memory, a crash). */
static bool run_worker_died(struct run *run)
{
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        int status;
        if (!run->reaped[i] && waitpid(run->pids[i], &status, WNOHANG) == run->pids[i]) {
            run->reaped[i] = true;
            fprintf(stderr, "sse-load: worker %u (pid %d) ended early (%s %d)\n", i,
                    (int)run->pids[i], WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return true;
        }
    }
    return false;
}

/* Sums the workers' first-attempt progress; true once every client's attempt resolved. */
static bool run_check_connected(struct run *run, unsigned *streaming)
{
    unsigned resolved = 0;
    int64_t last = 0;
    *streaming = 0;
    for (unsigned i = 0; i < run->cfg->procs; i++) {
        struct wstats *st = &run->sh->w[i];
        resolved += atomic_load(&st->resolved);
        *streaming += atomic_load(&st->streaming);
        int64_t t = atomic_load(&st->last_resolved_us);
        if (t > last)
            last = t;
    }
    if (resolved < run->cfg->clients)
        return false;
    run->t_all_us = last;
    return true;
}

/* Waits for all clients, then for --duration, or for a signal; then stops the workers. */
static int run_watch(struct run *run)
{
    const struct config *cfg = run->cfg;
    int64_t deadline = 0, next_note = mono_ms() + 2000;
    unsigned streaming = 0;
    const struct timespec pause = {0, POLL_MS * 1000000L};
    for (;;) {
        if (g_interrupted) {
            run->interrupted = true;
            fprintf(stderr, "sse-load: interrupted, reporting\n");
            break;
        }
        if (run_worker_died(run)) {
            run_kill_workers(run);
            return -1;
        }
        int64_t now = mono_ms();
        if (!run->all_connected && run_check_connected(run, &streaming)) {
            run->all_connected = true;
            deadline = now + (int64_t)(cfg->duration_s * 1000);
            fprintf(stderr,
                    "sse-load: all %u clients resolved in %.2f s (%u streaming); "
                    "measuring for %g s\n",
                    cfg->clients, (run->t_all_us - run->t_start_us) / 1e6, streaming,
                    cfg->duration_s);
        } else if (!run->all_connected && now >= next_note) {
            fprintf(stderr, "sse-load: connecting: %u streams open\n", streaming);
            next_note = now + 2000;
        } else if (run->all_connected && now >= deadline) {
            break;
        }
        nanosleep(&pause, NULL);
    }
    atomic_store(&run->sh->stop, 1);
    run->t_stop_us = real_us();
    int rc = 0;
    for (unsigned i = 0; i < cfg->procs; i++) {
        int status;
        if (run->reaped[i] || waitpid(run->pids[i], &status, 0) != run->pids[i])
            continue;
        run->reaped[i] = true;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "sse-load: worker %u failed at shutdown\n", i);
            rc = -1;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Parent: analysis.                                                                      */

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

/* ------------------------------------------------------------------------------------ */
/* Parent: the report.                                                                    */

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
            set_reason(rep->first_error, st->first_error);
        if (rep->first_drop[0] == '\0')
            set_reason(rep->first_drop, st->first_drop);
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
static int analyse(const struct run *run, struct report *rep)
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

static void print_report(FILE *o, const struct config *cfg, const struct report *r)
{
    fprintf(o, "sse-load report: %s\n", cfg->url);
    fprintf(o, "  %-26s %u (%u processes, %g connects/s)\n", "clients requested", r->requested,
            r->procs, cfg->rate);
    if (r->all_connected)
        fprintf(o, "  %-26s %.2f s\n", "connect time (all)", r->connect_s);
    else
        fprintf(o, "  %-26s not all clients connected before the stop\n", "connect time (all)");
    fprintf(o, "  %-26s %.1f s%s\n", "measured for", r->measured_s,
            r->interrupted ? " (interrupted)" : "");
    fprintf(o, "  %-26s %u\n", "connected (held at end)", r->connected);
    fprintf(o, "  %-26s %u%s%s%s\n", "failed connects", r->failed, r->failed ? " (first: " : "",
            r->failed ? r->first_error : "", r->failed ? ")" : "");
    if (r->timeouts)
        fprintf(o, "  %-26s %u\n", "  of which timeouts", r->timeouts);
    if (r->pending)
        fprintf(o, "  %-26s %u\n", "still connecting at stop", r->pending);
    fprintf(o, "  %-26s %u%s%s%s\n", "disconnected", r->disconnected,
            r->disconnected ? " (first: " : "", r->disconnected ? r->first_drop : "",
            r->disconnected ? ")" : "");
    if (cfg->reconnect)
        fprintf(o, "  %-26s %u (failed attempts %u)\n", "reconnects", r->reconnects,
                r->reconnect_failed);
    fprintf(o, "  %-26s", "non-200 responses");
    if (r->nstatus == 0 && r->status_other == 0)
        fprintf(o, " 0");
    for (unsigned i = 0; i < r->nstatus; i++)
        fprintf(o, " %u x %u", r->status[i].count, r->status[i].code);
    if (r->status_other)
        fprintf(o, " %u x other", r->status_other);
    fprintf(o, "\n");
    if (r->protocol_errors)
        fprintf(o, "  %-26s %u\n", "protocol errors", r->protocol_errors);
    fprintf(o, "  %-26s %llu\n", "events received", r->events);
    fprintf(o, "  %-26s min %u / avg %.1f / max %u\n", "events per client", r->ev_min, r->ev_avg,
            r->ev_max);
    fprintf(o, "  %-26s %llu\n", "heartbeats (comment lines)", r->heartbeats);
    fprintf(o, "  %-26s %llu\n", "duplicates/out-of-order", r->duplicates);
    fprintf(o, "  %-26s %zu (first seen > %.1f s before the stop)\n", "reference events",
            r->reference, r->reference_cutoff_s);
    if (r->misses_computed) {
        fprintf(o, "  %-26s %u\n", "clients with misses", r->clients_with_misses);
        fprintf(o, "  %-26s %llu\n", "missed events", r->missed);
    } else {
        fprintf(o, "  %-26s not computed\n", "misses");
    }
    if (r->lat_count > 0)
        fprintf(o, "  %-26s n=%zu  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms\n", "latency",
                r->lat_count, r->p50, r->p90, r->p99, r->max_ms);
    else
        fprintf(o, "  %-26s no events stamped after all clients connected\n", "latency");
    fprintf(o, "  %-26s workers %.1f MiB total (largest %.1f MiB), parent %.1f MiB\n",
            "client peak RSS", r->rss_total / 1024.0, r->rss_max / 1024.0, r->rss_parent / 1024.0);
    if (r->netdev_backlog >= 0)
        fprintf(o, "  %-26s %ld%s\n", "netdev_max_backlog", r->netdev_backlog,
                r->netdev_backlog < 10000 ? " (low: loopback bursts may drop packets and add "
                                            "200 ms retransmits)"
                                          : "");
    if (r->record_error)
        fprintf(o, "  WARNING: some event records could not be written (disk full?)\n");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s)
{
    if (s[0] == '\0')
        fputs("null", f);
    else
        json_str(f, s);
}

static int write_json(const char *path, const struct config *cfg, const struct report *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "sse-load: --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"url\": ");
    json_str(f, cfg->url);
    fprintf(f, ",\n  \"clients_requested\": %u,\n  \"procs\": %u,\n  \"rate\": %g,\n", r->requested,
            r->procs, cfg->rate);
    fprintf(f, "  \"all_connected\": %s,\n", r->all_connected ? "true" : "false");
    if (r->all_connected)
        fprintf(f, "  \"connect_time_s\": %.3f,\n", r->connect_s);
    else
        fprintf(f, "  \"connect_time_s\": null,\n");
    fprintf(f, "  \"measured_s\": %.3f,\n  \"interrupted\": %s,\n", r->measured_s,
            r->interrupted ? "true" : "false");
    fprintf(f,
            "  \"connected\": %u,\n  \"failed_connects\": %u,\n  \"connect_timeouts\": %u,\n"
            "  \"pending_connects\": %u,\n",
            r->connected, r->failed, r->timeouts, r->pending);
    fprintf(f, "  \"first_error\": ");
    json_str_or_null(f, r->first_error);
    fprintf(f, ",\n  \"disconnected\": %u,\n  \"first_disconnect\": ", r->disconnected);
    json_str_or_null(f, r->first_drop);
    fprintf(f, ",\n  \"reconnects\": %u,\n  \"reconnect_failures\": %u,\n", r->reconnects,
            r->reconnect_failed);
    fprintf(f, "  \"non_200\": {");
    for (unsigned i = 0; i < r->nstatus; i++)
        fprintf(f, "%s\"%u\": %u", i ? ", " : "", r->status[i].code, r->status[i].count);
    if (r->status_other)
        fprintf(f, "%s\"other\": %u", r->nstatus ? ", " : "", r->status_other);
    fprintf(f, "},\n  \"protocol_errors\": %u,\n", r->protocol_errors);
    fprintf(f, "  \"events_total\": %llu,\n", r->events);
    fprintf(f, "  \"events_per_client\": {\"min\": %u, \"avg\": %.2f, \"max\": %u},\n", r->ev_min,
            r->ev_avg, r->ev_max);
    fprintf(f, "  \"heartbeats\": %llu,\n  \"duplicates\": %llu,\n  \"reference_events\": %zu,\n",
            r->heartbeats, r->duplicates, r->reference);
    fprintf(f, "  \"reference_cutoff_s\": %.3f,\n", r->reference_cutoff_s);
    if (r->misses_computed)
        fprintf(f, "  \"clients_with_misses\": %u,\n  \"missed_events\": %llu,\n",
                r->clients_with_misses, r->missed);
    else
        fprintf(f, "  \"clients_with_misses\": null,\n  \"missed_events\": null,\n");
    fprintf(f, "  \"warmup_events\": %u,\n", cfg->warmup);
    if (r->lat_count > 0)
        fprintf(f,
                "  \"latency_ms\": {\"count\": %zu, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
                "\"max\": %.3f},\n",
                r->lat_count, r->p50, r->p90, r->p99, r->max_ms);
    else
        fprintf(f, "  \"latency_ms\": {\"count\": 0, \"p50\": null, \"p90\": null, \"p99\": "
                   "null, \"max\": null},\n");
    fprintf(f, "  \"rss_kib\": {\"workers_total\": %ld, \"workers_max\": %ld, \"parent\": %ld},\n",
            r->rss_total, r->rss_max, r->rss_parent);
    fprintf(f, "  \"netdev_max_backlog\": %ld,\n  \"record_error\": %s\n}\n", r->netdev_backlog,
            r->record_error ? "true" : "false");
    if (fclose(f) != 0) {
        fprintf(stderr, "sse-load: --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct config cfg = {0};
    struct report rep = {0};
    struct run run = {.cfg = &cfg};
    int rc = parse_args(argc, argv, &cfg);
    if (rc == 0)
        rc = plan_procs(&cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (run_setup(&run) != 0 || run_spawn(&run) != 0)
        return 1;
    fprintf(stderr, "sse-load: %u clients, %u processes, %g connects/s, %s\n", cfg.clients,
            cfg.procs, cfg.rate, cfg.url);
    if (run_watch(&run) != 0)
        return 1;
    if (analyse(&run, &rep) != 0)
        return 1;
    print_report(stdout, &cfg, &rep);
    if (cfg.json_path != NULL && write_json(cfg.json_path, &cfg, &rep) != 0)
        return 1;
    return 0;
}
