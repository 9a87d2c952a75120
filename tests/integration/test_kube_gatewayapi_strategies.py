"""test_kube_gatewayapi_strategies.py - A/B testing, blue/green with
mirroring and session affinity through a Gateway API HTTPRoute, end to end
on the fake cluster with the stand-in Gateway API implementation of
gateway_env.py routing real requests. Four Canaries run side by side, one
per namespace, each releasing podinfo 6.0.0 -> 6.0.1 with healthy metrics:

- ab (provider gatewayapi:v1beta1, iterations with a header match): while
  the analysis runs, requests with `x-canary: insider` reach v2 and the
  others v1; the route is written through the v1beta1 API -> Succeeded;
- bg (blue/green, analysis.mirror): while the analysis runs, v1 answers
  every request and a RequestMirror filter copies each one to v2; at the
  last iteration all traffic goes to v2, unmirrored -> Succeeded;
- mc (the canary strategy with analysis.mirror): one mirror step at weight
  0 (v1 answers, v2 gets copies), then the weights 25 and 50 unmirrored
  -> Succeeded (Flagger's router never mirrors for this strategy, and its
  analysis stays at the mirror step);
- sa (session affinity, cookie and primary cookie): a client that drew the
  canary gets the canary cookie and sticks to v2 with it, a client that
  drew the primary sticks to v1 with the primary cookie; on promotion the
  canary cookie moves to status.previousSessionAffinityCookie and a request
  carrying it is answered (by the promoted primary) with the cookie
  expired (Max-Age=-1) -> Succeeded.
Every HTTPRoute version canaryd wrote is valid against the CRD (structure
and CEL rules).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, Prometheus, wait_until  # noqa: E402
from gateway_env import (HTTPROUTE_CRD, AppExporter, StandInGateway, httproute,  # noqa: E402
                         route_errors, route_weights, set_cookies)

IMAGE = "ghcr.io/stefanprodan/podinfo"
V1, V2 = IMAGE + ":6.0.0", IMAGE + ":6.0.1"

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

HEAD = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: %(ns)s}
spec:
  provider: %(provider)s
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service:
    port: 9898
    hosts: [%(ns)s.example.com]
    gatewayRefs: [{name: public-gateway, namespace: gateway}]
  analysis:
    interval: 1m
    threshold: 5
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
    - {name: request-duration, thresholdRange: {max: 500}, interval: 30s}
"""

CANARIES = {
    "ab": ("gatewayapi:v1beta1", """    iterations: 8
    match:
    - headers:
        x-canary:
          exact: insider
"""),
    "bg": ("gatewayapi:v1", """    iterations: 6
    mirror: true
"""),
    "mc": ("gatewayapi:v1", """    stepWeight: 25
    maxWeight: 50
    mirror: true
"""),
    "sa": ("gatewayapi:v1", """    stepWeight: 10
    maxWeight: 50
    sessionAffinity:
      cookieName: flagger-cookie
      primaryCookieName: primary-cookie
      maxAge: 300
"""),
}


def accepted_now(c, ns):
    r = httproute(c, ns, "podinfo") or {}
    gen = (r.get("metadata") or {}).get("generation")
    return any(cond["type"] == "Accepted" and cond["status"] == "True" and cond["observedGeneration"] == gen
               for p in (r.get("status") or {}).get("parents") or [] for cond in p.get("conditions") or [])


def images(gw, host, n, headers=None):
    out = {}
    for _ in range(n):
        code, body, _ = gw.request(host, "/", headers)
        k = body.get("image") if code == 200 else "HTTP %d" % code
        out[k] = out.get(k, 0) + 1
    return out


def mirrors_to(route, svc):
    return any(f.get("type") == "RequestMirror" and f["requestMirror"]["backendRef"]["name"] == svc
               for rule in (route.get("spec") or {}).get("rules") or [] for f in rule.get("filters") or [])


class Probes:
    """What each scenario checks while its analysis runs, once each."""

    def __init__(self, c, gw):
        self.c, self.gw = c, gw
        self.done = {}

    def ab(self):
        c, gw = self.c, self.gw
        r = httproute(c, "ab", "podinfo") or {}
        rules = (r.get("spec") or {}).get("rules") or []
        if "ab" in self.done or len(rules) != 2 or c.phase("ab", "podinfo") != "Progressing":
            return
        first = {b["name"]: b.get("weight") for b in rules[0].get("backendRefs") or []}
        if first.get("podinfo-canary") != 100 or not accepted_now(c, "ab"):
            return
        self.done["ab"] = {
            "rules": rules,
            "insider": images(gw, "ab.example.com", 20, {"x-canary": "insider"}),
            "others": images(gw, "ab.example.com", 20),
        }

    def bg(self):
        c, gw = self.c, self.gw
        r = httproute(c, "bg", "podinfo") or {}
        phase = c.phase("bg", "podinfo")
        if phase not in ("Progressing", "Promoting") or not accepted_now(c, "bg"):
            return
        w = route_weights(c, "bg", "podinfo")
        if "bg-mirror" not in self.done and phase == "Progressing" and mirrors_to(r, "podinfo-canary") \
                and w == (0, 100):
            before = len(gw.mirrored)
            served = images(gw, "bg.example.com", 20)
            if self.bg_unchanged(r, w):  # else canaryd moved on meanwhile: sample again later
                self.done["bg-mirror"] = {"served": served, "mirrored": gw.mirrored[before:]}
        if "bg-switch" not in self.done and w == (100, 0):
            before = len(gw.mirrored)
            served = images(gw, "bg.example.com", 10)
            if self.bg_unchanged(r, w):
                self.done["bg-switch"] = {"served": served, "mirrored": gw.mirrored[before:],
                                          "still_mirroring": mirrors_to(httproute(c, "bg", "podinfo") or {},
                                                                        "podinfo-canary")}

    def bg_unchanged(self, route, weights):
        """The route sampled is still the one in force: same generation, same weights."""
        now = httproute(self.c, "bg", "podinfo") or {}
        gen = lambda o: (o.get("metadata") or {}).get("generation")
        return gen(now) == gen(route) and route_weights(self.c, "bg", "podinfo") == weights

    def mc(self):
        c, gw = self.c, self.gw
        r = httproute(c, "mc", "podinfo") or {}
        if "mc" in self.done or c.phase("mc", "podinfo") != "Progressing" or not accepted_now(c, "mc"):
            return
        if mirrors_to(r, "podinfo-canary") and route_weights(c, "mc", "podinfo") == (0, 100):
            before = len(gw.mirrored)
            served = images(gw, "mc.example.com", 10)
            self.done["mc"] = {"served": served, "mirrored": gw.mirrored[before:]}

    def sa(self):
        c, gw = self.c, self.gw
        if "sa" in self.done or c.phase("sa", "podinfo") != "Progressing":
            return
        w = route_weights(c, "sa", "podinfo")
        if not w or w[0] < 10 or w[0] >= 50 or not accepted_now(c, "sa"):
            return
        canary_cookie = primary_cookie = None
        canary_set = primary_set = None
        for _ in range(200):
            code, body, hdrs = gw.request("sa.example.com", "/")
            for v in set_cookies(hdrs):
                if v.startswith("flagger-cookie=") and body.get("image") == V2 and not canary_cookie:
                    canary_cookie, canary_set = v.split(";")[0], v
                if v.startswith("primary-cookie=") and body.get("image") == V1 and not primary_cookie:
                    primary_cookie, primary_set = v.split(";")[0], v
            if canary_cookie and primary_cookie:
                break
        res = {"canary_set": canary_set, "primary_set": primary_set, "cookie": canary_cookie}
        if canary_cookie:
            res["with_canary_cookie"] = images(gw, "sa.example.com", 20, {"Cookie": "x=1; " + canary_cookie})
        if primary_cookie:
            res["with_primary_cookie"] = images(gw, "sa.example.com", 20, {"Cookie": primary_cookie})
        st = (c.canary("sa", "podinfo") or {}).get("status") or {}
        res["status_cookie"] = st.get("sessionAffinityCookie")
        self.done["sa"] = res


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
        for ns, (provider, analysis) in CANARIES.items():
            c.apply(APP % {"ns": ns})
            c.apply(HEAD % {"ns": ns, "provider": provider} + analysis)
            exporter.set_pods(ns, {"podinfo-6b8f9c7d54-v2pod": (20.0, 0.0, 0.02)})
        c.start_operator("-metrics-server", prom.url, "-interval-override", "2s")
        t.check("the four canaries Initialized",
                wait_until(lambda: all(c.phase(ns, "podinfo") == "Initialized" for ns in CANARIES), 90) is True,
                {ns: c.phase(ns, "podinfo") for ns in CANARIES})
        t.check("their HTTPRoutes at 100/0", all(route_weights(c, ns, "podinfo") == (0, 100) for ns in CANARIES),
                {ns: route_weights(c, ns, "podinfo") for ns in CANARIES})
        t.check("Prometheus scrapes the canaries' http_request_duration_seconds",
                prom.wait_series('count(count_over_time(http_request_duration_seconds_count{kubernetes_pod_name='
                                 '"podinfo-6b8f9c7d54-v2pod",status="200"}[1m]) > 3) == 4', 60))
        for ns in CANARIES:
            c.kubectl("-n", ns, "set", "image", "deployment/podinfo", "podinfod=" + V2)
        probes = Probes(c, gw)

        def step():
            probes.ab()
            probes.bg()
            probes.sa()
            probes.mc()
            return all(c.phase(ns, "podinfo") in ("Succeeded", "Failed") for ns in CANARIES)
        wait_until(step, 300, 0.05)
        phases = {ns: c.phase(ns, "podinfo") for ns in CANARIES}
        for ns in CANARIES:
            t.check("%s: Succeeded" % ns, phases[ns] == "Succeeded", phases)
            t.check("%s: all traffic on the promoted primary" % ns,
                    wait_until(lambda: images(gw, ns + ".example.com", 10) == {V2: 10}, 15),
                    images(gw, ns + ".example.com", 10))

        # A/B
        ab = probes.done.get("ab") or {}
        rules = ab.get("rules") or [{}, {}]
        t.check("ab: rule 1 matches x-canary: insider (exact) and sends it all to the canary",
                rules[0].get("matches") == [{"path": {"type": "PathPrefix", "value": "/"},
                                             "headers": [{"name": "x-canary", "type": "Exact", "value": "insider"}]}]
                and [b["name"] for b in rules[0].get("backendRefs", [])] == ["podinfo-primary", "podinfo-canary"],
                rules)
        t.check("ab: rule 2 sends the rest to the primary",
                [(b["name"], b["weight"]) for b in rules[1].get("backendRefs", [])] == [("podinfo-primary", 100)],
                rules)
        t.check("ab: requests with x-canary: insider answered by v2", ab.get("insider") == {V2: 20}, ab)
        t.check("ab: the others answered by v1", ab.get("others") == {V1: 20}, ab)
        _, _, log = c.api.get("/fake/requests")
        entries = log.get("requests", log) if isinstance(log, dict) else log
        paths = [e["path"] for e in entries if "canaryd" in e.get("userAgent", "") and "httproutes" in e["path"]]
        t.check("ab: canaryd wrote the route through gateway.networking.k8s.io/v1beta1",
                any("/v1beta1/namespaces/ab/httproutes" in p for p in paths) and
                not any("/v1/namespaces/ab/httproutes" in p for p in paths), sorted(set(paths))[:10])

        # blue/green with mirroring
        mirror = probes.done.get("bg-mirror") or {}
        t.check("bg: while mirroring, v1 answers every request", mirror.get("served") == {V1: 20}, mirror)
        t.check("bg: ... and each is mirrored to podinfo-canary, answered there by v2",
                mirror.get("mirrored") and len(mirror["mirrored"]) == 20 and
                all(m == ("podinfo-canary", V2) for m in mirror["mirrored"]), mirror.get("mirrored"))
        switch = probes.done.get("bg-switch") or {}
        t.check("bg: at the last iteration v2 answers every request, unmirrored",
                switch.get("served") == {V2: 10} and switch.get("mirrored") == [] and
                switch.get("still_mirroring") is False, switch)
        ev = c.events("bg", "podinfo")
        t.check("bg: event Stop traffic mirroring and route all traffic to canary",
                any("Stop traffic mirroring and route all traffic to canary" in e for e in ev), ev)

        # the canary strategy's mirror step
        mc = probes.done.get("mc") or {}
        t.check("mc: the mirror step: v1 answers, each request copied to v2",
                mc.get("served") == {V1: 10} and len(mc.get("mirrored") or []) == 10 and
                all(m == ("podinfo-canary", V2) for m in mc["mirrored"]), mc)
        ev = c.events("mc", "podinfo")
        t.check("mc: then weights 25 and 50, unmirrored",
                any("Advance podinfo.mc canary weight 25" in e for e in ev) and
                any("Advance podinfo.mc canary weight 50" in e for e in ev) and
                not mirrors_to(httproute(c, "mc", "podinfo") or {}, "podinfo-canary"), ev)

        # session affinity
        sa = probes.done.get("sa") or {}
        t.check("sa: a response from the canary sets the canary cookie for 300 s",
                (sa.get("canary_set") or "").endswith("; Max-Age=300") and len(sa.get("cookie") or "") ==
                len("flagger-cookie=") + 10, sa)
        t.check("sa: a response from the primary sets the primary cookie for one interval (60 s)",
                (sa.get("primary_set") or "").startswith("primary-cookie=") and
                sa["primary_set"].endswith("; Max-Age=60"), sa)
        t.check("sa: with the canary cookie every request sticks to v2", sa.get("with_canary_cookie") == {V2: 20}, sa)
        t.check("sa: with the primary cookie every request sticks to v1", sa.get("with_primary_cookie") == {V1: 20},
                sa)
        t.check("sa: the canary cookie is in status.sessionAffinityCookie", sa.get("status_cookie") == sa.get("cookie"),
                sa)
        st = (c.canary("sa", "podinfo") or {}).get("status") or {}
        t.check("sa: after promotion the cookie is status.previousSessionAffinityCookie",
                sa.get("cookie") and st.get("previousSessionAffinityCookie") == sa["cookie"] and
                not st.get("sessionAffinityCookie"), st)
        code, body, hdrs = gw.request("sa.example.com", "/", {"Cookie": sa.get("cookie") or "none"})
        t.check("sa: a request with the old cookie is answered by the promoted primary, the cookie expired",
                code == 200 and body.get("image") == V2 and
                (sa.get("cookie") or "-") + "; Max-Age=-1" in set_cookies(hdrs), (code, body, hdrs))
        code, body, hdrs = gw.request("sa.example.com", "/")
        t.check("sa: a request without it gets no cookie", code == 200 and not set_cookies(hdrs), hdrs)

        time.sleep(0.5)
        n, errs = route_errors(c.tmp, gw.routes_seen())
        t.check("every HTTPRoute version canaryd wrote (%d) is valid against the CRD and its CEL rules" % n,
                n >= 15 and not errs, errs)
        t.check("the stand-in gateway saw no error", not gw.errors, gw.errors[:5])
        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
