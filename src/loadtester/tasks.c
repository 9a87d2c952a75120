/* tasks.c - the load tester's webhook tasks (reference §4.4): `cmd` runs
 * `sh -c` in the background (deduplicated by canary + command while it
 * runs), `bash` runs `bash -c` and answers with its result, `helm`,
 * `helmv3` and `kubectl` run those programs when installed, and `load`
 * runs canaryd's native load generator (background, or synchronous with
 * wait: "true"). A command runs only if the policy (policy.h) allows it;
 * a refused one is a 403 and is counted. Every task is bounded by the
 * task timeout and killed on shutdown. */
#include "loadtester/load.h"
#include "loadtester/loadtester.h"
#include "loadtester/policy.h"
#include "loadtester/proc.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/grow.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { T_CMD, T_BASH, T_HELM, T_HELMV3, T_KUBECTL, T_LOAD, T_COUNT };
enum { R_STARTED, R_SKIPPED, R_SUCCEEDED, R_FAILED, R_REFUSED, R_COUNT };
static const char *const type_names[T_COUNT] = {"cmd", "bash", "helm", "helmv3", "kubectl", "load"};
static const char *const result_names[R_COUNT] = {"started", "skipped", "succeeded", "failed",
                                                   "refused"};

typedef struct job {
    struct cd_tasks *owner;
    int type;
    uint32_t hash;
    bool background;
    char *canary;
    char *command;              /* cmd, bash */
    bool log_output;
    cd_load_spec load;          /* load */
    volatile sig_atomic_t cancel;
    struct job *next;
} job;

struct cd_tasks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t timeout_ms;
    int max_tasks;
    const cd_cmd_policy *policy;
    job *running;
    int n_background;
    uint64_t execs;
    uint64_t counts[T_COUNT][R_COUNT];
    uint64_t load_classes[6];
    bool stopping;
};

cd_tasks *cd_tasks_new(int64_t timeout_ms, int max_tasks, const cd_cmd_policy *policy)
{
    cd_tasks *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->timeout_ms = timeout_ms > 0 ? timeout_ms : 3600000;
    t->max_tasks = max_tasks > 0 ? max_tasks : 256;
    t->policy = policy;
    return t;
}

static void job_free(job *j)
{
    free(j->canary);
    free(j->command);
    cd_load_spec_free(&j->load);
    free(j);
}

void cd_tasks_cancel_all(cd_tasks *t)
{
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    for (job *j = t->running; j; j = j->next)
        j->cancel = 1;
    pthread_mutex_unlock(&t->mu);
}

void cd_tasks_free(cd_tasks *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    for (job *j = t->running; j; j = j->next)
        j->cancel = 1;
    while (t->running)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

uint64_t cd_tasks_execs(cd_tasks *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->execs;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int cd_tasks_running(cd_tasks *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->n_background;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static void count(cd_tasks *t, int type, int result)
{
    pthread_mutex_lock(&t->mu);
    t->counts[type][result]++;
    pthread_mutex_unlock(&t->mu);
}

void cd_tasks_write_metrics(cd_tasks *t, cd_buf *out)
{
    pthread_mutex_lock(&t->mu);
    cd_buf_puts(out, "# HELP loadtester_tasks_total Webhook tasks by type and result.\n"
                     "# TYPE loadtester_tasks_total counter\n");
    for (int i = 0; i < T_COUNT; i++)
        for (int r = 0; r < R_COUNT; r++)
            cd_buf_printf(out, "loadtester_tasks_total{result=\"%s\",type=\"%s\"} %llu\n",
                          result_names[r], type_names[i], (unsigned long long)t->counts[i][r]);
    cd_buf_printf(out, "# HELP loadtester_tasks_running Background tasks running now.\n"
                       "# TYPE loadtester_tasks_running gauge\nloadtester_tasks_running %d\n",
                  t->n_background);
    static const char *cls[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    cd_buf_puts(out, "# HELP loadtester_load_requests_total Requests sent by load tasks, by "
                     "response class.\n# TYPE loadtester_load_requests_total counter\n");
    for (int i = 0; i < 6; i++)
        cd_buf_printf(out, "loadtester_load_requests_total{class=\"%s\"} %llu\n", cls[i],
                      (unsigned long long)t->load_classes[i]);
    pthread_mutex_unlock(&t->mu);
}

/* Flagger: FNV-32 of canary + command decides "the same task". */
static uint32_t task_hash(const char *canary, const char *what)
{
    size_t a = strlen(canary), b = strlen(what);
    char *s = malloc(a + b + 1);
    if (!s)
        abort();
    memcpy(s, canary, a);
    memcpy(s + a, what, b + 1);
    uint32_t h = cd_fnv1a32(s, a + b);
    free(s);
    return h;
}

/* Registers j as running; false when a background task with the same hash
 * runs already (or too many run). */
static bool register_job(cd_tasks *t, job *j, bool *too_many)
{
    *too_many = false;
    pthread_mutex_lock(&t->mu);
    bool ok = !t->stopping;
    if (t->stopping)
        *too_many = true;
    if (ok && j->background) {
        for (job *r = t->running; r; r = r->next)
            if (r->background && r->hash == j->hash)
                ok = false;
        if (ok && t->n_background >= t->max_tasks) {
            ok = false;
            *too_many = true;
        }
    }
    if (ok) {
        j->next = t->running;
        t->running = j;
        if (j->background)
            t->n_background++;
        if (j->type != T_LOAD)
            t->execs++;
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

static void unregister_job(cd_tasks *t, job *j)
{
    pthread_mutex_lock(&t->mu);
    for (job **p = &t->running; *p; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            break;
        }
    }
    if (j->background)
        t->n_background--;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static bool parse_bool(const char *s)
{
    return s && (!strcmp(s, "1") || !strcasecmp(s, "t") || !strcasecmp(s, "true"));
}

static const char *md_str(const json_t *md, const char *key)
{
    return json_string_value(json_object_get(md, key));
}

static void reply_text(cd_task_reply *out, unsigned status, const char *text)
{
    out->status = status;
    out->content_type = NULL;
    cd_buf_reset(&out->body);
    cd_buf_puts(&out->body, text ? text : "");
}

/* A command the policy refuses: 403 with the reason, logged, counted. */
static void refuse(cd_tasks *t, int type, const char *canary, const char *why, cd_task_reply *out)
{
    cd_logf(CD_LOG_WARN, canary, "%s task refused: %s", type_names[type], why);
    count(t, type, R_REFUSED);
    char msg[600];
    snprintf(msg, sizeof msg, "refused: %s", why);
    reply_text(out, 403, msg);
}

bool cd_tasks_blocks(const json_t *md)
{
    const char *type = md_str(md, "type");
    if (!type)
        return false;
    if (!strcmp(type, "load"))
        return parse_bool(md_str(md, "wait"));
    return !strcmp(type, "bash") || !strcmp(type, "helm") || !strcmp(type, "helmv3") ||
           !strcmp(type, "kubectl");
}

/* Runs a command job to completion in the calling thread. */
static bool run_command(job *j, char *const argv[], cd_proc_result *r)
{
    cd_tasks *t = j->owner;
    cd_logf(CD_LOG_INFO, j->canary, "command starting %s", j->command);
    bool ok = cd_proc_run(argv, t->timeout_ms, &j->cancel, r);
    if (ok) {
        if (j->log_output && r->output.len)
            cd_logf(CD_LOG_INFO, j->canary, "%s", r->output.data);
        cd_logf(CD_LOG_INFO, j->canary, "command finished %s", j->command);
    } else {
        cd_logf(CD_LOG_ERROR, j->canary, "command failed %s %s %s", j->command, r->error,
                r->output.data ? r->output.data : "");
    }
    count(t, j->type, ok ? R_SUCCEEDED : R_FAILED);
    return ok;
}

static void run_load(job *j, cd_load_report *rep, bool *passed)
{
    cd_tasks *t = j->owner;
    cd_err err = {""};
    char shown[512];
    cd_redact_url(j->load.url, 0, shown, sizeof shown);
    cd_logf(CD_LOG_INFO, j->canary, "load starting %s %s", j->load.method, shown);
    *passed = cd_load_run(&j->load, &j->cancel, rep, &err) && cd_load_passed(&j->load, rep);
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < 6; i++)
        t->load_classes[i] += rep->by_class[i];
    pthread_mutex_unlock(&t->mu);
    json_t *js = cd_load_report_json(rep);
    char *s = json_dumps(js, JSON_COMPACT | JSON_REAL_PRECISION(10));
    cd_logf(*passed ? CD_LOG_INFO : CD_LOG_ERROR, j->canary, "load %s %s %s", *passed ? "finished" : "failed",
            j->load.url, err.msg[0] ? err.msg : s);
    free(s);
    json_decref(js);
    count(t, T_LOAD, *passed ? R_SUCCEEDED : R_FAILED);
}

static void *background(void *arg)
{
    job *j = arg;
    if (j->type == T_LOAD) {
        cd_load_report rep;
        bool passed;
        run_load(j, &rep, &passed);
    } else {
        char *argv[] = {"sh", "-c", j->command, NULL};
        cd_proc_result r;
        run_command(j, argv, &r);
        cd_proc_result_free(&r);
    }
    cd_tasks *t = j->owner;
    unregister_job(t, j);
    job_free(j);
    return NULL;
}

static job *new_job(cd_tasks *t, int type, const char *canary, bool background)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->owner = t;
    j->type = type;
    j->background = background;
    j->canary = strdup(canary);
    if (!j->canary)
        abort();
    return j;
}

static void start_background(cd_tasks *t, job *j, cd_task_reply *out)
{
    bool too_many;
    if (!register_job(t, j, &too_many)) {
        if (too_many) {
            reply_text(out, 503, "too many running tasks (or shutting down)");
        } else {
            cd_logf(CD_LOG_INFO, j->canary, "command skipped %s is already running",
                    j->command ? j->command : j->load.url);
            count(t, j->type, R_SKIPPED);
            reply_text(out, 202, "");
        }
        job_free(j);
        return;
    }
    count(t, j->type, R_STARTED);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, background, j) != 0) {
        unregister_job(t, j);
        job_free(j);
        reply_text(out, 500, "cannot start a task thread");
    } else {
        reply_text(out, 202, "");
    }
    pthread_attr_destroy(&a);
}

/* Splits on whitespace, as Go's strings.Fields. */
static char **fields(const char *prog, const char *cmd, size_t *n)
{
    size_t cap = 8;
    char **v = malloc(cap * sizeof *v);
    if (!v)
        abort();
    *n = 0;
    v[(*n)++] = strdup(prog);
    char *copy = strdup(cmd ? cmd : ""), *save = NULL;
    for (char *w = strtok_r(copy, " \t\r\n\v\f", &save); w; w = strtok_r(NULL, " \t\r\n\v\f", &save)) {
        CD_GROW(v, cap, *n + 2, 8);
        v[(*n)++] = strdup(w);
    }
    v[*n] = NULL;
    free(copy);
    return v;
}

static char **task_argv(int type, const char *prog, const char *command, size_t *n)
{
    if (type != T_BASH)
        return fields(prog, command, n);
    char **argv = malloc(4 * sizeof *argv);
    if (!argv)
        abort();
    argv[0] = strdup("bash");
    argv[1] = strdup("-c");
    argv[2] = strdup(command);
    argv[3] = NULL;
    *n = 3;
    return argv;
}

static void free_argv(char **argv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
}

static void run_sync(cd_tasks *t, int type, const char *canary, const json_t *md, cd_task_reply *out)
{
    const char *cmd = md_str(md, "cmd");
    const char *prog = type == T_BASH ? "bash" : type == T_KUBECTL ? "kubectl" : "helm";
    size_t n = 0;
    char **argv = task_argv(type, prog, cmd ? cmd : "", &n);
    char why[400];
    if (!(type == T_BASH ? cd_cmd_policy_check_shell(t->policy, argv[2], why, sizeof why)
                         : cd_cmd_policy_check_argv(t->policy, argv, why, sizeof why))) {
        refuse(t, type, canary, why, out);
        free_argv(argv, n);
        return;
    }
    if (type != T_BASH && !cd_proc_in_path(prog)) {
        char msg[160];
        snprintf(msg, sizeof msg, "task type %s needs the %s program, which is not installed on "
                                  "this host", type_names[type], prog);
        reply_text(out, 400, msg);
        free_argv(argv, n);
        return;
    }
    job *j = new_job(t, type, canary, false);
    j->command = strdup(cmd ? cmd : "");
    j->log_output = true;
    if (type == T_BASH)
        cd_logf(CD_LOG_INFO, canary, "bash command %s", j->command);
    bool unused;
    if (!register_job(t, j, &unused)) {
        reply_text(out, 503, "shutting down");
        free_argv(argv, n);
        job_free(j);
        return;
    }
    cd_proc_result r;
    bool ok = run_command(j, argv, &r);
    if (ok) {
        reply_text(out, 200, parse_bool(md_str(md, "returnCmdOutput")) ? r.output.data : "");
    } else {
        cd_buf raw = CD_BUF_INIT;
        cd_buf_printf(&raw, "command %s failed: %s: %s", j->command,
                      r.output.data ? r.output.data : "", r.error);
        /* this text becomes canaryd's event: no credentials of the command */
        cd_buf_reset(&out->body);
        cd_buf_reserve(&out->body, raw.len * 2 + 64);
        cd_redact_text(cd_buf_str(&raw), NULL, 0, out->body.data, raw.len * 2 + 64);
        out->body.len = strlen(out->body.data);
        cd_buf_free(&raw);
        out->status = 500;
        out->content_type = NULL;
    }
    cd_proc_result_free(&r);
    free_argv(argv, n);
    unregister_job(t, j);
    job_free(j);
}

static void handle_load(cd_tasks *t, const char *canary, const json_t *md, cd_task_reply *out)
{
    cd_err err = {""};
    job *j = new_job(t, T_LOAD, canary, !parse_bool(md_str(md, "wait")));
    if (!cd_load_spec_from_metadata(md, &j->load, &err)) {
        reply_text(out, 400, err.msg);
        job_free(j);
        return;
    }
    char what[600];
    snprintf(what, sizeof what, "load %s %s", j->load.method, j->load.url);
    j->hash = task_hash(canary, what);
    if (j->background) {
        start_background(t, j, out);
        return;
    }
    bool unused;
    if (!register_job(t, j, &unused)) {
        reply_text(out, 503, "shutting down");
        job_free(j);
        return;
    }
    count(t, T_LOAD, R_STARTED);
    cd_load_report rep;
    bool passed;
    run_load(j, &rep, &passed);
    json_t *js = cd_load_report_json(&rep);
    json_object_set_new(js, "passed", json_boolean(passed));
    char *s = json_dumps(js, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(js);
    out->status = passed ? 200 : 500;
    out->content_type = "application/json";
    cd_buf_reset(&out->body);
    cd_buf_puts(&out->body, s);
    free(s);
    unregister_job(t, j);
    job_free(j);
}

void cd_tasks_handle(cd_tasks *t, const char *canary, const json_t *md, cd_task_reply *out)
{
    const char *type = md_str(md, "type");
    if (!type)
        type = "cmd";
    if (!strcmp(type, "cmd")) {
        const char *cmd = md_str(md, "cmd");
        char why[400];
        if (!cmd) {
            reply_text(out, 400, "cmd not found in metadata");
            return;
        }
        if (!cd_cmd_policy_check_shell(t->policy, cmd, why, sizeof why)) {
            refuse(t, T_CMD, canary, why, out);
            return;
        }
        job *j = new_job(t, T_CMD, canary, true);
        j->command = strdup(cmd);
        j->log_output = parse_bool(md_str(md, "logCmdOutput"));
        j->hash = task_hash(canary, cmd);
        start_background(t, j, out);
    } else if (!strcmp(type, "bash")) {
        run_sync(t, T_BASH, canary, md, out);
    } else if (!strcmp(type, "helm")) {
        run_sync(t, T_HELM, canary, md, out);
    } else if (!strcmp(type, "helmv3")) {
        run_sync(t, T_HELMV3, canary, md, out);
    } else if (!strcmp(type, "kubectl")) {
        run_sync(t, T_KUBECTL, canary, md, out);
    } else if (!strcmp(type, "load")) {
        handle_load(t, canary, md, out);
    } else if (!strcmp(type, "concord") || !strcmp(type, "ngrinder")) {
        char msg[160];
        snprintf(msg, sizeof msg, "task type %s is not supported by canaryd (see docs/loadtester.md)",
                 type);
        reply_text(out, 400, msg);
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown task type %.100s", type);
        reply_text(out, 400, msg);
    }
}
