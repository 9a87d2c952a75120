"""test_kube_service_target.py - a plain Service as the release target
(targetRef v1 Service, Flagger's ServiceController) on the fake cluster,
blue/green with provider kubernetes:

1. the Service podinfo and a Canary -> Initialized with podinfo-canary
   and podinfo-primary: copies of podinfo's spec (ports, selector), each
   with its own cluster IP, its labels, without kubectl's
   last-applied-configuration, owned by the Canary; podinfo itself never
   written; no Deployment of canaryd's;
2. podinfo's selector changed -> podinfo-canary follows at once, the
   analysis runs its iterations, Succeeded: podinfo-primary now selects
   the new pods and keeps its cluster IP;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import watch_phases, Checker, Cluster, rbac_check, wait_until  # noqa: E402

NS = "test"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: v1
kind: Service
metadata:
  name: podinfo
  namespace: test
  labels: {team: a}
spec:
  type: ClusterIP
  selector: {app: podinfo}
  ports:
  - {name: http, port: 9898, targetPort: http, protocol: TCP}
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
    apiVersion: v1
    kind: Service
    name: podinfo
  analysis:
    interval: 15s
    threshold: 5
    iterations: 2
"""


def svc(c, name):
    return c.get("service", NS, name) or {}


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(APP)
        target_rv = svc(c, "podinfo")["metadata"]["resourceVersion"]
        c.apply(CANARY)
        c.start_operator("-interval-override", "2s")
        if not t.check("canary Initialized",
                       wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                       c.phase(NS, "podinfo")):
            raise RuntimeError("not initialized: stopping here")
        target = svc(c, "podinfo")
        ips = {target["spec"].get("clusterIP")}
        for name in ("podinfo-canary", "podinfo-primary"):
            s = svc(c, name)
            spec, md = s.get("spec") or {}, s.get("metadata") or {}
            t.check("%s: podinfo's ports and selector" % name,
                    spec.get("selector") == {"app": "podinfo"} and
                    [(p.get("name"), p.get("port"), p.get("targetPort")) for p in spec.get("ports") or []] ==
                    [("http", 9898, "http")], spec)
            t.check("%s: its own cluster IP" % name,
                    spec.get("clusterIP") and spec.get("clusterIP") not in ips, (spec.get("clusterIP"), ips))
            ips.add(spec.get("clusterIP"))
            t.check("%s: podinfo's labels, no last-applied-configuration" % name,
                    md.get("labels") == {"team": "a"} and
                    "kubectl.kubernetes.io/last-applied-configuration" not in (md.get("annotations") or {}),
                    md)
            owner = (md.get("ownerReferences") or [{}])[0]
            t.check("%s: owned by the Canary" % name,
                    owner.get("kind") == "Canary" and owner.get("controller") is True, owner)
        t.check("podinfo itself not written", svc(c, "podinfo")["metadata"]["resourceVersion"] == target_rv)
        t.check("no Deployment of canaryd's", c.get("deployment", NS, "podinfo-primary") is None)
        primary_ip = svc(c, "podinfo-primary")["spec"]["clusterIP"]

        # 2. a new spec: the selector of the next version
        c.kubectl("-n", NS, "patch", "service", "podinfo", "--type=merge", "-p",
                  '{"spec":{"selector":{"app":"podinfo-v2"}}}')
        t.check("podinfo-canary follows podinfo's new selector",
                wait_until(lambda: (svc(c, "podinfo-canary").get("spec") or {}).get("selector") ==
                           {"app": "podinfo-v2"}, 30) is True, svc(c, "podinfo-canary").get("spec"))
        phases, _ = watch_phases(c, NS, "podinfo", lambda: None, ("Succeeded", "Failed"), 120)
        t.check("Succeeded after Progressing", phases and phases[-1] == "Succeeded" and
                "Progressing" in phases, phases)
        p = svc(c, "podinfo-primary").get("spec") or {}
        t.check("podinfo-primary selects the new pods, same cluster IP",
                p.get("selector") == {"app": "podinfo-v2"} and p.get("clusterIP") == primary_ip, p)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made",
                not denied and ("", "services", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
