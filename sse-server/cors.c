/* sse_cors: which web origins may read our answers (see cors.h). */
#include "cors.h"

#include <string.h>

int sse_origin_allowed(const char *list, const char *origin)
{
    if (strcmp(list, "*") == 0)
        return 1;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == olen && n > 0 && strncmp(p, origin, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/* "*" for everyone, or echo the request's Origin when it is listed (and
 * say it varies by Origin, so caches keep them apart). */
void sse_cors_add(const char *list, struct MHD_Connection *c, struct MHD_Response *r)
{
    if (strcmp(list, "*") == 0) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
        return;
    }
    MHD_add_response_header(r, "Vary", "Origin");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin && sse_origin_allowed(list, origin))
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
}

struct MHD_Response *sse_cors_preflight(const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return NULL;
    MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Last-Event-ID, Cache-Control, Authorization, Content-Type");
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    return r;
}
