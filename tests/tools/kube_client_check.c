/* kube_client_check.c - drives canaryd's Kubernetes client (src/kube/)
 * against a running fake API server and checks what happens; one scenario
 * per run, chosen by the test script (tests/integration/test_kube_*.sh),
 * which starts the server. Prints "ok NAME" / "FAIL NAME" lines and exits
 * non-zero when any check failed. Not part of canaryd.
 *
 * Usage: kube_client_check SCENARIO [--kubeconfig F] [--context C]
 *        [--sa-dir D] [--expect-user U] [--ns NS] [--flag FILE]
 * Scenarios: get, crud, errors, retry, ratelimit, cancel, events,
 *            events-core, informer, faults, leader, rotate (waits for FILE
 *            before its second request), http2 */
#include "kube/api.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/leader.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures, passes;
static const char *g_ns = "default";
static const char *g_expect_user;

#define CHECK(name, cond)                                                                           \
    do {                                                                                            \
        if (cond) {                                                                                 \
            printf("ok   %s\n", name);                                                              \
            passes++;                                                                               \
        } else {                                                                                    \
            printf("FAIL %s (line %d)\n", name, __LINE__);                                         \
            failures++;                                                                             \
        }                                                                                           \
        fflush(stdout);                                                                             \
    } while (0)

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* POST json to /fake/WHAT; json NULL: GET; json "DELETE": DELETE. */
static json_t *control(cd_kube_client *c, const char *what, const char *json)
{
    char path[256];
    snprintf(path, sizeof path, "/fake/%s", what);
    bool del = json && !strcmp(json, "DELETE");
    json_t *body = json && !del ? json_loads(json, 0, NULL) : NULL;
    json_t *out = NULL;
    cd_kube_err err = {0};
    if (!cd_kube_request(c, del ? "DELETE" : json ? "POST" : "GET", path, NULL, body, &out, &err))
        fprintf(stderr, "control %s: %s\n", what, err.msg);
    json_decref(body);
    return out;
}

static json_t *configmap(const char *name, const char *k, const char *v)
{
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "labels", "app", "check", "data", k, v);
}

/* ---- get: the configured identity reaches the server ------------------------ */

static void scenario_get(cd_kube_client *c)
{
    json_t *ns = NULL;
    cd_kube_err err = {0};
    bool ok = cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &ns, &err);
    if (!ok)
        fprintf(stderr, "get: %s\n", err.msg);
    CHECK("get namespace default", ok && !strcmp(cd_kobj_name(ns), "default"));
    json_decref(ns);
    if (g_expect_user) {
        json_t *r = control(c, "requests", NULL);
        json_t *reqs = json_object_get(r, "requests");
        json_t *last = json_array_get(reqs, json_array_size(reqs) - 1);
        const char *user = json_string_value(json_object_get(last, "user"));
        if (!user || strcmp(user, g_expect_user))
            fprintf(stderr, "server saw user %s\n", user ? user : "(none)");
        CHECK("the server authenticated the expected identity", user && !strcmp(user, g_expect_user));
        json_decref(r);
    }
}

/* ---- crud ---------------------------------------------------------------------- */

static int add_label(void *ud, json_t *o, cd_kube_err *err)
{
    (void)err;
    int *calls = ud;
    (*calls)++;
    return cd_kobj_set_label(o, "touched", "yes") ? 1 : 0;
}

static int set_phase(void *ud, json_t *o, cd_kube_err *err)
{
    (void)err;
    json_t *st = json_object_get(o, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(o, "status", st);
    }
    json_object_set_new(st, "phase", json_string(ud));
    return 1;
}

static void scenario_crud(cd_kube_client *c)
{
    cd_kube_err err = {0};
    json_t *cm = configmap("crud", "k", "v1"), *out = NULL;
    CHECK("create", cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, cm, &out, &err));
    CHECK("create: server filled uid and resourceVersion", cd_kobj_uid(out) && cd_kobj_resource_version(out));
    json_t *again = NULL;
    CHECK("create again: AlreadyExists",
          !cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, cm, &again, &err) && cd_kube_is_already_exists(&err));
    json_decref(cm);
    json_t *stale = json_deep_copy(out);
    json_object_set_new(json_object_get(out, "data"), "k", json_string("v2"));
    json_t *updated = NULL;
    CHECK("update with the current resourceVersion", cd_kube_update(c, &CD_KUBE_CONFIGMAPS, out, &updated, &err));
    json_object_set_new(json_object_get(stale, "data"), "k", json_string("v3"));
    CHECK("update with a stale resourceVersion: 409 Conflict",
          !cd_kube_update(c, &CD_KUBE_CONFIGMAPS, stale, NULL, &err) && cd_kube_is_conflict(&err));
    CHECK("the conflict message is the server's", strstr(err.msg, "the object has been modified") != NULL);
    int calls = 0;
    json_t *res = NULL;
    CHECK("update_retry applies a mutation",
          cd_kube_update_retry(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", false, add_label, &calls, &res, &err) &&
              !strcmp(cd_kobj_label(res, "touched"), "yes"));
    json_decref(res);
    calls = 0;
    CHECK("update_retry with nothing to change does not write",
          cd_kube_update_retry(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", false, add_label, &calls, NULL, &err) &&
              calls == 1);
    json_t *patch = json_pack("{s:{s:s}}", "data", "extra", "1");
    CHECK("merge patch", cd_kube_patch(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", CD_KUBE_MERGE_PATCH, patch, NULL,
                                       &res, &err) &&
                             !strcmp(json_string_value(json_object_get(json_object_get(res, "data"), "extra")), "1"));
    json_decref(res);
    json_decref(patch);
    patch = json_pack("[{s:s, s:s}]", "op", "remove", "path", "/data/extra");
    CHECK("JSON patch", cd_kube_patch(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", CD_KUBE_JSON_PATCH, patch, NULL,
                                      &res, &err) &&
                            !json_object_get(json_object_get(res, "data"), "extra"));
    json_decref(res);
    json_decref(patch);
    json_t *items = NULL;
    char *rv = NULL;
    for (int i = 0; i < 7; i++) {
        char n[32];
        snprintf(n, sizeof n, "page-%d", i);
        json_t *p = configmap(n, "i", n);
        cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, p, NULL, &err);
        json_decref(p);
    }
    cd_kube_list_opts lo = {.label_selector = "app=check", .page_size = 3};
    CHECK("list with a label selector, 3 pages of 3", cd_kube_list(c, &CD_KUBE_CONFIGMAPS, g_ns, &lo, &items, &rv, &err) &&
                                                          json_array_size(items) == 8 && rv && atoi(rv) > 0);
    json_decref(items);
    free(rv);
    lo = (cd_kube_list_opts){.field_selector = "metadata.name=page-3"};
    CHECK("list with a field selector", cd_kube_list(c, &CD_KUBE_CONFIGMAPS, NULL, &lo, &items, NULL, &err) &&
                                            json_array_size(items) == 1);
    json_decref(items);
    /* status subresource on a Deployment */
    json_t *dep = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s}]}}}}", "apiVersion", "apps/v1",
        "kind", "Deployment", "metadata", "name", "web", "spec", "replicas", 1, "selector", "matchLabels", "app",
        "web", "template", "metadata", "labels", "app", "web", "spec", "containers", "name", "web", "image",
        "web:1");
    CHECK("create a deployment", cd_kube_create(c, &CD_KUBE_DEPLOYMENTS, g_ns, dep, &res, &err));
    int64_t gen = cd_kobj_generation(res);
    json_decref(res);
    json_decref(dep);
    patch = json_pack("{s:{s:{s:{s:[{s:s, s:s}]}}}}", "spec", "template", "spec", "containers", "name", "web",
                      "image", "web:2");
    CHECK("strategic merge patch on a deployment bumps generation",
          cd_kube_patch(c, &CD_KUBE_DEPLOYMENTS, g_ns, "web", CD_KUBE_STRATEGIC_PATCH, patch, NULL, &res, &err) &&
              cd_kobj_generation(res) == gen + 1);
    json_decref(res);
    json_decref(patch);
    json_t *canary = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}, s:{s:i}, s:{s:s, s:i, s:i}}}", "apiVersion",
                               "flagger.app/v1beta1", "kind", "Canary", "metadata", "name", "web", "spec",
                               "targetRef", "apiVersion", "apps/v1", "kind", "Deployment", "name", "web",
                               "service", "port", 80, "analysis", "interval", "1m", "threshold", 5,
                               "stepWeight", 10);
    CHECK("create a canary", cd_kube_create(c, &CD_KUBE_CANARIES, g_ns, canary, NULL, &err));
    json_decref(canary);
    CHECK("status subresource through update_retry",
          cd_kube_update_retry(c, &CD_KUBE_CANARIES, g_ns, "web", true, set_phase, "Initializing", &res, &err) &&
              !strcmp(json_string_value(cd_kobj_path(res, "status.phase")), "Initializing"));
    json_decref(res);
    /* owner references and finalizers */
    json_t *owner = NULL;
    cd_kube_get(c, &CD_KUBE_CANARIES, g_ns, "web", &owner, &err);
    json_t *ref = cd_kobj_owner_ref(owner, true, true);
    json_t *child = configmap("web-owned", "k", "v");
    bool changed = false;
    CHECK("ownerReference set", cd_kobj_set_owner_ref(child, ref, &changed) && changed);
    CHECK("create an owned object", cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, child, &res, &err) &&
                                        cd_kobj_is_controlled_by(res, owner));
    json_decref(res);
    json_decref(child);
    json_decref(ref);
    CHECK("add a finalizer", cd_kube_add_finalizer(c, &CD_KUBE_CANARIES, g_ns, "web", "finalizer.flagger.app", &err));
    CHECK("delete with a finalizer leaves the object terminating",
          cd_kube_delete(c, &CD_KUBE_CANARIES, g_ns, "web", NULL, &err) &&
              cd_kube_get(c, &CD_KUBE_CANARIES, g_ns, "web", &res, &err) && cd_kobj_is_deleting(res));
    json_decref(res);
    CHECK("remove the finalizer: the object is gone",
          cd_kube_remove_finalizer(c, &CD_KUBE_CANARIES, g_ns, "web", "finalizer.flagger.app", &err) &&
              !cd_kube_get(c, &CD_KUBE_CANARIES, g_ns, "web", &res, &err) && cd_kube_is_not_found(&err));
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !cd_kube_get(c, &CD_KUBE_CONFIGMAPS, g_ns, "web-owned", &res, &err) && cd_kube_is_not_found(&err);
        json_decref(res);
        res = NULL;
        if (!gone)
            msleep(100);
    }
    CHECK("the owned object is garbage-collected", gone);
    json_decref(owner);
    cd_kube_delete_opts dopt = {.precondition_uid = "not-the-uid"};
    CHECK("delete with a failing uid precondition: 409",
          !cd_kube_delete(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", &dopt, &err) && cd_kube_is_conflict(&err));
    CHECK("delete", cd_kube_delete(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", NULL, &err));
    CHECK("delete again: NotFound", !cd_kube_delete(c, &CD_KUBE_CONFIGMAPS, g_ns, "crud", NULL, &err) &&
                                        cd_kube_is_not_found(&err));
    json_decref(out);
    json_decref(stale);
    json_decref(updated);
}

/* ---- errors --------------------------------------------------------------------- */

static void scenario_errors(cd_kube_client *c)
{
    cd_kube_err err = {0};
    json_t *out = NULL;
    CHECK("get a missing object: NotFound with the server's message",
          !cd_kube_get(c, &CD_KUBE_DEPLOYMENTS, g_ns, "nope", &out, &err) && cd_kube_is_not_found(&err) &&
              err.http == 404 && strstr(err.msg, "deployments.apps \"nope\" not found"));
    json_t *bad = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}, s:{s:i}, s:{s:s}, s:s}}", "apiVersion",
                            "flagger.app/v1beta1", "kind", "Canary", "metadata", "name", "bad", "spec",
                            "targetRef", "apiVersion", "apps/v1", "kind", "Deployment", "name", "x", "service",
                            "port", 80, "analysis", "interval", "one minute", "provider", "appmash");
    CHECK("a Canary breaking the CRD schema: Invalid, with the field paths",
          !cd_kube_create(c, &CD_KUBE_CANARIES, g_ns, bad, NULL, &err) && cd_kube_is_invalid(&err) &&
              strstr(err.msg, "spec.analysis.interval") && strstr(err.msg, "spec.provider"));
    json_decref(bad);
    CHECK("an invalid name never reaches the server",
          !cd_kube_get(c, &CD_KUBE_DEPLOYMENTS, g_ns, "a/b", &out, &err) && err.reason == CD_KR_CONFIG);
    json_t *cm = configmap("x", "k", "v");
    CHECK("create in a missing namespace: NotFound",
          !cd_kube_create(c, &CD_KUBE_CONFIGMAPS, "does-not-exist", cm, NULL, &err) && cd_kube_is_not_found(&err));
    json_decref(cm);
    CHECK("a missing resource type: NotFound",
          !cd_kube_request(c, "GET", "/apis/nope.example.com/v1/things", NULL, NULL, &out, &err) &&
              cd_kube_is_not_found(&err));
}

/* ---- retry ------------------------------------------------------------------------ */

static void scenario_retry(cd_kube_client *c)
{
    cd_kube_err err = {0};
    json_t *out = NULL;
    cd_kube_client_opts quick = {.qps = -1, .timeout_ms = 500, .max_retries = -1};
    cd_kube_client *qc = cd_kube_client_new(cd_kube_client_config(c), &quick, &err);
    json_decref(control(c, "delay", "{\"ms\":1500}"));
    CHECK("a request slower than the timeout fails with Timeout",
          !cd_kube_get(qc, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err) && err.reason == CD_KR_TIMEOUT &&
              cd_kube_is_retriable(&err));
    json_decref(control(c, "delay", "{\"ms\":0}"));
    cd_kube_client_free(qc);
    cd_kube_stats before, after;
    cd_kube_client_stats(c, &before);
    json_decref(control(c, "errors", "{\"code\":500,\"count\":2,\"verbs\":[\"get\"]}"));
    bool ok = cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err);
    cd_kube_client_stats(c, &after);
    CHECK("GET retried through a 500 storm of 2", ok && after.retries - before.retries == 2);
    json_decref(out);
    json_decref(control(c, "errors", "{\"code\":429,\"count\":1,\"verbs\":[\"create\"]}"));
    json_t *cm = configmap("retry-429", "k", "v");
    CHECK("POST retried after 429 Too Many Requests",
          cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, cm, NULL, &err));
    json_decref(cm);
    json_decref(control(c, "errors", "{\"code\":500,\"count\":1,\"verbs\":[\"create\"]}"));
    cm = configmap("retry-500", "k", "v");
    CHECK("POST not retried after a 500 (not idempotent): InternalError",
          !cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, cm, NULL, &err) && err.reason == CD_KR_INTERNAL &&
              cd_kube_is_retriable(&err));
    json_decref(cm);
    json_decref(control(c, "errors", "{\"code\":503,\"count\":10,\"verbs\":[\"get\"]}"));
    CHECK("GET gives up after max retries: ServiceUnavailable",
          !cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err) &&
              err.reason == CD_KR_SERVICE_UNAVAILABLE);
    json_decref(control(c, "errors", "DELETE"));
}

/* ---- rate limits ------------------------------------------------------------------ */

static void scenario_ratelimit(cd_kube_config *cfg)
{
    cd_kube_client_opts o = {.qps = 5, .burst = 2};
    cd_kube_err err = {0};
    cd_kube_client *c = cd_kube_client_new(cfg, &o, &err);
    int64_t t0 = cd_mono_ms();
    for (int i = 0; i < 10; i++) {
        json_t *out = NULL;
        cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err);
        json_decref(out);
    }
    int64_t took = cd_mono_ms() - t0;
    cd_kube_stats st;
    cd_kube_client_stats(c, &st);
    printf("info 10 GETs at qps 5 burst 2: %lld ms, %llu throttled, %llu ms waited\n", (long long)took,
           (unsigned long long)st.throttled, (unsigned long long)st.throttled_ms);
    CHECK("qps 5 burst 2: the 8 requests past the burst waited", st.throttled == 8);
    CHECK("... and the wait adds up to the bucket's debt (8/5 s, minus time spent)", st.throttled_ms >= 1000);
    cd_kube_client_free(c);
}

/* ---- cancel ------------------------------------------------------------------------- */

typedef struct watch_arg {
    cd_kube_client *c;
    bool ok;
    cd_kube_err err;
    int events;
} watch_arg;

static int count_event(void *ud, const cd_watch_event *ev)
{
    (void)ev;
    ((watch_arg *)ud)->events++;
    return 0;
}

static void *watch_thread(void *p)
{
    watch_arg *a = p;
    a->ok = cd_kube_watch_stream(a->c, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=60",
                                 count_event, a, NULL, &a->err);
    return NULL;
}

static void *slow_get(void *p)
{
    watch_arg *a = p;
    json_t *out = NULL;
    a->ok = cd_kube_get(a->c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &a->err);
    json_decref(out);
    return NULL;
}

static void scenario_cancel(cd_kube_config *cfg)
{
    cd_kube_err err = {0};
    cd_kube_client *c = cd_kube_client_new(cfg, NULL, &err);
    watch_arg w = {.c = c}, g = {.c = c};
    pthread_t tw, tg;
    pthread_create(&tw, NULL, watch_thread, &w);
    msleep(500);
    json_decref(control(c, "delay", "{\"ms\":5000}"));
    pthread_create(&tg, NULL, slow_get, &g);
    msleep(300);
    int64_t t0 = cd_mono_ms();
    cd_kube_client_cancel(c);
    pthread_join(tw, NULL);
    pthread_join(tg, NULL);
    int64_t took = cd_mono_ms() - t0;
    printf("info cancel returned after %lld ms\n", (long long)took);
    CHECK("cancel ends an open watch with Cancelled", !w.ok && cd_kube_is_cancelled(&w.err));
    CHECK("cancel ends a request in flight with Cancelled (before the server's 5 s delay)",
          !g.ok && cd_kube_is_cancelled(&g.err));
    json_t *out = NULL;
    CHECK("a cancelled client refuses new requests",
          !cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err) && cd_kube_is_cancelled(&err));
    cd_kube_client_free(c);
    c = cd_kube_client_new(cfg, NULL, &err);
    json_decref(control(c, "delay", "{\"ms\":0}"));
    cd_kube_client_free(c);
}

/* ---- events ------------------------------------------------------------------------ */

static size_t count_events(cd_kube_client *c, const char *reason, long *count_out)
{
    json_t *items = NULL;
    cd_kube_err err = {0};
    char fs[256];
    snprintf(fs, sizeof fs, "involvedObject.name=ev,involvedObject.kind=Canary,reason=%s", reason);
    cd_kube_list_opts lo = {.field_selector = fs};
    if (!cd_kube_list(c, &CD_KUBE_EVENTS_V1CORE, g_ns, &lo, &items, NULL, &err))
        return 0;
    size_t n = json_array_size(items);
    long count = 0;
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) {
        json_t *series = json_object_get(v, "series");
        json_t *cnt = json_object_get(v, "count");
        long k = json_is_integer(json_object_get(series, "count")) ? (long)json_integer_value(json_object_get(series, "count"))
                 : json_is_integer(cnt) ? (long)json_integer_value(cnt) : 1;
        if (k > count)
            count = k;
    }
    if (count_out)
        *count_out = count;
    json_decref(items);
    return n;
}

static void scenario_events(cd_kube_client *c, bool expect_core)
{
    cd_kube_err err = {0};
    json_t *canary = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}, s:{s:i}, s:{s:s, s:i, s:i}}}", "apiVersion",
                               "flagger.app/v1beta1", "kind", "Canary", "metadata", "name", "ev", "spec",
                               "targetRef", "apiVersion", "apps/v1", "kind", "Deployment", "name", "ev",
                               "service", "port", 80, "analysis", "interval", "1m", "threshold", 5,
                               "stepWeight", 10);
    json_t *obj = NULL;
    cd_kube_create(c, &CD_KUBE_CANARIES, g_ns, canary, &obj, &err);
    json_decref(canary);
    cd_kube_events_opts eo = {.controller = "canaryd", .instance = "check-1"};
    cd_kube_events *ev = cd_kube_events_new(c, &eo);
    CHECK("event recorded", cd_kube_event(ev, obj, "Normal", "Synced", "Synced",
                                          "Initialization done! ev.default", &err));
    CHECK(expect_core ? "fell back to core v1 Events" : "used events.k8s.io/v1", cd_kube_events_core(ev) == expect_core);
    for (int i = 0; i < 3; i++)
        cd_kube_event(ev, obj, "Warning", "Synced", "Synced", "Halt advancement ev.default waiting for rollout", &err);
    long count = 0;
    size_t n = count_events(c, "Synced", &count);
    CHECK("repeated events become one series (count 3), visible as core v1", n == 2 && count == 3);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK("a long note is cut to 1 kB", cd_kube_event(ev, obj, "Normal", "Long", "Long", big, &err));
    CHECK("type must be Normal or Warning", !cd_kube_event(ev, obj, "Bad", "X", "X", "x", &err));
    cd_kube_events_free(ev);
    json_decref(obj);
}

/* ---- informer ------------------------------------------------------------------------ */

typedef struct seen {
    pthread_mutex_t mu;
    int adds, updates, deletes, resyncs;
    json_t *state;      /* name -> data.v, as told by the handlers */
} seen;

static void on_add(void *ud, const json_t *o)
{
    seen *s = ud;
    pthread_mutex_lock(&s->mu);
    s->adds++;
    json_object_set(s->state, cd_kobj_name(o), json_object_get(json_object_get(o, "data"), "v"));
    pthread_mutex_unlock(&s->mu);
}

static void on_update(void *ud, const json_t *old, const json_t *o)
{
    seen *s = ud;
    pthread_mutex_lock(&s->mu);
    if (old == o)
        s->resyncs++;
    else
        s->updates++;
    json_object_set(s->state, cd_kobj_name(o), json_object_get(json_object_get(o, "data"), "v"));
    pthread_mutex_unlock(&s->mu);
}

static void on_delete(void *ud, const json_t *o)
{
    seen *s = ud;
    pthread_mutex_lock(&s->mu);
    s->deletes++;
    json_object_del(s->state, cd_kobj_name(o));
    pthread_mutex_unlock(&s->mu);
}

static bool state_is(seen *s, const char *name, const char *v)
{
    pthread_mutex_lock(&s->mu);
    json_t *x = json_object_get(s->state, name);
    bool ok = v ? (x && !strcmp(json_string_value(x), v)) : !x;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool wait_state(seen *s, const char *name, const char *v, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (state_is(s, name, v))
            return true;
        msleep(20);
    }
    return state_is(s, name, v);
}

static void put_cm(cd_kube_client *c, const char *name, const char *v)
{
    cd_kube_err err = {0};
    json_t *patch = json_pack("{s:{s:s}}", "data", "v", v);
    if (!cd_kube_patch(c, &CD_KUBE_CONFIGMAPS, g_ns, name, CD_KUBE_MERGE_PATCH, patch, NULL, NULL, &err)) {
        json_t *cm = json_pack("{s:{s:s, s:{s:s}}, s:{s:s}}", "metadata", "name", name, "labels", "inf", "yes",
                               "data", "v", v);
        if (!cd_kube_create(c, &CD_KUBE_CONFIGMAPS, g_ns, cm, NULL, &err))
            fprintf(stderr, "put_cm %s: %s\n", name, err.msg);
        json_decref(cm);
    }
    json_decref(patch);
}

static bool cache_matches_server(cd_kube_client *c, cd_informer *inf)
{
    json_t *items = NULL;
    cd_kube_err err = {0};
    cd_kube_list_opts lo = {.label_selector = "inf=yes"};
    if (!cd_kube_list(c, &CD_KUBE_CONFIGMAPS, g_ns, &lo, &items, NULL, &err))
        return false;
    json_t *cached = cd_informer_list(inf);
    bool same = json_array_size(items) == json_array_size(cached);
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) {
        json_t *x = cd_informer_get(inf, g_ns, cd_kobj_name(v));
        if (!x || strcmp(cd_kobj_resource_version(x), cd_kobj_resource_version(v)))
            same = false;
        json_decref(x);
    }
    json_decref(items);
    json_decref(cached);
    return same;
}

static bool wait_cache(cd_kube_client *c, cd_informer *inf, int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        if (cache_matches_server(c, inf))
            return true;
        msleep(50);
    }
    return false;
}

static void scenario_informer(cd_kube_client *c)
{
    seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, json_object()};
    put_cm(c, "pre", "1");
    cd_informer_opts o = {.resource = &CD_KUBE_CONFIGMAPS, .namespace = g_ns, .label_selector = "inf=yes",
                          .resync_ms = 1000, .page_size = 2, .backoff_initial_ms = 100,
                          .backoff_max_ms = 1000};
    cd_informer_handlers h = {on_add, on_update, on_delete, &s};
    cd_informer *inf = cd_informer_new(c, &o, &h);
    CHECK("informer starts", cd_informer_start(inf));
    CHECK("informer syncs", cd_informer_wait_synced(inf, 10000));
    CHECK("initial list reported as add", state_is(&s, "pre", "1"));
    put_cm(c, "a", "1");
    CHECK("watch: ADDED", wait_state(&s, "a", "1", 5000));
    put_cm(c, "a", "2");
    CHECK("watch: MODIFIED", wait_state(&s, "a", "2", 5000));
    cd_kube_err err = {0};
    cd_kube_delete(c, &CD_KUBE_CONFIGMAPS, g_ns, "a", NULL, &err);
    CHECK("watch: DELETED", wait_state(&s, "a", NULL, 5000));
    json_t *pre = cd_informer_get(inf, g_ns, "pre");
    CHECK("get from the cache", pre && !strcmp(cd_kobj_name(pre), "pre"));
    CHECK("... with its managedFields", pre && kj_at(pre, "metadata.managedFields") != NULL);
    cd_informer_opts so = o;
    so.strip_managed_fields = true;
    cd_informer *slim = cd_informer_new(c, &so, NULL);
    cd_informer_start(slim);
    json_t *lean = cd_informer_wait_synced(slim, 10000) ? cd_informer_get(slim, g_ns, "pre") : NULL;
    CHECK("strip_managed_fields: the same object without its managedFields",
          lean && pre && !kj_at(lean, "metadata.managedFields") &&
              !strcmp(cd_kobj_resource_version(lean), cd_kobj_resource_version(pre)) &&
              kj_equal(kj_at(lean, "data"), kj_at(pre, "data")));
    json_decref(lean);
    cd_informer_free(slim);
    json_decref(pre);
    msleep(1500);
    pthread_mutex_lock(&s.mu);
    int resyncs = s.resyncs;
    pthread_mutex_unlock(&s.mu);
    CHECK("periodic resync calls on_update(old == new)", resyncs >= 1);

    /* a cut watch resumes from the last resourceVersion: no relist */
    cd_informer_stats st0, st1;
    cd_informer_get_stats(inf, &st0);
    json_decref(control(c, "cut-watches", "{}"));
    put_cm(c, "b", "1");
    CHECK("after a cut watch, changes keep coming", wait_state(&s, "b", "1", 10000));
    cd_informer_get_stats(inf, &st1);
    CHECK("... through a new watch, without a relist", st1.watches > st0.watches && st1.lists == st0.lists &&
                                                           st1.errors > st0.errors);

    /* changes made while the watch is down are not lost */
    json_decref(control(c, "errors", "{\"code\":500,\"seconds\":1.5,\"verbs\":[\"watch\"]}"));
    json_decref(control(c, "cut-watches", "{}"));
    put_cm(c, "c", "1");
    put_cm(c, "b", "2");
    CHECK("a 500 storm on watches: the informer backs off and catches up",
          wait_state(&s, "c", "1", 15000) && wait_state(&s, "b", "2", 15000));

    /* compaction: the watch resumes from a compacted resourceVersion, gets 410, relists */
    cd_informer_get_stats(inf, &st0);
    json_decref(control(c, "cut-watches", "{}"));   /* nothing new: resumes from the old rv... */
    json_decref(control(c, "errors", "{\"code\":503,\"seconds\":1.0,\"verbs\":[\"watch\"]}"));
    put_cm(c, "d", "1");
    cd_kube_delete(c, &CD_KUBE_CONFIGMAPS, g_ns, "c", NULL, &err);
    json_decref(control(c, "compact", "{}"));
    CHECK("after compaction: 410, relist, the cache catches up",
          wait_state(&s, "d", "1", 15000) && wait_state(&s, "c", NULL, 15000));
    cd_informer_get_stats(inf, &st1);
    CHECK("... counted as a relist after 410", st1.relists_expired > st0.relists_expired && st1.lists > st0.lists);
    CHECK("cache matches the server", wait_cache(c, inf, 5000));

    /* bookmarks move the resourceVersion without events */
    msleep(1500);
    cd_informer_get_stats(inf, &st1);
    CHECK("bookmarks received", st1.bookmarks > 0);
    /* cluster-wide: objects of every namespace */
    seen all = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, json_object()};
    cd_informer_opts ow = {.resource = &CD_KUBE_CONFIGMAPS, .label_selector = "inf=yes"};
    cd_informer_handlers hw = {on_add, on_update, on_delete, &all};
    cd_informer *wide = cd_informer_new(c, &ow, &hw);
    cd_informer_start(wide);
    cd_informer_wait_synced(wide, 10000);
    json_t *other = json_pack("{s:{s:s, s:{s:s}}, s:{s:s}}", "metadata", "name", "elsewhere", "labels", "inf", "yes",
                              "data", "v", "ks");
    cd_kube_create(c, &CD_KUBE_CONFIGMAPS, "kube-system", other, NULL, &err);
    json_decref(other);
    CHECK("a cluster-wide informer sees objects of every namespace",
          wait_state(&all, "elsewhere", "ks", 5000) && wait_state(&all, "b", "2", 5000));
    json_t *found = cd_informer_get(wide, "kube-system", "elsewhere");
    CHECK("... cached under namespace/name", found != NULL);
    json_decref(found);
    cd_informer_free(wide);
    json_decref(all.state);

    cd_informer_stop(inf);
    pthread_mutex_lock(&s.mu);
    int after_stop = s.adds + s.updates + s.deletes;
    pthread_mutex_unlock(&s.mu);
    put_cm(c, "e", "1");
    msleep(500);
    pthread_mutex_lock(&s.mu);
    CHECK("no callbacks after stop", s.adds + s.updates + s.deletes == after_stop);
    pthread_mutex_unlock(&s.mu);
    cd_informer_free(inf);
    json_decref(s.state);
}

/* ---- faults: 409 on every first write ------------------------------------------------ */

static void scenario_faults(cd_kube_client *c)
{
    cd_kube_err err = {0};
    put_cm(c, "conflicted", "1");
    put_cm(c, "conflicted2", "1");
    json_decref(control(c, "conflicts", "{\"first_write\":true}"));
    int calls = 0;
    CHECK("update_retry survives a 409 on the first write (re-reads, writes again)",
          cd_kube_update_retry(c, &CD_KUBE_CONFIGMAPS, g_ns, "conflicted", false, add_label, &calls, NULL, &err) &&
              calls == 2);
    json_t *cur = NULL;
    cd_kube_get(c, &CD_KUBE_CONFIGMAPS, g_ns, "conflicted2", &cur, &err);
    cd_kobj_set_label(cur, "x", "y");
    CHECK("a plain update gets the 409", !cd_kube_update(c, &CD_KUBE_CONFIGMAPS, cur, NULL, &err) &&
                                             cd_kube_is_conflict(&err));
    json_decref(cur);
    json_decref(control(c, "conflicts", "{\"first_write\":false}"));
}

/* ---- leader election ----------------------------------------------------------------- */

typedef struct campaign {
    const char *name;
    atomic_int started, stopped;
} campaign;

static void started(void *ud) { atomic_fetch_add(&((campaign *)ud)->started, 1); }
static void stopped(void *ud) { atomic_fetch_add(&((campaign *)ud)->stopped, 1); }

static bool wait_flag(atomic_int *f, int want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (atomic_load(f) >= want)
            return true;
        msleep(20);
    }
    return atomic_load(f) >= want;
}

static void scenario_leader(cd_kube_client *c, cd_kube_config *cfg)
{
    cd_kube_err err = {0};
    campaign a = {.name = "a"}, b = {.name = "b"};
    cd_leader_opts oa = {.namespace = g_ns, .name = "check-lease", .identity = "host-a_1",
                         .lease_duration_ms = 3000, .renew_deadline_ms = 2000, .retry_period_ms = 300,
                         .on_started_leading = started, .on_stopped_leading = stopped, .ud = &a};
    cd_leader_opts ob = oa;
    ob.identity = "host-b_2";
    ob.ud = &b;
    cd_leader *la = cd_leader_start(cfg, &oa, &err);
    CHECK("a starts leading", la && wait_flag(&a.started, 1, 5000) && cd_leader_is_leader(la));
    cd_leader *lb = cd_leader_start(cfg, &ob, &err);
    msleep(1500);
    char *holder = cd_leader_holder(lb);
    CHECK("b waits while a renews, and sees a as the holder", !cd_leader_is_leader(lb) && atomic_load(&b.started) == 0 &&
                                                                   holder && !strcmp(holder, "host-a_1"));
    free(holder);
    json_t *lease = NULL;
    cd_kube_get(c, &CD_KUBE_LEASES, g_ns, "check-lease", &lease, &err);
    CHECK("the Lease names a as holder, 3 s duration",
          !strcmp(json_string_value(cd_kobj_path(lease, "spec.holderIdentity")), "host-a_1") &&
              json_integer_value(cd_kobj_path(lease, "spec.leaseDurationSeconds")) == 3);
    json_decref(lease);
    cd_leader_stop(la);
    CHECK("a stops: on_stopped_leading called once", atomic_load(&a.stopped) == 1);
    CHECK("b takes over as soon as a released the lease", wait_flag(&b.started, 1, 3000));
    cd_kube_get(c, &CD_KUBE_LEASES, g_ns, "check-lease", &lease, &err);
    CHECK("the Lease names b, one more transition",
          !strcmp(json_string_value(cd_kobj_path(lease, "spec.holderIdentity")), "host-b_2") &&
              json_integer_value(cd_kobj_path(lease, "spec.leaseTransitions")) >= 1);
    json_decref(lease);
    /* the API server fails b's renewals for longer than the renew deadline */
    json_decref(control(c, "errors", "{\"code\":500,\"seconds\":4,\"path\":\"/leases\"}"));
    CHECK("b loses leadership when it cannot renew within the renew deadline",
          wait_flag(&b.stopped, 1, 6000) && !cd_leader_is_leader(lb));
    cd_leader_free(lb);
    CHECK("stopping after losing does not call on_stopped_leading again", atomic_load(&b.stopped) == 1);
    cd_leader_free(la);
    /* a lease held by someone else who stopped renewing is taken over after its duration */
    json_decref(control(c, "errors", "DELETE"));
    msleep(4100);
    lease = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion", "coordination.k8s.io/v1",
                      "kind", "Lease", "metadata", "name", "stale-lease", "spec", "holderIdentity", "gone_0",
                      "leaseDurationSeconds", 2, "acquireTime", "2020-01-01T00:00:00.000000Z", "renewTime",
                      "2020-01-01T00:00:00.000000Z", "leaseTransitions", 4);
    cd_kube_create(c, &CD_KUBE_LEASES, g_ns, lease, NULL, &err);
    json_decref(lease);
    campaign d = {.name = "d"};
    cd_leader_opts od = oa;
    od.name = "stale-lease";
    od.identity = "host-d_4";
    od.ud = &d;
    int64_t t0 = cd_mono_ms();
    cd_leader *ld = cd_leader_start(cfg, &od, &err);
    CHECK("a stale lease is taken over", wait_flag(&d.started, 1, 6000));
    int64_t took = cd_mono_ms() - t0;
    printf("info stale lease taken after %lld ms\n", (long long)took);
    CHECK("... only after its duration passed on the local clock (not its old renewTime)", took >= 1900);
    cd_leader_free(ld);
    cd_kube_get(c, &CD_KUBE_LEASES, g_ns, "stale-lease", &lease, &err);
    CHECK("released on stop: empty holder",
          !strcmp(json_string_value(cd_kobj_path(lease, "spec.holderIdentity")), "") &&
              json_integer_value(cd_kobj_path(lease, "spec.leaseTransitions")) == 5);
    json_decref(lease);
}

/* ---- rotate: the token file changes and the server revokes the old token ---- */

static void scenario_rotate(cd_kube_client *c, const char *flag)
{
    cd_kube_err err = {0};
    json_t *out = NULL;
    CHECK("GET with the first token", cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err));
    json_decref(out);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 300 && access(flag, F_OK) != 0; i++)
        msleep(50);
    cd_kube_stats before, after;
    cd_kube_client_stats(c, &before);
    bool ok = cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err);
    if (!ok)
        fprintf(stderr, "after rotation: %s\n", err.msg);
    json_decref(out);
    cd_kube_client_stats(c, &after);
    CHECK("GET after the token rotated: the file is re-read", ok && after.auth_refreshes > before.auth_refreshes);
}

/* ---- http2: through a TLS proxy that speaks h2 ------------------------------------------ */

static void scenario_http2(cd_kube_client *c)
{
    cd_kube_err err = {0};
    json_t *out = NULL;
    CHECK("GET through the h2 proxy", cd_kube_get(c, &CD_KUBE_NAMESPACES, NULL, "default", &out, &err));
    json_decref(out);
    watch_arg w = {.c = c};
    w.ok = cd_kube_watch_stream(c, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
                                count_event, &w, NULL, &w.err);
    if (!w.ok)
        fprintf(stderr, "watch: %s\n", w.err.msg);
    CHECK("a watch stream over HTTP/2 ends cleanly at timeoutSeconds", w.ok);
    cd_kube_stats st;
    cd_kube_client_stats(c, &st);
    CHECK("HTTP/2 was negotiated", st.http2 >= 2 && st.http2 == st.requests);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCENARIO [--kubeconfig F] [--context C] [--sa-dir D] [--expect-user U]\n",
                argv[0]);
        return 2;
    }
    cd_log_set_json(false);
    cd_log_set_level(CD_LOG_WARN);
    const char *scenario = argv[1];
    const char *flag = NULL;
    cd_kube_config_opts co = {0};
    bool in_cluster = false;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kubeconfig"))
            co.kubeconfig = argv[i + 1];
        else if (!strcmp(argv[i], "--context"))
            co.context = argv[i + 1];
        else if (!strcmp(argv[i], "--sa-dir")) {
            co.sa_dir = argv[i + 1];
            in_cluster = true;
        } else if (!strcmp(argv[i], "--expect-user"))
            g_expect_user = argv[i + 1];
        else if (!strcmp(argv[i], "--ns"))
            g_ns = argv[i + 1];
        else if (!strcmp(argv[i], "--flag"))
            flag = argv[i + 1];
    }
    cd_kube_config cfg;
    cd_kube_err err = {0};
    bool ok = in_cluster ? cd_kube_config_in_cluster(co.sa_dir, &cfg, &err) : cd_kube_config_load(&co, &cfg, &err);
    if (!ok) {
        printf("FAIL load configuration: %s\n", err.msg);
        return 1;
    }
    /* tokenFile re-read only after a 401: rotation must be noticed that way */
    cd_kube_client_opts o = {.qps = -1, .token_reload_ms = 3600000};
    cd_kube_client *c = cd_kube_client_new(&cfg, &o, &err);
    if (!c) {
        printf("FAIL client: %s\n", err.msg);
        cd_kube_config_free(&cfg);
        return 1;
    }
    if (!strcmp(scenario, "get"))
        scenario_get(c);
    else if (!strcmp(scenario, "crud"))
        scenario_crud(c);
    else if (!strcmp(scenario, "errors"))
        scenario_errors(c);
    else if (!strcmp(scenario, "retry"))
        scenario_retry(c);
    else if (!strcmp(scenario, "ratelimit"))
        scenario_ratelimit(&cfg);
    else if (!strcmp(scenario, "cancel"))
        scenario_cancel(&cfg);
    else if (!strcmp(scenario, "events"))
        scenario_events(c, false);
    else if (!strcmp(scenario, "events-core"))
        scenario_events(c, true);
    else if (!strcmp(scenario, "informer"))
        scenario_informer(c);
    else if (!strcmp(scenario, "faults"))
        scenario_faults(c);
    else if (!strcmp(scenario, "leader"))
        scenario_leader(c, &cfg);
    else if (!strcmp(scenario, "rotate") && flag)
        scenario_rotate(c, flag);
    else if (!strcmp(scenario, "http2"))
        scenario_http2(c);
    else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        failures++;
    }
    cd_kube_client_free(c);
    cd_kube_config_free(&cfg);
    printf("%d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
