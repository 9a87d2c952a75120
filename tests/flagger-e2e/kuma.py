#!/usr/bin/python3
"""kuma.py - the Kuma data plane of Flagger's kuma e2e script, as a
stand-in: the sidecars in front of the Services of namespace `test`
(podinfo, podinfo-canary, podinfo-primary) in the harness's private network.

Its "control plane" reads every TrafficRoute (kuma.io/v1alpha1,
cluster-scoped) from the fake API server; a request to a Service is sent
as Kuma's Envoy sends it: the Service's Kuma name <svc>_<ns>_svc_<port>,
the TrafficRoute whose destinations match it, a destination of its
conf.split picked by weight (no TrafficRoute: the Service itself); the
answer is the ready Deployment that destination Service selects, and
podinfo's /status/{code} and POST /token. Every request is counted as the
sending Envoy reports its upstream cluster, the series Flagger's builtin
kuma queries read: envoy_cluster_upstream_rq (labels service = the
destination's Kuma name, envoy_response_code) and
envoy_cluster_upstream_rq_time (histogram, ms), on the metrics port.

Tests only: it binds the addresses it is given, trusts its callers, and
decides nothing a test asserts on.

usage: kuma.py --api URL --mesh ADDR [--metrics-port 5670]
"""
import argparse
import copy
import http.server
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
from gateway import Api  # noqa: E402
from gateway_env import StandInGateway  # noqa: E402

TAG = "kuma.io/service"
BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
BACKEND_MS = 3.0
CLIENT_NS = "test"


class Kuma(StandInGateway):
    def __init__(self, api):
        self.mlock = threading.Lock()
        self.series = {}    # (service, code) -> [count, sum_ms, buckets]
        super().__init__(api, gateways=(), tick=0.5)

    def _sync(self):
        status, _, body = self.api.get("/apis/kuma.io/v1alpha1/trafficroutes")
        if status != 200:
            return
        live = {}
        for r in body.get("items", []):
            live[r["metadata"]["name"]] = copy.deepcopy(r)
        with self.lock:
            self.programmed = live

    def destination(self, kuma_name):
        """The Kuma service name a request to kuma_name goes to."""
        with self.lock:
            routes = sorted(self.programmed.values(), key=lambda r: r["metadata"]["name"])
        for r in routes:
            spec = r.get("spec") or {}
            if not any((d.get("match") or {}).get(TAG) in (kuma_name, "*") for d in spec.get("destinations") or []):
                continue
            split = [s for s in (spec.get("conf") or {}).get("split") or [] if s.get("weight", 0) > 0]
            if split:
                s = random.choices(split, weights=[x["weight"] for x in split])[0]
                return (s.get("destination") or {}).get(TAG, kuma_name)
        return kuma_name

    def _serve(self, h):
        path = urllib.parse.urlsplit(h.path).path
        headers = {k.lower(): v for k, v in h.headers.items()}
        n = int(headers.get("content-length") or 0)
        if n:
            h.rfile.read(n)
        host, _, port = headers.get("host", "").partition(":")
        parts = host.split(".")
        svc, ns = parts[0], parts[1] if len(parts) > 1 else CLIENT_NS
        dest = self.destination("%s_%s_svc_%s" % (svc, ns, port or "80"))
        m = re.fullmatch(r"(.+)_(.+)_svc_(\d+)", dest)
        code, body = self._backend_answer(m.group(2), {"name": m.group(1)}) if m else (503, {"error": dest})
        if code == 200:
            st = re.fullmatch(r"/status/([1-5][0-9][0-9])", path)
            if st:
                code, body = int(st.group(1)), {"status": int(st.group(1))}
            elif path == "/token" and h.command == "POST":
                body = {"token": "stand-in." + m.group(1), "expires_at": "2099-01-01T00:00:00Z"}
        self.observe(dest, code, BACKEND_MS)
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def observe(self, service, code, ms):
        with self.mlock:
            s = self.series.setdefault((service, str(code)), [0, 0.0, [0] * len(BUCKETS)])
            s[0] += 1
            s[1] += ms
            for i, b in enumerate(BUCKETS):
                if ms <= b:
                    s[2][i] += 1

    def render(self):
        out = ["# TYPE envoy_cluster_upstream_rq counter",
               "# TYPE envoy_cluster_upstream_rq_time histogram"]
        with self.mlock:
            for (svc, code), (n, total, buckets) in sorted(self.series.items()):
                lab = 'envoy_cluster_name="%s",kuma_io_mesh="default",service="%s"' % (svc, svc)
                out.append('envoy_cluster_upstream_rq{%s,envoy_response_code="%s"} %d' % (lab, code, n))
                for i, b in enumerate(BUCKETS):
                    out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="%g"} %d' % (lab, b, buckets[i]))
                out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="+Inf"} %d' % (lab, n))
                out.append("envoy_cluster_upstream_rq_time_sum{%s} %.3f" % (lab, total))
                out.append("envoy_cluster_upstream_rq_time_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


def serve(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--mesh", required=True)
    ap.add_argument("--metrics-port", type=int, default=5670)
    a = ap.parse_args()
    kuma = Kuma(Api(a.api))
    for port in (80, 9898):
        serve(http.server.ThreadingHTTPServer((a.mesh, port), kuma.server.RequestHandlerClass))

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = kuma.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    serve(http.server.ThreadingHTTPServer((a.mesh, a.metrics_port), Metrics))
    while True:
        time.sleep(60)
        if kuma.errors:
            print("\n".join(kuma.errors[-5:]), flush=True)
            del kuma.errors[:]


if __name__ == "__main__":
    main()
