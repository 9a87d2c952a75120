/* test_local_supervisor.c - process sets with real processes (the demo
 * app): start and probe, restart after a crash, rolling update without
 * losing ready capacity, draining before signals, graceful stop, adoption
 * by a new supervisor (PID + start time), a command that cannot start, and
 * the in-place mode (two sets sharing replica indices, surge 0: each
 * replica holds an flock on its index's file, so a second process of one
 * index would fail and count as a restart); the parent of a process as
 * reap_orphans reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <curl/curl.h>
#include "local/supervisor.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

static char demo[1024];

static cd_proc_template *make_template(const char *version, int replicas, bool probe)
{
    cd_local_workload_spec spec;
    memset(&spec, 0, sizeof spec);
    const char *args[] = {"--port", "{{ port }}", "--version", version, "--ready-delay", "0.2"};
    spec.command = demo;
    spec.args.items = args;
    spec.args.n = 6;
    spec.replicas = replicas;
    spec.port_env = "PORT";
    spec.host = "127.0.0.1";
    spec.has_probe = probe;
    spec.probe_path = "/readyz";
    spec.probe_period_ms = 100;
    spec.probe_timeout_ms = 500;
    spec.probe_success_threshold = 1;
    spec.probe_failure_threshold = 2;
    spec.grace_ms = 2000;
    return cd_proc_template_new(&spec, ".", version);
}

/* Steps until cond(ps) or timeout; applies endpoint generations at once
 * (as a router that follows instantly would). */
static bool run_until(cd_procset *ps, bool (*cond)(cd_procset *), int timeout_ms,
                      int *min_ready_seen)
{
    int64_t end = cd_mono_ms() + timeout_ms;
    while (cd_mono_ms() < end) {
        cd_procset_step(ps, cd_mono_ms());
        cd_endpoint eps[16];
        int64_t gen;
        size_t n = cd_procset_endpoints(ps, eps, 16, &gen);
        if (min_ready_seen && (int)n < *min_ready_seen)
            *min_ready_seen = (int)n;
        cd_procset_endpoints_applied(ps, gen);
        if (cond(ps))
            return true;
        usleep(20000);
    }
    return false;
}

static bool two_ready(cd_procset *ps)
{
    cd_procset_counts c = cd_procset_counts_of(ps);
    return c.ready == 2 && c.running == 2;
}

static bool rolled(cd_procset *ps)
{
    cd_procset_counts c = cd_procset_counts_of(ps);
    return c.ready == 2 && c.old == 0 && cd_procset_replica_count(ps) == 2;
}

static bool none_left(cd_procset *ps) { return cd_procset_replica_count(ps) == 0; }

static bool restarted(cd_procset *ps) { return two_ready(ps) && cd_procset_counts_of(ps).restarts == 1; }

/* Every process set a test creates, so that a failing test leaves no
 * process behind. */
static cd_procset *g_sets[8];

static cd_procset *new_set(const char *name)
{
    cd_procset *ps = cd_procset_new(name, NULL);
    for (size_t i = 0; i < 8; i++)
        if (!g_sets[i]) {
            g_sets[i] = ps;
            break;
        }
    return ps;
}

static void free_set(cd_procset *ps)
{
    for (size_t i = 0; i < 8; i++)
        if (g_sets[i] == ps)
            g_sets[i] = NULL;
    cd_procset_free(ps);
}

static int kill_leftovers(void **state)
{
    for (size_t i = 0; i < 8; i++) {
        if (!g_sets[i])
            continue;
        for (size_t r = 0; r < cd_procset_replica_count(g_sets[i]); r++) {
            kill(-cd_procset_replica(g_sets[i], r)->pid, SIGKILL);   /* its group */
            kill(cd_procset_replica(g_sets[i], r)->pid, SIGKILL);
        }
        cd_procset_free(g_sets[i]);
        g_sets[i] = NULL;
    }
    return 0;
}

static long http_get(int port, char *body, size_t cap)
{
    CURL *e = curl_easy_init();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    FILE *f = fmemopen(body, cap, "w");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 2L);
    long code = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    fclose(f);
    curl_easy_cleanup(e);
    return code;
}

static void test_start_probe_restart_roll_stop(void **state)
{
    cd_procset *ps = new_set("web");
    cd_proc_template *v1 = make_template("v1", 2, true);
    cd_procset_set_template(ps, v1);
    cd_procset_scale(ps, 2);
    assert_true(run_until(ps, two_ready, 10000, NULL));

    /* each replica serves v1 on its own port */
    cd_endpoint eps[4];
    size_t n = cd_procset_endpoints(ps, eps, 4, NULL);
    assert_int_equal(n, 2);
    assert_int_not_equal(eps[0].port, eps[1].port);
    char body[512] = {0};
    assert_int_equal(http_get(eps[0].port, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"version\":\"v1\""));

    /* a replica that dies is restarted */
    pid_t victim = cd_procset_replica(ps, 0)->pid;
    kill(victim, SIGKILL);
    assert_true(run_until(ps, restarted, 10000, NULL));
    for (size_t i = 0; i < cd_procset_replica_count(ps); i++)
        assert_int_not_equal(cd_procset_replica(ps, i)->pid, victim);

    /* rolling to v2 never drops below 2 ready endpoints */
    cd_proc_template *v2 = make_template("v2", 2, true);
    cd_procset_set_template(ps, v2);
    int min_ready = 99;
    assert_true(run_until(ps, rolled, 15000, &min_ready));
    assert_int_equal(min_ready, 2);
    n = cd_procset_endpoints(ps, eps, 4, NULL);
    assert_int_equal(n, 2);
    memset(body, 0, sizeof body);
    assert_int_equal(http_get(eps[1].port, body, sizeof body), 200);
    assert_non_null(strstr(body, "\"version\":\"v2\""));

    /* graceful stop */
    cd_procset_stop_all(ps, cd_mono_ms());
    assert_true(run_until(ps, none_left, 10000, NULL));
    assert_int_equal(cd_procset_endpoints(ps, eps, 4, NULL), 0);
    cd_proc_template_free(v1);
    cd_proc_template_free(v2);
    free_set(ps);
}

static void test_drained_replica_is_not_signalled_before_router_lets_go(void **state)
{
    cd_procset *ps = new_set("drain");
    cd_proc_template *t = make_template("v1", 1, true);
    cd_procset_set_template(ps, t);
    cd_procset_scale(ps, 1);
    int64_t end = cd_mono_ms() + 10000;
    cd_endpoint ep;
    int64_t gen = 0;
    while (cd_mono_ms() < end && cd_procset_endpoints(ps, &ep, 1, &gen) == 0) {
        cd_procset_step(ps, cd_mono_ms());
        usleep(20000);
    }
    assert_int_equal(cd_procset_endpoints(ps, &ep, 1, &gen), 1);
    cd_procset_endpoints_applied(ps, gen);
    pid_t pid = cd_procset_replica(ps, 0)->pid;
    cd_procset_scale(ps, 0);
    /* without confirmation from the router the process keeps running */
    for (int i = 0; i < 30; i++) {
        cd_procset_step(ps, cd_mono_ms());
        usleep(20000);
    }
    assert_int_equal(cd_procset_endpoints(ps, &ep, 1, &gen), 0);
    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(cd_procset_replica(ps, 0)->state, CD_REP_DRAINING);
    /* once the router has the new generation it is stopped */
    cd_procset_endpoints_applied(ps, gen);
    assert_true(run_until(ps, none_left, 10000, NULL));
    cd_proc_template_free(t);
    free_set(ps);
}

static void test_adoption_after_restart(void **state)
{
    cd_procset *ps = new_set("adopt");
    cd_proc_template *t = make_template("v1", 2, true);
    cd_procset_set_template(ps, t);
    cd_procset_scale(ps, 2);
    assert_true(run_until(ps, two_ready, 10000, NULL));
    json_t *saved = cd_procset_save(ps);
    pid_t p0 = cd_procset_replica(ps, 0)->pid, p1 = cd_procset_replica(ps, 1)->pid;
    free_set(ps);   /* the supervisor goes away; processes keep running */
    assert_int_equal(kill(p0, 0), 0);

    /* one of them dies while nobody watches (and is reaped, as init would) */
    kill(p1, SIGKILL);
    waitpid(p1, NULL, 0);

    cd_procset *again = new_set("adopt");
    assert_int_equal(cd_procset_restore(again, saved, cd_mono_ms()), 1);
    assert_int_equal(cd_procset_replica(again, 0)->pid, p0);
    assert_true(run_until(again, two_ready, 10000, NULL));   /* the dead one is replaced */

    /* a record whose PID now belongs to another process is not adopted */
    json_t *bogus = json_deep_copy(saved);
    json_t *r0 = json_array_get(json_object_get(bogus, "replicas"), 0);
    json_object_set_new(r0, "pid", json_integer(getpid()));
    cd_procset *third = new_set("adopt");
    assert_int_equal(cd_procset_restore(third, bogus, cd_mono_ms()), 0);
    free_set(third);

    cd_procset_stop_all(again, cd_mono_ms());
    assert_true(run_until(again, none_left, 10000, NULL));
    json_decref(saved);
    json_decref(bogus);
    cd_proc_template_free(t);
    free_set(again);
}

static bool starting_with_backoff(cd_procset *ps) { return cd_procset_counts_of(ps).running == 0; }

static void test_bad_command_backs_off(void **state)
{
    cd_local_workload_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.command = "/nonexistent/program";
    spec.replicas = 1;
    spec.port_env = "PORT";
    spec.host = "127.0.0.1";
    spec.grace_ms = 1000;
    cd_proc_template *t = cd_proc_template_new(&spec, ".", "x");
    cd_procset *ps = new_set("bad");
    cd_procset_set_template(ps, t);
    cd_procset_scale(ps, 1);
    assert_true(run_until(ps, starting_with_backoff, 300, NULL));
    assert_int_equal(cd_procset_counts_of(ps).ready, 0);
    cd_proc_template_free(t);
    free_set(ps);
}

/* Issue 12: a relative manifest directory and a relative command are
 * made absolute when the manifest is read, so that the spawn (which
 * changes into the working dir first) finds the program; a missing
 * program is reported by the set, with its absolute path. */
static void test_relative_paths_become_absolute(void **state)
{
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    cd_local_workload_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.command = "../bin/./app";
    spec.working_dir = "sub/";
    spec.replicas = 1;
    spec.port_env = "PORT";
    spec.host = "127.0.0.1";
    cd_proc_template *t = cd_proc_template_new(&spec, "./proj/manifests", "r");
    char want[1200];
    snprintf(want, sizeof want, "%s/proj/manifests/sub", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(t->working_dir, want);
    snprintf(want, sizeof want, "%s/proj/manifests/bin/app", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(t->command, want);
    cd_proc_template_free(t);
    spec.command = "demo-app";    /* a bare name stays a PATH lookup */
    spec.working_dir = NULL;
    t = cd_proc_template_new(&spec, "/a/b/../c", "r");
    assert_string_equal(t->command, "demo-app");
    assert_string_equal(t->working_dir, "/a/c");
    cd_proc_template_free(t);
}

static void test_missing_program_is_reported(void **state)
{
    cd_local_workload_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.command = "./no-such-program";
    spec.replicas = 1;
    spec.port_env = "PORT";
    spec.host = "127.0.0.1";
    cd_proc_template *t = cd_proc_template_new(&spec, "/tmp", "x");
    cd_procset *ps = new_set("bad");
    cd_procset_set_template(ps, t);
    cd_procset_scale(ps, 1);
    run_until(ps, starting_with_backoff, 100, NULL);
    assert_non_null(strstr(cd_procset_error(ps), "/tmp/no-such-program: No such file or directory"));
    cd_proc_template_free(t);
    spec.command = "no-such-program-in-path";
    t = cd_proc_template_new(&spec, "/tmp", "y");
    cd_procset_set_template(ps, t);
    assert_string_equal(cd_procset_error(ps), "");   /* a new spec starts clean */
    run_until(ps, starting_with_backoff, 100, NULL);
    assert_non_null(strstr(cd_procset_error(ps), "no such program in $PATH"));
    cd_proc_template_free(t);
    free_set(ps);
}

/* Issue 12: a process record of the wrong shape is refused (not read as
 * zeros: pid 0, desired 0), naming the field. */
static void test_record_shape_checked(void **state)
{
    char why[200];
    static const struct { const char *text, *why; } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"desired\": \"two\", \"template\": null, \"replicas\": []}", "desired"},
        {"{\"desired\": 2, \"template\": 5, \"replicas\": []}", "template"},
        {"{\"desired\": 2, \"template\": null, \"replicas\": {}}", "replicas: not an array"},
        {"{\"desired\": 2, \"template\": null, \"replicas\": [{\"pid\": \"12\"}]}", "replicas[0].pid"},
        {"{\"desired\": 2, \"template\": null, \"replicas\": [{\"pid\": 12, \"startTime\": 1, "
         "\"port\": 70000, \"index\": 0, \"revision\": \"r\"}]}", "replicas[0].port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i].text, 0, NULL);
        assert_non_null(j);
        assert_false(cd_procset_record_ok(j, why, sizeof why));
        if (!strstr(why, bad[i].why))
            fail_msg("%s: got \"%s\"", bad[i].text, why);
        json_decref(j);
    }
    cd_proc_template *t = make_template("v1", 1, true);
    cd_procset *ps = new_set("ok");
    cd_procset_set_template(ps, t);
    json_t *saved = cd_procset_save(ps);
    assert_true(cd_procset_record_ok(saved, why, sizeof why));
    json_decref(saved);
    cd_proc_template_free(t);
    free_set(ps);
}

static void test_template_json_roundtrip(void **state)
{
    cd_proc_template *t = make_template("v9", 3, true);
    json_t *j = cd_proc_template_to_json(t);
    cd_proc_template *c = cd_proc_template_from_json(j);
    json_t *j2 = cd_proc_template_to_json(c);
    assert_true(json_equal(j, j2));
    assert_string_equal(c->revision, "v9");
    assert_int_equal(c->nargs, 6);
    json_decref(j);
    json_decref(j2);
    cd_proc_template_free(t);
    cd_proc_template_free(c);
    assert_null(cd_proc_template_from_json(NULL));
}

/* ---- in place: two sets sharing the indices 0..2 ------------------------- */

static char lock_dir[256];

static cd_proc_template *make_template_with(const char *version, bool lingers)
{
    char lock[320];
    snprintf(lock, sizeof lock, "%s/lock.{{ replica }}", lock_dir);
    cd_local_workload_spec spec;
    memset(&spec, 0, sizeof spec);
    const char *args[] = {"-n", lock, demo, "--port", "{{ port }}", "--version", version,
                          "--ready-delay", "0.2"};
    /* flock (the replica's leader) dies at once on SIGTERM, while the shell
       it started keeps the lock for another second on its way out */
    const char *lingering[] = {
        "-n", lock, "/bin/sh", "-c",
        "trap 'sleep 1; exit 0' TERM; \"$0\" --port \"$1\" --version \"$2\" "
        "--ready-delay 0.2 & wait",
        demo, "{{ port }}", version};
    spec.command = "/usr/bin/flock";
    spec.args.items = lingers ? lingering : args;
    spec.args.n = lingers ? 8 : 9;
    spec.replicas = 3;
    spec.port_env = "PORT";
    spec.host = "127.0.0.1";
    spec.has_probe = true;
    spec.probe_path = "/readyz";
    spec.probe_period_ms = 100;
    spec.probe_timeout_ms = 500;
    spec.probe_success_threshold = 1;
    spec.probe_failure_threshold = 2;
    spec.grace_ms = 2000;
    return cd_proc_template_new(&spec, ".", version);
}

static cd_proc_template *make_locked_template(const char *version)
{
    return make_template_with(version, false);
}

static int g_twice;     /* observations where one index was known twice */

/* Every replica index in at most one entry of both sets, whatever its state. */
static void check_once(cd_procset *a, cd_procset *b)
{
    int seen[8] = {0};
    cd_procset *sets[2] = {a, b};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < cd_procset_replica_count(sets[s]); i++) {
            int idx = cd_procset_replica(sets[s], i)->index;
            if (idx >= 0 && idx < 8 && ++seen[idx] > 1)
                g_twice++;
        }
}

/* Ready replicas of ps at revision rev with indices [lo, hi), and nothing else. */
static bool holds(cd_procset *ps, const char *rev, int lo, int hi)
{
    if ((int)cd_procset_replica_count(ps) != hi - lo)
        return false;
    for (size_t i = 0; i < cd_procset_replica_count(ps); i++) {
        const cd_replica *r = cd_procset_replica(ps, i);
        if (r->state != CD_REP_READY || strcmp(r->revision, rev) || r->index < lo || r->index >= hi)
            return false;
    }
    return true;
}

/* Steps both sets (the router following at once) until primary holds
 * [0, p) at prev and canary [p, 3) at crev. */
static bool step_to(cd_procset *primary, const char *prev, cd_procset *canary, const char *crev,
                    int p)
{
    cd_procset_set_range(primary, 0, p);
    cd_procset_set_range(canary, p, 3);
    int64_t end = cd_mono_ms() + 30000;
    while (cd_mono_ms() < end) {
        cd_procset *sets[2] = {primary, canary};
        for (int s = 0; s < 2; s++) {
            cd_procset_step(sets[s], cd_mono_ms());
            check_once(primary, canary);
            cd_endpoint eps[16];
            int64_t gen;
            cd_procset_endpoints(sets[s], eps, 16, &gen);
            cd_procset_endpoints_applied(sets[s], gen);
        }
        if (holds(primary, prev, 0, p) && holds(canary, crev, p, 3))
            return true;
        usleep(20000);
    }
    return false;
}

/* Two in-place sets sharing indices, over a fresh lock directory. */
static void inplace_pair(const char *name, cd_procset **primary, cd_procset **canary)
{
    snprintf(lock_dir, sizeof lock_dir, "/tmp/cd-inplace-XXXXXX");
    assert_non_null(mkdtemp(lock_dir));
    g_twice = 0;
    char pname[64];
    snprintf(pname, sizeof pname, "%s-primary", name);
    *primary = new_set(pname);
    *canary = new_set(name);
    cd_procset_set_inplace(*primary, *canary);
    cd_procset_set_inplace(*canary, *primary);
}

/* No index was known twice and no flock was refused (no restart); then both
 * sets stop, and they and the lock directory are freed. */
static void inplace_check_and_stop(cd_procset *primary, cd_procset *canary, int64_t stop_ms)
{
    assert_int_equal(g_twice, 0);
    assert_int_equal(cd_procset_counts_of(primary).restarts, 0);
    assert_int_equal(cd_procset_counts_of(canary).restarts, 0);
    int64_t end = cd_mono_ms() + stop_ms;
    bool a = false, b = false;
    while (!(a && b) && cd_mono_ms() < end) {
        a = cd_procset_stop_all(primary, cd_mono_ms());
        b = cd_procset_stop_all(canary, cd_mono_ms());
        usleep(20000);
    }
    assert_true(a && b);
    free_set(primary);
    free_set(canary);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lock_dir);
    if (system(cmd) != 0)
        cd_warn("cannot remove %s", lock_dir);
}

static void test_inplace_partition_steps(void **state)
{
    cd_procset *primary, *canary;
    inplace_pair("web", &primary, &canary);
    cd_proc_template *v1 = make_locked_template("v1"), *v2 = make_locked_template("v2"),
                     *v3 = make_locked_template("v3");
    cd_procset_set_template(primary, v1);
    cd_procset_set_template(canary, v2);
    assert_true(step_to(primary, "v1", canary, "v2", 3));   /* at rest: all primary */
    /* a release: replica 2, then 1, then 0 replaced by v2 */
    for (int p = 2; p >= 0; p--)
        if (!step_to(primary, "v1", canary, "v2", p))
            fail_msg("partition %d not reached", p);
    /* promotion: the primary takes v2 and every index back, one by one */
    cd_procset_set_template(primary, v2);
    assert_true(step_to(primary, "v2", canary, "v2", 3));
    /* a bad release rolled back at partition 1: replicas 1 and 2 go back to v2 */
    cd_procset_set_template(canary, v3);
    assert_true(step_to(primary, "v2", canary, "v3", 2));
    assert_true(step_to(primary, "v2", canary, "v3", 1));
    assert_true(step_to(primary, "v2", canary, "v3", 3));
    /* never two live processes of one index */
    inplace_check_and_stop(primary, canary, 10000);
    cd_proc_template_free(v1);
    cd_proc_template_free(v2);
    cd_proc_template_free(v3);
}

/* A replica whose leader exits before the rest of its process group (a
 * wrapper and the server it started): its index starts again only once the
 * whole group has gone, or the new flock would be refused. */
static void test_inplace_waits_for_the_whole_group(void **state)
{
    cd_procset *primary, *canary;
    inplace_pair("svc", &primary, &canary);
    cd_proc_template *v1 = make_template_with("v1", true), *v2 = make_template_with("v2", true);
    cd_procset_set_template(primary, v1);
    cd_procset_set_template(canary, v2);
    assert_true(step_to(primary, "v1", canary, "v2", 3));
    assert_true(step_to(primary, "v1", canary, "v2", 2));
    assert_true(step_to(primary, "v1", canary, "v2", 1));
    assert_true(step_to(primary, "v1", canary, "v2", 3));   /* rolled back */
    /* never two live processes of one index */
    inplace_check_and_stop(primary, canary, 15000);
    cd_proc_template_free(v1);
    cd_proc_template_free(v2);
}

/* cd_proc_parent: a replica's children are found by their parent chain
 * (reap_orphans leaves them); a command name with spaces and ")" does not
 * shift the fields. */
static void test_proc_parent(void **state)
{
    (void)state;
    assert_int_equal(cd_proc_parent(getpid()), getppid());
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        prctl(PR_SET_NAME, "x) 1 (y", 0, 0, 0);
        for (;;)
            pause();
    }
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)child);
    for (int i = 0; i < 200 && strncmp(comm, "x) 1 (y", 7); i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f))
                comm[0] = '\0';
            fclose(f);
        }
        usleep(10000);
    }
    assert_string_equal(comm, "x) 1 (y\n");
    assert_int_equal(cd_proc_parent(child), getpid());
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(cd_proc_parent(child), 0);   /* gone */
}

int main(void)
{
    const char *build = getenv("CANARYD_BUILD");
    snprintf(demo, sizeof demo, "%s/demo-app", build ? build : "build");
    char *abs = realpath(demo, NULL);   /* replicas start in other directories */
    if (abs) {
        snprintf(demo, sizeof demo, "%s", abs);
        free(abs);
    }
    cd_log_set_level(CD_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_template_json_roundtrip, kill_leftovers),
        cmocka_unit_test_teardown(test_start_probe_restart_roll_stop, kill_leftovers),
        cmocka_unit_test_teardown(test_drained_replica_is_not_signalled_before_router_lets_go, kill_leftovers),
        cmocka_unit_test_teardown(test_adoption_after_restart, kill_leftovers),
        cmocka_unit_test_teardown(test_bad_command_backs_off, kill_leftovers),
        cmocka_unit_test_teardown(test_relative_paths_become_absolute, kill_leftovers),
        cmocka_unit_test_teardown(test_missing_program_is_reported, kill_leftovers),
        cmocka_unit_test_teardown(test_record_shape_checked, kill_leftovers),
        cmocka_unit_test_teardown(test_inplace_partition_steps, kill_leftovers),
        cmocka_unit_test_teardown(test_inplace_waits_for_the_whole_group, kill_leftovers),
        cmocka_unit_test(test_proc_parent),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
