/* supervisor.c - process sets: spawn, probe, restart, roll, drain, stop and
 * adopt local processes. See supervisor.h. Uses posix_spawn (no fork in a
 * threaded program), pidfd to watch processes that are not our children,
 * and libcurl's multi interface so that probes never block a step. */
#include "local/supervisor.h"
#include "util/access.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_REPLICAS 64
#define RESTART_BACKOFF_MIN_MS 500
#define RESTART_BACKOFF_MAX_MS 10000
#define DRAIN_DELAY_MS 300          /* let in-flight requests finish after the router let go */

typedef struct probe {
    CURL *easy;
    int replica_index;
    pid_t pid;
} probe;

struct cd_procset {
    char *name;
    char *log_dir;
    char *owner;
    char *key;              /* CANARYD_SET of its replicas: "<namespace>/<name>" */
    cd_proc_template *tmpl;
    int desired;
    cd_replica reps[MAX_REPLICAS * 2];   /* room for a surge during a roll */
    size_t nreps;
    int64_t gen, applied_gen;
    CURLM *multi;
    probe probes[MAX_REPLICAS * 2];
    size_t nprobes;
    int restarts;
    int64_t backoff_ms, next_spawn_ms;
    char error[512];        /* why the last spawn failed ("" once one succeeds) */
    bool inplace;           /* surge 0, indices [lo, hi), one process per index with peer */
    int lo, hi;
    const cd_procset *peer;
};

/* ---- templates --------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

static char *join_dir(const char *base, const char *path)
{
    if (!path || !*path)
        return xstrdup(base ? base : ".");
    if (path[0] == '/' || !base)
        return xstrdup(path);
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/%s", base, path);
    return cd_buf_steal(&b);
}

/* An absolute form of path, made now: a replica is spawned long after the
 * manifest was read, from whatever directory canaryd runs in, and the
 * spawn changes into the working dir before it looks for the program, so
 * nothing relative may be left. "./" and "x/.." parts are removed so that
 * messages show a readable path. */
static char *absolute(const char *path)
{
    cd_buf b = CD_BUF_INIT;
    if (path[0] != '/') {
        char cwd[4096];
        cd_buf_puts(&b, getcwd(cwd, sizeof cwd) ? cwd : "/");
    }
    cd_buf_putc(&b, '/');
    cd_buf_puts(&b, path);
    /* normalise in place: split on '/', drop "." and "", pop on ".." */
    char *src = cd_buf_steal(&b), *out = calloc(1, strlen(src) + 2);
    if (!out)
        abort();
    size_t n = 0;
    for (char *save = NULL, *part = strtok_r(src, "/", &save); part;
         part = strtok_r(NULL, "/", &save)) {
        if (!strcmp(part, "."))
            continue;
        if (!strcmp(part, "..")) {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;   /* the slash */
            continue;
        }
        out[n++] = '/';
        size_t len = strlen(part);
        memcpy(out + n, part, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(src);
    return out;
}

cd_proc_template *cd_proc_template_new(const cd_local_workload_spec *spec, const char *base_dir,
                                       const char *revision)
{
    cd_proc_template *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    /* the working dir is relative to the manifest's directory; a relative
     * command with a slash is relative to the working dir; a bare name is
     * looked up in PATH by posix_spawnp. Both are made absolute here, when
     * the manifest is read (see absolute()). */
    char *wd = join_dir(base_dir, spec->working_dir);
    t->working_dir = absolute(wd);
    free(wd);
    if (spec->command && strchr(spec->command, '/')) {
        char *cmd = join_dir(t->working_dir, spec->command);
        t->command = absolute(cmd);
        free(cmd);
    } else {
        t->command = xstrdup(spec->command);
    }
    t->nargs = spec->args.n;
    t->args = calloc(t->nargs + 1, sizeof *t->args);
    for (size_t i = 0; i < t->nargs; i++)
        t->args[i] = xstrdup(spec->args.items[i]);
    t->nenv = spec->n_env;
    t->env = calloc(t->nenv + 1, sizeof *t->env);
    for (size_t i = 0; i < t->nenv; i++) {
        cd_buf b = CD_BUF_INIT;
        cd_buf_printf(&b, "%s=%s", spec->env[i].key, spec->env[i].value);
        t->env[i] = cd_buf_steal(&b);
    }
    t->replicas = spec->replicas;
    t->port_env = xstrdup(spec->port_env);
    t->host = xstrdup(spec->host);
    t->has_probe = spec->has_probe;
    t->probe_path = xstrdup(spec->probe_path);
    t->probe_initial_delay_ms = spec->probe_initial_delay_ms;
    t->probe_period_ms = spec->probe_period_ms > 0 ? spec->probe_period_ms : 1000;
    t->probe_timeout_ms = spec->probe_timeout_ms > 0 ? spec->probe_timeout_ms : 1000;
    t->probe_success_threshold = spec->probe_success_threshold > 0 ? spec->probe_success_threshold : 1;
    t->probe_failure_threshold = spec->probe_failure_threshold > 0 ? spec->probe_failure_threshold : 3;
    t->grace_ms = spec->grace_ms;
    snprintf(t->revision, sizeof t->revision, "%s", revision ? revision : "");
    return t;
}

void cd_proc_template_free(cd_proc_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nargs; i++)
        free(t->args[i]);
    for (size_t i = 0; i < t->nenv; i++)
        free(t->env[i]);
    free(t->args);
    free(t->env);
    free(t->command);
    free(t->working_dir);
    free(t->port_env);
    free(t->host);
    free(t->probe_path);
    free(t);
}

json_t *cd_proc_template_to_json(const cd_proc_template *t)
{
    json_t *args = json_array(), *env = json_array();
    for (size_t i = 0; i < t->nargs; i++)
        json_array_append_new(args, json_string(t->args[i]));
    for (size_t i = 0; i < t->nenv; i++)
        json_array_append_new(env, json_string(t->env[i]));
    return json_pack("{s:s,s:o,s:o,s:s,s:i,s:s,s:s,s:b,s:s,s:I,s:I,s:I,s:i,s:i,s:I,s:s}",
                     "command", t->command, "args", args, "env", env, "workingDir",
                     t->working_dir, "replicas", t->replicas, "portEnv", t->port_env, "host",
                     t->host, "probe", t->has_probe, "probePath", t->probe_path,
                     "probeInitialDelayMs", (json_int_t)t->probe_initial_delay_ms,
                     "probePeriodMs", (json_int_t)t->probe_period_ms, "probeTimeoutMs",
                     (json_int_t)t->probe_timeout_ms, "probeSuccess",
                     t->probe_success_threshold, "probeFailure", t->probe_failure_threshold,
                     "graceMs", (json_int_t)t->grace_ms, "revision", t->revision);
}

static char **strings_of(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    char **out = calloc(*n + 1, sizeof *out);
    if (!out)
        abort();
    for (size_t i = 0; i < *n; i++)
        out[i] = xstrdup(json_string_value(json_array_get(a, i)));
    return out;
}

cd_proc_template *cd_proc_template_from_json(const json_t *j)
{
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "command")))
        return NULL;
    cd_proc_template *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    const char *s;
#define STR(key) ((s = json_string_value(json_object_get(j, key))) ? s : "")
#define INT(key) json_integer_value(json_object_get(j, key))
    t->command = xstrdup(STR("command"));
    t->args = strings_of(json_object_get(j, "args"), &t->nargs);
    t->env = strings_of(json_object_get(j, "env"), &t->nenv);
    t->working_dir = xstrdup(STR("workingDir"));
    t->replicas = (int)INT("replicas");
    t->port_env = xstrdup(STR("portEnv"));
    t->host = xstrdup(STR("host"));
    t->has_probe = json_is_true(json_object_get(j, "probe"));
    t->probe_path = xstrdup(STR("probePath"));
    t->probe_initial_delay_ms = INT("probeInitialDelayMs");
    t->probe_period_ms = INT("probePeriodMs") > 0 ? INT("probePeriodMs") : 1000;
    t->probe_timeout_ms = INT("probeTimeoutMs") > 0 ? INT("probeTimeoutMs") : 1000;
    t->probe_success_threshold = INT("probeSuccess") > 0 ? (int)INT("probeSuccess") : 1;
    t->probe_failure_threshold = INT("probeFailure") > 0 ? (int)INT("probeFailure") : 3;
    t->grace_ms = INT("graceMs");
    snprintf(t->revision, sizeof t->revision, "%s", STR("revision"));
#undef STR
#undef INT
    return t;
}

cd_proc_template *cd_proc_template_copy(const cd_proc_template *t)
{
    json_t *j = cd_proc_template_to_json(t);
    cd_proc_template *c = cd_proc_template_from_json(j);
    json_decref(j);
    return c;
}

/* ---- process sets -------------------------------------------------------- */

cd_procset *cd_procset_new(const char *name, const char *log_dir)
{
    cd_procset *ps = calloc(1, sizeof *ps);
    if (!ps)
        abort();
    ps->name = xstrdup(name);
    ps->log_dir = log_dir ? xstrdup(log_dir) : NULL;
    ps->multi = curl_multi_init();
    ps->gen = 1;
    ps->backoff_ms = RESTART_BACKOFF_MIN_MS;
    return ps;
}

static void cancel_probe(cd_procset *ps, size_t i)
{
    curl_multi_remove_handle(ps->multi, ps->probes[i].easy);
    curl_easy_cleanup(ps->probes[i].easy);
    ps->probes[i] = ps->probes[--ps->nprobes];
}

static void forget_replica(cd_procset *ps, size_t i)
{
    cd_replica *r = &ps->reps[i];
    for (size_t p = 0; p < ps->nprobes;) {
        if (ps->probes[p].pid == r->pid)
            cancel_probe(ps, p);
        else
            p++;
    }
    if (r->pidfd >= 0)
        close(r->pidfd);
    if (r->state == CD_REP_READY)
        ps->gen++;
    ps->reps[i] = ps->reps[--ps->nreps];
}

void cd_procset_free(cd_procset *ps)
{
    if (!ps)
        return;
    while (ps->nprobes)
        cancel_probe(ps, 0);
    for (size_t i = 0; i < ps->nreps; i++)
        if (ps->reps[i].pidfd >= 0)
            close(ps->reps[i].pidfd);
    curl_multi_cleanup(ps->multi);
    cd_proc_template_free(ps->tmpl);
    free(ps->owner);
    free(ps->key);
    free(ps->name);
    free(ps->log_dir);
    free(ps);
}

const char *cd_procset_name(const cd_procset *ps) { return ps->name; }
const char *cd_procset_error(const cd_procset *ps) { return ps->error; }

void cd_procset_set_owner(cd_procset *ps, const char *owner)
{
    free(ps->owner);
    ps->owner = owner ? xstrdup(owner) : NULL;
}

void cd_procset_set_key(cd_procset *ps, const char *key)
{
    free(ps->key);
    ps->key = key ? xstrdup(key) : NULL;
}

size_t cd_procs_owned_by(const char *owner, pid_t *out, size_t cap)
{
    char want[1100];
    snprintf(want, sizeof want, "CANARYD_OWNER=%s", owner);
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        size_t len;
        char *env = cd_read_file(path, &len);
        if (!env)
            continue;
        for (size_t off = 0; off < len; off += strlen(env + off) + 1) {
            if (!strcmp(env + off, want)) {
                uint64_t st;
                if (cd_proc_start_time((pid_t)pid, &st))   /* not a zombie */
                    out[n++] = (pid_t)pid;
                break;
            }
        }
        free(env);
    }
    closedir(d);
    return n;
}
const cd_proc_template *cd_procset_template(const cd_procset *ps) { return ps->tmpl; }
int cd_procset_desired(const cd_procset *ps) { return ps->desired; }
size_t cd_procset_replica_count(const cd_procset *ps) { return ps->nreps; }
const cd_replica *cd_procset_replica(const cd_procset *ps, size_t i)
{
    return i < ps->nreps ? &ps->reps[i] : NULL;
}

void cd_procset_set_template(cd_procset *ps, const cd_proc_template *t)
{
    cd_proc_template *copy = cd_proc_template_copy(t);
    cd_proc_template_free(ps->tmpl);
    ps->tmpl = copy;
    ps->backoff_ms = RESTART_BACKOFF_MIN_MS;   /* a new spec deserves a fresh start */
    ps->next_spawn_ms = 0;
    ps->error[0] = '\0';
}

void cd_procset_set_inplace(cd_procset *ps, const cd_procset *peer)
{
    ps->inplace = true;
    ps->peer = peer;
}

void cd_procset_set_range(cd_procset *ps, int lo, int hi)
{
    if (lo < 0)
        lo = 0;
    if (hi > MAX_REPLICAS)
        hi = MAX_REPLICAS;
    if (hi < lo)
        hi = lo;
    ps->lo = lo;
    ps->hi = hi;
    ps->desired = hi - lo;
}

void cd_procset_scale(cd_procset *ps, int replicas)
{
    if (replicas < 0)
        replicas = 0;
    if (replicas > MAX_REPLICAS)
        replicas = MAX_REPLICAS;
    if (ps->inplace && replicas > ps->hi - ps->lo)
        replicas = ps->hi - ps->lo;   /* the range decides */
    ps->desired = replicas;
}

static bool alive(const cd_replica *r)
{
    return r->state != CD_REP_DRAINING && r->state != CD_REP_STOPPING;
}

static bool current(const cd_procset *ps, const cd_replica *r)
{
    return ps->tmpl && !strcmp(r->revision, ps->tmpl->revision);
}

cd_procset_counts cd_procset_counts_of(const cd_procset *ps)
{
    cd_procset_counts c = {.desired = ps->desired, .restarts = ps->restarts};
    for (size_t i = 0; i < ps->nreps; i++) {
        const cd_replica *r = &ps->reps[i];
        if (!alive(r))
            continue;
        c.running++;
        if (current(ps, r)) {
            c.updated++;
            if (r->state == CD_REP_READY)
                c.ready++;
        } else {
            c.old++;
        }
    }
    return c;
}

size_t cd_procset_endpoints(const cd_procset *ps, cd_endpoint *out, size_t cap, int64_t *gen)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->nreps && n < cap; i++) {
        const cd_replica *r = &ps->reps[i];
        if (r->state != CD_REP_READY)
            continue;
        snprintf(out[n].host, sizeof out[n].host, "%s", ps->tmpl ? ps->tmpl->host : "127.0.0.1");
        out[n].port = r->port;
        out[n].index = r->index;
        snprintf(out[n].revision, sizeof out[n].revision, "%s", r->revision);
        n++;
    }
    if (gen)
        *gen = ps->gen;
    return n;
}

void cd_procset_endpoints_applied(cd_procset *ps, int64_t gen)
{
    if (gen > ps->applied_gen)
        ps->applied_gen = gen;
}

/* ---- spawning ------------------------------------------------------------ */

static int pick_port(const char *host)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static char *expand(const char *arg, int port, int index)
{
    cd_buf b = CD_BUF_INIT;
    for (const char *p = arg; *p;) {
        if (!strncmp(p, "{{ port }}", 10) || !strncmp(p, "{{port}}", 8)) {
            cd_buf_printf(&b, "%d", port);
            p += p[2] == ' ' ? 10 : 8;
        } else if (!strncmp(p, "{{ replica }}", 13) || !strncmp(p, "{{replica}}", 11)) {
            cd_buf_printf(&b, "%d", index);
            p += p[2] == ' ' ? 13 : 11;
        } else {
            cd_buf_putc(&b, *p++);
        }
    }
    return cd_buf_steal(&b);
}

static int free_index(const cd_procset *ps)
{
    for (int idx = 0;; idx++) {
        bool used = false;
        for (size_t i = 0; i < ps->nreps; i++)
            if (ps->reps[i].index == idx)
                used = true;
        if (!used)
            return idx;
    }
}

/* Why t cannot be started, checked before the spawn so that the message
 * says which part is missing (posix_spawn answers ENOENT for a missing
 * working dir and a missing program alike). */
static bool spawn_problem(const cd_proc_template *t, char *msg, size_t len)
{
    struct stat st;
    const char *why = stat(t->working_dir, &st) != 0 ? strerror(errno)
                      : !S_ISDIR(st.st_mode)          ? "not a directory"
                                                      : NULL;
    if (why) {
        snprintf(msg, len, "cannot start %.200s: working directory %.200s: %s", t->command,
                 t->working_dir, why);
        return true;
    }
    if (strchr(t->command, '/')) {
        if (access(t->command, X_OK) != 0) {
            snprintf(msg, len, "cannot start %.300s: %s", t->command, strerror(errno));
            return true;
        }
        return false;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", t->command);
        if (access(full, X_OK) == 0)
            return false;
        p += n + (end ? 1 : 0);
    }
    snprintf(msg, len, "cannot start %.200s: no such program in $PATH", t->command);
    return true;
}

static bool spawn_replica(cd_procset *ps, int64_t now, int index)
{
    const cd_proc_template *t = ps->tmpl;
    int port = pick_port(t->host);
    if (port < 0) {
        cd_error("%s: no free port on %s", ps->name, t->host);
        return false;
    }
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **argv = calloc(t->nargs + 2, sizeof *argv);
    char **envp = calloc(nenv + t->nenv + 7, sizeof *envp);
    if (!argv || !envp)
        abort();
    argv[0] = xstrdup(t->command);
    for (size_t i = 0; i < t->nargs; i++)
        argv[i + 1] = expand(t->args[i], port, index);
    size_t e = 0;
    size_t plen = strlen(t->port_env);
    for (size_t i = 0; i < nenv; i++)   /* inherit, minus what we set */
        if ((strncmp(environ[i], t->port_env, plen) || environ[i][plen] != '=') &&
            strncmp(environ[i], "CANARYD_OWNER=", 14) && strncmp(environ[i], "CANARYD_SET=", 12) &&
            strncmp(environ[i], "CANARYD_REVISION=", 17) && strncmp(environ[i], "CANARYD_PORT=", 13) &&
            !cd_env_is_secret(environ[i]))
            envp[e++] = xstrdup(environ[i]);
    for (size_t i = 0; i < t->nenv; i++)
        envp[e++] = xstrdup(t->env[i]);
    cd_buf pe = CD_BUF_INIT, re = CD_BUF_INIT;
    cd_buf_printf(&pe, "%s=%d", t->port_env, port);
    cd_buf_printf(&re, "CANARYD_REPLICA=%d", index);
    envp[e++] = cd_buf_steal(&pe);
    envp[e++] = cd_buf_steal(&re);
    if (ps->owner) {
        /* marks that let a restarted canaryd find this replica even when
         * its process record is lost (cd_procset_adopt_marked) */
        cd_buf oe = CD_BUF_INIT, se = CD_BUF_INIT, ve = CD_BUF_INIT, ne = CD_BUF_INIT;
        cd_buf_printf(&oe, "CANARYD_OWNER=%s", ps->owner);
        cd_buf_printf(&se, "CANARYD_SET=%s", ps->key ? ps->key : ps->name);
        cd_buf_printf(&ve, "CANARYD_REVISION=%s", t->revision);
        cd_buf_printf(&ne, "CANARYD_PORT=%d", port);
        envp[e++] = cd_buf_steal(&oe);
        envp[e++] = cd_buf_steal(&se);
        envp[e++] = cd_buf_steal(&ve);
        envp[e++] = cd_buf_steal(&ne);
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_addchdir_np(&fa, t->working_dir);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (ps->log_dir) {
        cd_buf log = CD_BUF_INIT;
        cd_buf_printf(&log, "%s/%s-%d.log", ps->log_dir, ps->name, index);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.data,
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        cd_buf_free(&log);
    }
    pid_t pid = 0;
    int rc = spawn_problem(t, ps->error, sizeof ps->error)
                 ? -1
                 : posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    for (size_t i = 0; envp[i]; i++)
        free(envp[i]);
    free(argv);
    free(envp);
    if (rc > 0)
        snprintf(ps->error, sizeof ps->error, "cannot start %.200s in %.200s: %s", t->command,
                 t->working_dir, strerror(rc));
    if (rc != 0) {
        cd_error("%s: %s", ps->name, ps->error);
        return false;
    }
    ps->error[0] = '\0';
    cd_replica *r = &ps->reps[ps->nreps++];
    memset(r, 0, sizeof *r);
    r->index = index;
    r->pid = pid;
    r->pidfd = cd_pidfd_open(pid);
    if (!cd_proc_start_time(pid, &r->start_time))
        r->start_time = 0;
    r->port = port;
    snprintf(r->revision, sizeof r->revision, "%s", t->revision);
    r->state = CD_REP_STARTING;
    r->started_ms = now;
    r->next_probe_ms = now + t->probe_initial_delay_ms;
    r->owned = true;
    cd_info("%s: started replica %d (pid %d, port %d, revision %s)", ps->name, index, (int)pid,
            port, r->revision);
    return true;
}

/* ---- exits ------------------------------------------------------------- */

static bool has_exited(cd_replica *r)
{
    if (r->owned) {
        int status;
        pid_t w = waitpid(r->pid, &status, WNOHANG);
        if (w == r->pid)
            return true;
        if (w < 0 && errno == ECHILD)
            return !cd_proc_is(r->pid, r->start_time);
        return false;
    }
    if (r->pidfd >= 0) {
        struct pollfd p = {.fd = r->pidfd, .events = POLLIN};
        return poll(&p, 1, 0) > 0;
    }
    return !cd_proc_is(r->pid, r->start_time);
}

/* In place, an index is free only once the replica's whole process group
 * has gone (each replica leads its own session): a wrapper such as flock
 * or a shell may exit before the server it started, and that server still
 * holds whatever makes the replica a singleton (a lock, a port, files). */
static void signal_replica(cd_procset *ps, cd_replica *r, int sig);

static bool group_lingers(const cd_procset *ps, const cd_replica *r)
{
    return ps->inplace && (kill(-r->pid, 0) == 0 || errno == EPERM);
}

static void reap(cd_procset *ps, int64_t now)
{
    for (size_t i = 0; i < ps->nreps;) {
        cd_replica *r = &ps->reps[i];
        if (!has_exited(r)) {
            i++;
            continue;
        }
        if (r->state != CD_REP_STOPPING && r->state != CD_REP_DRAINING) {
            ps->restarts++;
            cd_warn("%s: replica %d (pid %d) exited unexpectedly; restarting in %lld ms", ps->name,
                    r->index, (int)r->pid, (long long)ps->backoff_ms);
            ps->next_spawn_ms = now + ps->backoff_ms;
            ps->backoff_ms = ps->backoff_ms * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS
                                                                         : ps->backoff_ms * 2;
            if (group_lingers(ps, r)) {
                /* what it left behind is stopped before the index starts again */
                if (r->state == CD_REP_READY)
                    ps->gen++;   /* the ready set changes, as when it is forgotten */
                r->state = CD_REP_STOPPING;
                r->kill_at_ms = now + (ps->tmpl ? ps->tmpl->grace_ms : 10000);
                signal_replica(ps, r, SIGTERM);
            }
        }
        if (group_lingers(ps, r)) {
            i++;   /* kept (and killed after the grace period by stop_drained) */
            continue;
        }
        forget_replica(ps, i);
    }
}

/* ---- readiness ---------------------------------------------------------- */

static size_t discard(char *p, size_t s, size_t n, void *u) { return s * n; }

static void start_probe(cd_procset *ps, cd_replica *r, int64_t now)
{
    const cd_proc_template *t = ps->tmpl;
    CURL *e = curl_easy_init();
    if (!e)
        return;
    char url[512];
    if (t->has_probe)
        snprintf(url, sizeof url, "http://%s:%d%s", t->host, r->port, t->probe_path);
    else
        snprintf(url, sizeof url, "telnet://%s:%d", t->host, r->port);   /* TCP connect only */
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->probe_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (!t->has_probe)
        curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_multi_add_handle(ps->multi, e);
    ps->probes[ps->nprobes++] = (probe){e, r->index, r->pid};
    r->probing = true;
    r->next_probe_ms = now + t->probe_period_ms;
}

static cd_replica *replica_of(cd_procset *ps, pid_t pid)
{
    for (size_t i = 0; i < ps->nreps; i++)
        if (ps->reps[i].pid == pid)
            return &ps->reps[i];
    return NULL;
}

static void probe_result(cd_procset *ps, cd_replica *r, bool ok)
{
    const cd_proc_template *t = ps->tmpl;
    r->probing = false;
    if (!alive(r))
        return;
    if (ok) {
        r->ok_streak++;
        r->fail_streak = 0;
        if (r->state != CD_REP_READY && r->ok_streak >= t->probe_success_threshold) {
            r->state = CD_REP_READY;
            ps->gen++;
            ps->backoff_ms = RESTART_BACKOFF_MIN_MS;
            cd_info("%s: replica %d (port %d) is ready", ps->name, r->index, r->port);
        }
    } else {
        r->fail_streak++;
        r->ok_streak = 0;
        if (r->state == CD_REP_READY && r->fail_streak >= t->probe_failure_threshold) {
            r->state = CD_REP_UNREADY;
            ps->gen++;
            cd_warn("%s: replica %d (port %d) is not ready any more", ps->name, r->index, r->port);
        }
    }
}

static void run_probes(cd_procset *ps, int64_t now)
{
    if (!ps->tmpl)
        return;
    for (size_t i = 0; i < ps->nreps; i++) {
        cd_replica *r = &ps->reps[i];
        if (alive(r) && !r->probing && now >= r->next_probe_ms && ps->nprobes < MAX_REPLICAS * 2)
            start_probe(ps, r, now);
    }
    int running;
    curl_multi_perform(ps->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(ps->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        for (size_t p = 0; p < ps->nprobes; p++) {
            if (ps->probes[p].easy != m->easy_handle)
                continue;
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            bool ok = m->data.result == CURLE_OK &&
                      (!ps->tmpl->has_probe || (code >= 200 && code < 400));
            cd_replica *r = replica_of(ps, ps->probes[p].pid);
            if (r)
                probe_result(ps, r, ok);
            cancel_probe(ps, p);
            break;
        }
    }
}

/* ---- rolling, draining, stopping ---------------------------------------- */

static void drain(cd_procset *ps, cd_replica *r)
{
    bool was_ready = r->state == CD_REP_READY;
    r->state = CD_REP_DRAINING;
    if (was_ready) {
        ps->gen++;
        r->drain_gen = ps->gen;     /* signal once the router has seen this generation */
    } else {
        r->drain_gen = 0;           /* never received traffic */
    }
}

/* Picks the replica to retire among those matching want_current: unready
 * ones first, then the highest index. */
static cd_replica *pick_victim(cd_procset *ps, bool want_current)
{
    cd_replica *best = NULL;
    for (size_t i = 0; i < ps->nreps; i++) {
        cd_replica *r = &ps->reps[i];
        if (!alive(r) || current(ps, r) != want_current)
            continue;
        if (!best || (best->state == CD_REP_READY && r->state != CD_REP_READY) ||
            ((best->state == CD_REP_READY) == (r->state == CD_REP_READY) && r->index > best->index))
            best = r;
    }
    return best;
}

static void back_off(cd_procset *ps, int64_t now)
{
    ps->next_spawn_ms = now + ps->backoff_ms;
    ps->backoff_ms = ps->backoff_ms * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS
                                                                 : ps->backoff_ms * 2;
}

/* Whether a process of index idx is still known to ps, in any state (a
 * stopping one may still run: it leaves the list only once reaped). */
static bool index_taken(const cd_procset *ps, int idx)
{
    for (size_t i = 0; i < ps->nreps; i++)
        if (ps->reps[i].index == idx)
            return true;
    return false;
}

/* The in-place roll (surge 0): replicas of another revision or outside
 * the range leave first; an index is started only once its previous
 * process, here or in the peer set, has exited. */
static void roll_inplace(cd_procset *ps, int64_t now)
{
    int hi = ps->lo + ps->desired < ps->hi ? ps->lo + ps->desired : ps->hi;
    for (size_t i = 0; i < ps->nreps; i++) {
        cd_replica *r = &ps->reps[i];
        if (alive(r) && (!current(ps, r) || r->index < ps->lo || r->index >= hi))
            drain(ps, r);
    }
    if (now < ps->next_spawn_ms)
        return;
    for (int idx = ps->lo; idx < hi; idx++) {
        if (index_taken(ps, idx) || (ps->peer && index_taken(ps->peer, idx)))
            continue;
        if (!spawn_replica(ps, now, idx))
            back_off(ps, now);
        return;   /* one start per step, as the surge roll does */
    }
}

static void roll(cd_procset *ps, int64_t now)
{
    if (!ps->tmpl)
        return;
    if (ps->inplace) {
        roll_inplace(ps, now);
        return;
    }
    cd_procset_counts c = cd_procset_counts_of(ps);
    int ready_old = 0;
    for (size_t i = 0; i < ps->nreps; i++)
        if (alive(&ps->reps[i]) && !current(ps, &ps->reps[i]) && ps->reps[i].state == CD_REP_READY)
            ready_old++;
    /* scale up / surge: one new replica at a time beyond the desired count */
    if (c.updated < ps->desired && c.running < ps->desired + 1 && now >= ps->next_spawn_ms) {
        if (!spawn_replica(ps, now, free_index(ps)))
            back_off(ps, now);
        c = cd_procset_counts_of(ps);
    }
    /* retire old replicas without going below the desired ready count */
    while (c.old > 0) {
        cd_replica *v = pick_victim(ps, false);
        if (!v)
            break;
        bool v_ready = v->state == CD_REP_READY;
        if (v_ready && c.ready + ready_old - 1 < ps->desired && ps->desired > 0)
            break;
        if (v_ready)
            ready_old--;
        drain(ps, v);
        c = cd_procset_counts_of(ps);
    }
    /* scale down */
    while (c.updated > ps->desired) {
        cd_replica *v = pick_victim(ps, true);
        if (!v)
            break;
        drain(ps, v);
        c = cd_procset_counts_of(ps);
    }
}

static void signal_replica(cd_procset *ps, cd_replica *r, int sig)
{
    /* each replica leads its own session: signal the whole process group */
    if (kill(-r->pid, sig) != 0)
        kill(r->pid, sig);
}

static void stop_drained(cd_procset *ps, int64_t now)
{
    for (size_t i = 0; i < ps->nreps; i++) {
        cd_replica *r = &ps->reps[i];
        if (r->state == CD_REP_DRAINING && r->drain_gen <= ps->applied_gen) {
            if (!r->drained_ms)
                r->drained_ms = now;
            if (r->drain_gen && now - r->drained_ms < DRAIN_DELAY_MS)
                continue;
            r->state = CD_REP_STOPPING;
            r->kill_at_ms = now + (ps->tmpl ? ps->tmpl->grace_ms : 10000);
            cd_info("%s: stopping replica %d (pid %d)", ps->name, r->index, (int)r->pid);
            signal_replica(ps, r, SIGTERM);
        } else if (r->state == CD_REP_STOPPING && now >= r->kill_at_ms) {
            cd_warn("%s: replica %d (pid %d) ignored SIGTERM; killing it", ps->name, r->index,
                    (int)r->pid);
            signal_replica(ps, r, SIGKILL);
            r->kill_at_ms = now + 1000;
        }
    }
}

void cd_procset_step(cd_procset *ps, int64_t now_ms)
{
    reap(ps, now_ms);
    run_probes(ps, now_ms);
    roll(ps, now_ms);
    stop_drained(ps, now_ms);
}

bool cd_procset_stop_all(cd_procset *ps, int64_t now_ms)
{
    ps->desired = 0;
    for (size_t i = 0; i < ps->nreps; i++) {
        cd_replica *r = &ps->reps[i];
        if (alive(r))
            drain(ps, r);
        if (r->state == CD_REP_DRAINING)
            r->drain_gen = 0;
    }
    reap(ps, now_ms);
    stop_drained(ps, now_ms);
    return ps->nreps == 0;
}

/* ---- adoption ------------------------------------------------------------ */

json_t *cd_procset_save(const cd_procset *ps)
{
    json_t *reps = json_array();
    for (size_t i = 0; i < ps->nreps; i++) {
        const cd_replica *r = &ps->reps[i];
        json_array_append_new(
            reps, json_pack("{s:i,s:i,s:I,s:i,s:s,s:b}", "index", r->index, "pid", (int)r->pid,
                            "startTime", (json_int_t)r->start_time, "port", r->port, "revision",
                            r->revision, "ready", r->state == CD_REP_READY));
    }
    return json_pack("{s:s,s:i,s:o,s:o}", "name", ps->name, "desired", ps->desired, "template",
                     ps->tmpl ? cd_proc_template_to_json(ps->tmpl) : json_null(), "replicas",
                     reps);
}

int cd_procset_restore(cd_procset *ps, const json_t *j, int64_t now_ms)
{
    if (!json_is_object(j))
        return 0;
    cd_proc_template *t = cd_proc_template_from_json(json_object_get(j, "template"));
    if (t) {
        cd_proc_template_free(ps->tmpl);
        ps->tmpl = t;
    }
    ps->desired = (int)json_integer_value(json_object_get(j, "desired"));
    int adopted = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "replicas"), i, r) {
        pid_t pid = (pid_t)json_integer_value(json_object_get(r, "pid"));
        uint64_t st = (uint64_t)json_integer_value(json_object_get(r, "startTime"));
        if (!cd_proc_is(pid, st) || ps->nreps >= MAX_REPLICAS * 2)
            continue;   /* gone, or the PID belongs to someone else now */
        cd_replica *x = &ps->reps[ps->nreps++];
        memset(x, 0, sizeof *x);
        x->index = (int)json_integer_value(json_object_get(r, "index"));
        x->pid = pid;
        x->start_time = st;
        x->pidfd = cd_pidfd_open(pid);
        x->port = (int)json_integer_value(json_object_get(r, "port"));
        snprintf(x->revision, sizeof x->revision, "%s",
                 json_string_value(json_object_get(r, "revision")) ?: "");
        /* trust readiness only after a fresh probe */
        x->state = json_is_true(json_object_get(r, "ready")) ? CD_REP_READY : CD_REP_STARTING;
        x->started_ms = now_ms;
        x->next_probe_ms = now_ms;
        x->owned = false;
        adopted++;
    }
    ps->gen++;
    return adopted;
}

/* ---- records that cannot be trusted ---------------------------------------- */

static bool is_int_in(const json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

bool cd_procset_record_ok(const json_t *j, char *why, size_t n)
{
    if (!json_is_object(j)) {
        snprintf(why, n, "not a JSON object");
        return false;
    }
    if (!is_int_in(json_object_get(j, "desired"), 0, MAX_REPLICAS)) {
        snprintf(why, n, "desired: not a replica count");
        return false;
    }
    const json_t *t = json_object_get(j, "template");
    if (!json_is_null(t) && (!json_is_object(t) || !json_is_string(json_object_get(t, "command")) ||
                             !json_is_string(json_object_get(t, "revision")))) {
        snprintf(why, n, "template: not a process template");
        return false;
    }
    const json_t *reps = json_object_get(j, "replicas");
    if (!json_is_array(reps)) {
        snprintf(why, n, "replicas: not an array");
        return false;
    }
    size_t i;
    json_t *r;
    json_array_foreach(reps, i, r) {
        const char *bad = !json_is_object(r)                                     ? ""
                          : !is_int_in(json_object_get(r, "pid"), 1, 1 << 30)     ? ".pid"
                          : !is_int_in(json_object_get(r, "startTime"), 0, INT64_MAX) ? ".startTime"
                          : !is_int_in(json_object_get(r, "port"), 1, 65535)      ? ".port"
                          : !is_int_in(json_object_get(r, "index"), 0, 4 * MAX_REPLICAS) ? ".index"
                          : !json_is_string(json_object_get(r, "revision"))      ? ".revision"
                                                                                  : NULL;
        if (bad) {
            snprintf(why, n, "replicas[%zu]%s: wrong type or out of range", i, bad);
            return false;
        }
    }
    return true;
}

/* The value of NAME= in a NUL-separated environment block, or NULL. */
static const char *env_of(const char *env, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t off = 0; off < len; off += strlen(env + off) + 1)
        if (!strncmp(env + off, name, nl) && env[off + nl] == '=')
            return env + off + nl + 1;
    return NULL;
}

/* A TCP connect to host:port answers within 200 ms: the replica serves. */
static bool port_answers(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (!ok && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof err;
        ok = poll(&p, 1, 200) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
             err == 0;
    }
    close(fd);
    return ok;
}

int cd_procset_adopt_marked(cd_procset *ps, const char *owner, char *revision, size_t rlen,
                            int64_t now_ms)
{
    pid_t pids[256];
    size_t n = cd_procs_owned_by(owner, pids, 256);
    const char *key = ps->key ? ps->key : ps->name;
    int adopted = 0;
    if (rlen)
        revision[0] = '\0';
    for (size_t i = 0; i < n && ps->nreps < MAX_REPLICAS * 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pids[i]);
        size_t len;
        char *env = cd_read_file(path, &len);
        if (!env)
            continue;
        const char *set = env_of(env, len, "CANARYD_SET"), *rev = env_of(env, len, "CANARYD_REVISION"),
                   *port = env_of(env, len, "CANARYD_PORT"), *idx = env_of(env, len, "CANARYD_REPLICA");
        if (set && rev && port && idx && !strcmp(set, key) && replica_of(ps, pids[i]) == NULL) {
            cd_replica *x = &ps->reps[ps->nreps++];
            memset(x, 0, sizeof *x);
            x->index = atoi(idx);
            x->pid = pids[i];
            cd_proc_start_time(pids[i], &x->start_time);
            x->pidfd = cd_pidfd_open(pids[i]);
            x->port = atoi(port);
            snprintf(x->revision, sizeof x->revision, "%s", rev);
            /* it served before: keep it serving if it still listens (the
             * probe confirms or retires it at once) */
            x->state = port_answers(ps->tmpl ? ps->tmpl->host : "127.0.0.1", x->port)
                           ? CD_REP_READY
                           : CD_REP_STARTING;
            x->started_ms = now_ms;
            x->next_probe_ms = now_ms;
            x->owned = false;
            if (rlen && !revision[0])
                snprintf(revision, rlen, "%s", rev);
            adopted++;
        }
        free(env);
    }
    if (adopted) {
        int current_count = 0;
        for (size_t i = 0; i < ps->nreps; i++)
            current_count += !ps->tmpl || current(ps, &ps->reps[i]);
        /* never fewer than what runs: scaling down is the engine's call */
        if (ps->desired < current_count)
            ps->desired = current_count;
        ps->gen++;
    }
    return adopted;
}
