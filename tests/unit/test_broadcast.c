/* Unit tests for sse-server/broadcast.h up to the broker: a POST admitted
 * on its headers (token, size), its body received in pieces, and the
 * answers that need no broker (400, 413). Publishing itself is tested
 * against a real broker (hostile_http.sh, sse_features.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../sse-server/broadcast.h"

/* Never dialled: nothing here reaches the publish. */
static const struct rc_amqp_params params = {.url = "amqp://guest:guest@127.0.0.1:1/%2f",
                                             .timeout_ms = 100};

static struct sse_broadcast *new_broadcast(void)
{
    struct sse_broadcast *b = sse_broadcast_new("s3cret", &params, "test-broadcast");
    assert_non_null(b);
    return b;
}

static void test_admit(void **state)
{
    (void)state;
    struct sse_broadcast *b = new_broadcast();
    const char *why = NULL;
    static const struct {
        const char *auth, *clen;
        unsigned status;
    } cases[] = {
        {"Bearer s3cret", NULL, 0},   {"Bearer s3cret", "16384", 0},
        {"bearer   s3cret", "10", 0}, {"Bearer s3cret", "16385", 413},
        {"Bearer s3cre", "10", 401},  {"Bearer s3cretx", "10", 401},
        {"Basic s3cret", "10", 401},  {NULL, "10", 401},
        {NULL, "99999999", 401}, /* the token is checked before the size */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        why = NULL;
        unsigned st = sse_broadcast_admit(b, cases[i].auth, cases[i].clen, &why);
        assert_int_equal(st, cases[i].status);
        if (st)
            assert_non_null(why);
    }
    assert_int_equal(sse_broadcast_admit(NULL, "Bearer s3cret", NULL, &why), 404);
    assert_string_equal(why, "not found (broadcast is disabled)");
    sse_broadcast_free(b);
}

/* A body in pieces is one body: an invalid one is refused for what it is
 * (400), whatever the pieces. */
static void test_upload_in_pieces(void **state)
{
    (void)state;
    struct sse_broadcast *b = new_broadcast();
    struct sse_broadcast_upload *u = sse_broadcast_upload_new();
    assert_non_null(u);
    sse_broadcast_upload_add(u, "{\"rate\":", 8);
    sse_broadcast_upload_add(u, "1.5}", 4);
    char err[256] = "";
    assert_int_equal(sse_broadcast_upload_publish(b, u, err, sizeof err), 400);
    assert_true(err[0] != '\0');
    sse_broadcast_upload_free(u);
    sse_broadcast_free(b);
}

/* A chunked body has no Content-Length: the limit holds on the pieces,
 * exactly at SSE_BROADCAST_MAX_BODY. */
static void test_upload_too_large(void **state)
{
    (void)state;
    static char chunk[1000];
    memset(chunk, ' ', sizeof chunk);
    struct sse_broadcast *b = new_broadcast();
    char err[256];
    for (int extra = 0; extra <= 1; extra++) {
        struct sse_broadcast_upload *u = sse_broadcast_upload_new();
        size_t left = SSE_BROADCAST_MAX_BODY + (size_t)extra;
        while (left > 0) {
            size_t n = left < sizeof chunk ? left : sizeof chunk;
            sse_broadcast_upload_add(u, chunk, n);
            left -= n;
        }
        err[0] = '\0';
        unsigned st = sse_broadcast_upload_publish(b, u, err, sizeof err);
        if (extra) {
            assert_int_equal(st, 413);
            assert_string_equal(err, "body too large");
        } else {
            assert_int_equal(st, 400); /* kept whole: white space is no tick */
        }
        sse_broadcast_upload_free(u);
    }
    sse_broadcast_upload_free(NULL);
    sse_broadcast_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit),
        cmocka_unit_test(test_upload_in_pieces),
        cmocka_unit_test(test_upload_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
