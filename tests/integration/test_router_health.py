"""test_router_health.py - backend health: active HTTP checks take a
backend whose health endpoint fails out of rotation and bring it back
when it passes again; a backend set to "drain" or "down" gets no new
requests; when no backend of the group is available the router answers
503 and counts it."""
import rtlib

a = rtlib.Backend("a")
b = rtlib.Backend("b")
check = {"path": "/healthz", "interval": "200ms", "timeout": "500ms", "healthyThreshold": 1,
         "unhealthyThreshold": 2}
router = rtlib.Router({"routes": [{
    "name": "app", "primary": {"backends": [a.address, b.address], "healthCheck": check}}]})


def served(n=60):
    return {rtlib.backend_of(rtlib.http_get(router.port, "/")[2]) for _ in range(n)}


def health():
    st = router.admin("GET", "/status")[1]
    return {x["address"]: x["health"] for x in st["routes"][0]["backends"]["primary"]}


rtlib.check("both healthy backends serve", rtlib.wait_for(lambda: served(20) == {"a", "b"}))
rtlib.http_get(b.port, "/sick")
rtlib.check("failing checks mark the backend unhealthy",
            rtlib.wait_for(lambda: health()[b.address] == "unhealthy"), health())
rtlib.check("... and it gets no traffic", served() == {"a"})
b.kill()
b2 = rtlib.Backend.__new__(rtlib.Backend)      # same port, healthy again
b2.name, b2.port, b2.address = "b", b.port, b.address
b2.proc = rtlib.start([rtlib.BACKEND, str(b.port), "b"])
rtlib.wait_port(b.port)
rtlib.check("passing checks bring it back", rtlib.wait_for(lambda: health()[b.address] == "up")
            and served() == {"a", "b"}, health())

router.admin("PUT", "/routes/app/primary", {"backends": [
    {"address": a.address, "state": "drain"}, b.address]})
rtlib.check("a draining backend gets no new requests", served() == {"b"})
router.admin("PUT", "/routes/app/primary", {"backends": [
    {"address": a.address, "state": "down"}, {"address": b.address, "state": "down"}]})
codes = {rtlib.http_get(router.port, "/")[0] for _ in range(5)}
rtlib.check("no available backend: 503", codes == {503}, codes)
g = rtlib.stats_group(router.stats(), "app", "primary")
rtlib.check("... counted as noBackend and as 5xx", g["noBackend"] == 5 and g["errors5xx"] >= 5, g)
rtlib.finish()
