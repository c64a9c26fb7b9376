/* sse-load: struct report printed as text (stdout) and written as JSON (--json), the form
 * bench/run reads. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sse_load.h"

void sl_print_report(FILE *o, const struct config *cfg, const struct report *r)
{
    fprintf(o, "sse-load report: %s\n", cfg->url);
    fprintf(o, "  %-26s %u (%u processes, %g connects/s)\n", "clients requested", r->requested,
            r->procs, cfg->rate);
    if (r->all_connected)
        fprintf(o, "  %-26s %.2f s\n", "connect time (all)", r->connect_s);
    else
        fprintf(o, "  %-26s not all clients connected before the stop\n", "connect time (all)");
    fprintf(o, "  %-26s %.1f s%s\n", "measured for", r->measured_s,
            r->interrupted ? " (interrupted)" : "");
    fprintf(o, "  %-26s %u\n", "connected (held at end)", r->connected);
    fprintf(o, "  %-26s %u%s%s%s\n", "failed connects", r->failed, r->failed ? " (first: " : "",
            r->failed ? r->first_error : "", r->failed ? ")" : "");
    if (r->timeouts)
        fprintf(o, "  %-26s %u\n", "  of which timeouts", r->timeouts);
    if (r->pending)
        fprintf(o, "  %-26s %u\n", "still connecting at stop", r->pending);
    fprintf(o, "  %-26s %u%s%s%s\n", "disconnected", r->disconnected,
            r->disconnected ? " (first: " : "", r->disconnected ? r->first_drop : "",
            r->disconnected ? ")" : "");
    if (cfg->reconnect)
        fprintf(o, "  %-26s %u (failed attempts %u)\n", "reconnects", r->reconnects,
                r->reconnect_failed);
    fprintf(o, "  %-26s", "non-200 responses");
    if (r->nstatus == 0 && r->status_other == 0)
        fprintf(o, " 0");
    for (unsigned i = 0; i < r->nstatus; i++)
        fprintf(o, " %u x %u", r->status[i].count, r->status[i].code);
    if (r->status_other)
        fprintf(o, " %u x other", r->status_other);
    fprintf(o, "\n");
    if (r->protocol_errors)
        fprintf(o, "  %-26s %u\n", "protocol errors", r->protocol_errors);
    fprintf(o, "  %-26s %llu\n", "events received", r->events);
    fprintf(o, "  %-26s min %u / avg %.1f / max %u\n", "events per client", r->ev_min, r->ev_avg,
            r->ev_max);
    fprintf(o, "  %-26s %llu\n", "heartbeats (comment lines)", r->heartbeats);
    fprintf(o, "  %-26s %llu\n", "duplicates/out-of-order", r->duplicates);
    fprintf(o, "  %-26s %zu (first seen > %.1f s before the stop)\n", "reference events",
            r->reference, r->reference_cutoff_s);
    if (r->misses_computed) {
        fprintf(o, "  %-26s %u\n", "clients with misses", r->clients_with_misses);
        fprintf(o, "  %-26s %llu\n", "missed events", r->missed);
    } else {
        fprintf(o, "  %-26s not computed\n", "misses");
    }
    if (r->lat_count > 0)
        fprintf(o, "  %-26s n=%zu  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms\n", "latency",
                r->lat_count, r->p50, r->p90, r->p99, r->max_ms);
    else
        fprintf(o, "  %-26s no events stamped after all clients connected\n", "latency");
    fprintf(o, "  %-26s workers %.1f MiB total (largest %.1f MiB), parent %.1f MiB\n",
            "client peak RSS", r->rss_total / 1024.0, r->rss_max / 1024.0, r->rss_parent / 1024.0);
    if (r->netdev_backlog >= 0)
        fprintf(o, "  %-26s %ld%s\n", "netdev_max_backlog", r->netdev_backlog,
                r->netdev_backlog < 10000 ? " (low: loopback bursts may drop packets and add "
                                            "200 ms retransmits)"
                                          : "");
    if (r->record_error)
        fprintf(o, "  WARNING: some event records could not be written (disk full?)\n");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s)
{
    if (s[0] == '\0')
        fputs("null", f);
    else
        json_str(f, s);
}

int sl_write_json(const char *path, const struct config *cfg, const struct report *r)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "sse-load: --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"url\": ");
    json_str(f, cfg->url);
    fprintf(f, ",\n  \"clients_requested\": %u,\n  \"procs\": %u,\n  \"rate\": %g,\n", r->requested,
            r->procs, cfg->rate);
    fprintf(f, "  \"all_connected\": %s,\n", r->all_connected ? "true" : "false");
    if (r->all_connected)
        fprintf(f, "  \"connect_time_s\": %.3f,\n", r->connect_s);
    else
        fprintf(f, "  \"connect_time_s\": null,\n");
    fprintf(f, "  \"measured_s\": %.3f,\n  \"interrupted\": %s,\n", r->measured_s,
            r->interrupted ? "true" : "false");
    fprintf(f,
            "  \"connected\": %u,\n  \"failed_connects\": %u,\n  \"connect_timeouts\": %u,\n"
            "  \"pending_connects\": %u,\n",
            r->connected, r->failed, r->timeouts, r->pending);
    fprintf(f, "  \"first_error\": ");
    json_str_or_null(f, r->first_error);
    fprintf(f, ",\n  \"disconnected\": %u,\n  \"first_disconnect\": ", r->disconnected);
    json_str_or_null(f, r->first_drop);
    fprintf(f, ",\n  \"reconnects\": %u,\n  \"reconnect_failures\": %u,\n", r->reconnects,
            r->reconnect_failed);
    fprintf(f, "  \"non_200\": {");
    for (unsigned i = 0; i < r->nstatus; i++)
        fprintf(f, "%s\"%u\": %u", i ? ", " : "", r->status[i].code, r->status[i].count);
    if (r->status_other)
        fprintf(f, "%s\"other\": %u", r->nstatus ? ", " : "", r->status_other);
    fprintf(f, "},\n  \"protocol_errors\": %u,\n", r->protocol_errors);
    fprintf(f, "  \"events_total\": %llu,\n", r->events);
    fprintf(f, "  \"events_per_client\": {\"min\": %u, \"avg\": %.2f, \"max\": %u},\n", r->ev_min,
            r->ev_avg, r->ev_max);
    fprintf(f, "  \"heartbeats\": %llu,\n  \"duplicates\": %llu,\n  \"reference_events\": %zu,\n",
            r->heartbeats, r->duplicates, r->reference);
    fprintf(f, "  \"reference_cutoff_s\": %.3f,\n", r->reference_cutoff_s);
    if (r->misses_computed)
        fprintf(f, "  \"clients_with_misses\": %u,\n  \"missed_events\": %llu,\n",
                r->clients_with_misses, r->missed);
    else
        fprintf(f, "  \"clients_with_misses\": null,\n  \"missed_events\": null,\n");
    fprintf(f, "  \"warmup_events\": %u,\n", cfg->warmup);
    if (r->lat_count > 0)
        fprintf(f,
                "  \"latency_ms\": {\"count\": %zu, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
                "\"max\": %.3f},\n",
                r->lat_count, r->p50, r->p90, r->p99, r->max_ms);
    else
        fprintf(f, "  \"latency_ms\": {\"count\": 0, \"p50\": null, \"p90\": null, \"p99\": "
                   "null, \"max\": null},\n");
    fprintf(f, "  \"rss_kib\": {\"workers_total\": %ld, \"workers_max\": %ld, \"parent\": %ld},\n",
            r->rss_total, r->rss_max, r->rss_parent);
    fprintf(f, "  \"netdev_max_backlog\": %ld,\n  \"record_error\": %s\n}\n", r->netdev_backlog,
            r->record_error ? "true" : "false");
    if (fclose(f) != 0) {
        fprintf(stderr, "sse-load: --json %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
