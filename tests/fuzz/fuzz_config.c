/* libFuzzer target for rc_config_parse() and rc_parse_duration()
 * (common/rc_config.h).
 *
 * The input is split on NUL bytes into at most 32 pieces. A piece whose
 * first byte is 0x01..0x05 sets one of the table's environment variables
 * (RC_FUZZ_*, names nobody sets) for this run instead of becoming an
 * argument: 0x01..0x04 give the rest of the piece as the value of
 * RC_FUZZ_LISTEN, RC_FUZZ_AMQP_URL, RC_FUZZ_HEARTBEAT or
 * RC_FUZZ_MAX_CLIENTS; 0x05 sets the secret RC_FUZZ_API_KEY to a fixed
 * marker. Every other piece is argv[1..]. The environment is rewritten in
 * place on every run (static putenv buffers), so results depend on the
 * input only. rc_parse_duration() also gets the whole input as a string.
 *
 * Invariants (a violation is __builtin_trap()):
 *   - rc_config_parse returns -1, 0 or 1; on -1 err is NUL-terminated and
 *     non-empty (not necessarily one line: it quotes the offending argv
 *     or environment text, which may hold a '\n');
 *   - the secret's value never appears in err nor in what --help prints
 *     (stdout goes to a private memfd, not the terminal), unless the input
 *     itself spells it;
 *   - on 0, every destination holds what flags > environment > defaults
 *     give, per a small model of the documented rules; on -1 or 1 the
 *     model also says -1 or 1 (same outcome, not the same message);
 *   - rc_parse_duration agrees with a model of its header comment.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rc_config.h"

#include "fuzz_check.h"

#define MAX_ARGS      32
#define ENV_VALUE_MAX 256
#define SECRET        "rcfuzz-SECRET-7d41c9"

static const char *o_listen, *o_amqp, *o_key;
static int64_t o_heartbeat, o_timeout;
static unsigned o_clients, o_threads;
static int o_reuse;

enum {
    OPT_LISTEN,
    OPT_AMQP,
    OPT_HEARTBEAT,
    OPT_TIMEOUT,
    OPT_CLIENTS,
    OPT_THREADS,
    OPT_REUSE,
    OPT_KEY,
    NOPT
};

static const struct rc_option opts[] = {
    {"listen", "RC_FUZZ_LISTEN", "0.0.0.0:8181", "address", RC_OPT_STRING, &o_listen, 0},
    {"amqp-url", "RC_FUZZ_AMQP_URL", NULL, "broker", RC_OPT_STRING, &o_amqp, 0},
    {"heartbeat", "RC_FUZZ_HEARTBEAT", "15s", "period", RC_OPT_DURATION, &o_heartbeat, 0},
    {"timeout", NULL, NULL, "flag only", RC_OPT_DURATION, &o_timeout, 0},
    {"max-clients", "RC_FUZZ_MAX_CLIENTS", "10000", "limit", RC_OPT_UINT, &o_clients, 0},
    {"threads", NULL, "2", "workers", RC_OPT_UINT, &o_threads, 0},
    {"reuse", NULL, "false", "switch", RC_OPT_BOOL, &o_reuse, 0},
    {"api-key", "RC_FUZZ_API_KEY", NULL, "secret", RC_OPT_STRING, &o_key, 1},
    {NULL, NULL, NULL, NULL, RC_OPT_STRING, NULL, 0},
};

/* putenv() keeps these very buffers: rewriting them changes the
 * environment without allocating (setenv would keep every old value). */
static const char *env_names[] = {"RC_FUZZ_LISTEN", "RC_FUZZ_AMQP_URL", "RC_FUZZ_HEARTBEAT",
                                  "RC_FUZZ_MAX_CLIENTS", "RC_FUZZ_API_KEY"};
#define NENV 5
static char env_buf[NENV][32 + ENV_VALUE_MAX];
static size_t env_prefix[NENV];

static void env_set(int k, const char *val, size_t len)
{
    if (len > ENV_VALUE_MAX - 1)
        len = ENV_VALUE_MAX - 1;
    memcpy(env_buf[k] + env_prefix[k], val, len);
    env_buf[k][env_prefix[k] + len] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int k = 0; k < NENV; k++) {
        env_prefix[k] = (size_t)snprintf(env_buf[k], sizeof env_buf[k], "%s=", env_names[k]);
        CHECK(putenv(env_buf[k]) == 0);
    }
    /* --help and --version print to stdout: keep it off the terminal but
     * readable here, to check that the secret never shows. */
    fflush(stdout);
    int fd = memfd_create("fuzz_config_stdout", 0);
    CHECK(fd >= 0);
    CHECK(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
    close(fd);
    return 0;
}

/* ---- models of the documented rules ---- */

static int64_t model_duration(const char *s)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    unsigned __int128 v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > INT64_MAX)
            return -1;
    }
    int64_t mult;
    if (*p == '\0')
        return v == 0 ? 0 : -1;
    else if (strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "m") == 0)
        mult = 60000;
    else if (strcmp(p, "h") == 0)
        mult = 3600000;
    else
        return -1;
    v *= (unsigned)mult;
    return v > INT64_MAX ? -1 : (int64_t)v;
}

static int model_uint(const char *s, unsigned *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    unsigned __int128 v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
        if (v > UINT_MAX)
            return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* 1 or 0 for the documented words (any case), -1 for anything else. */
static int model_bool(const char *s)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return 1;
        if (strcasecmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

struct model {
    const char *text[NOPT]; /* winning text per option, NULL = untouched */
};

static int model_set(struct model *m, int k, const char *val)
{
    unsigned u;
    if (opts[k].type == RC_OPT_DURATION && model_duration(val) < 0)
        return -1;
    if (opts[k].type == RC_OPT_UINT && model_uint(val, &u) < 0)
        return -1;
    if (opts[k].type == RC_OPT_BOOL && model_bool(val) < 0)
        return -1;
    m->text[k] = val;
    return 0;
}

/* -1, 0 or 1 as rc_config_parse should answer; m gets the final texts. */
static int model_parse(int argc, char **argv, struct model *m)
{
    memset(m, 0, sizeof *m);
    for (int k = 0; k < NOPT; k++) {
        if (opts[k].def && model_set(m, k, opts[k].def) < 0)
            return -1;
        const char *env = opts[k].env ? getenv(opts[k].env) : NULL;
        if (env && *env && model_set(m, k, env) < 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--version"))
            return 1;
        if (strncmp(a, "--", 2) != 0)
            return -1;
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k;
        for (k = 0; k < NOPT; k++)
            if (strlen(opts[k].name) == len && memcmp(opts[k].name, name, len) == 0)
                break;
        if (k == NOPT || opts[k].secret)
            return -1;
        const char *val = eq ? eq + 1 : NULL;
        if (val == NULL && opts[k].type == RC_OPT_BOOL)
            val = "true"; /* a bare switch takes no argument */
        if (val == NULL) {
            if (i + 1 >= argc)
                return -1;
            val = argv[++i];
        }
        if (model_set(m, k, val) < 0)
            return -1;
    }
    return 0;
}

static void check_dest(const struct model *m, int k)
{
    const char *t = m->text[k];
    switch (opts[k].type) {
    case RC_OPT_STRING: {
        const char *got = *(const char **)opts[k].dest;
        if (t == NULL)
            CHECK(got == NULL);
        else
            CHECK(got != NULL && strcmp(got, t) == 0);
        break;
    }
    case RC_OPT_DURATION: {
        int64_t got = *(int64_t *)opts[k].dest;
        CHECK(got == (t ? model_duration(t) : -2));
        break;
    }
    case RC_OPT_UINT: {
        unsigned got = *(unsigned *)opts[k].dest, want = 0xA5A5A5A5u;
        if (t)
            CHECK(model_uint(t, &want) == 0);
        CHECK(got == want);
        break;
    }
    case RC_OPT_BOOL:
        CHECK(t != NULL && *(int *)opts[k].dest == model_bool(t));
        break;
    }
}

/* What --help/--version printed since the last call; checked, then reset. */
static void check_stdout(int rc, int marker_in_input)
{
    fflush(stdout);
    off_t n = lseek(STDOUT_FILENO, 0, SEEK_CUR);
    CHECK(n >= 0);
    if (rc == 1)
        CHECK(n > 0);
    if (n > 0) {
        char *buf = malloc((size_t)n + 1);
        CHECK(buf != NULL);
        CHECK(pread(STDOUT_FILENO, buf, (size_t)n, 0) == n);
        buf[n] = '\0';
        CHECK(marker_in_input || strstr(buf, SECRET) == NULL);
        free(buf);
        CHECK(ftruncate(STDOUT_FILENO, 0) == 0);
        CHECK(lseek(STDOUT_FILENO, 0, SEEK_SET) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One NUL-terminated copy; pieces point into it. */
    char *copy = malloc(size + 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';

    /* rc_parse_duration on the whole input (up to its first NUL). */
    CHECK(rc_parse_duration(copy) == model_duration(copy));

    for (int k = 0; k < NENV; k++)
        env_set(k, "", 0);
    char *argv[MAX_ARGS + 2]; /* argv[0], up to MAX_ARGS pieces, NULL */
    int argc = 0;
    argv[argc++] = "fuzz-prog";
    size_t pieces = 0;
    for (size_t i = 0; size > 0 && i <= size && pieces < MAX_ARGS; pieces++) {
        char *p = copy + i;
        size_t len = strlen(p);
        i += len + 1;
        unsigned char c = (unsigned char)p[0];
        if (c >= 1 && c <= 4)
            env_set(c - 1, p + 1, len - 1);
        else if (c == 5)
            env_set(4, SECRET, strlen(SECRET));
        else
            argv[argc++] = p;
    }
    argv[argc] = NULL;

    /* Sentinels: a destination the parser should not touch keeps them. */
    o_listen = o_amqp = o_key = NULL;
    o_heartbeat = o_timeout = -2;
    o_clients = o_threads = 0xA5A5A5A5u;
    o_reuse = -7;

    char err[256];
    memset(err, 'x', sizeof err);
    errno = 0;
    int rc = rc_config_parse(opts, argc, argv, "fuzz-prog", "fuzzing rc_config", err, sizeof err);
    CHECK(rc == -1 || rc == 0 || rc == 1);
    /* The input itself may spell the marker (the fuzzer learns it from
     * strcmp): then err may rightly quote it back. */
    int marker_in_input = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
    if (rc == -1) {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        CHECK(marker_in_input || strstr(err, SECRET) == NULL);
    }
    check_stdout(rc, marker_in_input);

    struct model m;
    int mrc = model_parse(argc, argv, &m);
    CHECK(rc == mrc);
    if (rc == 0)
        for (int k = 0; k < NOPT; k++)
            check_dest(&m, k);

    free(copy);
    return 0;
}
