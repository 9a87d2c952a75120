/* config.c - see config.h. Reads kubeconfig and service-account files;
 * YAML through src/model/node.h (libfyaml), base64 through OpenSSL. Must
 * not contact the API server. */
#include "kube/config.h"
#include "util/redact.h"
#include "model/node.h"
#include "util/buf.h"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_FILE (16u << 20)

static char *dupn(const char *s) { return s ? strdup(s) : NULL; }

static void blob_free(cd_kube_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static bool blob_copy(cd_kube_blob *dst, const cd_kube_blob *src)
{
    dst->data = NULL;
    dst->len = 0;
    if (!src->data)
        return true;
    dst->data = malloc(src->len + 1);
    if (!dst->data)
        return false;
    memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    dst->len = src->len;
    return true;
}

bool cd_kube_base64_decode(const char *s, size_t len, cd_kube_blob *out)
{
    out->data = NULL;
    out->len = 0;
    if (len > (size_t)INT_MAX / 2)
        return false;
    unsigned char *buf = malloc(len / 4 * 3 + 4);
    if (!buf)
        return false;
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    if (!ctx) {
        free(buf);
        return false;
    }
    int n = 0, fin = 0;
    EVP_DecodeInit(ctx);
    int rc = EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)s, (int)len);
    if (rc < 0 || EVP_DecodeFinal(ctx, buf + n, &fin) < 0) {
        EVP_ENCODE_CTX_free(ctx);
        free(buf);
        return false;
    }
    EVP_ENCODE_CTX_free(ctx);
    out->data = buf;
    out->len = (size_t)(n + fin);
    buf[out->len] = 0;
    return true;
}

static void exec_free(cd_kube_exec_config *e)
{
    if (!e)
        return;
    free(e->command);
    for (size_t i = 0; i < e->nargs; i++)
        free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->nenv; i++)
        free(e->env[i]);
    free(e->env);
    free(e->api_version);
    free(e->install_hint);
    free(e->interactive_mode);
    free(e);
}

static cd_kube_exec_config *exec_copy(const cd_kube_exec_config *s)
{
    if (!s)
        return NULL;
    cd_kube_exec_config *e = calloc(1, sizeof *e);
    e->command = dupn(s->command);
    e->args = calloc(s->nargs + 1, sizeof *e->args);
    for (e->nargs = 0; e->nargs < s->nargs; e->nargs++)
        e->args[e->nargs] = dupn(s->args[e->nargs]);
    e->env = calloc(s->nenv + 1, sizeof *e->env);
    for (e->nenv = 0; e->nenv < s->nenv; e->nenv++)
        e->env[e->nenv] = dupn(s->env[e->nenv]);
    e->api_version = dupn(s->api_version);
    e->install_hint = dupn(s->install_hint);
    e->provide_cluster_info = s->provide_cluster_info;
    e->interactive_mode = dupn(s->interactive_mode);
    return e;
}

void cd_kube_config_free(cd_kube_config *c)
{
    if (!c)
        return;
    char **strs[] = {&c->source, &c->context, &c->cluster, &c->user, &c->server, &c->namespace,
                     &c->tls_server_name, &c->proxy_url, &c->ca_file, &c->cert_file, &c->key_file,
                     &c->token, &c->token_file, &c->username, &c->password};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    blob_free(&c->ca_data);
    blob_free(&c->cert_data);
    blob_free(&c->key_data);
    exec_free(c->exec);
    memset(c, 0, sizeof *c);
}

bool cd_kube_config_copy(cd_kube_config *d, const cd_kube_config *s)
{
    memset(d, 0, sizeof *d);
    d->source = dupn(s->source);
    d->context = dupn(s->context);
    d->cluster = dupn(s->cluster);
    d->user = dupn(s->user);
    d->server = dupn(s->server);
    d->namespace = dupn(s->namespace);
    d->insecure_skip_tls_verify = s->insecure_skip_tls_verify;
    d->tls_server_name = dupn(s->tls_server_name);
    d->proxy_url = dupn(s->proxy_url);
    d->ca_file = dupn(s->ca_file);
    d->cert_file = dupn(s->cert_file);
    d->key_file = dupn(s->key_file);
    d->token = dupn(s->token);
    d->token_file = dupn(s->token_file);
    d->username = dupn(s->username);
    d->password = dupn(s->password);
    d->exec = exec_copy(s->exec);
    d->in_cluster = s->in_cluster;
    if (!blob_copy(&d->ca_data, &s->ca_data) || !blob_copy(&d->cert_data, &s->cert_data) ||
        !blob_copy(&d->key_data, &s->key_data)) {
        cd_kube_config_free(d);
        return false;
    }
    return true;
}

/* ---- reading files ------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, int *errnum)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *errnum = errno;
        return NULL;
    }
    cd_buf b = CD_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE) {
            fclose(f);
            cd_buf_free(&b);
            *errnum = EFBIG;
            return NULL;
        }
        cd_buf_append(&b, chunk, n);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        cd_buf_free(&b);
        *errnum = EIO;
        return NULL;
    }
    *len = b.len;
    return cd_buf_steal(&b);
}

static char *resolve(const char *dir, const char *path)
{
    if (!path || !*path)
        return NULL;
    if (path[0] == '/' || !dir || !*dir)
        return strdup(path);
    if (path[0] == '~' && path[1] == '/' && getenv("HOME")) {
        cd_buf b = CD_BUF_INIT;
        cd_buf_printf(&b, "%s/%s", getenv("HOME"), path + 2);
        return cd_buf_steal(&b);
    }
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/%s", dir, path);
    return cd_buf_steal(&b);
}

/* ---- kubeconfig documents -------------------------------------------------- */

/* A kubeconfig parsed to JSON, with relative paths made absolute. */
static json_t *load_doc(const char *data, size_t len, const char *name, const char *dir,
                        cd_kube_err *err)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_stream *s = cd_stream_parse(name, data, len, false, &d);
    json_t *root = NULL;
    if (!s || cd_diags_errors(&d)) {
        char *m = d.n ? cd_diag_format(&d.items[0]) : NULL;
        cd_kube_fail(err, CD_KR_CONFIG, 0, "kubeconfig %s: %s", name, m ? m : "cannot be parsed");
        free(m);
        goto out;
    }
    if (s->ndocs == 0 || !s->docs[0].root) {
        root = json_object();     /* an empty file is an empty config, as kubectl reads it */
        goto out;
    }
    root = cd_node_to_json(s->docs[0].root);
    if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        cd_kube_fail(err, CD_KR_CONFIG, 0, "kubeconfig %s: not a mapping", name);
        goto out;
    }
    static const struct { const char *list, *item, *field; } paths[] = {
        {"clusters", "cluster", "certificate-authority"},
        {"users", "user", "client-certificate"},
        {"users", "user", "client-key"},
        {"users", "user", "tokenFile"},
    };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        json_t *arr = json_object_get(root, paths[p].list);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            json_t *inner = json_object_get(v, paths[p].item);
            const char *f = json_string_value(json_object_get(inner, paths[p].field));
            if (f && *f) {
                char *abs = resolve(dir, f);
                json_object_set_new(inner, paths[p].field, json_string(abs));
                free(abs);
            }
        }
    }
    /* exec commands with a path separator are relative to the file too */
    json_t *users = json_object_get(root, "users");
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        json_t *ex = json_object_get(json_object_get(u, "user"), "exec");
        const char *cmd = json_string_value(json_object_get(ex, "command"));
        if (cmd && strchr(cmd, '/') && cmd[0] != '/') {
            char *abs = resolve(dir, cmd);
            json_object_set_new(ex, "command", json_string(abs));
            free(abs);
        }
    }
out:
    cd_stream_free(s);
    cd_diags_free(&d);
    return root;
}

/* Merges src into dst the way kubectl merges KUBECONFIG: the first file
 * that names a cluster, user or context, or sets current-context, wins. */
static void merge_doc(json_t *dst, json_t *src)
{
    const char *lists[] = {"clusters", "users", "contexts"};
    for (size_t l = 0; l < 3; l++) {
        json_t *sa = json_object_get(src, lists[l]);
        if (!json_is_array(sa))
            continue;
        json_t *da = json_object_get(dst, lists[l]);
        if (!json_is_array(da)) {
            da = json_array();
            json_object_set_new(dst, lists[l], da);
        }
        size_t i, k;
        json_t *v, *w;
        json_array_foreach(sa, i, v) {
            const char *n = json_string_value(json_object_get(v, "name"));
            bool seen = false;
            json_array_foreach(da, k, w) {
                const char *m = json_string_value(json_object_get(w, "name"));
                if (n && m && !strcmp(n, m))
                    seen = true;
            }
            if (!seen)
                json_array_append(da, v);
        }
    }
    const char *cc = json_string_value(json_object_get(dst, "current-context"));
    const char *sc = json_string_value(json_object_get(src, "current-context"));
    if ((!cc || !*cc) && sc && *sc)
        json_object_set_new(dst, "current-context", json_string(sc));
}

static json_t *find_named(json_t *root, const char *list, const char *name, const char *inner)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(root, list), i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && name && !strcmp(n, name)) {
            json_t *in = json_object_get(v, inner);
            if (!json_is_object(in)) {          /* "user:" with nothing below */
                in = json_object();
                json_object_set_new(v, inner, in);
            }
            return in;
        }
    }
    return NULL;
}

static char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? strdup(s) : NULL;
}

static bool jbool(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    const char *s = json_string_value(v);
    return s && (!strcmp(s, "true") || !strcmp(s, "True"));
}

static bool decode_field(const json_t *o, const char *key, cd_kube_blob *out, const char *src,
                         cd_kube_err *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || !*s)
        return true;
    if (!cd_kube_base64_decode(s, strlen(s), out) || out->len == 0) {
        blob_free(out);
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: %s is not valid base64", src, key);
    }
    return true;
}

static bool parse_exec(const json_t *ex, cd_kube_config *c, cd_kube_err *err)
{
    const char *cmd = json_string_value(json_object_get(ex, "command"));
    const char *av = json_string_value(json_object_get(ex, "apiVersion"));
    if (!cmd || !*cmd)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: user \"%s\": exec.command is required",
                            c->source, c->user);
    if (!av || (strcmp(av, "client.authentication.k8s.io/v1") &&
                strcmp(av, "client.authentication.k8s.io/v1beta1")))
        return cd_kube_fail(err, CD_KR_CONFIG, 0,
                            "%s: user \"%s\": exec.apiVersion \"%s\" is not supported "
                            "(client.authentication.k8s.io/v1 or v1beta1)",
                            c->source, c->user, av ? av : "");
    cd_kube_exec_config *e = calloc(1, sizeof *e);
    c->exec = e;
    e->command = strdup(cmd);
    e->api_version = strdup(av);
    e->install_hint = jstr(ex, "installHint");
    e->interactive_mode = jstr(ex, "interactiveMode");
    e->provide_cluster_info = jbool(ex, "provideClusterInfo");
    json_t *args = json_object_get(ex, "args");
    e->args = calloc(json_array_size(args) + 1, sizeof *e->args);
    size_t i;
    json_t *v;
    json_array_foreach(args, i, v) {
        if (!json_is_string(v))
            return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: user \"%s\": exec.args[%zu] is not a string",
                                c->source, c->user, i);
        e->args[e->nargs++] = strdup(json_string_value(v));
    }
    json_t *env = json_object_get(ex, "env");
    e->env = calloc(json_array_size(env) + 1, sizeof *e->env);
    json_array_foreach(env, i, v) {
        const char *n = json_string_value(json_object_get(v, "name"));
        const char *val = json_string_value(json_object_get(v, "value"));
        if (!n || !*n || strchr(n, '='))
            return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: user \"%s\": exec.env[%zu] needs a name",
                                c->source, c->user, i);
        cd_buf b = CD_BUF_INIT;
        cd_buf_printf(&b, "%s=%s", n, val ? val : "");
        e->env[e->nenv++] = cd_buf_steal(&b);
    }
    if (e->interactive_mode && strcmp(e->interactive_mode, "Never") &&
        strcmp(e->interactive_mode, "IfAvailable") && strcmp(e->interactive_mode, "Always"))
        return cd_kube_fail(err, CD_KR_CONFIG, 0,
                            "%s: user \"%s\": exec.interactiveMode \"%s\" is not Never, IfAvailable or Always",
                            c->source, c->user, e->interactive_mode);
    return true;
}

static bool check_server(cd_kube_config *c, cd_kube_err *err)
{
    if (!c->server)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: cluster \"%s\" has no server",
                            c->source, c->cluster ? c->cluster : "");
    if (strncmp(c->server, "https://", 8) && strncmp(c->server, "http://", 7)) {
        char shown[256];
        cd_redact_url(c->server, 0, shown, sizeof shown);
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: server \"%s\" is not an http:// or https:// URL",
                            c->source, shown);
    }
    size_t n = strlen(c->server);
    while (n > 8 && c->server[n - 1] == '/')
        c->server[--n] = 0;
    return true;
}

/* Fills c from a (merged) kubeconfig. */
static bool from_doc(json_t *root, const char *name, const char *context, const char *master,
                     cd_kube_config *c, cd_kube_err *err)
{
    const char *ctxname = context && *context ? context
                                              : json_string_value(json_object_get(root, "current-context"));
    if (!ctxname || !*ctxname)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "kubeconfig %s: no current-context, and no context given",
                            name);
    cd_buf src = CD_BUF_INIT;
    cd_buf_printf(&src, "kubeconfig %s (context \"%s\")", name, ctxname);
    c->source = cd_buf_steal(&src);
    c->context = strdup(ctxname);
    json_t *ctx = find_named(root, "contexts", ctxname, "context");
    if (!ctx)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "kubeconfig %s: context \"%s\" not found", name, ctxname);
    c->cluster = jstr(ctx, "cluster");
    c->user = jstr(ctx, "user");
    c->namespace = jstr(ctx, "namespace");
    if (!c->namespace)
        c->namespace = strdup("default");
    json_t *cl = c->cluster ? find_named(root, "clusters", c->cluster, "cluster") : NULL;
    if (!cl)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: cluster \"%s\" not found", c->source,
                            c->cluster ? c->cluster : "");
    c->server = master && *master ? strdup(master) : jstr(cl, "server");
    c->insecure_skip_tls_verify = jbool(cl, "insecure-skip-tls-verify");
    c->tls_server_name = jstr(cl, "tls-server-name");
    c->proxy_url = jstr(cl, "proxy-url");
    c->ca_file = jstr(cl, "certificate-authority");
    if (!decode_field(cl, "certificate-authority-data", &c->ca_data, c->source, err))
        return false;
    if (!check_server(c, err))
        return false;
    if (c->user) {
        json_t *u = find_named(root, "users", c->user, "user");
        if (!u)
            return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: user \"%s\" not found", c->source, c->user);
        if (json_object_get(u, "auth-provider")) {
            const char *ap = json_string_value(json_object_get(json_object_get(u, "auth-provider"), "name"));
            return cd_kube_fail(err, CD_KR_CONFIG, 0,
                                "%s: user \"%s\": auth-provider \"%s\" is not supported; "
                                "use an exec credential plugin", c->source, c->user, ap ? ap : "");
        }
        c->cert_file = jstr(u, "client-certificate");
        c->key_file = jstr(u, "client-key");
        if (!decode_field(u, "client-certificate-data", &c->cert_data, c->source, err) ||
            !decode_field(u, "client-key-data", &c->key_data, c->source, err))
            return false;
        c->token = jstr(u, "token");
        c->token_file = jstr(u, "tokenFile");
        c->username = jstr(u, "username");
        c->password = jstr(u, "password");
        json_t *ex = json_object_get(u, "exec");
        if (json_is_object(ex) && !parse_exec(ex, c, err))
            return false;
        bool has_cert = c->cert_file || c->cert_data.data;
        bool has_key = c->key_file || c->key_data.data;
        if (has_cert != has_key)
            return cd_kube_fail(err, CD_KR_CONFIG, 0, "%s: user \"%s\" has a client %s without its %s",
                                c->source, c->user, has_cert ? "certificate" : "key",
                                has_cert ? "key" : "certificate");
    }
    return true;
}

bool cd_kube_config_parse(const char *data, size_t len, const char *name, const char *dir,
                          const char *context, cd_kube_config *out, cd_kube_err *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = load_doc(data, len, name ? name : "(buffer)", dir, err);
    if (!root)
        return false;
    bool ok = from_doc(root, name ? name : "(buffer)", context, NULL, out, err);
    json_decref(root);
    if (!ok)
        cd_kube_config_free(out);
    return ok;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Loads and merges a ':'-separated list. missing_ok skips absent files. */
static json_t *load_files(const char *list, bool missing_ok, char **shown, bool *failed,
                          cd_kube_err *err)
{
    *failed = false;
    json_t *merged = NULL;
    char *copy = strdup(list);
    cd_buf names = CD_BUF_INIT;
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        size_t len = 0;
        int e = 0;
        char *data = read_file(p, &len, &e);
        if (!data) {
            if (missing_ok && e == ENOENT)
                continue;
            cd_kube_fail(err, CD_KR_CONFIG, 0, "kubeconfig %s: %s", p, strerror(e));
            *failed = true;
            json_decref(merged);
            merged = NULL;
            goto out;
        }
        char *dir = dir_of(p);
        json_t *doc = load_doc(data, len, p, dir, err);
        free(dir);
        free(data);
        if (!doc) {
            *failed = true;
            json_decref(merged);
            merged = NULL;
            goto out;
        }
        if (!merged) {
            merged = doc;
        } else {
            merge_doc(merged, doc);
            json_decref(doc);
        }
        if (names.len)
            cd_buf_putc(&names, ':');
        cd_buf_puts(&names, p);
    }
out:
    free(copy);
    *shown = cd_buf_steal(&names);
    return merged;
}

static char *read_trimmed(const char *path, int *errnum)
{
    size_t len = 0;
    char *s = read_file(path, &len, errnum);
    if (!s)
        return NULL;
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = 0;
    return s;
}

bool cd_kube_config_in_cluster(const char *sa_dir, cd_kube_config *c, cd_kube_err *err)
{
    memset(c, 0, sizeof *c);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return cd_kube_fail(err, CD_KR_CONFIG, 0,
                            "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                            "KUBERNETES_SERVICE_PORT must be set");
    const char *dir = sa_dir ? sa_dir : SA_DIR;
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->server = cd_buf_steal(&b);
    c->source = strdup("in-cluster configuration");
    c->in_cluster = true;
    cd_buf_printf(&b, "%s/token", dir);
    c->token_file = cd_buf_steal(&b);
    int e = 0;
    char *tok = read_trimmed(c->token_file, &e);
    if (!tok) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "in-cluster configuration: cannot read the service-account "
                     "token %s: %s", c->token_file, strerror(e));
        cd_kube_config_free(c);
        return false;
    }
    free(tok);
    cd_buf_printf(&b, "%s/ca.crt", dir);
    c->ca_file = cd_buf_steal(&b);
    if (access(c->ca_file, R_OK) != 0) {
        free(c->ca_file);
        c->ca_file = NULL;      /* as client-go: the system CAs then */
    }
    cd_buf_printf(&b, "%s/namespace", dir);
    char *nsfile = cd_buf_steal(&b);
    c->namespace = read_trimmed(nsfile, &e);
    free(nsfile);
    if (!c->namespace || !*c->namespace) {
        free(c->namespace);
        c->namespace = strdup("default");
    }
    return true;
}

bool cd_kube_config_load(const cd_kube_config_opts *o, cd_kube_config *out, cd_kube_err *err)
{
    cd_kube_config_opts none = {0};
    if (!o)
        o = &none;
    memset(out, 0, sizeof *out);
    bool explicit_file = o->kubeconfig && *o->kubeconfig;
    bool master = o->master && *o->master;
    if (!explicit_file && !master && !o->no_in_cluster && getenv("KUBERNETES_SERVICE_HOST"))
        return cd_kube_config_in_cluster(o->sa_dir, out, err);
    const char *list = o->kubeconfig;
    char *home_cfg = NULL;
    if (!explicit_file) {
        list = getenv("KUBECONFIG");
        if (!list || !*list) {
            const char *home = getenv("HOME");
            if (home) {
                cd_buf b = CD_BUF_INIT;
                cd_buf_printf(&b, "%s/.kube/config", home);
                home_cfg = cd_buf_steal(&b);
            }
            list = home_cfg;
        }
    }
    char *shown = NULL;
    bool failed = false;
    json_t *root = list ? load_files(list, !explicit_file, &shown, &failed, err) : NULL;
    bool ok;
    if (failed) {
        free(shown);
        free(home_cfg);
        return false;
    }
    if (!root) {
        free(shown);
        if (!master) {
            cd_kube_fail(err, CD_KR_CONFIG, 0,
                         "no kubeconfig found (tried %s) and no API server address "
                         "given; outside a cluster, pass --kubeconfig FILE (canaryd "
                         "kube also takes -master URL)",
                         list ? list : "$KUBECONFIG and ~/.kube/config");
            free(home_cfg);
            return false;
        }
        out->source = strdup("-master");
        out->server = strdup(o->master);
        out->namespace = strdup("default");
        ok = check_server(out, err);
    } else {
        ok = from_doc(root, shown && *shown ? shown : "(empty)", o->context, o->master, out, err);
        json_decref(root);
        free(shown);
    }
    free(home_cfg);
    if (!ok)
        cd_kube_config_free(out);
    return ok;
}
