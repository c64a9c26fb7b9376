/* Unit tests for small helpers: rc_url_redact, sse_event_id_pick,
 * rc_backoff, sse_metrics_render. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_amqp.h"
#include "rc_time.h"

#include "../../sse-server/consumer.h"
#include "../../sse-server/event_id.h"
#include "../../sse-server/metrics.h"

/* ---- rc_url_redact ---- */

static void expect_redact(const char *url, const char *want)
{
    char out[256];
    memset(out, 'Z', sizeof out);
    rc_url_redact(url, out, sizeof out);
    if (strcmp(out, want) != 0)
        print_error("redact '%s' -> '%s', want '%s'\n", url, out, want);
    assert_string_equal(out, want);
}

static void test_redact_password(void **state)
{
    (void)state;
    expect_redact("amqp://guest:guest@127.0.0.1:5672/%2f", "amqp://guest:***@127.0.0.1:5672/%2f");
    expect_redact("amqp://user:hunter2@broker", "amqp://user:***@broker");
    expect_redact("amqps://u:p%40ss@h:5671/v", "amqps://u:***@h:5671/v");
    expect_redact("amqp://:secret@h", "amqp://:***@h");
    expect_redact("amqp://u:@h", "amqp://u:***@h");
    /* a ':' inside the password is still all password */
    expect_redact("amqp://u:p:q@h", "amqp://u:***@h");
    /* an '@' in the path after real userinfo does not matter */
    expect_redact("amqp://u:p@h/v@x", "amqp://u:***@h/v@x");
}

static void test_redact_no_password(void **state)
{
    (void)state;
    expect_redact("amqp://guest@127.0.0.1:5672/", "amqp://guest@127.0.0.1:5672/");
    expect_redact("amqp://127.0.0.1:5672/%2f", "amqp://127.0.0.1:5672/%2f");
    expect_redact("amqp://h", "amqp://h");
    expect_redact("", "");
    expect_redact("not a url", "not a url");
    expect_redact("u:p@h", "u:p@h"); /* no scheme: nothing recognisable */
}

static void test_redact_never_leaks_password(void **state)
{
    (void)state;
    /* Whatever the output, the password must not appear in it. */
    static const char *urls[] = {
        "amqp://u:SECRETPW@h:5672/v@x",
        "amqp://u:SECRETPW@h/",
        "amqp://u:SECRETPW@h:1/%2f?x=@",
        "amqp://u:SECRETPW@",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char out[256];
        rc_url_redact(urls[i], out, sizeof out);
        assert_null(strstr(out, "SECRETPW"));
    }
}

static void test_redact_truncates(void **state)
{
    (void)state;
    char out[12];
    memset(out, 'Z', sizeof out);
    rc_url_redact("amqp://user:verylongpassword@host:5672/%2f", out, sizeof out);
    assert_non_null(memchr(out, '\0', sizeof out));
    assert_null(strstr(out, "verylong"));
    memset(out, 'Z', sizeof out);
    rc_url_redact("amqp://a-very-long-host-name:5672", out, sizeof out);
    assert_non_null(memchr(out, '\0', sizeof out));
}

static void test_redact_list(void **state)
{
    (void)state;
    /* Every URL of a list loses its password, not only the first. */
    expect_redact("amqp://u:pw1@h1:5672/%2f,amqp://u:pw2@h2:5672/%2f",
                  "amqp://u:***@h1:5672/%2f,amqp://u:***@h2:5672/%2f");
    expect_redact("amqp://h1,amqps://u:pw@h2:5671/v", "amqp://h1,amqps://u:***@h2:5671/v");
    /* A comma inside a password is password, not a separator. */
    expect_redact("amqp://u:a,b@h/%2f,amqp://u:c@h2", "amqp://u:***@h/%2f,amqp://u:***@h2");
    char out[256];
    rc_url_redact("amqp://u:SECRET,PW@h,amqp://v:OTHER@k", out, sizeof out);
    assert_null(strstr(out, "SECRET"));
    assert_null(strstr(out, "PW"));
    assert_null(strstr(out, "OTHER"));
}

static void test_url_list(void **state)
{
    (void)state;
    const char *l = "amqp://a:1@h1:5672/%2f, amqp://a:2@h2:5673/%2f ,amqps://a:3@h3/v";
    char out[128];
    assert_int_equal(rc_amqp_url_count(l), 3);
    assert_int_equal(rc_amqp_url_at(l, 0, out, sizeof out), 0);
    assert_string_equal(out, "amqp://a:1@h1:5672/%2f");
    assert_int_equal(rc_amqp_url_at(l, 1, out, sizeof out), 0);
    assert_string_equal(out, "amqp://a:2@h2:5673/%2f");
    assert_int_equal(rc_amqp_url_at(l, 2, out, sizeof out), 0);
    assert_string_equal(out, "amqps://a:3@h3/v");
    assert_int_equal(rc_amqp_url_at(l, 3, out, sizeof out), -1);
    assert_int_equal(rc_amqp_url_at(l, 0, out, 10), -1); /* does not fit */
    /* One URL, with a comma in its password. */
    assert_int_equal(rc_amqp_url_count("amqp://u:a,b@h/%2f"), 1);
    assert_int_equal(rc_amqp_url_at("amqp://u:a,b@h/%2f", 0, out, sizeof out), 0);
    assert_string_equal(out, "amqp://u:a,b@h/%2f");
    /* An empty element. */
    assert_int_equal(rc_amqp_url_count("amqp://h1, ,amqp://h2"), 2);
}

static void test_redact_at_in_path(void **state)
{
    (void)state;
    /* No userinfo, but an '@' in the path (or query). */
    const char *url = "amqp://broker:5672/vhost@prod";
    char out[256];
    rc_url_redact(url, out, sizeof out);
    int unchanged = strcmp(out, url) == 0;
    assert_true(unchanged);
    /* And with credentials, only the password goes. */
    rc_url_redact("amqp://u:p@h:5672/v@x", out, sizeof out);
    assert_string_equal(out, "amqp://u:***@h:5672/v@x");
}

/* ---- sse_event_id_pick ---- */

static void test_pick_id(void **state)
{
    (void)state;
    assert_int_equal(sse_event_id_pick("10", 5), 10); /* above: taken */
    assert_int_equal(sse_event_id_pick("6", 5), 6);
    assert_int_equal(sse_event_id_pick("5", 5), 6); /* equal */
    assert_int_equal(sse_event_id_pick("4", 5), 6); /* below */
    assert_int_equal(sse_event_id_pick("0", 5), 6);
    assert_int_equal(sse_event_id_pick("1", 0), 1);
    assert_int_equal(sse_event_id_pick("0", 0), 1); /* 0 is not above 0 */
    assert_int_equal(sse_event_id_pick("", 5), 6);  /* empty */
    assert_int_equal(sse_event_id_pick(NULL, 5), 6);
    assert_int_equal(sse_event_id_pick(NULL, 0), 1);
    assert_int_equal(sse_event_id_pick("abc", 5), 6); /* non-decimal */
    assert_int_equal(sse_event_id_pick("12abc", 5), 6);
    assert_int_equal(sse_event_id_pick("12 ", 5), 6);
    assert_int_equal(sse_event_id_pick(" 12", 5), 6);
    assert_int_equal(sse_event_id_pick("+12", 5), 6);
    assert_int_equal(sse_event_id_pick("-12", 5), 6);
    assert_int_equal(sse_event_id_pick("0x20", 5), 6);
    assert_int_equal(sse_event_id_pick("1e3", 5), 6);
    assert_int_equal(sse_event_id_pick("12.0", 5), 6);
    assert_int_equal(sse_event_id_pick("0012", 5), 12); /* leading zeros are decimal */
    assert_int_equal(sse_event_id_pick("1234567890123456789012345", 5), 6); /* overflow */
    assert_int_equal(sse_event_id_pick("18446744073709551616", 5), 6);      /* UINT64_MAX + 1 */
    /* At or past 2^63: refused (SSE_ID_MAX), so the id space cannot be used up. */
    assert_int_equal(sse_event_id_pick("18446744073709551615", 5), 6);
    assert_int_equal(sse_event_id_pick("18446744073709551614", 0), 1);
    /* a uuid-style message_id (what many producers send) */
    assert_int_equal(sse_event_id_pick("6f1c2a9e-0000-4000-8000-000000000000", 41), 42);
}

static void test_pick_id_never_backwards(void **state)
{
    (void)state;
    /* Feed a sequence of mixed ids; the result must strictly increase. */
    static const char *ids[] = {"3", NULL, "2", "10", "", "x", "10", "11", "9", "100", "abc"};
    uint64_t last = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint64_t id = sse_event_id_pick(ids[i], last);
        assert_true(id > last);
        last = id;
    }
    assert_int_equal(last, 101);
}

static void test_pick_id_at_max(void **state)
{
    (void)state;
    /* A producer's message_id "18446744073709551615" sets last to
     * UINT64_MAX; what comes next? */
    uint64_t next = sse_event_id_pick(NULL, UINT64_MAX);
    uint64_t next2 = sse_event_id_pick("5", UINT64_MAX);
    /* Saturates: never backwards, never 0. */
    assert_true(next == UINT64_MAX && next2 == UINT64_MAX);
    /* Producer ids at or past 2^63 are not taken. */
    assert_int_equal(sse_event_id_pick("18446744073709551615", 5), 6);
    assert_int_equal(sse_event_id_pick("9223372036854775808", 5), 6);
    assert_int_equal(sse_event_id_pick("9223372036854775807", 5), UINT64_C(9223372036854775807));
}

/* ---- rc_backoff ---- */

static void test_backoff_range_and_growth(void **state)
{
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        struct rc_backoff b = {.base_ms = 100, .cap_ms = 3000, .cur_ms = 0};
        static const int64_t expect_cur[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
        for (size_t i = 0; i < sizeof expect_cur / sizeof expect_cur[0]; i++) {
            int64_t d = rc_backoff_next(&b);
            assert_int_equal(b.cur_ms, expect_cur[i]);
            assert_true(d >= expect_cur[i] / 2);
            assert_true(d <= expect_cur[i]);
        }
    }
}

static void test_backoff_jitter_spread(void **state)
{
    (void)state;
    /* Over many draws the delay covers both halves of [cur/2, cur]. */
    int low = 0, high = 0, at_min = 0, at_max = 0;
    for (int i = 0; i < 4000; i++) {
        struct rc_backoff b = {.base_ms = 10, .cap_ms = 10, .cur_ms = 0};
        int64_t d = rc_backoff_next(&b);
        assert_true(d >= 5 && d <= 10);
        if (d < 8)
            low++;
        else
            high++;
        at_min += d == 5;
        at_max += d == 10;
    }
    assert_true(low > 100);
    assert_true(high > 100);
    assert_true(at_min > 0); /* both ends are reachable */
    assert_true(at_max > 0);
}

static void test_backoff_reset(void **state)
{
    (void)state;
    struct rc_backoff b = {.base_ms = 50, .cap_ms = 1000, .cur_ms = 0};
    for (int i = 0; i < 10; i++)
        (void)rc_backoff_next(&b);
    assert_int_equal(b.cur_ms, 1000);
    rc_backoff_reset(&b);
    assert_int_equal(b.cur_ms, 0);
    int64_t d = rc_backoff_next(&b);
    assert_int_equal(b.cur_ms, 50);
    assert_true(d >= 25 && d <= 50);
}

static void test_backoff_edges(void **state)
{
    (void)state;
    /* cap below base: capped from the first delay */
    struct rc_backoff b = {.base_ms = 5000, .cap_ms = 1000, .cur_ms = 0};
    int64_t d = rc_backoff_next(&b);
    assert_true(d >= 500 && d <= 1000);
    /* base 1 ms */
    struct rc_backoff c = {.base_ms = 1, .cap_ms = 4, .cur_ms = 0};
    d = rc_backoff_next(&c);
    assert_true(d >= 0 && d <= 1);
    d = rc_backoff_next(&c);
    assert_true(d >= 1 && d <= 2);
    /* a large cap does not overflow while doubling */
    struct rc_backoff e = {.base_ms = 1000, .cap_ms = INT64_MAX / 4, .cur_ms = 0};
    for (int i = 0; i < 80; i++) {
        d = rc_backoff_next(&e);
        assert_true(d > 0);
        assert_true(e.cur_ms <= INT64_MAX / 4);
    }
}

static void test_rand_below(void **state)
{
    (void)state;
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = rc_rand_below(7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 500);
    assert_int_equal(rc_rand_below(1), 0);
}

static const struct sse_http_stats http_stats = {.request_timeouts = 9};

/* ---- sse_metrics_render ---- */

static void expect_line(const char *text, const char *line)
{
    /* a full line: preceded by a newline (or start) and followed by one */
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s\n", line);
    int found = strstr(text, needle) != NULL ||
                (strncmp(text, line, strlen(line)) == 0 && text[strlen(line)] == '\n');
    if (!found)
        print_error("metrics lack line '%s'\n%s\n", line, text);
    assert_true(found);
}

static const char hist[] = "sse_delivery_delay_seconds";

/* The metric family a sample belongs to: its name, or for a histogram's
 * _bucket/_sum/_count samples the base name, when the text declares that
 * base a histogram. */
static void family_of(const char *text, const char *name, size_t len, char *out, size_t cap)
{
    static const char *suffixes[] = {"_bucket", "_sum", "_count"};
    snprintf(out, cap, "%.*s", (int)len, name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && memcmp(name + len - sl, suffixes[i], sl) == 0) {
            char type[200];
            snprintf(type, sizeof type, "# TYPE %.*s histogram\n", (int)(len - sl), name);
            if (strstr(text, type)) {
                snprintf(out, cap, "%.*s", (int)(len - sl), name);
                return;
            }
        }
    }
}

/* Check the exposition format: every line is "# HELP name text", "# TYPE
 * name type" or a sample "name[{labels}] value"; every sample's family has
 * HELP and TYPE before its first sample; values are unsigned integers,
 * except a histogram's _sum (a decimal). Returns the sample count. */
static int check_exposition(const char *t)
{
    int samples = 0;
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(nl > line); /* no blank lines */
        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            if (strncmp(line, "# TYPE ", 7) == 0) {
                const char *type = memchr(line + 7, ' ', (size_t)(nl - line - 7));
                assert_non_null(type);
                type++;
                int known = 0;
                static const char *types[] = {"counter", "gauge", "histogram"};
                for (size_t i = 0; i < 3; i++)
                    known |= (size_t)(nl - type) == strlen(types[i]) &&
                             memcmp(type, types[i], strlen(types[i])) == 0;
                assert_true(known);
            }
            line = nl + 1;
            continue;
        }
        samples++;
        const char *sp = memchr(line, ' ', (size_t)(nl - line));
        assert_non_null(sp);
        const char *brace = memchr(line, '{', (size_t)(sp - line));
        size_t nlen = (size_t)((brace ? brace : sp) - line);
        assert_true(nlen > 0);
        if (brace) {
            /* labels: {k="v"} closed right before the space */
            assert_int_equal(sp[-1], '}');
            assert_non_null(memchr(brace, '=', (size_t)(sp - brace)));
        }
        char fam[160], meta[200];
        family_of(t, line, nlen, fam, sizeof fam);
        snprintf(meta, sizeof meta, "# HELP %s ", fam);
        const char *help = strstr(t, meta);
        snprintf(meta, sizeof meta, "# TYPE %s ", fam);
        const char *type = strstr(t, meta);
        if (help == NULL || type == NULL || help > line || type > line)
            print_error("sample '%.*s' lacks HELP/TYPE for '%s' before it\n", (int)(nl - line),
                        line, fam);
        assert_true(help != NULL && help < line);
        assert_true(type != NULL && type < line);
        /* value */
        /* a histogram's _sum: the family is the name without "_sum" */
        int is_sum = strlen(fam) + 4 == nlen && memcmp(line + nlen - 4, "_sum", 4) == 0;
        int dots = 0;
        assert_true(nl > sp + 1);
        for (const char *p = sp + 1; p < nl; p++) {
            if (*p == '.' && is_sum && p > sp + 1 && p + 1 < nl) {
                dots++;
                continue;
            }
            if (!(*p >= '0' && *p <= '9'))
                print_error("bad value in '%.*s'\n", (int)(nl - line), line);
            assert_true(*p >= '0' && *p <= '9');
        }
        assert_true(dots <= 1);
        line = nl + 1;
    }
    return samples;
}

/* The histogram's bucket lines in order: their le labels and values. */
struct bucket {
    char le[32];
    unsigned long long value;
};

static size_t read_buckets(const char *t, struct bucket *out, size_t max)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s_bucket{le=\"", hist);
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, prefix)) != NULL; p++) {
        if (p != t && p[-1] != '\n')
            continue;
        assert_true(n < max);
        const char *le = p + strlen(prefix);
        const char *q = strchr(le, '"');
        assert_non_null(q);
        assert_true((size_t)(q - le) < sizeof out[n].le);
        snprintf(out[n].le, sizeof out[n].le, "%.*s", (int)(q - le), le);
        assert_int_equal(q[1], '}');
        assert_int_equal(q[2], ' ');
        char *end;
        out[n].value = strtoull(q + 3, &end, 10);
        assert_int_equal(*end, '\n');
        n++;
    }
    return n;
}

static unsigned long long sample_value(const char *t, const char *name)
{
    char needle[96];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *p = strstr(t, needle);
    assert_non_null(p);
    return strtoull(p + strlen(needle), NULL, 10);
}

/* The le labels, for sse_delay_bounds_ms {1,5,10,25,50,...} in seconds. */
static const char *const want_le[SSE_DELAY_BUCKETS + 1] = {
    "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};

static void test_metrics_render(void **state)
{
    (void)state;
    struct sse_hub_stats hs = {
        .subscribers = 3,
        .subscribed = 11,
        .rejected_full = 2,
        .published = 12345678901234ULL,
        .delivered = 98765432109ULL,
        .lagged = 4,
        .hangups = 6,
        .replays = 8,
        .resets = 9,
        .snapshots = 13,
        .snap_events = 14,
        .pairs_evicted = 15,
        .since_replays = 16,
        .delay = {.count = {1, 2, 0, 3, 4, 0, 0, 5, 0, 0, 6, 0, 7}, .sum_s = 123.456789}};
    struct sse_consumer_stats cs;
    atomic_init(&cs.received, 100);
    atomic_init(&cs.invalid, 7);
    atomic_init(&cs.connects, 5);
    atomic_init(&cs.connected, 1);
    size_t len = 0;
    char *t = sse_metrics_render(&hs, &cs, &http_stats, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    assert_true(len > 0);
    assert_int_equal(t[len - 1], '\n');
    expect_line(t, "sse_clients 3");
    expect_line(t, "sse_clients_total 11");
    expect_line(t, "sse_clients_rejected_total 2");
    expect_line(t, "sse_clients_lagged_total 4");
    expect_line(t, "sse_clients_hangups_total 6");
    expect_line(t, "sse_events_total 12345678901234");
    expect_line(t, "sse_replays_total 8");
    expect_line(t, "sse_resets_total 9");
    expect_line(t, "sse_snapshots_total 13");
    expect_line(t, "sse_snapshot_events_total 14");
    expect_line(t, "sse_snapshot_pairs_evicted_total 15");
    expect_line(t, "sse_since_replays_total 16");
    expect_line(t, "# TYPE sse_snapshots_total counter");
    expect_line(t, "# TYPE sse_since_replays_total counter");
    expect_line(t, "sse_deliveries_total 98765432109");
    expect_line(t, "sse_broker_messages_total 100");
    expect_line(t, "sse_broker_invalid_messages_total 7");
    expect_line(t, "sse_broker_connects_total 5");
    expect_line(t, "sse_broker_connected 1");
    expect_line(t, "sse_http_request_timeouts_total 9");
    expect_line(t, "# TYPE sse_clients gauge");
    expect_line(t, "# TYPE sse_clients_total counter");
    expect_line(t, "# TYPE sse_broker_connected gauge");
    expect_line(t, "# TYPE sse_events_total counter");
    expect_line(t, "# TYPE sse_replays_total counter");
    expect_line(t, "# TYPE sse_resets_total counter");
    expect_line(t, "# TYPE sse_deliveries_total counter");
    expect_line(t, "# TYPE sse_delivery_delay_seconds histogram");
    /* the histogram: cumulative buckets in bound order, +Inf last and
     * equal to _count */
    struct bucket b[SSE_DELAY_BUCKETS + 4];
    size_t nb = read_buckets(t, b, sizeof b / sizeof b[0]);
    assert_int_equal(nb, SSE_DELAY_BUCKETS + 1);
    unsigned long long cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += hs.delay.count[i];
        if (strcmp(b[i].le, want_le[i]) != 0 || b[i].value != cum)
            print_error("bucket %zu: le=\"%s\" %llu, want le=\"%s\" %llu\n", i, b[i].le, b[i].value,
                        want_le[i], cum);
        assert_string_equal(b[i].le, want_le[i]);
        assert_int_equal(b[i].value, cum);
        if (i > 0)
            assert_true(b[i].value >= b[i - 1].value);
        /* le matches the bound it stands for */
        if (i < SSE_DELAY_BUCKETS)
            assert_true(strtod(b[i].le, NULL) * 1000 > (double)sse_delay_bounds_ms[i] - 1e-6 &&
                        strtod(b[i].le, NULL) * 1000 < (double)sse_delay_bounds_ms[i] + 1e-6);
    }
    assert_int_equal(cum, 28);
    expect_line(t, "sse_delivery_delay_seconds_bucket{le=\"0.001\"} 1");
    expect_line(t, "sse_delivery_delay_seconds_bucket{le=\"+Inf\"} 28");
    expect_line(t, "sse_delivery_delay_seconds_count 28");
    assert_int_equal(sample_value(t, "sse_delivery_delay_seconds_count"), b[nb - 1].value);
    const char *sum = strstr(t, "\nsse_delivery_delay_seconds_sum ");
    assert_non_null(sum);
    double s = strtod(sum + strlen("\nsse_delivery_delay_seconds_sum "), NULL);
    assert_true(s > 123.456788 && s < 123.456790);
    /* the whole text is well-formed */
    int samples = check_exposition(t);
    assert_true(samples >= 13 + SSE_DELAY_BUCKETS + 3);
    free(t);
}

static void test_metrics_histogram_small_sum(void **state)
{
    (void)state;
    struct sse_hub_stats hs;
    memset(&hs, 0, sizeof hs);
    hs.delay.count[0] = 3;
    hs.delay.sum_s = 0.123456;
    struct sse_consumer_stats cs;
    atomic_init(&cs.received, 0);
    atomic_init(&cs.invalid, 0);
    atomic_init(&cs.connects, 0);
    atomic_init(&cs.connected, 0);
    size_t len;
    char *t = sse_metrics_render(&hs, &cs, &http_stats, &len);
    assert_non_null(t);
    expect_line(t, "sse_delivery_delay_seconds_sum 0.123456");
    expect_line(t, "sse_delivery_delay_seconds_count 3");
    /* every bucket holds the 3, the first one included */
    struct bucket b[SSE_DELAY_BUCKETS + 4];
    size_t nb = read_buckets(t, b, sizeof b / sizeof b[0]);
    assert_int_equal(nb, SSE_DELAY_BUCKETS + 1);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal(b[i].value, 3);
    check_exposition(t);
    free(t);
}

static void test_metrics_zero_and_max(void **state)
{
    (void)state;
    struct sse_hub_stats hs;
    memset(&hs, 0, sizeof hs);
    struct sse_consumer_stats cs;
    atomic_init(&cs.received, 0);
    atomic_init(&cs.invalid, 0);
    atomic_init(&cs.connects, 0);
    atomic_init(&cs.connected, 0);
    size_t len;
    char *t = sse_metrics_render(&hs, &cs, &http_stats, &len);
    assert_non_null(t);
    expect_line(t, "sse_clients 0");
    expect_line(t, "sse_broker_connected 0");
    expect_line(t, "sse_replays_total 0");
    expect_line(t, "sse_resets_total 0");
    expect_line(t, "sse_deliveries_total 0");
    /* an empty histogram is still rendered in full */
    struct bucket b[SSE_DELAY_BUCKETS + 4];
    assert_int_equal(read_buckets(t, b, sizeof b / sizeof b[0]), SSE_DELAY_BUCKETS + 1);
    for (size_t i = 0; i <= SSE_DELAY_BUCKETS; i++) {
        assert_string_equal(b[i].le, want_le[i]);
        assert_int_equal(b[i].value, 0);
    }
    expect_line(t, "sse_delivery_delay_seconds_count 0");
    const char *sum = strstr(t, "\nsse_delivery_delay_seconds_sum ");
    assert_non_null(sum);
    assert_true(strtod(sum + strlen("\nsse_delivery_delay_seconds_sum "), NULL) == 0.0);
    check_exposition(t);
    free(t);
    hs.published = UINT64_MAX;
    hs.delivered = UINT64_MAX;
    hs.replays = UINT64_MAX;
    hs.resets = UINT64_MAX;
    hs.hangups = UINT64_MAX;
    hs.subscribed = UINT64_MAX;
    hs.rejected_full = UINT64_MAX;
    hs.lagged = UINT64_MAX;
    hs.subscribers = UINT32_MAX;
    atomic_store(&cs.received, UINT64_MAX);
    atomic_store(&cs.invalid, UINT64_MAX);
    atomic_store(&cs.connects, UINT64_MAX);
    t = sse_metrics_render(&hs, &cs, &http_stats, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    expect_line(t, "sse_events_total 18446744073709551615");
    expect_line(t, "sse_broker_messages_total 18446744073709551615");
    expect_line(t, "sse_clients 4294967295");
    expect_line(t, "sse_deliveries_total 18446744073709551615");
    expect_line(t, "sse_replays_total 18446744073709551615");
    expect_line(t, "sse_resets_total 18446744073709551615");
    expect_line(t, "sse_clients_hangups_total 18446744073709551615");
    /* a long-running server's histogram: the text still fits */
    for (size_t i = 0; i <= SSE_DELAY_BUCKETS; i++)
        hs.delay.count[i] = UINT64_MAX / (SSE_DELAY_BUCKETS + 1);
    hs.delay.sum_s = 1e12;
    free(t);
    t = sse_metrics_render(&hs, &cs, &http_stats, &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    check_exposition(t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_password),
        cmocka_unit_test(test_redact_no_password),
        cmocka_unit_test(test_redact_never_leaks_password),
        cmocka_unit_test(test_redact_truncates),
        cmocka_unit_test(test_redact_at_in_path),
        cmocka_unit_test(test_redact_list),
        cmocka_unit_test(test_url_list),
        cmocka_unit_test(test_pick_id),
        cmocka_unit_test(test_pick_id_never_backwards),
        cmocka_unit_test(test_pick_id_at_max),
        cmocka_unit_test(test_backoff_range_and_growth),
        cmocka_unit_test(test_backoff_jitter_spread),
        cmocka_unit_test(test_backoff_reset),
        cmocka_unit_test(test_backoff_edges),
        cmocka_unit_test(test_rand_below),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_metrics_histogram_small_sum),
        cmocka_unit_test(test_metrics_zero_and_max),
    };
    return cmocka_run_group_tests_name("misc", tests, NULL, NULL);
}
