"""test_kube_gloo_canary.py - progressive delivery behind Gloo Edge
(provider gloo, Flagger's Gloo tutorial) end to end on the fake cluster
with Gloo's real RouteTable (gateway.solo.io) and Upstream (gloo.solo.io)
CRDs installed:

1. podinfo v1, a config Upstream `podinfo-config` (round-robin load
   balancing, 2 connections per host ... as the tutorial's upstreamRef)
   and the tutorial's Canary -> Initialized, with the Upstreams
   test-podinfo-primaryupstream-9898 and test-podinfo-canaryupstream-9898
   (kube: the -primary/-canary Service, port 9898, the Service's pod
   selector; the config's loadBalancerConfig and connectionConfig copied)
   and the RouteTable `podinfo`: one route inheriting the parent's path
   matchers, weighted destinations primary 100 / canary 0; all owned by
   the Canary, valid against the CRDs (validate_crd.py: the fake API
   server's structural walker and python3-jsonschema);
2. v2 with healthy metrics (Envoy's envoy_cluster_upstream_rq series named
   as Gloo names its clusters, <upstream>_<namespace>, in a real
   Prometheus; the primary's cluster answers 5 % errors, which the builtin
   queries must leave out) -> the destinations' weights step 10 ... 50,
   the primary's always 100 minus the canary's -> Succeeded and back to
   100/0;
3. v3 failing its metrics (50 % errors on the canary's cluster) -> rolled
   back: 100/0, Failed, the primary still on v2;
4. the Canary edited to run an A/B test on a header -> the RouteTable gets
   a route matching the header before the route of every other request,
   still valid against the CRD;
5. the Canary edited to ask for session affinity -> a Warning event saying
   Gloo cannot, nothing written;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole. (The VirtualService that delegates to the RouteTable is the
user's and Gloo's; its CRD is not among the conformance data, and canaryd
never reads or writes it.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (watch_phases, SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
GLOO_CRDS = os.path.join(SHARED, "conformance/crds/gloo")
RT_CRD = os.path.join(GLOO_CRDS, "gateway.solo.io_routetables.yaml")
US_CRD = os.path.join(GLOO_CRDS, "gloo.solo.io_upstreams.yaml")
RT_PATH = "/apis/gateway.solo.io/v1/namespaces/%s/routetables/%s"
US_PATH = "/apis/gloo.solo.io/v1/namespaces/%s/upstreams/%s"
PRIMARY_US = "test-podinfo-primaryupstream-9898"
CANARY_US = "test-podinfo-canaryupstream-9898"

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
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata:
  name: podinfo-config
  namespace: test
spec:
  loadBalancerConfig:
    roundRobin: {}
  connectionConfig:
    maxRequestsPerConnection: 100
  healthChecks:
  - timeout: 1s
    interval: 10s
    healthyThreshold: 1
    unhealthyThreshold: 2
    httpHealthCheck: {path: /healthz}
  static:
    hosts:
    - {addr: podinfo.example.com, port: 80}
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: gloo
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  upstreamRef:
    apiVersion: gloo.solo.io/v1
    kind: Upstream
    name: podinfo-config
  progressDeadlineSeconds: 60
  service:
    port: 9898
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


class GlooEnvoyExporter(RateExporter):
    """Envoy's upstream series of the clusters Gloo makes for the two
    Upstreams (envoy_cluster_name <upstream>_<namespace>): counters growing
    at rps, err of them 5xx, every request taking latency_ms."""

    BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
    HEADER = ["# TYPE envoy_cluster_upstream_rq counter",
              "# TYPE envoy_cluster_upstream_rq_time histogram"]

    def series(self, name, n, errs, lat):
        lab = 'envoy_cluster_name="%s",namespace="gloo-system",pod="gateway-proxy-7d9c"' % name
        return (['envoy_cluster_upstream_rq{%s,envoy_response_code="200"} %.3f' % (lab, n - errs),
                 'envoy_cluster_upstream_rq{%s,envoy_response_code="503"} %.3f' % (lab, errs)] +
                histogram("envoy_cluster_upstream_rq_time", lab, n, lat, self.BUCKETS))


def routetable(c):
    return c.get_api(RT_PATH % (NS, "podinfo"))


def upstream(c, name):
    return c.get_api(US_PATH % (NS, name))


def weights(c, route=0):
    """(primary, canary) weights of the RouteTable's route `route`."""
    rt = routetable(c)
    try:
        ds = rt["spec"]["routes"][route]["routeAction"]["multi"]["destinations"]
        w = {d["destination"]["upstream"]["name"]: d.get("weight", 0) for d in ds}
    except (TypeError, KeyError, IndexError):
        return None
    return w.get(PRIMARY_US), w.get(CANARY_US)


def main():
    t = Checker()
    c = Cluster("--crd", RT_CRD, "--crd", US_CRD)
    exporter = GlooEnvoyExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    pairs = []   # every (primary, canary) pair seen while stepping

    def canary_weight():
        w = weights(c)
        if w and w not in pairs:
            pairs.append(w)
        return w[1] if w else None

    try:
        # 1. the tutorial's objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        c.start_operator("-mesh-provider", "gloo", "-metrics-server", prom.url,
                         "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        rt = routetable(c) or {}
        t.check("RouteTable podinfo: one route inheriting the parent's paths, primary 100, canary 0",
                rt.get("spec") == {"routes": [{"inheritablePathMatchers": True, "routeAction": {"multi": {
                    "destinations": [
                        {"destination": {"upstream": {"name": PRIMARY_US, "namespace": "test"}}, "weight": 100},
                        {"destination": {"upstream": {"name": CANARY_US, "namespace": "test"}}, "weight": 0}]}}}]},
                rt.get("spec"))
        pus, cus = upstream(c, PRIMARY_US) or {}, upstream(c, CANARY_US) or {}
        t.check("Upstream %s: kube podinfo-primary.test:9898, the Service's selector" % PRIMARY_US,
                pus.get("spec", {}).get("kube") == {"serviceName": "podinfo-primary", "serviceNamespace": "test",
                                                     "servicePort": 9898,
                                                     "selector": {"app": "podinfo-primary"}},
                pus.get("spec"))
        t.check("Upstream %s: kube podinfo-canary.test:9898, the Service's selector" % CANARY_US,
                cus.get("spec", {}).get("kube") == {"serviceName": "podinfo-canary", "serviceNamespace": "test",
                                                     "servicePort": 9898, "selector": {"app": "podinfo"}},
                cus.get("spec"))
        t.check("both Upstreams copy upstreamRef's load balancing and connection settings, not its "
                "health checks or static hosts",
                all(u.get("spec", {}).get("loadBalancerConfig") == {"roundRobin": {}} and
                    u["spec"].get("connectionConfig") == {"maxRequestsPerConnection": 100} and
                    "healthChecks" not in u["spec"] and "static" not in u["spec"] for u in (pus, cus)),
                (pus.get("spec"), cus.get("spec")))
        for name, o in (("RouteTable", rt), ("primary Upstream", pus), ("canary Upstream", cus)):
            owner = (o.get("metadata", {}).get("ownerReferences") or [{}])[0]
            t.check("%s owned by the Canary" % name, owner.get("kind") == "Canary" and
                    owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        ok, out = c.validate([rt, pus, cus], GLOO_CRDS)
        t.check("RouteTable and Upstreams valid against Gloo's CRDs", ok, out)

        # 2. v2 with healthy metrics; the primary's cluster answers 5 % errors
        exporter.set(PRIMARY_US + "_test", 20.0, 0.05, 20)
        exporter.set(CANARY_US + "_test", 20.0, 0.0, 30)
        t.check("Prometheus scrapes the canary cluster's series",
                prom.wait_series('count_over_time(envoy_cluster_upstream_rq{envoy_cluster_name='
                                 '"%s_test"}[1m]) > 3' % CANARY_US, 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_phases(c, NS, "podinfo", canary_weight, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: at each step the primary had the rest (100/0, 90/10, ... 50/50)",
                pairs == [(100, 0), (90, 10), (80, 20), (70, 30), (60, 40), (50, 50)], pairs)
        t.check("v2: weights back to 100/0", weights(c) == (100, 0), weights(c))
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])
        ok, out = c.validate([routetable(c)], GLOO_CRDS)
        t.check("v2: RouteTable still valid against the CRD", ok, out)

        # 3. v3 failing its metrics
        exporter.set(PRIMARY_US + "_test", 20.0, 0.0, 20)
        exporter.set(CANARY_US + "_test", 20.0, 0.5, 30)
        prom.wait_series('sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name="%s_test",'
                         'envoy_response_code=~"5.*"}[30s])) > 5' % CANARY_US, 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_phases(c, NS, "podinfo", lambda: (weights(c) or (None, None))[1],
                                    ("Failed",), 180)
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

        # 4. an A/B test on a header: its own route first, every other request after
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"maxWeight":null,"stepWeight":null,"iterations":5,'
                  '"match":[{"headers":{"x-canary":{"exact":"insider"}}}]}}}')

        def ab_routes():
            r = (routetable(c) or {}).get("spec", {}).get("routes") or []
            return r if len(r) == 2 else None
        routes = wait_until(ab_routes, 30, 0.2) or []
        t.check("A/B: the first route matches x-canary: insider, the second has no matcher",
                len(routes) == 2 and routes[0].get("matchers") == [{"headers": [{"name": "x-canary",
                                                                                  "value": "insider"}]}] and
                "matchers" not in routes[1], routes)
        t.check("A/B: both at 100/0 until an analysis starts", weights(c, 0) == (100, 0) and
                weights(c, 1) == (100, 0), (weights(c, 0), weights(c, 1)))
        ok, out = c.validate([routetable(c)], GLOO_CRDS)
        t.check("A/B: RouteTable valid against the CRD", ok, out)

        # 5. session affinity asked for: refused with a Warning event
        rv = routetable(c)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"sessionAffinity":{"cookieName":"canary-session"}}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and
                    "provider gloo cannot pin sessions to the canary" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("sessionAffinity: Warning event \"provider gloo cannot pin sessions to the canary\"",
                w and "(analysis.sessionAffinity)" in w[0]["message"], w)
        t.check("sessionAffinity: RouteTable not written", routetable(c)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (RouteTables and "
                "Upstreams too)",
                not denied and ("gateway.solo.io", "routetables", "update") in used and
                ("gateway.solo.io", "routetables", "create") in used and
                ("gloo.solo.io", "upstreams", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
