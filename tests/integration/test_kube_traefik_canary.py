"""test_kube_traefik_canary.py - progressive delivery behind Traefik
(provider traefik, Flagger's Traefik tutorial) end to end on the fake
cluster with Traefik's real TraefikService CRD (traefik.io) installed:

1. podinfo v1 and the tutorial's Canary -> Initialized, with the
   TraefikService `podinfo`: a weighted round robin with podinfo-primary
   (namespace test, port 80) at 100 and no canary service, owned by the
   Canary, valid against the CRD (validate_crd.py: the fake API server's
   structural walker and python3-jsonschema);
2. v2 with healthy metrics (Traefik's traefik_service_request_duration_
   seconds histogram for the services as Traefik names them,
   <ns>-<svc>-<port>@kubernetescrd, in a real Prometheus; the primary's
   service answers 5 % errors, which the builtin queries must leave out)
   -> the canary's weight steps 10 ... 50 -> Succeeded and back to the
   primary alone at 100;
3. v3 failing its metrics (50 % errors on the canary's service) -> rolled
   back: primary at 100, Failed, the primary still on v2;
4. the Canary edited to ask for an A/B match -> a Warning event saying
   Traefik cannot, nothing written;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole. (The IngressRoute that points at the TraefikService is the
user's and Traefik's; its CRD is not among the conformance data, and
canaryd never reads or writes it.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
TRAEFIK_CRD = os.path.join(SHARED, "conformance/crds/traefik/traefik.io_traefikservices.yaml")
TS_PATH = "/apis/traefik.io/v1alpha1/namespaces/%s/traefikservices/%s"

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
  minReadySeconds: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy:
    rollingUpdate: {maxUnavailable: 0}
    type: RollingUpdate
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
        command: [./podinfo, --port=9898]
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: traefik
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 80
    targetPort: 9898
  analysis:
    interval: 30s
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 30s
"""


class TraefikExporter(RateExporter):
    """Traefik's per-service request histogram
    (traefik_service_request_duration_seconds, labels service, code,
    method, protocol) for the Kubernetes Services of a TraefikService, named
    as Traefik names them: <ns>-<svc>-<port>@kubernetescrd. Counters grow at
    rps, err of them 503, every request taking latency seconds."""

    BUCKETS = [0.1, 0.3, 1.2, 5.0]   # Traefik's default buckets
    HEADER = ["# TYPE traefik_service_request_duration_seconds histogram"]

    def series(self, name, n, errs, lat):
        out = []
        for code, cnt in (("200", n - errs), ("503", errs)):
            lab = 'code="%s",method="GET",protocol="http",service="%s"' % (code, name)
            out += histogram("traefik_service_request_duration_seconds", lab, cnt, lat, self.BUCKETS)
        return out


def tsvc(c):
    return c.get_api(TS_PATH % (NS, "podinfo"))


def weights(c):
    """(primary, canary) weights of the TraefikService (canary 0 when it
    lists no canary service); None without one."""
    ts = tsvc(c)
    try:
        w = {s["name"]: s.get("weight") for s in ts["spec"]["weighted"]["services"]}
    except (TypeError, KeyError):
        return None
    return w.get("podinfo-primary"), w.get("podinfo-canary", 0)


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    phases, seen = [], []

    def step():
        p = c.phase(NS, "podinfo")
        w = weights(c)
        if p and (not phases or phases[-1] != p):
            phases.append(p)
        if w and (not seen or seen[-1] != w[1]):
            seen.append(w[1])
        return p in until
    wait_until(step, timeout, 0.1)
    return phases, seen


def main():
    t = Checker()
    c = Cluster("--crd", TRAEFIK_CRD)
    exporter = TraefikExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the tutorial's objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        c.start_operator("-mesh-provider", "traefik", "-metrics-server", prom.url,
                         "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        ts = tsvc(c) or {}
        t.check("TraefikService podinfo: podinfo-primary (test, port 80) alone at 100",
                ts.get("spec") == {"weighted": {"services": [
                    {"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 100}]}},
                ts.get("spec"))
        owner = (ts.get("metadata", {}).get("ownerReferences") or [{}])[0]
        t.check("TraefikService owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        ok, out = c.validate([ts], TRAEFIK_CRD)
        t.check("TraefikService valid against the traefik.io CRD", ok, out)

        # 2. v2 with healthy metrics; the primary's service answers 5 % errors
        exporter.set("test-podinfo-primary-80@kubernetescrd", 20.0, 0.05, 0.02)
        exporter.set("test-podinfo-canary-80@kubernetescrd", 20.0, 0.0, 0.03)
        t.check("Prometheus scrapes the canary service's series",
                prom.wait_series('count_over_time(traefik_service_request_duration_seconds_count{service='
                                 '"test-podinfo-canary-80@kubernetescrd"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: the primary alone at 100 again", weights(c) == (100, 0) and
                len(tsvc(c)["spec"]["weighted"]["services"]) == 1, tsvc(c)["spec"])
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])

        # 3. v3 failing its metrics
        exporter.set("test-podinfo-primary-80@kubernetescrd", 20.0, 0.0, 0.02)
        exporter.set("test-podinfo-canary-80@kubernetescrd", 20.0, 0.5, 0.03)
        prom.wait_series('sum(rate(traefik_service_request_duration_seconds_count{service='
                         '"test-podinfo-canary-80@kubernetescrd",code=~"5.."}[30s])) > 5', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: primary alone at 100, canary never above 10", weights(c) == (100, 0) and
                max(seen or [0]) <= 10, (weights(c), seen))
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])
        ok, out = c.validate([tsvc(c)], TRAEFIK_CRD)
        t.check("v3: TraefikService still valid against the CRD", ok, out)

        # 4. an A/B match asked for: refused with a Warning event
        rv = tsvc(c)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"match":[{"headers":{"x-canary":{"exact":"insider"}}}]}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and
                    "provider traefik cannot route requests by header" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("match: Warning event \"provider traefik cannot route requests by header, cookie or path\"",
                w and "(analysis.match" in w[0]["message"], w)
        t.check("match: TraefikService not written", tsvc(c)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (TraefikServices too)",
                not denied and ("traefik.io", "traefikservices", "update") in used and
                ("traefik.io", "traefikservices", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
