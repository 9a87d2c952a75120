"""operator_env.py - what the `canaryd kube` integration tests share: a fake
Kubernetes cluster (tests/fake-apiserver with canaryd's CRDs and App Mesh's),
the real kubectl pointed at it, `canaryd kube` started, stopped and
restarted as a process, and an Envoy-style exporter scraped by a real
Prometheus (Debian package) whose canary series the test controls. Every
server runs on a loopback port picked here and is stopped by close().
Not a test itself (no test_ prefix)."""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

SRC = os.environ.get("CANARYD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("CANARYD_BUILD", os.path.join(SRC, "build"))
SHARED = os.environ.get("CANARYD_SHARED", os.path.join(SRC, "../shared"))
CANARYD = os.path.join(BUILD, "canaryd")
APPMESH_CRDS = os.path.join(SHARED, "conformance/crds/appmesh")
VALIDATE = os.path.join(SRC, "tests/fake-apiserver/validate_crd.py")

sys.path.insert(0, os.path.join(SRC, "tests/fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import free_port, wait_until  # noqa: E402,F401

# the pinned kubectl (.cache/tools/bin), first on PATH since testlib's import
KUBECTL = shutil.which("kubectl") or "kubectl"


# ---- the exporter: Envoy's series for the pods the test names ----------------

class EnvoyExporter:
    """Serves envoy_cluster_upstream_rq and envoy_cluster_upstream_rq_time_bucket
    for a set of pods. Counters grow linearly from the moment a pod is added,
    at `rps` requests per second, `errors` of them answering 500; every
    request takes `latency_ms`. set_pods() replaces the set."""

    BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]

    def __init__(self, namespace):
        self.ns = namespace
        self.lock = threading.Lock()
        self.pods = {}      # name -> (start, rps, error_ratio, latency_ms)
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

    def set_pods(self, pods):
        """pods: {name: (rps, error_ratio, latency_ms)}"""
        now = time.time()
        with self.lock:
            self.pods = {n: (self.pods[n][0] if n in self.pods else now,) + tuple(v)
                         for n, v in pods.items()}

    def render(self):
        now = time.time()
        out = ["# TYPE envoy_cluster_upstream_rq counter",
               "# TYPE envoy_cluster_upstream_rq_time histogram"]
        with self.lock:
            pods = dict(self.pods)
        for pod, (start, rps, err, lat) in sorted(pods.items()):
            n = rps * (now - start)
            lab = 'kubernetes_namespace="%s",kubernetes_pod_name="%s"' % (self.ns, pod)
            out.append('envoy_cluster_upstream_rq{%s,envoy_response_code="200"} %.3f' % (lab, n * (1 - err)))
            out.append('envoy_cluster_upstream_rq{%s,envoy_response_code="500"} %.3f' % (lab, n * err))
            for le in self.BUCKETS:
                out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="%d"} %.3f'
                           % (lab, le, n if lat <= le else 0.0))
            out.append('envoy_cluster_upstream_rq_time_bucket{%s,le="+Inf"} %.3f' % (lab, n))
            out.append('envoy_cluster_upstream_rq_time_count{%s} %.3f' % (lab, n))
            out.append('envoy_cluster_upstream_rq_time_sum{%s} %.3f' % (lab, n * lat))
        return "\n".join(out) + "\n"

    def close(self):
        self.server.shutdown()


class Prometheus(testlib.Prometheus):
    """The real Prometheus scraping the Envoy-style exporters (their labels
    kept as exported)."""

    def __init__(self, tmp, targets):
        super().__init__(tmp, targets, job="envoy", honor_labels=True)


# ---- the cluster and the operator -----------------------------------------------

class Cluster:
    def __init__(self, *fake_args):
        # tests drive the cluster with kubectl: a kubectl too old for
        # deploy/ stops the test here with one message saying so
        testlib.require_kubectl()
        self.tmp = tempfile.mkdtemp(prefix="canaryd-kube-test.")
        crds = [os.path.join(SRC, "deploy/crds", f)
                for f in ("canaries.yaml", "metrictemplates.yaml", "alertproviders.yaml")]
        crds += [os.path.join(APPMESH_CRDS, f) for f in sorted(os.listdir(APPMESH_CRDS))]
        args = []
        for c in crds:
            args += ["--crd", c]
        self.api = FakeApiServer(*(args + list(fake_args))).start()
        self.kubeconfig = self.api.kubeconfig(os.path.join(self.tmp, "kubeconfig"))
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig,
                        KUBECACHEDIR=os.path.join(self.tmp, "kube-cache"))
        self.operator = None
        self.operator_logs = []
        self.extra = []

    # kubectl, as a user would run it
    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run([KUBECTL] + list(args), input=stdin, env=self.env, capture_output=True,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("kubectl %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def apply(self, yaml_text):
        return self.kubectl("apply", "-f", "-", stdin=yaml_text)

    def get(self, kind, ns, name):
        r = self.kubectl("get", kind, "-n", ns, name, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def get_api(self, path):
        status, _, body = self.api.get(path)
        return body if status == 200 else None

    def canary(self, ns, name):
        return self.get_api("/apis/flagger.app/v1beta1/namespaces/%s/canaries/%s" % (ns, name))

    def phase(self, ns, name):
        c = self.canary(ns, name)
        return ((c or {}).get("status") or {}).get("phase")

    def events(self, ns, name):
        _, _, body = self.api.get("/api/v1/namespaces/%s/events" % ns)
        return [e.get("message", "") for e in (body or {}).get("items", [])
                if (e.get("involvedObject") or {}).get("name") == name]

    # canaryd kube
    def start_operator(self, *flags):
        log = os.path.join(self.tmp, "canaryd-%d.log" % len(self.operator_logs))
        self.operator_logs.append(log)
        self.metrics_port = free_port()
        cmd = [CANARYD, "kube", "-kubeconfig", self.kubeconfig, "-port", str(self.metrics_port),
               "-log-level", "info"] + list(flags)
        self.operator = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        return self.operator

    def stop_operator(self, sig=signal.SIGTERM, timeout=20):
        p = self.operator
        if not p or p.poll() is not None:
            return p.returncode if p else None
        p.send_signal(sig)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def operator_log(self):
        text = ""
        for f in self.operator_logs:
            with open(f) as fh:
                text += fh.read()
        return text

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
            return r.read().decode()

    def validate(self, objects, crd_dir=APPMESH_CRDS):
        """Runs validate_crd.py on objects; returns (ok, output)."""
        path = os.path.join(self.tmp, "objects-%d.json" % time.time_ns())
        with open(path, "w") as f:
            f.write("\n---\n".join(json.dumps(o) for o in objects))
        r = subprocess.run(["/usr/bin/python3", VALIDATE, crd_dir, "--", path], capture_output=True,
                           text=True)
        return r.returncode == 0, r.stdout + r.stderr

    def close(self):
        self.stop_operator()
        for x in self.extra:
            x.close()
        self.api.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def watch_phases(cluster, ns, name, canary_weight, until, timeout):
    """Polls the Canary's phase and canary_weight() (the canary's weight as
    the router holds it, or None) until the phase is in `until`; returns
    (phases seen, weights seen), each in order and deduplicated."""
    phases, weights = [], []

    def step():
        p = cluster.phase(ns, name)
        w = canary_weight()
        if p and (not phases or phases[-1] != p):
            phases.append(p)
        if w is not None and (not weights or weights[-1] != w):
            weights.append(w)
        return p in until
    wait_until(step, timeout, 0.1)
    return phases, weights


def image_of(dep):
    return (((dep or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers", [{}])[0].get("image")


def router_weights(cluster, ns, name, router=None):
    """(canary, primary) weights of the first route of VirtualRouter router
    (default: the apex router, named like the service)."""
    vr = cluster.get_api("/apis/appmesh.k8s.aws/v1beta2/namespaces/%s/virtualrouters/%s"
                         % (ns, router or name))
    if not vr:
        return None
    try:
        targets = vr["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]
    except (KeyError, IndexError):
        return None
    w = {t["virtualNodeRef"]["name"]: t["weight"] for t in targets}
    return w.get(name + "-canary"), w.get(name + "-primary")


# ---- RBAC: what canaryd asked the API server for, against deploy/ -----------------

def parse_path(path):
    """(group, resource[/sub]) of an API path, None for non-resource URLs."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    if not rest:
        return None
    resource = rest[0]
    if len(rest) >= 3:
        resource += "/" + rest[2]
    return group, resource


def cluster_role():
    """The rules of the ClusterRole deploy/kubernetes/base renders."""
    import yaml
    r = subprocess.run([KUBECTL, "kustomize", os.path.join(SRC, "deploy/kubernetes/base")],
                       capture_output=True, text=True, check=True)
    for d in yaml.safe_load_all(r.stdout):
        if d and d.get("kind") == "ClusterRole":
            return d["rules"]
    return []


def rbac_check(cluster):
    """(used, denied): the (group, resource, verb) canaryd's requests to the
    fake API server needed, and those the ClusterRole does not grant."""
    rules = cluster_role()
    _, _, log = cluster.api.get("/fake/requests")
    entries = log.get("requests", log) if isinstance(log, dict) else log
    used, denied = set(), set()
    for e in entries:
        if "canaryd" not in e.get("userAgent", ""):
            continue
        pr = parse_path(e["path"])
        if not pr:
            continue
        key = (pr[0], pr[1], e["verb"])
        used.add(key)
        if not any(pr[0] in r.get("apiGroups", []) and pr[1] in r.get("resources", []) and
                   e["verb"] in r.get("verbs", []) for r in rules):
            denied.add(key)
    return used, denied
