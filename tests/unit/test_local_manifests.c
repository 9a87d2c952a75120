/* test_local_manifests.c - the watched manifest directory: inotify reloads,
 * whole-file rejection that keeps previous objects, deletions, duplicates
 * across files, and apply (validate first, then write atomically); entries
 * that are not regular files (a FIFO, a directory, a symbolic link loop or
 * a dangling one) are rejected without blocking and without deleting what
 * they defined, and a symbolic link added to the directory is applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "local/manifests.h"
#include "util/log.h"

static char dir[256];

static const char *WORKLOAD =
    "apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\nmetadata: {name: app}\n"
    "spec: {command: ./app, args: ['%s']}\n";
static const char *CANARY =
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: app}\n"
    "spec:\n  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: app}\n"
    "  service: {port: 8080}\n  analysis: {interval: 10s, threshold: 2, stepWeight: %d}\n";

static void write_file(const char *name, const char *fmt, const char *arg, int num)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (arg)
        fprintf(f, fmt, arg);
    else
        fprintf(f, fmt, num);
    fclose(f);
}

static bool wait_change(cd_manifest_dir *d, cd_diags *diags)
{
    struct pollfd p = {.fd = cd_manifest_dir_fd(d), .events = POLLIN};
    if (poll(&p, 1, 2000) <= 0)
        return false;
    usleep(20000);
    return cd_manifest_dir_poll(d, diags);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/canaryd-manifests-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int step_of(cd_manifest_dir *d)
{
    cd_object *c = cd_manifest_dir_find(d, CD_KIND_CANARY, "default", "app");
    return c ? c->spec.canary.analysis.step_weight : -1;
}

static void test_watch_reject_keep_delete(void **state)
{
    write_file("workload.yaml", WORKLOAD, "v1", 0);
    write_file("canary.yaml", CANARY, NULL, 10);
    write_file("notes.txt", "%s", "not a manifest", 0);
    cd_manifest_dir *d = cd_manifest_dir_open(dir, "default");
    assert_non_null(d);
    assert_int_equal(cd_manifest_dir_count(d), 2);
    assert_int_equal(step_of(d), 10);

    cd_diags diags;
    cd_diags_init(&diags);
    /* an edit is applied */
    write_file("canary.yaml", CANARY, NULL, 20);
    assert_true(wait_change(d, &diags));
    assert_int_equal(step_of(d), 20);
    assert_int_equal(diags.errors, 0);

    /* an invalid edit is rejected and changes nothing */
    write_file("canary.yaml", CANARY, NULL, 120);
    assert_false(wait_change(d, &diags));
    assert_int_equal(step_of(d), 20);
    assert_int_equal(diags.errors, 1);
    assert_non_null(strstr(diags.items[0].message, "between 0 and 100"));
    assert_int_equal(cd_manifest_dir_rejections(d)->errors, 1);

    /* fixed again */
    write_file("canary.yaml", CANARY, NULL, 25);
    assert_true(wait_change(d, &diags));
    assert_int_equal(step_of(d), 25);
    assert_int_equal(cd_manifest_dir_rejections(d)->errors, 0);

    /* the same object in a second file is refused */
    write_file("copy.yaml", CANARY, NULL, 50);
    assert_false(wait_change(d, &diags));
    assert_int_equal(step_of(d), 25);
    assert_non_null(strstr(diags.items[diags.n - 1].message, "already defined in canary.yaml"));

    /* deleting a file removes its objects */
    char path[512];
    snprintf(path, sizeof path, "%s/copy.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/canary.yaml", dir);
    unlink(path);
    assert_true(wait_change(d, &diags));
    assert_int_equal(step_of(d), -1);
    assert_int_equal(cd_manifest_dir_count(d), 1);
    cd_diags_free(&diags);
    cd_manifest_dir_close(d);
}

static void test_apply(void **state)
{
    cd_manifest_dir *d = cd_manifest_dir_open(dir, "default");
    cd_diags diags;
    cd_diags_init(&diags);
    char text[1024];
    snprintf(text, sizeof text, CANARY, 130);
    assert_int_equal(cd_manifest_dir_apply(d, "bad.yaml", text, strlen(text), &diags), 1);
    assert_int_equal(cd_manifest_dir_count(d), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", dir);
    assert_int_equal(system(cmd), 0);   /* nothing written */
    cd_diags_free(&diags);
    cd_diags_init(&diags);

    snprintf(text, sizeof text, CANARY, 30);
    assert_int_equal(cd_manifest_dir_apply(d, "c.yaml", text, strlen(text), &diags), 0);
    assert_int_equal(step_of(d), 30);
    snprintf(cmd, sizeof cmd, "test -f %s/canary-default-app.yaml", dir);
    assert_int_equal(system(cmd), 0);
    /* applying it again with a change updates the same file */
    snprintf(text, sizeof text, CANARY, 40);
    assert_int_equal(cd_manifest_dir_apply(d, "c.yaml", text, strlen(text), &diags), 0);
    assert_int_equal(step_of(d), 40);
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    /* the inotify event of our own write changes nothing more */
    assert_false(wait_change(d, &diags));
    assert_int_equal(cd_manifest_dir_apply(d, "e.yaml", "kind: Deployment\napiVersion: apps/v1\n",
                                           37, &diags), 1);
    cd_diags_free(&diags);
    cd_manifest_dir_close(d);
}

static bool rejected_with(cd_manifest_dir *d, const char *file, const char *words)
{
    const cd_diags *r = cd_manifest_dir_rejections(d);
    for (size_t i = 0; i < r->n; i++)
        if (strstr(r->items[i].file, file) && strstr(r->items[i].message, words))
            return true;
    return false;
}

static void test_not_regular_files(void **state)
{
    char path[512], target[512];
    /* a named pipe opened for reading blocks until a writer comes: canaryd
     * local hung at start (even SIGTERM waited) */
    snprintf(path, sizeof path, "%s/pipe.yaml", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/folder.yml", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/loop.yaml", dir);
    assert_int_equal(symlink("loop.yaml", path), 0);
    write_file("workload.yaml", WORKLOAD, "v1", 0);
    write_file("canary.yaml", CANARY, NULL, 10);
    alarm(10);
    cd_manifest_dir *d = cd_manifest_dir_open(dir, "default");
    alarm(0);
    assert_non_null(d);
    assert_int_equal(cd_manifest_dir_count(d), 2);
    assert_true(rejected_with(d, "pipe.yaml", "not a regular file (a named pipe)"));
    assert_true(rejected_with(d, "folder.yml", "not a regular file (a directory)"));
    assert_true(rejected_with(d, "loop.yaml", "Too many levels of symbolic links"));

    /* canary.yaml replaced by a symbolic link to a file that is not there
     * (a typo): rejected, its Canary stays (it was deleted: a newcomer's
     * typo in `ln -sf` removed the service's Canary without a word) */
    snprintf(target, sizeof target, "%s/canary.yaml", dir);
    snprintf(path, sizeof path, "%s/.tmp-link", dir);
    assert_int_equal(symlink("../shared/canray.yaml", path), 0);
    assert_int_equal(rename(path, target), 0);
    cd_diags diags;
    cd_diags_init(&diags);
    assert_false(wait_change(d, &diags));
    assert_int_equal(step_of(d), 10);
    assert_true(rejected_with(d, "canary.yaml", "a symbolic link to a missing file (../shared/canray.yaml)"));

    /* a symbolic link added to the directory is applied at once (it makes
     * IN_CREATE only, not IN_CLOSE_WRITE: it waited for a kill -HUP) */
    unlink(target);
    assert_true(wait_change(d, &diags));
    assert_int_equal(step_of(d), -1);
    snprintf(path, sizeof path, "%s/elsewhere", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file("elsewhere/c.txt", CANARY, NULL, 35);
    assert_int_equal(symlink("elsewhere/c.txt", target), 0);
    assert_true(wait_change(d, &diags));
    assert_int_equal(step_of(d), 35);
    assert_false(rejected_with(d, "canary.yaml", ""));
    cd_diags_free(&diags);
    cd_manifest_dir_close(d);
}

int main(void)
{
    cd_log_set_level(CD_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_reject_keep_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
