/* options.c - `canaryd kube` flags (options.h): one table for the parser
 * and the usage text (util/flags.h), Go's flag syntax as Flagger's. Flagger
 * flags canaryd has no use for are accepted and reported, so that a
 * Flagger Deployment's arguments work unchanged. Pure. */
#include "kube/operator/options.h"
#include "util/flags.h"
#include "version.h"
#include <stddef.h>
#include <string.h>
#include <unistd.h>

void cdk_options_defaults(cdk_options *o)
{
    memset(o, 0, sizeof *o);
    o->qps = 100;
    o->burst = 250;
    o->metrics_server = "http://prometheus:9090";
    o->control_loop_ms = 10000;
    o->log_level = "debug";
    o->log_json = !isatty(STDERR_FILENO);   /* json in a pod, text on a terminal */
    o->port = 8080;
    o->threadiness = 2;
    o->namespace_ = "";
    o->mesh_provider = "istio";
    o->ingress_annotations_prefix = "nginx.ingress.kubernetes.io";
    o->ingress_class = "";
    o->selector_labels = "app,name,app.kubernetes.io/name";
    o->leader_election_namespace = "kube-system";
    o->lease_name = "canaryd-leader-election";
    o->config_tracking = true;
    o->shutdown_grace_ms = 15000;
    o->lease_duration_ms = 60000;
    o->renew_deadline_ms = 15000;
    o->retry_period_ms = 5000;
}

#define MS_DAY 86400000.0

static const cd_flag_env_doc env_docs[] = {
    {"KUBECONFIG", "kubeconfig files (colon-separated) when -kubeconfig is not given"},
    {"KUBERNETES_SERVICE_HOST", "with KUBERNETES_SERVICE_PORT: the in-cluster API server"},
    {"EVENT_WEBHOOK_URL", "the event webhook; wins over -event-webhook"},
    {"SLACK_URL", "and SLACK_TOKEN, SLACK_PROXY_URL, SLACK_USER, SLACK_CHANNEL, MSTEAMS_URL, "
                  "MSTEAMS_PROXY_URL: the notifier settings whose flag is not given"},
    {NULL, NULL},
};

/* The table, pointing into o; returns the number of flags. */
static size_t table(cdk_options *o, cd_flag *t)
{
    const cd_flag flags[] = {
        CD_FLAG_STR("kubeconfig", 0, &o->kubeconfig, "PATH",
                    "path to a kubeconfig (default: in-cluster, $KUBECONFIG, ~/.kube/config)"),
        CD_FLAG_STR("master", 0, &o->master, "URL",
                    "Kubernetes API server address (overrides the kubeconfig's)"),
        CD_FLAG_STR("context", 0, &o->context, "NAME", "kubeconfig context (default: the current context)"),
        {.name = "kubeconfig-qps", .type = CD_FLAG_DOUBLE, .target = &o->qps, .lo = 0.1, .hi = 100000,
         .help = "requests per second to the API server"},
        CD_FLAG_NUM("kubeconfig-burst", &o->burst, "N", 1, 100000, "request burst to the API server"),
        CD_FLAG_STR("metrics-server", 0, &o->metrics_server, "URL", "Prometheus URL"),
        CD_FLAG_DUR("control-loop-interval", &o->control_loop_ms, 100, MS_DAY, "scheduler period"),
        {.name = "log-level", .type = CD_FLAG_ENUM, .target = &o->log_level, .choices = cd_flag_log_levels, .arg = "LEVEL", .help = "log level"},
        {.name = "zap-encoding", .type = CD_FLAG_FUNC, .target = &o->log_json,
         .choices = cd_flag_zap_encodings, .set = cd_flag_set_log_json,
         .def = "text on a terminal, json otherwise", .help = "log format (Flagger's flag)"},
        {.name = "log-format", .type = CD_FLAG_FUNC, .target = &o->log_json,
         .choices = cd_flag_log_formats, .set = cd_flag_set_log_json,
         .def = "text on a terminal, json otherwise", .help = "log format (the same as -zap-encoding, as every canaryd process spells it)"},
        CD_FLAG_NUM("port", &o->port, "PORT", 0, 65535, "port of /metrics and /healthz (0: any free port)"),
        CD_FLAG_SWITCH("dashboard", 0, &o->dashboard,
                       "serve the read-only web dashboard under /ui/ on -port (docs/dashboard.md)"),
        CD_FLAG_STR("slack-url", 0, &o->slack_url, "URL", "Slack incoming webhook"),
        CD_FLAG_STR("slack-token", 0, &o->slack_token, "TOKEN", "Slack API token"),
        CD_FLAG_STR("slack-proxy-url", 0, &o->slack_proxy, "URL", "proxy for Slack"),
        CD_FLAG_STR("slack-user", 0, &o->slack_user, "NAME", "Slack user name (default flagger)"),
        CD_FLAG_STR("slack-channel", 0, &o->slack_channel, "NAME", "Slack channel"),
        CD_FLAG_STR("msteams-url", 0, &o->msteams_url, "URL", "MS Teams incoming webhook"),
        CD_FLAG_STR("msteams-proxy-url", 0, &o->msteams_proxy, "URL", "proxy for MS Teams"),
        CD_FLAG_STR("event-webhook", 0, &o->event_webhook, "URL",
                    "webhook for every event ($EVENT_WEBHOOK_URL wins)"),
        CD_FLAG_STR("include-label-prefix", 0, &o->include_label_prefix, "LIST",
                    "label/annotation prefixes copied to primaries (comma list, * = all)"),
        CD_FLAG_NUM("threadiness", &o->threadiness, "N", 1, 256,
                    "worker threads for syncs and analysis ticks"),
        CD_FLAG_STR("namespace", 0, &o->namespace_, "NS", "watch only this namespace (default: all)"),
        CD_FLAG_STR("mesh-provider", 0, &o->mesh_provider, "NAME",
                    "provider of canaries that set none: appmesh:v1beta2, gatewayapi:v1, "
                    "gatewayapi:v1beta1, istio (default), kubernetes, nginx, contour, traefik, "
                    "gloo, skipper, linkerd, osm, smi:v1alpha1, smi:v1alpha2, smi:v1alpha3, apisix, kuma, knative"),
        CD_FLAG_STR("ingress-annotations-prefix", 0, &o->ingress_annotations_prefix, "PREFIX",
                    "prefix of the NGINX canary annotations (provider nginx)"),
        CD_FLAG_STR("ingress-class", 0, &o->ingress_class, "NAME",
                    "ingressClassName of the HTTPProxies canaryd writes (provider contour)"),
        CD_FLAG_STR("selector-labels", 0, &o->selector_labels, "LIST",
                    "selector labels, in search order"),
        CD_FLAG_SWITCH("enable-leader-election", 0, &o->leader_election,
                       "one active replica at a time (a Lease)"),
        CD_FLAG_STR("leader-election-namespace", 0, &o->leader_election_namespace, "NS",
                    "namespace of the Lease (-namespace wins)"),
        CD_FLAG_STR("leader-election-lease", 0, &o->lease_name, "NAME", "name of the Lease"),
        CD_FLAG_DUR("leader-election-lease-duration", &o->lease_duration_ms, 1, MS_DAY,
                    "how long a leader's lease lasts"),
        CD_FLAG_DUR("leader-election-renew-deadline", &o->renew_deadline_ms, 1, MS_DAY,
                    "how long the leader keeps trying to renew"),
        CD_FLAG_DUR("leader-election-retry-period", &o->retry_period_ms, 1, MS_DAY,
                    "between two election attempts"),
        CD_FLAG_SWITCH("enable-config-tracking", 0, &o->config_tracking,
                       "track ConfigMaps and Secrets"),
        CD_FLAG_STR("cluster-name", 0, &o->cluster_name, "NAME", "cluster name shown in alerts"),
        CD_FLAG_SWITCH("no-cross-namespace-refs", 0, &o->no_cross_namespace_refs,
                       "refuse templates, alert providers and upstreams in other namespaces"),
        {.name = "interval-override", .type = CD_FLAG_DURATION, .target = &o->interval_override_ms,
         .lo = 0, .hi = MS_DAY, .def = "0s: analysis.interval",
         .help = "analyse every canary at this period instead of analysis.interval (demos, "
                 "tests; at least 100ms)"},
        CD_FLAG_DUR("shutdown-grace", &o->shutdown_grace_ms, 0, MS_DAY,
                    "time running ticks get to finish on SIGTERM"),
        /* Flagger flags without a meaning in canaryd: accepted, reported */
        {.name = "kubeconfig-service-mesh", .type = CD_FLAG_IGNORED},
        {.name = "zap-replace-globals", .type = CD_FLAG_IGNORED_BOOL},
    };
    memcpy(t, flags, sizeof flags);
    return sizeof flags / sizeof flags[0];
}

static cd_flag_cmd command(const cd_flag *t, size_t n)
{
    cd_flag_cmd c = {
        .prog = "canaryd kube",
        .synopsis = "[flags]",
        .about = "The Kubernetes operator: Flagger's Canary, MetricTemplate and AlertProvider on a\n"
                 "cluster, routed by AWS App Mesh (appmesh:v1beta2), the Gateway API\n"
                 "(gatewayapi:v1, gatewayapi:v1beta1), Istio (istio), ingress-nginx (nginx),\n"
                 "Contour (contour), Traefik (traefik), Gloo Edge (gloo), Skipper (skipper),\n"
                 "APISIX (apisix), SMI TrafficSplits (linkerd, osm, smi:v1alpha1..v1alpha3),\n"
                 "Kuma (kuma) or plain-Kubernetes blue/green.\n"
                 "Every flag may be spelled -flag or --flag.",
        .footer = "See docs/kubernetes.md, docs/gateway-api.md, docs/istio.md, docs/ingress.md and\n"
                  "docs/mesh.md.",
        .go_style = true,
        .flags = t,
        .nflags = n,
        .env = env_docs,
        .version = CANARYD_VERSION,
        .max_args = 0,
    };
    return c;
}

void cdk_options_usage(FILE *out)
{
    cdk_options o;
    cdk_options_defaults(&o);
    cd_flag t[64];
    size_t n = table(&o, t);
    cd_flag_cmd c = command(t, n);
    cd_flags_usage(&c, out);
}

int cdk_options_parse(cdk_options *o, int argc, char **argv, FILE *out, FILE *err)
{
    cd_flag t[64];
    size_t n = table(o, t);
    cd_flag_cmd c = command(t, n);
    int rc = cd_flags_parse(&c, argc, argv, NULL, out, err);
    if (rc != CD_FLAGS_OK)
        return rc;
    if (o->control_loop_ms < 100)
        return cd_flags_fail(&c, err, "-control-loop-interval must be at least 100ms");
    if (!(o->retry_period_ms > 0 && o->retry_period_ms < o->renew_deadline_ms &&
          o->renew_deadline_ms < o->lease_duration_ms))
        return cd_flags_fail(&c, err, "leader election needs retry period < renew deadline < "
                                      "lease duration");
    if (o->interval_override_ms && o->interval_override_ms < 100)
        return cd_flags_fail(&c, err, "-interval-override must be at least 100ms");
    return 0;
}
