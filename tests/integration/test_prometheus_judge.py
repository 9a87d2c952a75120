"""test_prometheus_judge.py - the statistical judge's inputs from a real
Prometheus (Debian package) started on a loopback port, scraping an exporter
this test runs. The exporter simulates a mesh: each workload (a canary or
its primary) serves requests at a known rate with a known error ratio and
lognormal latencies, and exposes them as App Mesh (Envoy), Istio and NGINX
series whose counters advance with every scrape.

`canaryctl metrics` on judged metrics renders the canary's and the primary's
queries (checked character for character for App Mesh), reads the requests
and failed requests of each side over the window and the per-step values of
each side's request-duration (and of a MetricTemplate and an inline query),
and runs the judge on that window. The counts and samples must match what
the exporter served, the judge must fail a bad canary (5 % errors instead of
0.1 %, three times the latency) and pass a good one; the metrics canaryd
cannot judge from Prometheus must fail with a clear message.
"""
import http.server
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("CANARYD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
CANARYCTL = os.path.join(BUILD, "canaryctl")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Prometheus, check, free_port, serve, summary  # noqa: E402

BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]


class Workload:
    """Requests at `rate` per second, a fraction `err` failing, latencies
    lognormal with median `median_ms`; advanced to the current time on each
    scrape (counters only grow, as a real exporter's)."""

    def __init__(self, rate, err, median_ms, seed):
        self.rate, self.err, self.median = rate, err, median_ms
        self.rng = random.Random(seed)
        self.ok = self.bad = 0
        self.buckets = [0] * (len(BUCKETS_MS) + 1)
        self.sum_ms = 0.0
        self.t = time.time()
        self.carry = 0.0

    def advance(self):
        now = time.time()
        want = self.rate * (now - self.t) + self.carry
        n = int(want)
        self.carry = want - n
        self.t = now
        for _ in range(n):
            if self.rng.random() < self.err:
                self.bad += 1
            else:
                self.ok += 1
            ms = self.median * math.exp(0.4 * self.rng.gauss(0, 1))
            self.sum_ms += ms
            i = 0
            while i < len(BUCKETS_MS) and ms > BUCKETS_MS[i]:
                i += 1
            self.buckets[i] += 1

    def cumulative(self):
        c, out = 0, []
        for i, le in enumerate([str(b) for b in BUCKETS_MS] + ["+Inf"]):
            c += self.buckets[i]
            out.append((le, c))
        return out


def lab(d):
    return ",".join('%s="%s"' % kv for kv in sorted(d.items()))


def appmesh(w, ns, pod):
    base = {"kubernetes_namespace": ns, "kubernetes_pod_name": pod}
    out = ["envoy_cluster_upstream_rq{%s} %d" % (lab(dict(base, envoy_response_code="200")), w.ok),
           "envoy_cluster_upstream_rq{%s} %d" % (lab(dict(base, envoy_response_code="503")), w.bad)]
    for le, c in w.cumulative():
        out.append("envoy_cluster_upstream_rq_time_bucket{%s} %d" % (lab(dict(base, le=le)), c))
    return out


def istio(w, ns, workload):
    base = {"reporter": "destination", "destination_workload_namespace": ns,
            "destination_workload": workload}
    out = ["istio_requests_total{%s} %d" % (lab(dict(base, response_code="200")), w.ok),
           "istio_requests_total{%s} %d" % (lab(dict(base, response_code="500")), w.bad)]
    for le, c in w.cumulative():
        out.append("istio_request_duration_milliseconds_bucket{%s} %d" % (lab(dict(base, le=le)), c))
    return out


def nginx(w, ns, ingress, canary):
    base = {"namespace": ns, "ingress": ingress, "canary": canary}
    return ["nginx_ingress_controller_requests{%s} %d" % (lab(dict(base, status="200")), w.ok),
            "nginx_ingress_controller_requests{%s} %d" % (lab(dict(base, status="502")), w.bad),
            "nginx_ingress_controller_response_duration_seconds_sum{%s} %.6f"
            % (lab(base), w.sum_ms / 1000),
            "nginx_ingress_controller_response_duration_seconds_count{%s} %d"
            % (lab(base), w.ok + w.bad)]


# name: (workload, series); rates in requests per second
W = {
    # podinfo: a bad release (5 % errors, latency x3) against a healthy primary
    "podinfo": Workload(60, 0.05, 60, 1),
    "podinfo-primary": Workload(120, 0.001, 20, 2),
    # good: the same as its primary
    "good": Workload(60, 0.001, 20, 3),
    "good-primary": Workload(120, 0.001, 20, 4),
    # web (Istio): canary 2 % errors, primary 0 %
    "web": Workload(40, 0.02, 20, 5),
    "web-primary": Workload(80, 0.0, 20, 6),
    # shop (NGINX): canary 10 % errors, primary 1 %
    "shop-canary": Workload(30, 0.10, 20, 7),
    "shop-primary": Workload(90, 0.01, 20, 8),
}
SERIES = [
    lambda: appmesh(W["podinfo"], "test", "podinfo-7c9f8b6d5-abcde"),
    lambda: appmesh(W["podinfo-primary"], "test", "podinfo-primary-5f6a7b8c9-klmno"),
    lambda: appmesh(W["good"], "test", "good-6d5f7a8b9-pqrst"),
    lambda: appmesh(W["good-primary"], "test", "good-primary-7a8b9c0d1-uvwxy"),
    lambda: istio(W["web"], "test", "web"),
    lambda: istio(W["web-primary"], "test", "web-primary"),
    lambda: nginx(W["shop-canary"], "test", "shop", "test-shop-canary-80"),
    lambda: nginx(W["shop-primary"], "test", "shop", ""),
]
LOCK = threading.Lock()


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        lines = []
        with LOCK:
            for w in W.values():
                w.advance()
            for s in SERIES:
                lines += s()
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


WINDOW_S = 30       # analysis.interval: the judged window
STEP_S = 1          # judge.step: at least twice the scrape interval
SCRAPE_S = 0.5

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: {name}, namespace: test}}
spec:
  provider: {provider}
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  service: {{port: 9898}}
  analysis:
    interval: {window}s
    threshold: 5
    stepWeight: 10
    metrics:
    - name: request-success-rate
      judge: {{allowedIncrease: 0.5pp, detectIncrease: 2pp}}
    - name: request-duration
      judge: {{step: {step}s, minSamples: 8}}
"""

EXTRA = """
    - name: p50-template
      templateRef: {{name: envoy-p50}}
      templateVariables: {{quantile: "0.5"}}
      judge: {{test: latency, step: {step}s, minSamples: 8}}
    - name: p50-inline
      judge: {{test: latency, step: {step}s, minSamples: 8}}
      query: |
        histogram_quantile(0.5, sum(rate(envoy_cluster_upstream_rq_time_bucket{{
          kubernetes_namespace="{{{{ namespace }}}}",
          kubernetes_pod_name=~"{{{{ target }}}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}}[{{{{ interval }}}}])) by (le))
    - name: errors-template
      templateRef: {{name: envoy-p50}}
      judge: {{test: errors}}
    - name: datadog-latency
      templateRef: {{name: dd}}
      judge: {{test: latency}}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {{name: envoy-p50, namespace: test}}
spec:
  provider: {{type: prometheus, address: {prom}}}
  query: |
    histogram_quantile({{{{ variables.quantile }}}}, sum(rate(
      envoy_cluster_upstream_rq_time_bucket{{kubernetes_namespace="{{{{ namespace }}}}",
        kubernetes_pod_name=~"{{{{ target }}}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}}[{{{{ interval }}}}])) by (le))
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {{name: dd, namespace: test}}
spec:
  provider: {{type: datadog, address: http://127.0.0.1:1}}
  query: avg:latency{{*}}
"""


def manifests(prom):
    docs = []
    for name, provider in (("podinfo", "appmesh:v1beta2"), ("good", "appmesh:v1beta2"),
                           ("web", "istio"), ("shop", "nginx"), ("gw", "apisix")):
        d = CANARY.format(name=name, provider=provider, prom=prom, window=WINDOW_S, step=STEP_S)
        if name == "podinfo":
            d += EXTRA.format(prom=prom, step=STEP_S)
        if name == "shop":
            d = d.replace("  service:", "  ingressRef: {apiVersion: networking.k8s.io/v1, "
                          "kind: Ingress, name: shop}\n  service:")
        docs.append(d)
    return "---\n".join(docs)


def canaryctl_metrics(*args, timeout=120):
    p = subprocess.run([CANARYCTL, "metrics", "-o", "json"] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    try:
        rows = json.loads(p.stdout)
    except ValueError:
        rows = []
        print(p.stdout, p.stderr)
    return p.returncode, {(r["canary"], r.get("metric")): r for r in rows}


def near(x, want, rel):
    return x is not None and abs(x - want) <= rel * want


def side(row, which):
    return (row.get("judge") or {}).get(which) or {}


def check_render(mf, prom):
    rc, rows = canaryctl_metrics("-f", mf, "--canary", "podinfo", "--render-only")
    r = rows.get(("podinfo.test", "request-success-rate"), {})
    q = r.get("queries", {})
    sel = ('envoy_cluster_upstream_rq{ kubernetes_namespace="test", '
           'kubernetes_pod_name=~"%s-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"')
    check("the canary's request and failure queries (App Mesh)",
          q.get("canary") == ["sum( increase( " + sel % "podinfo" + " }[30s] ) )",
                              "sum( increase( " + sel % "podinfo" +
                              ', envoy_response_code=~"5.*" }[30s] ) )'], q)
    check("the primary's queries select podinfo-primary's pods",
          q.get("primary") == ["sum( increase( " + sel % "podinfo-primary" + " }[30s] ) )",
                               "sum( increase( " + sel % "podinfo-primary" +
                               ', envoy_response_code=~"5.*" }[30s] ) )'], q)
    r = rows.get(("podinfo.test", "request-duration"), {})
    check("request-duration is a range query at the step, {{ interval }} = the step",
          r.get("stepSeconds") == STEP_S and r.get("queries", {}).get("primary") ==
          ['\nhistogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ '
           'kubernetes_namespace="test", kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+'
           '(-[0-9a-zA-Z]+)" }[1s] ) ) by (le) )'], r)
    r = rows.get(("podinfo.test", "p50-template"), {})
    check("a MetricTemplate's primary query has {{ target }} = podinfo-primary",
          'kubernetes_pod_name=~"podinfo-primary-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[1s]'
          in (r.get("queries", {}).get("primary") or [""])[0], r)


def check_counts(mf, prom):
    rc, rows = canaryctl_metrics("-f", mf)
    # what Prometheus itself says over the same window, to compare with
    for name in ("podinfo", "good"):
        r = rows.get((name + ".test", "request-success-rate"), {})
        c, p = side(r, "canary"), side(r, "primary")
        wc, wp = W[name], W[name + "-primary"]
        print("%s: canary %s/%s primary %s/%s -> %s: %s" % (
            name, c.get("errors"), c.get("samples"), p.get("errors"), p.get("samples"),
            r.get("status"), r.get("message")))
        check("%s: the canary's requests over %ds (~%d)" % (name, WINDOW_S, wc.rate * WINDOW_S),
              near(c.get("samples"), wc.rate * WINDOW_S, 0.15), c)
        check("%s: the primary's requests over %ds (~%d)" % (name, WINDOW_S, wp.rate * WINDOW_S),
              near(p.get("samples"), wp.rate * WINDOW_S, 0.15), p)
        if name == "podinfo":
            check("podinfo: the canary's failures are ~5 %",
                  c.get("samples") and 0.025 < c.get("errors", 0) / c["samples"] < 0.08, c)
            check("podinfo: the primary's failures are ~0.1 %",
                  p.get("samples") and p.get("errors", 99) / p["samples"] < 0.006, p)
    r = rows.get(("podinfo.test", "request-success-rate"), {})
    check("the judge fails the bad canary's errors", r.get("status") == "fail", r)
    check("... and says why", "worse than the primary" in r.get("message", ""), r)
    r = rows.get(("good.test", "request-success-rate"), {})
    check("the judge passes the good canary's errors", r.get("status") == "pass", r)

    for name in ("podinfo", "good"):
        r = rows.get((name + ".test", "request-duration"), {})
        c, p = side(r, "canary"), side(r, "primary")
        print("%s request-duration: canary n=%s p50=%s primary n=%s p50=%s -> %s: %s" % (
            name, c.get("samples"), c.get("p50"), p.get("samples"), p.get("p50"),
            r.get("status"), r.get("message")))
        n = WINDOW_S // STEP_S
        check("%s: %d per-step values of each side (one per step of the window)" % (name, n),
              n - 1 <= (c.get("samples") or 0) <= n and n - 1 <= (p.get("samples") or 0) <= n, r)
    r = rows.get(("podinfo.test", "request-duration"), {})
    c, p = side(r, "canary"), side(r, "primary")
    # lognormal(60 ms, 0.4): p99 ~ 150 ms, in the (100, 250] bucket; the primary's ~ 50 ms
    check("podinfo: the canary's per-step p99 values are the canary's (100-250 ms)",
          c.get("p50") and 100 < c["p50"] <= 250, c)
    check("podinfo: the primary's per-step p99 values are the primary's (25-100 ms)",
          p.get("p50") and 25 < p["p50"] <= 100, p)
    check("the judge fails the bad canary's latency", r.get("status") == "fail", r)
    r = rows.get(("good.test", "request-duration"), {})
    check("the judge does not fail the good canary's latency", r.get("status") in ("pass", "wait"), r)

    for metric in ("p50-template", "p50-inline"):
        r = rows.get(("podinfo.test", metric), {})
        c, p = side(r, "canary"), side(r, "primary")
        print("%s: canary p50 %s, primary p50 %s -> %s" % (metric, c.get("p50"), p.get("p50"),
                                                            r.get("status")))
        check("%s: the canary's per-step medians (~60 ms) and the primary's (~20 ms)" % metric,
              c.get("p50") and p.get("p50") and 40 < c["p50"] < 90 and 10 < p["p50"] < 30, r)
        check("%s: the judge fails the canary" % metric, r.get("status") == "fail", r)

    r = rows.get(("podinfo.test", "errors-template"), {})
    check("a MetricTemplate judged as errors is refused with a clear message",
          r.get("status") == "error" and "errors test needs request and failure counts"
          in r.get("message", ""), r)
    r = rows.get(("podinfo.test", "datadog-latency"), {})
    check("a Datadog template judged as latency is refused (Prometheus only)",
          r.get("status") == "error" and "uses the datadog provider" in r.get("message", ""), r)

    r = rows.get(("web.test", "request-success-rate"), {})
    c, p = side(r, "canary"), side(r, "primary")
    print("web (istio): canary %s/%s primary %s/%s" % (c.get("errors"), c.get("samples"),
                                                       p.get("errors"), p.get("samples")))
    check("Istio: canary and primary requests are each workload's",
          near(c.get("samples"), 40 * WINDOW_S, 0.15) and near(p.get("samples"), 80 * WINDOW_S, 0.15),
          r)
    check("Istio: the primary has no failures, the canary ~2 %",
          p.get("errors") == 0 and c.get("samples") and 0.005 < c.get("errors", 0) / c["samples"] < 0.04,
          r)
    r = rows.get(("shop.test", "request-success-rate"), {})
    c, p = side(r, "canary"), side(r, "primary")
    print("shop (nginx): canary %s/%s primary %s/%s" % (c.get("errors"), c.get("samples"),
                                                        p.get("errors"), p.get("samples")))
    check("NGINX: the canary's requests carry a canary label, the primary's an empty one",
          near(c.get("samples"), 30 * WINDOW_S, 0.15) and near(p.get("samples"), 90 * WINDOW_S, 0.15),
          r)
    check("NGINX: the canary's 10 % failures are caught", r.get("status") == "fail", r)
    r = rows.get(("shop.test", "request-duration"), {})
    check("NGINX: per-step mean latencies of both sides (~21 ms)",
          side(r, "canary").get("p50") and 15 < side(r, "canary")["p50"] < 30 and
          side(r, "primary").get("p50") and 15 < side(r, "primary")["p50"] < 30, r)
    r = rows.get(("gw.test", "request-success-rate"), {})
    check("APISIX: refused, its series cannot tell the primary apart",
          r.get("status") == "error" and "cannot be told" in r.get("message", ""), r)
    check("canaryctl metrics exits 1 when a judged metric fails", rc == 1, rc)

    rc, rows = canaryctl_metrics("-f", mf, "--canary", "good")
    check("canaryctl metrics exits 0 when the judge passes or waits", rc == 0,
          [(k, r.get("status"), r.get("message")) for k, r in rows.items()])


HISTORY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: {name}, namespace: test}}
spec:
  provider: appmesh:v1beta2
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  service: {{port: 9898}}
  analysis:
    interval: {window}s
    threshold: 5
    stepWeight: 10
    metrics:
    - name: request-success-rate
      judge: {{history: {history}}}
    - name: request-duration
      judge: {{step: {step}s, minSamples: 8, history: {history}}}
"""


def history(row):
    return (row.get("judge") or {}).get("history") or {}


def check_history(tmp, prom):
    mf = os.path.join(tmp, "history.yaml")
    with open(mf, "w") as f:
        f.write("---\n".join([
            HISTORY.format(name="good", prom=prom, window=WINDOW_S, step=STEP_S, history="30s"),
            HISTORY.format(name="podinfo", prom=prom, window=WINDOW_S, step=STEP_S, history="1h")]))
    rc, rows = canaryctl_metrics("-f", mf)
    r = rows.get(("good.test", "request-success-rate"), {})
    h = history(r)
    print("good history: %s" % json.dumps(h))
    check("the primary's history: its requests over the 30s before the window (~%d)"
          % (120 * 30), h.get("window") == "30s" and near(h.get("samples"), 120 * 30, 0.2), h)
    check("... its failures (~0.1 %%) and the baseline the judge uses",
          h.get("errors") is not None and h["errors"] / max(1, h.get("samples", 1)) < 0.006 and
          h.get("status") == "Used" and "over the 30s before the release" in h.get("reason", ""),
          h)
    check("... the canary is tested against a reference above the baseline",
          h.get("reference") and h.get("rate") is not None and h["reference"] > h["rate"], h)
    check("the good canary still passes (or waits)", r.get("status") in ("pass", "wait"), r)
    r = rows.get(("good.test", "request-duration"), {})
    h = history(r)
    print("good latency history: %s" % json.dumps(h))
    check("the latency history: the primary's per-step values over 30s (~%d of them)"
          % (30 // STEP_S), h.get("samples") and 30 // STEP_S - 2 <= h["samples"] <= 30 // STEP_S,
          h)
    check("... with the primary's p99 per step (lognormal 20 ms: 25-100 ms)",
          h.get("p50") and 25 < h["p50"] <= 100 and h.get("status") == "Used", h)
    r = rows.get(("podinfo.test", "request-success-rate"), {})
    h = history(r)
    print("podinfo history (1h asked): %s" % json.dumps(h))
    covered = h.get("covered", "")
    check("a history longer than Prometheus holds: what it covered, said in the reason",
          h.get("window") == "1h" and covered not in ("", "1h") and
          "(the source had" in h.get("reason", "") and h.get("samples", 0) > 0, h)
    check("... and the bad canary is still rolled back", r.get("status") == "fail", r)


def check_down(mf, prom):
    dead = "http://127.0.0.1:%d" % free_port()
    down = mf + ".down"
    with open(mf) as f, open(down, "w") as g:
        g.write(f.read().replace(prom, dead))
    t0 = time.time()
    rc, rows = canaryctl_metrics("-f", down, "--canary", "good")
    r = rows.get(("good.test", "request-success-rate"), {})
    check("Prometheus down: an error naming the side and the query, quickly",
          r.get("status") == "error" and "running the canary's requests query failed" in
          r.get("message", "") and time.time() - t0 < 20, r)
    check("... and the exit status says so", rc == 1, rc)


def main():
    tmp = tempfile.mkdtemp(prefix="canaryd-promjudge.")
    prometheus = None
    try:
        exporter = serve(Exporter)
        prometheus = Prometheus(tmp, [exporter.server_address[1]], scrape_ms=int(SCRAPE_S * 1000))
        prom = prometheus.url
        mf = os.path.join(tmp, "canaries.yaml")
        with open(mf, "w") as f:
            f.write(manifests(prom))
        check_render(mf, prom)
        # a full window of scrapes (and one more step) before judging it
        ready = prometheus.wait_series("count_over_time(envoy_cluster_upstream_rq"
                                       '{envoy_response_code="503"}[%ds])' % (WINDOW_S + STEP_S),
                                       90, at_least=(WINDOW_S + STEP_S) / SCRAPE_S)
        check("prometheus holds a full window of the exporter's series", ready)
        if ready:
            check_counts(mf, prom)
            check_down(mf, prom)
            # a window and 30 s of history before it, and a step more
            ready = prometheus.wait_series("count_over_time(envoy_cluster_upstream_rq"
                                           '{envoy_response_code="503"}[%ds])'
                                           % (2 * WINDOW_S + 2 * STEP_S), 120,
                                           at_least=(2 * WINDOW_S + STEP_S) / SCRAPE_S)
            check("prometheus holds a window and the history before it", ready)
            if ready:
                check_history(tmp, prom)
    finally:
        if prometheus:
            prometheus.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    raise SystemExit(main())
