/* local_client.h - canaryctl's client for `canaryd local`'s HTTP API.
 * The server is --server ADDR, else $CANARYD_API, else the default Unix
 * socket <runtime dir>/local.sock (see util/access.h); ADDR is host:port,
 * http://host:port or unix:/path. Over TCP the token is --token-file
 * FILE, else $CANARYD_TOKEN, else the file `canaryd local` published for
 * that address in the runtime directory. Prints nothing; never puts the
 * token in an error text. */
#ifndef CD_CLI_LOCAL_CLIENT_H
#define CD_CLI_LOCAL_CLIENT_H
#include "util/access.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cd_api_client {
    char base[512];        /* "http://host:port" (or "http://localhost" over a socket) */
    char unix_socket[256];
    char token[CD_TOKEN_MAX + 1];   /* "" when none */
    char token_hint[300];  /* where a token would come from, for errors */
} cd_api_client;

/* Consumes --server ADDR / -s ADDR and --token-file FILE from argv
 * (compacting it); false with a message on stderr when a value is
 * missing or a token cannot be read. */
bool cd_api_client_init(cd_api_client *c, int *argc, char **argv);

/* Performs the request; *status is the HTTP status (0 when unreachable,
 * with *error set). Returns the parsed JSON body or NULL. A state-changing
 * request carries "Content-Type: application/json" (a manifest for
 * /api/v1/apply: application/yaml); a 401 is *status 0 with *error saying
 * how to pass the token. */
json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen);
/* The canary path "/api/v1/namespaces/NS/canaries/NAME" (URL-escaped). */
void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name);

#endif
