"""test_kube_smi_canary.py - progressive delivery through an SMI
TrafficSplit end to end on the fake cluster, twice, each time with one
real TrafficSplit CRD installed (one per API server, since they share a
name).

- provider linkerd with linkerd-smi's CRD (split.smi-spec.io/v1alpha1,
  weights written as quantities), the metrics Linkerd's proxies export
  (response_total, response_latency_ms by deployment);
- provider osm with OSM's CRD (v1alpha2, weights as numbers), the metrics
  OSM's proxies export (osm_request_total, osm_request_duration_ms by
  destination_name).

Each time: podinfo v1 and its Canary -> Initialized, with the TrafficSplit
`podinfo` (service podinfo, backends podinfo-canary 0 and podinfo-primary
100), owned by the Canary and valid against the CRD (validate_crd.py);
v2 with healthy metrics in a real Prometheus (the primary's deployment
answering 5 % errors, which the builtin queries must leave out) -> the
canary's weight steps 10 ... 50 -> Succeeded, back to 100/0; v3 failing
its metrics (50 % errors) -> rolled back, Failed; an A/B match refused
with a Warning event; every request allowed by deploy/kubernetes's
ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
SMI = os.path.join(SHARED, "conformance/crds/smi")

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
  provider: %s
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


class MeshExporter(RateExporter):
    """A mesh proxy's request series per workload: counters growing at rps,
    err of them failing, each request taking latency_ms. `style` is
    "linkerd" (response_total, response_latency_ms) or "osm"
    (osm_request_total, osm_request_duration_ms)."""

    BUCKETS = [1, 5, 10, 50, 100, 500, 1000, 5000]
    STYLES = {
        "linkerd": (["# TYPE response_total counter", "# TYPE response_latency_ms histogram"],
                    "response_total", "response_latency_ms"),
        "osm": (["# TYPE osm_request_total counter", "# TYPE osm_request_duration_ms histogram"],
                "osm_request_total", "osm_request_duration_ms"),
    }

    def __init__(self, style):
        self.style = style
        self.HEADER = self.STYLES[style][0]
        super().__init__()

    def series(self, name, n, errs, lat):
        _, total, hist = self.STYLES[self.style]
        if self.style == "linkerd":
            lab = 'deployment="%s",direction="inbound",namespace="%s",pod="%s-7c9d8-x1"' % (name, NS, name)
            counts = ['%s{%s,classification="success",status_code="200"} %.3f' % (total, lab, n - errs),
                      '%s{%s,classification="failure",status_code="503"} %.3f' % (total, lab, errs)]
        else:
            lab = ('destination_kind="Deployment",destination_name="%s",destination_namespace="%s",'
                   'source_name="client",source_namespace="%s"' % (name, NS, NS))
            counts = ['%s{%s,response_code="200"} %.3f' % (total, lab, n - errs),
                      '%s{%s,response_code="503"} %.3f' % (total, lab, errs)]
        return counts + histogram(hist, lab, n, lat, self.BUCKETS)


def weight(w):
    """A TrafficSplit weight: a number, or a quantity string ("100")."""
    return int(w) if isinstance(w, (int, float)) or str(w).isdigit() else None


def run(t, provider, crd_file, version, style):
    crd = os.path.join(SMI, crd_file)
    path = "/apis/split.smi-spec.io/%s/namespaces/%s/trafficsplits/podinfo" % (version, NS)
    c = Cluster("--crd", crd)
    exporter = MeshExporter(style)
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    p = provider + ": "

    def weights():
        ts = c.get_api(path)
        try:
            w = {b["service"]: weight(b.get("weight")) for b in ts["spec"]["backends"]}
        except (TypeError, KeyError):
            return None
        return w.get("podinfo-primary"), w.get("podinfo-canary")

    def watch(until, timeout):
        phases, seen = [], []

        def step():
            ph = c.phase(NS, "podinfo")
            w = weights()
            if ph and (not phases or phases[-1] != ph):
                phases.append(ph)
            if w and (not seen or seen[-1] != w[1]):
                seen.append(w[1])
            return ph in until
        wait_until(step, timeout, 0.1)
        return phases, seen

    if style == "linkerd":
        total = 'response_total{namespace="test",deployment="podinfo",direction="inbound"%s}'
    else:
        total = 'osm_request_total{destination_namespace="test",destination_name="podinfo"%s}'
    try:
        c.apply(APP)
        c.apply(CANARY % provider)
        c.start_operator("-mesh-provider", provider, "-metrics-server", prom.url, "-interval-override", "2s")
        t.check(p + "canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True, c.phase(NS, "podinfo"))
        ts = c.get_api(path) or {}
        zero, hundred = (("0", "100") if version == "v1alpha1" else (0, 100))
        t.check(p + "TrafficSplit podinfo %s: service podinfo, podinfo-canary %r, podinfo-primary %r"
                % (version, zero, hundred),
                ts.get("spec") == {"service": "podinfo", "backends": [
                    {"service": "podinfo-canary", "weight": zero},
                    {"service": "podinfo-primary", "weight": hundred}]}, ts.get("spec"))
        owner = (ts.get("metadata", {}).get("ownerReferences") or [{}])[0]
        t.check(p + "TrafficSplit owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("controller") is True, owner)
        ok, out = c.validate([ts], crd)
        t.check(p + "TrafficSplit valid against the CRD", ok, out)

        exporter.set("podinfo-primary", 20.0, 0.05, 20)
        exporter.set("podinfo", 20.0, 0.0, 30)
        t.check(p + "Prometheus scrapes the canary's series",
                prom.wait_series("count_over_time(%s[1m]) > 3" % (total % ""), 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch(("Succeeded", "Failed"), 180)
        t.check(p + "v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check(p + "v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check(p + "v2: weights 100/0", weights() == (100, 0), weights())
        ev = c.events(NS, "podinfo")
        t.check(p + "v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])

        exporter.set("podinfo-primary", 20.0, 0.0, 20)
        exporter.set("podinfo", 20.0, 0.5, 30)
        code = 'classification="failure"' if style == "linkerd" else 'response_code=~"5.*"'
        prom.wait_series("sum(rate(%s[30s])) > 5" % (total % ("," + code)), 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch(("Failed",), 180)
        t.check(p + "v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check(p + "v3: weights 100/0, canary never above 10", weights() == (100, 0) and
                max(seen or [0]) <= 10, (weights(), seen))
        t.check(p + "v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check(p + "v3: events Halt ... success rate, Rolling back",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e])

        rv = c.get_api(path)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"match":[{"headers":{"x-canary":{"exact":"insider"}}}]}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and
                    "provider %s cannot route requests by header" % provider in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check(p + "match: Warning event naming analysis.match", w and "(analysis.match" in w[0]["message"], w)
        t.check(p + "match: TrafficSplit not written", c.get_api(path)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check(p + "canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check(p + "the ClusterRole allows every request canaryd made (TrafficSplits too)",
                not denied and ("split.smi-spec.io", "trafficsplits", "update") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()


def main():
    t = Checker()
    run(t, "linkerd", "split.smi-spec.io_trafficsplits.yaml", "v1alpha1", "linkerd")
    run(t, "osm", "split.smi-spec.io_trafficsplits.osm.yaml", "v1alpha2", "osm")
    t.finish()


if __name__ == "__main__":
    main()
