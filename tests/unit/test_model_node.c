/* test_model_node.c - the YAML reader (src/model/node.c) on what issue 24
 * found: single-quoted scalars with "''" escapes (libfyaml 0.7.12 decodes
 * them wrongly and leaked its chunk buffer; run under ASan with leak
 * detection this test fails on a leak), double-quoted ones (also decoded
 * wrongly by libfyaml), and Flagger's own CRD file, whose
 * multi-line quoted descriptions continue at the column of their key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/node.h"
#include "model/schema_check.h"
#include "util/fsutil.h"

static cd_stream *parse(const char *name, const char *text, size_t len, cd_diags *d)
{
    cd_diags_init(d);
    cd_stream *s = cd_stream_parse(name, text, len, false, d);
    assert_non_null(s);
    if (d->errors)
        cd_diags_print(d, stderr);
    return s;
}

/* the value of key "k" in a one-document stream */
static void expect_k(const char *yaml, const char *want)
{
    cd_diags d;
    cd_stream *s = parse("t.yaml", yaml, strlen(yaml), &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(s->ndocs, 1);
    const cd_node *k = cd_map_get(s->docs[0].root, "k");
    assert_non_null(k);
    assert_string_equal(cd_node_str(k), want);
    assert_int_equal(k->len, strlen(want));
    cd_stream_free(s);
    cd_diags_free(&d);
}

static char *read_corpus(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "fuzz/corpus/fuzz_decode/%s", name);
    char *text = cd_read_file(path, len);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

/* The fuzzer's finding: twelve single quotes are one scalar of five. */
static void test_twelve_single_quotes(void **state)
{
    (void)state;
    size_t len;
    char *text = read_corpus("issue24-twelve-single-quotes.yaml", &len);
    assert_int_equal(len, 12);
    for (int round = 0; round < 3; round++) {   /* a leak would grow per parse */
        cd_diags d;
        cd_stream *s = parse("q.yaml", text, len, &d);
        assert_int_equal(d.errors, 0);
        assert_int_equal(s->ndocs, 1);
        assert_string_equal(cd_node_str(s->docs[0].root), "'''''");
        assert_int_equal(s->docs[0].root->col, 1);   /* the opening quote */
        cd_stream_free(s);
        cd_diags_free(&d);
    }
    free(text);
}

/* Such scalars inside flow mappings (the 8 KiB-per-parse case); values as
 * PyYAML reads them. */
static void test_flow_single_quotes(void **state)
{
    (void)state;
    size_t len;
    char *text = read_corpus("issue24-flow-single-quotes.yaml", &len);
    cd_diags d;
    cd_stream *s = parse("f.yaml", text, len, &d);
    assert_int_equal(d.errors, 0);
    const cd_node *r = s->docs[0].root;
    assert_string_equal(cd_node_str(cd_map_get(r, "a")), "'''''");
    assert_string_equal(cd_node_str(cd_map_get(r, "b")), "x''y");
    const cd_node *c = cd_map_get(r, "c");
    assert_string_equal(cd_node_str(cd_map_get(c, "d")), "''''''''");
    const cd_node *e = cd_map_get(c, "e");
    assert_int_equal(e->nitems, 1);
    assert_string_equal(cd_node_str(e->items[0]), "''''''");
    cd_stream_free(s);
    cd_diags_free(&d);
    free(text);
}

/* YAML 1.2 §7.3.2 decoding, each expectation checked against PyYAML. */
static void test_single_quoted_decoding(void **state)
{
    (void)state;
    expect_k("k: 'x''''y'\n", "x''y");          /* libfyaml 0.7.12: "x'''" */
    expect_k("k: '''''x'\n", "''x");            /* libfyaml 0.7.12: "'''" */
    expect_k("k: 'it''s'\n", "it's");
    expect_k("k: ''\n", "");
    expect_k("k: ''''\n", "'");
    expect_k("k: ' a  b '\n", " a  b ");       /* inner and outer spaces kept */
    expect_k("k: 'one  \n   two'\n", "one two");   /* a break folds to a space */
    expect_k("k: 'one\n\n  two\n \t \n\n  three'\n", "one\ntwo\n\nthree");
    expect_k("k: 'one\r\n  two''s\r\n'\n", "one two's ");
    expect_k("k: 'é''ü\n  ''x'\n", "é'ü 'x");
}

/* YAML 1.2 §7.3.1 and §5.7, each expectation checked against PyYAML;
 * libfyaml 0.7.12 got 19 of 250 random such scalars wrong (escaped white
 * space before a break, escaped breaks: spaces lost, some gained a NUL
 * at the end). */
static void test_double_quoted_decoding(void **state)
{
    (void)state;
    expect_k("k: \"a\\ \n  b\"\n", "a  b");            /* escaped space stays */
    expect_k("k: \"one \\\\\n    two\"\n", "one \\ two");
    expect_k("k: \"one \\\n    two\"\n", "one two");    /* escaped break joins */
    expect_k("k: \"x\\\n\n  y\"\n", "x\ny");
    expect_k("k: \"tab\\t\n  end\\x41\\u00e9\\U0001F600\"\n",
             "tab\t endA\xc3\xa9\xf0\x9f\x98\x80");
    expect_k("k: \"trail\\t \n next  \"\n", "trail\t next  ");
    expect_k("k: \"\\ud83d\\ude00\"\n", "\xf0\x9f\x98\x80");   /* JSON's surrogate pair */
    const char *all = "k: \"\\N\\_\\L\\P\\e\\/\\\"\\0z\"\n";
    const char want[] = "\xc2\x85\xc2\xa0\xe2\x80\xa8\xe2\x80\xa9\x1b/\"\0z";
    cd_diags d;
    cd_stream *st = parse("t.yaml", all, strlen(all), &d);
    assert_int_equal(d.errors, 0);
    const cd_node *k = cd_map_get(st->docs[0].root, "k");
    assert_int_equal(k->len, sizeof want - 1);
    assert_memory_equal(k->str, want, sizeof want - 1);
    cd_stream_free(st);
    cd_diags_free(&d);
}

/* Kubernetes' CRDs continue a quoted description at its key's column;
 * kubectl and PyYAML read them, so canaryd does (FYPCF_SLOPPY_FLOW_INDENTATION). */
static void test_flagger_crd_parses(void **state)
{
    (void)state;
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/flagger/crd.yaml", shared ? shared : "../shared");
    size_t len;
    char *text = cd_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    cd_diags d;
    cd_stream *s = parse(path, text, len, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(s->ndocs, 3);
    /* spec.versions[0].schema.openAPIV3Schema.properties.apiVersion.description */
    const cd_node *v = cd_map_get(s->docs[0].root, "spec");
    v = cd_map_get(v, "versions");
    assert_non_null(v);
    assert_true(v->nitems >= 1);
    v = cd_map_get(cd_map_get(v->items[0], "schema"), "openAPIV3Schema");
    v = cd_map_get(cd_map_get(cd_map_get(v, "properties"), "apiVersion"), "description");
    const char *want = "APIVersion defines the versioned schema of this representation of an "
                       "object. Servers should convert recognized schemas to the latest internal "
                       "value, and may reject unrecognized values. More info: "
                       "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                       "api-conventions.md#resources";
    assert_string_equal(cd_node_str(v), want);
    assert_int_equal(v->line, 67);
    assert_int_equal(v->col, 28);
    /* and it is a CRD an API server would take */
    cd_schema_check_stream(s, &d);
    if (d.errors)
        cd_diags_print(&d, stderr);
    assert_int_equal(d.errors, 0);
    cd_stream_free(s);
    cd_diags_free(&d);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twelve_single_quotes),
        cmocka_unit_test(test_flow_single_quotes),
        cmocka_unit_test(test_single_quoted_decoding),
        cmocka_unit_test(test_double_quoted_decoding),
        cmocka_unit_test(test_flagger_crd_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
