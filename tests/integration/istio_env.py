"""istio_env.py - what the Istio integration tests share, on top of
operator_env.py and gateway_env.py:

- ISTIO_CRDS: Istio 1.30's VirtualService and DestinationRule CRDs for the
  fake cluster (istio_crd_args() adds the stand-in Gateway CRD of
  crds/istio-gateway.yaml);
- IstioExporter: Istio's standard metrics as the sidecars of the
  destination workloads report them (istio_requests_total and
  istio_request_duration_milliseconds, reporter="destination", labels
  destination_workload and destination_workload_namespace, response_code),
  what the builtin metrics of provider istio read (reference §3.3);
- StandInMesh: a stand-in Istio data plane. Its "pilot" reads every
  VirtualService (networking.istio.io/v1beta1) and it routes real HTTP
  requests by them as Envoy would: hosts (a short name qualified with the
  VirtualService's namespace, FQDN, "*"), the
  first HTTP route whose match (uri, headers exact/prefix/regex; sourceLabels
  from the x-source-app header) fits, destinations picked by weight,
  mirror with mirrorPercentage, response headers of the route and of the
  destination (Set-Cookie). A destination Service answers for the ready
  Deployment it selects, so a response says which version served it;
- vs_errors(): every VirtualService version seen, validated against the
  CRDs (validate_crd.py) and their CEL rules, re-stated here.
Not a test itself (no test_ prefix)."""
import copy
import http.server
import json
import os
import random
import re
import subprocess
import threading
import time

from operator_env import SHARED, VALIDATE
from gateway_env import StandInGateway

ISTIO_CRDS = os.path.join(SHARED, "conformance/crds/istio")
GROUP = "networking.istio.io"


# Istio's Gateway CRD is not in shared/: a stand-in that serves the kind
# (canaryd only reads that the Gateways a Canary names exist)
GATEWAY_CRD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crds", "istio-gateway.yaml")


def istio_crd_args():
    args = []
    for f in sorted(os.listdir(ISTIO_CRDS)):
        if f.endswith(".yaml"):
            args += ["--crd", os.path.join(ISTIO_CRDS, f)]
    return args + ["--crd", GATEWAY_CRD]


# ---- Istio's metrics -------------------------------------------------------------

class IstioExporter:
    """istio_requests_total and istio_request_duration_milliseconds for a set
    of destination workloads. Counters grow linearly from the moment a
    workload is added, at `rps`, `errors` of them answering 500, each taking
    `latency_ms`."""

    BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

    def __init__(self):
        self.lock = threading.Lock()
        self.workloads = {}     # (namespace, workload) -> (start, rps, error_ratio, latency_ms)
        env = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = env.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def set_workloads(self, namespace, workloads):
        """workloads: {name: (rps, error_ratio, latency_ms)}; replaces the namespace's."""
        t = time.time()
        with self.lock:
            keep = {k: v for k, v in self.workloads.items() if k[0] != namespace}
            for name, v in workloads.items():
                old = self.workloads.get((namespace, name))
                keep[(namespace, name)] = ((old[0] if old and old[1:] == tuple(v) else t),) + tuple(v)
            self.workloads = keep

    def render(self):
        t = time.time()
        out = ["# TYPE istio_requests_total counter",
               "# TYPE istio_request_duration_milliseconds histogram"]
        with self.lock:
            wl = dict(self.workloads)
        for (ns, name), (start, rps, err, lat) in sorted(wl.items()):
            n = rps * (t - start)
            for code, count in (("200", n * (1 - err)), ("500", n * err)):
                lab = ('reporter="destination",source_workload="loadtester",source_workload_namespace="test",'
                       'destination_workload="%s",destination_workload_namespace="%s",'
                       'destination_service="%s.%s.svc.cluster.local",request_protocol="http",'
                       'response_code="%s"' % (name, ns, name, ns, code))
                out.append("istio_requests_total{%s} %.3f" % (lab, count))
                for le in self.BUCKETS:
                    out.append('istio_request_duration_milliseconds_bucket{%s,le="%g"} %.3f'
                               % (lab, le, count if lat <= le else 0.0))
                out.append('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %.3f' % (lab, count))
                out.append("istio_request_duration_milliseconds_count{%s} %.3f" % (lab, count))
                out.append("istio_request_duration_milliseconds_sum{%s} %.3f" % (lab, count * lat))
        return "\n".join(out) + "\n"

    def close(self):
        self.server.shutdown()


# ---- the stand-in data plane ---------------------------------------------------------

def _string_match(m, value):
    if value is None:
        return False
    if "exact" in m:
        return value == m["exact"]
    if "prefix" in m:
        return value.startswith(m["prefix"])
    if "suffix" in m:
        return value.endswith(m["suffix"])
    if "regex" in m:
        return re.fullmatch(m["regex"], value) is not None
    return True


def _http_match(m, method, path, headers):
    if "uri" in m and not _string_match(m["uri"], path):
        return False
    if "method" in m and not _string_match(m["method"], method):
        return False
    for name, sm in (m.get("headers") or {}).items():
        if not _string_match(sm, headers.get(name.lower())):
            return False
    for name, sm in (m.get("withoutHeaders") or {}).items():
        if _string_match(sm, headers.get(name.lower())):
            return False
    for k, v in (m.get("sourceLabels") or {}).items():
        if k != "app" or headers.get("x-source-app") != v:
            return False
    return True


def _host_matches(hosts, host, ns):
    """A short name is the Service's in the VirtualService's namespace, so
    it matches <name>.<ns>.svc.cluster.local (as Istio qualifies it)."""
    for h in hosts or []:
        if "." not in h and h != "*":
            h = "%s.%s.svc.cluster.local" % (h, ns)
        if h == "*" or h == host or (h.startswith("*.") and host.endswith(h[1:])):
            return True
    return False


def _response_headers(obj):
    hdrs = ((obj or {}).get("headers") or {}).get("response") or {}
    out = [(k, v) for k, v in (hdrs.get("set") or {}).items()]
    out += [(k, v) for k, v in (hdrs.get("add") or {}).items()]
    return out


class StandInMesh(StandInGateway):
    """The data plane of an Istio mesh for the VirtualServices in the fake
    cluster (gateway_env's StandInGateway answers for the backends)."""

    def __init__(self, api, tick=0.05):
        super().__init__(api, gateways=(), tick=tick)

    def _sync(self):
        status, _, body = self.api.get("/apis/%s/v1beta1/virtualservices" % GROUP)
        if status != 200:
            return
        live = {}
        for v in body.get("items", []):
            md = v["metadata"]
            key = (md["namespace"], md["name"])
            with self.lock:
                self.seen.setdefault(key + (md["resourceVersion"],), copy.deepcopy(v))
            live[key] = copy.deepcopy(v)
        if not self.paused:
            with self.lock:
                self.programmed = live

    def route_for(self, method, host, path, headers, query=None):
        with self.lock:
            vss = sorted(self.programmed.values(), key=lambda v: (v["metadata"]["namespace"], v["metadata"]["name"]))
        for v in vss:
            ns = v["metadata"]["namespace"]
            spec = v.get("spec") or {}
            if not _host_matches(spec.get("hosts"), host, ns):
                continue
            for r in spec.get("http") or []:
                if any(_http_match(m, method, path, headers) for m in r.get("match") or [{}]):
                    return v, r
        return None, None

    def _serve(self, h):
        path = h.path.split("?")[0]
        headers = {k.lower(): val for k, val in h.headers.items()}
        n = int(headers.get("content-length") or 0)
        if n:
            h.rfile.read(n)
        host = headers.get("host", "").split(":")[0]
        vs, route = self.route_for(h.command, host, path, headers)
        resp_headers = []
        if not route:
            code, body = 404, {"error": "no route"}
        else:
            ns = vs["metadata"]["namespace"]
            dests = route.get("route") or []
            weighted = [d for d in dests if d.get("weight", 0) > 0]
            if len(dests) == 1:
                weighted = dests
            if not weighted:
                code, body = 503, {"error": "no destination with weight"}
            else:
                d = random.choices(weighted, weights=[x.get("weight", 0) or 1 for x in weighted])[0]
                code, body = self._backend_answer(ns, {"name": d["destination"]["host"]})
                resp_headers += _response_headers(route) + _response_headers(d)
            m = route.get("mirror")
            if m and random.uniform(0, 100) < (route.get("mirrorPercentage") or {}).get("value", 100.0):
                mcode, mbody = self._backend_answer(ns, {"name": m["host"]})
                with self.lock:
                    self.mirrored.append((m["host"], mbody.get("image") if mcode == 200 else None))
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, val in resp_headers:
            h.send_header(k, val)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def vs_seen(self):
        return self.routes_seen()


def virtualservice(cluster, ns, name):
    return cluster.get_api("/apis/%s/v1beta1/namespaces/%s/virtualservices/%s" % (GROUP, ns, name))


def destinationrule(cluster, ns, name):
    return cluster.get_api("/apis/%s/v1beta1/namespaces/%s/destinationrules/%s" % (GROUP, ns, name))


def vs_weights(cluster, ns, name):
    """(canary, primary) weights of the last HTTP route sending traffic to
    the canary (with session affinity: of the destinations that set
    cookies), or None."""
    v = virtualservice(cluster, ns, name)
    if not v:
        return None
    found = None
    for r in (v.get("spec") or {}).get("http") or []:
        w = {d["destination"]["host"]: d.get("weight", 0) for d in r.get("route") or []}
        if name + "-canary" in w:
            found = (w.get(name + "-canary", 0), w.get(name + "-primary", 0))
        if any(d.get("headers") for d in r.get("route") or []):
            found = (w.get(name + "-canary", 0), w.get(name + "-primary", 0))
            break
    return found


# the CRDs' CEL rules, re-stated (no validator here evaluates CEL): every
# duration field holds `duration(self) >= duration('1ms')`, and a
# DestinationRule's host and workloadSelector labels have no "*"
DURATION_KEYS = {"VirtualService": {"timeout", "perTryTimeout", "maxAge", "backoff", "fixedDelay",
                                    "exponentialDelay"},
                 "DestinationRule": {"baseEjectionTime", "connectTimeout", "duration", "idleTimeout", "interval",
                                     "maxConnectionDuration", "time", "warmupDurationSecs"}}
_UNITS = {"ns": 1e-6, "us": 1e-3, "\u00b5s": 1e-3, "ms": 1, "s": 1e3, "m": 6e4, "h": 3.6e6}


def go_duration_ms(v):
    """Milliseconds of a Go duration, None when it is not one."""
    if not isinstance(v, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)", v)
    if v in ("0",):
        return 0
    if not parts or "".join(a + b for a, b in parts) != v.lstrip("+"):
        return None
    return sum(float(a) * _UNITS[b] for a, b in parts)


def cel_errors(obj):
    errs = []
    keys = DURATION_KEYS.get(obj.get("kind"), set())

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in keys and isinstance(x, str):
                    ms = go_duration_ms(x)
                    if ms is None or ms < 1:
                        errs.append("%s.%s: %r must be a valid duration greater than 1ms" % (path, k, x))
                walk(x, path + "." + k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, "%s[%d]" % (path, i))
    walk(obj.get("spec") or {}, "spec")
    if obj.get("kind") == "DestinationRule" and "*" in ((obj.get("spec") or {}).get("host") or ""):
        errs.append("spec.host: wildcard")
    return errs


def vs_errors(tmpdir, objects):
    """Validates every object (VirtualServices, DestinationRules) against
    Istio's CRDs; returns (number checked, errors)."""
    if not objects:
        return 0, ["nothing seen"]
    path = os.path.join(tmpdir, "istio-%d.json" % time.time_ns())
    docs = []
    for o in objects:
        d = copy.deepcopy(o)
        d.setdefault("apiVersion", GROUP + "/v1beta1")
        docs.append(d)
    with open(path, "w") as f:
        f.write("\n---\n".join(json.dumps(d) for d in docs))
    r = subprocess.run(["/usr/bin/python3", VALIDATE, ISTIO_CRDS, "--", path], capture_output=True, text=True)
    errs = [] if r.returncode == 0 else [r.stdout[-4000:] + r.stderr[-2000:]]
    for d in docs:
        errs += ["%s %s rv %s: %s" % (d.get("kind"), d["metadata"]["name"], d["metadata"].get("resourceVersion"), e)
                 for e in cel_errors(d)]
    return len(docs), errs
