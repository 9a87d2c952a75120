"""test_kube_statefulset.py - StatefulSet targets with `canaryd kube` on the
fake cluster, released by their update partition (docs/statefulset.md);
the fake's StatefulSet controller follows kube-controller-manager
(test_fake_apiserver_statefulset.py):

- at initialization no primary is created and the partition is raised to
  replicas (a new template then updates no pod by itself);
- db:2 is released in steps: partition 3 (ordinal 3 updated, weight 25),
  then 2 (ordinals 2 and 3, weight 50), the analysis (a rollout webhook)
  passing between steps; promotion sets partition 0, every ordinal
  updates, currentRevision becomes db:2's, the partition goes back to 4;
- db:3 fails its analysis after the first step: rolled back (Failed), the
  StatefulSet gets db:2's template back from its ControllerRevision, the
  updated ordinal returns to db:2's revision, the partition back to 4;
- an OnDelete StatefulSet (kv): canaryd keeps its own partition in an
  annotation and deletes the pods of each step, which the controller
  recreates at updateRevision; promoted, then a release rolled back: the
  promoted template is found by its hash (OnDelete never moves
  currentRevision) and the updated pod deleted again;
- maxUnavailable 2 (mu): promoted, the setting left alone;
- every request canaryd made is granted by deploy/'s ClusterRole.
"""
import http.server
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, rbac_check, wait_until  # noqa: E402

NS = "apps"


class Check:
    """A rollout webhook the test turns to failing."""

    def __init__(self):
        self.ok = True
        self.calls = 0
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                me.calls += 1
                self.send_response(200 if me.ok else 500)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/check" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()


MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  replicas: 4
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1", ports: [{containerPort: 5432}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: db, namespace: apps}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  progressDeadlineSeconds: 60
  service: {port: 5432}
  analysis:
    interval: 1m
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    webhooks:
    - {name: check, type: rollout, url: "%(url)s"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kv, namespace: apps}
spec:
  replicas: 2
  serviceName: kv
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: kv}}
  template:
    metadata: {labels: {app: kv}}
    spec:
      containers: [{name: kv, image: "kv:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: kv, namespace: apps}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: kv}
  service: {port: 6379}
  analysis:
    interval: 1m
    threshold: 1
    stepWeight: 50
    maxWeight: 50
    webhooks:
    - {name: check, type: rollout, url: "%(url2)s"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mu, namespace: apps}
spec:
  replicas: 4
  serviceName: mu
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}
  selector: {matchLabels: {app: mu}}
  template:
    metadata: {labels: {app: mu}}
    spec:
      containers: [{name: mu, image: "mu:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: mu, namespace: apps}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: mu}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 1, stepWeight: 50, maxWeight: 50}
"""


def main():
    t = Checker()
    c = Cluster()
    check, check2 = Check(), Check()
    c.extra += [check, check2]
    try:
        c.apply(MANIFESTS % {"url": check.url, "url2": check2.url})

        # polled through the API (not kubectl): a step's state lasts about one interval
        def sts():
            return c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/db") or {}

        def partition():
            return (((sts().get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition")

        def st():
            return sts().get("status") or {}

        def pods():
            out = {}
            for p in (c.get_api("/api/v1/namespaces/apps/pods?labelSelector=app%3Ddb") or {}).get("items") or []:
                lab = p["metadata"].get("labels") or {}
                out[int(lab.get("apps.kubernetes.io/pod-index", -1))] = lab.get("controller-revision-hash")
            return out

        t.check("the StatefulSet's 4 pods run", wait_until(lambda: st().get("readyReplicas") == 4, 30), st())
        rev1 = st().get("currentRevision")
        c.start_operator("-interval-override", "1s", "-mesh-provider", "appmesh:v1beta2")
        t.check("Initialized", wait_until(lambda: c.phase(NS, "db") == "Initialized", 60), c.phase(NS, "db"))
        t.check("no primary is created", c.get("statefulset", NS, "db-primary") is None)
        t.check("the partition holds every ordinal (4)", wait_until(lambda: partition() == 4, 20), partition())

        # ---- db:2, promoted ----------------------------------------------------------
        seen = []

        def record():
            p, s = partition(), st()
            snap = (p, s.get("updatedReplicas", 0))
            if not seen or seen[-1][:2] != snap:
                seen.append(snap + (dict(pods()), s.get("updateRevision")))
            return c.phase(NS, "db") == "Succeeded" and \
                any(x[0] == 0 for x in seen)
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:2")
        t.check("db:2: Succeeded", wait_until(record, 120, 0.1), (c.phase(NS, "db"), [x[:2] for x in seen]))
        parts = []
        for x in seen:
            if x[0] is not None and (not parts or parts[-1] != x[0]):
                parts.append(x[0])
        t.check("db:2: the partition stepped 4, 3, 2, then 0 (promotion)", parts[:4] == [4, 3, 2, 0],
                parts)
        at3 = [x for x in seen if x[0] == 3 and x[1] == 1]
        t.check("db:2: at partition 3 only ordinal 3 runs the new revision",
                bool(at3) and at3[-1][2].get(3) == at3[-1][3] and
                all(at3[-1][2].get(i) == rev1 for i in (0, 1, 2)), at3[-1:] if at3 else seen)
        at2 = [x for x in seen if x[0] == 2 and x[1] == 2]
        t.check("db:2: at partition 2 ordinals 2 and 3 do",
                bool(at2) and at2[-1][2].get(2) == at2[-1][3] and at2[-1][2].get(3) == at2[-1][3] and
                at2[-1][2].get(1) == rev1, at2[-1:] if at2 else seen)
        s = st()
        rev2 = s.get("updateRevision")
        t.check("db:2: every ordinal updated, currentRevision = updateRevision",
                wait_until(lambda: st().get("currentRevision") == rev2 and st().get("updatedReplicas") == 4, 20)
                and rev2 != rev1, st())
        t.check("db:2: the partition is back at 4", wait_until(lambda: partition() == 4, 20), partition())
        ev = c.events(NS, "db")
        t.check("db:2: events of a canary run (weights 25, 50, promotion)",
                any("Advance db.apps canary weight 25" in e for e in ev) and
                any("Advance db.apps canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down db.apps" in e for e in ev), ev[-8:])
        t.check("db:2: the analysis ran between steps (webhook called)", check.calls >= 2, check.calls)

        # ---- db:3, rolled back -------------------------------------------------------------
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:3")
        t.check("db:3: the first step (partition 3)",
                wait_until(lambda: partition() == 3 and st().get("updatedReplicas") == 1, 60),
                (partition(), st()))
        rev3 = st().get("updateRevision")
        t.check("db:3: ordinal 3 runs db:3's revision", wait_until(lambda: pods().get(3) == rev3, 20), pods())
        check.ok = False
        t.check("db:3: rolled back (Failed)", wait_until(lambda: c.phase(NS, "db") == "Failed", 60),
                c.phase(NS, "db"))
        t.check("db:3: the StatefulSet has db:2's template again", image_of(sts()) == "db:2", image_of(sts()))
        t.check("db:3: ordinal 3 is back on db:2's revision, every pod ready",
                wait_until(lambda: pods() == {0: rev2, 1: rev2, 2: rev2, 3: rev2} and
                           st().get("readyReplicas") == 4, 30), pods())
        t.check("db:3: updateRevision = currentRevision = db:2's",
                wait_until(lambda: st().get("updateRevision") == rev2 and st().get("currentRevision") == rev2, 20),
                st())
        t.check("db:3: the partition is back at 4", wait_until(lambda: partition() == 4, 20), partition())
        ev = c.events(NS, "db")
        t.check("db:3: Flagger's rollback events",
                any("Rolling back db.apps failed checks threshold reached 2" in e for e in ev) and
                any("Canary failed! Scaling down db.apps" in e for e in ev), ev[-6:])
        t.check("db:3: no new run starts for the restored template", c.phase(NS, "db") == "Failed")

        # ---- OnDelete: canaryd deletes the pods of each step ---------------------------------
        def kv():
            return c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/kv") or {}

        def kv_pods():
            items = (c.get_api("/api/v1/namespaces/apps/pods?labelSelector=app%3Dkv") or {}).get("items") or []
            return {int(p["metadata"]["labels"].get("apps.kubernetes.io/pod-index", -1)):
                    p["metadata"]["labels"].get("controller-revision-hash") for p in items}

        def kv_ann(key):
            return ((kv().get("metadata") or {}).get("annotations") or {}).get(key)
        t.check("kv (OnDelete): Initialized", wait_until(lambda: c.phase(NS, "kv") == "Initialized", 60),
                c.phase(NS, "kv"))
        kv1 = (kv().get("status") or {}).get("updateRevision")
        t.check("kv: canaryd's partition holds both ordinals (no annotation yet means replicas)",
                kv_ann("canaryd.dev/partition") in (None, "2"), kv_ann("canaryd.dev/partition"))
        c.kubectl("-n", NS, "set", "image", "statefulset/kv", "kv=kv:2")
        kv2 = [None]

        def first_step():
            st = kv().get("status") or {}
            kv2[0] = st.get("updateRevision")
            p = kv_pods()
            return kv2[0] != kv1 and p.get(1) == kv2[0] and p.get(0) == kv1 and \
                kv_ann("canaryd.dev/partition") == "1"
        t.check("kv: at partition 1 canaryd deleted pod kv-1 only: it came back on kv:2's revision",
                wait_until(first_step, 60), (kv_pods(), kv_ann("canaryd.dev/partition")))
        t.check("kv: Succeeded", wait_until(lambda: c.phase(NS, "kv") == "Succeeded", 60), c.phase(NS, "kv"))
        t.check("kv: both pods on kv:2's revision", kv_pods() == {0: kv2[0], 1: kv2[0]}, kv_pods())
        t.check("kv: the partition annotation is back at 2",
                wait_until(lambda: kv_ann("canaryd.dev/partition") == "2", 20), kv_ann("canaryd.dev/partition"))
        t.check("kv: spec.updateStrategy is still OnDelete, no partition written",
                (kv().get("spec") or {}).get("updateStrategy") == {"type": "OnDelete"},
                (kv().get("spec") or {}).get("updateStrategy"))
        check2.ok = False
        c.kubectl("-n", NS, "set", "image", "statefulset/kv", "kv=kv:3")
        t.check("kv: kv:3 rolled back (Failed)", wait_until(lambda: c.phase(NS, "kv") == "Failed", 60),
                c.phase(NS, "kv"))
        t.check("kv: the StatefulSet has kv:2's template again (found by its hash: OnDelete never "
                "moves currentRevision)", image_of(kv()) == "kv:2" and
                (kv().get("status") or {}).get("currentRevision") == kv1, (image_of(kv()), kv().get("status")))
        t.check("kv: every pod back on kv:2's revision",
                wait_until(lambda: kv_pods() == {0: kv2[0], 1: kv2[0]}, 30), kv_pods())
        t.check("kv: the partition annotation is back at 2",
                wait_until(lambda: kv_ann("canaryd.dev/partition") == "2", 20), kv_ann("canaryd.dev/partition"))

        # ---- maxUnavailable 2: a step of two ordinals updates both at once ------------------
        def mu():
            return c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/mu") or {}
        t.check("mu (maxUnavailable 2): Initialized",
                wait_until(lambda: c.phase(NS, "mu") == "Initialized", 60), c.phase(NS, "mu"))
        c.kubectl("-n", NS, "set", "image", "statefulset/mu", "mu=mu:2")
        t.check("mu: Succeeded", wait_until(lambda: c.phase(NS, "mu") == "Succeeded", 90), c.phase(NS, "mu"))
        ms = mu().get("status") or {}
        t.check("mu: every ordinal on the new revision, maxUnavailable left as set",
                ms.get("updatedReplicas") == 4 and ms.get("currentRevision") == ms.get("updateRevision") and
                (((mu().get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}).get(
                    "maxUnavailable") == 2, (ms, (mu().get("spec") or {}).get("updateStrategy")))
        ev = [e for e in c.events(NS, "mu")]
        t.check("mu: one step of 50 before promotion",
                any("Advance mu.apps canary weight 50" in e for e in ev), ev[-6:])

        used, denied = rbac_check(c)
        t.check("the ClusterRole grants every request canaryd made", not denied, sorted(denied))
        t.check("canaryd read a ControllerRevision and wrote the StatefulSet",
                ("apps", "controllerrevisions", "list") in used and ("", "pods", "delete") in used and
                ("apps", "statefulsets", "patch") in used and ("apps", "statefulsets", "update") in used,
                sorted(used))
    finally:
        c.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
