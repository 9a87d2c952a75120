/* workload.c - LocalWorkload decode (with defaults) and encode. Pure. */
#include "model/workload.h"
#include <math.h>
#include <string.h>

static int64_t seconds_ms(const cd_node *map, const char *key, int64_t def)
{
    double v;
    return cd_dec_num(map, key, &v) ? (int64_t)llround(v * 1000) : def;
}

cd_local_workload_spec *cd_workload_decode_spec(cd_dec *d, const cd_node *spec)
{
    cd_local_workload_spec *s = cd_arena_alloc(d->a, sizeof *s);
    s->command = cd_dec_str(d, spec, "command");
    cd_dec_strlist(d, cd_map_get(spec, "args"), &s->args);
    const cd_node *env = cd_map_get(spec, "env");
    if (env && env->type == CD_N_SEQ && env->nitems) {
        s->env = cd_arena_alloc(d->a, env->nitems * sizeof *s->env);
        for (size_t i = 0; i < env->nitems; i++) {
            const char *name = cd_dec_str(d, env->items[i], "name");
            if (!name)
                continue;
            const char *value = cd_dec_str(d, env->items[i], "value");
            s->env[s->n_env++] = (cd_kv){name, value ? value : ""};
        }
    }
    s->working_dir = cd_dec_str(d, spec, "workingDir");
    s->replicas = cd_dec_int_or(d, spec, "replicas", "spec", 1);
    const char *strategy = cd_dec_str(d, spec, "strategy");   /* the schema checks the enum */
    s->inplace = strategy && !strcmp(strategy, "InPlace");
    if (s->inplace && s->replicas == 1)
        cd_dec_warn(d, cd_map_get(spec, "strategy"), "spec.strategy",
                    "InPlace with replicas 1: the first step replaces the one process, so the "
                    "service has no ready replica while the new one starts, and a rollback "
                    "replaces it back the same way");
    const cd_node *port = cd_map_get(spec, "port");
    s->port_env = cd_dec_str(d, port, "env");
    if (!s->port_env)
        s->port_env = "PORT";
    s->host = cd_dec_str(d, port, "host");
    if (!s->host)
        s->host = "127.0.0.1";
    const cd_node *probe = cd_map_get(spec, "readinessProbe");
    s->has_probe = probe && probe->type == CD_N_MAP;
    s->probe_path = cd_dec_str(d, cd_map_get(probe, "httpGet"), "path");
    if (!s->probe_path)
        s->probe_path = "/";
    s->probe_initial_delay_ms = seconds_ms(probe, "initialDelaySeconds", 0);
    s->probe_period_ms = seconds_ms(probe, "periodSeconds", 1000);
    s->probe_timeout_ms = seconds_ms(probe, "timeoutSeconds", 1000);
    s->probe_success_threshold = cd_dec_int_or(d, probe, "successThreshold", "spec.readinessProbe", 1);
    s->probe_failure_threshold = cd_dec_int_or(d, probe, "failureThreshold", "spec.readinessProbe", 3);
    s->grace_ms = seconds_ms(spec, "terminationGracePeriodSeconds", 10000);
    return s;
}

json_t *cd_workload_encode_spec(const cd_local_workload_spec *s)
{
    json_t *o = json_object();
    cd_json_set_str(o, "command", s->command);
    json_object_set_new(o, "args", cd_strlist_json(&s->args));
    json_t *env = json_array();
    for (size_t i = 0; i < s->n_env; i++)
        json_array_append_new(env, json_pack("{s:s,s:s}", "name", s->env[i].key, "value",
                                             s->env[i].value));
    json_object_set_new(o, "env", env);
    cd_json_set_str(o, "workingDir", s->working_dir);
    json_object_set_new(o, "replicas", json_integer(s->replicas));
    if (s->inplace)   /* only then: the spec hash of a Surge workload stays what it was */
        json_object_set_new(o, "strategy", json_string("InPlace"));
    json_object_set_new(o, "port", json_pack("{s:s,s:s}", "env", s->port_env, "host", s->host));
    if (s->has_probe)
        json_object_set_new(
            o, "readinessProbe",
            json_pack("{s:{s:s},s:f,s:f,s:f,s:i,s:i}", "httpGet", "path", s->probe_path,
                      "initialDelaySeconds", s->probe_initial_delay_ms / 1000.0, "periodSeconds",
                      s->probe_period_ms / 1000.0, "timeoutSeconds", s->probe_timeout_ms / 1000.0,
                      "successThreshold", s->probe_success_threshold, "failureThreshold",
                      s->probe_failure_threshold));
    json_object_set_new(o, "terminationGracePeriodSeconds", json_real(s->grace_ms / 1000.0));
    return o;
}
