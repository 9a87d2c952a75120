"""test_kube_statefulset_gatewayapi.py - a StatefulSet target with provider
gatewayapi:v1 on the fake cluster (docs/statefulset.md, "With a mesh"),
with the stand-in Gateway API implementation of gateway_env.py accepting
the route: the same wrapper as under Istio, so only its outcome is checked
here (test_kube_statefulset_istio.py checks every step's invariants):

- Initialized: db-canary/db-primary select the current revision, the
  HTTPRoute db routes 100/0;
- db:2 at stepWeight 50 on 2 replicas: weight 50 at partition 1 with
  ordinal 1 updated; at promotion db-primary selects every pod; after it
  100/0 with both Services on db:2's revision;
- every request canaryd made is granted by deploy/'s ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, rbac_check, wait_until  # noqa: E402
from gateway_env import HTTPROUTE_CRD, StandInGateway, route_weights  # noqa: E402

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
  replicas: 2
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
  provider: gatewayapi:v1
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  progressDeadlineSeconds: 60
  service:
    port: 8080
    hosts: [db.example.com]
    gatewayRefs: [{name: public-gateway, namespace: gateway}]
  analysis: {interval: 1m, threshold: 2, stepWeight: 50, maxWeight: 50}
"""


def main():
    t = Checker()
    c = Cluster("--crd", HTTPROUTE_CRD)
    gw = StandInGateway(c.api, gateways={("gateway", "public-gateway")})
    c.extra.append(gw)
    try:
        c.apply(MANIFESTS)

        def sts():
            return c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/db") or {}

        def partition():
            return (((sts().get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition")

        def st():
            return sts().get("status") or {}

        def selector(name):
            s = c.get_api("/api/v1/namespaces/apps/services/" + name) or {}
            return (s.get("spec") or {}).get("selector")

        t.check("the StatefulSet's 2 pods run", wait_until(lambda: st().get("readyReplicas") == 2, 30), st())
        rev1 = st().get("currentRevision")
        c.start_operator("-interval-override", "2s")
        t.check("Initialized", wait_until(lambda: c.phase(NS, "db") == "Initialized", 60), c.phase(NS, "db"))
        t.check("db-canary and db-primary select the current revision",
                selector("db-canary") == {"app": "db", "controller-revision-hash": rev1} and
                selector("db-primary") == {"app": "db", "controller-revision-hash": rev1},
                (selector("db-canary"), selector("db-primary")))
        t.check("the HTTPRoute routes 100/0 (canary, primary = 0, 100)",
                wait_until(lambda: route_weights(c, NS, "db") == (0, 100), 20), route_weights(c, NS, "db"))

        seen = []

        def record():
            p, s = partition(), st()
            snap = (p, s.get("updatedReplicas", 0), route_weights(c, NS, "db"),
                    (selector("db-primary") or {}).get("controller-revision-hash", "*"))
            if not seen or seen[-1] != snap:
                seen.append(snap)
            return c.phase(NS, "db") == "Succeeded" and any(x[0] == 0 for x in seen)
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:2")
        t.check("db:2: Succeeded", wait_until(record, 120, 0.05), (c.phase(NS, "db"), seen))
        rev2 = st().get("updateRevision")
        t.check("db:2: weight 50 at partition 1 with ordinal 1 updated",
                any(x[0] == 1 and x[1] == 1 and x[2] == (50, 50) for x in seen), seen)
        t.check("db:2: no canary weight before ordinal 1 was updated",
                all(x[2] in (None, (0, 100)) for x in seen if x[1] == 0), seen)
        t.check("db:2: at promotion db-primary selected every pod of the set",
                any(x[0] == 0 and x[3] == "*" for x in seen), seen)
        t.check("db:2: after promotion 100/0, both Services on db:2's revision",
                wait_until(lambda: route_weights(c, NS, "db") == (0, 100) and
                           selector("db-primary") == {"app": "db", "controller-revision-hash": rev2} and
                           selector("db-canary") == {"app": "db", "controller-revision-hash": rev2}, 20),
                (route_weights(c, NS, "db"), selector("db-primary")))

        used, denied = rbac_check(c)
        t.check("the ClusterRole grants every request canaryd made", not denied, sorted(denied))
    finally:
        c.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
