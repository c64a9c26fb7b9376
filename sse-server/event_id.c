/* event_id.c: what an event is called on the wire. The interface, and who owns what, is in
 * event_id.h. */
#include "event_id.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sse_event_id_parse(const char *s, uint64_t *id)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 19 || s[n] != '\0')
        return -1;
    uint64_t v = strtoull(s, NULL, 10);
    if (v >= SSE_ID_MAX)
        return -1;
    *id = v;
    return 0;
}

uint64_t sse_event_id_pick(const char *message_id, uint64_t last)
{
    if (message_id && *message_id >= '0' && *message_id <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(message_id, &end, 10);
        /* Ids past 2^63 are refused: one hostile message_id near 2^64 would
         * otherwise use up the id space for good. */
        if (errno == 0 && *end == '\0' && v > last && v < SSE_ID_MAX)
            return v;
    }
    /* Saturate rather than wrap: ids never go backwards. */
    return last < UINT64_MAX ? last + 1 : last;
}
