"""test_router_prometheus.py - the router's Prometheus page: valid for
`promtool check metrics`, and scraped by a real Prometheus (Debian
package, started here on a loopback port) it answers Flagger's unmodified
App Mesh builtin queries (reference section 3.3): the canary's success
rate and p99 latency, selecting the canary pods only."""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

import rtlib

NS, TARGET = "test", "podinfo"
primaries = [rtlib.Backend("primary") for _ in range(2)]
canaries = [rtlib.Backend("canary", delay_ms=30, fail_every=5) for _ in range(2)]
router = rtlib.Router({"routes": [rtlib.route(
    "podinfo", [b.address for b in primaries], [b.address for b in canaries], weight=50,
    namespace=NS, target=TARGET)]})

# ---- promtool ----
for _ in range(20):
    rtlib.http_get(router.port, "/")
page = router.metrics()
p = subprocess.run(["promtool", "check", "metrics"], input=page.encode(), capture_output=True)
rtlib.check("promtool check metrics accepts the page", p.returncode == 0,
            (p.returncode, p.stdout[-500:], p.stderr[-500:]))

st, status, _ = router.admin("GET", "/status")
pods = {g: [b["podName"] for b in status["routes"][0]["backends"][g]] for g in ("primary", "canary")}
rtlib.check("pod names follow Kubernetes naming",
            all(n.startswith(TARGET + "-primary-") and n.count("-") == 3 for n in pods["primary"]) and
            all(n.startswith(TARGET + "-") and n.count("-") == 2 for n in pods["canary"]), pods)

# ---- a real Prometheus ----
prom_port = rtlib.free_port()
d = os.path.join(rtlib.TMP, "prom")
os.makedirs(d)
with open(os.path.join(d, "prometheus.yml"), "w") as f:
    f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n- job_name: router\n  static_configs:\n"
            "  - targets: ['127.0.0.1:%d']\n" % router.admin_port)
rtlib.start(["prometheus", "--config.file=" + os.path.join(d, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(d, "data"),
             "--web.listen-address=127.0.0.1:%d" % prom_port], os.path.join(d, "prom.log"))
rtlib.wait_port(prom_port, 30)


def query(q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (prom_port, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=10) as r:
        res = json.load(r)
    vals = [float(x["value"][1]) for x in res["data"]["result"]]
    return vals[0] if len(vals) == 1 else vals


end = time.time() + 8
n = 0
while time.time() < end:
    rtlib.http_get(router.port, "/")
    n += 1
time.sleep(3)

# Flagger's App Mesh templates, as rendered (interval 30s)
sel = 'kubernetes_namespace="%s", kubernetes_pod_name=~"%s-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"' % (NS, TARGET)
success_q = (' sum( rate( envoy_cluster_upstream_rq{ %s, envoy_response_code!~"5.*" }[30s] ) ) / '
             'sum( rate( envoy_cluster_upstream_rq{ %s }[30s] ) ) * 100' % (sel, sel))
duration_q = (' histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{ %s }[30s] ) )'
              ' by (le) )' % sel)
sr = query(success_q)
p99 = query(duration_q)
st = router.stats()
canary_codes = {}
for b in rtlib.stats_group(st, "podinfo", "canary")["backends"]:
    for k, v in b["codes"].items():
        canary_codes[k] = canary_codes.get(k, 0) + v
exact = 100.0 * canary_codes.get("200", 0) / sum(canary_codes.values())
rtlib.check("App Mesh request-success-rate = %.2f (the router counted %.2f; 80 expected)"
            % (sr if isinstance(sr, float) else -1, exact),
            isinstance(sr, float) and abs(sr - exact) < 3 and 70 < sr < 90, sr)
# the canary answers in 30 ms: its p99 cannot fall below Envoy's (25, 50]
# bucket; scheduling on a loaded host only adds to it (so no upper bound
# in absolute terms), and it must stand above the primary's, which answers
# at once
primary_p99 = query(duration_q.replace(TARGET + "-[0-9a-zA-Z]", TARGET + "-primary-[0-9a-zA-Z]"))
rtlib.check("App Mesh request-duration p99 = %s ms (canary answers in ~30 ms; primary %s ms)"
            % (p99, primary_p99),
            isinstance(p99, float) and p99 >= 25 and isinstance(primary_p99, float) and
            p99 > primary_p99, (p99, primary_p99))
matched = query('count(envoy_cluster_upstream_rq_total{%s})' % sel)
rtlib.check("the App Mesh pod pattern selects exactly the 2 canary backends", matched == 2.0,
            matched)
primary_sr = query(success_q.replace(TARGET + "-[0-9a-zA-Z]", TARGET + "-primary-[0-9a-zA-Z]"))
rtlib.check("the primary's series are separate (success rate 100)", primary_sr == 100.0,
            primary_sr)
rtlib.finish()
