/* object.h - a decoded manifest object of one of canaryd's kinds (Canary,
 * MetricTemplate, AlertProvider, LocalWorkload), and loading manifests
 * from text, files and directories. Decoding = schema validation (the
 * CRDs in deploy/crds) + semantic checks + conversion to C structs with
 * Flagger's defaults applied. An object is only produced when it has no
 * errors: nothing is ever half-decoded. */
#ifndef CD_OBJECT_H
#define CD_OBJECT_H
#include "model/canary.h"
#include "model/diag.h"
#include "model/node.h"
#include "model/status.h"
#include "util/arena.h"
#include <jansson.h>

typedef enum {
    CD_KIND_CANARY,
    CD_KIND_METRIC_TEMPLATE,
    CD_KIND_ALERT_PROVIDER,
    CD_KIND_LOCAL_WORKLOAD,
    CD_KIND__COUNT
} cd_kind;

const char *cd_kind_name(cd_kind k);

typedef struct cd_header_values { const char *name; cd_strlist values; } cd_header_values;

typedef struct cd_metric_template_spec {
    const char *provider_type;      /* prometheus, datadog, ... */
    const char *address;
    cd_header_values *headers;
    size_t n_headers;
    const char *secret_ref;         /* secretRef.name */
    const char *region;
    bool insecure_skip_verify;
    const char *query;
} cd_metric_template_spec;

typedef struct cd_alert_provider_spec {
    const char *type;               /* slack, msteams, discord, rocket, gchat */
    const char *channel;            /* default "general" */
    const char *username;           /* default "flagger" */
    const char *address, *proxy;
    const char *secret_ref;
} cd_alert_provider_spec;

/* canaryd's own kind for a process set on the local platform; decoded by
 * src/model/workload.c. */
typedef struct cd_local_workload_spec cd_local_workload_spec;

typedef struct cd_object {
    cd_kind kind;
    int refs;                       /* cd_object_retain / cd_object_free */
    cd_arena arena;                 /* owns every string of the object */
    const char *api_version, *kind_name;
    cd_object_meta meta;
    const char *file;               /* where it was read, may be NULL */
    int line;                       /* line of its document */
    union {
        cd_canary_spec canary;
        cd_metric_template_spec metric_template;
        cd_alert_provider_spec alert_provider;
        cd_local_workload_spec *workload;
    } spec;
    bool has_status;
    cd_canary_status status;        /* Canary only */
} cd_object;

typedef struct cd_object_list {
    cd_object **items;
    size_t n, cap;
} cd_object_list;

void cd_object_list_free(cd_object_list *l);
void cd_object_list_push(cd_object_list *l, cd_object *o);
/* Objects are reference counted so that a platform can swap its object set
 * while a tick still reads the old one: retain takes a reference, free
 * drops one (and frees on the last). */
cd_object *cd_object_retain(cd_object *o);
void cd_object_free(cd_object *o);

/* Decodes one document root. Returns NULL when it has errors (all of them
 * in diags) or when it is not one of canaryd's kinds (a warning). */
cd_object *cd_object_decode(const cd_node *root, const char *file, int line,
                            const char *default_namespace, cd_diags *diags);

/* The largest manifest input (one file, one API body, stdin) accepted:
 * 1 MiB, as much as etcd stores in one Kubernetes object (1.5 MB) allows
 * for. Parsing costs up to about 40 times the input in memory, so this
 * bounds a parse to some 40 MiB. Larger inputs are refused with an error
 * saying so, before parsing. */
#define CD_MANIFEST_MAX_BYTES (1u << 20)

/* Decodes every document of a YAML/JSON buffer (an error, and nothing
 * else, when it is longer than CD_MANIFEST_MAX_BYTES). Objects without errors are
 * appended to out; returns the number of errors added. */
size_t cd_manifest_load_buffer(const char *name, const char *data, size_t len, bool json,
                               const char *default_namespace, cd_object_list *out,
                               cd_diags *diags);
/* A file ("-" = stdin) or a directory (recursive *.yaml|*.yml|*.json,
 * sorted). Returns -1 when the path cannot be read (diags explains),
 * else the number of errors. */
long cd_manifest_load_path(const char *path, const char *default_namespace,
                           cd_object_list *out, cd_diags *diags);

/* Canonical JSON of the object with defaults applied (sorted keys when
 * dumped with JSON_SORT_KEYS). */
json_t *cd_object_to_json(const cd_object *o);

/* Hash of a JSON value in canonical form (sorted keys, compact): Flagger's
 * hash encoding, used for lastAppliedSpec and webhook checksums. */
void cd_json_hash(const json_t *v, char out[16]);

#endif
