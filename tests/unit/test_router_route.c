/* test_router_route.c - routing decisions, pure: host patterns, longest
 * path prefix and listeners; header/cookie/query/uri/method matches;
 * cookie parsing; the weight split with and without match rules; sticky
 * and primary cookies and their expiry; backend picking (round robin,
 * skipping down, draining, ejected and failed-health backends). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "router/table/table.h"

static rt_snapshot *decode(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL), *errors = NULL;
    assert_non_null(doc);
    rt_snapshot *s = rt_config_decode(doc, NULL, &errors);
    if (!s)
        fail_msg("%s", json_dumps(errors, 0));
    json_decref(doc);
    return s;
}

static rt_reqview req(const char *host, const char *path, const rt_header *hs, size_t n)
{
    rt_reqview q = {.method = "GET", .method_len = 3, .host = host, .host_len = strlen(host),
                    .headers = hs, .nheaders = n};
    const char *qm = strchr(path, '?');
    q.path = path;
    q.path_len = qm ? (size_t)(qm - path) : strlen(path);
    q.query = qm ? qm + 1 : "";
    q.query_len = qm ? strlen(qm + 1) : 0;
    return q;
}

#define H(n, v) {n, v, sizeof n - 1, sizeof v - 1}

static void test_hosts(void **state)
{
    assert_true(rt_host_match("*", "anything", 8));
    assert_true(rt_host_match("*.example.com", "a.b.example.com", 15));
    assert_false(rt_host_match("*.example.com", "example.com", 11));
    assert_true(rt_host_match("app.test", "APP.Test", 8));
    assert_false(rt_host_match("app.test", "app.test2", 9));
}

static void test_find(void **state)
{
    rt_snapshot *s = decode(
        "{\"routes\":["
        "{\"name\":\"all\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}},"
        "{\"name\":\"api\",\"pathPrefix\":\"/api\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}},"
        "{\"name\":\"wild\",\"hosts\":[\"*.x.io\"],\"pathPrefix\":\"/api\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}},"
        "{\"name\":\"exact\",\"hosts\":[\"a.x.io\"],\"pathPrefix\":\"/api\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}},"
        "{\"name\":\"l2\",\"listeners\":[\"two\"],\"pathPrefix\":\"/only\",\"primary\":{\"backends\":[\"127.0.0.1:1\"]}}"
        "]}");
    uint64_t ids[] = {7};
    s->routes[4].listener_ids = ids;
    rt_reqview q = req("h", "/", NULL, 0);
    assert_string_equal(rt_route_find(s, &q)->name, "all");
    q = req("h", "/api/v1?x=1", NULL, 0);
    assert_string_equal(rt_route_find(s, &q)->name, "api");
    q = req("b.x.io", "/api", NULL, 0);
    assert_string_equal(rt_route_find(s, &q)->name, "wild");
    q = req("a.x.io", "/api", NULL, 0);
    assert_string_equal(rt_route_find(s, &q)->name, "exact");
    q = req("a.x.io", "/only", NULL, 0);
    assert_string_equal(rt_route_find(s, &q)->name, "all");     /* wrong listener */
    q.listener_id = 7;
    assert_string_equal(rt_route_find(s, &q)->name, "l2");
    s->routes[4].listener_ids = NULL;
    rt_snapshot_free_decoded(s);
}

static void test_matches(void **state)
{
    rt_snapshot *s = decode(
        "{\"routes\":[{\"name\":\"a\",\"weight\":100,\"match\":["
        "{\"headers\":{\"x-a\":{\"exact\":\"1\"},\"x-b\":{\"present\":true}}},"
        "{\"cookies\":{\"type\":{\"regex\":\"ins.*r\"}}},"
        "{\"queryParams\":{\"beta\":{\"exact\":\"on\"}}},"
        "{\"uri\":{\"prefix\":\"/v2\"},\"method\":\"POST\"}],"
        "\"primary\":{\"backends\":[\"127.0.0.1:1\"]},\"canary\":{\"backends\":[\"127.0.0.1:2\"]}}]}");
    const rt_route *r = &s->routes[0];
    rt_decision d;
    rt_header h1[] = {H("X-A", "1"), H("X-B", "")};
    rt_reqview q = req("h", "/", h1, 2);
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_CANARY);
    q = req("h", "/", h1, 1);               /* x-b missing */
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);
    rt_header h2[] = {H("Cookie", "a=b"), H("cookie", " c=d ; type=\"insider\"")};
    q = req("h", "/", h2, 2);
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_CANARY);
    q = req("h", "/x?alpha=1&beta=on", NULL, 0);
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_CANARY);
    q = req("h", "/x?beta=onn", NULL, 0);
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);
    q = req("h", "/v2/items", NULL, 0);
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);   /* GET, not POST */
    q.method = "POST";
    q.method_len = 4;
    rt_route_decide(r, &q, 0, 0, &d);
    assert_int_equal(d.role, RT_CANARY);
    rt_snapshot_free_decoded(s);
}

static void test_cookie_parsing(void **state)
{
    rt_header h[] = {H("Cookie", "a=1;b = 2 ;  c=\"3\"; flag; d="), H("COOKIE", "e=5")};
    rt_reqview q = req("h", "/", h, 2);
    const char *v;
    size_t n;
    assert_true(rt_cookie_find(&q, "b", &v, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(v, "2", 1);
    assert_true(rt_cookie_find(&q, "c", &v, &n));
    assert_memory_equal(v, "3", 1);
    assert_true(rt_cookie_find(&q, "flag", &v, &n));
    assert_int_equal(n, 0);
    assert_true(rt_cookie_find(&q, "d", &v, &n));
    assert_int_equal(n, 0);
    assert_true(rt_cookie_find(&q, "e", &v, &n));
    assert_false(rt_cookie_find(&q, "A", &v, &n));
}

static void test_weights(void **state)
{
    rt_snapshot *s = decode("{\"routes\":[{\"name\":\"a\",\"weight\":30,\"mirror\":true,\"mirrorWeight\":40,"
                            "\"primary\":{\"backends\":[\"127.0.0.1:1\"]},\"canary\":{\"backends\":[\"127.0.0.1:2\"]}}]}");
    rt_reqview q = req("h", "/", NULL, 0);
    int canary = 0, mirrored = 0;
    for (uint32_t i = 0; i < 100; i++) {
        rt_decision d;
        rt_route_decide(&s->routes[0], &q, i, i, &d);
        canary += d.role == RT_CANARY;
        mirrored += d.mirror;
        assert_false(d.mirror && d.role == RT_CANARY);
    }
    assert_int_equal(canary, 30);
    /* only primary requests are copied: 30 <= i < 40 */
    assert_int_equal(mirrored, 10);
    rt_snapshot_free_decoded(s);
}

static void test_affinity(void **state)
{
    rt_snapshot *s = decode(
        "{\"routes\":[{\"name\":\"a\",\"weight\":50,\"sessionAffinity\":{\"cookieName\":\"ck\",\"cookieValue\":\"v1\","
        "\"primaryCookieName\":\"pk\",\"primaryCookieValue\":\"p1\",\"previousCookies\":[\"ck=v0\"]},"
        "\"primary\":{\"backends\":[\"127.0.0.1:1\"]},\"canary\":{\"backends\":[\"127.0.0.1:2\"]}}]}");
    rt_route *r = &s->routes[0];
    rt_decision d;
    rt_reqview q = req("h", "/", NULL, 0);
    rt_route_decide(r, &q, 10, 0, &d);              /* 10 % 100 < 50: canary */
    assert_int_equal(d.role, RT_CANARY);
    assert_int_equal(d.cookie, RT_COOKIE_CANARY);
    rt_route_decide(r, &q, 90, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);
    assert_int_equal(d.cookie, RT_COOKIE_PRIMARY);
    rt_header hc[] = {H("Cookie", "ck=v1")};
    q = req("h", "/", hc, 1);
    rt_route_decide(r, &q, 90, 0, &d);
    assert_int_equal(d.role, RT_CANARY);
    assert_int_equal(d.why, RT_WHY_COOKIE);
    assert_int_equal(d.cookie, RT_COOKIE_NONE);
    rt_header hp[] = {H("Cookie", "pk=p1")};
    q = req("h", "/", hp, 1);
    rt_route_decide(r, &q, 10, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);
    rt_header ho[] = {H("Cookie", "ck=v0")};
    q = req("h", "/", ho, 1);
    rt_route_decide(r, &q, 90, 0, &d);
    assert_int_equal(d.cookie, RT_COOKIE_EXPIRE);
    assert_string_equal(d.expire_line, "Set-Cookie: ck=v0; Max-Age=-1\r\n");
    r->weight = 0;
    q = req("h", "/", hc, 1);
    rt_route_decide(r, &q, 10, 0, &d);
    assert_int_equal(d.role, RT_PRIMARY);
    assert_int_equal(d.cookie, RT_COOKIE_EXPIRE);
    assert_string_equal(d.expire_line, "Set-Cookie: ck=v1; Max-Age=-1\r\n");
    rt_snapshot_free_decoded(s);
}

static void test_pick(void **state)
{
    rt_stats_setup(2, 60, 0);
    rt_snapshot *s = decode("{\"routes\":[{\"name\":\"a\",\"primary\":{\"backends\":["
                            "\"127.0.0.1:1\",\"127.0.0.1:2\",{\"address\":\"127.0.0.1:3\",\"state\":\"drain\"}]}}]}");
    rt_group *g = &s->routes[0].groups[RT_PRIMARY];
    rt_addr a;
    char err[64];
    for (size_t i = 0; i < g->nbackends; i++) {
        assert_true(rt_addr_parse(g->backends[i].address, &a, err, sizeof err));
        g->backends[i].ep = rt_endpoint_get(g->backends[i].address, &a);
    }
    int seen[3] = {0};
    for (int i = 0; i < 10; i++)
        seen[rt_group_pick(g, 0, 1000, NULL) - g->backends]++;
    assert_int_equal(seen[0], 5);
    assert_int_equal(seen[1], 5);
    assert_int_equal(seen[2], 0);
    assert_ptr_equal(rt_group_pick(g, 1, 1000, &g->backends[0]), &g->backends[1]);
    rt_endpoint_failure(g->backends[1].ep, 1000, 2, 5000);
    rt_endpoint_failure(g->backends[1].ep, 1000, 2, 5000);      /* ejected until 6000 */
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(rt_group_pick(g, 0, 2000, NULL), &g->backends[0]);
    /* the only candidate is returned even when it is the one to avoid */
    assert_ptr_equal(rt_group_pick(g, 0, 2000, &g->backends[0]), &g->backends[0]);
    atomic_store(&g->backends[0].ep->check_ok, 0);
    assert_null(rt_group_pick(g, 0, 2000, NULL));
    assert_non_null(rt_group_pick(g, 0, 7000, NULL));        /* ejection over */
    for (size_t i = 0; i < g->nbackends; i++) {
        rt_endpoint_release(g->backends[i].ep);
        g->backends[i].ep = NULL;
    }
    rt_snapshot_free_decoded(s);
    rt_registry_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),    cmocka_unit_test(test_find),
        cmocka_unit_test(test_matches),  cmocka_unit_test(test_cookie_parsing),
        cmocka_unit_test(test_weights),  cmocka_unit_test(test_affinity),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
