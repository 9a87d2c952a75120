"""test_kube_nginx_canary.py - progressive delivery behind ingress-nginx
(provider nginx, Flagger's NGINX tutorial) end to end on the fake cluster:

1. podinfo v1, its Ingress `podinfo` (class nginx, app.example.com) and the
   tutorial's Canary (kubectl apply) -> Initialized, with the Ingress
   `podinfo-canary`: the user's rules sent to podinfo-canary, annotations
   nginx.ingress.kubernetes.io/canary "true" and canary-weight "0", owned
   by the Canary, valid against the Ingress schema of a real API server
   (python3-jsonschema on the recorded /openapi/v2 definition, and a
   server-side dry run with strict field validation); the user's Ingress
   never written;
2. v2 with healthy metrics (ingress-nginx's nginx_ingress_controller_*
   series in a real Prometheus; the primary's series, canary="", answer
   5 % errors, which the builtin queries' canary!="" must leave out) ->
   the canary-weight annotation steps 10, 20, 30, 40, 50 -> Succeeded and
   back to "0";
3. v3 failing its metrics (50 % errors on the canary's series) -> rolled
   back: canary-weight "0", Failed, the primary still on v2;
4. the Canary edited to ask for mirroring -> a Warning event saying NGINX
   cannot mirror, nothing written;
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
PREFIX = "nginx.ingress.kubernetes.io/"
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
  name: podinfo
  namespace: test
  labels: {app: podinfo}
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
spec:
  ingressClassName: nginx
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
  provider: nginx
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  ingressRef:
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    name: podinfo
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


class NginxExporter(RateExporter):
    """ingress-nginx's request series for the Ingress `podinfo`, as its
    controller exports them: nginx_ingress_controller_requests (counter)
    and nginx_ingress_controller_response_duration_seconds (histogram),
    labelled canary="<upstream>" for requests the canary Ingress served
    and canary="" for the others. Counters grow linearly at rps per side;
    set() changes the error ratios and latencies (seconds)."""

    BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    HEADER = ["# TYPE nginx_ingress_controller_requests counter",
              "# TYPE nginx_ingress_controller_response_duration_seconds histogram"]

    def series(self, canary, n, errs, lat):
        svc = "podinfo-canary" if canary else "podinfo"
        lab = ('canary="%s",controller_class="k8s.io/ingress-nginx",controller_namespace="ingress-nginx",'
               'controller_pod="ingress-nginx-controller-7d9f8-abcde",host="app.example.com",'
               'ingress="podinfo",method="GET",namespace="test",path="/",service="%s"' % (canary, svc))
        return (['nginx_ingress_controller_requests{%s,status="200"} %.3f' % (lab, n - errs),
                 'nginx_ingress_controller_requests{%s,status="503"} %.3f' % (lab, errs)] +
                histogram("nginx_ingress_controller_response_duration_seconds", lab, n, lat, self.BUCKETS))


def ingress(c, name):
    return c.get_api(INGRESS_PATH % (NS, name))


def canary_weight(c):
    """canary-weight of podinfo-canary as an int (None: absent or no Ingress)."""
    ing = ingress(c, "podinfo-canary")
    w = ((ing or {}).get("metadata", {}).get("annotations") or {}).get(PREFIX + "canary-weight")
    return int(w) if w is not None else None


def watch_rollout(c, until, timeout):
    """(phases seen, canary weights seen), in order, deduplicated."""
    return watch_phases(c, NS, "podinfo", lambda: canary_weight(c), until, timeout)


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
    exporter = NginxExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the tutorial's objects, then canaryd
        c.apply(APP)
        c.apply(CANARY)
        user_rv = ingress(c, "podinfo")["metadata"]["resourceVersion"]
        c.start_operator("-mesh-provider", "nginx", "-metrics-server", prom.url,
                         "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                c.phase(NS, "podinfo"))
        ing = ingress(c, "podinfo-canary") or {}
        md = ing.get("metadata", {})
        ann = md.get("annotations") or {}
        t.check("Ingress podinfo-canary created: canary \"true\", canary-weight \"0\"",
                ann.get(PREFIX + "canary") == "true" and ann.get(PREFIX + "canary-weight") == "0", ann)
        t.check("podinfo-canary keeps the user's other annotations and labels, Flux off",
                ann.get(PREFIX + "proxy-body-size") == "8m" and md.get("labels") == {"app": "podinfo"} and
                ann.get("kustomize.toolkit.fluxcd.io/reconcile") == "disabled" and
                "kubectl.kubernetes.io/last-applied-configuration" not in ann, md)
        spec = ing.get("spec", {})
        t.check("podinfo-canary routes app.example.com / to podinfo-canary:80, class nginx",
                spec.get("ingressClassName") == "nginx" and
                spec.get("rules") == [{"host": "app.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "podinfo-canary", "port": {"number": 80}}}}]}}],
                spec)
        owner = (md.get("ownerReferences") or [{}])[0]
        t.check("podinfo-canary owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "podinfo" and owner.get("controller") is True, owner)
        errs = schema_errors(ing)
        t.check("podinfo-canary valid against the Ingress definition of /openapi/v2", not errs, errs)
        ok, out = dry_run_strict(c, ing)
        t.check("podinfo-canary accepted by a strict server-side dry run", ok, out)
        svc = c.get("service", NS, "podinfo-canary")
        t.check("service podinfo-canary selects app=podinfo on port 80",
                svc and svc["spec"]["selector"] == {"app": "podinfo"} and svc["spec"]["ports"][0]["port"] == 80,
                svc and svc["spec"])
        t.check("the user's Ingress podinfo was not written",
                ingress(c, "podinfo")["metadata"]["resourceVersion"] == user_rv)

        # 2. v2 with healthy metrics; the primary's side answers 5 % errors
        exporter.set("", 20.0, 0.05, 0.02)
        exporter.set("test-podinfo-canary-80", 20.0, 0.0, 0.03)
        t.check("Prometheus scrapes the canary's ingress-nginx series",
                prom.wait_series('count_over_time(nginx_ingress_controller_requests{ingress="podinfo",'
                                 'canary!=""}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.1" % IMAGE)
        phases, weights = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                "Promoting" in phases, phases)
        t.check("v2: canary-weight stepped 0, 10, 20, 30, 40, 50, then back to 0",
                weights == [0, 10, 20, 30, 40, 50, 0], weights)
        t.check("v2: podinfo-primary runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v2: events Advance weight 50, Promotion completed",
                any("Advance podinfo.test canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down podinfo.test" in e for e in ev), ev)
        t.check("v2: no failed check (the primary's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])

        # 3. v3 failing its metrics
        exporter.set("", 20.0, 0.0, 0.02)
        exporter.set("test-podinfo-canary-80", 20.0, 0.5, 0.03)
        prom.wait_series('sum(rate(nginx_ingress_controller_requests{ingress="podinfo",canary!="",'
                         'status=~"5.*"}[30s])) > 5', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/podinfo", "podinfod=%s:6.0.2" % IMAGE)
        phases, weights = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: canary-weight back to 0, never above 10", canary_weight(c) == 0 and
                max(weights or [0]) <= 10, weights)
        t.check("v3: podinfo-primary still runs 6.0.1",
                image_of(c.get("deployment", NS, "podinfo-primary")) == IMAGE + ":6.0.1")
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down podinfo.test" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])

        # 4. mirroring asked for: refused with a Warning event, nothing written
        rv = ingress(c, "podinfo-canary")["metadata"]["resourceVersion"]
        c.kubectl("-n", NS, "patch", "canary", "podinfo", "--type=merge", "-p",
                  '{"spec":{"analysis":{"mirror":true}}}')

        def warned():
            _, _, body = c.api.get("/api/v1/namespaces/%s/events" % NS)
            return [e for e in (body or {}).get("items", [])
                    if e.get("type") == "Warning" and "provider nginx cannot mirror traffic" in e.get("message", "")]
        w = wait_until(warned, 30, 0.2)
        t.check("mirror: Warning event \"provider nginx cannot mirror traffic (analysis.mirror)\"",
                w and "(analysis.mirror)" in w[0]["message"], w)
        t.check("mirror: podinfo-canary not written",
                ingress(c, "podinfo-canary")["metadata"]["resourceVersion"] == rv)

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
