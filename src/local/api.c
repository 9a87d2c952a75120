/* api.c - the HTTP API of `canaryd local` (libmicrohttpd, on a loopback
 * port or a Unix socket), used by canaryctl:
 *
 *   GET  /healthz                                   "OK"
 *   GET  /metrics                                   flagger_* metrics
 *   GET  /api/v1/canaries[?view=objects]            list (summaries, or a v1 List of Canaries)
 *   GET  /api/v1/namespaces/NS/canaries/NAME        detail (status, metrics, events, processes)
 *   GET  /api/v1/namespaces/NS/canaries/NAME/events?limit=N
 *   GET  /api/v1/namespaces/NS/canaries/NAME/history   weights and metric values over time
 *   GET|POST /ui/...                                the web dashboard (ui.c, docs/dashboard.md)
 *   POST /api/v1/apply[?name=FILE]                  body: a manifest; 422 with errors, nothing changed
 *   POST /api/v1/namespaces/NS/canaries/NAME/ACTION ACTION: promote, abort, hold, hold-rollout, resume
 *   POST /api/v1/namespaces/NS/canaries/NAME/rollback  the last promoted revision back (revisions.c)
 *   POST /gate/check|open|close|approve|halt, /rollback/check|open|close
 *                                                   flagger-loadtester's gate API, for webhooks
 *
 * Who may call it (docs/security.md): a Unix socket is created with an
 * explicit mode (0600 unless --api-socket-mode); a TCP listener needs the
 * token; every state change needs a JSON (or YAML manifest) Content-Type
 * and no foreign Origin, and over TCP a Host naming this machine. At most
 * LC_API_MAX_CONNECTIONS connections, 10 s to send a request, 30 s idle,
 * bodies up to CD_MANIFEST_MAX_BYTES.
 *
 * Handlers hold the controller lock only while they read or change its
 * state; nothing here blocks on other network calls. */
#include "local/local.h"
#include "local/ui.h"
#include "net/httpd.h"
#include "util/access.h"
#include "util/errfmt.h"
#include "util/redact.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A slow or idle client holds one of these (a descriptor, no thread)
 * until the read deadline; canaryctl needs one at a time. */
#define LC_API_MAX_CONNECTIONS 1024
/* Gates opened through flagger-loadtester's /gate/open (a Canary's name
 * and namespace each): far more than a host runs, and a bound on memory. */
#define LC_API_MAX_GATES 4096
#define CD_STR_(x) #x
#define CD_STR(x) CD_STR_(x)

typedef struct gate_entry {
    char key[600];          /* "name.namespace" or "rollback.name.namespace" */
} gate_entry;

struct lc_api {
    cd_local *L;
    cd_httpd *srv;
    cd_access_policy policy;
    char token[CD_TOKEN_MAX + 1];   /* of a TCP listener */
    char *unix_path;
    gate_entry *open_gates;   /* flagger-loadtester gate state (default closed) */
    size_t ngates;
    lc_ui *ui;                /* the dashboard's sessions */
};

typedef cd_httpd_request request;

/* ---- JSON views ----------------------------------------------------------- */

static json_t *counts_json(cd_procset *ps)
{
    cd_procset_counts c = cd_procset_counts_of(ps);
    json_t *reps = json_array();
    for (size_t i = 0; i < cd_procset_replica_count(ps); i++) {
        const cd_replica *r = cd_procset_replica(ps, i);
        static const char *const states[] = {"starting", "ready", "unready", "draining",
                                             "stopping"};
        json_array_append_new(reps, json_pack("{s:i,s:i,s:i,s:s,s:s}", "index", r->index, "pid",
                                              (int)r->pid, "port", r->port, "state",
                                              states[r->state], "revision", r->revision));
    }
    json_t *j = json_pack("{s:i,s:i,s:i,s:i,s:i,s:o}", "desired", c.desired, "ready", c.ready,
                          "updated", c.updated, "running", c.running, "restarts", c.restarts,
                          "replicas", reps);
    if (cd_procset_error(ps)[0])   /* why replicas cannot start */
        json_object_set_new(j, "error", json_string(cd_procset_error(ps)));
    return j;
}

json_t *lc_canary_json(lc_canary *c, bool detail)
{
    char ts[32];
    const cd_canary_status *s = &c->status;
    const cd_canary_spec *spec = &c->obj->spec.canary;
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "name", c->name, "namespace", c->ns,
                          "phase", cd_phase_name(s->phase), "canaryWeight", s->canary_weight,
                          "failedChecks", s->failed_checks, "iterations", s->iterations,
                          "lastTransitionTime",
                          s->last_transition_ms ? cd_rfc3339(s->last_transition_ms, ts) : "");
    json_object_set_new(j, "primaryWeight", json_integer(c->routes_known ? c->primary_weight
                                                                          : 100 - s->canary_weight));
    json_object_set_new(j, "mirrored", json_boolean(c->mirrored));
    if (c->route_error[0])   /* the router does not serve its routes: why */
        json_object_set_new(j, "routeError", json_string(c->route_error));
    if (!detail)
        return j;
    json_object_set_new(j, "status", cd_status_to_json(s));
    json_t *sw = json_array();
    for (size_t i = 0; i < spec->analysis.n_step_weights; i++)
        json_array_append_new(sw, json_integer(spec->analysis.step_weights[i]));
    json_object_set_new(
        j, "analysis",
        json_pack("{s:s,s:I,s:i,s:i,s:i,s:o,s:i,s:i,s:s,s:s}", "strategy",
                  cd_strategy_name(cd_canary_strategy(spec)), "intervalSeconds",
                  (json_int_t)(spec->analysis.interval_ms / 1000), "threshold",
                  spec->analysis.threshold, "stepWeight", spec->analysis.step_weight, "maxWeight",
                  spec->analysis.max_weight, "stepWeights", sw, "iterations",
                  spec->analysis.iterations, "port", spec->service.port, "target",
                  spec->target_ref.name ? spec->target_ref.name : "", "provider",
                  spec->provider ? spec->provider : "canaryd"));
    json_t *ms = json_array();
    for (size_t i = 0; i < spec->analysis.n_metrics; i++) {
        const cd_metric *m = &spec->analysis.metrics[i];
        json_t *mj = json_pack("{s:s,s:s}", "name", m->name ? m->name : "", "interval",
                               m->interval ? m->interval : "");
        if (m->has_min)
            json_object_set_new(mj, "min", json_real(m->min));
        if (m->has_max)
            json_object_set_new(mj, "max", json_real(m->max));
        if (m->has_threshold)
            json_object_set_new(mj, "threshold", json_real(m->threshold));
        for (size_t k = 0; k < c->n_metrics; k++) {
            const lc_metric_view *v = &c->metrics[k];
            if (strcmp(v->name, m->name ? m->name : ""))
                continue;
            if (v->has_value)
                json_object_set_new(mj, "value", json_real(v->value));
            json_object_set_new(mj, "passed", json_boolean(v->passed));
            if (v->message[0])
                json_object_set_new(mj, "message", json_string(v->message));
            json_object_set_new(mj, "at", json_string(cd_rfc3339(v->at_ms, ts)));
        }
        json_array_append_new(ms, mj);
    }
    json_object_set_new(j, "metrics", ms);
    json_object_set_new(j, "gates",
                        json_pack("{s:b,s:b,s:b}", "promotionHeld", c->promotion_held,
                                  "rolloutHeld", c->rollout_held, "rollbackRequested",
                                  c->rollback_requested));
    if (c->target) {
        pthread_mutex_lock(&c->target->lock);
        json_object_set_new(j, "workload",
                            json_pack("{s:s,s:s,s:o,s:o}", "name", c->target->name, "revision",
                                      c->target->revision, "canary", counts_json(c->target->canary),
                                      "primary", counts_json(c->target->primary)));
        pthread_mutex_unlock(&c->target->lock);
    }
    json_object_set_new(j, "events", cd_state_events(c->L->state, c->ns, c->name, 20));
    return j;
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned code, const char *msg)
{
    return cd_httpd_reply_json(conn, code, json_pack("{s:s}", "error", msg));
}

/* ---- handlers ------------------------------------------------------------ */

/* Secrets out of an object shown to canaryctl (util/redact.h): values
 * under a credential-like key, and the secrets of every URL or text. */
static void redact_json(json_t *j, unsigned depth)
{
    const char *k;
    json_t *v;
    size_t i;
    if (depth > 64)
        return;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) redact_json(v, depth + 1);
        return;
    }
    json_object_foreach(j, k, v) {
        if (json_is_string(v)) {
            char out[4096];
            if (cd_redact_name_secret(k, strlen(k)))
                snprintf(out, sizeof out, "%s", CD_REDACTED);
            else
                cd_redact_text(json_string_value(v), NULL, 0, out, sizeof out);
            json_object_set_new(j, k, json_string(out));
        } else {
            redact_json(v, depth + 1);
        }
    }
}

/* As kubectl get -o json shows it: the manifest's object, its status
 * the live one; secrets redacted. */
static json_t *canary_object(lc_canary *c)
{
    json_t *o = cd_object_to_json(c->obj);
    redact_json(o, 0);
    json_object_set_new(o, "status", cd_status_to_json(&c->status));
    return o;
}

/* ?view=objects: a v1 List of Canary objects (canaryctl get -o json);
 * otherwise the summaries canaryctl's table shows. */
static enum MHD_Result list_canaries(lc_api *api, struct MHD_Connection *conn)
{
    const char *view = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "view");
    bool objects = view && !strcmp(view, "objects");
    json_t *items = json_array();
    pthread_mutex_lock(&api->L->lock);
    for (size_t i = 0; i < api->L->ncanaries; i++)
        json_array_append_new(items, objects ? canary_object(api->L->canaries[i])
                                             : lc_canary_json(api->L->canaries[i], false));
    pthread_mutex_unlock(&api->L->lock);
    if (objects)
        return cd_httpd_reply_json(conn, 200,
                                   json_pack("{s:s,s:s,s:{},s:o}", "apiVersion", "v1", "kind",
                                             "List", "metadata", "items", items));
    return cd_httpd_reply_json(conn, 200, json_pack("{s:o}", "items", items));
}

static enum MHD_Result apply(lc_api *api, struct MHD_Connection *conn, request *rq)
{
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    cd_diags d;
    cd_diags_init(&d);
    pthread_mutex_lock(&api->L->lock);
    size_t errors = cd_manifest_dir_apply(api->L->manifests, name ? name : "<apply>",
                                          cd_buf_str(&rq->body), rq->body.len, &d);
    pthread_mutex_unlock(&api->L->lock);
    lc_wake(api->L);
    cd_diags_sort(&d);
    json_t *errs = json_array(), *warns = json_array();
    for (size_t i = 0; i < d.n; i++) {
        char *s = cd_diag_format(&d.items[i]);
        json_array_append_new(d.items[i].severity == CD_DIAG_ERROR ? errs : warns, json_string(s));
        free(s);
    }
    char *omitted = cd_diags_omitted(&d);
    if (omitted)
        json_array_append_new(d.dropped_errors ? errs : warns, json_string(omitted));
    free(omitted);
    cd_diags_free(&d);
    malloc_trim(0);   /* a large manifest's parse trees go back to the system */
    json_t *j = json_pack("{s:b,s:o,s:o,s:s}", "applied", errors == 0, "errors", errs, "warnings",
                          warns, "directory", cd_manifest_dir_path(api->L->manifests));
    return cd_httpd_reply_json(conn, errors ? 422 : 200, j);
}

/* Only an analysis in progress can be rolled back (engine step 23): an
 * abort at any other time would stay armed and roll back the next,
 * healthy release, so it is refused instead (409). */
static bool abortable(cd_phase p)
{
    return p == CD_PHASE_PROGRESSING || p == CD_PHASE_WAITING || p == CD_PHASE_WAITING_PROMOTION;
}

/* resume's answer: what it released, so that it never claims more than
 * describe showed. */
static void resume(lc_canary *c, char *out, size_t n)
{
    const char *what[3];
    int k = 0;
    if (c->promotion_held)
        what[k++] = "promotion hold";
    if (c->rollout_held)
        what[k++] = "rollout hold";
    if (c->rollback_requested)
        what[k++] = "pending rollback";
    c->promotion_held = c->rollout_held = c->rollback_requested = false;
    if (!k)
        snprintf(out, n, "nothing to release: no hold or pending rollback");
    else
        snprintf(out, n, "released: %s%s%s%s%s", what[0], k > 1 ? ", " : "", k > 1 ? what[1] : "",
                 k > 2 ? ", " : "", k > 2 ? what[2] : "");
}

/* promote, abort, hold, hold-rollout, resume: through the gates
 * (ports_local.c). Also the dashboard's buttons (ui.c). */
unsigned lc_api_act(lc_api *api, const char *ns, const char *name, const char *action, char *msg,
                    size_t msglen)
{
    pthread_mutex_lock(&api->L->lock);
    lc_canary *c = lc_find_canary(api->L, ns, name);
    const char *done = NULL;
    char said[200], refused[1100] = "";
    if (c) {
        if (!strcmp(action, "promote")) {
            c->promotion_approved = true;
            c->rollout_held = false;
            done = "promotion gate opened";
        } else if (!strcmp(action, "abort") && !abortable(c->status.phase)) {
            snprintf(refused, sizeof refused,
                     "canary %.200s.%.60s is %.40s: no release is being analysed, so there is "
                     "nothing to roll back (abort acts in Progressing, Waiting or "
                     "WaitingPromotion)",
                     name, ns, *cd_phase_name(c->status.phase) ? cd_phase_name(c->status.phase)
                                                              : "not initialised yet");
        } else if (!strcmp(action, "abort")) {
            c->rollback_requested = true;
            done = "rollback requested";
        } else if (!strcmp(action, "hold")) {
            c->promotion_held = true;
            c->promotion_approved = false;
            done = "promotion held";
        } else if (!strcmp(action, "hold-rollout")) {
            c->rollout_held = true;
            done = "rollout held";
        } else if (!strcmp(action, "resume")) {
            resume(c, said, sizeof said);
            done = said;
        }
        if (done)
            cd_sched_kick(&c->L->sched, &c->job);
    }
    if (!c)
        lc_not_found(api->L, ns, name, refused, sizeof refused);
    pthread_mutex_unlock(&api->L->lock);
    if (!c) {
        snprintf(msg, msglen, "%s", refused);   /* lc_not_found's words */
        return 404;
    }
    if (refused[0]) {
        snprintf(msg, msglen, "%s", refused);
        return 409;
    }
    if (!done) {
        snprintf(msg, msglen, "unknown action (promote, abort, hold, hold-rollout, resume)");
        return 400;
    }
    snprintf(msg, msglen, "%s", done);
    if (!strcmp(action, "promote") || !strcmp(action, "abort")) {
        /* also open the loadtester-style gates webhooks may point at */
        char key[600];
        snprintf(key, sizeof key, "%s%s.%s", !strcmp(action, "abort") ? "rollback." : "", name, ns);
        pthread_mutex_lock(&api->L->lock);
        bool have = false;
        for (size_t i = 0; i < api->ngates; i++)
            have |= !strcmp(api->open_gates[i].key, key);
        if (!have) {
            gate_entry *g = realloc(api->open_gates, (api->ngates + 1) * sizeof *g);
            if (!g)
                abort();
            api->open_gates = g;
            snprintf(api->open_gates[api->ngates++].key, sizeof g->key, "%s", key);
        }
        pthread_mutex_unlock(&api->L->lock);
    }
    lc_wake(api->L);
    cd_info("local: %s.%s: %s", name, ns, msg);
    return 202;
}

static enum MHD_Result act(lc_api *api, struct MHD_Connection *conn, const char *ns,
                           const char *name, const char *action)
{
    char msg[700];
    unsigned code = lc_api_act(api, ns, name, action, msg, sizeof msg);
    if (code != 202)
        return send_error(conn, code, msg);
    return cd_httpd_reply_json(conn, 202, json_pack("{s:s}", "result", msg));
}

bool lc_gate_key(const char *url, const char *body, size_t len, char *key, size_t cap)
{
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *ns = json_string_value(json_object_get(j, "namespace"));
    /* a gate is only ever checked for a Canary's name and namespace:
     * longer ones are refused, so that a key is bounded */
    bool ok = name && ns && *name && *ns && strlen(name) <= 253 && strlen(ns) <= 63;
    if (ok)
        snprintf(key, cap, "%s%s.%s", !strncmp(url, "/rollback/", 10) ? "rollback." : "", name,
                 ns);
    json_decref(j);
    return ok;
}

/* canaryctl rollback (revisions.c): the last promoted revision back into
 * the manifest directory, for the engine's instant rollback. */
static enum MHD_Result rollback(lc_api *api, struct MHD_Connection *conn, const char *ns,
                                const char *name)
{
    cd_diags d;
    cd_diags_init(&d);
    char msg[512];
    pthread_mutex_lock(&api->L->lock);
    int code = lc_rollback(api->L, ns, name, &d, msg, sizeof msg);
    pthread_mutex_unlock(&api->L->lock);
    lc_wake(api->L);
    cd_diags_sort(&d);
    json_t *errs = json_array();
    for (size_t i = 0; i < d.n; i++) {
        char *s = cd_diag_format(&d.items[i]);
        json_array_append_new(errs, json_string(s));
        free(s);
    }
    cd_diags_free(&d);
    if (code != 202)
        return cd_httpd_reply_json(conn, code, json_pack("{s:s,s:o}", "error", msg, "errors", errs));
    json_decref(errs);
    return cd_httpd_reply_json(conn, 202, json_pack("{s:s}", "result", msg));
}

/* flagger-loadtester's /gate and /rollback endpoints (reference §4.4). */
static enum MHD_Result loadtester_gate(lc_api *api, struct MHD_Connection *conn, const char *url,
                                       request *rq)
{
    if (!strcmp(url, "/gate/approve"))
        return cd_httpd_reply(conn, 200, "text/plain", "OK", 2);
    if (!strcmp(url, "/gate/halt"))
        return cd_httpd_reply(conn, 403, "text/plain", "Forbidden", 9);
    char key[600];
    if (!lc_gate_key(url, cd_buf_str(&rq->body), rq->body.len, key, sizeof key))
        return cd_httpd_reply(conn, 400, "text/plain", "invalid payload", 15);
    const char *verb = strrchr(url, '/') + 1;
    pthread_mutex_lock(&api->L->lock);
    size_t at = api->ngates;
    for (size_t i = 0; i < api->ngates; i++)
        if (!strcmp(api->open_gates[i].key, key))
            at = i;
    enum MHD_Result r;
    if (!strcmp(verb, "check")) {
        bool open = at < api->ngates;
        pthread_mutex_unlock(&api->L->lock);
        return open ? cd_httpd_reply(conn, 200, "text/plain", "Approved", 8)
                    : cd_httpd_reply(conn, 403, "text/plain", "Forbidden", 9);
    }
    if (!strcmp(verb, "open") && at == api->ngates && api->ngates >= LC_API_MAX_GATES) {
        pthread_mutex_unlock(&api->L->lock);
        return send_error(conn, 507, "too many open gates (" CD_STR(LC_API_MAX_GATES)
                                     "): close some with /gate/close");
    }
    if (!strcmp(verb, "open") && at == api->ngates) {
        gate_entry *g = realloc(api->open_gates, (api->ngates + 1) * sizeof *g);
        if (!g)
            abort();
        api->open_gates = g;
        snprintf(api->open_gates[api->ngates++].key, sizeof g->key, "%s", key);
    } else if (!strcmp(verb, "close") && at < api->ngates) {
        api->open_gates[at] = api->open_gates[--api->ngates];
    }
    pthread_mutex_unlock(&api->L->lock);
    if (strcmp(verb, "open") && strcmp(verb, "close"))
        return cd_httpd_reply(conn, 404, "text/plain", "Not Found", 9);
    r = cd_httpd_reply(conn, 202, "text/plain", "Accepted", 8);
    return r;
}

static enum MHD_Result canary_route(lc_api *api, struct MHD_Connection *conn, const char *method,
                                    const char *rest)
{
    /* rest: NS/canaries/NAME[/(events|ACTION)] */
    char ns[256], name[256], tail[64] = "";
    int n = sscanf(rest, "%255[^/]/canaries/%255[^/]/%63s", ns, name, tail);
    if (n < 2)
        return send_error(conn, 404, "not found");
    if (!strcmp(method, "POST") && n == 3 && !strcmp(tail, "rollback"))
        return rollback(api, conn, ns, name);
    if (!strcmp(method, "POST"))
        return n == 3 ? act(api, conn, ns, name, tail) : send_error(conn, 405, "use GET");
    pthread_mutex_lock(&api->L->lock);
    lc_canary *c = lc_find_canary(api->L, ns, name);
    json_t *j = NULL;
    if (c && n == 2) {
        j = lc_canary_json(c, true);
    } else if (c && !strcmp(tail, "events")) {
        const char *lim = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        j = json_pack("{s:o}", "items",
                      cd_state_events(api->L->state, ns, name, lim ? atoi(lim) : 0));
    } else if (c && !strcmp(tail, "history")) {
        j = lc_history_json(c);
    }
    char missing[800];
    if (!c)
        lc_not_found(api->L, ns, name, missing, sizeof missing);
    pthread_mutex_unlock(&api->L->lock);
    if (!c)
        return send_error(conn, 404, missing);
    if (!j)
        return send_error(conn, 404, "not found");
    return cd_httpd_reply_json(conn, 200, j);
}

static enum MHD_Result handle(void *ctx, struct MHD_Connection *conn, const char *url,
                              const char *method, request *rq)
{
    lc_api *api = ctx;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool post = !strcmp(method, "POST");
    if (!strcmp(url, "/healthz"))
        return cd_httpd_reply(conn, 200, "text/plain", "OK", 2);
    if (lc_ui_path(url))
        return lc_ui_handle(api->ui, conn, url, method, rq);
    if (!strcmp(url, "/metrics") && get) {
        cd_buf b = CD_BUF_INIT;
        cd_registry_write(api->L->registry, &b);
        enum MHD_Result r = cd_httpd_reply(conn, 200, "text/plain; version=0.0.4", cd_buf_str(&b), b.len);
        cd_buf_free(&b);
        return r;
    }
    if (!strcmp(url, "/api/v1/canaries") && get)
        return list_canaries(api, conn);
    if (!strcmp(url, "/api/v1/apply") && post)
        return apply(api, conn, rq);
    if (!strncmp(url, "/api/v1/namespaces/", 19) && (get || post))
        return canary_route(api, conn, method, url + 19);
    if ((!strncmp(url, "/gate/", 6) || !strncmp(url, "/rollback/", 10)) && (post || get))
        return loadtester_gate(api, conn, url, rq);
    return send_error(conn, 404, "not found");
}

/* Who may send this request (util/access.h): the socket's mode already
 * decided for a Unix socket; a TCP listener needs the token; every
 * state change needs a JSON (or, for a manifest, YAML) media type and no
 * foreign Origin. /healthz is open to probes. */
static unsigned admit(void *ctx, struct MHD_Connection *conn, const char *url, const char *method,
                      char *why, size_t whylen)
{
    static const char *const manifest_types[] = {"application/yaml", "application/x-yaml", NULL};
    lc_api *api = ctx;
    cd_access_policy p = api->policy;
    if (lc_ui_path(url))   /* its own rules: a session cookie, forms with a CSRF token */
        return lc_ui_admit(api->ui, conn, url, method, p, why, whylen);
    if (!strcmp(url, "/healthz") && !cd_method_changes_state(method))
        p.token = NULL;
    if (!strcmp(url, "/api/v1/apply"))
        p.extra_types = manifest_types;
    return cd_httpd_check_access(conn, method, &p, why, whylen);
}

bool lc_api_tcp_address(const char *address, struct sockaddr_in *out)
{
    char host[128] = "127.0.0.1";
    const char *colon = strrchr(address, ':');
    const char *port_s = colon ? colon + 1 : address;
    if (colon && colon > address)
        snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
    char *end;
    long port = strtol(port_s, &end, 10);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!*port_s || *end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return false;
    if (out)
        *out = a;
    return true;
}

static int listen_tcp(const char *address, cd_err *err)
{
    struct sockaddr_in a;
    if (!lc_api_tcp_address(address, &a)) {
        cd_errfmt(err, "%s: not unix:/path or an IPv4 address and port", address);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        cd_errfmt(err, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, SOMAXCONN) != 0) {
        cd_errfmt(err, "%s: %s", address, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The token of a TCP API: --api-token-file, $CANARYD_TOKEN, or the one
 * published for this address by an earlier run, or a new one. Always
 * published (0600, in the user's private runtime directory) so that
 * canaryctl on this host finds it. */
static bool api_token(lc_api *api, const char *address, cd_err *err)
{
    const cd_local_options *o = &api->L->opt;
    char e[600] = "", published[4200], where[300];
    bool have = false, loose = false;
    if (o->api_token_file) {
        if (!cd_token_read_file(o->api_token_file, api->token, sizeof api->token, &loose, e, sizeof e)) {
            /* not "--api-token-file: PATH: why": the log's redactor reads
             * a word with "token" before a colon as a header name and
             * hides the rest, which here is the reason */
            cd_errfmt(err, "cannot read --api-token-file %s", e);
            return false;
        }
        if (loose)
            cd_warn("local: %s is readable by other users; anyone who reads it can use the API",
                    o->api_token_file);
        snprintf(where, sizeof where, "%.280s", o->api_token_file);
        have = true;
    } else if (cd_token_from_env(CD_ENV_TOKEN, api->token, sizeof api->token, e, sizeof e)) {
        snprintf(where, sizeof where, "$%s", CD_ENV_TOKEN);
        have = true;
    } else if (e[0]) {
        cd_errfmt(err, "%s", e);
        return false;
    }
    if (!cd_local_token_path(address, published, sizeof published, e, sizeof e)) {
        if (!have) {
            cd_errfmt(err, "no token for the API on %s (%s); pass --api-token-file FILE or set $%s",
                      address, e, CD_ENV_TOKEN);
            return false;
        }
        cd_warn("local: cannot publish the API token for canaryctl: %s", e);
        cd_info("local: API on %s needs the token in %s", address, where);
        return true;
    }
    char old[CD_TOKEN_MAX + 1];
    bool reuse = !have && cd_token_read_file(published, old, sizeof old, &loose, e, sizeof e) && !loose;
    if (reuse)
        snprintf(api->token, sizeof api->token, "%s", old);
    else if (!have && !cd_token_generate(api->token, sizeof api->token)) {
        cd_errfmt(err, "cannot generate a token: %s", strerror(errno));
        return false;
    }
    memset(old, 0, sizeof old);
    if (!reuse && !cd_token_write_file(published, api->token, e, sizeof e)) {
        cd_errfmt(err, "cannot write the API token: %s", e);
        return false;
    }
    cd_info("local: API on %s needs a token; canaryctl on this host reads it from %s%s%s",
            address, published, have ? ", copied from " : "", have ? where : "");
    return true;
}

lc_api *lc_api_start(cd_local *L, const char *address, cd_err *err)
{
    lc_api *api = calloc(1, sizeof *api);
    if (!api)
        abort();
    api->L = L;
    api->policy.require_json = true;
    int fd;
    if (!strncmp(address, "unix:", 5)) {
        mode_t mode = L->opt.api_socket_mode ? (mode_t)L->opt.api_socket_mode : 0600;
        char e[600];
        fd = cd_listen_unix(address + 5, mode, SOMAXCONN, false, e, sizeof e);
        if (fd < 0)
            cd_errfmt(err, "%s", e);
        else if (!(api->unix_path = strdup(address + 5)))
            abort();
    } else {
        fd = api_token(api, address, err) ? listen_tcp(address, err) : -1;
        api->policy.check_host = true;
        api->policy.token = api->token;
    }
    if (fd < 0) {
        free(api);
        return NULL;
    }
    api->ui = lc_ui_new(api, L, api->policy.token, address);
    cd_httpd_options o = {
        .name = "local API",
        .listen_fd = fd,
        .max_connections = LC_API_MAX_CONNECTIONS,
        .read_timeout_s = 10,
        .idle_timeout_s = 30,
        .max_body = CD_MANIFEST_MAX_BYTES,
        .json_errors = true,
        .admit = admit,
        .handler = handle,
        .ctx = api,
    };
    api->srv = cd_httpd_start(&o, err);
    if (!api->srv) {
        lc_ui_free(api->ui);
        if (api->unix_path)
            unlink(api->unix_path);
        free(api->unix_path);
        free(api);
        return NULL;
    }
    return api;
}

void lc_api_stop(lc_api *api)
{
    if (!api)
        return;
    cd_httpd_stop(api->srv);
    if (api->unix_path) {
        unlink(api->unix_path);
        free(api->unix_path);
    }
    memset(api->token, 0, sizeof api->token);
    lc_ui_free(api->ui);
    free(api->open_gates);
    free(api);
}
