"""test_kube_contour_canary.py - progressive delivery behind Contour
(provider contour, Flagger's Contour tutorial) end to end on the fake
cluster with Contour's real HTTPProxy CRD installed:

1. podinfo v1, the user's root HTTPProxy (virtual host app.example.com
   including `podinfo`) and the tutorial's Canary (timeout 15s, 3 retries
   on 5xx) -> Initialized, with the HTTPProxy `podinfo`: one route on "/",
   podinfo-primary at 100 and podinfo-canary at 0, each setting Linkerd's
   l5d-dst-override header, the tutorial's timeout and retry policies,
   spec.ingressClassName from -ingress-class, owned by the Canary, valid
   against the CRD (validate_crd.py: the fake API server's structural
   walker and python3-jsonschema); the root proxy never written;
2. v2 with healthy metrics (Envoy's envoy_cluster_upstream_rq series named
   as Contour names its clusters, <ns>_<service>_<port>, in a real
   Prometheus; the primary's cluster answers 5 % errors, which the builtin
   queries must leave out) -> the services' weights step 10 ... 50 ->
   Succeeded and back to 100/0;
3. v3 failing its metrics (50 % errors on the canary's cluster) -> rolled
   back: 100/0, Failed, the primary still on v2;
4. the Canary edited to ask for session affinity -> a Warning event saying
   Contour cannot, nothing written;
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
CONTOUR_CRD = os.path.join(SHARED, "conformance/crds/contour/projectcontour.io_httpproxies.yaml")
PROXY_PATH = "/apis/projectcontour.io/v1/namespaces/%s/httpproxies/%s"

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
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata:
  name: podinfo-ingress
  namespace: test
spec:
  virtualhost:
    fqdn: app.example.com
  includes:
    - name: podinfo
      namespace: test
      conditions:
        - prefix: /
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: contour
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 80
    targetPort: 9898
    timeout: 15s
    retries:
      attempts: 3
      perTryTimeout: 5s
      retryOn: "5xx"
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


class ContourEnvoyExporter(RateExporter):
    """Envoy's upstream series of the clusters Contour makes for
    podinfo-primary and podinfo-canary (envoy_cluster_name
    <ns>_<service>_<port>, Contour's stat name): counters growing at rps,
    err of them 5xx, every request taking latency_ms."""

    BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
    HEADER = ["# TYPE envoy_cluster_upstream_rq counter",
              "# TYPE envoy_cluster_upstream_rq_time histogram"]

    def series(self, name, n, errs, lat):
        lab = 'envoy_cluster_name="%s",kubernetes_namespace="projectcontour",pod="envoy-x2k4p"' % name
        return (['envoy_cluster_upstream_rq{%s,envoy_response_code="200"} %.3f' % (lab, n - errs),
                 'envoy_cluster_upstream_rq{%s,envoy_response_code="503"} %.3f' % (lab, errs)] +
                histogram("envoy_cluster_upstream_rq_time", lab, n, lat, self.BUCKETS))


def proxy(c, name="podinfo"):
    return c.get_api(PROXY_PATH % (NS, name))


def weights(c):
    """(primary, canary) weights of the HTTPProxy's first route."""
    p = proxy(c)
    try:
        w = {s["name"]: s.get("weight") for s in p["spec"]["routes"][0]["services"]}
    except (TypeError, KeyError, IndexError):
        return None
    return w.get("podinfo-primary"), w.get("podinfo-canary")


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    return watch_phases(c, NS, "podinfo", lambda: (weights(c) or (None, None))[1], until, timeout)


def main():
    t = Checker()
    c = Cluster("--crd", CONTOUR_CRD)
    exporter = ContourEnvoyExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the tutorial's objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        root_rv = proxy(c, "podinfo-ingress")["metadata"]["resourceVersion"]
        c.start_operator("-mesh-provider", "contour", "-ingress-class", "contour",
                         "-metrics-server", prom.url, "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        p = proxy(c) or {}
        spec = p.get("spec", {})
        routes = spec.get("routes") or [{}]
        t.check("HTTPProxy podinfo created with one route on /", len(routes) == 1 and
                routes[0].get("conditions") == [{"prefix": "/"}], spec)
        t.check("weights: podinfo-primary 100, podinfo-canary 0", weights(c) == (100, 0), weights(c))
        svcs = routes[0].get("services") or [{}, {}]
        t.check("services on port 80, each setting l5d-dst-override to itself",
                [(s.get("name"), s.get("port"), s.get("requestHeadersPolicy")) for s in svcs] ==
                [("podinfo-primary", 80, {"set": [{"name": "l5d-dst-override",
                                                    "value": "podinfo-primary.test.svc.cluster.local:80"}]}),
                 ("podinfo-canary", 80, {"set": [{"name": "l5d-dst-override",
                                                   "value": "podinfo-canary.test.svc.cluster.local:80"}]})],
                svcs)
        t.check("timeout 15s (idle 5m), 3 retries of 5s on 5xx",
                routes[0].get("timeoutPolicy") == {"response": "15s", "idle": "5m"} and
                routes[0].get("retryPolicy") == {"count": 3, "perTryTimeout": "5s", "retryOn": ["5xx"]},
                routes[0])
        t.check("spec.ingressClassName from -ingress-class", spec.get("ingressClassName") == "contour", spec)
        owner = (p.get("metadata", {}).get("ownerReferences") or [{}])[0]
        t.check("HTTPProxy owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        ok, out = c.validate([p], CONTOUR_CRD)
        t.check("HTTPProxy valid against the projectcontour.io CRD", ok, out)
        t.check("the user's root HTTPProxy was not written",
                proxy(c, "podinfo-ingress")["metadata"]["resourceVersion"] == root_rv)

        # 2. v2 with healthy metrics; the primary's cluster answers 5 % errors
        exporter.set("test_podinfo-primary_80", 20.0, 0.05, 20)
        exporter.set("test_podinfo-canary_80", 20.0, 0.0, 30)
        t.check("Prometheus scrapes the canary cluster's series",
                prom.wait_series('count_over_time(envoy_cluster_upstream_rq{envoy_cluster_name='
                                 '"test_podinfo-canary_80"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: weights back to 100/0", weights(c) == (100, 0), weights(c))
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])
        ok, out = c.validate([proxy(c)], CONTOUR_CRD)
        t.check("v2: HTTPProxy still valid against the CRD", ok, out)

        # 3. v3 failing its metrics
        exporter.set("test_podinfo-primary_80", 20.0, 0.0, 20)
        exporter.set("test_podinfo-canary_80", 20.0, 0.5, 30)
        prom.wait_series('sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name="test_podinfo-canary_80",'
                         'envoy_response_code=~"5.*"}[30s])) > 5', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: weights back to 100/0, canary never above 10", weights(c) == (100, 0) and
                max(seen or [0]) <= 10, (weights(c), seen))
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])

        # 4. session affinity asked for: refused with a Warning event
        rv = proxy(c)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"sessionAffinity":{"cookieName":"canary-session"}}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and
                    "provider contour cannot pin sessions to the canary" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("sessionAffinity: Warning event \"provider contour cannot pin sessions to the canary\"",
                w and "(analysis.sessionAffinity)" in w[0]["message"], w)
        t.check("sessionAffinity: HTTPProxy not written", proxy(c)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (HTTPProxies too)",
                not denied and ("projectcontour.io", "httpproxies", "update") in used and
                ("projectcontour.io", "httpproxies", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
