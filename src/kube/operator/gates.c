/* gates.c - canaryctl's gates on a cluster (kube/gates.h, docs/kubectl-plugin.md):
 * for one tick, the canaryd.io/... annotations of the Canary become gates
 * of Flagger's webhook types, added to the analysis' own webhooks (a hold
 * is a confirm-promotion or confirm-rollout gate that answers no, an
 * abort a rollback gate that answers yes, a promote approves the
 * confirm-promotion gates once), so the engine treats them exactly as it
 * treats Flagger's manual-gating webhooks. Each request acted on is
 * recorded as an Event naming who asked (the annotation's value; for
 * canaryctl rollback, which writes the target itself, that Event is all)
 * and the one-shot annotations are removed (a JSON patch that tests the value
 * first, so a request written meanwhile survives). Must not act on an
 * annotation outside the canaryd.io/ prefix. */
#include "kube/api.h"
#include "kube/gates.h"
#include "kube/kjson.h"
#include "kube/operator/operator.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GATE_URL "canaryd://gate/"

static void note(cdk_gates *g, bool warning, const char *fmt, const char *a, const char *b)
{
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a, b);
    cdk_record_event(g->op, g->canary, g->key, warning, msg);
}

/* Removes annotation key when it still holds value. */
static void drop(cdk_gates *g, const char *key, const char *value)
{
    char path[128] = "/metadata/annotations/";
    size_t n = strlen(path);
    for (const char *p = key; *p && n + 3 < sizeof path; p++) {   /* RFC 6901: '/' is ~1 */
        if (*p == '/') {
            path[n++] = '~';
            path[n++] = '1';
        } else {
            path[n++] = *p;
        }
    }
    path[n] = '\0';
    json_t *patch = json_pack("[{s:s,s:s,s:s},{s:s,s:s}]", "op", "test", "path", path, "value",
                              value, "op", "remove", "path", path);
    cd_kube_err e;
    if (!cd_kube_patch(g->op->kc, &CD_KUBE_CANARIES, g->ns, g->name, CD_KUBE_JSON_PATCH, patch, NULL,
                       NULL, &e))
        cd_logf(CD_LOG_WARN, g->key, "cannot remove the annotation %s: %s", key, e.msg);
    json_decref(patch);
}

static void read_one(const json_t *canary, const char *key, char out[CD_GATE_VALUE_MAX + 1],
                     char raw[CD_GATE_VALUE_MAX + 1])
{
    /* key has dots: not a kj_ path */
    const char *v = json_string_value(json_object_get(kj_at(canary, "metadata.annotations"), key));
    out[0] = raw[0] = '\0';
    if (!v)
        return;
    snprintf(raw, CD_GATE_VALUE_MAX + 1, "%s", v);
    /* shown in Events: printable characters only, never empty */
    size_t n = 0;
    for (const char *p = v; *p && n < CD_GATE_VALUE_MAX; p++)
        out[n++] = (unsigned char)*p >= 0x20 && *p != 0x7f ? *p : '?';
    out[n] = '\0';
    if (!n)
        snprintf(out, CD_GATE_VALUE_MAX + 1, "someone");
}

static bool abortable(cd_phase p)
{
    return p == CD_PHASE_PROGRESSING || p == CD_PHASE_WAITING || p == CD_PHASE_WAITING_PROMOTION;
}

/* resume: the holds and a pending abort go, and the Event says which. */
static void resume(cdk_gates *g)
{
    char what[700] = "";
    struct { const char *key, *label; char *who, *raw; } held[] = {
        {CD_GATE_HOLD, "the promotion hold of", g->hold, g->raw[1]},
        {CD_GATE_HOLD_ROLLOUT, "the rollout hold of", g->hold_rollout, g->raw[2]},
        {CD_GATE_ABORT, "the rollback requested by", g->abort_, g->raw[3]},
    };
    for (size_t i = 0; i < 3; i++) {
        if (!held[i].who[0])
            continue;
        size_t n = strlen(what);
        snprintf(what + n, sizeof what - n, "%s%s %.200s", n ? ", " : "", held[i].label, held[i].who);
        drop(g, held[i].key, held[i].raw);
        held[i].who[0] = '\0';
    }
    note(g, false, "Resumed by %s (canaryctl resume): %s", g->resume,
         what[0] ? what : "nothing was held");
    drop(g, CD_GATE_RESUME, g->raw[4]);
}

static bool gate_call(void *ctx, const cd_canary_ref *ref, const cd_webhook *w, cd_phase phase,
                      cd_err *err)
{
    cdk_gates *g = ctx;
    if (w->url && !strncmp(w->url, GATE_URL, strlen(GATE_URL))) {
        const char *gate = w->url + strlen(GATE_URL);
        if (!strcmp(gate, "rollback")) {
            g->abort_used = true;
            return true;
        }
        if (!strcmp(gate, "promotion") && g->promote[0]) {
            g->promote_used = true;
            return true;
        }
        snprintf(err->msg, sizeof err->msg, "held by %.200s", !strcmp(gate, "promotion") ? g->hold
                                                                    : g->hold_rollout);
        return false;
    }
    if (w->type == CD_HOOK_CONFIRM_PROMOTION && g->promote[0]) {
        g->promote_used = true;   /* canaryctl promote approves Flagger's manual gates too */
        return true;
    }
    return g->inner.call ? g->inner.call(g->inner.ctx, ref, w, phase, err) : true;
}

static void gate_send_event(void *ctx, const cd_canary_ref *ref, cd_phase phase, const char *type,
                            const char *message)
{
    cdk_gates *g = ctx;
    if (g->inner.send_event)
        g->inner.send_event(g->inner.ctx, ref, phase, type, message);
}

static void add_gate(cdk_gates *g, size_t *n, int i, const char *name, const char *who,
                     const char *url, cd_hook_type type)
{
    snprintf(g->names[i], sizeof g->names[i], "%s by %.200s", name, who);
    cd_webhook *w = &g->hooks[(*n)++];
    memset(w, 0, sizeof *w);
    w->name = g->names[i];
    w->url = url;
    w->type = type;
    w->type_raw = cd_hook_type_name(type);
    w->timeout_ms = 1000;
    w->mute_alert = true;
}

void cdk_gates_begin(cdk_gates *g, cdk_operator *op, const json_t *canary, const char *key,
                     cd_analysis *an, cd_canary_status *st, cd_hooks_port *port)
{
    memset(g, 0, sizeof *g);
    g->op = op;
    g->canary = canary;
    g->ns = kj_str(canary, "metadata.namespace");
    g->name = kj_str(canary, "metadata.name");
    g->key = key;
    g->an = an;
    g->port = port;
    char *vals[] = {g->promote, g->hold, g->hold_rollout, g->abort_, g->resume, g->retry,
                    g->rollback};
    static const char *const keys[] = {CD_GATE_PROMOTE, CD_GATE_HOLD, CD_GATE_HOLD_ROLLOUT,
                                       CD_GATE_ABORT, CD_GATE_RESUME, CD_GATE_RETRY,
                                       CD_GATE_ROLLBACK};
    for (int i = 0; i < 7; i++)
        read_one(canary, keys[i], vals[i], g->raw[i]);
    if (g->rollback[0]) {   /* a record: canaryctl already wrote the target */
        note(g, false, "Rollback requested by %s (canaryctl rollback): the last promoted revision "
             "of %s was put back into its target", g->rollback, key);
        drop(g, CD_GATE_ROLLBACK, g->raw[6]);
    }
    if (g->resume[0])
        resume(g);
    if (g->promote[0] && g->hold_rollout[0]) {   /* promote lets a held rollout start too */
        drop(g, CD_GATE_HOLD_ROLLOUT, g->raw[2]);
        g->hold_rollout[0] = '\0';
    }
    if (g->abort_[0] && !abortable(st->phase)) {
        note(g, true, "Abort requested by %s ignored: the canary is %s, no release is being analysed",
             g->abort_, *cd_phase_name(st->phase) ? cd_phase_name(st->phase) : "not initialised");
        drop(g, CD_GATE_ABORT, g->raw[3]);
        g->abort_[0] = '\0';
    }
    if (g->retry[0]) {
        if (st->phase == CD_PHASE_FAILED) {
            /* the Failed revision then looks new: the engine re-syncs
             * lastAppliedSpec and starts its release over */
            snprintf(st->last_applied_spec, sizeof st->last_applied_spec, "retry");
            note(g, false, "Retry requested by %s (canaryctl retry): analysing %s again", g->retry,
                 key);
        } else {
            note(g, true, "Retry requested by %s ignored: the canary is %s, not Failed", g->retry,
                 *cd_phase_name(st->phase) ? cd_phase_name(st->phase) : "not initialised");
        }
        drop(g, CD_GATE_RETRY, g->raw[5]);
    }
    g->saved = an->webhooks;
    g->saved_n = an->n_webhooks;
    g->hooks = calloc(an->n_webhooks + 3, sizeof *g->hooks);
    if (!g->hooks)
        abort();
    size_t n = an->n_webhooks;
    if (n)
        memcpy(g->hooks, an->webhooks, n * sizeof *g->hooks);
    if (g->abort_[0])
        add_gate(g, &n, 0, CD_GATE_ABORT, g->abort_, GATE_URL "rollback", CD_HOOK_ROLLBACK);
    if (g->hold[0] || g->promote[0])
        add_gate(g, &n, 1, g->hold[0] ? CD_GATE_HOLD : CD_GATE_PROMOTE,
                 g->hold[0] ? g->hold : g->promote, GATE_URL "promotion", CD_HOOK_CONFIRM_PROMOTION);
    if (g->hold_rollout[0])
        add_gate(g, &n, 2, CD_GATE_HOLD_ROLLOUT, g->hold_rollout, GATE_URL "rollout",
                 CD_HOOK_CONFIRM_ROLLOUT);
    an->webhooks = g->hooks;
    an->n_webhooks = n;
    g->inner = *port;
    *port = (cd_hooks_port){g, gate_call, gate_send_event};
}

void cdk_gates_end(cdk_gates *g)
{
    if (g->promote_used) {
        note(g, false, "Promotion approved by %s (canaryctl promote)%s", g->promote,
             g->hold[0] ? "; the promotion hold is released" : "");
        drop(g, CD_GATE_PROMOTE, g->raw[0]);
        if (g->hold[0])
            drop(g, CD_GATE_HOLD, g->raw[1]);
    }
    if (g->abort_used) {
        note(g, true, "Rollback requested by %s (canaryctl abort)%s", g->abort_, "");
        drop(g, CD_GATE_ABORT, g->raw[3]);
    }
    g->an->webhooks = g->saved;
    g->an->n_webhooks = g->saved_n;
    free(g->hooks);
    *g->port = g->inner;
    memset(g, 0, sizeof *g);
}

/* The holds are state, not requests acted on once: their Event is
 * recorded when the annotation appears (the informer's update), not when
 * a gate first stops a release, which may be much later or never. */
void cdk_gates_changed(cdk_operator *op, const json_t *old_obj, const json_t *new_obj)
{
    static const struct { const char *key, *fmt; } holds[] = {
        {CD_GATE_HOLD, "Promotion held by %s (canaryctl hold): a release waits before promotion "
                       "until canaryctl promote or resume"},
        {CD_GATE_HOLD_ROLLOUT, "New revisions held by %s (canaryctl hold --rollout): they wait "
                               "until canaryctl promote or resume"},
    };
    const json_t *was = kj_at(old_obj, "metadata.annotations"),
                 *now = kj_at(new_obj, "metadata.annotations");
    for (size_t i = 0; i < sizeof holds / sizeof holds[0]; i++) {
        const char *v = json_string_value(json_object_get(now, holds[i].key));
        const char *before = json_string_value(json_object_get(was, holds[i].key));
        if (!v || (before && !strcmp(v, before)))
            continue;
        char who[CD_GATE_VALUE_MAX + 1], raw[CD_GATE_VALUE_MAX + 1];
        read_one(new_obj, holds[i].key, who, raw);
        json_t *ref = json_deep_copy(new_obj);   /* list items may lack apiVersion and kind */
        if (!json_is_string(json_object_get(ref, "apiVersion")))
            json_object_set_new(ref, "apiVersion", json_string("flagger.app/v1beta1"));
        if (!json_is_string(json_object_get(ref, "kind")))
            json_object_set_new(ref, "kind", json_string("Canary"));
        char key[320], msg[600];
        snprintf(key, sizeof key, "%s.%s", kj_str(new_obj, "metadata.name") ?: "",
                 kj_str(new_obj, "metadata.namespace") ?: "");
        snprintf(msg, sizeof msg, holds[i].fmt, who);
        cdk_record_event(op, ref, key, false, msg);
        json_decref(ref);
    }
}
