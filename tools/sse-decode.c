/*
 * sse-decode: the reference EventSource decoder (tools/sse-load/es_decode.h) as a command,
 * for scripts that check a saved stream (tests/docker/sse-events reads curl's output with
 * it, so that no test carries a parser of its own).
 *
 *   sse-decode FILE...
 *
 * Each FILE is one connection's body. Every complete event (its blank line arrived) is
 * printed as one line of JSON: {"event":TYPE,"data":DATA} with "id":ID first when the
 * event's own id field set one (a carried-over id is not repeated). An unfinished last
 * event is dropped, as EventSource drops it when the connection ends. Bytes that are not
 * valid UTF-8 are passed through; the reader decides what to make of them.
 * Exit: 0, 1 when a file cannot be read, 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse-load/es_decode.h"

/* Lines longer than this are cut (es_decode.h): far above any event a test saves. */
enum { LINE_MAX_BYTES = 1 << 20, READ_CHUNK = 1 << 16 };

static void json_string(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void on_event(void *ctx, const struct es_event *ev)
{
    (void)ctx;
    putchar('{');
    if (ev->id_field) {
        fputs("\"id\":", stdout);
        json_string(ev->id, ev->id_len);
        putchar(',');
    }
    fputs("\"event\":", stdout);
    json_string(ev->type, strlen(ev->type));
    fputs(",\"data\":", stdout);
    json_string(ev->data, ev->data_kept);
    fputs("}\n", stdout);
}

static const struct es_sink SINK = {.event = on_event};

static int decode_file(const char *path, char *line, char *chunk)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "sse-decode: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct es_decoder d;
    es_decoder_init(&d, &SINK, NULL, LINE_MAX_BYTES);
    size_t len = 0, n;
    while ((n = fread(chunk, 1, READ_CHUNK, f)) > 0)
        es_decode_bytes(&d, line, &len, LINE_MAX_BYTES, chunk, n);
    int rc = ferror(f) ? 1 : 0;
    if (rc)
        fprintf(stderr, "sse-decode: %s: read error\n", path);
    fclose(f);
    es_decoder_free(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sse-decode FILE...\n");
        return 2;
    }
    char *line = malloc(LINE_MAX_BYTES), *chunk = malloc(READ_CHUNK);
    if (line == NULL || chunk == NULL) {
        fprintf(stderr, "sse-decode: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= decode_file(argv[i], line, chunk);
    free(line);
    free(chunk);
    return fflush(stdout) == 0 ? rc : 1;
}
