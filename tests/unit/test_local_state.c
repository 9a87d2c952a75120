/* test_local_state.c - the state directory: status round trip, journals
 * with a torn last line and a size bound, atomic replacement, unsafe names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "local/state.h"
#include "util/fsutil.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/canaryd-state-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_status_roundtrip(void **state)
{
    cd_state *st = cd_state_open(dir);
    assert_non_null(st);
    cd_canary_status s, back;
    cd_status_init(&s);
    cd_status_init(&back);
    assert_int_equal(cd_state_load_status(st, "test", "podinfo", &back), -ENOENT);
    s.phase = CD_PHASE_PROGRESSING;
    s.canary_weight = 30;
    s.failed_checks = 2;
    snprintf(s.last_applied_spec, sizeof s.last_applied_spec, "abcd");
    s.last_transition_ms = 1790000000000LL;
    cd_tracked_config t = {"configmap/a", "0011"};
    cd_status_set_tracked(&s, &t, 1, true);
    cd_status_update_condition(&s, "LocalWorkload", 1790000000000LL);
    assert_int_equal(cd_state_save_status(st, "test", "podinfo", &s), 0);
    assert_int_equal(cd_state_load_status(st, "test", "podinfo", &back), 0);
    assert_true(cd_status_equal(&s, &back));
    /* a corrupt file is an error, not an empty status */
    char path[512];
    snprintf(path, sizeof path, "%s/canaries/test/podinfo/status.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"phase\": \"Progr", f);
    fclose(f);
    assert_int_equal(cd_state_load_status(st, "test", "podinfo", &back), -EINVAL);
    /* unsafe names never reach the file system */
    assert_int_equal(cd_state_save_status(st, "..", "x", &s), -EINVAL);
    assert_int_equal(cd_state_save_status(st, "a/b", "x", &s), -EINVAL);
    cd_status_free(&s);
    cd_status_free(&back);
    cd_state_close(st);
}

static void test_events_journal(void **state)
{
    cd_state *st = cd_state_open(dir);
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "event %d", i);
        assert_int_equal(cd_state_append_event(st, "test", "app", 1790000000000LL + i, "Normal",
                                               "Progressing", msg), 0);
    }
    /* a crash in the middle of a write leaves a torn line */
    char path[512];
    snprintf(path, sizeof path, "%s/canaries/test/app/events.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"message\": \"torn", f);
    fclose(f);
    json_t *all = cd_state_events(st, "test", "app", 0);
    assert_int_equal(json_array_size(all), 5);
    json_t *last2 = cd_state_events(st, "test", "app", 2);
    assert_int_equal(json_array_size(last2), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(last2, 1), "message")),
                        "event 4");
    json_decref(all);
    json_decref(last2);
    cd_state_close(st);
}

/* a journal past CD_STATE_EVENTS_MAX keeps its newest half, whole lines only */
static void test_events_journal_bounded(void **state)
{
    cd_state *st = cd_state_open(dir);
    char msg[1100];
    int n = CD_STATE_EVENTS_MAX / 1000 + 200;
    for (int i = 0; i < n; i++) {
        snprintf(msg, sizeof msg, "event %d %0900d", i, 0);
        assert_int_equal(cd_state_append_event(st, "test", "big", 1790000000000LL + i, "Normal",
                                               "Progressing", msg), 0);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/canaries/test/big/events.jsonl", dir);
    size_t len;
    char *data = cd_read_file(path, &len);
    assert_non_null(data);
    assert_true(len <= CD_STATE_EVENTS_MAX);
    assert_true(len >= CD_STATE_EVENTS_MAX / 2 - 1100);
    assert_int_equal(data[0], '{');   /* cut at a line start */
    free(data);
    json_t *all = cd_state_events(st, "test", "big", 0);
    size_t k = json_array_size(all);
    assert_true(k > 100 && k < (size_t)n);
    /* every line kept parses, and they are the newest ones, in order */
    for (size_t i = 0; i < k; i++) {
        const char *m = json_string_value(json_object_get(json_array_get(all, i), "message"));
        int got = -1;
        assert_int_equal(sscanf(m, "event %d", &got), 1);
        assert_int_equal(got, n - (int)k + (int)i);
    }
    json_decref(all);
    cd_state_close(st);
}

static void test_records_and_atomicity(void **state)
{
    cd_state *st = cd_state_open(dir);
    json_t *v = json_pack("{s:i}", "pid", 42);
    assert_int_equal(cd_state_save_json(st, "procsets/app-primary", v), 0);
    json_t *back = cd_state_load_json(st, "procsets/app-primary");
    assert_true(json_equal(v, back));
    json_decref(back);
    assert_int_equal(cd_state_save_json(st, "../escape", v), -EINVAL);
    /* replacing leaves no temporary file behind */
    json_object_set_new(v, "pid", json_integer(43));
    assert_int_equal(cd_state_save_json(st, "procsets/app-primary", v), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/procsets | grep -c tmp >/dev/null", dir);
    assert_int_not_equal(system(cmd), 0);
    back = cd_state_load_json(st, "procsets/app-primary");
    assert_int_equal(json_integer_value(json_object_get(back, "pid")), 43);
    json_decref(back);
    assert_int_equal(cd_state_remove_json(st, "procsets/app-primary"), 0);
    assert_null(cd_state_load_json(st, "procsets/app-primary"));
    json_decref(v);
    cd_state_close(st);
}

static void write_status(const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/canaries/test/podinfo", dir);
    assert_int_equal(cd_mkdir_p(path, 0755), 0);
    snprintf(path, sizeof path, "%s/canaries/test/podinfo/status.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Issue 12: a wrong-typed status is as bad as a truncated one, and the
 * reason names the field (or the line and column). */
static void test_status_shape_checked(void **state)
{
    cd_state *st = cd_state_open(dir);
    cd_canary_status back;
    cd_status_init(&back);
    char why[256];
    static const struct { const char *text, *why; } bad[] = {
        {"{\"phase\": 42}", "phase: missing or not a string"},
        {"{\"phase\": \"Sleeping\"}", "phase: not a phase"},
        {"[1, 2]", "not a JSON object"},
        {"{\"phase\": \"Progressing\", \"canaryWeight\": \"30\"}", "canaryWeight: not a count"},
        {"{\"phase\": \"Progressing\", \"canaryWeight\": 130}", "canaryWeight: above 100"},
        {"{\"phase\": \"Progressing\", \"lastAppliedSpec\": 7}", "lastAppliedSpec: not a string"},
        {"{\"phase\": \"Progr", "line 1, column"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_status(bad[i].text);
        assert_int_equal(cd_state_load_status_why(st, "test", "podinfo", &back, why, sizeof why),
                         -EINVAL);
        if (!strstr(why, bad[i].why))
            fail_msg("%s: got \"%s\", wanted \"%s\"", bad[i].text, why, bad[i].why);
    }
    write_status("{\"phase\": \"Succeeded\", \"canaryWeight\": 0, \"lastAppliedSpec\": \"ab\"}");
    assert_int_equal(cd_state_load_status_why(st, "test", "podinfo", &back, why, sizeof why), 0);
    assert_int_equal(back.phase, CD_PHASE_SUCCEEDED);
    /* moved aside, not deleted */
    char *path = cd_state_status_path(st, "test", "podinfo"), moved[1024];
    assert_int_equal(cd_state_quarantine(path, moved, sizeof moved), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(moved, F_OK), 0);
    assert_non_null(strstr(moved, "status.json.corrupt-"));
    free(path);
    cd_status_free(&back);
    cd_state_close(st);
}

/* One canaryd local per state directory; the lock goes with its holder. */
static void test_state_lock(void **state)
{
    cd_state *a = cd_state_open(dir), *b = cd_state_open(dir);
    char why[600];
    assert_true(cd_state_lock(a, why, sizeof why));
    assert_false(cd_state_lock(b, why, sizeof why));
    char want[64];
    snprintf(want, sizeof want, "another canaryd local (pid %d)", (int)getpid());
    assert_non_null(strstr(why, want));
    cd_state_close(a);
    assert_true(cd_state_lock(b, why, sizeof why));
    cd_state_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_journal_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_and_atomicity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_shape_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
