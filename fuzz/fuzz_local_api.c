/* fuzz_local_api.c - libFuzzer target for the request bodies of canaryd
 * local's API (src/local/api.c). An input starting with "G" or "R" is the
 * body of a loadtester-style gate request (/gate/open, /rollback/check:
 * {"name", "namespace"}); one starting with "J" is a JSON manifest for
 * POST /apply; anything else is a YAML manifest for POST /apply (so
 * Flagger's manifests seed it as they are). An applied manifest is
 * written to a temporary manifest directory and loaded, as `canaryctl
 * apply` does; the directory is emptied again after each input. Never a
 * crash, a hang or a leak; an apply that fails says why. */
#include "local/local.h"
#include "local/manifests.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_path[] = "/tmp/fuzz-local-api-XXXXXX";
static cd_manifest_dir *dir;

static void cleanup(void)
{
    cd_manifest_dir_close(dir);
    DIR *dp = opendir(dir_path);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir_path, e->d_name);
        unlink(p);
    }
    if (dp)
        closedir(dp);
    rmdir(dir_path);
}

/* removes what an apply wrote, so that every input starts from nothing */
static void empty_dir(void)
{
    DIR *dp = opendir(dir_path);
    struct dirent *e;
    bool any = false;
    while (dp && (e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir_path, e->d_name);
        unlink(p);
        any = true;
    }
    if (dp)
        closedir(dp);
    if (any) {
        cd_diags d;
        cd_diags_init(&d);
        cd_manifest_dir_rescan(dir, &d);
        cd_diags_free(&d);
        if (cd_manifest_dir_count(dir) != 0)
            abort();
    }
}

static void apply(const char *name, const char *text, size_t len)
{
    cd_diags d;
    cd_diags_init(&d);
    size_t errors = cd_manifest_dir_apply(dir, name, text, len, &d);
    if (errors && d.n == 0)
        abort();   /* refused without saying why */
    for (size_t i = 0; i < d.n; i++)
        free(cd_diag_format(&d.items[i]));
    cd_diags_free(&d);
    /* what canaryd does next: reads the inotify events of the write */
    cd_diags_init(&d);
    cd_manifest_dir_poll(dir, &d);
    cd_diags_free(&d);
    empty_dir();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir) {
        if (!mkdtemp(dir_path) || !(dir = cd_manifest_dir_open(dir_path, "default")))
            abort();
        atexit(cleanup);
    }
    if (size > 1 << 16)
        return 0;
    const char *s = (const char *)data;
    char key[600];
    if (size >= 1 && (s[0] == 'G' || s[0] == 'R')) {
        const char *url = s[0] == 'G' ? "/gate/open" : "/rollback/check";
        if (lc_gate_key(url, s + 1, size - 1, key, sizeof key) && !strchr(key, '.'))
            abort();
    } else if (size >= 1 && s[0] == 'J') {
        apply("apply.json", s + 1, size - 1);
    } else {
        apply("apply.yaml", s, size);
    }
    return 0;
}
