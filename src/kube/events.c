/* events.c - see events.h. Network access through api.h; the series
 * cache is bounded (4096 keys, then it starts afresh). */
#include "kube/events.h"
#include "kube/api.h"
#include "kube/kobj.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOTE_MAX 1024
#define CACHE_MAX 4096

struct cd_kube_events {
    cd_kube_client *c;
    char *controller, *instance;
    int window_ms;
    bool core;
    pthread_mutex_t mu;
    json_t *series;             /* key -> {name, ns, count, at (mono ms), core} */
};

cd_kube_events *cd_kube_events_new(cd_kube_client *c, const cd_kube_events_opts *o)
{
    cd_kube_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->c = c;
    ev->controller = strdup(o && o->controller ? o->controller : "canaryd");
    char host[256] = "canaryd";
    if (!(o && o->instance))
        gethostname(host, sizeof host - 1);
    ev->instance = strdup(o && o->instance ? o->instance : host);
    ev->window_ms = o && o->series_window_ms > 0 ? o->series_window_ms : 6 * 60 * 1000;
    ev->core = o && o->core_only;
    ev->series = json_object();
    pthread_mutex_init(&ev->mu, NULL);
    return ev;
}

void cd_kube_events_free(cd_kube_events *ev)
{
    if (!ev)
        return;
    json_decref(ev->series);
    free(ev->controller);
    free(ev->instance);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

bool cd_kube_events_core(cd_kube_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    bool core = ev->core;
    pthread_mutex_unlock(&ev->mu);
    return core;
}

static json_t *object_ref(const json_t *o)
{
    json_t *ref = json_object();
    const char *fields[][2] = {{"kind", cd_kobj_kind(o)},
                               {"namespace", cd_kobj_namespace(o)},
                               {"name", cd_kobj_name(o)},
                               {"uid", cd_kobj_uid(o)},
                               {"apiVersion", cd_kobj_api_version(o)},
                               {"resourceVersion", cd_kobj_resource_version(o)}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i][1])
            json_object_set_new(ref, fields[i][0], json_string(fields[i][1]));
    return ref;
}

/* The text cut at NOTE_MAX bytes on a UTF-8 boundary. */
static char *cut_note(const char *note)
{
    size_t n = strlen(note);
    if (n <= NOTE_MAX)
        return strdup(note);
    n = NOTE_MAX - 3;
    while (n && ((unsigned char)note[n] & 0xC0) == 0x80)
        n--;
    cd_buf b = CD_BUF_INIT;
    cd_buf_append(&b, note, n);
    cd_buf_puts(&b, "...");
    return cd_buf_steal(&b);
}

static json_t *build(cd_kube_events *ev, bool core, const json_t *regarding, const char *ns,
                     const char *name, const char *type, const char *reason, const char *action,
                     const char *note)
{
    char now[40], secs[32];
    cd_micro_time_now(now);
    cd_rfc3339(cd_wall_ms(), secs);
    json_t *md = json_pack("{s:s, s:s}", "name", name, "namespace", ns);
    if (!core)
        return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "apiVersion",
                         "events.k8s.io/v1", "kind", "Event", "metadata", md, "eventTime", now,
                         "reportingController", ev->controller, "reportingInstance", ev->instance,
                         "action", action, "reason", reason, "regarding", object_ref(regarding),
                         "note", note, "type", type);
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s, s:s, s:s}",
                     "apiVersion", "v1", "kind", "Event", "metadata", md, "involvedObject",
                     object_ref(regarding), "reason", reason, "message", note, "source", "component",
                     ev->controller, "firstTimestamp", secs, "lastTimestamp", secs, "count", 1, "type",
                     type, "action", action, "reportingComponent", ev->controller, "reportingInstance",
                     ev->instance);
}

static bool create_event(cd_kube_events *ev, const json_t *regarding, const char *ns, const char *type,
                         const char *reason, const char *action, const char *note, char *name_out,
                         bool *core_out, cd_kube_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *rn = cd_kobj_name(regarding);
    snprintf(name_out, 254, "%.*s.%llx", 230, rn, (unsigned long long)ts.tv_sec * 1000000000ull +
                                                      (unsigned long long)ts.tv_nsec);
    for (int pass = 0; pass < 2; pass++) {
        bool core = ev->core;
        json_t *e = build(ev, core, regarding, ns, name_out, type, reason, action, note);
        bool ok = cd_kube_create(ev->c, core ? &CD_KUBE_EVENTS_V1CORE : &CD_KUBE_EVENTS, ns, e, NULL, err);
        json_decref(e);
        if (ok) {
            *core_out = core;
            return true;
        }
        /* events.k8s.io/v1 not served: "the server could not find the requested resource" */
        if (core || !(err && (err->reason == CD_KR_NOT_FOUND || err->reason == CD_KR_METHOD_NOT_ALLOWED)))
            return false;
        ev->core = true;
    }
    return false;
}

bool cd_kube_event(cd_kube_events *ev, const json_t *regarding, const char *type, const char *reason,
                   const char *action, const char *note, cd_kube_err *err)
{
    if (!ev || !cd_kobj_name(regarding) || !cd_kobj_kind(regarding))
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "event: the object has no kind or name");
    if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning")))
        return cd_kube_fail(err, CD_KR_CONFIG, 0, "event: type must be Normal or Warning");
    const char *ns = cd_kobj_namespace(regarding);
    if (!ns)
        ns = "default";
    if (!reason || !*reason)
        reason = "Synced";
    if (!action || !*action)
        action = reason;
    char *text = cut_note(note ? note : "");
    cd_buf key = CD_BUF_INIT;
    const char *uid = cd_kobj_uid(regarding);
    cd_buf_printf(&key, "%s/%s/%s\x1f%s\x1f%s\x1f%s\x1f%s", ns, cd_kobj_name(regarding), uid ? uid : "",
                  type, reason, action, text);
    pthread_mutex_lock(&ev->mu);
    bool ok = false;
    int64_t now = cd_mono_ms();
    json_t *s = json_object_get(ev->series, cd_buf_str(&key));
    if (s && now - json_integer_value(json_object_get(s, "at")) <= ev->window_ms) {
        json_int_t count = json_integer_value(json_object_get(s, "count")) + 1;
        bool core = json_is_true(json_object_get(s, "core"));
        char t[40], secs[32];
        cd_micro_time_now(t);
        cd_rfc3339(cd_wall_ms(), secs);
        json_t *patch = core ? json_pack("{s:I, s:s}", "count", count, "lastTimestamp", secs)
                             : json_pack("{s:{s:I, s:s}}", "series", "count", count, "lastObservedTime", t);
        ok = cd_kube_patch(ev->c, core ? &CD_KUBE_EVENTS_V1CORE : &CD_KUBE_EVENTS, ns,
                           json_string_value(json_object_get(s, "name")), CD_KUBE_MERGE_PATCH, patch,
                           NULL, NULL, err);
        json_decref(patch);
        if (ok) {
            json_object_set_new(s, "count", json_integer(count));
            json_object_set_new(s, "at", json_integer(now));
        } else if (cd_kube_is_not_found(err)) {
            json_object_del(ev->series, cd_buf_str(&key));
            s = NULL;
        }
    } else {
        s = NULL;
    }
    if (!ok && !s) {
        char name[256];
        bool core = false;
        ok = create_event(ev, regarding, ns, type, reason, action, text, name, &core, err);
        if (ok) {
            if (json_object_size(ev->series) >= CACHE_MAX)
                json_object_clear(ev->series);
            json_object_set_new(ev->series, cd_buf_str(&key),
                                json_pack("{s:s, s:I, s:I, s:b}", "name", name, "count", (json_int_t)1,
                                          "at", (json_int_t)now, "core", core));
        }
    }
    pthread_mutex_unlock(&ev->mu);
    cd_buf_free(&key);
    free(text);
    return ok;
}
