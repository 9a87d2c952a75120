"""test_kube_seed_appmesh.py - the seed tutorial (Flagger + App Mesh on EKS)
end to end with canaryd in Flagger's place, on the fake cluster:

1. a Mesh, a namespace with the sidecar-injection label, the seed's webapp
   Deployment at v1 and the seed's Canary (kubectl apply, as a user would)
   -> Initialized, with webapp-primary, the Services webapp, webapp-primary
   and webapp-canary, and the App Mesh VirtualNodes, VirtualRouters and
   VirtualServices, each valid against the real appmesh.k8s.aws CRDs;
2. kubectl set image ...:v2 with healthy Envoy metrics (a real Prometheus
   scraping an exporter this test controls) -> Progressing with the apex
   VirtualRouter's canary weight stepping 10, 20, 30, 40, 50, then
   Promoting -> Succeeded with webapp-primary on v2, the canary scaled to 0;
3. kubectl set image ...:v3 whose metrics fail (50 % errors) -> rolled
   back: Failed, all traffic on the primary (still v2), canary scaled to 0.

The seed's analysis.interval is 1m; canaryd runs with -interval-override 2s
so that the test takes a minute, not a quarter of an hour.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import (watch_phases, Checker, Cluster, EnvoyExporter, Prometheus, image_of,  # noqa: E402
                          rbac_check, router_weights, wait_until)

NS = "eks-blog1"
IMAGE = "public.ecr.aws/r5m2h0c9/webapp"

MESH = """
apiVersion: appmesh.k8s.aws/v1beta2
kind: Mesh
metadata:
  name: global
spec:
  namespaceSelector:
    matchLabels:
      appmesh.k8s.aws/sidecarInjectorWebhook: enabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: eks-blog1
  labels:
    appmesh.k8s.aws/sidecarInjectorWebhook: enabled
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: webapp
  namespace: eks-blog1
spec:
  minReadySeconds: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy:
    rollingUpdate:
      maxUnavailable: 0
    type: RollingUpdate
  selector:
    matchLabels:
      app: webapp
  template:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
      labels:
        app: webapp
    spec:
      containers:
      - name: webapp
        image: public.ecr.aws/r5m2h0c9/webapp:v1
        imagePullPolicy: IfNotPresent
        livenessProbe:
          httpGet:
            path: /
            port: 80
          initialDelaySeconds: 0
          periodSeconds: 10
          timeoutSeconds: 1
          failureThreshold: 3
        readinessProbe:
          httpGet:
            path: /
            port: 80
          successThreshold: 3
        ports:
        - name: http
          containerPort: 80
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: webapp
  namespace: eks-blog1
spec:
  # App Mesh API reference
  provider: appmesh:v1beta2
  # deployment reference
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: webapp
  # the maximum time in seconds for the canary deployment
  # to make progress before it is rollback (default 600s)
  progressDeadlineSeconds: 60
  service:
    # container port
    port: 80
    targetPort: 80
    # App Mesh ingress timeout (optional)
    timeout: 15s
    # App Mesh retry policy (optional)
    retries:
      attempts: 3
      perTryTimeout: 5s
      retryOn: "gateway-error,client-error,stream-error"
    # App Mesh URI settings
    match:
      - uri:
          prefix: /
    rewrite:
      uri: /
  # define the canary analysis timing and KPIs
  analysis:
    # schedule interval (default 60s)
    interval: 1m
    # max number of failed metric checks before rollback
    threshold: 5
    # max traffic percentage routed to canary
    # percentage (0-100)
    maxWeight: 50
    # canary increment step
    # percentage (0-100)
    stepWeight: 10
    # App Mesh Prometheus checks
    metrics:
    - name: request-success-rate
      # minimum req success rate (non 5xx responses)
      # percentage (0-100)
      thresholdRange:
        min: 99
      interval: 1m
    - name: request-duration
      # maximum req duration P99
      # milliseconds
      thresholdRange:
        max: 500
      interval: 30s
"""

APPMESH = "/apis/appmesh.k8s.aws/v1beta2/namespaces/%s/%s/%s"


def appmesh_objects(c):
    out = {}
    for kind, names in (("virtualnodes", ("webapp-primary", "webapp-canary")),
                        ("virtualrouters", ("webapp", "webapp-canary")),
                        ("virtualservices", ("webapp", "webapp-canary"))):
        for n in names:
            out[(kind, n)] = c.get_api(APPMESH % (NS, kind, n))
    return out


def watch_rollout(c, until, timeout):
    """Polls phase and apex router weights until phase is in `until`;
    returns (phases seen, canary weights seen, in order, deduplicated)."""
    return watch_phases(c, NS, "webapp", lambda: (router_weights(c, NS, "webapp") or (None,))[0],
                        until, timeout)


def main():
    t = Checker()
    c = Cluster()
    exporter = EnvoyExporter(NS)
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the seed's objects, then canaryd
        c.apply(MESH)
        c.apply(DEPLOYMENT)
        c.apply(CANARY)
        c.start_operator("-mesh-provider", "appmesh:v1beta2", "-metrics-server", prom.url,
                         "-interval-override", "2s")
        t.check("canary Initialized",
                wait_until(lambda: c.phase(NS, "webapp") == "Initialized", 60) is True,
                c.phase(NS, "webapp"))
        primary = c.get("deployment", NS, "webapp-primary")
        t.check("webapp-primary created on v1", image_of(primary) == IMAGE + ":v1", image_of(primary))
        t.check("webapp-primary selects app=webapp-primary",
                (primary or {}).get("spec", {}).get("selector", {}).get("matchLabels") ==
                {"app": "webapp-primary"})
        target = c.get("deployment", NS, "webapp")
        t.check("webapp scaled to zero", target["spec"].get("replicas") == 0, target["spec"].get("replicas"))
        for svc, sel in (("webapp", "webapp-primary"), ("webapp-primary", "webapp-primary"),
                         ("webapp-canary", "webapp")):
            s = c.get("service", NS, svc)
            t.check("service %s selects app=%s" % (svc, sel),
                    s and s["spec"]["selector"] == {"app": sel} and s["spec"]["ports"][0]["port"] == 80,
                    s and s["spec"])
        objs = appmesh_objects(c)
        t.check("App Mesh VirtualNodes, VirtualRouters and VirtualServices created",
                all(objs.values()), [k for k, v in objs.items() if not v])
        ok, out = c.validate([o for o in objs.values() if o])
        t.check("App Mesh objects valid against the appmesh.k8s.aws CRDs", ok, out)
        vn = objs[("virtualnodes", "webapp-primary")] or {}
        t.check("primary VirtualNode: DNS webapp-primary.eks-blog1.svc.cluster.local., port 80 http",
                vn.get("spec", {}).get("serviceDiscovery") ==
                {"dns": {"hostname": "webapp-primary.eks-blog1.svc.cluster.local."}} and
                vn["spec"]["listeners"][0]["portMapping"] == {"port": 80, "protocol": "http"},
                vn.get("spec"))
        route = ((objs[("virtualrouters", "webapp")] or {}).get("spec", {}).get("routes") or [{}])[0]
        http = route.get("httpRoute", {})
        t.check("apex route: prefix /, 15s timeout, 3 retries of 5s on the seed's events",
                http.get("match") == {"prefix": "/"} and
                http.get("timeout") == {"perRequest": {"unit": "ms", "value": 15000}} and
                http.get("retryPolicy") == {"maxRetries": 3, "perRetryTimeout": {"unit": "ms", "value": 5000},
                                            "httpRetryEvents": ["gateway-error", "client-error",
                                                                "stream-error"]}, http)
        t.check("apex router: 0 to the canary, 100 to the primary",
                router_weights(c, NS, "webapp") == (0, 100), router_weights(c, NS, "webapp"))
        t.check("canary router: 100 to the canary", router_weights(c, NS, "webapp", "webapp-canary") == (100, 0),
                router_weights(c, NS, "webapp", "webapp-canary"))
        vs = objs[("virtualservices", "webapp")] or {}
        t.check("VirtualService webapp provided by VirtualRouter webapp",
                vs.get("spec", {}).get("provider") == {"virtualRouter": {"virtualRouterRef": {"name": "webapp"}}})
        owner = ((vn.get("metadata") or {}).get("ownerReferences") or [{}])[0]
        t.check("App Mesh objects owned by the Canary", owner.get("kind") == "Canary" and
                owner.get("name") == "webapp" and owner.get("controller") is True, owner)

        # 2. v2 with healthy metrics
        exporter.set_pods({"webapp-6b8f9c7d54-v2pod": (20.0, 0.0, 20)})
        t.check("Prometheus scrapes the canary's Envoy series",
                prom.wait_series('count_over_time(envoy_cluster_upstream_rq{kubernetes_pod_name='
                                 '"webapp-6b8f9c7d54-v2pod"}[1m]) > 3', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/webapp", "webapp=%s:v2" % IMAGE)
        phases, weights = watch_rollout(c, ("Succeeded", "Failed"), 180)
        t.check("v2: phases Progressing, Promoting, ..., Succeeded",
                phases[:1] == ["Initialized"] or "Progressing" in phases, phases)
        t.check("v2: Succeeded", phases and phases[-1] == "Succeeded", phases)
        t.check("v2: Promoting seen before Succeeded", "Promoting" in phases, phases)
        t.check("v2: apex router weights stepped 10, 20, 30, 40, 50", weights[1:6] == [10, 20, 30, 40, 50],
                weights)
        t.check("v2: all traffic back on the primary", router_weights(c, NS, "webapp") == (0, 100),
                router_weights(c, NS, "webapp"))
        primary = c.get("deployment", NS, "webapp-primary")
        t.check("v2: webapp-primary runs v2", image_of(primary) == IMAGE + ":v2", image_of(primary))
        t.check("v2: webapp scaled to zero", c.get("deployment", NS, "webapp")["spec"].get("replicas") == 0)
        ev = c.events(NS, "webapp")
        t.check("v2: events New revision detected, Advance weight 50, Promotion completed",
                any("New revision detected! Scaling up webapp.eks-blog1" in e for e in ev) and
                any("Advance webapp.eks-blog1 canary weight 50" in e for e in ev) and
                any("Promotion completed! Scaling down webapp.eks-blog1" in e for e in ev), ev)
        t.check("v2: no failed check", not any(e.startswith("Halt") for e in ev),
                [e for e in ev if e.startswith("Halt")])

        # 3. v3 with failing metrics
        exporter.set_pods({"webapp-5c9d7f8b6-v3pod": (20.0, 0.5, 20)})
        prom.wait_series('count_over_time(envoy_cluster_upstream_rq{kubernetes_pod_name='
                         '"webapp-5c9d7f8b6-v3pod"}[1m]) > 3', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/webapp", "webapp=%s:v3" % IMAGE)
        phases, weights = watch_rollout(c, ("Failed",), 180)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: all traffic back on the primary", router_weights(c, NS, "webapp") == (0, 100),
                router_weights(c, NS, "webapp"))
        t.check("v3: canary weight never above 10 before the rollback", max(weights or [0]) <= 10, weights)
        t.check("v3: webapp scaled to zero",
                wait_until(lambda: c.get("deployment", NS, "webapp")["spec"].get("replicas") == 0, 10))
        t.check("v3: webapp-primary still runs v2",
                image_of(c.get("deployment", NS, "webapp-primary")) == IMAGE + ":v2")
        ev = c.events(NS, "webapp")
        t.check("v3: events Halt ... success rate, threshold reached, Canary failed",
                any("success rate" in e and e.startswith("Halt webapp.eks-blog1 advancement") for e in ev) and
                any("Rolling back webapp.eks-blog1 failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed! Scaling down webapp.eks-blog1" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])
        m = c.metrics()
        t.check("/metrics: flagger_canary_status 2 (Failed)",
                'flagger_canary_status{name="webapp",namespace="eks-blog1"} 2' in m,
                [line for line in m.splitlines() if "canary_status" in line])
        t.check("/metrics: one success and one failure counted",
                'flagger_canary_successes_total{name="webapp",namespace="eks-blog1",deployment_strategy="canary",analysis_status="completed"} 1' in m and
                'flagger_canary_failures_total{name="webapp",namespace="eks-blog1",deployment_strategy="canary",analysis_status="completed"} 1' in m,
                [line for line in m.splitlines() if "_total" in line])
        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (App Mesh too)",
                not denied and ("appmesh.k8s.aws", "virtualrouters", "update") in used, sorted(denied))
        log = c.operator_log()
        t.check("logs are JSON lines with Flagger's keys",
                all(set(("ts", "level", "msg")) <= set(json.loads(line)) for line in log.splitlines()
                    if line.startswith("{")) and log.startswith("{"), log[:300])
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
