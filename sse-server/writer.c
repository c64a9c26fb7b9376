/* writer.c: the stream write path, off libmicrohttpd. The interface, and who owns what, is in
 * writer.h. */
#include "writer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rc_log.h"

/* Room for the chunk-size line before the hub's bytes ("3fff\r\n"), and
 * the hub's bytes per chunk: a whole replay backlog goes out in a few
 * sends, and a live event in one. */
#define HEAD_ROOM 16
#define CHUNK_MAX 16384

struct sse_writer {
    struct sse_writers *ws;
    pthread_t thread;
    int ep, efd;
    pthread_mutex_t lock; /* the run queue, the stream list, stopping */
    struct sse_direct *qhead, *qtail;
    struct sse_direct *streams; /* attached, not finished */
    int stopping;
    char buf[HEAD_ROOM + CHUNK_MAX + 2];
};

struct sse_writers {
    struct sse_hub *hub;
    unsigned n, next; /* next: round robin, under writers[0].lock */
    int stopped;      /* threads joined */
    struct sse_writer *w;
};

static void signal_writer(struct sse_writer *w)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is about to overflow: already signalled. */
    if (write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        rc_warn("writer: eventfd: %s", strerror(errno));
}

/* Caller holds w->lock. Returns 1 when the queue was empty (signal it). */
static int enqueue_locked(struct sse_writer *w, struct sse_direct *d)
{
    if (d->queued)
        return 0;
    d->queued = 1;
    d->qnext = NULL;
    int was_empty = w->qhead == NULL;
    if (was_empty)
        w->qhead = d;
    else
        w->qtail->qnext = d;
    w->qtail = d;
    return was_empty;
}

void sse_writers_wake(struct sse_direct *d)
{
    struct sse_writer *w = d->w;
    pthread_mutex_lock(&w->lock);
    int sig = enqueue_locked(w, d);
    pthread_mutex_unlock(&w->lock);
    if (sig)
        signal_writer(w);
}

int sse_writers_attach(struct sse_writers *ws, struct sse_direct *d)
{
    pthread_mutex_lock(&ws->w[0].lock);
    struct sse_writer *w = &ws->w[ws->next++ % ws->n];
    pthread_mutex_unlock(&ws->w[0].lock);

    /* libmicrohttpd may have left the socket corked after the head, and
     * Nagle would hold an event back behind the previous one's delayed
     * ACK: every event must leave at once. */
    int on = 1, off = 0;
    (void)setsockopt(d->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    (void)setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

    d->w = w;
    d->prev = NULL;
    d->queued = d->armed = 0;
    d->pending = NULL;
    d->plen = d->poff = 0;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    d->next = w->streams;
    if (w->streams)
        w->streams->prev = d;
    w->streams = d;
    int sig = enqueue_locked(w, d); /* its first service reads the backlog */
    pthread_mutex_unlock(&w->lock);
    if (sig)
        signal_writer(w);
    return 0;
}

static void finish(struct sse_writer *w, struct sse_direct *d, int clean)
{
    if (d->armed)
        epoll_ctl(w->ep, EPOLL_CTL_DEL, d->fd, NULL);
    free(d->pending);
    pthread_mutex_lock(&w->lock);
    if (d->prev)
        d->prev->next = d->next;
    else
        w->streams = d->next;
    if (d->next)
        d->next->prev = d->prev;
    pthread_mutex_unlock(&w->lock);
    d->finish(d->ctx, clean); /* d may be gone from here on */
}

/* Wait for the socket to drain (one-shot: re-armed on every block). */
static int arm(struct sse_writer *w, struct sse_direct *d)
{
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLONESHOT, .data.ptr = d};
    if (epoll_ctl(w->ep, d->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, d->fd, &ev) < 0)
        return -1;
    d->armed = 1;
    return 0;
}

/* One non-blocking send: the bytes the socket took (0 when it is full),
 * or -1 when the connection is dead. */
static ssize_t send_some(int fd, const char *p, size_t len)
{
    ssize_t r = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return r;
}

/* Send len bytes; keep what the socket did not take. 1: all sent, 0: the
 * rest is pending (armed), -1: the connection is dead. */
static int send_or_keep(struct sse_writer *w, struct sse_direct *d, const char *p, size_t len)
{
    ssize_t r = send_some(d->fd, p, len);
    if (r < 0)
        return -1;
    if ((size_t)r == len)
        return 1;
    size_t rest = len - (size_t)r;
    if ((d->pending = malloc(rest)) == NULL)
        return -1;
    memcpy(d->pending, p + r, rest);
    d->plen = rest;
    d->poff = 0;
    return arm(w, d) < 0 ? -1 : 0;
}

/* Push the unsent rest of the last chunk. 1: done, 0: still blocked, -1:
 * dead. */
static int flush_pending(struct sse_writer *w, struct sse_direct *d)
{
    if (d->pending == NULL)
        return 1;
    ssize_t r = send_some(d->fd, d->pending + d->poff, d->plen - d->poff);
    if (r < 0)
        return -1;
    d->poff += (size_t)r;
    if (d->poff < d->plen)
        return arm(w, d) < 0 ? -1 : 0;
    free(d->pending);
    d->pending = NULL;
    d->plen = d->poff = 0;
    return 1;
}

/* Write everything the hub has for d, as HTTP chunks, until the hub parks
 * it, the socket is full, or the stream ends. */
static void service(struct sse_writer *w, struct sse_direct *d)
{
    int f = flush_pending(w, d);
    if (f <= 0) {
        if (f < 0)
            finish(w, d, 0);
        return;
    }
    for (;;) {
        char *data = w->buf + HEAD_ROOM;
        ssize_t n = sse_hub_read(w->ws->hub, d->sub, data, CHUNK_MAX);
        if (n == SSE_HUB_PARKED)
            return;
        if (n < 0) {
            if (n == SSE_HUB_LAGGED)
                rc_info("http: client fell behind the history ring: disconnected");
            finish(w, d, n == SSE_HUB_EOF);
            return;
        }
        char head[HEAD_ROOM];
        int h = snprintf(head, sizeof head, "%zx\r\n", (size_t)n);
        memcpy(data - h, head, (size_t)h);
        memcpy(data + n, "\r\n", 2);
        int s = send_or_keep(w, d, data - h, (size_t)h + (size_t)n + 2);
        if (s <= 0) {
            if (s < 0)
                finish(w, d, 0);
            return;
        }
    }
}

/* Streams are queued at most once, and only while not blocked (a blocked
 * stream is not parked, so nothing wakes it): the queue and the epoll
 * events never name the same stream twice in one round, and a stream
 * finished in a round is in neither afterwards. */
static void run_queue(struct sse_writer *w)
{
    pthread_mutex_lock(&w->lock);
    struct sse_direct *d = w->qhead;
    w->qhead = w->qtail = NULL;
    for (struct sse_direct *q = d; q; q = q->qnext)
        q->queued = 0;
    pthread_mutex_unlock(&w->lock);
    while (d) {
        struct sse_direct *next = d->qnext;
        service(w, d);
        d = next;
    }
}

static void *writer_main(void *arg)
{
    struct sse_writer *w = arg;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(w->ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) {
            rc_error("writer: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                (void)read(w->efd, &v, sizeof v);
                continue;
            }
            service(w, evs[i].data.ptr);
        }
        run_queue(w);
        pthread_mutex_lock(&w->lock);
        int stop = w->stopping;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
    }
    /* Stopping: the hub is closed, so a read says end of stream at once.
     * Whatever is still attached ends now, cleanly unless bytes were left
     * unsent. */
    for (;;) {
        pthread_mutex_lock(&w->lock);
        struct sse_direct *d = w->streams;
        pthread_mutex_unlock(&w->lock);
        if (d == NULL)
            break;
        if (d->pending == NULL &&
            sse_hub_read(w->ws->hub, d->sub, w->buf, CHUNK_MAX) == SSE_HUB_EOF)
            finish(w, d, 1);
        else
            finish(w, d, 0);
    }
    return NULL;
}

static void writer_free(struct sse_writer *w)
{
    if (w->ep >= 0)
        close(w->ep);
    if (w->efd >= 0)
        close(w->efd);
    pthread_mutex_destroy(&w->lock);
}

struct sse_writers *sse_writers_start(unsigned n, struct sse_hub *hub)
{
    struct sse_writers *ws = calloc(1, sizeof *ws);
    if (ws == NULL || n == 0 || (ws->w = calloc(n, sizeof *ws->w)) == NULL) {
        free(ws);
        return NULL;
    }
    ws->hub = hub;
    unsigned started = 0;
    for (; started < n; started++) {
        struct sse_writer *w = &ws->w[started];
        w->ws = ws;
        pthread_mutex_init(&w->lock, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (w->ep < 0 || w->efd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) < 0 ||
            pthread_create(&w->thread, NULL, writer_main, w) != 0) {
            rc_error("writer: cannot start thread %u: %s", started, strerror(errno));
            writer_free(w);
            break;
        }
    }
    ws->n = started;
    if (started < n) {
        sse_writers_free(ws);
        return NULL;
    }
    return ws;
}

void sse_writers_stop(struct sse_writers *ws)
{
    if (ws == NULL || ws->stopped)
        return;
    for (unsigned i = 0; i < ws->n; i++) {
        pthread_mutex_lock(&ws->w[i].lock);
        ws->w[i].stopping = 1;
        pthread_mutex_unlock(&ws->w[i].lock);
        signal_writer(&ws->w[i]);
    }
    for (unsigned i = 0; i < ws->n; i++)
        pthread_join(ws->w[i].thread, NULL);
    ws->stopped = 1;
}

void sse_writers_free(struct sse_writers *ws)
{
    if (ws == NULL)
        return;
    sse_writers_stop(ws);
    for (unsigned i = 0; i < ws->n; i++)
        writer_free(&ws->w[i]);
    free(ws->w);
    free(ws);
}
