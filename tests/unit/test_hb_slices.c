/* Unit tests for sse-server/hb_slices.h (dealing subscribers into
 * heartbeat slices) and for the hub's sliced heartbeats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../sse-server/hb_slices.h"
#include "hub_fixture.h"

/* ---- the module ---- */

struct item {
    struct sse_hb_link link; /* first: a link is its item */
    int id;
};

/* The ids in a slice, newest first, as "6 3 0". */
static void expect_slice(const struct sse_hb_slices *sl, unsigned slice, const char *want)
{
    char got[64] = "";
    size_t n = 0;
    for (const struct sse_hb_link *l = sse_hb_slices_first(sl, slice); l; l = l->next) {
        assert_true(l->next == NULL || l->next->prev == l);
        n += (size_t)snprintf(got + n, sizeof got - n, "%s%d", n ? " " : "",
                              ((const struct item *)l)->id);
    }
    assert_string_equal(got, want);
}

static void test_deal_and_remove(void **state)
{
    (void)state;
    struct sse_hb_slices sl;
    sse_hb_slices_init(&sl);
    assert_int_equal(sl.n, 1);
    assert_int_equal(sse_hb_slices_set(&sl, 0), -1);
    assert_int_equal(sse_hb_slices_set(&sl, SSE_HB_SLICES_MAX + 1), -1);
    assert_int_equal(sl.n, 1);
    assert_int_equal(sse_hb_slices_set(&sl, 3), 0);
    struct item it[7];
    for (int i = 0; i < 7; i++) {
        it[i].id = i;
        sse_hb_slices_add(&sl, &it[i].link);
        assert_int_equal(it[i].link.slice, (unsigned)i % 3); /* round-robin */
    }
    expect_slice(&sl, 0, "6 3 0");
    expect_slice(&sl, 1, "4 1");
    expect_slice(&sl, 2, "5 2");
    sse_hb_slices_remove(&sl, &it[3].link); /* middle */
    expect_slice(&sl, 0, "6 0");
    sse_hb_slices_remove(&sl, &it[6].link); /* head */
    expect_slice(&sl, 0, "0");
    sse_hb_slices_remove(&sl, &it[2].link); /* tail */
    expect_slice(&sl, 2, "5");
    sse_hb_slices_remove(&sl, &it[0].link); /* the last one */
    expect_slice(&sl, 0, "");
    expect_slice(&sl, 1, "4 1");
    /* a slice out of range has nobody */
    assert_null(sse_hb_slices_first(&sl, 3));
    assert_null(sse_hb_slices_first(&sl, SSE_HB_SLICES_MAX));
}

/* ---- through the hub ---- */

/* Slices: subscribers are dealt round-robin into them, a slice's tick
 * concerns only its own, and a full round of ticks reaches everyone exactly
 * once, also after a subscriber in the middle of a slice has gone. */
static void test_heartbeat_slices(void **state)
{
    (void)state;
    enum { N = 7, SLICES = 3 };
    struct sse_hub *h = hub_new(4, 10);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, 0), -1);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, SSE_HUB_HB_SLICES_MAX + 1), -1);
    assert_int_equal(sse_hub_set_heartbeat_slices(h, SLICES), 0);
    struct fake f[N];
    struct sse_sub *s[N];
    for (int i = 0; i < N; i++) {
        s[i] = sub(h, &f[i], NULL);
        read_parked(h, s[i]);
    }
    /* only while nobody is subscribed */
    assert_int_equal(sse_hub_set_heartbeat_slices(h, 2), -1);
    sse_hub_unsubscribe(h, s[3]); /* slice 0: 0, 3, 6 -> 0, 6 */
    s[3] = NULL;
    int sent = 0;
    for (unsigned slice = 0; slice < SLICES; slice++) {
        sse_hub_heartbeat_slice(h, slice);
        for (int i = 0; i < N; i++) {
            if (s[i] == NULL)
                continue;
            int mine = (unsigned)i % SLICES == slice;
            assert_int_equal(f[i].wakes, mine ? 1 : 0);
            if (mine) { /* only a woken one is read, as a writer would */
                read_expect(h, s[i], ": heartbeat\n\n");
                read_parked(h, s[i]);
                f[i].wakes = 0; /* counted: leave only the next slice's */
                sent++;
            }
        }
    }
    assert_int_equal(sent, N - 1);
    assert_int_equal(stats(h).heartbeats, N - 1);
    /* a slice out of range concerns nobody; the whole-hub heartbeat, all */
    sse_hub_heartbeat_slice(h, SLICES);
    for (int i = 0; i < N; i++)
        if (s[i])
            assert_int_equal(f[i].wakes, 0);
    sse_hub_heartbeat(h);
    for (int i = 0; i < N; i++) {
        if (s[i] == NULL)
            continue;
        assert_int_equal(f[i].wakes, 1);
        read_expect(h, s[i], ": heartbeat\n\n");
        read_parked(h, s[i]);
        assert_int_equal(f[i].violations, 0);
        sse_hub_unsubscribe(h, s[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        hub_test(test_deal_and_remove),
        hub_test(test_heartbeat_slices),
    };
    return cmocka_run_group_tests_name("hb_slices", tests, NULL, NULL);
}
