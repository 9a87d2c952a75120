/* ui.h - the web dashboard on canaryd local's API listener (ui.c; pages
 * from src/web). Internal to src/local/: api.c routes /ui and /ui/... here.
 * Who may see and do what is in docs/dashboard.md and docs/security.md. */
#ifndef CD_LOCAL_UI_H
#define CD_LOCAL_UI_H
#include "local/local.h"
#include "net/httpd.h"

typedef struct lc_ui lc_ui;
typedef struct lc_api lc_api;

/* token: the API's token (NULL on a Unix socket: the socket's mode
 * decided); address: the API's address (names the session cookie). */
lc_ui *lc_ui_new(lc_api *api, cd_local *L, const char *token, const char *address);
void lc_ui_free(lc_ui *ui);

/* True for /ui and everything under it. */
bool lc_ui_path(const char *url);
/* The admission of a /ui request, on its headers (before any body): 0 or
 * the status to refuse with. p: the listener's policy, adjusted here. */
unsigned lc_ui_admit(lc_ui *ui, struct MHD_Connection *conn, const char *url, const char *method,
                     cd_access_policy p, char *why, size_t whylen);
enum MHD_Result lc_ui_handle(lc_ui *ui, struct MHD_Connection *conn, const char *url,
                             const char *method, cd_httpd_request *rq);

/* api.c: promote, abort, hold, hold-rollout, resume on a canary; an HTTP
 * status (202 done, 404, 409 refused, 400) and its message. */
unsigned lc_api_act(lc_api *api, const char *ns, const char *name, const char *action, char *msg,
                    size_t msglen);

#endif
