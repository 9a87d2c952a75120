/* workload.h - canaryd.dev/v1alpha1 LocalWorkload: local processes the
 * local platform supervises. Pure data and its codec; the supervisor is
 * in src/local/. */
#ifndef CD_WORKLOAD_H
#define CD_WORKLOAD_H
#include "model/canary.h"
#include "model/decode_util.h"
#include <jansson.h>

typedef struct cd_local_workload_spec {
    const char *command;
    cd_strlist args;
    cd_kv *env;                 /* name -> value, in order */
    size_t n_env;
    const char *working_dir;    /* NULL: the manifest's directory */
    int replicas;               /* default 1 */
    bool inplace;               /* strategy: InPlace (default Surge) */
    const char *port_env;       /* default "PORT" */
    const char *host;           /* default "127.0.0.1" */
    bool has_probe;
    const char *probe_path;     /* default "/" when a probe is set */
    int64_t probe_initial_delay_ms, probe_period_ms, probe_timeout_ms;
    int probe_success_threshold, probe_failure_threshold;
    int64_t grace_ms;           /* SIGTERM -> SIGKILL, default 10 s */
} cd_local_workload_spec;

cd_local_workload_spec *cd_workload_decode_spec(cd_dec *d, const cd_node *spec);
json_t *cd_workload_encode_spec(const cd_local_workload_spec *s);

#endif
