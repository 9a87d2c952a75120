#!/usr/bin/python3
"""gateway.py - the Istio gateway of Flagger's gatewayapi e2e scripts, as a
stand-in: `gateway-istio.istio-ingress:80` in the harness's private network.

It is tests/integration/gateway_env.py's StandInGateway (a Gateway API
implementation that accepts the HTTPRoutes attached to the Gateway
istio-ingress/gateway, writes their status and routes requests by them:
hostnames, matches, weights, header modifiers) with what the scripts read
besides: the series an Istio gateway reports for every request it routes,
istio_requests_total and istio_request_duration_milliseconds (labels
reporter="source", destination_workload, destination_workload_namespace,
response_code), served on the metrics port for Prometheus; and podinfo's
/status/{code} answer (the rollback test sends its load to /status/500).

Tests only: it binds the address it is given, trusts its callers, and
decides nothing a test asserts on.

usage: gateway.py --api URL --address ADDR [--port 80] [--metrics-port 15090]
"""
import argparse
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import gateway_env  # noqa: E402

BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
# the backend's time as the gateway reports it: podinfo answers in a few
# milliseconds; the stand-in's own lookups in the fake API server (hundreds
# of milliseconds on a loaded machine) are not the application's latency
BACKEND_MS = 3.0


class Api:
    """The two calls StandInGateway makes: get and put, (status, headers, body)."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def _call(self, method, path, body=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                       "User-Agent": "gateway/stand-in"})
            r = c.getresponse()
            raw = r.read()
            return r.status, dict(r.getheaders()), json.loads(raw) if raw else {}
        finally:
            c.close()

    def get(self, path):
        return self._call("GET", path)

    def put(self, path, body):
        return self._call("PUT", path, body)


class Gateway(gateway_env.StandInGateway):
    def __init__(self, api):
        self.local = threading.local()
        self.mlock = threading.Lock()
        self.series = {}    # (workload, namespace, code) -> [count, sum_ms, buckets]
        super().__init__(api, gateways=(("istio-ingress", "gateway"),))

    def _serve(self, h):
        self.local.path = urllib.parse.urlsplit(h.path).path
        super()._serve(h)

    def _backend_answer(self, ns, ref):
        code, body = super()._backend_answer(ns, ref)
        workload = body.get("deployment") if isinstance(body, dict) else None
        m = re.fullmatch(r"/status/([1-5][0-9][0-9])", getattr(self.local, "path", "") or "")
        if code == 200 and m:
            code = int(m.group(1))
            body = {"status": code, "deployment": workload}
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
        out = ["# TYPE istio_requests_total counter",
               "# TYPE istio_request_duration_milliseconds histogram"]
        with self.mlock:
            for (wl, ns, code), (n, total, buckets) in sorted(self.series.items()):
                lab = ('reporter="source",destination_workload="%s",destination_workload_namespace="%s",'
                       'response_code="%s"' % (wl, ns, code))
                out.append("istio_requests_total{%s} %d" % (lab, n))
                for i, b in enumerate(BUCKETS):
                    out.append('istio_request_duration_milliseconds_bucket{%s,le="%g"} %d' % (lab, b, buckets[i]))
                out.append('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %d' % (lab, n))
                out.append("istio_request_duration_milliseconds_sum{%s} %.3f" % (lab, total))
                out.append("istio_request_duration_milliseconds_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--metrics-port", type=int, default=15090)
    a = ap.parse_args()
    gw = Gateway(Api(a.api))
    data = http.server.ThreadingHTTPServer((a.address, a.port), gw.server.RequestHandlerClass)
    data.daemon_threads = True
    threading.Thread(target=data.serve_forever, daemon=True).start()

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = gw.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    metrics = http.server.ThreadingHTTPServer((a.address, a.metrics_port), Metrics)
    metrics.daemon_threads = True
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    while True:
        time.sleep(3600)
        if gw.errors:
            print("\n".join(gw.errors[-5:]), flush=True)


if __name__ == "__main__":
    main()
