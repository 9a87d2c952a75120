#!/usr/bin/python3
"""kourier.py - Knative's ingress (Kourier's Envoy) for Flagger's knative e2e
scripts, as a stand-in: `podinfo.test:80` in the harness's private network.

Every request to a host <service>.<namespace> is sent to one revision of
that Knative Service, drawn by the percents of the Service's
status.traffic (what Knative's Route reconciler resolved; the fake API
server's Knative stand-in writes it), and answered as podinfo does ("/":
its JSON, "/delay/N": after N seconds, "/status/N": code N). Each answer
is counted the way Envoy reports Knative's clusters, the series Flagger's
builtin knative queries read: envoy_cluster_upstream_rq (labels
envoy_cluster_name="<namespace>/<revision>", envoy_response_code) and the
histogram envoy_cluster_upstream_rq_time (milliseconds), served on the
metrics port for Prometheus.

Tests only: it binds the address it is given, trusts its callers, and
decides nothing a test asserts on.

usage: kourier.py --api URL --address ADDR [--port 80] [--metrics-port 15090]
"""
import argparse
import http.client
import http.server
import json
import random
import re
import threading
import time
import urllib.parse

BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
BACKEND_MS = 3.0


def api_get(api, path):
    u = urllib.parse.urlsplit(api)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("GET", path, headers={"User-Agent": "kourier/stand-in"})
        r = c.getresponse()
        raw = r.read()
        return json.loads(raw) if r.status == 200 and raw else None
    finally:
        c.close()


class Kourier:
    def __init__(self, api):
        self.api = api
        self.lock = threading.Lock()
        self.series = {}    # (cluster, code) -> [count, sum_ms, buckets]
        self.cache = {}     # (ns, name) -> (monotonic, status.traffic)

    def traffic(self, ns, name):
        """status.traffic of the Knative Service, at most 0.5 s old."""
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get((ns, name))
        if hit and now - hit[0] < 0.5:
            return hit[1]
        svc = api_get(self.api, "/apis/serving.knative.dev/v1/namespaces/%s/services/%s" % (ns, name))
        tr = ((svc or {}).get("status") or {}).get("traffic") or []
        with self.lock:
            self.cache[(ns, name)] = (now, tr)
        return tr

    def pick(self, ns, name):
        targets = [t for t in self.traffic(ns, name) if t.get("percent", 0) > 0 and t.get("revisionName")]
        if not targets:
            return None
        x = random.uniform(0, sum(t["percent"] for t in targets))
        for t in targets:
            x -= t["percent"]
            if x <= 0:
                return t["revisionName"]
        return targets[-1]["revisionName"]

    def observe(self, cluster, code, ms):
        with self.lock:
            s = self.series.setdefault((cluster, str(code)), [0, 0.0, [0] * len(BUCKETS)])
            s[0] += 1
            s[1] += ms
            for i, b in enumerate(BUCKETS):
                if ms <= b:
                    s[2][i] += 1

    def render(self):
        out = ["# TYPE envoy_cluster_upstream_rq counter",
               "# TYPE envoy_cluster_upstream_rq_time histogram"]
        with self.lock:
            for (cluster, code), (n, total, buckets) in sorted(self.series.items()):
                lab = 'envoy_cluster_name="%s",envoy_response_code="%s"' % (cluster, code)
                out.append("envoy_cluster_upstream_rq{%s} %d" % (lab, n))
                tl = 'envoy_cluster_name="%s"' % cluster
                for i, b in enumerate(BUCKETS):
                    out.append('envoy_cluster_upstream_rq_time_bucket{%s,envoy_response_code="%s",le="%g"} %d'
                               % (tl, code, b, buckets[i]))
                out.append('envoy_cluster_upstream_rq_time_bucket{%s,envoy_response_code="%s",le="+Inf"} %d'
                           % (tl, code, n))
                out.append('envoy_cluster_upstream_rq_time_sum{%s,envoy_response_code="%s"} %.3f'
                           % (tl, code, total))
                out.append('envoy_cluster_upstream_rq_time_count{%s,envoy_response_code="%s"} %d'
                           % (tl, code, n))
        return "\n".join(out) + "\n"

    def handler(self):
        k = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                parts = host.split(".")
                if len(parts) < 2:
                    return self.answer(404, {"error": "no route for host %s" % host})
                rev = k.pick(parts[1], parts[0])
                if rev is None:
                    return self.answer(503, {"error": "no ready revision for %s" % host})
                path = urllib.parse.urlsplit(self.path).path
                code, ms = 200, BACKEND_MS
                m = re.fullmatch(r"/delay/([0-9]{1,2})", path)
                if m:
                    time.sleep(int(m.group(1)))
                    ms += int(m.group(1)) * 1000.0
                m = re.fullmatch(r"/status/([1-5][0-9][0-9])", path)
                if m:
                    code = int(m.group(1))
                k.observe("%s/%s" % (parts[1], rev), code, ms)
                self.answer(code, {"hostname": rev + "-deployment", "revision": rev, "status": code})

            def answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass
        return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--metrics-port", type=int, default=15090)
    a = ap.parse_args()
    k = Kourier(a.api)
    data = http.server.ThreadingHTTPServer((a.address, a.port), k.handler())
    data.daemon_threads = True
    threading.Thread(target=data.serve_forever, daemon=True).start()

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = k.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    metrics = http.server.ThreadingHTTPServer((a.address, a.metrics_port), Metrics)
    metrics.daemon_threads = True
    metrics.serve_forever()


if __name__ == "__main__":
    main()
