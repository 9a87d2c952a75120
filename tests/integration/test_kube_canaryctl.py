"""test_kube_canaryctl.py - canaryctl on Kubernetes, as a kubectl plugin
(docs/kubectl-plugin.md): the real kubectl runs canaryctl installed as
kubectl-canary against `canaryd kube` on the fake API server.

- kubeconfig resolution as kubectl's: KUBECONFIG with two files merged,
  --context picking the second file's context (its namespace and user);
- get (table, -A, -o json), describe (phase, step n of N, weights adding
  up to 100, primary and canary images, replicas ready, gates and who
  holds them, Events), events;
- a held release waits in WaitingPromotion; `watch --until-done` keeps
  waiting (and --timeout gives up with exit 3); `promote` lets it finish:
  watch exits 0 on Succeeded, the primary runs the new image;
- a release aborted with `abort` fails: watch exits 1; abort is refused
  when nothing is being analysed;
- `retry` runs the failed release again to Succeeded;
- a release whose metric cannot be checked fails on its own: watch exits 1,
  describe shows the metric, its limit and the Event about it;
- on a terminal watch redraws in place;
- every action is a Kubernetes Event naming who asked; canaryd kube's
  requests stay within deploy/'s ClusterRole.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import BUILD, KUBECTL, Checker, Cluster, image_of, rbac_check, wait_until  # noqa: E402

NS = "apps"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: apps}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service: {port: 80, targetPort: 8080}
  analysis: {interval: 1m, threshold: 2, iterations: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "api:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: api, namespace: apps}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  service: {port: 80, targetPort: 8080}
  analysis:
    interval: 1m
    threshold: 2
    stepWeight: 20
    maxWeight: 60
    metrics:
    - {name: request-success-rate, interval: 1m, thresholdRange: {min: 99}}
"""


class Plugin:
    """kubectl with canaryctl on PATH as kubectl-canary."""

    def __init__(self, cluster, kubeconfig):
        self.c = cluster
        self.bin = tempfile.mkdtemp(prefix="plugin.", dir=cluster.tmp)
        os.symlink(os.path.join(BUILD, "canaryctl"), os.path.join(self.bin, "kubectl-canary"))
        self.env = dict(cluster.env, KUBECONFIG=kubeconfig,
                        PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))

    def run(self, *args, timeout=60):
        return subprocess.run([KUBECTL, "canary"] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def watch(self, *args):
        return subprocess.Popen([KUBECTL, "canary", "watch"] + list(args), env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def second_kubeconfig(c):
    """A second file for KUBECONFIG: context alice-ctx (namespace apps, user
    alice with the fake's token)."""
    first = json.load(open(c.kubeconfig))
    user = dict(first["users"][0]["user"])
    cfg = {"apiVersion": "v1", "kind": "Config",
           "users": [{"name": "alice", "user": user}],
           "contexts": [{"name": "alice-ctx", "context": {"cluster": "fake", "user": "alice",
                                                          "namespace": NS}}]}
    path = os.path.join(c.tmp, "kubeconfig-alice")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def events(c):
    j = c.get_api("/api/v1/namespaces/%s/events" % NS) or {}
    return [e.get("message", "") for e in j.get("items", [])
            if (e.get("involvedObject") or {}).get("kind") == "Canary"]


def has_event(c, text):
    return any(text in m for m in events(c))


def annotations(c):
    return ((c.canary(NS, "web") or {}).get("metadata") or {}).get("annotations") or {}


def finish(p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out, err
    return p.returncode, out, err


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(MANIFESTS)
        k = Plugin(c, c.kubeconfig + os.pathsep + second_kubeconfig(c))
        c.start_operator("-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1")
        t.check("Initialized", wait_until(lambda: c.phase(NS, "web") == "Initialized", 60),
                c.phase(NS, "web"))

        r = k.run("get", "canaries", "-n", NS)
        t.check("kubectl canary get canaries -n apps: web Initialized",
                r.returncode == 0 and "web" in r.stdout and "Initialized" in r.stdout,
                r.stdout + r.stderr)
        r = k.run("get", "canaries")
        t.check("the current context's namespace (default) has none",
                r.returncode == 0 and "No canaries found in namespace default" in r.stderr,
                r.stdout + r.stderr)
        r = k.run("get", "canaries", "--context", "alice-ctx")
        t.check("--context alice-ctx (second KUBECONFIG file): its namespace apps",
                r.returncode == 0 and "web" in r.stdout, r.stdout + r.stderr)
        r = k.run("get", "canaries", "-A")
        t.check("-A: a NAMESPACE column", r.returncode == 0 and "NAMESPACE" in r.stdout and
                "apps" in r.stdout, r.stdout + r.stderr)
        r = k.run("get", "canaries", "-n", NS, "-o", "json")
        try:
            items = json.loads(r.stdout).get("items", [])
        except ValueError:
            items = []
        t.check("-o json: a List of the Canary objects",
                sorted(i.get("metadata", {}).get("name") for i in items) == ["api", "web"],
                r.stdout[:500])
        r = k.run("describe", "canary", "nosuch", "-n", NS)
        t.check("describe of a missing canary: exit 1", r.returncode == 1, r.stderr)

        # a held release waits for promote
        r = k.run("hold", "web", "--context", "alice-ctx")
        t.check("hold: done", r.returncode == 0 and "held" in r.stdout, r.stdout + r.stderr)
        t.check("hold: the canaryd.io/hold annotation names alice",
                annotations(c).get("canaryd.io/hold") == "alice", annotations(c))
        t.check("hold: an Event names alice at once",
                wait_until(lambda: has_event(c, "Promotion held by alice (canaryctl hold)"), 10),
                events(c)[-3:])
        c.kubectl("-n", NS, "set", "image", "deployment/web", "web=web:2")
        w = k.watch("web", "-n", NS, "--until-done", "--timeout", "300s")
        t.check("held release: WaitingPromotion",
                wait_until(lambda: c.phase(NS, "web") == "WaitingPromotion", 60), c.phase(NS, "web"))
        t.check("the wait names the hold and its holder",
                wait_until(lambda: has_event(c, "canaryd.io/hold by alice"), 10), events(c)[-5:])
        r = k.run("describe", "canary", "web", "-n", NS)
        out = r.stdout
        t.check("describe: phase", "Phase:          WaitingPromotion" in out, out)
        t.check("describe: step 3 of 3 (blue/green iterations, all done while waiting)",
                "Step:           3 of 3" in out, out)
        t.check("describe: weights add up", "Canary weight:  [" in out and
                "Primary weight: [" in out and " 100%" in out and "   0%" in out, out)
        t.check("describe: primary runs web:1, canary web:2",
                any(l.split()[:1] == ["primary"] and "web:1" in l for l in out.splitlines()) and
                any(l.split()[:1] == ["canary"] and "web:2" in l for l in out.splitlines()), out)
        t.check("describe: replicas ready", "2/2 ready" in out, out)
        t.check("describe: the gate and who holds it", "promotion held by alice" in out, out)
        t.check("describe: the Canary's Events", "New revision detected" in out, out)
        r = k.run("describe", "canary", "web", "-n", NS, "-o", "json")
        d = json.loads(r.stdout) if r.returncode == 0 else {}
        t.check("describe -o json: weights add up to 100",
                d.get("canaryWeight", -1) + d.get("primaryWeight", -1) == 100, d.get("canaryWeight"))
        time.sleep(3)
        t.check("watch --until-done keeps waiting while held", w.poll() is None)
        r = k.run("watch", "web", "-n", NS, "--until-done", "--timeout", "2s", timeout=60)
        t.check("watch --timeout: exit 3 when not done in time", r.returncode == 3, r.stderr)

        r = k.run("promote", "web", "-n", NS)
        t.check("promote: done", r.returncode == 0, r.stdout + r.stderr)
        rc, out, err = finish(w, 120)
        t.check("watch exits 0 on Succeeded", rc == 0, (rc, out[-800:], err))
        t.check("watch printed plain lines (not a terminal)",
                "\033[" not in out and "WaitingPromotion" in out and "Succeeded" in out, out[-800:])
        t.check("promoted: Succeeded, the primary runs web:2",
                c.phase(NS, "web") == "Succeeded" and
                image_of(c.get("deployment", NS, "web-primary")) == "web:2",
                (c.phase(NS, "web"), image_of(c.get("deployment", NS, "web-primary"))))
        t.check("promote: an Event names who (u, the kubeconfig's user)",
                has_event(c, "Promotion approved by u (canaryctl promote)"), events(c)[-6:])
        t.check("promote: the one-shot annotation and the hold are removed",
                wait_until(lambda: not any(a.startswith("canaryd.io/") for a in annotations(c)), 10),
                annotations(c))

        r = k.run("abort", "web", "-n", NS)
        t.check("abort of a Succeeded canary: refused (exit 2), nothing set",
                r.returncode == 2 and "canaryd.io/abort" not in annotations(c), r.stderr)

        # an aborted release fails
        k.run("hold", "web", "-n", NS)
        c.kubectl("-n", NS, "set", "image", "deployment/web", "web=web:3")
        w = k.watch("web", "-n", NS, "--until-done", "--timeout", "300s")
        t.check("second release: WaitingPromotion",
                wait_until(lambda: c.phase(NS, "web") == "WaitingPromotion", 60), c.phase(NS, "web"))
        r = k.run("abort", "web", "--context", "alice-ctx")
        t.check("abort: done", r.returncode == 0, r.stdout + r.stderr)
        rc, out, err = finish(w, 120)
        t.check("watch exits 1 on Failed", rc == 1, (rc, out[-800:], err))
        t.check("aborted: Failed, the primary still runs web:2",
                c.phase(NS, "web") == "Failed" and
                image_of(c.get("deployment", NS, "web-primary")) == "web:2")
        t.check("abort: an Event names alice", has_event(c, "Rollback requested by alice"),
                events(c)[-6:])
        t.check("abort: Flagger's manual rollback Event", has_event(c, "manual webhook invoked"))

        r = k.run("resume", "web", "-n", NS)
        t.check("resume: done", r.returncode == 0, r.stdout + r.stderr)
        t.check("resume: the Event says what was released",
                wait_until(lambda: has_event(c, "Resumed by u (canaryctl resume): the promotion "
                                                "hold of u"), 15), events(c)[-5:])
        r = k.run("retry", "web", "-n", NS)
        t.check("retry of a Failed canary: done", r.returncode == 0, r.stdout + r.stderr)
        r = k.run("watch", "web", "-n", NS, "--until-done", "--timeout", "300s", timeout=320)
        t.check("retried release: watch exits 0", r.returncode == 0, (r.stdout[-800:], r.stderr))
        t.check("retried: Succeeded, the primary runs web:3",
                c.phase(NS, "web") == "Succeeded" and
                image_of(c.get("deployment", NS, "web-primary")) == "web:3")
        t.check("retry: an Event names who", has_event(c, "Retry requested by u (canaryctl retry)"))
        r = k.run("retry", "web", "-n", NS)
        t.check("retry of a Succeeded canary: refused (exit 2)", r.returncode == 2, r.stderr)

        # a release failing its metric (no Prometheus answers): watch exits 1
        t.check("api Initialized", wait_until(lambda: c.phase(NS, "api") == "Initialized", 60),
                c.phase(NS, "api"))
        c.kubectl("-n", NS, "set", "image", "deployment/api", "api=api:2")
        r = k.run("watch", "api", "-n", NS, "--until-done", "--timeout", "300s", timeout=320)
        t.check("failing metric: watch exits 1", r.returncode == 1, (r.stdout[-800:], r.stderr))
        t.check("failing metric: Failed", c.phase(NS, "api") == "Failed", c.phase(NS, "api"))
        r = k.run("describe", "canary", "api", "-n", NS)
        row = [l for l in r.stdout.splitlines() if l.strip().startswith("request-success-rate")]
        t.check("describe: the metric's limit and the Event about its failed query",
                row and ">= 99" in row[0] and "query failed" in row[0], r.stdout)
        t.check("describe: stepWeight on the kubernetes provider is Flagger's 10 iterations",
                "Step:           1 of 10" in r.stdout or "Step:           0 of 10" in r.stdout,
                r.stdout)

        # on a terminal, watch redraws in place
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([KUBECTL, "canary", "watch", "web", "-n", NS, "--until-done"],
                             env=k.env, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        rc = p.wait(timeout=60)
        out = b""
        try:
            while True:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        os.close(master)
        t.check("watch on a terminal: redraws in place, a weight bar, exit 0",
                rc == 0 and b"\033[H\033[2J" in out and b"[" in out and b"100%" in out, out[-600:])

        r = k.run("events", "web", "-n", NS)
        t.check("events: the Canary's Events", r.returncode == 0 and "Retry requested" in r.stdout
                and "REASON" in r.stdout, r.stdout[-800:])
        r = subprocess.run([os.path.join(BUILD, "canaryctl"), "get", "canaries", "--kubeconfig",
                            c.kubeconfig, "-n", NS], capture_output=True, text=True, timeout=60)
        t.check("canaryctl --kubeconfig (not as a plugin)", r.returncode == 0 and "Succeeded" in r.stdout,
                r.stdout + r.stderr)

        used, denied = rbac_check(c)
        t.check("canaryd kube's requests are within deploy/'s ClusterRole", not denied, denied)
    finally:
        c.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
