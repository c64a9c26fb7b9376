/* CHECK(cond): the invariant every libFuzzer target here asserts with.
 * Says which invariant failed (the trap's stack trace names only the
 * function), then traps: libFuzzer reports a crash and saves the input. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#endif
