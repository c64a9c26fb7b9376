/* sse-load: the command line. Builds struct config (the target's address, the request
 * every connection sends, the rates) and splits the clients over worker processes. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "sse_load.h"

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
int sl_parse_args(int argc, char **argv, struct config *cfg)
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
int sl_plan_procs(struct config *cfg)
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
