"""test_kube_istio_strategies.py - A/B testing, blue/green with traffic
mirroring and session affinity through Istio VirtualServices, end to end on
the fake cluster with Istio's CRDs and the stand-in Istio data plane of
istio_env.py routing real requests. Four Canaries (provider istio) run
side by side, one per namespace, each releasing podinfo 6.0.0 -> 6.0.1 with
healthy Istio metrics:

- ab (iterations with a header match): while the analysis runs, requests
  with `x-canary: insider` reach v2 and the others v1 -> Succeeded;
- bg (blue/green, analysis.mirror with mirrorWeight 50): while the analysis
  runs, v1 answers every request and about half of them are mirrored to
  podinfo-canary (answered there by v2); at the last iteration v2 answers
  every request, unmirrored -> Succeeded;
- mc (the canary strategy with analysis.mirror, mirrorWeight 100): one
  mirror step at weight 0 (v1 answers, every request copied to v2), then
  the weights 25 and 50 unmirrored -> Succeeded;
- sa (session affinity, cookie and primary cookie): a client that drew the
  canary gets the canary cookie and sticks to v2 with it, a client that drew
  the primary sticks to v1 with the primary cookie; on promotion the cookie
  moves to status.previousSessionAffinityCookie and a request carrying it
  gets it expired (Max-Age=-1) -> Succeeded.
Every VirtualService version canaryd wrote is valid against Istio's CRDs.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, Prometheus, wait_until  # noqa: E402
from gateway_env import set_cookies  # noqa: E402
from istio_env import IstioExporter, StandInMesh, istio_crd_args, virtualservice, vs_errors, vs_weights  # noqa: E402

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
  provider: istio
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 60
  service:
    port: 9898
    hosts: [%(ns)s.example.com]
  analysis:
    interval: 1m
    threshold: 5
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
    - {name: request-duration, thresholdRange: {max: 500}, interval: 30s}
"""

CANARIES = {
    "ab": """    iterations: 8
    match:
    - headers:
        x-canary:
          exact: insider
""",
    "bg": """    iterations: 6
    mirror: true
    mirrorWeight: 50
""",
    "mc": """    stepWeight: 25
    maxWeight: 50
    mirror: true
    mirrorWeight: 100
""",
    "sa": """    stepWeight: 10
    maxWeight: 50
    sessionAffinity:
      cookieName: flagger-cookie
      primaryCookieName: primary-cookie
      maxAge: 300
""",
}


def images(mesh, host, n, headers=None):
    out = {}
    for _ in range(n):
        code, body, _ = mesh.request(host, "/", headers)
        k = body.get("image") if code == 200 else "HTTP %d" % code
        out[k] = out.get(k, 0) + 1
    return out


def mirror_of(vs):
    for r in (vs.get("spec") or {}).get("http") or []:
        if r.get("mirror"):
            return r["mirror"].get("host"), (r.get("mirrorPercentage") or {}).get("value")
    return None


class Probes:
    """What each scenario checks while its analysis runs, once each."""

    def __init__(self, c, mesh):
        self.c, self.mesh = c, mesh
        self.done = {}

    def settle(self):
        time.sleep(0.2)     # the data plane reads the VirtualService every 50 ms

    def ab(self):
        c, mesh = self.c, self.mesh
        v = virtualservice(c, "ab", "podinfo") or {}
        routes = (v.get("spec") or {}).get("http") or []
        if "ab" in self.done or len(routes) != 2 or c.phase("ab", "podinfo") != "Progressing":
            return
        first = {d["destination"]["host"]: d.get("weight") for d in routes[0].get("route") or []}
        if first.get("podinfo-canary") != 100:
            return
        self.settle()
        self.done["ab"] = {"routes": routes,
                           "insider": images(mesh, "ab.example.com", 20, {"x-canary": "insider"}),
                           "others": images(mesh, "ab.example.com", 20)}

    def bg(self):
        c, mesh = self.c, self.mesh
        v = virtualservice(c, "bg", "podinfo") or {}
        phase = c.phase("bg", "podinfo")
        if phase not in ("Progressing", "Promoting"):
            return
        w = vs_weights(c, "bg", "podinfo")
        if "bg-mirror" not in self.done and phase == "Progressing" and mirror_of(v) and w == (0, 100):
            self.settle()
            before = len(mesh.mirrored)
            served = images(mesh, "bg.example.com", 100)
            self.done["bg-mirror"] = {"mirror": mirror_of(v), "served": served, "mirrored": mesh.mirrored[before:]}
        if "bg-switch" not in self.done and w == (100, 0):
            self.settle()
            before = len(mesh.mirrored)
            served = images(mesh, "bg.example.com", 10)
            self.done["bg-switch"] = {"served": served, "mirrored": mesh.mirrored[before:],
                                      "still_mirroring": mirror_of(virtualservice(c, "bg", "podinfo") or {})}

    def mc(self):
        c, mesh = self.c, self.mesh
        if "mc" in self.done or c.phase("mc", "podinfo") != "Progressing":
            return
        v = virtualservice(c, "mc", "podinfo") or {}
        if mirror_of(v) and vs_weights(c, "mc", "podinfo") == (0, 100):
            self.settle()
            before = len(mesh.mirrored)
            served = images(mesh, "mc.example.com", 10)
            self.done["mc"] = {"mirror": mirror_of(v), "served": served, "mirrored": mesh.mirrored[before:]}

    def sa(self):
        c, mesh = self.c, self.mesh
        if "sa" in self.done or c.phase("sa", "podinfo") != "Progressing":
            return
        w = vs_weights(c, "sa", "podinfo")
        if not w or w[0] < 10 or w[0] >= 50:
            return
        self.settle()
        canary_cookie = primary_cookie = canary_set = primary_set = None
        for _ in range(200):
            code, body, hdrs = mesh.request("sa.example.com", "/")
            for v in set_cookies(hdrs):
                if v.startswith("flagger-cookie=") and body.get("image") == V2 and not canary_cookie:
                    canary_cookie, canary_set = v.split(";")[0], v
                if v.startswith("primary-cookie=") and body.get("image") == V1 and not primary_cookie:
                    primary_cookie, primary_set = v.split(";")[0], v
            if canary_cookie and primary_cookie:
                break
        res = {"canary_set": canary_set, "primary_set": primary_set, "cookie": canary_cookie}
        if canary_cookie:
            res["with_canary_cookie"] = images(mesh, "sa.example.com", 20, {"Cookie": "x=1; " + canary_cookie})
        if primary_cookie:
            res["with_primary_cookie"] = images(mesh, "sa.example.com", 20, {"Cookie": primary_cookie})
        st = (c.canary("sa", "podinfo") or {}).get("status") or {}
        res["status_cookie"] = st.get("sessionAffinityCookie")
        self.done["sa"] = res


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
        for ns, analysis in CANARIES.items():
            c.apply(APP % {"ns": ns})
            c.apply(HEAD % {"ns": ns} + analysis)
            exporter.set_workloads(ns, {"podinfo": (20.0, 0.0, 20)})
        c.start_operator("-metrics-server", prom.url, "-interval-override", "2s")
        t.check("the four canaries Initialized",
                wait_until(lambda: all(c.phase(ns, "podinfo") == "Initialized" for ns in CANARIES), 90) is True,
                {ns: c.phase(ns, "podinfo") for ns in CANARIES})
        t.check("their VirtualServices at 100/0", all(vs_weights(c, ns, "podinfo") == (0, 100) for ns in CANARIES),
                {ns: vs_weights(c, ns, "podinfo") for ns in CANARIES})
        t.check("Prometheus scrapes the canaries' istio_requests_total",
                prom.wait_series('count(count_over_time(istio_requests_total{destination_workload="podinfo",'
                                 'response_code="200"}[1m]) > 3) == 4', 60))
        for ns in CANARIES:
            c.kubectl("-n", ns, "set", "image", "deployment/podinfo", "podinfod=" + V2)
        probes = Probes(c, mesh)

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
                    wait_until(lambda: images(mesh, ns + ".example.com", 10) == {V2: 10}, 15),
                    images(mesh, ns + ".example.com", 10))

        # A/B
        ab = probes.done.get("ab") or {}
        routes = ab.get("routes") or [{}, {}]
        t.check("ab: route 1 matches x-canary: insider (exact) and sends it all to the canary",
                routes[0].get("match") == [{"headers": {"x-canary": {"exact": "insider"}}}] and
                [(d["destination"]["host"], d["weight"]) for d in routes[0].get("route", [])] ==
                [("podinfo-primary", 0), ("podinfo-canary", 100)], routes)
        t.check("ab: route 2 sends the rest to the primary",
                [d["destination"]["host"] for d in routes[1].get("route", [])] == ["podinfo-primary"] and
                "match" not in routes[1], routes)
        t.check("ab: requests with x-canary: insider answered by v2", ab.get("insider") == {V2: 20}, ab)
        t.check("ab: the others answered by v1", ab.get("others") == {V1: 20}, ab)

        # blue/green with mirroring
        mirror = probes.done.get("bg-mirror") or {}
        t.check("bg: the VirtualService mirrors to podinfo-canary at mirrorPercentage 50",
                mirror.get("mirror") == ("podinfo-canary", 50), mirror.get("mirror"))
        t.check("bg: while mirroring, v1 answers every request", mirror.get("served") == {V1: 100},
                mirror.get("served"))
        m = mirror.get("mirrored") or []
        t.check("bg: ... and about half (25..75 of 100) are mirrored to podinfo-canary, answered by v2",
                25 <= len(m) <= 75 and all(x == ("podinfo-canary", V2) for x in m), len(m))
        switch = probes.done.get("bg-switch") or {}
        t.check("bg: at the last iteration v2 answers every request, unmirrored",
                switch.get("served") == {V2: 10} and switch.get("mirrored") == [] and
                switch.get("still_mirroring") is None, switch)

        # the canary strategy's mirror step
        mc = probes.done.get("mc") or {}
        t.check("mc: the mirror step: mirror to podinfo-canary at 100 %, v1 answers, each request copied to v2",
                mc.get("mirror") == ("podinfo-canary", 100) and mc.get("served") == {V1: 10} and
                len(mc.get("mirrored") or []) == 10 and all(m == ("podinfo-canary", V2) for m in mc["mirrored"]), mc)
        ev = c.events("mc", "podinfo")
        t.check("mc: then weights 25 and 50, unmirrored",
                any("Advance podinfo.mc canary weight 25" in e for e in ev) and
                any("Advance podinfo.mc canary weight 50" in e for e in ev) and
                mirror_of(virtualservice(c, "mc", "podinfo") or {}) is None, ev)

        # session affinity
        sa = probes.done.get("sa") or {}
        t.check("sa: a response from the canary sets the canary cookie for 300 s",
                (sa.get("canary_set") or "").endswith("; Max-Age=300") and
                len(sa.get("cookie") or "") == len("flagger-cookie=") + 10, sa)
        t.check("sa: a response from the primary sets the primary cookie for one interval (60 s)",
                (sa.get("primary_set") or "").startswith("primary-cookie=") and
                sa["primary_set"].endswith("; Max-Age=60"), sa)
        t.check("sa: with the canary cookie every request sticks to v2", sa.get("with_canary_cookie") == {V2: 20}, sa)
        t.check("sa: with the primary cookie every request sticks to v1", sa.get("with_primary_cookie") == {V1: 20},
                sa)
        t.check("sa: the canary cookie is in status.sessionAffinityCookie",
                sa.get("status_cookie") == sa.get("cookie"), sa)
        st = (c.canary("sa", "podinfo") or {}).get("status") or {}
        t.check("sa: after promotion the cookie is status.previousSessionAffinityCookie",
                sa.get("cookie") and st.get("previousSessionAffinityCookie") == sa["cookie"] and
                not st.get("sessionAffinityCookie"), st)
        code, body, hdrs = mesh.request("sa.example.com", "/", {"Cookie": sa.get("cookie") or "none"})
        t.check("sa: a request with the old cookie is answered by the promoted primary, the cookie expired",
                code == 200 and body.get("image") == V2 and
                (sa.get("cookie") or "-") + "; Max-Age=-1" in set_cookies(hdrs), (code, body, hdrs))
        code, body, hdrs = mesh.request("sa.example.com", "/")
        t.check("sa: a request without it gets no cookie", code == 200 and not set_cookies(hdrs), hdrs)

        time.sleep(0.5)
        n, errs = vs_errors(c.tmp, mesh.vs_seen())
        t.check("every VirtualService version canaryd wrote (%d) is valid against Istio's CRDs" % n,
                n >= 10 and not errs, errs)
        t.check("the stand-in mesh saw no error", not mesh.errors, mesh.errors[:5])
        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
