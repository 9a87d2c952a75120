"""grafana_check.py - runs every query of the given Grafana dashboards on a
real Prometheus, with the dashboard variables set as Grafana would set them
for one canary ($namespace, $target, $__rate_interval, $__range), and says
for each whether it returned a series with a finite value. Exit status 0
when every query did (retrying for --wait seconds while one does not), 1
otherwise. It only reads.

Usage: grafana_check.py --prometheus URL --namespace NS --target NAME
       [--wait SECONDS] [--var NAME=VALUE...] DASHBOARD.json...
"""
import argparse
import json
import math
import sys
import time
import urllib.parse
import urllib.request


def queries(path):
    with open(path) as f:
        d = json.load(f)
    for p in d["panels"]:
        for t in p["targets"]:
            yield "%s: %s [%s]" % (path.rsplit("/", 1)[-1], p["title"], t["legendFormat"]), t["expr"]


def substitute(expr, ns, target, extra):
    for k, v in [("${%s}" % n, x) for n, x in extra] + [
            ("${namespace}", ns), ("${target}", target), ("$namespace", ns),
            ("$target", target), ("$__rate_interval", "30s"), ("$__range", "1h")]:
        expr = expr.replace(k, v)
    return expr


def run(prom, expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except Exception as e:  # noqa: BLE001 - reported as the query's outcome
        return "error: %s" % e
    if body.get("status") != "success":
        return "error: %s" % body.get("error")
    res = body["data"]["result"]
    if not res:
        return "no series"
    vals = [float(s["value"][1]) for s in res]
    if not any(math.isfinite(v) for v in vals):
        return "no finite value (%s)" % vals
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--var", action="append", default=[], help="NAME=VALUE, another variable")
    ap.add_argument("dashboards", nargs="+")
    a = ap.parse_args()
    extra = [v.split("=", 1) for v in a.var]
    todo = [(name, substitute(e, a.namespace, a.target, extra))
            for path in a.dashboards for name, e in queries(path)]
    deadline = time.time() + a.wait
    while True:
        bad = [(n, e, why) for n, e in todo if (why := run(a.prometheus, e))]
        if not bad or time.time() >= deadline:
            break
        time.sleep(1)
    for n, e, why in bad:
        print("FAIL %s: %s\n     %s" % (n, why, e))
    print("%d of %d dashboard queries returned series" % (len(todo) - len(bad), len(todo)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
