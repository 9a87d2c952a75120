"""test_kube_gatewayapi_canary.py - progressive delivery through a Gateway
API HTTPRoute end to end (provider gatewayapi:v1), as the App Mesh seed test
does, on the fake cluster with a stand-in Gateway API implementation
(gateway_env.py) that accepts routes and routes real HTTP requests by them:

1. podinfo v1 and its Canary (kubectl apply) -> Initialized, with the
   HTTPRoute `podinfo` at 100/0 attached to the Gateway, accepted, and
   requests through the gateway answered by podinfo-primary (v1);
2. v2 with healthy metrics (the application's http_request_duration_seconds
   in a real Prometheus, the builtin queries of reference §3.3) -> the
   HTTPRoute's weights step 10, 20, 30, 40, 50 -> Succeeded. On the way the
   gateway first refuses the route (Accepted False) and later stops
   observing it (a stale observedGeneration): each time the analysis halts
   with "parent ... is not ready" and the weight stays where it is, while
   requests keep being split by the accepted weights; it resumes when the
   route is accepted again;
3. v3 failing its metrics (50 % errors) -> rolled back: HTTPRoute at 100/0,
   Failed, every request answered by v2;
and every HTTPRoute version canaryd wrote is valid against the HTTPRoute
CRD (structure and CEL rules), every request canaryd made is allowed by
deploy/kubernetes's ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, Prometheus, image_of, rbac_check, wait_until  # noqa: E402
from gateway_env import (HTTPROUTE_CRD, AppExporter, StandInGateway, httproute,  # noqa: E402
                         route_errors, route_weights)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
HOST = "app.example.com"

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
  minReadySeconds: 5
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy:
    rollingUpdate: {maxUnavailable: 0}
    type: RollingUpdate
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9797"}
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports:
        - {name: http, containerPort: 9898, protocol: TCP}
        - {name: http-metrics, containerPort: 9797, protocol: TCP}
        command: [./podinfo, --port=9898, --port-metrics=9797]
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: gatewayapi:v1
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
    targetPort: 9898
    hosts:
      - app.example.com
    gatewayRefs:
      - name: public-gateway
        namespace: gateway
    timeout: 30s
  analysis:
    interval: 1m
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


def served_images(gw, n, headers=None):
    """{image: count} of n requests through the gateway."""
    out = {}
    for _ in range(n):
        code, body, _ = gw.request(HOST, "/", headers)
        key = body.get("image") if code == 200 else "HTTP %d" % code
        out[key] = out.get(key, 0) + 1
    return out


def accepted_now(c):
    """The stand-in gateway accepted the route's current generation."""
    r = httproute(c, NS, "podinfo") or {}
    gen = (r.get("metadata") or {}).get("generation")
    for p in (r.get("status") or {}).get("parents") or []:
        for cond in p.get("conditions") or []:
            if cond["type"] == "Accepted" and cond["status"] == "True" and cond["observedGeneration"] == gen:
                return True
    return False


def main():
    t = Checker()
    c = Cluster("--crd", HTTPROUTE_CRD)
    exporter = AppExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    gw = StandInGateway(c.api, gateways={("gateway", "public-gateway")})
    c.extra.append(gw)
    try:
        # 1. v1 and the Canary
        c.apply(APP)
        c.apply(CANARY)
        c.start_operator("-metrics-server", prom.url, "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        route = httproute(c, NS, "podinfo") or {}
        spec = route.get("spec") or {}
        t.check("HTTPRoute podinfo attached to gateway/public-gateway for app.example.com",
                spec.get("parentRefs") == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "public-gateway", "namespace": "gateway"}] and
                spec.get("hostnames") == [HOST], spec)
        rule = (spec.get("rules") or [{}])[0]
        t.check("one rule: prefix /, 30s request timeout, podinfo-primary 100 and podinfo-canary 0 on port 9898",
                len(spec.get("rules") or []) == 1 and
                rule.get("matches") == [{"path": {"type": "PathPrefix", "value": "/"}}] and
                rule.get("timeouts") == {"request": "30s"} and
                [(b["name"], b["port"], b["weight"]) for b in rule.get("backendRefs", [])] ==
                [("podinfo-primary", 9898, 100), ("podinfo-canary", 9898, 0)], rule)
        owner = ((route.get("metadata") or {}).get("ownerReferences") or [{}])[0]
        t.check("HTTPRoute owned by the Canary", owner.get("kind") == "Canary" and owner.get("name") == "podinfo"
                and owner.get("controller") is True, owner)
        ann = (route.get("metadata") or {}).get("annotations") or {}
        t.check("HTTPRoute carries the Flux opt-out annotations",
                ann.get("kustomize.toolkit.fluxcd.io/reconcile") == "disabled" and
                ann.get("helm.toolkit.fluxcd.io/driftDetection") == "disabled", ann)
        t.check("the gateway accepted the route's generation",
                wait_until(lambda: (((httproute(c, NS, "podinfo") or {}).get("status") or {}).get("parents") or
                                    [{}])[0].get("conditions", [{}])[0].get("observedGeneration") ==
                           httproute(c, NS, "podinfo")["metadata"]["generation"], 10))
        seen = served_images(gw, 20)
        t.check("every request through the gateway answered by podinfo-primary on v1",
                seen == {IMAGE + ":6.0.0": 20}, seen)
        target = c.get("deployment", NS, "podinfo")
        t.check("podinfo scaled to zero", target["spec"].get("replicas") == 0, target["spec"].get("replicas"))

        # 2. v2 with healthy metrics; the gateway refuses the route at 20, stops observing it at 40
        exporter.set_pods(NS, {"podinfo-6b8f9c7d54-v2pod": (20.0, 0.0, 0.02)})
        t.check("Prometheus scrapes the canary's http_request_duration_seconds",
                prom.wait_series('count_over_time(http_request_duration_seconds_count{kubernetes_pod_name='
                                 '"podinfo-6b8f9c7d54-v2pod"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, weights, knobs = [], [], {}

        def step():
            p = c.phase(NS, "podinfo")
            w = route_weights(c, NS, "podinfo")
            if p and (not phases or phases[-1] != p):
                phases.append(p)
            if w and (not weights or weights[-1] != w[0]):
                weights.append(w[0])
            if w and w[0] == 20 and "refused" not in knobs and wait_until(lambda: accepted_now(c), 5):
                before = set(c.events(NS, "podinfo"))
                gw.set_accept(False)
                knobs["refused"] = True
                ok = wait_until(lambda: any("parent public-gateway is not ready (status: False" in e
                                            for e in set(c.events(NS, "podinfo")) - before), 15)
                knobs["refused_event"] = bool(ok)
                knobs["refused_split"] = served_images(gw, 200)
                knobs["refused_weight"] = route_weights(c, NS, "podinfo")
                gw.set_accept(True)
            if w and w[0] == 30 and "edited" not in knobs:
                # another controller annotates the route, the user adds a host name to the Canary
                c.api.patch("/apis/gateway.networking.k8s.io/v1/namespaces/test/httproutes/podinfo",
                            {"metadata": {"annotations": {"application-networking.k8s.aws/lattice-assigned-domain-name":
                                                          "podinfo-test.lattice.example"}}})
                c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type", "merge", "-p",
                          '{"spec":{"service":{"hosts":["app.example.com","www.example.com"]}}}')
                knobs["edited"] = True
                wait_until(lambda: (httproute(c, NS, "podinfo") or {}).get("spec", {}).get("hostnames") ==
                           [HOST, "www.example.com"], 10)
                r = httproute(c, NS, "podinfo") or {}
                knobs["edited_route"] = (r.get("spec", {}).get("hostnames"), route_weights(c, NS, "podinfo"),
                                         (r.get("metadata", {}).get("annotations") or {}).get(
                                             "application-networking.k8s.aws/lattice-assigned-domain-name"))
            if w and w[0] == 40 and "paused" not in knobs and wait_until(lambda: accepted_now(c), 5):
                # the gateway observed 40; frozen now, it never observes canaryd's next write (50)
                before = set(c.events(NS, "podinfo"))
                gw.pause(True)
                knobs["paused"] = True
                ok = wait_until(lambda: any("current generation" in e and "observed generation" in e
                                            and "status: True" in e for e in set(c.events(NS, "podinfo")) - before),
                                15)
                knobs["paused_event"] = bool(ok)
                knobs["paused_weight"] = route_weights(c, NS, "podinfo")
                knobs["paused_phase"] = c.phase(NS, "podinfo")
                gw.pause(False)
            return p in ("Succeeded", "Failed")

        wait_until(step, 240, 0.1)
        t.check("v2: Progressing, Promoting, Finalising, Succeeded",
                phases[-1:] == ["Succeeded"] and "Progressing" in phases and "Promoting" in phases, phases)
        t.check("v2: HTTPRoute canary weights stepped 10, 20, 30, 40, 50", weights[1:6] == [10, 20, 30, 40, 50],
                weights)
        t.check("v2: while the gateway refused the route the analysis halted (warning event)",
                knobs.get("refused_event") is True, knobs)
        t.check("v2: ... and the weight stayed at 20", knobs.get("refused_weight") == (20, 80), knobs)
        split = knobs.get("refused_split") or {}
        canary_share = split.get(IMAGE + ":6.0.1", 0)
        t.check("v2: requests split 80/20 by the accepted route (200 requests, 15..70 to v2)",
                15 <= canary_share <= 70 and canary_share + split.get(IMAGE + ":6.0.0", 0) == 200, split)
        t.check("v2: while the gateway had not observed the route's generation the analysis halted",
                knobs.get("paused_event") is True, knobs)
        t.check("v2: ... and the release did not go past the unobserved write (50, still Progressing)",
                knobs.get("paused_weight") == (50, 50) and knobs.get("paused_phase") == "Progressing", knobs)
        hosts, eweights, foreign = knobs.get("edited_route") or (None, None, None)
        t.check("v2: a host name added to the Canary mid-release reaches the route",
                hosts == [HOST, "www.example.com"], knobs.get("edited_route"))
        t.check("v2: ... without resetting its weights (canary still >= 30)",
                eweights is not None and eweights[0] >= 30, knobs.get("edited_route"))
        t.check("v2: ... and the annotation another controller put on the route is kept",
                foreign == "podinfo-test.lattice.example", knobs.get("edited_route"))
        t.check("v2: all traffic back on the primary", route_weights(c, NS, "podinfo") == (0, 100),
                route_weights(c, NS, "podinfo"))
        t.check("v2: podinfo-primary runs v2", image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        t.check("v2: every request through the gateway answered by v2",
                wait_until(lambda: served_images(gw, 20) == {IMAGE + ":6.0.1": 20}, 15),
                served_images(gw, 20))
        ev = c.events(NS, "podinfo")
        t.check("v2: events Advance weight 50, Promotion completed",
                any("Advance podinfo.test canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down podinfo.test" in e for e in ev), ev)
        t.check("v2: no failed metric check", not any(e.startswith("Halt") for e in ev),
                [e for e in ev if e.startswith("Halt")])

        # 3. v3 failing its metrics
        exporter.set_pods(NS, {"podinfo-5c9d7f8b6-v3pod": (20.0, 0.5, 0.02)})
        prom.wait_series('count_over_time(http_request_duration_seconds_count{kubernetes_pod_name='
                         '"podinfo-5c9d7f8b6-v3pod"}[1m]) > 3', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        weights3 = []

        def step3():
            w = route_weights(c, NS, "podinfo")
            if w and (not weights3 or weights3[-1] != w[0]):
                weights3.append(w[0])
            return c.phase(NS, "podinfo") == "Failed"
        t.check("v3: rolled back, Failed", wait_until(step3, 180, 0.1) is True, c.phase(NS, "podinfo"))
        t.check("v3: HTTPRoute back at 100/0", route_weights(c, NS, "podinfo") == (0, 100),
                route_weights(c, NS, "podinfo"))
        t.check("v3: canary weight never above 10", max(weights3 or [0]) <= 10, weights3)
        t.check("v3: podinfo-primary still runs v2",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        t.check("v3: every request answered by v2", served_images(gw, 20) == {IMAGE + ":6.0.1": 20})
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, threshold reached, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])
        m = c.metrics()
        t.check("/metrics: flagger_canary_status 2 (Failed), one success and one failure",
                'flagger_canary_status{name="podinfo",namespace="test"} 2' in m and
                'flagger_canary_successes_total{name="podinfo",namespace="test",deployment_strategy="canary",'
                'analysis_status="completed"} 1' in m and
                'flagger_canary_failures_total{name="podinfo",namespace="test",deployment_strategy="canary",'
                'analysis_status="completed"} 1' in m,
                [line for line in m.splitlines() if "podinfo" in line])

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        n, errs = route_errors(c.tmp, gw.routes_seen())
        t.check("every HTTPRoute version canaryd wrote (%d) is valid against the CRD and its CEL rules" % n,
                n >= 8 and not errs, errs)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (HTTPRoutes too)",
                not denied and ("gateway.networking.k8s.io", "httproutes", "update") in used and
                ("gateway.networking.k8s.io", "httproutes", "create") in used, sorted(denied))
        t.check("the stand-in gateway saw no error", not gw.errors, gw.errors[:5])
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
