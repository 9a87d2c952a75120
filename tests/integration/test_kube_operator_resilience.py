"""test_kube_operator_resilience.py - `canaryd kube` on a fake cluster that
misbehaves, one release per fault, each of which must end in the right
phase with the primary running the right image:

1. 409 Conflict on the first write of every object and subresource (the
   status, the Deployments, the VirtualRouter) -> Initialized, Succeeded;
2. watch connections cut mid-analysis (three times) -> Succeeded, and after
   a compaction (410 Gone on resume: relist) the informers still see a
   canary created after the cuts;
3. a 500 storm from the API server mid-analysis -> Succeeded;
4. canaryd killed (SIGKILL) mid-analysis and started again -> carries on
   from the weight it had reached, Succeeded;
5. a canary whose pods never become ready -> rolled back, Failed, after
   its progress deadline.
App Mesh routing, analysis without metrics, -interval-override 1s.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, router_weights, wait_until  # noqa: E402

NS = "test"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: test}
spec:
  replicas: 2
  progressDeadlineSeconds: 6
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - name: app
        image: podinfo:1
        ports: [{name: http, containerPort: 9898}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: %(name)s, namespace: test}
spec:
  provider: appmesh:v1beta2
  progressDeadlineSeconds: 10
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: %(name)s}
  service: {port: 9898}
  analysis: {interval: 1m, threshold: 2, stepWeight: 20, maxWeight: 60}
"""


class Release:
    """Sets a new image and records phases and canary weights until the
    canary settles in one of `until`."""

    def __init__(self, c, image, name="podinfo"):
        self.c, self.name, self.image = c, name, image
        self.phases, self.weights = [], []
        set_image(c, name, image)

    def poll(self):
        p = self.c.phase(NS, self.name)
        w = router_weights(self.c, NS, self.name)
        if p and (not self.phases or self.phases[-1] != p):
            self.phases.append(p)
        if w and w[0] is not None and (not self.weights or self.weights[-1] != w[0]):
            self.weights.append(w[0])
        return p

    def wait(self, until, timeout=90, stop_when=None):
        def step():
            p = self.poll()
            if stop_when and stop_when(self):
                return True
            return p in until and len(self.phases) > 1
        wait_until(step, timeout, 0.1)
        return self.phases[-1] if self.phases else None


def set_image(c, name, image):
    for _ in range(5):   # a user retries a command that lost a race
        r = c.kubectl("-n", NS, "set", "image", "deployment/" + name, "app=" + image, check=False)
        if r.returncode == 0:
            return
        time.sleep(0.3)
    raise RuntimeError("kubectl set image failed: " + r.stderr)


def primary_image(c, name="podinfo"):
    return image_of(c.get("deployment", NS, name + "-primary"))


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(APP % {"name": "podinfo"})
        # 1. 409 on every first write, from canaryd's first request on
        c.api.control("conflicts", {"first_write": True, "verbs": ["update", "patch"]})
        c.start_operator("-mesh-provider", "appmesh:v1beta2", "-interval-override", "1s",
                         "-metrics-server", "http://127.0.0.1:1")
        t.check("409s: Initialized", wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60),
                c.phase(NS, "podinfo"))
        r = Release(c, "podinfo:2")
        t.check("409s: Succeeded", r.wait(("Succeeded", "Failed")) == "Succeeded", r.phases)
        t.check("409s: weights 20, 40, 60", r.weights[1:4] == [20, 40, 60], r.weights)
        t.check("409s: primary on podinfo:2", primary_image(c) == "podinfo:2", primary_image(c))
        state = c.api.control("state", method="GET")
        t.check("409s: conflicts were injected (and retried)",
                state.get("conflictsInjected", 0) >= 5, state)
        c.api.control("reset")

        # 2. watch cuts mid-analysis
        r = Release(c, "podinfo:3")
        cuts = 0

        def cut_while_progressing(rel):
            nonlocal cuts
            if rel.phases and rel.phases[-1] == "Progressing" and cuts < 3:
                c.api.control("cut-watches", {})
                cuts += 1
                time.sleep(0.7)
            return False
        phase = r.wait(("Succeeded", "Failed"), stop_when=cut_while_progressing)
        t.check("watch cuts: three cuts made while Progressing", cuts == 3, cuts)
        t.check("watch cuts: Succeeded", phase == "Succeeded", r.phases)
        t.check("watch cuts: primary on podinfo:3", primary_image(c) == "podinfo:3")
        # history compacted away, then cut: the informers' resume gets 410 Gone and relists
        c.api.control("compact", {})
        c.api.control("cut-watches", {})
        c.apply(APP % {"name": "second"})
        t.check("watch cuts: a canary created after the cuts and a compaction is seen and Initialized",
                wait_until(lambda: c.phase(NS, "second") == "Initialized", 60), c.phase(NS, "second"))

        # 3. a 500 storm mid-analysis
        r = Release(c, "podinfo:4")
        stormed = []

        def storm(rel):
            if rel.weights and rel.weights[-1] >= 20 and not stormed:
                c.api.control("errors", {"code": 500, "seconds": 4})
                stormed.append(time.time())
            return False
        phase = r.wait(("Succeeded", "Failed"), timeout=120, stop_when=storm)
        t.check("500 storm: the storm hit mid-analysis", bool(stormed))
        t.check("500 storm: Succeeded", phase == "Succeeded", r.phases)
        t.check("500 storm: primary on podinfo:4", primary_image(c) == "podinfo:4")
        log = c.operator_log()
        t.check("500 storm: the failures were reported", "injected failure" in log or "500" in log)
        c.api.control("reset")

        # 4. canaryd killed mid-analysis, then started again
        r = Release(c, "podinfo:5")
        killed = []

        def kill_at_40(rel):
            if rel.weights and rel.weights[-1] == 40 and not killed:
                c.stop_operator(signal.SIGKILL)
                killed.append(len(rel.weights))
                return True
            return False
        r.wait(("Succeeded", "Failed"), stop_when=kill_at_40)
        t.check("restart: killed at weight 40 while Progressing",
                killed and c.phase(NS, "podinfo") == "Progressing", (killed, r.phases))
        time.sleep(2)
        t.check("restart: nothing moves while canaryd is down",
                router_weights(c, NS, "podinfo")[0] == 40, router_weights(c, NS, "podinfo"))
        c.start_operator("-mesh-provider", "appmesh:v1beta2", "-interval-override", "1s",
                         "-metrics-server", "http://127.0.0.1:1")
        phase = r.wait(("Succeeded", "Failed"))
        after = r.weights[killed[0] if killed else 0:]
        t.check("restart: Succeeded", phase == "Succeeded", r.phases)
        t.check("restart: carried on from 40 (60, then back to 0 on promotion)",
                after[:1] == [60] and 20 not in after[:-1], r.weights)
        t.check("restart: primary on podinfo:5", primary_image(c) == "podinfo:5")

        # 5. pods that never become ready
        c.api.control("stall", {"namespace": NS, "name": "podinfo", "image": "podinfo:6"})
        r = Release(c, "podinfo:6")
        phase = r.wait(("Succeeded", "Failed"), timeout=90)
        t.check("stalled canary: Failed", phase == "Failed", r.phases)
        t.check("stalled canary: primary still on podinfo:5", primary_image(c) == "podinfo:5")
        t.check("stalled canary: canary scaled to zero",
                wait_until(lambda: c.get("deployment", NS, "podinfo")["spec"]["replicas"] == 0, 10))
        t.check("stalled canary: all traffic on the primary",
                router_weights(c, NS, "podinfo") == (0, 100), router_weights(c, NS, "podinfo"))
        ev = c.events(NS, "podinfo")
        t.check("stalled canary: the deadline is in the events",
                any("exceeded its progress deadline" in e for e in ev), ev[-5:])
        t.check("canaryd still running", c.operator.poll() is None)
        rc = c.stop_operator()
        t.check("canaryd exits 0 on SIGTERM", rc == 0, rc)
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
