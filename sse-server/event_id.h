/* sse_event_id: what an event is called on the wire.
 *
 * Every event a browser gets has an id: the producer's AMQP message_id
 * when it is a decimal integer (the fetcher uses microseconds since the
 * epoch), so that every replica, fed by the same fanout exchange, names
 * the same event the same way and a client may resume on any of them.
 * Ids only go up; they stay below 2^63 so that one hostile message_id
 * near 2^64 cannot use up the id space. The same rules read a browser's
 * Last-Event-ID, match events in the history stream, and pick a live
 * event's id.
 */
#ifndef SSE_EVENT_ID_H
#define SSE_EVENT_ID_H

#include <stdint.h>

/* Ids are below this. */
#define SSE_ID_MAX (UINT64_C(1) << 63)

/* Parse an id (Last-Event-ID, a message_id): 1 to 19 decimal digits below
 * SSE_ID_MAX. 0 and *id set, or -1 (and *id untouched). */
int sse_event_id_parse(const char *s, uint64_t *id);

/* The id a live event gets: the producer's message_id when it is a
 * decimal integer above the last id, otherwise last + 1. Ids never go
 * backwards (and never wrap). */
uint64_t sse_event_id_pick(const char *message_id, uint64_t last);

#endif
