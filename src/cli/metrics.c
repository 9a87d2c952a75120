/* metrics.c - `canaryctl metrics -f PATH...`: renders every analysis metric
 * of the Canaries given (builtin, inline query, MetricTemplate) exactly as
 * canaryd sends it, runs it against its provider and prints the value and
 * the verdict, with Flagger's event texts. A judged metric shows the
 * canary's and the primary's queries and the statistical judge's verdict
 * on the window that ends now (what a first tick would conclude).
 * Changes nothing. Exit 0 when every metric passes (or the judge waits),
 * 1 otherwise, 2 on a usage or manifest error. */
#include "engine/engine.h"
#include "analysis/metrics_port.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "cli/metrics_local.h"
#include "judge/judge.h"
#include "util/redact.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include "lookup/secrets.h"
#include "lookup/store.h"
#include "model/object.h"
#include "util/log.h"
#include "util/flags.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opts {
    const char *ns, *only, *server, *mesh, *secrets_dir, *output, *state_dir;
    int64_t timeout_ms;
    bool render_only, check_providers;
} opts;

static const char *verdict_of(cd_metric_rc rc, bool passed)
{
    if (rc == CD_METRIC_NO_DATA)
        return "no-data";
    if (rc == CD_METRIC_ERROR)
        return "error";
    return passed ? "pass" : "fail";
}

static const char *const sides[2] = {"canary", "primary"};

/* "errors over 1m" or "latency, per-step values every 15s over 1m" */
static void judged_what(const cd_metric *m, const cd_judged_description *d, char *out, size_t n)
{
    char w[32], s[32];
    cd_duration_format_ms(d->window_ms, w, sizeof w);
    if (d->latency)
        snprintf(out, n, "latency, per-step values every %s over %s",
                 cd_duration_format_ms(d->step_ms, s, sizeof s), w);
    else
        snprintf(out, n, "errors, requests and failed requests over %s", w);
}

/* The queries of both sides; false with err when the metric cannot be
 * judged from its provider. */
static bool describe_sides(const cd_metrics_config *cfg, const cd_canary_ref *ref,
                           const cd_metric *m, cd_judged_description d[2], cd_err *err)
{
    memset(d, 0, 2 * sizeof *d);
    if (!cd_metrics_describe_judged(cfg, ref, m, sides[0], &d[0], err))
        return false;
    if (!cd_metrics_describe_judged(cfg, ref, m, sides[1], &d[1], err)) {
        cd_judged_description_free(&d[0]);
        return false;
    }
    return true;
}

/* Addresses are shown, never their credentials (util/redact.h). */
static void redact_address(char *address, size_t n)
{
    char *raw = strdup(address);
    if (raw)
        cd_redact_url(raw, 0, address, n);
    else
        snprintf(address, n, "%s", CD_REDACTED);
    free(raw);
}

static void print_judged_queries(const char *key, const cd_metric *m,
                                 const cd_judged_description d[2])
{
    char what[128];
    judged_what(m, &d[0], what, sizeof what);
    printf("# %s %s (judged: %s; %s %s)\n", key, m->name, what, d[0].provider, d[0].address);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 2 && d[s].queries[i]; i++)
            printf("## %s%s\n%s\n", sides[s],
                   d[s].latency ? " series" : i ? " failed requests" : " requests",
                   d[s].queries[i] + strspn(d[s].queries[i], "\n"));
    printf("\n");
}

static json_t *judged_queries_json(const cd_judged_description d[2])
{
    json_t *q = json_object();
    for (int s = 0; s < 2; s++) {
        json_t *list = json_array();
        for (int i = 0; i < 2 && d[s].queries[i]; i++)
            json_array_append_new(list, json_string(d[s].queries[i]));
        json_object_set_new(q, sides[s], list);
    }
    return q;
}

/* A judged metric: its queries, and the judge's verdict on one window.
 * Returns whether it passes (a wait counts as passing, as in the engine). */
static bool run_judged(const opts *o, const cd_metrics_config *cfg, const cd_metrics_port *port,
                       const cd_canary_ref *ref, const char *key, const cd_metric *m, json_t *row,
                       cd_table *table, bool local)
{
    cd_judged_description d[2];
    cd_err err = {""};
    /* local: the router's measurements, no queries (only run here) */
    bool described = !local && describe_sides(cfg, ref, m, d, &err);
    if (described)
        for (int i = 0; i < 2; i++)
            redact_address(d[i].address, sizeof d[i].address);
    json_object_set_new(row, "test", json_string(cd_judge_test_name(m->judge->test)));
    if (described) {
        json_object_set_new(row, "provider", json_string(d[0].provider));
        json_object_set_new(row, "address", json_string(d[0].address));
        json_object_set_new(row, "queries", judged_queries_json(d));
        if (d[0].latency)
            json_object_set_new(row, "stepSeconds", json_real(d[0].step_ms / 1000.0));
    }
    bool ok = described;
    if (o->render_only) {
        if (!described) {
            json_object_set_new(row, "status", json_string("error"));
            json_object_set_new(row, "message", json_string(err.msg));
            if (!o->output)
                printf("# %s %s (judged)\n%s\n\n", key, m->name, err.msg);
        } else if (!o->output) {
            print_judged_queries(key, m, d);
        }
    } else {
        cd_judge_verdict v;
        cd_metric_rc rc = described || local
                              ? cd_judge_metric(NULL, port, ref, m, cd_wall_ms(), &v, &err)
                              : CD_METRIC_ERROR;
        const cd_judge_state *st = rc == CD_METRIC_OK
                                       ? cd_status_judge_find(ref->status, m->name)
                                       : NULL;
        const char *status = !st ? (rc == CD_METRIC_NO_DATA ? "no-data" : "error")
                             : st->verdict == CD_VERDICT_PASS ? "pass"
                             : st->verdict == CD_VERDICT_WAIT ? "wait"
                                                              : "fail";
        ok = st && st->verdict != CD_VERDICT_FAIL;
        json_object_set_new(row, "status", json_string(status));
        if (st) {
            json_t *j = cd_judge_state_to_json(st);
            json_object_del(j, "state");
            json_object_set_new(row, "judge", j);
            json_object_set_new(row, "message", json_string(st->reason));
        } else {
            json_object_set_new(row, "message", json_string(err.msg));
        }
        if (!o->output) {
            char val[64] = "-";
            if (st && isfinite(st->estimate))
                snprintf(val, sizeof val, "%+.3g%s", st->estimate, st->unit);
            const char *cells[] = {key, m->name, local ? "router" : described ? d[0].provider : "-",
                                   val, status,
                                   st ? st->reason : err.msg};
            cd_table_row(table, cells);
        }
    }
    if (described) {
        cd_judged_description_free(&d[0]);
        cd_judged_description_free(&d[1]);
    }
    return ok;
}

/* Evaluates one canary; appends JSON rows or prints table lines. */
static bool run_canary(const opts *o, const cd_metrics_config *cfg, const cd_object *obj,
                       json_t *rows, cd_table *table)
{
    cd_canary_status st;
    cd_status_init(&st);
    cd_canary_ref ref = {&obj->meta, &obj->spec.canary, &st,
                         obj->spec.canary.provider ? obj->spec.canary.provider : cfg->mesh_provider,
                         NULL};
    cd_local_metrics lp;
    cd_metrics_port port = cd_local_metrics_port(&lp, o->state_dir, (long)o->timeout_ms, obj,
                                                 cd_metrics_port_make(cfg));
    bool all_ok = true;
    char key[300];
    snprintf(key, sizeof key, "%s.%s", obj->meta.name, obj->meta.namespace_);
    if (o->check_providers) {
        cd_err err = {""};
        if (port.check_providers(port.ctx, &ref, &err) == CD_OK) {
            if (!rows)
                printf("%s: all the metrics providers are available!\n", key);
        } else {
            all_ok = false;
            if (rows)
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s}", "canary", key, "status",
                                                      "error", "message", err.msg));
            else
                printf("%s: Error checking metric providers: %s\n", key, err.msg);
        }
    }
    const cd_analysis *a = &obj->spec.canary.analysis;
    for (size_t i = 0; i < a->n_metrics; i++) {
        const cd_metric *m = &a->metrics[i];
        if (m->judge && cd_local_router_metric(obj, m) && o->render_only) {
            if (rows)
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s}", "canary", key,
                                                      "metric", m->name, "provider", "router",
                                                      "address", lp.admin));
            else
                cd_local_print_judged(key, m, &lp);
            continue;
        }
        if (m->judge) {
            json_t *row = json_pack("{s:s, s:s}", "canary", key, "metric", m->name);
            all_ok = run_judged(o, cfg, &port, &ref, key, m, row, table,
                                cd_local_router_metric(obj, m)) && all_ok;
            if (rows)
                json_array_append_new(rows, row);
            else
                json_decref(row);
            continue;
        }
        char provider[32] = "", address[512] = "";
        char *query = NULL;
        cd_err err = {""};
        bool local = cd_local_router_metric(obj, m);
        bool described;
        if (local) {
            snprintf(provider, sizeof provider, "router");
            cd_local_router_admin(o->state_dir, obj, address, sizeof address);
            query = cd_local_router_query(obj, m);
            described = true;
        } else {
            described = cd_metrics_describe(cfg, &ref, m, provider, address, &query, &err);
            redact_address(address, sizeof address);   /* a local socket's path is no secret */
        }
        json_t *row = json_pack("{s:s, s:s, s:s, s:s}", "canary", key, "metric", m->name,
                                "provider", provider, "address", address);
        if (query)
            json_object_set_new(row, "query", json_string(query));
        if (o->render_only) {
            if (!described) {
                all_ok = false;
                json_object_set_new(row, "status", json_string("error"));
                json_object_set_new(row, "message", json_string(err.msg));
            }
            if (!rows)
                printf("# %s %s (%s %s)\n%s\n\n", key, m->name, provider, address,
                       described ? query : err.msg);
        } else {
            double v = 0;
            cd_metric_rc rc = port.query(port.ctx, &ref, m, &v, &err);
            char msg[512] = "", why[256] = "";
            cd_metric_kind kind = CD_METRIC_KIND_QUERY;
            cd_engine_metric_kind(m, &kind);
            bool passed = rc == CD_METRIC_OK && cd_engine_threshold_pass(m, kind, v, why, sizeof why);
            if (rc == CD_METRIC_OK && !passed)
                snprintf(msg, sizeof msg, "Halt %s.%s advancement %s", obj->meta.name,
                         obj->meta.namespace_, why);
            if (rc != CD_METRIC_OK)
                snprintf(msg, sizeof msg, "%s", err.msg);
            all_ok = all_ok && passed;
            json_object_set_new(row, "status", json_string(verdict_of(rc, passed)));
            if (rc == CD_METRIC_OK)
                json_object_set_new(row, "value", json_real(v));
            if (*msg)
                json_object_set_new(row, "message", json_string(msg));
            if (!rows) {
                char val[64] = "-";
                if (rc == CD_METRIC_OK)
                    snprintf(val, sizeof val, "%.4g%s", v,
                             kind == CD_METRIC_KIND_DURATION ? "ms" : "");
                const char *row[] = {key, m->name, provider, val, verdict_of(rc, passed), msg};
                cd_table_row(table, row);
            }
        }
        free(query);
        if (rows)
            json_array_append_new(rows, row);
        else
            json_decref(row);
    }
    cd_local_metrics_release(&lp);
    cd_status_free(&st);
    return all_ok;
}

static const char *const outputs[] = {"json", NULL};

int cmd_metrics(int argc, char **argv)
{
    opts o = {"default", NULL, NULL, "istio", NULL, NULL, NULL, 5000, false, false};
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths)
        abort();
    cd_flag_list list = {paths, 0, argc};
    const cd_flag flags[] = {
        {.name = "filename", .alias = 'f', .type = CD_FLAG_LIST, .target = &list, .arg = "PATH",
         .help = "manifests: Canaries and MetricTemplates (repeatable; bare paths work too)"},
        CD_FLAG_STR("namespace", 'n', &o.ns, "NS", "namespace for objects that set none"),
        CD_FLAG_STR("canary", 0, &o.only, "NAME", "only this canary"),
        CD_FLAG_STR("metrics-server", 0, &o.server, "URL",
                    "global Prometheus (default http://prometheus:9090)"),
        CD_FLAG_STR("mesh-provider", 0, &o.mesh, "NAME", "global provider for builtin metrics"),
        CD_FLAG_STR("secrets-dir", 0, &o.secrets_dir, "DIR",
                    "secrets as DIR/<namespace>/<name>/<key> files"),
        CD_FLAG_STR("state-dir", 0, &o.state_dir, "DIR",
                    "canaryd local's state directory, whose router answers the builtin metrics "
                    "of LocalWorkload canaries (default: .canaryd beside the manifest)"),
        CD_FLAG_DUR("timeout", &o.timeout_ms, 1, 3600000, "query timeout"),
        CD_FLAG_SWITCH("render-only", 0, &o.render_only, "print the queries, do not run them"),
        CD_FLAG_SWITCH("check-providers", 0, &o.check_providers,
                       "run the provider availability check first"),
        {.name = "output", .alias = 'o', .type = CD_FLAG_ENUM, .target = &o.output,
         .choices = outputs, .help = "one JSON document instead of a table"},
    };
    cd_flag_cmd cmd = {
        .prog = "canaryctl metrics",
        .synopsis = "-f PATH [-f PATH...] [flags]",
        .about = "Renders each Canary's analysis metrics as canaryd sends them (builtin\n"
                 "queries, inline queries, MetricTemplates), runs them and prints the values\n"
                 "and verdicts. A judged metric (judge: ...) shows the canary's and the\n"
                 "primary's queries and the statistical judge's verdict on the window that\n"
                 "ends now. Nothing is changed.",
        .footer = "Exit status: 0 every metric passes (or its judge waits), 1 a metric fails, has\n"
                  "no data or errors, 2 usage error or invalid manifests.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
        .max_args = -1,
    };
    int nargs = 0;
    int prc = cd_flags_parse(&cmd, argc, argv, &nargs, stdout, stderr);
    if (prc != CD_FLAGS_OK) {
        free(paths);
        return cd_flags_exit(prc);
    }
    for (int i = 0; i < nargs; i++)
        paths[list.n++] = argv[1 + i];
    size_t npaths = (size_t)list.n;
    if (!npaths) {
        free(paths);
        return cd_flags_fail(&cmd, stderr, "no manifest given (-f PATH)");
    }
    cd_log_set_level(CD_LOG_WARN);
    cd_object_list objs = {0};
    cd_diags diags;
    cd_diags_init(&diags);
    bool bad = false;
    for (size_t i = 0; i < npaths; i++)
        if (cd_manifest_load_path(paths[i], o.ns, &objs, &diags) != 0)
            bad = true;
    cd_diags_sort(&diags);
    cd_diags_print(&diags, stderr);
    int rc = 0;
    if (bad || cd_diags_errors(&diags)) {
        rc = 2;
        goto out;
    }
    cd_store store = cd_object_store(&objs);
    cd_local_secrets local = {o.secrets_dir, NULL};
    cd_secret_source secrets = cd_local_secret_source(&local);
    cd_metrics_config cfg = {o.server, o.mesh, &store, &secrets, o.timeout_ms, NULL, NULL, NULL};
    json_t *rows = o.output ? json_array() : NULL;
    static const char *const head[] = {"CANARY", "METRIC", "PROVIDER", "VALUE", "STATUS",
                                       "MESSAGE"};
    cd_table table;
    cd_table_init(&table, 6, head);
    size_t canaries = 0;
    for (size_t i = 0; i < objs.n; i++) {
        const cd_object *obj = objs.items[i];
        if (obj->kind != CD_KIND_CANARY || (o.only && strcmp(obj->meta.name, o.only)))
            continue;
        canaries++;
        if (!run_canary(&o, &cfg, obj, rows, &table))
            rc = 1;
    }
    cd_buf tb = CD_BUF_INIT;
    bool any = table.nrows > 1;   /* none with --render-only or -o json */
    cd_table_flush(&table, &tb);
    if (any)
        fwrite(cd_buf_str(&tb), 1, tb.len, stdout);
    cd_buf_free(&tb);
    if (!canaries) {
        fprintf(stderr, "canaryctl metrics: no Canary%s%s in the manifests\n",
                o.only ? " named " : "", o.only ? o.only : "");
        rc = 2;
    }
    if (rows) {
        char *s = json_dumps(rows, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        printf("%s\n", s);
        free(s);
        json_decref(rows);
    }
out:
    cd_diags_free(&diags);
    cd_object_list_free(&objs);
    free(paths);
    return rc;
}
