/* config.h - where the Kubernetes API is and how to authenticate: loaded
 * from kubeconfig files (the current or a named context; clusters with
 * certificate-authority[-data], insecure-skip-tls-verify, tls-server-name,
 * proxy-url; users with client-certificate/key[-data], token, tokenFile,
 * username/password and exec credential plugins; KUBECONFIG lists merged
 * as kubectl does, relative paths resolved against the file that names
 * them) or from inside a pod (service-account token, CA and namespace,
 * KUBERNETES_SERVICE_HOST/PORT). Loading reads files; it never talks to the
 * network. Every error says which file, context or field is wrong. */
#ifndef CD_KUBE_CONFIG_H
#define CD_KUBE_CONFIG_H
#include "kube/err.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct cd_kube_blob {
    unsigned char *data;        /* NUL-terminated for convenience; len excludes it */
    size_t len;
} cd_kube_blob;

/* users[].user.exec: a client.authentication.k8s.io ExecCredential plugin. */
typedef struct cd_kube_exec_config {
    char *command;
    char **args;
    size_t nargs;
    char **env;                 /* "NAME=value" added to the plugin's environment */
    size_t nenv;
    char *api_version;          /* client.authentication.k8s.io/v1 or /v1beta1 */
    char *install_hint;
    bool provide_cluster_info;
    char *interactive_mode;     /* Never, IfAvailable, Always */
} cd_kube_exec_config;

typedef struct cd_kube_config {
    char *source;               /* "kubeconfig /p (context c)" or "in-cluster": for messages */
    char *context, *cluster, *user;
    char *server;               /* scheme://host[:port][/prefix], no trailing '/' */
    char *namespace;            /* the context's namespace (or the pod's); "default" */
    bool insecure_skip_tls_verify;
    char *tls_server_name;
    char *proxy_url;
    char *ca_file;
    cd_kube_blob ca_data;       /* wins over ca_file */
    char *cert_file, *key_file;
    cd_kube_blob cert_data, key_data;
    char *token;                /* wins over token_file */
    char *token_file;           /* re-read when it changes (service-account rotation) */
    char *username, *password;
    cd_kube_exec_config *exec;
    bool in_cluster;
} cd_kube_config;

typedef struct cd_kube_config_opts {
    const char *kubeconfig;     /* -kubeconfig: file(s), ':'-separated; NULL: see below */
    const char *context;        /* NULL: current-context */
    const char *master;         /* -master: overrides the server URL */
    const char *sa_dir;         /* NULL: /var/run/secrets/kubernetes.io/serviceaccount */
    bool no_in_cluster;         /* never try the in-cluster config */
} cd_kube_config_opts;

/* Flagger's (client-go's BuildConfigFromFlags) order: an explicit
 * kubeconfig; else, with neither kubeconfig nor master, the in-cluster
 * config when KUBERNETES_SERVICE_HOST is set; else $KUBECONFIG (a
 * ':'-separated list, missing files skipped) or ~/.kube/config; else only
 * master. master, when given, replaces the server. */
bool cd_kube_config_load(const cd_kube_config_opts *o, cd_kube_config *out, cd_kube_err *err);

/* One kubeconfig document (YAML or JSON). dir resolves relative paths
 * (NULL: the current directory); name appears in messages. */
bool cd_kube_config_parse(const char *data, size_t len, const char *name, const char *dir,
                          const char *context, cd_kube_config *out, cd_kube_err *err);

/* Inside a pod. sa_dir NULL: the standard service-account directory. */
bool cd_kube_config_in_cluster(const char *sa_dir, cd_kube_config *out, cd_kube_err *err);

bool cd_kube_config_copy(cd_kube_config *dst, const cd_kube_config *src);
void cd_kube_config_free(cd_kube_config *c);

/* Decodes base64 (newlines allowed), as kubeconfig *-data fields hold.
 * Returns false on invalid input. */
bool cd_kube_base64_decode(const char *s, size_t len, cd_kube_blob *out);

#endif
