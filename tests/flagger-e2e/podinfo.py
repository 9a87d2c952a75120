#!/usr/bin/python3
"""podinfo.py - stand-ins for the podinfo pods of Flagger's e2e scripts, and
for the kubelet probes that hit them.

The fake API server runs no containers, so the Services the scripts call
(podinfo-svc-canary, podinfo-ds-canary.test, ...) resolve, through the
harness's private /etc/hosts, to loopback addresses where this process
answers as podinfo 6.x does on the paths the scripts and the load tester
use: GET / (the info document), /healthz, /readyz, /version,
/status/{code} (an answer with that code), /delay/{seconds}, POST /token
(a token document) and /metrics on the metrics port with podinfo's
http_request_duration_seconds histogram (labels method, path, status) and
its http_requests_total counter (label status),
which Prometheus scrapes with the pod's namespace and name as labels.
Every "pod" is probed on /healthz and /readyz every 10 s, as a kubelet
does, so a primary that gets no other traffic still has samples (as in a
Kind cluster).

Tests only: it trusts its callers, binds only the addresses it is given,
and must not decide anything a test asserts on.

usage: podinfo.py ADDR[,ADDR...] --ports 80,9898 --metrics-port 9797 --version 6.0.0
"""
import argparse
import json
import os
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


class Histogram:
    """http_request_duration_seconds of one pod, by (method, path, status)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.series = {}

    def observe(self, method, path, status, seconds):
        key = (method, path, str(status))
        with self.lock:
            s = self.series.setdefault(key, {"buckets": [0] * len(BUCKETS), "sum": 0.0, "count": 0})
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    s["buckets"][i] += 1
            s["sum"] += seconds
            s["count"] += 1

    def text(self):
        out = ["# HELP http_request_duration_seconds Seconds spent serving HTTP requests.",
               "# TYPE http_request_duration_seconds histogram"]
        with self.lock:
            for (m, p, st), s in sorted(self.series.items()):
                lab = 'method="%s",path="%s",status="%s"' % (m, p, st)
                for i, b in enumerate(BUCKETS):
                    out.append('http_request_duration_seconds_bucket{%s,le="%g"} %d' % (lab, b, s["buckets"][i]))
                out.append('http_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (lab, s["count"]))
                out.append("http_request_duration_seconds_sum{%s} %.6f" % (lab, s["sum"]))
                out.append("http_request_duration_seconds_count{%s} %d" % (lab, s["count"]))
            # podinfo's counter for autoscalers (KEDA's Prometheus trigger in test/keda)
            totals = {}
            for (m, p, st), s in self.series.items():
                totals[st] = totals.get(st, 0) + s["count"]
        out += ["# HELP http_requests_total The total number of HTTP requests.",
                "# TYPE http_requests_total counter"]
        out += ['http_requests_total{status="%s"} %d' % (st, n) for st, n in sorted(totals.items())]
        return "\n".join(out) + "\n"


def route_of(path):
    """podinfo labels requests by route, not by raw path."""
    p = path.split("?", 1)[0]
    if p in ("", "/"):
        return "root"
    return p.strip("/").replace("/", "_")


def make_handler(pod, hist, version, metrics):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, code, obj, ctype="application/json; charset=utf-8"):
            body = obj if isinstance(obj, bytes) else (json.dumps(obj, indent=2) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return code

        def serve(self):
            start = time.monotonic()
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(min(n, 1 << 20))
            path = self.path.split("?", 1)[0]
            if metrics:
                if path == "/metrics":
                    return self.answer(200, hist.text().encode(), "text/plain; version=0.0.4")
                return self.answer(404, {"code": 404, "message": "not found"})
            if path in ("/healthz", "/readyz"):
                code = self.answer(200, {"status": "OK"})
            elif path == "/version":
                code = self.answer(200, {"commit": "stand-in", "version": version})
            elif path == "/token" and self.command == "POST":
                code = self.answer(200, {"token": "stand-in." + pod, "expires_at": "2099-01-01T00:00:00Z"})
            elif re.fullmatch(r"/status/[1-5][0-9][0-9]", path):
                code = int(path.rsplit("/", 1)[1])
                code = self.answer(code, {"status": code})
            elif re.fullmatch(r"/delay/[0-9]{1,2}", path):
                time.sleep(int(path.rsplit("/", 1)[1]))
                code = self.answer(200, {"delay": int(path.rsplit("/", 1)[1])})
            elif path in ("/", "/api/info"):
                code = self.answer(200, {"hostname": pod, "version": version, "revision": "stand-in",
                                         "color": "#34577c", "logo": "", "message":
                                         "greetings from podinfo v" + version, "goos": "linux",
                                         "goarch": "amd64", "runtime": "stand-in", "num_goroutine": "1",
                                         "num_cpu": "1"})
            else:
                code = self.answer(404, {"code": 404, "message": "not found"})
            hist.observe(self.command, route_of(path), code, time.monotonic() - start)

        do_GET = do_POST = do_PUT = do_HEAD = serve

    return H


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def probe(addrs, port, period):
    while True:
        for a in addrs:
            for p in ("/healthz", "/readyz"):
                try:
                    urllib.request.urlopen("http://%s:%d%s" % (a, port, p), timeout=2).read()
                except OSError:
                    pass
        time.sleep(period)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pods", help="ADDR=PODNAME,... one stand-in pod per loopback address")
    ap.add_argument("--ports", default="80,9898")
    ap.add_argument("--metrics-port", type=int, default=9797)
    ap.add_argument("--version", default="6.0.0")
    ap.add_argument("--probe-period", type=float, default=10)
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    servers = []
    addrs = []
    for item in a.pods.split(","):
        addr, pod = item.split("=", 1)
        addrs.append(addr)
        hist = Histogram()
        for port in [int(p) for p in a.ports.split(",")]:
            servers.append(Server((addr, port), make_handler(pod, hist, a.version, False)))
        servers.append(Server((addr, a.metrics_port), make_handler(pod, hist, a.version, True)))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    probe_port = int(a.ports.split(",")[-1])
    threading.Thread(target=probe, args=(addrs, probe_port, a.probe_period), daemon=True).start()
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
