/* schema.h - validation of a document tree against a CRD's structural
 * openAPIV3Schema, as a Kubernetes API server does it: types, enums,
 * patterns, ranges, lengths, required, oneOf/anyOf/allOf/not, int-or-string,
 * null pruning. Unknown fields become warnings (the API server prunes
 * them). The CRDs come from deploy/crds, compiled into the binary. */
#ifndef CD_SCHEMA_H
#define CD_SCHEMA_H
#include "model/diag.h"
#include "model/node.h"

typedef struct cd_crd_version {
    const char *group, *version, *kind, *plural;
    bool served;
    const cd_node *schema;      /* openAPIV3Schema */
} cd_crd_version;

/* The CRDs canaryd ships (loaded once, thread-safe, never freed). */
const cd_crd_version *cd_schema_find(const char *group, const char *version, const char *kind);
/* Any served or unserved version of the kind in the group (for messages). */
const cd_crd_version *cd_schema_find_kind(const char *group, const char *kind);
/* Iterates all known CRD versions; returns NULL past the end. */
const cd_crd_version *cd_schema_at(size_t i);

/* Loads CRDs from YAML text; used by tests and by cd_schema_find's loader.
 * A file that does not parse, or holds a CRD an API server would refuse
 * (cd_schema_check_crd: an unknown schema keyword, a value of the wrong
 * kind), adds nothing. Returns the number of versions added, -1 on error
 * (diags filled with file, line, column and path). */
int cd_schema_load_text(const char *name, const char *text, size_t len, cd_diags *diags);

/* Validates value against schema; path is the path of value ("" for the
 * root). Diagnostics carry file and positions. Returns the number of
 * errors added. */
size_t cd_schema_validate(const cd_node *schema, const cd_node *value, const char *file,
                          const char *path, cd_diags *diags);

#endif
