"""test_router_admin.py - the admin API: reading and replacing the
configuration (with If-Match), routes, weights and backend groups;
invalid input is rejected with field paths and changes nothing; a
listener that cannot be bound rejects the change; listeners come and go
with the configuration; the unix-socket admin; measurements and samples
match the traffic that was sent. Who may use it: the token over TCP,
JSON for changes, no foreign Origin or Host, a read-only metrics listener,
Unix sockets with their mode whatever the umask."""
import json
import os
import subprocess
import socket
import time

import rtlib

p1 = rtlib.Backend("primary")
c1 = rtlib.Backend("canary")
c2 = rtlib.Backend("canary2")
router = rtlib.Router({"routes": [rtlib.route("app", [p1.address], [c1.address])]},
                      admin_unix=True)

st, conf, hs = router.admin("GET", "/config")
rtlib.check("GET /config: the normalized configuration with an ETag",
            st == 200 and conf["routes"][0]["name"] == "app" and hs.get("ETag") == '"1"', (st, hs))
rtlib.check("defaults are filled in", conf["routes"][0]["pathPrefix"] == "/" and
            conf["routes"][0]["namespace"] == "default" and
            conf["routes"][0]["retries"]["attempts"] == 1, conf["routes"][0])

# ---- invalid input changes nothing ----
bad = {"routes": [{"name": "x y", "weight": 101, "primary": {"backends": ["nohost"]},
                   "canary": {"backends": [{"address": "127.0.0.1:1", "state": "maybe"}]},
                   "match": [{"headers": {"x": {"regex": "(("}}}], "typo": 1}]}
st, err, _ = router.admin("PUT", "/config", bad)
paths = sorted(d["path"] for d in err.get("details", []))
rtlib.check("an invalid configuration: 400 with a path for every error", st == 400 and paths == sorted([
    "routes[0].name", "routes[0].weight", "routes[0].primary.backends[0]",
    "routes[0].canary.backends[0].state", "routes[0].match[0].headers.x.regex",
    "routes[0].typo"]), (st, err))
st, err, _ = router.admin("PUT", "/config", "{not json")
rtlib.check("malformed JSON: 400", st == 400 and "invalid JSON" in err["error"], err)
st, conf2, hs = router.admin("GET", "/config")
rtlib.check("... and nothing changed", conf2 == conf and hs.get("ETag") == '"1"', hs)

# ---- If-Match ----
new = json.loads(json.dumps(conf))
new["routes"][0]["weight"] = 20
st, res, _ = router.admin("PUT", "/config", new, {"If-Match": '"7"'})
rtlib.check("a stale If-Match: 412", st == 412, (st, res))
st, res, hs = router.admin("PUT", "/config", new, {"If-Match": '"1"'})
rtlib.check("a current If-Match: applied as version 2",
            st == 200 and res["version"] == 2 and hs.get("ETag") == '"2"', (st, res))

# ---- weights ----
st, w, _ = router.admin("PUT", "/routes/app/weight", {"primaryWeight": 70, "canaryWeight": 30})
rtlib.check("PUT weight", st == 200 and w["canaryWeight"] == 30 and w["primaryWeight"] == 70, w)
st, w, _ = router.admin("PUT", "/routes/app/weight", {"primaryWeight": 70, "canaryWeight": 40})
rtlib.check("weights not adding up to 100: 400", st == 400, w)
st, w, _ = router.admin("PUT", "/routes/app/weight", {"canaryWeight": 120})
rtlib.check("weight 120: 400 naming the field", st == 400 and
            w["details"][0]["path"] == "routes[0].weight", w)
st, w, _ = router.admin("PUT", "/routes/nope/weight", {"canaryWeight": 5})
rtlib.check("weight of an unknown route: 404", st == 404, w)
st, w, _ = router.admin("GET", "/routes/app/weight")
rtlib.check("GET weight", st == 200 and w["canaryWeight"] == 30 and not w["mirror"], w)

# ---- backend groups and routes ----
st, r, _ = router.admin("PUT", "/routes/app/canary", {"backends": [c2.address], "revision": "abc12"})
rtlib.check("PUT a backend group", st == 200 and
            r["route"]["canary"]["backends"][0]["address"] == c2.address, r)
seen = {rtlib.backend_of(rtlib.http_get(router.port, "/")[2]) for _ in range(100)}
rtlib.check("traffic reaches the new canary backend", seen == {"primary", "canary2"}, seen)
st, r, _ = router.admin("PUT", "/routes/other", rtlib.route("other", [c1.address], hosts=["o.test"]))
rtlib.check("PUT a new route", st == 200 and r["route"]["name"] == "other", r)
rtlib.check("... it routes", rtlib.backend_of(
    rtlib.http_get(router.port, "/", {"Host": "o.test"})[2]) == "canary")
st, r, _ = router.admin("PUT", "/routes/other", {"name": "different", "primary": {"backends": []}})
rtlib.check("a route whose body names another route: 400", st == 400, r)
st, r, _ = router.admin("DELETE", "/routes/other")
rtlib.check("DELETE a route", st == 200 and
            rtlib.http_get(router.port, "/", {"Host": "o.test"})[0] == 200, r)
st, rs, _ = router.admin("GET", "/routes")
rtlib.check("GET /routes lists one route again", [x["name"] for x in rs["routes"]] == ["app"], rs)
st, _, _ = router.admin("GET", "/routes/other")
rtlib.check("GET a deleted route: 404", st == 404)
st, _, _ = router.admin("DELETE", "/config")
rtlib.check("an unsupported method: 405", st == 405)

# ---- listeners ----
lport = rtlib.free_port()
doc = router.admin("GET", "/config")[1]
doc["listeners"] = [{"name": "extra", "address": "127.0.0.1:%d" % lport}]
doc["routes"].append(rtlib.route("only-extra", [c1.address], listeners=["extra"],
                                 hosts=["x.test"]))
st, res, _ = router.admin("PUT", "/config", doc)
rtlib.check("a listener added by configuration is bound", st == 200 and
            rtlib.backend_of(rtlib.http_get(lport, "/", {"Host": "x.test"})[2]) == "canary", res)
others = {rtlib.backend_of(rtlib.http_get(router.port, "/", {"Host": "x.test"})[2])
          for _ in range(20)}
rtlib.check("a route limited to a listener is not served on the others",
            "canary" not in others, others)
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen(1)
doc2 = json.loads(json.dumps(doc))
doc2["listeners"].append({"name": "taken", "address": "127.0.0.1:%d" % busy.getsockname()[1]})
before = router.admin("GET", "/config")[2]["ETag"]
st, res, _ = router.admin("PUT", "/config", doc2)
rtlib.check("a listener that cannot be bound: 409, nothing applied",
            st == 409 and "bind" in res["error"] and
            router.admin("GET", "/config")[2]["ETag"] == before, (st, res))
taken = "127.0.0.1:%d" % busy.getsockname()[1]
det = res.get("details") if isinstance(res, dict) else None
rtlib.check("the 409 names the listener, its address and the errno (EADDRINUSE)",
            isinstance(det, list) and len(det) == 1 and det[0].get("listener") == "taken" and
            det[0].get("address") == taken and det[0].get("errno") == "EADDRINUSE" and
            det[0].get("path") == "listeners[%d]" % (len(doc2["listeners"]) - 1), res)
busy.close()
doc["listeners"] = []
doc["routes"] = [r for r in doc["routes"] if r["name"] != "only-extra"]
st, res, _ = router.admin("PUT", "/config", doc)
refused = False
try:
    rtlib.http_get(lport, "/")
except ConnectionRefusedError:
    refused = True
rtlib.check("a listener removed from the configuration is closed", st == 200 and refused)

# ---- unix socket ----
s = socket.socket(socket.AF_UNIX)
s.connect(router.admin_sock)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n"
          b"Connection: close\r\n\r\n")
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
s.close()
rtlib.check("the unix admin socket answers pipelined requests",
            out.count(b"HTTP/1.1 200 OK") == 2 and b"ok\n" in out and b"ready\n" in out, out)

# ---- measurements (on a route of their own) ----
st, _, _ = router.admin("PUT", "/routes/meas", rtlib.route("meas", [p1.address], [c1.address],
                                                         weight=50, hosts=["m.test"]))
for i in range(400):
    path = "/status?code=503" if i % 4 == 0 else "/"
    st = rtlib.http_get(router.port, path, {"Host": "m.test"})[0]
def meas_total():
    g = router.admin("GET", "/measurements?route=meas&window=30s")[1]["groups"]
    return g["primary"]["requests"] + g["canary"]["requests"]


rtlib.wait_for(lambda: meas_total() >= 400)
st, m, _ = router.admin("GET", "/measurements?route=meas&window=30s&quantiles=0.5,0.99,0.999")
g = m["groups"]
total = g["primary"]["requests"] + g["canary"]["requests"]
fives = g["primary"]["status"]["5xx"] + g["canary"]["status"]["5xx"]
rtlib.check("measurements count every request of the window (%d)" % total, total == 400 and
            fives == 100, g)
sr = g["canary"]["successRate"]
exp = 100.0 * (g["canary"]["requests"] - g["canary"]["status"]["5xx"]) / g["canary"]["requests"]
rtlib.check("success rate is exact (%s%%)" % sr, abs(sr - exp) < 0.01, (sr, exp))
lat = g["canary"]["latencyMs"]
rtlib.check("latency quantiles p50 <= p99 <= p99.9 <= max",
            0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"] * 1.0001, lat)
time.sleep(2.2)
st, m1, _ = router.admin("GET", "/measurements?route=meas&group=canary&window=1")
rtlib.check("a 1-second window long after the traffic is empty (success rate null)",
            st == 200 and m1["groups"]["canary"]["requests"] == 0 and
            m1["groups"]["canary"]["successRate"] is None, m1)
st, smp, _ = router.admin("GET", "/samples?route=meas&group=canary&window=60&limit=50")
rtlib.check("samples: the 50 most recent canary requests with timestamps",
            st == 200 and smp["count"] == 50 and smp["fields"] == ["timestampMs", "latencyMs", "status"]
            and all(x[2] in (200, 503) for x in smp["samples"]) and
            smp["samples"] == sorted(smp["samples"], key=lambda x: x[0]), smp.get("count"))
# offset: a window that ended in the past (the judge's history); the traffic
# above is all more than 2 s old, so a window ending 2 s ago still holds it
st, mo, _ = router.admin("GET", "/measurements?route=meas&window=60&offset=2s")
go = mo.get("groups", {})
rtlib.check("offset: a window that ended 2 s ago holds the traffic sent before it",
            st == 200 and mo.get("offsetSeconds") == 2 and
            go["primary"]["requests"] + go["canary"]["requests"] == 400 and
            go["primary"]["status"]["5xx"] + go["canary"]["status"]["5xx"] == 100, mo)
import calendar    # noqa: E402
started = calendar.timegm(time.strptime(router.admin("GET", "/status")[1]["started"][:19],
                                        "%Y-%m-%dT%H:%M:%S"))
want = max(0, min(60, time.time() - 3 - started))   # 2 s of offset, 1 incomplete second
rtlib.check("... it says how much of the window the router measured (none before it started)",
            abs(mo.get("coveredSeconds", -9) - want) <= 2, (mo.get("coveredSeconds"), want))
st, mo, _ = router.admin("GET", "/measurements?route=meas&window=30&offset=3600")
rtlib.check("an offset before the router started: empty, nothing covered",
            st == 200 and mo["coveredSeconds"] == 0 and mo["groups"]["canary"]["requests"] == 0, mo)
st, e, _ = router.admin("GET", "/measurements?route=meas&offset=2d")
rtlib.check("an offset over a day: 400, saying so", st == 400 and "offset" in e.get("error", ""), e)
st, e, _ = router.admin("GET", "/measurements?route=nope")
rtlib.check("measurements of an unknown route: 404", st == 404, e)
st, e, _ = router.admin("GET", "/measurements?route=app&window=abc")
rtlib.check("a bad window: 400", st == 400, e)
# ---- SIGHUP reloads --config ----
import signal    # noqa: E402
with open(router.config_path, "w") as f:
    json.dump({"routes": [rtlib.route("from-file", [p1.address])]}, f)
router.proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
st, rs, _ = router.admin("GET", "/routes")
rtlib.check("SIGHUP applies the --config file", [r["name"] for r in rs["routes"]] == ["from-file"], rs)
with open(router.config_path, "w") as f:
    f.write('{"routes": [{"name": "broken", "weight": 500}]}')
router.proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
st, rs, _ = router.admin("GET", "/routes")
rtlib.check("an invalid file on SIGHUP changes nothing (and is logged)",
            [r["name"] for r in rs["routes"]] == ["from-file"] and
            "routes[0].weight" in router.log_text(), rs)

# ---- who may use it (docs/security.md) ----
st, _, hs = router.admin("GET", "/config", token=False)
rtlib.check("a TCP admin API refuses a request without the token (401)",
            st == 401 and "Bearer" in hs.get("WWW-Authenticate", ""), (st, hs))
st, _, _ = router.admin("GET", "/config", headers={"Authorization": "Bearer nope"})
rtlib.check("a wrong token is refused", st == 401, st)
st, _, _ = router.admin("GET", "/healthz", token=False)
rtlib.check("/healthz needs no token (probes)", st == 200, st)
before = router.admin("GET", "/routes/from-file/weight")[1]["canaryWeight"]
st, err, _ = router.admin("POST", "/routes/from-file/weight", '{"canaryWeight": 100}',
                          {"Content-Type": "text/plain"})
rtlib.check("a change sent as text/plain (a form or CSRF post) gets 415", st == 415, (st, err))
st, err, _ = router.admin("PUT", "/routes/from-file/weight", {"canaryWeight": 100},
                          {"Origin": "http://evil.example"})
rtlib.check("a change from a foreign Origin gets 403", st == 403, (st, err))
st, err, _ = router.admin("PUT", "/routes/from-file/weight", {"canaryWeight": 100},
                          {"Host": "attacker.example:%d" % router.admin_port})
rtlib.check("a request for a foreign Host (DNS rebinding) gets 403", st == 403, (st, err))
rtlib.check("none of them moved traffic",
            router.admin("GET", "/routes/from-file/weight")[1]["canaryWeight"] == before)
st, _, _ = router.admin("PUT", "/routes/from-file/weight", {"canaryWeight": before},
                        {"Host": "localhost:%d" % router.admin_port,
                         "Origin": "http://localhost:%d" % router.admin_port})
rtlib.check("a same-origin change with the token and JSON is accepted", st == 200, st)

# the metrics-only listener: read-only, no token
st, text, _ = router.admin("GET", "/metrics", port=router.metrics_port, token=False)
rtlib.check("the metrics listener serves /metrics without a token",
            st == 200 and "canaryd_router_requests_total" in text, st)
st, _, _ = router.admin("PUT", "/routes/from-file/weight", {"canaryWeight": 100},
                        port=router.metrics_port)
rtlib.check("the metrics listener refuses changes (405)", st == 405, st)
st, _, _ = router.admin("GET", "/config", port=router.metrics_port, token=False)
rtlib.check("the metrics listener serves nothing else (404)", st == 404, st)

# a TCP admin listener without a token does not start
env = dict(os.environ)
env.pop("CANARYD_ROUTER_TOKEN", None)
p = subprocess.run([rtlib.CANARYD, "router", "--admin", "127.0.0.1:%d" % rtlib.free_port()],
                   env=env, capture_output=True, text=True, timeout=30)
rtlib.check("--admin host:port without a token exits 1 saying how to give one",
            p.returncode == 1 and "needs a token" in p.stderr, (p.returncode, p.stderr))

# Unix sockets get their mode whatever the umask
sock = os.path.join(rtlib.TMP, "mode.sock")
sock2 = os.path.join(rtlib.TMP, "mode2.sock")
old = os.umask(0)
try:
    m = rtlib.start([rtlib.CANARYD, "router", "--admin", "unix:" + sock], os.path.join(rtlib.TMP, "m.log"))
    m2 = rtlib.start([rtlib.CANARYD, "router", "--admin", "unix:" + sock2,
                      "--admin-socket-mode", "0660"], os.path.join(rtlib.TMP, "m2.log"))
finally:
    os.umask(old)
rtlib.wait_for(lambda: os.path.exists(sock) and os.path.exists(sock2))
rtlib.check("under umask 000 the admin socket is 0600",
            oct(os.stat(sock).st_mode & 0o777) == "0o600", oct(os.stat(sock).st_mode))
rtlib.check("--admin-socket-mode 0660 gives 0660",
            oct(os.stat(sock2).st_mode & 0o777) == "0o660", oct(os.stat(sock2).st_mode))
p = subprocess.run([rtlib.CANARYD, "router", "--admin", "unix:" + sock], capture_output=True,
                   text=True, timeout=30)
rtlib.check("a second router does not steal a live admin socket",
            p.returncode == 1 and "another process is listening" in p.stderr, p.stderr)
for x in (m, m2):
    x.terminate()
    x.wait(30)
rtlib.finish()
