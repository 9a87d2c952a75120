/* demo-app.c - the demo's service, a small podinfo-like HTTP server.
 *
 *   GET /          {"version": ..., "message": ..., "pid": ..., "port": ...}
 *                  with --error-rate: that share of requests get a 500;
 *                  with --latency/--jitter: each answer is delayed
 *   GET /healthz   200 "OK" (liveness)
 *   GET /readyz    200 "OK" once --ready-delay has passed, 503 before
 *   GET /version   the version as plain text
 *
 * The port comes from --port or $PORT. It must not do anything a real
 * service would not (no shared state with canaryd). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *version, *message, *host;
    int port;
    double error_rate;      /* 0..1 */
    double latency_ms, jitter_ms, ready_delay_s;
    struct timespec started;
} config;

static config cfg;
static _Atomic unsigned long long g_requests;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { g_stop = 1; }

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* xorshift64* per thread, seeded from the pid, the thread and the clock */
static double uniform(void)
{
    static __thread unsigned long long s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = ((unsigned long long)getpid() << 32) ^ (unsigned long long)ts.tv_nsec ^
            (unsigned long long)(uintptr_t)&s;
        if (!s)
            s = 88172645463325252ull;
    }
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (double)((s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Version", cfg.version);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    if (*state == NULL) {       /* first call: headers only */
        static int marker;
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) {         /* swallow request bodies */
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&g_requests, 1);
    if (!strcmp(url, "/healthz"))
        return reply(c, 200, "text/plain", "OK\n");
    if (!strcmp(url, "/readyz")) {
        if (seconds_since(&cfg.started) < cfg.ready_delay_s)
            return reply(c, 503, "text/plain", "starting\n");
        return reply(c, 200, "text/plain", "OK\n");
    }
    if (!strcmp(url, "/version")) {
        char body[128];
        snprintf(body, sizeof body, "%s\n", cfg.version);
        return reply(c, 200, "text/plain", body);
    }
    double delay = cfg.latency_ms + (cfg.jitter_ms > 0 ? (uniform() * 2 - 1) * cfg.jitter_ms : 0);
    sleep_ms(delay);
    char body[512];
    if (cfg.error_rate > 0 && uniform() < cfg.error_rate) {
        snprintf(body, sizeof body, "{\"version\":\"%s\",\"error\":\"injected failure\"}\n",
                 cfg.version);
        return reply(c, 500, "application/json", body);
    }
    snprintf(body, sizeof body,
             "{\"version\":\"%s\",\"message\":\"%s\",\"pid\":%d,\"port\":%d,\"path\":\"%.100s\"}\n",
             cfg.version, cfg.message, (int)getpid(), cfg.port, url);
    return reply(c, 200, "application/json", body);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: demo-app [--port N] [--host ADDR] [--version V] [--message TEXT]\n"
            "                [--error-rate R] [--latency MS] [--jitter MS] [--ready-delay S]\n"
            "  --port N         listen port (default $PORT, else 9898)\n"
            "  --error-rate R   share of / requests answered 500, 0..1 (e.g. 0.05)\n"
            "  --latency MS     added latency of / in milliseconds\n"
            "  --jitter MS      +/- random spread around --latency\n"
            "  --ready-delay S  seconds before /readyz answers 200\n");
}

int main(int argc, char **argv)
{
    cfg.version = "v1";
    cfg.message = "hello from canaryd's demo";
    cfg.host = "127.0.0.1";
    cfg.port = getenv("PORT") ? atoi(getenv("PORT")) : 9898;
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"version", required_argument, NULL, 'v'},
        {"message", required_argument, NULL, 'm'},
        {"error-rate", required_argument, NULL, 'e'},
        {"latency", required_argument, NULL, 'l'},
        {"jitter", required_argument, NULL, 'j'},
        {"ready-delay", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "p:H:v:m:e:l:j:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': cfg.port = atoi(optarg); break;
        case 'H': cfg.host = optarg; break;
        case 'v': cfg.version = optarg; break;
        case 'm': cfg.message = optarg; break;
        case 'e': cfg.error_rate = atof(optarg); break;
        case 'l': cfg.latency_ms = atof(optarg); break;
        case 'j': cfg.jitter_ms = atof(optarg); break;
        case 'r': cfg.ready_delay_s = atof(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (cfg.port <= 0 || cfg.port > 65535 || cfg.error_rate < 0 || cfg.error_rate > 1) {
        usage(stderr);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &cfg.started);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    if (inet_pton(AF_INET, cfg.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "demo-app: bad --host %s\n", cfg.host);
        return 2;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        (uint16_t)cfg.port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "demo-app: cannot listen on %s:%d\n", cfg.host, cfg.port);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "demo-app %s listening on %s:%d\n", cfg.version, cfg.host, cfg.port);
    while (!g_stop)
        pause();
    MHD_stop_daemon(d);
    fprintf(stderr, "demo-app %s stopped after %llu requests\n", cfg.version,
            (unsigned long long)g_requests);
    return 0;
}
