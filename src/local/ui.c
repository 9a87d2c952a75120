/* ui.c - the web dashboard on canaryd local's API listener (docs/
 * dashboard.md): sessions, the /ui routes, and the rules that keep a web
 * page from making canaryd do anything (docs/security.md):
 *
 *   - a page needs the API's right: a session cookie (HttpOnly,
 *     SameSite=Strict, Path=/ui) got by signing in with the API's token,
 *     or the token in an Authorization header (read-only pages), or a
 *     Unix socket (read-only pages: its mode decided);
 *   - the listener's Host and Origin rules hold for every /ui request;
 *   - a form (sign in, promote, abort, sign out) must come with an Origin
 *     naming this server, as application/x-www-form-urlencoded of at most
 *     UI_FORM_MAX bytes; promote, abort and sign out also need the
 *     session's CSRF token (compared in constant time);
 *   - every page is escaped HTML with a script-free Content-Security-
 *     Policy, no caching, no referrer and no framing.
 *
 * Never logs a token, a session id or a CSRF token. */
#include "local/ui.h"
#include "util/access.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "web/dashboard.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define UI_BASE "/ui"
#define UI_SESSIONS 32                      /* the oldest is replaced beyond */
#define UI_SESSION_MS (12LL * 3600 * 1000)  /* a session lasts 12 hours */
#define UI_FORM_MAX 4096                    /* bytes of a form body */
#define UI_REFRESH_S 5                      /* pages reload themselves this often */

typedef struct ui_session {
    char id[65], csrf[65];
    int64_t expires_ms;                     /* 0: a free slot */
    char notice[700];                       /* shown once on the next page */
} ui_session;

struct lc_ui {
    lc_api *api;
    cd_local *L;
    const char *token;                      /* NULL: Unix socket */
    char cookie[64];                        /* the session cookie's name */
    pthread_mutex_t mu;
    ui_session sessions[UI_SESSIONS];
};

lc_ui *lc_ui_new(lc_api *api, cd_local *L, const char *token, const char *address)
{
    lc_ui *ui = calloc(1, sizeof *ui);
    if (!ui)
        abort();
    ui->api = api;
    ui->L = L;
    ui->token = token;
    /* cookies do not tell ports apart: one name per API port, so that two
     * canaryd local on one host keep their sessions */
    const char *colon = strrchr(address, ':');
    int port = colon && strncmp(address, "unix:", 5) ? atoi(colon + 1) : 0;
    snprintf(ui->cookie, sizeof ui->cookie, "canaryd_ui_%d", port);
    pthread_mutex_init(&ui->mu, NULL);
    return ui;
}

void lc_ui_free(lc_ui *ui)
{
    if (!ui)
        return;
    pthread_mutex_destroy(&ui->mu);
    memset(ui->sessions, 0, sizeof ui->sessions);
    free(ui);
}

bool lc_ui_path(const char *url)
{
    return !strncmp(url, UI_BASE, 3) && (url[3] == 0 || url[3] == '/');
}

/* ---- sessions (ui->mu held) ---------------------------------------------- */

static ui_session *session_find(lc_ui *ui, const char *id)
{
    int64_t now = cd_wall_ms();
    if (!id || strlen(id) != 64)
        return NULL;
    for (size_t i = 0; i < UI_SESSIONS; i++) {
        ui_session *s = &ui->sessions[i];
        if (s->expires_ms > now && cd_token_equal(id, 64, s->id))
            return s;
    }
    return NULL;
}

static ui_session *session_new(lc_ui *ui)
{
    ui_session *s = &ui->sessions[0];
    for (size_t i = 1; i < UI_SESSIONS; i++)   /* a free or expired slot, else the oldest */
        if (ui->sessions[i].expires_ms < s->expires_ms)
            s = &ui->sessions[i];
    memset(s, 0, sizeof *s);
    if (!cd_token_generate(s->id, sizeof s->id) || !cd_token_generate(s->csrf, sizeof s->csrf)) {
        memset(s, 0, sizeof *s);
        return NULL;
    }
    s->expires_ms = cd_wall_ms() + UI_SESSION_MS;
    return s;
}

/* ---- requests ------------------------------------------------------------ */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static bool is_form_post(const char *method, const char *url)
{
    (void)url;
    return !strcmp(method, "POST");
}

unsigned lc_ui_admit(lc_ui *ui, struct MHD_Connection *conn, const char *url, const char *method,
                     cd_access_policy p, char *why, size_t whylen)
{
    p.token = NULL;           /* checked per page: a session or the Authorization header */
    p.require_json = false;   /* the forms are checked here */
    unsigned st = cd_httpd_check_access(conn, method, &p, why, whylen);
    if (st)
        return st;
    if (!cd_method_changes_state(method))
        return 0;
    if (!is_form_post(method, url)) {
        snprintf(why, whylen, "the dashboard takes GET and form POSTs only");
        return 405;
    }
    if (!header(conn, "Origin")) {   /* browsers send it with every form POST */
        snprintf(why, whylen, "a dashboard form needs an Origin header naming this server");
        return 403;
    }
    if (!cd_media_type_is(header(conn, "Content-Type"), "application/x-www-form-urlencoded")) {
        snprintf(why, whylen, "a dashboard form is application/x-www-form-urlencoded");
        return 415;
    }
    const char *cl = header(conn, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > UI_FORM_MAX) {
        snprintf(why, whylen, "a dashboard form is at most %d bytes", UI_FORM_MAX);
        return 413;
    }
    if (!strcmp(url, UI_BASE "/login"))
        return 0;
    pthread_mutex_lock(&ui->mu);
    bool ok = ui->token && session_find(ui, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
                                                                        ui->cookie));
    pthread_mutex_unlock(&ui->mu);
    if (!ok) {
        snprintf(why, whylen, "sign in to the dashboard first (%s/login)", UI_BASE);
        return 401;
    }
    return 0;
}

/* The value of field in an application/x-www-form-urlencoded body,
 * decoded into out; false when absent or too long. */
static bool form_value(const char *body, size_t len, const char *field, char *out, size_t cap)
{
    size_t fl = strlen(field);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > fl && !strncmp(p, field, fl) && p[fl] == '=') {
            size_t o = 0;
            for (const char *q = p + fl + 1; q < stop; q++) {
                int ch = (unsigned char)*q;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && stop - q > 2) {
                    char hex[3] = {q[1], q[2], 0};
                    char *e;
                    long v = strtol(hex, &e, 16);
                    if (*e || v <= 0)
                        return false;
                    ch = (int)v;
                    q += 2;
                }
                if (o + 1 >= cap)
                    return false;
                out[o++] = (char)ch;
            }
            out[o] = 0;
            return true;
        }
        p = stop + 1;
    }
    return false;
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len, const char *location,
                             const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(body ? body : ""),
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", CD_WEB_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (location)
        MHD_add_response_header(r, "Location", location);
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result html(struct MHD_Connection *conn, unsigned status, cd_buf *b)
{
    enum MHD_Result r = reply(conn, status, "text/html; charset=utf-8", b->data, b->len, NULL, NULL);
    cd_buf_free(b);
    return r;
}

static enum MHD_Result see_other(struct MHD_Connection *conn, const char *location,
                                 const char *cookie)
{
    return reply(conn, 303, "text/plain; charset=utf-8", "", 0, location, cookie);
}

static enum MHD_Result message(struct MHD_Connection *conn, unsigned status, const char *title,
                               const char *text)
{
    cd_web_page o = {.base = UI_BASE};
    cd_buf b = CD_BUF_INIT;
    cd_web_message(&b, &o, title, text);
    return html(conn, status, &b);
}

/* ---- who is asking ------------------------------------------------------- */

typedef struct asker {
    bool allowed;
    ui_session copy;        /* of the session (when has_session) */
    bool has_session;
} asker;

/* The right to see pages: a session, the token in an Authorization
 * header, or the Unix socket. A session's one-shot notice is taken. */
static asker who(lc_ui *ui, struct MHD_Connection *conn)
{
    asker a = {0};
    if (!ui->token) {
        a.allowed = true;
        return a;
    }
    pthread_mutex_lock(&ui->mu);
    ui_session *s = session_find(ui, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, ui->cookie));
    if (s) {
        a.copy = *s;
        s->notice[0] = 0;
        a.allowed = a.has_session = true;
    }
    pthread_mutex_unlock(&ui->mu);
    char cred[CD_TOKEN_MAX + 1];
    if (!a.allowed && cd_authorization_credential(header(conn, "Authorization"), cred, sizeof cred))
        a.allowed = cd_token_equal(cred, strlen(cred), ui->token);
    memset(cred, 0, sizeof cred);
    return a;
}

/* ---- pages --------------------------------------------------------------- */

static enum MHD_Result list_page(lc_ui *ui, struct MHD_Connection *conn, const asker *a)
{
    json_t *items = json_array();
    pthread_mutex_lock(&ui->L->lock);
    for (size_t i = 0; i < ui->L->ncanaries; i++)
        json_array_append_new(items, lc_canary_json(ui->L->canaries[i], false));
    pthread_mutex_unlock(&ui->L->lock);
    cd_web_page o = {.base = UI_BASE,
                     .csrf = a->has_session ? a->copy.csrf : NULL,
                     .notice = a->has_session ? a->copy.notice : NULL,
                     .refresh_s = UI_REFRESH_S};
    cd_buf b = CD_BUF_INIT;
    cd_web_list(&b, items, &o);
    json_decref(items);
    return html(conn, 200, &b);
}

static enum MHD_Result canary_page(lc_ui *ui, struct MHD_Connection *conn, const asker *a,
                                   const char *ns, const char *name)
{
    pthread_mutex_lock(&ui->L->lock);
    lc_canary *c = lc_find_canary(ui->L, ns, name);
    json_t *detail = c ? lc_canary_json(c, true) : NULL;
    json_t *history = c ? lc_history_json(c) : NULL;
    pthread_mutex_unlock(&ui->L->lock);
    if (!c)
        return message(conn, 404, "Not found", "There is no such canary.");
    cd_web_page o = {.base = UI_BASE,
                     .csrf = a->has_session ? a->copy.csrf : NULL,
                     .notice = a->has_session ? a->copy.notice : NULL,
                     .refresh_s = UI_REFRESH_S,
                     .now_ms = cd_wall_ms()};
    cd_buf b = CD_BUF_INIT;
    cd_web_canary(&b, detail, history, &o);
    json_decref(detail);
    json_decref(history);
    return html(conn, 200, &b);
}

static enum MHD_Result login_page(struct MHD_Connection *conn, unsigned status, const char *error)
{
    cd_web_page o = {.base = UI_BASE};
    cd_buf b = CD_BUF_INIT;
    cd_web_login(&b, &o, error);
    return html(conn, status, &b);
}

/* Where to go after signing in: next when it is a dashboard page (never
 * another site: "/ui/..." without "//" or a backslash), else the list. */
static const char *after_sign_in(const char *next)
{
    if (next && !strncmp(next, UI_BASE "/", 4) && !strstr(next, "//") && !strchr(next, '\\') &&
        strlen(next) < 600) {
        for (const char *p = next; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                return UI_BASE "/";
        return next;
    }
    return UI_BASE "/";
}

/* A token given (form field, or ?token= of a link such as the docs show):
 * a new session and its cookie, then the page asked for (?next=). */
static enum MHD_Result sign_in(lc_ui *ui, struct MHD_Connection *conn, const char *given,
                               const char *next)
{
    if (!ui->token)
        return message(conn, 404, "No sign-in here",
                       "This API listens on a Unix socket: its mode decides who may use it.");
    if (!given || !cd_token_equal(given, strlen(given), ui->token))
        return login_page(conn, 401, "That is not the API's token.");
    char cookie[256];
    pthread_mutex_lock(&ui->mu);
    ui_session *s = session_new(ui);
    if (s)
        snprintf(cookie, sizeof cookie,
                 "%s=%s; Path=" UI_BASE "; HttpOnly; SameSite=Strict; Max-Age=%lld", ui->cookie,
                 s->id, UI_SESSION_MS / 1000);
    pthread_mutex_unlock(&ui->mu);
    if (!s)
        return message(conn, 500, "Cannot sign in", "No random numbers for a session.");
    enum MHD_Result r = see_other(conn, after_sign_in(next), cookie);
    memset(cookie, 0, sizeof cookie);
    return r;
}

/* A form of a signed-in session: its CSRF token must match. */
static bool csrf_ok(lc_ui *ui, struct MHD_Connection *conn, cd_httpd_request *rq)
{
    char given[80];
    if (!form_value(cd_buf_str(&rq->body), rq->body.len, "csrf", given, sizeof given))
        return false;
    pthread_mutex_lock(&ui->mu);
    ui_session *s = session_find(ui, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, ui->cookie));
    bool ok = s && cd_token_equal(given, strlen(given), s->csrf);
    pthread_mutex_unlock(&ui->mu);
    return ok;
}

static void set_notice(lc_ui *ui, struct MHD_Connection *conn, const char *text)
{
    pthread_mutex_lock(&ui->mu);
    ui_session *s = session_find(ui, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, ui->cookie));
    if (s)
        snprintf(s->notice, sizeof s->notice, "%s", text);
    pthread_mutex_unlock(&ui->mu);
}

static enum MHD_Result sign_out(lc_ui *ui, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&ui->mu);
    ui_session *s = session_find(ui, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, ui->cookie));
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&ui->mu);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "%s=; Path=" UI_BASE "; HttpOnly; SameSite=Strict; Max-Age=0",
             ui->cookie);
    return see_other(conn, UI_BASE "/login", cookie);
}

/* POST /ui/canaries/NS/NAME/(promote|abort): as canaryctl's, then back to
 * the canary's page with what happened. */
static enum MHD_Result button(lc_ui *ui, struct MHD_Connection *conn, const char *ns,
                              const char *name, const char *action)
{
    if (strcmp(action, "promote") && strcmp(action, "abort"))
        return message(conn, 404, "Not found", "The dashboard's buttons are promote and abort.");
    char msg[600], notice[690];
    unsigned code = lc_api_act(ui->api, ns, name, action, msg, sizeof msg);
    if (code == 404)
        return message(conn, 404, "Not found", "There is no such canary.");
    snprintf(notice, sizeof notice, "%s: %s", action, msg);
    set_notice(ui, conn, notice);
    cd_info("local: dashboard: %s %s.%s (%u)", action, name, ns, code);
    cd_buf loc = CD_BUF_INIT;
    cd_buf_puts(&loc, UI_BASE "/canaries/");
    cd_web_path_segment(&loc, ns);
    cd_buf_putc(&loc, '/');
    cd_web_path_segment(&loc, name);
    enum MHD_Result r = see_other(conn, loc.data, NULL);
    cd_buf_free(&loc);
    return r;
}

enum MHD_Result lc_ui_handle(lc_ui *ui, struct MHD_Connection *conn, const char *url,
                             const char *method, cd_httpd_request *rq)
{
    bool post = !strcmp(method, "POST");
    const char *rest = url + 3;   /* after "/ui" */
    if (!strncmp(rest, "/static/", 8) && !post) {
        const char *data, *type;
        size_t len;
        if (!cd_web_static(rest + 8, &data, &len, &type))
            return message(conn, 404, "Not found", "No such file.");
        return reply(conn, 200, type, data, len, NULL, NULL);
    }
    if (post && rq->body.len > UI_FORM_MAX)
        return message(conn, 413, "Too large", "A dashboard form is at most 4096 bytes.");
    if (!strcmp(rest, "/login")) {
        char given[CD_TOKEN_MAX + 1];
        bool have = post ? form_value(cd_buf_str(&rq->body), rq->body.len, "token", given,
                                      sizeof given)
                         : false;
        const char *q = post ? NULL
                             : MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
        enum MHD_Result r;
        const char *next = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "next");
        if (post)
            r = sign_in(ui, conn, have ? given : NULL, next);
        else if (q)
            r = sign_in(ui, conn, q, next);
        else
            r = ui->token ? login_page(conn, 200, NULL) : see_other(conn, UI_BASE "/", NULL);
        memset(given, 0, sizeof given);
        return r;
    }
    asker a = who(ui, conn);
    if (!a.allowed)
        return post ? message(conn, 401, "Sign in first", "Sign in to the dashboard first.")
                    : see_other(conn, UI_BASE "/login", NULL);
    if (post) {
        if (!a.has_session || !csrf_ok(ui, conn, rq))
            return message(conn, 403, "Refused",
                           "This form is not from this dashboard's page (its CSRF token does "
                           "not match): reload the page and try again.");
        if (!strcmp(rest, "/logout"))
            return sign_out(ui, conn);
        char ns[256], name[256], action[32], extra;
        if (sscanf(rest, "/canaries/%255[^/]/%255[^/]/%31[^/]%c", ns, name, action, &extra) != 3)
            return message(conn, 404, "Not found", "No such form.");
        return button(ui, conn, ns, name, action);
    }
    if (!*rest)
        return see_other(conn, UI_BASE "/", NULL);
    if (!strcmp(rest, "/"))
        return list_page(ui, conn, &a);
    char ns[256], name[256], extra;
    if (sscanf(rest, "/canaries/%255[^/]/%255[^/]%c", ns, name, &extra) == 2)
        return canary_page(ui, conn, &a, ns, name);
    return message(conn, 404, "Not found", "No such page.");
}
