/* rc_history.c: the history stream's settings, the same in both programs. The interface, and
 * who owns what, is in rc_history.h. */
#include "rc_history.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int rc_history_init(struct rc_history *h, const char *name_opt, const char *exchange,
                    int64_t age_ms, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    /* "off" as well as "": an empty environment variable counts as unset
     * (rc_config), so HISTORY_STREAM=off is how an env file turns it off. */
    if (name_opt && (name_opt[0] == '\0' || strcmp(name_opt, "off") == 0))
        return 0;
    int n = name_opt ? snprintf(h->name, sizeof h->name, "%s", name_opt)
                     : snprintf(h->name, sizeof h->name, "%s.history", exchange);
    /* AMQP short strings: queue names are at most 255 bytes. */
    if (n < 0 || (size_t)n >= sizeof h->name) {
        snprintf(err, errlen, "--history-stream: the name is longer than 255 bytes");
        return -1;
    }
    if (age_ms < 1000) {
        snprintf(err, errlen, "--history-age must be at least 1s");
        return -1;
    }
    snprintf(h->max_age, sizeof h->max_age, "%" PRId64 "s", age_ms / 1000);
    h->spec = (struct rc_stream_spec){
        .name = h->name, .max_age = h->max_age, .segment_bytes = RC_HISTORY_SEGMENT_BYTES};
    return 1;
}
