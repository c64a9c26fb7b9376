/* rc_history: the history stream's settings, the same in both programs.
 *
 * The fetcher and sse-server both declare the stream (whoever connects
 * first creates it), and a queue can only be declared again with the same
 * arguments, so both derive them here from the same options: the name
 * (--history-stream / HISTORY_STREAM: unset means "<exchange>.history",
 * "off" or empty means no stream at all) and the retention (--history-age /
 * HISTORY_AGE, a duration), written in whole seconds so that "24h" and
 * "1440m" declare the same queue.
 */
#ifndef RC_HISTORY_H
#define RC_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "rc_amqp.h"
#include "rc_config.h"

/* Segments of 1 MB: the stream drops whole segments past the age, so at a
 * few ticks a second (~300 bytes each on disk) retention trims every ten
 * minutes or so instead of holding months in one 500 MB default segment. */
#define RC_HISTORY_SEGMENT_BYTES 1000000

/* The two options, as rows of an rc_option table (see rc_config.h), the
 * same in both programs: name is a const char **, age_ms an int64_t *. */
#define RC_HISTORY_OPTIONS(name, age_ms)                                                           \
    {"history-stream",                                                                             \
     "HISTORY_STREAM",                                                                             \
     NULL,                                                                                         \
     "RabbitMQ stream bound to the exchange that keeps every event for --history-age, so that "    \
     "sse-server can fill its ring from it at start and after a broker reconnect; both programs "  \
     "declare it (unset: <exchange>.history; off: none)",                                          \
     RC_OPT_STRING,                                                                                \
     (name),                                                                                       \
     0},                                                                                           \
    {                                                                                              \
        "history-age", "HISTORY_AGE", "24h",                                                       \
            "how long the history stream keeps events (its x-max-age)", RC_OPT_DURATION, (age_ms), \
            0                                                                                      \
    }

struct rc_history {
    char name[256];
    char max_age[32];
    struct rc_stream_spec spec; /* points into this struct */
};

/* 1 with h filled (h->spec ready to declare), 0 when the option turns the
 * stream off, -1 with err on a bad name or age (at least 1 s). */
int rc_history_init(struct rc_history *h, const char *name_opt, const char *exchange,
                    int64_t age_ms, char *err, size_t errlen);

#endif
