/* fuzz_router_admin.c - libFuzzer target for the request bodies (and
 * query strings) of the router's admin API (src/router/control/api.c), in
 * process: the first byte picks an endpoint (PUT /config, PUT, DELETE
 * /routes/app, PUT/PATCH /routes/app/weight, PUT /routes/app/primary or
 * canary, GET /measurements or /samples with the input as query), the
 * rest is the body, and rt_api_handle answers it against a live table
 * whose one listener is a Unix socket in a temporary directory. The table
 * is reset to that configuration before every input. A /config body that
 * names other listeners is not applied: binding fuzz-chosen addresses is
 * not parsing, and could take a port another program picked. Never a
 * crash, a leak, or an answer without a status; an error answer is JSON. */
#include "router/control/admin.h"
#include "router/control/control.h"
#include "router/table/table.h"
#include "util/log.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_path[] = "/tmp/fuzz-router-admin-XXXXXX";
static char base_doc[1024];
static char sock_path[200];

static void cleanup(void)
{
    rt_table_shutdown();
    unlink(sock_path);
    rmdir(dir_path);
}

static void reset_table(void)
{
    json_t *doc = json_loads(base_doc, 0, NULL);
    rt_apply_result res;
    rt_control_apply(doc, 0, &res);
    json_decref(doc);
    json_decref(res.errors);
    if (res.rc != RT_APPLY_OK) {
        fprintf(stderr, "fuzz_router_admin: base configuration: %s\n", res.message);
        abort();
    }
}

/* true when doc's listeners are absent or exactly the base one */
static bool safe_listeners(const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    if (!doc)
        return true;   /* refused before anything binds */
    json_t *base = json_loads(base_doc, 0, NULL);
    json_t *l = json_object_get(doc, "listeners");
    bool ok = !l || json_equal(l, json_object_get(base, "listeners"));
    json_decref(base);
    json_decref(doc);
    return ok;
}

typedef struct endpoint {
    const char *method, *path;
    bool query;    /* the input is the query string, not the body */
} endpoint;

static const endpoint endpoints[] = {
    {"PUT", "/config", false},          {"POST", "/config", false},
    {"PUT", "/routes/app", false},      {"PUT", "/routes/other", false},
    {"DELETE", "/routes/app", false},   {"PUT", "/routes/app/weight", false},
    {"PATCH", "/routes/app/weights", false}, {"POST", "/routes/app/weight", false},
    {"PUT", "/routes/app/primary", false},   {"PUT", "/routes/app/canary", false},
    {"GET", "/measurements", true},     {"GET", "/samples", true},
    {"GET", "/routes/app", false},      {"GET", "/config", false},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sock_path[0]) {
        if (!mkdtemp(dir_path))
            abort();
        snprintf(sock_path, sizeof sock_path, "%s/web.sock", dir_path);
        snprintf(base_doc, sizeof base_doc,
                 "{\"listeners\": [{\"name\": \"web\", \"address\": \"unix:%s\"}],"
                 " \"routes\": [{\"name\": \"app\", \"listeners\": [\"web\"], \"weight\": 10,"
                 " \"primary\": {\"backends\": [\"127.0.0.1:1\"]},"
                 " \"canary\": {\"backends\": [\"127.0.0.1:2\"]}}]}",
                 sock_path);
        atexit(cleanup);
        cd_log_set_level(CD_LOG_ERROR);   /* one "applied" line per input otherwise */
    }
    if (size < 1 || size > 1 << 16)
        return 0;
    const endpoint *ep = &endpoints[data[0] % (sizeof endpoints / sizeof endpoints[0])];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (!strcmp(ep->path, "/config") && !safe_listeners(body, len))
        return 0;
    char *query = NULL;
    if (ep->query) {
        query = strndup(body, len);
        if (!query || strlen(query) != len) {
            free(query);
            return 0;
        }
    }
    reset_table();
    rt_admin_req req = {ep->method, ep->path, query ? query : "", query ? "" : body,
                        query ? 0 : len, NULL};
    rt_admin_resp resp = {0, NULL, CD_BUF_INIT, ""};
    rt_api_handle(&req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    if (resp.status >= 400) {
        json_t *j = json_loadb(resp.body.data, resp.body.len, 0, NULL);
        if (!json_is_object(j))
            abort();
        json_decref(j);
    }
    cd_buf_free(&resp.body);
    free(query);
    return 0;
}
