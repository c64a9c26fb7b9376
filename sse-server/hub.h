/* sse_hub: the ring of pre-formatted SSE frames and the subscribers reading
 * it.
 *
 * Every message becomes one frame, built once and kept in a fixed-size ring
 * (the history) with its id, pair and time. Each subscriber has only a
 * cursor into the ring, so a publish costs O(1) memory however many
 * browsers are connected, and a slow subscriber can never make the hub
 * buffer more: when the ring laps it, it is cut off (SSE_HUB_LAGGED) and
 * counted. The ring is also the replay buffer for clients that resume with
 * Last-Event-ID, and subscribers may filter by currency pair.
 *
 * Snapshots: the hub also keeps, per currency pair, the newest frame seen
 * (a small table bounded in pairs, see sse_hub_set_latest and latest.h),
 * even after the ring has moved past it, so that a new subscriber can
 * start with the current price of every pair it wants before the live
 * events. The pair filter is pair_filter.h, heartbeat slices hb_slices.h,
 * the delay histogram delay.h: the hub uses them under its lock.
 *
 * The hub knows nothing about HTTP. A subscriber that has nothing to read
 * is "parked" through its park() callback; the next publish, heartbeat,
 * kick or close "wakes" it through wake(). A subscriber that stopped
 * reading altogether is "cut" by the publish that laps it. The callbacks
 * run with the hub's lock held, which is what makes park/wake pairs race-free:
 * libmicrohttpd's suspend/resume must never see a resume for a connection
 * not suspended. They must not call back into the hub.
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

#include "delay.h"
#include "rc_pairs.h"

struct sse_hub_stats {
    unsigned subscribers;        /* now */
    uint64_t subscribed;         /* since start */
    uint64_t rejected_full;      /* refused by the subscriber limit */
    uint64_t published;          /* frames */
    uint64_t delivered;          /* frames fully handed to a subscriber */
    uint64_t heartbeats;         /* heartbeat comments handed to idle subscribers */
    uint64_t lagged;             /* subscribers cut off for falling behind the ring */
    uint64_t hangups;            /* subscribers kicked because the client left */
    uint64_t replays;            /* resumes served from the ring without a gap */
    uint64_t resets;             /* resumes that could not be served: reset sent */
    uint64_t gaps;               /* gaps marked in the ring (sse_hub_mark_gap) */
    uint64_t gap_cuts;           /* streams ended because of a gap */
    uint64_t snapshots;          /* subscribers that started with a snapshot (>= 1 event) */
    uint64_t snap_events;        /* events in those snapshots */
    uint64_t pairs_evicted;      /* pairs dropped from the full latest table */
    uint64_t since_replays;      /* subscribers placed by time (?since=) */
    struct sse_delay_hist delay; /* publish-to-delivery, for events with a time */
};

/* What an event is, for ids, resume, filters and the delay histogram. */
struct sse_event_meta {
    uint64_t id;                  /* > every earlier id; 0 = none */
    int64_t time_us;              /* the event's own time (epoch us); 0 = unknown */
    char base[RC_ASSET_MAX + 1];  /* upper case */
    char quote[RC_ASSET_MAX + 1]; /* upper case */
};

struct sse_sub_params {
    const struct rc_pair *pairs; /* filter (copied; upper case); NULL = everything */
    size_t npairs;
    int resume;       /* the client sent Last-Event-ID */
    int resume_valid; /* ... and it was a decimal id */
    uint64_t last_id;
    /* Not resuming: first the newest kept frame of each wanted pair (the
     * snapshot; needs sse_hub_set_latest), oldest first, then the rest. */
    int snapshot;
    /* Not resuming: replay the kept frames from the first whose own time
     * (struct sse_event_meta.time_us) is at or after since_us (epoch us),
     * then live. 0: none. Last-Event-ID (resume) wins over it. */
    int64_t since_us;
    void (*park)(void *ctx);
    void (*wake)(void *ctx);
    /* The ring lapped this subscriber while its socket was full (the
     * client stopped reading): cut the connection now, from outside the
     * reader, which a stalled socket would never call again. May be NULL. */
    void (*cut)(void *ctx);
    void *ctx;
};

enum sse_resume_kind {
    SSE_RESUME_LIVE,   /* no Last-Event-ID: live events only */
    SSE_RESUME_REPLAY, /* every kept event after last_id, then live: no gap */
    SSE_RESUME_RESET,  /* last_id too old, unknown or invalid: live only */
    SSE_RESUME_SINCE,  /* by time: kept events from since_us on, then live */
};

struct sse_resume {
    enum sse_resume_kind kind;
    uint64_t after;  /* the stream continues after this id (0: from the start) */
    uint64_t oldest; /* oldest id kept (0: none) */
    uint64_t newest; /* newest id kept (0: none) */
    size_t backlog;  /* events queued for replay (before filtering) */
    /* SINCE: the time the replay really starts from: since_us, or the
     * oldest kept frame's time when the window reaches past it; 0 when
     * nothing is kept. */
    int64_t since_us;
    size_t snapshot; /* events in the snapshot */
};

struct sse_hub;
struct sse_sub;

/* history: ring size in frames (>= 1); max_subs: subscriber limit. */
struct sse_hub *sse_hub_new(size_t history, unsigned max_subs);
/* Frees the ring and any subscriber still registered; accepts NULL. */
void sse_hub_free(struct sse_hub *h);

/* Keep the newest frame of each of up to `pairs` currency pairs for
 * snapshots (0, the default: none; at most SSE_HUB_LATEST_MAX). When a new
 * pair arrives at a full table, the pair seen least recently is dropped
 * (counted in pairs_evicted). The frames are the ring's own: one seen
 * last costs no copy while the ring still holds it. Set before the first
 * publish: -1 otherwise, or if out of memory. */
#define SSE_HUB_LATEST_MAX 256
int sse_hub_set_latest(struct sse_hub *h, size_t pairs);

/* Register a subscriber and decide where it starts (*out says how). NULL
 * when the hub is full, closed, or out of memory (see sse_hub_full()).
 * A snapshot (p->snapshot) is taken here, under the hub's lock, so that
 * it and the ring's events after it neither overlap nor leave a gap. */
struct sse_sub *sse_hub_subscribe(struct sse_hub *h, const struct sse_sub_params *p,
                                  struct sse_resume *out);
/* Bytes the subscriber reads before any event (copied; at most 512 bytes),
 * ahead of its snapshot: set it after subscribe and before the first read.
 * -1 if too long. */
int sse_hub_set_greeting(struct sse_sub *s, const char *greeting, size_t len);
void sse_hub_unsubscribe(struct sse_hub *h, struct sse_sub *s);
/* 1 when a subscribe now would be refused for the limit. */
int sse_hub_full(struct sse_hub *h);

/* Append a frame (malloc'd; the hub takes it) and wake every parked
 * subscriber. meta may be NULL (no id, no pair: only unfiltered
 * subscribers get it). */
void sse_hub_publish(struct sse_hub *h, char *frame, size_t len, const struct sse_event_meta *m);

/* Several frames at once, in order (the hub takes each frame; meta as for
 * sse_hub_publish, borrowed): what sse_hub_publish does for each, but
 * every parked subscriber is woken once for all of them, so that a burst
 * (a fetcher tick of several pairs) reaches each client in one read and
 * one send(). At most SSE_HUB_BATCH_MAX per call is the intended use. */
#define SSE_HUB_BATCH_MAX 64
struct sse_hub_event {
    char *frame;
    size_t len;
    const struct sse_event_meta *meta;
};
void sse_hub_publish_batch(struct sse_hub *h, const struct sse_hub_event *ev, size_t n);

/* Frames from before now (a replica's first fill from the history
 * stream): into the ring, the replay window and the snapshot, but not to
 * the subscribers already caught up, for whom they are the past (nobody is
 * woken). */
void sse_hub_publish_history(struct sse_hub *h, const struct sse_hub_event *ev, size_t n);

/* Ask every subscriber to send a heartbeat comment if it has had nothing
 * else since the last one, waking the parked ones: that write is also how a
 * dead peer is found. */
void sse_hub_heartbeat(struct sse_hub *h);
/* Heartbeats in slices: with n slices, subscribers are dealt round-robin
 * (by subscription order) into n groups, and sse_hub_heartbeat_slice does
 * for one group what sse_hub_heartbeat does for all, walking only that
 * group. Ticking slice 0, 1, ..., n - 1 in turn, evenly over the heartbeat
 * interval, gives every stream one heartbeat per interval without one burst
 * to all (18,000 sends take a core about 300 ms here, and events published
 * meanwhile wait behind them). The count can be set (1..SSE_HUB_HB_SLICES_MAX,
 * default 1) only while nobody is subscribed: -1 otherwise. A slice out of
 * range does nothing. */
#define SSE_HUB_HB_SLICES_MAX 60
int sse_hub_set_heartbeat_slices(struct sse_hub *h, unsigned slices);
void sse_hub_heartbeat_slice(struct sse_hub *h, unsigned slice);

/* The client behind s hung up: its next read returns SSE_HUB_GONE, and it
 * is woken if parked so that read happens now. */
void sse_hub_kick(struct sse_hub *h, struct sse_sub *s);

/* The next frame does not follow on from the ones before it: events were
 * lost in between (e.g. a broker outage longer than the history stream
 * could fill). No resume is served from before this point (reset
 * instead), and every open stream is ended so that its client reconnects
 * and learns of it the same way. */
void sse_hub_mark_gap(struct sse_hub *h);

/* 1 when an event with this id (> 0) is in the ring. */
int sse_hub_has_id(struct sse_hub *h, uint64_t id);

/* The newest id in the ring (0: none yet). */
uint64_t sse_hub_newest_id(struct sse_hub *h);

/* Shut down: every subscriber reads SSE_HUB_EOF from now on, and the
 * parked ones are woken to read it; later subscribes fail. */
void sse_hub_close(struct sse_hub *h);

enum { SSE_HUB_PARKED = 0, SSE_HUB_EOF = -1, SSE_HUB_LAGGED = -2, SSE_HUB_GONE = -3 };

/* Copy up to max pending bytes for s into buf. Returns the byte count, or
 * SSE_HUB_PARKED after calling park() (nothing to send), SSE_HUB_EOF,
 * SSE_HUB_LAGGED (the ring overwrote frames s had not read: disconnect),
 * or SSE_HUB_GONE (kicked: disconnect). */
ssize_t sse_hub_read(struct sse_hub *h, struct sse_sub *s, char *buf, size_t max);

void sse_hub_get_stats(struct sse_hub *h, struct sse_hub_stats *out);

#endif
