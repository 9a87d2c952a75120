/* dashboard.h - the web dashboard's pages (docs/dashboard.md), rendered on
 * the server as HTML from the same JSON the API answers (a canary's
 * summary, its detail and its history), so that any listener can serve
 * them: the list, one page per canary with inline SVG charts, the login
 * form. Everything taken from a canary (names come from users' files) is
 * escaped; the pages need no JavaScript and load nothing from elsewhere
 * (CD_WEB_CSP). Rendering only: no I/O, no access decisions (the listener
 * decides who sees a page and whether it carries action buttons). */
#ifndef CD_WEB_DASHBOARD_H
#define CD_WEB_DASHBOARD_H
#include "util/buf.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every dashboard response carries this Content-Security-Policy: nothing
 * but the page itself and its own stylesheet; no script at all. */
#define CD_WEB_CSP                                                                             \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "              \
    "frame-ancestors 'none'; base-uri 'none'"

typedef struct cd_web_page {
    const char *base;       /* where the dashboard is mounted: "/ui" */
    const char *csrf;       /* the session's form token; NULL: read-only, no buttons */
    const char *notice;     /* a line shown above the content (escaped), or NULL */
    int refresh_s;          /* reload every this many seconds (meta refresh); 0: never */
    int64_t now_ms;         /* wall clock: charts run to now (the last value holds); 0: to the last point */
} cd_web_page;

/* HTML-escapes s (& < > " ') into b. */
void cd_web_escape(cd_buf *b, const char *s);
/* Percent-encodes s for a path segment (unreserved characters kept). */
void cd_web_path_segment(cd_buf *b, const char *s);

/* items: the API's canary summaries ({"name", "namespace", "phase",
 * "canaryWeight", "primaryWeight", "failedChecks", "lastTransitionTime"}). */
void cd_web_list(cd_buf *b, const json_t *items, const cd_web_page *o);
/* detail: the API's canary detail (without "events": a pointer to the
 * Kubernetes Events); history: {"metrics": [...], "points": [...]} (empty:
 * the charts say there is no history yet; NULL: that this server keeps
 * none). */
void cd_web_canary(cd_buf *b, const json_t *detail, const json_t *history, const cd_web_page *o);
/* The login form (error: why the last attempt failed, or NULL). */
void cd_web_login(cd_buf *b, const cd_web_page *o, const char *error);
/* A short page: a title and a line of text (both escaped). */
void cd_web_message(cd_buf *b, const cd_web_page *o, const char *title, const char *text);

/* Which buttons a canary in this phase gets: promote opens the promotion
 * gate of a release under analysis; abort rolls one back (as the API,
 * which refuses an abort in any other phase). */
bool cd_web_can_promote(const char *phase);
bool cd_web_can_abort(const char *phase);

/* An embedded static file ("dashboard.css"): false when there is none. */
bool cd_web_static(const char *name, const char **data, size_t *len, const char **type);

#endif
