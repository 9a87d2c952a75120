/* options.c - parsing `canaryd kube` flags (options.h): a table of flags,
 * each a string, integer, duration or boolean, Go's flag syntax. Flagger
 * flags canaryd has no use for are accepted and reported, so that a
 * Flagger Deployment's arguments work unchanged. Pure. */
#include "kube/operator/options.h"
#include "util/duration.h"
#include "version.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STR, F_INT, F_DOUBLE, F_DURATION, F_BOOL, F_IGNORED, F_IGNORED_BOOL } flag_type;

typedef struct flag_def {
    const char *name;
    flag_type type;
    size_t offset;
    const char *help;
} flag_def;

#define O(f) offsetof(cdk_options, f)

static const flag_def flags[] = {
    {"kubeconfig", F_STR, O(kubeconfig), "path to a kubeconfig (default: in-cluster, $KUBECONFIG, ~/.kube/config)"},
    {"master", F_STR, O(master), "Kubernetes API server address (overrides the kubeconfig's)"},
    {"context", F_STR, O(context), "kubeconfig context (default: the current context)"},
    {"kubeconfig-qps", F_DOUBLE, O(qps), "requests per second to the API server (default 100)"},
    {"kubeconfig-burst", F_INT, O(burst), "request burst to the API server (default 250)"},
    {"metrics-server", F_STR, O(metrics_server), "Prometheus URL (default http://prometheus:9090)"},
    {"control-loop-interval", F_DURATION, O(control_loop_ms), "scheduler period (default 10s)"},
    {"log-level", F_STR, O(log_level), "debug, info, warn or error (default debug)"},
    {"zap-encoding", F_STR, 0, "log format: json (default) or console"},
    {"port", F_INT, O(port), "port of /metrics and /healthz (default 8080)"},
    {"slack-url", F_STR, O(slack_url), "Slack incoming webhook"},
    {"slack-token", F_STR, O(slack_token), "Slack API token"},
    {"slack-proxy-url", F_STR, O(slack_proxy), "proxy for Slack"},
    {"slack-user", F_STR, O(slack_user), "Slack user name (default flagger)"},
    {"slack-channel", F_STR, O(slack_channel), "Slack channel"},
    {"msteams-url", F_STR, O(msteams_url), "MS Teams incoming webhook"},
    {"msteams-proxy-url", F_STR, O(msteams_proxy), "proxy for MS Teams"},
    {"event-webhook", F_STR, O(event_webhook), "webhook for every event (EVENT_WEBHOOK_URL wins)"},
    {"include-label-prefix", F_STR, O(include_label_prefix), "label/annotation prefixes copied to primaries (comma list, * = all)"},
    {"threadiness", F_INT, O(threadiness), "worker threads for syncs and analysis ticks (default 2)"},
    {"namespace", F_STR, O(namespace_), "watch only this namespace (default: all)"},
    {"mesh-provider", F_STR, O(mesh_provider), "provider of canaries that set none (default istio)"},
    {"selector-labels", F_STR, O(selector_labels), "selector labels, in search order (default app,name,app.kubernetes.io/name)"},
    {"enable-leader-election", F_BOOL, O(leader_election), "one active replica at a time (a Lease)"},
    {"leader-election-namespace", F_STR, O(leader_election_namespace), "namespace of the Lease (default kube-system; -namespace wins)"},
    {"leader-election-lease", F_STR, O(lease_name), "name of the Lease (default canaryd-leader-election)"},
    {"leader-election-lease-duration", F_DURATION, O(lease_duration_ms), "how long a leader's lease lasts (default 60s)"},
    {"leader-election-renew-deadline", F_DURATION, O(renew_deadline_ms), "how long the leader keeps trying to renew (default 15s)"},
    {"leader-election-retry-period", F_DURATION, O(retry_period_ms), "between two election attempts (default 5s)"},
    {"enable-config-tracking", F_BOOL, O(config_tracking), "track ConfigMaps and Secrets (default true)"},
    {"cluster-name", F_STR, O(cluster_name), "cluster name shown in alerts"},
    {"no-cross-namespace-refs", F_BOOL, O(no_cross_namespace_refs), "refuse templates, alert providers and upstreams in other namespaces"},
    {"interval-override", F_DURATION, O(interval_override_ms), "analyse every canary at this period instead of analysis.interval (demos, tests)"},
    {"shutdown-grace", F_DURATION, O(shutdown_grace_ms), "time running ticks get to finish on SIGTERM (default 15s)"},
    /* Flagger flags without a meaning in canaryd: accepted, reported */
    {"kubeconfig-service-mesh", F_IGNORED, 0, NULL},
    {"ingress-annotations-prefix", F_IGNORED, 0, NULL},
    {"ingress-class", F_IGNORED, 0, NULL},
    {"zap-replace-globals", F_IGNORED_BOOL, 0, NULL},
};

void cdk_options_defaults(cdk_options *o)
{
    memset(o, 0, sizeof *o);
    o->qps = 100;
    o->burst = 250;
    o->metrics_server = "http://prometheus:9090";
    o->control_loop_ms = 10000;
    o->log_level = "debug";
    o->log_json = true;
    o->port = 8080;
    o->threadiness = 2;
    o->namespace_ = "";
    o->mesh_provider = "istio";
    o->selector_labels = "app,name,app.kubernetes.io/name";
    o->leader_election_namespace = "kube-system";
    o->config_tracking = true;
    o->shutdown_grace_ms = 15000;
    o->lease_duration_ms = 60000;
    o->renew_deadline_ms = 15000;
    o->retry_period_ms = 5000;
}

void cdk_options_usage(FILE *out)
{
    fprintf(out, "Usage: canaryd kube [flags]\n\n"
                 "The Kubernetes operator: Flagger's Canary, MetricTemplate and AlertProvider on a\n"
                 "cluster, with App Mesh v1beta2 and plain-Kubernetes blue/green routing.\n\n");
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!flags[i].help)
            continue;
        const char *arg = flags[i].type == F_BOOL       ? ""
                          : flags[i].type == F_DURATION ? " duration"
                          : flags[i].type == F_STR      ? " string"
                                                        : " number";
        fprintf(out, "  -%s%s\n        %s\n", flags[i].name, arg, flags[i].help);
    }
    fprintf(out, "  -version\n        print the version and exit\n\nSee docs/kubernetes.md.\n");
}

static const flag_def *find(const char *name)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(flags[i].name, name))
            return &flags[i];
    return NULL;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (!strcmp(s, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcmp(s, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool set_value(cdk_options *o, const flag_def *f, const char *v, FILE *err)
{
    char *base = (char *)o + f->offset;
    char *end;
    switch (f->type) {
    case F_STR:
        if (!strcmp(f->name, "zap-encoding")) {
            if (strcmp(v, "json") && strcmp(v, "console")) {
                fprintf(err, "canaryd kube: -zap-encoding must be json or console\n");
                return false;
            }
            o->log_json = !strcmp(v, "json");
            return true;
        }
        *(const char **)base = v;
        return true;
    case F_INT: {
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 0 || n > 1000000) {
            fprintf(err, "canaryd kube: invalid value \"%s\" for -%s\n", v, f->name);
            return false;
        }
        *(int *)base = (int)n;
        return true;
    }
    case F_DOUBLE: {
        double d = strtod(v, &end);
        if (!*v || *end) {
            fprintf(err, "canaryd kube: invalid value \"%s\" for -%s\n", v, f->name);
            return false;
        }
        *(double *)base = d;
        return true;
    }
    case F_DURATION: {
        int64_t ms;
        if (!cd_duration_parse_ms(v, &ms) || ms < 0) {
            fprintf(err, "canaryd kube: invalid duration \"%s\" for -%s (e.g. 10s, 1m)\n", v, f->name);
            return false;
        }
        *(int64_t *)base = ms;
        return true;
    }
    case F_BOOL:
        if (!parse_bool(v, (bool *)base)) {
            fprintf(err, "canaryd kube: invalid boolean \"%s\" for -%s\n", v, f->name);
            return false;
        }
        return true;
    case F_IGNORED:
    case F_IGNORED_BOOL:
        fprintf(err, "canaryd kube: -%s has no effect in canaryd (accepted for Flagger compatibility)\n",
                f->name);
        return true;
    }
    return false;
}

int cdk_options_parse(cdk_options *o, int argc, char **argv, FILE *out, FILE *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            fprintf(err, "canaryd kube: unexpected argument \"%s\"\n", a);
            return 2;
        }
        a += a[1] == '-' ? 2 : 1;
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof name) {
            fprintf(err, "canaryd kube: unknown flag %s\n", argv[i]);
            return 2;
        }
        memcpy(name, a, n);
        name[n] = '\0';
        if (eq)
            val = eq + 1;
        if (!strcmp(name, "h") || !strcmp(name, "help")) {
            cdk_options_usage(out);
            return 1;
        }
        if (!strcmp(name, "version")) {
            fprintf(out, "%s\n", CANARYD_VERSION);
            return 1;
        }
        const flag_def *f = find(name);
        if (!f) {
            fprintf(err, "canaryd kube: unknown flag -%s (see canaryd kube -h)\n", name);
            return 2;
        }
        bool is_bool = f->type == F_BOOL || f->type == F_IGNORED_BOOL;
        if (!val && is_bool)
            val = "true";
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(err, "canaryd kube: flag needs an argument: -%s\n", name);
                return 2;
            }
            val = argv[++i];
        }
        if (!set_value(o, f, val, err))
            return 2;
    }
    if (o->threadiness < 1 || o->threadiness > 256) {
        fprintf(err, "canaryd kube: -threadiness must be between 1 and 256\n");
        return 2;
    }
    if (o->port > 65535) {
        fprintf(err, "canaryd kube: -port must be below 65536\n");
        return 2;
    }
    if (o->control_loop_ms < 100) {
        fprintf(err, "canaryd kube: -control-loop-interval must be at least 100ms\n");
        return 2;
    }
    if (!(o->retry_period_ms > 0 && o->retry_period_ms < o->renew_deadline_ms &&
          o->renew_deadline_ms < o->lease_duration_ms)) {
        fprintf(err, "canaryd kube: leader election needs retry period < renew deadline < lease "
                     "duration\n");
        return 2;
    }
    if (o->interval_override_ms && o->interval_override_ms < 100) {
        fprintf(err, "canaryd kube: -interval-override must be at least 100ms\n");
        return 2;
    }
    return 0;
}
