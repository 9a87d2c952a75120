/* local_secrets.c - the local platform's secret source: environment
 * variables CANARYD_SECRET_<NS>_<NAME>_<KEY> and files <dir>/<ns>/<name>/<key>
 * (see secrets.h). Reads only; never logs values. */
#include "lookup/secrets.h"
#include "util/buf.h"
#include "util/errfmt.h"
#include "util/grow.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

void cd_secret_init(cd_secret *s, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = strdup(name ? name : "");
    if (!s->name)
        abort();
}

void cd_secret_put(cd_secret *s, const char *key, const char *value, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!strcmp(s->items[i].key, key)) {
            free(s->items[i].value);
            s->items[i].value = malloc(len + 1);
            if (!s->items[i].value)
                abort();
            memcpy(s->items[i].value, value, len);
            s->items[i].value[len] = '\0';
            s->items[i].len = len;
            return;
        }
    }
    CD_GROW(s->items, s->cap, s->n + 1, 4);
    cd_secret_entry *e = &s->items[s->n++];
    e->key = strdup(key);
    e->value = malloc(len + 1);
    if (!e->key || !e->value)
        abort();
    memcpy(e->value, value, len);
    e->value[len] = '\0';
    e->len = len;
}

const cd_secret_entry *cd_secret_get(const cd_secret *s, const char *key)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->items[i].key, key))
            return &s->items[i];
    return NULL;
}

void cd_secret_free(cd_secret *s)
{
    for (size_t i = 0; i < s->n; i++) {
        /* wipe credentials before giving the memory back */
        memset(s->items[i].value, 0, s->items[i].len);
        free(s->items[i].key);
        free(s->items[i].value);
    }
    free(s->items);
    free(s->name);
    memset(s, 0, sizeof *s);
}

cd_secret_rc cd_secret_load(const cd_secret_source *src, const char *ns, const char *name,
                            cd_secret *out, cd_err *err)
{
    if (!src || !src->load) {
        cd_errfmt(err, "secrets \"%s\" not found (no secret source configured)", name);
        return CD_SECRET_NOT_FOUND;
    }
    return src->load(src->ctx, ns, name, out, err);
}

static void env_part(cd_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        cd_buf_putc(b, isalnum(c) ? (char)toupper(c) : '_');
    }
}

static size_t load_env(char **env, const char *ns, const char *name, cd_secret *out)
{
    cd_buf prefix = CD_BUF_INIT;
    cd_buf_puts(&prefix, "CANARYD_SECRET_");
    env_part(&prefix, ns);
    cd_buf_putc(&prefix, '_');
    env_part(&prefix, name);
    cd_buf_putc(&prefix, '_');
    size_t found = 0;
    for (char **e = env; e && *e; e++) {
        if (strncmp(*e, prefix.data, prefix.len))
            continue;
        const char *rest = *e + prefix.len;
        const char *eq = strchr(rest, '=');
        if (!eq || eq == rest)
            continue;
        char key[256];
        size_t kl = (size_t)(eq - rest);
        if (kl >= sizeof key)
            continue;
        for (size_t i = 0; i < kl; i++)
            key[i] = (char)tolower((unsigned char)rest[i]);
        key[kl] = '\0';
        cd_secret_put(out, key, eq + 1, strlen(eq + 1));
        found++;
    }
    cd_buf_free(&prefix);
    return found;
}

/* Kubernetes object names never hold '/' nor start with '.'; refusing them
 * keeps lookups inside dir. */
static bool safe_component(const char *s)
{
    return s && *s && s[0] != '.' && !strchr(s, '/') && strlen(s) < 254;
}

/* 1: value read, 0: not a regular file (skipped), -1: error */
static int read_value(int dirfd, const char *key, cd_buf *val, cd_err *err)
{
    int fd = openat(dirfd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ELOOP)   /* Kubernetes volumes use symlinks: allow them */
        fd = openat(dirfd, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cd_errfmt(err, "cannot read secret key %s: %s", key, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;       /* not a regular file: not a key */
    }
    if ((size_t)st.st_size > CD_SECRET_MAX_VALUE) {
        close(fd);
        cd_errfmt(err, "secret key %s is larger than 1 MiB", key);
        return -1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 && val->len <= CD_SECRET_MAX_VALUE)
        cd_buf_append(val, buf, (size_t)n);
    close(fd);
    if (n < 0) {
        cd_errfmt(err, "cannot read secret key %s: %s", key, strerror(errno));
        return -1;
    }
    if (val->len > 1 && val->data[val->len - 2] == '\r' && val->data[val->len - 1] == '\n')
        val->len -= 2;
    else if (val->len > 0 && val->data[val->len - 1] == '\n')
        val->len--;
    if (val->data)
        val->data[val->len] = '\0';
    return 1;
}

static cd_secret_rc load_dir(const char *dir, const char *ns, const char *name, cd_secret *out,
                             cd_err *err)
{
    if (!safe_component(ns) || !safe_component(name)) {
        cd_errfmt(err, "secrets \"%s\" not found: not a valid name", name);
        return CD_SECRET_NOT_FOUND;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, ns, name);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return CD_SECRET_NOT_FOUND;
        cd_errfmt(err, "cannot read secret directory %s: %s", path, strerror(errno));
        return CD_SECRET_ERROR;
    }
    cd_secret_rc rc = CD_SECRET_FOUND;
    struct dirent *de;
    cd_buf val = CD_BUF_INIT;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')   /* ., .., and ..data of mounted volumes */
            continue;
        cd_buf_reset(&val);
        int r = read_value(dirfd(d), de->d_name, &val, err);
        if (r < 0) {
            rc = CD_SECRET_ERROR;
            break;
        }
        if (r > 0)
            cd_secret_put(out, de->d_name, val.data ? val.data : "", val.len);
    }
    cd_buf_free(&val);
    closedir(d);
    return rc;
}

static cd_secret_rc local_load(void *ctx, const char *ns, const char *name, cd_secret *out,
                               cd_err *err)
{
    cd_local_secrets *cfg = ctx;
    if (!ns || !*ns)
        ns = "default";
    size_t from_env = load_env(cfg->environ_ ? cfg->environ_ : environ, ns, name, out);
    cd_secret_rc rc = CD_SECRET_NOT_FOUND;
    if (cfg->dir && *cfg->dir) {
        cd_secret file = {0};
        cd_secret_init(&file, name);
        rc = load_dir(cfg->dir, ns, name, &file, err);
        for (size_t i = 0; rc == CD_SECRET_FOUND && i < file.n; i++)
            if (!cd_secret_get(out, file.items[i].key))   /* env wins */
                cd_secret_put(out, file.items[i].key, file.items[i].value, file.items[i].len);
        cd_secret_free(&file);
        if (rc == CD_SECRET_ERROR)
            return rc;
    }
    if (from_env > 0 || rc == CD_SECRET_FOUND)
        return CD_SECRET_FOUND;
    cd_errfmt(err, "secrets \"%s\" not found in namespace %s (looked for CANARYD_SECRET_* "
                   "variables%s%s)",
              name, ns, cfg->dir ? " and " : "", cfg->dir ? cfg->dir : "");
    return CD_SECRET_NOT_FOUND;
}

cd_secret_source cd_local_secret_source(cd_local_secrets *cfg)
{
    cd_secret_source s = {cfg, local_load};
    return s;
}
