/* table.h - the routing table: an immutable snapshot of the router's
 * configuration (listeners, routes with their match rules, weights,
 * mirror and session-affinity settings, backend groups) plus references
 * to the long-lived stats objects and endpoints it routes to.
 *
 * Lifecycle: rt_config_decode (config.c, pure) builds a snapshot from
 * JSON; rt_table_activate (table.c, control thread) binds it to
 * listeners, endpoints and stats; rt_table_publish swaps it in atomically.
 * Workers read the current snapshot without locks on the data path and
 * keep the one each request started with until it completes, so a change
 * never affects an in-flight request. Snapshots are never modified after
 * publication. */
#ifndef CD_ROUTER_TABLE_H
#define CD_ROUTER_TABLE_H
#include "router/io/addr.h"
#include "router/stats/stats.h"
#include "util/arena.h"
#include <jansson.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { RT_SM_EXACT, RT_SM_PREFIX, RT_SM_SUFFIX, RT_SM_REGEX, RT_SM_PRESENT } rt_sm_kind;

typedef struct rt_strmatch {
    char *name;             /* header/cookie/query name (NULL for uri) */
    rt_sm_kind kind;
    char *value;
    regex_t re;             /* kind == RT_SM_REGEX, anchored */
    bool compiled;
} rt_strmatch;

/* One entry of a route's match list: every condition must hold. */
typedef struct rt_match {
    rt_strmatch *headers; size_t nheaders;
    rt_strmatch *cookies; size_t ncookies;
    rt_strmatch *query;   size_t nquery;
    rt_strmatch *uri;                       /* NULL: any */
    char *method;                           /* NULL: any */
} rt_match;

typedef struct rt_affinity {
    bool enabled;
    char *cookie_name, *cookie_value;
    int64_t max_age;
    char *domain, *path, *same_site;
    bool secure, http_only, partitioned;
    char *primary_cookie_name, *primary_cookie_value;
    int64_t primary_max_age;
    char **previous;        /* "name=value" cookies to expire */
    size_t nprevious;
    char **previous_names, **previous_values; /* previous[] split at '=' */
    /* prebuilt "Set-Cookie: ...\r\n" lines */
    char *set_canary, *set_primary;
    char **set_expire;      /* one per previous cookie, and the current one */
    char *expire_current;
} rt_affinity;

typedef enum { RT_BE_UP, RT_BE_DRAIN, RT_BE_DOWN } rt_be_state;

typedef struct rt_backend {
    char *address;
    rt_be_state state;
    char **label_names, **label_values;
    size_t nlabels;
    char *pod_name;         /* kubernetes_pod_name used in metrics */
    rt_endpoint *ep;        /* set by rt_table_activate */
    rt_bstats *stats;
    rt_bstats *mirror_stats;    /* when the route mirrors (canary group) */
} rt_backend;

typedef struct rt_healthcheck {
    bool enabled;
    char *path;
    int64_t interval_ms, timeout_ms;
    int healthy_threshold, unhealthy_threshold;
} rt_healthcheck;

typedef enum { RT_PRIMARY = 0, RT_CANARY = 1, RT_MIRROR = 2 } rt_role;
extern const char *const rt_role_names[3];

typedef struct rt_group {
    char *revision;         /* pod-template-hash-like token for pod names */
    rt_backend *backends;
    size_t nbackends;
    rt_healthcheck check;
    rt_gstats *stats;       /* set by rt_table_activate */
    uint32_t rr[RT_MAX_WORKERS];    /* round-robin cursor, one per worker */
} rt_group;

#define RT_RETRY_CONNECT  1u
#define RT_RETRY_RESET    2u
#define RT_RETRY_GATEWAY  4u    /* 502, 503, 504 responses */
#define RT_RETRY_5XX      8u    /* any 5xx response */

typedef struct rt_route {
    char *name;
    char **listeners;       /* names; NULL/0 = every listener */
    size_t nlisteners;
    uint64_t *listener_ids; /* resolved by rt_table_activate */
    char **hosts;           /* lower-case; "*.example.com"; none = any */
    size_t nhosts;
    char *path_prefix;
    size_t path_prefix_len;
    char *ns, *target;
    int weight;             /* canary share 0..100 */
    bool mirror;
    int mirror_weight;      /* share of primary requests copied, 0..100 */
    rt_match *matches;
    size_t nmatches;
    rt_affinity affinity;
    int retry_attempts;
    int64_t per_try_timeout_ms;     /* 0: none */
    unsigned retry_on;
    int64_t timeout_ms;             /* 0: none */
    int64_t connect_timeout_ms;     /* 0: the router's default */
    rt_group groups[2];             /* RT_PRIMARY, RT_CANARY */
    rt_gstats *mirror_stats;
} rt_route;

typedef struct rt_listener_cfg {
    char *name;
    char *address;
} rt_listener_cfg;

/* A listening socket shared by every worker; kept across snapshots. */
typedef struct rt_listener {
    atomic_int refs;
    uint64_t id;
    char *name;
    char *address;
    rt_addr addr;
    int fd;
    bool from_flags;        /* --listen: not part of the JSON config */
} rt_listener;

typedef struct rt_snapshot {
    atomic_int refs;
    cd_arena arena;         /* every string and array below */
    uint64_t version;
    json_t *doc;            /* normalized configuration (GET /config) */
    rt_listener_cfg *lcfg;
    size_t nlcfg;
    rt_listener **listeners;    /* bound: flags first, then config */
    size_t nlisteners;
    rt_route *routes;
    size_t nroutes;
    bool activated;
    /* set by rt_table_activate when a configured listener cannot be
     * bound: its index in lcfg (-1: none) and the errno (EADDRINUSE...) */
    long bind_failed;
    int bind_errno;
} rt_snapshot;

/* ---- config.c (pure) ---- */

/* Decodes and validates a configuration document. On error returns NULL
 * and sets *errors to a JSON array of {"path": ..., "message": ...}.
 * prev (may be NULL) supplies generated values to keep, such as session
 * affinity cookie values. Never binds, connects or resolves names. */
rt_snapshot *rt_config_decode(const json_t *doc, const rt_snapshot *prev, json_t **errors);
/* Frees a snapshot that was decoded but never activated. */
void rt_snapshot_free_decoded(rt_snapshot *s);
/* The normalized JSON of a route (for GET /routes/NAME). */
json_t *rt_config_route_json(const rt_snapshot *s, const char *name);

/* ---- table.c ---- */

/* Binds listeners (reusing open ones by address, or taking inherited fds
 * from the fd table), resolves backend addresses, and attaches endpoints
 * and stats. On error, releases what it took and returns false with a
 * message. Control thread. */
bool rt_table_activate(rt_snapshot *s, const rt_snapshot *current, char *err, size_t errlen);
void rt_snapshot_retain(rt_snapshot *s);
void rt_snapshot_release(rt_snapshot *s);

/* Listeners given on the command line (--listen), always present. */
bool rt_table_add_flag_listener(const char *name, const char *address, char *err, size_t errlen);
/* Sockets received from a previous router (takeover), matched by address
 * when listeners are bound. */
void rt_table_add_inherited_fd(const char *address, int fd);
void rt_table_close_unused_inherited(void);

/* The published snapshot. */
void rt_table_publish(rt_snapshot *s);          /* takes the caller's reference */
rt_snapshot *rt_table_acquire(void);            /* new reference to the current one */
uint64_t rt_table_version(void);                /* cheap, lock-free */
void rt_table_set_publish_hook(void (*fn)(void));
void rt_table_shutdown(void);

/* Every listener of the current snapshot (new references). */
size_t rt_table_listeners(rt_listener ***out);
void rt_listener_release(rt_listener *l);
/* Closes every listening socket (drain: new connections are refused;
 * a successor that took them over keeps its own copies). */
void rt_table_close_listener_fds(void);
/* Closes the sockets of listeners of old that next no longer has (every
 * worker must have moved to next). */
void rt_table_close_removed_listeners(rt_snapshot *old, const rt_snapshot *next);

/* ---- route.c (pure) ---- */

typedef struct rt_header { const char *name, *value; uint32_t nlen, vlen; } rt_header;

/* The request as routing sees it. */
typedef struct rt_reqview {
    const char *method; size_t method_len;
    const char *path; size_t path_len;      /* without the query */
    const char *query; size_t query_len;    /* after '?', may be empty */
    const char *host; size_t host_len;      /* without port, as received */
    const rt_header *headers; size_t nheaders;
    uint64_t listener_id;
} rt_reqview;

typedef enum {
    RT_WHY_WEIGHT, RT_WHY_MATCH, RT_WHY_COOKIE, RT_WHY_PRIMARY_COOKIE,
} rt_why;

typedef enum { RT_COOKIE_NONE, RT_COOKIE_CANARY, RT_COOKIE_PRIMARY, RT_COOKIE_EXPIRE } rt_cookie_action;

typedef struct rt_decision {
    rt_role role;           /* RT_PRIMARY or RT_CANARY */
    rt_why why;
    bool mirror;
    rt_cookie_action cookie;
    const char *expire_line;    /* Set-Cookie line when cookie == EXPIRE */
} rt_decision;

const rt_route *rt_route_find(const rt_snapshot *s, const rt_reqview *r);
/* rnd: two independent uniform random numbers. */
void rt_route_decide(const rt_route *rt, const rt_reqview *r, uint32_t rnd_weight,
                     uint32_t rnd_mirror, rt_decision *d);
bool rt_match_request(const rt_match *m, const rt_reqview *r);
bool rt_strmatch_test(const rt_strmatch *m, const char *v, size_t n);
/* Value of cookie name in the request's Cookie headers. */
bool rt_cookie_find(const rt_reqview *r, const char *name, const char **val, size_t *vlen);
bool rt_host_match(const char *pattern, const char *host, size_t hlen);

/* Picks a backend of g available now (round robin per worker, skipping
 * backends that are down, draining or ejected, and `avoid`). NULL when
 * none is available. */
rt_backend *rt_group_pick(rt_group *g, int worker, int64_t now_ms, const rt_backend *avoid);

#endif
