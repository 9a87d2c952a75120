"""test_kube_istio_canary.py - progressive delivery through Istio end to end
on the fake cluster with Istio 1.30's CRDs installed and a stand-in Istio
data plane (istio_env.py) that routes real HTTP requests by the
VirtualServices canaryd writes. canaryd kube runs without -mesh-provider:
istio is its default, as Flagger's, and the Canary sets no provider.

1. podinfo v1 and its Canary (kubectl apply) -> Initialized: the
   DestinationRules podinfo-canary and podinfo-primary with the Canary's
   trafficPolicy, the VirtualService podinfo (hosts app.example.com and
   podinfo, the Canary's gateway, retries and timeout) at 100/0, owned by
   the Canary, and every request answered by podinfo-primary (v1);
2. v2 with healthy Istio metrics (istio_requests_total and
   istio_request_duration_milliseconds of the destination workload in a
   real Prometheus, Flagger's builtin queries) -> the VirtualService's
   weights step 10, 20, 30, 40, 50 -> Succeeded; at 30 requests are split
   by the weights; an annotation another controller puts on the
   VirtualService is kept;
3. v3 whose Istio metrics fail (50 % 5xx) -> rolled back: 100/0, Failed,
   every request answered by v2;
4. side by side: a Canary whose VirtualService the user created (no owner
   reference) and which does not set revertOnDeletion is halted with a
   Warning event saying so, and nothing is written (no Service, primary or
   DestinationRule; the user's VirtualService untouched); one with revertOnDeletion takes
   the user's VirtualService over (its spec kept in
   flagger.kubernetes.io/original-configuration) and gives it back when the
   Canary is deleted;
5. bad input, side by side, each a Warning event, the status condition
   Accepted=False naming the reason, and nothing written: a Canary whose
   spec.service.gateways names a Gateway that does not exist (once the
   Gateway is created, it is Initialized and the condition goes), one whose
   analysis.match is not a match (a header without a name, which the CRD
   lets through), and the user's VirtualService of 4 (reason RouterRefused);
   one whose two session affinity cookies have the same name, which
   canaryd cannot read at all (reason InvalidSpec).
Every VirtualService and DestinationRule version canaryd wrote is valid
against Istio's CRDs, and every request canaryd made is allowed by
deploy/kubernetes's ClusterRole.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, Prometheus, image_of, rbac_check, wait_until  # noqa: E402
from istio_env import (GROUP, IstioExporter, StandInMesh, destinationrule, istio_crd_args,  # noqa: E402
                       virtualservice, vs_errors, vs_weights)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
V1, V2, V3 = IMAGE + ":6.0.0", IMAGE + ":6.0.1", IMAGE + ":6.0.2"
HOST = "app.example.com"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: %(ns)s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: %(ns)s, labels: {app: podinfo}}
spec:
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports: [{name: http, containerPort: 9898}]
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service:
    port: 9898
    targetPort: 9898
    gateways: [public-gateway.istio-system.svc.cluster.local]
    hosts: [app.example.com]
    timeout: 30s
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure,refused-stream"}
    trafficPolicy:
      tls: {mode: ISTIO_MUTUAL}
      outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s,
                         splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
    - {name: request-duration, thresholdRange: {max: 500}, interval: 30s}
"""

USER_VS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: %(ns)s}
spec:
  hosts: [podinfo]
  http:
  - route:
    - destination: {host: podinfo}
"""

GATEWAY = """
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: %(name)s, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"""

GW_CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: gw}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898, gateways: [istio-system/late-gateway], hosts: [late.example.com]}
  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}
"""

BAD_MATCH = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: bad}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    iterations: 5
    match:
    - headers: {"": {exact: insider}}
"""

SAME_COOKIES = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: dup}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: flagger-cookie}
"""

SMALL = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: %(ns)s}
spec:
  provider: istio
  revertOnDeletion: %(revert)s
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}
"""


def served(mesh, n, host=HOST):
    out = {}
    for _ in range(n):
        code, body, _ = mesh.request(host, "/")
        key = body.get("image") if code == 200 else "HTTP %d" % code
        out[key] = out.get(key, 0) + 1
    return out


def refused(c, ns, reason):
    """The message of the canary's Accepted=False condition with that
    reason ("" when there is none; reason None: any Accepted condition)."""
    for cond in ((c.canary(ns, "podinfo") or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Accepted" and cond.get("status") == "False" and \
                reason in (None, cond.get("reason")):
            return cond.get("message", "")
    return ""


def main():
    t = Checker()
    c = Cluster(*istio_crd_args())
    exporter = IstioExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    mesh = StandInMesh(c.api)
    c.extra.append(mesh)
    try:
        c.apply(GATEWAY % {"name": "public-gateway"})
        c.apply(APP % {"ns": NS})
        c.apply(CANARY)
        for ns, canary in (("gw", GW_CANARY), ("bad", BAD_MATCH), ("dup", SAME_COOKIES)):
            c.apply(APP % {"ns": ns})
            c.apply(canary)
        for ns, revert in (("own", "false"), ("rev", "true")):
            c.apply(APP % {"ns": ns})
            # kubectl create: no last-applied annotation, so canaryd keeps its own copy
            c.kubectl("create", "-f", "-", stdin=USER_VS % {"ns": ns})
            c.apply(SMALL % {"ns": ns, "revert": revert})
        c.start_operator("-metrics-server", prom.url, "-interval-override", "2s")
        t.check("canary Initialized (no provider, no -mesh-provider: istio)",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True, c.phase(NS, "podinfo"))

        # 1. the objects
        for name in ("podinfo-canary", "podinfo-primary"):
            dr = destinationrule(c, NS, name) or {}
            spec = dr.get("spec") or {}
            t.check("DestinationRule %s: host %s, the Canary's trafficPolicy" % (name, name),
                    spec.get("host") == name and spec.get("trafficPolicy", {}).get("tls") == {"mode": "ISTIO_MUTUAL"}
                    and spec["trafficPolicy"].get("outlierDetection", {}).get("splitExternalLocalOriginErrors") is True
                    and spec["trafficPolicy"]["outlierDetection"].get("consecutiveLocalOriginFailures") == 3, dr)
        vs = virtualservice(c, NS, "podinfo") or {}
        spec = vs.get("spec") or {}
        t.check("VirtualService podinfo: hosts app.example.com and podinfo, the Canary's gateway",
                spec.get("hosts") == [HOST, "podinfo"] and
                spec.get("gateways") == ["public-gateway.istio-system.svc.cluster.local"], spec)
        route = (spec.get("http") or [{}])[0]
        t.check("one HTTP route: timeout, retries, podinfo-primary 100 and podinfo-canary 0",
                len(spec.get("http") or []) == 1 and route.get("timeout") == "30s" and
                route.get("retries") == {"attempts": 3, "perTryTimeout": "1s",
                                         "retryOn": "gateway-error,connect-failure,refused-stream"} and
                [(d["destination"]["host"], d["weight"]) for d in route.get("route", [])] ==
                [("podinfo-primary", 100), ("podinfo-canary", 0)], route)
        owner = ((vs.get("metadata") or {}).get("ownerReferences") or [{}])[0]
        t.check("VirtualService owned by the Canary", owner.get("kind") == "Canary" and owner.get("controller") is True,
                owner)
        t.check("every request answered by podinfo-primary on v1",
                wait_until(lambda: served(mesh, 20) == {V1: 20}, 10), served(mesh, 20))
        short = served(mesh, 5, "podinfo.test.svc.cluster.local")
        t.check("the host podinfo (podinfo.test.svc.cluster.local in the mesh) is routed too",
                short == {V1: 5}, short)

        # 4a. the user's VirtualService without revertOnDeletion: refused, nothing written
        t.check("own: Warning event: the VirtualService is not owned by the canary",
                wait_until(lambda: any("VirtualService podinfo.own is not owned by canary podinfo" in e and
                                       "revertOnDeletion" in e for e in c.events("own", "podinfo")), 30),
                c.events("own", "podinfo"))
        t.check("own: nothing written: no Service, no primary, no DestinationRule, the user's VirtualService "
                "untouched",
                c.get("service", "own", "podinfo-canary") is None and
                c.get("deployment", "own", "podinfo-primary") is None and
                destinationrule(c, "own", "podinfo-canary") is None and
                destinationrule(c, "own", "podinfo-primary") is None and
                (virtualservice(c, "own", "podinfo") or {}).get("spec") ==
                {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]},
                virtualservice(c, "own", "podinfo"))
        t.check("own: not Initialized", c.phase("own", "podinfo") != "Initialized", c.phase("own", "podinfo"))
        t.check("own: status condition Accepted=False, RouterRefused, saying why",
                wait_until(lambda: "is not owned by canary podinfo" in refused(c, "own", "RouterRefused"), 30),
                c.canary("own", "podinfo"))

        # 5. a missing Gateway, an invalid match: refused, halted, nothing written
        t.check("gw: Warning event: the Gateway does not exist",
                wait_until(lambda: any("Gateway istio-system/late-gateway named in spec.service.gateways[0]" in e and
                                       "does not exist" in e for e in c.events("gw", "podinfo")), 30),
                c.events("gw", "podinfo"))
        t.check("gw: status condition Accepted=False, RouterRefused, naming the Gateway",
                wait_until(lambda: "Gateway istio-system/late-gateway" in refused(c, "gw", "RouterRefused"), 30),
                c.canary("gw", "podinfo"))
        t.check("bad: Warning event naming the invalid match",
                wait_until(lambda: any("analysis.match[0].headers" in e for e in c.events("bad", "podinfo")), 30),
                c.events("bad", "podinfo"))
        t.check("bad: status condition Accepted=False, RouterRefused, naming the field",
                wait_until(lambda: "analysis.match[0].headers" in refused(c, "bad", "RouterRefused"), 30),
                c.canary("bad", "podinfo"))
        t.check("dup: Warning event: the two session affinity cookies have the same name",
                wait_until(lambda: any("spec.analysis.sessionAffinity.primaryCookieName" in e
                                       for e in c.events("dup", "podinfo")), 30), c.events("dup", "podinfo"))
        t.check("dup: status condition Accepted=False, InvalidSpec (canaryd cannot read the Canary), as "
                "the event says it",
                wait_until(lambda: "spec.analysis.sessionAffinity.primaryCookieName" in refused(c, "dup", "InvalidSpec")
                           and refused(c, "dup", "InvalidSpec") in c.events("dup", "podinfo"), 30),
                c.canary("dup", "podinfo"))
        for ns in ("gw", "bad", "dup"):
            t.check("%s: nothing written: no Service, primary, DestinationRule or VirtualService" % ns,
                    c.get("service", ns, "podinfo-canary") is None and
                    c.get("deployment", ns, "podinfo-primary") is None and
                    destinationrule(c, ns, "podinfo-canary") is None and
                    virtualservice(c, ns, "podinfo") is None)
            t.check("%s: not Initialized" % ns, c.phase(ns, "podinfo") != "Initialized", c.phase(ns, "podinfo"))
        c.apply(GATEWAY % {"name": "late-gateway"})
        t.check("gw: once the Gateway exists: Initialized, the VirtualService bound to it, the condition gone",
                wait_until(lambda: c.phase("gw", "podinfo") == "Initialized" and
                           refused(c, "gw", None) == "", 60) is True and
                ((virtualservice(c, "gw", "podinfo") or {}).get("spec") or {}).get("gateways") ==
                ["istio-system/late-gateway"], c.canary("gw", "podinfo"))
        # 4b. with revertOnDeletion: taken over, the original kept
        t.check("rev: Initialized", wait_until(lambda: c.phase("rev", "podinfo") == "Initialized", 60) is True,
                c.phase("rev", "podinfo"))
        rvs = virtualservice(c, "rev", "podinfo") or {}
        orig = ((rvs.get("metadata") or {}).get("annotations") or {}).get("flagger.kubernetes.io/original-configuration")
        t.check("rev: the user's spec kept in flagger.kubernetes.io/original-configuration",
                orig and json.loads(orig) == {"hosts": ["podinfo"],
                                              "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}, rvs)
        t.check("rev: the VirtualService routes to podinfo-primary and podinfo-canary",
                vs_weights(c, "rev", "podinfo") == (0, 100), rvs)

        # 2. v2 with healthy metrics
        exporter.set_workloads(NS, {"podinfo": (20.0, 0.0, 20)})
        t.check("Prometheus scrapes istio_requests_total of the canary workload",
                prom.wait_series('count_over_time(istio_requests_total{destination_workload="podinfo",'
                                 'reporter="destination"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=" + V2)
        phases, weights, knobs = [], [], {}

        def step():
            p = c.phase(NS, "podinfo")
            w = vs_weights(c, NS, "podinfo")
            if p and (not phases or phases[-1] != p):
                phases.append(p)
            if w and (not weights or weights[-1] != w[0]):
                weights.append(w[0])
            if w and w[0] == 30 and "split" not in knobs:
                mesh.pause(True)      # the data plane keeps 70/30 while it is measured
                wait_until(lambda: False, 0.3)
                knobs["split_weights"] = vs_weights(c, NS, "podinfo")
                knobs["split"] = served(mesh, 200)
                mesh.pause(False)
                c.api.patch("/apis/%s/v1beta1/namespaces/test/virtualservices/podinfo" % GROUP,
                            {"metadata": {"annotations": {"example.com/owner-team": "web"}}})
            return p in ("Succeeded", "Failed")

        wait_until(step, 240, 0.1)
        t.check("v2: Progressing, Promoting, Succeeded",
                phases[-1:] == ["Succeeded"] and "Progressing" in phases and "Promoting" in phases, phases)
        t.check("v2: VirtualService canary weights stepped 10, 20, 30, 40, 50", weights[1:6] == [10, 20, 30, 40, 50],
                weights)
        split = knobs.get("split") or {}
        t.check("v2: at 70/30 requests split by the weights (200 requests, 30..95 to v2)",
                30 <= split.get(V2, 0) <= 95 and split.get(V2, 0) + split.get(V1, 0) == 200, knobs)
        t.check("v2: all traffic back on the primary", vs_weights(c, NS, "podinfo") == (0, 100),
                vs_weights(c, NS, "podinfo"))
        t.check("v2: podinfo-primary runs v2", image_of(c.get("deployment", NS, "podinfo-primary")) == V2)
        t.check("v2: every request answered by v2", wait_until(lambda: served(mesh, 20) == {V2: 20}, 15),
                served(mesh, 20))
        ann = ((virtualservice(c, NS, "podinfo") or {}).get("metadata") or {}).get("annotations") or {}
        t.check("v2: the annotation another controller put on the VirtualService is kept",
                ann.get("example.com/owner-team") == "web", ann)
        ev = c.events(NS, "podinfo")
        t.check("v2: events Advance weight 50, Promotion completed, no Halt",
                any("Advance podinfo.test canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down podinfo.test" in e for e in ev) and
                not any(e.startswith("Halt") for e in ev), ev)

        # 3. v3 failing its Istio metrics
        exporter.set_workloads(NS, {"podinfo": (20.0, 0.5, 20)})
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=" + V3)
        weights3 = []

        def step3():
            w = vs_weights(c, NS, "podinfo")
            if w and (not weights3 or weights3[-1] != w[0]):
                weights3.append(w[0])
            return c.phase(NS, "podinfo") == "Failed"
        t.check("v3: rolled back, Failed", wait_until(step3, 180, 0.1) is True, c.phase(NS, "podinfo"))
        t.check("v3: VirtualService back at 100/0", vs_weights(c, NS, "podinfo") == (0, 100),
                vs_weights(c, NS, "podinfo"))
        t.check("v3: the canary got traffic before the rollback", max(weights3 or [0]) >= 10, weights3)
        t.check("v3: every request answered by v2", wait_until(lambda: served(mesh, 20) == {V2: 20}, 10),
                served(mesh, 20))
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])

        # 4c. deleting the revertOnDeletion canary gives the user's VirtualService back
        c.kubectl("-n", "rev", "delete", "canary", "podinfo", "--wait=false")
        t.check("rev: the canary goes once finalized", wait_until(lambda: c.canary("rev", "podinfo") is None, 60))
        rvs = virtualservice(c, "rev", "podinfo") or {}
        t.check("rev: the user's VirtualService has its spec back",
                rvs.get("spec") == {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]}
                and "flagger.kubernetes.io/original-configuration" not in
                ((rvs.get("metadata") or {}).get("annotations") or {}), rvs)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        objs = mesh.vs_seen()
        for ns in (NS, "rev"):
            for name in ("podinfo-canary", "podinfo-primary"):
                dr = destinationrule(c, ns, name)
                if dr:
                    objs.append(dr)
        n, errs = vs_errors(c.tmp, objs)
        t.check("every VirtualService version canaryd wrote and the DestinationRules (%d) are valid against "
                "Istio's CRDs" % n, n >= 10 and not errs, errs)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (Istio objects too)",
                not denied and (GROUP, "virtualservices", "update") in used and
                (GROUP, "destinationrules", "create") in used and (GROUP, "gateways", "get") in used,
                sorted(denied))
        t.check("the stand-in mesh saw no error", not mesh.errors, mesh.errors[:5])
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
