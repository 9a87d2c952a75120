"""test_kube_statefulset_metrics.py - a StatefulSet target judged by the
builtin metrics (docs/statefulset.md, "Traffic and metrics"): the
updated pods against the others, on the fake cluster with a real
Prometheus.

Each pod of the StatefulSet `db` (4 replicas) serves its own
http_request_duration_seconds series, labelled as Prometheus' labelmap of
pod labels labels them (kubernetes_namespace, kubernetes_pod_name,
controller_revision_hash); what a pod answers follows its image, read
from the fake cluster as the controller updates the pods: db:1 5 % errors,
db:2 none, db:3 none but in 800 ms, db:4 half (all others in 30 ms).

1. db:2 -> the partition steps (25 %, 50 %), both builtin checks pass on
   the updated pods although the pods still on db:1 answer 5 % errors
   (a query over every pod would read about 96 % and halt) -> Succeeded,
   every pod on db:2;
2. db:3 -> the one updated pod fails request-duration (800 ms) -> a Halt
   event naming it, rolled back (Failed), every pod back on db:2's
   revision;
3. db:4 -> the one updated pod fails request-success-rate (50 %) -> rolled
   back likewise;
and every request canaryd made is granted by deploy/'s ClusterRole.
"""
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import Checker, Cluster, Prometheus, rbac_check, wait_until  # noqa: E402

NS = "apps"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  replicas: 4
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: db, namespace: apps}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  progressDeadlineSeconds: 60
  service: {port: 8080}
  analysis:
    interval: 1m
    threshold: 4
    stepWeight: 25
    maxWeight: 50
    metrics:
    - name: request-success-rate
      thresholdRange: {min: 99}
      interval: 20s
    - name: request-duration
      thresholdRange: {max: 500}
      interval: 20s
"""

# image -> (error ratio, latency in seconds)
BEHAVIOUR = {"db:1": (0.05, 0.03), "db:2": (0.0, 0.03), "db:3": (0.0, 0.8), "db:4": (0.5, 0.03)}


class PodExporter(RateExporter):
    """The pods' own HTTP histogram (key: "pod|revision")."""

    BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    HEADER = ["# TYPE http_request_duration_seconds histogram"]

    def series(self, key, n, errs, lat):
        pod, rev = key.split("|")
        out = []
        for status, cnt in (("200", n - errs), ("503", errs)):
            lab = ('kubernetes_namespace="apps",kubernetes_pod_name="%s",controller_revision_hash="%s",'
                   'app="db",method="GET",path="/",status="%s"' % (pod, rev, status))
            out += histogram("http_request_duration_seconds", lab, cnt, lat, self.BUCKETS)
        return out


class Feeder:
    """Keeps the exporter in line with the pods the fake cluster runs."""

    def __init__(self, cluster, exporter):
        self.c, self.e = cluster, exporter
        self.stop = threading.Event()
        self.live = set()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.3):
            body = self.c.get_api("/api/v1/namespaces/apps/pods?labelSelector=app%3Ddb") or {}
            now = set()
            for p in body.get("items") or []:
                rev = (p["metadata"].get("labels") or {}).get("controller-revision-hash")
                image = p["spec"]["containers"][0]["image"]
                if not rev or image not in BEHAVIOUR:
                    continue
                key = "%s|%s" % (p["metadata"]["name"], rev)
                err, lat = BEHAVIOUR[image]
                self.e.set(key, 10.0, err, lat)
                now.add(key)
            for gone in self.live - now:   # a replaced pod: its counters stop
                self.e.set(gone, 0.0, 0.0, 0.03)
            self.live = now

    def close(self):
        self.stop.set()


def main():
    t = Checker()
    c = Cluster()
    exporter = PodExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    feeder = Feeder(c, exporter)
    c.extra.append(feeder)
    try:
        c.apply(MANIFESTS)

        def st():
            return (c.get_api("/apis/apps/v1/namespaces/apps/statefulsets/db") or {}).get("status") or {}

        def revisions():
            body = c.get_api("/api/v1/namespaces/apps/pods?labelSelector=app%3Ddb") or {}
            return sorted((p["metadata"].get("labels") or {}).get("controller-revision-hash")
                          for p in body.get("items") or [])

        t.check("the StatefulSet's 4 pods run", wait_until(lambda: st().get("readyReplicas") == 4, 30), st())
        t.check("Prometheus scrapes the pods' series with their revision",
                prom.wait_series('count(count_over_time(http_request_duration_seconds_count{'
                                 'kubernetes_namespace="apps",controller_revision_hash!=""}[1m])) >= 8', 60))
        c.start_operator("-interval-override", "2s", "-metrics-server", prom.url)
        t.check("Initialized", wait_until(lambda: c.phase(NS, "db") == "Initialized", 60), c.phase(NS, "db"))

        # 1. db:2: the updated pods pass although the others answer 5 % errors
        c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:2")
        weights = []

        def progressed():
            p = c.phase(NS, "db")
            w = ((c.canary(NS, "db") or {}).get("status") or {}).get("canaryWeight")
            if w is not None and (not weights or weights[-1] != w):
                weights.append(w)
            return p in ("Succeeded", "Failed")
        t.check("db:2: finished", wait_until(progressed, 180, 0.2), c.phase(NS, "db"))
        ev = c.events(NS, "db")
        t.check("db:2: Succeeded", c.phase(NS, "db") == "Succeeded",
                (c.phase(NS, "db"), [e for e in ev if "Halt" in e or "Roll" in e]))
        t.check("db:2: the canary weight (the updated share) stepped 25, 50", 25 in weights and 50 in weights,
                weights)
        t.check("db:2: no failed check (the pods on db:1 are not the updated ones)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])
        rev2 = st().get("currentRevision")
        t.check("db:2: every pod on db:2's revision",
                wait_until(lambda: revisions() == [rev2] * 4, 60), (rev2, revisions()))

        # 2. db:3 slow, 3. db:4 failing: each rolled back on its updated pod
        # (Prometheus interpolates 800 ms within the 0.5-1 s bucket: about 995 ms)
        for image, why in (("db:3", r"request duration (9[0-9][0-9])ms > 500ms"),
                           ("db:4", r"success rate 50\.00% < 99%")):
            c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=" + image)
            t.check("%s: Progressing" % image,
                    wait_until(lambda: c.phase(NS, "db") == "Progressing", 60, 0.2), c.phase(NS, "db"))
            t.check("%s: rolled back (Failed)" % image,
                    wait_until(lambda: c.phase(NS, "db") == "Failed", 180, 0.2), c.phase(NS, "db"))
            ev = c.events(NS, "db")
            t.check("%s: Halt event /%s/ for the updated pod" % (image, why),
                    any(re.fullmatch("Halt db\\.apps advancement " + why, e) for e in ev),
                    [e for e in ev if e.startswith("Halt")])
            t.check("%s: rolled back on the threshold" % image,
                    any("Rolling back db.apps failed checks threshold reached 4" in e for e in ev),
                    [e for e in ev if "Roll" in e])
            t.check("%s: every pod back on db:2's revision" % image,
                    wait_until(lambda: revisions() == [rev2] * 4, 60), (rev2, revisions()))

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made", not denied, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
