/* manifests.c - the manifest directory; see manifests.h. Reads files and
 * writes only on apply (atomically). */
#include "local/manifests.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/log.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mfile {
    char *name;             /* file name inside the directory */
    uint64_t hash;          /* of the content last loaded */
    bool rejected;          /* the last load had errors: objs are older */
    cd_object_list objs;
    bool seen;              /* during a rescan */
} mfile;

struct cd_manifest_dir {
    char *dir, *ns;
    int fd;
    mfile *files;
    size_t nfiles;
    cd_diags rejections;
};

static bool manifest_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return n[0] != '.' && dot &&
           (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static char *full_path(const cd_manifest_dir *d, const char *name)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/%s", d->dir, name);
    return cd_buf_steal(&b);
}

static mfile *find_file(cd_manifest_dir *d, const char *name)
{
    for (size_t i = 0; i < d->nfiles; i++)
        if (!strcmp(d->files[i].name, name))
            return &d->files[i];
    return NULL;
}

static mfile *add_file(cd_manifest_dir *d, const char *name)
{
    mfile *p = realloc(d->files, (d->nfiles + 1) * sizeof *p);
    if (!p)
        abort();
    d->files = p;
    mfile *f = &d->files[d->nfiles++];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    return f;
}

static void drop_file(cd_manifest_dir *d, mfile *f)
{
    cd_object_list_free(&f->objs);
    free(f->name);
    size_t i = (size_t)(f - d->files);
    memmove(&d->files[i], &d->files[i + 1], (d->nfiles - i - 1) * sizeof *f);
    d->nfiles--;
}

static bool same_object(const cd_object *a, const cd_object *b)
{
    return a->kind == b->kind && !strcmp(a->meta.namespace_, b->meta.namespace_) &&
           !strcmp(a->meta.name, b->meta.name);
}

/* An object of objs already defined by another file: an error, as a
 * second `kubectl create` of the same name is. */
static size_t check_duplicates(cd_manifest_dir *d, const mfile *self, const char *display,
                               const cd_object_list *objs, cd_diags *diags)
{
    size_t errors = 0;
    for (size_t i = 0; i < objs->n; i++) {
        const cd_object *o = objs->items[i];
        for (size_t j = 0; j < i; j++)
            if (same_object(o, objs->items[j])) {
                cd_diags_add(diags, CD_DIAG_ERROR, display, o->line, 1, "metadata.name",
                             "%s %s/%s is defined twice in this file", o->kind_name,
                             o->meta.namespace_, o->meta.name);
                errors++;
            }
        for (size_t f = 0; f < d->nfiles; f++) {
            const mfile *other = &d->files[f];
            if (other == self)
                continue;
            for (size_t k = 0; k < other->objs.n; k++)
                if (same_object(o, other->objs.items[k])) {
                    cd_diags_add(diags, CD_DIAG_ERROR, display, o->line, 1, "metadata.name",
                                 "%s %s/%s is already defined in %s", o->kind_name,
                                 o->meta.namespace_, o->meta.name, other->name);
                    errors++;
                }
        }
    }
    return errors;
}

static const char *file_type(unsigned type)
{
    switch (type) {
    case S_IFIFO: return "a named pipe";
    case S_IFDIR: return "a directory";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "not a file";
    }
}

/* Reads a manifest. NULL when it cannot: *gone when the file is no longer
 * there (deleted or moved away), else why in why[] (a pipe, a directory, a
 * dangling symbolic link, too large, unreadable): such a file is rejected
 * and its previous objects stay, as an invalid one's do. */
static char *read_manifest(const char *path, size_t *len, bool *gone, char *why, size_t n)
{
    unsigned type = 0;
    char *text = cd_read_regular_file_max(path, CD_MANIFEST_MAX_BYTES, len, &type);
    *gone = false;
    if (text)
        return text;
    int e = errno;
    char target[256];
    ssize_t tn;
    if (e == EFBIG)
        snprintf(why, n, "larger than %u bytes (1 MiB), the limit for a manifest",
                 CD_MANIFEST_MAX_BYTES);
    else if (e == EINVAL)
        snprintf(why, n, "not a regular file (%s): manifests are read from regular files "
                 "or symbolic links to them", file_type(type));
    else if (e == ENOENT && (tn = readlink(path, target, sizeof target - 1)) >= 0) {
        target[tn] = '\0';
        snprintf(why, n, "a symbolic link to a missing file (%s)", target);
    } else if (e == ENOENT || e == ENOTDIR)
        *gone = true;
    else
        snprintf(why, n, "cannot read: %s", strerror(e));
    return NULL;
}

static void refresh_rejections(cd_manifest_dir *d);

/* (Re)loads one file. Returns true when its objects changed. */
static bool load_file(cd_manifest_dir *d, const char *name, cd_diags *diags)
{
    char *path = full_path(d, name);
    size_t len = 0;
    bool gone;
    char why[400];
    char *text = read_manifest(path, &len, &gone, why, sizeof why);
    mfile *f = find_file(d, name);
    if (!text && !gone) {
        if (!f)
            f = add_file(d, name);
        f->hash = 0;
        f->rejected = true;
        cd_diags_add(diags, CD_DIAG_ERROR, path, 0, 0, "", "%s", why);
        cd_warn("manifests: %s rejected (%s); its previous objects stay", name, why);
        free(path);
        refresh_rejections(d);
        return false;
    }
    if (!text) {
        free(path);
        if (!f)
            return false;
        bool had = f->objs.n > 0;
        cd_info("manifests: %s removed", name);
        drop_file(d, f);
        return had;
    }
    uint64_t h = cd_fnv1a64(text, len);
    if (f && f->hash == h) {
        free(text);
        free(path);
        return false;
    }
    if (!f)
        f = add_file(d, name);
    f->hash = h;
    cd_object_list objs = {0};
    cd_diags local;
    cd_diags_init(&local);
    size_t errors = cd_manifest_load_buffer(path, text, len, strstr(name, ".json") != NULL, d->ns,
                                            &objs, &local);
    if (!errors)
        errors = check_duplicates(d, f, path, &objs, &local);
    free(text);
    bool changed = false;
    if (errors) {
        cd_warn("manifests: %s rejected (%zu error%s); its previous objects stay", name, errors,
                errors == 1 ? "" : "s");
        f->rejected = true;
        cd_object_list_free(&objs);
    } else {
        f->rejected = false;
        cd_object_list_free(&f->objs);
        f->objs = objs;
        changed = true;
        cd_info("manifests: %s applied (%zu object%s)", name, f->objs.n, f->objs.n == 1 ? "" : "s");
    }
    cd_diags_move(diags, &local);
    free(path);
    refresh_rejections(d);
    return changed;
}

/* Remembers the diagnostics of rejected files (by reloading them quietly). */
static void refresh_rejections(cd_manifest_dir *d)
{
    cd_diags_free(&d->rejections);
    cd_diags_init(&d->rejections);
    for (size_t i = 0; i < d->nfiles; i++) {
        if (!d->files[i].rejected)
            continue;
        char *path = full_path(d, d->files[i].name);
        size_t len;
        bool gone;
        char why[400];
        char *text = read_manifest(path, &len, &gone, why, sizeof why);
        if (!text && !gone)
            cd_diags_add(&d->rejections, CD_DIAG_ERROR, path, 0, 0, "", "%s", why);
        if (text) {
            cd_object_list tmp = {0};
            cd_diags local;
            cd_diags_init(&local);
            cd_manifest_load_buffer(path, text, len, strstr(path, ".json") != NULL, d->ns, &tmp,
                                    &local);
            if (!local.errors)
                check_duplicates(d, &d->files[i], path, &tmp, &local);
            cd_object_list_free(&tmp);
            for (size_t k = 0; k < local.n; k++)
                if (local.items[k].severity == CD_DIAG_ERROR) {
                    cd_diag *x = &local.items[k];
                    cd_diags_add(&d->rejections, x->severity, x->file, x->line, x->col, x->path,
                                 "%s", x->message);
                }
            cd_diags_free(&local);
            free(text);
        }
        free(path);
    }
}

bool cd_manifest_dir_rescan(cd_manifest_dir *d, cd_diags *diags)
{
    DIR *dir = opendir(d->dir);
    if (!dir)
        return false;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!manifest_name(e->d_name))
            continue;
        char **p = realloc(names, (n + 1) * sizeof *p);
        if (!p)
            abort();
        names = p;
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    /* stable order: by name */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    bool changed = false;
    for (size_t i = 0; i < d->nfiles; i++)
        d->files[i].seen = false;
    for (size_t i = 0; i < n; i++) {
        changed |= load_file(d, names[i], diags);
        mfile *f = find_file(d, names[i]);
        if (f)
            f->seen = true;
        free(names[i]);
    }
    free(names);
    for (size_t i = 0; i < d->nfiles;) {
        if (!d->files[i].seen) {
            changed |= d->files[i].objs.n > 0;
            drop_file(d, &d->files[i]);
        } else {
            i++;
        }
    }
    refresh_rejections(d);
    return changed;
}

cd_manifest_dir *cd_manifest_dir_open(const char *dir, const char *default_namespace)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (inotify_add_watch(fd, dir,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    cd_manifest_dir *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->dir = strdup(dir);
    d->ns = strdup(default_namespace ? default_namespace : "default");
    d->fd = fd;
    cd_diags_init(&d->rejections);
    cd_diags diags;
    cd_diags_init(&diags);
    cd_manifest_dir_rescan(d, &diags);
    if (diags.n) {
        cd_diags_sort(&diags);
        cd_diags_print(&diags, stderr);
    }
    cd_diags_free(&diags);
    return d;
}

void cd_manifest_dir_close(cd_manifest_dir *d)
{
    if (!d)
        return;
    while (d->nfiles)
        drop_file(d, &d->files[0]);
    free(d->files);
    cd_diags_free(&d->rejections);
    close(d->fd);
    free(d->dir);
    free(d->ns);
    free(d);
}

const char *cd_manifest_dir_path(const cd_manifest_dir *d) { return d->dir; }
int cd_manifest_dir_fd(const cd_manifest_dir *d) { return d->fd; }

/* A regular file just created (or whose mode changed) while its writer may
 * still be writing: its IN_CLOSE_WRITE follows. A symbolic link, a FIFO or
 * a directory makes only IN_CREATE; a chmod that makes a file readable
 * again only IN_ATTRIB, which reloads it when its content is not the one
 * last loaded. */
static bool partial_write(cd_manifest_dir *d, const struct inotify_event *ev)
{
    if (!(ev->mask & IN_CREATE))
        return false;
    char *path = full_path(d, ev->name);
    struct stat st;
    bool regular = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return regular;
}

bool cd_manifest_dir_poll(cd_manifest_dir *d, cd_diags *diags)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false, rescan = false;
    for (;;) {
        ssize_t n = read(d->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF))
                rescan = true;
            else if (ev->len && manifest_name(ev->name) && !partial_write(d, ev))
                changed |= load_file(d, ev->name, diags);
            p += sizeof *ev + ev->len;
        }
    }
    if (rescan)
        changed |= cd_manifest_dir_rescan(d, diags);
    return changed;
}

static void slug(cd_buf *b, const char *s)
{
    for (; *s; s++)
        cd_buf_putc(b, isalnum((unsigned char)*s) || *s == '.' || *s == '-' ? (char)tolower(*s) : '-');
}

/* The file an applied manifest goes to: the file that defines exactly its
 * objects already, else a new file named after its first object. */
static char *target_file(cd_manifest_dir *d, const cd_object_list *objs)
{
    for (size_t f = 0; f < d->nfiles; f++) {
        const mfile *file = &d->files[f];
        if (file->objs.n != objs->n)
            continue;
        bool all = true;
        for (size_t i = 0; i < objs->n && all; i++) {
            bool found = false;
            for (size_t k = 0; k < file->objs.n; k++)
                found |= same_object(objs->items[i], file->objs.items[k]);
            all = found;
        }
        if (all)
            return strdup(file->name);
    }
    const cd_object *o = objs->items[0];
    cd_buf b = CD_BUF_INIT;
    slug(&b, o->kind_name);
    cd_buf_putc(&b, '-');
    slug(&b, o->meta.namespace_);
    cd_buf_putc(&b, '-');
    slug(&b, o->meta.name);
    cd_buf_puts(&b, ".yaml");
    return cd_buf_steal(&b);
}

size_t cd_manifest_dir_apply(cd_manifest_dir *d, const char *name, const char *text, size_t len,
                             cd_diags *diags)
{
    cd_object_list objs = {0};
    size_t before = diags->errors;
    bool json = name && strstr(name, ".json");
    size_t errors = cd_manifest_load_buffer(name ? name : "<apply>", text, len, json, d->ns, &objs,
                                            diags);
    if (!errors && objs.n == 0) {
        cd_diags_add(diags, CD_DIAG_ERROR, name, 0, 0, "",
                     "no Canary, MetricTemplate, AlertProvider or LocalWorkload to apply");
        errors = 1;
    }
    char *file = NULL;
    if (!errors) {
        file = target_file(d, &objs);
        errors = check_duplicates(d, find_file(d, file), name ? name : "<apply>", &objs, diags);
    }
    if (!errors) {
        char *path = full_path(d, file);
        /* JSON is valid YAML, so the file keeps the .yaml name either way */
        int rc = cd_write_file_atomic(path, text, len);
        if (rc != 0) {
            cd_diags_add(diags, CD_DIAG_ERROR, path, 0, 0, "", "cannot write: %s", strerror(-rc));
            errors = 1;
        } else {
            load_file(d, file, diags);
        }
        free(path);
    }
    free(file);
    cd_object_list_free(&objs);
    return diags->errors - before;
}

size_t cd_manifest_dir_count(const cd_manifest_dir *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nfiles; i++)
        n += d->files[i].objs.n;
    return n;
}

cd_object *cd_manifest_dir_at(const cd_manifest_dir *d, size_t i)
{
    for (size_t f = 0; f < d->nfiles; f++) {
        if (i < d->files[f].objs.n)
            return d->files[f].objs.items[i];
        i -= d->files[f].objs.n;
    }
    return NULL;
}

cd_object *cd_manifest_dir_find(const cd_manifest_dir *d, cd_kind kind, const char *ns,
                                const char *name)
{
    for (size_t f = 0; f < d->nfiles; f++)
        for (size_t i = 0; i < d->files[f].objs.n; i++) {
            cd_object *o = d->files[f].objs.items[i];
            if (o->kind == kind && !strcmp(o->meta.namespace_, ns) && !strcmp(o->meta.name, name))
                return o;
        }
    return NULL;
}

const cd_diags *cd_manifest_dir_rejections(const cd_manifest_dir *d) { return &d->rejections; }
