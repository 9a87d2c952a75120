/* canary_encode.c - cd_canary_spec -> JSON in Flagger's field names with
 * every default made explicit ("what will this canary actually do?").
 * Pure: builds jansson values only. */
#include "model/canary_codec.h"
#include "model/judge.h"
#include "util/duration.h"

static json_t *object_ref_json(const cd_object_ref *r)
{
    json_t *o = json_object();
    cd_json_set_str(o, "apiVersion", r->api_version);
    cd_json_set_str(o, "kind", r->kind);
    cd_json_set_str(o, "name", r->name);
    cd_json_set_str(o, "namespace", r->namespace_);
    return o;
}

static void set_match(json_t *o, const char *key, const cd_string_match *m)
{
    if (cd_string_match_set(m))
        json_object_set_new(o, key, cd_string_match_json(m));
}

static json_t *http_match_json(const cd_http_match *m)
{
    json_t *o = json_object();
    cd_json_set_str(o, "name", m->name);
    set_match(o, "uri", &m->uri);
    set_match(o, "scheme", &m->scheme);
    set_match(o, "method", &m->method);
    set_match(o, "authority", &m->authority);
    if (m->headers.n)
        json_object_set_new(o, "headers", cd_named_matches_json(&m->headers));
    if (m->query_params.n)
        json_object_set_new(o, "queryParams", cd_named_matches_json(&m->query_params));
    if (m->without_headers.n)
        json_object_set_new(o, "withoutHeaders", cd_named_matches_json(&m->without_headers));
    if (m->has_port)
        json_object_set_new(o, "port", json_integer(m->port));
    if (m->source_labels.n)
        json_object_set_new(o, "sourceLabels", cd_strmap_json(&m->source_labels));
    if (m->gateways.n)
        json_object_set_new(o, "gateways", cd_strlist_json(&m->gateways));
    if (m->ignore_uri_case)
        json_object_set_new(o, "ignoreUriCase", json_true());
    cd_json_set_str(o, "sourceNamespace", m->source_namespace);
    return o;
}

static json_t *matches_json(const cd_http_match *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, http_match_json(&m[i]));
    return a;
}

static json_t *metadata_json(const cd_metadata *m)
{
    json_t *o = json_object();
    if (m->labels.n)
        json_object_set_new(o, "labels", cd_strmap_json(&m->labels));
    if (m->annotations.n)
        json_object_set_new(o, "annotations", cd_strmap_json(&m->annotations));
    return o;
}

static json_t *header_ops_json(const cd_header_ops *h)
{
    json_t *o = json_object();
    if (h->set.n)
        json_object_set_new(o, "set", cd_strmap_json(&h->set));
    if (h->add.n)
        json_object_set_new(o, "add", cd_strmap_json(&h->add));
    if (h->remove.n)
        json_object_set_new(o, "remove", cd_strlist_json(&h->remove));
    return o;
}

static json_t *service_json(const cd_service *s)
{
    json_t *o = json_object();
    cd_json_set_str(o, "name", s->name);
    json_object_set_new(o, "port", json_integer(s->port));
    cd_json_set_str(o, "portName", s->port_name);
    if (s->target_port.is_string)
        cd_json_set_str(o, "targetPort", s->target_port.str);
    else
        json_object_set_new(o, "targetPort", json_integer(s->target_port.num));
    cd_json_set_str(o, "appProtocol", s->app_protocol);
    cd_json_set_str(o, "trafficDistribution", s->traffic_distribution);
    json_object_set_new(o, "portDiscovery", json_boolean(s->port_discovery));
    if (s->headless)
        json_object_set_new(o, "headless", json_true());
    if (s->delegation)
        json_object_set_new(o, "delegation", json_true());
    cd_json_set_str(o, "timeout", s->timeout);
    cd_json_set_str(o, "backendTimeout", s->backend_timeout);
    cd_json_set_str(o, "meshName", s->mesh_name);
    if (s->backends.n)
        json_object_set_new(o, "backends", cd_strlist_json(&s->backends));
    if (s->hosts.n)
        json_object_set_new(o, "hosts", cd_strlist_json(&s->hosts));
    if (s->gateways.n)
        json_object_set_new(o, "gateways", cd_strlist_json(&s->gateways));
    if (s->n_gateway_refs) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_gateway_refs; i++) {
            const cd_parent_ref *p = &s->gateway_refs[i];
            json_t *r = json_object();
            cd_json_set_str(r, "group", p->group);
            cd_json_set_str(r, "kind", p->kind);
            cd_json_set_str(r, "name", p->name);
            cd_json_set_str(r, "namespace", p->namespace_);
            cd_json_set_str(r, "sectionName", p->section_name);
            if (p->has_port)
                json_object_set_new(r, "port", json_integer(p->port));
            json_array_append_new(a, r);
        }
        json_object_set_new(o, "gatewayRefs", a);
    }
    if (s->n_match)
        json_object_set_new(o, "match", matches_json(s->match, s->n_match));
    if (s->retries.set) {
        json_t *r = json_object();
        if (s->retries.has_attempts)
            json_object_set_new(r, "attempts", json_integer(s->retries.attempts));
        cd_json_set_str(r, "perTryTimeout", s->retries.per_try_timeout);
        cd_json_set_str(r, "retryOn", s->retries.retry_on);
        json_object_set_new(o, "retries", r);
    }
    if (s->has_rewrite) {
        json_t *r = json_object();
        cd_json_set_str(r, "uri", s->rewrite.uri);
        cd_json_set_str(r, "authority", s->rewrite.authority);
        cd_json_set_str(r, "type", s->rewrite.type);
        json_object_set_new(o, "rewrite", r);
    }
    if (s->headers.has_request || s->headers.has_response) {
        json_t *h = json_object();
        if (s->headers.has_request)
            json_object_set_new(h, "request", header_ops_json(&s->headers.request));
        if (s->headers.has_response)
            json_object_set_new(h, "response", header_ops_json(&s->headers.response));
        json_object_set_new(o, "headers", h);
    }
    if (s->n_mirror) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_mirror; i++) {
            const cd_backend_ref *b = &s->mirror[i];
            json_t *r = json_object();
            cd_json_set_str(r, "group", b->group);
            cd_json_set_str(r, "kind", b->kind);
            cd_json_set_str(r, "name", b->name);
            cd_json_set_str(r, "namespace", b->namespace_);
            if (b->has_port)
                json_object_set_new(r, "port", json_integer(b->port));
            json_array_append_new(a, json_pack("{s:o}", "backendRef", r));
        }
        json_object_set_new(o, "mirror", a);
    }
    if (s->cors.set) {
        const cd_cors *c = &s->cors;
        json_t *r = json_object();
        if (c->allow_origin.n)
            json_object_set_new(r, "allowOrigin", cd_strlist_json(&c->allow_origin));
        if (c->n_allow_origins) {
            json_t *a = json_array();
            for (size_t i = 0; i < c->n_allow_origins; i++)
                json_array_append_new(a, cd_string_match_json(&c->allow_origins[i]));
            json_object_set_new(r, "allowOrigins", a);
        }
        if (c->allow_methods.n)
            json_object_set_new(r, "allowMethods", cd_strlist_json(&c->allow_methods));
        if (c->allow_headers.n)
            json_object_set_new(r, "allowHeaders", cd_strlist_json(&c->allow_headers));
        if (c->expose_headers.n)
            json_object_set_new(r, "exposeHeaders", cd_strlist_json(&c->expose_headers));
        cd_json_set_str(r, "maxAge", c->max_age);
        if (c->has_allow_credentials)
            json_object_set_new(r, "allowCredentials", json_boolean(c->allow_credentials));
        json_object_set_new(o, "corsPolicy", r);
    }
    if (s->traffic_policy)
        json_object_set_new(o, "trafficPolicy", cd_node_to_json(s->traffic_policy));
    if (s->has_apex)
        json_object_set_new(o, "apex", metadata_json(&s->apex));
    if (s->has_primary)
        json_object_set_new(o, "primary", metadata_json(&s->primary));
    if (s->has_canary)
        json_object_set_new(o, "canary", metadata_json(&s->canary));
    if (s->unmanaged.labels.n || s->unmanaged.annotations.n) {
        json_t *u = json_object();
        if (s->unmanaged.labels.n)
            json_object_set_new(u, "labels", cd_strlist_json(&s->unmanaged.labels));
        if (s->unmanaged.annotations.n)
            json_object_set_new(u, "annotations", cd_strlist_json(&s->unmanaged.annotations));
        json_object_set_new(o, "unmanagedMetadata", u);
    }
    return o;
}

static json_t *duration_json(int64_t ms)
{
    char buf[32];
    return json_string(cd_duration_format_ms(ms, buf, sizeof buf));
}

static json_t *metric_json(const cd_metric *m)
{
    json_t *o = json_object();
    cd_json_set_str(o, "name", m->name);
    cd_json_set_str(o, "interval", m->interval);
    if (m->has_threshold)
        json_object_set_new(o, "threshold", json_real(m->threshold));
    if (m->has_min || m->has_max) {
        json_t *r = json_object();
        if (m->has_min)
            json_object_set_new(r, "min", json_real(m->min));
        if (m->has_max)
            json_object_set_new(r, "max", json_real(m->max));
        json_object_set_new(o, "thresholdRange", r);
    }
    cd_json_set_str(o, "query", m->query);
    if (m->template_name)
        json_object_set_new(o, "templateRef", json_pack("{s:s,s:s}", "name", m->template_name,
                                                        "namespace", m->template_namespace));
    if (m->template_variables.n)
        json_object_set_new(o, "templateVariables", cd_strmap_json(&m->template_variables));
    if (m->judge)
        json_object_set_new(o, "judge", cd_judge_spec_json(m->judge));
    return o;
}

static json_t *webhook_json(const cd_webhook *w)
{
    json_t *o = json_object();
    cd_json_set_str(o, "name", w->name);
    json_object_set_new(o, "type", json_string(cd_hook_type_name(w->type)));
    cd_json_set_str(o, "url", w->url);
    json_object_set_new(o, "timeout", duration_json(w->timeout_ms));
    json_object_set_new(o, "retries", json_integer(w->retries));
    if (w->mute_alert)
        json_object_set_new(o, "muteAlert", json_true());
    if (w->disable_tls)
        json_object_set_new(o, "disableTLS", json_true());
    if (w->metadata.n)
        json_object_set_new(o, "metadata", cd_strmap_json(&w->metadata));
    return o;
}

static json_t *analysis_json(const cd_analysis *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "interval", duration_json(a->interval_ms));
    json_object_set_new(o, "threshold", json_integer(a->threshold));
    if (a->has_iterations || a->iterations)
        json_object_set_new(o, "iterations", json_integer(a->iterations));
    json_object_set_new(o, "maxWeight", json_integer(a->max_weight));
    if (a->has_step_weight)
        json_object_set_new(o, "stepWeight", json_integer(a->step_weight));
    if (a->n_step_weights) {
        json_t *sw = json_array();
        for (size_t i = 0; i < a->n_step_weights; i++)
            json_array_append_new(sw, json_integer(a->step_weights[i]));
        json_object_set_new(o, "stepWeights", sw);
    }
    json_object_set_new(o, "stepWeightPromotion", json_integer(a->step_weight_promotion));
    json_object_set_new(o, "mirror", json_boolean(a->mirror));
    if (a->has_mirror_weight)
        json_object_set_new(o, "mirrorWeight", json_integer(a->mirror_weight));
    json_object_set_new(o, "primaryReadyThreshold", json_integer(a->primary_ready_threshold));
    json_object_set_new(o, "canaryReadyThreshold", json_integer(a->canary_ready_threshold));
    if (a->n_match)
        json_object_set_new(o, "match", matches_json(a->match, a->n_match));
    if (a->session_affinity.set) {
        const cd_session_affinity *s = &a->session_affinity;
        json_t *r = json_object();
        cd_json_set_str(r, "cookieName", s->cookie_name);
        cd_json_set_str(r, "primaryCookieName", s->primary_cookie_name);
        cd_json_set_str(r, "domain", s->domain);
        cd_json_set_str(r, "path", s->path);
        cd_json_set_str(r, "sameSite", s->same_site);
        json_object_set_new(r, "httpOnly", json_boolean(s->http_only));
        json_object_set_new(r, "secure", json_boolean(s->secure));
        json_object_set_new(r, "partitioned", json_boolean(s->partitioned));
        json_object_set_new(r, "maxAge", json_integer(s->max_age));
        json_object_set_new(o, "sessionAffinity", r);
    }
    json_t *ms = json_array(), *ws = json_array(), *as = json_array();
    for (size_t i = 0; i < a->n_metrics; i++)
        json_array_append_new(ms, metric_json(&a->metrics[i]));
    for (size_t i = 0; i < a->n_webhooks; i++)
        json_array_append_new(ws, webhook_json(&a->webhooks[i]));
    for (size_t i = 0; i < a->n_alerts; i++) {
        const cd_alert *al = &a->alerts[i];
        json_array_append_new(as, json_pack("{s:s?,s:s,s:{s:s?,s:s?}}", "name", al->name,
                                            "severity", cd_severity_name(al->severity),
                                            "providerRef", "name", al->provider_name,
                                            "namespace", al->provider_namespace));
    }
    json_object_set_new(o, "metrics", ms);
    json_object_set_new(o, "webhooks", ws);
    json_object_set_new(o, "alerts", as);
    return o;
}

json_t *cd_canary_encode_spec(const cd_canary_spec *s)
{
    json_t *o = json_object();
    cd_json_set_str(o, "provider", s->provider);
    cd_json_set_str(o, "metricsServer", s->metrics_server);
    json_object_set_new(o, "targetRef", object_ref_json(&s->target_ref));
    if (s->autoscaler_ref.set) {
        json_t *r = object_ref_json(&s->autoscaler_ref.ref);
        if (s->autoscaler_ref.primary_scaler_queries.n)
            json_object_set_new(r, "primaryScalerQueries",
                                cd_strmap_json(&s->autoscaler_ref.primary_scaler_queries));
        if (s->autoscaler_ref.has_min_replicas || s->autoscaler_ref.has_max_replicas) {
            json_t *p = json_object();
            if (s->autoscaler_ref.has_min_replicas)
                json_object_set_new(p, "minReplicas", json_integer(s->autoscaler_ref.min_replicas));
            if (s->autoscaler_ref.has_max_replicas)
                json_object_set_new(p, "maxReplicas", json_integer(s->autoscaler_ref.max_replicas));
            json_object_set_new(r, "primaryScalerReplicas", p);
        }
        json_object_set_new(o, "autoscalerRef", r);
    }
    if (s->has_ingress_ref)
        json_object_set_new(o, "ingressRef", object_ref_json(&s->ingress_ref));
    if (s->has_route_ref)
        json_object_set_new(o, "routeRef", object_ref_json(&s->route_ref));
    if (s->has_upstream_ref)
        json_object_set_new(o, "upstreamRef", object_ref_json(&s->upstream_ref));
    json_object_set_new(o, "service", service_json(&s->service));
    json_object_set_new(o, "analysis", analysis_json(&s->analysis));
    json_object_set_new(o, "progressDeadlineSeconds", json_integer(s->progress_deadline_seconds));
    json_object_set_new(o, "skipAnalysis", json_boolean(s->skip_analysis));
    json_object_set_new(o, "revertOnDeletion", json_boolean(s->revert_on_deletion));
    json_object_set_new(o, "suspend", json_boolean(s->suspend));
    if (s->rollback_window.set) {
        json_t *w = json_pack("{s:i}", "revisions", s->rollback_window.revisions);
        cd_json_set_str(w, "maxAge", s->rollback_window.max_age);
        json_object_set_new(o, "rollbackWindow", w);
    }
    return o;
}
