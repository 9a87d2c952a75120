"""gateway_env.py - what the Gateway API integration tests share, on top of
operator_env.py:

- the HTTPRoute CRD (standard channel) for the fake cluster;
- StandInGateway, a stand-in Gateway API implementation. Its controller
  writes each HTTPRoute's status.parents for the Gateways it serves
  (Accepted and ResolvedRefs, observedGeneration = the route's generation),
  with knobs to refuse routes (Accepted False) or to pause (status left
  stale). Its data plane is an HTTP server that routes requests by the
  routes it accepted, as the Gateway API specification says: hostnames,
  path/method/header/query matches with the specification's precedence,
  weighted backends, request and response header modifiers (rule and
  backend level), URL rewrites and request mirrors. A backend Service
  answers for the pods it selects: the ready Deployment whose pod template
  carries the Service's selector answers with its image, so a response
  says which version served it;
- AppExporter: the application's own http_request_duration_seconds series
  (what the builtin metrics of gatewayapi providers read, reference §3.3)
  for pods the test names;
- route_errors(): every HTTPRoute version the controller saw, checked
  against the CRD (validate_crd.py) and the CRD's CEL rules, re-stated here
  because no validator here evaluates CEL.
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
import urllib.parse
import urllib.request

from operator_env import SHARED, VALIDATE

HTTPROUTE_CRD = os.path.join(SHARED, "conformance/crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml")
GROUP = "gateway.networking.k8s.io"
CONTROLLER = "canaryd.test/stand-in-gateway"


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- the application's metrics -----------------------------------------------------

class AppExporter:
    """http_request_duration_seconds (histogram, labels kubernetes_namespace,
    kubernetes_pod_name, status) for a set of pods. Counters grow linearly
    from the moment a pod is added, at `rps`, `errors` of them answering 500,
    each taking `latency` seconds."""

    BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    def __init__(self):
        self.lock = threading.Lock()
        self.pods = {}      # (namespace, pod) -> (start, rps, error_ratio, latency_s)
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

    def set_pods(self, namespace, pods):
        """pods: {name: (rps, error_ratio, latency_s)}; replaces the namespace's pods."""
        t = time.time()
        with self.lock:
            keep = {k: v for k, v in self.pods.items() if k[0] != namespace}
            for name, v in pods.items():
                old = self.pods.get((namespace, name))
                keep[(namespace, name)] = (old[0] if old else t,) + tuple(v)
            self.pods = keep

    def render(self):
        t = time.time()
        out = ["# TYPE http_request_duration_seconds histogram"]
        with self.lock:
            pods = dict(self.pods)
        for (ns, pod), (start, rps, err, lat) in sorted(pods.items()):
            n = rps * (t - start)
            for status, count in (("200", n * (1 - err)), ("500", n * err)):
                lab = 'kubernetes_namespace="%s",kubernetes_pod_name="%s",method="GET",path="/",status="%s"' % (
                    ns, pod, status)
                for le in self.BUCKETS:
                    out.append('http_request_duration_seconds_bucket{%s,le="%g"} %.3f'
                               % (lab, le, count if lat <= le else 0.0))
                out.append('http_request_duration_seconds_bucket{%s,le="+Inf"} %.3f' % (lab, count))
                out.append('http_request_duration_seconds_count{%s} %.3f' % (lab, count))
                out.append('http_request_duration_seconds_sum{%s} %.3f' % (lab, count * lat))
        return "\n".join(out) + "\n"

    def close(self):
        self.server.shutdown()


# ---- the stand-in Gateway API implementation ------------------------------------------

def _path_matches(pm, path):
    t = pm.get("type", "PathPrefix")
    v = pm.get("value", "/")
    if t == "Exact":
        return path == v
    if t == "RegularExpression":
        return re.fullmatch(v, path) is not None
    prefix = v.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def _value_matches(kind, expected, actual):
    if actual is None:
        return False
    if kind == "RegularExpression":
        return re.fullmatch(expected, actual) is not None
    return actual == expected


def _match(m, method, path, headers, query):
    if not _path_matches(m.get("path") or {}, path):
        return False
    if m.get("method") and m["method"] != method:
        return False
    for h in m.get("headers") or []:
        if not _value_matches(h.get("type", "Exact"), h["value"], headers.get(h["name"].lower())):
            return False
    for q in m.get("queryParams") or []:
        if not _value_matches(q.get("type", "Exact"), q["value"], (query.get(q["name"]) or [None])[0]):
            return False
    return True


def _precedence(m):
    """The Gateway API's order among matching rules (smaller wins): exact path,
    longest prefix, method, most headers, most query parameters."""
    p = m.get("path") or {"type": "PathPrefix", "value": "/"}
    return (0 if p.get("type") == "Exact" else 1,
            -len(p.get("value", "")) if p.get("type") != "RegularExpression" else 0,
            0 if m.get("method") else 1, -len(m.get("headers") or []), -len(m.get("queryParams") or []))


def _host_matches(hostnames, host):
    if not hostnames:
        return True
    for h in hostnames:
        if h == host or (h.startswith("*.") and host.endswith(h[1:])):
            return True
    return False


def _modify(headers, mod):
    """Applies an HTTPHeaderFilter to a {lowercase name: value} dict;
    returns the list of (name, value) pairs it added (for responses)."""
    added = []
    for h in mod.get("set") or []:
        headers[h["name"].lower()] = h["value"]
    for h in mod.get("add") or []:
        added.append((h["name"], h["value"]))
        k = h["name"].lower()
        headers[k] = headers[k] + "," + h["value"] if k in headers else h["value"]
    for n in mod.get("remove") or []:
        headers.pop(n.lower(), None)
    return added


class StandInGateway:
    """Serves the Gateways `gateways` ([(namespace, name)]) for routes that
    attach to them. accept=False: Accepted False (NotAllowedByListeners);
    paused: the controller writes nothing and programs nothing new."""

    def __init__(self, api, gateways=(("gateway", "public-gateway"),), tick=0.05):
        self.api = api
        self.gateways = set(gateways)
        self.tick = tick
        self.accept = True
        self.paused = False
        self.lock = threading.Lock()
        self.seen = {}          # (ns, name, resourceVersion) -> the route as stored
        self.programmed = {}    # (ns, name) -> the route last accepted
        self.mirrored = []      # (service, image) of every mirrored request
        self.api_cache = {}
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        gw = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                gw._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port

    # -- the controller --

    def _ours(self, ref, route_ns):
        if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
            return False
        return (ref.get("namespace", route_ns), ref.get("name")) in self.gateways

    def _run(self):
        while not self.stop.is_set():
            try:
                self._sync()
            except Exception as e:     # keep serving; the test reports it
                self.errors.append(repr(e))
            self.stop.wait(self.tick)

    def _sync(self):
        status, _, body = self.api.get("/apis/%s/v1/httproutes" % GROUP)
        if status != 200:
            return
        if not self.paused:    # a deleted route is no longer served, as by a real gateway
            listed = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in body.get("items", [])}
            with self.lock:
                for key in [k for k in self.programmed if k not in listed]:
                    del self.programmed[key]
        for r in body.get("items", []):
            md = r["metadata"]
            ns, name = md["namespace"], md["name"]
            with self.lock:
                self.seen.setdefault((ns, name, md["resourceVersion"]), copy.deepcopy(r))
            if self.paused:
                continue
            gen = md.get("generation", 0)
            refs = [p for p in (r.get("spec") or {}).get("parentRefs") or [] if self._ours(p, ns)]
            old = [p for p in (r.get("status") or {}).get("parents") or [] if p.get("controllerName") == CONTROLLER]
            accepted = "True" if self.accept else "False"
            want = []
            for ref in refs:
                prev = next((p for p in old if p.get("parentRef") == ref), None)
                prev_conds = {c["type"]: c for c in (prev or {}).get("conditions", [])}

                def cond(ctype, st, reason, msg):
                    p = prev_conds.get(ctype)
                    ltt = p["lastTransitionTime"] if p and p.get("status") == st else now_rfc3339()
                    return {"type": ctype, "status": st, "reason": reason, "message": msg,
                            "observedGeneration": gen, "lastTransitionTime": ltt}
                want.append({"parentRef": ref, "controllerName": CONTROLLER, "conditions": [
                    cond("Accepted", accepted, "Accepted" if self.accept else "NotAllowedByListeners",
                         "Route is accepted" if self.accept else "no listener of the Gateway allows this route"),
                    cond("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route")]})
            if self.accept:
                with self.lock:
                    self.programmed[(ns, name)] = copy.deepcopy(r)
            if want == old:
                continue
            others = [p for p in (r.get("status") or {}).get("parents") or [] if p.get("controllerName") != CONTROLLER]
            upd = copy.deepcopy(r)
            upd["status"] = {"parents": others + want}
            code, _, resp = self.api.put("/apis/%s/v1/namespaces/%s/httproutes/%s/status" % (GROUP, ns, name), upd)
            if code not in (200, 409):
                self.errors.append("status write %d: %s" % (code, resp))

    def set_accept(self, accept):
        self.accept = accept

    def pause(self, paused):
        self.paused = paused

    # -- the data plane --

    def _get_cached(self, path):
        t = time.time()
        hit = self.api_cache.get(path)
        if hit and t - hit[0] < 0.2:
            return hit[1]
        status, _, body = self.api.get(path)
        val = body if status == 200 else None
        self.api_cache[path] = (t, val)
        return val

    def _backend_answer(self, ns, ref):
        """(code, body dict) of a Service backend: the ready Deployment whose
        pod labels its selector selects."""
        svc_ns = ref.get("namespace", ns)
        svc = self._get_cached("/api/v1/namespaces/%s/services/%s" % (svc_ns, ref["name"]))
        if not svc:
            return 500, {"error": "service %s.%s not found" % (ref["name"], svc_ns)}
        sel = (svc.get("spec") or {}).get("selector") or {}
        deps = self._get_cached("/apis/apps/v1/namespaces/%s/deployments" % svc_ns) or {}
        for d in deps.get("items", []):
            labels = ((d.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
            ready = (d.get("status") or {}).get("readyReplicas", 0)
            if sel and all(labels.get(k) == v for k, v in sel.items()) and ready > 0:
                image = d["spec"]["template"]["spec"]["containers"][0]["image"]
                return 200, {"service": ref["name"], "deployment": d["metadata"]["name"], "image": image}
        return 503, {"error": "no ready endpoints for service %s.%s" % (ref["name"], svc_ns)}

    def route_for(self, method, host, path, headers, query):
        """(route, rule) the request goes to, or (None, None)."""
        with self.lock:
            routes = sorted(self.programmed.values(),
                            key=lambda r: (r["metadata"].get("creationTimestamp", ""),
                                           r["metadata"]["namespace"], r["metadata"]["name"]))
        best = None
        for ri, r in enumerate(routes):
            spec = r.get("spec") or {}
            if not _host_matches(spec.get("hostnames"), host):
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
        headers = {k.lower(): v for k, v in h.headers.items()}
        n = int(headers.get("content-length") or 0)
        if n:
            h.rfile.read(n)
        host = headers.get("host", "").split(":")[0]
        route, rule = self.route_for(h.command, host, u.path, headers, urllib.parse.parse_qs(u.query))
        resp_headers = []
        if not rule:
            code, body = 404, {"error": "no route"}
        else:
            ns = route["metadata"]["namespace"]
            req = dict(headers)
            for f in rule.get("filters") or []:
                if f["type"] == "RequestHeaderModifier":
                    _modify(req, f["requestHeaderModifier"])
                elif f["type"] == "RequestMirror":
                    ref = f["requestMirror"]["backendRef"]
                    mcode, mbody = self._backend_answer(ns, ref)
                    with self.lock:
                        self.mirrored.append((ref["name"], mbody.get("image") if mcode == 200 else None))
            backends = [b for b in rule.get("backendRefs") or [] if b.get("weight", 1) > 0]
            if not backends:
                code, body = 500, {"error": "all backends have weight 0"}
            else:
                b = random.choices(backends, weights=[x.get("weight", 1) for x in backends])[0]
                code, body = self._backend_answer(ns, b)
                for f in rule.get("filters") or []:
                    if f["type"] == "ResponseHeaderModifier":
                        resp_headers += _modify({}, f["responseHeaderModifier"])
                        resp_headers += [(x["name"], x["value"]) for x in f["responseHeaderModifier"].get("set") or []]
                for f in b.get("filters") or []:
                    if f["type"] == "ResponseHeaderModifier":
                        resp_headers += _modify({}, f["responseHeaderModifier"])
                        resp_headers += [(x["name"], x["value"]) for x in f["responseHeaderModifier"].get("set") or []]
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in resp_headers:
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def request(self, host, path="/", headers=None):
        """(status, body dict, [(header, value)]) of one request through the gateway."""
        req = urllib.request.Request(self.url + path, headers=dict(headers or {}, Host=host))
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read()), r.getheaders()
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}"), e.headers.items()

    def routes_seen(self):
        with self.lock:
            return list(self.seen.values())

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.thread.join(5)


def set_cookies(headers):
    return [v for k, v in headers if k.lower() == "set-cookie"]


# ---- HTTPRoute validity --------------------------------------------------------------------

UNIQUE_FILTERS = ("CORS", "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite")
FILTER_FIELDS = {"RequestHeaderModifier": "requestHeaderModifier", "ResponseHeaderModifier": "responseHeaderModifier",
                 "RequestMirror": "requestMirror", "RequestRedirect": "requestRedirect",
                 "URLRewrite": "urlRewrite", "ExtensionRef": "extensionRef", "CORS": "cors"}


def _gw_ms(s):
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|h|m|s)", s):
        total += int(num) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[unit]
    return total


def _cel_backend(b, where, errs):
    if b.get("group", "") == "" and b.get("kind", "Service") == "Service" and "port" not in b:
        errs.append("%s: Must have port for Service reference" % where)


def _cel_filters(filters, matches, where, errs):
    for t in UNIQUE_FILTERS:
        if sum(1 for f in filters if f.get("type") == t) > 1:
            errs.append("%s: %s filter cannot be repeated" % (where, t))
    for f in filters:
        for t, field in FILTER_FIELDS.items():
            if (f.get("type") == t) != (field in f):
                errs.append("%s: filter.%s must be %s for type %s" % (where, field, "set" if f.get("type") == t else "nil", f.get("type")))
        for mod in (f.get("requestHeaderModifier"), f.get("responseHeaderModifier")):
            for lst in ("add", "set"):
                names = [h["name"] for h in (mod or {}).get(lst) or []]
                if len(names) != len(set(names)):
                    errs.append("%s: duplicate header names in %s" % (where, lst))
        if "requestMirror" in f:
            _cel_backend(f["requestMirror"]["backendRef"], where + ".requestMirror", errs)
        path = (f.get("urlRewrite") or {}).get("path") or {}
        if path.get("type") == "ReplacePrefixMatch":
            if len(matches) != 1 or (matches[0].get("path") or {}).get("type", "PathPrefix") != "PathPrefix":
                errs.append("%s: URLRewrite ReplacePrefixMatch needs exactly one PathPrefix match" % where)


def cel_errors(route):
    """The HTTPRoute CRD's CEL rules canaryd's routes could break."""
    errs = []
    rules = (route.get("spec") or {}).get("rules") or []
    total = 0
    for i, r in enumerate(rules):
        where = "spec.rules[%d]" % i
        matches = r.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
        total += len(matches)
        for m in matches:
            p = m.get("path") or {}
            if p.get("type", "PathPrefix") in ("Exact", "PathPrefix"):
                v = p.get("value", "/")
                if not v.startswith("/") or any(x in v for x in ("//", "/./", "/../", "#", "%2f", "%2F")):
                    errs.append("%s: bad path %r" % (where, v))
            for lst in ("headers", "queryParams"):
                names = [h["name"] for h in m.get(lst) or []]
                if len(names) != len(set(names)):
                    errs.append("%s: duplicate %s" % (where, lst))
        _cel_filters(r.get("filters") or [], matches, where, errs)
        for b in r.get("backendRefs") or []:
            _cel_backend(b, where + ".backendRefs", errs)
            _cel_filters(b.get("filters") or [], matches, where + ".backendRefs.filters", errs)
        t = r.get("timeouts") or {}
        if "request" in t and "backendRequest" in t and _gw_ms(t["request"]) != 0 and \
                _gw_ms(t["backendRequest"]) > _gw_ms(t["request"]):
            errs.append("%s: backendRequest timeout cannot be longer than request timeout" % where)
    if total > 128:
        errs.append("more than 128 matches")
    return errs


def route_errors(tmpdir, routes):
    """Checks every route against the HTTPRoute CRD (structure, via
    validate_crd.py) and its CEL rules; returns (number checked, errors)."""
    if not routes:
        return 0, ["no HTTPRoute seen"]
    path = os.path.join(tmpdir, "httproutes-%d.json" % time.time_ns())
    docs = []
    for r in routes:
        d = copy.deepcopy(r)
        d.setdefault("apiVersion", GROUP + "/v1")
        d.setdefault("kind", "HTTPRoute")
        docs.append(d)
    with open(path, "w") as f:
        f.write("\n---\n".join(json.dumps(d) for d in docs))
    r = subprocess.run(["/usr/bin/python3", VALIDATE, HTTPROUTE_CRD, "--", path], capture_output=True, text=True)
    errs = [] if r.returncode == 0 else [r.stdout + r.stderr]
    for d in docs:
        errs += ["%s rv %s: %s" % (d["metadata"]["name"], d["metadata"].get("resourceVersion"), e)
                 for e in cel_errors(d)]
    return len(docs), errs


def httproute(cluster, ns, name):
    return cluster.get_api("/apis/%s/v1/namespaces/%s/httproutes/%s" % (GROUP, ns, name))


def route_weights(cluster, ns, name):
    """(canary, primary) weights of the rule routing to both backends (the
    last one with session-affinity rules in front of it), or None."""
    r = httproute(cluster, ns, name)
    if not r:
        return None
    found = None
    for rule in (r.get("spec") or {}).get("rules") or []:
        w = {b["name"]: b.get("weight", 1) for b in rule.get("backendRefs") or []}
        if set(w) == {name + "-primary", name + "-canary"}:
            found = (w[name + "-canary"], w[name + "-primary"])
    return found
