"""test_docs_kubernetes.py - docs/kubernetes.md's App Mesh tutorial, run as a
user runs it: every shell command of its steps 1 to 10, taken from the page
itself in the order it gives them, against the fake API server with the
current kubectl, from a copy of the repository (step 3 cds into
deploy/kubernetes/overlays/appmesh and appends to its kustomization).

A command that needs what a test machine has not - AWS, eksctl, Helm charts
from the network, Docker, a load balancer - is replaced by what it does to
the cluster (listed in STEPS with the reason), and canaryd runs as the
Deployment that `kubectl apply -k .` created says (its image is the build
here, its args taken from the object, the in-cluster Prometheus name
pointed at a real Prometheus scraping Envoy-style series this test
serves). Every command of the page must match exactly one entry of STEPS
and every entry must match a command: the page cannot drift from what is
tested. The page's "kubectl versions" and "Deploying without the App Mesh
overlay" commands run too, on a second fake cluster."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import (CANARYD, KUBECTL, SHARED, SRC, EnvoyExporter, Prometheus,  # noqa: E402
                          free_port, router_weights, wait_until)
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer  # noqa: E402

DOC = os.path.join(SRC, "docs", "kubernetes.md")
APPMESH_CRDS = os.path.join(SHARED, "conformance", "crds", "appmesh")
PLACEHOLDERS = {"<CLUSTERNAME>": "demo", "<REGION>": "eu-west-1",
                "<ECR>": "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}
NS = "eks-blog1"
t = Checker()


# ---- the page -------------------------------------------------------------------------------

def section(text, start, end):
    i = text.index(start)
    j = text.index(end, i + len(start))
    return text[i:j]


def sh_blocks(text):
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def commands(block):
    """Shell commands of a block: continuation lines joined, a heredoc kept
    with its command, blank and comment-only lines dropped."""
    out, lines, i = [], block.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cmd = line
        while cmd.endswith("\\") and i < len(lines):
            cmd += "\n" + lines[i]
            i += 1
        m = re.search(r"<<-?\s*'?(\w+)'?", cmd)
        if m:
            end = m.group(1)
            while i < len(lines):
                cmd += "\n" + lines[i]
                i += 1
                if lines[i - 1].strip() == end:
                    break
        out.append(cmd)
    return out


# ---- the session -------------------------------------------------------------------------------

class Session:
    """A user's shell: a working directory and variables, kubectl pointed at
    the fake cluster. cd and VAR=... are kept here; everything else runs in
    bash."""

    def __init__(self, workdir, kubeconfig, tmp):
        self.cwd = workdir
        self.vars = {}
        self.env = dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=os.path.join(tmp, "kube-cache"))
        self.log = []

    def run(self, cmd, timeout=120):
        for k, v in PLACEHOLDERS.items():
            cmd = cmd.replace(k, v)
        m = re.match(r"^cd (\S+)$", cmd)
        if m:
            self.cwd = os.path.normpath(os.path.join(self.cwd, m.group(1)))
            ok = os.path.isdir(self.cwd)
            self.log.append((cmd, 0 if ok else 1, ""))
            return (0 if ok else 1), ""
        m = re.match(r"^([A-Z_]+)=(\S+)$", cmd)
        if m:
            self.vars[m.group(1)] = m.group(2)
            self.log.append((cmd, 0, ""))
            return 0, ""
        env = dict(self.env, **self.vars)
        r = subprocess.run(["bash", "-c", "set -o pipefail\n" + cmd], cwd=self.cwd, env=env,
                           capture_output=True, text=True, timeout=timeout)
        out = r.stdout + r.stderr
        self.log.append((cmd, r.returncode, out))
        return r.returncode, out


class Tutorial:
    def __init__(self, tmp):
        self.tmp = tmp
        self.clone = os.path.join(tmp, "canaryd")
        os.makedirs(self.clone)
        shutil.copytree(os.path.join(SRC, "deploy"), os.path.join(self.clone, "deploy"))
        self.api = FakeApiServer().start()
        self.kubeconfig = self.api.kubeconfig(os.path.join(tmp, "kubeconfig"))
        self.sh = Session(self.clone, self.kubeconfig, tmp)
        self.exporter = EnvoyExporter(NS)
        self.prom = Prometheus(tmp, [self.exporter.port])
        self.canaryd = None
        self.canaryd_log = os.path.join(tmp, "canaryd.log")
        self.metrics_port = None

    def close(self):
        if self.canaryd and self.canaryd.poll() is None:
            self.canaryd.send_signal(signal.SIGTERM)
            try:
                self.canaryd.wait(20)
            except subprocess.TimeoutExpired:
                self.canaryd.kill()
                self.canaryd.wait()
        self.prom.close()
        self.exporter.close()
        self.api.stop()

    def kubectl_json(self, *args):
        r = subprocess.run([KUBECTL] + list(args) + ["-o", "json"], capture_output=True, text=True,
                           env=self.sh.env)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def phase(self):
        # straight from the API (kubectl is too slow to poll every weight step)
        c = self.get_api("/apis/flagger.app/v1beta1/namespaces/%s/canaries/webapp" % NS)
        return ((c or {}).get("status") or {}).get("phase")

    # -- what replaces the commands a test machine cannot run ----------------------------
    def helm_appmesh_controller(self, cmd):
        """The chart creates the namespace and the controller's ServiceAccount
        (which canaryd's overlay binds); its controller pod has nothing to
        do on a fake cluster."""
        return self.sh.run("kubectl create namespace appmesh-system && kubectl apply -f - <<EOF\n"
                           "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
                           "  name: appmesh-controller\n  namespace: appmesh-system\nEOF")

    def appmesh_crds(self, cmd):
        """The same CRDs, from shared/conformance/crds/appmesh (no network)."""
        return self.sh.run("kubectl apply -f '%s'" % APPMESH_CRDS)

    def helm_prometheus(self, cmd):
        """A real Prometheus scraping Envoy-style series for the tutorial's pods
        (this test's exporter), instead of appmesh-prometheus in the cluster."""
        ok = self.prom.url.startswith("http://127.0.0.1:")
        return (0 if ok else 1), self.prom.url

    def start_canaryd(self, cmd):
        """After `kubectl apply -k .`: run canaryd as the Deployment it created
        says: its args, $(POD_NAMESPACE) expanded, the metrics port and the
        in-cluster Prometheus name replaced by this machine's, the analysis
        interval shortened to 2s."""
        rc, out = self.sh.run(cmd)
        if rc != 0:
            return rc, out
        dep = self.kubectl_json("-n", "appmesh-system", "get", "deployment", "canaryd")
        c = dep["spec"]["template"]["spec"]["containers"][0]
        self.image = c.get("image")
        self.sa = dep["spec"]["template"]["spec"].get("serviceAccountName")
        self.metrics_port = free_port()
        args = []
        for a in c.get("args", []):
            a = a.replace("$(POD_NAMESPACE)", "appmesh-system")
            if a.startswith("-metrics-server="):
                self.in_cluster_prometheus = a.split("=", 1)[1]
                a = "-metrics-server=" + self.prom.url
            if a.startswith("-port="):
                a = "-port=%d" % self.metrics_port
            args.append(a)
        self.args = args
        self.canaryd = subprocess.Popen([CANARYD] + args + ["-kubeconfig", self.kubeconfig,
                                                            "-interval-override", "2s"],
                                        stdout=open(self.canaryd_log, "w"), stderr=subprocess.STDOUT)
        return rc, out

    def canaryd_pods(self, cmd):
        """No pods on a fake cluster: canaryd is the process this test runs."""
        up = self.canaryd is not None and self.canaryd.poll() is None and \
            wait_until(lambda: _get_ok("http://127.0.0.1:%d/healthz" % self.metrics_port), 20)
        return (0 if up else 1), "canaryd process running, /healthz answers"

    def canaryd_logs(self, cmd):
        """kubectl logs: the head of the canaryd process's log."""
        wait_until(lambda: os.path.exists(self.canaryd_log) and os.path.getsize(self.canaryd_log) > 0, 10)
        with open(self.canaryd_log) as f:
            head = "".join(f.readlines()[:10])
        return (0 if head else 1), head

    def watch_initialized(self, cmd):
        """`kubectl get canary -w` until the Canary is Initialized (runs the
        page's command without -w, then polls)."""
        ok = wait_until(lambda: self.phase() == "Initialized", 90)
        rc, out = self.sh.run(cmd.replace(" -w", ""))
        return (rc if ok else 1), out

    def watch_release(self, cmd):
        """`kubectl get canaries -A -w` through the release: Progressing with
        the weights stepping up to 50, then Succeeded."""
        phases, weights = [], []

        def step():
            p = self.phase()
            w = router_weights(self, NS, "webapp")
            if p and (not phases or phases[-1] != p):
                phases.append(p)
            if w and (not weights or weights[-1] != w[0]):
                weights.append(w[0])
            return p in ("Succeeded", "Failed")
        wait_until(step, 240, 0.2)
        self.release = (phases, weights)
        rc, out = self.sh.run(cmd.replace(" -w", ""))
        return (rc if phases[-1:] == ["Succeeded"] else 1), out + "\nphases %s weights %s" % (phases,
                                                                                          weights)

    def gateway_url(self, cmd):
        """No load balancer on a fake cluster: the Service has no hostname."""
        self.sh.vars["URL"] = "http://appmesh-gateway.example"
        return 0, ""

    def nothing(self, cmd):
        return 0, "(not run: see STEPS)"

    def get_api(self, path):
        code, _, body = self.api.get(path)
        return body if code == 200 else None


def _get_ok(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# (regex on the command, what the test does, why) - in the page's order
STEPS = [
    (r"^helm repo add eks ", "nothing", "Helm repositories need the network"),
    (r"^curl -o appmesh-iam-policy\.json", "nothing", "AWS IAM: no AWS here"),
    (r"^aws iam create-policy ", "nothing", "AWS IAM: no AWS here"),
    (r"^CLUSTER=", "run", ""),
    (r"^ACCOUNT=\$\(aws sts ", "account", "AWS: a fixed account id"),
    (r"^eksctl create iamserviceaccount ", "nothing", "eksctl --role-only creates an IAM role only"),
    (r"^kubectl apply -k \"github\.com/aws/eks-charts/stable/appmesh-controller//crds",
     "appmesh_crds", "the App Mesh CRDs from shared/conformance (no network)"),
    (r"^REGION=", "run", ""),
    (r"^cat > appmesh-values\.yaml <<EOF", "run", ""),
    (r"^helm upgrade -i appmesh-controller ", "helm_appmesh_controller",
     "the chart's namespace and ServiceAccount; its controller has nothing to do here"),
    (r"^kubectl get all -n appmesh-system", "run", ""),
    (r"^kubectl apply -f https://github\.com/kubernetes-sigs/metrics-server/", "nothing",
     "needs the network; canaryd does not use the metrics server"),
    (r"^helm upgrade -i appmesh-prometheus ", "helm_prometheus", "a real Prometheus on this host"),
    (r"^docker build -t ", "nothing", "no image builds here: canaryd runs from this build"),
    (r"^docker push ", "nothing", "no registry here"),
    (r"^cd deploy/kubernetes/overlays/appmesh$", "run", ""),
    (r"^kubectl kustomize \. > /dev/null", "run", ""),
    (r"^cat >> kustomization\.yaml <<EOF", "run", ""),
    (r"^kubectl apply -k \.$", "start_canaryd", "then canaryd runs as the created Deployment says"),
    (r"^kubectl -n appmesh-system get pods -l app\.kubernetes\.io/name=canaryd", "canaryd_pods",
     "no pods on a fake cluster: the canaryd process"),
    (r"^kubectl -n appmesh-system logs deploy/canaryd", "canaryd_logs", "the canaryd process's log"),
    (r"^cat << EOF \| kubectl apply -f -\napiVersion: appmesh\.k8s\.aws/v1beta2\nkind: Mesh", "run", ""),
    (r"^cat << EOF \| kubectl apply -f -\napiVersion: v1\nkind: Namespace", "run", ""),
    (r"^cat << EOF \| kubectl apply -f -\napiVersion: apps/v1\nkind: Deployment", "run", ""),
    (r"^kubectl get deploy -n eks-blog1$", "run", ""),
    (r"^cat << EOF \| kubectl apply -f -\napiVersion: flagger\.app/v1beta1\nkind: Canary", "run", ""),
    (r"^kubectl get canary -n eks-blog1 -w$", "watch_initialized", "-w never ends: polled"),
    (r"^kubectl -n eks-blog1 get deploy,svc,virtualnodes,virtualrouters,virtualservices", "run", ""),
    (r"^kubectl -n eks-blog1 describe canary webapp", "run", ""),
    (r"^helm upgrade -i appmesh-gateway ", "nothing", "Helm charts need the network"),
    (r"^cat << EOF \| kubectl apply -f -\napiVersion: appmesh\.k8s\.aws/v1beta2\nkind: GatewayRoute",
     "run", ""),
    (r"^export URL=", "gateway_url", "no load balancer on a fake cluster"),
    (r"^curl \$URL", "nothing", "no gateway pod to answer"),
    (r"^kubectl -n eks-blog1 set image deployment/webapp webapp=public\.ecr\.aws/r5m2h0c9/webapp:v2",
     "release", "with healthy Envoy series for the v2 pod"),
    (r"^kubectl get canaries -A -w$", "watch_release", "-w never ends: polled to Succeeded"),
]


def run_tutorial(tmp):
    with open(DOC) as f:
        text = f.read()
    part = section(text, "## Progressive delivery with AWS App Mesh and canaryd",
                   "### 11. Judging against the primary")
    cmds = [c for b in sh_blocks(part) for c in commands(b)]
    t.check("docs/kubernetes.md's tutorial has its commands (%d)" % len(cmds), len(cmds) >= 30, cmds)
    tut = Tutorial(tmp)
    used = set()
    results = {}
    try:
        for cmd in cmds:
            hits = [i for i, (rx, _, _) in enumerate(STEPS) if re.search(rx, cmd)]
            if len(hits) != 1:
                t.check("the page's command is known to this test exactly once: %s"
                        % cmd.splitlines()[0], False, "matches %d STEPS entries" % len(hits))
                continue
            i = hits[0]
            used.add(i)
            _, how, why = STEPS[i]
            if how == "run":
                rc, out = tut.sh.run(cmd)
            elif how == "account":
                tut.sh.vars["ACCOUNT"] = "123456789012"
                rc, out = 0, ""
            elif how == "release":
                tut.exporter.set_pods({"webapp-6b8f9c7d54-v2pod": (20.0, 0.0, 20)})
                tut.prom.wait_series('count_over_time(envoy_cluster_upstream_rq{kubernetes_pod_name='
                                     '"webapp-6b8f9c7d54-v2pod"}[1m]) > 3', 60)
                rc, out = tut.sh.run(cmd)
            else:
                rc, out = getattr(tut, how)(cmd)
            first = cmd.splitlines()[0]
            results[i] = out
            t.check("step: %s%s" % (first[:110], "  [%s]" % why if why else ""), rc == 0, out[-1500:])
        for i, (rx, _, _) in enumerate(STEPS):
            t.check("STEPS entry %r matches a command of the page" % rx[:60], i in used)
        outcomes(tut, results)
    finally:
        if t.failed and os.path.exists(tut.canaryd_log):
            with open(tut.canaryd_log) as f:
                print(f.read()[-5000:])
        tut.close()


def outcomes(tut, results):
    """What the page says each step leaves behind."""
    def res(rx):
        return next((results.get(i, "") for i, (r, _, _) in enumerate(STEPS) if r == rx), "")
    kust = os.path.join(tut.clone, "deploy/kubernetes/overlays/appmesh/kustomization.yaml")
    with open(kust) as f:
        k = f.read()
    t.check("step 3 appended the image to the overlay (the copy, not the repository)",
            "newName: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/canaryd" in k and
            "newName: 123456789012" not in open(os.path.join(
                SRC, "deploy/kubernetes/overlays/appmesh/kustomization.yaml")).read())
    crds = tut.kubectl_json("get", "crd")
    names = {c["metadata"]["name"] for c in (crds or {}).get("items", [])}
    t.check("step 3 installed the three flagger.app CRDs",
            {"canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app"} <= names,
            names)
    t.check("step 3: the Deployment runs the pushed image as appmesh-controller, App Mesh provider",
            tut.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/canaryd:0.1.0" and
            tut.sa == "appmesh-controller" and "-mesh-provider=appmesh:v1beta2" in tut.args and
            tut.in_cluster_prometheus == "http://appmesh-prometheus:9090",
            (tut.image, tut.sa, tut.args))
    crb = tut.kubectl_json("get", "clusterrolebinding", "canaryd")
    t.check("step 3: the ClusterRole is bound to appmesh-controller in appmesh-system",
            (crb or {}).get("subjects") == [{"kind": "ServiceAccount", "name": "appmesh-controller",
                                             "namespace": "appmesh-system"}], (crb or {}).get("subjects"))
    logs = res(r"^kubectl -n appmesh-system logs deploy/canaryd")
    t.check("step 3: the logs are JSON lines starting with 'Starting canaryd'",
            logs.startswith("{") and "Starting canaryd" in logs, logs[:500])
    objs = res(r"^kubectl -n eks-blog1 get deploy,svc,virtualnodes,virtualrouters,virtualservices")
    t.check("step 7: what the page's table lists exists",
            all(w in objs for w in ("deployment.apps/webapp-primary", "service/webapp-canary",
                                     "virtualnode.appmesh.k8s.aws/webapp-primary",
                                     "virtualrouter.appmesh.k8s.aws/webapp-canary",
                                     "virtualservice.appmesh.k8s.aws/webapp")), objs)
    t.check("step 7: describe shows the event 'Initialization done! webapp.eks-blog1'",
            "Initialization done! webapp.eks-blog1" in res(r"^kubectl -n eks-blog1 describe canary webapp"))
    phases, weights = getattr(tut, "release", ([], []))
    t.check("step 9: the weights step 10, 20, 30, 40, 50 as the page shows, then Succeeded",
            weights[1:6] == [10, 20, 30, 40, 50] and phases[-1:] == ["Succeeded"], (phases, weights))
    dep = tut.kubectl_json("-n", NS, "get", "deployment", "webapp-primary")
    t.check("step 9: webapp-primary runs v2",
            dep and dep["spec"]["template"]["spec"]["containers"][0]["image"] ==
            "public.ecr.aws/r5m2h0c9/webapp:v2")


def run_reference(tmp):
    """The page's other install commands: the kubectl versions block (three
    CRDs with -f) and the base without the App Mesh overlay."""
    with open(DOC) as f:
        text = f.read()
    ver = [c for b in sh_blocks(section(text, "### kubectl versions", "### Deploying without")) for c in
           commands(b)]
    base = re.findall(r"`(kubectl apply -k deploy/kubernetes/base)`",
                      section(text, "### Deploying without the App Mesh overlay", "### Trying it"))
    t.check("the page's kubectl-versions and base commands are there", len(ver) == 1 and base == [
        "kubectl apply -k deploy/kubernetes/base"], (ver, base))
    with FakeApiServer() as api:
        sh = Session(SRC, api.kubeconfig(os.path.join(tmp, "kubeconfig-ref")), tmp)
        for cmd in ver + base:
            rc, out = sh.run(cmd)
            t.check("reference: %s" % cmd.splitlines()[0], rc == 0 and "error" not in out.lower(), out)
        rc, out = sh.run("kubectl -n canaryd-system get deploy canaryd -o jsonpath='{.spec.template.spec.containers[0].args}'")
        t.check("the base installs canaryd in canaryd-system with no -mesh-provider (its default, istio, "
                "as Flagger's kustomize/base)", rc == 0 and "kube" in out and "-mesh-provider" not in out, out)


def main():
    tmp = tempfile.mkdtemp(prefix="test-docs-kubernetes.")
    try:
        run_tutorial(tmp)
        run_reference(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.finish()


if __name__ == "__main__":
    main()
