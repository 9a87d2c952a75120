"""test_router_failures.py - backends failing: a backend killed in the
middle of requests gives 502, counted as 5xx in the stats, the windowed
measurements and the Envoy series; a refused connection gives 503 (after
the retry on another backend fails too), a route timeout 504; a retry
hides a dead backend when the group has a healthy one; passive ejection
takes a failing backend out."""
import re
import threading
import time

import rtlib

p1 = rtlib.Backend("primary")
victim = rtlib.Backend("canary")
dead = rtlib.Backend("dead")
dead_addr = dead.address
dead.kill()
router = rtlib.Router({"routes": [
    rtlib.route("kill", [p1.address], [victim.address], weight=100, hosts=["kill.test"]),
    rtlib.route("refused", [dead_addr], hosts=["refused.test"]),
    rtlib.route("retry", [dead_addr, p1.address], hosts=["retry.test"],
                retries={"attempts": 1, "retryOn": "connect-failure"}),
    rtlib.route("slow", [p1.address], hosts=["slow.test"], timeout="300ms"),
]}, extra=["--eject-after", "3", "--eject-for", "30s"])

# ---- killed mid-request ----
results = []


def slow_request():
    results.append(rtlib.http_get(router.port, "/slow?ms=3000", {"Host": "kill.test"},
                                  timeout=20))


ts = [threading.Thread(target=slow_request) for _ in range(3)]
for t in ts:
    t.start()
time.sleep(0.8)
victim.kill()
for t in ts:
    t.join()
codes = sorted(r[0] for r in results)
rtlib.check("requests in flight on a killed backend get 502", codes == [502, 502, 502], codes)
def window_5xx():
    m = router.admin("GET", "/measurements?route=kill&group=canary&window=60")[1]
    return m["groups"]["canary"]["status"]["5xx"]


rtlib.wait_for(lambda: window_5xx() >= 3)
st = router.stats()
g = rtlib.stats_group(st, "kill", "canary")
be = g["backends"][0] if g else {}
rtlib.check("the backend's stats count them as 502", be.get("codes", {}).get("502") == 3, be)
rtlib.check("the group's stats count them as 5xx", g and g["errors5xx"] == 3, g)
h = be.get("latencyHistogram", {})
rtlib.check("the backend's latency histogram holds them (0.8 s: bucket le=1000 ms)",
            sum(h.get("counts", [])) == 3 and h["counts"][h["boundsMs"].index(1000)] == 3, h)
m = router.admin("GET", "/measurements?route=kill&group=canary&window=60")[1]
mc = m["groups"]["canary"]
rtlib.check("the window measures them (success rate 0)",
            mc["status"]["5xx"] == 3 and mc["successRate"] == 0.0, mc)
met = router.metrics()
rtlib.check("envoy_cluster_upstream_rq counts the 502s",
            re.search(r'envoy_cluster_upstream_rq\{[^}]*canaryd_route="kill"[^}]*'
                      r'envoy_response_code="502"\} 3', met), met[:300])

# ---- connection refused ----
st1, _, body = rtlib.http_get(router.port, "/", {"Host": "refused.test"})
rtlib.check("a refused connection gives 503", st1 == 503, (st1, body))

# ---- retry on another backend ----
codes = [rtlib.http_get(router.port, "/", {"Host": "retry.test"})[0] for _ in range(20)]
rtlib.check("with one dead backend of two, a retry serves every request", codes == [200] * 20,
            codes)
st = router.stats()
g = rtlib.stats_group(st, "retry", "primary")
dead_be = [b for b in g["backends"] if b["address"] == dead_addr][0]
rtlib.check("the dead backend's connect failures are counted",
            dead_be["connectFailures"] >= 1 and dead_be["retries"] >= 1, dead_be)
rtlib.check("after 3 failures it is ejected (health: ejected)", dead_be["health"] == "ejected",
            dead_be)
rtlib.check("an ejected backend gets no more attempts",
            dead_be["connectFailures"] <= 4, dead_be["connectFailures"])

# ---- timeout ----
t0 = time.time()
st4, _, _ = rtlib.http_get(router.port, "/slow?ms=2000", {"Host": "slow.test"})
el = time.time() - t0
rtlib.check("a route timeout of 300ms gives 504 in %.2fs" % el, st4 == 504 and el < 1.5,
            (st4, el))
g = rtlib.stats_group(router.stats(), "slow", "primary")
rtlib.check("the timeout is counted", g["backends"][0]["timeouts"] == 1, g)
rtlib.finish()
