"""test_kube_apisix_canary.py - progressive delivery behind Apache APISIX
(provider apisix, Flagger's APISIX tutorial) end to end on the fake
cluster with APISIX's real ApisixRoute CRD (apisix.apache.org/v2):

1. podinfo v1, the user's ApisixRoute `podinfo` (host app.example.com, one
   http route `method` to Service podinfo with the prometheus plugin) and
   the Canary naming it in routeRef -> Initialized, with the ApisixRoute
   `podinfo-podinfo-canary`: that http route at priority 10000 with
   backends podinfo-primary (weight 100) and podinfo-canary (weight 0),
   owned by the Canary, valid against the CRD (validate_crd.py); the
   user's route never written;
2. v2 with healthy metrics (APISIX's apisix_http_status and
   apisix_http_latency for the canary route as APISIX names it,
   <ns>_<route>_<http route>, in a real Prometheus) -> the weights step
   10 ... 50 -> Succeeded, back to 100/0;
3. v3 failing its metrics (50 % errors) -> rolled back: 100/0, Failed;
4. the Canary edited to ask for an A/B match -> a Warning event saying
   APISIX cannot, nothing written;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole. (APISIX's series cover the canary route, which serves both
backends: the builtin checks read them as Flagger does; the statistical
judge says it cannot tell the two sides apart, see docs/judge.md.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (watch_phases, SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
APISIX_CRD = os.path.join(SHARED, "conformance/crds/apisix/apisix.apache.org_apisixroutes.yaml")
ROUTE_PATH = "/apis/apisix.apache.org/v2/namespaces/%s/apisixroutes/%s"
CANARY_ROUTE = "test_podinfo-podinfo-canary_method"

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
apiVersion: apisix.apache.org/v2
kind: ApisixRoute
metadata:
  name: podinfo
  namespace: test
spec:
  ingressClassName: apisix
  http:
    - name: method
      match:
        hosts: [app.example.com]
        paths: ["/*"]
      plugins:
        - name: prometheus
          enable: true
      backends:
        - serviceName: podinfo
          servicePort: 80
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: apisix
  routeRef:
    apiVersion: apisix.apache.org/v2
    kind: ApisixRoute
    name: podinfo
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


class ApisixExporter(RateExporter):
    """APISIX's prometheus plugin series for one route: apisix_http_status
    (counter by code) and apisix_http_latency (histogram, type="request",
    milliseconds). Counters grow at rps, err of them 503."""

    BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    HEADER = ["# TYPE apisix_http_status counter", "# TYPE apisix_http_latency histogram"]

    def series(self, route, n, errs, lat):
        lab = 'consumer="",matched_host="app.example.com",matched_uri="/*",node="10.0.0.7",route="%s",service=""' % route
        lab2 = 'consumer="",node="10.0.0.7",route="%s",service="",type="request"' % route
        return (['apisix_http_status{code="200",%s} %.3f' % (lab, n - errs),
                 'apisix_http_status{code="503",%s} %.3f' % (lab, errs)] +
                histogram("apisix_http_latency", lab2, n, lat, self.BUCKETS))


def route(c, name="podinfo-podinfo-canary"):
    return c.get_api(ROUTE_PATH % (NS, name))


def weights(c):
    """(primary, canary) weights of the canary route's http route."""
    r = route(c)
    try:
        w = {b["serviceName"]: b.get("weight") for b in r["spec"]["http"][0]["backends"]}
    except (TypeError, KeyError, IndexError):
        return None
    return w.get("podinfo-primary"), w.get("podinfo-canary")


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    return watch_phases(c, NS, "podinfo", lambda: (weights(c) or (None, None))[1], until, timeout)


def main():
    t = Checker()
    c = Cluster("--crd", APISIX_CRD)
    exporter = ApisixExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        user_rv = route(c, "podinfo")["metadata"]["resourceVersion"]
        c.start_operator("-mesh-provider", "apisix", "-metrics-server", prom.url, "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        r = route(c) or {}
        http = (r.get("spec", {}).get("http") or [{}])
        t.check("ApisixRoute podinfo-podinfo-canary: the http route `method` at priority 10000",
                len(http) == 1 and http[0].get("name") == "method" and http[0].get("priority") == 10000 and
                http[0].get("match") == {"hosts": ["app.example.com"], "paths": ["/*"]}, http)
        t.check("backends podinfo-primary 100 and podinfo-canary 0 on port 80",
                http[0].get("backends") == [{"serviceName": "podinfo-primary", "servicePort": 80, "weight": 100},
                                            {"serviceName": "podinfo-canary", "servicePort": 80, "weight": 0}],
                http[0].get("backends"))
        owner = (r.get("metadata", {}).get("ownerReferences") or [{}])[0]
        t.check("canary route owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        ok, out = c.validate([r], APISIX_CRD)
        t.check("canary route valid against the apisix.apache.org CRD", ok, out)
        t.check("the user's ApisixRoute was not written",
                route(c, "podinfo")["metadata"]["resourceVersion"] == user_rv)

        # 2. v2 with healthy metrics
        exporter.set(CANARY_ROUTE, 20.0, 0.0, 30)
        t.check("Prometheus scrapes the canary route's series",
                prom.wait_series('count_over_time(apisix_http_status{route="%s"}[1m]) > 3' % CANARY_ROUTE, 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: weights 100/0", weights(c) == (100, 0), weights(c))
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check", not any(e.startswith("Halt") for e in ev),
                [e for e in ev if e.startswith("Halt")])

        # 3. v3 failing its metrics
        exporter.set(CANARY_ROUTE, 20.0, 0.5, 30)
        prom.wait_series('sum(rate(apisix_http_status{route="%s",code=~"5.."}[30s])) > 5' % CANARY_ROUTE, 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: weights 100/0, canary never above 10", weights(c) == (100, 0) and
                max(seen or [0]) <= 10, (weights(c), seen))
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e])
        ok, out = c.validate([route(c)], APISIX_CRD)
        t.check("v3: canary route still valid against the CRD", ok, out)

        # 4. an A/B match asked for: refused with a Warning event
        rv = route(c)["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"match":[{"headers":{"x-canary":{"exact":"insider"}}}]}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and
                    "provider apisix cannot route requests by header" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("match: Warning event naming analysis.match", w and "(analysis.match" in w[0]["message"], w)
        t.check("match: canary route not written", route(c)["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (ApisixRoutes too)",
                not denied and ("apisix.apache.org", "apisixroutes", "update") in used and
                ("apisix.apache.org", "apisixroutes", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
