/* tick_types.h - the plain data a tick's context (platform.h) holds about
 * the target workload: the configs it tracks and the ports it exposes.
 * Defined here, below both the context and the workload files that fill
 * them, so that platform.h need not include the workload's builders.
 * Types and the one function that frees them; nothing else of canaryd. */
#ifndef CD_KUBE_TICK_TYPES_H
#define CD_KUBE_TICK_TYPES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A ConfigMap or Secret the target's pod spec uses (config tracking, §2.3). */
typedef enum { CDK_CONFIGMAP, CDK_SECRET } cdk_config_kind;

typedef struct cdk_config_ref {
    cdk_config_kind kind;
    char *name;
    bool optional;      /* every reference to it is optional */
} cdk_config_ref;

typedef struct cdk_config_refs {
    cdk_config_ref *items;
    size_t n;
} cdk_config_refs;

/* Frees r's items and empties it. */
void cdk_config_refs_free(cdk_config_refs *r);

/* A container port of the target (port discovery). */
typedef struct cdk_port {
    char name[64];
    int32_t port;
} cdk_port;

#endif
