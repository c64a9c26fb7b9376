/* rc_config: one option table per program, filled from flags, environment
 * and defaults (in that order of precedence).
 *
 * Each program describes its options once, as an array of struct rc_option
 * ending with an entry whose name is NULL; the same table drives parsing,
 * --help and validation, so help text and behaviour cannot drift apart.
 *
 * Flags take "--name value" or "--name=value"; a boolean flag alone
 * ("--reuse-port") means true and never takes the next argument, so it can
 * be followed by other flags ("--reuse-port=false" turns it off). Every
 * option may also come from its environment variable (env may be NULL for
 * flag-only options).
 * An option with secret=1 never has its value printed (not even in --help,
 * which shows only whether it is set).
 *
 * Ownership: string values point into argv, the environment or the table's
 * default literal; they live as long as the process and are never freed.
 */
#ifndef RC_CONFIG_H
#define RC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum rc_opt_type {
    RC_OPT_STRING,   /* const char ** */
    RC_OPT_DURATION, /* int64_t * milliseconds: "500ms", "1s", "2m", "1h", "0" */
    RC_OPT_UINT,     /* unsigned * */
    RC_OPT_BOOL,     /* int * (0 or 1): true/false, yes/no, on/off, 1/0 */
};

struct rc_option {
    const char *name; /* flag without dashes: "amqp-url" */
    const char *env;  /* "AMQP_URL", or NULL */
    const char *def;  /* default as text, or NULL for "unset" */
    const char *help; /* one line */
    enum rc_opt_type type;
    void *dest; /* see enum rc_opt_type */
    int secret; /* never print the value */
};

/* Parse argv and the environment into the table's destinations.
 * Returns 0 on success, 1 when --help or --version was handled (the caller
 * should exit 0), -1 on error with a one-line reason in err. */
int rc_config_parse(const struct rc_option *opts, int argc, char **argv, const char *prog,
                    const char *summary, char *err, size_t errlen);

/* The start of a program's main: rc_config_parse(), a failure's reason
 * logged, then the log level set from *log_level (the destination of the
 * table's LOG_LEVEL option, read after parsing). Returns as
 * rc_config_parse(); an unknown level is -1, logged. */
int rc_config_load(const struct rc_option *opts, int argc, char **argv, const char *prog,
                   const char *summary, const char *const *log_level);

/* Print the --help text for the table to f. */
void rc_config_usage(const struct rc_option *opts, const char *prog, const char *summary, FILE *f);

/* "250ms", "1s", "2m", "1h", "0": milliseconds, or -1 on bad or
 * overflowing input. A bare number other than 0 is rejected (ambiguous). */
int64_t rc_parse_duration(const char *s);

#endif
