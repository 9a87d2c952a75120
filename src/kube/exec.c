/* exec.c - see exec.h. Spawns the plugin with posix_spawnp (stdin from
 * /dev/null, stdout captured up to 1 MiB, stderr passed through), kills it
 * when it overruns its timeout. Must not leak descriptors into it. */
#include "kube/exec.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
#define MAX_OUT (1u << 20)

void cd_kube_exec_cred_free(cd_kube_exec_cred *c)
{
    if (!c)
        return;
    free(c->token);
    free(c->cert.data);
    free(c->key.data);
    memset(c, 0, sizeof *c);
}

static bool pem_field(const json_t *st, const char *key, cd_kube_blob *out)
{
    const char *s = json_string_value(json_object_get(st, key));
    if (!s || !*s)
        return false;
    out->len = strlen(s);
    out->data = (unsigned char *)strdup(s);
    return true;
}

bool cd_kube_exec_parse(const char *out, size_t len, const char *api_version,
                        cd_kube_exec_cred *cred, cd_kube_err *err)
{
    memset(cred, 0, sizeof *cred);
    json_error_t je;
    json_t *j = json_loadb(out, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: output is not an ExecCredential: %s",
                            j ? "not an object" : je.text);
    }
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *av = json_string_value(json_object_get(j, "apiVersion"));
    json_t *st = json_object_get(j, "status");
    bool ok = false;
    if (!kind || strcmp(kind, "ExecCredential")) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: kind is \"%s\", not ExecCredential",
                     kind ? kind : "");
    } else if (!av || (api_version && strcmp(av, api_version))) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: apiVersion \"%s\" does not match \"%s\"",
                     av ? av : "", api_version ? api_version : "");
    } else if (!json_is_object(st)) {
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: ExecCredential has no status");
    } else {
        const char *tok = json_string_value(json_object_get(st, "token"));
        bool c = pem_field(st, "clientCertificateData", &cred->cert);
        bool k = pem_field(st, "clientKeyData", &cred->key);
        const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
        if (c != k) {
            cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: clientCertificateData and clientKeyData "
                         "must come together");
        } else if (!(tok && *tok) && !c) {
            cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: ExecCredential has neither a token nor "
                         "a client certificate");
        } else if (exp && *exp && !cd_parse_rfc3339(exp, &cred->expires_ms)) {
            cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: expirationTimestamp \"%s\" is not RFC 3339",
                         exp);
        } else {
            cred->token = tok && *tok ? strdup(tok) : NULL;
            ok = true;
        }
    }
    json_decref(j);
    if (!ok)
        cd_kube_exec_cred_free(cred);
    return ok;
}

static char *exec_info(const cd_kube_exec_config *e, const cd_kube_config *cfg)
{
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    if (e->provide_cluster_info && cfg) {
        json_t *cl = json_pack("{s:s}", "server", cfg->server ? cfg->server : "");
        if (cfg->tls_server_name)
            json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
        if (cfg->insecure_skip_tls_verify)
            json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
        if (cfg->proxy_url)
            json_object_set_new(cl, "proxy-url", json_string(cfg->proxy_url));
        if (cfg->ca_data.data) {
            unsigned char *b64 = malloc(cfg->ca_data.len / 3 * 4 + 8);
            EVP_EncodeBlock(b64, cfg->ca_data.data, (int)cfg->ca_data.len);
            json_object_set_new(cl, "certificate-authority-data", json_string((char *)b64));
            free(b64);
        }
        json_object_set_new(spec, "cluster", cl);
    }
    json_t *j = json_pack("{s:s, s:s, s:o}", "kind", "ExecCredential", "apiVersion", e->api_version,
                          "spec", spec);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static char **build_env(const cd_kube_exec_config *e, const char *info)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + e->nenv + 2, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool replaced = !strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21);
        for (size_t j = 0; j < e->nenv && !replaced; j++)
            if (!strncmp(e->env[j], environ[i], nl) && e->env[j][nl] == '=')
                replaced = true;
        if (!replaced)
            env[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < e->nenv; j++)
        env[k++] = strdup(e->env[j]);
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "KUBERNETES_EXEC_INFO=%s", info);
    env[k++] = cd_buf_steal(&b);
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

bool cd_kube_exec_run(const cd_kube_exec_config *e, const cd_kube_config *cfg, int timeout_ms,
                      cd_kube_exec_cred *cred, cd_kube_err *err)
{
    memset(cred, 0, sizeof *cred);
    if (!e || !e->command)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin: no command");
    if (e->interactive_mode && !strcmp(e->interactive_mode, "Always"))
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s needs an interactive terminal "
                            "(interactiveMode: Always); canaryd never has one", e->command);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s: pipe: %s", e->command, strerror(errno));
    char *info = exec_info(e, cfg);
    char **env = build_env(e, info);
    free(info);
    char **argv = calloc(e->nargs + 2, sizeof *argv);
    argv[0] = e->command;
    for (size_t i = 0; i < e->nargs; i++)
        argv[i + 1] = e->args[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, e->command, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    free_env(env);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s: %s%s%s", e->command, strerror(rc),
                            e->install_hint ? ". " : "", e->install_hint ? e->install_hint : "");
    }
    cd_buf b = CD_BUF_INIT;
    int64_t deadline = cd_mono_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
    bool timed_out = false, too_big = false;
    for (;;) {
        int64_t left = deadline - cd_mono_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = {out[0], POLLIN, 0};
        int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char chunk[4096];
        ssize_t r = read(out[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (b.len + (size_t)r > MAX_OUT) {
            too_big = true;
            break;
        }
        cd_buf_append(&b, chunk, (size_t)r);
    }
    close(out[0]);
    if (timed_out || too_big)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    bool ok = false;
    if (timed_out)
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s did not answer within %d ms", e->command,
                     timeout_ms);
    else if (too_big)
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s printed more than 1 MiB", e->command);
    else if (WIFSIGNALED(status))
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s was killed by signal %d", e->command,
                     WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        cd_kube_fail(err, CD_KR_CONFIG, 0, "exec plugin %s failed with exit status %d%s%s", e->command,
                     WEXITSTATUS(status), e->install_hint && WEXITSTATUS(status) == 127 ? ". " : "",
                     e->install_hint && WEXITSTATUS(status) == 127 ? e->install_hint : "");
    else
        ok = cd_kube_exec_parse(cd_buf_str(&b), b.len, e->api_version, cred, err);
    cd_buf_free(&b);
    return ok;
}
