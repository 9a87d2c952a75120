"""test_prometheus_builtin.py - canaryd's metric analysis against a real
Prometheus (Debian package) started on a loopback port, scraping a small
exporter this test runs. The exporter serves the series Flagger's builtin
queries read (App Mesh/Envoy, Istio, Linkerd, app-level
http_request_duration_seconds) for a healthy canary, a faulty one and a
primary that must not be counted. `canaryctl metrics` renders Flagger's
unmodified builtin queries, runs them on that Prometheus and must return
each canary's success rate and p99 latency; then a Prometheus that is
down, slow or answering garbage must give failed checks with clear
messages, quickly.

The router-scrape part (Prometheus scraping canaryd's own router during a
local canary run) belongs to the local platform's tests.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("CANARYD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
CANARYCTL = os.path.join(BUILD, "canaryctl")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import Prometheus, check, free_port, serve, summary  # noqa: E402

START = time.time()

# Per-second rates of every series; counters grow linearly with time, so
# rate() ratios (and histogram_quantile) are exact.
def envoy(pod, codes, buckets):
    out = []
    for code, r in codes.items():
        out.append(("envoy_cluster_upstream_rq",
                    {"kubernetes_namespace": "test", "kubernetes_pod_name": pod,
                     "envoy_response_code": code}, r))
    for le, r in buckets.items():
        out.append(("envoy_cluster_upstream_rq_time_bucket",
                    {"kubernetes_namespace": "test", "kubernetes_pod_name": pod, "le": le}, r))
    return out


SERIES = []
# podinfo: 99.5 % success; p99 = 50 + 50 * (198 - 196) / (200 - 196) = 75 ms
SERIES += envoy("podinfo-7c9f8b6d5-abcde", {"200": 199.0, "503": 1.0},
                {"25": 100.0, "50": 196.0, "100": 200.0, "+Inf": 200.0})
# faulty: 80 % success; p99 = 500 + 500 * (198 - 150) / 50 = 980 ms
SERIES += envoy("faulty-6b7c8d9e0-fghij", {"200": 160.0, "500": 40.0},
                {"250": 100.0, "500": 150.0, "1000": 200.0, "+Inf": 200.0})
# faulty's primary is healthy and must not leak into the canary's numbers
SERIES += envoy("faulty-primary-5f6a7b8c9-klmno", {"200": 1000.0},
                {"25": 1000.0, "+Inf": 1000.0})
# istio "web": 99 % success; p99 = 10 + 10 * (99 - 50) / (99 - 50) = 20 ms
for code, r in {"200": 99.0, "500": 1.0}.items():
    SERIES.append(("istio_requests_total",
                   {"reporter": "destination", "destination_workload_namespace": "test",
                    "destination_workload": "web", "response_code": code}, r))
for le, r in {"10": 50.0, "20": 99.0, "40": 100.0, "+Inf": 100.0}.items():
    SERIES.append(("istio_request_duration_milliseconds_bucket",
                   {"reporter": "destination", "destination_workload_namespace": "test",
                    "destination_workload": "web", "le": le}, r))
# linkerd "api": 95 % success; p99 = 100 + 100 * (99 - 90) / 10 = 190 ms
for cls, r in {"success": 95.0, "failure": 5.0}.items():
    SERIES.append(("response_total", {"namespace": "test", "deployment": "api",
                                      "direction": "inbound", "classification": cls}, r))
for le, r in {"100": 90.0, "200": 100.0, "+Inf": 100.0}.items():
    SERIES.append(("response_latency_ms_bucket", {"namespace": "test", "deployment": "api",
                                                  "direction": "inbound", "le": le}, r))
# app-level "app": 100 %; p99 = 0.05 + 0.05 * (99 - 90) / 9 = 0.1 s = 100 ms
for st, r in {"200": 100.0}.items():
    SERIES.append(("http_request_duration_seconds_count",
                   {"kubernetes_namespace": "test", "kubernetes_pod_name": "app-6d5f7a8b9-pqrst",
                    "status": st}, r))
for le, r in {"0.05": 90.0, "0.1": 99.0, "0.25": 100.0, "+Inf": 100.0}.items():
    SERIES.append(("http_request_duration_seconds_bucket",
                   {"kubernetes_namespace": "test", "kubernetes_pod_name": "app-6d5f7a8b9-pqrst",
                    "le": le}, r))
SEEN_ORG = []


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        t = time.time() - START
        lines, typed = [], set()
        for name, labels, r in SERIES:
            base = name.rsplit("_bucket", 1)[0] if name.endswith("_bucket") else name
            if base not in typed:
                typed.add(base)
                kind = "histogram" if name.endswith("_bucket") else "counter"
                lines.append("# TYPE %s %s" % (base if kind == "histogram" else name, kind))
            lab = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
            lines.append("%s{%s} %.6f" % (name, lab, r * t))
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(5)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


class Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body>Bad Gateway? no: 200 with garbage \x00\x01</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


CANARIES = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: test}}
spec:
  provider: appmesh:v1beta2
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898}}
  analysis:
    interval: 10s
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    metrics:
    - {{name: request-success-rate, interval: 10s, thresholdRange: {{min: 99}}}}
    - {{name: request-duration, interval: 10s, thresholdRange: {{max: 500}}}}
    - name: error-ratio
      interval: 10s
      thresholdRange: {{max: 1}}
      query: |
        100 - sum(rate(envoy_cluster_upstream_rq{{kubernetes_namespace="{{{{ namespace }}}}",
          kubernetes_pod_name=~"{{{{ target }}}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
          envoy_response_code!~"5.*"}}[{{{{ interval }}}}]))
        / sum(rate(envoy_cluster_upstream_rq{{kubernetes_namespace="{{{{ namespace }}}}",
          kubernetes_pod_name=~"{{{{ target }}}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}}[{{{{ interval }}}}])) * 100
    - name: p99-from-template
      interval: 10s
      templateRef: {{name: envoy-p99}}
      templateVariables: {{quantile: "0.99"}}
      thresholdRange: {{max: 500}}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {{name: envoy-p99, namespace: test}}
spec:
  provider:
    type: prometheus
    address: {prom}
    headers: {{X-Scope-OrgID: [tenant-1]}}
  query: |
    histogram_quantile({{{{ variables.quantile }}}}, sum(rate(
      envoy_cluster_upstream_rq_time_bucket{{kubernetes_namespace="{{{{ namespace }}}}",
        kubernetes_pod_name=~"{{{{ target }}}}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}}[{{{{ interval }}}}])) by (le))
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: faulty, namespace: test}}
spec:
  provider: appmesh:v1beta2
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: faulty}}
  service: {{port: 9898}}
  analysis:
    interval: 10s
    threshold: 5
    stepWeight: 10
    metrics:
    - {{name: request-success-rate, interval: 10s, thresholdRange: {{min: 99}}}}
    - {{name: request-duration, interval: 10s, thresholdRange: {{max: 500}}}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: web, namespace: test}}
spec:
  provider: istio
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  service: {{port: 80}}
  analysis:
    interval: 10s
    threshold: 5
    stepWeight: 10
    metrics:
    - {{name: request-success-rate, interval: 10s, thresholdRange: {{min: 98}}}}
    - {{name: request-duration, interval: 10s, thresholdRange: {{max: 500}}}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: api, namespace: test}}
spec:
  provider: linkerd
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: api}}
  service: {{port: 80}}
  analysis:
    interval: 10s
    threshold: 5
    stepWeight: 10
    metrics:
    - {{name: request-success-rate, interval: 10s, thresholdRange: {{min: 99}}}}
    - {{name: request-duration, interval: 10s, thresholdRange: {{max: 500}}}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {{name: app, namespace: test}}
spec:
  provider: kubernetes
  metricsServer: {prom}
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: app}}
  service: {{port: 80}}
  analysis:
    interval: 10s
    threshold: 5
    iterations: 5
    metrics:
    - {{name: request-success-rate, interval: 10s, thresholdRange: {{min: 99}}}}
    - {{name: request-duration, interval: 10s, thresholdRange: {{max: 500}}}}
"""


def run_canaryctl(*args, timeout=60):
    t0 = time.time()
    p = subprocess.run([CANARYCTL, "metrics", "-o", "json"] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    try:
        rows = json.loads(p.stdout)
    except ValueError:
        rows = []
        print(p.stdout, p.stderr)
    return p.returncode, {(r["canary"], r.get("metric")): r for r in rows}, time.time() - t0


def main():
    tmp = tempfile.mkdtemp(prefix="canaryd-prom.")
    servers, prometheus = [], None
    try:
        exporter = serve(Exporter)
        servers.append(exporter)
        prometheus = Prometheus(tmp, [exporter.server_address[1]])
        prom = prometheus.url
        # Prometheus ready and holding enough samples for rate() over 10s
        # (up to a minute on a busy machine)
        ready = prometheus.wait_series("count_over_time(envoy_cluster_upstream_rq"
                                       '{envoy_response_code="503"}[10s])', 60, at_least=4)
        check("prometheus scrapes the exporter", ready)
        if not ready:
            return

        manifests = os.path.join(tmp, "canaries.yaml")
        with open(manifests, "w") as f:
            f.write(CANARIES.format(prom=prom))

        # the availability check (vector(1) on the real Prometheus)
        rc, rows, _ = run_canaryctl("-f", manifests, "--canary", "podinfo", "--check-providers")
        check("providers available on a real Prometheus", ("podinfo.test", None) not in rows, rows)

        rc, rows, _ = run_canaryctl("-f", manifests)
        check("canaryctl reports a failing canary with exit 1", rc == 1, rc)

        def row(c, m):
            return rows.get((c + ".test", m), {})

        def value(c, m):
            return row(c, m).get("value", float("nan"))

        sr = row("podinfo", "request-success-rate")
        check("App Mesh query is Flagger's, unmodified",
              sr.get("query", "").startswith('\nsum( rate( envoy_cluster_upstream_rq{ '
                                              'kubernetes_namespace="test", kubernetes_pod_name=~'
                                              '"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", '
                                              'envoy_response_code!~"5.*" }[10s] ) )'), sr)
        check("App Mesh success rate of podinfo is 99.5 %",
              99.4 < value("podinfo", "request-success-rate") < 99.6, sr)
        check("podinfo passes success rate", sr.get("status") == "pass", sr)
        d = row("podinfo", "request-duration")
        check("App Mesh p99 of podinfo is 75 ms", 73 <= value("podinfo", "request-duration") <= 75, d)
        check("podinfo passes request duration", d.get("status") == "pass", d)
        check("inline query: error ratio 0.5 %",
              0.4 < value("podinfo", "error-ratio") < 0.6, row("podinfo", "error-ratio"))
        check("MetricTemplate with variables: p99 75 ms",
              73 <= value("podinfo", "p99-from-template") <= 75.01, row("podinfo", "p99-from-template"))

        f_sr = row("faulty", "request-success-rate")
        check("faulty success rate is 80 % (its primary excluded)",
              79.9 < value("faulty", "request-success-rate") < 80.1, f_sr)
        check("faulty fails with Flagger's event text",
              f_sr.get("status") == "fail" and
              f_sr.get("message", "").startswith("Halt faulty.test advancement success rate 80.0"),
              f_sr)
        f_d = row("faulty", "request-duration")
        check("faulty p99 is 980 ms and fails",
              975 <= value("faulty", "request-duration") <= 980 and f_d.get("status") == "fail" and
              "advancement request duration 9" in f_d.get("message", "") and
              f_d.get("message", "").endswith("> 500ms"), f_d)

        check("Istio success rate 99 %", 98.9 < value("web", "request-success-rate") < 99.1,
              row("web", "request-success-rate"))
        check("Istio p99 20 ms", 19 <= value("web", "request-duration") <= 20,
              row("web", "request-duration"))
        check("Linkerd success rate 95 % fails min 99",
              94.9 < value("api", "request-success-rate") < 95.1 and
              row("api", "request-success-rate").get("status") == "fail",
              row("api", "request-success-rate"))
        check("Linkerd p99 190 ms", 188 <= value("api", "request-duration") <= 190,
              row("api", "request-duration"))
        check("app-level success rate 100 %", 99.99 < value("app", "request-success-rate") <= 100,
              row("app", "request-success-rate"))
        check("app-level p99 in seconds becomes 100 ms",
              98 <= value("app", "request-duration") <= 100, row("app", "request-duration"))

        # a Prometheus answering garbage, a slow one and a down one
        garbage = serve(Garbage)
        slow = serve(Slow)
        servers += [garbage, slow]
        down = "http://127.0.0.1:%d" % free_port()
        for name, url, want in [("garbage", "http://127.0.0.1:%d" % garbage.server_address[1],
                                 "error unmarshaling result"),
                                ("slow", "http://127.0.0.1:%d" % slow.server_address[1],
                                 "timed out after 1000 ms"),
                                ("down", down, "request failed")]:
            bad = os.path.join(tmp, name + ".yaml")
            with open(bad, "w") as f:
                f.write(CANARIES.format(prom=url))
            rc, rows, took = run_canaryctl("-f", bad, "--canary", "podinfo", "--timeout", "1s")
            r = rows.get(("podinfo.test", "request-success-rate"), {})
            check("%s Prometheus: a failed check, not a crash" % name,
                  rc == 1 and r.get("status") == "error", (rc, r))
            check("%s Prometheus: the message says why" % name,
                  r.get("message", "").startswith("Prometheus query failed: running query failed:")
                  and want in r.get("message", ""), r.get("message"))
            # every metric of the canary was tried, none hung the run
            check("%s Prometheus: all metrics evaluated" % name,
                  len([k for k in rows if k[0] == "podinfo.test"]) == 4, rows.keys())

        # the real Prometheus going away mid-run
        prometheus.proc.send_signal(signal.SIGTERM)
        prometheus.proc.wait(timeout=20)
        rc, rows, _ = run_canaryctl("-f", manifests, "--canary", "web", "--check-providers")
        r = rows.get(("web.test", None), {})
        check("availability check fails once Prometheus is gone",
              rc == 1 and "prometheus not available" in r.get("message", ""), r)
    finally:
        for s in servers:
            s.shutdown()
        if prometheus:
            prometheus.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(summary())
