"""test_kube_statefulset_istio.py - a StatefulSet target with provider istio
on the fake cluster (docs/statefulset.md, "With a mesh"): the partition
steps as without a mesh, and the VirtualService's weights follow the
updated share:

- at initialization canaryd creates db-canary and db-primary selecting the
  pods by controller-revision-hash (both the current revision at rest), the
  apex db every pod of the set, and a VirtualService db at 100/0;
- db:2 is released at stepWeight 25, maxWeight 50 on 4 replicas: at
  partition 3 the canary weight is 25 once ordinal 3 is updated and ready
  (never before: whenever the canary weight is w > 0, at least w % of the
  replicas run the update revision), at partition 2 it is 50;
  db-canary selects the update revision, db-primary the current one;
- at promotion db-primary selects every pod of the set before the
  partition goes to 0 (it never selects a revision no pod runs: seen
  from each snapshot's pods), and after it the new current revision,
  weights 100/0;
- db:3 fails its analysis after the first step: weights back to 100/0,
  db-primary on db:2's revision, the updated ordinal rolled back;
- an OnDelete StatefulSet under istio is refused with a Warning event
  saying why, and nothing is written for it;
- revertOnDeletion: deleting the Canary sets the partition to 0 and goes
  through the Services' and Istio's finalizers;
- every request canaryd made is granted by deploy/'s ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, rbac_check, wait_until  # noqa: E402
from istio_env import GROUP, istio_crd_args  # noqa: E402
from test_kube_statefulset import Check  # noqa: E402

NS = "apps"

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
  serviceName: db-headless
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: db, namespace: apps}
spec:
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  progressDeadlineSeconds: 60
  service: {port: 8080}
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
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: kv}
  service: {port: 6379}
  analysis: {interval: 1m, threshold: 1, stepWeight: 50, maxWeight: 50}
"""


def main():
    t = Checker()
    c = Cluster(*istio_crd_args())
    check = Check()
    c.extra.append(check)
    try:
        c.apply(MANIFESTS % {"url": check.url})

        def sts():
            return c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/db") or {}

        def partition():
            return (((sts().get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition")

        def st():
            return sts().get("status") or {}

        def pods():
            """ordinal -> (revision, ready)"""
            out = {}
            for p in (c.get_api("/api/v1/namespaces/apps/pods?labelSelector=app%3Ddb") or {}).get("items") or []:
                lab = p["metadata"].get("labels") or {}
                ready = any(x.get("type") == "Ready" and x.get("status") == "True"
                            for x in (p.get("status") or {}).get("conditions") or [])
                out[int(lab.get("apps.kubernetes.io/pod-index", -1))] = (lab.get("controller-revision-hash"), ready)
            return out

        def selector(name):
            s = c.get_api("/api/v1/namespaces/apps/services/" + name) or {}
            return (s.get("spec") or {}).get("selector")

        def weights():
            vs = c.get_api("/apis/%s/v1beta1/namespaces/apps/virtualservices/db" % GROUP) or {}
            out = {}
            for r in ((vs.get("spec") or {}).get("http") or [{}])[0].get("route") or []:
                host = (r.get("destination") or {}).get("host")
                out[host] = r.get("weight", 0)
            return (out.get("db-primary"), out.get("db-canary"))

        t.check("the StatefulSet's 4 pods run", wait_until(lambda: st().get("readyReplicas") == 4, 30), st())
        rev1 = st().get("currentRevision")
        c.start_operator("-interval-override", "2s")
        t.check("Initialized", wait_until(lambda: c.phase(NS, "db") == "Initialized", 60), c.phase(NS, "db"))
        t.check("the partition holds every ordinal (4)", wait_until(lambda: partition() == 4, 20), partition())
        t.check("no primary StatefulSet is created", c.get("statefulset", NS, "db-primary") is None)
        t.check("db-canary and db-primary select the current revision, db every pod",
                selector("db-canary") == {"app": "db", "controller-revision-hash": rev1} and
                selector("db-primary") == {"app": "db", "controller-revision-hash": rev1} and
                selector("db") == {"app": "db"},
                (selector("db-canary"), selector("db-primary"), selector("db")))
        t.check("the VirtualService routes 100/0", weights() == (100, 0), weights())

        # ---- db:2, promoted ------------------------------------------------------------
        seen, bad = [], []

        def record():
            before = pods()
            p, s = partition(), st()
            sel_p, sel_c = selector("db-primary"), selector("db-canary")
            w = weights()
            after = pods()
            rp = (sel_p or {}).get("controller-revision-hash")
            if rp and not any(r == rp for r, _ in before.values()):
                bad.append(("db-primary selects a revision no pod runs", sel_p, before))
            if w[1]:
                upd = s.get("updateRevision")
                n = sum(1 for r, ready in after.values() if r == upd and ready)
                if n * 100 < w[1] * 4:
                    bad.append(("canary weight above the ready updated share", w, after, upd))
            snap = (p, s.get("updatedReplicas", 0), w, (sel_p or {}).get("controller-revision-hash", "*"))
            if not seen or seen[-1][:4] != snap:
                seen.append(snap + (s.get("updateRevision"),))
            return c.phase(NS, "db") == "Succeeded" and any(x[0] == 0 for x in seen)
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:2")
        t.check("db:2: Succeeded", wait_until(record, 120, 0.05), (c.phase(NS, "db"), [x[:4] for x in seen]))
        rev2 = st().get("updateRevision")
        t.check("db:2: the primary Service always selected pods that exist, the canary weight "
                "never exceeded the ready updated share", not bad, bad[:3])
        t.check("db:2: weight 25 at partition 3 with ordinal 3 updated",
                any(x[0] == 3 and x[1] == 1 and x[2] == (75, 25) for x in seen), [x[:4] for x in seen])
        t.check("db:2: weight 50 at partition 2 with ordinals 2 and 3 updated",
                any(x[0] == 2 and x[1] == 2 and x[2] == (50, 50) for x in seen), [x[:4] for x in seen])
        # promotion first points db-primary at every pod ("*"), then sets the
        # partition to 0: a slow host can see that first write at partition 2
        stepping = seen[:next((i for i, x in enumerate(seen) if x[3] == "*"), len(seen))]
        t.check("db:2: while stepping, db-primary selected db:1's revision",
                all(x[3] == rev1 for x in stepping if x[0] in (3, 2)), [x[:4] for x in seen])
        t.check("db:2: at promotion (partition 0) db-primary selected every pod of the set",
                any(x[0] == 0 and x[3] == "*" for x in seen), [x[:4] for x in seen])
        t.check("db:2: after promotion 100/0, db-canary and db-primary on db:2's revision",
                wait_until(lambda: weights() == (100, 0) and
                           selector("db-primary") == {"app": "db", "controller-revision-hash": rev2} and
                           selector("db-canary") == {"app": "db", "controller-revision-hash": rev2}, 20),
                (weights(), selector("db-primary"), selector("db-canary")))
        t.check("db:2: the partition is back at 4", wait_until(lambda: partition() == 4, 20), partition())
        ev = c.events(NS, "db")
        t.check("db:2: events of a canary run (weights 25, 50, promotion)",
                any("Advance db.apps canary weight 25" in e for e in ev) and
                any("Advance db.apps canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down db.apps" in e for e in ev), ev[-8:])

        # ---- db:3, rolled back -------------------------------------------------------------
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:3")
        t.check("db:3: weight 25 at the first step",
                wait_until(lambda: partition() == 3 and weights() == (75, 25), 60), (partition(), weights()))
        rev3 = st().get("updateRevision")
        t.check("db:3: db-canary selects db:3's revision",
                selector("db-canary") == {"app": "db", "controller-revision-hash": rev3}, selector("db-canary"))
        check.ok = False
        t.check("db:3: rolled back (Failed)", wait_until(lambda: c.phase(NS, "db") == "Failed", 60),
                c.phase(NS, "db"))
        t.check("db:3: weights 100/0, db-primary on db:2's revision",
                wait_until(lambda: weights() == (100, 0) and
                           selector("db-primary") == {"app": "db", "controller-revision-hash": rev2}, 20),
                (weights(), selector("db-primary")))
        t.check("db:3: the StatefulSet has db:2's template again, every pod back on it",
                image_of(sts()) == "db:2" and
                wait_until(lambda: all(r == rev2 for r, _ in pods().values()) and len(pods()) == 4, 30), pods())
        t.check("db:3: the partition is back at 4", wait_until(lambda: partition() == 4, 20), partition())

        # ---- OnDelete under a mesh: refused ------------------------------------------------
        t.check("kv (OnDelete, istio): a Warning event says why",
                wait_until(lambda: any("uses the OnDelete strategy: provider istio cannot route it" in e
                                       for e in c.events(NS, "kv")), 30), c.events(NS, "kv")[-3:])
        t.check("kv: no Service and no VirtualService written, not Initialized",
                c.get_api("/api/v1/namespaces/apps/services/kv-primary") is None and
                c.get_api("/apis/%s/v1beta1/namespaces/apps/virtualservices/kv" % GROUP) is None and
                c.phase(NS, "kv") != "Initialized", c.phase(NS, "kv"))

        # ---- revertOnDeletion -------------------------------------------------------------------
        c.kubectl("-n", NS, "patch", "canary", "db", "--type", "merge", "-p", '{"spec":{"revertOnDeletion":true}}')
        t.check("revertOnDeletion: the finalizer is set",
                wait_until(lambda: bool(((c.canary(NS, "db") or {}).get("metadata") or {}).get("finalizers")), 30),
                c.canary(NS, "db"))
        c.kubectl("-n", NS, "delete", "canary", "db", "--wait=false")
        t.check("revertOnDeletion: the canary goes once finalized",
                wait_until(lambda: c.canary(NS, "db") is None, 60), c.canary(NS, "db"))
        t.check("revertOnDeletion: the partition is 0 (the StatefulSet updates by itself again)",
                partition() == 0, partition())

        used, denied = rbac_check(c)
        t.check("the ClusterRole grants every request canaryd made", not denied, sorted(denied))
        t.check("canaryd wrote Services and the VirtualService",
                ("", "services", "create") in used and (GROUP, "virtualservices", "create") in used,
                sorted(used))
    finally:
        c.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
