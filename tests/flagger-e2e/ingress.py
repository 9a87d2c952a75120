#!/usr/bin/python3
"""ingress.py - the ingress controller of Flagger's ingress e2e scripts
(test/nginx/), as a stand-in: `ingress-nginx-controller.ingress-nginx:80` in
the harness's private network.

It routes each request by the Ingress objects in the fake API server, as
ingress-nginx does: the rule whose host and path match (longest path
first), and, when a canary Ingress (annotation
nginx.ingress.kubernetes.io/canary: "true", the one canaryd writes) has
the same host and path, the canary's backend when canary-by-header (with
canary-by-header-value or -pattern; "always" / "never" without them),
canary-by-cookie or canary-weight (of canary-weight-total) says so. The
backend Service's selector picks the pod stand-in (podinfo.py) the request
is forwarded to, so podinfo's own histogram sees it. It reports the series
ingress-nginx reports for every request, nginx_ingress_controller_requests
and nginx_ingress_controller_response_duration_seconds (labels namespace,
ingress, service, status, canary: the canary's upstream name
<ns>-<svc>-<port> when the request went to it, "" otherwise), on the
metrics port for Prometheus.

Tests only: it binds the address it is given, trusts its callers, and
decides nothing a test asserts on.

usage: ingress.py --api URL --address ADDR --pod APP=ADDR [--pod ...]
                  [--port 80] [--metrics-port 10254]
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
import urllib.request

PREFIX = "nginx.ingress.kubernetes.io/"
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


class Api:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.lock = threading.Lock()
        self.cache = {}

    def get(self, path, ttl=0.3):
        with self.lock:
            hit = self.cache.get(path)
        if hit and time.time() - hit[0] < ttl:
            return hit[1]
        try:
            req = urllib.request.Request(self.url + path, headers={"User-Agent": "ingress/stand-in"})
            with urllib.request.urlopen(req, timeout=10) as r:
                val = json.load(r)
        except OSError:
            val = None
        with self.lock:
            self.cache[path] = (time.time(), val)
        return val


def _anns(ing):
    return (ing.get("metadata") or {}).get("annotations") or {}


def _is_canary(ing):
    return _anns(ing).get(PREFIX + "canary") == "true"


def _paths(ing, host, path):
    """[(path length, backend service dict)] of the rules of ing that match."""
    out = []
    for rule in (ing.get("spec") or {}).get("rules") or []:
        if rule.get("host") and rule["host"] != host:
            continue
        for p in ((rule.get("http") or {}).get("paths")) or []:
            pp = p.get("path") or "/"
            kind = p.get("pathType", "Prefix")
            if kind == "Exact":
                ok = path == pp
            else:
                base = pp.rstrip("/")
                ok = path == base or path.startswith(base + "/") or pp == "/"
            svc = (p.get("backend") or {}).get("service")
            if ok and svc:
                out.append((len(pp), rule.get("host") or "", pp, svc))
    return out


def _wants_canary(ing, headers, cookies):
    a = _anns(ing)
    h = a.get(PREFIX + "canary-by-header")
    if h:
        v = headers.get(h.lower())
        if v is not None:
            want = a.get(PREFIX + "canary-by-header-value")
            pat = a.get(PREFIX + "canary-by-header-pattern")
            if want:
                if v == want:
                    return True
            elif pat:
                if re.fullmatch(pat, v):
                    return True
            elif v == "always":
                return True
            elif v == "never":
                return False
    c = a.get(PREFIX + "canary-by-cookie")
    if c and c in cookies:
        if cookies[c] == "always":
            return True
        if cookies[c] == "never":
            return False
    try:
        w = int(a.get(PREFIX + "canary-weight") or 0)
        total = int(a.get(PREFIX + "canary-weight-total") or 100)
    except ValueError:
        return False
    return w > 0 and random.random() * total < w


class Ingress:
    def __init__(self, api, pods):
        self.api = api
        self.pods = pods          # app label -> address
        self.mlock = threading.Lock()
        self.series = {}          # (ns, ingress, service, status, canary) -> [count, sum, buckets]

    def route(self, host, path, headers, cookies):
        """(namespace, ingress name, service dict, canary upstream or "") or None."""
        items = (self.api.get("/apis/networking.k8s.io/v1/ingresses") or {}).get("items") or []
        best = None
        for ing in items:
            if _is_canary(ing):
                continue
            for m in _paths(ing, host, path):
                if best is None or m[0] > best[1][0]:
                    best = (ing, m)
        if not best:
            return None
        ing, (_, rhost, rpath, svc) = best
        ns = ing["metadata"]["namespace"]
        for c in items:
            if not _is_canary(c) or c["metadata"]["namespace"] != ns:
                continue
            for _, chost, cpath, csvc in _paths(c, host, path):
                if chost == rhost and cpath == rpath and _wants_canary(c, headers, cookies):
                    port = (csvc.get("port") or {}).get("number", 80)
                    return ns, ing["metadata"]["name"], csvc, "%s-%s-%s" % (ns, csvc["name"], port)
        return ns, ing["metadata"]["name"], svc, ""

    def pod_of(self, ns, svc):
        s = self.api.get("/api/v1/namespaces/%s/services/%s" % (ns, svc["name"]))
        sel = ((s or {}).get("spec") or {}).get("selector") or {}
        return self.pods.get(sel.get("app", ""))

    def observe(self, key, seconds):
        with self.mlock:
            s = self.series.setdefault(key, [0, 0.0, [0] * len(BUCKETS)])
            s[0] += 1
            s[1] += seconds
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    s[2][i] += 1

    def render(self):
        out = ["# TYPE nginx_ingress_controller_requests counter",
               "# TYPE nginx_ingress_controller_response_duration_seconds histogram"]
        with self.mlock:
            for (ns, ing, svc, code, canary), (n, total, buckets) in sorted(self.series.items()):
                lab = ('controller_class="k8s.io/ingress-nginx",controller_namespace="ingress-nginx",'
                       'namespace="%s",ingress="%s",service="%s",status="%s",canary="%s"'
                       % (ns, ing, svc, code, canary))
                out.append("nginx_ingress_controller_requests{%s} %d" % (lab, n))
                for i, b in enumerate(BUCKETS):
                    out.append('nginx_ingress_controller_response_duration_seconds_bucket{%s,le="%g"} %d'
                               % (lab, b, buckets[i]))
                out.append('nginx_ingress_controller_response_duration_seconds_bucket{%s,le="+Inf"} %d'
                           % (lab, n))
                out.append("nginx_ingress_controller_response_duration_seconds_sum{%s} %.6f" % (lab, total))
                out.append("nginx_ingress_controller_response_duration_seconds_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"

    def handler(self):
        ctl = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def serve(self):
                start = time.monotonic()
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(min(n, 1 << 20)) if n else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                cookies = {}
                for part in headers.get("cookie", "").split(";"):
                    if "=" in part:
                        k, v = part.strip().split("=", 1)
                        cookies[k] = v
                host = headers.get("host", "").split(":")[0]
                path = urllib.parse.urlsplit(self.path).path
                r = ctl.route(host, path, headers, cookies)
                if not r:
                    return self.reply(404, b"404 Not Found\n", "text/plain")
                ns, ing, svc, canary = r
                addr = ctl.pod_of(ns, svc)
                if not addr:
                    code, body, ctype = 503, b"503 Service Temporarily Unavailable\n", "text/plain"
                else:
                    try:
                        c = http.client.HTTPConnection(addr, 80, timeout=10)
                        fwd = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                        c.request(self.command, self.path, body=data, headers=fwd)
                        resp = c.getresponse()
                        code, body = resp.status, resp.read()
                        ctype = resp.getheader("Content-Type", "application/json")
                        c.close()
                    except OSError:
                        code, body, ctype = 502, b"502 Bad Gateway\n", "text/plain"
                ctl.observe((ns, ing, svc["name"], str(code), canary), time.monotonic() - start)
                self.reply(code, body, ctype)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = serve

        return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--metrics-port", type=int, default=10254)
    ap.add_argument("--pod", action="append", default=[], help="APP=ADDR: the pod stand-in of app label APP")
    a = ap.parse_args()
    ctl = Ingress(Api(a.api), dict(p.split("=", 1) for p in a.pod))
    data = http.server.ThreadingHTTPServer((a.address, a.port), ctl.handler())
    data.daemon_threads = True
    threading.Thread(target=data.serve_forever, daemon=True).start()

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ctl.render().encode()
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
