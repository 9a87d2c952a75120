/* keptn.c - the Keptn provider (`keptn`), through the Kubernetes API as
 * Flagger reads it. The query (lower-cased, trimmed) is
 * <keptnmetric|analysis>/<namespace>/<name>[/<duration>[/<k=v;k=v>]]:
 * a KeptnMetric (metrics.keptn.sh/v1beta1) gives its status.value; an
 * analysis creates an Analysis of the AnalysisDefinition <name> over the
 * last <duration> (1m) with the arguments, polls it every second until
 * status.state is Completed (1 when status.pass, else 0) or the timeout
 * (10 s) passes, and always deletes it. Needs canaryd kube's API access
 * (cfg->cluster); writes only the Analysis objects it creates. Online:
 * always, as in Flagger. */
#include "providers/provider.h"
#include "util/errfmt.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define KEPTN_API "/apis/metrics.keptn.sh/v1beta1/namespaces/"
#define KEPTN_MAX_QUERY 4096
#define KEPTN_POLL_MS 1000

typedef struct keptn {
    const cd_provider_cluster *cluster;
} keptn;

typedef struct keptn_query {
    bool analysis;
    char *ns, *name, *duration;
    json_t *args;
} keptn_query;

static void kq_free(keptn_query *q)
{
    free(q->ns);
    free(q->name);
    free(q->duration);
    json_decref(q->args);
}

static void kp_close(cd_provider *p)
{
    free(p->state);
    p->state = NULL;
}

static bool kp_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->cluster || !cfg->cluster->request) {
        cd_errfmt(err, "could not initialize KeptnProvider: no KubeConfig provided (keptn needs "
                       "canaryd kube)");
        return false;
    }
    keptn *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->cluster = cfg->cluster;
    if (p->timeout_ms <= 0)
        p->timeout_ms = 10000;   /* Flagger's analysisTimeout */
    p->state = s;
    return true;
}

/* A DNS subdomain (Kubernetes object and namespace names). */
static bool dns_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '.')
            return false;
    return true;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

bool cd_keptn_parse_query(const char *query, bool *analysis, char **ns, char **name,
                          char **duration, json_t **args, cd_err *err)
{
    keptn_query q = {0};
    while (isspace((unsigned char)*query))
        query++;
    size_t n = strlen(query);
    while (n && isspace((unsigned char)query[n - 1]))
        n--;
    if (n > KEPTN_MAX_QUERY) {
        cd_errfmt(err, "unexpected query format: longer than %d bytes", KEPTN_MAX_QUERY);
        return false;
    }
    char *lc = xstrndup(query, n);
    for (char *c = lc; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char *part[5] = {0};
    size_t np = 0;
    for (char *c = lc, *tok = lc;; c++)
        if (*c == '/' || !*c) {
            bool end = !*c;
            *c = '\0';
            if (np < 5)
                part[np] = tok;
            np++;
            tok = c + 1;
            if (end)
                break;
        }
    bool ok = false;
    if (np < 3) {
        cd_errfmt(err, "unexpected query format. query must be in the format "
                       "<keptnmetric|analysis>/<namespace>/<resourceName>/<duration>/<arguments>");
        goto out;
    }
    if (!strcmp(part[0], "keptnmetric") || !strcmp(part[0], "keptnmetrics")) {
        q.analysis = false;
    } else if (!strcmp(part[0], "analysis") || !strcmp(part[0], "analyses")) {
        q.analysis = true;
    } else {
        cd_errfmt(err, "unexpected resource kind provided in the query. must be one of: "
                       "['keptnmetric', 'analysis']");
        goto out;
    }
    if (!dns_name(part[1]) || !dns_name(part[2])) {
        cd_errfmt(err, "unexpected query format: \"%s\" is not a Kubernetes object name",
                  dns_name(part[1]) ? part[2] : part[1]);
        goto out;
    }
    q.ns = xstrndup(part[1], strlen(part[1]));
    q.name = xstrndup(part[2], strlen(part[2]));
    if (q.analysis) {
        q.duration = xstrndup(np >= 4 ? part[3] : "1m", strlen(np >= 4 ? part[3] : "1m"));
        q.args = json_object();
        /* key=value pairs separated by ';'; others are skipped, as in Flagger */
        for (char *kv = np >= 5 ? part[4] : NULL, *next; kv; kv = next) {
            next = strchr(kv, ';');
            if (next)
                *next++ = '\0';
            char *eq = strchr(kv, '=');
            if (eq && !strchr(eq + 1, '=')) {
                *eq = '\0';
                json_object_set_new(q.args, kv, json_string(eq + 1));
            }
        }
    }
    *analysis = q.analysis;
    *ns = q.ns;
    *name = q.name;
    *duration = q.duration;
    *args = q.args;
    q = (keptn_query){0};
    ok = true;
out:
    kq_free(&q);
    free(lc);
    return ok;
}

static cd_metric_rc query_metric(keptn *s, const keptn_query *q, double *value, cd_err *err)
{
    char path[600];
    snprintf(path, sizeof path, KEPTN_API "%s/keptnmetrics/%s", q->ns, q->name);
    json_t *obj = NULL;
    cd_err e = {""};
    if (!s->cluster->request(s->cluster->ctx, "GET", path, NULL, &obj, NULL, &e)) {
        cd_errfmt(err, "could not retrieve KeptnMetric %s/%s: %s", q->ns, q->name, e.msg);
        return CD_METRIC_ERROR;
    }
    const char *v = json_string_value(json_object_get(json_object_get(obj, "status"), "value"));
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (!v)
        cd_errfmt(err, "could not retrieve KeptnMetric - no value found in resource %s/%s", q->ns,
                  q->name);
    else if (!cd_parse_go_float(v, value))
        cd_errfmt(err, "could not parse value of KeptnMetric %s/%s to float: \"%.64s\"", q->ns,
                  q->name, v);
    else
        rc = CD_METRIC_OK;
    json_decref(obj);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Polls the Analysis until it completes; 1 or 0 in *value. */
static cd_metric_rc wait_analysis(cd_provider *p, const keptn_query *q, const char *path,
                                  double *value, cd_err *err)
{
    keptn *s = p->state;
    int64_t deadline = cd_mono_ms() + p->timeout_ms;
    for (;;) {
        int64_t left = deadline - cd_mono_ms();
        if (left <= 0)
            break;
        sleep_ms(left < KEPTN_POLL_MS ? left : KEPTN_POLL_MS);
        if (cd_mono_ms() >= deadline)
            break;
        json_t *obj = NULL;
        cd_err e = {""};
        if (!s->cluster->request(s->cluster->ctx, "GET", path, NULL, &obj, NULL, &e)) {
            cd_errfmt(err, "could not check status of created Keptn Analysis %s/%s: %s", q->ns,
                      q->name, e.msg);
            return CD_METRIC_ERROR;
        }
        const json_t *st = json_object_get(obj, "status");
        const char *state = json_string_value(json_object_get(st, "state"));
        const json_t *pass = json_object_get(st, "pass");
        bool done = state && !strcmp(state, "Completed") && json_is_boolean(pass);
        if (done)
            *value = json_is_true(pass) ? 1 : 0;
        json_decref(obj);
        if (done)
            return CD_METRIC_OK;
    }
    cd_errfmt(err, "encountered timeout while waiting for Keptn Analysis %s/%s to be finished",
              q->ns, q->name);
    return CD_METRIC_ERROR;
}

static cd_metric_rc query_analysis(cd_provider *p, const keptn_query *q, double *value,
                                   cd_err *err)
{
    keptn *s = p->state;
    unsigned char rnd[3] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        cd_errfmt(err, "could not create Keptn Analysis %s/%s: no random bytes", q->ns, q->name);
        return CD_METRIC_ERROR;
    }
    char obj_name[300], path[700];
    snprintf(obj_name, sizeof obj_name, "%.240s-%02x%02x%02x", q->name, rnd[0], rnd[1], rnd[2]);
    json_t *a = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:s}, s:{s:s}, s:O}}", "apiVersion",
                          "metrics.keptn.sh/v1beta1", "kind", "Analysis", "metadata", "name",
                          obj_name, "namespace", q->ns, "spec", "analysisDefinition", "name",
                          q->name, "timeframe", "recent", q->duration, "args", q->args);
    snprintf(path, sizeof path, KEPTN_API "%s/analyses", q->ns);
    json_t *created = NULL;
    cd_err e = {""};
    bool ok = s->cluster->request(s->cluster->ctx, "POST", path, a, &created, NULL, &e);
    json_decref(a);
    if (!ok) {
        cd_errfmt(err, "could not create Keptn Analysis %s/%s: %s", q->ns, q->name, e.msg);
        return CD_METRIC_ERROR;
    }
    const char *got = json_string_value(json_object_get(json_object_get(created, "metadata"),
                                                        "name"));
    snprintf(path, sizeof path, KEPTN_API "%s/analyses/%s", q->ns,
             got && dns_name(got) ? got : obj_name);
    json_decref(created);
    cd_metric_rc rc = wait_analysis(p, q, path, value, err);
    /* always deleted; a failure to delete is logged and does not change the result */
    if (!s->cluster->request(s->cluster->ctx, "DELETE", path, NULL, NULL, NULL, &e))
        cd_logf(CD_LOG_ERROR, NULL, "Could not delete Keptn Analysis '%s': %s", path, e.msg);
    return rc;
}

static cd_metric_rc kp_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    keptn_query q = {0};
    if (!cd_keptn_parse_query(query, &q.analysis, &q.ns, &q.name, &q.duration, &q.args, err))
        return CD_METRIC_ERROR;
    cd_metric_rc rc = q.analysis ? query_analysis(p, &q, value, err)
                                 : query_metric(p->state, &q, value, err);
    kq_free(&q);
    return rc;
}

static bool kp_online(cd_provider *p, cd_err *err)
{
    return true;
}

const cd_provider_type cd_provider_keptn = {
    .name = "keptn",
    .open = kp_open,
    .query = kp_query,
    .is_online = kp_online,
    .close = kp_close,
};
