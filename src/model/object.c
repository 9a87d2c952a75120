/* object.c - decoding manifest documents into cd_objects: kind dispatch,
 * schema validation against the embedded CRDs, per-kind decoders, and
 * loading files and directories. Reads files; never writes anything. */
#include "model/object.h"
#include "model/canary_codec.h"
#include "model/schema.h"
#include "model/workload.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/grow.h"
#include "util/suggest.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct kind_ops {
    cd_kind kind;
    const char *group, *name;
    void (*decode)(cd_dec *d, const cd_node *spec, cd_object *o);
    json_t *(*encode)(const cd_object *o);
} kind_ops;

static void dec_canary(cd_dec *d, const cd_node *spec, cd_object *o)
{
    cd_canary_decode_spec(d, spec, &o->spec.canary);
}
static json_t *enc_canary(const cd_object *o) { return cd_canary_encode_spec(&o->spec.canary); }
static void dec_template(cd_dec *d, const cd_node *spec, cd_object *o)
{
    cd_metric_template_decode_spec(d, spec, &o->spec.metric_template);
}
static json_t *enc_template(const cd_object *o)
{
    return cd_metric_template_encode_spec(&o->spec.metric_template);
}
static void dec_alert(cd_dec *d, const cd_node *spec, cd_object *o)
{
    cd_alert_provider_decode_spec(d, spec, &o->spec.alert_provider);
}
static json_t *enc_alert(const cd_object *o)
{
    return cd_alert_provider_encode_spec(&o->spec.alert_provider);
}
static void dec_workload(cd_dec *d, const cd_node *spec, cd_object *o)
{
    o->spec.workload = cd_workload_decode_spec(d, spec);
}
static json_t *enc_workload(const cd_object *o) { return cd_workload_encode_spec(o->spec.workload); }

static const kind_ops kinds[] = {
    {CD_KIND_CANARY, "flagger.app", "Canary", dec_canary, enc_canary},
    {CD_KIND_METRIC_TEMPLATE, "flagger.app", "MetricTemplate", dec_template, enc_template},
    {CD_KIND_ALERT_PROVIDER, "flagger.app", "AlertProvider", dec_alert, enc_alert},
    {CD_KIND_LOCAL_WORKLOAD, "canaryd.dev", "LocalWorkload", dec_workload, enc_workload},
};

const char *cd_kind_name(cd_kind k)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == k)
            return kinds[i].name;
    return "?";
}

static const kind_ops *find_kind(const char *group, const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].group, group) && !strcmp(kinds[i].name, kind))
            return &kinds[i];
    return NULL;
}

cd_object *cd_object_retain(cd_object *o)
{
    if (o)
        __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
    return o;
}

void cd_object_free(cd_object *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    cd_status_free(&o->status);
    cd_arena_free(&o->arena);
    free(o);
}

void cd_object_list_push(cd_object_list *l, cd_object *o)
{
    CD_GROW(l->items, l->cap, l->n + 1, 8);
    l->items[l->n++] = o;
}

void cd_object_list_free(cd_object_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cd_object_free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static bool split_api_version(const char *av, char *group, size_t glen, const char **version)
{
    const char *slash = strrchr(av, '/');
    if (!slash) {
        snprintf(group, glen, "%s", "");
        *version = av;
        return true;
    }
    size_t n = (size_t)(slash - av);
    if (n >= glen)
        return false;
    memcpy(group, av, n);
    group[n] = '\0';
    *version = slash + 1;
    return true;
}

/* A kind that is none of flagger.app's or canaryd.dev's, in one of those
 * groups: a typo (kind: Canery), an error as kubectl's "no matches for
 * kind" is, not an object of another tool to skip. */
static bool unknown_kind_of_ours(const char *file, const cd_node *kn, const char *group,
                                 const char *kind, cd_diags *diags)
{
    cd_buf names = CD_BUF_INIT;
    cd_suggest sg;
    cd_suggest_init(&sg, kind);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].group, group)) {
            cd_buf_printf(&names, "%s%s", names.len ? ", " : "", kinds[i].name);
            cd_suggest_offer(&sg, kinds[i].name);
        }
    bool ours = names.len > 0;
    if (ours)
        cd_diags_add(diags, CD_DIAG_ERROR, file, kn->line, kn->col, "kind",
                     "%s has no kind %s%s%s%s (its kinds: %s)", group, kind,
                     sg.best ? "; did you mean " : "", sg.best ? sg.best : "", sg.best ? "?" : "",
                     names.data);
    cd_buf_free(&names);
    return ours;
}

cd_object *cd_object_decode(const cd_node *root, const char *file, int line,
                            const char *default_namespace, cd_diags *diags)
{
    if (!root || root->type == CD_N_NULL)
        return NULL;   /* an empty document */
    if (root->type != CD_N_MAP) {
        cd_diags_add(diags, CD_DIAG_ERROR, file, root->line, root->col, "",
                     "a manifest must be an object with apiVersion and kind, got %s",
                     cd_node_type_name(root->type));
        return NULL;
    }
    const cd_node *avn = cd_map_get(root, "apiVersion"), *kn = cd_map_get(root, "kind");
    const char *av = cd_node_str(avn), *kind = cd_node_str(kn);
    if (!av || !kind) {
        const cd_node *at = !av ? avn : kn;
        cd_diags_add(diags, CD_DIAG_ERROR, file, at ? at->line : root->line,
                     at ? at->col : root->col, !av ? "apiVersion" : "kind",
                     at ? "must be a string" : "required field is missing");
        return NULL;
    }
    char group[256];
    const char *version;
    if (!split_api_version(av, group, sizeof group, &version)) {
        cd_diags_add(diags, CD_DIAG_ERROR, file, avn->line, avn->col, "apiVersion",
                     "\"%s\" is not a valid apiVersion", av);
        return NULL;
    }
    const kind_ops *ops = find_kind(group, kind);
    if (!ops && !unknown_kind_of_ours(file, kn, group, kind, diags))
        cd_diags_add(diags, CD_DIAG_WARNING, file, kn->line, kn->col, "kind",
                     "%s %s is not a canaryd kind; skipped", av, kind);
    if (!ops)
        return NULL;
    const cd_crd_version *crd = cd_schema_find(group, version, kind);
    if (!crd || !crd->served) {
        const cd_crd_version *any = cd_schema_find_kind(group, kind);
        cd_diags_add(diags, CD_DIAG_ERROR, file, avn->line, avn->col, "apiVersion",
                     "%s is not served for kind %s; use %s/%s", av, kind, group,
                     any ? any->version : "?");
        return NULL;
    }

    size_t errors_before = diags->errors;
    cd_schema_validate(crd->schema, root, file, "", diags);

    cd_object *o = calloc(1, sizeof *o);
    if (!o)
        abort();
    o->refs = 1;
    cd_arena_init(&o->arena, 4096);
    o->kind = ops->kind;
    o->api_version = cd_arena_strdup(&o->arena, av);
    o->kind_name = ops->name;
    o->file = file ? cd_arena_strdup(&o->arena, file) : NULL;
    o->line = line;
    cd_dec d;
    cd_dec_init(&d, &o->arena, file, diags);
    cd_dec_meta(&d, root, default_namespace, &o->meta);
    d.ns = o->meta.namespace_;
    const cd_node *spec = cd_map_get(root, "spec");
    if (spec && spec->type == CD_N_MAP)
        ops->decode(&d, spec, o);
    else if (!spec || spec->type == CD_N_NULL)
        cd_diags_add(diags, CD_DIAG_ERROR, file, root->line, root->col, "spec",
                     "required field is missing");
    const cd_node *status = cd_map_get(root, "status");
    if (ops->kind == CD_KIND_CANARY && status && status->type == CD_N_MAP) {
        json_t *j = cd_node_to_json(status);
        cd_status_from_json(&o->status, j);
        json_decref(j);
        o->has_status = true;
    }
    cd_dec_done(&d);
    if (diags->errors > errors_before) {
        cd_object_free(o);
        return NULL;
    }
    return o;
}

size_t cd_manifest_load_buffer(const char *name, const char *data, size_t len, bool json,
                               const char *default_namespace, cd_object_list *out,
                               cd_diags *diags)
{
    size_t before = diags->errors;
    if (len > CD_MANIFEST_MAX_BYTES) {
        cd_diags_add(diags, CD_DIAG_ERROR, name, 0, 0, "",
                     "%zu bytes: manifests are limited to %u bytes (1 MiB)", len,
                     CD_MANIFEST_MAX_BYTES);
        return 1;
    }
    cd_stream *s = cd_stream_parse(name, data, len, json, diags);
    if (!s)
        return diags->errors - before + 1;
    for (size_t i = 0; i < s->ndocs; i++) {
        cd_object *o = cd_object_decode(s->docs[i].root, s->file, s->docs[i].line,
                                        default_namespace, diags);
        if (o)
            cd_object_list_push(out, o);
    }
    cd_stream_free(s);
    return diags->errors - before;
}

static bool has_manifest_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static bool is_json_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && !strcmp(dot, ".json");
}

/* At most CD_MANIFEST_MAX_BYTES (+1, so that a longer input is seen
 * without reading the rest of it). */
static char *read_stream(FILE *f, size_t *len)
{
    cd_buf b = CD_BUF_INIT;
    char chunk[65536];
    size_t n;
    while (b.len <= CD_MANIFEST_MAX_BYTES && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cd_buf_append(&b, chunk, n);
    if (ferror(f)) {
        cd_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return cd_buf_steal(&b);
}

static long load_file(const char *path, const char *display, const char *ns, cd_object_list *out,
                      cd_diags *diags)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "", "cannot open: %s", strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *data = read_stream(f, &len);
    int err = errno;
    if (f != stdin)
        fclose(f);
    if (!data) {
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "", "cannot read: %s", strerror(err));
        return -1;
    }
    if (len > CD_MANIFEST_MAX_BYTES) {
        free(data);
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "",
                     "larger than %u bytes (1 MiB), the limit for a manifest", CD_MANIFEST_MAX_BYTES);
        return 1;
    }
    size_t e = cd_manifest_load_buffer(display, data, len, is_json_name(path), ns, out, diags);
    free(data);
    return (long)e;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long load_dir(const char *path, const char *ns, cd_object_list *out, cd_diags *diags,
                     int depth)
{
    DIR *dir = opendir(path);
    if (!dir) {
        cd_diags_add(diags, CD_DIAG_ERROR, path, 0, 0, "", "cannot open directory: %s",
                     strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        CD_GROW(names, cap, n + 1, 32);
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    long errors = 0;
    bool unreadable = false;
    for (size_t i = 0; i < n; i++) {
        cd_buf full = CD_BUF_INIT;
        cd_buf_printf(&full, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", names[i]);
        struct stat st, lst;
        bool dir_link = lstat(full.data, &lst) == 0 && S_ISLNK(lst.st_mode) &&
                        stat(full.data, &st) == 0 && S_ISDIR(st.st_mode);
        if (dir_link) {
            /* as kubectl apply -R: a link to a directory (perhaps back up
             * the tree, where walking it would never end) is not walked */
            cd_diags_add(diags, CD_DIAG_WARNING, full.data, 0, 0, "",
                         "a symbolic link to a directory, not followed (give its target "
                         "with another -f to validate it)");
        } else if (stat(full.data, &st) == 0) {
            long r = 0;
            if (S_ISDIR(st.st_mode) && depth < 32)
                r = load_dir(full.data, ns, out, diags, depth + 1);
            else if (S_ISREG(st.st_mode) && has_manifest_ext(names[i]))
                r = load_file(full.data, full.data, ns, out, diags);
            if (r < 0)
                unreadable = true;
            else
                errors += r;
        }
        cd_buf_free(&full);
        free(names[i]);
    }
    free(names);
    return unreadable ? -1 : errors;
}

long cd_manifest_load_path(const char *path, const char *default_namespace, cd_object_list *out,
                           cd_diags *diags)
{
    if (!strcmp(path, "-"))
        return load_file("-", "<stdin>", default_namespace, out, diags);
    struct stat st;
    if (stat(path, &st) != 0) {
        cd_diags_add(diags, CD_DIAG_ERROR, path, 0, 0, "", "cannot read: %s", strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return load_dir(path, default_namespace, out, diags, 0);
    return load_file(path, path, default_namespace, out, diags);
}

json_t *cd_object_to_json(const cd_object *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "apiVersion", json_string(o->api_version));
    json_object_set_new(j, "kind", json_string(o->kind_name));
    json_object_set_new(j, "metadata", cd_meta_json(&o->meta));
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == o->kind)
            json_object_set_new(j, "spec", kinds[i].encode(o));
    if (o->has_status)
        json_object_set_new(j, "status", cd_status_to_json(&o->status));
    return j;
}

void cd_json_hash(const json_t *v, char out[16])
{
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    cd_flagger_hash(s ? s : "", s ? strlen(s) : 0, out);
    free(s);
}
