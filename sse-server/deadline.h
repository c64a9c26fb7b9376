/* sse_deadlines: a hard deadline for receiving a request's headers.
 *
 * libmicrohttpd's connection timeout is an idle timeout: it restarts with
 * every byte, so a client sending its headers a byte a second (slowloris)
 * would hold a connection slot forever. Each connection is registered
 * here while it is receiving headers; the main loop's sweep shutdown()s
 * those past the deadline (the descriptor stays libmicrohttpd's, which
 * then closes the connection as for any dead peer).
 *
 * The list is kept in arrival order and every entry has the same timeout,
 * so a sweep only looks at the overdue ones. Thread-safe.
 */
#ifndef SSE_DEADLINE_H
#define SSE_DEADLINE_H

#include <stdint.h>

struct sse_deadlines;
struct sse_deadline; /* one connection; owned by the table */

struct sse_deadlines *sse_deadlines_new(int64_t timeout_ms);
/* Frees the table and any entry still in it; accepts NULL. */
void sse_deadlines_free(struct sse_deadlines *d);

/* A connection was accepted: its clock starts. NULL if out of memory
 * (the connection then only has the idle timeout). */
struct sse_deadline *sse_deadlines_open(struct sse_deadlines *d, int fd);
/* Headers complete: stop the clock. */
void sse_deadlines_stop(struct sse_deadlines *d, struct sse_deadline *e);
/* A request finished on a kept-alive connection: the next one's headers
 * are on the clock again. */
void sse_deadlines_restart(struct sse_deadlines *d, struct sse_deadline *e);
/* The connection is gone: free its entry. NULL is fine. */
void sse_deadlines_close(struct sse_deadlines *d, struct sse_deadline *e);

/* Cut the connections past their deadline; returns how many. */
unsigned sse_deadlines_sweep(struct sse_deadlines *d, int64_t now_ms);
/* Connections cut since start. */
uint64_t sse_deadlines_expired(struct sse_deadlines *d);

#endif
