/* sse_cors: Cross-Origin Resource Sharing, which web origins may read our
 * answers: the Access-Control-Allow-Origin of every answer and the
 * answer to a preflight (OPTIONS).
 */
#ifndef SSE_CORS_H
#define SSE_CORS_H

#include <microhttpd.h>

/* 1 if origin is allowed by the list ("*" or a comma-separated list of
 * exact origins), 0 otherwise. Exposed for tests. */
int sse_origin_allowed(const char *list, const char *origin);

/* Add the CORS headers for the request on c to r. list is --cors-origins. */
void sse_cors_add(const char *list, struct MHD_Connection *c, struct MHD_Response *r);

/* The body-less answer to a preflight of a route taking the methods in
 * allow ("GET, HEAD, OPTIONS"). NULL when out of memory. The caller
 * queues it (with sse_cors_add's headers, as for any answer). */
struct MHD_Response *sse_cors_preflight(const char *allow);

#endif
