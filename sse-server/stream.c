/* stream.c: one EventSource stream = one hub subscriber. The interface, and who owns what, is
 * in stream.h. */
#include "stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "event_id.h"
#include "rc_config.h"
#include "rc_log.h"
#include "rc_time.h"

/* Per stream; freed in free_client() when libmicrohttpd drops the response. */
struct client {
    const struct sse_stream_env *env;
    struct MHD_Connection *conn;
    struct sse_sub *sub;
    int fd; /* watched by the reaper under token */
    uint32_t token;
    unsigned reads; /* reader calls so far */
    int direct;     /* handed to the writers: park/wake go to them */
    int done;       /* the writer handed the stream back: return done_code */
    ssize_t done_code;
    struct sse_direct d;
};

/* Under the hub's lock. A direct stream stays suspended in libmicrohttpd
 * for good: parking it is only the hub's flag, and waking it queues it for
 * its writer. */
static void park(void *ctx)
{
    struct client *cl = ctx;
    if (!cl->direct)
        MHD_suspend_connection(cl->conn);
}

static void wake(void *ctx)
{
    struct client *cl = ctx;
    if (cl->direct)
        sse_writers_wake(&cl->d);
    else
        MHD_resume_connection(cl->conn);
}

/* On a writer thread: the stream is over; libmicrohttpd takes it back,
 * calls read_stream once more, and ends or drops the connection. */
static void direct_finish(void *ctx, int clean)
{
    struct client *cl = ctx;
    cl->done_code = clean ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    cl->done = 1; /* published to libmicrohttpd's thread by its resume lock */
    MHD_resume_connection(cl->conn);
}

/* The second reader call: libmicrohttpd has sent the head and the greeting
 * (it calls a reader only with an empty write buffer), so the socket can
 * change hands. Suspend first, so that libmicrohttpd is out of the way
 * before the writer's first send. */
static ssize_t hand_over(struct client *cl)
{
    cl->d = (struct sse_direct){.sub = cl->sub, .fd = cl->fd, .finish = direct_finish, .ctx = cl};
    cl->direct = 1; /* no hub callback can run now: the sub is not parked */
    MHD_suspend_connection(cl->conn);
    if (sse_writers_attach(cl->env->writers, &cl->d) < 0) {
        /* Shutting down: end here instead. */
        cl->done_code = MHD_CONTENT_READER_END_OF_STREAM;
        cl->done = 1;
        MHD_resume_connection(cl->conn);
    }
    return 0;
}

/* Under the hub's lock: the client stopped reading and fell a whole ring
 * behind. shutdown() (not close: the descriptor stays libmicrohttpd's)
 * makes its next write fail: libmicrohttpd's, or the writer's, which then
 * hands the connection back; either way libmicrohttpd closes and frees it
 * as for any dead peer. */
static void cut(void *ctx)
{
    struct client *cl = ctx;
    if (cl->fd >= 0)
        shutdown(cl->fd, SHUT_RDWR);
}

void sse_stream_hangup(void *ctx)
{
    struct client *cl = ctx;
    sse_hub_kick(cl->env->hub, cl->sub);
}

/* libmicrohttpd pulls the body through here. With nothing to send we must
 * suspend the connection and return 0 (the hub's park does both under its
 * lock): returning 0 without suspending makes libmicrohttpd busy-loop. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct client *cl = cls;
    if (cl->done)
        return cl->done_code;
    if (cl->env->writers && cl->reads++ == 1)
        return hand_over(cl);
    ssize_t n = sse_hub_read(cl->env->hub, cl->sub, buf, max);
    switch (n) {
    case SSE_HUB_EOF:
        return MHD_CONTENT_READER_END_OF_STREAM;
    case SSE_HUB_LAGGED:
        rc_info("http: client fell behind the history ring: disconnected");
        return MHD_CONTENT_READER_END_WITH_ERROR;
    case SSE_HUB_GONE:
        return MHD_CONTENT_READER_END_WITH_ERROR;
    default:
        return n;
    }
}

static void free_client(void *cls)
{
    struct client *cl = cls;
    if (cl->env->reaper)
        sse_reaper_unwatch(cl->env->reaper, cl->fd, cl->token);
    sse_hub_unsubscribe(cl->env->hub, cl->sub);
    free(cl);
}

/* The greeting: a comment (so headers and first bytes reach the browser at
 * once), retry: with jitter (so a restart does not bring every browser back
 * in the same millisecond), and a reset event when a resume failed. The
 * reset carries the id of the live point, so the client's next reconnect
 * resumes from there. */
static size_t greeting(char *buf, size_t cap, unsigned retry_ms, const struct sse_resume *r,
                       const char *asked)
{
    unsigned retry = retry_ms + (unsigned)rc_rand_below(retry_ms / 2 + 1);
    int n = snprintf(buf, cap, ": ratecast stream\nretry: %u\n\n", retry);
    if (r->kind == SSE_RESUME_RESET) {
        char idline[40] = "";
        if (r->newest)
            snprintf(idline, sizeof idline, "id: %" PRIu64 "\n", r->newest);
        n += snprintf(buf + n, cap - (size_t)n,
                      "%sevent: reset\ndata: {\"requested\":\"%.24s\",\"oldest\":\"%" PRIu64
                      "\",\"newest\":\"%" PRIu64 "\",\"continues_after\":\"%" PRIu64 "\"}\n\n",
                      idline, asked, r->oldest, r->newest, r->after);
    }
    return (size_t)n;
}

/* Copy s keeping only bytes that are safe inside our JSON string. */
static void sanitize(char *dst, size_t cap, const char *s)
{
    size_t j = 0;
    for (; s && *s && j + 1 < cap; s++)
        if ((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
            *s == '-')
            dst[j++] = *s;
    dst[j] = '\0';
}

/* ?since=: a duration back from now ("30s", "15m", "2h"; rc_config's
 * parser, so "500ms" too), as the epoch time it starts at (>= 1: 0 means
 * none to the hub). 0 and *from_us set, or -1. */
int sse_parse_since(const char *s, int64_t now_us, int64_t *from_us)
{
    int64_t ms = rc_parse_duration(s);
    if (ms <= 0)
        return -1;
    *from_us = ms >= now_us / 1000 ? 1 : now_us - ms * 1000;
    return 0;
}

/* RFC 3339 in UTC with microseconds, like the ticks' own "time". */
static void format_time(char *buf, size_t cap, int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%06dZ", (int)(us % 1000000));
}

static struct MHD_Response *text(const char *body, unsigned code, unsigned *status)
{
    *status = code;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    if (r && code == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "5");
    return r;
}

struct MHD_Response *sse_stream_open(const struct sse_stream_env *env, struct MHD_Connection *c,
                                     unsigned *status)
{
    struct rc_pair pairs[RC_PAIRS_MAX];
    char err[160];
    struct sse_sub_params p = {.park = park, .wake = wake, .cut = cut, .snapshot = env->snapshot};

    const char *filter = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pairs");
    if (filter && *filter) {
        int n = rc_pairs_parse(filter, pairs, RC_PAIRS_MAX, err, sizeof err);
        if (n < 0)
            return text("bad ?pairs=: expected BASE/QUOTE[,BASE/QUOTE...], e.g. BTC/USD\n",
                        MHD_HTTP_BAD_REQUEST, status);
        p.pairs = pairs;
        p.npairs = (size_t)n;
    }
    /* The header is what EventSource sends on its own reconnects; the query
     * parameter serves clients that cannot set headers. */
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (last == NULL || *last == '\0')
        last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last_event_id");
    if (last && *last) {
        p.resume = 1;
        p.resume_valid = sse_event_id_parse(last, &p.last_id) == 0;
    }
    /* Parsed even when Last-Event-ID is given (and wins, in the hub): an
     * EventSource reconnects with its page's URL, ?since= and all. */
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    if (since && *since && sse_parse_since(since, rc_real_us(), &p.since_us) < 0)
        return text("bad ?since=: expected a duration back from now such as 30s, 15m or 2h\n",
                    MHD_HTTP_BAD_REQUEST, status);

    struct client *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return NULL;
    cl->env = env;
    cl->conn = c;
    cl->fd = -1;
    p.ctx = cl;
    struct sse_resume res;
    cl->sub = sse_hub_subscribe(env->hub, &p, &res);
    if (cl->sub == NULL) {
        free(cl);
        if (sse_hub_full(env->hub))
            return text("too many clients, retry later\n", MHD_HTTP_SERVICE_UNAVAILABLE, status);
        return text("shutting down, retry later\n", MHD_HTTP_SERVICE_UNAVAILABLE, status);
    }
    char greet[512], asked[32];
    sanitize(asked, sizeof asked, last);
    sse_hub_set_greeting(cl->sub, greet, greeting(greet, sizeof greet, env->retry_ms, &res, asked));

    /* libmicrohttpd allocates the block with every response: on the direct
     * path only the greeting goes through it (in pieces if need be; the
     * writer sends whatever is left), so a small block saves 4 KiB per
     * client. */
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, env->writers ? 128 : 4096, read_stream, cl, free_client);
    if (r == NULL) {
        free_client(cl);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    if (res.kind == SSE_RESUME_SINCE) {
        /* Where the replay really starts: later than asked when the window
         * reaches past the oldest event kept (now when nothing is kept). */
        char when[40];
        format_time(when, sizeof when, res.since_us ? res.since_us : rc_real_us());
        MHD_add_response_header(r, "X-Ratecast-Resume", "since");
        MHD_add_response_header(r, "X-Ratecast-Since", when);
    } else if (res.kind != SSE_RESUME_LIVE) {
        /* The real replay point: the stream continues after this id. */
        char after[24];
        snprintf(after, sizeof after, "%" PRIu64, res.after);
        MHD_add_response_header(r, "Last-Event-ID", after);
        MHD_add_response_header(r, "X-Ratecast-Resume",
                                res.kind == SSE_RESUME_REPLAY ? "replay" : "reset");
    }
    if (env->snapshot && !p.resume) {
        char n[24];
        snprintf(n, sizeof n, "%zu", res.snapshot);
        MHD_add_response_header(r, "X-Ratecast-Snapshot", n);
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cl->fd = ci ? ci->connect_fd : -1;
    if (env->reaper)
        cl->token = sse_reaper_watch(env->reaper, cl->fd, cl);
    /* A stream is idle for long stretches by design: only requests that are
     * not streams are subject to the request timeout. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    *status = MHD_HTTP_OK;
    return r;
}
