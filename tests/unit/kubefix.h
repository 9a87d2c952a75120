/* kubefix.h - fixtures shared by the src/kube unit tests: a JSON value
 * from text, a Canary decoded from YAML (exactly one object), and a string
 * at a dotted path. Include after <cmocka.h>. */
#ifndef CD_KUBEFIX_H
#define CD_KUBEFIX_H
#include "kube/kjson.h"
#include "model/object.h"
#include "model/schema.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline json_t *obj(const char *json)
{
    json_error_t e;
    json_t *j = json_loads(json, 0, &e);
    if (!j)
        fail_msg("bad JSON in test: %s (%s)", e.text, json);
    return j;
}

static inline cd_object *canary(const char *yaml)
{
    cd_object_list l = {0};
    cd_diags d;
    cd_diags_init(&d);
    size_t errs = cd_manifest_load_buffer("test.yaml", yaml, strlen(yaml), false, "test", &l, &d);
    if (errs || l.n != 1) {
        cd_diags_print(&d, stderr);
        fail_msg("canary did not decode");
    }
    cd_object *o = cd_object_retain(l.items[0]);
    cd_object_list_free(&l);
    cd_diags_free(&d);
    return o;
}

static inline const char *S(const json_t *o, const char *path) { return kj_str(o, path); }

/* o is valid against crd, and holds nothing the API server would prune
 * (unknown fields are warnings, counted too); o and the diagnostics are
 * printed otherwise. */
static inline void assert_schema_valid(const cd_crd_version *crd, const json_t *o)
{
    assert_non_null(crd);
    cd_stream *s = cd_stream_from_json("generated", (json_t *)o);
    cd_diags d;
    cd_diags_init(&d);
    cd_schema_validate(crd->schema, s->docs[0].root, NULL, "", &d);
    if (d.n) {
        cd_diags_print(&d, stderr);
        char *dump = json_dumps(o, JSON_INDENT(1));
        fprintf(stderr, "%s\n", dump);
        free(dump);
    }
    assert_int_equal(d.n, 0);
    cd_diags_free(&d);
    cd_stream_free(s);
}

#endif
