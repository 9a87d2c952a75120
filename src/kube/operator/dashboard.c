/* dashboard.c - `canaryd kube -dashboard`: the web dashboard's pages
 * (src/web, docs/dashboard.md) on the HTTP port, read-only: the list of
 * the Canaries in the informer's cache and one page per Canary (status,
 * thresholds, the judge's verdicts, its weights over time since this
 * operator started: controller.c's cdk_history_*). No buttons, no form, nothing that
 * changes state: the port has no authentication (Flagger's :8080), so the
 * pages only show what the Canaries' status already says, and the
 * endpoint serves them only for this machine's names (kubectl
 * port-forward), never for another origin (telemetry/endpoint.c). Reads the
 * cache only; never calls the API server. */
#include "kube/operator/operator.h"
#include "util/timeutil.h"
#include "web/dashboard.h"
#include <stdio.h>
#include <string.h>

#define UI_REFRESH_S 5

static const char *const page_headers[] = {
    "Content-Security-Policy", CD_WEB_CSP,
    "X-Content-Type-Options", "nosniff",
    "X-Frame-Options", "DENY",
    "Referrer-Policy", "no-referrer",
    "Cache-Control", "no-store",
    NULL,
};

static const char *sval(const json_t *o, const char *path0, const char *path1)
{
    const json_t *v = json_object_get(o, path0);
    if (path1)
        v = json_object_get(v, path1);
    return json_string_value(v) ? json_string_value(v) : "";
}

static json_int_t ival(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* A Canary object as the API's summary (detail adds the analysis, the
 * metrics' thresholds and the status). */
static json_t *canary_view(const json_t *obj, bool detail)
{
    const json_t *st = json_object_get(obj, "status");
    json_int_t cw = ival(st, "canaryWeight");
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "name", sval(obj, "metadata", "name"),
                          "namespace", sval(obj, "metadata", "namespace"), "phase",
                          sval(obj, "status", "phase"), "canaryWeight", cw, "primaryWeight",
                          100 - cw, "failedChecks", ival(st, "failedChecks"),
                          "lastTransitionTime", sval(obj, "status", "lastTransitionTime"));
    if (!detail)
        return j;
    const json_t *an = json_object_get(json_object_get(obj, "spec"), "analysis");
    json_object_set_new(j, "analysis",
                        json_pack("{s:s,s:I,s:I,s:I}", "interval", sval(an, "interval", NULL),
                                  "threshold", ival(an, "threshold"), "stepWeight",
                                  ival(an, "stepWeight"), "maxWeight", ival(an, "maxWeight")));
    json_t *ms = json_array();
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(an, "metrics"), i, m) {
        json_t *mj = json_pack("{s:s}", "name", sval(m, "name", NULL));
        const json_t *tr = json_object_get(m, "thresholdRange");
        if (json_is_number(json_object_get(tr, "min")))
            json_object_set(mj, "min", json_object_get(tr, "min"));
        if (json_is_number(json_object_get(tr, "max")))
            json_object_set(mj, "max", json_object_get(tr, "max"));
        json_array_append_new(ms, mj);
    }
    json_object_set_new(j, "metrics", ms);
    if (st)
        json_object_set(j, "status", (json_t *)st);
    return j;
}

static void html_page(cd_telemetry_page *out, unsigned status)
{
    out->status = status;
    out->type = "text/html; charset=utf-8";
    out->headers = page_headers;
}

void cdk_dashboard_page(void *ctx, const char *url, cd_telemetry_page *out)
{
    cdk_operator *op = ctx;
    cd_web_page o = {.base = "/ui", .refresh_s = UI_REFRESH_S};
    const char *rest = url + 3;
    char ns[256], name[256], extra;
    if (!*rest) {
        out->status = 303;
        out->location = "/ui/";
        out->headers = page_headers;
    } else if (!strncmp(rest, "/static/", 8)) {
        const char *data, *type;
        size_t len;
        if (cd_web_static(rest + 8, &data, &len, &type)) {
            out->status = 200;
            out->type = type;
            out->headers = page_headers;
            cd_buf_append(&out->body, data, len);
        }
    } else if (!strcmp(rest, "/")) {
        pthread_mutex_lock(&op->dash_mu);
        json_t *all = op->dash_canaries ? cd_informer_list(op->dash_canaries) : json_array();
        pthread_mutex_unlock(&op->dash_mu);
        json_t *items = json_array();
        size_t i;
        const json_t *obj;
        json_array_foreach(all, i, obj) json_array_append_new(items, canary_view(obj, false));
        json_decref(all);
        cd_web_list(&out->body, items, &o);
        json_decref(items);
        html_page(out, 200);
    } else if (sscanf(rest, "/canaries/%255[^/]/%255[^/]%c", ns, name, &extra) == 2) {
        pthread_mutex_lock(&op->dash_mu);
        json_t *obj = op->dash_canaries ? cd_informer_get(op->dash_canaries, ns, name) : NULL;
        pthread_mutex_unlock(&op->dash_mu);
        if (obj) {
            json_t *d = canary_view(obj, true);
            json_t *h = cdk_history_json(op, ns, name);
            o.now_ms = cd_wall_ms();   /* the last weight holds until now */
            cd_web_canary(&out->body, d, h, &o);
            json_decref(d);
            json_decref(h);
            html_page(out, 200);
        } else {
            cd_web_message(&out->body, &o, "Not found", "There is no such canary.");
            html_page(out, 404);
        }
        json_decref(obj);
    }
}
