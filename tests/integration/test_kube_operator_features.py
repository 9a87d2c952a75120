"""test_kube_operator_features.py - `canaryd kube` features beyond the seed,
on the fake cluster with kubectl:

A. provider kubernetes (blue/green, no router) with config tracking and an
   HPA: -primary copies of the ConfigMap and Secret, the primary's pod spec
   using them, status.trackedConfigs, the primary HPA; a change of the
   ConfigMap alone starts a release; a confirm-promotion webhook holds it
   in WaitingPromotion until the gate opens; promotion copies the new data;
B. a DaemonSet target: scaled to zero with Flagger's node selector, which
   the primary never gets, promoted;
C. a primary that never becomes ready while Promoting (App Mesh): Failed
   with all traffic on the canary, which keeps running (Flagger's
   handleFailedPromotion);
D. revertOnDeletion: the finalizer is added, and deleting the canary gives
   the target its replicas back before the canary goes;
G. two canaries on one target: Flagger's "Bad things will happen!" error.
"""
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, router_weights, wait_until  # noqa: E402

NS = "apps"


class Gate:
    def __init__(self):
        self.open = False
        self.calls = []
        gate = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                gate.calls.append(self.rfile.read(n))
                self.send_response(200 if gate.open else 403)
                self.end_headers()
                self.wfile.write(b"Approved" if gate.open else b"Forbidden")

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/gate" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()


BG = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: apps}
data: {color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: apps}
type: Opaque
stringData: {token: s3cret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps, labels: {app: web, team: shop}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        ports: [{name: http, containerPort: 8080}]
        envFrom: [{configMapRef: {name: web-config}}]
        env:
        - name: TOKEN
          valueFrom: {secretKeyRef: {name: web-secret, key: token}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: apps}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: apps}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: web}
  service: {port: 80, targetPort: 8080}
  analysis:
    interval: 1m
    threshold: 2
    iterations: 2
    webhooks:
    - {name: promotion-gate, type: confirm-promotion, url: "%(gate)s"}
"""

DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {name: agent}}
  template:
    metadata: {labels: {name: agent}}
    spec:
      containers: [{name: agent, image: agent:1}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: agent, namespace: apps}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: DaemonSet, name: agent}
  service: {port: 9100}
  analysis: {interval: 1m, threshold: 2, iterations: 1}
"""

MESH = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: apps}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "api:1", ports: [{containerPort: 9898}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: api, namespace: apps}
spec:
  provider: appmesh:v1beta2
  progressDeadlineSeconds: 5
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  service: {port: 9898}
  analysis: {interval: 1m, threshold: 2, stepWeight: 50, maxWeight: 50}
"""

REVERT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: keep, namespace: apps}
spec:
  replicas: 3
  selector: {matchLabels: {app: keep}}
  template:
    metadata: {labels: {app: keep}}
    spec:
      containers: [{name: keep, image: "keep:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: keep, namespace: apps}
spec:
  provider: kubernetes
  revertOnDeletion: true
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: keep}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 2, iterations: 1}
"""


UNSUPPORTED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: mesh, namespace: apps}
spec:
  selector: {matchLabels: {app: mesh}}
  template:
    metadata: {labels: {app: mesh}}
    spec:
      containers: [{name: mesh, image: "mesh:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: mesh, namespace: apps}
spec:
  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: mesh}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 2, stepWeight: 10}
"""


def spec_of(obj, *path):
    for p in path:
        if isinstance(obj, list):
            obj = obj[p] if len(obj) > p else None
        else:
            obj = (obj or {}).get(p)
    return obj


def main():
    t = Checker()
    c = Cluster()
    gate = Gate()
    c.extra.append(gate)
    try:
        c.apply(BG % {"gate": gate.url})
        c.apply(DAEMONSET)
        c.apply(MESH)
        c.apply(REVERT)
        c.apply(UNSUPPORTED)
        c.start_operator("-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1",
                         "-include-label-prefix", "team")
        for name in ("web", "agent", "api", "keep"):
            t.check("%s Initialized" % name,
                    wait_until(lambda: c.phase(NS, name) == "Initialized", 60), c.phase(NS, name))

        # A. blue/green, config tracking, HPA, confirm-promotion
        cm = c.get("configmap", NS, "web-config-primary")
        sec = c.get("secret", NS, "web-secret-primary")
        t.check("A: ConfigMap and Secret copied to -primary",
                spec_of(cm, "data") == {"color": "blue"} and spec_of(sec, "data", "token") == "czNjcmV0",
                (cm, sec))
        owner = spec_of(cm, "metadata", "ownerReferences", 0) or {}
        t.check("A: the copies are owned by the Canary", owner.get("kind") == "Canary", owner)
        primary = c.get("deployment", NS, "web-primary")
        ctr = spec_of(primary, "spec", "template", "spec", "containers", 0)
        t.check("A: the primary uses the -primary copies",
                spec_of(ctr, "envFrom", 0, "configMapRef", "name") == "web-config-primary" and
                spec_of(ctr, "env", 0, "valueFrom", "secretKeyRef", "name") == "web-secret-primary", ctr)
        t.check("A: primary labels filtered by -include-label-prefix",
                spec_of(primary, "metadata", "labels") == {"app": "web-primary", "team": "shop"},
                spec_of(primary, "metadata", "labels"))
        tracked = spec_of(c.canary(NS, "web"), "status", "trackedConfigs") or {}
        t.check("A: status.trackedConfigs has both with 16-hex checksums",
                sorted(tracked) == ["configmap/web-config", "secret/web-secret"] and
                all(len(v) == 16 for v in tracked.values()), tracked)
        hpa = c.get("hpa", NS, "web-primary")
        t.check("A: HPA web-primary scales web-primary",
                spec_of(hpa, "spec", "scaleTargetRef", "name") == "web-primary" and
                spec_of(hpa, "spec", "maxReplicas") == 4, spec_of(hpa, "spec"))
        svc = c.get("service", NS, "web")
        t.check("A: apex Service selects the primary on port 80 -> 8080",
                spec_of(svc, "spec", "selector") == {"app": "web-primary"} and
                spec_of(svc, "spec", "ports", 0, "targetPort") == 8080, spec_of(svc, "spec"))

        c.kubectl("-n", NS, "patch", "configmap", "web-config", "--type", "merge", "-p",
                  '{"data":{"color":"green"}}')
        t.check("A: a ConfigMap change alone starts a release",
                wait_until(lambda: c.phase(NS, "web") in ("Progressing", "WaitingPromotion"), 30),
                c.phase(NS, "web"))
        t.check("A: the closed gate holds it in WaitingPromotion",
                wait_until(lambda: c.phase(NS, "web") == "WaitingPromotion", 30), c.phase(NS, "web"))
        time.sleep(2)
        t.check("A: still waiting while the gate is closed", c.phase(NS, "web") == "WaitingPromotion")
        gate.open = True
        t.check("A: gate opened -> Succeeded", wait_until(lambda: c.phase(NS, "web") == "Succeeded", 30),
                c.phase(NS, "web"))
        t.check("A: the new data is promoted to web-config-primary",
                spec_of(c.get("configmap", NS, "web-config-primary"), "data") == {"color": "green"})
        t.check("A: the gate got Flagger's payload (name, namespace, phase Progressing)",
                any(b'"name":"web"' in x.replace(b" ", b"") and b'"namespace":"apps"' in x.replace(b" ", b"")
                    and b'"phase":"Progressing"' in x.replace(b" ", b"") for x in gate.calls),
                gate.calls[-1:])
        t.check("A: web scaled back to zero",
                wait_until(lambda: spec_of(c.get("deployment", NS, "web"), "spec", "replicas") == 0, 10))
        t.check("A: apex Service still selects the primary",
                spec_of(c.get("service", NS, "web"), "spec", "selector") == {"app": "web-primary"})

        # E. a canary last synced by Go Flagger (other hashes): adopted, no new analysis
        before = sum("New revision detected" in e for e in c.events(NS, "web"))
        status, _, _ = c.api.patch("/apis/flagger.app/v1beta1/namespaces/apps/canaries/web/status",
                                   {"status": {"lastAppliedSpec": "79fd4b5c9", "lastPromotedSpec": "79fd4b5c9"}})
        t.check("E: status rewritten with Go Flagger's hashes", status == 200, status)
        t.check("E: canaryd takes the hashes over",
                wait_until(lambda: spec_of(c.canary(NS, "web"), "status", "lastAppliedSpec") not in
                           (None, "79fd4b5c9"), 20), spec_of(c.canary(NS, "web"), "status"))
        time.sleep(2)
        t.check("E: no analysis of what the primary already runs",
                c.phase(NS, "web") == "Succeeded" and
                sum("New revision detected" in e for e in c.events(NS, "web")) == before,
                (c.phase(NS, "web"), before))

        # B. DaemonSet
        ds = c.get("daemonset", NS, "agent")
        t.check("B: target DaemonSet scaled to zero by node selector",
                spec_of(ds, "spec", "template", "spec", "nodeSelector") == {"flagger.app/scale-to-zero": "true"},
                spec_of(ds, "spec", "template", "spec"))
        pds = c.get("daemonset", NS, "agent-primary")
        t.check("B: primary DaemonSet has no scale-to-zero selector",
                pds and not spec_of(pds, "spec", "template", "spec", "nodeSelector"))
        c.kubectl("-n", NS, "set", "image", "daemonset/agent", "agent=agent:2")
        t.check("B: DaemonSet release Succeeded",
                wait_until(lambda: c.phase(NS, "agent") == "Succeeded", 60), c.phase(NS, "agent"))
        t.check("B: primary DaemonSet on agent:2", image_of(c.get("daemonset", NS, "agent-primary")) == "agent:2")
        t.check("B: target scaled to zero again", spec_of(c.get("daemonset", NS, "agent"), "spec", "template",
                                                          "spec", "nodeSelector") is not None)

        # C. the primary never becomes ready during promotion
        c.api.control("stall", {"namespace": NS, "name": "api-primary", "image": "api:2"})
        c.kubectl("-n", NS, "set", "image", "deployment/api", "api=api:2")
        t.check("C: Promoting reached", wait_until(lambda: c.phase(NS, "api") == "Promoting", 60),
                c.phase(NS, "api"))
        t.check("C: Failed when the primary is stuck",
                wait_until(lambda: c.phase(NS, "api") == "Failed", 60), c.phase(NS, "api"))
        st = spec_of(c.canary(NS, "api"), "status") or {}
        t.check("C: canaryWeight 100", st.get("canaryWeight") == 100, st)
        t.check("C: all traffic on the canary", router_weights(c, NS, "api") == (100, 0),
                router_weights(c, NS, "api"))
        t.check("C: the canary keeps running",
                spec_of(c.get("deployment", NS, "api"), "spec", "replicas") == 1)
        t.check("C: event Promotion failed",
                any(e.startswith("Promotion failed, primary not ready") for e in c.events(NS, "api")))

        # D. revertOnDeletion
        canary = c.canary(NS, "keep")
        t.check("D: finalizer added", "finalizer.flagger.app" in spec_of(canary, "metadata", "finalizers") or [],
                spec_of(canary, "metadata"))
        t.check("D: target scaled to zero", spec_of(c.get("deployment", NS, "keep"), "spec", "replicas") == 0)
        c.kubectl("-n", NS, "delete", "canary", "keep", "--wait=false")
        t.check("D: the canary goes once finalized",
                wait_until(lambda: c.canary(NS, "keep") is None, 60), spec_of(c.canary(NS, "keep"), "status"))
        t.check("D: the target got the primary's replicas back",
                spec_of(c.get("deployment", NS, "keep"), "spec", "replicas") == 3,
                spec_of(c.get("deployment", NS, "keep"), "spec"))
        t.check("D: Terminating seen in the events",
                any(e.startswith("Terminating canary keep.apps") for e in c.events(NS, "keep")))
        t.check("D: what canaryd created is garbage-collected",
                wait_until(lambda: c.get("deployment", NS, "keep-primary") is None, 20))
        # F. a target kind canaryd kube does not release (a LocalWorkload,
        # which only canaryd local runs): said so, nothing created
        t.check("F: unsupported target reported in the canary's events",
                wait_until(lambda: any("target kind LocalWorkload is not supported by canaryd kube" in e
                                       for e in c.events(NS, "mesh")), 20), c.events(NS, "mesh"))
        t.check("F: nothing created for it", c.get("deployment", NS, "mesh-primary") is None and
                c.get("service", NS, "mesh-canary") is None)
        # G. two canaries on one target: Flagger's error each control loop,
        # both counted in flagger_canary_total
        twin = c.canary(NS, "api")
        c.apply(json.dumps({"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
                            "metadata": {"name": "api-twin", "namespace": NS},
                            "spec": twin["spec"]}))
        shared = "Bad things will happen! Found more than one canary with the same target api.apps"
        t.check("G: a second canary on api is logged as Flagger does",
                wait_until(lambda: shared in c.operator_log(), 40), c.operator_log()[-2000:])
        total = [float(line.split()[-1]) for line in c.metrics().splitlines()
                 if line.startswith('flagger_canary_total{namespace="apps"}')]
        t.check("G: flagger_canary_total counts both", total and total[0] >= 2, total)
        t.check("canaryd still running", c.operator.poll() is None)
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
