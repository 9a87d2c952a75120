/* platform.h - what the Kubernetes platform's workload controllers
 * (src/kube/workload/) and routers (src/kube/mesh/) share during one
 * tick of one canary: the operator-wide settings, the canary as read, and
 * per-tick caches (the target object, its selector label and ports, its
 * tracked configs). A cdk_ctx lives for one tick and belongs to the one
 * thread running it; it never outlives cd_engine_tick's return. */
#ifndef CD_KUBE_PLATFORM_H
#define CD_KUBE_PLATFORM_H
#include "kube/api.h"
#include "kube/tick_types.h"
#include "model/object.h"
#include "util/err.h"

/* Operator-wide settings (flags). */
typedef struct cdk_settings {
    cd_strlist selector_labels;     /* -selector-labels, in search order */
    cd_strlist label_prefixes;      /* -include-label-prefix ("*" = all, none by default) */
    bool config_tracking;           /* -enable-config-tracking */
    const char *mesh_provider;      /* -mesh-provider */
    const char *ingress_annotations_prefix;  /* -ingress-annotations-prefix (nginx) */
    const char *ingress_class;      /* -ingress-class (contour's ingressClassName) */
} cdk_settings;

struct cdk_workload_ops;
struct cdk_mesh_router;

typedef struct cdk_ctx {
    cd_kube_client *kc;
    const cdk_settings *set;
    const json_t *canary;           /* the Canary object as read this tick */
    json_t *owner_ref;              /* controller ownerReference to it */
    const cd_object *obj;           /* the Canary decoded */
    const cd_canary_spec *spec;
    const char *ns, *name, *target, *svc;
    char key[320];                  /* "<name>.<namespace>" for logs */
    const struct cdk_workload_ops *wl;
    const struct cdk_mesh_router *router;
    int64_t (*now_ms)(void);        /* wall clock (tests may replace it) */

    /* caches, filled on first use */
    json_t *target_obj;
    bool have_meta;
    char label[256], value[256];    /* selector label of the target and its value */
    cdk_port *ports;
    size_t nports;
    bool configs_loaded;
    cdk_config_refs tracked;        /* configs tracked (renamed in the primary) */
    json_t *config_objs;            /* the tracked ConfigMaps/Secrets, same order */
    cd_tracked_config *tracked_items;
    size_t n_tracked;
    bool sts_promoted;              /* StatefulSet: promote ran this tick */
    bool sts_weights_raised;        /* StatefulSet under a mesh: canary weight raised this tick */
} cdk_ctx;

/* Fills the context for one tick (canary is borrowed; obj retained by the
 * caller) with the workload controller and router the caller chose for it
 * (kube/operator: cdk_open_ctx picks them by target kind and provider). */
void cdk_ctx_init(cdk_ctx *x, cd_kube_client *kc, const cdk_settings *set, const json_t *canary,
                  const cd_object *obj, const struct cdk_workload_ops *wl,
                  const struct cdk_mesh_router *router);
void cdk_ctx_release(cdk_ctx *x);

/* A Kubernetes error as a port error: "<what>: <the client's message>". */
void cdk_err_from_kube(cd_err *err, const cd_kube_err *kerr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A JSON merge patch, sent again (up to 3 times) when the server answers
 * 409: a patch without a resourceVersion only conflicts with a writer that
 * got in between, so sending it again is safe. */
bool cdk_merge_patch(cdk_ctx *x, const cd_kube_resource *r, const char *name, const json_t *patch,
                     cd_kube_err *err);

/* Creates obj, or when it exists lets mutate bring the live one in line
 * (read-modify-write with retry on conflict). mutate returns 1 to write,
 * 0 when nothing changes. *created tells which happened (may be NULL). */
bool cdk_apply(cdk_ctx *x, const cd_kube_resource *r, const json_t *obj, cd_kube_mutate_fn mutate,
               void *ud, bool *created, cd_kube_err *err);

#endif
