/* rt_clientcheck.c - exercises the router admin client (src/local/router_client.h)
 * against a running router and prints one "key=value" line per result,
 * for tests/integration/test_router_client.py. Usage:
 *   rt_clientcheck ADMIN ROUTE BACKEND */
#include "local/router_client.h"
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: rt_clientcheck ADMIN ROUTE BACKEND\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cd_err err = {{0}};
    cd_router_client *c = cd_router_client_new(argv[1], 3000, &err);
    if (!c) {
        printf("new=error %s\n", err.msg);
        return 1;
    }
    json_t *cfg = NULL;
    uint64_t v = 0;
    if (cd_router_get_config(c, &cfg, &v, &err))
        printf("get_config=ok version=%llu routes=%zu\n", (unsigned long long)v,
               json_array_size(json_object_get(cfg, "routes")));
    else
        printf("get_config=error %s\n", err.msg);
    printf("set_weight=%s\n", cd_router_set_weight(c, argv[2], 30, 1, &err) ? "ok" : err.msg);
    int w = -1;
    bool m = false;
    if (cd_router_get_weight(c, argv[2], &w, &m, &err))
        printf("get_weight=ok canary=%d mirror=%d\n", w, m);
    else
        printf("get_weight=error %s\n", err.msg);
    printf("set_weight_bad=%s\n", cd_router_set_weight(c, argv[2], 101, -1, &err) ? "ok" : "error");
    json_t *route = json_pack("{s:s,s:[s],s:{s:[s]}}", "name", "added", "hosts", "added.test",
                              "primary", "backends", argv[3]);
    printf("put_route=%s\n", cd_router_put_route(c, route, &err) ? "ok" : err.msg);
    printf("delete_route=%s\n", cd_router_delete_route(c, "added", &err) ? "ok" : err.msg);
    printf("delete_missing=%s\n", cd_router_delete_route(c, "added", &err) ? "ok" : err.msg);
    json_decref(route);
    json_t *bad = json_pack("{s:[{s:s,s:i}]}", "routes", "name", "r", "weight", 500);
    printf("put_bad=%s\n", cd_router_put_config(c, bad, 0, NULL, &err) ? "ok" : err.msg);
    json_decref(bad);
    uint64_t nv = 0;
    printf("put_stale=%s\n", cd_router_put_config(c, cfg, 1, &nv, &err) ? "ok" : err.msg);
    json_t *cur = NULL;
    uint64_t cv = 0;
    cd_router_get_config(c, &cur, &cv, &err);
    printf("put_current=%s", cd_router_put_config(c, cur, cv, &nv, &err) ? "ok" : err.msg);
    printf(" version=%llu was=%llu\n", (unsigned long long)nv, (unsigned long long)cv);
    json_decref(cur);
    json_decref(cfg);
    cd_router_measurement me;
    if (cd_router_measure(c, argv[2], "primary", 60, &me, &err))
        printf("measure=ok requests=%llu errors=%llu success=%.3f p99=%s\n",
               (unsigned long long)me.requests, (unsigned long long)me.errors, me.success_rate,
               isnan(me.p99_ms) ? "nan" : "number");
    else
        printf("measure=error %s\n", err.msg);
    double *lat = NULL;
    size_t n = 0;
    if (cd_router_samples(c, argv[2], "primary", 60, 7, &lat, &n, &err))
        printf("samples=ok n=%zu\n", n);
    else
        printf("samples=error %s\n", err.msg);
    free(lat);
    json_t *st = NULL;
    if (cd_router_stats(c, &st, &err))
        printf("stats=ok routes=%zu\n", json_array_size(json_object_get(st, "routes")));
    json_decref(st);
    cd_router_client_free(c);
    cd_router_client *dead = cd_router_client_new("unix:/nonexistent/admin.sock", 500, &err);
    printf("unreachable=%s\n", cd_router_set_weight(dead, "x", 1, -1, &err) ? "ok" : "error");
    cd_router_client_free(dead);
    curl_global_cleanup();
    return 0;
}
