/* sse_writers: the stream write path, off libmicrohttpd.
 *
 * libmicrohttpd parses the request and sends the response head and the
 * greeting. From then on an SSE stream is write-only, and handing every
 * event through libmicrohttpd costs a resume (an eventfd write and a walk
 * of the suspended list), two reader calls and a suspend per client per
 * event, with every worker waiting on the hub while a publish resumes
 * 18,000 connections. So once the greeting is out, the stream stays
 * suspended in libmicrohttpd for the rest of its life and a writer thread
 * pushes its bytes: one send() per client per event, like the kernel's
 * floor, the chunked framing built around the hub's bytes in the writer's
 * own buffer, and the clients spread over several writers.
 *
 * A suspended connection is never touched by libmicrohttpd (it is out of
 * its epoll set), and libmicrohttpd calls a content reader only after its
 * write buffer is empty, so nothing of its own can be in flight when the
 * writer takes over. To end a stream the writer hands the connection back
 * (finish(), which resumes it): libmicrohttpd then writes the last chunk
 * or closes, and frees it.
 *
 * Plain HTTP only: with TLS the bytes must go through GnuTLS inside
 * libmicrohttpd, and streams keep the resume-per-event path.
 *
 * A writer blocked by a full socket keeps the unsent rest (at most one
 * chunk) and waits for EPOLLOUT; meanwhile the hub's ring keeps the
 * stream's place, and a client that never drains is cut by the hub.
 */
#ifndef SSE_WRITER_H
#define SSE_WRITER_H

#include <stddef.h>

#include "hub.h"

struct sse_writers;
struct sse_writer;

/* One stream on the direct path. The stream owns it (embedded in its own
 * state) and must keep it alive until finish() has been called. */
struct sse_direct {
    struct sse_sub *sub;
    int fd; /* libmicrohttpd's socket: written, never closed, by the writer */
    /* Called once, on the writer thread, when the stream is over: clean
     * (1) after the hub's end of stream with nothing left unsent, else 0.
     * After it the writer never touches this struct again. */
    void (*finish)(void *ctx, int clean);
    void *ctx;
    /* The writer's own state below. */
    struct sse_writer *w;
    struct sse_direct *prev, *next; /* the writer's streams */
    struct sse_direct *qnext;       /* its run queue */
    char *pending;                  /* unsent rest of the last chunk */
    size_t plen, poff;
    int queued, armed;
};

/* n writer threads reading from hub. NULL on failure. */
struct sse_writers *sse_writers_start(unsigned n, struct sse_hub *hub);

/* End every stream still attached (clean where possible: call after
 * sse_hub_close) and stop the threads; later attaches fail. Accepts NULL. */
void sse_writers_stop(struct sse_writers *ws);
/* Free, once no reader can call attach any more (after the daemon stopped);
 * accepts NULL. */
void sse_writers_free(struct sse_writers *ws);

/* Take over a stream whose greeting has been sent: from now on the writer
 * reads its subscriber and writes its socket. -1 when stopping. */
int sse_writers_attach(struct sse_writers *ws, struct sse_direct *d);

/* The hub's wake() for a direct stream (called under the hub's lock):
 * queue it for its writer. Never blocks on I/O. */
void sse_writers_wake(struct sse_direct *d);

#endif
