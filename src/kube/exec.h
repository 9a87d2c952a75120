/* exec.h - client.authentication.k8s.io exec credential plugins (what
 * `aws eks get-token`, `gke-gcloud-auth-plugin` and kubelogin are): run
 * the command from the kubeconfig with KUBERNETES_EXEC_INFO set, never
 * interactively, read the ExecCredential it prints, and return its token or
 * client certificate and when it expires. Running spawns a process with a
 * timeout; parsing is pure. */
#ifndef CD_KUBE_EXEC_H
#define CD_KUBE_EXEC_H
#include "kube/config.h"
#include "kube/err.h"
#include <stdint.h>

typedef struct cd_kube_exec_cred {
    char *token;
    cd_kube_blob cert, key;     /* PEM */
    int64_t expires_ms;         /* wall clock ms; 0: no expiry given */
} cd_kube_exec_cred;

/* The plugin's stdout: an ExecCredential of api_version with a token or a
 * client certificate and key. */
bool cd_kube_exec_parse(const char *out, size_t len, const char *api_version,
                        cd_kube_exec_cred *cred, cd_kube_err *err);

/* Runs the plugin (cfg may be NULL: no cluster information). */
bool cd_kube_exec_run(const cd_kube_exec_config *e, const cd_kube_config *cfg, int timeout_ms,
                      cd_kube_exec_cred *cred, cd_kube_err *err);

void cd_kube_exec_cred_free(cd_kube_exec_cred *c);

#endif
