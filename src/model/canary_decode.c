/* canary_decode.c - Canary spec: schema-validated node tree -> cd_canary_spec
 * with Flagger's defaults, plus the checks Flagger's controller makes that
 * a CRD schema cannot express. Reports through cd_dec; never allocates
 * outside the object's arena. */
#include "model/canary_codec.h"
#include "model/judge.h"
#include "util/duration.h"
#include <limits.h>
#include <math.h>
#include <string.h>

#define DEFAULT_INTERVAL_MS 60000
#define MIN_INTERVAL_MS 10000
#define DEFAULT_WEBHOOK_TIMEOUT_MS 10000

static void decode_object_ref(cd_dec *d, const cd_node *n, cd_object_ref *r)
{
    memset(r, 0, sizeof *r);
    r->api_version = cd_dec_str(d, n, "apiVersion");
    r->kind = cd_dec_str(d, n, "kind");
    r->name = cd_dec_str(d, n, "name");
    r->namespace_ = cd_dec_str(d, n, "namespace");
}

static void decode_http_match(cd_dec *d, const cd_node *n, cd_http_match *m)
{
    memset(m, 0, sizeof *m);
    m->name = cd_dec_str(d, n, "name");
    cd_dec_string_match(d, cd_map_get(n, "uri"), &m->uri);
    cd_dec_string_match(d, cd_map_get(n, "scheme"), &m->scheme);
    cd_dec_string_match(d, cd_map_get(n, "method"), &m->method);
    cd_dec_string_match(d, cd_map_get(n, "authority"), &m->authority);
    cd_dec_named_matches(d, cd_map_get(n, "headers"), &m->headers);
    cd_dec_named_matches(d, cd_map_get(n, "queryParams"), &m->query_params);
    cd_dec_named_matches(d, cd_map_get(n, "withoutHeaders"), &m->without_headers);
    int64_t port;
    if (cd_dec_int(d, n, "port", "", &port)) {
        m->has_port = true;
        m->port = (int32_t)port;
    }
    cd_dec_strmap(d, cd_map_get(n, "sourceLabels"), &m->source_labels);
    cd_dec_strlist(d, cd_map_get(n, "gateways"), &m->gateways);
    m->ignore_uri_case = cd_dec_bool(n, "ignoreUriCase");
    m->source_namespace = cd_dec_str(d, n, "sourceNamespace");
}

static cd_http_match *decode_matches(cd_dec *d, const cd_node *seq, size_t *n)
{
    *n = 0;
    if (!seq || seq->type != CD_N_SEQ || seq->nitems == 0)
        return NULL;
    cd_http_match *out = cd_arena_alloc(d->a, seq->nitems * sizeof *out);
    for (size_t i = 0; i < seq->nitems; i++)
        decode_http_match(d, seq->items[i], &out[(*n)++]);
    return out;
}

static void decode_metadata(cd_dec *d, const cd_node *n, cd_metadata *m, bool *has)
{
    memset(m, 0, sizeof *m);
    *has = n && n->type == CD_N_MAP;
    cd_dec_strmap(d, cd_map_get(n, "labels"), &m->labels);
    cd_dec_strmap(d, cd_map_get(n, "annotations"), &m->annotations);
}

static void decode_header_ops(cd_dec *d, const cd_node *n, cd_header_ops *h)
{
    memset(h, 0, sizeof *h);
    cd_dec_strmap(d, cd_map_get(n, "set"), &h->set);
    cd_dec_strmap(d, cd_map_get(n, "add"), &h->add);
    cd_dec_strlist(d, cd_map_get(n, "remove"), &h->remove);
}

static void decode_service(cd_dec *d, const cd_node *n, const char *path, cd_service *s)
{
    memset(s, 0, sizeof *s);
    s->name = cd_dec_str(d, n, "name");
    s->port = (int32_t)cd_dec_int_or(d, n, "port", path, 0);
    s->port_name = cd_dec_str(d, n, "portName");
    const cd_node *tp = cd_map_get(n, "targetPort");
    if (tp && tp->type == CD_N_INT) {
        s->target_port = (cd_int_or_string){true, false, (int32_t)tp->v.i, NULL};
    } else if (tp && tp->type == CD_N_STR) {
        s->target_port = (cd_int_or_string){true, true, 0, cd_dec_str(d, n, "targetPort")};
    }
    s->app_protocol = cd_dec_str(d, n, "appProtocol");
    s->traffic_distribution = cd_dec_str(d, n, "trafficDistribution");
    s->port_discovery = cd_dec_bool(n, "portDiscovery");
    s->headless = cd_dec_bool(n, "headless");
    s->delegation = cd_dec_bool(n, "delegation");
    s->timeout = cd_dec_str(d, n, "timeout");
    s->backend_timeout = cd_dec_str(d, n, "backendTimeout");
    s->mesh_name = cd_dec_str(d, n, "meshName");
    cd_dec_strlist(d, cd_map_get(n, "backends"), &s->backends);
    cd_dec_strlist(d, cd_map_get(n, "hosts"), &s->hosts);
    cd_dec_strlist(d, cd_map_get(n, "gateways"), &s->gateways);

    const cd_node *gr = cd_map_get(n, "gatewayRefs");
    if (gr && gr->type == CD_N_SEQ && gr->nitems) {
        s->gateway_refs = cd_arena_alloc(d->a, gr->nitems * sizeof *s->gateway_refs);
        for (size_t i = 0; i < gr->nitems; i++) {
            const cd_node *x = gr->items[i];
            cd_parent_ref *p = &s->gateway_refs[s->n_gateway_refs++];
            p->group = cd_dec_str(d, x, "group");
            if (!p->group)
                p->group = "gateway.networking.k8s.io";
            p->kind = cd_dec_str(d, x, "kind");
            if (!p->kind)
                p->kind = "Gateway";
            p->name = cd_dec_str(d, x, "name");
            p->namespace_ = cd_dec_str(d, x, "namespace");
            p->section_name = cd_dec_str(d, x, "sectionName");
            int64_t port;
            if (cd_dec_int(d, x, "port", "", &port)) {
                p->has_port = true;
                p->port = (int32_t)port;
            }
        }
    }
    s->match = decode_matches(d, cd_map_get(n, "match"), &s->n_match);

    const cd_node *r = cd_map_get(n, "retries");
    if (r && r->type == CD_N_MAP) {
        s->retries.set = true;
        int64_t a;
        if (cd_dec_int(d, r, "attempts", cd_dec_path(d, path, "retries"), &a)) {
            s->retries.has_attempts = true;
            s->retries.attempts = (int32_t)a;
        }
        s->retries.per_try_timeout = cd_dec_str(d, r, "perTryTimeout");
        s->retries.retry_on = cd_dec_str(d, r, "retryOn");
    }
    const cd_node *rw = cd_map_get(n, "rewrite");
    if (rw && rw->type == CD_N_MAP) {
        s->has_rewrite = true;
        s->rewrite.uri = cd_dec_str(d, rw, "uri");
        s->rewrite.authority = cd_dec_str(d, rw, "authority");
        s->rewrite.type = cd_dec_str(d, rw, "type");
    }
    const cd_node *h = cd_map_get(n, "headers");
    if (h && h->type == CD_N_MAP) {
        const cd_node *req = cd_map_get(h, "request"), *resp = cd_map_get(h, "response");
        s->headers.has_request = req && req->type == CD_N_MAP;
        s->headers.has_response = resp && resp->type == CD_N_MAP;
        decode_header_ops(d, req, &s->headers.request);
        decode_header_ops(d, resp, &s->headers.response);
    }
    const cd_node *mir = cd_map_get(n, "mirror");
    if (mir && mir->type == CD_N_SEQ && mir->nitems) {
        s->mirror = cd_arena_alloc(d->a, mir->nitems * sizeof *s->mirror);
        for (size_t i = 0; i < mir->nitems; i++) {
            const cd_node *br = cd_map_get(mir->items[i], "backendRef");
            cd_backend_ref *b = &s->mirror[s->n_mirror++];
            b->group = cd_dec_str(d, br, "group");
            if (!b->group)
                b->group = "";
            b->kind = cd_dec_str(d, br, "kind");
            if (!b->kind)
                b->kind = "Service";
            b->name = cd_dec_str(d, br, "name");
            b->namespace_ = cd_dec_str(d, br, "namespace");
            int64_t port;
            if (cd_dec_int(d, br, "port", "", &port)) {
                b->has_port = true;
                b->port = (int32_t)port;
            }
            if (!*b->group && !strcmp(b->kind, "Service") && !b->has_port) {
                const char *p = cd_path_index(&d->tmp, cd_dec_path(d, path, "mirror"), i);
                cd_dec_error(d, br, cd_dec_path(d, p, "backendRef"),
                             "must have port for Service reference");
            }
        }
    }
    const cd_node *c = cd_map_get(n, "corsPolicy");
    if (c && c->type == CD_N_MAP) {
        cd_cors *cors = &s->cors;
        cors->set = true;
        cd_dec_strlist(d, cd_map_get(c, "allowOrigin"), &cors->allow_origin);
        cd_dec_strlist(d, cd_map_get(c, "allowMethods"), &cors->allow_methods);
        cd_dec_strlist(d, cd_map_get(c, "allowHeaders"), &cors->allow_headers);
        cd_dec_strlist(d, cd_map_get(c, "exposeHeaders"), &cors->expose_headers);
        cors->max_age = cd_dec_str(d, c, "maxAge");
        const cd_node *ac = cd_map_get(c, "allowCredentials");
        if (ac && ac->type == CD_N_BOOL) {
            cors->has_allow_credentials = true;
            cors->allow_credentials = ac->v.b;
        }
        const cd_node *ao = cd_map_get(c, "allowOrigins");
        if (ao && ao->type == CD_N_SEQ && ao->nitems) {
            cors->allow_origins = cd_arena_alloc(d->a, ao->nitems * sizeof *cors->allow_origins);
            for (size_t i = 0; i < ao->nitems; i++)
                cd_dec_string_match(d, ao->items[i], &cors->allow_origins[cors->n_allow_origins++]);
        }
    }
    const cd_node *tp2 = cd_map_get(n, "trafficPolicy");
    if (tp2 && tp2->type == CD_N_MAP)
        s->traffic_policy = cd_dec_copy_node(d, tp2);
    decode_metadata(d, cd_map_get(n, "apex"), &s->apex, &s->has_apex);
    decode_metadata(d, cd_map_get(n, "primary"), &s->primary, &s->has_primary);
    decode_metadata(d, cd_map_get(n, "canary"), &s->canary, &s->has_canary);
    const cd_node *um = cd_map_get(n, "unmanagedMetadata");
    cd_dec_strlist(d, cd_map_get(um, "labels"), &s->unmanaged.labels);
    cd_dec_strlist(d, cd_map_get(um, "annotations"), &s->unmanaged.annotations);
}

/* A duration field: the schema checked the ^[0-9]+(m|s) prefix; Go's
 * ParseDuration must also accept it or Flagger falls back to a default. */
static int64_t decode_duration(cd_dec *d, const cd_node *map, const char *key, const char *path,
                               int64_t def, const char *what)
{
    const cd_node *n = cd_map_get(map, key);
    if (!n || n->type != CD_N_STR || n->len == 0)
        return def;
    int64_t ms;
    const char *p = n->str;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == n->str || (*p != 'm' && *p != 's'))
        return def;   /* the schema already reported the pattern mismatch */
    if (!cd_duration_parse_ms(n->str, &ms) || ms < 0) {
        char buf[32];
        cd_dec_warn(d, n, cd_dec_path(d, path, key),
                    "\"%s\" is not a duration; %s %s is used (as Flagger does)", n->str, what,
                    cd_duration_format_ms(def, buf, sizeof buf));
        return def;
    }
    return ms;
}

static bool judge_effect(cd_dec *d, const cd_node *j, const char *path, const char *key,
                         cd_judge_test test, cd_effect *e)
{
    const cd_node *v = cd_map_get(j, key);
    if (!v || v->type == CD_N_NULL)
        return false;
    char why[200];
    const char *text = NULL;
    if (v->type == CD_N_INT || v->type == CD_N_FLOAT || v->type == CD_N_STR)
        text = cd_arena_strndup(d->a, v->str, v->len);
    if (!text) {
        cd_dec_error(d, v, cd_dec_path(d, path, key),
                     "must be a number or a string such as 0.5pp, 10%% or 50ms");
        return false;
    }
    if (!cd_effect_parse(text, test, e, why, sizeof why)) {
        cd_dec_error(d, v, cd_dec_path(d, path, key), "%s", why);
        return false;
    }
    return true;
}

/* The default allowed effect: +0.5 percentage points of errors, +10 %
 * latency; the default effect to detect: +2pp, +30 % (docs/judge.md). */
static cd_effect default_effect(cd_judge_test test)
{
    return test == CD_JUDGE_ERRORS ? (cd_effect){CD_EFFECT_ABSOLUTE, 0.005, NULL}
                                   : (cd_effect){CD_EFFECT_RELATIVE, 0.10, NULL};
}

static cd_effect default_detect(cd_judge_test test)
{
    return test == CD_JUDGE_ERRORS ? (cd_effect){CD_EFFECT_ABSOLUTE, 0.02, NULL}
                                   : (cd_effect){CD_EFFECT_RELATIVE, 0.30, NULL};
}

/* The effect to detect must be larger than the one allowed (when both are
 * of one kind): between them lies what the judge may go either way on. */
static void check_effects(cd_dec *d, const cd_node *jn, const char *jpath, const char *key,
                          const cd_effect *allowed, const cd_effect *detect)
{
    if (allowed->kind != detect->kind || detect->value > allowed->value)
        return;
    const cd_node *at = cd_map_get(jn, key);
    cd_dec_error(d, at ? at : jn, cd_dec_path(d, jpath, key),
                 "must be larger than the allowed change: the judge can only rule out a "
                 "change bigger than the one it lets pass");
}

/* judge.step: the step of the range query that reads a latency metric's
 * per-step values from Prometheus. The window must hold at least one
 * step, and no more than Prometheus answers (11,000 points per series). */
static void decode_judge_step(cd_dec *d, const cd_node *jn, const char *jpath, cd_judge_spec *j,
                              int64_t window_ms)
{
    const cd_node *sn = cd_map_get(jn, "step");
    if (!sn || sn->type != CD_N_STR)
        return;
    const char *path = cd_dec_path(d, jpath, "step");
    int64_t ms;
    char buf[32];
    if (!cd_duration_parse_ms(sn->str, &ms) || ms <= 0) {
        cd_dec_error(d, sn, path, "\"%s\" is not a positive duration (e.g. 15s)", sn->str);
        return;
    }
    if (ms > window_ms) {
        cd_dec_error(d, sn, path,
                     "longer than the metric's window (%s): the window would hold no step",
                     cd_duration_format_ms(window_ms, buf, sizeof buf));
        return;
    }
    if (window_ms / ms > 11000) {
        cd_dec_error(d, sn, path,
                     "too short: the window (%s) would hold more than 11000 steps, which "
                     "Prometheus refuses", cd_duration_format_ms(window_ms, buf, sizeof buf));
        return;
    }
    if (j->test == CD_JUDGE_ERRORS)
        cd_dec_warn(d, sn, path, "only the latency test reads per-step values; the errors test "
                                 "counts requests over the whole window");
    j->step = cd_dec_str(d, jn, "step");   /* the object's arena outlives the stream's */
    j->step_ms = ms;
}

/* judge.history: how much of the primary's past the judge reads before
 * the release (docs/judge.md#history). 0 turns it off; it must cover at
 * least one analysis interval and at most a day (what a Prometheus range
 * query at the interval's step and the router's windows can answer). */
static void decode_judge_history(cd_dec *d, const cd_node *jn, const char *jpath,
                                 cd_judge_spec *j, int64_t interval_ms)
{
    j->history_ms = CD_JUDGE_DEFAULT_HISTORY_MS;
    const cd_node *hn = cd_map_get(jn, "history");
    if (!hn || hn->type == CD_N_NULL)
        return;
    const char *path = cd_dec_path(d, jpath, "history");
    int64_t ms;
    char buf[32], lim[32];
    if (hn->type != CD_N_STR || !cd_duration_parse_ms(hn->str, &ms) || ms < 0) {
        cd_dec_error(d, hn, path, "must be a duration such as 1h or 30m, or 0s to turn it off");
        return;
    }
    if (ms > 0 && ms < interval_ms) {
        cd_dec_error(d, hn, path,
                     "shorter than one analysis interval (%s): the judge reads the primary's "
                     "history one interval at a time; write 0s to turn it off",
                     cd_duration_format_ms(interval_ms, buf, sizeof buf));
        return;
    }
    if (ms > CD_JUDGE_MAX_HISTORY_MS) {
        cd_dec_error(d, hn, path, "longer than %s, which is more than the judge reads",
                     cd_duration_format_ms(CD_JUDGE_MAX_HISTORY_MS, lim, sizeof lim));
        return;
    }
    j->history_ms = ms;
    j->history = cd_dec_str(d, jn, "history");
}

/* analysis.metrics[].judge (canaryd's extension): the schema checked the
 * shapes and enums; this fills defaults and checks what depends on the
 * metric (its test, its units, its window). */
static const cd_judge_spec *decode_judge(cd_dec *d, const cd_node *n, const char *path,
                                         const cd_metric *m, int64_t analysis_interval_ms)
{
    const cd_node *jn = cd_map_get(n, "judge");
    if (!jn || jn->type != CD_N_MAP)
        return NULL;
    const char *jpath = cd_dec_path(d, path, "judge");
    cd_judge_spec *j = cd_arena_alloc(d->a, sizeof *j);
    const char *test = cd_dec_str(d, jn, "test");
    bool builtin_rate = cd_metric_is_builtin(m) && !strcmp(m->name, "request-success-rate");
    bool builtin_duration = cd_metric_is_builtin(m) && !strcmp(m->name, "request-duration");
    if (test) {
        j->test_set = true;
        j->test = !strcmp(test, "latency") ? CD_JUDGE_LATENCY : CD_JUDGE_ERRORS;
        if ((builtin_rate && j->test != CD_JUDGE_ERRORS) ||
            (builtin_duration && j->test != CD_JUDGE_LATENCY))
            cd_dec_error(d, cd_map_get(jn, "test"), cd_dec_path(d, jpath, "test"),
                         "%s is judged by the %s test", m->name,
                         builtin_rate ? "errors" : "latency");
    } else if (builtin_rate || builtin_duration) {
        j->test = builtin_rate ? CD_JUDGE_ERRORS : CD_JUDGE_LATENCY;
    } else {
        cd_dec_error(d, jn, jpath,
                     "metric \"%s\" needs judge.test: errors (request and failure counts) or "
                     "latency (sample values)", m->name ? m->name : "");
    }
    const char *dir = cd_dec_str(d, jn, "direction");
    j->direction = !dir || !strcmp(dir, "increase") ? CD_DIR_INCREASE
                   : !strcmp(dir, "decrease")      ? CD_DIR_DECREASE
                                                    : CD_DIR_EITHER;
    if (!judge_effect(d, jn, jpath, "allowedIncrease", j->test, &j->allowed_increase))
        j->allowed_increase = default_effect(j->test);
    if (!judge_effect(d, jn, jpath, "allowedDecrease", j->test, &j->allowed_decrease))
        j->allowed_decrease = default_effect(j->test);
    if (!judge_effect(d, jn, jpath, "detectIncrease", j->test, &j->detect_increase))
        j->detect_increase = default_detect(j->test);
    if (!judge_effect(d, jn, jpath, "detectDecrease", j->test, &j->detect_decrease))
        j->detect_decrease = default_detect(j->test);
    check_effects(d, jn, jpath, "detectIncrease", &j->allowed_increase, &j->detect_increase);
    check_effects(d, jn, jpath, "detectDecrease", &j->allowed_decrease, &j->detect_decrease);
    const cd_node *crit = cd_map_get(jn, "critical");
    j->critical = !crit || crit->type != CD_N_BOOL || crit->v.b;
    const char *nd = cd_dec_str(d, jn, "noData");
    j->no_data = !nd || !strcmp(nd, "wait") ? CD_NODATA_WAIT
                 : !strcmp(nd, "pass")      ? CD_NODATA_PASS
                                            : CD_NODATA_FAIL;
    int64_t v;
    j->min_samples = cd_dec_int(d, jn, "minSamples", jpath, &v)
                         ? v
                         : (j->test == CD_JUDGE_ERRORS ? CD_JUDGE_DEFAULT_MIN_SAMPLES_ERRORS
                                                       : CD_JUDGE_DEFAULT_MIN_SAMPLES_LATENCY);
    if (!cd_dec_num(jn, "alpha", &j->alpha))
        j->alpha = CD_JUDGE_DEFAULT_ALPHA;
    decode_judge_step(d, jn, jpath, j, cd_map_get(n, "interval") ? m->interval_ms
                                                                  : analysis_interval_ms);
    decode_judge_history(d, jn, jpath, j, analysis_interval_ms);
    if (j->test == CD_JUDGE_ERRORS && ((m->template_name && *m->template_name) ||
                                       (m->query && *m->query)))
        cd_dec_warn(d, jn, jpath,
                    "the errors test needs request and failure counts, which canaryd reads only "
                    "for the builtin request-success-rate: with a templateRef or a query this "
                    "metric's check fails on Kubernetes and on the local platform (canaryctl "
                    "simulate can still simulate it); judge its values with test: latency");
    /* the sequential test counts each request once: windows must not overlap */
    const cd_node *iv = cd_map_get(n, "interval");
    if (iv && m->interval_ms > analysis_interval_ms)
        cd_dec_error(d, iv, cd_dec_path(d, path, "interval"),
                     "a judged metric's window (%s) must not be longer than analysis.interval: "
                     "overlapping windows would count requests twice", m->interval);
    else if (iv && m->interval_ms < analysis_interval_ms)
        cd_dec_warn(d, iv, cd_dec_path(d, path, "interval"),
                    "shorter than analysis.interval: requests between two windows are not judged");
    return j;
}

static void decode_metric(cd_dec *d, const cd_node *n, const char *path, cd_metric *m,
                          const cd_analysis *a)
{
    memset(m, 0, sizeof *m);
    m->name = cd_dec_str(d, n, "name");
    m->interval = cd_dec_str(d, n, "interval");
    if (!m->interval || !*m->interval)
        m->interval = "1m";   /* see docs/compatibility.md: templates too */
    m->interval_ms = decode_duration(d, n, "interval", path, 60000, "the interval");
    m->has_threshold = cd_dec_num(n, "threshold", &m->threshold);
    const cd_node *tr = cd_map_get(n, "thresholdRange");
    m->has_min = cd_dec_num(tr, "min", &m->min);
    m->has_max = cd_dec_num(tr, "max", &m->max);
    if (m->has_min && m->has_max && m->min > m->max)
        cd_dec_error(d, tr, cd_dec_path(d, path, "thresholdRange"),
                     "min (%g) is greater than max (%g): no value can pass", m->min, m->max);
    m->query = cd_dec_str(d, n, "query");
    const cd_node *ref = cd_map_get(n, "templateRef");
    if (ref && ref->type == CD_N_MAP) {
        m->template_name = cd_dec_str(d, ref, "name");
        m->template_namespace = cd_dec_str(d, ref, "namespace");
        if (!m->template_namespace)
            m->template_namespace = d->ns;
    }
    cd_dec_strmap(d, cd_map_get(n, "templateVariables"), &m->template_variables);
    if (!cd_metric_is_builtin(m) && !m->query && !m->template_name)
        cd_dec_error(d, n, path,
                     "metric \"%s\" has no templateRef and no query; only request-success-rate "
                     "and request-duration are built in", m->name ? m->name : "");
    /* a thresholdRange whose min or max is there but not a number has its
     * error already: "no thresholdRange" would say the opposite */
    bool typed = tr && (cd_map_get(tr, "min") || cd_map_get(tr, "max"));
    if (!m->has_threshold && !m->has_min && !m->has_max && !typed && cd_map_get(n, "judge") == NULL)
        cd_dec_warn(d, n, path, "no thresholdRange: every value passes (see docs/compatibility.md)");
    m->judge = decode_judge(d, n, path, m, a->interval_ms);
    if (m->judge && !cd_map_get(n, "interval")) {   /* judged: one window per tick */
        m->interval_ms = a->interval_ms;
        char buf[32];
        m->interval = cd_arena_strdup(d->a, cd_duration_format_ms(a->interval_ms, buf, sizeof buf));
    }
}

static void decode_webhook(cd_dec *d, const cd_node *n, const char *path, cd_webhook *w)
{
    memset(w, 0, sizeof *w);
    w->type_raw = cd_dec_str(d, n, "type");
    if (!w->type_raw)
        w->type_raw = "";
    cd_hook_type_parse(w->type_raw, &w->type);
    w->name = cd_dec_str(d, n, "name");
    w->url = cd_dec_str(d, n, "url");
    w->mute_alert = cd_dec_bool(n, "muteAlert");
    w->timeout = cd_dec_str(d, n, "timeout");
    /* Flagger: a timeout shorter than two characters means 10s */
    if (w->timeout && strlen(w->timeout) >= 2)
        w->timeout_ms = decode_duration(d, n, "timeout", path, DEFAULT_WEBHOOK_TIMEOUT_MS,
                                        "the timeout");
    else
        w->timeout_ms = DEFAULT_WEBHOOK_TIMEOUT_MS;
    cd_dec_strmap(d, cd_map_get(n, "metadata"), &w->metadata);
    w->retries = cd_dec_int_or(d, n, "retries", path, 0);
    w->disable_tls = cd_dec_bool(n, "disableTLS");
    if (w->url && strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8))
        cd_dec_error(d, cd_map_get(n, "url"), cd_dec_path(d, path, "url"),
                     "\"%s\" is not an http:// or https:// URL", w->url);
}

static void decode_alert(cd_dec *d, const cd_node *n, cd_alert *a)
{
    memset(a, 0, sizeof *a);
    a->name = cd_dec_str(d, n, "name");
    a->severity_raw = cd_dec_str(d, n, "severity");
    if (!a->severity_raw)
        a->severity_raw = "";
    a->severity = !strcmp(a->severity_raw, "warn")    ? CD_SEV_WARN
                  : !strcmp(a->severity_raw, "error") ? CD_SEV_ERROR
                                                      : CD_SEV_INFO;
    const cd_node *ref = cd_map_get(n, "providerRef");
    a->provider_name = cd_dec_str(d, ref, "name");
    a->provider_namespace = cd_dec_str(d, ref, "namespace");
    if (!a->provider_namespace)
        a->provider_namespace = d->ns;
}

static void decode_session_affinity(cd_dec *d, const cd_node *n, const char *path,
                                    cd_session_affinity *s)
{
    memset(s, 0, sizeof *s);
    if (!n || n->type != CD_N_MAP)
        return;
    s->set = true;
    s->cookie_name = cd_dec_str(d, n, "cookieName");
    s->primary_cookie_name = cd_dec_str(d, n, "primaryCookieName");
    s->domain = cd_dec_str(d, n, "domain");
    s->path = cd_dec_str(d, n, "path");
    s->same_site = cd_dec_str(d, n, "sameSite");
    s->http_only = cd_dec_bool(n, "httpOnly");
    s->partitioned = cd_dec_bool(n, "partitioned");
    s->secure = cd_dec_bool(n, "secure");
    int64_t max_age;
    s->max_age = cd_dec_int(d, n, "maxAge", path, &max_age) ? max_age : 86400;
    if (s->cookie_name && s->primary_cookie_name && !strcmp(s->cookie_name, s->primary_cookie_name))
        cd_dec_error(d, cd_map_get(n, "primaryCookieName"), cd_dec_path(d, path, "primaryCookieName"),
                     "must differ from cookieName (\"%s\")", s->cookie_name);
}

/* A weight read as a double, as an int: truncated, and clamped to int's
 * range (NaN is 0) so that no input converts out of range. */
static int weight_as_int(double f)
{
    if (!(f == f))
        return 0;
    if (f >= (double)INT_MAX)
        return INT_MAX;
    if (f <= (double)INT_MIN)
        return INT_MIN;
    return (int)f;
}

static void decode_analysis(cd_dec *d, const cd_node *n, const char *path, cd_analysis *a)
{
    memset(a, 0, sizeof *a);
    if (!n || n->type != CD_N_MAP)
        return;
    a->set = true;
    a->interval = cd_dec_str(d, n, "interval");
    a->interval_ms = decode_duration(d, n, "interval", path, DEFAULT_INTERVAL_MS, "the interval");
    if (a->interval_ms < MIN_INTERVAL_MS) {
        a->interval_ms = MIN_INTERVAL_MS;
        cd_dec_warn(d, cd_map_get(n, "interval"), cd_dec_path(d, path, "interval"),
                    "below the 10s minimum; 10s is used (as Flagger does)");
    }
    int64_t v;
    a->has_iterations = cd_dec_int(d, n, "iterations", path, &v);
    a->iterations = a->has_iterations ? (int)v : 0;
    a->has_threshold = cd_dec_int(d, n, "threshold", path, &v);
    a->threshold = a->has_threshold && v > 0 ? (int)v : 1;
    a->has_max_weight = cd_dec_int(d, n, "maxWeight", path, &v);
    a->max_weight_raw = a->has_max_weight ? (int)v : 0;
    a->has_step_weight = cd_dec_int(d, n, "stepWeight", path, &v);
    a->step_weight = a->has_step_weight ? (int)v : 0;
    const cd_node *sw = cd_map_get(n, "stepWeights");
    if (sw && sw->type == CD_N_SEQ && sw->nitems) {
        a->step_weights = cd_arena_alloc(d->a, sw->nitems * sizeof *a->step_weights);
        const char *swpath = cd_dec_path(d, path, "stepWeights");
        for (size_t i = 0; i < sw->nitems; i++) {
            const cd_node *x = sw->items[i];
            double f = x->type == CD_N_INT ? (double)x->v.i : x->v.f;
            if (x->type == CD_N_FLOAT && f != floor(f))
                cd_dec_error(d, x, cd_path_index(&d->tmp, swpath, i),
                             "must be a whole number, got %s", x->str);
            /* out-of-range weights are the schema's errors (0-100); the
             * value kept must still be a valid int */
            a->step_weights[a->n_step_weights++] = weight_as_int(f);
            if (i > 0 && a->step_weights[i] <= a->step_weights[i - 1])
                cd_dec_warn(d, x, cd_path_index(&d->tmp, swpath, i),
                            "weights should increase: %d follows %d", a->step_weights[i],
                            a->step_weights[i - 1]);
        }
    }
    a->max_weight = cd_analysis_max_weight(a);
    a->step_weight_promotion = cd_dec_int_or(d, n, "stepWeightPromotion", path, 0);
    a->mirror = cd_dec_bool(n, "mirror");
    a->has_mirror_weight = cd_dec_int(d, n, "mirrorWeight", path, &v);
    a->mirror_weight = a->has_mirror_weight ? (int)v : 0;
    a->primary_ready_threshold = cd_dec_int_or(d, n, "primaryReadyThreshold", path, 100);
    a->canary_ready_threshold = cd_dec_int_or(d, n, "canaryReadyThreshold", path, 100);
    a->match = decode_matches(d, cd_map_get(n, "match"), &a->n_match);
    decode_session_affinity(d, cd_map_get(n, "sessionAffinity"),
                            cd_dec_path(d, path, "sessionAffinity"), &a->session_affinity);

    const cd_node *ms = cd_map_get(n, "metrics");
    if (ms && ms->type == CD_N_SEQ && ms->nitems) {
        a->metrics = cd_arena_alloc(d->a, ms->nitems * sizeof *a->metrics);
        const char *mpath = cd_dec_path(d, path, "metrics");
        for (size_t i = 0; i < ms->nitems; i++)
            decode_metric(d, ms->items[i], cd_path_index(&d->tmp, mpath, i),
                          &a->metrics[a->n_metrics++], a);
    }
    const cd_node *ws = cd_map_get(n, "webhooks");
    if (ws && ws->type == CD_N_SEQ && ws->nitems) {
        a->webhooks = cd_arena_alloc(d->a, ws->nitems * sizeof *a->webhooks);
        const char *wpath = cd_dec_path(d, path, "webhooks");
        for (size_t i = 0; i < ws->nitems; i++)
            decode_webhook(d, ws->items[i], cd_path_index(&d->tmp, wpath, i),
                           &a->webhooks[a->n_webhooks++]);
    }
    const cd_node *as = cd_map_get(n, "alerts");
    if (as && as->type == CD_N_SEQ && as->nitems) {
        a->alerts = cd_arena_alloc(d->a, as->nitems * sizeof *a->alerts);
        for (size_t i = 0; i < as->nitems; i++)
            decode_alert(d, as->items[i], &a->alerts[a->n_alerts++]);
    }
    if (!a->has_iterations && a->has_step_weight && a->step_weight == 0 && !a->n_step_weights)
        cd_dec_warn(d, cd_map_get(n, "stepWeight"), cd_dec_path(d, path, "stepWeight"),
                    "0 never shifts traffic: the canary will not progress");
}

static bool is_knative(const cd_object_ref *r)
{
    return r->kind && !strcmp(r->kind, "Service") && r->api_version &&
           !strncmp(r->api_version, "serving.knative.dev/", 20);
}

/* Checks across fields, as Flagger's verifyCanary and routers do. */
/* A StatefulSet target is released in place by its partition, traffic
 * following the updated pods (docs/statefulset.md): what cannot work is
 * an error, what is ignored a warning saying why. */
static void check_statefulset(cd_dec *d, const cd_node *spec, const cd_canary_spec *s)
{
    const char *provider = s->provider ? s->provider : "";
    const cd_node *an = cd_map_get(spec, "analysis");
    /* these routers' weights follow the updated share (kube/router/statefulset_mesh.c) */
    bool mesh = !strcmp(provider, "istio") || !strcmp(provider, "gatewayapi:v1") ||
                !strcmp(provider, "gatewayapi:v1beta1");
    if (*provider && strcmp(provider, "kubernetes") && !mesh)
        cd_dec_error(d, cd_map_get(spec, "provider"), "spec.provider",
                     "a StatefulSet target is released by its partition, traffic following the "
                     "updated pods: provider must be istio, gatewayapi:v1, gatewayapi:v1beta1, "
                     "kubernetes or empty, got \"%s\"",
                     provider);
    if (s->autoscaler_ref.set)
        cd_dec_warn(d, cd_map_get(spec, "autoscalerRef"), "spec.autoscalerRef",
                    "does not apply to a StatefulSet target: there is no primary copy to scale");
    if (s->analysis.n_match)
        cd_dec_warn(d, cd_map_get(an, "match"), "spec.analysis.match",
                    "does not apply to a StatefulSet target: traffic follows the pods, no request "
                    "is routed by header (no A/B testing)");
    if (s->analysis.mirror)
        cd_dec_warn(d, cd_map_get(an, "mirror"), "spec.analysis.mirror",
                    "does not apply to a StatefulSet target: nothing mirrors traffic to its pods");
    else if (cd_map_get(an, "mirrorWeight"))
        cd_dec_warn(d, cd_map_get(an, "mirrorWeight"), "spec.analysis.mirrorWeight",
                    "does not apply to a StatefulSet target: nothing mirrors traffic to its pods");
    /* the routers these name (ingresses, Gloo, APISIX) are refused above */
    static const char *const refs[] = {"ingressRef", "routeRef", "upstreamRef"};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        if (cd_map_get(spec, refs[i]))
            cd_dec_warn(d, cd_map_get(spec, refs[i]), cd_dec_path(d, "spec", refs[i]),
                        "does not apply to a StatefulSet target: canaryd routes no ingress or "
                        "router object to its pods");
    if (s->analysis.session_affinity.set)
        cd_dec_warn(d, cd_map_get(an, "sessionAffinity"), "spec.analysis.sessionAffinity",
                    "does not apply to a StatefulSet target: no router sets cookies");
    if (s->analysis.iterations > 0 && !s->analysis.step_weight && !s->analysis.n_step_weights)
        cd_dec_warn(d, cd_map_get(an, "iterations"), "spec.analysis.iterations",
                    "blue/green on a StatefulSet target updates no ordinal during its iterations "
                    "and then all of them at once; use stepWeight or stepWeights to step the "
                    "partition");
    if (s->analysis.step_weight_promotion > 0)
        cd_dec_warn(d, cd_map_get(an, "stepWeightPromotion"), "spec.analysis.stepWeightPromotion",
                    "does not apply to a StatefulSet target: promotion updates the remaining "
                    "ordinals in the controller's order");
    static const char *const mesh_only[] = {"gateways", "hosts", "gatewayRefs", "match", "retries",
                                            "headers", "corsPolicy", "timeout", "trafficPolicy",
                                            "mirror", "rewrite", "meshName", "backends"};
    const cd_node *svc = cd_map_get(spec, "service");
    for (size_t i = 0; i < sizeof mesh_only / sizeof mesh_only[0]; i++) {
        const cd_node *f = cd_map_get(svc, mesh_only[i]);
        if (f && !mesh)
            cd_dec_warn(d, f, cd_dec_path(d, "spec.service", mesh_only[i]),
                        "does not apply to a StatefulSet target: canaryd creates no routes for "
                        "it, traffic follows the pods through your own Service");
    }
    /* the generated Services' settings: a StatefulSet gets them under a mesh only */
    static const char *const services[] = {"apex", "primary", "canary", "portDiscovery",
                                           "delegation"};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        const cd_node *f = cd_map_get(svc, services[i]);
        if (f && !mesh)
            cd_dec_warn(d, f, cd_dec_path(d, "spec.service", services[i]),
                        "does not apply to a StatefulSet target without a mesh provider: "
                        "canaryd creates no Services for it");
    }
    const cd_node *mn = cd_map_get(an, "metrics");
    for (size_t i = 0; i < s->analysis.n_metrics; i++) {
        const cd_metric *m = &s->analysis.metrics[i];
        const cd_node *at = mn && mn->type == CD_N_SEQ && i < mn->nitems ? mn->items[i] : an;
        char path[64];
        snprintf(path, sizeof path, "spec.analysis.metrics[%zu]", i);
        /* builtin metrics compare the updated pods with the others by
         * their controller-revision-hash; a template's other side would
         * be T-primary, which a StatefulSet has not */
        bool builtin = cd_metric_is_builtin(m) && !m->template_name && !m->query;
        if (m->judge && !builtin)
            cd_dec_error(d, cd_map_get(at, "judge"), cd_dec_path(d, path, "judge"),
                         "the statistical judge reads only the builtin metrics of a StatefulSet "
                         "target (its updated pods against the others); a templateRef or query "
                         "has no second side to compare with");
    }
}

static void check_canary(cd_dec *d, const cd_node *spec, const cd_canary_spec *s)
{
    if (s->target_ref.kind && !strcmp(s->target_ref.kind, "StatefulSet"))
        check_statefulset(d, spec, s);
    const char *provider = s->provider ? s->provider : "";
    const cd_node *prov = cd_map_get(spec, "provider");
    const cd_node *target = cd_map_get(spec, "targetRef");
    bool knative = is_knative(&s->target_ref);
    if (knative && *provider && strcmp(provider, "knative"))
        cd_dec_error(d, prov, "spec.provider",
                     "a Knative Service target needs provider knative, got \"%s\"", provider);
    if (!knative && !strcmp(provider, "knative"))
        cd_dec_error(d, prov, "spec.provider",
                     "provider knative needs a targetRef of kind Service with apiVersion "
                     "serving.knative.dev/v1");
    if (knative && s->autoscaler_ref.set)
        cd_dec_error(d, cd_map_get(spec, "autoscalerRef"), "spec.autoscalerRef",
                     "a Knative Service target cannot have an autoscalerRef");
    bool local = s->target_ref.kind && !strcmp(s->target_ref.kind, "LocalWorkload");
    if (local && *provider && strcmp(provider, "canaryd"))
        cd_dec_error(d, prov, "spec.provider",
                     "a LocalWorkload target runs on the local platform: provider must be "
                     "canaryd or empty, got \"%s\"", provider);
    if (!local && !strcmp(provider, "canaryd"))
        cd_dec_error(d, cd_map_get(target, "kind"), "spec.targetRef.kind",
                     "provider canaryd (the built-in router) needs a LocalWorkload target");
    if (!strncmp(provider, "gatewayapi:", 11) && s->service.n_gateway_refs == 0)
        cd_dec_error(d, cd_map_get(spec, "service"), "spec.service.gatewayRefs",
                     "provider %s needs at least one gatewayRef", provider);
    if (!strcmp(provider, "appmesh") && !s->service.mesh_name)
        cd_dec_error(d, cd_map_get(spec, "service"), "spec.service.meshName",
                     "provider appmesh (v1beta1) needs meshName; use appmesh:v1beta2 otherwise");
    bool sts = s->target_ref.kind && !strcmp(s->target_ref.kind, "StatefulSet");
    if (!strcmp(provider, "kubernetes") && !sts) {   /* a StatefulSet runs the canary strategy */
        const cd_node *an = cd_map_get(spec, "analysis");
        if (s->analysis.n_match)
            cd_dec_warn(d, cd_map_get(an, "match"), "spec.analysis.match",
                        "A/B testing is not supported by provider kubernetes: match is ignored");
        if (s->analysis.iterations < 1)
            cd_dec_warn(d, an, "spec.analysis.iterations",
                        "provider kubernetes always runs blue/green: 10 iterations are used");
    }
}

/* Does s match the CRD's duration pattern ^[0-9]+(\.[0-9]+)?(ms|s|m|h)? */
static bool duration_prefix(const char *s)
{
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0)
        return false;
    if (s[i] == '.') {
        size_t j = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return false;
    }
    return s[i] == 's' || s[i] == 'm' || s[i] == 'h';
}

/* spec.rollbackWindow (canaryd's extension): the schema checked the
 * shapes; the bounds and the duration are checked here. */
static void decode_rollback_window(cd_dec *d, const cd_node *spec, cd_rollback_window *w)
{
    const cd_node *n = cd_map_get(spec, "rollbackWindow");
    if (!n || n->type != CD_N_MAP)
        return;
    w->set = true;
    int64_t v = 1;
    cd_dec_int(d, n, "revisions", "spec.rollbackWindow", &v);   /* required, 1..20: the CRD */
    w->revisions = v < 1 ? 1 : v > CD_PROMOTED_MAX ? CD_PROMOTED_MAX : (int)v;
    const cd_node *an = cd_map_get(n, "maxAge");
    if (!an || an->type == CD_N_NULL)
        return;
    int64_t ms;
    if (an->type != CD_N_STR)
        return;   /* the schema reported it */
    if (!cd_duration_parse_ms(an->str, &ms) || ms <= 0) {
        /* the CRD's pattern reported what does not even start like a duration */
        if (duration_prefix(an->str))
            cd_dec_error(d, an, "spec.rollbackWindow.maxAge",
                         "must be a positive duration such as 24h or 30m, got \"%s\"", an->str);
        return;
    }
    w->max_age = cd_dec_str(d, n, "maxAge");
    w->max_age_ms = ms;
}

void cd_canary_decode_spec(cd_dec *d, const cd_node *spec, cd_canary_spec *s)
{
    memset(s, 0, sizeof *s);
    s->provider = cd_dec_str(d, spec, "provider");
    s->metrics_server = cd_dec_str(d, spec, "metricsServer");
    decode_object_ref(d, cd_map_get(spec, "targetRef"), &s->target_ref);
    const cd_node *as = cd_map_get(spec, "autoscalerRef");
    if (as && as->type == CD_N_MAP) {
        s->autoscaler_ref.set = true;
        decode_object_ref(d, as, &s->autoscaler_ref.ref);
        cd_dec_strmap(d, cd_map_get(as, "primaryScalerQueries"),
                      &s->autoscaler_ref.primary_scaler_queries);
        const cd_node *psr = cd_map_get(as, "primaryScalerReplicas");
        int64_t v;
        if ((s->autoscaler_ref.has_min_replicas =
                 cd_dec_int(d, psr, "minReplicas", "spec.autoscalerRef.primaryScalerReplicas", &v)))
            s->autoscaler_ref.min_replicas = (int32_t)v;
        if ((s->autoscaler_ref.has_max_replicas =
                 cd_dec_int(d, psr, "maxReplicas", "spec.autoscalerRef.primaryScalerReplicas", &v)))
            s->autoscaler_ref.max_replicas = (int32_t)v;
    }
    const cd_node *r;
    if ((r = cd_map_get(spec, "ingressRef")) && r->type == CD_N_MAP) {
        s->has_ingress_ref = true;
        decode_object_ref(d, r, &s->ingress_ref);
    }
    if ((r = cd_map_get(spec, "routeRef")) && r->type == CD_N_MAP) {
        s->has_route_ref = true;
        decode_object_ref(d, r, &s->route_ref);
    }
    if ((r = cd_map_get(spec, "upstreamRef")) && r->type == CD_N_MAP) {
        s->has_upstream_ref = true;
        decode_object_ref(d, r, &s->upstream_ref);
    }
    decode_service(d, cd_map_get(spec, "service"), "spec.service", &s->service);
    /* a Service target (Knative's or a plain one) needs no service block */
    if (!cd_map_get(spec, "service") && !(s->target_ref.kind && !strcmp(s->target_ref.kind, "Service")))
        cd_dec_error(d, spec, "spec.service", "required field is missing");
    decode_analysis(d, cd_map_get(spec, "analysis"), "spec.analysis", &s->analysis);
    s->progress_deadline_seconds =
        (int32_t)cd_dec_int_or(d, spec, "progressDeadlineSeconds", "spec", 600);
    s->skip_analysis = cd_dec_bool(spec, "skipAnalysis");
    s->revert_on_deletion = cd_dec_bool(spec, "revertOnDeletion");
    s->suspend = cd_dec_bool(spec, "suspend");
    decode_rollback_window(d, spec, &s->rollback_window);

    /* defaults that depend on other fields */
    if (!s->service.name)
        s->service.name = s->target_ref.name;
    if (!s->service.port_name)
        s->service.port_name = "http";
    if (!s->service.target_port.set)
        s->service.target_port = (cd_int_or_string){true, false, s->service.port, NULL};
    if (!s->provider && s->target_ref.kind && !strcmp(s->target_ref.kind, "LocalWorkload"))
        s->provider = "canaryd";
    check_canary(d, spec, s);
}
