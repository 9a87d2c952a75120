"""test_kube_rollback.py - instant rollback with `canaryd kube` on the fake
cluster (spec.rollbackWindow, docs/rollback.md):

- the CRD keeps spec.rollbackWindow and status.promotedRevisions (the fake
  API server prunes what the schema does not know, as a real one does);
- web:2 goes through the whole analysis (iterations) and is promoted;
- going back to web:1 with kubectl is promoted at once: no new analysis,
  the "Instant rollback" Event, the primary on web:1, the history reordered;
- a revision outside the window (revisions: 2: dropped after two later
  promotions) is analysed as usual.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, wait_until  # noqa: E402

NS = "apps"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: apps}
spec:
  provider: kubernetes
  rollbackWindow: {revisions: 2, maxAge: 24h}
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service: {port: 80, targetPort: 8080}
  analysis: {interval: 1m, threshold: 2, iterations: 2}
"""


def status(c):
    return (c.canary(NS, "web") or {}).get("status") or {}


def history(c):
    return [e.get("revision") for e in status(c).get("promotedRevisions") or []]


def count(c, text):
    """How often canaryd recorded an Event containing text (a repeated
    Event is one object whose count grows, as kube-apiserver clients do)."""
    _, _, body = c.api.get("/apis/events.k8s.io/v1/namespaces/%s/events" % NS)
    return sum(max((e.get("series") or {}).get("count") or 0, e.get("deprecatedCount") or 0, 1)
               for e in (body or {}).get("items", [])
               if (e.get("regarding") or {}).get("name") == "web" and text in (e.get("note") or ""))


def set_image(c, image):
    c.kubectl("-n", NS, "set", "image", "deployment/web", "web=" + image)


def release(t, c, image, label):
    before = count(c, "Advance web.apps canary iteration")
    set_image(c, image)
    t.check("%s: Progressing" % label, wait_until(lambda: c.phase(NS, "web") == "Progressing", 30),
            c.phase(NS, "web"))
    t.check("%s: Succeeded" % label, wait_until(lambda: c.phase(NS, "web") == "Succeeded", 60),
            c.phase(NS, "web"))
    t.check("%s: went through the analysis" % label,
            count(c, "Advance web.apps canary iteration") > before)
    t.check("%s: the primary runs %s" % (label, image),
            image_of(c.get("deployment", NS, "web-primary")) == image)


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(MANIFESTS)
        spec = (c.canary(NS, "web") or {}).get("spec") or {}
        t.check("the CRD keeps spec.rollbackWindow",
                spec.get("rollbackWindow") == {"revisions": 2, "maxAge": "24h"}, spec)
        c.start_operator("-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1")
        t.check("Initialized", wait_until(lambda: c.phase(NS, "web") == "Initialized", 60),
                c.phase(NS, "web"))
        rev1 = status(c).get("lastPromotedSpec")
        t.check("status.promotedRevisions holds the first primary's revision",
                history(c) == [rev1], status(c))
        entry = (status(c).get("promotedRevisions") or [{}])[0]
        t.check("...with its promotedAt time", str(entry.get("promotedAt", "")).endswith("Z"), entry)

        release(t, c, "web:2", "web:2")
        rev2 = status(c).get("lastPromotedSpec")
        t.check("history: web:2, then web:1", history(c) == [rev2, rev1] and rev1 != rev2, history(c))

        # back to web:1: within the window
        new_rev = count(c, "New revision detected")
        iters = count(c, "Advance web.apps canary iteration")
        set_image(c, "web:1")
        instant = "Instant rollback of web.apps to revision %s promoted " % rev1
        t.check("web:1 again: the Instant rollback Event",
                wait_until(lambda: count(c, instant) == 1, 30), c.events(NS, "web")[-5:])
        t.check("web:1 again: Succeeded", wait_until(lambda: c.phase(NS, "web") == "Succeeded", 10),
                c.phase(NS, "web"))
        t.check("web:1 again: the primary runs web:1 at once",
                image_of(c.get("deployment", NS, "web-primary")) == "web:1")
        time.sleep(2)
        t.check("web:1 again: no analysis (no new revision run, no iteration)",
                count(c, "New revision detected") == new_rev and
                count(c, "Advance web.apps canary iteration") == iters,
                c.events(NS, "web")[-6:])
        t.check("web:1 again: completion Event names the revision",
                count(c, "Promotion completed! Instant rollback to revision %s of web.apps" % rev1) == 1)
        t.check("web:1 again: the target is scaled to zero",
                (c.get("deployment", NS, "web") or {}).get("spec", {}).get("replicas") == 0)
        t.check("history: web:1 first again, then web:2", history(c) == [rev1, rev2], history(c))
        t.check("the Event is a Kubernetes Event of the Canary (type Normal)",
                any(instant in (e.get("message") or e.get("note") or "") and e.get("type") == "Normal"
                    for e in event_objects(c)), event_objects(c)[-3:])

        # revisions 2 keeps web:3 and web:1 after web:3's promotion: web:2 is
        # out of the window and analysed again
        release(t, c, "web:3", "web:3")
        release(t, c, "web:2", "web:2 after web:3 (dropped from the window of 2)")
        t.check("no second instant rollback happened", count(c, instant) == 1)
    finally:
        c.close()
    return t.finish()


def event_objects(c):
    out = []
    for path in ("/apis/events.k8s.io/v1/namespaces/apps/events", "/api/v1/namespaces/apps/events"):
        j = c.get_api(path) or {}
        out += [e for e in j.get("items") or []
                if (e.get("regarding") or e.get("involvedObject") or {}).get("kind") == "Canary"]
    return out


if __name__ == "__main__":
    sys.exit(main())
