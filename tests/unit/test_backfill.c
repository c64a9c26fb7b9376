/* Unit tests for sse-server/backfill.c: merging the history stream's read
 * with the live events held back meanwhile, by event id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sse-server/backfill.h"

/* The events a backfill lets through, in order: ids as published. */
struct run {
    struct sse_backfill *b;
    uint64_t out[64];
    size_t n;
    int gaps; /* gap marks, and where (index in out) the first came */
    size_t gap_at;
};

static void stream(struct run *r, int64_t offset, uint64_t id)
{
    int v = sse_backfill_stream_event(r->b, offset, id);
    if (v == 2 && r->gaps++ == 0)
        r->gap_at = r->n;
    if (v) {
        r->out[r->n++] = id;
        sse_backfill_published(r->b, id);
    }
}

static void hold(struct run *r, uint64_t id)
{
    char mid[24] = "";
    if (id)
        snprintf(mid, sizeof mid, "%llu", (unsigned long long)id);
    assert_int_equal(sse_backfill_hold(r->b, "{}", 2, mid), 0);
}

/* After the read: the gap check, then the held-back events. */
static void release(struct run *r)
{
    if (sse_backfill_gap(r->b) && r->gaps++ == 0)
        r->gap_at = r->n;
    const char *body, *mid;
    size_t len;
    while (sse_backfill_next_held(r->b, &body, &len, &mid)) {
        assert_int_equal(len, 2);
        if (!sse_backfill_is_new(r->b, mid))
            continue;
        uint64_t id = sse_backfill_parse_id(mid);
        r->out[r->n++] = id;
        sse_backfill_published(r->b, id);
    }
}

static void expect(const struct run *r, const uint64_t *want, size_t n)
{
    assert_int_equal(r->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(r->out[i], want[i]);
}

/* A restart: empty ring, the stream's window, live events overlapping its
 * end. Every event once, in order, no gap. */
static void test_start_overlap(void **state)
{
    (void)state;
    struct run r = {.b = sse_backfill_new(0, 100)};
    sse_backfill_set_end(r.b, 9);
    assert_int_equal(sse_backfill_start_offset(r.b, 5), 4);
    hold(&r, 108); /* live, while the read is on: 108 and 109 also in the stream */
    hold(&r, 109);
    hold(&r, 110);
    for (int64_t o = 4; o <= 7; o++) {
        stream(&r, o, 100 + (uint64_t)o);
        assert_false(sse_backfill_done(r.b, 0, 200));
    }
    stream(&r, 8, 108); /* reaches the first held live event */
    assert_true(sse_backfill_done(r.b, 0, 200));
    release(&r);
    const uint64_t want[] = {104, 105, 106, 107, 108, 109, 110};
    expect(&r, want, 7);
    assert_int_equal(r.gaps, 0);
    struct sse_backfill_counts n;
    sse_backfill_counts(r.b, &n);
    assert_int_equal(n.published, 5);
    assert_int_equal(n.held, 3);
    sse_backfill_free(r.b);
}

/* A reconnect: the ring has up to 105; the window reaches back past it.
 * What the ring has is skipped, the rest fills in, no gap. */
static void test_reconnect_fills_gap(void **state)
{
    (void)state;
    struct run r = {.b = sse_backfill_new(105, 100)};
    sse_backfill_set_end(r.b, 10);
    for (int64_t o = 2; o <= 10; o++)
        stream(&r, o, 100 + (uint64_t)o);
    /* Nothing held: done at the end, once the stream stayed quiet. */
    assert_false(sse_backfill_done(r.b, 100, 200));
    assert_true(sse_backfill_done(r.b, 200, 200));
    release(&r);
    const uint64_t want[] = {106, 107, 108, 109, 110};
    expect(&r, want, 5);
    assert_int_equal(r.gaps, 0);
    struct sse_backfill_counts n;
    sse_backfill_counts(r.b, &n);
    assert_int_equal(n.skipped, 4);
    sse_backfill_free(r.b);
}

/* Duplicates and reordering: an event the stream gives twice, live events
 * the stream already gave, one out of order, one without an id (it is
 * always new: live-only events cannot be matched). */
static void test_duplicates_and_reordering(void **state)
{
    (void)state;
    struct run r = {.b = sse_backfill_new(100, 100)};
    sse_backfill_set_end(r.b, 5);
    hold(&r, 103);
    hold(&r, 102); /* older than one already held: a duplicate by then */
    hold(&r, 0);   /* no id */
    hold(&r, 104);
    stream(&r, 0, 100);
    stream(&r, 1, 101);
    stream(&r, 2, 101); /* again */
    stream(&r, 3, 0);   /* no id: left out of the read */
    stream(&r, 4, 102);
    stream(&r, 5, 103);
    assert_true(sse_backfill_done(r.b, 0, 200));
    release(&r);
    /* 100 was had; 101..103 from the stream; live 103 and 102 dropped; the
     * id-less live one passes (0 here); 104. */
    const uint64_t want[] = {101, 102, 103, 0, 104};
    expect(&r, want, 5);
    assert_int_equal(r.gaps, 0);
    sse_backfill_free(r.b);
}

/* The ring has up to 50, the stream's window starts at 90: events 51..89
 * cannot be filled. The gap is reported before the first new event. */
static void test_gap_backfill_cannot_fill(void **state)
{
    (void)state;
    struct run r = {.b = sse_backfill_new(50, 100)};
    sse_backfill_set_end(r.b, 99);
    stream(&r, 90, 90);
    stream(&r, 91, 91);
    release(&r);
    const uint64_t want[] = {90, 91};
    expect(&r, want, 2);
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.gap_at, 0);
    sse_backfill_free(r.b);
}

/* The stream gives nothing new (empty, or refused), the ring had events and
 * live ones were held: the gap is reported before them. An empty ring (a
 * start) has nothing to be continuous with: never a gap. */
static void test_gap_before_held(void **state)
{
    (void)state;
    struct run r = {.b = sse_backfill_new(50, 100)};
    sse_backfill_set_end(r.b, -1);
    hold(&r, 60);
    release(&r);
    const uint64_t want[] = {60};
    expect(&r, want, 1);
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.gap_at, 0);
    sse_backfill_free(r.b);

    struct run s = {.b = sse_backfill_new(0, 100)};
    sse_backfill_set_end(s.b, -1);
    assert_true(sse_backfill_done(s.b, 300, 200));
    hold(&s, 7);
    release(&s);
    assert_int_equal(s.gaps, 0);
    sse_backfill_free(s.b);
}

/* Not done before the probe; an empty stream is read from 0; the hold is
 * bounded. */
static void test_edges(void **state)
{
    (void)state;
    struct sse_backfill *b = sse_backfill_new(0, 2);
    assert_false(sse_backfill_done(b, 10000, 200)); /* no end yet */
    sse_backfill_set_end(b, -1);
    assert_int_equal(sse_backfill_start_offset(b, 100), 0);
    sse_backfill_set_end(b, 50);
    assert_int_equal(sse_backfill_start_offset(b, 100), 0);
    assert_int_equal(sse_backfill_start_offset(b, 10), 40);
    assert_int_equal(sse_backfill_hold(b, "a", 1, "1"), 0);
    assert_int_equal(sse_backfill_hold(b, "b", 1, "2"), 0);
    assert_int_equal(sse_backfill_hold(b, "c", 1, "3"), -1); /* full */
    /* With a held event that has an id, the end alone is not enough. */
    sse_backfill_stream_event(b, 50, 0);
    assert_false(sse_backfill_done(b, 10000, 200));
    sse_backfill_free(b);
    sse_backfill_free(NULL);
    assert_int_equal(sse_backfill_parse_id("123"), 123);
    assert_int_equal(sse_backfill_parse_id("12a"), 0);
    assert_int_equal(sse_backfill_parse_id(""), 0);
    assert_int_equal(sse_backfill_parse_id(NULL), 0);
    assert_int_equal(sse_backfill_parse_id("9223372036854775808"), 0); /* 2^63 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_overlap),
        cmocka_unit_test(test_reconnect_fills_gap),
        cmocka_unit_test(test_duplicates_and_reordering),
        cmocka_unit_test(test_gap_backfill_cannot_fill),
        cmocka_unit_test(test_gap_before_held),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests_name("backfill", tests, NULL, NULL);
}
