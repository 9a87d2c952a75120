/* test_router_config.c - the router's JSON configuration: defaults,
 * normalization (decode(normalize(x)) == normalize(x)), every validation
 * error with its field path, generated cookie values kept across
 * changes, and Kubernetes-style pod names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "router/table/table.h"

static rt_snapshot *decode(const char *text, json_t **errors)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    assert_non_null(doc);
    rt_snapshot *s = rt_config_decode(doc, NULL, errors);
    json_decref(doc);
    return s;
}

static bool has_error(json_t *errors, const char *path, const char *needle)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (!strcmp(p, path) && strstr(m, needle))
            return true;
    }
    return false;
}

static void test_defaults(void **state)
{
    json_t *errors;
    rt_snapshot *s = decode("{\"routes\":[{\"name\":\"app\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}}]}",
                            &errors);
    assert_non_null(s);
    assert_null(errors);
    rt_route *r = &s->routes[0];
    assert_string_equal(r->path_prefix, "/");
    assert_string_equal(r->ns, "default");
    assert_string_equal(r->target, "app");
    assert_int_equal(r->weight, 0);
    assert_int_equal(r->mirror_weight, 100);
    assert_int_equal(r->retry_attempts, 1);
    assert_int_equal(r->retry_on, RT_RETRY_CONNECT);
    assert_int_equal(r->groups[RT_CANARY].nbackends, 0);
    assert_int_equal(r->groups[RT_PRIMARY].backends[0].state, RT_BE_UP);
    rt_snapshot_free_decoded(s);
}

static void test_roundtrip(void **state)
{
    const char *text =
        "{\"listeners\":[{\"name\":\"web\",\"address\":\"127.0.0.1:8080\"}],"
        "\"routes\":[{\"name\":\"app\",\"listeners\":[\"web\"],\"hosts\":[\"App.Example.com\",\"*.x.io\"],"
        "\"pathPrefix\":\"/api\",\"namespace\":\"test\",\"target\":\"podinfo\",\"weight\":10,"
        "\"mirror\":true,\"mirrorWeight\":50,"
        "\"match\":[{\"headers\":{\"X-Canary\":{\"exact\":\"insider\"}},\"cookies\":{\"t\":{\"regex\":\"^a.*\"}},"
        "\"queryParams\":{\"q\":{\"prefix\":\"x\"}},\"uri\":{\"suffix\":\".json\"},\"method\":\"GET\"}],"
        "\"sessionAffinity\":{\"cookieName\":\"c\",\"cookieValue\":\"abc\",\"maxAge\":60,\"sameSite\":\"Lax\","
        "\"primaryCookieName\":\"p\",\"previousCookies\":[\"c=old\"]},"
        "\"retries\":{\"attempts\":3,\"perTryTimeout\":\"2s\",\"retryOn\":\"reset,connect-failure\"},"
        "\"timeout\":\"15s\",\"connectTimeout\":\"500ms\","
        "\"primary\":{\"revision\":\"abc12\",\"backends\":[{\"address\":\"127.0.0.1:1\",\"labels\":{\"zone\":\"a\"}}],"
        "\"healthCheck\":{\"path\":\"/healthz\",\"interval\":\"1s\"}},"
        "\"canary\":{\"backends\":[\"unix:/run/c.sock\",{\"address\":\"[::1]:9\",\"state\":\"drain\"}]}}]}";
    json_t *errors;
    rt_snapshot *s = decode(text, &errors);
    if (!s) {
        char *e = json_dumps(errors, 0);
        fail_msg("%s", e);
    }
    rt_route *r = &s->routes[0];
    assert_string_equal(r->hosts[0], "app.example.com");
    assert_string_equal(r->matches[0].headers[0].name, "x-canary");
    assert_int_equal(r->retry_on, RT_RETRY_RESET | RT_RETRY_CONNECT);
    assert_int_equal(r->per_try_timeout_ms, 2000);
    assert_int_equal(r->timeout_ms, 15000);
    assert_string_equal(r->affinity.set_canary,
                        "Set-Cookie: c=abc; Max-Age=60; SameSite=Lax\r\n");
    assert_string_equal(r->affinity.set_expire[0], "Set-Cookie: c=old; Max-Age=-1; SameSite=Lax\r\n");
    assert_string_equal(r->groups[RT_PRIMARY].backends[0].pod_name, "podinfo-primary-abc12-0");
    /* the normalized document decodes to the same document */
    json_t *again_errors;
    rt_snapshot *s2 = rt_config_decode(s->doc, s, &again_errors);
    assert_non_null(s2);
    assert_true(json_equal(s->doc, s2->doc));
    rt_snapshot_free_decoded(s2);
    rt_snapshot_free_decoded(s);
}

static void test_errors_have_paths(void **state)
{
    json_t *errors;
    rt_snapshot *s = decode(
        "{\"routes\":[{\"name\":\"a\",\"weight\":\"10\",\"hosts\":[\"a:80\"],\"pathPrefix\":\"api\","
        "\"retries\":{\"attempts\":99,\"retryOn\":\"bogus\"},\"timeout\":\"5 sec\","
        "\"sessionAffinity\":{\"cookieName\":\"x\",\"primaryCookieName\":\"x\",\"sameSite\":\"lax\"},"
        "\"primary\":{\"revision\":\"a-b\",\"backends\":[\"127.0.0.1:1\",\"127.0.0.1:1\",\"h:99999\"],"
        "\"healthCheck\":{\"interval\":\"1ms\"}},"
        "\"canary\":{\"backends\":[{\"address\":\"127.0.0.1:2\",\"labels\":{\"le\":\"x\"}}]}},"
        "{\"name\":\"a\",\"primary\":{}}],\"listeners\":[{\"name\":\"l\"}],\"extra\":1}",
        &errors);
    assert_null(s);
    assert_true(has_error(errors, "routes[0].weight", "integer"));
    assert_true(has_error(errors, "routes[0].hosts[0]", "no port"));
    assert_true(has_error(errors, "routes[0].pathPrefix", "start with /"));
    assert_true(has_error(errors, "routes[0].retries.attempts", "between 0 and 10"));
    assert_true(has_error(errors, "routes[0].retries.retryOn", "bogus"));
    assert_true(has_error(errors, "routes[0].timeout", "invalid duration"));
    assert_true(has_error(errors, "routes[0].sessionAffinity.primaryCookieName", "differ"));
    assert_true(has_error(errors, "routes[0].sessionAffinity.sameSite", "Strict, Lax or None"));
    assert_true(has_error(errors, "routes[0].primary.revision", "letters or digits"));
    assert_true(has_error(errors, "routes[0].primary.backends[1]", "duplicate"));
    assert_true(has_error(errors, "routes[0].primary.backends[2]", "invalid port"));
    assert_true(has_error(errors, "routes[0].primary.healthCheck", "at least 100ms"));
    assert_true(has_error(errors, "routes[0].canary.backends[0].labels.le", "reserved"));
    assert_true(has_error(errors, "routes[1].name", "duplicate route name"));
    assert_true(has_error(errors, "listeners[0].address", "required"));
    assert_true(has_error(errors, "extra", "unknown field"));
    json_decref(errors);
}

static void test_top_level_shapes(void **state)
{
    json_t *errors;
    json_t *doc = json_string("x");
    assert_null(rt_config_decode(doc, NULL, &errors));
    assert_true(has_error(errors, "$", "JSON object"));
    json_decref(errors);
    json_decref(doc);
    assert_null(decode("{\"routes\":{}}", &errors));
    assert_true(has_error(errors, "routes", "array"));
    json_decref(errors);
    rt_snapshot *s = decode("{}", &errors);
    assert_non_null(s);
    assert_int_equal(s->nroutes, 0);
    rt_snapshot_free_decoded(s);
}

static void test_cookie_value_kept(void **state)
{
    json_t *errors;
    const char *t = "{\"routes\":[{\"name\":\"a\",\"weight\":5,\"sessionAffinity\":{\"cookieName\":\"ck\"},"
                    "\"primary\":{\"backends\":[\"127.0.0.1:1\"]}}]}";
    rt_snapshot *s1 = decode(t, &errors);
    assert_non_null(s1);
    const char *v1 = s1->routes[0].affinity.cookie_value;
    assert_int_equal(strlen(v1), 10);
    json_t *doc = json_loads(t, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(doc, "routes"), 0), "weight",
                        json_integer(50));
    rt_snapshot *s2 = rt_config_decode(doc, s1, &errors);
    assert_string_equal(s2->routes[0].affinity.cookie_value, v1);
    rt_snapshot *s3 = rt_config_decode(doc, NULL, &errors);
    assert_string_not_equal(s3->routes[0].affinity.cookie_value, v1);
    json_decref(doc);
    rt_snapshot_free_decoded(s1);
    rt_snapshot_free_decoded(s2);
    rt_snapshot_free_decoded(s3);
}

static void test_pod_names(void **state)
{
    json_t *errors;
    rt_snapshot *s = decode(
        "{\"routes\":[{\"name\":\"r\",\"target\":\"podinfo\",\"primary\":{\"backends\":[\"127.0.0.1:1\",\"127.0.0.1:2\"]},"
        "\"canary\":{\"backends\":[\"127.0.0.1:3\",{\"address\":\"127.0.0.1:4\",\"labels\":{\"kubernetes_pod_name\":\"mine\"}}]}}]}",
        &errors);
    assert_non_null(s);
    const rt_group *p = &s->routes[0].groups[RT_PRIMARY], *c = &s->routes[0].groups[RT_CANARY];
    char hash[64];
    /* primary: podinfo-primary-<hash>-<n>; canary: podinfo-<hash>-<n> */
    assert_int_equal(sscanf(p->backends[1].pod_name, "podinfo-primary-%63[^-]-1", hash), 1);
    assert_true(!strncmp(c->backends[0].pod_name, "podinfo-", 8));
    assert_int_equal(strlen(strrchr(c->backends[0].pod_name, '-')), 2);
    assert_string_equal(c->backends[1].pod_name, "mine");
    assert_string_not_equal(p->backends[0].pod_name, c->backends[0].pod_name);
    rt_snapshot_free_decoded(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_errors_have_paths),
        cmocka_unit_test(test_top_level_shapes),
        cmocka_unit_test(test_cookie_value_kept),
        cmocka_unit_test(test_pod_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
