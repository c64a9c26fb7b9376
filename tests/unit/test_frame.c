/* Unit tests for sse-server/frame.h: SSE framing, checked byte for byte and
 * against the project's reference EventSource decoder (tools/sse-load/es_decode.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sse-server/frame.h"
#include "../../tools/sse-load/es_decode.h"

/* ---- the reference: tools/sse-load/es_decode.h, the project's one EventSource decoder
 * (HTML Living Standard, "Interpreting an event stream"), unit-tested in test_es_decode ---- */

struct es_copy {
    char *data; /* malloc'd */
    size_t data_len;
    char type[ES_TYPE_MAX + 1];
    char last_id[ES_ID_MAX + 1];
};

struct es_parser {
    struct es_copy events[8];
    int n_events;
    int comments;
};

static void on_event(void *ctx, const struct es_event *ev)
{
    struct es_parser *p = ctx;
    assert_true(p->n_events < 8);
    assert_false(ev->truncated);
    struct es_copy *e = &p->events[p->n_events++];
    e->data = malloc(ev->data_len + 1);
    assert_non_null(e->data);
    memcpy(e->data, ev->data, ev->data_len + 1);
    e->data_len = ev->data_len;
    snprintf(e->type, sizeof e->type, "%s", ev->type);
    snprintf(e->last_id, sizeof e->last_id, "%s", ev->id);
}

static void on_comment(void *ctx, const char *text, size_t len)
{
    (void)text;
    (void)len;
    ((struct es_parser *)ctx)->comments++;
}

static const struct es_sink SINK = {.event = on_event, .comment = on_comment};

/* Decodes a whole stream into p; an incomplete final line is discarded, as the spec says at
 * the end of the stream. The line buffer holds the whole stream: no line is cut. */
static void es_feed(struct es_parser *p, const char *s, size_t n)
{
    struct es_decoder d;
    es_decoder_init(&d, &SINK, p, SIZE_MAX);
    char *line = malloc(n + 1);
    assert_non_null(line);
    size_t len = 0;
    es_decode_bytes(&d, line, &len, n + 1, s, n);
    free(line);
    es_decoder_free(&d);
}

static void es_free(struct es_parser *p)
{
    for (int i = 0; i < p->n_events; i++)
        free(p->events[i].data);
    memset(p, 0, sizeof *p);
}

/* The data with every line break (CRLF, CR, LF) normalised to LF. */
static char *normalise(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[k++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    *out_len = k;
    return out;
}

/* Frame data, parse the frame, and check exactly one event came back with
 * the data intact (line breaks normalised). */
static void round_trip(uint64_t id, const char *event, const char *data, size_t len)
{
    size_t flen = 0;
    char *f = sse_frame_event(id, event, data, len, &flen);
    assert_non_null(f);
    assert_true(flen >= 2);
    /* a frame ends with exactly one blank line and holds no other */
    assert_memory_equal(f + flen - 2, "\n\n", 2);
    assert_null(memchr(f, '\r', flen));
    for (size_t i = 0; i + 2 < flen; i++)
        assert_false(f[i] == '\n' && f[i + 1] == '\n');

    struct es_parser p;
    memset(&p, 0, sizeof p);
    es_feed(&p, f, flen);
    assert_int_equal(p.n_events, 1);
    assert_int_equal(p.comments, 0);
    size_t want_len;
    char *want = normalise(data, len, &want_len);
    if (p.events[0].data_len != want_len || memcmp(p.events[0].data, want, want_len) != 0)
        print_error("round trip mismatch: frame '%.*s'\n", (int)flen, f);
    assert_int_equal(p.events[0].data_len, want_len);
    assert_memory_equal(p.events[0].data, want, want_len);
    assert_string_equal(p.events[0].type, event ? event : "message");
    if (id) {
        char ids[32];
        snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
        assert_string_equal(p.events[0].last_id, ids);
    } else {
        assert_string_equal(p.events[0].last_id, "");
    }
    free(want);
    es_free(&p);
    free(f);
}

static void expect_frame(uint64_t id, const char *event, const char *data, size_t len,
                         const char *want)
{
    size_t flen = 12345;
    char *f = sse_frame_event(id, event, data, len, &flen);
    assert_non_null(f);
    if (flen != strlen(want) || memcmp(f, want, flen) != 0)
        print_error("got  '%.*s'\nwant '%s'\n", (int)flen, f, want);
    assert_int_equal(flen, strlen(want));
    assert_memory_equal(f, want, flen);
    free(f);
}

/* ---- tests ---- */

static void test_id_and_data(void **state)
{
    (void)state;
    const char *d = "{\"time\":\"2026-11-28T02:31:19.5655909Z\",\"rate\":60000.25}";
    expect_frame(7, NULL, d, strlen(d),
                 "id: 7\ndata: {\"time\":\"2026-11-28T02:31:19.5655909Z\",\"rate\":60000.25}\n\n");
    round_trip(7, NULL, d, strlen(d));
}

static void test_id_zero_omitted(void **state)
{
    (void)state;
    expect_frame(0, NULL, "{}", 2, "data: {}\n\n");
}

static void test_large_id(void **state)
{
    (void)state;
    expect_frame(UINT64_MAX, NULL, "x", 1, "id: 18446744073709551615\ndata: x\n\n");
    expect_frame(1, NULL, "x", 1, "id: 1\ndata: x\n\n");
    round_trip(UINT64_MAX, NULL, "x", 1);
}

static void test_event_name(void **state)
{
    (void)state;
    expect_frame(3, "reset", "{}", 2, "id: 3\nevent: reset\ndata: {}\n\n");
    expect_frame(0, "tick", "a", 1, "event: tick\ndata: a\n\n");
    round_trip(3, "reset", "{}", 2);
    round_trip(0, "tick", "a\nb", 3);
}

static void test_empty_data(void **state)
{
    (void)state;
    expect_frame(0, NULL, "", 0, "data: \n\n");
    expect_frame(9, NULL, "", 0, "id: 9\ndata: \n\n");
    round_trip(0, NULL, "", 0);
}

static void test_line_breaks_split(void **state)
{
    (void)state;
    expect_frame(0, NULL, "a\nb", 3, "data: a\ndata: b\n\n");
    expect_frame(0, NULL, "a\r\nb", 4, "data: a\ndata: b\n\n");
    expect_frame(0, NULL, "a\rb", 3, "data: a\ndata: b\n\n");
    expect_frame(0, NULL, "a\r\rb", 4, "data: a\ndata: \ndata: b\n\n");
    expect_frame(0, NULL, "a\n\nb", 4, "data: a\ndata: \ndata: b\n\n");
    expect_frame(0, NULL, "a\n\r\nb", 5, "data: a\ndata: \ndata: b\n\n");
    expect_frame(0, NULL, "\n", 1, "data: \ndata: \n\n");
    expect_frame(0, NULL, "\r\n", 2, "data: \ndata: \n\n");
    expect_frame(0, NULL, "\r", 1, "data: \ndata: \n\n");
    expect_frame(0, NULL, "a\n", 2, "data: a\ndata: \n\n");
    expect_frame(5, NULL, "x\r\ny\rz\nw", 8, "id: 5\ndata: x\ndata: y\ndata: z\ndata: w\n\n");
}

static void test_round_trip_table(void **state)
{
    (void)state;
    static const char *cases[] = {
        "",
        "a",
        "a\nb",
        "a\r\nb",
        "a\rb",
        "a\r\rb",
        "\n",
        "\r\n",
        "\r",
        "a\n",
        "a\r",
        "a\r\n",
        "\na",
        "\ra",
        "\r\na",
        "\n\n",
        "\r\r",
        "\r\n\r\n",
        "\n\r",
        "x\n\r",
        "\n\r\n\r",
        " leading",
        "  two",
        ":colon",
        "data: x",
        "id: 5",
        "line1\r\nline2\rline3\nline4",
        "trailing space ",
        "{\"rate\":1}\n{\"rate\":2}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        round_trip(0, NULL, cases[i], strlen(cases[i]));
        round_trip(42, NULL, cases[i], strlen(cases[i]));
    }
}

static void test_round_trip_random(void **state)
{
    (void)state;
    /* Exhaustive over short strings of a small alphabet, then random longer
     * ones: every mix of CR, LF, space and colon. */
    static const char alpha[] = {'a', '\r', '\n', ' ', ':'};
    char s[8];
    for (size_t len = 0; len <= 5; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= sizeof alpha;
        for (size_t k = 0; k < total; k++) {
            size_t v = k;
            for (size_t i = 0; i < len; i++) {
                s[i] = alpha[v % sizeof alpha];
                v /= sizeof alpha;
            }
            round_trip(k + 1, NULL, s, len);
        }
    }
    unsigned seed = 12345;
    char big[300];
    for (int iter = 0; iter < 2000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof big;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            big[i] = alpha[(seed >> 16) % sizeof alpha];
        }
        round_trip((uint64_t)iter, iter % 2 ? "ev" : NULL, big, len);
    }
}

static void test_data_not_nul_terminated(void **state)
{
    (void)state;
    /* only len bytes are framed */
    expect_frame(1, NULL, "abc\ndef", 3, "id: 1\ndata: abc\n\n");
    /* a CR at the very end of len must not look past len for an LF */
    expect_frame(1, NULL, "a\r\nb", 2, "id: 1\ndata: a\ndata: \n\n");
}

static void test_long_data(void **state)
{
    (void)state;
    size_t len = 100000;
    char *d = malloc(len);
    assert_non_null(d);
    for (size_t i = 0; i < len; i++)
        d[i] = (i % 3 == 0) ? '\r' : (i % 3 == 1) ? '\r' : '\n'; /* "\r\r\n" repeated */
    round_trip(77, "e", d, len);
    for (size_t i = 0; i < len; i++)
        d[i] = '\r'; /* worst case for the size estimate: every byte a break */
    round_trip(UINT64_MAX, "reset", d, len);
    free(d);
}

static void test_comment(void **state)
{
    (void)state;
    size_t n = 0;
    char *f = sse_frame_comment("heartbeat", &n);
    assert_non_null(f);
    assert_int_equal(n, strlen(": heartbeat\n\n"));
    assert_memory_equal(f, ": heartbeat\n\n", n);
    free(f);

    f = sse_frame_comment("", &n);
    assert_non_null(f);
    assert_int_equal(n, 4);
    assert_memory_equal(f, ": \n\n", 4);
    free(f);

    f = sse_frame_comment("a\r\nb\rc\nd", &n);
    assert_non_null(f);
    assert_int_equal(n, strlen(": a  b c d\n\n"));
    assert_memory_equal(f, ": a  b c d\n\n", n);
    free(f);
}

static void test_comment_fires_no_event(void **state)
{
    (void)state;
    static const char *texts[] = {"ok", "", "x\ny", "\r\n", "data: evil\n\ndata: x", "retry: 1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n;
        char *f = sse_frame_comment(texts[i], &n);
        assert_non_null(f);
        struct es_parser p;
        memset(&p, 0, sizeof p);
        es_feed(&p, f, n);
        assert_int_equal(p.n_events, 0);
        assert_int_equal(p.comments, 1);
        /* one comment line then a blank line: only the final "\n\n" */
        assert_memory_equal(f + n - 2, "\n\n", 2);
        assert_null(memchr(f, '\r', n));
        assert_ptr_equal(memchr(f, '\n', n), f + n - 2);
        es_free(&p);
        free(f);
    }
}

static void test_frames_concatenate(void **state)
{
    (void)state;
    /* Frames written back to back parse as separate events. */
    size_t n1, n2, n3;
    char *a = sse_frame_event(1, NULL, "one", 3, &n1);
    char *c = sse_frame_comment("hb", &n2);
    char *b = sse_frame_event(2, "x", "two\nlines", 9, &n3);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    char *all = malloc(n1 + n2 + n3);
    assert_non_null(all);
    memcpy(all, a, n1);
    memcpy(all + n1, c, n2);
    memcpy(all + n1 + n2, b, n3);
    struct es_parser p;
    memset(&p, 0, sizeof p);
    es_feed(&p, all, n1 + n2 + n3);
    assert_int_equal(p.n_events, 2);
    assert_string_equal(p.events[0].data, "one");
    assert_string_equal(p.events[0].last_id, "1");
    assert_string_equal(p.events[0].type, "message");
    assert_string_equal(p.events[1].data, "two\nlines");
    assert_string_equal(p.events[1].last_id, "2");
    assert_string_equal(p.events[1].type, "x");
    assert_int_equal(p.comments, 1);
    es_free(&p);
    free(all);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_and_data),
        cmocka_unit_test(test_id_zero_omitted),
        cmocka_unit_test(test_large_id),
        cmocka_unit_test(test_event_name),
        cmocka_unit_test(test_empty_data),
        cmocka_unit_test(test_line_breaks_split),
        cmocka_unit_test(test_round_trip_table),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_data_not_nul_terminated),
        cmocka_unit_test(test_long_data),
        cmocka_unit_test(test_comment),
        cmocka_unit_test(test_comment_fires_no_event),
        cmocka_unit_test(test_frames_concatenate),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
