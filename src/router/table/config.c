/* config.c - the router's JSON configuration: decoding, validation with a
 * field path in every error, defaults, and the normalized document served
 * back by GET /config. Pure: never binds, connects or resolves names (see
 * table.c for that). Everything decoded lives in the snapshot's arena. */
#include "router/table/table.h"
#include "util/duration.h"
#include "util/buf.h"
#include "util/hash.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *const rt_role_names[3] = {"primary", "canary", "mirror"};

#define RT_MAX_ROUTES 4096
#define RT_MAX_LISTENERS 256
#define RT_MAX_BACKENDS 1024
#define RT_MAX_MATCHES 64

typedef struct dec {
    rt_snapshot *s;
    cd_arena *a;
    json_t *errors;
    const rt_snapshot *prev;
    char path[512];
} dec;

static void errf(dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errf(dec *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(d->errors, json_pack("{s:s,s:s}", "path", d->path[0] ? d->path : "$",
                                               "message", msg));
}

/* Path helpers: push a component, returning the previous length. */
static size_t push_key(dec *d, const char *key)
{
    size_t n = strlen(d->path);
    snprintf(d->path + n, sizeof d->path - n, "%s%s", n ? "." : "", key);
    return n;
}
static size_t push_idx(dec *d, size_t i)
{
    size_t n = strlen(d->path);
    snprintf(d->path + n, sizeof d->path - n, "[%zu]", i);
    return n;
}
static void pop(dec *d, size_t n) { d->path[n] = 0; }

/* ---- typed field access ---- */

static bool check_keys(dec *d, const json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    bool ok = true;
    json_object_foreach((json_t *)obj, k, v) {
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, k))
                known = true;
        if (!known) {
            size_t m = push_key(d, k);
            errf(d, "unknown field");
            pop(d, m);
            ok = false;
        }
    }
    return ok;
}

static const char *get_str(dec *d, const json_t *obj, const char *key, const char *def)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return def;
    if (!json_is_string(v)) {
        size_t m = push_key(d, key);
        errf(d, "must be a string");
        pop(d, m);
        return def;
    }
    return json_string_value(v);
}

static char *dup_str(dec *d, const char *s) { return s ? cd_arena_strdup(d->a, s) : NULL; }

static long long get_int(dec *d, const json_t *obj, const char *key, long long def, long long lo,
                         long long hi)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return def;
    size_t m = push_key(d, key);
    long long r = def;
    if (!json_is_integer(v))
        errf(d, "must be an integer");
    else if (json_integer_value(v) < lo || json_integer_value(v) > hi)
        errf(d, "must be between %lld and %lld", lo, hi);
    else
        r = json_integer_value(v);
    pop(d, m);
    return r;
}

static bool get_bool(dec *d, const json_t *obj, const char *key, bool def)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return def;
    if (!json_is_boolean(v)) {
        size_t m = push_key(d, key);
        errf(d, "must be true or false");
        pop(d, m);
        return def;
    }
    return json_is_true(v);
}

static int64_t get_duration(dec *d, const json_t *obj, const char *key, int64_t def)
{
    const char *s = get_str(d, obj, key, NULL);
    if (!s)
        return def;
    int64_t ms;
    size_t m = push_key(d, key);
    if (!cd_duration_parse_ms(s, &ms) || ms < 0) {
        errf(d, "invalid duration \"%s\" (use Go syntax such as \"500ms\", \"2s\", \"1m\")", s);
        ms = def;
    }
    pop(d, m);
    return ms;
}

/* Arrays of strings. */
static char **get_strings(dec *d, const json_t *obj, const char *key, size_t *n, size_t max)
{
    *n = 0;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    size_t m = push_key(d, key);
    char **out = NULL;
    if (!json_is_array(v)) {
        errf(d, "must be an array of strings");
    } else if (json_array_size(v) > max) {
        errf(d, "at most %zu entries", max);
    } else {
        out = cd_arena_alloc(d->a, (json_array_size(v) + 1) * sizeof *out);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                size_t m2 = push_idx(d, i);
                errf(d, "must be a string");
                pop(d, m2);
                continue;
            }
            out[(*n)++] = dup_str(d, json_string_value(e));
        }
    }
    pop(d, m);
    return out;
}

/* ---- syntax checks ---- */

static bool is_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool is_token(const char *s)   /* RFC 7230 token: cookie names */
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static bool is_cookie_value(const char *s)   /* RFC 6265 cookie-octet */
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

static bool is_attr_value(const char *s)   /* Path, Domain: no ';' or CTLs */
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ';')
            return false;
    }
    return true;
}

static bool is_label_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static bool is_host_pattern(const char *s)
{
    if (!strcmp(s, "*"))
        return true;
    if (!strncmp(s, "*.", 2))
        s += 2;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
            return false;
    return true;
}

static bool is_revision(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return false;
    return true;
}

/* Syntax only: host:port, [v6]:port, :port, unix:/path. */
static bool address_syntax_ok(const char *s, char *why, size_t whylen)
{
    if (!strncmp(s, "unix:", 5)) {
        if (s[5] != '/' || strlen(s + 5) > 107) {
            snprintf(why, whylen, "unix socket addresses are unix:/absolute/path (at most 107 characters)");
            return false;
        }
        return true;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1]) {
        snprintf(why, whylen, "expected host:port, [ipv6]:port or unix:/path");
        return false;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || colon[1] == '-' || colon[1] == '+') {
        snprintf(why, whylen, "invalid port");
        return false;
    }
    if (s[0] == '[') {
        if (colon[-1] != ']') {
            snprintf(why, whylen, "expected [ipv6]:port");
            return false;
        }
        return true;
    }
    for (const char *c = s; c < colon; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') {
            snprintf(why, whylen, "invalid host (write IPv6 addresses as [addr]:port)");
            return false;
        }
    return true;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- string matches ---- */

static const char *const sm_keys[] = {"exact", "prefix", "suffix", "regex", "present", NULL};

static bool decode_strmatch(dec *d, const json_t *v, rt_strmatch *out)
{
    if (!json_is_object(v)) {
        errf(d, "must be an object with one of exact, prefix, suffix, regex, present");
        return false;
    }
    check_keys(d, v, sm_keys);
    int found = 0;
    for (int k = 0; k < 5; k++) {
        json_t *x = json_object_get(v, sm_keys[k]);
        if (!x)
            continue;
        found++;
        size_t m = push_key(d, sm_keys[k]);
        out->kind = (rt_sm_kind)k;
        if (k == RT_SM_PRESENT) {
            if (!json_is_true(x))
                errf(d, "must be true");
        } else if (!json_is_string(x)) {
            errf(d, "must be a string");
        } else {
            out->value = dup_str(d, json_string_value(x));
        }
        pop(d, m);
    }
    if (found != 1) {
        errf(d, "exactly one of exact, prefix, suffix, regex, present is required");
        return false;
    }
    if (out->kind == RT_SM_REGEX && out->value) {
        size_t n = strlen(out->value) + 8;
        char *anchored = malloc(n);
        if (!anchored)
            abort();
        snprintf(anchored, n, "^(%s)$", out->value);
        int rc = regcomp(&out->re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char buf[128];
            regerror(rc, &out->re, buf, sizeof buf);
            size_t m = push_key(d, "regex");
            errf(d, "invalid regular expression: %s", buf);
            pop(d, m);
            return false;
        }
        out->compiled = true;
    }
    return true;
}

static rt_strmatch *decode_strmatch_map(dec *d, const json_t *obj, const char *key, size_t *n,
                                        bool lower_names)
{
    *n = 0;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    size_t m = push_key(d, key);
    rt_strmatch *out = NULL;
    if (!json_is_object(v) || json_object_size(v) == 0 || json_object_size(v) > 32) {
        errf(d, "must be an object of 1 to 32 name: {exact|prefix|suffix|regex|present} entries");
    } else {
        out = cd_arena_alloc(d->a, json_object_size(v) * sizeof *out);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            size_t m2 = push_key(d, k);
            if (!is_token(k)) {
                errf(d, "invalid name");
            } else {
                rt_strmatch *sm = &out[*n];
                sm->name = dup_str(d, k);
                if (lower_names)
                    lower(sm->name);
                if (decode_strmatch(d, e, sm))
                    (*n)++;
            }
            pop(d, m2);
        }
    }
    pop(d, m);
    return out;
}

static const char *const match_keys[] = {"headers", "cookies", "queryParams", "uri", "method", NULL};

static void decode_match(dec *d, const json_t *v, rt_match *out)
{
    if (!json_is_object(v)) {
        errf(d, "must be an object");
        return;
    }
    check_keys(d, v, match_keys);
    out->headers = decode_strmatch_map(d, v, "headers", &out->nheaders, true);
    out->cookies = decode_strmatch_map(d, v, "cookies", &out->ncookies, false);
    out->query = decode_strmatch_map(d, v, "queryParams", &out->nquery, false);
    json_t *uri = json_object_get(v, "uri");
    if (uri) {
        size_t m = push_key(d, "uri");
        out->uri = cd_arena_alloc(d->a, sizeof *out->uri);
        if (!decode_strmatch(d, uri, out->uri))
            out->uri = NULL;
        pop(d, m);
    }
    const char *method = get_str(d, v, "method", NULL);
    if (method) {
        out->method = dup_str(d, method);
        if (!is_token(method)) {
            size_t m = push_key(d, "method");
            errf(d, "invalid method");
            pop(d, m);
        }
    }
    bool any_key = false;
    for (const char *const *k = match_keys; *k; k++)
        any_key |= json_object_get(v, *k) != NULL;
    if (!any_key)
        errf(d, "a match needs at least one of headers, cookies, queryParams, uri, method");
}

/* ---- session affinity ---- */

static void random_letters(char *out, size_t n)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned char rnd[64];
    if (n > sizeof rnd)
        n = sizeof rnd;
    if (getrandom(rnd, n, 0) != (ssize_t)n)
        for (size_t i = 0; i < n; i++)
            rnd[i] = (unsigned char)rand();
    for (size_t i = 0; i < n; i++)
        out[i] = letters[rnd[i] % 52];
    out[n] = 0;
}

static const rt_route *prev_route(const dec *d, const char *name)
{
    if (!d->prev)
        return NULL;
    for (size_t i = 0; i < d->prev->nroutes; i++)
        if (!strcmp(d->prev->routes[i].name, name))
            return &d->prev->routes[i];
    return NULL;
}

static char *kept_or_random_value(dec *d, const char *route, const char *cookie, bool primary)
{
    const rt_route *p = prev_route(d, route);
    if (p && p->affinity.enabled) {
        const rt_affinity *pa = &p->affinity;
        if (!primary && pa->cookie_name && !strcmp(pa->cookie_name, cookie))
            return dup_str(d, pa->cookie_value);
        if (primary && pa->primary_cookie_name && !strcmp(pa->primary_cookie_name, cookie))
            return dup_str(d, pa->primary_cookie_value);
    }
    char v[11];
    random_letters(v, 10);
    return dup_str(d, v);
}

static char *set_cookie_line(dec *d, const rt_affinity *a, const char *name, const char *value,
                             int64_t max_age)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "Set-Cookie: %s=%s; Max-Age=%lld", name, value, (long long)max_age);
    if (a->domain)
        cd_buf_printf(&b, "; Domain=%s", a->domain);
    if (a->http_only)
        cd_buf_puts(&b, "; HttpOnly");
    if (a->partitioned)
        cd_buf_puts(&b, "; Partitioned");
    if (a->path)
        cd_buf_printf(&b, "; Path=%s", a->path);
    if (a->same_site)
        cd_buf_printf(&b, "; SameSite=%s", a->same_site);
    if (a->secure)
        cd_buf_puts(&b, "; Secure");
    cd_buf_puts(&b, "\r\n");
    char *r = dup_str(d, cd_buf_str(&b));
    cd_buf_free(&b);
    return r;
}

static const char *const affinity_keys[] = {
    "cookieName", "cookieValue", "maxAge", "domain", "path", "sameSite", "secure", "httpOnly",
    "partitioned", "primaryCookieName", "primaryCookieValue", "primaryMaxAge", "previousCookies",
    NULL};

static void decode_affinity(dec *d, const json_t *v, const char *route, rt_affinity *a)
{
    if (!json_is_object(v)) {
        errf(d, "must be an object");
        return;
    }
    check_keys(d, v, affinity_keys);
    a->enabled = true;
    const char *name = get_str(d, v, "cookieName", NULL);
    if (!name || !is_token(name)) {
        size_t m = push_key(d, "cookieName");
        errf(d, name ? "invalid cookie name" : "required");
        pop(d, m);
        a->enabled = false;
        return;
    }
    a->cookie_name = dup_str(d, name);
    const char *val = get_str(d, v, "cookieValue", NULL);
    if (val && (!*val || !is_cookie_value(val))) {
        size_t m = push_key(d, "cookieValue");
        errf(d, "invalid cookie value");
        pop(d, m);
    }
    a->cookie_value = val ? dup_str(d, val) : kept_or_random_value(d, route, name, false);
    a->max_age = get_int(d, v, "maxAge", 86400, 1, 400LL * 86400);
    const char *domain = get_str(d, v, "domain", NULL), *path = get_str(d, v, "path", NULL);
    if ((domain && !is_attr_value(domain)) || (path && !is_attr_value(path)))
        errf(d, "domain and path must not contain ';' or control characters");
    a->domain = dup_str(d, domain);
    a->path = dup_str(d, path);
    const char *ss = get_str(d, v, "sameSite", NULL);
    if (ss && strcmp(ss, "Strict") && strcmp(ss, "Lax") && strcmp(ss, "None")) {
        size_t m = push_key(d, "sameSite");
        errf(d, "must be Strict, Lax or None");
        pop(d, m);
    }
    a->same_site = dup_str(d, ss);
    a->secure = get_bool(d, v, "secure", false);
    a->http_only = get_bool(d, v, "httpOnly", false);
    a->partitioned = get_bool(d, v, "partitioned", false);
    const char *pname = get_str(d, v, "primaryCookieName", NULL);
    if (pname) {
        size_t m = push_key(d, "primaryCookieName");
        if (!is_token(pname))
            errf(d, "invalid cookie name");
        else if (!strcmp(pname, name))
            errf(d, "must differ from cookieName");
        pop(d, m);
        a->primary_cookie_name = dup_str(d, pname);
        const char *pval = get_str(d, v, "primaryCookieValue", NULL);
        if (pval && (!*pval || !is_cookie_value(pval))) {
            size_t m2 = push_key(d, "primaryCookieValue");
            errf(d, "invalid cookie value");
            pop(d, m2);
        }
        a->primary_cookie_value =
            pval ? dup_str(d, pval) : kept_or_random_value(d, route, pname, true);
        a->primary_max_age = get_int(d, v, "primaryMaxAge", 60, 1, 400LL * 86400);
    }
    a->previous = get_strings(d, v, "previousCookies", &a->nprevious, 16);
    for (size_t i = 0; i < a->nprevious; i++) {
        const char *eq = strchr(a->previous[i], '=');
        char nm[256];
        size_t nl = eq ? (size_t)(eq - a->previous[i]) : 0;
        if (eq && nl < sizeof nm) {
            memcpy(nm, a->previous[i], nl);
            nm[nl] = 0;
        }
        if (!eq || nl == 0 || nl >= sizeof nm || !is_token(nm) || !eq[1] || !is_cookie_value(eq + 1)) {
            size_t m = push_key(d, "previousCookies");
            size_t m2 = push_idx(d, i);
            errf(d, "must be name=value");
            pop(d, m2);
            pop(d, m);
        }
    }
    a->set_canary = set_cookie_line(d, a, a->cookie_name, a->cookie_value, a->max_age);
    if (a->primary_cookie_name)
        a->set_primary = set_cookie_line(d, a, a->primary_cookie_name, a->primary_cookie_value,
                                         a->primary_max_age);
    a->expire_current = set_cookie_line(d, a, a->cookie_name, a->cookie_value, -1);
    a->set_expire = cd_arena_alloc(d->a, (a->nprevious + 1) * sizeof *a->set_expire);
    a->previous_names = cd_arena_alloc(d->a, (a->nprevious + 1) * sizeof *a->previous_names);
    a->previous_values = cd_arena_alloc(d->a, (a->nprevious + 1) * sizeof *a->previous_values);
    for (size_t i = 0; i < a->nprevious; i++) {
        char *eq = strchr(a->previous[i], '=');
        if (!eq)
            continue;
        char *nm = cd_arena_strndup(d->a, a->previous[i], (size_t)(eq - a->previous[i]));
        a->previous_names[i] = nm;
        a->previous_values[i] = eq + 1;
        a->set_expire[i] = set_cookie_line(d, a, nm, eq + 1, -1);
    }
}

/* ---- retries ---- */

static unsigned parse_retry_on(dec *d, const char *s)
{
    unsigned bits = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        abort();
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            t[--n] = 0;
        if (!strcmp(t, "connect-failure"))
            bits |= RT_RETRY_CONNECT;
        else if (!strcmp(t, "reset") || !strcmp(t, "refused-stream"))
            bits |= RT_RETRY_RESET;
        else if (!strcmp(t, "gateway-error") || !strcmp(t, "502") || !strcmp(t, "503") ||
                 !strcmp(t, "504"))
            bits |= RT_RETRY_GATEWAY | RT_RETRY_CONNECT;
        else if (!strcmp(t, "5xx"))
            bits |= RT_RETRY_5XX | RT_RETRY_GATEWAY | RT_RETRY_CONNECT | RT_RETRY_RESET;
        else
            errf(d, "unknown retry condition \"%s\" (use connect-failure, reset, "
                    "gateway-error, 5xx)", t);
    }
    free(copy);
    return bits;
}

static const char *const retries_keys[] = {"attempts", "perTryTimeout", "retryOn", NULL};

static void decode_retries(dec *d, const json_t *obj, rt_route *r)
{
    r->retry_attempts = 1;
    r->retry_on = RT_RETRY_CONNECT;
    json_t *v = json_object_get(obj, "retries");
    if (!v || json_is_null(v))
        return;
    size_t m = push_key(d, "retries");
    if (!json_is_object(v)) {
        errf(d, "must be an object");
    } else {
        check_keys(d, v, retries_keys);
        r->retry_attempts = (int)get_int(d, v, "attempts", 1, 0, 10);
        r->per_try_timeout_ms = get_duration(d, v, "perTryTimeout", 0);
        const char *on = get_str(d, v, "retryOn", NULL);
        if (on) {
            size_t m2 = push_key(d, "retryOn");
            r->retry_on = parse_retry_on(d, on);
            pop(d, m2);
        } else {
            r->retry_on = RT_RETRY_CONNECT | RT_RETRY_RESET | RT_RETRY_GATEWAY;
        }
    }
    pop(d, m);
}

/* ---- groups and backends ---- */

static const char *const backend_keys[] = {"address", "state", "labels", NULL};
static const char *const group_keys[] = {"revision", "backends", "healthCheck", NULL};
static const char *const check_keys_list[] = {"path", "interval", "timeout", "healthyThreshold",
                                              "unhealthyThreshold", NULL};

static void decode_backend_labels(dec *d, const json_t *v, rt_backend *b)
{
    json_t *labels = json_object_get(v, "labels");
    if (!labels || json_is_null(labels))
        return;
    size_t m = push_key(d, "labels");
    if (!json_is_object(labels) || json_object_size(labels) > 32) {
        errf(d, "must be an object of at most 32 label: value pairs");
        pop(d, m);
        return;
    }
    size_t n = json_object_size(labels);
    b->label_names = cd_arena_alloc(d->a, (n + 1) * sizeof(char *));
    b->label_values = cd_arena_alloc(d->a, (n + 1) * sizeof(char *));
    const char *k;
    json_t *e;
    json_object_foreach(labels, k, e) {
        size_t m2 = push_key(d, k);
        if (!is_label_name(k) || !strncmp(k, "canaryd_", 8) || !strncmp(k, "__", 2) ||
            !strcmp(k, "envoy_response_code") || !strcmp(k, "envoy_cluster_name") ||
            !strcmp(k, "le"))
            errf(d, "invalid or reserved label name");
        else if (!json_is_string(e))
            errf(d, "must be a string");
        else {
            b->label_names[b->nlabels] = dup_str(d, k);
            b->label_values[b->nlabels] = dup_str(d, json_string_value(e));
            b->nlabels++;
        }
        pop(d, m2);
    }
    pop(d, m);
}

static void decode_backend(dec *d, const json_t *v, rt_backend *b)
{
    const char *addr = NULL;
    b->address = dup_str(d, "");
    if (json_is_string(v)) {
        addr = json_string_value(v);
    } else if (json_is_object(v)) {
        check_keys(d, v, backend_keys);
        addr = get_str(d, v, "address", NULL);
        const char *st = get_str(d, v, "state", "up");
        if (!strcmp(st, "up"))
            b->state = RT_BE_UP;
        else if (!strcmp(st, "drain"))
            b->state = RT_BE_DRAIN;
        else if (!strcmp(st, "down"))
            b->state = RT_BE_DOWN;
        else {
            size_t m = push_key(d, "state");
            errf(d, "must be up, drain or down");
            pop(d, m);
        }
        decode_backend_labels(d, v, b);
    } else {
        errf(d, "must be an address string or an object with address, state, labels");
        return;
    }
    char why[160];
    if (!addr) {
        size_t m = push_key(d, "address");
        errf(d, "required");
        pop(d, m);
    } else if (!address_syntax_ok(addr, why, sizeof why)) {
        size_t m = json_is_object(v) ? push_key(d, "address") : strlen(d->path);
        errf(d, "\"%s\": %s", addr, why);
        pop(d, m);
    }
    b->address = dup_str(d, addr ? addr : "");
}

static void decode_healthcheck(dec *d, const json_t *v, rt_healthcheck *c)
{
    if (!json_is_object(v)) {
        errf(d, "must be an object");
        return;
    }
    check_keys(d, v, check_keys_list);
    c->enabled = true;
    const char *path = get_str(d, v, "path", "/");
    if (path[0] != '/' || !is_attr_value(path) || strchr(path, ' ')) {
        size_t m = push_key(d, "path");
        errf(d, "must start with / and contain no spaces or control characters");
        pop(d, m);
    }
    c->path = dup_str(d, path);
    c->interval_ms = get_duration(d, v, "interval", 5000);
    c->timeout_ms = get_duration(d, v, "timeout", 2000);
    if (c->interval_ms < 100 || c->timeout_ms < 10)
        errf(d, "interval must be at least 100ms and timeout at least 10ms");
    c->healthy_threshold = (int)get_int(d, v, "healthyThreshold", 2, 1, 100);
    c->unhealthy_threshold = (int)get_int(d, v, "unhealthyThreshold", 3, 1, 100);
}

static void default_pod_names(dec *d, rt_route *r, rt_role role)
{
    rt_group *g = &r->groups[role];
    char rev[64];
    if (g->revision) {
        snprintf(rev, sizeof rev, "%s", g->revision);
    } else {
        cd_buf b = CD_BUF_INIT;
        cd_buf_printf(&b, "%s/%s", r->name, rt_role_names[role]);
        for (size_t i = 0; i < g->nbackends; i++)
            cd_buf_printf(&b, "|%s", g->backends[i].address);
        cd_flagger_hash(cd_buf_str(&b), b.len, rev);
        cd_buf_free(&b);
    }
    for (size_t i = 0; i < g->nbackends; i++) {
        rt_backend *be = &g->backends[i];
        for (size_t k = 0; k < be->nlabels; k++)
            if (!strcmp(be->label_names[k], "kubernetes_pod_name"))
                be->pod_name = be->label_values[k];
        if (!be->pod_name)
            be->pod_name = role == RT_PRIMARY
                               ? cd_arena_printf(d->a, "%s-primary-%s-%zu", r->target, rev, i)
                               : cd_arena_printf(d->a, "%s-%s-%zu", r->target, rev, i);
    }
}

static void decode_group(dec *d, const json_t *obj, rt_route *r, rt_role role)
{
    const char *key = rt_role_names[role];
    rt_group *g = &r->groups[role];
    json_t *v = json_object_get(obj, key);
    size_t m = push_key(d, key);
    if (!v || json_is_null(v)) {
        if (role == RT_PRIMARY)
            errf(d, "required");
        pop(d, m);
        return;
    }
    if (!json_is_object(v)) {
        errf(d, "must be an object with backends");
        pop(d, m);
        return;
    }
    check_keys(d, v, group_keys);
    const char *rev = get_str(d, v, "revision", NULL);
    if (rev && !is_revision(rev)) {
        size_t m2 = push_key(d, "revision");
        errf(d, "must be 1 to 63 letters or digits");
        pop(d, m2);
    } else {
        g->revision = dup_str(d, rev);
    }
    json_t *bes = json_object_get(v, "backends");
    size_t m2 = push_key(d, "backends");
    if (bes && !json_is_array(bes)) {
        errf(d, "must be an array");
    } else if (bes && json_array_size(bes) > RT_MAX_BACKENDS) {
        errf(d, "at most %d backends", RT_MAX_BACKENDS);
    } else if (bes) {
        g->backends = cd_arena_alloc(d->a, (json_array_size(bes) + 1) * sizeof *g->backends);
        size_t i;
        json_t *e;
        json_array_foreach(bes, i, e) {
            size_t m3 = push_idx(d, i);
            decode_backend(d, e, &g->backends[g->nbackends++]);
            pop(d, m3);
        }
        for (size_t a = 0; a < g->nbackends; a++)
            for (size_t b = a + 1; b < g->nbackends; b++)
                if (!strcmp(g->backends[a].address, g->backends[b].address)) {
                    size_t m3 = push_idx(d, b);
                    errf(d, "duplicate backend \"%s\"", g->backends[b].address);
                    pop(d, m3);
                }
    }
    pop(d, m2);
    json_t *hc = json_object_get(v, "healthCheck");
    if (hc && !json_is_null(hc)) {
        size_t m3 = push_key(d, "healthCheck");
        decode_healthcheck(d, hc, &g->check);
        pop(d, m3);
    }
    pop(d, m);
    default_pod_names(d, r, role);
}

/* ---- routes ---- */

static const char *const route_keys[] = {
    "name", "listeners", "hosts", "pathPrefix", "namespace", "target", "weight", "mirror",
    "mirrorWeight", "match", "sessionAffinity", "retries", "timeout", "connectTimeout",
    "primary", "canary", NULL};

static void decode_route(dec *d, const json_t *v, rt_route *r)
{
    r->name = dup_str(d, "");
    if (!json_is_object(v)) {
        errf(d, "must be an object");
        return;
    }
    check_keys(d, v, route_keys);
    const char *name = get_str(d, v, "name", NULL);
    if (!name || !is_name(name, 63)) {
        size_t m = push_key(d, "name");
        errf(d, name ? "must be 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit"
                     : "required");
        pop(d, m);
    }
    r->name = dup_str(d, name ? name : "");
    r->listeners = get_strings(d, v, "listeners", &r->nlisteners, RT_MAX_LISTENERS);
    r->hosts = get_strings(d, v, "hosts", &r->nhosts, 256);
    for (size_t i = 0; i < r->nhosts; i++) {
        lower(r->hosts[i]);
        if (!is_host_pattern(r->hosts[i])) {
            size_t m = push_key(d, "hosts");
            size_t m2 = push_idx(d, i);
            errf(d, "\"%s\": expected a host name, \"*.domain\" or \"*\" (no port)", r->hosts[i]);
            pop(d, m2);
            pop(d, m);
        }
    }
    const char *pp = get_str(d, v, "pathPrefix", "/");
    if (pp[0] != '/') {
        size_t m = push_key(d, "pathPrefix");
        errf(d, "must start with /");
        pop(d, m);
    }
    r->path_prefix = dup_str(d, pp);
    r->path_prefix_len = strlen(pp);
    const char *ns = get_str(d, v, "namespace", "default");
    const char *target = get_str(d, v, "target", NULL);
    if (!is_name(ns, 63)) {
        size_t m = push_key(d, "namespace");
        errf(d, "must be a name (letters, digits, '.', '-', '_')");
        pop(d, m);
    }
    if (target && !is_name(target, 253)) {
        size_t m = push_key(d, "target");
        errf(d, "must be a name (letters, digits, '.', '-', '_')");
        pop(d, m);
    }
    if (!target)
        target = r->name;
    r->ns = dup_str(d, ns);
    r->target = dup_str(d, target);
    r->weight = (int)get_int(d, v, "weight", 0, 0, 100);
    r->mirror = get_bool(d, v, "mirror", false);
    r->mirror_weight = (int)get_int(d, v, "mirrorWeight", 100, 0, 100);
    json_t *matches = json_object_get(v, "match");
    if (matches && !json_is_null(matches)) {
        size_t m = push_key(d, "match");
        if (!json_is_array(matches) || json_array_size(matches) > RT_MAX_MATCHES) {
            errf(d, "must be an array of at most %d matches", RT_MAX_MATCHES);
        } else {
            r->matches = cd_arena_alloc(d->a, (json_array_size(matches) + 1) * sizeof *r->matches);
            size_t i;
            json_t *e;
            json_array_foreach(matches, i, e) {
                size_t m2 = push_idx(d, i);
                decode_match(d, e, &r->matches[r->nmatches++]);
                pop(d, m2);
            }
        }
        pop(d, m);
    }
    json_t *aff = json_object_get(v, "sessionAffinity");
    if (aff && !json_is_null(aff)) {
        size_t m = push_key(d, "sessionAffinity");
        decode_affinity(d, aff, r->name, &r->affinity);
        pop(d, m);
    }
    decode_retries(d, v, r);
    r->timeout_ms = get_duration(d, v, "timeout", 0);
    r->connect_timeout_ms = get_duration(d, v, "connectTimeout", 0);
    decode_group(d, v, r, RT_PRIMARY);
    decode_group(d, v, r, RT_CANARY);
}

static const char *const listener_keys[] = {"name", "address", NULL};

static void decode_listener(dec *d, const json_t *v, rt_listener_cfg *l)
{
    l->name = l->address = dup_str(d, "");
    if (!json_is_object(v)) {
        errf(d, "must be an object with name and address");
        return;
    }
    check_keys(d, v, listener_keys);
    const char *name = get_str(d, v, "name", NULL), *addr = get_str(d, v, "address", NULL);
    if (!name || !is_name(name, 63)) {
        size_t m = push_key(d, "name");
        errf(d, name ? "must be 1 to 63 letters, digits, '.', '-' or '_'" : "required");
        pop(d, m);
    }
    char why[160];
    if (!addr || !address_syntax_ok(addr, why, sizeof why)) {
        size_t m = push_key(d, "address");
        if (addr)
            errf(d, "\"%s\": %s", addr, why);
        else
            errf(d, "required");
        pop(d, m);
    }
    l->name = dup_str(d, name ? name : "");
    l->address = dup_str(d, addr ? addr : "");
}

/* ---- normalized document ---- */

static json_t *strmatch_json(const rt_strmatch *m)
{
    if (m->kind == RT_SM_PRESENT)
        return json_pack("{s:b}", "present", 1);
    return json_pack("{s:s}", sm_keys[m->kind], m->value ? m->value : "");
}

static json_t *strmatch_map_json(const rt_strmatch *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, v[i].name, strmatch_json(&v[i]));
    return o;
}

static json_t *strings_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Whole seconds in Go's compact form ("1m30s"), otherwise milliseconds
 * ("7814ms"): a fractional form such as "7.814s" would not read back
 * exactly (cd_duration_parse goes through a double). */
static json_t *duration_json(int64_t ms)
{
    char b[32];
    if (ms % 1000 == 0)
        return json_string(cd_duration_format_ms(ms, b, sizeof b));
    snprintf(b, sizeof b, "%lldms", (long long)ms);
    return json_string(b);
}

static json_t *retry_on_json(unsigned bits)
{
    char b[96] = "";
    if (bits & RT_RETRY_5XX)
        return json_string("5xx");
    if (bits & RT_RETRY_CONNECT)
        strcat(b, "connect-failure,");
    if (bits & RT_RETRY_RESET)
        strcat(b, "reset,");
    if (bits & RT_RETRY_GATEWAY)
        strcat(b, "gateway-error,");
    size_t n = strlen(b);
    if (n)
        b[n - 1] = 0;
    return json_string(b);
}

static json_t *group_json(const rt_group *g)
{
    json_t *o = json_object();
    if (g->revision)
        json_object_set_new(o, "revision", json_string(g->revision));
    json_t *bes = json_array();
    static const char *const states[] = {"up", "drain", "down"};
    for (size_t i = 0; i < g->nbackends; i++) {
        const rt_backend *b = &g->backends[i];
        json_t *labels = json_object();
        for (size_t k = 0; k < b->nlabels; k++)
            json_object_set_new(labels, b->label_names[k], json_string(b->label_values[k]));
        json_array_append_new(bes, json_pack("{s:s,s:s,s:o}", "address", b->address, "state",
                                             states[b->state], "labels", labels));
    }
    json_object_set_new(o, "backends", bes);
    if (g->check.enabled)
        json_object_set_new(o, "healthCheck",
                            json_pack("{s:s,s:o,s:o,s:i,s:i}", "path", g->check.path, "interval",
                                      duration_json(g->check.interval_ms), "timeout",
                                      duration_json(g->check.timeout_ms), "healthyThreshold",
                                      g->check.healthy_threshold, "unhealthyThreshold",
                                      g->check.unhealthy_threshold));
    return o;
}

static json_t *affinity_json(const rt_affinity *a)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:b,s:b,s:b}", "cookieName", a->cookie_name,
                          "cookieValue", a->cookie_value, "maxAge", (json_int_t)a->max_age,
                          "secure", a->secure, "httpOnly", a->http_only, "partitioned",
                          a->partitioned);
    if (a->domain)
        json_object_set_new(o, "domain", json_string(a->domain));
    if (a->path)
        json_object_set_new(o, "path", json_string(a->path));
    if (a->same_site)
        json_object_set_new(o, "sameSite", json_string(a->same_site));
    if (a->primary_cookie_name) {
        json_object_set_new(o, "primaryCookieName", json_string(a->primary_cookie_name));
        json_object_set_new(o, "primaryCookieValue", json_string(a->primary_cookie_value));
        json_object_set_new(o, "primaryMaxAge", json_integer(a->primary_max_age));
    }
    if (a->nprevious)
        json_object_set_new(o, "previousCookies", strings_json(a->previous, a->nprevious));
    return o;
}

static json_t *route_json(const rt_route *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:i}", "name", r->name, "pathPrefix",
                          r->path_prefix, "namespace", r->ns, "target", r->target, "weight",
                          r->weight, "mirror", r->mirror, "mirrorWeight", r->mirror_weight);
    if (r->nlisteners)
        json_object_set_new(o, "listeners", strings_json(r->listeners, r->nlisteners));
    if (r->nhosts)
        json_object_set_new(o, "hosts", strings_json(r->hosts, r->nhosts));
    if (r->nmatches) {
        json_t *ms = json_array();
        for (size_t i = 0; i < r->nmatches; i++) {
            const rt_match *m = &r->matches[i];
            json_t *mo = json_object();
            if (m->nheaders)
                json_object_set_new(mo, "headers", strmatch_map_json(m->headers, m->nheaders));
            if (m->ncookies)
                json_object_set_new(mo, "cookies", strmatch_map_json(m->cookies, m->ncookies));
            if (m->nquery)
                json_object_set_new(mo, "queryParams", strmatch_map_json(m->query, m->nquery));
            if (m->uri)
                json_object_set_new(mo, "uri", strmatch_json(m->uri));
            if (m->method)
                json_object_set_new(mo, "method", json_string(m->method));
            json_array_append_new(ms, mo);
        }
        json_object_set_new(o, "match", ms);
    }
    if (r->affinity.enabled)
        json_object_set_new(o, "sessionAffinity", affinity_json(&r->affinity));
    json_t *retries = json_pack("{s:i,s:o}", "attempts", r->retry_attempts, "retryOn",
                                retry_on_json(r->retry_on));
    if (r->per_try_timeout_ms)
        json_object_set_new(retries, "perTryTimeout", duration_json(r->per_try_timeout_ms));
    json_object_set_new(o, "retries", retries);
    if (r->timeout_ms)
        json_object_set_new(o, "timeout", duration_json(r->timeout_ms));
    if (r->connect_timeout_ms)
        json_object_set_new(o, "connectTimeout", duration_json(r->connect_timeout_ms));
    json_object_set_new(o, "primary", group_json(&r->groups[RT_PRIMARY]));
    json_object_set_new(o, "canary", group_json(&r->groups[RT_CANARY]));
    return o;
}

static json_t *snapshot_json(const rt_snapshot *s)
{
    json_t *ls = json_array();
    for (size_t i = 0; i < s->nlcfg; i++)
        json_array_append_new(ls, json_pack("{s:s,s:s}", "name", s->lcfg[i].name, "address",
                                            s->lcfg[i].address));
    json_t *rs = json_array();
    for (size_t i = 0; i < s->nroutes; i++)
        json_array_append_new(rs, route_json(&s->routes[i]));
    return json_pack("{s:o,s:o}", "listeners", ls, "routes", rs);
}

json_t *rt_config_route_json(const rt_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (!strcmp(s->routes[i].name, name))
            return route_json(&s->routes[i]);
    return NULL;
}

/* ---- top level ---- */

static const char *const top_keys[] = {"listeners", "routes", NULL};

static void check_unique(dec *d)
{
    rt_snapshot *s = d->s;
    for (size_t i = 0; i < s->nroutes; i++)
        for (size_t j = i + 1; j < s->nroutes; j++)
            if (s->routes[i].name[0] && !strcmp(s->routes[i].name, s->routes[j].name)) {
                snprintf(d->path, sizeof d->path, "routes[%zu].name", j);
                errf(d, "duplicate route name \"%s\"", s->routes[j].name);
            }
    for (size_t i = 0; i < s->nlcfg; i++)
        for (size_t j = i + 1; j < s->nlcfg; j++) {
            if (s->lcfg[i].name[0] && !strcmp(s->lcfg[i].name, s->lcfg[j].name)) {
                snprintf(d->path, sizeof d->path, "listeners[%zu].name", j);
                errf(d, "duplicate listener name \"%s\"", s->lcfg[j].name);
            }
            if (s->lcfg[i].address[0] && !strcmp(s->lcfg[i].address, s->lcfg[j].address)) {
                snprintf(d->path, sizeof d->path, "listeners[%zu].address", j);
                errf(d, "duplicate listener address \"%s\"", s->lcfg[j].address);
            }
        }
    d->path[0] = 0;
}

static void free_regexes(rt_snapshot *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        rt_route *r = &s->routes[i];
        for (size_t k = 0; k < r->nmatches; k++) {
            rt_match *m = &r->matches[k];
            rt_strmatch *lists[3] = {m->headers, m->cookies, m->query};
            size_t ns[3] = {m->nheaders, m->ncookies, m->nquery};
            for (int l = 0; l < 3; l++)
                for (size_t j = 0; j < ns[l]; j++)
                    if (lists[l][j].compiled) {
                        regfree(&lists[l][j].re);
                        lists[l][j].compiled = false;
                    }
            if (m->uri && m->uri->compiled) {
                regfree(&m->uri->re);
                m->uri->compiled = false;
            }
        }
    }
}

void rt_snapshot_free_decoded(rt_snapshot *s)
{
    free_regexes(s);
    json_decref(s->doc);
    cd_arena_free(&s->arena);
    free(s);
}

rt_snapshot *rt_config_decode(const json_t *doc, const rt_snapshot *prev, json_t **errors)
{
    rt_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    atomic_init(&s->refs, 1);
    cd_arena_init(&s->arena, 16384);
    dec d = {.s = s, .a = &s->arena, .errors = json_array(), .prev = prev};
    if (!json_is_object(doc)) {
        errf(&d, "the configuration must be a JSON object with listeners and routes");
    } else {
        check_keys(&d, doc, top_keys);
        json_t *ls = json_object_get(doc, "listeners");
        if (ls && !json_is_null(ls)) {
            size_t m = push_key(&d, "listeners");
            if (!json_is_array(ls) || json_array_size(ls) > RT_MAX_LISTENERS) {
                errf(&d, "must be an array of at most %d listeners", RT_MAX_LISTENERS);
            } else {
                s->lcfg = cd_arena_alloc(d.a, (json_array_size(ls) + 1) * sizeof *s->lcfg);
                size_t i;
                json_t *e;
                json_array_foreach(ls, i, e) {
                    size_t m2 = push_idx(&d, i);
                    decode_listener(&d, e, &s->lcfg[s->nlcfg++]);
                    pop(&d, m2);
                }
            }
            pop(&d, m);
        }
        json_t *rs = json_object_get(doc, "routes");
        if (rs && !json_is_null(rs)) {
            size_t m = push_key(&d, "routes");
            if (!json_is_array(rs) || json_array_size(rs) > RT_MAX_ROUTES) {
                errf(&d, "must be an array of at most %d routes", RT_MAX_ROUTES);
            } else {
                s->routes = cd_arena_alloc(d.a, (json_array_size(rs) + 1) * sizeof *s->routes);
                size_t i;
                json_t *e;
                json_array_foreach(rs, i, e) {
                    size_t m2 = push_idx(&d, i);
                    decode_route(&d, e, &s->routes[s->nroutes++]);
                    pop(&d, m2);
                }
            }
            pop(&d, m);
        }
        check_unique(&d);
    }
    if (json_array_size(d.errors)) {
        *errors = d.errors;
        rt_snapshot_free_decoded(s);
        return NULL;
    }
    json_decref(d.errors);
    *errors = NULL;
    s->doc = snapshot_json(s);
    return s;
}
