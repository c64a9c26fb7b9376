/* reaper.c: notices at once when a client hangs up on a parked stream. The interface, and who
 * owns what, is in reaper.h. */
#include "reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "rc_log.h"

struct slot {
    void *ctx;
    uint32_t token; /* 0: free */
};

struct sse_reaper {
    int epfd;
    int max_fd;
    struct slot *slots; /* indexed by fd */
    uint32_t next_token;
    pthread_mutex_t lock;
    pthread_t thread;
    atomic_int stop;
    void (*on_hangup)(void *ctx);
};

static void dispatch(struct sse_reaper *r, uint64_t data)
{
    int fd = (int)(data >> 32);
    uint32_t token = (uint32_t)data;
    pthread_mutex_lock(&r->lock);
    struct slot *s = &r->slots[fd];
    if (s->token == token) {
        r->on_hangup(s->ctx);
        s->token = 0; /* one notice is enough; unwatch still removes it */
    }
    pthread_mutex_unlock(&r->lock);
}

static void *run(void *arg)
{
    struct sse_reaper *r = arg;
    struct epoll_event ev[64];
    while (!atomic_load(&r->stop)) {
        int n = epoll_wait(r->epfd, ev, 64, 250);
        for (int i = 0; i < n; i++)
            dispatch(r, ev[i].data.u64);
    }
    return NULL;
}

struct sse_reaper *sse_reaper_start(int max_fd, void (*on_hangup)(void *ctx))
{
    struct sse_reaper *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->slots = calloc((size_t)max_fd, sizeof *r->slots);
    r->max_fd = max_fd;
    r->on_hangup = on_hangup;
    pthread_mutex_init(&r->lock, NULL);
    if (r->epfd < 0 || r->slots == NULL || pthread_create(&r->thread, NULL, run, r) != 0) {
        if (r->epfd >= 0)
            close(r->epfd);
        free(r->slots);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void sse_reaper_stop(struct sse_reaper *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    close(r->epfd);
    free(r->slots);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

uint32_t sse_reaper_watch(struct sse_reaper *r, int fd, void *ctx)
{
    if (fd < 0 || fd >= r->max_fd)
        return 0;
    pthread_mutex_lock(&r->lock);
    uint32_t token = ++r->next_token;
    if (token == 0)
        token = ++r->next_token;
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET,
                             .data.u64 = ((uint64_t)fd << 32) | token};
    /* The fd may still be registered from a previous client whose socket
     * number was reused: MOD replaces that registration. */
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
        epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        rc_warn("reaper: cannot watch socket %d", fd);
        token = 0;
    } else {
        r->slots[fd] = (struct slot){.ctx = ctx, .token = token};
    }
    pthread_mutex_unlock(&r->lock);
    return token;
}

void sse_reaper_unwatch(struct sse_reaper *r, int fd, uint32_t token)
{
    if (token == 0 || fd < 0 || fd >= r->max_fd)
        return;
    pthread_mutex_lock(&r->lock);
    if (r->slots[fd].token == token || r->slots[fd].token == 0) {
        /* Fails harmlessly when the socket is already closed. */
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    if (r->slots[fd].token == token)
        r->slots[fd] = (struct slot){0};
    pthread_mutex_unlock(&r->lock);
}
