/* rc_amqp: the AMQP glue both programs share, on rabbitmq-c 0.11.
 *
 * One struct rc_amqp is one broker connection with one channel (1). It is
 * not thread-safe: rabbitmq-c wants one connection per thread, so each
 * program keeps its connection on the thread that uses it.
 *
 * Every call that can fail returns 0 / -1 and writes a one-line reason into
 * the caller's err buffer. Reasons name host, port and vhost, never the
 * password. After a -1 from anything but connect, the connection should be
 * treated as dead: free it and connect again (see rc_backoff).
 *
 * amqps:// URLs connect over TLS (OpenSSL, through rabbitmq-c), verifying
 * the broker's certificate against ca_file and its name against the URL's
 * host. rabbitmq-c 0.11 loads no system CAs, so ca_file is required, and
 * it matches the host only against the certificate's DNS names (its CN
 * when it has none), never its IP addresses: put a host name in the URL
 * (amqps://user:pass@localhost:5671/%2f), not an address. OpenSSL is
 * initialised once per process, on the first amqps connect.
 */
#ifndef RC_AMQP_H
#define RC_AMQP_H

#include <stddef.h>
#include <stdint.h>

struct rc_amqp;

/* Debian's bundle of the system's trusted CAs (package ca-certificates):
 * the default for --amqp-ca, since rabbitmq-c loads none by itself. */
#define RC_AMQP_DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"

/* The broker options both programs take, as rows of an rc_option table (see
 * rc_config.h): url and ca are const char **, heartbeat_ms an int64_t *. */
#define RC_AMQP_OPTIONS(url, ca, heartbeat_ms)                                                     \
    {"amqp-url",                                                                                   \
     "AMQP_URL",                                                                                   \
     "amqp://guest:guest@localhost:5672/%2f",                                                      \
     "broker URL, or a comma-separated list of a cluster's nodes",                                 \
     RC_OPT_STRING,                                                                                \
     (url),                                                                                        \
     0},                                                                                           \
        {"amqp-ca",                                                                                \
         "AMQP_CA_FILE",                                                                           \
         RC_AMQP_DEFAULT_CA,                                                                       \
         "CA bundle (PEM) that verifies the broker's certificate for amqps:// URLs",               \
         RC_OPT_STRING,                                                                            \
         (ca),                                                                                     \
         0},                                                                                       \
    {                                                                                              \
        "amqp-heartbeat", "AMQP_HEARTBEAT", "10s", "AMQP heartbeat interval", RC_OPT_DURATION,     \
            (heartbeat_ms), 0                                                                      \
    }

struct rc_amqp_params {
    /* amqp://user:pass@host:port/vhost or amqps://..., or a comma-separated
     * list of them (the nodes of a cluster; a comma splits the list only
     * where the next URL's scheme follows): connect tries them in turn,
     * starting at a random one, and returns the first that works. */
    const char *url;
    const char *ca_file;   /* PEM CA bundle for amqps (unused for amqp://) */
    unsigned heartbeat_s;  /* AMQP heartbeat; 0 disables (not advised) */
    int64_t timeout_ms;    /* TCP connect, TLS and AMQP handshakes, every RPC */
    const char *conn_name; /* shown in the management UI */
};

/* Start-up check: for an amqps:// URL, the CA bundle must be readable
 * (0, or -1 with a reason naming the file). Other URLs pass. */
int rc_amqp_check_tls(const struct rc_amqp_params *p, char *err, size_t errlen);

/* Connect, log in and open channel 1. NULL on failure with err set (for a
 * list: every broker's reason, in the order tried). */
struct rc_amqp *rc_amqp_connect(const struct rc_amqp_params *p, char *err, size_t errlen);

/* The broker this connection reached: "host:port vhost V" (no credentials;
 * owned by a). */
const char *rc_amqp_where(const struct rc_amqp *a);

/* The number of URLs in a comma-separated list, and a copy of the i-th
 * (blanks around it removed) into out: -1 when there is no such element,
 * it is empty, or it does not fit. */
size_t rc_amqp_url_count(const char *urls);
int rc_amqp_url_at(const char *urls, size_t i, char *out, size_t outlen);

/* Close politely (best effort) and free; accepts NULL. */
void rc_amqp_free(struct rc_amqp *a);

/* Declare the durable fanout exchange (idempotent; both programs declare it
 * so start-up order does not matter). */
int rc_amqp_declare_fanout(struct rc_amqp *a, const char *exchange, char *err, size_t errlen);

struct rc_amqp_msg {
    const void *body;
    size_t len;
    const char *message_id; /* or NULL */
    uint64_t timestamp;     /* seconds since the epoch, or 0 */
    const char *type;       /* or NULL */
};

/* Publish as application/json to exchange with routing key "". With
 * mandatory set, the broker returns the message (see rc_amqp_await) when no
 * queue is bound. */
int rc_amqp_publish(struct rc_amqp *a, const char *exchange, const struct rc_amqp_msg *m,
                    int mandatory, char *err, size_t errlen);

/* Switch the channel to publisher confirms (confirm.select): from then on
 * every publish is answered by basic.ack or basic.nack. */
int rc_amqp_confirm_select(struct rc_amqp *a, char *err, size_t errlen);

enum rc_confirm { RC_CONFIRM_ACK, RC_CONFIRM_NACK, RC_CONFIRM_RETURNED };

/* After one publish in confirm mode, wait until the CLOCK_MONOTONIC
 * deadline (ms) for the broker's verdict: ack, nack, or returned (a
 * mandatory message no queue took: basic.return, then its ack). Returns 0
 * with *out set, or -1 on timeout or a lost connection (err says which). */
int rc_amqp_await(struct rc_amqp *a, int64_t deadline_ms, enum rc_confirm *out, char *err,
                  size_t errlen);

/* Service the connection (heartbeats, broker-initiated closes) until the
 * CLOCK_MONOTONIC deadline (ms) or at most slice_ms, whichever is sooner.
 * Returns 0 when the time passed quietly, -1 if the connection is lost. */
int rc_amqp_wait(struct rc_amqp *a, int64_t deadline_ms, char *err, size_t errlen);

/* Declare a server-named, exclusive, auto-delete queue, bind it to the
 * exchange and start consuming it (auto-ack). */
int rc_amqp_consume_private(struct rc_amqp *a, const char *exchange, char *err, size_t errlen);

struct rc_amqp_delivery {
    const char *body; /* valid until rc_amqp_delivery_clear */
    size_t len;
    char message_id[64]; /* "" when absent or too long */
    int stream;          /* from the history stream (rc_amqp_stream_open), not the live queue */
    int64_t offset;      /* its offset in the stream (-1 if the broker gave none) */
    void *priv;
};

/* Wait up to timeout_ms for the next message. Returns 1 with *d filled
 * (release with rc_amqp_delivery_clear), 0 on timeout, -1 if the
 * connection is lost. */
int rc_amqp_next(struct rc_amqp *a, int64_t timeout_ms, struct rc_amqp_delivery *d, char *err,
                 size_t errlen);
void rc_amqp_delivery_clear(struct rc_amqp_delivery *d);

/* 1 when received bytes or frames wait in the library's buffers: the next
 * rc_amqp_next needs no wait for them (a burst's further messages). */
int rc_amqp_buffered(const struct rc_amqp *a);

/* The connection's socket, for a caller that waits on several with poll or
 * epoll (the benchmark's floor): readable means rc_amqp_next has input.
 * Owned by a; only wait on it, never read, write or close it. Data that
 * rc_amqp_buffered reports is not visible on the socket: drain it first. */
int rc_amqp_fd(const struct rc_amqp *a);

/* The history stream: a durable RabbitMQ stream queue (RabbitMQ 3.9 and
 * later) bound to the fanout exchange, so it keeps a replicated,
 * append-only copy of every message for a while, which any consumer can
 * read from any offset. */
struct rc_stream_spec {
    const char *name;      /* the queue's name */
    const char *max_age;   /* x-max-age, e.g. "86400s": retention by age */
    int64_t segment_bytes; /* x-stream-max-segment-size-bytes */
};

/* Declare the stream (idempotent when the arguments are the same) and bind
 * it to exchange, on a channel of its own so that a refusal closes only
 * that channel. 0: declared and bound; 1: refused for good (406: no stream
 * support, or a queue of that name exists with other arguments: err has
 * the broker's reason, which names the argument); 2: refused for now (e.g.
 * 404 while the stream's node restarts: try again later); 3: refused for
 * good and the connection closed with it (541: a broker without stream
 * queues; free it and connect again without the stream); -1: connection
 * lost. *messages (may be NULL) gets the count the broker reports: 0 for
 * an empty stream. */
int rc_amqp_declare_stream(struct rc_amqp *a, const char *exchange, const struct rc_stream_spec *sp,
                           uint64_t *messages, char *err, size_t errlen);

/* Start reading a stream on a channel of its own, from spec ("first",
 * "last" = the last chunk, "next") or, when spec is NULL, from the integer
 * offset. Its messages then come out of rc_amqp_next with d->stream set,
 * interleaved with the live queue's; rc_amqp_next acknowledges them (a
 * stream sends no more than prefetch unacknowledged messages). Same
 * returns as rc_amqp_declare_stream (a cluster node without a replica yet
 * refuses for now: 2). One stream at a time. */
int rc_amqp_stream_open(struct rc_amqp *a, const char *stream, const char *spec, int64_t offset,
                        unsigned prefetch, char *err, size_t errlen);
/* Stop reading the stream (its channel is closed; messages still in
 * flight for it are dropped). 0, or -1 if the connection is lost. */
int rc_amqp_stream_close(struct rc_amqp *a, char *err, size_t errlen);

/* Copy url (one URL or a comma-separated list) into out with every
 * password replaced by "***", for logging. */
void rc_url_redact(const char *url, char *out, size_t outlen);

#endif
