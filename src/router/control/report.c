/* report.c - JSON reports: cumulative stats, runtime status, windowed
 * measurements and latency samples. See report.h. */
#include "router/control/report.h"
#include "router/control/control.h"
#include "router/stats/stats.h"
#include "router/table/table.h"
#include "router/datapath/workers.h"
#include "router/io/loop.h"
#include "util/timeutil.h"
#include "version.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *codes_json(const rt_codes *c)
{
    json_t *o = json_object();
    for (int i = 0; i < RT_CODES_SLOTS; i++)
        if (c->code[i]) {
            char k[8];
            snprintf(k, sizeof k, "%u", c->code[i]);
            json_object_set_new(o, k, json_integer((json_int_t)c->n[i]));
        }
    for (int i = 0; i < 6; i++)
        if (c->other[i]) {
            char k[8];
            if (i == 0)
                snprintf(k, sizeof k, "other");
            else
                snprintf(k, sizeof k, "%dxx", i);
            json_object_set_new(o, k, json_integer((json_int_t)c->other[i]));
        }
    return o;
}

static uint64_t class_count(const rt_codes *c, int cls)
{
    uint64_t n = c->other[cls];
    for (int i = 0; i < RT_CODES_SLOTS; i++)
        if (c->code[i] / 100 == cls)
            n += c->n[i];
    return n;
}

static double round3(double v) { return round(v * 1000.0) / 1000.0; }

/* {"boundsMs": [upper bounds], "counts": [one per bound, then +Inf]} */
static json_t *histogram_json(const double *bounds_ms, size_t nb, const uint64_t *counts)
{
    json_t *b = json_array(), *c = json_array();
    for (size_t i = 0; i < nb; i++) {
        json_array_append_new(b, json_real(bounds_ms[i]));
        json_array_append_new(c, json_integer((json_int_t)counts[i]));
    }
    json_array_append_new(c, json_integer((json_int_t)counts[nb]));
    return json_pack("{s:o,s:o}", "boundsMs", b, "counts", c);
}

/* ---- stats ---- */

typedef struct stats_ctx { json_t *routes; } stats_ctx;

static json_t *route_entry(json_t *routes, const char *name)
{
    json_t *r = json_object_get(routes, name);
    if (!r) {
        r = json_pack("{s:s,s:{}}", "name", name, "groups");
        json_object_set_new(routes, name, r);
    }
    return r;
}

static json_t *group_entry(json_t *routes, const char *route, const char *group)
{
    json_t *groups = json_object_get(route_entry(routes, route), "groups");
    json_t *g = json_object_get(groups, group);
    if (!g) {
        g = json_pack("{s:[]}", "backends");
        json_object_set_new(groups, group, g);
    }
    return g;
}

static void add_gstats(void *ctx, rt_gstats *g)
{
    stats_ctx *sc = ctx;
    rt_gstats_sum s;
    rt_gstats_sum_of(g, &s);
    json_t *e = group_entry(sc->routes, g->route, g->group);
    uint64_t fivexx = class_count(&s.codes, 5);
    json_object_set_new(e, "requests", json_integer((json_int_t)s.rq_total));
    json_object_set_new(e, "codes", codes_json(&s.codes));
    json_object_set_new(e, "errors5xx", json_integer((json_int_t)fivexx));
    json_object_set_new(e, "noBackend", json_integer((json_int_t)s.no_backend));
    json_object_set_new(e, "active", json_integer(s.rq_active));
    json_object_set_new(e, "latencyMeanMs",
                        s.rq_total ? json_real(round3(s.sum_us / 1000.0 / s.rq_total)) : json_null());
    json_object_set_new(e, "retired", json_boolean(atomic_load(&g->refs) <= 1));
    double ms[RT_SEC_NB];
    for (int i = 0; i < RT_SEC_NB; i++)
        ms[i] = rt_sec_bounds[i] * 1000.0;
    json_object_set_new(e, "latencyHistogram", histogram_json(ms, RT_SEC_NB, s.hist));
}

static const char *health_of(const rt_endpoint *e, int64_t now_mono)
{
    if (!atomic_load(&e->check_ok))
        return "unhealthy";
    if (atomic_load(&e->ejected_until) > now_mono)
        return "ejected";
    return "up";
}

static void add_bstats(void *ctx, rt_bstats *b)
{
    stats_ctx *sc = ctx;
    rt_bstats_sum s;
    rt_bstats_sum_of(b, &s);
    rt_ep_sum es;
    rt_endpoint_sum_of(b->ep, &es);
    json_t *e = group_entry(sc->routes, b->route, b->group);
    json_t *be = json_pack(
        "{s:s,s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "address",
        b->backend, "podName", b->pod, "namespace", b->ns, "requests", (json_int_t)s.rq_total,
        "codes", codes_json(&s.codes), "active", (json_int_t)s.rq_active, "connectFailures",
        (json_int_t)s.connect_fail, "retries", (json_int_t)s.retries, "timeouts",
        (json_int_t)s.timeouts, "resets", (json_int_t)s.resets, "bytesReceived",
        (json_int_t)s.bytes_rx, "bytesSent", (json_int_t)s.bytes_tx, "connectionsActive",
        (json_int_t)es.cx_active, "connectionsIdle", (json_int_t)es.idle, "health",
        health_of(b->ep, cd_mono_ms()), "retired", atomic_load(&b->refs) <= 1);
    json_object_set_new(be, "latencyMeanMs",
                        s.rq_total ? json_real(round3(s.sum_us / 1000.0 / s.rq_total)) : json_null());
    json_object_set_new(be, "latencyHistogram",
                        histogram_json(rt_envoy_bounds_ms, RT_ENVOY_NB, s.hist));
    json_array_append_new(json_object_get(e, "backends"), be);
}

json_t *rt_report_stats(void)
{
    stats_ctx sc = {json_object()};
    rt_registry_each_gstats(add_gstats, &sc);
    rt_registry_each_bstats(add_bstats, &sc);
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(sc.routes, k, v)
        json_array_append(arr, v);
    json_decref(sc.routes);
    rt_snapshot *s = rt_table_acquire();
    json_t *out = json_pack("{s:I,s:o}", "version", (json_int_t)(s ? s->version : 0), "routes", arr);
    rt_snapshot_release(s);
    return out;
}

/* ---- status ---- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

json_t *rt_report_status(void)
{
    rt_worker_counters wc;
    rt_workers_counters(&wc);
    rt_snapshot *s = rt_table_acquire();
    char started[32];
    cd_rfc3339(rt_rt.started_wall_ms, started);
    json_t *ls = json_array();
    json_t *routes = json_array();
    for (size_t i = 0; s && i < s->nlisteners; i++)
        json_array_append_new(ls, json_pack("{s:s,s:s,s:b}", "name", s->listeners[i]->name,
                                            "address", s->listeners[i]->address, "fromFlags",
                                            s->listeners[i]->from_flags));
    for (size_t i = 0; s && i < s->nroutes; i++) {
        const rt_route *r = &s->routes[i];
        json_t *groups = json_object();
        for (int role = RT_PRIMARY; role <= RT_CANARY; role++) {
            json_t *bes = json_array();
            const rt_group *g = &r->groups[role];
            for (size_t k = 0; k < g->nbackends; k++) {
                const rt_backend *b = &g->backends[k];
                static const char *const states[] = {"up", "drain", "down"};
                json_array_append_new(
                    bes, json_pack("{s:s,s:s,s:s,s:s}", "address", b->address, "podName",
                                   b->pod_name, "state", states[b->state], "health",
                                   b->ep ? health_of(b->ep, cd_mono_ms()) : "unknown"));
            }
            json_object_set_new(groups, rt_role_names[role], bes);
        }
        json_array_append_new(routes, json_pack("{s:s,s:i,s:i,s:b,s:o}", "name", r->name,
                                                "primaryWeight", 100 - r->weight, "canaryWeight",
                                                r->weight, "mirror", r->mirror, "backends", groups));
    }
    json_t *out = json_pack(
        "{s:s,s:i,s:s,s:i,s:I,s:b,s:b,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "version",
        CANARYD_VERSION, "pid", (int)getpid(), "started", started, "workers", rt_rt.workers,
        "configVersion", (json_int_t)(s ? s->version : 0), "draining", rt_rt.draining,
        "tookOver", rt_rt.took_over, "configFile", rt_rt.config_file, "configApplies",
        (json_int_t)rt_rt.applies, "configApplyFailures", (json_int_t)rt_rt.apply_failures,
        "connectionsActive", (json_int_t)wc.clients, "connectionsAccepted",
        (json_int_t)wc.accepted, "parseErrors", (json_int_t)wc.parse_errors, "rssKiB",
        (json_int_t)rss_kib(), "listeners", ls, "routes", routes);
    rt_snapshot_release(s);
    return out;
}

/* ---- measurements ---- */

static json_t *measure_group(rt_gstats *g, uint32_t window_s, uint32_t offset_s,
                             const double *qs, size_t nq, int64_t now_wall_ms)
{
    uint64_t *hist = calloc(RT_LH_N, sizeof *hist);
    if (!hist)
        abort();
    rt_measure m = {.hist = hist};
    /* the window ends with the last complete second, offset_s before it */
    rt_window_measure(&g->win, now_wall_ms / 1000 - 1 - (int64_t)offset_s, window_s, &m);
    json_t *st = json_pack("{s:I,s:I,s:I,s:I,s:I}", "1xx", (json_int_t)m.cls[1], "2xx",
                           (json_int_t)m.cls[2], "3xx", (json_int_t)m.cls[3], "4xx",
                           (json_int_t)m.cls[4], "5xx", (json_int_t)m.cls[5]);
    json_t *lat = json_object();
    if (m.requests) {
        json_object_set_new(lat, "mean", json_real(round3(m.sum_us / 1000.0 / m.requests)));
        json_object_set_new(lat, "max", json_real(round3(m.max_us / 1000.0)));
        for (size_t i = 0; i < nq; i++) {
            char k[32];
            double pct = qs[i] * 100.0;
            if (fabs(pct - round(pct)) < 1e-9)
                snprintf(k, sizeof k, "p%.0f", pct);
            else
                snprintf(k, sizeof k, "p%g", pct);
            double us = rt_lh_quantile(hist, m.requests, qs[i], m.max_us);
            json_object_set_new(lat, k, json_real(round3(us / 1000.0)));
        }
    }
    uint64_t ok = m.requests - m.cls[5];
    json_t *o = json_pack("{s:I,s:f,s:o,s:o,s:o,s:o}", "requests", (json_int_t)m.requests,
                          "rps", round3((double)m.requests / (double)window_s), "status", st,
                          "successRate",
                          m.requests ? json_real(round3(100.0 * (double)ok / m.requests))
                                     : json_null(),
                          "errorRate",
                          m.requests ? json_real(round3(100.0 * (double)m.cls[5] / m.requests))
                                     : json_null(),
                          "latencyMs", lat);
    free(hist);
    return o;
}

/* Seconds of [from, to] the router measured: after it started and within
 * the --window seconds it keeps. */
static int64_t covered_seconds(int64_t from_sec, int64_t to_sec, int64_t now_sec)
{
    int64_t first = rt_rt.started_wall_ms / 1000 + 1;
    int64_t kept = now_sec - (int64_t)rt_stats_window_seconds() + 1;
    if (kept > first)
        first = kept;
    if (from_sec < first)
        from_sec = first;
    return to_sec >= from_sec ? to_sec - from_sec + 1 : 0;
}

json_t *rt_report_measure(const char *route, const char *group, uint32_t window_s,
                          uint32_t offset_s, const double *qs, size_t nq, int64_t now_wall_ms,
                          char *err, size_t errlen)
{
    json_t *groups = json_object();
    for (int role = RT_PRIMARY; role <= RT_MIRROR; role++) {
        const char *gn = rt_role_names[role];
        if (group && strcmp(group, gn))
            continue;
        rt_gstats *g = rt_registry_find_gstats(route, gn);
        if (!g)
            continue;
        json_object_set_new(groups, gn, measure_group(g, window_s, offset_s, qs, nq, now_wall_ms));
        rt_gstats_release(g);
    }
    if (!json_object_size(groups)) {
        json_decref(groups);
        snprintf(err, errlen, "no measurements for route \"%s\"%s%s", route,
                 group ? " group " : "", group ? group : "");
        return NULL;
    }
    char from[32], to[32];
    int64_t end_s = now_wall_ms / 1000 - (int64_t)offset_s;
    cd_rfc3339((end_s - window_s) * 1000, from);
    cd_rfc3339(end_s * 1000, to);
    json_t *o = json_pack("{s:s,s:i,s:s,s:s,s:o}", "route", route, "windowSeconds", (int)window_s,
                          "from", from, "to", to, "groups", groups);
    if (offset_s)
        json_object_set_new(o, "offsetSeconds", json_integer(offset_s));
    json_object_set_new(o, "coveredSeconds",
                        json_integer(covered_seconds(end_s - window_s, end_s - 1,
                                                     now_wall_ms / 1000 - 1)));
    return o;
}

json_t *rt_report_samples(const char *route, const char *group, uint32_t window_s, size_t limit,
                          int64_t now_wall_ms, char *err, size_t errlen)
{
    rt_gstats *g = rt_registry_find_gstats(route, group);
    if (!g) {
        snprintf(err, errlen, "no samples for route \"%s\" group %s", route, group);
        return NULL;
    }
    rt_sample *v = NULL;
    size_t n = rt_window_samples(&g->win, now_wall_ms - (int64_t)window_s * 1000, limit, &v);
    rt_gstats_release(g);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("[I,f,i]", (json_int_t)v[i].ts_ms,
                                             v[i].latency_us / 1000.0, (int)v[i].status));
    free(v);
    return json_pack("{s:s,s:s,s:i,s:I,s:[sss],s:o}", "route", route, "group", group,
                     "windowSeconds", (int)window_s, "count", (json_int_t)n, "fields",
                     "timestampMs", "latencyMs", "status", "samples", arr);
}
