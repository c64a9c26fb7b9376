/* frame.c: Server-Sent Events framing. Pure: bytes in, bytes out, no I/O. The interface, and
 * who owns what, is in frame.h. */
#include "frame.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each line break in data costs at most "\ndata: " more bytes. */
static size_t count_breaks(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || (s[i] == '\r' && !(i + 1 < len && s[i + 1] == '\n')))
            n++;
    return n;
}

char *sse_frame_event(uint64_t id, const char *event, const char *data, size_t len, size_t *out_len)
{
    size_t cap = 32 + (event ? strlen(event) + 8 : 0) + len + 8 * (count_breaks(data, len) + 1);
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    if (id)
        n += (size_t)snprintf(out + n, cap - n, "id: %" PRIu64 "\n", id);
    if (event)
        n += (size_t)snprintf(out + n, cap - n, "event: %s\n", event);
    memcpy(out + n, "data: ", 6);
    n += 6;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\r' || data[i] == '\n') {
            if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
                i++;
            memcpy(out + n, "\ndata: ", 7);
            n += 7;
        } else {
            out[n++] = data[i];
        }
    }
    out[n++] = '\n';
    out[n++] = '\n';
    *out_len = n;
    return out;
}

char *sse_frame_comment(const char *text, size_t *out_len)
{
    size_t len = strlen(text);
    char *out = malloc(len + 4);
    if (out == NULL)
        return NULL;
    out[0] = ':';
    out[1] = ' ';
    for (size_t i = 0; i < len; i++)
        out[2 + i] = (text[i] == '\r' || text[i] == '\n') ? ' ' : text[i];
    out[len + 2] = '\n';
    out[len + 3] = '\n';
    *out_len = len + 4;
    return out;
}
