"""test_helm_chart.py - deploy/helm/canaryd, with the real helm and kubectl
(the pinned ones, scripts/kube-tools.sh):

- `helm lint --strict` and `helm template` are clean (no warning, nothing
  on stderr);
- its crds/ are byte-for-byte deploy/crds (a copy that cannot drift
  unnoticed), and `helm template --include-crds` renders exactly them;
- with the values that mean what deploy/kubernetes does, it renders the
  same ClusterRole rules, binding, ServiceAccount, Service and Deployment
  (pod spec, container, args, probes, security) as `kubectl kustomize` of
  the base, and, with the seed tutorial's Flagger values (meshProvider,
  metricsServer, serviceAccount.create=false/name), as the App Mesh
  overlay; the Gateway API overlay likewise;
- Flagger's value names give the flags canaryd reads (slack, msteams,
  namespace, selectorLabels, leaderElection, ...), podMonitor,
  serviceMonitor, podDisruptionBudget and crd.create render their objects;
  values canaryd cannot honour are refused with a reason, and a bad value
  with its path;
- the rendered objects pass `kubectl apply --dry-run=server` on the fake
  API server; `helm install` there creates the CRDs, the RBAC, the
  ServiceAccount, the Service and the Deployment (which the fake rolls
  out) and records the release; canaryd run with the Deployment's own
  arguments starts, takes the Lease and serves /healthz, making only
  requests the chart's ClusterRole allows; `helm upgrade` changes the
  provider; `helm uninstall` removes everything but the CRDs (which keep
  the users' Canaries).
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import CANARYD, SRC, Checker, rbac_check, wait_until  # noqa: E402
from testlib import free_port, require_helm, require_kubectl  # noqa: E402
from fakekube.testing import FakeApiServer  # noqa: E402

CHART = os.path.join(SRC, "deploy/helm/canaryd")
CRDS = ("canaries.yaml", "metrictemplates.yaml", "alertproviders.yaml")
SEED_VALUES = ["--set", "meshProvider=appmesh:v1beta2",
               "--set", "metricsServer=http://appmesh-prometheus:9090",
               "--set", "serviceAccount.create=false", "--set", "serviceAccount.name=appmesh-controller"]


class Helm:
    """helm with its own cache, config and data directories (nothing of
    the user's) and the kubeconfig given."""

    def __init__(self, tmp):
        self.env = dict(os.environ, HELM_CACHE_HOME=os.path.join(tmp, "helm-cache"),
                        HELM_CONFIG_HOME=os.path.join(tmp, "helm-config"),
                        HELM_DATA_HOME=os.path.join(tmp, "helm-data"))
        self.env.pop("KUBECONFIG", None)

    def run(self, *args, kubeconfig=None):
        env = dict(self.env)
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        return subprocess.run(["helm"] + list(args), env=env, capture_output=True, text=True, timeout=300)

    def template(self, *args):
        r = self.run("template", "canaryd", CHART, "-n", "canaryd-system", *args)
        docs = [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []
        return r, docs


def kustomize(path):
    r = subprocess.run(["kubectl", "kustomize", os.path.join(SRC, path)], capture_output=True,
                       text=True, check=True)
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def find(docs, kind, name=None):
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def pod_spec(dep):
    """The parts of a Deployment's pod spec both renderings must agree on."""
    spec = dict(dep["spec"]["template"]["spec"])
    spec.pop("affinity", None)     # the chart's default: Flagger's anti-affinity
    return spec


def compare_deployments(t, what, chart, kust):
    cd, kd = find(chart, "Deployment"), find(kust, "Deployment")
    t.check(what + ": the same pod spec (container, args, env, probes, resources, security)",
            pod_spec(cd) == pod_spec(kd), (pod_spec(cd), pod_spec(kd)))
    t.check(what + ": the same pod annotations",
            cd["spec"]["template"]["metadata"].get("annotations") ==
            kd["spec"]["template"]["metadata"].get("annotations"))
    t.check(what + ": same name, namespace and replicas",
            (cd["metadata"]["name"], cd["metadata"]["namespace"], cd["spec"]["replicas"]) ==
            (kd["metadata"]["name"], kd["metadata"]["namespace"], kd["spec"]["replicas"]))


def check_render(t, helm):
    r = helm.run("lint", "--strict", CHART)
    t.check("helm lint --strict passes", r.returncode == 0, r.stdout + r.stderr)
    t.check("helm lint: no warning or error",
            "[WARNING]" not in r.stdout and "[ERROR]" not in r.stdout and not r.stderr, r.stdout + r.stderr)

    for f in CRDS:
        same = filecmp.cmp(os.path.join(SRC, "deploy/crds", f), os.path.join(CHART, "crds", f), shallow=False)
        t.check("crds/%s is deploy/crds/%s byte for byte" % (f, f), same,
                "copy it again: cp deploy/crds/%s deploy/helm/canaryd/crds/" % f)
    t.check("crds/ holds only those three (Helm installs every file there)",
            sorted(os.listdir(os.path.join(CHART, "crds"))) == sorted(CRDS), os.listdir(os.path.join(CHART, "crds")))

    r, chart = helm.template("--include-crds")
    t.check("helm template renders, nothing on stderr", r.returncode == 0 and not r.stderr, r.stderr)
    base = kustomize("deploy/kubernetes/base")
    rendered = {d["metadata"]["name"]: d for d in chart if d["kind"] == "CustomResourceDefinition"}
    want = {}
    for f in CRDS:
        with open(os.path.join(SRC, "deploy/crds", f)) as fh:
            d = yaml.safe_load(fh)
            want[d["metadata"]["name"]] = d
    t.check("helm template --include-crds renders exactly deploy/crds's three CRDs", rendered == want,
            sorted(rendered))
    t.check("the same ClusterRole rules as deploy/kubernetes/base",
            find(chart, "ClusterRole")["rules"] == find(base, "ClusterRole")["rules"])
    t.check("bound to the canaryd ServiceAccount of the release's namespace",
            find(chart, "ClusterRoleBinding")["subjects"] == find(base, "ClusterRoleBinding")["subjects"] and
            find(chart, "ServiceAccount", "canaryd")["metadata"]["namespace"] == "canaryd-system")
    t.check("the same Service ports",
            find(chart, "Service")["spec"]["ports"] == find(base, "Service")["spec"]["ports"])
    compare_deployments(t, "base", chart, base)
    dep = find(chart, "Deployment")
    t.check("leader election on (one replica): no Recreate needed",
            "strategy" not in dep["spec"] and "-enable-leader-election=true" in
            dep["spec"]["template"]["spec"]["containers"][0]["args"])
    t.check("the selector is the release's name and instance labels",
            dep["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "canaryd",
                                                       "app.kubernetes.io/instance": "canaryd"})
    t.check("the default anti-affinity (Flagger's) names the release's pods",
            dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
            ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"]
            ["matchLabels"] == {"app.kubernetes.io/name": "canaryd", "app.kubernetes.io/instance": "canaryd"})

    # the seed tutorial's Flagger values = the App Mesh overlay
    r, chart = helm.template(*SEED_VALUES)
    mesh = kustomize("deploy/kubernetes/overlays/appmesh")
    t.check("the seed's Flagger values render", r.returncode == 0, r.stderr)
    cd, md = find(chart, "Deployment"), find(mesh, "Deployment")
    t.check("seed values: the App Mesh overlay's arguments and ServiceAccount",
            cd["spec"]["template"]["spec"]["containers"][0]["args"] ==
            md["spec"]["template"]["spec"]["containers"][0]["args"] and
            cd["spec"]["template"]["spec"]["serviceAccountName"] == "appmesh-controller")
    t.check("seed values: no ServiceAccount object (serviceAccount.create=false)",
            find(chart, "ServiceAccount") is None)
    r, chart = helm.template("-n", "appmesh-system", *SEED_VALUES)
    t.check("seed values in appmesh-system: the overlay's binding",
            find(chart, "ClusterRoleBinding")["subjects"] == find(mesh, "ClusterRoleBinding")["subjects"])
    compare_deployments(t, "appmesh", chart, mesh)

    r, chart = helm.template("--set", "meshProvider=gatewayapi:v1",
                             "--set", "metricsServer=http://prometheus-server.monitoring")
    compare_deployments(t, "gatewayapi", chart, kustomize("deploy/kubernetes/overlays/gatewayapi"))

    r, chart = helm.template("--set", "meshProvider=nginx",
                             "--set", "ingressAnnotationsPrefix=custom.ingress.kubernetes.io")
    args = (find(chart, "Deployment", "canaryd") or {}).get("spec", {}).get("template", {}).get(
        "spec", {}).get("containers", [{}])[0].get("args", []) if r.returncode == 0 else r.stderr
    r2, chart2 = helm.template("--set", "meshProvider=contour", "--set", "ingressClass=contour",
                               "--set", "metricsServer=http://prometheus-server.monitoring")
    if r2.returncode == 0:
        compare_deployments(t, "contour", chart2, kustomize("deploy/kubernetes/overlays/contour"))
    else:
        t.check("meshProvider=contour with ingressClass renders", False, r2.stderr)
    t.check("meshProvider=nginx with Flagger's ingressAnnotationsPrefix: both flags passed",
            "-mesh-provider=nginx" in args and
            "-ingress-annotations-prefix=custom.ingress.kubernetes.io" in args, args)


def check_flow_values(t, helm):
    """What the templates render has no flow value split by an unquoted
    comma or colon (tests/tools/yaml_flow_check.py; the templates
    themselves are not YAML)."""
    sys.path.insert(0, os.path.join(SRC, "tests/tools"))
    import yaml_flow_check
    for what, args in (("defaults", ("--include-crds",)), ("crd.create", ("--set", "crd.create=true"))):
        r, _ = helm.template(*args)
        probs = yaml_flow_check.check_text("helm template (%s)" % what, r.stdout)
        t.check("helm template (%s): no flow value split by an unquoted comma or colon" % what,
                r.returncode == 0 and not probs, probs or r.stderr)


def args_of(docs):
    return find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]


def check_values(t, helm):
    r, docs = helm.template(
        "--set", "namespace=shop", "--set", "selectorLabels=app.kubernetes.io/name\\,app",
        "--set", "includeLabelPrefix=team", "--set", "configTracking.enabled=false",
        "--set", "threadiness=4", "--set", "kubeconfigQPS=50", "--set", "kubeconfigBurst=80",
        "--set", "noCrossNamespaceRefs=true", "--set", "eventWebhook=http://hooks:8080/events",
        "--set", "clusterName=prod-eu", "--set", "slack.url=https://hooks.slack.com/services/T/B/X",
        "--set", "slack.proxy=http://proxy:3128", "--set", "slack.user=canaryd",
        "--set", "slack.channel=releases", "--set", "msteams.url=https://example.webhook.office.com/x",
        "--set", "msteams.proxyUrl=http://proxy:3128", "--set", "logLevel=debug",
        "--set", "extraArgs={-shutdown-grace=30s}")
    want = ["kube", "-log-level=debug", "-port=8080",
            "-metrics-server=http://prometheus:9090", "-enable-leader-election=true",
            "-leader-election-namespace=$(POD_NAMESPACE)", "-namespace=shop",
            "-selector-labels=app.kubernetes.io/name,app", "-include-label-prefix=team",
            "-enable-config-tracking=false", "-threadiness=4", "-kubeconfig-qps=50", "-kubeconfig-burst=80",
            "-no-cross-namespace-refs=true", "-event-webhook=http://hooks:8080/events",
            "-cluster-name=prod-eu", "-slack-url=https://hooks.slack.com/services/T/B/X",
            "-slack-proxy-url=http://proxy:3128", "-slack-user=canaryd", "-slack-channel=releases",
            "-msteams-url=https://example.webhook.office.com/x", "-msteams-proxy-url=http://proxy:3128",
            "-shutdown-grace=30s"]
    t.check("Flagger's values become canaryd's flags", r.returncode == 0 and args_of(docs) == want,
            r.stderr or args_of(docs))
    r = subprocess.run([CANARYD, "kube", "-h"], capture_output=True, text=True)
    known = r.stdout + r.stderr
    missing = [a.split("=")[0] for a in want[1:] if a.split("=")[0] + " " not in known and
               a.split("=")[0] + "\n" not in known]
    t.check("canaryd kube knows every flag the chart can write", not missing, missing)

    r, docs = helm.template("--set", "leaderElection.enabled=false")
    dep = find(docs, "Deployment")
    t.check("leaderElection.enabled=false: Recreate, no election flags",
            dep["spec"].get("strategy") == {"type": "Recreate"} and
            not any("leader" in a for a in args_of(docs)), dep["spec"].get("strategy"))
    r, docs = helm.template("--set", "leaderElection.replicaCount=2")
    t.check("leaderElection.replicaCount=2: two replicas", find(docs, "Deployment")["spec"]["replicas"] == 2)

    r, docs = helm.template("--set", "podMonitor.enabled=true", "--set", "podMonitor.additionalLabels.release=prom",
                            "--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.namespace=monitoring",
                            "--set", "podDisruptionBudget.enabled=true")
    pm, sm = find(docs, "PodMonitor"), find(docs, "ServiceMonitor")
    t.check("podMonitor: scrapes the pods' http-metrics port, with the extra label",
            pm is not None and pm["spec"]["podMetricsEndpoints"][0]["port"] == "http-metrics" and
            pm["metadata"]["labels"].get("release") == "prom" and
            pm["spec"]["selector"]["matchLabels"] == find(docs, "Deployment")["spec"]["selector"]["matchLabels"], pm)
    t.check("serviceMonitor: in its namespace, scraping the Service's http-metrics port",
            sm is not None and sm["metadata"]["namespace"] == "monitoring" and
            sm["spec"]["endpoints"][0]["port"] == find(docs, "Service")["spec"]["ports"][0]["name"] and
            sm["spec"]["namespaceSelector"]["matchNames"] == ["canaryd-system"], sm)
    pdb = find(docs, "PodDisruptionBudget")
    t.check("podDisruptionBudget: minAvailable 1 over the release's pods",
            pdb is not None and pdb["spec"]["minAvailable"] == 1, pdb)

    r, docs = helm.template("--set", "crd.create=true")
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    t.check("crd.create: the three CRDs as templates, kept on uninstall",
            len(crds) == 3 and all(d["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep"
                                   for d in crds), [d["metadata"] for d in crds])

    r, docs = helm.template("--set", "image.repository=registry.example.com/canaryd", "--set", "image.tag=0.2.0",
                            "--set", "image.pullSecret=regcred", "--set", "env[0].name=SLACK_URL",
                            "--set", "env[0].valueFrom.secretKeyRef.name=slack",
                            "--set", "env[0].valueFrom.secretKeyRef.key=url",
                            "--set", "nodeSelector.kubernetes\\.io/os=linux",
                            "--set", "tolerations[0].operator=Exists", "--set", "podPriorityClassName=high")
    spec = find(docs, "Deployment")["spec"]["template"]["spec"]
    ctr = spec["containers"][0]
    t.check("image, pull secret, env from a Secret, node selector, tolerations, priority class",
            ctr["image"] == "registry.example.com/canaryd:0.2.0" and spec["imagePullSecrets"] == [{"name": "regcred"}]
            and ctr["env"][1] == {"name": "SLACK_URL", "valueFrom": {"secretKeyRef": {"name": "slack", "key": "url"}}}
            and spec["nodeSelector"] == {"kubernetes.io/os": "linux"} and spec["tolerations"] == [{"operator": "Exists"}]
            and spec["priorityClassName"] == "high", spec)

    # what canaryd cannot honour, and bad values
    for setting, words in (("prometheus.install=true", "installs no Prometheus"),
                           ("rbac.pspEnabled=true", "PodSecurityPolicy was removed"),
                           ("linkerdAuthPolicy.create=true", "creates no Linkerd AuthorizationPolicy"),
                           ("controlplane.kubeconfig.secretName=mesh", "no multi-cluster")):
        r, _ = helm.template("--set", setting)
        t.check("refused with a reason: " + setting, r.returncode != 0 and words in r.stderr, r.stderr)
    r, _ = helm.template("--set", "meshProvider=knative")
    t.check("meshProvider=knative is refused, naming the value and the providers canaryd routes",
            r.returncode != 0 and "meshProvider" in r.stderr and "appmesh:v1beta2" in r.stderr, r.stderr)
    r, chart = helm.template("--set", "meshProvider=istio")
    t.check("meshProvider=istio is accepted and passed as -mesh-provider=istio",
            r.returncode == 0 and "-mesh-provider=istio" in r.stdout, r.stderr)
    r, _ = helm.template("--set", "threadiness=lots")
    t.check("a bad threadiness is refused, naming it", r.returncode != 0 and "threadiness" in r.stderr, r.stderr)
    r, _ = helm.template("--set", "metricsServer=prometheus:9090")
    t.check("a metricsServer that is not a URL is refused", r.returncode != 0 and "metricsServer" in r.stderr,
            r.stderr)
    r, _ = helm.template("--set", "leaderElection.enabled=false", "--set", "leaderElection.replicaCount=2")
    t.check("two replicas without leader election are refused",
            r.returncode != 0 and "needs leaderElection.enabled=true" in r.stderr, r.stderr)
    r, _ = helm.template("--set", "serviceAccount.create=false")
    t.check("serviceAccount.create=false without a name is refused, saying what to set",
            r.returncode != 0 and "serviceAccount.name" in r.stderr, r.stderr)


def kubectl(kubeconfig, *args, stdin=None):
    return subprocess.run(["kubectl", "--request-timeout=30s"] + list(args), input=stdin, capture_output=True,
                          text=True, env=dict(os.environ, KUBECONFIG=kubeconfig), timeout=120)


def check_install(t, helm, tmp):
    api = FakeApiServer().start()
    kc = api.kubeconfig(os.path.join(tmp, "kubeconfig"))
    op = None
    try:
        # the rendered objects, validated by the API server without writing
        r = kubectl(kc, "create", "namespace", "canaryd-system")
        r, _ = helm.template("--include-crds")
        rendered = r.stdout
        crds = "\n---\n".join(open(os.path.join(CHART, "crds", f)).read() for f in CRDS)
        r = kubectl(kc, "apply", "--dry-run=server", "-f", "-", stdin=crds)
        t.check("the CRDs pass kubectl apply --dry-run=server", r.returncode == 0, r.stderr)
        r = kubectl(kc, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
        t.check("every rendered object passes kubectl apply --dry-run=server", r.returncode == 0, r.stderr)
        t.check("... and nothing was written", api.get("/apis/apps/v1/namespaces/canaryd-system/deployments/canaryd")[0]
                == 404)
        kubectl(kc, "delete", "namespace", "canaryd-system", "--wait=false")
        wait_until(lambda: api.get("/api/v1/namespaces/canaryd-system")[0] == 404, 20)

        # helm install (client-side apply: the fake has no server-side apply;
        # Helm 3 and `--server-side=false` both work that way)
        r = helm.run("install", "canaryd", CHART, "-n", "canaryd-system", "--create-namespace",
                     "--server-side=false", "--wait", "--timeout", "60s", kubeconfig=kc)
        t.check("helm install --wait succeeds on the fake API server", r.returncode == 0, r.stdout + r.stderr)
        t.check("helm install: the notes say where canaryd runs", "installed in canaryd-system" in r.stdout, r.stdout)
        def streams():
            # a watch is logged once the server sees the client gone
            _, _, log = api.get("/fake/requests")
            return [e for e in log.get("requests", log) if "Helm" in e.get("userAgent", "") and
                    (e.get("query") or {}).get("sendInitialEvents") == "true"]
        streams = wait_until(streams, 15) or []
        t.check("helm --wait watched with streaming lists (sendInitialEvents), which the v1.32 fake served",
                streams and all(e["code"] == 200 for e in streams), [(e["path"], e["code"]) for e in streams])
        for path in ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/canaries.flagger.app",
                     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/metrictemplates.flagger.app",
                     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/alertproviders.flagger.app",
                     "/apis/rbac.authorization.k8s.io/v1/clusterroles/canaryd",
                     "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/canaryd",
                     "/api/v1/namespaces/canaryd-system/serviceaccounts/canaryd",
                     "/api/v1/namespaces/canaryd-system/services/canaryd"):
            t.check("installed: " + path.split("/")[-2] + "/" + path.split("/")[-1], api.get(path)[0] == 200)
        _, _, dep = api.get("/apis/apps/v1/namespaces/canaryd-system/deployments/canaryd")
        t.check("installed: the Deployment, rolled out (helm --wait waited for it)",
                (dep.get("status") or {}).get("availableReplicas") == 1, dep.get("status"))
        r = helm.run("list", "-n", "canaryd-system", "-o", "json", kubeconfig=kc)
        t.check("helm list: release canaryd deployed, revision 1",
                '"name":"canaryd"' in r.stdout and '"status":"deployed"' in r.stdout and '"revision":"1"' in r.stdout,
                r.stdout + r.stderr)
        status, _, secrets = api.get("/api/v1/namespaces/canaryd-system/secrets?labelSelector=owner%3Dhelm")
        t.check("the release is a Secret (written by helm's typed client in protobuf)",
                [s["metadata"]["name"] for s in secrets.get("items", [])] == ["sh.helm.release.v1.canaryd.v1"] and
                secrets["items"][0]["type"] == "helm.sh/release.v1", secrets)

        # canaryd with the Deployment's own arguments, as its pod would run
        args = [a.replace("$(POD_NAMESPACE)", "canaryd-system") for a in
                dep["spec"]["template"]["spec"]["containers"][0]["args"]]
        port = free_port()
        args = [a for a in args if not a.startswith("-port=")] + ["-port=%d" % port, "-kubeconfig", kc]
        log = open(os.path.join(tmp, "canaryd.log"), "w")
        api.request("DELETE", "/fake/requests")
        op = subprocess.Popen([CANARYD] + args, stdout=log, stderr=subprocess.STDOUT)

        def healthy():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2) as r:
                    return r.read() == b"OK"
            except OSError:
                return False
        t.check("canaryd runs with the chart's arguments: /healthz answers OK", wait_until(healthy, 30))
        t.check("... and holds the Lease in the release's namespace",
                wait_until(lambda: api.get("/apis/coordination.k8s.io/v1/namespaces/canaryd-system/leases/"
                                           "canaryd-leader-election")[0] == 200, 30))

        class Wrap:   # rbac_check reads the fake's request log through .api
            pass
        w = Wrap()
        w.api = api
        op.terminate()
        op.wait(30)
        used, denied = rbac_check(w)
        t.check("canaryd's requests were recorded", len(used) >= 4, sorted(used))
        t.check("every request canaryd made is allowed by the chart's ClusterRole", not denied, sorted(denied))

        r = helm.run("upgrade", "canaryd", CHART, "-n", "canaryd-system", "--server-side=false",
                     "--set", "meshProvider=gatewayapi:v1", kubeconfig=kc)
        t.check("helm upgrade succeeds", r.returncode == 0, r.stdout + r.stderr)
        _, _, dep = api.get("/apis/apps/v1/namespaces/canaryd-system/deployments/canaryd")
        t.check("helm upgrade: the Deployment now routes with gatewayapi:v1",
                "-mesh-provider=gatewayapi:v1" in dep["spec"]["template"]["spec"]["containers"][0]["args"])
        r = helm.run("history", "canaryd", "-n", "canaryd-system", "-o", "json", kubeconfig=kc)
        t.check("helm history: revision 1 superseded, 2 deployed",
                '"revision":1' in r.stdout and '"status":"superseded"' in r.stdout and
                '"revision":2' in r.stdout, r.stdout + r.stderr)

        r = helm.run("uninstall", "canaryd", "-n", "canaryd-system", "--wait", kubeconfig=kc)
        t.check("helm uninstall succeeds", r.returncode == 0, r.stdout + r.stderr)
        gone = [p for p in ("/apis/apps/v1/namespaces/canaryd-system/deployments/canaryd",
                            "/api/v1/namespaces/canaryd-system/services/canaryd",
                            "/api/v1/namespaces/canaryd-system/serviceaccounts/canaryd",
                            "/apis/rbac.authorization.k8s.io/v1/clusterroles/canaryd",
                            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/canaryd")
                if api.get(p)[0] != 404]
        t.check("helm uninstall removed the Deployment, Service, ServiceAccount and RBAC", not gone, gone)
        t.check("helm uninstall kept the CRDs (and so every Canary)",
                api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/canaries.flagger.app")[0] == 200)
    finally:
        if op and op.poll() is None:
            op.kill()
            op.wait()
        if t.failed and os.path.exists(os.path.join(tmp, "canaryd.log")):
            print(open(os.path.join(tmp, "canaryd.log")).read()[-3000:])
        api.stop()


def main():
    require_kubectl()
    require_helm()
    t = Checker()
    tmp = tempfile.mkdtemp(prefix="canaryd-helm-test.")
    try:
        helm = Helm(tmp)
        check_render(t, helm)
        check_values(t, helm)
        check_flow_values(t, helm)
        check_install(t, helm, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.finish()


if __name__ == "__main__":
    main()
