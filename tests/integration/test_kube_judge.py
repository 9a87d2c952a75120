"""test_kube_judge.py - the statistical judge inside `canaryd kube`, on
Prometheus data, end to end on the fake cluster: the seed's App Mesh
canary with request-success-rate judged against the primary (its Envoy
series for webapp-primary-*, the canary's for webapp-*, over the same
windows) instead of a fixed threshold.

1. v1 -> Initialized;
2. v2 as healthy as the primary -> weights stepping to 50, Succeeded, the
   judge's verdict (Pass, with both sides' request counts) in
   status.judge;
3. v3 with 10 % errors against the primary's 0.1 % -> rolled back by the
   judge at its first weight, with the judge's words in the events, not
   Flagger's failed-checks count.

Each rollout's judge first reads the primary's history (judge.history,
default 1h) from Prometheus with range queries: status.judge[].history
carries what it read (the primary's requests since Prometheus started
scraping, less than the hour asked for, and said so) through the API
server, whose CRD schema must keep it.

The analysis interval is 10s (the judged window); Prometheus scrapes every
second.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import (Checker, Cluster, EnvoyExporter, Prometheus, image_of,  # noqa: E402
                          router_weights, wait_until)
from test_kube_seed_appmesh import CANARY, DEPLOYMENT, IMAGE, MESH, NS, watch_rollout  # noqa: E402

PRIMARY_POD = "webapp-primary-7d4b9c6f5-p1pod"
JUDGED = CANARY.replace("    interval: 1m\n    # max number", "    interval: 10s\n    # max number")
JUDGED = JUDGED.replace("""      thresholdRange:
        min: 99
      interval: 1m
""", """      judge: {allowedIncrease: 0.5pp, detectIncrease: 2pp}
""")
JUDGED = JUDGED.replace("      interval: 30s\n", "")


def judge_entry(c, metric):
    st = (c.get("canary", NS, "webapp") or {}).get("status", {})
    return next((j for j in st.get("judge", []) if j.get("metric") == metric), {})


def main():
    t = Checker()
    c = Cluster()
    exporter = EnvoyExporter(NS)
    c.extra.append(exporter)
    prom = Prometheus(c.tmp, [exporter.port])
    c.extra.append(prom)
    try:
        t.check("the judged Canary keeps the seed's other fields",
                "judge: {allowedIncrease: 0.5pp" in JUDGED and "interval: 10s" in JUDGED and
                "min: 99" not in JUDGED, JUDGED)
        c.apply(MESH)
        c.apply(DEPLOYMENT)
        c.apply(JUDGED)
        c.start_operator("-mesh-provider", "appmesh:v1beta2", "-metrics-server", prom.url)
        t.check("v1: Initialized",
                wait_until(lambda: c.phase(NS, "webapp") == "Initialized", 60) is True,
                c.phase(NS, "webapp"))

        # 2. v2: 0.1 % errors on both sides
        exporter.set_pods({PRIMARY_POD: (40.0, 0.001, 20), "webapp-6b8f9c7d54-v2pod": (40.0, 0.001, 20)})
        t.check("Prometheus scrapes both sides' Envoy series",
                prom.wait_series('count(count_over_time(envoy_cluster_upstream_rq[20s]) > 10) >= 4', 60))
        c.kubectl("-n", NS, "set", "image", "deployment/webapp", "webapp=%s:v2" % IMAGE)
        phases, weights = watch_rollout(c, ("Succeeded", "Failed"), 300)
        t.check("v2: Succeeded", phases and phases[-1] == "Succeeded", phases)
        t.check("v2: weights stepped 10, 20, 30, 40, 50", weights[1:6] == [10, 20, 30, 40, 50], weights)
        t.check("v2: webapp-primary runs v2",
                image_of(c.get("deployment", NS, "webapp-primary")) == IMAGE + ":v2")
        j = judge_entry(c, "request-success-rate")
        t.check("v2: status.judge holds the judge's Pass for request-success-rate",
                j.get("verdict") == "Pass", j)
        t.check("v2: ... counted from both sides' series (>= 300 requests each)",
                j.get("canary", {}).get("samples", 0) >= 300 and
                j.get("primary", {}).get("samples", 0) >= 300, j)
        h = j.get("history", {})
        t.check("v2: status.judge[].history: the primary's requests before the release, "
                "read from Prometheus (>= 10 s at 40 req/s)",
                h.get("status") in ("Used", "FellBack") and h.get("samples", 0) >= 400 and
                h.get("window") == "1h", h)
        t.check("v2: ... less than the hour asked for, and the reason says how much",
                h.get("covered") not in (None, "", "1h") and "(the source had" in h.get("reason", ""),
                h)
        t.check("v2: ... the baseline it learned is the primary's (~0.1 %)",
                h.get("rate") is not None and h["rate"] < 0.01, h)
        ev = c.events(NS, "webapp")
        t.check("v2: no failed check", not any(e.startswith("Halt") for e in ev),
                [e for e in ev if e.startswith("Halt")])

        # 3. v3: 10 % errors against the primary's 0.1 %
        exporter.set_pods({PRIMARY_POD: (40.0, 0.001, 20), "webapp-5c9d7f8b6-v3pod": (40.0, 0.10, 20)})
        prom.wait_series('count_over_time(envoy_cluster_upstream_rq{kubernetes_pod_name='
                         '"webapp-5c9d7f8b6-v3pod"}[20s]) > 10', 60)
        c.kubectl("-n", NS, "set", "image", "deployment/webapp", "webapp=%s:v3" % IMAGE)
        phases, weights = watch_rollout(c, ("Failed",), 300)
        t.check("v3: rolled back, Failed", phases and phases[-1] == "Failed", phases)
        t.check("v3: rolled back at its first weight", max(weights or [0]) <= 10, weights)
        t.check("v3: all traffic back on the primary (v2)",
                router_weights(c, NS, "webapp") == (0, 100) and
                image_of(c.get("deployment", NS, "webapp-primary")) == IMAGE + ":v2")
        ev = c.events(NS, "webapp")
        t.check("v3: the rollback names the judge and the primary",
                any("statistical judge" in e and "worse than the primary" in e for e in ev),
                [e for e in ev if "Halt" in e or "Roll" in e])
        t.check("v3: not Flagger's failed-checks count",
                not any("failed checks threshold reached" in e for e in ev))
        j = judge_entry(c, "request-success-rate")
        t.check("v3: status.judge holds the judge's Fail", j.get("verdict") == "Fail", j)
        t.check("v3: the new rollout read the history again",
                j.get("history", {}).get("samples", 0) > h.get("samples", 0), j.get("history"))
        rc = c.stop_operator()
        t.check("canaryd kube exits 0 on SIGTERM", rc == 0, rc)
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
