"""test_kube_deploy.py - deploy/kubernetes: `kubectl kustomize` renders the
base, the App Mesh overlay (the seed's Helm values) and the Gateway API
overlay; the base applies
cleanly to the fake cluster (CRDs, RBAC, Deployment, Service); and the
ClusterRole is enough for canaryd: a real `canaryd kube` run (leader
election, a blue/green release with a ConfigMap, an HPA and an alert
Secret) makes only requests its rules allow, and the rules grant no
wildcard.
"""
import os
import subprocess
import sys
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import KUBECTL, SRC, Checker, Cluster, rbac_check, wait_until  # noqa: E402
from testlib import require_kubectl  # noqa: E402

BASE = os.path.join(SRC, "deploy/kubernetes/base")
APPMESH = os.path.join(SRC, "deploy/kubernetes/overlays/appmesh")
GATEWAYAPI = os.path.join(SRC, "deploy/kubernetes/overlays/gatewayapi")
ISTIO = os.path.join(SRC, "deploy/kubernetes/overlays/istio")
CONTOUR = os.path.join(SRC, "deploy/kubernetes/overlays/contour")
APISIX = os.path.join(SRC, "deploy/kubernetes/overlays/apisix")
KUMA = os.path.join(SRC, "deploy/kubernetes/overlays/kuma")
LINKERD = os.path.join(SRC, "deploy/kubernetes/overlays/linkerd")
KNATIVE = os.path.join(SRC, "deploy/kubernetes/overlays/knative")

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cart-config, namespace: shop}
data: {size: "3"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers:
      - name: cart
        image: "cart:1"
        envFrom: [{configMapRef: {name: cart-config}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cart, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: v1
kind: Secret
metadata: {name: slack, namespace: shop}
stringData: {address: "http://127.0.0.1:1/hook"}
---
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: slack, namespace: shop}
spec: {type: slack, channel: general, secretRef: {name: slack}}
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: cart, namespace: shop}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: cart}
  service: {port: 80}
  analysis:
    interval: 1m
    threshold: 2
    iterations: 1
    alerts: [{name: team, severity: info, providerRef: {name: slack}}]
"""


def render(path):
    r = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True)
    return r.returncode, [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else r.stderr


def find(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def main():
    require_kubectl()
    t = Checker()
    rc, base = render(BASE)
    t.check("kubectl kustomize renders the base", rc == 0, base if rc else None)
    rc, mesh = render(APPMESH)
    t.check("kubectl kustomize renders the App Mesh overlay", rc == 0, mesh if rc else None)
    if not isinstance(base, list) or not isinstance(mesh, list):
        t.finish()

    crds = sorted(d["metadata"]["name"] for d in base if d["kind"] == "CustomResourceDefinition")
    t.check("base: the three flagger.app CRDs",
            crds == ["alertproviders.flagger.app", "canaries.flagger.app", "metrictemplates.flagger.app"], crds)
    dep = find(base, "Deployment", "canaryd")
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    sc = ctr.get("securityContext", {})
    t.check("base: read-only root filesystem, no privilege escalation, all capabilities dropped",
            sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False and
            sc.get("capabilities", {}).get("drop") == ["ALL"], sc)
    t.check("base: runs as non-root",
            dep["spec"]["template"]["spec"]["securityContext"].get("runAsNonRoot") is True)
    t.check("base: liveness and readiness probes on /healthz",
            ctr["livenessProbe"]["httpGet"]["path"] == "/healthz" and
            ctr["readinessProbe"]["httpGet"]["path"] == "/healthz")
    t.check("base: resource requests", set(ctr["resources"]["requests"]) == {"cpu", "memory"})
    t.check("base: canaryd kube with leader election",
            ctr["args"][0] == "kube" and "-enable-leader-election=true" in ctr["args"], ctr["args"])
    t.check("base: Service for /metrics",
            find(base, "Service", "canaryd")["spec"]["ports"][0]["targetPort"] == "http-metrics")
    role = find(base, "ClusterRole", "canaryd")
    t.check("base: ClusterRole grants no wildcard",
            not any("*" in r.get(k, []) for r in role["rules"] for k in ("apiGroups", "resources", "verbs")))
    t.check("base: no delete, deletecollection or escalation verbs",
            not any(v in r["verbs"] for r in role["rules"]
                    for v in ("deletecollection", "escalate", "bind", "impersonate")))
    # two deletes: the pods of an OnDelete StatefulSet, which update only when
    # deleted (docs/statefulset.md), and the Keptn Analyses the keptn metric
    # provider creates for a query (docs/metrics.md); ownerReferences clean
    # up everything else
    deletes = [(r.get("apiGroups"), r.get("resources")) for r in role["rules"] if "delete" in r["verbs"]]
    t.check("base: the only deletes are of core pods and Keptn Analyses",
            deletes == [([""], ["pods"]), (["metrics.keptn.sh"], ["analyses"])], deletes)

    mdep = find(mesh, "Deployment", "canaryd")
    mctr = mdep["spec"]["template"]["spec"]["containers"][0]
    t.check("appmesh: namespace appmesh-system", mdep["metadata"]["namespace"] == "appmesh-system")
    t.check("appmesh: meshProvider appmesh:v1beta2, metricsServer http://appmesh-prometheus:9090",
            "-mesh-provider=appmesh:v1beta2" in mctr["args"] and
            "-metrics-server=http://appmesh-prometheus:9090" in mctr["args"], mctr["args"])
    t.check("appmesh: runs as the appmesh-controller ServiceAccount (serviceAccount.create=false)",
            mdep["spec"]["template"]["spec"]["serviceAccountName"] == "appmesh-controller" and
            find(mesh, "ServiceAccount") is None)
    binding = find(mesh, "ClusterRoleBinding", "canaryd")
    t.check("appmesh: the ClusterRole is bound to appmesh-controller in appmesh-system",
            binding["subjects"] == [{"kind": "ServiceAccount", "name": "appmesh-controller",
                                     "namespace": "appmesh-system"}], binding["subjects"])
    t.check("appmesh: no Namespace object (the App Mesh install creates it)", find(mesh, "Namespace") is None)
    t.check("appmesh: read-only root filesystem kept",
            mctr.get("securityContext", {}).get("readOnlyRootFilesystem") is True)

    rc, gwapi = render(GATEWAYAPI)
    t.check("kubectl kustomize renders the Gateway API overlay", rc == 0, gwapi if rc else None)
    if isinstance(gwapi, list):
        gctr = find(gwapi, "Deployment", "canaryd")["spec"]["template"]["spec"]["containers"][0]
        t.check("gatewayapi: meshProvider gatewayapi:v1, metrics server of docs/gateway-api.md",
                "-mesh-provider=gatewayapi:v1" in gctr["args"] and
                "-metrics-server=http://prometheus-server.monitoring" in gctr["args"], gctr["args"])
        grole = find(gwapi, "ClusterRole", "canaryd")
        t.check("gatewayapi: the ClusterRole lets canaryd get, create and update HTTPRoutes",
                any("gateway.networking.k8s.io" in r["apiGroups"] and "httproutes" in r["resources"] and
                    {"get", "create", "update"} <= set(r["verbs"]) for r in grole["rules"]), grole["rules"])

    rc, istio = render(ISTIO)
    t.check("kubectl kustomize renders the Istio overlay", rc == 0, istio if rc else None)
    if isinstance(istio, list):
        idep = find(istio, "Deployment", "canaryd")
        ictr = idep["spec"]["template"]["spec"]["containers"][0]
        t.check("istio: in istio-system, meshProvider istio, Istio's Prometheus addon (as Flagger's kustomize/istio)",
                idep["metadata"]["namespace"] == "istio-system" and "-mesh-provider=istio" in ictr["args"] and
                "-metrics-server=http://prometheus.istio-system:9090" in ictr["args"], ictr["args"])
        t.check("istio: no Namespace object (Istio's installation creates istio-system)",
                find(istio, "Namespace") is None)
        ibind = find(istio, "ClusterRoleBinding", "canaryd")
        t.check("istio: the ClusterRole is bound to canaryd in istio-system",
                ibind["subjects"] == [{"kind": "ServiceAccount", "name": "canaryd", "namespace": "istio-system"}],
                ibind["subjects"])
        irole = find(istio, "ClusterRole", "canaryd")
        t.check("istio: the ClusterRole lets canaryd get, create and update VirtualServices and DestinationRules",
                any("networking.istio.io" in r["apiGroups"] and
                    {"virtualservices", "destinationrules"} <= set(r["resources"]) and
                    {"get", "create", "update"} <= set(r["verbs"]) for r in irole["rules"]), irole["rules"])
    rc, contour = render(CONTOUR)
    t.check("kubectl kustomize renders the Contour overlay", rc == 0, contour if rc else None)
    if isinstance(contour, list):
        cctr = find(contour, "Deployment", "canaryd")["spec"]["template"]["spec"]["containers"][0]
        t.check("contour: meshProvider contour, ingress class contour (Flagger's kustomize/contour)",
                "-mesh-provider=contour" in cctr["args"] and "-ingress-class=contour" in cctr["args"],
                cctr["args"])
        crole = find(contour, "ClusterRole", "canaryd")
        t.check("contour: the ClusterRole lets canaryd get, create and update HTTPProxies",
                any("projectcontour.io" in r["apiGroups"] and "httpproxies" in r["resources"] and
                    {"get", "create", "update"} <= set(r["verbs"]) for r in crole["rules"]), crole["rules"])

    rc, apisix = render(APISIX)
    t.check("kubectl kustomize renders the APISIX overlay", rc == 0, apisix if rc else None)
    if isinstance(apisix, list):
        actr = find(apisix, "Deployment", "canaryd")["spec"]["template"]["spec"]["containers"][0]
        t.check("apisix: meshProvider apisix (Flagger's kustomize/apisix)",
                "-mesh-provider=apisix" in actr["args"], actr["args"])
        arole = find(apisix, "ClusterRole", "canaryd")
        t.check("apisix: the ClusterRole lets canaryd get, create and update ApisixRoutes",
                any("apisix.apache.org" in r["apiGroups"] and "apisixroutes" in r["resources"] and
                    {"get", "create", "update"} <= set(r["verbs"]) for r in arole["rules"]), arole["rules"])

    rc, kuma = render(KUMA)
    t.check("kubectl kustomize renders the Kuma overlay", rc == 0, kuma if rc else None)
    if isinstance(kuma, list):
        kctr = find(kuma, "Deployment", "canaryd")["spec"]["template"]["spec"]["containers"][0]
        t.check("kuma: meshProvider kuma, Kuma's Prometheus (Flagger's kustomize/kuma)",
                "-mesh-provider=kuma" in kctr["args"] and
                "-metrics-server=http://prometheus-server.mesh-observability:80" in kctr["args"], kctr["args"])
        krole = find(kuma, "ClusterRole", "canaryd")
        t.check("kuma: the ClusterRole lets canaryd get, create and update TrafficRoutes",
                any("kuma.io" in r["apiGroups"] and "trafficroutes" in r["resources"] and
                    {"get", "create", "update"} <= set(r["verbs"]) for r in krole["rules"]), krole["rules"])

    for path, name, args in (
            (LINKERD, "Linkerd", ["-mesh-provider=gatewayapi:v1beta1",
                                  "-metrics-server=http://prometheus.linkerd-viz:9090"]),
            (KNATIVE, "Knative", ["-mesh-provider=knative"])):
        rc, out = render(path)
        t.check("kubectl kustomize renders the %s overlay" % name, rc == 0, out if rc else None)
        if isinstance(out, list):
            ctr = find(out, "Deployment", "canaryd")["spec"]["template"]["spec"]["containers"][0]
            t.check("%s: the arguments of Flagger's kustomize/%s" % (name, name.lower()),
                    all(a in ctr["args"] for a in args), ctr["args"])

    c = Cluster()
    try:
        r = c.kubectl("apply", "-k", BASE, check=False)
        t.check("the base applies to the cluster", r.returncode == 0, r.stderr)
        t.check("the canaryd Deployment exists", c.get("deployment", "canaryd-system", "canaryd") is not None)
        t.check("the CRDs are served",
                c.kubectl("get", "canaries", "-A", check=False).returncode == 0)

        c.apply(APP)
        c.api.request("DELETE", "/fake/requests")
        c.start_operator("-enable-leader-election", "-leader-election-namespace", "canaryd-system",
                         "-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1")
        t.check("canary Initialized",
                wait_until(lambda: c.phase("shop", "cart") == "Initialized", 60), c.phase("shop", "cart"))
        c.kubectl("-n", "shop", "set", "image", "deployment/cart", "cart=cart:2")
        t.check("release Succeeded", wait_until(lambda: c.phase("shop", "cart") == "Succeeded", 60),
                c.phase("shop", "cart"))
        c.stop_operator()
        used, denied = rbac_check(c)
        t.check("canaryd's requests were recorded", len(used) >= 15, sorted(used))
        t.check("every request canaryd made is allowed by the ClusterRole", not denied, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-4000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
