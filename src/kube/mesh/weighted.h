/* weighted.h - the routers whose whole state is ONE object named after the
 * apex Service that carries the primary's and the canary's weights
 * (Contour's HTTPProxy, Traefik's TraefikService, Gloo's RouteTable): reconcile (create it,
 * or bring it in line keeping the weights it carries), read the weights,
 * write them. A router file describes its object with a cdk_weighted_kind
 * (pure builders from its *_objects.c) and forwards its table entries
 * here. Must not touch any object but the one named x->svc. */
#ifndef CANARYD_KUBE_MESH_WEIGHTED_H
#define CANARYD_KUBE_MESH_WEIGHTED_H

#include "kube/platform.h"

typedef struct cdk_weighted_kind {
    const cd_kube_resource *res;     /* the object's kind; its Kind names it in messages */
    /* false with err when the canary asks for what the object cannot express */
    bool (*check)(const cd_canary_spec *spec, cd_err *err);
    /* the object's spec at these weights, and the whole object around a
     * spec (takes it); both owned by the caller */
    json_t *(*spec)(const cdk_ctx *x, int primary, int canary);
    json_t *(*object)(const cdk_ctx *x, json_t *spec);
    /* the live object as it should be (NULL: already so) */
    json_t *(*update)(const json_t *live, const json_t *desired);
    bool (*get_weights)(const cdk_ctx *x, const json_t *obj, int *primary, int *canary, cd_err *err);
} cdk_weighted_kind;

cd_rc cdk_weighted_precheck(const cdk_weighted_kind *k, cdk_ctx *x, cd_err *err);
cd_rc cdk_weighted_reconcile(const cdk_weighted_kind *k, cdk_ctx *x, cd_err *err);
cd_rc cdk_weighted_get_routes(const cdk_weighted_kind *k, cdk_ctx *x, int *primary, int *canary,
                              bool *mirrored, cd_err *err);
cd_rc cdk_weighted_set_routes(const cdk_weighted_kind *k, cdk_ctx *x, int primary, int canary,
                              cd_err *err);

#endif
