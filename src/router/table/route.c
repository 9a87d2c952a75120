/* route.c - request routing, pure: which route a request belongs to
 * (listener, host, longest path prefix), and whether it goes to the
 * primary or the canary group (A/B match rules, session-affinity cookies,
 * weight), whether it is mirrored, and which backend of a group serves
 * it. No I/O, no allocation. */
#include "router/table/table.h"
#include <ctype.h>
#include <string.h>
#include <strings.h>

bool rt_host_match(const char *pattern, const char *host, size_t hlen)
{
    if (!strcmp(pattern, "*"))
        return true;
    if (!strncmp(pattern, "*.", 2)) {
        size_t plen = strlen(pattern + 1);  /* ".example.com" */
        return hlen > plen && !strncasecmp(host + hlen - plen, pattern + 1, plen);
    }
    return strlen(pattern) == hlen && !strncasecmp(pattern, host, hlen);
}

static int host_score(const rt_route *r, const rt_reqview *q)
{
    if (!r->nhosts)
        return 1;
    int best = -1;
    for (size_t i = 0; i < r->nhosts; i++) {
        if (!rt_host_match(r->hosts[i], q->host ? q->host : "", q->host_len))
            continue;
        int sc = !strcmp(r->hosts[i], "*") ? 1 : r->hosts[i][0] == '*' ? 2 : 3;
        if (sc > best)
            best = sc;
    }
    return best;
}

static bool on_listener(const rt_route *r, uint64_t id)
{
    if (!r->nlisteners)
        return true;
    for (size_t i = 0; i < r->nlisteners; i++)
        if (r->listener_ids && r->listener_ids[i] == id)
            return true;
    return false;
}

const rt_route *rt_route_find(const rt_snapshot *s, const rt_reqview *q)
{
    const rt_route *best = NULL;
    size_t best_len = 0;
    int best_host = 0;
    for (size_t i = 0; i < s->nroutes; i++) {
        const rt_route *r = &s->routes[i];
        if (!on_listener(r, q->listener_id))
            continue;
        size_t pl = r->path_prefix_len;
        if (pl > q->path_len || memcmp(r->path_prefix, q->path, pl))
            continue;
        int hs = host_score(r, q);
        if (hs < 0)
            continue;
        if (!best || pl > best_len || (pl == best_len && hs > best_host)) {
            best = r;
            best_len = pl;
            best_host = hs;
        }
    }
    return best;
}

bool rt_strmatch_test(const rt_strmatch *m, const char *v, size_t n)
{
    size_t vl = m->value ? strlen(m->value) : 0;
    switch (m->kind) {
    case RT_SM_PRESENT:
        return true;
    case RT_SM_EXACT:
        return n == vl && !memcmp(v, m->value, n);
    case RT_SM_PREFIX:
        return n >= vl && !memcmp(v, m->value, vl);
    case RT_SM_SUFFIX:
        return n >= vl && !memcmp(v + n - vl, m->value, vl);
    case RT_SM_REGEX: {
        if (!m->compiled)
            return false;
        char buf[1024];
        if (n >= sizeof buf || memchr(v, 0, n))
            return false;
        memcpy(buf, v, n);
        buf[n] = 0;
        return regexec(&m->re, buf, 0, NULL, 0) == 0;
    }
    }
    return false;
}

static bool header_matches(const rt_reqview *q, const rt_strmatch *m)
{
    size_t nl = strlen(m->name);
    for (size_t i = 0; i < q->nheaders; i++) {
        const rt_header *h = &q->headers[i];
        if (h->nlen == nl && !strncasecmp(h->name, m->name, nl) &&
            rt_strmatch_test(m, h->value, h->vlen))
            return true;
    }
    return false;
}

/* Walks "a=b; c=d" pairs of every Cookie header. */
static bool cookie_next(const char **p, const char *end, const char **n, size_t *nl,
                        const char **v, size_t *vl)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == ';' || *s == '\t'))
        s++;
    if (s >= end)
        return false;
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *e = semi ? semi : end;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    *n = s;
    *nl = (size_t)((eq ? eq : e) - s);
    while (*nl && (s[*nl - 1] == ' ' || s[*nl - 1] == '\t'))
        (*nl)--;
    if (eq) {
        *v = eq + 1;
        *vl = (size_t)(e - eq - 1);
        while (*vl && (**v == ' ' || **v == '\t'))
            (*v)++, (*vl)--;
        while (*vl && ((*v)[*vl - 1] == ' ' || (*v)[*vl - 1] == '\t'))
            (*vl)--;
        if (*vl >= 2 && (*v)[0] == '"' && (*v)[*vl - 1] == '"')
            (*v)++, *vl -= 2;
    } else {
        *v = e;
        *vl = 0;
    }
    *p = e;
    return true;
}

bool rt_cookie_find(const rt_reqview *q, const char *name, const char **val, size_t *vlen)
{
    size_t want = strlen(name);
    for (size_t i = 0; i < q->nheaders; i++) {
        const rt_header *h = &q->headers[i];
        if (h->nlen != 6 || strncasecmp(h->name, "cookie", 6))
            continue;
        const char *p = h->value, *end = h->value + h->vlen, *n, *v;
        size_t nl, vl;
        while (cookie_next(&p, end, &n, &nl, &v, &vl))
            if (nl == want && !memcmp(n, name, nl)) {
                *val = v;
                *vlen = vl;
                return true;
            }
    }
    return false;
}

static bool cookie_matches(const rt_reqview *q, const rt_strmatch *m)
{
    const char *v;
    size_t vl;
    return rt_cookie_find(q, m->name, &v, &vl) && rt_strmatch_test(m, v, vl);
}

static bool query_matches(const rt_reqview *q, const rt_strmatch *m)
{
    const char *p = q->query, *end = q->query + q->query_len;
    size_t want = strlen(m->name);
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        size_t nl = (size_t)((eq ? eq : e) - p);
        const char *v = eq ? eq + 1 : e;
        if (nl == want && !memcmp(p, m->name, nl) && rt_strmatch_test(m, v, (size_t)(e - v)))
            return true;
        p = amp ? amp + 1 : end;
    }
    return false;
}

bool rt_match_request(const rt_match *m, const rt_reqview *q)
{
    if (m->method && (strlen(m->method) != q->method_len ||
                      memcmp(m->method, q->method, q->method_len)))
        return false;
    if (m->uri && !rt_strmatch_test(m->uri, q->path, q->path_len))
        return false;
    for (size_t i = 0; i < m->nheaders; i++)
        if (!header_matches(q, &m->headers[i]))
            return false;
    for (size_t i = 0; i < m->ncookies; i++)
        if (!cookie_matches(q, &m->cookies[i]))
            return false;
    for (size_t i = 0; i < m->nquery; i++)
        if (!query_matches(q, &m->query[i]))
            return false;
    return true;
}

static bool has_cookie(const rt_reqview *q, const char *name, const char *value)
{
    const char *v;
    size_t vl;
    return name && value && rt_cookie_find(q, name, &v, &vl) && vl == strlen(value) &&
           !memcmp(v, value, vl);
}

static const char *previous_cookie_line(const rt_affinity *a, const rt_reqview *q)
{
    for (size_t i = 0; i < a->nprevious; i++)
        if (has_cookie(q, a->previous_names[i], a->previous_values[i]))
            return a->set_expire[i];
    return NULL;
}

/* Flagger's model: without match rules the weight splits every request;
 * with match rules it splits the matching requests and the others always
 * go to the primary (during an A/B test the controller sets weight 100).
 * A valid session-affinity cookie pins a request to the canary (or, with
 * primaryCookieName, to the primary) while the canary has weight. */
void rt_route_decide(const rt_route *rt, const rt_reqview *q, uint32_t rnd_weight,
                     uint32_t rnd_mirror, rt_decision *d)
{
    memset(d, 0, sizeof *d);
    const rt_affinity *a = &rt->affinity;
    bool canary_live = rt->weight > 0;
    bool eligible = rt->nmatches == 0;
    for (size_t i = 0; i < rt->nmatches && !eligible; i++)
        eligible = rt_match_request(&rt->matches[i], q);
    if (a->enabled) {
        if (has_cookie(q, a->cookie_name, a->cookie_value)) {
            if (canary_live) {
                d->role = RT_CANARY;
                d->why = RT_WHY_COOKIE;
                return;
            }
            /* the canary is gone (promoted or rolled back): expire it */
            d->cookie = RT_COOKIE_EXPIRE;
            d->expire_line = a->expire_current;
        } else if (canary_live && a->primary_cookie_name &&
                   has_cookie(q, a->primary_cookie_name, a->primary_cookie_value)) {
            d->role = RT_PRIMARY;
            d->why = RT_WHY_PRIMARY_COOKIE;
            goto mirror;
        } else {
            const char *line = previous_cookie_line(a, q);
            if (line) {
                d->cookie = RT_COOKIE_EXPIRE;
                d->expire_line = line;
            }
        }
    }
    if (!eligible) {
        d->role = RT_PRIMARY;
        d->why = RT_WHY_WEIGHT;
        goto mirror;
    }
    d->why = rt->nmatches ? RT_WHY_MATCH : RT_WHY_WEIGHT;
    d->role = (rnd_weight % 100u) < (uint32_t)rt->weight ? RT_CANARY : RT_PRIMARY;
    if (a->enabled && d->cookie == RT_COOKIE_NONE && canary_live)
        d->cookie = d->role == RT_CANARY ? RT_COOKIE_CANARY
                    : a->primary_cookie_name ? RT_COOKIE_PRIMARY
                                             : RT_COOKIE_NONE;
mirror:
    if (d->role == RT_PRIMARY && rt->mirror && (rnd_mirror % 100u) < (uint32_t)rt->mirror_weight)
        d->mirror = true;
}

rt_backend *rt_group_pick(rt_group *g, int worker, int64_t now_ms, const rt_backend *avoid)
{
    size_t n = g->nbackends;
    if (!n)
        return NULL;
    uint32_t start = g->rr[worker];
    rt_backend *fallback = NULL;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        rt_backend *b = &g->backends[i];
        if (b->state != RT_BE_UP || !b->ep || !rt_endpoint_available(b->ep, now_ms))
            continue;
        if (b == avoid) {
            fallback = b;
            continue;
        }
        g->rr[worker] = (uint32_t)(i + 1);
        return b;
    }
    return fallback;
}
