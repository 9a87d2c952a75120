/* api.c - the admin API's endpoints (JSON over HTTP; see docs/router.md):
 * read and replace the configuration, one route, its weights or one of
 * its backend groups; stats, measurements, samples, Prometheus metrics,
 * status and health. Every change goes through rt_control_apply, so it is
 * validated as a whole and applied atomically, or not at all. Control
 * thread only. */
#include "router/control/admin.h"
#include "router/control/control.h"
#include "router/io/loop.h"
#include "router/control/report.h"
#include "router/table/table.h"
#include "util/duration.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_json(rt_admin_resp *r, int status, json_t *body)
{
    r->status = status;
    r->content_type = "application/json";
    char *t = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(body);
    cd_buf_puts(&r->body, t ? t : "null");
    cd_buf_putc(&r->body, '\n');
    free(t);
}

/* msg as a JSON string; a message that quotes the request (a route name
 * in a query string) may hold bytes that are not UTF-8: they become '?'
 * (jansson refuses such a string, and the answer was "null") */
static json_t *message_json(const char *msg)
{
    json_t *j = json_string(msg);
    if (j)
        return j;
    char *copy = strdup(msg);
    if (!copy)
        abort();
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static void reply_error(rt_admin_resp *r, int status, const char *msg, json_t *details)
{
    json_t *o = json_pack("{s:o}", "error", message_json(msg));
    if (details)
        json_object_set_new(o, "details", details);
    reply_json(r, status, o);
}

static void set_etag(rt_admin_resp *r, uint64_t v)
{
    snprintf(r->etag, sizeof r->etag, "%llu", (unsigned long long)v);
}

/* ---- query strings ---- */

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

static bool query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        const char *end = amp ? amp : q + strlen(q);
        if ((size_t)(end - q) > nl && !strncmp(q, name, nl) && q[nl] == '=') {
            const char *v = q + nl + 1;
            size_t n = 0;
            while (v < end && n + 1 < cap) {
                if (*v == '%' && v + 2 < end && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    out[n++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    v += 3;
                } else {
                    out[n++] = *v == '+' ? ' ' : *v;
                    v++;
                }
            }
            out[n] = 0;
            return true;
        }
        q = amp ? amp + 1 : NULL;
    }
    return false;
}

static bool parse_window(const char *q, uint32_t *out, char *err, size_t errlen)
{
    char v[64];
    *out = 60;
    if (!query_param(q, "window", v, sizeof v))
        return true;
    char *end;
    long n = strtol(v, &end, 10);
    int64_t ms;
    if (*v && !*end && n > 0)
        *out = (uint32_t)n;
    else if (cd_duration_parse_ms(v, &ms) && ms >= 1000)
        *out = (uint32_t)(ms / 1000);
    else {
        snprintf(err, errlen, "window: expected seconds or a duration such as 60s or 5m");
        return false;
    }
    if (*out > 86400)
        *out = 86400;
    return true;
}

/* offset: the window ends this many seconds ago (seconds or a duration);
 * at most a day. */
static bool parse_offset(const char *q, uint32_t *out, char *err, size_t errlen)
{
    char v[64];
    *out = 0;
    if (!query_param(q, "offset", v, sizeof v))
        return true;
    char *end;
    long n = strtol(v, &end, 10);
    int64_t ms;
    if (*v && !*end && n >= 0 && n <= 86400)
        *out = (uint32_t)n;
    else if (cd_duration_parse_ms(v, &ms) && ms >= 0 && ms <= 86400000LL)
        *out = (uint32_t)(ms / 1000);
    else {
        snprintf(err, errlen, "offset: expected seconds or a duration such as 60s or 5m (at most "
                              "a day)");
        return false;
    }
    return true;
}

static size_t parse_quantiles(const char *q, double *out, size_t max, bool *ok)
{
    char v[256];
    *ok = true;
    if (!query_param(q, "quantiles", v, sizeof v)) {
        out[0] = 0.5;
        out[1] = 0.9;
        out[2] = 0.99;
        return 3;
    }
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        char *end;
        double d = strtod(t, &end);
        if (*end || d < 0 || d > 1) {
            *ok = false;
            return 0;
        }
        out[n++] = d;
    }
    *ok = n > 0;
    return n;
}

/* ---- configuration edits ---- */

static json_t *parse_body(const rt_admin_req *req, rt_admin_resp *r)
{
    json_error_t je;
    json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        reply_error(r, 400, msg, NULL);
    }
    return doc;
}

static uint64_t if_match_version(const char *h)
{
    if (!h)
        return 0;
    while (*h == ' ' || *h == '"' || *h == 'W' || *h == '/')
        h++;
    return strtoull(h, NULL, 10);
}

/* Applies doc (consumed) and answers. */
static void apply_and_reply(json_t *doc, uint64_t if_version, rt_admin_resp *r,
                            json_t *(*result)(void *ctx, uint64_t version), void *ctx)
{
    rt_apply_result res;
    rt_control_apply(doc, if_version, &res);
    json_decref(doc);
    switch (res.rc) {
    case RT_APPLY_OK:
        set_etag(r, res.version);
        reply_json(r, 200, result ? result(ctx, res.version)
                                  : json_pack("{s:I}", "version", (json_int_t)res.version));
        return;
    case RT_APPLY_INVALID:
        reply_error(r, 400, res.message, res.errors);
        return;
    case RT_APPLY_CONFLICT:
        reply_error(r, 412, res.message, NULL);
        return;
    default:   /* a listener that cannot be bound: details name it and its errno */
        reply_error(r, 409, res.message, res.errors);
    }
}

static json_t *current_doc_copy(uint64_t *version)
{
    rt_snapshot *s = rt_table_acquire();
    json_t *d = s ? json_deep_copy(s->doc) : json_pack("{s:[],s:[]}", "listeners", "routes");
    *version = s ? s->version : 0;
    rt_snapshot_release(s);
    return d;
}

static json_t *find_route(json_t *doc, const char *name, size_t *index)
{
    json_t *routes = json_object_get(doc, "routes");
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r) {
        const char *n = json_string_value(json_object_get(r, "name"));
        if (n && !strcmp(n, name)) {
            if (index)
                *index = i;
            return r;
        }
    }
    return NULL;
}

static bool valid_route_name(const char *s)
{
    if (!*s || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

typedef struct route_ctx { char name[64]; } route_ctx;

static json_t *route_result(void *ctx, uint64_t version)
{
    route_ctx *rc = ctx;
    rt_snapshot *s = rt_table_acquire();
    json_t *r = s ? rt_config_route_json(s, rc->name) : NULL;
    rt_snapshot_release(s);
    json_t *o = json_pack("{s:I,s:o}", "version", (json_int_t)version, "route",
                          r ? r : json_null());
    return o;
}

static void put_route(const char *name, const rt_admin_req *req, rt_admin_resp *r)
{
    json_t *route = parse_body(req, r);
    if (!route)
        return;
    if (!json_is_object(route)) {
        json_decref(route);
        reply_error(r, 400, "the body must be a route object", NULL);
        return;
    }
    const char *bn = json_string_value(json_object_get(route, "name"));
    if (bn && strcmp(bn, name)) {
        json_decref(route);
        reply_error(r, 400, "the route's name differs from the one in the path", NULL);
        return;
    }
    json_object_set_new(route, "name", json_string(name));
    uint64_t v;
    json_t *doc = current_doc_copy(&v);
    size_t idx;
    if (find_route(doc, name, &idx))
        json_array_set_new(json_object_get(doc, "routes"), idx, route);
    else
        json_array_append_new(json_object_get(doc, "routes"), route);
    route_ctx rc;
    snprintf(rc.name, sizeof rc.name, "%s", name);
    apply_and_reply(doc, if_match_version(req->if_match), r, route_result, &rc);
}

static void delete_route(const char *name, const rt_admin_req *req, rt_admin_resp *r)
{
    uint64_t v;
    json_t *doc = current_doc_copy(&v);
    size_t idx;
    if (!find_route(doc, name, &idx)) {
        json_decref(doc);
        reply_error(r, 404, "no such route", NULL);
        return;
    }
    json_array_remove(json_object_get(doc, "routes"), idx);
    apply_and_reply(doc, if_match_version(req->if_match), r, NULL, NULL);
}

static json_t *weight_json(const char *name, uint64_t version)
{
    rt_snapshot *s = rt_table_acquire();
    json_t *o = NULL;
    for (size_t i = 0; s && i < s->nroutes; i++)
        if (!strcmp(s->routes[i].name, name))
            o = json_pack("{s:s,s:i,s:i,s:b,s:i,s:I}", "route", name, "primaryWeight",
                          100 - s->routes[i].weight, "canaryWeight", s->routes[i].weight,
                          "mirror", s->routes[i].mirror, "mirrorWeight",
                          s->routes[i].mirror_weight, "version",
                          (json_int_t)(version ? version : s->version));
    rt_snapshot_release(s);
    return o ? o : json_pack("{s:s}", "error", "no such route");
}

static json_t *weight_result(void *ctx, uint64_t version)
{
    return weight_json(((route_ctx *)ctx)->name, version);
}

static void put_weight(const char *name, const rt_admin_req *req, rt_admin_resp *r)
{
    json_t *body = parse_body(req, r);
    if (!body)
        return;
    uint64_t v;
    json_t *doc = current_doc_copy(&v);
    json_t *route = find_route(doc, name, NULL);
    if (!route) {
        json_decref(doc);
        json_decref(body);
        reply_error(r, 404, "no such route", NULL);
        return;
    }
    json_t *cw = json_object_get(body, "canaryWeight");
    if (!cw)
        cw = json_object_get(body, "weight");
    json_t *pw = json_object_get(body, "primaryWeight");
    const char *bad = NULL;
    if (!json_is_object(body))
        bad = "the body must be an object such as {\"canaryWeight\": 10}";
    else if ((cw && !json_is_integer(cw)) || (pw && !json_is_integer(pw)))
        bad = "weights must be integers";
    else if (!cw && !pw && !json_object_get(body, "mirror") &&
             !json_object_get(body, "mirrorWeight"))
        bad = "nothing to change: give canaryWeight, primaryWeight, mirror or mirrorWeight";
    else if (cw && pw && json_integer_value(cw) + json_integer_value(pw) != 100)
        bad = "primaryWeight + canaryWeight must be 100";
    if (bad) {
        json_decref(doc);
        json_decref(body);
        reply_error(r, 400, bad, NULL);
        return;
    }
    if (cw)
        json_object_set(route, "weight", cw);
    else if (pw)
        json_object_set_new(route, "weight", json_integer(100 - json_integer_value(pw)));
    json_t *m = json_object_get(body, "mirror");
    if (m)
        json_object_set(route, "mirror", m);
    json_t *mw = json_object_get(body, "mirrorWeight");
    if (mw)
        json_object_set(route, "mirrorWeight", mw);
    json_decref(body);
    route_ctx rc;
    snprintf(rc.name, sizeof rc.name, "%s", name);
    apply_and_reply(doc, if_match_version(req->if_match), r, weight_result, &rc);
}

static void put_group(const char *name, const char *group, const rt_admin_req *req,
                      rt_admin_resp *r)
{
    json_t *body = parse_body(req, r);
    if (!body)
        return;
    uint64_t v;
    json_t *doc = current_doc_copy(&v);
    json_t *route = find_route(doc, name, NULL);
    if (!route) {
        json_decref(doc);
        json_decref(body);
        reply_error(r, 404, "no such route", NULL);
        return;
    }
    json_object_set_new(route, group, body);
    route_ctx rc;
    snprintf(rc.name, sizeof rc.name, "%s", name);
    apply_and_reply(doc, if_match_version(req->if_match), r, route_result, &rc);
}

/* ---- reports ---- */

static void get_measurements(const rt_admin_req *req, rt_admin_resp *r)
{
    char route[128], group[32], err[256];
    if (!query_param(req->query, "route", route, sizeof route)) {
        reply_error(r, 400, "route is required", NULL);
        return;
    }
    bool has_group = query_param(req->query, "group", group, sizeof group);
    if (has_group && strcmp(group, "primary") && strcmp(group, "canary") && strcmp(group, "mirror")) {
        reply_error(r, 400, "group must be primary, canary or mirror", NULL);
        return;
    }
    uint32_t window, offset;
    if (!parse_window(req->query, &window, err, sizeof err) ||
        !parse_offset(req->query, &offset, err, sizeof err)) {
        reply_error(r, 400, err, NULL);
        return;
    }
    double qs[16];
    bool ok;
    size_t nq = parse_quantiles(req->query, qs, 16, &ok);
    if (!ok) {
        reply_error(r, 400, "quantiles: comma-separated numbers between 0 and 1", NULL);
        return;
    }
    json_t *m = rt_report_measure(route, has_group ? group : NULL, window, offset, qs, nq,
                                  cd_wall_ms(), err, sizeof err);
    if (!m)
        reply_error(r, 404, err, NULL);
    else
        reply_json(r, 200, m);
}

static void get_samples(const rt_admin_req *req, rt_admin_resp *r)
{
    char route[128], group[32], err[256], lim[32];
    if (!query_param(req->query, "route", route, sizeof route) ||
        !query_param(req->query, "group", group, sizeof group)) {
        reply_error(r, 400, "route and group are required", NULL);
        return;
    }
    uint32_t window;
    if (!parse_window(req->query, &window, err, sizeof err)) {
        reply_error(r, 400, err, NULL);
        return;
    }
    size_t limit = 10000;
    if (query_param(req->query, "limit", lim, sizeof lim)) {
        char *end;
        long n = strtol(lim, &end, 10);
        if (*end || n <= 0) {
            reply_error(r, 400, "limit must be a positive number", NULL);
            return;
        }
        limit = (size_t)n;
    }
    json_t *s = rt_report_samples(route, group, window, limit, cd_wall_ms(), err,
                                  sizeof err);
    if (!s)
        reply_error(r, 404, err, NULL);
    else
        reply_json(r, 200, s);
}

/* ---- dispatch ---- */

static bool is(const rt_admin_req *req, const char *m) { return !strcmp(req->method, m); }

static void method_not_allowed(rt_admin_resp *r) { reply_error(r, 405, "method not allowed", NULL); }

static void routes_subtree(const rt_admin_req *req, rt_admin_resp *r, const char *rest)
{
    char name[128];
    const char *slash = strchr(rest, '/');
    size_t nl = slash ? (size_t)(slash - rest) : strlen(rest);
    if (nl == 0 || nl >= sizeof name) {
        reply_error(r, 404, "not found", NULL);
        return;
    }
    memcpy(name, rest, nl);
    name[nl] = 0;
    if (!valid_route_name(name)) {
        reply_error(r, 400, "invalid route name", NULL);
        return;
    }
    const char *sub = slash ? slash + 1 : "";
    if (!*sub) {
        if (is(req, "GET")) {
            rt_snapshot *s = rt_table_acquire();
            json_t *j = s ? rt_config_route_json(s, name) : NULL;
            if (s)
                set_etag(r, s->version);
            rt_snapshot_release(s);
            if (j)
                reply_json(r, 200, j);
            else
                reply_error(r, 404, "no such route", NULL);
        } else if (is(req, "PUT")) {
            put_route(name, req, r);
        } else if (is(req, "DELETE")) {
            delete_route(name, req, r);
        } else {
            method_not_allowed(r);
        }
    } else if (!strcmp(sub, "weight") || !strcmp(sub, "weights")) {
        if (is(req, "GET")) {
            json_t *w = weight_json(name, 0);
            if (json_object_get(w, "error")) {
                json_decref(w);
                reply_error(r, 404, "no such route", NULL);
            } else {
                reply_json(r, 200, w);
            }
        } else if (is(req, "PUT") || is(req, "POST") || is(req, "PATCH")) {
            put_weight(name, req, r);
        } else {
            method_not_allowed(r);
        }
    } else if (!strcmp(sub, "primary") || !strcmp(sub, "canary")) {
        if (is(req, "PUT"))
            put_group(name, sub, req, r);
        else
            method_not_allowed(r);
    } else {
        reply_error(r, 404, "not found", NULL);
    }
}

void rt_api_handle(const rt_admin_req *req, rt_admin_resp *r)
{
    const char *p = req->path;
    if (!strcmp(p, "/healthz")) {
        r->status = 200;
        r->content_type = "text/plain";
        cd_buf_puts(&r->body, "ok\n");
    } else if (!strcmp(p, "/readyz")) {
        r->status = rt_rt.draining ? 503 : 200;
        r->content_type = "text/plain";
        cd_buf_puts(&r->body, rt_rt.draining ? "draining\n" : "ready\n");
    } else if (!strcmp(p, "/metrics")) {
        if (!is(req, "GET"))
            return method_not_allowed(r);
        r->status = 200;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
        rt_prom_write(&r->body);
    } else if (!strcmp(p, "/config")) {
        if (is(req, "GET")) {
            rt_snapshot *s = rt_table_acquire();
            set_etag(r, s ? s->version : 0);
            reply_json(r, 200, s ? json_incref(s->doc) : json_object());
            rt_snapshot_release(s);
        } else if (is(req, "PUT") || is(req, "POST")) {
            json_t *doc = parse_body(req, r);
            if (doc)
                apply_and_reply(doc, if_match_version(req->if_match), r, NULL, NULL);
        } else {
            method_not_allowed(r);
        }
    } else if (!strcmp(p, "/routes")) {
        if (!is(req, "GET"))
            return method_not_allowed(r);
        rt_snapshot *s = rt_table_acquire();
        json_t *routes = json_array();
        for (size_t i = 0; s && i < s->nroutes; i++)
            json_array_append_new(routes, rt_config_route_json(s, s->routes[i].name));
        if (s)
            set_etag(r, s->version);
        rt_snapshot_release(s);
        reply_json(r, 200, json_pack("{s:o}", "routes", routes));
    } else if (!strncmp(p, "/routes/", 8)) {
        routes_subtree(req, r, p + 8);
    } else if (!strcmp(p, "/status")) {
        reply_json(r, 200, rt_report_status());
    } else if (!strcmp(p, "/stats")) {
        reply_json(r, 200, rt_report_stats());
    } else if (!strcmp(p, "/measurements")) {
        get_measurements(req, r);
    } else if (!strcmp(p, "/samples")) {
        get_samples(req, r);
    } else {
        reply_error(r, 404, "not found", NULL);
    }
}
