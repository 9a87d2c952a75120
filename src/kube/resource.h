/* resource.h - which Kubernetes resource a request is about (group,
 * version, plural, kind, scope) and the REST paths built from it, with
 * query parameters escaped. The resources canaryd uses are predefined.
 * Pure. */
#ifndef CD_KUBE_RESOURCE_H
#define CD_KUBE_RESOURCE_H
#include <stdbool.h>

typedef struct cd_kube_resource {
    const char *group;          /* "" for the core group */
    const char *version;
    const char *plural;         /* "deployments" */
    const char *kind;           /* "Deployment" */
    bool namespaced;
} cd_kube_resource;

extern const cd_kube_resource CD_KUBE_NAMESPACES, CD_KUBE_PODS, CD_KUBE_SERVICES,
    CD_KUBE_CONFIGMAPS, CD_KUBE_SECRETS, CD_KUBE_EVENTS_V1CORE, CD_KUBE_NODES,
    CD_KUBE_DEPLOYMENTS, CD_KUBE_DAEMONSETS, CD_KUBE_STATEFULSETS, CD_KUBE_CONTROLLERREVISIONS, CD_KUBE_REPLICASETS,
    CD_KUBE_HPAS, CD_KUBE_SCALEDOBJECTS, CD_KUBE_KNATIVE_SERVICES, CD_KUBE_LEASES, CD_KUBE_EVENTS,
    CD_KUBE_CRDS, CD_KUBE_CANARIES, CD_KUBE_METRIC_TEMPLATES, CD_KUBE_ALERT_PROVIDERS,
    CD_KUBE_APPMESH_MESHES, CD_KUBE_APPMESH_VIRTUAL_NODES, CD_KUBE_APPMESH_VIRTUAL_ROUTERS,
    CD_KUBE_APPMESH_VIRTUAL_SERVICES;

/* "apps/v1" or "v1". out needs 128 bytes. */
const char *cd_kube_api_version(const cd_kube_resource *r, char out[128]);

/* One query parameter; a NULL or empty value leaves it out. */
typedef struct cd_kube_param { const char *key, *value; } cd_kube_param;

/* /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]][?k=v&...]
 * ns is ignored for cluster-scoped resources and NULL means "all
 * namespaces" for namespaced ones; name and sub may be NULL. Names and
 * values are percent-encoded. Returns a malloc'd string, or NULL when a
 * path segment is empty or contains '/' (never a valid name). */
char *cd_kube_path(const cd_kube_resource *r, const char *ns, const char *name, const char *sub,
                   const cd_kube_param *params, int nparams);

/* A valid object name (RFC 1123 subdomain, <= 253 bytes). */
bool cd_kube_valid_name(const char *s);

#endif
