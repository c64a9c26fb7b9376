/* fake-coinapi: a local stand-in for CoinAPI's exchange-rate endpoint.
 *
 * Tests and the demo point the fetcher here instead of rest.coinapi.io:
 * there is no internet on our machines, and the real API cannot be told to
 * fail on demand. See server.h for what is served and walk.h for the rates.
 *
 * Start-up: parse options, block SIGINT/SIGTERM (the server's threads
 * inherit the mask, so only this thread ever sees them), start the server,
 * then sleep in sigsuspend() until a signal sets the stop flag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rc_config.h"
#include "rc_log.h"
#include "server.h"

#define PROG "fake-coinapi"
#define SUMMARY                                                                                    \
    "Local stand-in for CoinAPI's GET /v1/exchangerate/{BASE}/{QUOTE} and "                        \
    "/v1/exchangerate/{BASE}, for tests and the demo."

static unsigned opt_port, opt_retry_after, opt_rate_limit;
static int64_t opt_slow_ms;
static const char *opt_bind, *opt_mode, *opt_key, *opt_journal, *opt_seed, *opt_log_level,
    *opt_drop_quote;

static const struct rc_option options[] = {
    {.name = "port",
     .env = "FAKE_COINAPI_PORT",
     .def = "8787",
     .type = RC_OPT_UINT,
     .dest = &opt_port,
     .help = "TCP port; 0 picks a free one and prints it on stdout"},
    {.name = "bind",
     .env = "FAKE_COINAPI_BIND",
     .def = "127.0.0.1",
     .type = RC_OPT_STRING,
     .dest = &opt_bind,
     .help = "IPv4 address to listen on (0.0.0.0: every interface, for a private container "
             "network)"},
    {.name = "mode",
     .env = "FAKE_COINAPI_MODE",
     .def = "ok",
     .type = RC_OPT_STRING,
     .dest = &opt_mode,
     .help =
         "answer unless a request asks otherwise (X-Fake-Mode header or ?fake=): " FAKE_MODE_NAMES},
    {.name = "retry-after",
     .env = "FAKE_COINAPI_RETRY_AFTER",
     .def = "2",
     .type = RC_OPT_UINT,
     .dest = &opt_retry_after,
     .help = "seconds announced in Retry-After with a 429"},
    {.name = "slow",
     .env = "FAKE_COINAPI_SLOW",
     .def = "3s",
     .type = RC_OPT_DURATION,
     .dest = &opt_slow_ms,
     .help = "how long mode slow waits before answering"},
    {.name = "key",
     .env = "FAKE_COINAPI_KEY",
     .def = NULL,
     .type = RC_OPT_STRING,
     .dest = &opt_key,
     .secret = 1,
     .help = "accept only this X-CoinAPI-Key (default: any non-empty key)"},
    {.name = "journal",
     .env = "FAKE_COINAPI_JOURNAL",
     .def = NULL,
     .type = RC_OPT_STRING,
     .dest = &opt_journal,
     .help = "append every 200 body served to this file, one per line"},
    {.name = "seed",
     .env = "FAKE_COINAPI_SEED",
     .def = NULL,
     .type = RC_OPT_STRING,
     .dest = &opt_seed,
     .help = "random walk seed, 0 to 2^64-1 (default: from the clock)"},
    {.name = "rate-limit",
     .env = "FAKE_COINAPI_RATE_LIMIT",
     .def = "100000",
     .type = RC_OPT_UINT,
     .dest = &opt_rate_limit,
     .help = "X-RateLimit-Limit announced; Remaining counts down from it (never enforced)"},
    {.name = "drop-quote",
     .env = "FAKE_COINAPI_DROP_QUOTE",
     .def = NULL,
     .type = RC_OPT_STRING,
     .dest = &opt_drop_quote,
     .help = "leave this quote out of every all-rates answer (a request may name another "
             "with ?fake_drop= or X-Fake-Drop)"},
    {.name = "log-level",
     .env = "FAKE_COINAPI_LOG_LEVEL",
     .def = "info",
     .type = RC_OPT_STRING,
     .dest = &opt_log_level,
     .help = "debug, info, warn or error (debug logs every 200)"},
    {0},
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Unset or empty: a seed from the clock, logged so a run can be replayed. */
static int parse_seed(const char *text, uint64_t *out)
{
    if (text == NULL || *text == '\0') {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *out = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid();
        return 0;
    }
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Turn the parsed options into the server's configuration, checking what
 * rc_config cannot know about. */
static int build_config(struct fake_config *cfg, char *err, size_t errlen)
{
    if (rc_log_set_level_name(opt_log_level) < 0) {
        snprintf(err, errlen, "invalid --log-level '%s': expected debug, info, warn or error",
                 opt_log_level);
        return -1;
    }
    if (opt_port > 65535) {
        snprintf(err, errlen, "invalid --port %u: expected 0 to 65535", opt_port);
        return -1;
    }
    if (fake_mode_parse(opt_mode, &cfg->mode) < 0) {
        snprintf(err, errlen, "invalid --mode '%s': expected one of %s", opt_mode, FAKE_MODE_NAMES);
        return -1;
    }
    if (parse_seed(opt_seed, &cfg->seed) < 0) {
        snprintf(err, errlen, "invalid --seed '%s': expected a non-negative integer", opt_seed);
        return -1;
    }
    if (inet_pton(AF_INET, opt_bind, &cfg->bind) != 1) {
        snprintf(err, errlen, "invalid --bind '%s': expected an IPv4 address", opt_bind);
        return -1;
    }
    cfg->port = opt_port;
    cfg->retry_after = opt_retry_after;
    cfg->slow_ms = opt_slow_ms;
    cfg->key = opt_key;
    cfg->journal_path = opt_journal;
    cfg->rate_limit = opt_rate_limit;
    cfg->drop_quote = opt_drop_quote;
    return 0;
}

/* Handlers only set a flag. SIGINT/SIGTERM are blocked here and in every
 * thread started later; *wait_mask is the mask to sigsuspend() with. */
static int install_signals(sigset_t *wait_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN; /* a client that hangs up must not kill us */
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = on_signal;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;

    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &block, wait_mask) != 0)
        return -1;
    sigdelset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGTERM);
    return 0;
}

static void announce(const struct fake_server *srv, const struct fake_config *cfg)
{
    unsigned port = fake_server_port(srv);
    /* With --port 0 the caller needs the port: give it on stdout alone. */
    if (cfg->port == 0) {
        printf("%u\n", port);
        fflush(stdout);
    }
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &cfg->bind, addr, sizeof addr);
    rc_info("listening on http://%s:%u mode=%s key=%s journal=%s seed=%" PRIu64 " drop-quote=%s",
            addr, port, fake_mode_name(cfg->mode),
            (cfg->key != NULL && *cfg->key != '\0') ? "fixed" : "any-non-empty",
            (cfg->journal_path != NULL && *cfg->journal_path != '\0') ? cfg->journal_path : "none",
            cfg->seed,
            (cfg->drop_quote != NULL && *cfg->drop_quote != '\0') ? cfg->drop_quote : "none");
}

int main(int argc, char **argv)
{
    char err[256];
    struct fake_config cfg;
    sigset_t wait_mask;

    memset(&cfg, 0, sizeof cfg);
    rc_log_set_name(PROG);
    int rc = rc_config_parse(options, argc, argv, PROG, SUMMARY, err, sizeof err);
    if (rc == 1)
        return 0; /* --help or --version */
    if (rc < 0 || build_config(&cfg, err, sizeof err) < 0) {
        rc_error("%s", err);
        return 2;
    }
    if (install_signals(&wait_mask) < 0) {
        rc_error("cannot install signal handlers: %s", strerror(errno));
        return 1;
    }
    struct fake_server *srv = fake_server_new(&cfg, err, sizeof err);
    if (srv == NULL) {
        rc_error("%s", err);
        return 1;
    }
    announce(srv, &cfg);

    while (!stop_signal)
        sigsuspend(&wait_mask);

    rc_info("%s received: stopping", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    fake_server_free(srv);
    rc_info("stopped");
    return 0;
}
