/* Unit tests for sse-server/writer.h: streams written off libmicrohttpd,
 * over real sockets (a socketpair stands in for the client). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../sse-server/writer.h"

/* One client: the hub's park/wake bound to the writers, as stream.c does. */
struct client {
    struct sse_direct d;
    int peer; /* the "browser" end */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished, clean;
};

static void park(void *ctx)
{
    (void)ctx;
}

static void wake(void *ctx)
{
    struct client *c = ctx;
    sse_writers_wake(&c->d);
}

static void on_finish(void *ctx, int clean)
{
    struct client *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->finished = 1;
    c->clean = clean;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static struct client *client_new(struct sse_hub *h, struct sse_writers *ws, int sndbuf)
{
    struct client *c = calloc(1, sizeof *c);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (sndbuf) {
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf), 0);
    }
    c->peer = sv[1];
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    struct sse_sub_params p = {.park = park, .wake = wake, .ctx = c};
    struct sse_resume r;
    c->d.sub = sse_hub_subscribe(h, &p, &r);
    assert_non_null(c->d.sub);
    c->d.fd = sv[0];
    c->d.finish = on_finish;
    c->d.ctx = c;
    assert_int_equal(sse_writers_attach(ws, &c->d), 0);
    return c;
}

static void client_free(struct sse_hub *h, struct client *c)
{
    sse_hub_unsubscribe(h, c->d.sub);
    close(c->d.fd);
    close(c->peer);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

static int wait_finished(struct client *c, int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->finished && pthread_cond_timedwait(&c->cond, &c->lock, &t) == 0)
        ;
    int f = c->finished;
    pthread_mutex_unlock(&c->lock);
    return f;
}

/* Read from the peer until `want` bytes arrived or ms passed. */
static size_t read_some(int fd, char *buf, size_t cap, size_t want, int ms)
{
    size_t n = 0;
    while (n < want) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) <= 0)
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

static void publish(struct sse_hub *h, const char *text, uint64_t id)
{
    struct sse_event_meta m = {.id = id};
    sse_hub_publish(h, strdup(text), strlen(text), &m);
}

/* Every event goes out as one HTTP chunk, in order, to every client. */
static void test_events_as_chunks(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct sse_writers *ws = sse_writers_start(2, h);
    assert_non_null(ws);
    struct client *a = client_new(h, ws, 0), *b = client_new(h, ws, 0);
    usleep(20000); /* both attached and parked */
    publish(h, "data: one\n\n", 1);
    publish(h, "data: two\n\n", 2);
    const char *want = "b\r\ndata: one\n\n\r\nb\r\ndata: two\n\n\r\n";
    char buf[256];
    /* The two events may leave in one chunk if the writer finds both. */
    const char *merged = "16\r\ndata: one\n\ndata: two\n\n\r\n";
    size_t n = read_some(a->peer, buf, sizeof buf, strlen(merged), 2000);
    assert_true(n > 0);
    assert_true(strcmp(buf, want) == 0 || strcmp(buf, merged) == 0);
    n = read_some(b->peer, buf, sizeof buf, strlen(merged), 2000);
    assert_true(strcmp(buf, want) == 0 || strcmp(buf, merged) == 0);

    /* The end of the hub ends every stream cleanly. */
    sse_hub_close(h);
    assert_true(wait_finished(a, 2000));
    assert_true(wait_finished(b, 2000));
    assert_int_equal(a->clean, 1);
    assert_int_equal(b->clean, 1);
    sse_writers_stop(ws);
    client_free(h, a);
    client_free(h, b);
    sse_writers_free(ws);
    sse_hub_free(h);
}

/* Read and decode HTTP chunks from fd until `want` body bytes arrived or
 * nothing came for 2 s. Returns the body bytes decoded; -1 on bad framing. */
static long read_body(int fd, size_t want)
{
    size_t cap = want * 2 + 4096, got = 0, body = 0;
    char *all = malloc(cap);
    while (body < want) {
        size_t n = read_some(fd, all + got, cap - got, 1, 2000);
        if (n == 0)
            break;
        got += n;
        body = 0;
        char *q = all, *end = all + got;
        while (q < end) {
            char *crlf = memmem(q, (size_t)(end - q), "\r\n", 2);
            if (crlf == NULL)
                break;
            char *hexend;
            size_t len = strtoul(q, &hexend, 16);
            if (hexend != crlf || len == 0) {
                free(all);
                return -1;
            }
            if ((size_t)(end - crlf) < len + 4)
                break;
            if (memcmp(crlf + 2 + len, "\r\n", 2) != 0) {
                free(all);
                return -1;
            }
            body += len;
            q = crlf + 2 + len + 2;
        }
    }
    free(all);
    return (long)body;
}

/* A client that stops reading blocks only its own stream: the writer keeps
 * the unsent rest, the others go on, and when the client reads again it
 * gets everything, in order and framed. */
static void test_blocked_client_resumes(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(4096, 10);
    struct sse_writers *ws = sse_writers_start(1, h);
    struct client *slow = client_new(h, ws, 4096), *fast = client_new(h, ws, 1 << 20);
    usleep(20000);
    char ev[1100];
    memset(ev, 'x', sizeof ev);
    memcpy(ev, "data: ", 6);
    memcpy(ev + sizeof ev - 3, "\n\n", 3);
    size_t evlen = strlen(ev);
    const int N = 100; /* 110 KB: far past the slow client's buffers */
    for (int i = 1; i <= N; i++)
        publish(h, ev, (uint64_t)i);
    /* The fast client gets everything while the slow one has read nothing. */
    assert_int_equal(read_body(fast->peer, (size_t)N * evlen), (long)((size_t)N * evlen));
    /* Now the slow client reads: all N events, framed. */
    assert_int_equal(read_body(slow->peer, (size_t)N * evlen), (long)((size_t)N * evlen));
    sse_hub_close(h);
    assert_true(wait_finished(slow, 2000));
    assert_true(wait_finished(fast, 2000));
    assert_int_equal(slow->clean, 1);
    sse_writers_stop(ws);
    client_free(h, slow);
    client_free(h, fast);
    sse_writers_free(ws);
    sse_hub_free(h);
}

/* A client that hangs up is finished, not clean, and nothing else moves. */
static void test_dead_peer_finishes(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct sse_writers *ws = sse_writers_start(1, h);
    struct client *c = client_new(h, ws, 0);
    usleep(20000);
    close(c->peer);
    c->peer = -1;
    publish(h, "data: x\n\n", 1);
    assert_true(wait_finished(c, 2000));
    assert_int_equal(c->clean, 0);
    sse_writers_stop(ws);
    sse_hub_unsubscribe(h, c->d.sub);
    close(c->d.fd);
    free(c);
    sse_writers_free(ws);
    sse_hub_free(h);
}

/* Stopping the writers ends what they still hold, and later attaches are
 * refused. */
static void test_stop_refuses_attach(void **state)
{
    (void)state;
    struct sse_hub *h = sse_hub_new(16, 10);
    struct sse_writers *ws = sse_writers_start(2, h);
    struct client *c = client_new(h, ws, 0);
    usleep(20000);
    sse_hub_close(h);
    sse_writers_stop(ws);
    assert_true(wait_finished(c, 100));
    struct sse_direct d = {.fd = -1};
    assert_int_equal(sse_writers_attach(ws, &d), -1);
    client_free(h, c);
    sse_writers_free(ws);
    sse_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_as_chunks),
        cmocka_unit_test(test_blocked_client_resumes),
        cmocka_unit_test(test_dead_peer_finishes),
        cmocka_unit_test(test_stop_refuses_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
