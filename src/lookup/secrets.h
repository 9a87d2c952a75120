/* secrets.h - where credentials come from: a Secret is a named set of
 * key -> bytes in a namespace, as in Kubernetes. The platform provides a
 * cd_secret_source (Kubernetes Secrets on the kube platform; files and
 * environment variables on the local platform, see local_secrets.c).
 * Consumers (metric providers, alert providers) only see cd_secret. */
#ifndef CD_LOOKUP_SECRETS_H
#define CD_LOOKUP_SECRETS_H
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct cd_secret_entry {
    char *key;
    char *value;        /* NUL-terminated copy of the bytes */
    size_t len;
} cd_secret_entry;

typedef struct cd_secret {
    char *name;
    cd_secret_entry *items;
    size_t n, cap;
} cd_secret;

void cd_secret_init(cd_secret *s, const char *name);
void cd_secret_put(cd_secret *s, const char *key, const char *value, size_t len);
/* NULL when the key is absent. */
const cd_secret_entry *cd_secret_get(const cd_secret *s, const char *key);
void cd_secret_free(cd_secret *s);

typedef enum { CD_SECRET_FOUND, CD_SECRET_NOT_FOUND, CD_SECRET_ERROR } cd_secret_rc;

typedef struct cd_secret_source {
    void *ctx;
    /* Fills *out (initialised by the caller with cd_secret_init) with every
     * key of Secret `name` in `namespace_`. NOT_FOUND and ERROR set err. */
    cd_secret_rc (*load)(void *ctx, const char *namespace_, const char *name, cd_secret *out,
                         cd_err *err);
} cd_secret_source;

/* Convenience: load through a source that may be NULL (then every secret
 * is "not found"). */
cd_secret_rc cd_secret_load(const cd_secret_source *src, const char *namespace_, const char *name,
                            cd_secret *out, cd_err *err);

/* The local platform's source: environment variables first, then files.
 *  - env: CANARYD_SECRET_<NAMESPACE>_<NAME>_<KEY>, where namespace, name
 *    and key are upper-cased and every character other than A-Z 0-9
 *    becomes '_'; the key is read back lower-cased
 *    (CANARYD_SECRET_DEFAULT_DATADOG_DATADOG_API_KEY -> datadog_api_key).
 *  - files: <dir>/<namespace>/<name>/<key>, one file per key (the layout
 *    of a Secret mounted as a volume); one trailing newline is dropped.
 * dir may be NULL (env only). environ may be NULL (the process's). */
typedef struct cd_local_secrets {
    const char *dir;
    char **environ_;
} cd_local_secrets;

cd_secret_source cd_local_secret_source(cd_local_secrets *cfg);

#define CD_SECRET_MAX_VALUE (1u << 20)   /* as Kubernetes: 1 MiB */

#endif
