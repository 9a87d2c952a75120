"""test_router_split.py - the weighted split: 10,000 requests at canary
weights 0, 10, 50 and 100 land on the canary within the binomial 99.9%
interval (exactly none / all at 0 and 100), over keep-alive connections,
with every weight change applied through the admin API."""
import http.client
import threading

from scipy.stats import binom

import rtlib

N = 10000
THREADS = 8

primary = rtlib.Backend("primary")
canary = rtlib.Backend("canary")
router = rtlib.Router({"routes": [rtlib.route("app", [primary.address], [canary.address])]})


def run(total):
    counts = {"primary": 0, "canary": 0, "other": 0}
    lock = threading.Lock()

    def worker(n):
        c = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
        local = {"primary": 0, "canary": 0, "other": 0}
        for _ in range(n):
            c.request("GET", "/")
            r = c.getresponse()
            body = r.read().decode().strip()
            local[body if r.status == 200 and body in local else "other"] += 1
        c.close()
        with lock:
            for k, v in local.items():
                counts[k] += v

    per = total // THREADS
    ts = [threading.Thread(target=worker, args=(per,)) for _ in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counts


for weight in (0, 10, 50, 100):
    router.set_weight("app", weight)
    c = run(N)
    got = c["canary"]
    if weight in (0, 100):
        lo = hi = N * weight // 100
    else:
        lo, hi = binom.interval(0.999, N, weight / 100.0)
    rtlib.check("weight %d: no failed requests" % weight, c["other"] == 0, c)
    rtlib.check("weight %d: %d of %d on the canary, 99.9%% interval [%d, %d]"
                % (weight, got, N, lo, hi), lo <= got <= hi and got + c["primary"] == N, c)

st = router.stats()
g = rtlib.stats_group(st, "app", "canary")
rtlib.check("stats count the canary's requests",
            g is not None and g["requests"] >= N * (0.10 + 0.50 + 1.0) * 0.98, g)
rtlib.finish()
