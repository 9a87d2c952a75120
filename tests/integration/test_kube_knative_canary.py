"""test_kube_knative_canary.py - a Knative Service released by canaryd kube
end to end on the fake cluster (provider knative, Flagger's KnativeRouter
and KnativeController), with Knative's real Service CRD and the fake's
stand-in for Knative Serving's controller
(tests/fake-apiserver/fakekube/knative.py makes a revision <service>-NNNNN
per template, reports latestCreated/latestReady and resolves spec.traffic
into status.traffic):

1. podinfo v1 and a Canary -> Initialized: the Service annotated
   flagger.app/primary-revision: podinfo-00001, spec.traffic 0 % to the
   latest revision and 100 % to podinfo-00001, valid against the CRD
   (validate_crd.py); no Service or Deployment of canaryd's;
2. v2 (a new template: podinfo-00002) with healthy metrics (Envoy's
   envoy_cluster_upstream_rq series named <namespace>/<revision> as
   Knative's gateway names them, in a real Prometheus; the builtin
   queries must ask for the latest revision) -> the latest revision's
   percent steps 10 ... 50 (checked at each step: the two entries sum to
   100 and Knative resolves them) -> Succeeded, the annotation now
   podinfo-00002 with 100 %;
3. v3 failing its metrics (50 % errors on podinfo-00003) -> rolled back:
   100 % to podinfo-00002 again, Failed, the canary never above 10;
and every request canaryd made is allowed by deploy/kubernetes's
ClusterRole.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rate_exporter import RateExporter, histogram  # noqa: E402
from operator_env import (watch_phases, SHARED, Checker, Cluster, Prometheus,  # noqa: E402
                          rbac_check, wait_until)

NS = "test"
IMAGE = "ghcr.io/stefanprodan/podinfo"
KNATIVE_CRD = os.path.join(SHARED, "conformance/crds/knative/serving.knative.dev_services.yaml")
SVC_PATH = "/apis/serving.knative.dev/v1/namespaces/%s/services/%s" % (NS, "podinfo")
ANNOTATION = "flagger.app/primary-revision"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: podinfo
  namespace: test
spec:
  template:
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        ports:
        - containerPort: 9898
        command: [./podinfo, --port=9898]
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  provider: knative
  targetRef:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: podinfo
  progressDeadlineSeconds: 60
  analysis:
    interval: 15s
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
      interval: 30s
"""


class KnativeEnvoyExporter(RateExporter):
    """Envoy's upstream series of Knative's gateway, one cluster per
    revision (envoy_cluster_name <namespace>/<revision>)."""

    BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
    HEADER = ["# TYPE envoy_cluster_upstream_rq counter",
              "# TYPE envoy_cluster_upstream_rq_time histogram"]

    def series(self, name, n, errs, lat):
        lab = 'envoy_cluster_name="%s",kubernetes_namespace="knative-serving"' % name
        return (['envoy_cluster_upstream_rq{%s,envoy_response_code="200"} %.3f' % (lab, n - errs),
                 'envoy_cluster_upstream_rq{%s,envoy_response_code="503"} %.3f' % (lab, errs)] +
                histogram("envoy_cluster_upstream_rq_time", lab, n, lat, self.BUCKETS))


def service(c):
    return c.get_api(SVC_PATH) or {}


def primary_revision(c):
    return ((service(c).get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)


def split(c):
    """(primary revision, its percent, latest's percent) from spec.traffic, or None."""
    s = service(c)
    rev = ((s.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    latest = prim = None
    for t in (s.get("spec") or {}).get("traffic") or []:
        if t.get("latestRevision") is True and latest is None:
            latest = t.get("percent")
        elif t.get("revisionName") == rev and prim is None:
            prim = t.get("percent")
    if latest is None or prim is None:
        return None
    return rev, prim, latest


def watch_rollout(c, until, timeout, sums):
    """(phases, canary percents) seen; every split seen is appended to sums."""
    def weight():
        sp = split(c)
        if sp is None:
            return None
        sums.append(sp[1] + sp[2])
        return sp[2]
    return watch_phases(c, NS, "podinfo", weight, until, timeout)


def set_image(c, tag):
    c.kubectl("-n", NS, "patch", "services.serving.knative.dev", "podinfo", "--type=merge", "-p",
              '{"spec":{"template":{"spec":{"containers":[{"name":"podinfod","image":"%s:%s",'
              '"ports":[{"containerPort":9898}],"command":["./podinfo","--port=9898"]}]}}}}'
              % (IMAGE, tag))


def main():
    t = Checker()
    c = Cluster("--crd", KNATIVE_CRD)
    exporter = KnativeEnvoyExporter()
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        # 1. the Knative Service, then the Canary and canaryd
        c.apply(APP)
        t.check("the Knative stand-in created revision podinfo-00001",
                wait_until(lambda: (service(c).get("status") or {}).get("latestReadyRevisionName") ==
                           "podinfo-00001", 30) is True, service(c).get("status"))
        c.apply(CANARY)
        c.start_operator("-metrics-server", prom.url, "-interval-override", "2s")
        if not t.check("canary Initialized",
                       wait_until(lambda: c.phase(NS, "podinfo") == "Initialized", 60) is True,
                       c.phase(NS, "podinfo")):
            raise RuntimeError("not initialized: stopping here")
        s = service(c)
        t.check("annotation flagger.app/primary-revision: podinfo-00001",
                primary_revision(c) == "podinfo-00001", s.get("metadata"))
        t.check("spec.traffic: latest revision 0 %, podinfo-00001 100 % (Flagger's order)",
                (s.get("spec") or {}).get("traffic") ==
                [{"latestRevision": True, "percent": 0}, {"revisionName": "podinfo-00001", "percent": 100}],
                (s.get("spec") or {}).get("traffic"))
        t.check("Knative resolved the split",
                wait_until(lambda: sorted((x.get("revisionName"), x.get("percent")) for x in
                                          (service(c).get("status") or {}).get("traffic") or []) ==
                           [("podinfo-00001", 0), ("podinfo-00001", 100)], 20) is True,
                (service(c).get("status") or {}).get("traffic"))
        ok, out = c.validate([s], KNATIVE_CRD)
        t.check("the Knative Service valid against the serving.knative.dev CRD", ok, out)
        t.check("no Deployment or Service of canaryd's",
                c.get("deployment", NS, "podinfo-primary") is None and
                c.get("service", NS, "podinfo-canary") is None and
                c.get("service", NS, "podinfo-primary") is None)

        # 2. v2 with healthy metrics; the old revision's cluster answers errors
        exporter.set("test/podinfo-00001", 20.0, 0.2, 20)
        exporter.set("test/podinfo-00002", 20.0, 0.0, 30)
        t.check("Prometheus scrapes the new revision's series",
                prom.wait_series('count_over_time(envoy_cluster_upstream_rq{envoy_cluster_name='
                                 '"test/podinfo-00002"}[1m]) > 3', 60))
        set_image(c, "6.0.1")
        sums = []
        phases, seen = watch_rollout(c, ("Succeeded", "Failed"), 180, sums)
        if not t.check("v2: Succeeded after Promoting", phases and phases[-1] == "Succeeded" and
                       "Promoting" in phases, phases):
            raise RuntimeError("v2 not promoted: stopping here")
        t.check("v2: the latest revision's percent stepped 0, 10, 20, 30, 40, 50, then back to 0",
                seen == [0, 10, 20, 30, 40, 50, 0], seen)
        t.check("v2: every split seen sums to 100", sums and set(sums) == {100}, sorted(set(sums)))
        t.check("v2: podinfo-00002 promoted, 100 %", split(c) == ("podinfo-00002", 100, 0), split(c))
        ev = c.events(NS, "podinfo")
        t.check("v2: no failed check (the old revision's errors are not the canary's)",
                not any(e.startswith("Halt") for e in ev), [e for e in ev if e.startswith("Halt")])
        ok, out = c.validate([service(c)], KNATIVE_CRD)
        t.check("v2: the Knative Service still valid against the CRD", ok, out)

        # 3. v3 failing its metrics
        exporter.set("test/podinfo-00003", 20.0, 0.5, 30)
        prom.wait_series('sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name="test/podinfo-00003",'
                         'envoy_response_code=~"5.*"}[30s])) > 5', 60)
        set_image(c, "6.0.2")
        sums = []
        phases, seen = watch_rollout(c, ("Failed",), 180, sums)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: 100 % back to podinfo-00002, the latest never above 10",
                split(c) == ("podinfo-00002", 100, 0) and max(seen or [0]) <= 10, (split(c), seen))
        t.check("v3: Knative routes every request to podinfo-00002",
                wait_until(lambda: [(x.get("revisionName"), x.get("percent")) for x in
                                    (service(c).get("status") or {}).get("traffic") or []] ==
                           [("podinfo-00003", 0), ("podinfo-00002", 100)], 20) is True,
                (service(c).get("status") or {}).get("traffic"))
        ev = c.events(NS, "podinfo")
        t.check("v3: events Halt ... success rate, Rolling back, Canary failed",
                any("success rate" in e and e.startswith("Halt podinfo.test advancement") for e in ev) and
                any("Rolling back podinfo.test failed checks threshold reached 5" in e for e in ev) and
                any("Canary failed!" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e or "failed" in e])

        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
        used, denied = rbac_check(c)
        t.check("deploy/kubernetes's ClusterRole allows every request canaryd made (Knative too)",
                not denied and ("serving.knative.dev", "services", "patch") in used, sorted(denied))
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
