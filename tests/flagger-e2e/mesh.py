#!/usr/bin/python3
"""mesh.py - the Istio data plane of Flagger's istio e2e scripts, as a
stand-in: the sidecars in front of the Services of namespace `test`
(podinfo, podinfo-canary, podinfo-primary) and the ingress gateway
`istio-ingressgateway.istio-system`, in the harness's private network.

It is tests/integration/istio_env.py's StandInMesh (a "pilot" that reads
every VirtualService from the fake API server, and routes real HTTP
requests by them: hosts, matches, weights, response headers, answering
for the ready Deployment a destination Service selects) with what the
scripts need besides:
- mesh traffic (the mesh address) is routed by the VirtualServices bound
  to the mesh (no gateways, or `mesh`), gateway traffic (the gateway
  address) by those bound to a gateway, following `delegate` to the
  delegate VirtualService; a request no VirtualService routes goes to the
  Service its host names, as a sidecar sends it;
- the series the destination sidecars report for every request,
  istio_requests_total and istio_request_duration_milliseconds (labels
  reporter="destination", destination_workload,
  destination_workload_namespace, response_code), on the metrics port for
  Prometheus: what the builtin queries and the scripts' MetricTemplate read;
- podinfo's answers the webhooks read: POST /token, /status/{code};
- the gateway on its container port, 8080, too (the Service's 80 maps to
  it): test-session-affinity.sh port-forwards to the gateway's Pod there;
- a gRPC port (9999) that speaks HTTP/2's connection preface, for the
  harness's grpc_health_probe stand-in (tests/flagger-e2e/bin/).

Tests only: it binds the addresses it is given, trusts its callers, and
decides nothing a test asserts on.

usage: mesh.py --api URL --mesh ADDR --gateway ADDR [--metrics-port 15090]
"""
import argparse
import http.server
import json
import os
import random
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
from istio_env import StandInMesh, _http_match, _host_matches, _response_headers  # noqa: E402

BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
BACKEND_MS = 3.0      # podinfo's own time; the stand-in's API lookups are not the application's
CLIENT_NS = "test"    # the load tester's namespace: a short host name is a Service there


def qualify(host):
    """(fqdn, service, namespace) of a host a client in CLIENT_NS calls."""
    parts = host.split(".")
    ns = parts[1] if len(parts) > 1 else CLIENT_NS
    return "%s.%s.svc.cluster.local" % (parts[0], ns), parts[0], ns


class Mesh(StandInMesh):
    def __init__(self, api, gateway_addr):
        self.gateway_addr = gateway_addr
        self.mlock = threading.Lock()
        self.series = {}    # (workload, namespace, code) -> [count, sum_ms, buckets]
        super().__init__(api, tick=0.5)

    @staticmethod
    def _bound_to_gateway(vs):
        gws = (vs.get("spec") or {}).get("gateways") or []
        return any(g != "mesh" for g in gws)

    @staticmethod
    def _bound_to_mesh(vs):
        gws = (vs.get("spec") or {}).get("gateways") or []
        return not gws or "mesh" in gws

    def _routes_of(self, vs, method, path, headers, depth=0):
        """(vs, route) of the first HTTP route of vs that fits, following delegates."""
        for r in (vs.get("spec") or {}).get("http") or []:
            if not any(_http_match(m, method, path, headers) for m in r.get("match") or [{}]):
                continue
            d = r.get("delegate")
            if d and depth < 2:
                with self.lock:
                    dvs = self.programmed.get((d.get("namespace", vs["metadata"]["namespace"]), d.get("name")))
                if dvs:
                    return self._routes_of(dvs, method, path, headers, depth + 1)
                return vs, None
            return vs, r
        return None, None

    def resolve(self, at_gateway, method, host, path, headers):
        with self.lock:
            vss = sorted(self.programmed.values(), key=lambda v: (v["metadata"]["namespace"], v["metadata"]["name"]))
        fqdn = host if at_gateway else qualify(host)[0]
        for v in vss:
            if not (self._bound_to_gateway(v) if at_gateway else self._bound_to_mesh(v)):
                continue
            if not (v.get("spec") or {}).get("hosts"):
                continue    # a delegate: reached only through its root
            if not _host_matches(v["spec"]["hosts"], fqdn, v["metadata"]["namespace"]):
                continue
            vs, r = self._routes_of(v, method, path, headers)
            if vs:
                return vs, r
        return None, None

    def _answer(self, ns, svc, path, method):
        code, body = self._backend_answer(ns, {"name": svc})
        workload = body.get("deployment") if isinstance(body, dict) else None
        if code == 200:
            m = re.fullmatch(r"/status/([1-5][0-9][0-9])", path)
            if m:
                code, body = int(m.group(1)), {"status": int(m.group(1))}
            elif path == "/token" and method == "POST":
                body = {"token": "stand-in." + (workload or svc), "expires_at": "2099-01-01T00:00:00Z"}
        if workload:
            self.observe(workload, ns, code, BACKEND_MS)
        return code, body

    def _serve(self, h):
        at_gateway = h.server.server_address[0] == self.gateway_addr
        path = urllib.parse.urlsplit(h.path).path
        headers = {k.lower(): v for k, v in h.headers.items()}
        n = int(headers.get("content-length") or 0)
        if n:
            h.rfile.read(n)
        host = headers.get("host", "").split(":")[0]
        vs, route = self.resolve(at_gateway, h.command, host, path, headers)
        resp_headers = []
        if route is None and vs is None and not at_gateway:
            _, svc, ns = qualify(host)
            code, body = self._answer(ns, svc, path, h.command)
        elif route is None:
            code, body = 404, {"error": "no route"}
        else:
            ns = vs["metadata"]["namespace"]
            dests = route.get("route") or []
            weighted = dests if len(dests) == 1 else [d for d in dests if d.get("weight", 0) > 0]
            if not weighted:
                code, body = 503, {"error": "no destination with weight"}
            else:
                d = random.choices(weighted, weights=[x.get("weight", 0) or 1 for x in weighted])[0]
                rw = (route.get("rewrite") or {}).get("uri")
                code, body = self._answer(ns, d["destination"]["host"].split(".")[0], rw or path, h.command)
                resp_headers += _response_headers(route) + _response_headers(d)
            m = route.get("mirror")
            if m and random.uniform(0, 100) < (route.get("mirrorPercentage") or {}).get("value", 100.0):
                self._answer(ns, m["host"].split(".")[0], path, h.command)
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, val in resp_headers:
            h.send_header(k, val)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def observe(self, workload, ns, code, ms):
        with self.mlock:
            s = self.series.setdefault((workload, ns, str(code)), [0, 0.0, [0] * len(BUCKETS)])
            s[0] += 1
            s[1] += ms
            for i, b in enumerate(BUCKETS):
                if ms <= b:
                    s[2][i] += 1

    def render(self):
        out = ["# TYPE istio_requests_total counter",
               "# TYPE istio_request_duration_milliseconds histogram"]
        with self.mlock:
            for (wl, ns, code), (n, total, buckets) in sorted(self.series.items()):
                lab = ('reporter="destination",destination_workload="%s",destination_workload_namespace="%s",'
                       'response_code="%s"' % (wl, ns, code))
                out.append("istio_requests_total{%s} %d" % (lab, n))
                for i, b in enumerate(BUCKETS):
                    out.append('istio_request_duration_milliseconds_bucket{%s,le="%g"} %d' % (lab, b, buckets[i]))
                out.append('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %d' % (lab, n))
                out.append("istio_request_duration_milliseconds_sum{%s} %.3f" % (lab, total))
                out.append("istio_request_duration_milliseconds_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


class Http2Preface(socketserver.BaseRequestHandler):
    """A gRPC port as far as a connection goes: reads the client's HTTP/2
    preface and answers with an empty SETTINGS frame."""

    def handle(self):
        self.request.settimeout(5)
        try:
            got = b""
            while len(got) < 24:
                chunk = self.request.recv(24 - len(got))
                if not chunk:
                    return
                got += chunk
            if got == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":
                self.request.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        except OSError:
            pass


def serve(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--mesh", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--metrics-port", type=int, default=15090)
    a = ap.parse_args()
    mesh = Mesh(Api(a.api), a.gateway)
    handler = mesh.server.RequestHandlerClass
    for addr, port in ((a.mesh, 80), (a.mesh, 9898), (a.gateway, 80), (a.gateway, 8080)):
        serve(http.server.ThreadingHTTPServer((addr, port), handler))
    serve(socketserver.ThreadingTCPServer((a.mesh, 9999), Http2Preface))

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = mesh.render().encode()
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
        if mesh.errors:
            print("\n".join(mesh.errors[-5:]), flush=True)
            del mesh.errors[:]


if __name__ == "__main__":
    main()
