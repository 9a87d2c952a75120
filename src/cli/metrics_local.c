/* metrics_local.c - see metrics_local.h. */
#include "cli/metrics_local.h"
#include "engine/engine.h"
#include "local/local.h"
#include "local/router_client.h"
#include "util/buf.h"
#include "util/duration.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* On canaryd local (a LocalWorkload target) without metricsServer, the
 * builtin request-success-rate and request-duration are the router's own
 * measurements of the canary group (docs/local.md#metrics), as
 * ports_local.c answers them: no Prometheus, no query. */
bool cd_local_router_metric(const cd_object *obj, const cd_metric *m)
{
    const cd_canary_spec *s = &obj->spec.canary;
    cd_metric_kind kind;
    return s->target_ref.kind && !strcmp(s->target_ref.kind, "LocalWorkload") &&
           (!s->metrics_server || !*s->metrics_server) && cd_engine_metric_kind(m, &kind) &&
           (kind == CD_METRIC_KIND_SUCCESS_RATE || kind == CD_METRIC_KIND_DURATION);
}

/* "unix:STATE/router.sock": --state-dir, else the default state directory
 * of the manifest's directory (DIR/.canaryd). */
void cd_local_router_admin(const char *state_dir, const cd_object *obj, char *out, size_t n)
{
    if (state_dir) {
        snprintf(out, n, "unix:%s/router.sock", state_dir);
        return;
    }
    const char *file = obj->file ? obj->file : "./x";
    const char *slash = strrchr(file, '/');
    int len = slash ? (int)(slash - file) : 1;
    snprintf(out, n, "unix:%.*s/.canaryd/router.sock", len, slash ? file : ".");
}

static unsigned local_window_s(const cd_metric *m)
{
    return m->interval_ms >= 1000 ? (unsigned)(m->interval_ms / 1000) : 60;
}

/* What the router is asked, in words (the local platform has no query). */
char *cd_local_router_query(const cd_object *obj, const cd_metric *m)
{
    char route[64], w[32];
    lc_route_name(obj->meta.name, obj->meta.namespace_, route);
    cd_buf b = CD_BUF_INIT;
    bool rate = !strcmp(m->name, "request-success-rate");
    cd_buf_printf(&b, "%s of route %s, group canary, over the last %s (the router's own "
                      "measurements)",
                  rate ? "the percentage of requests not answered 5xx"
                       : "the 99th percentile of the response time in ms",
                  route, cd_duration_format_ms((int64_t)local_window_s(m) * 1000, w, sizeof w));
    return cd_buf_steal(&b);
}

static cd_router_client *local_client(cd_local_metrics *lp, cd_err *err)
{
    const char *sock = lp->admin + 5;
    if (access(sock, F_OK) != 0) {
        snprintf(err->msg, sizeof err->msg,
                 "canaryd local's router is not running here (no %.300s): start canaryd local "
                 "--dir on the manifests' directory, or pass --state-dir", sock);
        return NULL;
    }
    cd_err e = {{0}};
    cd_router_client *c = cd_router_client_new(lp->admin, lp->timeout_ms, &e);
    if (!c)
        snprintf(err->msg, sizeof err->msg, "Router query failed: %.480s", e.msg);
    return c;
}

static cd_metric_rc router_failed(const cd_local_metrics *lp, cd_err *err, const cd_err *e)
{
    if (strstr(e->msg, "Couldn't connect"))   /* a socket left by a router that stopped */
        snprintf(err->msg, sizeof err->msg,
                 "canaryd local's router is not running here (nothing listens on %.300s): "
                 "start canaryd local --dir on the manifests' directory, or pass --state-dir",
                 lp->admin + 5);
    else
        snprintf(err->msg, sizeof err->msg, "Router query failed: %.480s", e->msg);
    return CD_METRIC_ERROR;
}

static bool measure(cd_local_metrics *lp, const cd_metric *m, const char *which,
                    cd_router_measurement *meas, cd_err *err)
{
    cd_router_client *c = local_client(lp, err);
    if (!c)
        return false;
    cd_err e = {{0}};
    bool ok = cd_router_measure(c, lp->route, which, local_window_s(m), meas, &e);
    cd_router_client_free(c);
    if (!ok)
        router_failed(lp, err, &e);
    return ok;
}

static cd_metric_rc lp_query(void *ctx, const cd_canary_ref *ref, const cd_metric *m, double *v,
                             cd_err *err)
{
    cd_local_metrics *lp = ctx;
    if (!cd_local_router_metric(lp->obj, m))
        return lp->inner.query(lp->inner.ctx, ref, m, v, err);
    cd_router_measurement meas;
    if (!measure(lp, m, "canary", &meas, err))
        return CD_METRIC_ERROR;
    if (!meas.has_data) {
        snprintf(err->msg, sizeof err->msg,
                 "no values found: the canary group had no requests in the window");
        return CD_METRIC_NO_DATA;
    }
    *v = !strcmp(m->name, "request-success-rate") ? meas.success_rate : floor(meas.p99_ms);
    return CD_METRIC_OK;
}

static cd_rc lp_check(void *ctx, const cd_canary_ref *ref, cd_err *err)
{
    cd_local_metrics *lp = ctx;
    bool remote = false;
    for (size_t i = 0; i < ref->spec->analysis.n_metrics; i++)
        remote |= !cd_local_router_metric(lp->obj, &ref->spec->analysis.metrics[i]);
    if (remote || !lp->obj->spec.canary.target_ref.kind ||
        strcmp(lp->obj->spec.canary.target_ref.kind, "LocalWorkload"))
        return lp->inner.check_providers(lp->inner.ctx, ref, err);
    cd_router_client *c = local_client(lp, err);
    cd_router_client_free(c);
    return c ? CD_OK : CD_ERROR;
}

static cd_metric_rc lp_samples(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                               const char *which, double **values, size_t *n, cd_err *err)
{
    cd_local_metrics *lp = ctx;
    if (!cd_local_router_metric(lp->obj, m)) {
        if (!lp->inner.samples) {
            snprintf(err->msg, sizeof err->msg,
                     "the metrics provider gives no samples to the statistical judge");
            return CD_METRIC_ERROR;
        }
        return lp->inner.samples(lp->inner.ctx, ref, m, which, values, n, err);
    }
    free(lp->samples);
    lp->samples = NULL;
    *n = 0;
    cd_router_client *c = local_client(lp, err);
    if (!c)
        return CD_METRIC_ERROR;
    cd_err e = {{0}};
    bool ok = cd_router_samples(c, lp->route, which, local_window_s(m), 20000, &lp->samples, n,
                                &e);
    cd_router_client_free(c);
    if (!ok)
        return router_failed(lp, err, &e);
    *values = lp->samples;
    return *n ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

static cd_metric_rc lp_counts(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                              const char *which, uint64_t *total, uint64_t *failed, cd_err *err)
{
    cd_local_metrics *lp = ctx;
    if (!cd_local_router_metric(lp->obj, m)) {
        if (!lp->inner.counts) {
            snprintf(err->msg, sizeof err->msg,
                     "the metrics provider gives no counts to the statistical judge");
            return CD_METRIC_ERROR;
        }
        return lp->inner.counts(lp->inner.ctx, ref, m, which, total, failed, err);
    }
    cd_router_measurement meas;
    if (!measure(lp, m, which, &meas, err))
        return CD_METRIC_ERROR;
    *total = meas.requests;
    *failed = meas.errors;
    return meas.requests ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

static cd_metric_rc lp_history(void *ctx, const cd_canary_ref *ref, const cd_metric *m,
                               int64_t ago_ms, int64_t span_ms, cd_metric_history *out,
                               cd_err *err)
{
    cd_local_metrics *lp = ctx;
    memset(out, 0, sizeof *out);
    if (!cd_local_router_metric(lp->obj, m)) {
        if (!lp->inner.history) {
            snprintf(err->msg, sizeof err->msg, "the metrics provider keeps no history");
            return CD_METRIC_ERROR;
        }
        return lp->inner.history(lp->inner.ctx, ref, m, ago_ms, span_ms, out, err);
    }
    cd_router_client *c = local_client(lp, err);
    if (!c)
        return CD_METRIC_ERROR;
    unsigned span = span_ms >= 1000 ? (unsigned)(span_ms / 1000) : 1;
    unsigned ago = ago_ms > 0 ? (unsigned)(ago_ms / 1000) : 0;
    span = span > 86400 ? 86400 : span;
    ago = ago > 86400 ? 86400 : ago;
    cd_err e = {{0}};
    cd_router_measurement meas;
    unsigned covered = 0;
    bool ok = cd_router_measure_at(c, lp->route, "primary", span, ago, &meas, &covered, &e);
    cd_router_client_free(c);
    if (!ok)
        return router_failed(lp, err, &e);
    out->requests = meas.requests;
    out->failed = meas.errors;
    out->p50 = meas.p50_ms;
    out->p99 = meas.p99_ms;
    out->covered_ms = (int64_t)covered * 1000;
    return meas.requests ? CD_METRIC_OK : CD_METRIC_NO_DATA;
}

cd_metrics_port cd_local_metrics_port(cd_local_metrics *lp, const char *state_dir, long timeout_ms,
                                      const cd_object *obj, cd_metrics_port inner)
{
    memset(lp, 0, sizeof *lp);
    lp->obj = obj;
    lp->inner = inner;
    lp->timeout_ms = timeout_ms;
    cd_local_router_admin(state_dir, obj, lp->admin, sizeof lp->admin);
    lc_route_name(obj->meta.name, obj->meta.namespace_, lp->route);
    return (cd_metrics_port){lp, lp_query, lp_check, lp_samples, lp_counts, lp_history};
}

/* A judged builtin metric of a LocalWorkload canary, in words. */
void cd_local_print_judged(const char *key, const cd_metric *m, const cd_local_metrics *lp)
{
    char w[32];
    cd_duration_format_ms((int64_t)local_window_s(m) * 1000, w, sizeof w);
    printf("# %s %s (judged; router %s)\n", key, m->name, lp->admin);
    printf("the router's %s of route %s, groups canary and primary, over the last %s\n\n",
           !strcmp(m->name, "request-success-rate") ? "request and 5xx counts"
                                                    : "per-request response times",
           lp->route, w);
}

void cd_local_metrics_release(cd_local_metrics *lp)
{
    cd_metrics_port_release(&lp->inner);
    free(lp->samples);
    lp->samples = NULL;
}
