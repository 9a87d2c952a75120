/* test_kube_objects.c - the pure parts of the Kubernetes client: object
 * helpers (labels, annotations, finalizers, ownerReferences, conditions),
 * REST paths, names, the token bucket, the lease decision and
 * ExecCredential parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "kube/exec.h"
#include "kube/kobj.h"
#include "kube/leader.h"
#include "kube/ratelimit.h"
#include "kube/resource.h"

static json_t *obj(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_meta(void **state)
{
    json_t *o = obj("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
                    "\"namespace\":\"test\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"generation\":3},"
                    "\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"},"
                    "{\"type\":\"Progressing\",\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\"}]}}");
    assert_string_equal(cd_kobj_name(o), "web");
    assert_string_equal(cd_kobj_namespace(o), "test");
    assert_string_equal(cd_kobj_uid(o), "u1");
    assert_string_equal(cd_kobj_resource_version(o), "7");
    assert_int_equal(cd_kobj_generation(o), 3);
    assert_false(cd_kobj_is_deleting(o));
    char key[512];
    assert_string_equal(cd_kobj_key(o, key, sizeof key), "test/web");
    assert_string_equal(cd_kobj_condition_status(o, "Progressing"), "False");
    assert_string_equal(json_string_value(json_object_get(cd_kobj_condition(o, "Progressing"), "reason")),
                        "ProgressDeadlineExceeded");
    assert_null(cd_kobj_condition(o, "Nope"));
    assert_string_equal(json_string_value(cd_kobj_path(o, "status.conditions") ? json_object_get(
                            json_array_get(cd_kobj_path(o, "status.conditions"), 0), "type") : NULL),
                        "Available");
    assert_null(cd_kobj_path(o, "spec.nothing"));
    /* labels and annotations */
    assert_true(cd_kobj_set_label(o, "app", "web"));
    assert_false(cd_kobj_set_label(o, "app", "web"));
    assert_string_equal(cd_kobj_label(o, "app"), "web");
    assert_true(cd_kobj_set_annotation(o, "a/b", "c"));
    assert_true(cd_kobj_set_annotation(o, "a/b", NULL));
    assert_false(cd_kobj_set_annotation(o, "a/b", NULL));
    assert_null(cd_kobj_annotation(o, "a/b"));
    json_decref(o);
    json_t *empty = json_object();
    assert_null(cd_kobj_name(empty));
    assert_true(cd_kobj_set_label(empty, "x", "y"));      /* metadata created */
    assert_string_equal(cd_kobj_label(empty, "x"), "y");
    json_decref(empty);
}

static void test_finalizers(void **state)
{
    json_t *o = obj("{\"metadata\":{\"name\":\"c\"}}");
    assert_false(cd_kobj_has_finalizer(o, "finalizer.flagger.app"));
    assert_true(cd_kobj_add_finalizer(o, "finalizer.flagger.app"));
    assert_false(cd_kobj_add_finalizer(o, "finalizer.flagger.app"));
    assert_true(cd_kobj_add_finalizer(o, "other"));
    assert_true(cd_kobj_has_finalizer(o, "other"));
    assert_true(cd_kobj_remove_finalizer(o, "finalizer.flagger.app"));
    assert_false(cd_kobj_remove_finalizer(o, "finalizer.flagger.app"));
    assert_true(cd_kobj_remove_finalizer(o, "other"));
    assert_null(json_object_get(json_object_get(o, "metadata"), "finalizers"));   /* dropped when empty */
    json_decref(o);
}

static void test_owner_refs(void **state)
{
    json_t *canary = obj("{\"apiVersion\":\"flagger.app/v1beta1\",\"kind\":\"Canary\",\"metadata\":{\"name\":\"web\","
                         "\"namespace\":\"test\",\"uid\":\"c-uid\"}}");
    json_t *other = obj("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"o\",\"uid\":\"o-uid\"}}");
    json_t *ref = cd_kobj_owner_ref(canary, true, true);
    assert_non_null(ref);
    assert_string_equal(json_string_value(json_object_get(ref, "kind")), "Canary");
    assert_true(json_is_true(json_object_get(ref, "controller")));
    json_t *dep = obj("{\"metadata\":{\"name\":\"web-primary\"}}");
    bool changed;
    assert_true(cd_kobj_set_owner_ref(dep, ref, &changed));
    assert_true(changed);
    assert_true(cd_kobj_set_owner_ref(dep, ref, &changed));
    assert_false(changed);
    assert_true(cd_kobj_is_controlled_by(dep, canary));
    assert_false(cd_kobj_is_controlled_by(dep, other));
    json_t *ref2 = cd_kobj_owner_ref(other, true, false);
    assert_false(cd_kobj_set_owner_ref(dep, ref2, &changed));       /* a second controller */
    json_decref(ref2);
    ref2 = cd_kobj_owner_ref(other, false, false);
    assert_true(cd_kobj_set_owner_ref(dep, ref2, &changed));
    assert_int_equal(json_array_size(cd_kobj_path(dep, "metadata.ownerReferences")), 2);
    assert_true(cd_kobj_remove_owner_ref(dep, "o-uid"));
    assert_true(cd_kobj_remove_owner_ref(dep, "c-uid"));
    assert_null(cd_kobj_controller_ref(dep));
    json_t *noid = obj("{\"kind\":\"X\",\"metadata\":{\"name\":\"n\"}}");
    assert_null(cd_kobj_owner_ref(noid, true, true));
    json_decref(noid);
    json_decref(ref);
    json_decref(ref2);
    json_decref(dep);
    json_decref(canary);
    json_decref(other);
}

static void test_paths(void **state)
{
    char *p = cd_kube_path(&CD_KUBE_DEPLOYMENTS, "test", "web", "scale", NULL, 0);
    assert_string_equal(p, "/apis/apps/v1/namespaces/test/deployments/web/scale");
    free(p);
    cd_kube_param q[] = {{"labelSelector", "app in (a,b),tier!=x"}, {"limit", NULL}, {"watch", "1"}};
    p = cd_kube_path(&CD_KUBE_CONFIGMAPS, NULL, NULL, NULL, q, 3);
    assert_string_equal(p, "/api/v1/configmaps?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dx&watch=1");
    free(p);
    p = cd_kube_path(&CD_KUBE_NAMESPACES, "ignored", "default", NULL, NULL, 0);
    assert_string_equal(p, "/api/v1/namespaces/default");
    free(p);
    p = cd_kube_path(&CD_KUBE_CANARIES, "test", NULL, NULL, NULL, 0);
    assert_string_equal(p, "/apis/flagger.app/v1beta1/namespaces/test/canaries");
    free(p);
    assert_null(cd_kube_path(&CD_KUBE_CONFIGMAPS, "test", "a/b", NULL, NULL, 0));
    assert_null(cd_kube_path(&CD_KUBE_CONFIGMAPS, "test", "..", NULL, NULL, 0));
    assert_null(cd_kube_path(&CD_KUBE_CONFIGMAPS, NULL, "a", NULL, NULL, 0));   /* namespaced name, no ns */
    assert_null(cd_kube_path(&CD_KUBE_CONFIGMAPS, "test", NULL, "status", NULL, 0));
    char av[128];
    assert_string_equal(cd_kube_api_version(&CD_KUBE_SERVICES, av), "v1");
    assert_string_equal(cd_kube_api_version(&CD_KUBE_APPMESH_VIRTUAL_NODES, av), "appmesh.k8s.aws/v1beta2");
    assert_true(cd_kube_valid_name("webapp-primary"));
    assert_true(cd_kube_valid_name("a.b-c.d"));
    assert_false(cd_kube_valid_name("Web"));
    assert_false(cd_kube_valid_name("-web"));
    assert_false(cd_kube_valid_name("web-"));
    assert_false(cd_kube_valid_name("a..b"));
    assert_false(cd_kube_valid_name(""));
}

static void test_ratelimit(void **state)
{
    cd_ratelimit r;
    cd_ratelimit_init(&r, 10, 3);
    int64_t t = r.last_ns;
    assert_int_equal(cd_ratelimit_reserve(&r, t), 0);
    assert_int_equal(cd_ratelimit_reserve(&r, t), 0);
    assert_int_equal(cd_ratelimit_reserve(&r, t), 0);
    assert_int_equal(cd_ratelimit_reserve(&r, t), 100000000);      /* 1 token behind at 10/s: 100 ms */
    assert_int_equal(cd_ratelimit_reserve(&r, t), 200000000);
    assert_int_equal(cd_ratelimit_reserve(&r, t + 1000000000), 0);  /* 1 s later the debt (-2) refilled to 8..3 */
    assert_int_equal(cd_ratelimit_reserve(&r, t + 10000000000), 0); /* never more than burst saved */
    cd_ratelimit_reserve(&r, t + 10000000000);
    cd_ratelimit_reserve(&r, t + 10000000000);
    assert_true(cd_ratelimit_reserve(&r, t + 10000000000) > 0);
    cd_ratelimit_destroy(&r);
    cd_ratelimit_init(&r, -1, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cd_ratelimit_reserve(&r, 0), 0);
    cd_ratelimit_destroy(&r);
}

static void test_lease_decision(void **state)
{
    assert_true(cd_lease_may_write(NULL, 60, "me", 0, 0));         /* no holder */
    assert_true(cd_lease_may_write("", 60, "me", 1000, 1000));      /* released */
    assert_true(cd_lease_may_write("me", 60, "me", 1000, 1001));    /* ours: renew */
    assert_false(cd_lease_may_write("them", 60, "me", 1000, 60999)); /* held, not expired */
    assert_true(cd_lease_may_write("them", 60, "me", 1000, 61000)); /* expired on our clock */
    assert_false(cd_lease_may_write("them", 15, "me", 50000, 64999));
}

static void test_exec_parse(void **state)
{
    cd_kube_exec_cred c;
    cd_kube_err err = {0};
    const char *tok = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                      "\"status\":{\"token\":\"abc\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}";
    assert_true(cd_kube_exec_parse(tok, strlen(tok), "client.authentication.k8s.io/v1", &c, &err));
    assert_string_equal(c.token, "abc");
    assert_int_equal(c.expires_ms, 1893456000000LL);
    cd_kube_exec_cred_free(&c);
    const char *cert = "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                       "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}";
    assert_true(cd_kube_exec_parse(cert, strlen(cert), "client.authentication.k8s.io/v1beta1", &c, &err));
    assert_null(c.token);
    assert_string_equal((char *)c.cert.data, "CERT");
    assert_int_equal(c.expires_ms, 0);
    cd_kube_exec_cred_free(&c);
    const struct { const char *json, *needle; } bad[] = {
        {"nope", "not an ExecCredential"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"Other\",\"status\":{}}", "not ExecCredential"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}",
         "does not match"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}", "no status"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}",
         "neither a token"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":"
         "{\"clientCertificateData\":\"C\"}}", "must come together"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":"
         "{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}", "not RFC 3339"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(cd_kube_exec_parse(bad[i].json, strlen(bad[i].json), "client.authentication.k8s.io/v1", &c, &err));
        if (!strstr(err.msg, bad[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].needle);
        assert_null(c.token);
        assert_null(c.cert.data);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_finalizers),
        cmocka_unit_test(test_owner_refs),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_lease_decision),
        cmocka_unit_test(test_exec_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
