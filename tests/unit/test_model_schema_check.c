/* test_model_schema_check.c - the CRD check (src/model/schema_check.c)
 * and cd_schema_load_text's use of it: a schema keyword that
 * apiextensions.k8s.io/v1 JSONSchemaProps has no field for, or a value of
 * the wrong kind, is an error with file, line, column and path, and the
 * file is refused whole; every real CRD (canaryd's, Flagger's, every
 * router's in shared/conformance/crds) passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/schema.h"
#include "model/schema_check.h"
#include "util/fsutil.h"

/* A CRD of group test.example with kind K, whose spec schema is the YAML
 * given (indented under "spec:" at 14 spaces by the caller). */
static char *crd_text(const char *kind, const char *spec_schema)
{
    char *out = NULL;
    if (asprintf(&out,
                 "apiVersion: apiextensions.k8s.io/v1\n"                        /* 1 */
                 "kind: CustomResourceDefinition\n"                             /* 2 */
                 "metadata: {name: things.test.example}\n"                     /* 3 */
                 "spec:\n"                                                      /* 4 */
                 "  group: test.example\n"                                      /* 5 */
                 "  scope: Namespaced\n"                                        /* 6 */
                 "  names: {kind: %s, plural: things, singular: thing}\n"       /* 7 */
                 "  versions:\n"                                                /* 8 */
                 "    - name: v1\n"                                             /* 9 */
                 "      served: true\n"                                         /* 10 */
                 "      storage: true\n"                                        /* 11 */
                 "      schema:\n"                                              /* 12 */
                 "        openAPIV3Schema:\n"                                   /* 13 */
                 "          type: object\n"                                     /* 14 */
                 "          properties:\n"                                      /* 15 */
                 "            spec:\n"                                          /* 16 */
                 "%s",
                 kind, spec_schema) < 0)
        abort();
    return out;
}

#define SPEC "spec.versions[0].schema.openAPIV3Schema.properties.spec"

/* Loads text; returns cd_schema_load_text's result, diags kept in *d. */
static int load(const char *name, const char *text, cd_diags *d)
{
    cd_diags_init(d);
    return cd_schema_load_text(name, text, strlen(text), d);
}

static const cd_diag *find_diag(const cd_diags *d, const char *path)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].path && !strcmp(d->items[i].path, path))
            return &d->items[i];
    return NULL;
}

/* Issue 14's line: an unquoted description with commas in a flow mapping. */
static void test_issue14_flow_mapping_keys(void **state)
{
    (void)state;
    char *t = crd_text("Issue14",
                       "              type: object\n"                                  /* 17 */
                       "              properties:\n"                                   /* 18 */
                       "                channel: {type: string, description: Channel "
                       "(Slack, Discord, Rocket.Chat); default general.}\n");         /* 19 */
    cd_diags d;
    assert_int_equal(load("alertproviders.yaml", t, &d), -1);
    assert_int_equal(d.errors, 2);
    const cd_diag *a = find_diag(&d, SPEC ".properties.channel.Discord");
    assert_non_null(a);
    assert_string_equal(a->file, "alertproviders.yaml");
    assert_int_equal(a->line, 19);
    assert_int_equal(a->col, 70);
    assert_non_null(strstr(a->message, "unknown field \"Discord\" in JSONSchemaProps"));
    const cd_diag *b = find_diag(&d, SPEC ".properties.channel[\"Rocket.Chat); default general.\"]");
    assert_non_null(b);
    assert_int_equal(b->line, 19);
    assert_int_equal(b->col, 79);
    char *s = cd_diag_format(a);
    assert_non_null(strstr(s, "alertproviders.yaml:19:70: " SPEC ".properties.channel.Discord: "));
    free(s);
    /* refused whole: nothing of the file is registered */
    assert_null(cd_schema_find("test.example", "v1", "Issue14"));
    cd_diags_free(&d);
    free(t);

    /* quoted, the same CRD loads */
    t = crd_text("Issue14Fixed",
                 "              type: object\n"
                 "              properties:\n"
                 "                channel: {type: string, description: \"Channel "
                 "(Slack, Discord, Rocket.Chat); default general.\"}\n");
    assert_int_equal(load("alertproviders.yaml", t, &d), 1);
    assert_int_equal(d.errors, 0);
    assert_non_null(cd_schema_find("test.example", "v1", "Issue14Fixed"));
    cd_diags_free(&d);
    free(t);
}

/* Unknown keywords anywhere a JSONSchemaProps is: properties, items,
 * additionalProperties, allOf/anyOf/oneOf/not, definitions,
 * patternProperties, and inside x-kubernetes-validations and externalDocs. */
static void test_unknown_keywords_everywhere(void **state)
{
    (void)state;
    char *t = crd_text("Everywhere",
                       "              type: object\n"
                       "              minimum_length: 3\n"
                       "              properties:\n"
                       "                list:\n"
                       "                  type: array\n"
                       "                  items: {type: string, maxlen: 4}\n"
                       "                map:\n"
                       "                  type: object\n"
                       "                  additionalProperties: {type: integer, optional: true}\n"
                       "                pick:\n"
                       "                  oneOf: [{required: [a]}, {requires: [b]}]\n"
                       "                  anyOf: [{required: [a], hint: x}]\n"
                       "                  allOf: [{not: {required: [c], reason: y}}]\n"
                       "                rules:\n"
                       "                  type: object\n"
                       "                  x-kubernetes-validations:\n"
                       "                    - {rule: self.a > 0, mesage: typo}\n"
                       "                  externalDocs: {url: http://x, link: y}\n"
                       "                  patternProperties: {'^a': {tpye: string}}\n"
                       "                  definitions: {d: {descripton: z}}\n");
    cd_diags d;
    assert_int_equal(load("everywhere.yaml", t, &d), -1);
    static const char *const paths[] = {
        SPEC ".minimum_length",
        SPEC ".properties.list.items.maxlen",
        SPEC ".properties.map.additionalProperties.optional",
        SPEC ".properties.pick.oneOf[1].requires",
        SPEC ".properties.pick.anyOf[0].hint",
        SPEC ".properties.pick.allOf[0].not.reason",
        SPEC ".properties.rules.x-kubernetes-validations[0].mesage",
        SPEC ".properties.rules.externalDocs.link",
        SPEC ".properties.rules.patternProperties[\"^a\"].tpye",
        SPEC ".properties.rules.definitions.d.descripton",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const cd_diag *x = find_diag(&d, paths[i]);
        if (!x)
            fail_msg("no diagnostic at %s", paths[i]);
        assert_true(x->line > 16);
        assert_true(x->col > 0);
        assert_non_null(strstr(x->message, "unknown field"));
    }
    assert_int_equal(d.errors, sizeof paths / sizeof paths[0]);
    cd_diags_free(&d);
    free(t);
}

/* Values of the wrong kind are refused as the API server's decoder does;
 * default, enum and example hold any JSON and are not looked into. */
static void test_value_kinds(void **state)
{
    (void)state;
    char *t = crd_text("Kinds",
                       "              type: object\n"
                       "              required: name\n"                        /* 18 */
                       "              properties:\n"
                       "                a: {type: 5}\n"                        /* 20 */
                       "                b: {type: integer, maximum: ten}\n"    /* 21 */
                       "                c: {type: string, nullable: \"yes\"}\n"  /* 22 */
                       "                d: {type: string, maxLength: 2.5}\n"   /* 23 */
                       "                e: [not, a, schema]\n"                 /* 24 */
                       "                f:\n"
                       "                  type: object\n"
                       "                  default: {anything: [1, {goes: here}]}\n"
                       "                  example: {free: form}\n"
                       "                g: {type: string, enum: [a, {b: c}]}\n"
                       "                h: {type: object, additionalProperties: false}\n"
                       "                i: {type: array, items: [{type: string}, {type: integer}]}\n"
                       "                j: {type: object, dependencies: {x: [y, z], w: {required: [v]}}}\n");
    cd_diags d;
    assert_int_equal(load("kinds.yaml", t, &d), -1);
    struct { const char *path; int line; const char *msg; } want[] = {
        {SPEC ".required", 18, "must be a list of strings, got a string"},
        {SPEC ".properties.a.type", 20, "must be a string, got an integer"},
        {SPEC ".properties.b.maximum", 21, "must be a number, got a string"},
        {SPEC ".properties.c.nullable", 22, "must be a boolean (true or false), got a string"},
        {SPEC ".properties.d.maxLength", 23, "must be an integer, got a number"},
        {SPEC ".properties.e", 24, "must be an object (a JSONSchemaProps), got a list"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cd_diag *x = find_diag(&d, want[i].path);
        if (!x)
            fail_msg("no diagnostic at %s", want[i].path);
        assert_int_equal(x->line, want[i].line);
        assert_string_equal(x->message, want[i].msg);
    }
    assert_int_equal(d.errors, sizeof want / sizeof want[0]);
    cd_diags_free(&d);
    free(t);
}

/* The CRD around the schema: its own unknown fields, a v1beta1 CRD, and a
 * file that does not parse, are refused too. */
static void test_crd_fields(void **state)
{
    (void)state;
    cd_diags d;
    const char *bad_version =
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata: {name: things.test.example}\n"
        "spec:\n"
        "  group: test.example\n"
        "  scope: Namespaced\n"
        "  names: {kind: Fields, plural: things}\n"
        "  versions:\n"
        "    - name: v1\n"
        "      servd: true\n"
        "      subresources: {status: {enabled: true}}\n"
        "      schema: {openAPIV3Schema: {type: object}}\n";
    assert_int_equal(load("fields.yaml", bad_version, &d), -1);
    const cd_diag *x = find_diag(&d, "spec.versions[0].servd");
    assert_non_null(x);
    assert_int_equal(x->line, 10);
    assert_int_equal(x->col, 7);
    assert_string_equal(x->message,
                        "unknown field \"servd\" in CustomResourceDefinitionVersion");
    assert_non_null(find_diag(&d, "spec.versions[0].subresources.status.enabled"));
    assert_int_equal(d.errors, 2);
    assert_null(cd_schema_find("test.example", "v1", "Fields"));
    cd_diags_free(&d);

    const char *beta = "apiVersion: apiextensions.k8s.io/v1beta1\n"
                       "kind: CustomResourceDefinition\n"
                       "spec: {group: test.example, names: {kind: Beta}, versions: [{name: v1}]}\n";
    assert_int_equal(load("beta.yaml", beta, &d), -1);
    assert_non_null(find_diag(&d, "apiVersion"));
    assert_non_null(strstr(d.items[0].message, "must be apiextensions.k8s.io/v1"));
    cd_diags_free(&d);

    /* a syntax error in a later document: the earlier CRD is not registered */
    char *t = crd_text("Partial", "              type: object\n");
    char *two = NULL;
    if (asprintf(&two, "%s---\nkind: [unclosed\n", t) < 0)
        abort();
    assert_int_equal(load("partial.yaml", two, &d), -1);
    assert_true(d.errors > 0);
    assert_null(cd_schema_find("test.example", "v1", "Partial"));
    cd_diags_free(&d);
    free(two);
    free(t);
}

static size_t check_file(const char *path)
{
    size_t len;
    char *text = cd_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_parse(path, text, len, false, &d);
    assert_non_null(s);
    size_t crds = 0;
    for (size_t i = 0; i < s->ndocs; i++) {
        const char *kind = cd_node_str(cd_map_get(s->docs[i].root, "kind"));
        crds += kind && !strcmp(kind, "CustomResourceDefinition");
    }
    cd_schema_check_stream(s, &d);
    if (d.errors) {
        cd_diags_print(&d, stderr);
        fail_msg("%s: %zu errors", path, d.errors);
    }
    cd_stream_free(s);
    cd_diags_free(&d);
    free(text);
    return crds;
}

static size_t check_dir(const char *dir)
{
    size_t crds = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name);
        if (e->d_type == DT_DIR)
            crds += check_dir(path);
        else if ((n > 5 && !strcmp(e->d_name + n - 5, ".yaml")) ||
                 (n > 4 && !strcmp(e->d_name + n - 4, ".yml")))
            crds += check_file(path);
    }
    closedir(dp);
    return crds;
}

/* Every real CRD passes: canaryd's (compiled in: they loaded) and the
 * routers' upstream ones. (Flagger's crd.yaml, whose multi-line quoted
 * descriptions sit at the column of their key, is checked in
 * test_model_node.c.) */
static void test_real_crds_pass(void **state)
{
    (void)state;
    assert_non_null(cd_schema_find("flagger.app", "v1beta1", "Canary"));
    assert_non_null(cd_schema_find("flagger.app", "v1beta1", "AlertProvider"));
    assert_true(check_dir("deploy/crds") >= 4);
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/crds", shared ? shared : "../shared");
    assert_true(check_dir(path) >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue14_flow_mapping_keys),
        cmocka_unit_test(test_unknown_keywords_everywhere),
        cmocka_unit_test(test_value_kinds),
        cmocka_unit_test(test_crd_fields),
        cmocka_unit_test(test_real_crds_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
