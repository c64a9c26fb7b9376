/* sse_respond: how every answer leaves (see respond.h). */
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>

#include "cors.h"

enum MHD_Result sse_respond(struct MHD_Connection *c, const char *cors_origins, unsigned status,
                            struct MHD_Response *r)
{
    if (r == NULL)
        return MHD_NO;
    sse_cors_add(cors_origins, c, r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r); /* the connection holds its own reference */
    return ret;
}

enum MHD_Result sse_respond_text(struct MHD_Connection *c, const char *cors_origins,
                                 unsigned status, const char *type, const char *body, size_t len,
                                 int must_free)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (must_free)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "5");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    return sse_respond(c, cors_origins, status, r);
}

enum MHD_Result sse_respond_line(struct MHD_Connection *c, const char *cors_origins,
                                 unsigned status, const char *line)
{
    char *body;
    int n = asprintf(&body, "%s\n", line);
    if (n < 0)
        return MHD_NO;
    return sse_respond_text(c, cors_origins, status, "text/plain; charset=utf-8", body, (size_t)n,
                            1);
}
