/* kube_rollback.c - `canaryctl rollback NAME` on a cluster (kube_ctl.h,
 * docs/rollback.md): the canary's last promoted revision (the newest entry
 * of status.promotedRevisions other than the target's current revision,
 * within spec.rollbackWindow) is found where `kubectl rollout undo` finds a
 * workload's earlier revisions: a Deployment's ReplicaSets (owned by it,
 * their template without the pod-template-hash label) or a StatefulSet's
 * or DaemonSet's ControllerRevisions (data.spec.template), hashed as
 * canaryd kube hashes a target (status.lastPromotedSpec; a DaemonSet's
 * without Flagger's scale-to-zero node selector, which the live target
 * keeps as it is). That template is written back into
 * the target with the user's own credentials; canaryd kube then sees a
 * revision within the window and promotes it at once, without analysis,
 * with its "Instant rollback" Event. Must not change anything when any
 * check fails, nor print a credential. */
#include "cli/kube_ctl.h"
#include "engine/engine.h"
#include "kube/api.h"
#include "kube/gates.h"
#include "kube/kjson.h"
#include "model/object.h"
#include "model/status.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rb_target {
    const cd_kube_resource *res, *history;   /* the workload; where its revisions are */
    const char *kind, *history_kind;
} rb_target;

static const rb_target targets[] = {
    {&CD_KUBE_DEPLOYMENTS, &CD_KUBE_REPLICASETS, "Deployment", "ReplicaSet"},
    {&CD_KUBE_STATEFULSETS, &CD_KUBE_CONTROLLERREVISIONS, "StatefulSet", "ControllerRevision"},
    {&CD_KUBE_DAEMONSETS, &CD_KUBE_CONTROLLERREVISIONS, "DaemonSet", "ControllerRevision"},
};

/* Flagger's node selector that scales a DaemonSet to zero */
#define SCALE_TO_ZERO "flagger.app/scale-to-zero"

static bool is_daemonset(const rb_target *t) { return t->res == &CD_KUBE_DAEMONSETS; }

/* canaryd kube's revision of a pod template (kube/workload's
 * cdk_target_hash: a DaemonSet's without the scale-to-zero node
 * selector, an absent nodeSelector hashing as {}). */
static void template_hash(const rb_target *t, const json_t *tpl, char out[CD_HASH_MAX])
{
    json_t *c = json_is_object(tpl) ? json_deep_copy(tpl) : json_object();
    if (is_daemonset(t))
        json_object_del(kj_obj(kj_obj(c, "spec"), "nodeSelector"), SCALE_TO_ZERO);
    char h[16];
    cd_json_hash(c, h);
    json_decref(c);
    snprintf(out, CD_HASH_MAX, "%s", h);
}

/* A DaemonSet keeps the scale-to-zero node selector it has now: a
 * rollback changes the revision, not whether the target is scaled down. */
static void keep_scale(const rb_target *t, const json_t *live, json_t *tpl)
{
    if (!is_daemonset(t))
        return;
    json_t *now = json_object_get(kj_at(live, "spec.template.spec.nodeSelector"), SCALE_TO_ZERO);
    json_t *ns = kj_obj(kj_obj(tpl, "spec"), "nodeSelector");
    if (now)
        json_object_set(ns, SCALE_TO_ZERO, now);
    else
        json_object_del(ns, SCALE_TO_ZERO);
    if (!json_object_size(ns))
        json_object_del(json_object_get(tpl, "spec"), "nodeSelector");
}

/* The pod template a revision object holds, as it was in the workload:
 * a ReplicaSet's without the pod-template-hash label the deployment
 * controller added (kubectl rollout undo removes it too), a
 * ControllerRevision's without "$patch". New reference, or NULL. */
static json_t *held_template(const rb_target *t, const json_t *o)
{
    bool rs = t->history == &CD_KUBE_REPLICASETS;
    json_t *tpl = kj_copy(kj_at(o, rs ? "spec.template" : "data.spec.template"));
    if (!json_is_object(tpl)) {
        json_decref(tpl);
        return NULL;
    }
    json_object_del(tpl, "$patch");
    json_t *labels = kj_at(tpl, "metadata.labels");
    if (rs && json_is_object(labels)) {
        json_object_del(labels, "pod-template-hash");
        if (!json_object_size(labels))
            json_object_del(json_object_get(tpl, "metadata"), "labels");
    }
    return tpl;
}

static bool owned_by(const json_t *o, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach(kj_at(o, "metadata.ownerReferences"), i, r)
        if (uid && !strcmp(kj_str(r, "uid") ?: "", uid))
            return true;
    return false;
}

/* "k=v,k2=v2" of the workload's selector.matchLabels (NULL when none). */
static char *selector_of(const json_t *w)
{
    cd_buf b = CD_BUF_INIT;
    const char *k;
    json_t *v;
    json_object_foreach(kj_at(w, "spec.selector.matchLabels"), k, v)
        cd_buf_printf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v) ?: "");
    if (!b.len) {
        cd_buf_free(&b);
        return NULL;
    }
    char *s = strdup(cd_buf_str(&b));
    cd_buf_free(&b);
    return s;
}

/* The template of revision `want` among the workload's revision objects
 * (a new reference, *from names the object), or NULL. */
static json_t *find_revision(cd_ctl_kube *k, const rb_target *t, const json_t *w, const char *want,
                             char *from, size_t fromlen, bool *failed)
{
    char *sel = selector_of(w);
    cd_kube_list_opts o = {.label_selector = sel};
    json_t *items = NULL, *found = NULL;
    cd_kube_err e;
    bool ok = cd_kube_list(k->kc, t->history, k->ns, &o, &items, NULL, &e);
    free(sel);
    if (!ok) {
        fprintf(stderr, "canaryctl rollback: listing the %ss of %s %s.%s: %s\n", t->history_kind,
                t->kind, kj_str(w, "metadata.name") ?: "", k->ns, e.msg);
        *failed = true;
        return NULL;
    }
    const char *uid = kj_str(w, "metadata.uid");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (found || !owned_by(it, uid))
            continue;
        json_t *tpl = held_template(t, it);
        char h[CD_HASH_MAX];
        if (tpl)
            template_hash(t, tpl, h);
        if (tpl && !strcmp(h, want)) {
            found = tpl;
            const char *rev = json_string_value(json_object_get(
                kj_at(it, "metadata.annotations"), "deployment.kubernetes.io/revision"));
            char num[32] = "";
            if (rev)
                snprintf(num, sizeof num, "%s", rev);
            else if (json_integer_value(json_object_get(it, "revision")))
                snprintf(num, sizeof num, "%lld",
                         (long long)json_integer_value(json_object_get(it, "revision")));
            snprintf(from, fromlen, "%s %s%s%s", t->history_kind, kj_str(it, "metadata.name") ?: "",
                     *num ? ", revision " : "", num);
        } else {
            json_decref(tpl);
        }
    }
    json_decref(items);
    return found;
}

/* The revision the workload runs now (an absent template hashes as {}). */
static void live_hash(const rb_target *t, const json_t *w, char out[CD_HASH_MAX])
{
    template_hash(t, kj_at(w, "spec.template"), out);
}

typedef struct put_ud {
    const rb_target *t;
    json_t *tpl;
    const char *expect;         /* the hash the live template must still have */
    bool moved;
} put_ud;

/* Writes the template back, unless the target changed since it was read. */
static int put_template(void *ud, json_t *live, cd_kube_err *err)
{
    (void)err;
    put_ud *p = ud;
    char h[CD_HASH_MAX];
    live_hash(p->t, live, h);
    if (strcmp(h, p->expect)) {
        p->moved = true;
        return 0;
    }
    keep_scale(p->t, live, p->tpl);
    kj_set_copy(kj_obj(live, "spec"), "template", p->tpl);
    return 1;
}

static bool window_of(const json_t *canary, cd_rollback_window *w)
{
    memset(w, 0, sizeof *w);
    const json_t *rw = kj_at(canary, "spec.rollbackWindow");
    if (!json_is_object(rw))
        return false;
    w->set = true;
    json_int_t n = json_integer_value(json_object_get(rw, "revisions"));
    w->revisions = n < 1 ? 1 : n > CD_PROMOTED_MAX ? CD_PROMOTED_MAX : (int)n;
    int64_t ms;
    w->max_age = kj_str(rw, "maxAge");
    if (w->max_age && cd_duration_parse_ms(w->max_age, &ms) && ms > 0)
        w->max_age_ms = ms;
    return true;
}

/* Everything the checks need: the previous revision, or an exit status. */
static int pick(cd_ctl_kube *k, const char *name, const json_t *canary, const char *current,
                char rev[CD_HASH_MAX])
{
    cd_rollback_window w;
    if (!window_of(canary, &w)) {
        fprintf(stderr, "canaryctl rollback: canary %s.%s has no spec.rollbackWindow: no promoted "
                        "revisions are kept, and a rollback would run the whole analysis (use "
                        "kubectl rollout undo instead)\n", name, k->ns);
        return 2;
    }
    cd_canary_status s;
    cd_status_init(&s);
    cd_status_from_json(&s, kj_at(canary, "status"));
    const cd_promoted_revision *p = NULL;
    for (size_t i = 0; i < s.n_promoted && !p; i++)
        if (strcmp(s.promoted[i].revision, current))
            p = &s.promoted[i];
    int rc = 0;
    if (!p) {
        fprintf(stderr, "canaryctl rollback: canary %s.%s: no earlier promoted revision to roll "
                        "back to (status.promotedRevisions)\n", name, k->ns);
        rc = 2;
    } else if (cd_engine_rollback_match(&s, &w, p->revision, cd_wall_ms()) < 0) {
        fprintf(stderr, "canaryctl rollback: canary %s.%s: revision %s is outside "
                        "spec.rollbackWindow (maxAge %s): it would run the whole analysis; apply it "
                        "as a new release instead\n", name, k->ns, p->revision,
                w.max_age ? w.max_age : "-");
        rc = 2;
    } else {
        snprintf(rev, CD_HASH_MAX, "%s", p->revision);
    }
    cd_status_free(&s);
    return rc;
}

/* Who did it, for canaryd kube's Event (the annotation canaryd.io/rollback);
 * the rollback is done already, so a failure here is only a warning. */
static void note_who(cd_ctl_kube *k, const char *name)
{
    cd_ctl_kube_whoami(k);
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", CD_GATE_ROLLBACK, k->who);
    cd_kube_err e;
    if (!cd_kube_patch(k->kc, &CD_KUBE_CANARIES, k->ns, name, CD_KUBE_MERGE_PATCH, patch, NULL, NULL,
                       &e))
        fprintf(stderr, "canaryctl rollback: warning: canary %s.%s: cannot record who rolled back "
                        "(annotation %s): %s\n", name, k->ns, CD_GATE_ROLLBACK, e.msg);
    json_decref(patch);
}

int cd_ctl_kube_rollback(cd_ctl_kube *k, const char *name)
{
    json_t *canary = NULL, *w = NULL, *tpl = NULL;
    cd_kube_err e;
    if (!cd_kube_get(k->kc, &CD_KUBE_CANARIES, k->ns, name, &canary, &e)) {
        fprintf(stderr, "canaryctl rollback: canary %s.%s: %s\n", name, k->ns,
                cd_kube_is_not_found(&e) ? "not found" : e.msg);
        return cd_kube_is_not_found(&e) ? 1 : 2;
    }
    int rc = 2;
    const char *kind = kj_str(canary, "spec.targetRef.kind") ?: "Deployment";
    const char *tname = kj_str(canary, "spec.targetRef.name") ?: "";
    const rb_target *t = NULL;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(targets[i].kind, kind))
            t = &targets[i];
    if (!t) {
        fprintf(stderr, "canaryctl rollback: canary %s.%s targets a %s: rollback finds earlier "
                        "revisions of Deployments, StatefulSets and DaemonSets only (roll it back "
                        "yourself; within spec.rollbackWindow canaryd promotes it at once)\n",
                name, k->ns, kind);
        goto out;
    }
    if (!cd_kube_get(k->kc, t->res, k->ns, tname, &w, &e)) {
        fprintf(stderr, "canaryctl rollback: %s %s.%s: %s\n", kind, tname, k->ns,
                cd_kube_is_not_found(&e) ? "not found" : e.msg);
        goto out;
    }
    char current[CD_HASH_MAX], rev[CD_HASH_MAX];
    live_hash(t, w, current);
    if ((rc = pick(k, name, canary, current, rev)) != 0)
        goto out;
    rc = 2;
    char from[300] = "";
    bool failed = false;
    tpl = find_revision(k, t, w, rev, from, sizeof from, &failed);
    if (!tpl) {
        if (!failed)
            fprintf(stderr, "canaryctl rollback: canary %s.%s: no %s of %s %s holds revision %s "
                            "any more (spec.revisionHistoryLimit)\n", name, k->ns, t->history_kind,
                    kind, tname, rev);
        goto out;
    }
    put_ud ud = {.t = t, .tpl = tpl, .expect = current};
    if (!cd_kube_update_retry(k->kc, t->res, k->ns, tname, false, put_template, &ud, NULL, &e)) {
        fprintf(stderr, "canaryctl rollback: %s %s.%s: %s\n", kind, tname, k->ns, e.msg);
        goto out;
    }
    if (ud.moved) {
        fprintf(stderr, "canaryctl rollback: %s %s.%s changed while rolling back; nothing written, "
                        "run it again\n", kind, tname, k->ns);
        goto out;
    }
    printf("canary %s.%s: %s %s rolled back to revision %s (from %s); canaryd kube promotes it "
           "at its next check, without analysis (spec.rollbackWindow)\n",
           name, k->ns, kind, tname, rev, from);
    rc = 0;
    note_who(k, name);
out:
    json_decref(tpl);
    json_decref(w);
    json_decref(canary);
    return rc;
}
