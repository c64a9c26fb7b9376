/* tls.c: the certificate and private key sse-server serves HTTPS with. The interface, and who
 * owns what, is in tls.h. */
#include "tls.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Certificates and keys are a few KiB; a chain of dozens stays far below. */
#define MAX_PEM (1024 * 1024)
#define REASON  256

/* Read a whole file as a NUL-terminated string; NULL with err set. */
static char *slurp(const char *path, const char *flag, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "--%s '%s': %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_PEM + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM + 1, f) : 0;
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || n == 0 || n > MAX_PEM) {
        snprintf(err, errlen, "--%s '%s': %s", flag, path,
                 buf == NULL ? "out of memory"
                 : bad       ? "read error"
                 : n == 0    ? "empty file"
                             : "larger than 1 MiB: not a PEM certificate or key");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    char *fit = realloc(buf, n + 1); /* kept for the daemon's life: not 1 MiB of it */
    return fit ? fit : buf;
}

/* GnuTLS names a file of the wrong kind cryptically ("Base64 decoding
 * error"), and on some (a certificate request given as the certificate)
 * leaks before failing: say what is missing before it sees the file. */
static int check_kind(const struct sse_tls *t, const char *cert_file, const char *key_file,
                      char *err, size_t errlen)
{
    if (strstr(t->cert, "-----BEGIN CERTIFICATE-----") == NULL) {
        snprintf(err, errlen,
                 "--tls-cert '%s': no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                 cert_file);
        return -1;
    }
    if (strstr(t->key, "-----BEGIN ") == NULL || strstr(t->key, "PRIVATE KEY-----") == NULL) {
        snprintf(err, errlen,
                 "--tls-key '%s': no PEM private key in it (-----BEGIN ... PRIVATE KEY-----)",
                 key_file);
        return -1;
    }
    return 0;
}

/* libmicrohttpd reports why a pair is refused only through its logger:
 * keep the first line. */
static void capture(void *cls, const char *fmt, va_list ap)
{
    char *reason = cls;
    if (reason[0] != '\0')
        return;
    vsnprintf(reason, REASON, fmt, ap);
    reason[strcspn(reason, "\n")] = '\0';
}

static enum MHD_Result refuse(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **req_cls)
{
    (void)cls, (void)c, (void)url, (void)method, (void)version, (void)data, (void)size,
        (void)req_cls;
    return MHD_NO;
}

/* Have GnuTLS load the pair exactly as the real daemon will, in a daemon
 * with no socket and no thread: it parses both PEM texts and checks that
 * the key matches the certificate. */
static int check_pair(const struct sse_tls *t, char *reason)
{
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL, refuse, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, capture, reason, MHD_OPTION_HTTPS_MEM_CERT, t->cert,
        MHD_OPTION_HTTPS_MEM_KEY, t->key, MHD_OPTION_END);
    if (d == NULL)
        return -1;
    MHD_stop_daemon(d);
    return 0;
}

int sse_tls_load(struct sse_tls *t, const char *cert_file, const char *key_file, char *err,
                 size_t errlen)
{
    size_t cert_len;
    char reason[REASON] = "";
    memset(t, 0, sizeof *t);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS support");
        return -1;
    }
    if ((t->cert = slurp(cert_file, "tls-cert", &cert_len, err, errlen)) == NULL ||
        (t->key = slurp(key_file, "tls-key", &t->key_len, err, errlen)) == NULL)
        goto fail;
    if (check_kind(t, cert_file, key_file, err, errlen) < 0)
        goto fail;
    if (check_pair(t, reason) < 0) {
        snprintf(err, errlen, "--tls-cert '%s' / --tls-key '%s' cannot be used: %s", cert_file,
                 key_file, reason[0] ? reason : "refused by libmicrohttpd");
        goto fail;
    }
    return 0;
fail:
    sse_tls_clear(t);
    return -1;
}

void sse_tls_clear(struct sse_tls *t)
{
    if (t->key)
        explicit_bzero(t->key, t->key_len);
    free(t->key);
    free(t->cert);
    memset(t, 0, sizeof *t);
}
