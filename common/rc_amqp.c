/* rc_amqp.c: the AMQP glue both programs share, on rabbitmq-c 0.11. The interface, and who
 * owns what, is in rc_amqp.h. */
#include "rc_amqp.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rc_time.h"

/* The live channel (publish, the private queue), and two more: one that a
 * refused stream declare may close without taking the live channel down,
 * and one for reading the history stream. */
#define CHANNEL         1
#define DECLARE_CHANNEL 2
#define STREAM_CHANNEL  3

struct rc_amqp {
    amqp_connection_state_t conn;
    char where[300]; /* "host:port vhost /": for messages, no credentials */
    int channel_open;
    amqp_envelope_t envelope;
    int have_envelope;
    int stream_open;         /* STREAM_CHANNEL is open and consuming */
    unsigned stream_unacked; /* deliveries since the last ack (the stream's credit) */
    uint64_t stream_last_tag;
    /* Each read of the stream has a consumer tag of its own: deliveries of
     * an earlier read on the same channel number, still queued in
     * rabbitmq-c when the channel was closed and opened again, must not be
     * taken for the new read's (they would be its "first" messages). */
    char stream_tag[32];
    unsigned stream_reads;
};

static void close_ok(struct rc_amqp *a, amqp_channel_t ch);

static struct timeval ms_to_tv(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* Describe a failed rabbitmq-c call in words: library status, or the
 * broker's own close reason (e.g. 403 ACCESS_REFUSED, 406
 * PRECONDITION_FAILED). */
static void reply_error(const struct rc_amqp *a, amqp_rpc_reply_t r, const char *what, char *err,
                        size_t errlen)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(err, errlen, "%s: ok", what);
        return;
    case AMQP_RESPONSE_NONE:
        snprintf(err, errlen, "%s on %s: missing RPC reply", what, a->where);
        return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(err, errlen, "%s on %s: %s", what, a->where, amqp_error_string2(r.library_error));
        return;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        break;
    }
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *m = r.reply.decoded;
        snprintf(err, errlen, "%s on %s: broker closed the connection: %u %.*s", what, a->where,
                 m->reply_code, (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = r.reply.decoded;
        snprintf(err, errlen, "%s on %s: broker closed the channel: %u %.*s", what, a->where,
                 m->reply_code, (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else {
        snprintf(err, errlen, "%s on %s: unexpected method 0x%08x", what, a->where, r.reply.id);
    }
}

static int check_rpc(const struct rc_amqp *a, const char *what, char *err, size_t errlen)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(a->conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    reply_error(a, r, what, err, errlen);
    return -1;
}

int rc_amqp_check_tls(const struct rc_amqp_params *p, char *err, size_t errlen)
{
    if (strstr(p->url, "amqps://") == NULL) /* in any URL of a list */
        return 0;
    if (p->ca_file == NULL || p->ca_file[0] == '\0') {
        snprintf(err, errlen, "an amqps:// URL needs a CA bundle (--amqp-ca / AMQP_CA_FILE)");
        return -1;
    }
    if (access(p->ca_file, R_OK) != 0) {
        snprintf(err, errlen, "--amqp-ca '%s': %s (the CA bundle for the amqps:// URL)", p->ca_file,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* rabbitmq-c initialises OpenSSL inside the first amqp_ssl_socket_new()
 * unless told otherwise. sse-server opens broker connections from two
 * threads (consumer, broadcast), so do it once, up front, and report a
 * failure as what it is. OpenSSL 1.1+ tolerates libcurl's own init. */
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;
static int ssl_init_status;

static void ssl_init(void)
{
    ssl_init_status = amqp_initialize_ssl_library();
}

/* What a TLS failure most likely means, for the one-line reason. */
static const char *tls_hint(int status)
{
    switch (status) {
    case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
        return " (the broker's certificate is not signed by a CA in --amqp-ca, or has expired)";
    case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
        return " (the broker's certificate does not name this host; rabbitmq-c matches DNS "
               "names only, so use a host name, not an IP address)";
    case AMQP_STATUS_SSL_CONNECTION_FAILED:
    case AMQP_STATUS_SSL_ERROR:
        return " (is this port the broker's TLS listener?)";
    default:
        return "";
    }
}

/* A TLS socket that verifies the broker's certificate chain against the
 * CA bundle and its name against the URL's host (rabbitmq-c's defaults,
 * set explicitly: nobody should have to wonder). */
static amqp_socket_t *tls_socket(struct rc_amqp *a, const struct rc_amqp_params *p, char *err,
                                 size_t errlen)
{
    pthread_once(&ssl_once, ssl_init);
    if (ssl_init_status != AMQP_STATUS_OK) {
        snprintf(err, errlen, "cannot initialise TLS for %s: %s", a->where,
                 amqp_error_string2(ssl_init_status));
        return NULL;
    }
    if (p->ca_file == NULL || p->ca_file[0] == '\0') {
        snprintf(err, errlen, "amqps:// to %s needs a CA bundle (--amqp-ca)", a->where);
        return NULL;
    }
    amqp_socket_t *sock = amqp_ssl_socket_new(a->conn);
    if (sock == NULL) {
        snprintf(err, errlen, "cannot create a TLS socket for %s", a->where);
        return NULL;
    }
    if (amqp_ssl_socket_set_cacert(sock, p->ca_file) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "cannot load CA bundle '%s' (--amqp-ca) for %s: not a PEM file?",
                 p->ca_file, a->where);
        return NULL;
    }
    amqp_ssl_socket_set_verify_peer(sock, 1);
    amqp_ssl_socket_set_verify_hostname(sock, 1);
    if (amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "cannot require TLS 1.2 or later for %s", a->where);
        return NULL;
    }
    return sock;
}

/* Parse the URL without touching the caller's string (amqp_parse_url writes
 * into its input) and fix the empty-vhost trap: "amqp://h:5672/" parses to
 * vhost "" and login then fails; people mean the default vhost "/". */
static int open_socket(struct rc_amqp *a, const struct rc_amqp_params *p,
                       struct amqp_connection_info *ci, char **copy, char *err, size_t errlen)
{
    *copy = strdup(p->url);
    if (*copy == NULL || amqp_parse_url(*copy, ci) != AMQP_STATUS_OK) {
        char safe[256];
        rc_url_redact(p->url, safe, sizeof safe);
        snprintf(err, errlen,
                 "invalid AMQP URL '%s' (expected amqp://user:pass@host:port/vhost or amqps://...)",
                 safe);
        return -1;
    }
    if (ci->vhost[0] == '\0')
        ci->vhost = "/";
    snprintf(a->where, sizeof a->where, "%s:%d vhost %s", ci->host, ci->port, ci->vhost);
    amqp_socket_t *sock = ci->ssl ? tls_socket(a, p, err, errlen) : amqp_tcp_socket_new(a->conn);
    if (sock == NULL) {
        if (!ci->ssl)
            snprintf(err, errlen, "cannot create a socket for %s", a->where);
        return -1;
    }
    struct timeval tv = ms_to_tv(p->timeout_ms);
    int rc = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, errlen, "cannot connect to %s%s: %s%s", a->where, ci->ssl ? " over TLS" : "",
                 amqp_error_string2(rc), ci->ssl ? tls_hint(rc) : "");
        return -1;
    }
    return 0;
}

static int login(struct rc_amqp *a, const struct rc_amqp_params *p,
                 const struct amqp_connection_info *ci, char *err, size_t errlen)
{
    struct timeval tv = ms_to_tv(p->timeout_ms);
    amqp_set_handshake_timeout(a->conn, &tv);
    amqp_set_rpc_timeout(a->conn, &tv); /* declares and binds block forever otherwise */

    amqp_table_entry_t prop = {
        .key = amqp_cstring_bytes("connection_name"),
        .value = {.kind = AMQP_FIELD_KIND_UTF8,
                  .value.bytes = amqp_cstring_bytes(p->conn_name ? p->conn_name : "ratecast")}};
    amqp_table_t props = {.num_entries = 1, .entries = &prop};
    amqp_rpc_reply_t r =
        amqp_login_with_properties(a->conn, ci->vhost, 0, 131072, (int)p->heartbeat_s, &props,
                                   AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        reply_error(a, r, "login", err, errlen);
        return -1;
    }
    amqp_channel_open(a->conn, CHANNEL);
    if (check_rpc(a, "channel.open", err, errlen) < 0)
        return -1;
    a->channel_open = 1;
    return 0;
}

/* One broker of the list: url is one element, not the whole list. */
static struct rc_amqp *connect_one(const struct rc_amqp_params *p, const char *url, char *err,
                                   size_t errlen)
{
    struct amqp_connection_info ci;
    char *copy = NULL;
    struct rc_amqp_params one = *p;
    one.url = url;
    struct rc_amqp *a = calloc(1, sizeof *a);
    if (a == NULL || (a->conn = amqp_new_connection()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (open_socket(a, &one, &ci, &copy, err, errlen) < 0 || login(a, &one, &ci, err, errlen) < 0)
        goto fail;
    free(copy);
    return a;
fail:
    free(copy);
    rc_amqp_free(a);
    return NULL;
}

/* The comma that ends the URL starting at s, or NULL for the last one. A
 * list separator is a comma followed by the next URL's scheme: a comma in
 * a password (RFC 3986 allows it unencoded) does not split the URL. */
static const char *url_end(const char *s)
{
    for (const char *c = s; (c = strchr(c, ',')) != NULL; c++) {
        const char *n = c + 1 + strspn(c + 1, " \t");
        if (strncmp(n, "amqp://", 7) == 0 || strncmp(n, "amqps://", 8) == 0)
            return c;
    }
    return NULL;
}

size_t rc_amqp_url_count(const char *urls)
{
    size_t n = 1;
    for (const char *c = urls; (c = url_end(c)) != NULL; c++)
        n++;
    return n;
}

int rc_amqp_url_at(const char *urls, size_t i, char *out, size_t outlen)
{
    const char *s = urls;
    for (; i > 0; i--) {
        s = url_end(s);
        if (s == NULL)
            return -1;
        s++;
    }
    s += strspn(s, " \t");
    const char *e = url_end(s);
    size_t len = e ? (size_t)(e - s) : strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= outlen)
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* A list is tried from a random element on, so that replicas started
 * together spread over the cluster's nodes instead of all landing on the
 * first, and a dead node costs one failed attempt before the next. */
struct rc_amqp *rc_amqp_connect(const struct rc_amqp_params *p, char *err, size_t errlen)
{
    size_t n = rc_amqp_url_count(p->url);
    if (n == 1)
        return connect_one(p, p->url, err, errlen);
    size_t start = (size_t)rc_rand_below(n);
    char url[1024], why[512];
    size_t used = 0;
    err[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        if (rc_amqp_url_at(p->url, (start + k) % n, url, sizeof url) < 0) {
            snprintf(why, sizeof why, "AMQP URL #%zu of %zu is empty or too long",
                     (start + k) % n + 1, n);
        } else {
            struct rc_amqp *a = connect_one(p, url, why, sizeof why);
            explicit_bzero(url, sizeof url); /* it held a password */
            if (a)
                return a;
        }
        /* Every broker's reason, in the order tried: the operator sees
         * which node failed how. */
        int w =
            snprintf(err + used, errlen > used ? errlen - used : 0, "%s%s", used ? "; " : "", why);
        if (w > 0)
            used += (size_t)w < errlen - used ? (size_t)w : errlen - used - 1;
    }
    return NULL;
}

const char *rc_amqp_where(const struct rc_amqp *a)
{
    return a->where;
}

void rc_amqp_free(struct rc_amqp *a)
{
    if (a == NULL)
        return;
    if (a->have_envelope)
        amqp_destroy_envelope(&a->envelope);
    if (a->conn) {
        /* Polite close bounded by the RPC timeout; errors are moot here. */
        if (a->channel_open) {
            amqp_channel_close(a->conn, CHANNEL, AMQP_REPLY_SUCCESS);
            amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(a->conn);
    }
    free(a);
}

int rc_amqp_declare_fanout(struct rc_amqp *a, const char *exchange, char *err, size_t errlen)
{
    amqp_exchange_declare(a->conn, CHANNEL, amqp_cstring_bytes(exchange),
                          amqp_cstring_bytes("fanout"), 0 /* passive */, 1 /* durable */,
                          0 /* auto_delete */, 0 /* internal */, amqp_empty_table);
    return check_rpc(a, "exchange.declare", err, errlen);
}

int rc_amqp_publish(struct rc_amqp *a, const char *exchange, const struct rc_amqp_msg *m,
                    int mandatory, char *err, size_t errlen)
{
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
        .content_type = amqp_cstring_bytes("application/json"),
        .delivery_mode = 1, /* transient: every queue is a live, exclusive one */
    };
    if (m->message_id) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = amqp_cstring_bytes(m->message_id);
    }
    if (m->timestamp) {
        props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        props.timestamp = m->timestamp;
    }
    if (m->type) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = amqp_cstring_bytes(m->type);
    }
    amqp_bytes_t body = {.len = m->len, .bytes = (void *)m->body};
    int rc = amqp_basic_publish(a->conn, CHANNEL, amqp_cstring_bytes(exchange), amqp_empty_bytes,
                                mandatory, 0, &props, body);
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, errlen, "publish on %s: %s", a->where, amqp_error_string2(rc));
        return -1;
    }
    return 0;
}

int rc_amqp_confirm_select(struct rc_amqp *a, char *err, size_t errlen)
{
    amqp_confirm_select(a->conn, CHANNEL);
    return check_rpc(a, "confirm.select", err, errlen);
}

/* A frame arrived outside an RPC: a close from the broker means the
 * connection (or our only channel) is gone; anything else is ignored. */
static int handle_stray_frame(struct rc_amqp *a, const amqp_frame_t *f, char *err, size_t errlen)
{
    if (f->frame_type != AMQP_FRAME_METHOD)
        return 0;
    amqp_method_number_t id = f->payload.method.id;
    if (id != AMQP_CONNECTION_CLOSE_METHOD && id != AMQP_CHANNEL_CLOSE_METHOD)
        return 0;
    amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION, .reply = f->payload.method};
    reply_error(a, r, "connection", err, errlen);
    /* Acknowledge so the broker can release the connection promptly. */
    if (id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_ok_t ok;
        amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    } else {
        /* A closed stream channel ends the connection too: reconnecting
         * is how every other failure is handled, and it reads the stream
         * again from where the ring stands. */
        close_ok(a, f->channel);
    }
    if (f->channel == CHANNEL || id == AMQP_CONNECTION_CLOSE_METHOD)
        a->channel_open = 0;
    return -1;
}

/* Waits up to *tv for one frame outside a delivery (a heartbeat, a close,
 * a confirm nobody waits for) and handles it: 1 when none came, 0 when one
 * was handled, -1 when the connection or the channel is gone. */
static int read_stray(struct rc_amqp *a, struct timeval *tv, char *err, size_t errlen)
{
    amqp_frame_t f;
    int rc = amqp_simple_wait_frame_noblock(a->conn, &f, tv);
    if (rc == AMQP_STATUS_TIMEOUT)
        return 1;
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, errlen, "connection to %s lost: %s", a->where, amqp_error_string2(rc));
        return -1;
    }
    return handle_stray_frame(a, &f, err, errlen) < 0 ? -1 : 0;
}

int rc_amqp_wait(struct rc_amqp *a, int64_t deadline_ms, char *err, size_t errlen)
{
    for (;;) {
        int64_t left = deadline_ms - rc_mono_ms();
        if (left <= 0)
            return 0;
        struct timeval tv = ms_to_tv(left);
        int rc = read_stray(a, &tv, err, errlen);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        amqp_maybe_release_buffers(a->conn);
    }
}

int rc_amqp_await(struct rc_amqp *a, int64_t deadline_ms, enum rc_confirm *out, char *err,
                  size_t errlen)
{
    int returned = 0;
    for (;;) {
        int64_t left = deadline_ms - rc_mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "no confirm from %s in time", a->where);
            return -1;
        }
        struct timeval tv = ms_to_tv(left);
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(a->conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            continue;
        if (rc != AMQP_STATUS_OK) {
            snprintf(err, errlen, "connection to %s lost: %s", a->where, amqp_error_string2(rc));
            return -1;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_RETURN_METHOD: {
            /* The returned message's header and body follow: read them
             * off the wire. The ack for the same publish comes next. */
            amqp_message_t msg;
            amqp_rpc_reply_t r = amqp_read_message(a->conn, f.channel, &msg, 0);
            if (r.reply_type != AMQP_RESPONSE_NORMAL) {
                reply_error(a, r, "reading a returned message", err, errlen);
                return -1;
            }
            amqp_destroy_message(&msg);
            returned = 1;
            break;
        }
        case AMQP_BASIC_ACK_METHOD:
            *out = returned ? RC_CONFIRM_RETURNED : RC_CONFIRM_ACK;
            amqp_maybe_release_buffers(a->conn);
            return 0;
        case AMQP_BASIC_NACK_METHOD:
            *out = RC_CONFIRM_NACK;
            amqp_maybe_release_buffers(a->conn);
            return 0;
        default:
            if (handle_stray_frame(a, &f, err, errlen) < 0)
                return -1;
        }
    }
}

int rc_amqp_consume_private(struct rc_amqp *a, const char *exchange, char *err, size_t errlen)
{
    amqp_queue_declare_ok_t *q =
        amqp_queue_declare(a->conn, CHANNEL, amqp_empty_bytes, 0 /* passive */, 0 /* durable */,
                           1 /* exclusive */, 1 /* auto_delete */, amqp_empty_table);
    if (check_rpc(a, "queue.declare", err, errlen) < 0)
        return -1;
    amqp_bytes_t queue = amqp_bytes_malloc_dup(q->queue);
    if (queue.bytes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    amqp_queue_bind(a->conn, CHANNEL, queue, amqp_cstring_bytes(exchange), amqp_empty_bytes,
                    amqp_empty_table);
    if (check_rpc(a, "queue.bind", err, errlen) < 0)
        goto out;
    amqp_basic_consume(a->conn, CHANNEL, queue, amqp_empty_bytes, 0 /* no_local */, 1 /* no_ack */,
                       1 /* exclusive */, amqp_empty_table);
    if (check_rpc(a, "basic.consume", err, errlen) < 0)
        goto out;
    rc = 0;
out:
    amqp_bytes_free(queue);
    return rc;
}

/* The broker closed a channel of ours: confirm it, so that the channel
 * number can be opened again. */
static void close_ok(struct rc_amqp *a, amqp_channel_t ch)
{
    amqp_channel_close_ok_t ok;
    amqp_send_method(a->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

/* -1 for a connection-level failure (the connection is gone); for a
 * channel-level refusal on ch (answered with close-ok), 1 when it is about
 * the arguments (406 PRECONDITION_FAILED: another declaration) and will
 * not change by trying again, 2 otherwise (404 "home node down or
 * inaccessible" while a node restarts, ...); 3 when the broker closed the
 * whole connection for it (541/540: no stream support). */
static int refused_or_lost(struct rc_amqp *a, amqp_channel_t ch, const char *what, char *err,
                           size_t errlen)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(a->conn);
    reply_error(a, r, what, err, errlen);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = r.reply.decoded;
        close_ok(a, ch);
        return m->reply_code == AMQP_PRECONDITION_FAILED ? 1 : 2;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *m = r.reply.decoded;
        amqp_connection_close_ok_t ok;
        amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        a->channel_open = 0;
        /* A broker whose stream queues are off (RabbitMQ before 3.9, or the
         * stream_queue feature flag disabled) closes the whole connection,
         * 541, on the declare. */
        if (m->reply_code == AMQP_INTERNAL_ERROR || m->reply_code == AMQP_NOT_IMPLEMENTED)
            return 3;
    }
    return -1;
}

int rc_amqp_declare_stream(struct rc_amqp *a, const char *exchange, const struct rc_stream_spec *sp,
                           uint64_t *messages, char *err, size_t errlen)
{
    amqp_channel_open(a->conn, DECLARE_CHANNEL);
    if (check_rpc(a, "channel.open", err, errlen) < 0)
        return -1;
    /* x-max-age must be a string ("86400s"; an integer is refused with
     * 406), the segment size an integer. Retention drops whole segments,
     * so segments must be small for it to trim at tick rates: the default
     * of 500 MB would hold months of ticks before the first one closes. */
    amqp_table_entry_t args[3] = {
        {.key = amqp_cstring_bytes("x-queue-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("stream")}},
        {.key = amqp_cstring_bytes("x-max-age"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(sp->max_age)}},
        {.key = amqp_cstring_bytes("x-stream-max-segment-size-bytes"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value.i64 = sp->segment_bytes}},
    };
    amqp_table_t table = {.num_entries = 3, .entries = args};
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(a->conn, DECLARE_CHANNEL, amqp_cstring_bytes(sp->name), 0 /* passive */,
                           1 /* durable */, 0 /* exclusive */, 0 /* auto_delete */, table);
    int rc = 0;
    if (amqp_get_rpc_reply(a->conn).reply_type != AMQP_RESPONSE_NORMAL || ok == NULL)
        return refused_or_lost(a, DECLARE_CHANNEL, "declaring the history stream", err, errlen);
    if (messages)
        *messages = ok->message_count;
    amqp_queue_bind(a->conn, DECLARE_CHANNEL, amqp_cstring_bytes(sp->name),
                    amqp_cstring_bytes(exchange), amqp_empty_bytes, amqp_empty_table);
    if (amqp_get_rpc_reply(a->conn).reply_type != AMQP_RESPONSE_NORMAL)
        return refused_or_lost(a, DECLARE_CHANNEL, "binding the history stream", err, errlen);
    amqp_channel_close(a->conn, DECLARE_CHANNEL, AMQP_REPLY_SUCCESS);
    if (check_rpc(a, "channel.close", err, errlen) < 0)
        rc = -1;
    return rc;
}

int rc_amqp_stream_open(struct rc_amqp *a, const char *stream, const char *spec, int64_t offset,
                        unsigned prefetch, char *err, size_t errlen)
{
    amqp_channel_open(a->conn, STREAM_CHANNEL);
    if (check_rpc(a, "channel.open", err, errlen) < 0)
        return -1;
    a->stream_open = 1;
    a->stream_unacked = 0;
    /* A stream refuses consumers without a prefetch (406) and delivers no
     * more than the prefetch until acknowledged: acks are its credit. */
    amqp_basic_qos(a->conn, STREAM_CHANNEL, 0, (uint16_t)(prefetch ? prefetch : 1), 0);
    if (amqp_get_rpc_reply(a->conn).reply_type != AMQP_RESPONSE_NORMAL)
        goto refused;
    amqp_table_entry_t arg = {.key = amqp_cstring_bytes("x-stream-offset")};
    if (spec) {
        arg.value.kind = AMQP_FIELD_KIND_UTF8;
        arg.value.value.bytes = amqp_cstring_bytes(spec);
    } else {
        arg.value.kind = AMQP_FIELD_KIND_I64;
        arg.value.value.i64 = offset;
    }
    amqp_table_t table = {.num_entries = 1, .entries = &arg};
    snprintf(a->stream_tag, sizeof a->stream_tag, "ratecast-history-%u", ++a->stream_reads);
    amqp_basic_consume(a->conn, STREAM_CHANNEL, amqp_cstring_bytes(stream),
                       amqp_cstring_bytes(a->stream_tag), 0 /* no_local */,
                       0 /* no_ack: streams want acks */, 0 /* exclusive */, table);
    if (amqp_get_rpc_reply(a->conn).reply_type != AMQP_RESPONSE_NORMAL)
        goto refused;
    return 0;
refused:
    a->stream_open = 0;
    return refused_or_lost(a, STREAM_CHANNEL, "reading the history stream", err, errlen);
}

int rc_amqp_stream_close(struct rc_amqp *a, char *err, size_t errlen)
{
    if (!a->stream_open)
        return 0;
    a->stream_open = 0;
    /* Deliveries already on their way for this channel are read and
     * dropped by rc_amqp_next (the channel is no longer open). */
    amqp_channel_close(a->conn, STREAM_CHANNEL, AMQP_REPLY_SUCCESS);
    return check_rpc(a, "closing the history stream's channel", err, errlen);
}

/* A stream delivery: its offset, and an ack now and then (multiple), so
 * the broker keeps sending. */
static void stream_delivery(struct rc_amqp *a, struct rc_amqp_delivery *d)
{
    const amqp_basic_properties_t *p = &a->envelope.message.properties;
    d->stream = 1;
    d->offset = -1;
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < p->headers.num_entries; i++) {
            const amqp_table_entry_t *e = &p->headers.entries[i];
            if (e->key.len == 15 && memcmp(e->key.bytes, "x-stream-offset", 15) == 0 &&
                (e->value.kind == AMQP_FIELD_KIND_I64 || e->value.kind == AMQP_FIELD_KIND_U64))
                d->offset = e->value.value.i64;
        }
    }
    a->stream_last_tag = a->envelope.delivery_tag;
    if (++a->stream_unacked >= 64) {
        amqp_basic_ack(a->conn, STREAM_CHANNEL, a->stream_last_tag, 1 /* multiple */);
        a->stream_unacked = 0;
    }
}

int rc_amqp_next(struct rc_amqp *a, int64_t timeout_ms, struct rc_amqp_delivery *d, char *err,
                 size_t errlen)
{
    memset(d, 0, sizeof *d);
    amqp_maybe_release_buffers(a->conn);
    struct timeval tv = ms_to_tv(timeout_ms);
    amqp_rpc_reply_t r = amqp_consume_message(a->conn, &a->envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        if (r.library_error == AMQP_STATUS_TIMEOUT)
            return 0;
        /* amqp_consume_message() reports a frame that is not a delivery
         * as UNEXPECTED_STATE: read it to see whether the broker is closing. */
        if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            struct timeval now = {0, 0};
            return read_stray(a, &now, err, errlen) < 0 ? -1 : 0;
        }
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        reply_error(a, r, "consume", err, errlen);
        return -1;
    }
    a->have_envelope = 1;
    if (a->envelope.channel == STREAM_CHANNEL) {
        const amqp_bytes_t *tag = &a->envelope.consumer_tag;
        if (!a->stream_open || tag->len != strlen(a->stream_tag) ||
            memcmp(tag->bytes, a->stream_tag, tag->len) != 0) {
            /* In flight when the channel was closed: an earlier read's. */
            amqp_destroy_envelope(&a->envelope);
            a->have_envelope = 0;
            return 0;
        }
        stream_delivery(a, d);
    } else if (a->envelope.channel != CHANNEL) {
        amqp_destroy_envelope(&a->envelope);
        a->have_envelope = 0;
        return 0;
    }
    const amqp_basic_properties_t *p = &a->envelope.message.properties;
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len < sizeof d->message_id) {
        memcpy(d->message_id, p->message_id.bytes, p->message_id.len);
        d->message_id[p->message_id.len] = '\0';
    }
    d->body = a->envelope.message.body.bytes;
    d->len = a->envelope.message.body.len;
    d->priv = a;
    return 1;
}

int rc_amqp_buffered(const struct rc_amqp *a)
{
    return amqp_frames_enqueued(a->conn) || amqp_data_in_buffer(a->conn);
}

int rc_amqp_fd(const struct rc_amqp *a)
{
    return amqp_get_sockfd(a->conn);
}

void rc_amqp_delivery_clear(struct rc_amqp_delivery *d)
{
    struct rc_amqp *a = d->priv;
    if (a && a->have_envelope) {
        amqp_destroy_envelope(&a->envelope);
        a->have_envelope = 0;
    }
    memset(d, 0, sizeof *d);
}

/* One URL of a list: [url, end). */
static size_t redact_one(const char *url, const char *end, char *out, size_t outlen)
{
    /* scheme://user:pass@host/path -> scheme://user:***@host/path. Only the
     * authority (up to the first '/') can hold credentials: an '@' in the
     * vhost is not one. */
    size_t ulen = (size_t)(end - url);
    const char *auth = memmem(url, ulen, "://", 3);
    const char *at = NULL, *colon = NULL;
    if (auth) {
        auth += 3;
        size_t alen = 0;
        while (auth + alen < end && !strchr("/?#", auth[alen]))
            alen++;
        const char *a = memchr(auth, '@', alen);
        /* The last '@' in the authority ends the userinfo. */
        while (a && (at = a, a = memchr(a + 1, '@', alen - (size_t)(a + 1 - auth))))
            ;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    }
    int w;
    if (colon == NULL)
        w = snprintf(out, outlen, "%.*s", (int)ulen, url);
    else
        w = snprintf(out, outlen, "%.*s:***%.*s", (int)(colon - url), url, (int)(end - at), at);
    if (w < 0)
        return 0;
    return (size_t)w < outlen ? (size_t)w : (outlen ? outlen - 1 : 0);
}

void rc_url_redact(const char *url, char *out, size_t outlen)
{
    /* Each element of a comma-separated list on its own: a password in the
     * second URL must not survive because the first had none. */
    size_t used = 0;
    if (outlen)
        out[0] = '\0';
    for (const char *s = url;;) {
        const char *end = url_end(s);
        if (end == NULL)
            end = s + strlen(s);
        used += redact_one(s, end, out + used, outlen - used);
        if (*end == '\0' || used + 1 >= outlen)
            break;
        out[used++] = ',';
        out[used] = '\0';
        s = end + 1;
    }
}
