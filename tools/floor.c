/*
 * floor: the least a broker-fed SSE fan-out can do, for the benchmark's "raw floor".
 *
 * ONE thread, one epoll set holding the listening socket, every client and the AMQP socket.
 * A client sends a request (anything up to the empty line); it gets a fixed response head
 * (no chunked encoding) and from then on every broker message as
 * "id: <message_id>\ndata: <body>\n\n", built once per message and handed to each client
 * with exactly one non-blocking write(). A client whose write would block, is short or fails
 * is dropped: this is a floor, not a server. No ring, no locks, no resume.
 *
 *   floor [--port N] [--amqp-url URL] [--exchange NAME] [--heartbeat SECONDS] [--per-burst]
 *
 * --per-burst is the floor for bursts (a fetcher tick of several pairs arrives as several
 * messages at once): when the AMQP socket is readable, every delivery rabbitmq-c then has
 * buffered (rc_amqp_buffered) is taken, all their frames are built
 * into one buffer, and that buffer goes to each client with one write(). As soon as nothing
 * more is buffered the burst is written: no timer, no waiting for more (a lone message is
 * written at once). This is how sse-server's consumer batches. Without it, each message is
 * written to each client as it is decoded: one write() per event.
 *
 * --heartbeat S (0, the default, is off) writes ": heartbeat\n\n" to every streaming client
 * once every S seconds, one write each: the floor of what an idle stream costs
 * (bench/scenarios' idle scenario compares sse-server with it). On sse-server's schedule:
 * one slice of the clients per second (fd modulo S, at most 60 slices), not all at once.
 * Each tick is logged as "floor: heartbeat to N clients" so a script can count what a
 * window held.
 *
 * --port 0 (the default) picks a free port. Either way "listening on port N" goes to stderr
 * once the queue is bound and consuming, so a script may connect clients from then on.
 * Listens on 127.0.0.1 only. Exits 0 on SIGINT/SIGTERM, 1 on a broker or socket error,
 * 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rc_amqp.h"

enum {
    REQ_MAX = 8192, /* request head bytes kept while looking for the empty line */
    EPOLL_BATCH = 1024,
};

static const char RESPONSE_HEAD[] = "HTTP/1.1 200 OK\r\n"
                                    "Content-Type: text/event-stream\r\n"
                                    "Cache-Control: no-cache\r\n"
                                    "\r\n";

/* Per fd. A client is either reading its request (req != NULL) or streaming (pos >= 0 is
 * its index in the streaming array, for O(1) removal). */
struct client {
    char *req;
    unsigned req_len;
    int pos;
    bool used;
};

static struct client *g_clients; /* indexed by fd */
static int *g_streaming;         /* fds of streaming clients, dense */
static int g_nstreaming;
static int g_fd_cap;
static int g_epfd;
static unsigned long long g_dropped, g_messages, g_writes, g_heartbeats, g_bursts;
static bool g_per_burst; /* --per-burst: one write per client per drained burst */

/* Frames built and not yet written: one message's, or with --per-burst one burst's. */
struct pending {
    char *p;
    size_t len, cap;
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_client(int fd)
{
    struct client *c = &g_clients[fd];
    if (!c->used)
        return;
    if (c->pos >= 0) {
        int last = g_streaming[--g_nstreaming];
        g_streaming[c->pos] = last;
        g_clients[last].pos = c->pos;
    }
    free(c->req);
    *c = (struct client){.pos = -1};
    close(fd); /* also removes it from the epoll set */
}

static void accept_clients(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "floor: accept: %s\n", strerror(errno));
            return; /* EMFILE too: the backlog keeps them until a slot frees */
        }
        if (fd >= g_fd_cap) {
            close(fd);
            continue;
        }
        struct client *c = &g_clients[fd];
        *c = (struct client){.req = malloc(REQ_MAX), .pos = -1, .used = true};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
        if (c->req == NULL || epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            drop_client(fd);
            continue;
        }
    }
}

/* Reading the request head; once complete, answer and start streaming. */
static void read_request(int fd)
{
    struct client *c = &g_clients[fd];
    for (;;) {
        ssize_t n = read(fd, c->req + c->req_len, REQ_MAX - c->req_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            drop_client(fd);
            return;
        }
        unsigned from = c->req_len >= 3 ? c->req_len - 3 : 0;
        c->req_len += (unsigned)n;
        if (memmem(c->req + from, c->req_len - from, "\r\n\r\n", 4) != NULL)
            break;
        if (c->req_len == REQ_MAX) {
            drop_client(fd);
            return;
        }
    }
    free(c->req);
    c->req = NULL;
    ssize_t w = write(fd, RESPONSE_HEAD, sizeof RESPONSE_HEAD - 1);
    if (w != (ssize_t)(sizeof RESPONSE_HEAD - 1)) {
        drop_client(fd);
        return;
    }
    c->pos = g_nstreaming;
    g_streaming[g_nstreaming++] = fd;
}

/* A streaming client sent something or hung up: anything after the request ends it. */
static void streaming_event(int fd)
{
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    drop_client(fd);
}

/* One frame, one write() per client (of those whose fd modulo slices is slice; a message
 * goes to all: slices 1); anything but a full write drops the client. Iterates from the
 * end so that a drop (which moves the last entry into the hole) skips nobody. Returns the
 * writes made. */
static int fan_out_slice(const char *frame, size_t len, int slice, int slices)
{
    int n = 0;
    for (int i = g_nstreaming - 1; i >= 0; i--) {
        int fd = g_streaming[i];
        if (fd % slices != slice)
            continue;
        n++;
        ssize_t w = write(fd, frame, len);
        g_writes++;
        if (w != (ssize_t)len) {
            g_dropped++;
            drop_client(fd);
        }
    }
    return n;
}

static void fan_out(const char *frame, size_t len)
{
    fan_out_slice(frame, len, 0, 1);
}

/* Connect, declare the fanout exchange, bind an exclusive server-named queue, consume:
 * common/'s rc_amqp, the calls sse-server's consumer makes. */
static struct rc_amqp *amqp_setup(const char *url, const char *exchange)
{
    char err[1024];
    const struct rc_amqp_params p = {
        .url = url,
        .ca_file = RC_AMQP_DEFAULT_CA,
        .timeout_ms = 5000,
        .conn_name = "ratecast bench floor",
    };
    struct rc_amqp *a = rc_amqp_connect(&p, err, sizeof err);
    if (a == NULL || rc_amqp_declare_fanout(a, exchange, err, sizeof err) < 0 ||
        rc_amqp_consume_private(a, exchange, err, sizeof err) < 0) {
        fprintf(stderr, "floor: %s\n", err);
        rc_amqp_free(a);
        return NULL;
    }
    return a;
}

/* Appends "id: <message_id>\ndata: <body>\n\n" to out, built once for all clients. */
static void on_message(const struct rc_amqp_delivery *d, struct pending *out)
{
    size_t idlen = strlen(d->message_id);
    size_t need = out->len + 4 + idlen + 1 + 6 + d->len + 2;
    if (need > out->cap) {
        size_t ncap = need > 2 * out->cap ? need : 2 * out->cap;
        char *nf = realloc(out->p, ncap);
        if (nf == NULL) {
            fprintf(stderr, "floor: out of memory, message skipped\n");
            return;
        }
        out->p = nf;
        out->cap = ncap;
    }
    char *f = out->p + out->len;
    size_t n = 0;
    if (idlen > 0) {
        memcpy(f, "id: ", 4);
        memcpy(f + 4, d->message_id, idlen);
        f[4 + idlen] = '\n';
        n = 5 + idlen;
    }
    memcpy(f + n, "data: ", 6);
    memcpy(f + n + 6, d->body, d->len);
    n += 6 + d->len;
    f[n++] = '\n';
    f[n++] = '\n';
    out->len += n;
    g_messages++;
}

/* What is pending goes to every client, one write() each. */
static void flush(struct pending *out)
{
    if (out->len == 0)
        return;
    fan_out(out->p, out->len);
    g_bursts++;
    out->len = 0;
}

static bool take_deliveries(struct rc_amqp *a, struct pending *out)
{
    char err[512];
    do {
        struct rc_amqp_delivery d;
        int rc = rc_amqp_next(a, 0, &d, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "floor: %s, stopping\n", err);
            return false;
        }
        if (rc == 0)
            continue; /* nothing yet, or a frame that was not a delivery (a heartbeat) */
        on_message(&d, out);
        rc_amqp_delivery_clear(&d);
        if (!g_per_burst)
            flush(out);
    } while (rc_amqp_buffered(a));
    return true;
}

/* Takes every delivery that is ready (one read of the socket, then whatever rabbitmq-c has
 * buffered) and writes each as it comes, or with --per-burst all of them at once when
 * nothing more is buffered. Returns false on a broker error (connection or channel closed,
 * consumer cancelled): a floor does not reconnect. */
static bool amqp_readable(struct rc_amqp *conn, struct pending *out)
{
    bool ok = take_deliveries(conn, out);
    flush(out);
    return ok;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: floor [--port N] [--amqp-url URL] [--exchange NAME] [--heartbeat S]\n"
                 "             [--per-burst]\n"
                 "The benchmark's raw floor: one thread, epoll, one write() per client per\n"
                 "broker message (and per heartbeat every S seconds with --heartbeat S).\n"
                 "--per-burst: one write() per client per burst (every delivery already\n"
                 "buffered when the socket is read, no waiting for more).\n"
                 "Listens on 127.0.0.1 (--port 0: any free port, printed).\n");
}

int main(int argc, char **argv)
{
    // clang-format off
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"amqp-url", required_argument, NULL, 'u'},
        {"exchange", required_argument, NULL, 'e'},
        {"heartbeat", required_argument, NULL, 'b'},
        {"per-burst", no_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    // clang-format on
    long port = 0;
    const char *url_arg = "amqp://guest:guest@127.0.0.1:5672/%2f";
    const char *exchange = "crypto-info";
    long heartbeat_s = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535) {
                fprintf(stderr, "floor: --port: 0..65535\n");
                return 2;
            }
            break;
        case 'u':
            url_arg = optarg;
            break;
        case 'e':
            exchange = optarg;
            break;
        case 'b':
            heartbeat_s = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || heartbeat_s < 0 || heartbeat_s > 86400) {
                fprintf(stderr, "floor: --heartbeat: 0..86400 seconds\n");
                return 2;
            }
            break;
        case 'B':
            g_per_burst = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    g_fd_cap =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 22) ? 1 << 22 : (int)rl.rlim_cur;
    g_clients = calloc((size_t)g_fd_cap, sizeof *g_clients);
    g_streaming = calloc((size_t)g_fd_cap, sizeof *g_streaming);
    if (g_clients == NULL || g_streaming == NULL) {
        fprintf(stderr, "floor: out of memory\n");
        return 1;
    }
    for (int i = 0; i < g_fd_cap; i++)
        g_clients[i].pos = -1;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rc_amqp *conn = amqp_setup(url_arg, exchange);
    if (conn == NULL)
        return 1;
    int afd = rc_amqp_fd(conn);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof sin;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 65535) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0) {
        fprintf(stderr, "floor: listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    struct epoll_event aev = {.events = EPOLLIN, .data.fd = afd};
    if (g_epfd < 0 || epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &lev) != 0 ||
        epoll_ctl(g_epfd, EPOLL_CTL_ADD, afd, &aev) != 0) {
        fprintf(stderr, "floor: epoll: %s\n", strerror(errno));
        return 1;
    }
    fprintf(stderr, "listening on port %u\n", (unsigned)ntohs(sin.sin_port));

    struct pending out = {0};
    int rc = 0;
    struct epoll_event evs[EPOLL_BATCH];
    static const char heartbeat[] = ": heartbeat\n\n";
    int hb_slices = heartbeat_s < 1 ? 1 : heartbeat_s > 60 ? 60 : (int)heartbeat_s, hb_slice = 0;
    long long hb_step = heartbeat_s * 1000 / hb_slices;
    long long next_hb = heartbeat_s > 0 ? now_ms() + hb_step : -1;
    while (!g_stop) {
        int timeout = -1;
        if (next_hb >= 0) {
            long long now = now_ms();
            if (now >= next_hb) {
                /* A slice of the clients, the way a message goes: only the writes. */
                int n = fan_out_slice(heartbeat, sizeof heartbeat - 1, hb_slice, hb_slices);
                g_heartbeats += (unsigned long long)n;
                fprintf(stderr, "floor: heartbeat to %d clients\n", n);
                hb_slice = (hb_slice + 1) % hb_slices;
                next_hb = now + hb_step;
            }
            timeout = (int)(next_hb - now_ms());
            if (timeout < 0)
                timeout = 0;
        }
        int n = epoll_wait(g_epfd, evs, EPOLL_BATCH, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "floor: epoll_wait: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                accept_clients(lfd);
            } else if (fd == afd) {
                if (!amqp_readable(conn, &out)) {
                    rc = 1;
                    g_stop = 1;
                    break;
                }
            } else if (g_clients[fd].used) {
                /* A client dropped earlier in this batch may be a new one by now: the
                 * stale event then just reads EAGAIN. */
                if (g_clients[fd].req != NULL)
                    read_request(fd);
                else
                    streaming_event(fd);
            }
        }
    }
    if (g_per_burst)
        fprintf(stderr, "floor: %llu messages in %llu bursts (--per-burst)\n", g_messages,
                g_bursts);
    fprintf(stderr,
            "floor: %llu messages, %llu writes (%llu heartbeats), %llu clients dropped, %d "
            "streaming\n",
            g_messages, g_writes, g_heartbeats, g_dropped, g_nstreaming);
    for (int i = g_nstreaming - 1; i >= 0; i--)
        drop_client(g_streaming[i]);
    free(out.p);
    rc_amqp_free(conn);
    return rc;
}
