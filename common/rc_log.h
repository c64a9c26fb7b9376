/* rc_log: levelled logging to stderr with UTC timestamps.
 *
 * One line per call, written with a single fwrite under the stdio lock, so
 * lines from different threads never interleave. The level is process-wide
 * and set once at start-up (rc_log_set_level); reading it is lock-free.
 *
 * Never pass secrets (API keys, broker passwords) to these functions: use
 * rc_url_redact() for URLs.
 */
#ifndef RC_LOG_H
#define RC_LOG_H

#include <stdarg.h>

enum rc_log_level { RC_LOG_DEBUG, RC_LOG_INFO, RC_LOG_WARN, RC_LOG_ERROR };

/* Process name shown on every line ("fetcher", "sse-server"); the string
 * must outlive all logging (a literal). */
void rc_log_set_name(const char *name);
void rc_log_set_level(enum rc_log_level level);
/* Set the level by name ("debug", "info", "warn", "error"): 0, or -1 for
 * an unknown name (the level is then unchanged). */
int rc_log_set_level_name(const char *name);

void rc_log(enum rc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rc_debug(...) rc_log(RC_LOG_DEBUG, __VA_ARGS__)
#define rc_info(...)  rc_log(RC_LOG_INFO, __VA_ARGS__)
#define rc_warn(...)  rc_log(RC_LOG_WARN, __VA_ARGS__)
#define rc_error(...) rc_log(RC_LOG_ERROR, __VA_ARGS__)

#endif
