"""test_kube_keda_scaledobject.py - autoscalerRef to a KEDA ScaledObject
end to end on the fake cluster, Flagger's test/keda scenario, with KEDA's
real ScaledObject CRD and the fake's stand-in for KEDA's operator
(tests/fake-apiserver/fakekube/keda.py scales the Deployment within
min/max and holds it at paused-replicas while paused):

1. podinfo, its ScaledObject podinfo-so (a Prometheus trigger querying
   app="podinfo") and a blue/green Canary (provider kubernetes) with
   primaryScalerReplicas -> Initialized with podinfo-so-primary: scaling
   podinfo-primary, the query renamed app="podinfo-primary", min/max from
   primaryScalerReplicas, owned by the Canary, valid against the CRD
   (validate_crd.py); the canary's ScaledObject paused
   (autoscaling.keda.sh/paused-replicas "0") and podinfo at 0 replicas;
2. v2 -> the canary's ScaledObject resumed while the analysis runs
   (KEDA scales podinfo up again), Succeeded, podinfo-primary on v2, the
   canary's ScaledObject paused again and podinfo back at 0;
3. the canary's ScaledObject edited (pollingInterval) and v3 -> the
   primary's follows at the promotion;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import (watch_phases, SHARED, Checker, Cluster, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
KEDA_CRD = os.path.join(SHARED, "conformance/crds/keda/keda.sh_scaledobjects.yaml")
SO_PATH = "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s"
PAUSED = "autoscaling.keda.sh/paused-replicas"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels: {app: podinfo}
spec:
  minReadySeconds: 1
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports:
        - {name: http, containerPort: 9898, protocol: TCP}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: podinfo-so
  namespace: test
spec:
  scaleTargetRef:
    name: podinfo
  pollingInterval: 10
  cooldownPeriod: 20
  minReplicaCount: 1
  maxReplicaCount: 3
  triggers:
  - type: prometheus
    metricType: AverageValue
    metadata:
      serverAddress: http://flagger-prometheus.flagger-system:9090
      metricName: http_requests_total
      query: sum(rate(http_requests_total{ app="podinfo" }[30s]))
      threshold: '5'
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: kubernetes
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  autoscalerRef:
    apiVersion: keda.sh/v1alpha1
    kind: ScaledObject
    name: podinfo-so
    primaryScalerReplicas:
      minReplicas: 2
      maxReplicas: 4
  progressDeadlineSeconds: 60
  service:
    port: 80
    targetPort: 9898
  analysis:
    interval: 15s
    threshold: 10
    iterations: 4
"""


def so(c, name):
    return c.get_api(SO_PATH % (NS, name)) or {}


def paused(c):
    return ((so(c, "podinfo-so").get("metadata") or {}).get("annotations") or {}).get(PAUSED)


def replicas(c, name="podinfo"):
    return ((c.get("deployment", NS, name) or {}).get("spec") or {}).get("replicas")


def main():
    t = Checker()
    c = Cluster("--crd", KEDA_CRD)
    try:
        # 1. the e2e's objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        c.start_operator("-interval-override", "2s")
        if not t.check("canary Initialized",
                       wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                       c.phase(NS, "podinfo")):
            raise RuntimeError("not initialized: stopping here")
        p = so(c, "podinfo-so-primary")
        spec = p.get("spec") or {}
        t.check("podinfo-so-primary scales podinfo-primary",
                (spec.get("scaleTargetRef") or {}).get("name") == "podinfo-primary", spec)
        t.check("its query asks for podinfo-primary",
                ((spec.get("triggers") or [{}])[0].get("metadata") or {}).get("query") ==
                'sum(rate(http_requests_total{ app="podinfo-primary" }[30s]))', spec.get("triggers"))
        t.check("min/max from primaryScalerReplicas (2, 4), polling and cooldown copied",
                (spec.get("minReplicaCount"), spec.get("maxReplicaCount"), spec.get("pollingInterval"),
                 spec.get("cooldownPeriod")) == (2, 4, 10, 20), spec)
        owner = ((p.get("metadata") or {}).get("ownerReferences") or [{}])[0]
        t.check("podinfo-so-primary owned by the Canary",
                owner.get("kind") == "Canary" and owner.get("controller") is True, owner)
        t.check("podinfo-so-primary not paused",
                PAUSED not in ((p.get("metadata") or {}).get("annotations") or {}), p.get("metadata"))
        ok, out = c.validate([p], KEDA_CRD)
        t.check("podinfo-so-primary valid against the keda.sh CRD", ok, out)
        t.check("the canary's ScaledObject paused at 0 replicas",
                wait_until(lambda: paused(c) == "0", 20) is True, paused(c))
        t.check("podinfo scaled to 0 (KEDA holds it there)",
                wait_until(lambda: replicas(c) == 0, 20) is True, replicas(c))
        t.check("KEDA scales podinfo-primary within the primary's 2..4",
                wait_until(lambda: (replicas(c, "podinfo-primary") or 0) >= 2, 20) is True,
                replicas(c, "podinfo-primary"))

        # 2. v2: resumed for the analysis, paused again after the promotion
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        states = []

        def state():
            s = (paused(c), (replicas(c) or 0) > 0)
            if not states or states[-1] != s:
                states.append(s)
            return s
        phases, _ = watch_phases(c, NS, "podinfo", state, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded", phases and phases[-1] == "Succeeded" and "Progressing" in phases, phases)
        t.check("v2: the canary's ScaledObject resumed and podinfo scaled up during the analysis",
                (None, True) in states, states)
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        t.check("v2: paused again and podinfo back at 0",
                wait_until(lambda: paused(c) == "0" and replicas(c) == 0, 30) is True, states)

        # 3. the canary's ScaledObject edited: the primary's follows
        c.kubectl("-n", NS, "patch", "scaledobject", "podinfo-so", "--type=merge", "-p",
                  '{"spec":{"pollingInterval":30}}')
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        t.check("v3: Progressing", wait_until(lambda: c.phase(NS, "podinfo") == "Progressing", 60) is True,
                c.phase(NS, "podinfo"))
        phases, _ = watch_phases(c, NS, "podinfo", lambda: None, ("Succeeded", "Failed"), 180)
        t.check("v3: Succeeded", phases and phases[-1] == "Succeeded", phases)
        t.check("v3: podinfo-so-primary follows the canary's pollingInterval",
                (so(c, "podinfo-so-primary").get("spec") or {}).get("pollingInterval") == 30,
                so(c, "podinfo-so-primary").get("spec"))

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (ScaledObjects too)",
                not denied and ("keda.sh", "scaledobjects", "create") in used and
                ("keda.sh", "scaledobjects", "patch") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
