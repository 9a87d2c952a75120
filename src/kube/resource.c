/* resource.c - see resource.h. Pure; percent-encoding is RFC 3986
 * (unreserved characters kept). */
#include "kube/resource.h"
#include "util/buf.h"
#include <stdio.h>
#include <string.h>

#define RES(id, g, v, p, k, nsd) const cd_kube_resource id = {g, v, p, k, nsd}
RES(CD_KUBE_NAMESPACES, "", "v1", "namespaces", "Namespace", false);
RES(CD_KUBE_PODS, "", "v1", "pods", "Pod", true);
RES(CD_KUBE_SERVICES, "", "v1", "services", "Service", true);
RES(CD_KUBE_CONFIGMAPS, "", "v1", "configmaps", "ConfigMap", true);
RES(CD_KUBE_SECRETS, "", "v1", "secrets", "Secret", true);
RES(CD_KUBE_EVENTS_V1CORE, "", "v1", "events", "Event", true);
RES(CD_KUBE_NODES, "", "v1", "nodes", "Node", false);
RES(CD_KUBE_DEPLOYMENTS, "apps", "v1", "deployments", "Deployment", true);
RES(CD_KUBE_DAEMONSETS, "apps", "v1", "daemonsets", "DaemonSet", true);
RES(CD_KUBE_STATEFULSETS, "apps", "v1", "statefulsets", "StatefulSet", true);
RES(CD_KUBE_REPLICASETS, "apps", "v1", "replicasets", "ReplicaSet", true);
RES(CD_KUBE_CONTROLLERREVISIONS, "apps", "v1", "controllerrevisions", "ControllerRevision", true);
RES(CD_KUBE_HPAS, "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true);
RES(CD_KUBE_SCALEDOBJECTS, "keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", true);
RES(CD_KUBE_KNATIVE_SERVICES, "serving.knative.dev", "v1", "services", "Service", true);
RES(CD_KUBE_LEASES, "coordination.k8s.io", "v1", "leases", "Lease", true);
RES(CD_KUBE_EVENTS, "events.k8s.io", "v1", "events", "Event", true);
RES(CD_KUBE_CRDS, "apiextensions.k8s.io", "v1", "customresourcedefinitions",
    "CustomResourceDefinition", false);
RES(CD_KUBE_CANARIES, "flagger.app", "v1beta1", "canaries", "Canary", true);
RES(CD_KUBE_METRIC_TEMPLATES, "flagger.app", "v1beta1", "metrictemplates", "MetricTemplate", true);
RES(CD_KUBE_ALERT_PROVIDERS, "flagger.app", "v1beta1", "alertproviders", "AlertProvider", true);
RES(CD_KUBE_APPMESH_MESHES, "appmesh.k8s.aws", "v1beta2", "meshes", "Mesh", false);
RES(CD_KUBE_APPMESH_VIRTUAL_NODES, "appmesh.k8s.aws", "v1beta2", "virtualnodes", "VirtualNode", true);
RES(CD_KUBE_APPMESH_VIRTUAL_ROUTERS, "appmesh.k8s.aws", "v1beta2", "virtualrouters", "VirtualRouter",
    true);
RES(CD_KUBE_APPMESH_VIRTUAL_SERVICES, "appmesh.k8s.aws", "v1beta2", "virtualservices",
    "VirtualService", true);

const char *cd_kube_api_version(const cd_kube_resource *r, char out[128])
{
    if (!r->group || !*r->group)
        snprintf(out, 128, "%s", r->version);
    else
        snprintf(out, 128, "%s/%s", r->group, r->version);
    return out;
}

static void put_escaped(cd_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            cd_buf_putc(b, (char)c);
        } else {
            cd_buf_putc(b, '%');
            cd_buf_putc(b, hex[c >> 4]);
            cd_buf_putc(b, hex[c & 15]);
        }
    }
}

static bool segment_ok(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

char *cd_kube_path(const cd_kube_resource *r, const char *ns, const char *name, const char *sub,
                   const cd_kube_param *params, int nparams)
{
    if (!r || !segment_ok(r->plural) || !segment_ok(r->version))
        return NULL;
    if ((name && !segment_ok(name)) || (sub && !segment_ok(sub)) || (sub && !name))
        return NULL;
    if (r->namespaced && ns && !segment_ok(ns))
        return NULL;
    if (r->namespaced && name && !ns)
        return NULL;
    cd_buf b = CD_BUF_INIT;
    if (!r->group || !*r->group)
        cd_buf_printf(&b, "/api/%s", r->version);
    else
        cd_buf_printf(&b, "/apis/%s/%s", r->group, r->version);
    if (r->namespaced && ns) {
        cd_buf_puts(&b, "/namespaces/");
        put_escaped(&b, ns);
    }
    cd_buf_putc(&b, '/');
    cd_buf_puts(&b, r->plural);
    if (name) {
        cd_buf_putc(&b, '/');
        put_escaped(&b, name);
        if (sub) {
            cd_buf_putc(&b, '/');
            cd_buf_puts(&b, sub);
        }
    }
    char sep = '?';
    for (int i = 0; i < nparams; i++) {
        if (!params[i].key || !params[i].value || !*params[i].value)
            continue;
        cd_buf_putc(&b, sep);
        sep = '&';
        put_escaped(&b, params[i].key);
        cd_buf_putc(&b, '=');
        put_escaped(&b, params[i].value);
    }
    return cd_buf_steal(&b);
}

bool cd_kube_valid_name(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    bool label_start = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '.') {
            if (label_start || s[i - 1] == '-')
                return false;
            label_start = true;
            continue;
        }
        if (c == '-') {
            if (label_start)
                return false;
        } else if (!alnum) {
            return false;
        }
        label_start = false;
    }
    return !label_start && s[n - 1] != '-';
}
