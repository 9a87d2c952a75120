/* events.h - Kubernetes Events about an object (a Canary), as `kubectl
 * describe` and `kubectl get events` show them: events.k8s.io/v1 first,
 * falling back for good to core v1 Events when the server does not serve
 * events.k8s.io/v1. The same event repeated within the series window
 * becomes one Event whose count grows (series.count / count), as client-go's
 * recorders do, so a canary ticking every minute does not flood etcd.
 * Thread-safe. */
#ifndef CD_KUBE_EVENTS_H
#define CD_KUBE_EVENTS_H
#include "kube/client.h"

typedef struct cd_kube_events cd_kube_events;

typedef struct cd_kube_events_opts {
    const char *controller;     /* reportingController / source.component; NULL: "canaryd" */
    const char *instance;       /* reportingInstance; NULL: the host name */
    int series_window_ms;       /* 0: 6 minutes */
    bool core_only;             /* never try events.k8s.io/v1 */
} cd_kube_events_opts;

cd_kube_events *cd_kube_events_new(cd_kube_client *c, const cd_kube_events_opts *o);
void cd_kube_events_free(cd_kube_events *ev);

/* regarding: the object the event is about (apiVersion, kind, name, uid;
 * namespace for namespaced objects). type: "Normal" or "Warning". note is
 * cut to 1 kB. */
bool cd_kube_event(cd_kube_events *ev, const json_t *regarding, const char *type, const char *reason,
                   const char *action, const char *note, cd_kube_err *err);

/* Whether the recorder fell back to core v1 Events. */
bool cd_kube_events_core(cd_kube_events *ev);

#endif
