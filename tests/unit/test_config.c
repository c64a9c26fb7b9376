/* Unit tests for common/rc_config.h: durations and the option table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_config.h"

/* ---- rc_parse_duration ---- */

static void test_duration_valid(void **state)
{
    (void)state;
    assert_int_equal(rc_parse_duration("0"), 0);
    assert_int_equal(rc_parse_duration("0ms"), 0);
    assert_int_equal(rc_parse_duration("0s"), 0);
    assert_int_equal(rc_parse_duration("0h"), 0);
    assert_int_equal(rc_parse_duration("500ms"), 500);
    assert_int_equal(rc_parse_duration("1ms"), 1);
    assert_int_equal(rc_parse_duration("1s"), 1000);
    assert_int_equal(rc_parse_duration("15s"), 15000);
    assert_int_equal(rc_parse_duration("2m"), 120000);
    assert_int_equal(rc_parse_duration("1h"), 3600000);
    assert_int_equal(rc_parse_duration("24h"), 86400000);
    assert_int_equal(rc_parse_duration("007s"), 7000);
    /* the largest values that do not overflow int64 milliseconds */
    assert_true(rc_parse_duration("9223372036854775807ms") == INT64_MAX);
    assert_true(rc_parse_duration("2562047788015h") == (int64_t)2562047788015 * 3600000);
    assert_true(rc_parse_duration("153722867280912m") == (int64_t)153722867280912 * 60000);
    assert_true(rc_parse_duration("9223372036854775s") == (int64_t)9223372036854775 * 1000);
}

static void test_duration_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "5",
        "-1s",
        "1.5s",
        "1d",
        "s",
        "ms",
        " 1s",
        "1s ",
        "1 s",
        "+1s",
        "1S",
        "1MS",
        "1sec",
        "1mss",
        "1hm",
        "1m1s",
        "0x10s",
        "1e3ms",
        "abc",
        "-0",
        "99999999999999999999h",
        "99999999999999999999",
        "18446744073709551616ms",
        "9223372036854775808ms", /* INT64_MAX + 1 */
        "2562047788016h",        /* * 3600000 overflows */
        "153722867280913m",      /* * 60000 overflows */
        "9223372036854776s",     /* * 1000 overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = rc_parse_duration(bad[i]);
        if (v != -1)
            print_error("'%s' gave %lld\n", bad[i], (long long)v);
        assert_int_equal(v, -1);
    }
    assert_int_equal(rc_parse_duration(NULL), -1);
}

/* ---- rc_config_parse ---- */

static const char *g_url;
static const char *g_name;
static int64_t g_timeout;
static unsigned g_port;
static unsigned g_secret_uint;
static const char *g_secret_str;
static int g_flag;

#define ENV_URL         "RCTEST_URL"
#define ENV_NAME        "RCTEST_NAME"
#define ENV_TIMEOUT     "RCTEST_TIMEOUT"
#define ENV_PORT        "RCTEST_PORT"
#define ENV_SECRET_UINT "RCTEST_SECRET_UINT"
#define ENV_SECRET_STR  "RCTEST_SECRET_STR"
#define ENV_FLAG        "RCTEST_FLAG"

static const struct rc_option opts[] = {
    {"url", ENV_URL, "amqp://localhost", "broker URL", RC_OPT_STRING, &g_url, 0},
    {"name", ENV_NAME, NULL, "optional name", RC_OPT_STRING, &g_name, 0},
    {"timeout", ENV_TIMEOUT, "5s", "request timeout", RC_OPT_DURATION, &g_timeout, 0},
    {"port", ENV_PORT, "8181", "listen port", RC_OPT_UINT, &g_port, 0},
    {"secret-num", ENV_SECRET_UINT, NULL, "a secret number", RC_OPT_UINT, &g_secret_uint, 1},
    {"api-key", ENV_SECRET_STR, NULL, "a secret key", RC_OPT_STRING, &g_secret_str, 1},
    {"flag", ENV_FLAG, "false", "a switch", RC_OPT_BOOL, &g_flag, 0},
    {NULL, NULL, NULL, NULL, RC_OPT_STRING, NULL, 0},
};

static int reset(void **state)
{
    (void)state;
    unsetenv(ENV_URL);
    unsetenv(ENV_NAME);
    unsetenv(ENV_TIMEOUT);
    unsetenv(ENV_PORT);
    unsetenv(ENV_SECRET_UINT);
    unsetenv(ENV_SECRET_STR);
    unsetenv(ENV_FLAG);
    g_url = NULL;
    g_name = NULL;
    g_timeout = -42;
    g_port = 424242;
    g_secret_uint = 7;
    g_secret_str = NULL;
    g_flag = 42;
    return 0;
}

/* Run the parser on a NULL-terminated list of arguments (prog is added). */
static int run(char *err, size_t errlen, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "prog";
    va_list ap;
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return rc_config_parse(opts, argc, argv, "prog", "test program", err, errlen);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        print_error("'%s' does not contain '%s'\n", hay, needle);
    assert_non_null(strstr(hay, needle));
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, NULL), 0);
    assert_string_equal(g_url, "amqp://localhost");
    assert_null(g_name); /* no default: untouched */
    assert_int_equal(g_timeout, 5000);
    assert_int_equal(g_port, 8181);
    assert_int_equal(g_secret_uint, 7);
    assert_null(g_secret_str);
    assert_int_equal(g_flag, 0);
}

static void test_env_overrides_default(void **state)
{
    (void)state;
    char err[256];
    setenv(ENV_URL, "amqp://broker:5672", 1);
    setenv(ENV_NAME, "fromenv", 1);
    setenv(ENV_TIMEOUT, "250ms", 1);
    setenv(ENV_PORT, "9000", 1);
    setenv(ENV_SECRET_UINT, "99", 1);
    setenv(ENV_SECRET_STR, "s3cr3t", 1);
    assert_int_equal(run(err, sizeof err, NULL), 0);
    assert_string_equal(g_url, "amqp://broker:5672");
    assert_string_equal(g_name, "fromenv");
    assert_int_equal(g_timeout, 250);
    assert_int_equal(g_port, 9000);
    assert_int_equal(g_secret_uint, 99);
    assert_string_equal(g_secret_str, "s3cr3t");
}

static void test_empty_env_ignored(void **state)
{
    (void)state;
    char err[256];
    setenv(ENV_PORT, "", 1);
    setenv(ENV_TIMEOUT, "", 1);
    assert_int_equal(run(err, sizeof err, NULL), 0);
    assert_int_equal(g_port, 8181);
    assert_int_equal(g_timeout, 5000);
}

static void test_flag_overrides_env(void **state)
{
    (void)state;
    char err[256];
    setenv(ENV_URL, "amqp://env", 1);
    setenv(ENV_TIMEOUT, "1m", 1);
    setenv(ENV_PORT, "1", 1);
    assert_int_equal(
        run(err, sizeof err, "--url=amqp://flag", "--timeout", "2h", "--port", "0", NULL), 0);
    assert_string_equal(g_url, "amqp://flag");
    assert_int_equal(g_timeout, 7200000);
    assert_int_equal(g_port, 0);
}

static void test_flag_forms(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--name=a=b", "--port=65535", NULL), 0);
    assert_string_equal(g_name, "a=b"); /* only the first '=' splits */
    assert_int_equal(g_port, 65535);
    assert_int_equal(run(err, sizeof err, "--name", "--looks-like-a-flag", NULL), 0);
    assert_string_equal(g_name, "--looks-like-a-flag"); /* a separate value is taken as is */
    assert_int_equal(run(err, sizeof err, "--name=", NULL), 0);
    assert_string_equal(g_name, "");
    /* The last occurrence wins. */
    assert_int_equal(run(err, sizeof err, "--port", "1", "--port=2", NULL), 0);
    assert_int_equal(g_port, 2);
    assert_int_equal(run(err, sizeof err, "--port", "4294967295", NULL), 0);
    assert_true(g_port == 4294967295u);
}

/* A bare boolean flag means true and leaves the next argument alone. */
static void test_bool_flag(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--flag", "--port", "9", NULL), 0);
    assert_int_equal(g_flag, 1);
    assert_int_equal(g_port, 9);
    assert_int_equal(run(err, sizeof err, "--flag=false", NULL), 0);
    assert_int_equal(g_flag, 0);
    /* Last one wins; an explicit value overrides the environment. */
    setenv(ENV_FLAG, "yes", 1);
    assert_int_equal(run(err, sizeof err, NULL), 0);
    assert_int_equal(g_flag, 1);
    assert_int_equal(run(err, sizeof err, "--flag=off", NULL), 0);
    assert_int_equal(g_flag, 0);
    assert_int_equal(run(err, sizeof err, "--flag=0", "--flag", NULL), 0);
    assert_int_equal(g_flag, 1);
    /* A following word is a positional argument, not the flag's value. */
    assert_int_equal(run(err, sizeof err, "--flag", "false", NULL), -1);
    assert_contains(err, "false");
}

static void test_bool_values(void **state)
{
    (void)state;
    static const char *yes[] = {"1", "true", "TRUE", "True", "yes", "on"};
    static const char *no[] = {"0", "false", "FALSE", "no", "off", "Off"};
    static const char *bad[] = {"2", "y", "n", "truee", "t", " true", "true ", "-1", "enabled"};
    char err[256];
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        setenv(ENV_FLAG, yes[i], 1);
        assert_int_equal(run(err, sizeof err, NULL), 0);
        assert_int_equal(g_flag, 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        setenv(ENV_FLAG, no[i], 1);
        assert_int_equal(run(err, sizeof err, NULL), 0);
        assert_int_equal(g_flag, 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv(ENV_FLAG, bad[i], 1);
        assert_int_equal(run(err, sizeof err, NULL), -1);
        assert_contains(err, "--flag");
        assert_contains(err, ENV_FLAG);
        assert_contains(err, "true or false");
    }
}

static void test_unknown_flag(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--bogus", NULL), -1);
    assert_contains(err, "--bogus");
    assert_int_equal(run(err, sizeof err, "--bogus=1", NULL), -1);
    assert_contains(err, "--bogus");
    assert_null(strstr(err, "=1"));
    /* A prefix of a real option is not that option. */
    assert_int_equal(run(err, sizeof err, "--por", "1", NULL), -1);
    assert_contains(err, "--por");
    assert_int_equal(run(err, sizeof err, "--portx=1", NULL), -1);
    assert_contains(err, "--portx");
    assert_int_equal(run(err, sizeof err, "--", NULL), -1);
    assert_true(strlen(err) > 0);
}

static void test_missing_value(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--port", NULL), -1);
    assert_contains(err, "--port");
    assert_int_equal(run(err, sizeof err, "--url", NULL), -1);
    assert_contains(err, "--url");
}

static void test_bad_uint(void **state)
{
    (void)state;
    static char *bad[] = {"abc", "-1", "+1", "1.5",  "4294967296",
                          "12x", "",   " 1", "0x10", "99999999999999999999999"};
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(err, sizeof err, "--port", bad[i], NULL), -1);
        assert_contains(err, "--port");
        assert_contains(err, "command line");
    }
    reset(NULL);
    setenv(ENV_PORT, "eighty", 1);
    assert_int_equal(run(err, sizeof err, NULL), -1);
    assert_contains(err, "--port");
    assert_contains(err, ENV_PORT);
    assert_contains(err, "eighty"); /* not secret: the value helps */
}

static void test_bad_duration(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--timeout=5", NULL), -1);
    assert_contains(err, "--timeout");
    assert_contains(err, "command line");
    assert_int_equal(run(err, sizeof err, "--timeout", "1d", NULL), -1);
    assert_contains(err, "--timeout");
    setenv(ENV_TIMEOUT, "1.5s", 1);
    assert_int_equal(run(err, sizeof err, NULL), -1);
    assert_contains(err, "--timeout");
    assert_contains(err, ENV_TIMEOUT);
}

static void test_bad_default_reported(void **state)
{
    (void)state;
    static unsigned v;
    static const struct rc_option bad[] = {
        {"n", NULL, "lots", "bad default", RC_OPT_UINT, &v, 0},
        {NULL, NULL, NULL, NULL, RC_OPT_STRING, NULL, 0},
    };
    char *argv[] = {"prog", NULL};
    char err[256] = "";
    assert_int_equal(rc_config_parse(bad, 1, argv, "prog", "s", err, sizeof err), -1);
    assert_contains(err, "--n");
    assert_contains(err, "default");
}

static void test_help_and_version(void **state)
{
    (void)state;
    char err[256];
    /* stdout output is expected here */
    assert_int_equal(run(err, sizeof err, "--help", NULL), 1);
    assert_int_equal(run(err, sizeof err, "--version", NULL), 1);
    assert_int_equal(run(err, sizeof err, "--port", "1", "--help", NULL), 1);
    fflush(stdout);
}

static void test_usage_hides_secrets(void **state)
{
    (void)state;
    setenv(ENV_SECRET_STR, "hunter2", 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    rc_config_usage(opts, "prog", "test program", f);
    fclose(f);
    assert_non_null(buf);
    assert_contains(buf, "--url");
    assert_contains(buf, "amqp://localhost");
    assert_contains(buf, ENV_SECRET_STR);
    assert_null(strstr(buf, "hunter2"));
    assert_null(strstr(buf, "--api-key")); /* cannot be given as a flag */
    free(buf);
}

static void test_secret_flag_refused(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "--api-key", "hunter2", NULL), -1);
    assert_contains(err, "api-key");
    assert_contains(err, ENV_SECRET_STR);
    assert_null(strstr(err, "hunter2"));
    assert_null(g_secret_str);
    assert_int_equal(run(err, sizeof err, "--api-key=hunter2", NULL), -1);
    assert_null(strstr(err, "hunter2"));
    assert_null(g_secret_str);
    assert_int_equal(run(err, sizeof err, "--secret-num=42", NULL), -1);
    assert_contains(err, "secret-num");
    assert_null(strstr(err, "42"));
    assert_int_equal(g_secret_uint, 7);
}

static void test_secret_value_never_in_err(void **state)
{
    (void)state;
    char err[256];
    setenv(ENV_SECRET_UINT, "hunter2", 1);
    assert_int_equal(run(err, sizeof err, NULL), -1);
    assert_contains(err, "secret-num");
    assert_contains(err, ENV_SECRET_UINT);
    assert_null(strstr(err, "hunter2"));
    assert_null(strstr(err, "hunter"));
    /* Malformed with a number-looking prefix. */
    setenv(ENV_SECRET_UINT, "1234hunter2", 1);
    assert_int_equal(run(err, sizeof err, NULL), -1);
    assert_null(strstr(err, "1234"));
    assert_null(strstr(err, "hunter2"));
}

static void test_positional_refused(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(run(err, sizeof err, "stray", NULL), -1);
    assert_contains(err, "stray");
    assert_int_equal(run(err, sizeof err, "--port", "1", "extra", NULL), -1);
    assert_contains(err, "extra");
    assert_int_equal(run(err, sizeof err, "-p", "1", NULL), -1);
    assert_int_equal(run(err, sizeof err, "-", NULL), -1);
}

static void test_err_truncated_safely(void **state)
{
    (void)state;
    char err[8];
    memset(err, 'Z', sizeof err);
    assert_int_equal(run(err, sizeof err, "--a-very-long-unknown-option-name", NULL), -1);
    assert_non_null(memchr(err, '\0', sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test_setup(test_defaults, reset),
        cmocka_unit_test_setup(test_env_overrides_default, reset),
        cmocka_unit_test_setup(test_empty_env_ignored, reset),
        cmocka_unit_test_setup(test_flag_overrides_env, reset),
        cmocka_unit_test_setup(test_flag_forms, reset),
        cmocka_unit_test_setup(test_bool_flag, reset),
        cmocka_unit_test_setup(test_bool_values, reset),
        cmocka_unit_test_setup(test_unknown_flag, reset),
        cmocka_unit_test_setup(test_missing_value, reset),
        cmocka_unit_test_setup(test_bad_uint, reset),
        cmocka_unit_test_setup(test_bad_duration, reset),
        cmocka_unit_test_setup(test_bad_default_reported, reset),
        cmocka_unit_test_setup(test_help_and_version, reset),
        cmocka_unit_test_setup(test_usage_hides_secrets, reset),
        cmocka_unit_test_setup(test_secret_flag_refused, reset),
        cmocka_unit_test_setup(test_secret_value_never_in_err, reset),
        cmocka_unit_test_setup(test_positional_refused, reset),
        cmocka_unit_test_setup(test_err_truncated_safely, reset),
    };
    return cmocka_run_group_tests_name("config", tests, reset, reset);
}
