/* local_client.c - see local_client.h. One blocking request at a time over
 * net/http (libcurl), 10 s timeout. */
#include "cli/local_client.h"
#include "net/http.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const cd_flag_env_doc cd_api_env_docs[] = {
    {"CANARYD_TOKEN", "the token of a TCP API when --token-file is not given"},
    {"XDG_RUNTIME_DIR", "where the default socket and published tokens are (else /tmp/canaryd-UID)"},
    {NULL, NULL},
};

/* The token for a TCP server: --token-file, $CANARYD_TOKEN, or the file
 * canaryd local published for this address. */
static bool find_token(cd_api_client *c, const char *hostport, const char *token_file)
{
    char err[400] = "";
    if (token_file) {
        if (!cd_token_read_file(token_file, c->token, sizeof c->token, NULL, err, sizeof err)) {
            fprintf(stderr, "canaryctl: --token-file: %s\n", err);
            return false;
        }
        snprintf(c->token_hint, sizeof c->token_hint, "the token in %.250s", token_file);
        return true;
    }
    if (cd_token_from_env(CD_ENV_TOKEN, c->token, sizeof c->token, err, sizeof err)) {
        snprintf(c->token_hint, sizeof c->token_hint, "$%s", CD_ENV_TOKEN);
        return true;
    }
    if (err[0]) {
        fprintf(stderr, "canaryctl: %s\n", err);
        return false;
    }
    char path[4200];
    if (cd_local_token_path(hostport, path, sizeof path, err, sizeof err) &&
        access(path, F_OK) == 0) {
        if (!cd_token_read_file(path, c->token, sizeof c->token, NULL, err, sizeof err)) {
            fprintf(stderr, "canaryctl: %s\n", err);
            return false;
        }
        snprintf(c->token_hint, sizeof c->token_hint, "the token in %.250s", path);
    }
    return true;
}

bool cd_api_client_init(cd_api_client *c, const char *addr, const char *token_file)
{
    memset(c, 0, sizeof *c);
    if (!addr || !*addr) {
        char def[256], err[400];
        if (!cd_default_local_socket(def, sizeof def, err, sizeof err)) {
            fprintf(stderr, "canaryctl: %s (pass --server ADDR or set $CANARYD_API)\n", err);
            return false;
        }
        snprintf(c->unix_socket, sizeof c->unix_socket, "%.255s", def);
        snprintf(c->base, sizeof c->base, "http://localhost");
        return true;
    }
    if (!strncmp(addr, "unix:", 5)) {
        snprintf(c->unix_socket, sizeof c->unix_socket, "%s", addr + 5);
        snprintf(c->base, sizeof c->base, "http://localhost");
        return true;
    }
    if (!strncmp(addr, "http://", 7))
        snprintf(c->base, sizeof c->base, "%s", addr);
    else
        snprintf(c->base, sizeof c->base, "http://%s", addr);
    size_t n = strlen(c->base);
    if (n && c->base[n - 1] == '/')
        c->base[n - 1] = '\0';
    return find_token(c, c->base + 7, token_file);
}

/* Why canaryd cannot be reached, in the words a newcomer needs: over the
 * default Unix socket the usual reason is that canaryd local is not
 * running (no socket), or stopped without removing it (refused). */
static void unreachable(const cd_api_client *c, const char *curl_msg, char *out, size_t outlen)
{
    if (!c->unix_socket[0]) {
        snprintf(out, outlen, "cannot reach canaryd at %s: %s (is canaryd local running "
                              "with this --api?)", c->base, curl_msg);
        return;
    }
    struct stat st;
    if (stat(c->unix_socket, &st) != 0 && errno == ENOENT)
        snprintf(out, outlen, "cannot reach canaryd local: no socket at %s (is canaryd local "
                              "--dir DIR running? one started with another --api: pass "
                              "--server unix:PATH or set $CANARYD_API)", c->unix_socket);
    else if (stat(c->unix_socket, &st) == 0 && !S_ISSOCK(st.st_mode))
        snprintf(out, outlen, "cannot reach canaryd local: %s is not a socket", c->unix_socket);
    else if (strstr(curl_msg, "Couldn't connect"))
        snprintf(out, outlen, "cannot reach canaryd local at unix:%s: nothing listens on it "
                              "(canaryd local stopped?)", c->unix_socket);
    else
        snprintf(out, outlen, "cannot reach canaryd local at unix:%s: %s", c->unix_socket,
                 curl_msg);
}

json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    cd_http_request rq;
    cd_http_request_init(&rq, method, url);
    rq.body = body;
    rq.body_len = body_len;
    rq.unix_socket = c->unix_socket[0] ? c->unix_socket : NULL;
    rq.timeout_ms = 10000;
    if (c->token[0] && !rq.unix_socket)
        rq.bearer = c->token;
    cd_err err = {{0}};
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        /* the server refuses state changes without a JSON (or, for a
         * manifest, YAML) media type: a browser cannot send either across
         * origins without asking first */
        bool manifest = !strncmp(path, "/api/v1/apply", 13);
        cd_http_add_header(&rq, "Content-Type", manifest ? "application/yaml" : "application/json",
                           &err);
        if (!rq.body)
            rq.body = "";
    }
    cd_http_response rs;
    bool ok = cd_http_perform(&rq, &rs, &err);
    *status = ok ? rs.status : 0;
    json_t *j = NULL;
    if (ok) {
        j = json_loadb(cd_buf_str(&rs.body), rs.body.len, 0, NULL);
        if (!j && error)
            snprintf(error, errlen, "the server answered %ld without JSON", rs.status);
        if (rs.status == 401 && error) {
            const char *why = json_string_value(json_object_get(j, "error"));
            if (c->token[0])
                snprintf(error, errlen, "canaryd at %s refused %s: %s", c->base, c->token_hint,
                         why ? why : "unauthorized");
            else
                snprintf(error, errlen, "canaryd at %s needs a token: set $%s or pass "
                                        "--token-file FILE (canaryd local writes it to its "
                                        "runtime directory)", c->base, CD_ENV_TOKEN);
            json_decref(j);
            j = NULL;
            *status = 0;   /* as unreachable: every command prints error and exits 2 */
        }
    } else if (error) {
        unreachable(c, err.msg, error, errlen);
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return j;
}

static void escape(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", ch);
    }
    out[o] = '\0';
}

void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name)
{
    char ens[300], ename[300];
    escape(ens, sizeof ens, ns);
    escape(ename, sizeof ename, name);
    snprintf(out, n, "/api/v1/namespaces/%s/canaries/%s", ens, ename);
}
