/* schema_check.c - the shape of apiextensions.k8s.io/v1
 * CustomResourceDefinition and JSONSchemaProps as tables, and a walker that
 * reports every key those Go types have no field for and every value of
 * the wrong kind, with file, line, column and path. Used when CRDs are
 * compiled into the binaries (build time, cd-crd-check) and whenever a
 * schema is loaded (cd_schema_load_text). Pure: reads the tree, writes
 * diagnostics only. Must not validate objects against schemas (schema.c). */
#include "model/schema_check.h"
#include "util/arena.h"
#include <string.h>

typedef enum {
    F_STR, F_BOOL, F_INT, F_NUM, F_STRLIST,
    F_ANY,                  /* any JSON value (default, example) */
    F_ANYLIST,              /* a list of any JSON values (enum) */
    F_ANYMAP,               /* an object with any content (metadata, status) */
    F_STRUCT,               /* sub */
    F_STRUCT_LIST,          /* a list of sub */
    F_STRUCT_MAP,           /* an object whose values are sub (properties) */
    F_STRUCT_OR_BOOL,       /* sub or a boolean (additionalProperties) */
    F_STRUCT_OR_LIST,       /* sub or a list of sub (items) */
    F_STRUCT_OR_STRLIST_MAP /* values: sub or a list of strings (dependencies) */
} field_kind;

typedef struct shape shape;
typedef struct field {
    const char *name;
    field_kind kind;
    const shape *sub;
} field;
struct shape {
    const char *name;       /* the Go type, for messages */
    const field *fields;
    size_t n;
};

#define SHAPE(var, goname, ...)                                                    \
    static const field var##_fields[] = {__VA_ARGS__};                             \
    static const shape var = {goname, var##_fields, sizeof var##_fields / sizeof var##_fields[0]}

static const shape props_shape;

SHAPE(external_docs_shape, "ExternalDocumentation",
      {"description", F_STR, NULL}, {"url", F_STR, NULL});

SHAPE(validation_rule_shape, "ValidationRule",
      {"rule", F_STR, NULL}, {"message", F_STR, NULL}, {"messageExpression", F_STR, NULL},
      {"reason", F_STR, NULL}, {"fieldPath", F_STR, NULL}, {"optionalOldSelf", F_BOOL, NULL});

/* JSONSchemaProps, field for field (k8s.io/apiextensions-apiserver
 * pkg/apis/apiextensions/v1, also in /openapi/v2 of every API server). */
static const field props_fields[] = {
    {"id", F_STR, NULL},
    {"$schema", F_STR, NULL},
    {"$ref", F_STR, NULL},
    {"description", F_STR, NULL},
    {"type", F_STR, NULL},
    {"format", F_STR, NULL},
    {"title", F_STR, NULL},
    {"default", F_ANY, NULL},
    {"maximum", F_NUM, NULL},
    {"exclusiveMaximum", F_BOOL, NULL},
    {"minimum", F_NUM, NULL},
    {"exclusiveMinimum", F_BOOL, NULL},
    {"maxLength", F_INT, NULL},
    {"minLength", F_INT, NULL},
    {"pattern", F_STR, NULL},
    {"maxItems", F_INT, NULL},
    {"minItems", F_INT, NULL},
    {"uniqueItems", F_BOOL, NULL},
    {"multipleOf", F_NUM, NULL},
    {"enum", F_ANYLIST, NULL},
    {"maxProperties", F_INT, NULL},
    {"minProperties", F_INT, NULL},
    {"required", F_STRLIST, NULL},
    {"items", F_STRUCT_OR_LIST, &props_shape},
    {"allOf", F_STRUCT_LIST, &props_shape},
    {"oneOf", F_STRUCT_LIST, &props_shape},
    {"anyOf", F_STRUCT_LIST, &props_shape},
    {"not", F_STRUCT, &props_shape},
    {"properties", F_STRUCT_MAP, &props_shape},
    {"additionalProperties", F_STRUCT_OR_BOOL, &props_shape},
    {"patternProperties", F_STRUCT_MAP, &props_shape},
    {"dependencies", F_STRUCT_OR_STRLIST_MAP, &props_shape},
    {"additionalItems", F_STRUCT_OR_BOOL, &props_shape},
    {"definitions", F_STRUCT_MAP, &props_shape},
    {"externalDocs", F_STRUCT, &external_docs_shape},
    {"example", F_ANY, NULL},
    {"nullable", F_BOOL, NULL},
    {"x-kubernetes-preserve-unknown-fields", F_BOOL, NULL},
    {"x-kubernetes-embedded-resource", F_BOOL, NULL},
    {"x-kubernetes-int-or-string", F_BOOL, NULL},
    {"x-kubernetes-list-map-keys", F_STRLIST, NULL},
    {"x-kubernetes-list-type", F_STR, NULL},
    {"x-kubernetes-map-type", F_STR, NULL},
    {"x-kubernetes-validations", F_STRUCT_LIST, &validation_rule_shape},
};
static const shape props_shape = {"JSONSchemaProps", props_fields,
                           sizeof props_fields / sizeof props_fields[0]};

/* CustomResourceDefinition (apiextensions.k8s.io/v1) around the schemas. */
SHAPE(validation_shape, "CustomResourceValidation",
      {"openAPIV3Schema", F_STRUCT, &props_shape});
static const shape status_sub_shape = {"CustomResourceSubresourceStatus", NULL, 0};
SHAPE(scale_sub_shape, "CustomResourceSubresourceScale",
      {"specReplicasPath", F_STR, NULL}, {"statusReplicasPath", F_STR, NULL},
      {"labelSelectorPath", F_STR, NULL});
SHAPE(subresources_shape, "CustomResourceSubresources",
      {"status", F_STRUCT, &status_sub_shape}, {"scale", F_STRUCT, &scale_sub_shape});
SHAPE(column_shape, "CustomResourceColumnDefinition",
      {"name", F_STR, NULL}, {"type", F_STR, NULL}, {"format", F_STR, NULL},
      {"description", F_STR, NULL}, {"priority", F_INT, NULL}, {"jsonPath", F_STR, NULL});
SHAPE(selectable_shape, "SelectableField", {"jsonPath", F_STR, NULL});
SHAPE(version_shape, "CustomResourceDefinitionVersion",
      {"name", F_STR, NULL}, {"served", F_BOOL, NULL}, {"storage", F_BOOL, NULL},
      {"deprecated", F_BOOL, NULL}, {"deprecationWarning", F_STR, NULL},
      {"schema", F_STRUCT, &validation_shape}, {"subresources", F_STRUCT, &subresources_shape},
      {"additionalPrinterColumns", F_STRUCT_LIST, &column_shape},
      {"selectableFields", F_STRUCT_LIST, &selectable_shape});
SHAPE(names_shape, "CustomResourceDefinitionNames",
      {"plural", F_STR, NULL}, {"singular", F_STR, NULL}, {"shortNames", F_STRLIST, NULL},
      {"kind", F_STR, NULL}, {"listKind", F_STR, NULL}, {"categories", F_STRLIST, NULL});
SHAPE(service_ref_shape, "ServiceReference",
      {"namespace", F_STR, NULL}, {"name", F_STR, NULL}, {"path", F_STR, NULL},
      {"port", F_INT, NULL});
SHAPE(client_config_shape, "WebhookClientConfig",
      {"url", F_STR, NULL}, {"service", F_STRUCT, &service_ref_shape}, {"caBundle", F_STR, NULL});
SHAPE(webhook_conv_shape, "WebhookConversion",
      {"clientConfig", F_STRUCT, &client_config_shape},
      {"conversionReviewVersions", F_STRLIST, NULL});
SHAPE(conversion_shape, "CustomResourceConversion",
      {"strategy", F_STR, NULL}, {"webhook", F_STRUCT, &webhook_conv_shape});
SHAPE(crd_spec_shape, "CustomResourceDefinitionSpec",
      {"group", F_STR, NULL}, {"names", F_STRUCT, &names_shape}, {"scope", F_STR, NULL},
      {"versions", F_STRUCT_LIST, &version_shape}, {"conversion", F_STRUCT, &conversion_shape},
      {"preserveUnknownFields", F_BOOL, NULL});
SHAPE(crd_shape, "CustomResourceDefinition",
      {"apiVersion", F_STR, NULL}, {"kind", F_STR, NULL}, {"metadata", F_ANYMAP, NULL},
      {"spec", F_STRUCT, &crd_spec_shape}, {"status", F_ANYMAP, NULL});

/* ---- the walker --------------------------------------------------------- */

typedef struct cctx {
    cd_arena tmp;
    const char *file;
    cd_diags *diags;
    size_t errors;
} cctx;

static void cerr(cctx *c, const cd_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cerr(cctx *c, const cd_node *at, const char *path, const char *fmt, ...)
{
    c->errors++;
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(c->diags, CD_DIAG_ERROR, c->file, at ? at->line : 0, at ? at->col : 0, path,
                  fmt, ap);
    va_end(ap);
}

static const char *kind_words(field_kind k)
{
    switch (k) {
    case F_STR: return "a string";
    case F_BOOL: return "a boolean (true or false)";
    case F_INT: return "an integer";
    case F_NUM: return "a number";
    case F_STRLIST: return "a list of strings";
    case F_ANYLIST: return "a list";
    case F_ANYMAP: case F_STRUCT: case F_STRUCT_MAP: case F_STRUCT_OR_STRLIST_MAP: return "an object";
    case F_STRUCT_LIST: return "a list of objects";
    case F_STRUCT_OR_BOOL: return "an object or a boolean";
    case F_STRUCT_OR_LIST: return "an object or a list of objects";
    case F_ANY: return "any value";
    }
    return "?";
}

static const char *node_words(const cd_node *v)
{
    switch (v->type) {
    case CD_N_MAP: return "an object";
    case CD_N_SEQ: return "a list";
    case CD_N_STR: return "a string";
    case CD_N_BOOL: return "a boolean";
    case CD_N_INT: return "an integer";
    case CD_N_FLOAT: return "a number";
    case CD_N_NULL: return "null";
    }
    return "?";
}

static void check_shape(cctx *c, const shape *s, const cd_node *v, const char *path,
                        unsigned depth);

static bool is_strlist(const cd_node *v)
{
    if (v->type != CD_N_SEQ)
        return false;
    for (size_t i = 0; i < v->nitems; i++)
        if (v->items[i]->type != CD_N_STR)
            return false;
    return true;
}

static void check_value(cctx *c, const field *f, const cd_node *v, const char *path,
                        unsigned depth)
{
    if (v->type == CD_N_NULL)
        return;         /* null decodes to the zero value */
    bool ok = true;
    switch (f->kind) {
    case F_STR: ok = v->type == CD_N_STR; break;
    case F_BOOL: ok = v->type == CD_N_BOOL; break;
    case F_INT: ok = v->type == CD_N_INT; break;
    case F_NUM: ok = v->type == CD_N_INT || v->type == CD_N_FLOAT; break;
    case F_STRLIST: ok = is_strlist(v); break;
    case F_ANY: break;
    case F_ANYLIST: ok = v->type == CD_N_SEQ; break;
    case F_ANYMAP: ok = v->type == CD_N_MAP; break;
    case F_STRUCT:
        if ((ok = v->type == CD_N_MAP))
            check_shape(c, f->sub, v, path, depth + 1);
        break;
    case F_STRUCT_OR_BOOL:
        if (v->type == CD_N_BOOL)
            break;
        if ((ok = v->type == CD_N_MAP))
            check_shape(c, f->sub, v, path, depth + 1);
        break;
    case F_STRUCT_LIST:
    case F_STRUCT_OR_LIST:
        if (f->kind == F_STRUCT_OR_LIST && v->type == CD_N_MAP) {
            check_shape(c, f->sub, v, path, depth + 1);
            break;
        }
        if (!(ok = v->type == CD_N_SEQ))
            break;
        for (size_t i = 0; i < v->nitems; i++) {
            const cd_node *item = v->items[i];
            const char *ipath = cd_path_index(&c->tmp, path, i);
            if (item->type == CD_N_MAP)
                check_shape(c, f->sub, item, ipath, depth + 1);
            else if (item->type != CD_N_NULL)
                cerr(c, item, ipath, "must be an object (a %s), got %s", f->sub->name,
                     node_words(item));
        }
        break;
    case F_STRUCT_MAP:
    case F_STRUCT_OR_STRLIST_MAP:
        if (!(ok = v->type == CD_N_MAP))
            break;
        for (size_t i = 0; i < v->npairs; i++) {
            const cd_node *val = v->pairs[i].value;
            const char *kpath = cd_path_key(&c->tmp, path, v->pairs[i].key->str);
            if (val->type == CD_N_MAP)
                check_shape(c, f->sub, val, kpath, depth + 1);
            else if (f->kind == F_STRUCT_OR_STRLIST_MAP && is_strlist(val))
                continue;
            else if (val->type != CD_N_NULL)
                cerr(c, val, kpath, "must be an object (a %s), got %s", f->sub->name,
                     node_words(val));
        }
        break;
    }
    if (!ok)
        cerr(c, v, path, "must be %s, got %s", kind_words(f->kind), node_words(v));
}

static const field *find_field(const shape *s, const cd_node *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->fields[i].name) == key->len && !memcmp(s->fields[i].name, key->str, key->len))
            return &s->fields[i];
    return NULL;
}

static void check_shape(cctx *c, const shape *s, const cd_node *v, const char *path,
                        unsigned depth)
{
    if (depth > CD_NODE_MAX_DEPTH) {
        cerr(c, v, path, "nests too deeply");
        return;
    }
    for (size_t i = 0; i < v->npairs; i++) {
        const cd_node *k = v->pairs[i].key;
        const char *kpath = cd_path_key(&c->tmp, path, k->str);
        const field *f = find_field(s, k);
        if (!f) {
            if (s == &props_shape)
                cerr(c, k, kpath, "unknown field \"%s\" in %s: not a keyword of an "
                     "apiextensions.k8s.io/v1 schema, so an API server refuses this CRD "
                     "(quote a value that holds \", \" or \": \" inside {...})", k->str, s->name);
            else
                cerr(c, k, kpath, "unknown field \"%s\" in %s", k->str, s->name);
            continue;
        }
        check_value(c, f, v->pairs[i].value, kpath, depth);
    }
}

size_t cd_schema_check_props(const cd_node *schema, const char *file, const char *path,
                             cd_diags *diags)
{
    if (!schema || schema->type == CD_N_NULL)
        return 0;
    cctx c = {.file = file, .diags = diags};
    cd_arena_init(&c.tmp, 4096);
    field root = {"openAPIV3Schema", F_STRUCT, &props_shape};
    check_value(&c, &root, schema, path ? path : "", 0);
    cd_arena_free(&c.tmp);
    return c.errors;
}

size_t cd_schema_check_crd(const cd_node *crd, const char *file, cd_diags *diags)
{
    if (!crd)
        return 0;
    cctx c = {.file = file, .diags = diags};
    cd_arena_init(&c.tmp, 4096);
    const char *av = cd_node_str(cd_map_get(crd, "apiVersion"));
    if (crd->type != CD_N_MAP)
        cerr(&c, crd, "", "a CustomResourceDefinition must be an object, got %s",
             node_words(crd));
    else if (!av || strcmp(av, "apiextensions.k8s.io/v1"))
        cerr(&c, cd_map_get(crd, "apiVersion") ?: crd, "apiVersion",
             "a CustomResourceDefinition must be apiextensions.k8s.io/v1 (v1beta1 is not served "
             "since Kubernetes 1.22), got %s", av ? av : "none");
    else
        check_shape(&c, &crd_shape, crd, "", 0);
    cd_arena_free(&c.tmp);
    return c.errors;
}

size_t cd_schema_check_stream(const cd_stream *s, cd_diags *diags)
{
    size_t errors = 0;
    for (size_t d = 0; d < s->ndocs; d++) {
        const cd_node *root = s->docs[d].root;
        const char *kind = cd_node_str(cd_map_get(root, "kind"));
        if (kind && !strcmp(kind, "CustomResourceDefinition"))
            errors += cd_schema_check_crd(root, s->file, diags);
    }
    return errors;
}
