/* sse_hub: the ring of pre-formatted SSE frames and the subscribers reading
 * it.
 *
 * Every message becomes one frame, built once and kept in a fixed-size ring
 * (the history). Each subscriber has only a cursor into the ring, so a
 * publish costs O(1) memory however many browsers are connected, and a
 * slow subscriber can never make the hub buffer more: when the ring laps
 * it, it is cut off (SSE_HUB_LAGGED) and counted.
 *
 * The hub knows nothing about HTTP. A subscriber that has nothing to read
 * is "parked" through its park() callback; the next publish, heartbeat or
 * close "wakes" it through wake(). Both callbacks run with the hub's lock
 * held, which is what makes park/wake pairs race-free: libmicrohttpd's
 * suspend/resume must never see a resume for a connection not suspended.
 * They must not call back into the hub.
 *
 * Ownership: the hub owns the frames handed to sse_hub_publish() and every
 * struct sse_sub until sse_hub_unsubscribe(). All functions are
 * thread-safe.
 */
#ifndef SSE_HUB_H
#define SSE_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sse_hub;
struct sse_sub;

struct sse_hub_stats {
    unsigned subscribers;   /* now */
    uint64_t subscribed;    /* since start */
    uint64_t rejected_full; /* refused by the subscriber limit */
    uint64_t published;     /* frames */
    uint64_t lagged;        /* subscribers cut off for falling behind the ring */
    uint64_t hangups;       /* subscribers kicked because the client left */
};

/* history: ring size in frames (>= 1); max_subs: subscriber limit. */
struct sse_hub *sse_hub_new(size_t history, unsigned max_subs);
/* Frees the ring and any subscriber still registered; accepts NULL. */
void sse_hub_free(struct sse_hub *h);

/* Register a subscriber that starts at the live end of the ring and first
 * reads greeting (copied; at most 256 bytes). NULL when the hub is full,
 * closed, or out of memory (see sse_hub_full()). */
struct sse_sub *sse_hub_subscribe(struct sse_hub *h, const char *greeting, size_t len,
                                  void (*park)(void *ctx), void (*wake)(void *ctx), void *ctx);
void sse_hub_unsubscribe(struct sse_hub *h, struct sse_sub *s);
/* 1 when a subscribe now would be refused for the limit. */
int sse_hub_full(struct sse_hub *h);

/* Append a frame (malloc'd; the hub takes it, also on failure) and wake
 * every parked subscriber. */
void sse_hub_publish(struct sse_hub *h, char *frame, size_t len);

/* Ask every subscriber to send a heartbeat comment if it has nothing else
 * to send, waking the parked ones: that write is also how a dead peer is
 * found. */
void sse_hub_heartbeat(struct sse_hub *h);

/* Shut down: every subscriber reads SSE_HUB_EOF from now on, and the
 * parked ones are woken to read it; later subscribes fail. */
void sse_hub_close(struct sse_hub *h);

/* The client behind s hung up: its next read returns SSE_HUB_GONE, and it
 * is woken if parked so that read happens now. */
void sse_hub_kick(struct sse_hub *h, struct sse_sub *s);

enum { SSE_HUB_PARKED = 0, SSE_HUB_EOF = -1, SSE_HUB_LAGGED = -2, SSE_HUB_GONE = -3 };

/* Copy up to max pending bytes for s into buf. Returns the byte count, or
 * SSE_HUB_PARKED after calling park() (nothing to send), SSE_HUB_EOF, or
 * SSE_HUB_LAGGED (the ring overwrote frames s had not read: disconnect),
 * or SSE_HUB_GONE (kicked: disconnect). */
ssize_t sse_hub_read(struct sse_hub *h, struct sse_sub *s, char *buf, size_t max);

void sse_hub_get_stats(struct sse_hub *h, struct sse_hub_stats *out);

#endif
