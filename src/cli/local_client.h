/* local_client.h - canaryctl's client for `canaryd local`'s HTTP API.
 * The server is --server ADDR, else $CANARYD_API (the flag table reads
 * the variable: CD_API_SERVER_FLAG), else the default Unix socket
 * <runtime dir>/local.sock (util/access.h), where canaryd local listens
 * by default; ADDR is host:port, http://host:port or unix:/path. Over TCP
 * the token is --token-file FILE, else $CANARYD_TOKEN, else the file
 * canaryd local published for that address in the runtime directory.
 * Prints nothing but init's errors; never puts the token in an error. */
#ifndef CD_CLI_LOCAL_CLIENT_H
#define CD_CLI_LOCAL_CLIENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/access.h"
#include "util/flags.h"

typedef struct cd_api_client {
    char base[512];        /* "http://host:port" (or "http://localhost" over a socket) */
    char unix_socket[256];
    char token[CD_TOKEN_MAX + 1];   /* "" when none */
    char token_hint[300];  /* where the token came from, for errors */
} cd_api_client;

#define CD_API_DEFAULT "unix:$XDG_RUNTIME_DIR/canaryd/local.sock"

/* The flags of every command that talks to the API: --server (falling
 * back to $CANARYD_API), --token-file and --namespace, for a
 * util/flags.h table. */
#define CD_API_SERVER_FLAG(server)                                                              \
    {.name = "server", .alias = 's', .type = CD_FLAG_STRING, .target = (server), .arg = "ADDR",  \
     .env = "CANARYD_API", .def = CD_API_DEFAULT,                                                \
     .help = "canaryd local's API: unix:/path, host:port or http://host:port (the default is "   \
             "canaryd local's default socket; /tmp/canaryd-UID/local.sock without "                \
             "XDG_RUNTIME_DIR)"}
#define CD_API_TOKEN_FLAG(file)                                                                 \
    {.name = "token-file", .type = CD_FLAG_STRING, .target = (file), .arg = "FILE",             \
     .help = "the token of a TCP API (default $CANARYD_TOKEN, else the one canaryd local "     \
             "published on this host)"}
#define CD_API_NAMESPACE_FLAG(ns)                                                               \
    {.name = "namespace", .alias = 'n', .type = CD_FLAG_STRING, .target = (ns), .arg = "NS",     \
     .help = "the canary's namespace"}

/* The environment these commands read besides --server's: for a
 * cd_flag_cmd's .env. */
extern const cd_flag_env_doc cd_api_env_docs[];

/* addr: --server's value (NULL or "": the default socket); token_file:
 * --token-file's (may be NULL). False with a message on stderr when the
 * default socket's directory or a token cannot be used. */
bool cd_api_client_init(cd_api_client *c, const char *addr, const char *token_file);

/* Performs the request; *status is the HTTP status (0 when unreachable
 * or refused for want of the right token, with *error set). Returns the
 * parsed JSON body or NULL. A state-changing request carries
 * "Content-Type: application/json" (a manifest for /api/v1/apply:
 * application/yaml), as the server requires. */
json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen);
/* The canary path "/api/v1/namespaces/NS/canaries/NAME" (URL-escaped). */
void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name);

#endif
