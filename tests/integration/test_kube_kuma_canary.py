"""test_kube_kuma_canary.py - progressive delivery through Kuma (provider
kuma, Flagger's Kuma tutorial) end to end on the fake cluster with Kuma's
real TrafficRoute CRD (kuma.io/v1alpha1, cluster-scoped):

1. podinfo v1 and the Canary (annotated kuma.io/mesh: default) ->
   Initialized, with the TrafficRoute `podinfo`: mesh default, sources all
   services, destination podinfo_test_svc_9898, split
   podinfo-primary_test_svc_9898 at 100 and podinfo-canary_test_svc_9898
   at 0, valid against the CRD (validate_crd.py), with no owner reference
   (as in Flagger: a namespaced Canary cannot own it);
2. v2 with healthy metrics (the Envoy series Kuma's sidecars export,
   labelled service="<svc>_<ns>_svc_<port>", in a real Prometheus; the
   primary's service answers 5 % errors, which the builtin queries must
   leave out) -> the split's canary weight steps 10 ... 50 -> Succeeded,
   back to 100/0;
3. v3 failing its metrics (50 % errors) -> rolled back: 100/0, Failed;
4. the Canary edited to ask for mirroring -> a Warning event saying Kuma
   cannot, nothing written;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (watch_phases, SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
KUMA_CRD = os.path.join(SHARED, "conformance/crds/kuma/kuma.io_trafficroutes.yaml")
TR_PATH = "/apis/kuma.io/v1alpha1/trafficroutes/podinfo"

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
  annotations:
    kuma.io/mesh: default
spec:
  provider: kuma
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
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


class KumaEnvoyExporter(RateExporter):
    """Envoy's upstream series of Kuma's sidecars for the primary's and the
    canary's Kuma services (label service="<svc>_<ns>_svc_<port>"):
    counters growing at rps, err of them 5xx, every request taking
    latency_ms."""

    BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
    HEADER = ["# TYPE envoy_cluster_upstream_rq counter",
              "# TYPE envoy_cluster_upstream_rq_time histogram"]

    def series(self, name, n, errs, lat):
        lab = 'envoy_cluster_name="localhost_9898",kuma_io_mesh="default",service="%s"' % name
        return (['envoy_cluster_upstream_rq{%s,envoy_response_code="200"} %.3f' % (lab, n - errs),
                 'envoy_cluster_upstream_rq{%s,envoy_response_code="503"} %.3f' % (lab, errs)] +
                histogram("envoy_cluster_upstream_rq_time", lab, n, lat, self.BUCKETS))


def route(c):
    return c.get_api(TR_PATH)


def weights(c):
    """(primary, canary) weights of the TrafficRoute's split."""
    r = route(c)
    try:
        w = {s["destination"]["kuma.io/service"]: s.get("weight") for s in r["spec"]["conf"]["split"]}
    except (TypeError, KeyError):
        return None
    return w.get("podinfo-primary_test_svc_9898"), w.get("podinfo-canary_test_svc_9898")


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    return watch_phases(c, NS, "podinfo", lambda: (weights(c) or (None, None))[1], until, timeout)


def main():
    t = Checker()
    c = Cluster("--crd", KUMA_CRD)
    exporter = KumaEnvoyExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        c.apply(APP)
        c.apply(CANARY)
        c.start_operator("-mesh-provider", "kuma", "-metrics-server", prom.url, "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        r = route(c) or {}
        t.check("TrafficRoute podinfo in mesh default, from every service to podinfo_test_svc_9898",
                r.get("mesh") == "default" and
                r.get("spec", {}).get("sources") == [{"match": {"kuma.io/service": "*"}}] and
                r.get("spec", {}).get("destinations") == [{"match": {"kuma.io/service": "podinfo_test_svc_9898"}}],
                r)
        t.check("split: primary 100, canary 0", weights(c) == (100, 0), weights(c))
        t.check("no owner reference (cluster-scoped)", not r.get("metadata", {}).get("ownerReferences"),
                r.get("metadata"))
        ok, out = c.validate([r], KUMA_CRD)
        t.check("TrafficRoute valid against the kuma.io CRD", ok, out)

        exporter.set("podinfo-primary_test_svc_9898", 20.0, 0.05, 20)
        exporter.set("podinfo-canary_test_svc_9898", 20.0, 0.0, 30)
        t.check("Prometheus scrapes the canary service's series",
                prom.wait_series('count_over_time(envoy_cluster_upstream_rq{service='
                                 '"podinfo-canary_test_svc_9898"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: split 100/0", weights(c) == (100, 0), weights(c))
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])

        exporter.set("podinfo-primary_test_svc_9898", 20.0, 0.0, 20)
        exporter.set("podinfo-canary_test_svc_9898", 20.0, 0.5, 30)
        prom.wait_series('sum(rate(envoy_cluster_upstream_rq{service="podinfo-canary_test_svc_9898",'
                         'envoy_response_code=~"5.*"}[30s])) > 5', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: split 100/0, canary never above 10", weights(c) == (100, 0) and
                max(seen or [0]) <= 10, (weights(c), seen))
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e])

        rv = route(c)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"mirror":true}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and "provider kuma cannot mirror traffic" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("mirror: Warning event \"provider kuma cannot mirror traffic (analysis.mirror)\"",
                w and "(analysis.mirror)" in w[0]["message"], w)
        t.check("mirror: TrafficRoute not written", route(c)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (TrafficRoutes too)",
                not denied and ("kuma.io", "trafficroutes", "update") in used and
                ("kuma.io", "trafficroutes", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
