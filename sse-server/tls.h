/* sse_tls: the certificate and private key sse-server serves HTTPS with.
 *
 * libmicrohttpd (GnuTLS) takes both as PEM text in memory
 * (MHD_OPTION_HTTPS_MEM_CERT / _KEY), so the files are read once at
 * start-up, before anything listens. Loading also proves that the pair is
 * usable: GnuTLS parses both and checks that the key belongs to the
 * certificate, so a wrong file is a configuration error named at start
 * rather than a daemon that fails to start for a reason only the library's
 * log line tells.
 *
 * Ownership: struct sse_tls owns both buffers; they must outlive the HTTP
 * daemon that borrows them. sse_tls_clear() wipes the key before freeing.
 */
#ifndef SSE_TLS_H
#define SSE_TLS_H

#include <stddef.h>

struct sse_tls {
    char *cert; /* PEM text, NUL-terminated */
    char *key;  /* PEM text, NUL-terminated; secret */
    size_t key_len;
};

/* Read cert_file and key_file and check that they form a usable pair.
 * 0, or -1 with a one-line reason naming the file(s) (never key material)
 * and t left empty. */
int sse_tls_load(struct sse_tls *t, const char *cert_file, const char *key_file, char *err,
                 size_t errlen);

/* Wipe and free; t may be empty (zeroed). */
void sse_tls_clear(struct sse_tls *t);

#endif
