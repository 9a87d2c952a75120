"""test_router_mirror.py - mirroring: every request routed to the primary
is copied to the canary (Host suffixed "-shadow", as Envoy does), the
copy's response is measured (mirror group) and discarded, the client only
ever sees the primary, and a slow canary never delays the client."""
import time

import rtlib

primary = rtlib.Backend("primary")
canary = rtlib.Backend("canary")
slow_canary = rtlib.Backend("slow-canary", delay_ms=1500)
router = rtlib.Router({"routes": [
    rtlib.route("app", [primary.address], [canary.address], weight=0, mirror=True),
    rtlib.route("slow", [primary.address], [slow_canary.address], weight=0, mirror=True,
                hosts=["slow.test"])]})

N = 300
bodies = set()
for i in range(N):
    st, hs, body = rtlib.http_get(router.port, "/?i=%d" % i)
    bodies.add((st, rtlib.backend_of(body)))
rtlib.check("clients only see the primary's responses", bodies == {(200, "primary")}, bodies)
rtlib.wait_for(lambda: canary.count()[1] >= N)
total, shadow = canary.count()
rtlib.check("every request was copied to the canary (%d of %d)" % (shadow, N),
            shadow == N and total == N, (total, shadow))
ptotal, pshadow = primary.count()
rtlib.check("the primary got the originals, without -shadow", ptotal == N and pshadow == 0,
            (ptotal, pshadow))

# bodies are mirrored too
st, hs, body = rtlib.http_get(router.port, "/echo", method="POST", body=b"x" * 5000)
rtlib.check("a POST with a body is served by the primary", st == 200 and len(body) == 5000)
rtlib.check("... and its copy reached the canary",
            rtlib.wait_for(lambda: canary.count()[1] == N + 1), canary.count())

# a slow canary (1.5 s per request) does not delay the client: a request
# that waited for its copy's answer would take 1.5 s or more (the bound was
# 1 s for all 10 together, a latency a loaded host under ASan can miss)
t0 = time.time()
each = []
for i in range(10):
    t1 = time.time()
    st, hs, body = rtlib.http_get(router.port, "/", {"Host": "slow.test"})
    each.append(time.time() - t1)
    assert st == 200 and rtlib.backend_of(body) == "primary"
elapsed = time.time() - t0
rtlib.check("10 requests mirrored to a 1.5 s canary take %.3fs in all, none waits for its copy "
            "(slowest %.3fs)" % (elapsed, max(each)), max(each) < 1.5, each)

router.set_weight("app", 0, mirror=True)
canary.kill()
t0 = time.time()
for i in range(20):
    st, hs, body = rtlib.http_get(router.port, "/")
    assert st == 200
fast = time.time() - t0
rtlib.check("with the canary down, mirrored requests still succeed quickly (%.3fs for 20)" % fast,
            fast < 2.0, fast)

def mirror_requests():
    st, m, _ = router.admin("GET", "/measurements?route=app&window=60")
    return m["groups"].get("mirror", {}).get("requests", 0) if st == 200 else 0


rtlib.wait_for(lambda: mirror_requests() >= N + 1 + 20)
st, m, _ = router.admin("GET", "/measurements?route=app&window=60")
mg = m["groups"].get("mirror", {}) if st == 200 else {}
rtlib.check("the mirror group is measured (%s requests)" % mg.get("requests"),
            mg.get("requests", 0) >= N + 1 + 20, m)
rtlib.check("copies to a dead canary are measured as 5xx",
            mg.get("status", {}).get("5xx", 0) >= 20, mg)
pg = m["groups"].get("primary", {})
rtlib.check("the primary group's success rate is 100", pg.get("successRate") == 100.0, pg)
met = router.metrics()
rtlib.check("mirror copies appear in the canary backend's Envoy series",
            'canaryd_group="mirror"' in met and "envoy_cluster_upstream_rq{" in met)
rtlib.finish()
