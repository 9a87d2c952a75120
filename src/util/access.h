/* access.h - who may use one of canaryd's listeners (the local API, the
 * router's admin API, the load tester): bearer tokens (read from a file or
 * the environment, generated, compared in constant time, taken from an
 * Authorization header as Bearer or as the password of Basic), the
 * Host/Origin/Content-Type rules that stop cross-site requests and DNS
 * rebinding, Unix sockets created with an explicit mode, and the per-user
 * runtime directory where canaryctl finds them. Pure libc: the small
 * canaryd-router binary links it. Never logs a token and never puts one in
 * an error text. See docs/security.md. */
#ifndef CD_UTIL_ACCESS_H
#define CD_UTIL_ACCESS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest token accepted (bytes); generated tokens are 64 hex digits. */
#define CD_TOKEN_MAX 256

/* Environment variables holding tokens; processes canaryd starts never
 * inherit them (cd_env_is_secret). */
#define CD_ENV_TOKEN "CANARYD_TOKEN"                      /* local API, canaryctl */
#define CD_ENV_ROUTER_TOKEN "CANARYD_ROUTER_TOKEN"        /* router admin API */
#define CD_ENV_LOADTESTER_TOKEN "CANARYD_LOADTESTER_TOKEN" /* load tester */

/* Reads a token file: the first line, surrounding white space removed;
 * 1 to CD_TOKEN_MAX visible ASCII characters. *loose (may be NULL) is set
 * when the file is readable by group or others. False with err. */
bool cd_token_read_file(const char *path, char *out, size_t cap, bool *loose, char *err,
                        size_t errlen);
/* The token in environment variable env (same rules). False when unset or
 * empty (err empty) or invalid (err set). */
bool cd_token_from_env(const char *env, char *out, size_t cap, char *err, size_t errlen);
/* 32 random bytes as 64 lower-case hex digits (cap >= 65). */
bool cd_token_generate(char *out, size_t cap);
/* Writes token + newline to path with mode 0600 (atomically, replacing). */
bool cd_token_write_file(const char *path, const char *token, char *err, size_t errlen);
/* Constant-time comparison (time depends only on the lengths). */
bool cd_token_equal(const char *given, size_t given_len, const char *want);

/* The credential of an Authorization header: "Bearer T" gives T, "Basic
 * base64(user:T)" gives T (or user when the password is empty, as curl -u
 * T: sends). False when the header is absent or neither. */
bool cd_authorization_credential(const char *header, char *out, size_t cap);

/* Host names a local listener answers to: IP literals, "localhost" and
 * names under ".localhost", and this machine's own host name; any port.
 * A DNS-rebinding page can use none of them. */
bool cd_host_is_local(const char *host);
/* True when the Origin header (NULL: absent) is the same origin as the
 * Host header: "http(s)://" + host. "null" never is. */
bool cd_origin_matches_host(const char *origin, const char *host);
/* True when a Content-Type header's media type (parameters and case
 * ignored) is type. */
bool cd_media_type_is(const char *content_type, const char *type);

/* ---- one request against a listener's policy ---------------------------- */

typedef struct cd_access_policy {
    bool check_host;            /* TCP listener of a local API: cd_host_is_local */
    const char *token;          /* required token; NULL: none (Unix socket mode decides) */
    bool require_json;          /* state-changing requests need a JSON Content-Type */
    const char *const *extra_types;   /* more accepted media types (NULL-terminated) or NULL */
} cd_access_policy;

typedef struct cd_access_request {
    const char *method;
    const char *host, *origin, *content_type, *authorization;   /* headers; NULL: absent */
    bool has_body;
} cd_access_request;

/* 0 when allowed, else the HTTP status to answer (401 no or wrong token,
 * 403 foreign Host or Origin, 415 wrong Content-Type) with why set. GET,
 * HEAD and OPTIONS are not state-changing. */
int cd_access_check(const cd_access_policy *p, const cd_access_request *r, char *why,
                    size_t whylen);
bool cd_method_changes_state(const char *method);

/* ---- Unix sockets and the per-user runtime directory -------------------- */

/* Binds and listens on a Unix socket created with exactly mode (e.g.
 * 0600), whatever the umask. An existing socket nobody answers on is
 * replaced; a live one or any other file is an error. Returns the fd
 * (close-on-exec; non-blocking when asked) or -1 with err. */
int cd_listen_unix(const char *path, mode_t mode, int backlog, bool nonblock, char *err,
                   size_t errlen);
/* Parses an octal socket mode ("0600", "660"); only permission bits. */
bool cd_parse_socket_mode(const char *s, mode_t *mode);

/* $XDG_RUNTIME_DIR/canaryd, else /tmp/canaryd-UID: created 0700 when
 * missing; refused unless it is a directory owned by this user that
 * nobody else can write or list. */
bool cd_runtime_dir(char *out, size_t cap, char *err, size_t errlen);
/* The default local API socket: <runtime dir>/local.sock. */
bool cd_default_local_socket(char *out, size_t cap, char *err, size_t errlen);
/* Where `canaryd local` publishes the token of a TCP API on addr
 * ("127.0.0.1:9797") for canaryctl: <runtime dir>/api-<addr>.token. */
bool cd_local_token_path(const char *addr, char *out, size_t cap, char *err, size_t errlen);

/* True for "NAME=value" entries processes canaryd starts must not
 * inherit (the token variables). */
bool cd_env_is_secret(const char *entry);

#endif
