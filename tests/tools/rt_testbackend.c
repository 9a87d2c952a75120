/* rt_testbackend.c - an HTTP backend for the router's integration tests,
 * on libmicrohttpd (a thread per connection, so slow endpoints only block
 * themselves). Usage: rt_testbackend PORT ID
 *   GET  /             "ID\n" with X-Backend: ID
 *   ANY  /echo         the request body, byte for byte (Content-Length)
 *   GET  /big?size=N   N bytes of a fixed pattern (Content-Length)
 *   GET  /chunked?size=N  the same pattern, chunked
 *   GET  /slow?ms=N    "ID\n" after N milliseconds
 *   GET  /status?code=N   an empty response with that status
 *   GET  /headers      the request headers, one "name: value" per line
 *   GET  /count        requests served so far (not counting /count), and
 *                      how many had a "-shadow" Host (mirrored copies):
 *                      "total shadow\n"
 *   GET  /healthz      200, or 503 after /sick
 * Must not be used outside tests. */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_id;
static atomic_long g_total, g_shadow;
static atomic_int g_sick;
static long g_delay_ms;
static long g_fail_every;
static atomic_long g_plain;

typedef struct upload { char *data; size_t len, cap; } upload;

static char pattern_byte(size_t i) { return (char)('a' + (i * 7 + i / 251) % 26); }

static ssize_t pattern_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t total = (size_t)(uintptr_t)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = total - (size_t)pos < max ? total - (size_t)pos : max;
    if (n > 7000)
        n = 7000;       /* several chunks */
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern_byte((size_t)pos + i);
    return (ssize_t)n;
}

static long arg_long(struct MHD_Connection *c, const char *name, long def)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v ? atol(v) : def;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *body, size_t n,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)body, mode);
    MHD_add_response_header(r, "X-Backend", g_id);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result add_header_line(void *cls, enum MHD_ValueKind kind, const char *k,
                                       const char *v)
{
    upload *u = cls;
    size_t need = strlen(k) + strlen(v ? v : "") + 4;
    if (u->len + need + 1 > u->cap) {
        u->cap = (u->len + need + 1) * 2;
        u->data = realloc(u->data, u->cap);
    }
    u->len += (size_t)sprintf(u->data + u->len, "%s: %s\n", k, v ? v : "");
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state)
{
    upload *u = *state;
    if (!u) {
        u = calloc(1, sizeof *u);
        *state = u;
        return MHD_YES;
    }
    if (*size) {
        if (u->len + *size > u->cap) {
            u->cap = (u->len + *size) * 2;
            u->data = realloc(u->data, u->cap);
        }
        memcpy(u->data + u->len, data, *size);
        u->len += *size;
        *size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/count"))
        atomic_fetch_add(&g_total, 1);
    if (g_delay_ms)
        usleep((useconds_t)g_delay_ms * 1000);
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host && strstr(host, "-shadow"))
        atomic_fetch_add(&g_shadow, 1);
    if (!strcmp(url, "/echo")) {
        char *body = u->data ? u->data : strdup("");
        size_t n = u->len;
        u->data = NULL;
        return queue(c, 200, body, n, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/big") || !strcmp(url, "/chunked")) {
        size_t n = (size_t)arg_long(c, "size", 1000);
        bool chunked = !strcmp(url, "/chunked");
        struct MHD_Response *r = MHD_create_response_from_callback(
            chunked ? MHD_SIZE_UNKNOWN : n, 32768, pattern_reader, (void *)(uintptr_t)n, NULL);
        MHD_add_response_header(r, "X-Backend", g_id);
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (!strcmp(url, "/slow"))
        usleep((useconds_t)arg_long(c, "ms", 100) * 1000);
    if (!strcmp(url, "/status"))
        return queue(c, (unsigned)arg_long(c, "code", 200), "", 0, MHD_RESPMEM_PERSISTENT);
    if (!strcmp(url, "/headers")) {
        upload h = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_line, &h);
        return queue(c, 200, h.data ? h.data : strdup(""), h.len, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/count")) {
        char *b = malloc(64);
        int n = snprintf(b, 64, "%ld %ld\n", atomic_load(&g_total), atomic_load(&g_shadow));
        return queue(c, 200, b, (size_t)n, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/sick")) {
        atomic_store(&g_sick, 1);
        return queue(c, 200, "sick\n", 5, MHD_RESPMEM_PERSISTENT);
    }
    if (!strcmp(url, "/healthz"))
        return atomic_load(&g_sick) ? queue(c, 503, "sick\n", 5, MHD_RESPMEM_PERSISTENT)
                                    : queue(c, 200, "ok\n", 3, MHD_RESPMEM_PERSISTENT);
    char *b = malloc(strlen(g_id) + 2);
    int n = sprintf(b, "%s\n", g_id);
    long k = atomic_fetch_add(&g_plain, 1) + 1;
    unsigned status = g_fail_every > 0 && k % g_fail_every == 0 ? 500 : 200;
    return queue(c, status, b, (size_t)n, MHD_RESPMEM_MUST_FREE);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    upload *u = *state;
    if (u) {
        free(u->data);
        free(u);
    }
    *state = NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: rt_testbackend PORT ID [DELAY_MS]\n");
        return 2;
    }
    g_id = argv[2];
    g_delay_ms = argc == 4 ? atol(argv[3]) : 0;
    g_fail_every = getenv("RT_FAIL_EVERY") ? atol(getenv("RT_FAIL_EVERY")) : 0;
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)atoi(argv[1]),
        NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "rt_testbackend: cannot listen on %s\n", argv[1]);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
