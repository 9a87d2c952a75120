"""test_kube_skipper_canary.py - progressive delivery behind the Skipper
ingress (provider skipper, Flagger's Skipper tutorial) end to end on the
fake cluster:

1. podinfo v1, its Ingress `podinfo-ingress` (class skipper,
   app.example.com, with a predicate of its own) and the Canary (kubectl
   apply) -> Initialized, with the Ingress `podinfo-ingress-canary`: each
   path to podinfo sent to podinfo-primary and repeated for podinfo-canary,
   zalando.org/backend-weights {"podinfo-canary":0,"podinfo-primary":100},
   the predicate Weight(100) ahead of the user's, owned by the Canary,
   valid against the Ingress schema of a real API server
   (python3-jsonschema on the recorded /openapi/v2 definition, and a
   server-side dry run with strict field validation); the user's Ingress
   never written;
2. v2 with healthy metrics (Skipper's skipper_response_duration_seconds
   and skipper_serve_route_duration_seconds per route, the route IDs
   Skipper gives the canary Ingress's paths, in a real Prometheus; the
   primary's route answers 5 % errors, which the builtin queries must
   leave out) -> the backend weights step 10 ... 50 -> Succeeded, back to
   100/0 with the predicate False() (the canary Ingress off);
3. v3 failing its metrics (50 % errors on the canary's route) -> rolled
   back: 100/0, Failed, the primary still on v2;
4. the Canary edited to ask for mirroring -> a Warning event saying
   Skipper cannot, nothing written;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole.
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (watch_phases, SHARED, Checker, Cluster, Prometheus, image_of,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
INGRESS_PATH = "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels: {app: podinfo}
spec:
  minReadySeconds: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy:
    rollingUpdate: {maxUnavailable: 0}
    type: RollingUpdate
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports:
        - {name: http, containerPort: 9898, protocol: TCP}
        command: [./podinfo, --port=9898]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: podinfo-ingress
  namespace: test
  labels: {app: podinfo}
  annotations:
    zalando.org/skipper-predicate: Header("X-Env", "prod")
spec:
  ingressClassName: skipper
  rules:
    - host: app.example.com
      http:
        paths:
          - pathType: Prefix
            path: /
            backend:
              service:
                name: podinfo
                port:
                  number: 80
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: skipper
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  ingressRef:
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    name: podinfo-ingress
  progressDeadlineSeconds: 60
  service:
    port: 80
    targetPort: 9898
  analysis:
    interval: 10s
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 1m
"""


class SkipperExporter(RateExporter):
    """Skipper's per-route series for the routes of the canary Ingress, as
    Skipper names them (kube_<ns>__<ingress>__<host>__<path>__<service>,
    non-word characters as '_'): skipper_response_duration_seconds
    (histogram, by code) and skipper_serve_route_duration_seconds (sum and
    count). Counters grow at rps per route, err of them 503; set() changes
    the error ratios and latencies (seconds)."""

    BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    HEADER = ["# TYPE skipper_response_duration_seconds histogram",
              "# TYPE skipper_serve_route_duration_seconds histogram"]

    def series(self, route, n, errs, lat):
        out = []
        for code, cnt in (("200", n - errs), ("503", errs)):
            lab = 'application="",code="%s",method="GET",route="%s"' % (code, route)
            out += histogram("skipper_response_duration_seconds", lab, cnt, lat, self.BUCKETS)
            lab2 = 'code="%s",method="GET",route="%s"' % (code, route)
            out.append('skipper_serve_route_duration_seconds_count{%s} %.3f' % (lab2, cnt))
            out.append('skipper_serve_route_duration_seconds_sum{%s} %.4f' % (lab2, cnt * lat))
        return out


CANARY_ROUTE = "kube_test__podinfo_ingress_canary__app_example_com____podinfo_canary"
PRIMARY_ROUTE = "kube_test__podinfo_ingress_canary__app_example_com____podinfo_primary"
WEIGHTS = "zalando.org/backend-weights"
PREDICATE = "zalando.org/skipper-predicate"


def ingress(c, name):
    return c.get_api(INGRESS_PATH % (NS, name))


def weights(c):
    """(primary, canary) of the canary Ingress's backend weights."""
    ing = ingress(c, "podinfo-ingress-canary")
    w = ((ing or {}).get("metadata", {}).get("annotations") or {}).get(WEIGHTS)
    if w is None:
        return None
    w = json.loads(w)
    return w.get("podinfo-primary"), w.get("podinfo-canary")


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    return watch_phases(c, NS, "podinfo", lambda: (weights(c) or (None, None))[1], until, timeout)


def schema_errors(obj):
    """python3-jsonschema errors of obj against the recorded /openapi/v2
    Ingress definition (its $refs resolved by jsonschema)."""
    import jsonschema
    with gzip.open(os.path.join(SHARED, "conformance/kube-api/openapi-v2.json.gz")) as f:
        defs = json.load(f)["definitions"]
    # IntOrString is "string, format int-or-string": either kind is valid
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    schema = {"$ref": "#/definitions/io.k8s.api.networking.v1.Ingress", "definitions": defs}
    return ["%s: %s" % (".".join(str(x) for x in e.absolute_path), e.message)
            for e in jsonschema.Draft4Validator(schema).iter_errors(obj)]


def dry_run_strict(c, obj):
    """Creates a copy of obj (renamed, server fields dropped) with
    --dry-run=server --validate=strict; (ok, stderr)."""
    o = json.loads(json.dumps(obj))
    md = o["metadata"]
    for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation",
              "ownerReferences"):
        md.pop(k, None)
    md["name"] = "dry-run-copy"
    o.pop("status", None)
    r = c.kubectl("create", "--dry-run=server", "--validate=strict", "-f", "-", stdin=json.dumps(o),
                  check=False)
    return r.returncode == 0, r.stderr


def main():
    t = Checker()
    c = Cluster()
    exporter = SkipperExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        user_rv = ingress(c, "podinfo-ingress")["metadata"]["resourceVersion"]
        c.start_operator("-mesh-provider", "skipper", "-metrics-server", prom.url,
                         "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        ing = ingress(c, "podinfo-ingress-canary") or {}
        md = ing.get("metadata", {})
        ann = md.get("annotations") or {}
        t.check("Ingress podinfo-ingress-canary: weights primary 100, canary 0",
                ann.get(WEIGHTS) == '{"podinfo-canary":0,"podinfo-primary":100}', ann)
        t.check("predicate Weight(100) ahead of the user's",
                ann.get(PREDICATE) == 'Weight(100) && Header("X-Env", "prod")', ann.get(PREDICATE))
        spec = ing.get("spec", {})
        backend = {"service": {"name": "podinfo-primary", "port": {"number": 80}}}
        t.check("the path / goes to podinfo-primary and, repeated, to podinfo-canary",
                spec.get("ingressClassName") == "skipper" and
                spec.get("rules") == [{"host": "app.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend},
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "podinfo-canary", "port": {"number": 80}}}}]}}],
                spec)
        owner = (md.get("ownerReferences") or [{}])[0]
        t.check("podinfo-ingress-canary owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        errs = schema_errors(ing)
        t.check("podinfo-ingress-canary valid against the Ingress definition of /openapi/v2", not errs, errs)
        ok, out = dry_run_strict(c, ing)
        t.check("podinfo-ingress-canary accepted by a strict server-side dry run", ok, out)
        t.check("the user's Ingress was not written",
                ingress(c, "podinfo-ingress")["metadata"]["resourceVersion"] == user_rv)

        # 2. v2 with healthy metrics; the primary's route answers 5 % errors
        exporter.set(PRIMARY_ROUTE, 20.0, 0.05, 0.02)
        exporter.set(CANARY_ROUTE, 20.0, 0.0, 0.03)
        t.check("Prometheus scrapes the canary route's series",
                prom.wait_series('count_over_time(skipper_serve_route_duration_seconds_count{route="%s"}[1m]) > 3'
                                 % CANARY_ROUTE, 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        ann = ingress(c, "podinfo-ingress-canary")["metadata"]["annotations"]
        t.check("v2: weights 100/0, the canary Ingress switched off (False())",
                weights(c) == (100, 0) and ann.get(PREDICATE) == 'False() && Header("X-Env", "prod")', ann)
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])

        # 3. v3 failing its metrics
        exporter.set(PRIMARY_ROUTE, 20.0, 0.0, 0.02)
        exporter.set(CANARY_ROUTE, 20.0, 0.5, 0.03)
        prom.wait_series('sum(rate(skipper_serve_route_duration_seconds_count{route="%s",code=~"5.."}[30s])) > 5'
                         % CANARY_ROUTE, 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, seen = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: weights back to 100/0, canary never above 10", weights(c) == (100, 0) and
                max(seen or [0]) <= 10, (weights(c), seen))
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])

        # 4. mirroring asked for: refused with a Warning event, nothing written
        rv = ingress(c, "podinfo-ingress-canary")["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"mirror":true}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and "provider skipper cannot mirror traffic" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("mirror: Warning event \"provider skipper cannot mirror traffic (analysis.mirror)\"",
                w and "(analysis.mirror)" in w[0]["message"], w)
        t.check("mirror: podinfo-ingress-canary not written",
                ingress(c, "podinfo-ingress-canary")["metadata"]["resourceVersion"] == rv)

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (Ingresses too)",
                not denied and ("networking.k8s.io", "ingresses", "update") in used and
                ("networking.k8s.io", "ingresses", "create") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
