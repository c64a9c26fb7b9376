/* sse-load: a worker process. It opens its share of the connections on schedule, sends each
 * request, reads the response head, decodes the body (http_response.c) and the event stream
 * (es_decode.c), and appends a record per event for the parent's analysis (sse_load.h says
 * what is measured and why this way). */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "es_decode.h"
#include "http_response.h"
#include "sse_load.h"
#include "tick_time.h"

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_HEADERS, C_STREAM, C_WAIT, C_CLOSED };

enum {
    F_RESOLVED = 1 << 0, /* the first attempt is over: later ones are reconnects */
    F_EV_TIME = 1 << 1,  /* the event being read has a data line with a tick time */
};

struct worker;

/* About 4.5 KiB per client: the buffer dominates. It holds the request while it is sent,
 * then the response headers, then the decoded body's unfinished line (the decoder's line
 * buffer). */
struct conn {
    int fd;
    uint32_t client; /* global client number, across workers */
    uint8_t state, flags;
    uint16_t len; /* bytes in buf */
    uint16_t out_off, out_len;
    struct worker *w;
    struct http_body body;
    struct es_decoder es; /* keeps the last event ID over reconnects, as a browser does */
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
    int64_t recv_us; /* when the bytes being decoded were read */
};

static void conn_resolve(struct worker *w, struct conn *c)
{
    c->flags |= F_RESOLVED;
    atomic_store(&w->st->last_resolved_us, sl_real_us());
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
        sl_set_reason(w->st->first_drop, reason);
    } else if (!(c->flags & F_RESOLVED)) {
        w->st->failed++;
        sl_set_reason(w->st->first_error, reason);
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
        c->deadline_ms = sl_mono_ms() + RECONNECT_DELAY_MS;
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

/* The request goes into the connection's own buffer: it is free until the response. A
 * reconnect sends the last event ID back, as a browser does, when it is a number
 * (sse-server's and the floor's ids): the scenarios resume those two, never Nchan. */
static uint16_t request_build(const struct config *cfg, struct conn *c)
{
    size_t n = cfg->request_len, idlen;
    memcpy(c->buf, cfg->request, n);
    const char *last = es_last_event_id(&c->es, &idlen);
    uint64_t id;
    if (sl_parse_u64(last, idlen, &id))
        n += (size_t)snprintf(c->buf + n, BUF_CAP - n, "Last-Event-ID: %" PRIu64 "\r\n", id);
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
    c->flags &= F_RESOLVED; /* all that survives a reconnect, with the decoder's last id */
    c->len = 0;
    c->out_off = 0;
    c->out_len = request_build(cfg, c);
    c->deadline_ms = sl_mono_ms() + (int64_t)(cfg->connect_timeout_s * 1000);
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
    es_decoder_restart(&c->es); /* a new body: its first line may start with a BOM */
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
/* The event stream: es_decode's callbacks.                                               */

/* Nchan's ids on a single channel, "<seconds>:<n>" (n counts the messages published within
 * that second), as one number that sorts the same way: seconds << NCHAN_TAG_BITS | n. */
enum { NCHAN_TAG_BITS = 20 };
static bool parse_nchan_id(const char *v, size_t n, uint64_t *out)
{
    const char *colon = memchr(v, ':', n);
    uint64_t sec, tag;
    if (colon == NULL || !sl_parse_u64(v, (size_t)(colon - v), &sec) ||
        !sl_parse_u64(colon + 1, n - (size_t)(colon - v) - 1, &tag) ||
        sec >= (UINT64_C(1) << (64 - NCHAN_TAG_BITS)) || tag >= (UINT64_C(1) << NCHAN_TAG_BITS))
        return false;
    *out = sec << NCHAN_TAG_BITS | tag;
    return true;
}

/* Only an id given in the event itself is recorded with it: the spec's lastEventId carries
 * the previous id over to an event without one, which here would look like a duplicate.
 * Numeric ids, and Nchan's "<seconds>:<n>" (so misses, duplicates and order are checked for
 * Nchan too, bursts included); other ids are not recorded. */
static void on_event(void *ctx, const struct es_event *ev)
{
    struct conn *c = ctx;
    struct worker *w = c->w;
    uint64_t id = 0;
    bool has_id = ev->id_field && (sl_parse_u64(ev->id, ev->id_len, &id) ||
                                   parse_nchan_id(ev->id, ev->id_len, &id));
    bool has_time = c->flags & F_EV_TIME;
    struct record rec = {
        .id = has_id ? id : 0,
        .recv_us = w->recv_us,
        .ev_us = has_time ? c->ev_time_us : 0,
        .client = c->client,
        .flags = (has_id ? R_ID : 0) | (has_time ? R_TIME : 0),
    };
    if (fwrite(&rec, sizeof rec, 1, w->rec) != 1)
        w->st->record_error = true;
    c->flags &= (uint8_t)~F_EV_TIME;
}

static void on_comment(void *ctx, const char *text, size_t len)
{
    (void)text;
    (void)len;
    struct conn *c = ctx;
    c->w->st->heartbeats++;
}

/* The first tick time in the event's data lines is its time (events are not kept whole). */
static void on_data_line(void *ctx, const char *value, size_t len)
{
    struct conn *c = ctx;
    if (!(c->flags & F_EV_TIME) && tick_time_find(value, len, &c->ev_time_us))
        c->flags |= F_EV_TIME;
}

static const struct es_sink SINK = {
    .event = on_event,
    .comment = on_comment,
    .data_line = on_data_line,
};

/* n new raw bytes are at buf[len..]: remove the body's framing, then decode lines and
 * events (the unfinished line stays at the start of buf). A line longer than the buffer is
 * taken by its first 4 KiB (a tick's time is near the start): memory per client is fixed
 * whatever the server sends. */
static void body_input(struct worker *w, struct conn *c, size_t n)
{
    size_t end = c->len;
    bool ended = false;
    const char *why = NULL;
    if (!http_body_decode(&c->body, c->buf, c->len, n, &end, &ended, &why)) {
        w->st->protocol_errors++;
        conn_close(w, c, why);
        return;
    }
    c->len = (uint16_t)es_decode(&c->es, c->buf, end, BUF_CAP);
    if (ended && c->state == C_STREAM)
        conn_close(w, c, "server ended the response body");
}

static void headers_input(struct worker *w, struct conn *c)
{
    size_t end = http_header_end(c->buf, c->len);
    if (end == 0) {
        if (c->len == BUF_CAP) {
            w->st->protocol_errors++;
            conn_close(w, c, "response head larger than 4 KiB");
        }
        return;
    }
    struct http_response r;
    char reason[REASON_LEN];
    if (!http_response_parse(c->buf, end, &r)) {
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
    http_body_init(&c->body, &r);
    conn_stream_open(w, c);
    size_t rest = c->len - end;
    memmove(c->buf, c->buf + end, rest);
    c->len = 0;
    if (rest > 0 || r.has_length)
        body_input(w, c, rest); /* also ends an empty Content-Length body */
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
        else if (c->body.framing != HTTP_BODY_UNTIL_CLOSE)
            conn_close(w, c, "connection closed inside the response body");
        else
            conn_close(w, c, "server closed the stream");
        return;
    }
    /* One clock read per read(): every event in it arrived at the same moment for us. */
    w->recv_us = sl_real_us();
    if (c->state == C_HEADERS) {
        c->len += (uint16_t)n;
        headers_input(w, c);
    } else {
        body_input(w, c, (size_t)n);
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
    int64_t next_tick = sl_mono_ms() + TICK_MS;
    w->start_ms = sl_mono_ms();
    while (!atomic_load(w->stop)) {
        int timeout = TICK_MS;
        if (w->opened < w->n) {
            worker_open_due(w, sl_mono_ms());
            timeout = 1;
        }
        int k = epoll_wait(w->ep, evs, EPOLL_BATCH, timeout);
        if (k < 0 && errno != EINTR) {
            fprintf(stderr, "sse-load: epoll_wait: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < k; i++)
            conn_event(w, evs[i].data.ptr);
        int64_t now = sl_mono_ms();
        if (now >= next_tick) {
            worker_timers(w, now);
            next_tick = now + TICK_MS;
        }
    }
    worker_finish(w);
    return 0;
}

int sl_worker_main(const struct config *cfg, struct shared *sh, unsigned char *held, unsigned index,
                   uint32_t first_client, unsigned n, FILE *rec, pid_t parent)
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
        w.conns[i].w = &w;
        es_decoder_init(&w.conns[i].es, &SINK, &w.conns[i], 0); /* 0: data is not kept */
    }
    int rc = worker_loop(&w);
    close(w.ep);
    free(w.conns);
    if (fclose(rec) != 0)
        w.st->record_error = true;
    return rc == 0 ? 0 : 1;
}
