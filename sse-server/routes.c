/* sse_routes: the route table and its handlers (see routes.h). */
#include "routes.h"

#include <string.h>

#include "cors.h"
#include "metrics.h"
#include "page.h"
#include "respond.h"

typedef enum MHD_Result (*handler_fn)(const struct sse_routes *, struct MHD_Connection *);

static enum MHD_Result handle_stream(const struct sse_routes *rt, struct MHD_Connection *c)
{
    unsigned status;
    struct MHD_Response *r = sse_stream_open(&rt->stream, c, &status);
    return sse_respond(c, rt->cors_origins, status, r);
}

/* HEAD of the stream: what a GET would answer, without becoming a client
 * (monitors probe with HEAD; subscribing would count and greet a client
 * that never reads). libmicrohttpd sends no body for HEAD. */
static enum MHD_Result handle_stream_head(const struct sse_routes *rt, struct MHD_Connection *c)
{
    /* Content-Length: 0, where the GET is chunked: libmicrohttpd 0.9.75
     * answers a HEAD of an unknown-size response with the chunked end
     * ("0\r\n\r\n") after the head, bytes a kept-alive client would take
     * for the start of its next response (hostile_http.sh checks). */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return sse_respond(c, rt->cors_origins, MHD_HTTP_OK, r);
}

/* The demo page: same origin as the stream, so no CORS needed for it. */
static enum MHD_Result handle_index(const struct sse_routes *rt, struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        (size_t)(sse_demo_html_end - sse_demo_html), (void *)sse_demo_html, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                            "style-src 'self' 'unsafe-inline'; connect-src 'self'");
    return sse_respond(c, rt->cors_origins, MHD_HTTP_OK, r);
}

static enum MHD_Result handle_healthz(const struct sse_routes *rt, struct MHD_Connection *c)
{
    return SSE_RESPOND_LITERAL(c, rt->cors_origins, MHD_HTTP_OK, "ok\n");
}

/* Ready = consuming from the broker, the ring filled from the history
 * stream: a load balancer should not send new clients (or resumes) to a
 * replica that cannot feed them yet. */
static enum MHD_Result handle_readyz(const struct sse_routes *rt, struct MHD_Connection *c)
{
    if (atomic_load(&rt->stats->connected))
        return SSE_RESPOND_LITERAL(c, rt->cors_origins, MHD_HTTP_OK, "ready\n");
    return SSE_RESPOND_LITERAL(c, rt->cors_origins, MHD_HTTP_SERVICE_UNAVAILABLE,
                               "not ready: broker not connected, or history not read yet\n");
}

static enum MHD_Result handle_metrics(const struct sse_routes *rt, struct MHD_Connection *c)
{
    struct sse_hub_stats hs;
    size_t len;
    sse_hub_get_stats(rt->stream.hub, &hs);
    struct sse_http_stats ht = {.request_timeouts = sse_deadlines_expired(rt->deadlines)};
    char *body = sse_metrics_render(&hs, rt->stats, &ht, &len);
    if (body == NULL)
        return MHD_NO;
    return sse_respond_text(c, rt->cors_origins, MHD_HTTP_OK,
                            "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
}

/* First call of a POST /api/v1/sso/broadcast: refuse early what we can,
 * before its body is read. */
static enum MHD_Result broadcast_begin(const struct sse_routes *rt, struct MHD_Connection *c,
                                       void **req_cls)
{
    const char *why;
    unsigned status = sse_broadcast_admit(
        rt->broadcast, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length"), &why);
    if (status)
        return sse_respond_line(c, rt->cors_origins, status, why);
    struct sse_broadcast_upload *u = sse_broadcast_upload_new();
    if (u == NULL)
        return MHD_NO;
    *req_cls = u;
    return MHD_YES;
}

enum MHD_Result sse_routes_body(const struct sse_routes *rt, struct MHD_Connection *c,
                                void *req_cls, const char *data, size_t *size)
{
    struct sse_broadcast_upload *u = req_cls; /* the only route with a body */
    if (*size) {
        sse_broadcast_upload_add(u, data, *size);
        *size = 0;
        return MHD_YES;
    }
    char err[256];
    unsigned status = sse_broadcast_upload_publish(rt->broadcast, u, err, sizeof err);
    if (status == MHD_HTTP_ACCEPTED)
        return SSE_RESPOND_LITERAL(c, rt->cors_origins, status, "published\n");
    return sse_respond_line(c, rt->cors_origins, status, err);
}

void sse_routes_release(void *req_cls)
{
    sse_broadcast_upload_free(req_cls);
}

static enum MHD_Result method_not_allowed(const struct sse_routes *rt, struct MHD_Connection *c,
                                          const char *allow)
{
    static const char msg[] = "method not allowed\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Allow", allow);
    return sse_respond(c, rt->cors_origins, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

static const struct route {
    const char *path;
    handler_fn get;  /* NULL: not a GET (and HEAD) route */
    handler_fn head; /* HEAD when it must differ from GET's head; NULL: get */
    int post;        /* the broadcast route */
    const char *allow;
} routes[] = {
    {"/", handle_index, NULL, 0, "GET, HEAD"},
    {"/api/v1/sso/stream", handle_stream, handle_stream_head, 0, "GET, HEAD, OPTIONS"},
    {"/api/v1/sso/broadcast", NULL, NULL, 1, "POST, OPTIONS"},
    {"/healthz", handle_healthz, NULL, 0, "GET, HEAD"},
    {"/readyz", handle_readyz, NULL, 0, "GET, HEAD"},
    {"/metrics", handle_metrics, NULL, 0, "GET, HEAD"},
};

enum MHD_Result sse_routes_answer(const struct sse_routes *rt, struct MHD_Connection *c,
                                  const char *url, const char *method, void **req_cls)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (strcmp(url, r->path) != 0)
            continue;
        if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0 && strstr(r->allow, "OPTIONS"))
            return sse_respond(c, rt->cors_origins, MHD_HTTP_NO_CONTENT,
                               sse_cors_preflight(r->allow));
        if (r->get && strcmp(method, MHD_HTTP_METHOD_GET) == 0)
            return r->get(rt, c);
        /* HEAD is GET without the body (RFC 9110 9.3.2), which libmicrohttpd
         * leaves out on its own. */
        if (r->get && strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
            return (r->head ? r->head : r->get)(rt, c);
        if (r->post && strcmp(method, MHD_HTTP_METHOD_POST) == 0)
            return broadcast_begin(rt, c, req_cls);
        return method_not_allowed(rt, c, r->allow);
    }
    return SSE_RESPOND_LITERAL(c, rt->cors_origins, MHD_HTTP_NOT_FOUND, "not found\n");
}
