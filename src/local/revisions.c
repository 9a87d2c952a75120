/* revisions.c - the local platform's side of instant rollback
 * (docs/rollback.md): an archive of each LocalWorkload's recent revisions
 * (its manifest as canaryd decoded it, in the state directory, at most
 * LC_REVISIONS_KEPT per workload), and `canaryctl rollback`, which writes
 * the newest promoted revision other than the target's current one back
 * into the manifest directory, where the engine finds it within
 * spec.rollbackWindow and promotes it at once.
 *
 *   DIR/revisions/<namespace>/<workload>.json
 *     {"order": [newest..oldest], "manifests": {"<revision>": {...}}}
 *
 * Called with L->lock held; never blocks on anything but the state files. */
#include "local/local.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/log.h"
#include "util/timeutil.h"
#include <stdio.h>
#include <string.h>

#define LC_REVISIONS_KEPT (CD_PROMOTED_MAX + 1)

static char *archive_key(const char *ns, const char *workload)
{
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "revisions/%s/%s", ns, workload);
    return cd_buf_steal(&b);
}

void lc_revisions_note(cd_local *L, const cd_object *workload, const char *revision)
{
    if (!revision || !*revision)
        return;
    char *key = archive_key(workload->meta.namespace_, workload->meta.name);
    json_t *a = cd_state_load_json(L->state, key);
    json_t *order = json_object_get(a, "order"), *manifests = json_object_get(a, "manifests");
    if (!json_is_array(order) || !json_is_object(manifests)) {   /* none yet, or unreadable */
        json_decref(a);
        a = json_pack("{s:[],s:{}}", "order", "manifests");
        order = json_object_get(a, "order");
        manifests = json_object_get(a, "manifests");
    }
    size_t i;
    json_t *v;
    json_array_foreach(order, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), revision)) {
            json_array_remove(order, i);
            break;
        }
    }
    json_array_insert_new(order, 0, json_string(revision));
    json_object_set_new(manifests, revision, cd_object_to_json(workload));
    while (json_array_size(order) > LC_REVISIONS_KEPT) {
        size_t last = json_array_size(order) - 1;
        const char *old = json_string_value(json_array_get(order, last));
        if (old)
            json_object_del(manifests, old);
        json_array_remove(order, last);
    }
    int rc = cd_state_save_json(L->state, key, a);
    if (rc != 0)
        cd_warn("local: cannot archive revision %s of %s.%s: %s", revision, workload->meta.name,
                workload->meta.namespace_, strerror(-rc));
    json_decref(a);
    free(key);
}

/* The archived manifest of a revision (a new reference), or NULL. */
static json_t *archived(cd_local *L, const char *ns, const char *workload, const char *revision)
{
    char *key = archive_key(ns, workload);
    json_t *a = cd_state_load_json(L->state, key);
    free(key);
    json_t *m = json_object_get(json_object_get(a, "manifests"), revision);
    json_incref(m);
    json_decref(a);
    return m;
}

/* The newest promoted revision that is not the target's current one. */
static const cd_promoted_revision *previous(const cd_canary_status *s, const char *current)
{
    for (size_t i = 0; i < s->n_promoted; i++)
        if (strcmp(s->promoted[i].revision, current))
            return &s->promoted[i];
    return NULL;
}

int lc_rollback(cd_local *L, const char *ns, const char *name, cd_diags *diags, char *msg,
                size_t msglen)
{
    lc_canary *c = lc_find_canary(L, ns, name);
    if (!c) {
        lc_not_found(L, ns, name, msg, msglen);
        return 404;
    }
    const cd_canary_spec *spec = &c->obj->spec.canary;
    if (!spec->rollback_window.set) {
        snprintf(msg, msglen,
                 "canary %s.%s has no spec.rollbackWindow: no promoted revisions are kept, and a "
                 "rollback would run the whole analysis (apply the earlier LocalWorkload instead)",
                 name, ns);
        return 409;
    }
    if (!c->target || !c->target->workload) {
        snprintf(msg, msglen, "canary %s.%s: its LocalWorkload is not loaded", name, ns);
        return 409;
    }
    const cd_promoted_revision *p = previous(&c->status, c->target->revision);
    if (!p) {
        snprintf(msg, msglen, "canary %s.%s: no earlier promoted revision to roll back to", name,
                 ns);
        return 409;
    }
    char rev[CD_HASH_MAX];
    snprintf(rev, sizeof rev, "%s", p->revision);
    if (cd_engine_rollback_match(&c->status, &spec->rollback_window, rev, cd_wall_ms()) < 0) {
        snprintf(msg, msglen,
                 "canary %s.%s: revision %s is outside spec.rollbackWindow (maxAge %s): it would "
                 "run the whole analysis; apply it as a new release instead",
                 name, ns, rev, spec->rollback_window.max_age ? spec->rollback_window.max_age : "-");
        return 409;
    }
    const cd_object *w = c->target->workload;
    json_t *m = archived(L, ns, w->meta.name, rev);
    if (!m) {
        snprintf(msg, msglen, "canary %s.%s: the manifest of revision %s is no longer archived",
                 name, ns, rev);
        return 409;
    }
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(m);
    size_t errors = cd_manifest_dir_apply(L->manifests, "rollback", text, strlen(text), diags);
    free(text);
    if (errors) {
        snprintf(msg, msglen, "canary %s.%s: cannot write revision %s back (see errors)", name, ns,
                 rev);
        return 409;
    }
    cd_sched_kick(&c->L->sched, &c->job);
    snprintf(msg, msglen, "rolling back to revision %s", rev);
    cd_info("local: %s.%s: LocalWorkload %s rolled back to revision %s", name, ns, w->meta.name,
            rev);
    return 202;
}
