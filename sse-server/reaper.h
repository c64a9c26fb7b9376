/* sse_reaper: notices at once when a client hangs up on a parked stream.
 *
 * libmicrohttpd does not poll a suspended connection, so a browser that
 * closes its tab would otherwise be found only by the next write (an event
 * or a heartbeat, up to --heartbeat later), holding its socket and memory
 * until then. The reaper keeps its own epoll set with EPOLLRDHUP on every
 * stream's socket (registered once per stream, not per event) and calls
 * on_hangup(ctx) for a client whose peer went away.
 *
 * Each registration carries a token; a stale event for a socket number
 * already reused by a newer client is recognised and ignored. on_hangup
 * runs on the reaper thread with the reaper's lock held, so ctx cannot be
 * freed meanwhile: sse_reaper_unwatch() waits for that lock. on_hangup must
 * not call back into the reaper.
 */
#ifndef SSE_REAPER_H
#define SSE_REAPER_H

#include <stdint.h>

struct sse_reaper;

/* max_fd: sockets numbered at or above it are not watched (they are still
 * found by the next write). NULL on failure. */
struct sse_reaper *sse_reaper_start(int max_fd, void (*on_hangup)(void *ctx));
/* Stop the thread and free; accepts NULL. Unwatch every socket first. */
void sse_reaper_stop(struct sse_reaper *r);

/* Watch fd for ctx. Returns a token for unwatch, or 0 when not watched. */
uint32_t sse_reaper_watch(struct sse_reaper *r, int fd, void *ctx);
/* Stop watching; a no-op for token 0 or a registration already replaced. */
void sse_reaper_unwatch(struct sse_reaper *r, int fd, uint32_t token);

#endif
