/* Unit tests for tools/sse-load/es_decode.h, the project's reference EventSource decoder:
 * the HTML standard's examples, its rules one by one, the limits, and that any split of the
 * input decodes the same. Each case decodes into a log: "[type|id|data]" per event (id
 * marked with '*' when the event's own field set it), "#text" per comment, "r<ms>" per
 * retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/sse-load/es_decode.h"

struct log {
    char text[1024];
    size_t len;
    int truncated, data_lines;
};

static void logf_(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof l->text - l->len);
    l->len += (size_t)n;
}

static void on_event(void *ctx, const struct es_event *ev)
{
    struct log *l = ctx;
    if (ev->data != NULL)
        logf_(l, "[%s|%s%s|%.*s]", ev->type, ev->id, ev->id_field ? "*" : "", (int)strlen(ev->data),
              ev->data);
    else
        logf_(l, "[%s|%s%s|len %zu]", ev->type, ev->id, ev->id_field ? "*" : "", ev->data_len);
    l->truncated += ev->truncated;
}

static void on_comment(void *ctx, const char *text, size_t len)
{
    logf_(ctx, "#%.*s", (int)len, text);
}

static void on_retry(void *ctx, uint64_t ms)
{
    logf_(ctx, "r%llu", (unsigned long long)ms);
}

static void on_data_line(void *ctx, const char *value, size_t len)
{
    (void)value;
    (void)len;
    ((struct log *)ctx)->data_lines++;
}

static const struct es_sink SINK = {
    .event = on_event, .comment = on_comment, .retry = on_retry, .data_line = on_data_line};

/* Decodes in[0..n) fed in pieces of step bytes (0: all at once) through a line buffer of
 * cap bytes, keeping data_max bytes of data. */
static void decode(struct log *l, const char *in, size_t n, size_t step, size_t cap,
                   size_t data_max)
{
    memset(l, 0, sizeof *l);
    struct es_decoder d;
    es_decoder_init(&d, &SINK, l, data_max);
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    for (size_t off = 0; off < n;) {
        size_t k = step == 0 || n - off < step ? n - off : step;
        es_decode_bytes(&d, buf, &len, cap, in + off, k);
        off += k;
    }
    free(buf);
    es_decoder_free(&d);
}

struct decode_case {
    const char *name, *in;
    size_t len; /* of in, which may hold a NUL */
    const char *want;
};
#define IN(s) s, sizeof s - 1

/* The HTML standard's own examples ("Event stream format" and "Interpreting an event
 * stream"), then one rule each. */
// clang-format off
static const struct decode_case CASES[] = {
    {"spec: three data lines",
     IN("data: YHOO\ndata: +2\ndata: 10\n\n"),
     "[message||YHOO\n+2\n10]"},
    {"spec: comment, ids, unfinished last event",
     IN(": test stream\n\ndata: first event\nid: 1\n\n"
        "data:second event\nid\n\ndata:  third event\n"),
     "# test stream[message|1*|first event][message|*|second event]"},
    {"spec: empty data lines",
     IN("data\n\ndata\ndata\n\ndata:"),
     "[message||][message||\n]"},
    {"spec: one leading space is dropped",
     IN("data:test\n\ndata: test\n\n"),
     "[message||test][message||test]"},
    {"CR and CRLF end lines too",
     IN("data: a\rdata: b\r\n\r\ndata: c\n\r"),
     "[message||a\nb][message||c]"},
    {"event names the type, until dispatch",
     IN("event: add\ndata: 1\n\ndata: 2\n\n"),
     "[add||1][message||2]"},
    {"a blank line without data resets the type",
     IN("event: x\n\ndata: 1\n\n"),
     "[message||1]"},
    {"an id is carried over, not re-set",
     IN("id: 7\ndata: a\n\ndata: b\n\n"),
     "[message|7*|a][message|7|b]"},
    {"an id with NUL is ignored",
     IN("id: 5\ndata: a\n\nid: 6\0x\ndata: b\n\n"),
     "[message|5*|a][message|5|b]"},
    {"retry: digits only",
     IN("retry: 1500\nretry: 15x\nretry:\ndata: a\n\n"),
     "r1500[message||a]"},
    {"retry saturates",
     IN("retry: 99999999999999999999999\n"),
     "r18446744073709551615"},
    {"unknown fields and a name without colon",
     IN("foo: bar\ndata\nDATA: x\n\n"),
     "[message||]"},
    {"the value keeps everything after one space",
     IN("data:   two spaces\n\n"),
     "[message||  two spaces]"},
    {"a leading byte order mark is dropped once",
     IN("\xEF\xBB\xBF" "data: a\n\n\xEF\xBB\xBF" "data: b\n\n"),
     "[message||a]"},
    {"a comment keeps its text after the colon",
     IN(":\n: x\n:y\n"),
     "## x#y"},
};
// clang-format on

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct decode_case *c = &CASES[i];
        size_t n = c->len;
        /* every split gives the same result: whole, byte by byte, and in threes */
        static const size_t steps[] = {0, 1, 3};
        for (size_t s = 0; s < 3; s++) {
            struct log l;
            decode(&l, c->in, n, steps[s], 256, 4096);
            if (strcmp(l.text, c->want) != 0)
                print_error("case '%s' (step %zu):\n got  '%s'\n want '%s'\n", c->name, steps[s],
                            l.text, c->want);
            assert_string_equal(l.text, c->want);
            assert_int_equal(l.truncated, 0);
        }
    }
}

/* A CRLF split over two reads is one line end, not a line end and a blank line. */
static void test_crlf_split(void **state)
{
    (void)state;
    static const char in[] = "data: a\r\ndata: b\r\n\r\n";
    for (size_t cut = 1; cut < sizeof in - 1; cut++) {
        struct log l;
        memset(&l, 0, sizeof l);
        struct es_decoder d;
        es_decoder_init(&d, &SINK, &l, 64);
        char buf[64];
        size_t len = 0;
        es_decode_bytes(&d, buf, &len, sizeof buf, in, cut);
        es_decode_bytes(&d, buf, &len, sizeof buf, in + cut, sizeof in - 1 - cut);
        es_decoder_free(&d);
        assert_string_equal(l.text, "[message||a\nb]");
    }
}

/* A line longer than the buffer: its head is handled, the rest dropped up to its end, and
 * the lines after it are read as usual. */
static void test_long_line(void **state)
{
    (void)state;
    char in[200];
    int n = snprintf(in, sizeof in, "data: %s\n\ndata: next\n\n",
                     "0123456789012345678901234567890123456789012345678901234567890123456789");
    struct log l;
    decode(&l, in, (size_t)n, 7, 16, 4096);
    assert_string_equal(l.text, "[message||0123456789][message||next]");
}

/* data_max bounds what is kept; data_len still tells the whole length. */
static void test_data_max(void **state)
{
    (void)state;
    static const char in[] = "data: abcdef\ndata: gh\n\ndata: ab\n\n";
    struct log l;
    decode(&l, in, sizeof in - 1, 0, 64, 4);
    assert_string_equal(l.text, "[message||abcd][message||ab]");
    assert_int_equal(l.truncated, 1);
    decode(&l, in, sizeof in - 1, 0, 64, 0); /* 0: nothing kept, lengths and lines counted */
    assert_string_equal(l.text, "[message||len 9][message||len 2]");
    assert_int_equal(l.data_lines, 3);
    assert_int_equal(l.truncated, 0);
}

/* The type and the id keep ES_TYPE_MAX / ES_ID_MAX bytes, and say so. */
static void test_type_and_id_limits(void **state)
{
    (void)state;
    char in[400], longname[ES_TYPE_MAX + 11];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    int n = snprintf(in, sizeof in, "event: %s\nid: %s\ndata: x\n\n", longname, longname);
    struct log l;
    decode(&l, in, (size_t)n, 0, 256, 64);
    assert_int_equal(l.truncated, 1);
    char want[300];
    snprintf(want, sizeof want, "[%.*s|%.*s*|x]", ES_TYPE_MAX, longname, ES_ID_MAX, longname);
    assert_string_equal(l.text, want);
}

/* The last event ID is set at every blank line, also one with no event (what a browser
 * sends back on reconnect), and survives a restart; a restart drops a half-read event. */
static void test_last_event_id_and_restart(void **state)
{
    (void)state;
    struct log l;
    memset(&l, 0, sizeof l);
    struct es_decoder d;
    es_decoder_init(&d, &SINK, &l, 64);
    char buf[64];
    size_t len = 0, idlen;
    static const char a[] = "id: 41\n\nid: 42\n";
    es_decode_bytes(&d, buf, &len, sizeof buf, a, sizeof a - 1);
    assert_string_equal(es_last_event_id(&d, &idlen), "41"); /* 42 waits for its blank line */
    assert_int_equal(idlen, 2);
    static const char b[] = "data: half\n";
    es_decode_bytes(&d, buf, &len, sizeof buf, b, sizeof b - 1);
    es_decoder_restart(&d);
    len = 0;
    static const char c[] = "data: whole\n\n";
    es_decode_bytes(&d, buf, &len, sizeof buf, c, sizeof c - 1);
    assert_string_equal(l.text, "[message|42|whole]");
    assert_string_equal(es_last_event_id(&d, NULL), "42");
    es_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_crlf_split),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_data_max),
        cmocka_unit_test(test_type_and_id_limits),
        cmocka_unit_test(test_last_event_id_and_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
