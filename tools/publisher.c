/*
 * publisher: CoinAPI-shaped ticks at a fixed rate, for the benchmark.
 *
 *   publisher --rate R --duration S [--burst K] [--size B] [--amqp-url URL]
 *             [--exchange NAME] [--nchan-url http://127.0.0.1:PORT/pub]
 *
 * Each body is {"time":"<now, UTC, 7 fractional digits>Z","asset_id_base":"BTC",
 * "asset_id_quote":"USD","rate":<n>} (with --size, an extra "pad" field brings it to about
 * B bytes). "time" is read right before the message is handed to the socket: the load client
 * measures latency from it. Ticks follow absolute CLOCK_MONOTONIC deadlines (tick k at
 * start + k*K/R), so the rate does not drift; after an overrun whole ticks are skipped, never
 * sent late.
 *
 * --burst K (1, the default, is one message per tick) makes each tick what a fetcher polling
 * K pairs sends: K messages back to back, one per pair (BTC/USD, ETH/USD, ... then the same
 * bases against EUR, ...: K distinct asset_id_base/asset_id_quote, each with its own rate),
 * every K/R seconds, so the mean rate stays R messages per second.
 *
 * To the broker (default): basic.publish to the fanout exchange (declared durable, as
 * sse-server declares it) with message_id = microseconds since the epoch, strictly
 * increasing. With --nchan-url: the same body POSTed to Nchan's publisher location, pipelined
 * over one keep-alive HTTP/1.1 connection; answers are read between ticks, so a slow answer
 * does not shift the schedule (Nchan makes its own message ids).
 *
 * Prints "sent N" (and skipped ticks, if any; for Nchan, how the POSTs were answered) to
 * stdout. Exit: 0 all sent (and accepted), 1 an error, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rc_amqp.h"
#include "rc_time.h"

enum { BODY_MAX = 1 << 20, RESP_MAX = 16384 };

/* The pairs of a burst: pair i is BASES[i % NBASES] against QUOTES[i / NBASES], so the first
 * is BTC/USD, today's single pair, and a burst of K has K distinct pairs. */
static const char *const BASES[] = {"BTC", "ETH",  "SOL",  "XRP",  "ADA",  "DOGE", "DOT",
                                    "LTC", "LINK", "AVAX", "ATOM", "XLM",  "TRX",  "BCH",
                                    "ETC", "UNI",  "FIL",  "NEAR", "ALGO", "XMR"};
static const char *const QUOTES[] = {"USD", "EUR", "GBP", "JPY", "CHF", "USDT", "USDC", "BRL"};
enum {
    NBASES = sizeof BASES / sizeof BASES[0],
    BURST_MAX = NBASES * (sizeof QUOTES / sizeof QUOTES[0]),
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------ */
/* The tick body.                                                                         */

/* Writes the body of pair number pair (see BASES) into buf (cap >= BODY_MAX); returns its
 * length. *real_us gets the timestamp used, for the message id. */
static size_t make_body(char *buf, size_t size, int pair, double rate, int64_t *real_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, BODY_MAX,
                     "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ\",\"asset_id_base\":\"%s\","
                     "\"asset_id_quote\":\"%s\",\"rate\":%.10f",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 100, BASES[pair % NBASES], QUOTES[pair / NBASES], rate);
    size_t len = (size_t)n;
    static const char pad_open[] = ",\"pad\":\"";
    size_t overhead = sizeof pad_open - 1 + 2; /* the pad field, its closing quote, '}' */
    if (size > len + overhead && size < BODY_MAX) {
        memcpy(buf + len, pad_open, sizeof pad_open - 1);
        len += sizeof pad_open - 1;
        size_t pad = size - len - 2;
        memset(buf + len, 'x', pad);
        len += pad;
        buf[len++] = '"';
    }
    buf[len++] = '}';
    buf[len] = '\0';
    *real_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return len;
}

/* ------------------------------------------------------------------------------------ */
/* AMQP.                                                                                  */

/* Through common/'s rc_amqp, as the fetcher publishes: the same connect, declare and
 * properties (application/json, transient), so the broker sees what it sees in production. */
static struct rc_amqp *amqp_setup(const char *url, const char *exchange)
{
    char err[1024];
    const struct rc_amqp_params p = {
        .url = url,
        .ca_file = RC_AMQP_DEFAULT_CA,
        .timeout_ms = 5000,
        .conn_name = "ratecast bench publisher",
    };
    struct rc_amqp *a = rc_amqp_connect(&p, err, sizeof err);
    if (a == NULL || rc_amqp_declare_fanout(a, exchange, err, sizeof err) < 0) {
        fprintf(stderr, "publisher: %s\n", err);
        rc_amqp_free(a);
        return NULL;
    }
    return a;
}

static bool amqp_send(struct rc_amqp *a, const char *exchange, const char *body, size_t len,
                      uint64_t id)
{
    char idbuf[24], err[512];
    snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)id);
    const struct rc_amqp_msg m = {.body = body, .len = len, .message_id = idbuf};
    if (rc_amqp_publish(a, exchange, &m, 0, err, sizeof err) < 0) {
        fprintf(stderr, "publisher: %s\n", err);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Nchan: POSTs pipelined over one keep-alive HTTP/1.1 connection.                        */

/* Each POST is written on its tick and its answer read while waiting for the next tick, so a
 * slow answer (the nginx worker busy fanning out) never delays or skips a tick: the schedule
 * is the same as for the broker. */
struct http {
    char host[256], port[8], path[512];
    int fd;
    char buf[RESP_MAX];
    size_t len;                /* bytes read and not yet parsed */
    unsigned long outstanding; /* POSTs written, not yet answered */
    unsigned long long answered, refused, lost;
};

static bool http_parse_url(struct http *h, const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *p = url + 7;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    size_t hlen = (size_t)((colon ? colon : end) - p);
    if (hlen == 0 || hlen >= sizeof h->host)
        return false;
    memcpy(h->host, p, hlen);
    h->host[hlen] = '\0';
    if (colon) {
        size_t plen = (size_t)(end - colon - 1);
        if (plen == 0 || plen >= sizeof h->port)
            return false;
        memcpy(h->port, colon + 1, plen);
        h->port[plen] = '\0';
    } else {
        strcpy(h->port, "80");
    }
    snprintf(h->path, sizeof h->path, "%s", slash ? slash : "/");
    h->fd = -1;
    return true;
}

static bool http_connect(struct http *h)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(h->host, h->port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "publisher: %s: %s\n", h->host, gai_strerror(rc));
        return false;
    }
    h->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (h->fd >= 0 && connect(h->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(h->fd);
        h->fd = -1;
    }
    freeaddrinfo(ai);
    if (h->fd < 0) {
        fprintf(stderr, "publisher: connect %s:%s: %s\n", h->host, h->port, strerror(errno));
        return false;
    }
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tmo = {5, 0};
    setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    h->len = 0;
    return true;
}

/* Answers still owed on a connection we close are lost (the POSTs may well have published). */
static void http_close(struct http *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->len = 0;
    h->lost += h->outstanding;
    h->outstanding = 0;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Parses one whole response at the start of h->buf: 1 (consumed; *status, *keep set),
 * 0 (incomplete), -1 (malformed, or too big for the buffer). */
static int http_parse_one(struct http *h, unsigned *status, bool *keep)
{
    char *e = memmem(h->buf, h->len, "\r\n\r\n", 4);
    if (e == NULL)
        return h->len == sizeof h->buf ? -1 : 0;
    size_t head = (size_t)(e - h->buf) + 4;
    if (sscanf(h->buf, "HTTP/1.%*d %u", status) != 1)
        return -1;
    long long clen = -1;
    bool chunked = false;
    *keep = true;
    for (char *line = memchr(h->buf, '\n', head) + 1; line < h->buf + head - 2;) {
        char *eol = memchr(line, '\n', (size_t)(h->buf + head - line));
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoll(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            chunked = memmem(line, (size_t)(eol - line), "chunked", 7) != NULL;
        else if (strncasecmp(line, "Connection:", 11) == 0)
            *keep = memmem(line, (size_t)(eol - line), "close", 5) == NULL;
        line = eol + 1;
    }
    size_t total = head;
    if (chunked) {
        for (;;) {
            char *crlf = memmem(h->buf + total, h->len - total, "\r\n", 2);
            if (crlf == NULL)
                return h->len == sizeof h->buf ? -1 : 0;
            unsigned long sz = strtoul(h->buf + total, NULL, 16);
            size_t next = (size_t)(crlf - h->buf) + 2 + sz + 2;
            if (next > sizeof h->buf)
                return -1;
            if (next > h->len)
                return 0;
            total = next;
            if (sz == 0)
                break; /* no trailers from Nchan: the last chunk ends in CRLF CRLF */
        }
    } else if (clen > 0) {
        if (head + (size_t)clen > sizeof h->buf)
            return -1;
        if (head + (size_t)clen > h->len)
            return 0;
        total = head + (size_t)clen;
    } else if (clen < 0 && *status >= 200 && *status != 204 && *status != 304) {
        return -1; /* a body up to the close: not something Nchan sends */
    }
    memmove(h->buf, h->buf + total, h->len - total);
    h->len -= total;
    return 1;
}

/* Reads answers until none is owed or CLOCK_MONOTONIC reaches deadline_ns. */
static void http_pump(struct http *h, int64_t deadline_ns)
{
    while (h->fd >= 0 && h->outstanding > 0) {
        unsigned status;
        bool keep;
        int r = 0;
        while (h->outstanding > 0 && (r = http_parse_one(h, &status, &keep)) == 1) {
            h->outstanding--;
            if (status >= 200 && status <= 299) {
                h->answered++;
            } else if (h->refused++ < 5) {
                fprintf(stderr, "publisher: POST %s answered %u\n", h->path, status);
            }
            if (!keep) {
                http_close(h);
                return;
            }
        }
        if (r < 0) {
            fprintf(stderr, "publisher: malformed answer from %s:%s\n", h->host, h->port);
            http_close(h);
            return;
        }
        if (h->outstanding == 0)
            return;
        int64_t left = deadline_ns - now_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            return;
        struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return;
        ssize_t n = read(h->fd, h->buf + h->len, sizeof h->buf - h->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "publisher: %s:%s closed the connection\n", h->host, h->port);
            http_close(h);
            return;
        }
        h->len += (size_t)n;
    }
}

static bool nchan_send(struct http *h, const char *body, size_t len)
{
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Accept: text/plain\r\nContent-Length: %zu\r\n\r\n",
                      h->path, h->host, h->port, len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd < 0 && !http_connect(h))
            return false;
        if (write_all(h->fd, head, (size_t)hl) && write_all(h->fd, body, len)) {
            h->outstanding++;
            return true;
        }
        http_close(h); /* closed under us: one fresh connection */
    }
    fprintf(stderr, "publisher: POST %s: %s\n", h->path, strerror(errno));
    return false;
}

/* ------------------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: publisher --rate R --duration S [--burst K] [--size B] [--amqp-url URL]\n"
            "                 [--exchange X] [--nchan-url http://HOST:PORT/pub]\n"
            "Publish CoinAPI-shaped ticks at R per second for S seconds to a fanout exchange\n"
            "(or POST them to an Nchan publisher location). --burst K sends them as bursts of\n"
            "K distinct pairs back to back every K/R seconds (1..%d). --size pads each body\n"
            "to about B bytes. Prints how many were sent.\n",
            BURST_MAX);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"amqp-url", required_argument, NULL, 'u'},
        {"exchange", required_argument, NULL, 'e'},
        {"nchan-url", required_argument, NULL, 'n'},
        {"burst", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double rate = 1, duration = 10;
    long size = 0, burst = 1;
    const char *url_arg = "amqp://guest:guest@127.0.0.1:5672/%2f";
    const char *exchange = "crypto-info", *nchan_url = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'r':
            rate = strtod(optarg, &end);
            if (*end != '\0' || !(rate > 0 && rate <= 1e6)) {
                fprintf(stderr, "publisher: --rate: 0 < R <= 1000000\n");
                return 2;
            }
            break;
        case 'd':
            duration = strtod(optarg, &end);
            if (*end != '\0' || !(duration >= 0 && duration <= 1e7)) {
                fprintf(stderr, "publisher: --duration: seconds >= 0\n");
                return 2;
            }
            break;
        case 's':
            size = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || size < 0 || size >= BODY_MAX) {
                fprintf(stderr, "publisher: --size: 0..%d bytes\n", BODY_MAX - 1);
                return 2;
            }
            break;
        case 'k':
            burst = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || burst < 1 || burst > BURST_MAX) {
                fprintf(stderr, "publisher: --burst: 1..%d messages\n", BURST_MAX);
                return 2;
            }
            break;
        case 'u':
            url_arg = optarg;
            break;
        case 'e':
            exchange = optarg;
            break;
        case 'n':
            nchan_url = optarg;
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

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rc_amqp *conn = NULL;
    struct http *h = NULL;
    if (nchan_url != NULL) {
        h = malloc(sizeof *h);
        if (h == NULL || !http_parse_url(h, nchan_url)) {
            fprintf(stderr, "publisher: --nchan-url must be http://HOST[:PORT]/PATH\n");
            return 2;
        }
        if (!http_connect(h))
            return 1;
    } else {
        if ((conn = amqp_setup(url_arg, exchange)) == NULL)
            return 1;
    }
    char *body = malloc(BODY_MAX);
    if (body == NULL) {
        fprintf(stderr, "publisher: out of memory\n");
        return 1;
    }

    const int64_t period = (int64_t)(1e9 * (double)burst / rate + 0.5);
    const int64_t start = now_ns(CLOCK_MONOTONIC);
    const int64_t stop = start + (int64_t)(duration * 1e9 + 0.5);
    uint64_t last_id = 0;
    unsigned long long sent = 0, skipped = 0, failed = 0;
    double price[BURST_MAX];
    for (int i = 0; i < BURST_MAX; i++)
        price[i] = 60000.0 / (i + 1); /* pair 0 starts where the single pair always did */
    unsigned seed = (unsigned)start;
    int rc = 0;
    bool broken = false;
    for (int64_t k = 0; !g_stop && !broken; k++) {
        int64_t deadline = start + k * period;
        if (deadline >= stop)
            break;
        if (h != NULL)
            http_pump(h, deadline); /* answers to earlier POSTs, while we wait */
        struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
        while (!g_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        if (g_stop)
            break;
        /* Overrun past the next deadline: skip whole ticks instead of catching up. */
        int64_t late = now_ns(CLOCK_MONOTONIC) - deadline;
        if (late >= period) {
            int64_t skip = late / period;
            skipped += (unsigned long long)skip;
            k += skip - 1;
            continue;
        }
        /* The whole tick back to back, as a fetcher publishes the pairs of one poll. */
        for (long pair = 0; pair < burst; pair++) {
            price[pair] *= 1.0 + ((double)rand_r(&seed) / RAND_MAX - 0.5) * 1e-4;
            int64_t real_us;
            size_t len = make_body(body, (size_t)size, (int)pair, price[pair], &real_us);
            uint64_t id = (uint64_t)real_us > last_id ? (uint64_t)real_us : last_id + 1;
            last_id = id;
            bool ok = h ? nchan_send(h, body, len) : amqp_send(conn, exchange, body, len, id);
            if (!ok) {
                failed++;
                rc = 1;
                if (conn != NULL) {
                    broken = true; /* the AMQP connection is gone: nothing more gets through */
                    break;
                }
                continue;
            }
            sent++;
        }
    }
    if (h != NULL) {
        /* The last answers. Nchan answers a POST once it has handed the message to every
         * subscriber, which at 18,000 clients and bursts of 20 takes several seconds per
         * burst: hanging up sooner lost the last POSTs still queued in nginx (and counted
         * their message as missed by every client). bench/run allows DURATION + 30 s. */
        http_pump(h, now_ns(CLOCK_MONOTONIC) + 20000000000LL);
        h->lost += h->outstanding;
        h->outstanding = 0;
        if (h->refused || h->lost)
            rc = 1;
    }
    printf("sent %llu\n", sent);
    if (h != NULL)
        printf("nchan answers: %llu accepted, %llu refused, %llu missing\n", h->answered,
               h->refused, h->lost);
    if (skipped && burst == 1)
        printf("skipped %llu ticks (overruns)\n", skipped);
    else if (skipped)
        printf("skipped %llu ticks of %ld messages each (overruns)\n", skipped, burst);
    if (failed)
        printf("failed %llu\n", failed);
    fflush(stdout);
    if (conn != NULL) {
        /* A publish the broker refused closes the channel after the fact: a short wait for
         * such a close makes it this run's error, not a silent loss. */
        char err[512];
        if (rc_amqp_wait(conn, rc_mono_ms() + 100, err, sizeof err) < 0) {
            fprintf(stderr, "publisher: %s\n", err);
            rc = 1;
        }
        rc_amqp_free(conn);
    }
    if (h != NULL)
        http_close(h);
    free(h);
    free(body);
    return rc;
}
