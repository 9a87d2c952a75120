/* stackdriver.c - the Google Cloud Monitoring provider (`stackdriver`): the
 * MQL query is POSTed as {"query": ...} to <address>/v3/projects/<project>/
 * timeSeries:query (Cloud Monitoring's REST form of Flagger's gRPC
 * QueryTimeSeries); the value is the first point's first value of the first
 * series. Credentials as Flagger reads them: the secret's `project` and
 * `serviceAccountKey` (a service account's JSON key), else the key file
 * named by GOOGLE_APPLICATION_CREDENTIALS, else the GCE metadata server.
 * A key becomes an OAuth access token by a JWT signed with its private key
 * (RS256, OpenSSL) exchanged at the key's token_uri. Online check: an empty
 * query answers 200 or INVALID_ARGUMENT. Never logs a key or a token. */
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SD_ADDRESS "https://monitoring.googleapis.com"
#define SD_TOKEN_URI "https://oauth2.googleapis.com/token"
#define SD_SCOPES "https://www.googleapis.com/auth/cloud-platform " \
                  "https://www.googleapis.com/auth/monitoring " \
                  "https://www.googleapis.com/auth/monitoring.read"
#define SD_MAX_KEY_FILE (1u << 20)

typedef struct stackdriver {
    char *query_url;
    char *email, *key_id, *token_uri;   /* service account (email set) */
    EVP_PKEY *key;
    char *metadata_url;                 /* else the metadata server */
} stackdriver;

static void sd_close(cd_provider *p)
{
    stackdriver *s = p->state;
    if (!s)
        return;
    free(s->query_url);
    free(s->email);
    free(s->key_id);
    free(s->token_uri);
    EVP_PKEY_free(s->key);
    free(s->metadata_url);
    free(s);
    p->state = NULL;
}

static char *xstrdup(const char *a)
{
    char *s = strdup(a);
    if (!s)
        abort();
    return s;
}

static const char *env_of(const cd_provider_config *cfg, const char *name)
{
    extern char **environ;
    size_t n = strlen(name);
    for (char **e = cfg->environ_ ? cfg->environ_ : environ; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* A service account key (JSON) into s; err names where it came from. */
static bool load_key(stackdriver *s, const char *json, size_t len, const char *from, cd_err *err)
{
    json_error_t je;
    json_t *k = json_loadb(json, len, 0, &je);
    const char *type = json_string_value(json_object_get(k, "type"));
    const char *email = json_string_value(json_object_get(k, "client_email"));
    const char *pem = json_string_value(json_object_get(k, "private_key"));
    const char *kid = json_string_value(json_object_get(k, "private_key_id"));
    const char *uri = json_string_value(json_object_get(k, "token_uri"));
    bool ok = false;
    if (!json_is_object(k)) {
        cd_errfmt(err, "stackdriver: %s is not a JSON service account key: %s", from,
                  k ? "not an object" : je.text);
    } else if (!type || strcmp(type, "service_account")) {
        cd_errfmt(err, "stackdriver: %s: credentials of type \"%s\" are not supported (a "
                       "service_account key is)", from, type ? type : "");
    } else if (!email || !*email || !pem) {
        cd_errfmt(err, "stackdriver: %s: the key has no %s", from,
                  !pem ? "private_key" : "client_email");
    } else if (uri && *uri && !cd_http_url_valid(uri)) {
        cd_errfmt(err, "stackdriver: %s: token_uri is not a valid URL", from);
    } else {
        BIO *b = BIO_new_mem_buf(pem, -1);
        s->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!s->key || EVP_PKEY_base_id(s->key) != EVP_PKEY_RSA) {
            cd_errfmt(err, "stackdriver: %s: private_key is not a PEM RSA private key", from);
        } else {
            s->email = xstrdup(email);
            s->key_id = kid ? xstrdup(kid) : NULL;
            s->token_uri = xstrdup(uri && *uri ? uri : SD_TOKEN_URI);
            ok = true;
        }
    }
    json_decref(k);
    return ok;
}

static bool load_key_file(stackdriver *s, const char *path, cd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cd_errfmt(err, "stackdriver: GOOGLE_APPLICATION_CREDENTIALS %s: cannot be read", path);
        return false;
    }
    char *buf = malloc(SD_MAX_KEY_FILE + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, SD_MAX_KEY_FILE + 1, f);
    fclose(f);
    bool ok = n <= SD_MAX_KEY_FILE;
    if (!ok)
        cd_errfmt(err, "stackdriver: GOOGLE_APPLICATION_CREDENTIALS %s is larger than 1 MiB", path);
    else
        ok = load_key(s, buf, n, "GOOGLE_APPLICATION_CREDENTIALS", err);
    free(buf);
    return ok;
}

static bool sd_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    const char *address = cfg->address && *cfg->address ? cfg->address : SD_ADDRESS;
    if (!cfg->secret) {
        cd_errfmt(err, "stackdriver needs spec.provider.secretRef with a project id");
        return false;
    }
    const char *project = cd_provider_secret(cfg, "project");
    if (!project || !*project) {
        cd_errfmt(err, "stackdriver credentials does not contain a project id");
        return false;
    }
    if (!cd_http_url_valid(address)) {
        cd_provider_address_error(err, "stackdriver", address);
        return false;
    }
    stackdriver *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    p->state = s;
    cd_buf url = CD_BUF_INIT;
    size_t alen = strlen(address);
    while (alen && address[alen - 1] == '/')
        alen--;
    cd_buf_printf(&url, "%.*s/v3/projects/", (int)alen, address);
    for (const char *c = project; *c; c++)   /* a project id is [a-z0-9-:.] */
        if (strchr("abcdefghijklmnopqrstuvwxyz0123456789-:.", *c))
            cd_buf_putc(&url, *c);
        else
            cd_buf_printf(&url, "%%%02X", (unsigned char)*c);
    cd_buf_puts(&url, "/timeSeries:query");
    s->query_url = cd_buf_steal(&url);
    const cd_secret_entry *key = cd_secret_get(cfg->secret, "serviceAccountKey");
    if (!key)   /* canaryd local's CANARYD_SECRET_* variables give keys lower-cased */
        key = cd_secret_get(cfg->secret, "serviceaccountkey");
    const char *file = env_of(cfg, "GOOGLE_APPLICATION_CREDENTIALS");
    bool ok = true;
    if (key) {
        ok = load_key(s, key->value, key->len, "serviceAccountKey", err);
    } else if (file && *file) {
        ok = load_key_file(s, file, err);
    } else {
        const char *host = env_of(cfg, "GCE_METADATA_HOST");
        cd_buf m = CD_BUF_INIT;
        cd_buf_printf(&m, "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                      host && *host ? host : "metadata.google.internal");
        s->metadata_url = cd_buf_steal(&m);
    }
    if (!ok)
        sd_close(p);
    if (ok && p->timeout_ms <= 0)
        p->timeout_ms = 5000;
    return ok;
}

/* ---- the OAuth token ---- */

static void b64url(cd_buf *out, const unsigned char *d, size_t n)
{
    unsigned char *enc = malloc(4 * ((n + 2) / 3) + 1);
    if (!enc)
        abort();
    int m = EVP_EncodeBlock(enc, d, (int)n);
    for (int i = 0; i < m; i++) {
        if (enc[i] == '=')
            break;
        cd_buf_putc(out, enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i]);
    }
    free(enc);
}

static void b64url_json(cd_buf *out, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        abort();
    b64url(out, (const unsigned char *)s, strlen(s));
    free(s);
    json_decref(j);
}

/* header.claims.signature, RS256 with the service account's key. */
static char *make_jwt(const cd_provider *p, const stackdriver *s, cd_err *err)
{
    int64_t now = cd_provider_now_ms(p) / 1000;
    json_t *h = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    if (s->key_id)
        json_object_set_new(h, "kid", json_string(s->key_id));
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", s->email, "scope", SD_SCOPES,
                          "aud", s->token_uri, "exp", (json_int_t)(now + 3600), "iat",
                          (json_int_t)now);
    cd_buf jwt = CD_BUF_INIT;
    b64url_json(&jwt, h);
    cd_buf_putc(&jwt, '.');
    b64url_json(&jwt, c);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) == 1 &&
              EVP_DigestSign(md, sig, &siglen, (const unsigned char *)jwt.data, jwt.len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        cd_errfmt(err, "stackdriver: signing the token request failed");
        cd_buf_free(&jwt);
        return NULL;
    }
    cd_buf_putc(&jwt, '.');
    b64url(&jwt, sig, siglen);
    return cd_buf_steal(&jwt);
}

/* The access token from a token endpoint's answer; malloc'd, or NULL with err. */
static char *token_of(const cd_http_response *rs, cd_err *err)
{
    if (rs->status != 200) {
        cd_provider_error_response(rs, err);
        cd_errprefix(err, "oauth2: cannot fetch token");
        return NULL;
    }
    json_t *j = cd_provider_parse_json(rs->body.data, rs->body.len, false, err);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    char *out = t && *t ? xstrdup(t) : NULL;
    if (j && !out)
        cd_errfmt(err, "oauth2: server response missing access_token");
    else if (!j)
        cd_errprefix(err, "oauth2: cannot fetch token");
    json_decref(j);
    return out;
}

static char *fetch_token(const cd_provider *p, const stackdriver *s, cd_err *err)
{
    cd_http_request rq;
    cd_http_response rs = {0};
    char *tok = NULL, *jwt = NULL;
    cd_buf form = CD_BUF_INIT;
    bool ok;
    if (s->email) {
        if (!(jwt = make_jwt(p, s, err)))
            return NULL;
        cd_buf_puts(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                           "&assertion=");
        cd_buf_puts(&form, jwt);   /* base64url and dots: nothing to escape */
        cd_http_request_init(&rq, "POST", s->token_uri);
        rq.body = form.data;
        rq.body_len = form.len;
        ok = cd_http_add_header(&rq, "Content-Type", "application/x-www-form-urlencoded", err);
    } else {
        cd_http_request_init(&rq, "GET", s->metadata_url);
        ok = cd_http_add_header(&rq, "Metadata-Flavor", "Google", err);
    }
    if (ok && !cd_provider_http(p, &rq, &rs, err))
        cd_errprefix(err, "oauth2: cannot fetch token: request failed");
    else if (ok)
        tok = token_of(&rs, err);
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    cd_buf_free(&form);
    free(jwt);
    return tok;
}

/* ---- queries ---- */

/* POSTs {"query": q}; true with the response (any status) in *rs. */
static bool post_query(cd_provider *p, const char *query, cd_http_response *rs, cd_err *err)
{
    stackdriver *s = p->state;
    char *tok = fetch_token(p, s, err);
    if (!tok)
        return false;
    json_t *b = json_pack("{s:s}", "query", query);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (!body)
        abort();
    cd_http_request rq;
    cd_http_request_init(&rq, "POST", s->query_url);
    rq.body = body;
    rq.body_len = strlen(body);
    rq.bearer = tok;
    bool ok = cd_http_add_header(&rq, "Content-Type", "application/json", err);
    if (ok && !(ok = cd_provider_http(p, &rq, rs, err)))
        cd_errprefix(err, "error requesting stackdriver: request failed");
    cd_http_request_free(&rq);
    free(body);
    free(tok);
    return ok;
}

/* A Google API error ({"error": {"code", "message", "status"}}) or the body. */
static void google_error(const cd_http_response *rs, cd_err *err)
{
    json_t *j = json_loadb(rs->body.data ? rs->body.data : "", rs->body.len, 0, NULL);
    const json_t *e = json_object_get(j, "error");
    const char *status = json_string_value(json_object_get(e, "status"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (status && msg)
        cd_errfmt(err, "error requesting stackdriver: rpc error: code = %s desc = %s", status, msg);
    else {
        cd_provider_error_response(rs, err);
        cd_errprefix(err, "error requesting stackdriver");
    }
    json_decref(j);
}

cd_metric_rc cd_stackdriver_parse(const char *body, size_t len, double *value, cd_err *err)
{
    json_t *root = cd_provider_parse_json(body, len, false, err);
    if (!root)
        return CD_METRIC_ERROR;
    const json_t *data = json_object_get(root, "timeSeriesData");
    const json_t *pts = json_object_get(json_array_get(data, 0), "pointData");
    const json_t *v = json_array_get(json_object_get(json_array_get(pts, 0), "values"), 0);
    cd_metric_rc rc;
    const json_t *i64 = json_object_get(v, "int64Value");   /* proto3 JSON: a string */
    if (json_is_string(i64)) {
        char *end;
        *value = strtod(json_string_value(i64), &end);
        rc = *end || end == json_string_value(i64) ? CD_METRIC_ERROR : CD_METRIC_OK;
        if (rc != CD_METRIC_OK)
            cd_errfmt(err, "invalid response: int64Value is not a number");
    } else {
        const json_t *d = json_object_get(v, "doubleValue");
        if (json_is_string(d) && cd_parse_go_float(json_string_value(d), value))  /* "NaN" */
            rc = CD_METRIC_OK;
        else
            rc = cd_provider_json_number(d, v ? "doubleValue" : NULL, body, len, value, err);
    }
    json_decref(root);
    return rc;
}

static cd_metric_rc sd_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    cd_http_response rs = {0};
    cd_metric_rc rc = CD_METRIC_ERROR;
    if (post_query(p, query, &rs, err)) {
        if (rs.status != 200)
            google_error(&rs, err);
        else
            rc = cd_stackdriver_parse(rs.body.data, rs.body.len, value, err);
    }
    cd_http_response_free(&rs);
    return rc;
}

static bool sd_online(cd_provider *p, cd_err *err)
{
    cd_http_response rs = {0};
    bool ok = post_query(p, "", &rs, err);
    if (ok && rs.status != 200) {
        json_t *j = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
        const char *st = json_string_value(json_object_get(json_object_get(j, "error"), "status"));
        ok = st && !strcmp(st, "INVALID_ARGUMENT");
        if (!ok)
            cd_errfmt(err, "unexpected status code: %s (HTTP %ld)", st ? st : "unknown", rs.status);
        json_decref(j);
    }
    cd_http_response_free(&rs);
    return ok;
}

const cd_provider_type cd_provider_stackdriver = {
    .name = "stackdriver",
    .open = sd_open,
    .query = sd_query,
    .is_online = sd_online,
    .close = sd_close,
};
