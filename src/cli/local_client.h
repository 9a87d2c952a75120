/* local_client.h - canaryctl's client for `canaryd local`'s HTTP API.
 * The server is --server ADDR, else $CANARYD_API, else 127.0.0.1:9797;
 * ADDR is host:port, http://host:port or unix:/path. Prints nothing. */
#ifndef CD_CLI_LOCAL_CLIENT_H
#define CD_CLI_LOCAL_CLIENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cd_api_client {
    char base[512];        /* "http://host:port" (or "http://localhost" over a socket) */
    char unix_socket[256];
} cd_api_client;

/* Consumes --server ADDR / -s ADDR from argv (compacting it); false with
 * a message on stderr when the value is missing. */
bool cd_api_client_init(cd_api_client *c, int *argc, char **argv);

/* Performs the request; *status is the HTTP status (0 when unreachable,
 * with *error set). Returns the parsed JSON body or NULL. */
json_t *cd_api_call(const cd_api_client *c, const char *method, const char *path,
                    const char *body, size_t body_len, long *status, char *error, size_t errlen);
/* The canary path "/api/v1/namespaces/NS/canaries/NAME" (URL-escaped). */
void cd_api_canary_path(char *out, size_t n, const char *ns, const char *name);

#endif
