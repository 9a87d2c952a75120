/* state.c - the state directory; see state.h. All writes go through
 * cd_write_file_atomic / cd_append_durable. */
#include "local/state.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *record_path(cd_state *st, const char *key);

struct cd_state {
    char *dir;
    char *logs;
    int lock_fd;
};

cd_state *cd_state_open(const char *dir)
{
    cd_buf logs = CD_BUF_INIT;
    cd_buf_printf(&logs, "%s/logs", dir);
    int rc = cd_mkdir_p(logs.data, 0755);
    if (rc == 0) {
        cd_buf c = CD_BUF_INIT;
        cd_buf_printf(&c, "%s/canaries", dir);
        rc = cd_mkdir_p(c.data, 0755);
        cd_buf_free(&c);
    }
    if (rc != 0) {
        cd_buf_free(&logs);
        errno = -rc;
        return NULL;
    }
    cd_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    st->dir = strdup(dir);
    st->logs = cd_buf_steal(&logs);
    st->lock_fd = -1;
    return st;
}

bool cd_state_lock(cd_state *st, char *why, size_t n)
{
    cd_buf p = CD_BUF_INIT;
    cd_buf_printf(&p, "%s/lock", st->dir);
    /* O_CLOEXEC: the processes canaryd starts must not hold it */
    int fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, n, "%s: %s", p.data, strerror(errno));
        cd_buf_free(&p);
        return false;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(why, n, "another canaryd local%s%s%s uses the state directory %s",
                 pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", st->dir);
        close(fd);
        cd_buf_free(&p);
        return false;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    /* the pid is only for the message above: a failed write is harmless */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) != len)
        pid[0] = '\0';
    st->lock_fd = fd;
    cd_buf_free(&p);
    return true;
}

void cd_state_close(cd_state *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->dir);
    free(st->logs);
    free(st);
}

void cd_state_remove_empty(cd_state *st)
{
    cd_buf c = CD_BUF_INIT;
    cd_buf_printf(&c, "%s/canaries", st->dir);
    rmdir(c.data);
    rmdir(st->logs);
    if (st->lock_fd >= 0) {
        cd_buf l = CD_BUF_INIT;
        cd_buf_printf(&l, "%s/lock", st->dir);
        unlink(l.data);
        cd_buf_free(&l);
    }
    rmdir(st->dir);
    cd_buf_free(&c);
}

const char *cd_state_dir(const cd_state *st) { return st->dir; }
const char *cd_state_log_dir(const cd_state *st) { return st->logs; }

/* Names come from validated manifests (DNS names), but never trust a path. */
static bool safe_name(const char *s)
{
    return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static char *canary_path(cd_state *st, const char *ns, const char *name, const char *file)
{
    if (!safe_name(ns) || !safe_name(name))
        return NULL;
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/canaries/%s/%s", st->dir, ns, name);
    if (file)
        cd_buf_printf(&b, "/%s", file);
    return cd_buf_steal(&b);
}

static int write_json(const char *path, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return -ENOMEM;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    int rc = cd_write_file_atomic(path, line, n + 1);
    free(line);
    return rc;
}

int cd_state_save_status(cd_state *st, const char *ns, const char *name,
                         const cd_canary_status *status)
{
    char *dir = canary_path(st, ns, name, NULL);
    if (!dir)
        return -EINVAL;
    int rc = cd_mkdir_p(dir, 0755);
    free(dir);
    if (rc != 0)
        return rc;
    char *path = canary_path(st, ns, name, "status.json");
    json_t *j = cd_status_to_json(status);
    rc = write_json(path, j);
    json_decref(j);
    free(path);
    return rc;
}

/* Why j is not a status canaryd wrote ("" when it is one): the fields the
 * controller relies on must have their types, or a restart would act on
 * defaults (phase 0, weight 0) as if they had been read. */
static bool status_shape(const json_t *j, char *why, size_t n)
{
    static const char *const ints[] = {"canaryWeight", "failedChecks", "iterations"};
    static const char *const strs[] = {"lastAppliedSpec", "lastPromotedSpec", "lastTransitionTime"};
    cd_phase p;
    if (!json_is_object(j)) {
        snprintf(why, n, "not a JSON object");
        return false;
    }
    const json_t *ph = json_object_get(j, "phase");
    if (!json_is_string(ph) || !cd_phase_parse(json_string_value(ph), &p)) {
        snprintf(why, n, "phase: %s", json_is_string(ph) ? "not a phase" : "missing or not a string");
        return false;
    }
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        const json_t *v = json_object_get(j, ints[i]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                  json_integer_value(v) > 1000000)) {
            snprintf(why, n, "%s: not a count", ints[i]);
            return false;
        }
    }
    const json_t *w = json_object_get(j, "canaryWeight");
    if (w && json_integer_value(w) > 100) {
        snprintf(why, n, "canaryWeight: above 100");
        return false;
    }
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        const json_t *v = json_object_get(j, strs[i]);
        if (v && !json_is_string(v)) {
            snprintf(why, n, "%s: not a string", strs[i]);
            return false;
        }
    }
    const json_t *c = json_object_get(j, "conditions");
    if (c && !json_is_array(c)) {
        snprintf(why, n, "conditions: not an array");
        return false;
    }
    return true;
}

int cd_state_load_status_why(cd_state *st, const char *ns, const char *name,
                             cd_canary_status *out, char *why, size_t n)
{
    char *path = canary_path(st, ns, name, "status.json");
    if (!path)
        return -EINVAL;
    if (n)
        why[0] = '\0';
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    int rc = 0;
    if (!j) {
        rc = access(path, F_OK) == 0 ? -EINVAL : -ENOENT;
        if (rc == -EINVAL)
            snprintf(why, n, "line %d, column %d: %s", e.line, e.column, e.text);
    } else if (!status_shape(j, why, n)) {
        rc = -EINVAL;
    } else {
        cd_status_from_json(out, j);
    }
    json_decref(j);
    free(path);
    return rc;
}

int cd_state_load_status(cd_state *st, const char *ns, const char *name, cd_canary_status *out)
{
    char why[256];
    return cd_state_load_status_why(st, ns, name, out, why, sizeof why);
}

char *cd_state_status_path(cd_state *st, const char *ns, const char *name)
{
    return canary_path(st, ns, name, "status.json");
}

char *cd_state_record_path(cd_state *st, const char *key)
{
    return record_path(st, key);
}

int cd_state_quarantine(const char *path, char *moved, size_t n)
{
    snprintf(moved, n, "%s.corrupt-%lld", path, (long long)cd_wall_ms());
    if (rename(path, moved) != 0) {
        int rc = -errno;
        snprintf(moved, n, "%s", path);
        return rc;
    }
    return 0;
}

int cd_state_remove_canary(cd_state *st, const char *ns, const char *name)
{
    static const char *const files[] = {"status.json", "events.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        char *p = canary_path(st, ns, name, files[i]);
        if (!p)
            return -EINVAL;
        unlink(p);
        free(p);
    }
    char *dir = canary_path(st, ns, name, NULL);
    int rc = rmdir(dir) == 0 || errno == ENOENT ? 0 : -errno;
    free(dir);
    return rc;
}

/* The journal is bounded: past CD_STATE_EVENTS_MAX bytes it is rewritten
 * (atomically) with its newest half, cut at a line start, so a canaryd that
 * runs for months neither fills the disk nor slows every `canaryctl events`
 * that reads the whole file. Kubernetes keeps events for an hour; at one
 * event a second for a year a few hundred KiB still hold the last hours. */
static int trim_journal(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size <= CD_STATE_EVENTS_MAX)
        return 0;
    size_t len;
    char *data = cd_read_file_max(path, (size_t)CD_STATE_EVENTS_MAX * 2, &len);
    if (!data)
        return -errno;
    size_t from = len > CD_STATE_EVENTS_MAX / 2 ? len - CD_STATE_EVENTS_MAX / 2 : 0;
    while (from > 0 && from < len && data[from - 1] != '\n')
        from++;
    int rc = cd_write_file_atomic(path, data + from, len - from);
    free(data);
    return rc;
}

int cd_state_append_event(cd_state *st, const char *ns, const char *name, int64_t wall_ms,
                          const char *type, const char *phase, const char *message)
{
    char *dir = canary_path(st, ns, name, NULL);
    if (!dir)
        return -EINVAL;
    int rc = cd_mkdir_p(dir, 0755);
    free(dir);
    if (rc != 0)
        return rc;
    char ts[32];
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "ts", cd_rfc3339_ms(wall_ms, ts), "type",
                           type ? type : "Normal", "phase", phase ? phase : "", "message",
                           message ? message : "");
    char *s = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ev);
    if (!s)
        return -ENOMEM;
    cd_buf line = CD_BUF_INIT;
    cd_buf_printf(&line, "%s\n", s);
    free(s);
    char *path = canary_path(st, ns, name, "events.jsonl");
    rc = cd_append_durable(path, line.data, line.len);
    if (rc == 0)
        rc = trim_journal(path);
    free(path);
    cd_buf_free(&line);
    return rc;
}

json_t *cd_state_events(cd_state *st, const char *ns, const char *name, int limit)
{
    json_t *all = json_array();
    char *path = canary_path(st, ns, name, "events.jsonl");
    size_t len;
    char *data = path ? cd_read_file(path, &len) : NULL;
    free(path);
    if (!data)
        return all;
    for (char *line = data, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';   /* a torn last line has no newline and is skipped */
        json_t *ev = json_loads(line, 0, NULL);
        if (json_is_object(ev))
            json_array_append_new(all, ev);
        else
            json_decref(ev);
    }
    free(data);
    if (limit > 0 && json_array_size(all) > (size_t)limit) {
        json_t *tail = json_array();
        for (size_t i = json_array_size(all) - (size_t)limit; i < json_array_size(all); i++)
            json_array_append(tail, json_array_get(all, i));
        json_decref(all);
        all = tail;
    }
    return all;
}

static char *record_path(cd_state *st, const char *key)
{
    if (!key || !*key || strstr(key, "..") || key[0] == '/')
        return NULL;
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/%s.json", st->dir, key);
    return cd_buf_steal(&b);
}

int cd_state_save_json(cd_state *st, const char *key, const json_t *value)
{
    char *path = record_path(st, key);
    if (!path)
        return -EINVAL;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = cd_mkdir_p(path, 0755);
    *slash = '/';
    if (rc == 0)
        rc = write_json(path, value);
    free(path);
    return rc;
}

int cd_state_load_json_why(cd_state *st, const char *key, json_t **out, char *why, size_t n)
{
    *out = NULL;
    if (n)
        why[0] = '\0';
    char *path = record_path(st, key);
    if (!path)
        return -EINVAL;
    json_error_t e;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    int rc = 0;
    if (!*out) {
        rc = access(path, F_OK) == 0 ? -EINVAL : -ENOENT;
        if (rc == -EINVAL)
            snprintf(why, n, "line %d, column %d: %s", e.line, e.column, e.text);
    }
    free(path);
    return rc;
}

json_t *cd_state_load_json(cd_state *st, const char *key)
{
    char *path = record_path(st, key);
    if (!path)
        return NULL;
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    return j;
}

int cd_state_remove_json(cd_state *st, const char *key)
{
    char *path = record_path(st, key);
    if (!path)
        return -EINVAL;
    int rc = unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    free(path);
    return rc;
}
