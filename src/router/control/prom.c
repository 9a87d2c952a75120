/* prom.c - the Prometheus text exposition on the admin listener:
 *  - Envoy-compatible per-backend series (envoy_cluster_upstream_rq with
 *    envoy_response_code, envoy_cluster_upstream_rq_time histogram with le
 *    in milliseconds, ...) labelled with kubernetes_namespace and
 *    kubernetes_pod_name, so that Flagger's App Mesh builtin queries work
 *    on a Prometheus scraping the router;
 *  - canaryd_router_* series per route group and for the process.
 * Envoy's counters have no _total suffix; they are declared untyped so
 * that `promtool check metrics` accepts the page (rate() is unaffected).
 * Reads shared counters only. */
#include "router/control/control.h"
#include "router/io/loop.h"
#include "router/control/report.h"
#include "router/stats/stats.h"
#include "router/table/table.h"
#include "router/datapath/workers.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct pctx {
    cd_buf *out;
    int family;
    int64_t now;
} pctx;

enum {
    F_RQ, F_RQ_TOTAL, F_RQ_TIME, F_RQ_ACTIVE, F_RETRY, F_TIMEOUT, F_CX_FAIL, F_CX_ACTIVE,
    F_RX, F_TX, F_UP, F_NFAM
};

static const struct { const char *name, *type, *help; } fams[F_NFAM] = {
    {"envoy_cluster_upstream_rq", "untyped",
     "Requests to a backend by response code (Envoy-compatible counter)."},
    {"envoy_cluster_upstream_rq_total", "untyped",
     "Requests to a backend (Envoy-compatible counter)."},
    {"envoy_cluster_upstream_rq_time", "histogram",
     "Time from request to complete response, in milliseconds (Envoy-compatible)."},
    {"envoy_cluster_upstream_rq_active", "gauge", "Requests in flight to a backend."},
    {"envoy_cluster_upstream_rq_retry", "untyped", "Retries after failed attempts on a backend."},
    {"envoy_cluster_upstream_rq_timeout", "untyped", "Requests to a backend that timed out."},
    {"envoy_cluster_upstream_cx_connect_fail", "untyped", "Failed connections to a backend."},
    {"envoy_cluster_upstream_cx_active", "gauge", "Open connections to a backend address."},
    {"canaryd_router_backend_received_bytes_total", "counter", "Bytes received from a backend."},
    {"canaryd_router_backend_sent_bytes_total", "counter", "Bytes sent to a backend."},
    {"canaryd_router_backend_up", "gauge",
     "1 when a backend may receive requests (not ejected, health checks passing)."},
};

static void fmt_double(cd_buf *b, double v)
{
    char s[64];
    snprintf(s, sizeof s, "%.17g", v);
    cd_buf_puts(b, s);
}

static void bstats_family(void *ctx, rt_bstats *b)
{
    pctx *p = ctx;
    cd_buf *o = p->out;
    rt_bstats_sum s;
    rt_bstats_sum_of(b, &s);
    const char *n = fams[p->family].name;
    switch (p->family) {
    case F_RQ:
        for (int i = 0; i < RT_CODES_SLOTS; i++)
            if (s.codes.code[i])
                cd_buf_printf(o, "%s{%s,envoy_response_code=\"%u\"} %llu\n", n, b->labels,
                              s.codes.code[i], (unsigned long long)s.codes.n[i]);
        for (int i = 0; i < 6; i++)
            if (s.codes.other[i])
                cd_buf_printf(o, "%s{%s,envoy_response_code=\"%s\"} %llu\n", n, b->labels,
                              i ? (const char *[]){"", "1xx", "2xx", "3xx", "4xx", "5xx"}[i] : "0",
                              (unsigned long long)s.codes.other[i]);
        break;
    case F_RQ_TOTAL:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.rq_total);
        break;
    case F_RQ_TIME: {
        uint64_t cum = 0;
        for (int i = 0; i < RT_ENVOY_NB; i++) {
            cum += s.hist[i];
            cd_buf_printf(o, "%s_bucket{%s,le=\"", n, b->labels);
            fmt_double(o, rt_envoy_bounds_ms[i]);
            cd_buf_printf(o, "\"} %llu\n", (unsigned long long)cum);
        }
        cum += s.hist[RT_ENVOY_NB];
        cd_buf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", n, b->labels, (unsigned long long)cum);
        cd_buf_printf(o, "%s_sum{%s} ", n, b->labels);
        fmt_double(o, s.sum_us / 1000.0);
        cd_buf_printf(o, "\n%s_count{%s} %llu\n", n, b->labels, (unsigned long long)cum);
        break;
    }
    case F_RQ_ACTIVE:
        cd_buf_printf(o, "%s{%s} %lld\n", n, b->labels, (long long)s.rq_active);
        break;
    case F_RETRY:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.retries);
        break;
    case F_TIMEOUT:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.timeouts);
        break;
    case F_CX_FAIL:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.connect_fail);
        break;
    case F_CX_ACTIVE: {
        rt_ep_sum es;
        rt_endpoint_sum_of(b->ep, &es);
        cd_buf_printf(o, "%s{%s} %lld\n", n, b->labels, (long long)es.cx_active);
        break;
    }
    case F_RX:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.bytes_rx);
        break;
    case F_TX:
        cd_buf_printf(o, "%s{%s} %llu\n", n, b->labels, (unsigned long long)s.bytes_tx);
        break;
    case F_UP:
        cd_buf_printf(o, "%s{%s} %d\n", n, b->labels, rt_endpoint_available(b->ep, p->now) ? 1 : 0);
        break;
    }
}

static void header(cd_buf *o, const char *name, const char *type, const char *help)
{
    cd_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- route groups ---- */

enum { G_REQ, G_DUR, G_NOBE, G_ACTIVE, G_NFAM };

static void gstats_family(void *ctx, rt_gstats *g)
{
    pctx *p = ctx;
    cd_buf *o = p->out;
    rt_gstats_sum s;
    rt_gstats_sum_of(g, &s);
    char lbl[512];
    snprintf(lbl, sizeof lbl, "route=\"%s\",group=\"%s\"", g->route, g->group);
    switch (p->family) {
    case G_REQ:
        for (int i = 0; i < RT_CODES_SLOTS; i++)
            if (s.codes.code[i])
                cd_buf_printf(o, "canaryd_router_requests_total{%s,code=\"%u\"} %llu\n", lbl,
                              s.codes.code[i], (unsigned long long)s.codes.n[i]);
        for (int i = 0; i < 6; i++)
            if (s.codes.other[i])
                cd_buf_printf(o, "canaryd_router_requests_total{%s,code=\"%dxx\"} %llu\n", lbl,
                              i, (unsigned long long)s.codes.other[i]);
        break;
    case G_DUR: {
        uint64_t cum = 0;
        for (int i = 0; i < RT_SEC_NB; i++) {
            cum += s.hist[i];
            cd_buf_printf(o, "canaryd_router_request_duration_seconds_bucket{%s,le=\"", lbl);
            fmt_double(o, rt_sec_bounds[i]);
            cd_buf_printf(o, "\"} %llu\n", (unsigned long long)cum);
        }
        cum += s.hist[RT_SEC_NB];
        cd_buf_printf(o, "canaryd_router_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
                      lbl, (unsigned long long)cum);
        cd_buf_printf(o, "canaryd_router_request_duration_seconds_sum{%s} ", lbl);
        fmt_double(o, s.sum_us / 1e6);
        cd_buf_printf(o, "\ncanaryd_router_request_duration_seconds_count{%s} %llu\n", lbl,
                      (unsigned long long)cum);
        break;
    }
    case G_NOBE:
        cd_buf_printf(o, "canaryd_router_no_backend_total{%s} %llu\n", lbl,
                      (unsigned long long)s.no_backend);
        break;
    case G_ACTIVE:
        cd_buf_printf(o, "canaryd_router_requests_active{%s} %lld\n", lbl, (long long)s.rq_active);
        break;
    }
}

/* ---- process ---- */

static void process_metrics(cd_buf *o)
{
    long rss = 0, vsz = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &vsz, &rss) != 2)
            rss = vsz = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    header(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    cd_buf_printf(o, "process_resident_memory_bytes %ld\n", rss * page);
    header(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    cd_buf_printf(o, "process_virtual_memory_bytes %ld\n", vsz * page);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    header(o, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
    cd_buf_printf(o, "process_cpu_seconds_total ");
    fmt_double(o, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    cd_buf_putc(o, '\n');
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            fds++;
        closedir(d);
        fds -= 3;   /* ".", ".." and the directory itself */
    }
    header(o, "process_open_fds", "gauge", "Open file descriptors.");
    cd_buf_printf(o, "process_open_fds %d\n", fds);
    header(o, "process_start_time_seconds", "gauge", "Start time since the Unix epoch, seconds.");
    cd_buf_printf(o, "process_start_time_seconds %lld\n", (long long)(rt_rt.started_wall_ms / 1000));
}

void rt_prom_write(cd_buf *o)
{
    pctx p = {.out = o, .now = cd_mono_ms()};
    for (p.family = 0; p.family < F_NFAM; p.family++) {
        header(o, fams[p.family].name, fams[p.family].type, fams[p.family].help);
        rt_registry_each_bstats(bstats_family, &p);
    }
    static const struct { const char *name, *type, *help; } gf[G_NFAM] = {
        {"canaryd_router_requests_total", "counter", "Requests of a route group by status code."},
        {"canaryd_router_request_duration_seconds", "histogram",
         "Request durations of a route group, in seconds."},
        {"canaryd_router_no_backend_total", "counter",
         "Requests answered 503 because no backend of the group was available."},
        {"canaryd_router_requests_active", "gauge", "Requests in flight of a route group."},
    };
    for (p.family = 0; p.family < G_NFAM; p.family++) {
        header(o, gf[p.family].name, gf[p.family].type, gf[p.family].help);
        rt_registry_each_gstats(gstats_family, &p);
    }
    rt_snapshot *s = rt_table_acquire();
    header(o, "canaryd_router_route_weight", "gauge", "Traffic weight of a route group (0-100).");
    for (size_t i = 0; s && i < s->nroutes; i++) {
        cd_buf_printf(o, "canaryd_router_route_weight{route=\"%s\",group=\"primary\"} %d\n",
                      s->routes[i].name, 100 - s->routes[i].weight);
        cd_buf_printf(o, "canaryd_router_route_weight{route=\"%s\",group=\"canary\"} %d\n",
                      s->routes[i].name, s->routes[i].weight);
    }
    header(o, "canaryd_router_route_mirror", "gauge", "1 when a route mirrors to its canary.");
    for (size_t i = 0; s && i < s->nroutes; i++)
        cd_buf_printf(o, "canaryd_router_route_mirror{route=\"%s\"} %d\n", s->routes[i].name,
                      s->routes[i].mirror ? 1 : 0);
    header(o, "canaryd_router_config_version", "gauge", "Version of the applied configuration.");
    cd_buf_printf(o, "canaryd_router_config_version %llu\n",
                  (unsigned long long)(s ? s->version : 0));
    rt_snapshot_release(s);
    header(o, "canaryd_router_config_applies_total", "counter", "Configurations applied.");
    cd_buf_printf(o, "canaryd_router_config_applies_total %llu\n", (unsigned long long)rt_rt.applies);
    header(o, "canaryd_router_config_apply_failures_total", "counter",
           "Configurations rejected (invalid, or a listener could not be bound).");
    cd_buf_printf(o, "canaryd_router_config_apply_failures_total %llu\n",
                  (unsigned long long)rt_rt.apply_failures);
    rt_worker_counters wc;
    rt_workers_counters(&wc);
    header(o, "canaryd_router_connections_active", "gauge", "Open client connections.");
    cd_buf_printf(o, "canaryd_router_connections_active %llu\n", (unsigned long long)wc.clients);
    header(o, "canaryd_router_connections_accepted_total", "counter", "Accepted client connections.");
    cd_buf_printf(o, "canaryd_router_connections_accepted_total %llu\n",
                  (unsigned long long)wc.accepted);
    header(o, "canaryd_router_request_parse_errors_total", "counter",
           "Malformed or oversized requests (answered 400, 431, 505).");
    cd_buf_printf(o, "canaryd_router_request_parse_errors_total %llu\n",
                  (unsigned long long)wc.parse_errors);
    header(o, "canaryd_router_client_aborts_total", "counter",
           "Requests abandoned because the client went away or stalled.");
    cd_buf_printf(o, "canaryd_router_client_aborts_total %llu\n",
                  (unsigned long long)wc.client_aborts);
    process_metrics(o);
}
