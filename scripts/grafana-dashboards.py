#!/usr/bin/python3
"""grafana-dashboards.py - writes (or checks) the Grafana dashboards under
deploy/grafana: one overview of every canary from canaryd's flagger_*
metrics, and one "canary analysis" dashboard per router family with the
primary's and the canary's request rate, error rate and latency side by side,
Flagger's two builtin checks on the canary, and the canary's weight.

The router panels are not hand-written PromQL: they are the queries canaryd
itself sends for that router (`canaryctl metrics --render-only` on a Canary
with judged builtin metrics, which prints the canary's and the primary's
request, failure and latency queries), with the names replaced by Grafana
variables and the window by $__rate_interval. So a dashboard shows what the
engine judged, and cannot drift from it: `--check DIR` fails when the
committed files differ from what this script writes now.

Usage: grafana-dashboards.py --canaryctl PATH (--out DIR | --check DIR)
It only reads canaryctl's output and writes JSON files; it talks to no
Grafana and no Prometheus.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

NS, TARGET = "gfnamespace", "gftarget"      # placeholders, replaced by variables
INGRESS, ROUTE = "gfingress", "gfroute"
INGRESS_REF = "  ingressRef: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: %s}\n" % INGRESS
ROUTE_REF = "  routeRef: {apiVersion: apisix.apache.org/v2, kind: ApisixRoute, name: %s}\n" % ROUTE
SCHEMA_VERSION = 39

# (file stem, provider as in spec.provider, title, extra spec lines)
ROUTERS = [
    ("appmesh", "appmesh:v1beta2", "App Mesh (and canaryd local's router)", ""),
    ("istio", "istio", "Istio", ""),
    ("linkerd", "linkerd", "Linkerd", ""),
    ("kubernetes", "kubernetes", "Kubernetes and Gateway API (the app's http_request_duration_seconds)", ""),
    ("nginx", "nginx", "NGINX ingress", INGRESS_REF),
    ("contour", "contour", "Contour", ""),
    ("gloo", "gloo", "Gloo", ""),
    ("traefik", "traefik", "Traefik", ""),
    ("kuma", "kuma", "Kuma", ""),
    ("osm", "osm", "Open Service Mesh", ""),
    ("skipper", "skipper", "Skipper", INGRESS_REF),
    ("apisix", "apisix", "APISIX", ROUTE_REF),
    ("knative", "knative", "Knative", ""),
]

CANARY = """apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: %(t)s, namespace: %(ns)s}
spec:
  provider: %(provider)s
  targetRef: {apiVersion: %(api)s, kind: %(kind)s, name: %(t)s}
  service: {port: 80}
%(refs)s  analysis:
    interval: 1m
    threshold: 2
    maxWeight: 50
    stepWeight: 10
    metrics:
    - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}
    - {name: request-duration, thresholdRange: {max: 500}, interval: 1m}
%(judged)s"""
JUDGED = """    - {name: request-success-rate, judge: {}}
    - {name: request-duration, judge: {}}
"""


def render(canaryctl, provider, refs, judged):
    """canaryctl's rendered queries: {section title: query}, titles being
    the metric name for the builtin checks and "## canary requests" etc. for
    the judged ones. None when canaryctl refuses (a router whose primary
    cannot be told apart)."""
    api, kind = ("serving.knative.dev/v1", "Service") if provider == "knative" else ("apps/v1", "Deployment")
    text = CANARY % {"t": TARGET, "ns": NS, "provider": provider, "api": api, "kind": kind,
                     "refs": refs, "judged": JUDGED if judged else ""}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        r = subprocess.run([canaryctl, "metrics", "-f", f.name, "--render-only"],
                           capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        if judged:
            return None
        sys.exit("canaryctl cannot render %s's builtin queries: %s" % (provider, r.stderr.strip()))
    out, title, judged_metric = {}, None, None
    for line in r.stdout.splitlines():
        if line.startswith("# "):
            m = re.match(r"# \S+ (\S+) \((judged)?", line)
            judged_metric = m.group(1) if m.group(2) else None
            title = m.group(1) if not judged_metric else None
        elif line.startswith("## "):
            title = judged_metric + ": " + line[3:]
        elif line.strip() and title:
            out[title] = line.strip()
            title = None
    return out


def grafana(q):
    """A rendered query as a dashboard query: variables for the names, the
    dashboard's rate interval for the window, rates for increases."""
    q = q.replace(NS, "${namespace}").replace(TARGET, "${target}")
    q = q.replace(INGRESS, "${ingress}").replace(ROUTE, "${route}")
    q = re.sub(r"\[(\d+[smh])\]", "[$__rate_interval]", q)
    return q.replace("increase(", "rate(")


def target(expr, legend, ref):
    return {"datasource": {"type": "prometheus", "uid": "${datasource}"},
            "expr": expr, "legendFormat": legend, "refId": ref}


def panel(pid, title, unit, targets, x, y, w=12, h=8, desc=""):
    return {"id": pid, "type": "timeseries", "title": title, "description": desc,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                        "tooltip": {"mode": "multi"}},
            "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)]}


TEXT_VARS = {
    "ingress": "Ingress (spec.ingressRef.name; Skipper: non-word characters as _)",
    "route": "Route (spec.routeRef.name)",
}


def variables(with_target, panels=()):
    v = [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
         {"name": "namespace", "label": "Namespace", "type": "query",
          "datasource": {"type": "prometheus", "uid": "${datasource}"},
          "query": "label_values(flagger_canary_status, namespace)", "refresh": 2,
          "includeAll": not with_target, "multi": False}]
    if with_target:
        v.append({"name": "target", "label": "Canary (its target's name)", "type": "query",
                  "datasource": {"type": "prometheus", "uid": "${datasource}"},
                  "query": 'label_values(flagger_canary_status{namespace="$namespace"}, name)',
                  "refresh": 2})
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for name, label in TEXT_VARS.items():
        if "${%s}" % name in exprs:
            v.append({"name": name, "label": label, "type": "textbox", "query": ""})
    return {"list": v}


def dashboard(uid, title, desc, panels, with_target):
    return {"uid": uid, "title": title, "description": desc, "tags": ["canaryd", "flagger"],
            "editable": True, "schemaVersion": SCHEMA_VERSION, "refresh": "10s",
            "time": {"from": "now-1h", "to": "now"}, "timezone": "browser",
            "templating": variables(with_target, panels), "panels": panels}


def rate_of(judged, side):
    return grafana(judged["request-success-rate: %s requests" % side])


def errors_of(judged, side):
    req = grafana(judged["request-success-rate: %s requests" % side])
    fail = grafana(judged["request-success-rate: %s failed requests" % side])
    # no failure series means no failures: 0, not an empty result
    return "(%s or on() vector(0)) / %s * 100" % (fail, req)


def router_dashboard(canaryctl, stem, provider, title, refs):
    builtin = render(canaryctl, provider, refs, False)
    judged = render(canaryctl, provider, refs, True)
    panels, y = [], 0
    if judged:
        panels.append(panel(1, "Request rate", "reqps",
                            [(rate_of(judged, "primary"), "primary"), (rate_of(judged, "canary"), "canary")],
                            0, y, desc="Requests per second to each side, by the queries the judge reads."))
        panels.append(panel(2, "Error rate", "percent",
                            [(errors_of(judged, "primary"), "primary"), (errors_of(judged, "canary"), "canary")],
                            12, y, desc="Failed requests (5xx) in percent of each side's requests."))
        y += 8
        panels.append(panel(3, "Latency (the judge's series)", "ms",
                            [(grafana(judged["request-duration: primary series"]), "primary"),
                             (grafana(judged["request-duration: canary series"]), "canary")],
                            0, y, desc="The request-duration series the judge compares, per side."))
        x = 12
    else:
        x = 0
    panels.append(panel(4, "Flagger's checks on the canary: request-success-rate", "percent",
                        [(grafana(builtin["request-success-rate"]), "canary success rate")], x, y,
                        desc="The builtin request-success-rate query, as canaryd and Flagger send it."))
    if not judged:
        x = 12
    else:
        y += 8
        x = 0
    panels.append(panel(5, "Flagger's checks on the canary: request-duration", "ms",
                        [(grafana(builtin["request-duration"]), "canary duration")], x, y,
                        desc="The builtin request-duration query, as canaryd and Flagger send it."))
    x = 12 if x == 0 else 0
    if x == 0:
        y += 8
    panels.append(panel(6, "Weight", "percent",
                        [('flagger_canary_weight{namespace="${namespace}", workload=~"${target}|${target}-primary"}',
                          "{{workload}}")], x, y, desc="The weight of each side as canaryd routes it."))
    desc = ("canaryd: the primary and the canary of one Canary on %s, read with the queries "
            "canaryd's judge and builtin checks send (generated by scripts/grafana-dashboards.py)." % title)
    if not judged:
        desc += " This router's series cannot tell the primary's requests from the canary's, so only the canary is shown."
    return dashboard("canaryd-" + stem, "canaryd / %s" % title, desc, panels, True)


def overview():
    sel = 'namespace=~"${namespace}"'
    p = [
        panel(1, "Canaries per namespace", "short",
              [("flagger_canary_total{%s}" % sel, "{{namespace}}")], 0, 0,
              desc="flagger_canary_total: the Canaries canaryd manages."),
        panel(2, "Status (0 running, 1 succeeded, 2 failed)", "short",
              [("flagger_canary_status{%s}" % sel, "{{name}}.{{namespace}}")], 12, 0,
              desc="flagger_canary_status: the last analysis result of each canary."),
        panel(3, "Canary weight", "percent",
              [("flagger_canary_weight{%s}" % sel, "{{workload}}.{{namespace}}")], 0, 8,
              desc="flagger_canary_weight: each side's weight."),
        panel(4, "Analysis duration (p99)", "s",
              [("histogram_quantile(0.99, sum by (le, name, namespace) "
                "(rate(flagger_canary_duration_seconds_bucket{%s}[$__rate_interval])))" % sel,
                "{{name}}.{{namespace}}")], 12, 8,
              desc="flagger_canary_duration_seconds: the time one analysis tick takes."),
        panel(5, "Releases promoted and rolled back", "short",
              [("sum by (name, namespace) (increase(flagger_canary_successes_total{%s}[$__range]))" % sel,
                "promoted {{name}}.{{namespace}}"),
               ("sum by (name, namespace) (increase(flagger_canary_failures_total{%s}[$__range]))" % sel,
                "rolled back {{name}}.{{namespace}}")], 0, 16,
              desc="flagger_canary_successes_total and flagger_canary_failures_total over the range shown."),
        panel(6, "Last value of each metric check", "short",
              [("flagger_canary_metric_analysis{%s}" % sel, "{{name}}.{{namespace}} {{metric}}")], 12, 16,
              desc="flagger_canary_metric_analysis: the last value of every metric of every canary."),
    ]
    return dashboard("canaryd-overview", "canaryd / Canaries",
                     "Every Canary canaryd manages, from its flagger_* metrics (generated by "
                     "scripts/grafana-dashboards.py).", p, False)


def all_dashboards(canaryctl):
    out = {"overview.json": overview()}
    for stem, provider, title, refs in ROUTERS:
        out["router-%s.json" % stem] = router_dashboard(canaryctl, stem, provider, title, refs)
    return {k: json.dumps(v, indent=2, sort_keys=True) + "\n" for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--canaryctl", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out")
    g.add_argument("--check")
    a = ap.parse_args()
    files = all_dashboards(a.canaryctl)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(a.out, name), "w") as f:
                f.write(text)
        print("wrote %d dashboards to %s" % (len(files), a.out))
        return 0
    bad = 0
    present = {f for f in os.listdir(a.check) if f.endswith(".json")}
    for name, text in files.items():
        path = os.path.join(a.check, name)
        try:
            with open(path) as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            print("%s differs from what scripts/grafana-dashboards.py writes now" % path)
            bad += 1
    for extra in sorted(present - set(files)):
        print("%s is not written by scripts/grafana-dashboards.py" % os.path.join(a.check, extra))
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
