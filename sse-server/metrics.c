#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

char *sse_metrics_render(const struct sse_hub_stats *hub, const struct sse_consumer_stats *c,
                         size_t *len)
{
    /* One table: name, type, help, value. */
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } rows[] = {
        {"sse_clients", "gauge", "Connected SSE clients.", hub->subscribers},
        {"sse_clients_total", "counter", "SSE clients accepted since start.", hub->subscribed},
        {"sse_clients_rejected_total", "counter", "SSE clients refused by --max-clients.",
         hub->rejected_full},
        {"sse_clients_lagged_total", "counter",
         "SSE clients disconnected for falling behind the history ring.", hub->lagged},
        {"sse_clients_hangups_total", "counter",
         "SSE clients released at once because they hung up while idle.", hub->hangups},
        {"sse_events_total", "counter", "Events published to clients.", hub->published},
        {"sse_broker_messages_total", "counter", "Messages received from the broker.",
         atomic_load(&c->received)},
        {"sse_broker_invalid_messages_total", "counter", "Broker messages dropped as invalid.",
         atomic_load(&c->invalid)},
        {"sse_broker_connects_total", "counter", "Successful broker (re)connections.",
         atomic_load(&c->connects)},
        {"sse_broker_connected", "gauge", "1 while consuming from the broker.",
         (uint64_t)atomic_load(&c->connected)},
    };
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int w =
            snprintf(out + n, cap - n, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", rows[i].name,
                     rows[i].help, rows[i].name, rows[i].type, rows[i].name, rows[i].value);
        if (w < 0 || (size_t)w >= cap - n) {
            free(out);
            return NULL; /* cannot happen with this table; never send a cut body */
        }
        n += (size_t)w;
    }
    *len = n;
    return out;
}
