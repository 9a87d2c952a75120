/* local_client.h - canaryctl's client for `canaryd local`'s HTTP API.
 * The server is --server ADDR, else $CANARYD_API, else 127.0.0.1:9797
 * (the flag table reads the variable: CD_API_SERVER_FLAG);
 * ADDR is host:port, http://host:port or unix:/path. Prints nothing. */
#ifndef CD_CLI_LOCAL_CLIENT_H
#define CD_CLI_LOCAL_CLIENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "util/flags.h"

typedef struct cd_api_client {
    char base[512];        /* "http://host:port" (or "http://localhost" over a socket) */
    char unix_socket[256];
} cd_api_client;

#define CD_API_DEFAULT "127.0.0.1:9797"

/* The flags of every command that talks to the API: --server (falling
 * back to $CANARYD_API) and --namespace, for a util/flags.h table. */
#define CD_API_SERVER_FLAG(server)                                                              \
    {.name = "server", .alias = 's', .type = CD_FLAG_STRING, .target = (server), .arg = "ADDR",  \
     .env = "CANARYD_API", .def = CD_API_DEFAULT,                                                \
     .help = "canaryd local's API: host:port, http://host:port or unix:/path"}
#define CD_API_NAMESPACE_FLAG(ns)                                                               \
    {.name = "namespace", .alias = 'n', .type = CD_FLAG_STRING, .target = (ns), .arg = "NS",     \
     .help = "the canary's namespace"}

/* addr: --server's value (NULL or "": CD_API_DEFAULT). */
void cd_api_client_init(cd_api_client *c, const char *addr);

/* Performs the request; *status is the HTTP status (0 when unreachable,
 * with *error set). Returns the parsed JSON body or NULL. */
json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen);
/* The canary path "/api/v1/namespaces/NS/canaries/NAME" (URL-escaped). */
void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name);

#endif
