#!/usr/bin/python3
"""linkerd.py - the Linkerd data plane of Flagger's linkerd e2e scripts, as
a stand-in: the proxies in front of the Services of namespace `test`
(podinfo, podinfo-canary, podinfo-primary) in the harness's private network.

Its "policy controller" reads every HTTPRoute (gateway.networking.k8s.io)
from the fake API server; a request to a Service goes, as Linkerd routes
it (the Gateway API's GAMMA profile), by the HTTPRoutes whose parentRefs
name that Service (matches, backendRefs by weight:
tests/integration/gateway_env.py's StandInGateway), or, with none, to the
Service itself; the answer is the ready Deployment the backend Service
selects, and podinfo's /status/{code} and POST /token. Every request is
counted as the destination's inbound proxy reports it, the series the
scripts' MetricTemplates read from linkerd-viz's Prometheus:
response_total (labels namespace, deployment, direction="inbound",
classification success/failure, status_code) and response_latency_ms
(histogram), on the metrics port; and it speaks HTTP/2's preface on the
gRPC port (9999) for the harness's grpc_health_probe stand-in.

Tests only: it binds the addresses it is given, trusts its callers, and
decides nothing a test asserts on.

usage: linkerd.py --api URL --mesh ADDR [--metrics-port 4191]
"""
import argparse
import copy
import http.server
import json
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
from gateway import Api  # noqa: E402
from gateway_env import StandInGateway, _match, _precedence  # noqa: E402
from mesh import Http2Preface, qualify  # noqa: E402

BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
BACKEND_MS = 3.0


class Linkerd(StandInGateway):
    def __init__(self, api):
        self.local = threading.local()
        self.mlock = threading.Lock()
        self.series = {}    # (deployment, namespace, code) -> [count, sum_ms, buckets]
        super().__init__(api, gateways=(), tick=0.5)

    def _sync(self):
        status, _, body = self.api.get("/apis/gateway.networking.k8s.io/v1/httproutes")
        if status != 200:
            return
        live = {}
        for r in body.get("items", []):
            live[(r["metadata"]["namespace"], r["metadata"]["name"])] = copy.deepcopy(r)
        with self.lock:
            self.programmed = live

    def route_for(self, method, host, path, headers, query):
        _, svc, ns = qualify(host)
        with self.lock:
            routes = sorted(self.programmed.values(), key=lambda r: (r["metadata"].get("creationTimestamp", ""),
                                                                   r["metadata"]["namespace"], r["metadata"]["name"]))
        best = None
        for ri, r in enumerate(routes):
            rns = r["metadata"]["namespace"]
            spec = r.get("spec") or {}
            if not any(p.get("kind") == "Service" and p.get("name") == svc and p.get("namespace", rns) == ns
                       for p in spec.get("parentRefs") or []):
                continue
            for i, rule in enumerate(spec.get("rules") or []):
                for m in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                    if _match(m, method, path, headers, query):
                        key = _precedence(m) + (ri, i)
                        if best is None or key < best[0]:
                            best = (key, r, rule)
        return (best[1], best[2]) if best else (None, None)

    def _serve(self, h):
        u = urllib.parse.urlsplit(h.path)
        self.local.path = u.path
        host = h.headers.get("Host", "").split(":")[0]
        route, _ = self.route_for(h.command, host, u.path, {k.lower(): v for k, v in h.headers.items()},
                                  urllib.parse.parse_qs(u.query))
        if route is not None:
            super()._serve(h)
            return
        n = int(h.headers.get("Content-Length") or 0)
        if n:
            h.rfile.read(n)
        _, svc, ns = qualify(host)
        code, body = self._backend_answer(ns, {"name": svc})
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _backend_answer(self, ns, ref):
        code, body = super()._backend_answer(ns, ref)
        workload = body.get("deployment") if isinstance(body, dict) else None
        path = getattr(self.local, "path", "") or ""
        if code == 200:
            m = re.fullmatch(r"/status/([1-5][0-9][0-9])", path)
            if m:
                code, body = int(m.group(1)), {"status": int(m.group(1)), "deployment": workload}
            elif path == "/token":
                body = {"token": "stand-in." + (workload or ref["name"]), "expires_at": "2099-01-01T00:00:00Z"}
        if workload:
            self.observe(workload, ref.get("namespace", ns), code, BACKEND_MS)
        return code, body

    def observe(self, workload, ns, code, ms):
        with self.mlock:
            s = self.series.setdefault((workload, ns, str(code)), [0, 0.0, [0] * len(BUCKETS)])
            s[0] += 1
            s[1] += ms
            for i, b in enumerate(BUCKETS):
                if ms <= b:
                    s[2][i] += 1

    def render(self):
        out = ["# TYPE response_total counter", "# TYPE response_latency_ms histogram"]
        with self.mlock:
            for (wl, ns, code), (n, total, buckets) in sorted(self.series.items()):
                lab = 'namespace="%s",deployment="%s",direction="inbound"' % (ns, wl)
                cls = "failure" if code.startswith("5") else "success"
                out.append('response_total{%s,classification="%s",status_code="%s"} %d' % (lab, cls, code, n))
                for i, b in enumerate(BUCKETS):
                    out.append('response_latency_ms_bucket{%s,status_code="%s",le="%g"} %d'
                               % (lab, code, b, buckets[i]))
                out.append('response_latency_ms_bucket{%s,status_code="%s",le="+Inf"} %d' % (lab, code, n))
                out.append('response_latency_ms_sum{%s,status_code="%s"} %.3f' % (lab, code, total))
                out.append('response_latency_ms_count{%s,status_code="%s"} %d' % (lab, code, n))
        return "\n".join(out) + "\n"


def serve(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--mesh", required=True)
    ap.add_argument("--metrics-port", type=int, default=4191)
    a = ap.parse_args()
    proxy = Linkerd(Api(a.api))
    for port in (80, 9898):
        serve(http.server.ThreadingHTTPServer((a.mesh, port), proxy.server.RequestHandlerClass))
    serve(socketserver.ThreadingTCPServer((a.mesh, 9999), Http2Preface))

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = proxy.render().encode()
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
        if proxy.errors:
            print("\n".join(proxy.errors[-5:]), flush=True)
            del proxy.errors[:]


if __name__ == "__main__":
    main()
