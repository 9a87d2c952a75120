"""test_router_reconfig.py - live reconfiguration: 1,000 changes (weights,
mirror, canary backends replaced, routes added and removed) made through
the admin API while 8 keep-alive clients send requests: no request fails
and no client connection is closed by the router."""
import http.client
import threading
import time

import rtlib

primary = rtlib.Backend("primary")
canary_a = rtlib.Backend("canary")
canary_b = rtlib.Backend("canary")
# two workers: changes must reach both, and stats be summed across them
router = rtlib.Router({"routes": [
    rtlib.route("app", [primary.address], [canary_a.address], weight=10)]},
    extra=["--workers", "2"])

stop = threading.Event()
lock = threading.Lock()
tally = {"ok": 0, "failed": 0, "reconnects": 0, "errors": []}


def client():
    c = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    c.connect()
    sock = c.sock
    ok = failed = reconnects = 0
    errors = []
    while not stop.is_set():
        try:
            c.request("GET", "/")
            r = c.getresponse()
            body = r.read().decode().strip()
            if r.status == 200 and body in ("primary", "canary"):
                ok += 1
            else:
                failed += 1
                errors.append((r.status, body))
            if r.getheader("Connection", "").lower() == "close":
                errors.append("Connection: close")
        except Exception as e:      # noqa: BLE001 - any failure counts
            failed += 1
            errors.append(repr(e))
            c.close()
        if c.sock is not sock:
            reconnects += 1
            sock = c.sock
    c.close()
    with lock:
        tally["ok"] += ok
        tally["failed"] += failed
        tally["reconnects"] += reconnects
        tally["errors"] += errors[:5]


# the readiness probe's connection may still wait in the accept queue
for _ in range(100):
    accepted_before = router.admin("GET", "/status")[1]["connectionsAccepted"]
    if accepted_before >= 1:
        break
    time.sleep(0.02)
threads = [threading.Thread(target=client) for _ in range(8)]
for t in threads:
    t.start()
time.sleep(0.2)

changes = 0
failures = []
for i in range(1000):
    if i % 10 == 9:
        canary = canary_b if (i // 10) % 2 else canary_a
        routes = [rtlib.route("app", [primary.address], [canary.address], weight=i % 101)]
        if (i // 10) % 3 == 0:
            routes.append(rtlib.route("extra-%d" % i, [primary.address], hosts=["extra.test"]))
        st, val, _ = router.admin("PUT", "/config", {"routes": routes})
    elif i % 10 == 4:
        st, val, _ = router.admin("PUT", "/routes/app/weight",
                                  {"canaryWeight": (i * 7) % 101, "mirror": i % 20 == 4})
    else:
        st, val, _ = router.admin("PUT", "/routes/app/weight", {"canaryWeight": (i * 13) % 101})
    if st == 200:
        changes += 1
    else:
        failures.append((st, val))
time.sleep(0.2)
stop.set()
for t in threads:
    t.join()

rtlib.check("1000 configuration changes applied", changes == 1000, failures[:3])
st, status, _ = router.admin("GET", "/status")
rtlib.check("the router reports version 1001", status["configVersion"] == 1001,
            status["configVersion"])
rtlib.check("%d requests served during the changes" % tally["ok"], tally["ok"] > 1000, tally)
rtlib.check("no request failed", tally["failed"] == 0, tally["errors"])
rtlib.check("no keep-alive connection was closed", tally["reconnects"] == 0 and
            not any(e == "Connection: close" for e in tally["errors"]), tally)
st = router.stats()
served = sum(g["requests"] for r in st["routes"] if r["name"] == "app"
             for name, g in r["groups"].items() if name != "mirror")
rtlib.check("the stats of both workers add up to the requests served (%d)" % served,
            served == tally["ok"], (served, tally["ok"]))
rtlib.check("exactly 8 client connections were accepted meanwhile",
            status["connectionsAccepted"] - accepted_before == 8,
            (accepted_before, status["connectionsAccepted"]))
rtlib.finish()
