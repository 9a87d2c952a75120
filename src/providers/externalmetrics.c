/* externalmetrics.c - the Kubernetes External Metrics API provider (Flagger
 * 1.43's `externalmetrics`): the query "<namespace>/<metric>?labelSelector=
 * <selector>" (namespace "default" when left out) becomes GET
 * /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>
 * [?labelSelector=...], the value is the first item's `value` (a Kubernetes
 * quantity such as "250m" or "1Ki"). With `address`, that server is asked
 * directly (Bearer `token` from the secret); without, the Kubernetes API
 * server canaryd kube runs against (cfg->cluster). Online check: listing
 * kube-system/dummy-metric answers. Never writes to the cluster. */
#include "net/url.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EM_API "/apis/external.metrics.k8s.io/v1beta1/namespaces/"
#define EM_MAX_QUERY 4096

typedef struct extmetrics {
    char *address;                      /* NULL: the cluster */
    char *token;
    const cd_provider_cluster *cluster;
} extmetrics;

static void em_close(cd_provider *p)
{
    extmetrics *s = p->state;
    if (!s)
        return;
    free(s->address);
    free(s->token);
    free(s);
    p->state = NULL;
}

static char *dup_trimmed(const char *a)
{
    size_t n = strlen(a);
    while (n && a[n - 1] == '/')
        n--;
    char *s = strndup(a, n);
    if (!s)
        abort();
    return s;
}

static bool em_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    bool direct = cfg->address && *cfg->address;
    if (direct && !cd_http_url_valid(cfg->address)) {
        cd_provider_address_error(err, "externalmetrics", cfg->address);
        return false;
    }
    if (!direct && !(cfg->cluster && cfg->cluster->request)) {
        cd_errfmt(err, "could not initialize ExternalMetricsProvider: no address and no "
                       "Kubernetes API server (set spec.provider.address)");
        return false;
    }
    extmetrics *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (direct)
        s->address = dup_trimmed(cfg->address);
    const char *token = cd_provider_secret(cfg, "token");
    if (token && !(s->token = strdup(token)))
        abort();
    s->cluster = cfg->cluster;
    if (p->timeout_ms <= 0)
        p->timeout_ms = 5000;   /* Flagger's restConfig.Timeout */
    p->state = s;
    return true;
}

/* A path segment: RFC 3986 pchar kept (Go leaves them unescaped), the rest %XX. */
static void path_escape(cd_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~!$&'()*+,;=:@", c))
            cd_buf_putc(out, (char)c);
        else
            cd_buf_printf(out, "%%%02X", c);
    }
}

/* A label selector's characters (keys, values, operators, sets); anything
 * else is refused as labels.Parse would. */
static bool selector_ok(const char *sel)
{
    for (const unsigned char *c = (const unsigned char *)sel; *c; c++)
        if (!isalnum(*c) && !strchr("-_./=!,() ", *c))
            return false;
    return true;
}

bool cd_externalmetrics_request_path(const char *query, cd_buf *path, cd_err *err)
{
    const char *form = "expected <namespace>/<metricName>?labelSelector=<urlencoded label "
                       "selectors>";
    while (isspace((unsigned char)*query))
        query++;
    size_t n = strlen(query);
    while (n && isspace((unsigned char)query[n - 1]))
        n--;
    if (n > EM_MAX_QUERY) {
        cd_errfmt(err, "error parsing metric query: longer than %d bytes", EM_MAX_QUERY);
        return false;
    }
    char *q = strndup(query, n);
    if (!q)
        abort();
    char *qs = strchr(q, '?');
    if (qs)
        *qs++ = '\0';
    char *ns = "default", *metric = q, *slash = strchr(q, '/');
    bool ok = false;
    cd_query params = {0};
    cd_buf sel = CD_BUF_INIT;
    if (slash) {
        *slash = '\0';
        if (*q)
            ns = q;
        metric = slash + 1;
        if (strchr(metric, '/')) {
            cd_errfmt(err, "error parsing metric query: malformed query string, too many slashes, "
                           "%s, got %s", form, query);
            goto out;
        }
    }
    if (!*metric) {
        cd_errfmt(err, "error parsing metric query: metric name cannot be empty");
        goto out;
    }
    for (const char *c = q; c < metric; c++)
        if (*c && !(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-')) {
            cd_errfmt(err, "error parsing metric query: namespace \"%s\" is not a DNS label", ns);
            goto out;
        }
    if (qs && !cd_query_parse(&params, qs, err)) {
        cd_errprefix(err, "error parsing metric query: malformed query string, %s", form);
        goto out;
    }
    for (size_t i = 0; i < params.n; i++)
        if (!strcmp(params.items[i].key, "labelSelector") && !sel.len)
            cd_buf_puts(&sel, params.items[i].value);
    if (sel.len && !selector_ok(sel.data)) {
        cd_errfmt(err, "error parsing metric query: error parsing label selector from string %s",
                  sel.data);
        goto out;
    }
    cd_buf_puts(path, EM_API);
    path_escape(path, ns);
    cd_buf_putc(path, '/');
    path_escape(path, metric);
    if (sel.len) {
        cd_buf_puts(path, "?labelSelector=");
        cd_url_query_escape(path, sel.data);
    }
    ok = true;
out:
    cd_query_free(&params);
    cd_buf_free(&sel);
    free(q);
    return ok;
}

bool cd_parse_quantity(const char *s, double *out)
{
    static const struct { const char *suffix; double mult; } suffixes[] = {
        {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
        {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
        {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"", 1}, {"k", 1e3}, {"M", 1e6},
        {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
    };
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = 0, dots = 0;
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        digits += isdigit((unsigned char)*p) != 0;
        dots += *p == '.';
    }
    if (!digits || dots > 1)
        return false;
    char num[64], *end;
    if ((size_t)(p - s) >= sizeof num)
        return false;
    memcpy(num, s, (size_t)(p - s));
    num[p - s] = '\0';
    double mant = strtod(num, &end);   /* digits and one dot only: no exponent, hex or inf */
    if (*end)
        return false;
    /* a decimal exponent: e or E followed by an optionally signed number */
    if ((*p == 'e' || *p == 'E') &&
        (isdigit((unsigned char)p[1]) ||
         ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
        char *e2;
        long ex = strtol(p + 1, &e2, 10);
        if (*e2 || ex > 308 || ex < -308)
            return false;
        *out = mant * pow(10, (double)ex);
        return isfinite(*out);
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (!strcmp(p, suffixes[i].suffix)) {
            *out = mant * suffixes[i].mult;
            return isfinite(*out);
        }
    return false;
}

cd_metric_rc cd_externalmetrics_parse_json(const json_t *root, const char *body, size_t len,
                                           double *value, cd_err *err)
{
    char ex[200];
    cd_http_excerpt(body ? body : "", len, ex, sizeof ex);
    const json_t *items = json_object_get(root, "items");
    if (!json_is_object(root) || (items && !json_is_array(items) && !json_is_null(items))) {
        cd_errfmt(err, "error querying external metrics API: not an ExternalMetricValueList: '%s'",
                  ex);
        return CD_METRIC_ERROR;
    }
    if (!json_array_size(items)) {
        cd_errfmt(err, "no external metrics found: no values found");
        return CD_METRIC_NO_DATA;
    }
    const json_t *v = json_object_get(json_array_get(items, 0), "value");
    if (json_is_number(v)) {     /* a quantity may be encoded as a number */
        *value = json_number_value(v);
        return CD_METRIC_OK;
    }
    if (!json_is_string(v) || !cd_parse_quantity(json_string_value(v), value)) {
        cd_errfmt(err, "error querying external metrics API: items[0].value is not a quantity: "
                       "'%s'", ex);
        return CD_METRIC_ERROR;
    }
    return CD_METRIC_OK;
}

cd_metric_rc cd_externalmetrics_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    cd_metric_rc rc = cd_externalmetrics_parse_json(root, body, len, value, err);
    json_decref(root);
    return rc;
}

/* GET path on the configured server: the answer's JSON on 2xx. */
static json_t *em_get(cd_provider *p, const char *path, char **body, size_t *len, cd_err *err)
{
    extmetrics *s = p->state;
    if (!s->address) {
        json_t *out = NULL;
        if (!s->cluster->request(s->cluster->ctx, "GET", path, NULL, &out, NULL, err))
            return NULL;
        *body = json_dumps(out, JSON_COMPACT);
        *len = *body ? strlen(*body) : 0;
        return out;
    }
    cd_buf url = CD_BUF_INIT;
    cd_buf_printf(&url, "%s%s", s->address, path);
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", url.data);
    rq.bearer = s->token;
    cd_http_response rs = {0};
    json_t *out = NULL;
    if (!cd_http_add_header(&rq, "Accept", "application/json", err)) {
        /* err says why */
    } else if (!cd_provider_http(p, &rq, &rs, err)) {
        cd_errprefix(err, "request failed");
    } else if (rs.status < 200 || rs.status > 299) {
        cd_provider_error_response(&rs, err);
    } else if ((out = cd_provider_parse_json(rs.body.data, rs.body.len, false, err))) {
        *len = rs.body.len;
        *body = cd_buf_steal(&rs.body);
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    cd_buf_free(&url);
    return out;
}

static cd_metric_rc em_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    cd_buf path = CD_BUF_INIT;
    if (!cd_externalmetrics_request_path(query, &path, err)) {
        cd_buf_free(&path);
        return CD_METRIC_ERROR;
    }
    char *body = NULL;
    size_t len = 0;
    cd_metric_rc rc = CD_METRIC_ERROR;
    json_t *root = em_get(p, path.data, &body, &len, err);
    if (!root)
        cd_errprefix(err, "error querying external metrics API");
    else
        rc = cd_externalmetrics_parse_json(root, body, len, value, err);
    json_decref(root);
    free(body);
    cd_buf_free(&path);
    return rc;
}

static bool em_online(cd_provider *p, cd_err *err)
{
    char *body = NULL;
    size_t len = 0;
    json_t *root = em_get(p, EM_API "kube-system/dummy-metric", &body, &len, err);
    if (!root)
        cd_errprefix(err, "external metrics service unavailable");
    json_decref(root);
    free(body);
    return root != NULL;
}

const cd_provider_type cd_provider_externalmetrics = {
    .name = "externalmetrics",
    .open = em_open,
    .query = em_query,
    .is_online = em_online,
    .close = em_close,
};
