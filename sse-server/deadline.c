/* deadline.c: a hard deadline for receiving a request's headers. The interface, and who owns
 * what, is in deadline.h. */
#include "deadline.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "rc_time.h"

struct sse_deadline {
    struct sse_deadline *prev, *next; /* in the list while on the clock */
    int fd;
    int on_clock;
    int64_t start_ms;
};

struct sse_deadlines {
    pthread_mutex_t lock;
    int64_t timeout_ms;
    struct sse_deadline *head, *tail; /* oldest first */
    uint64_t expired;
};

struct sse_deadlines *sse_deadlines_new(int64_t timeout_ms)
{
    struct sse_deadlines *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->timeout_ms = timeout_ms;
    return d;
}

/* Caller holds the lock. */
static void unlink_entry(struct sse_deadlines *d, struct sse_deadline *e)
{
    if (!e->on_clock)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        d->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        d->tail = e->prev;
    e->prev = e->next = NULL;
    e->on_clock = 0;
}

/* Caller holds the lock. */
static void append(struct sse_deadlines *d, struct sse_deadline *e)
{
    e->start_ms = rc_mono_ms();
    e->prev = d->tail;
    e->next = NULL;
    if (d->tail)
        d->tail->next = e;
    else
        d->head = e;
    d->tail = e;
    e->on_clock = 1;
}

void sse_deadlines_free(struct sse_deadlines *d)
{
    if (d == NULL)
        return;
    while (d->head) {
        struct sse_deadline *e = d->head;
        unlink_entry(d, e);
        free(e);
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

struct sse_deadline *sse_deadlines_open(struct sse_deadlines *d, int fd)
{
    struct sse_deadline *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->fd = fd;
    pthread_mutex_lock(&d->lock);
    append(d, e);
    pthread_mutex_unlock(&d->lock);
    return e;
}

void sse_deadlines_stop(struct sse_deadlines *d, struct sse_deadline *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    unlink_entry(d, e);
    pthread_mutex_unlock(&d->lock);
}

void sse_deadlines_restart(struct sse_deadlines *d, struct sse_deadline *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    unlink_entry(d, e);
    append(d, e);
    pthread_mutex_unlock(&d->lock);
}

void sse_deadlines_close(struct sse_deadlines *d, struct sse_deadline *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    unlink_entry(d, e);
    pthread_mutex_unlock(&d->lock);
    free(e);
}

unsigned sse_deadlines_sweep(struct sse_deadlines *d, int64_t now_ms)
{
    unsigned n = 0;
    pthread_mutex_lock(&d->lock);
    while (d->head && now_ms - d->head->start_ms >= d->timeout_ms) {
        struct sse_deadline *e = d->head;
        unlink_entry(d, e);
        /* Not close(): libmicrohttpd still owns the descriptor and frees
         * the entry through sse_deadlines_close when it drops the socket. */
        shutdown(e->fd, SHUT_RDWR);
        n++;
    }
    d->expired += n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

uint64_t sse_deadlines_expired(struct sse_deadlines *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t n = d->expired;
    pthread_mutex_unlock(&d->lock);
    return n;
}
