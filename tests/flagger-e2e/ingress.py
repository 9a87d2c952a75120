#!/usr/bin/python3
"""ingress.py - the ingress controller of Flagger's ingress e2e scripts, as
a stand-in in the harness's private network: `--provider nginx`
(test/nginx/, `ingress-nginx-controller.ingress-nginx:80`) or `--provider
contour` (test/contour/, `envoy.projectcontour:80`) or `--provider traefik`
(test/traefik/, `traefik.traefik:80`) or `--provider apisix` (test/apisix/,
`apisix-gateway.apisix:80`) or `--provider skipper` (test/skipper/,
`skipper-ingress.kube-system:80`) or `--provider gloo` (test/gloo/,
`gateway-proxy.gloo-system:80`).

nginx: it routes each request by the Ingress objects in the fake API
server, as ingress-nginx does: the rule whose host and path match (longest path
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

contour: it routes by the HTTPProxies, as Contour's Envoy does: the root
proxy whose virtualhost.fqdn is the host, its routes and those of the
proxies it includes (the include's prefix before theirs), the route whose
conditions match (header conditions before prefix-only ones, then the
longest prefix), a backend Service picked by weight, requestHeadersPolicy
set on the forwarded request. It reports Envoy's envoy_cluster_upstream_rq
(labels envoy_cluster_name <ns>_<svc>_<port>, envoy_response_code) and
envoy_cluster_upstream_rq_time (milliseconds).

traefik: it routes by the IngressRoutes (traefik.io/v1alpha1; rules of
Host, Path and PathPrefix terms) to the Service their first service ends
at, through TraefikServices' weighted round robins, as Traefik does, and
reports traefik_service_requests_total and
traefik_service_request_duration_seconds (label service
<ns>-<svc>-<port>@kubernetescrd, code).

apisix: it routes by the ApisixRoutes (apisix.apache.org/v2; hosts,
methods, paths with a trailing *), the matching http route of highest
priority, a backend picked by weight, and reports APISIX's prometheus
plugin series apisix_http_status (code, route <ns>_<ApisixRoute>_<http
route name>, as with prefer_name) and apisix_http_latency (type
"request", milliseconds).

skipper: it routes by the Ingresses as Skipper does: of those whose host
and path match, the one with the longest path, then the highest
Weight(N) of its zalando.org/skipper-predicate (False() turns one off),
its backends for that path split by zalando.org/backend-weights, and
reports skipper_response_duration_seconds and
skipper_serve_route_duration_seconds (labels route, Skipper's route id
kube_<ns>__<ingress>__<host>__<path>__<service> with every other
character as _, code).

gloo: it routes as Gloo Edge's gateway-proxy does: the VirtualService
(gateway.solo.io/v1) one of whose virtualHost.domains is the host, its
routes in order, the first whose matchers match (prefix, exact, headers
with value / regex / invertMatch, methods; queryParameters never match:
the scripts use none); a delegateAction goes on in
the RouteTable it names (its routes in order, matchers inherited), a
routeAction picks a destination of its multi.destinations by weight (or
its single one), an Upstream (gloo.solo.io/v1) whose kube.serviceName
and serviceNamespace are the backend Service. It reports Envoy's
envoy_cluster_upstream_rq and envoy_cluster_upstream_rq_time with
envoy_cluster_name <upstream>_<upstream namespace>, the cluster Gloo
makes of an Upstream.

Tests only: it binds the address it is given, trusts its callers, and
decides nothing a test asserts on.

usage: ingress.py --api URL --address ADDR --pod APP=ADDR [--pod ...]
                  [--provider nginx|contour|traefik|apisix|skipper|gloo] [--port 80] [--metrics-port 10254]
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
ENVOY_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]


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


class Controller:
    """What both providers share: the pod a Service selects, the series."""

    def __init__(self, api, pods):
        self.api = api
        self.pods = pods          # app label -> address
        self.mlock = threading.Lock()
        self.series = {}          # labels key -> [count, sum of seconds, buckets]

    def pod_of(self, ns, svc):
        s = self.api.get("/api/v1/namespaces/%s/services/%s" % (ns, svc["name"]))
        sel = ((s or {}).get("spec") or {}).get("selector") or {}
        return self.pods.get(sel.get("app", ""))

    def observe(self, key, seconds):
        with self.mlock:
            s = self.series.setdefault(key, [0, 0.0, [0] * len(self.buckets)])
            s[0] += 1
            s[1] += seconds
            for i, b in enumerate(self.buckets):
                if seconds * self.unit <= b:
                    s[2][i] += 1


class Nginx(Controller):
    buckets, unit = BUCKETS, 1

    def request(self, method, host, path, headers, cookies):
        """(namespace, backend service dict, extra headers, series key) or None."""
        r = self.route(host, path, headers, cookies)
        if not r:
            return None
        ns, ing, svc, canary = r
        return ns, svc, {}, (ns, ing, svc["name"], canary)

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

    def render(self):
        out = ["# TYPE nginx_ingress_controller_requests counter",
               "# TYPE nginx_ingress_controller_response_duration_seconds histogram"]
        with self.mlock:
            for (ns, ing, svc, canary, code), (n, total, buckets) in sorted(self.series.items()):
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


def _contour_match(conds, path, headers):
    """(number of header conditions, prefix length) when conds match, else None."""
    prefix, nh = "", 0
    for c in conds:
        if "prefix" in c:
            prefix += c["prefix"].rstrip("/") if prefix or c["prefix"] != "/" else ""
        h = c.get("header")
        if h:
            nh += 1
            v = headers.get(h.get("name", "").lower())
            if "exact" in h and v != h["exact"]:
                return None
            if "notexact" in h and v == h["notexact"]:
                return None
            if "contains" in h and (v is None or h["contains"] not in v):
                return None
            if "notcontains" in h and v is not None and h["notcontains"] in v:
                return None
            if h.get("present") and v is None:
                return None
            if h.get("notpresent") and v is not None:
                return None
            if "regex" in h and (v is None or not re.fullmatch(h["regex"], v)):
                return None
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        return None
    return nh, len(prefix)


class Contour(Controller):
    buckets, unit = ENVOY_MS, 1000

    def routes(self, proxy, conds, depth=0):
        """[(conditions, route, namespace)] of proxy and the proxies it includes."""
        out = []
        ns = proxy["metadata"]["namespace"]
        spec = proxy.get("spec") or {}
        for r in spec.get("routes") or []:
            out.append((conds + (r.get("conditions") or []), r, ns))
        for inc in spec.get("includes") or []:
            if depth > 4:
                break
            child = self.api.get("/apis/projectcontour.io/v1/namespaces/%s/httpproxies/%s"
                                 % (inc.get("namespace", ns), inc["name"]))
            if child:
                out += self.routes(child, conds + (inc.get("conditions") or []), depth + 1)
        return out

    def request(self, method, host, path, headers, cookies):
        items = (self.api.get("/apis/projectcontour.io/v1/httpproxies") or {}).get("items") or []
        roots = [p for p in items if ((p.get("spec") or {}).get("virtualhost") or {}).get("fqdn") == host]
        if not roots:
            return None
        best = None
        for conds, r, ns in self.routes(roots[0], []):
            m = _contour_match(conds, path, headers)
            if m and (best is None or m > best[0]):
                best = (m, r, ns)
        if not best:
            return None
        _, r, ns = best
        svcs = [x for x in r.get("services") or [] if x.get("weight", 1) > 0] or (r.get("services") or [])[:1]
        if not svcs:
            return None
        if len(svcs) > 1:
            svc = random.choices(svcs, weights=[x.get("weight", 1) for x in svcs])[0]
        else:
            svc = svcs[0]
        extra = {}
        for h in ((r.get("requestHeadersPolicy") or {}).get("set") or []) + \
                ((svc.get("requestHeadersPolicy") or {}).get("set") or []):
            extra[h["name"]] = h["value"]
        return ns, svc, extra, ("%s_%s_%s" % (ns, svc["name"], svc.get("port", 80)),)

    def render(self):
        out = ["# TYPE envoy_cluster_upstream_rq counter",
               "# TYPE envoy_cluster_upstream_rq_time histogram"]
        times = {}
        with self.mlock:
            for (cluster, code), (n, total, buckets) in sorted(self.series.items()):
                out.append('envoy_cluster_upstream_rq{envoy_cluster_name="%s",envoy_response_code="%s"} %d'
                           % (cluster, code, n))
                t = times.setdefault(cluster, [0, 0.0, [0] * len(ENVOY_MS)])
                t[0] += n
                t[1] += total
                t[2] = [a + b for a, b in zip(t[2], buckets)]
        for cluster, (n, total, buckets) in sorted(times.items()):
            lab = 'envoy_cluster_name="%s"' % cluster
            for i, b in enumerate(ENVOY_MS):
                out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="%g"} %d' % (lab, b, buckets[i]))
            out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="+Inf"} %d' % (lab, n))
            out.append("envoy_cluster_upstream_rq_time_sum{%s} %.3f" % (lab, total * 1000))
            out.append("envoy_cluster_upstream_rq_time_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


TRAEFIK_BUCKETS = [0.1, 0.3, 1.2, 5.0]


def _traefik_rule(match, host, path):
    """Whether a Traefik rule of Host(`..`) / PathPrefix(`..`) / Path(`..`)
    terms joined by && matches; anything else in it never matches."""
    for term in match.split("&&"):
        m = re.fullmatch(r"\s*(Host|PathPrefix|Path)\(`([^`]*)`\)\s*", term)
        if not m:
            return False
        kind, v = m.groups()
        if kind == "Host" and v != host:
            return False
        if kind == "Path" and v != path:
            return False
        if kind == "PathPrefix" and not path.startswith(v):
            return False
    return True


class Traefik(Controller):
    buckets, unit = TRAEFIK_BUCKETS, 1

    def service(self, ns, ref, depth=0):
        """The Kubernetes Service a (possibly weighted) service reference ends at."""
        if ref.get("kind", "Service") != "TraefikService" or depth > 4:
            return ref
        ts = self.api.get("/apis/traefik.io/v1alpha1/namespaces/%s/traefikservices/%s"
                          % (ref.get("namespace", ns), ref["name"]))
        svcs = (((ts or {}).get("spec") or {}).get("weighted") or {}).get("services") or []
        svcs = [x for x in svcs if x.get("weight", 1) > 0]
        if not svcs:
            return None
        pick = random.choices(svcs, weights=[x.get("weight", 1) for x in svcs])[0]
        return self.service(ns, pick, depth + 1)

    def request(self, method, host, path, headers, cookies):
        items = (self.api.get("/apis/traefik.io/v1alpha1/ingressroutes") or {}).get("items") or []
        for ir in items:
            ns = ir["metadata"]["namespace"]
            for r in (ir.get("spec") or {}).get("routes") or []:
                if not _traefik_rule(r.get("match", ""), host, path) or not r.get("services"):
                    continue
                svc = self.service(ns, r["services"][0])
                if not svc:
                    return None
                return ns, svc, {}, ("%s-%s-%s@kubernetescrd" % (ns, svc["name"], svc.get("port", 80)),)
        return None

    def render(self):
        out = ["# TYPE traefik_service_requests_total counter",
               "# TYPE traefik_service_request_duration_seconds histogram"]
        with self.mlock:
            for (service, code), (n, total, buckets) in sorted(self.series.items()):
                lab = 'service="%s",code="%s",method="GET",protocol="http"' % (service, code)
                out.append("traefik_service_requests_total{%s} %d" % (lab, n))
                for i, b in enumerate(TRAEFIK_BUCKETS):
                    out.append('traefik_service_request_duration_seconds_bucket{%s,le="%g"} %d'
                               % (lab, b, buckets[i]))
                out.append('traefik_service_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (lab, n))
                out.append("traefik_service_request_duration_seconds_sum{%s} %.6f" % (lab, total))
                out.append("traefik_service_request_duration_seconds_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


APISIX_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000]


def _apisix_path(pattern, path):
    """APISIX's path match: exact, or a prefix when the pattern ends in *."""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


class Apisix(Controller):
    buckets, unit = APISIX_MS, 1000

    def request(self, method, host, path, headers, cookies):
        items = (self.api.get("/apis/apisix.apache.org/v2/apisixroutes") or {}).get("items") or []
        best = None
        for ar in items:
            ns = ar["metadata"]["namespace"]
            for h in (ar.get("spec") or {}).get("http") or []:
                m = h.get("match") or {}
                if m.get("hosts") and host not in m["hosts"]:
                    continue
                if m.get("methods") and method not in m["methods"]:
                    continue
                if not any(_apisix_path(x, path) for x in m.get("paths") or []):
                    continue
                key = h.get("priority", 0)
                if best is None or key > best[0]:
                    best = (key, ar, h, ns)
        if not best:
            return None
        _, ar, h, ns = best
        backs = h.get("backends") or []
        live = [b for b in backs if b.get("weight", 100) > 0]
        if not live:
            return None
        b = random.choices(live, weights=[x.get("weight", 100) for x in live])[0]
        svc = {"name": b["serviceName"], "port": b.get("servicePort", 80)}
        return ns, svc, {}, ("%s_%s_%s" % (ns, ar["metadata"]["name"], h.get("name", "")),)

    def render(self):
        out = ["# TYPE apisix_http_status counter",
               "# TYPE apisix_http_latency histogram"]
        lat = {}
        with self.mlock:
            for (route, code), (n, total, buckets) in sorted(self.series.items()):
                out.append('apisix_http_status{code="%s",route="%s",matched_uri="",matched_host="",'
                           'service="",consumer="",node=""} %d' % (code, route, n))
                t = lat.setdefault(route, [0, 0.0, [0] * len(APISIX_MS)])
                t[0] += n
                t[1] += total
                t[2] = [a + c for a, c in zip(t[2], buckets)]
        for route, (n, total, buckets) in sorted(lat.items()):
            lab = 'type="request",route="%s",service="",consumer="",node=""' % route
            for i, b in enumerate(APISIX_MS):
                out.append('apisix_http_latency_bucket{%s,le="%g"} %d' % (lab, b, buckets[i]))
            out.append('apisix_http_latency_bucket{%s,le="+Inf"} %d' % (lab, n))
            out.append("apisix_http_latency_sum{%s} %.3f" % (lab, total * 1000))
            out.append("apisix_http_latency_count{%s} %d" % (lab, n))
        return "\n".join(out) + "\n"


SKIPPER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


def _skipper_id(*parts):
    return "__".join(re.sub(r"[^A-Za-z0-9_]", "_", x) for x in parts)


class Skipper(Controller):
    buckets, unit = SKIPPER_BUCKETS, 1

    def request(self, method, host, path, headers, cookies):
        items = (self.api.get("/apis/networking.k8s.io/v1/ingresses") or {}).get("items") or []
        best = None
        for ing in items:
            pred = _anns(ing).get("zalando.org/skipper-predicate", "")
            if "False()" in pred:
                continue
            m = re.search(r"Weight\((\d+)\)", pred)
            weight = int(m.group(1)) if m else 0
            ms = _paths(ing, host, path)
            if not ms:
                continue
            plen = max(x[0] for x in ms)
            key = (plen, weight)
            if best is None or key > best[0]:
                best = (key, ing, [x for x in ms if x[0] == plen])
        if not best:
            return None
        _, ing, ms = best
        try:
            weights = json.loads(_anns(ing).get("zalando.org/backend-weights") or "{}")
        except ValueError:
            weights = {}
        svcs = [x[3] for x in ms]
        if len(svcs) > 1 and weights:
            live = [x for x in svcs if weights.get(x["name"], 0) > 0]
            if not live:
                return None
            svc = random.choices(live, weights=[weights[x["name"]] for x in live])[0]
        else:
            svc = svcs[0]
        ns = ing["metadata"]["namespace"]
        _, rhost, rpath, _ = ms[0]
        rid = "kube_" + _skipper_id(ns, ing["metadata"]["name"], rhost, rpath, svc["name"])
        return ns, svc, {}, (rid,)

    def render(self):
        out = ["# TYPE skipper_response_duration_seconds histogram",
               "# TYPE skipper_serve_route_duration_seconds histogram"]
        with self.mlock:
            for (route, code), (n, total, buckets) in sorted(self.series.items()):
                for metric in ("skipper_response_duration_seconds", "skipper_serve_route_duration_seconds"):
                    lab = 'route="%s",code="%s",method="GET"' % (route, code)
                    for i, b in enumerate(SKIPPER_BUCKETS):
                        out.append('%s_bucket{%s,le="%g"} %d' % (metric, lab, b, buckets[i]))
                    out.append('%s_bucket{%s,le="+Inf"} %d' % (metric, lab, n))
                    out.append("%s_sum{%s} %.6f" % (metric, lab, total))
                    out.append("%s_count{%s} %d" % (metric, lab, n))
        return "\n".join(out) + "\n"


def _gloo_value(m, v):
    """Whether a Gloo header/query matcher {name, value, regex,
    invertMatch} matches v (None when absent); no value means present."""
    if v is None:
        ok = False
    elif "value" not in m or m["value"] == "":
        ok = True
    elif m.get("regex"):
        ok = re.fullmatch(m["value"], v) is not None
    else:
        ok = v == m["value"]
    return ok != bool(m.get("invertMatch"))


def _gloo_match(m, method, path, headers, query):
    """Whether one Gloo matcher matches (no path matcher: prefix /)."""
    if "exact" in m and path != m["exact"]:
        return False
    if "prefix" in m and not path.startswith(m["prefix"]):
        return False
    if "regex" in m and not re.fullmatch(m["regex"], path):
        return False
    if m.get("methods") and method not in m["methods"]:
        return False
    for h in m.get("headers") or []:
        if not _gloo_value(h, headers.get(h.get("name", "").lower())):
            return False
    for q in m.get("queryParameters") or []:
        if not _gloo_value(q, query.get(q.get("name", ""))):
            return False
    return True


class Gloo(Controller):
    buckets, unit = ENVOY_MS, 1000

    def route(self, routes, ns, method, path, headers, query, depth=0):
        """The routeAction (and its namespace) of the first route of routes
        that matches, following delegateActions, or None."""
        for r in routes:
            ms = r.get("matchers") or [{}]
            if not any(_gloo_match(m, method, path, headers, query) for m in ms):
                continue
            if "delegateAction" in r and depth < 4:
                d = r["delegateAction"]
                ref = d.get("ref") or d
                rns = ref.get("namespace", ns)
                rt = self.api.get("/apis/gateway.solo.io/v1/namespaces/%s/routetables/%s" % (rns, ref["name"]))
                if rt:
                    got = self.route((rt.get("spec") or {}).get("routes") or [], rns, method, path,
                                     headers, query, depth + 1)
                    if got:
                        return got
                continue
            if "routeAction" in r:
                return r["routeAction"], ns
        return None

    def request(self, method, host, path, headers, cookies):
        items = (self.api.get("/apis/gateway.solo.io/v1/virtualservices") or {}).get("items") or []
        vss = [v for v in items
               if host in (((v.get("spec") or {}).get("virtualHost") or {}).get("domains") or [])] or \
              [v for v in items
               if "*" in (((v.get("spec") or {}).get("virtualHost") or {}).get("domains") or [])]
        if not vss:
            return None
        vs = vss[0]
        query = {}  # the path it is given has no query: a query matcher never matches
        got = self.route(((vs.get("spec") or {}).get("virtualHost") or {}).get("routes") or [],
                         vs["metadata"]["namespace"], method, path, headers, query)
        if not got:
            return None
        action, ns = got
        if "multi" in action:
            ds = [d for d in (action["multi"].get("destinations") or []) if d.get("weight", 1) > 0]
            if not ds:
                return None
            dest = random.choices(ds, weights=[d.get("weight", 1) for d in ds])[0]["destination"]
        else:
            dest = action.get("single") or {}
        ref = dest.get("upstream") or {}
        uns = ref.get("namespace", ns)
        up = self.api.get("/apis/gloo.solo.io/v1/namespaces/%s/upstreams/%s" % (uns, ref.get("name", "")))
        kube = ((up or {}).get("spec") or {}).get("kube") or {}
        if not kube.get("serviceName"):
            return None
        svc = {"name": kube["serviceName"], "port": kube.get("servicePort", 80)}
        return kube.get("serviceNamespace", uns), svc, {}, ("%s_%s" % (ref["name"], uns),)

    render = Contour.render


PROVIDERS = {"nginx": Nginx, "contour": Contour, "traefik": Traefik, "apisix": Apisix, "skipper": Skipper,
             "gloo": Gloo}


def handler(ctl):
    """The data plane's request handler: route, forward to the pod, count."""
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
            r = ctl.request(self.command, host, path, headers, cookies)
            if not r:
                return self.reply(404, b"404 Not Found\n", "text/plain")
            ns, svc, extra, key = r
            addr = ctl.pod_of(ns, svc)
            if not addr:
                code, body, ctype = 503, b"503 Service Temporarily Unavailable\n", "text/plain"
            else:
                try:
                    c = http.client.HTTPConnection(addr, 80, timeout=30)
                    fwd = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    fwd.update(extra)
                    c.request(self.command, self.path, body=data, headers=fwd)
                    resp = c.getresponse()
                    code, body = resp.status, resp.read()
                    ctype = resp.getheader("Content-Type", "application/json")
                    c.close()
                except OSError:
                    code, body, ctype = 502, b"502 Bad Gateway\n", "text/plain"
            ctl.observe(key + (str(code),), time.monotonic() - start)
            self.reply(code, body, ctype)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = serve

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--metrics-port", type=int, default=10254)
    ap.add_argument("--provider", choices=sorted(PROVIDERS), default="nginx")
    ap.add_argument("--pod", action="append", default=[], help="APP=ADDR: the pod stand-in of app label APP")
    a = ap.parse_args()
    ctl = PROVIDERS[a.provider](Api(a.api), dict(p.split("=", 1) for p in a.pod))
    data = http.server.ThreadingHTTPServer((a.address, a.port), handler(ctl))
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
