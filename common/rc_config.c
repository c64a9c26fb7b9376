/* rc_config.c: one option table per program, filled from flags, environment and defaults (in
 * that order of precedence). The interface, and who owns what, is in rc_config.h. */
#include "rc_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rc_log.h"
#include "rc_version.h"

int64_t rc_parse_duration(const char *s)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || v > INT64_MAX)
        return -1;
    if (*end == '\0')
        return v == 0 ? 0 : -1; /* "5" could mean seconds or ms: refuse to guess */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > (unsigned long long)(INT64_MAX / units[i].ms))
                return -1;
            return (int64_t)v * units[i].ms;
        }
    }
    return -1;
}

static int parse_uint(const char *s, unsigned *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* People and tools spell a switch in the environment as "true", "1", "yes"
 * or "on": accept the usual spellings (any case), nothing else. */
static int parse_bool(const char *s, int *out)
{
    static const struct {
        const char *yes, *no;
    } words[] = {{"1", "0"}, {"true", "false"}, {"yes", "no"}, {"on", "off"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(s, words[i].yes) == 0 || strcasecmp(s, words[i].no) == 0) {
            *out = strcasecmp(s, words[i].yes) == 0;
            return 0;
        }
    }
    return -1;
}

static const char *expected(enum rc_opt_type t)
{
    switch (t) {
    case RC_OPT_DURATION:
        return "a duration such as 500ms, 1s, 2m, 1h or 0";
    case RC_OPT_BOOL:
        return "true or false (also yes/no, on/off, 1/0)";
    default:
        return "a non-negative integer";
    }
}

/* Store one textual value into an option's destination. */
static int set_value(const struct rc_option *o, const char *val, const char *origin, char *err,
                     size_t errlen)
{
    switch (o->type) {
    case RC_OPT_STRING:
        *(const char **)o->dest = val;
        return 0;
    case RC_OPT_DURATION: {
        int64_t ms = rc_parse_duration(val);
        if (ms < 0)
            goto bad;
        *(int64_t *)o->dest = ms;
        return 0;
    }
    case RC_OPT_UINT:
        if (parse_uint(val, (unsigned *)o->dest) < 0)
            goto bad;
        return 0;
    case RC_OPT_BOOL:
        if (parse_bool(val, (int *)o->dest) < 0)
            goto bad;
        return 0;
    }
bad:
    /* Secret options never echo their value, even when it is malformed. */
    snprintf(err, errlen, "invalid value %s%s%s for --%s (from %s): expected %s",
             o->secret ? "" : "'", o->secret ? "(hidden)" : val, o->secret ? "" : "'", o->name,
             origin, expected(o->type));
    return -1;
}

static const struct rc_option *find_flag(const struct rc_option *opts, const char *name, size_t len)
{
    for (const struct rc_option *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

void rc_config_usage(const struct rc_option *opts, const char *prog, const char *summary, FILE *f)
{
    fprintf(f, "Usage: %s [OPTION]...\n%s\n\nOptions (flag, environment variable, default):\n",
            prog, summary);
    for (const struct rc_option *o = opts; o->name; o++) {
        if (o->secret)
            fprintf(f, "  %-18s %-20s %s\n", "(environment only)", o->env,
                    "(secret, never printed)");
        else
            fprintf(f, "  --%-16s %-20s %s\n", o->name, o->env ? o->env : "",
                    o->def ? o->def : "(unset)");
        fprintf(f, "      %s\n", o->help);
    }
    fprintf(f, "  --help             show this help\n  --version          show the version\n"
               "\nFlags win over environment variables, which win over defaults.\n");
}

int rc_config_parse(const struct rc_option *opts, int argc, char **argv, const char *prog,
                    const char *summary, char *err, size_t errlen)
{
    /* Defaults first, then the environment, then flags: each layer may
     * overwrite the one before. */
    for (const struct rc_option *o = opts; o->name; o++) {
        if (o->def && set_value(o, o->def, "default", err, errlen) < 0)
            return -1;
        const char *env = o->env ? getenv(o->env) : NULL;
        if (env && *env && set_value(o, env, o->env, err, errlen) < 0)
            return -1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            rc_config_usage(opts, prog, summary, stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", prog, RC_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct rc_option *o = find_flag(opts, name, len);
        if (o == NULL) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)len, name);
            return -1;
        }
        /* A command line is visible to every local user (ps, /proc): secrets
         * come from the environment only. */
        if (o->secret) {
            snprintf(err, errlen, "--%s cannot be given on the command line: set %s instead",
                     o->name, o->env ? o->env : "its environment variable");
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (val == NULL && o->type == RC_OPT_BOOL)
            val = "true"; /* a bare switch; the next argument is not its value */
        if (val == NULL) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value", o->name);
                return -1;
            }
            val = argv[++i];
        }
        if (set_value(o, val, "command line", err, errlen) < 0)
            return -1;
    }
    return 0;
}

int rc_config_load(const struct rc_option *opts, int argc, char **argv, const char *prog,
                   const char *summary, const char *const *log_level)
{
    char err[512];
    int rc = rc_config_parse(opts, argc, argv, prog, summary, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            rc_error("%s", err);
        return rc;
    }
    if (rc_log_set_level_name(*log_level) < 0) {
        rc_error("invalid --log-level '%s': expected debug, info, warn or error", *log_level);
        return -1;
    }
    return 0;
}
