"""test_router_handover.py - restarts without refused connections: a new
router started with --takeover receives the running router's listening
sockets (SCM_RIGHTS) and live configuration, the old one drains and exits,
and clients opening connections all along never see an error. Then
SIGTERM drains: an in-flight request completes, new connections are
refused, the process exits 0."""
import http.client
import os
import threading
import time

import rtlib

be = rtlib.Backend("primary")
cb = rtlib.Backend("canary")
handover = os.path.join(rtlib.TMP, "handover.sock")
flags = ["--handover", handover, "--takeover", handover, "--drain-timeout", "20s"]
a = rtlib.Router({"routes": [rtlib.route("app", [be.address], [cb.address], weight=0)]},
                 extra=flags, admin_unix=True, name="a")
a.set_weight("app", 30)     # the live configuration differs from the file now

stop = threading.Event()
lock = threading.Lock()
tally = {"ok": 0, "errors": []}


def fresh_connections():
    ok, errs = 0, []
    while not stop.is_set():
        try:
            st, _, body = rtlib.http_get(a.port, "/", timeout=10)
            if st == 200:
                ok += 1
            else:
                errs.append(st)
        except Exception as e:     # noqa: BLE001
            errs.append(repr(e))
    with lock:
        tally["ok"] += ok
        tally["errors"] += errs


def keep_alive():
    ok, errs = 0, []
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    while not stop.is_set():
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            if r.status == 200:
                ok += 1
            else:
                errs.append(r.status)
        except Exception as e:     # noqa: BLE001
            errs.append(repr(e))
            c.close()
    with lock:
        tally["ok"] += ok
        tally["errors"] += errs


threads = [threading.Thread(target=fresh_connections) for _ in range(4)] + \
          [threading.Thread(target=keep_alive) for _ in range(4)]
for t in threads:
    t.start()
time.sleep(0.5)
old_pid = a.proc.pid
b = rtlib.Router.__new__(rtlib.Router)
b.port, b.admin_port, b.metrics_port = a.port, a.admin_port, a.metrics_port
b.config_path, b.log = a.config_path, os.path.join(rtlib.TMP, "b.log")
rtlib._routers.append(b)
b.proc = rtlib.start([rtlib.CANARYD, "router", "--listen", "127.0.0.1:%d" % a.port,
                      "--admin", "127.0.0.1:%d" % a.admin_port, "--admin", "unix:" + a.admin_sock,
                      "--metrics", "127.0.0.1:%d" % a.metrics_port,
                      "--config", a.config_path, "--log-format", "text"] + flags, b.log)
rc = a.proc.wait(30)
time.sleep(0.5)
stop.set()
for t in threads:
    t.join()

rtlib.check("the old router drained and exited 0", rc == 0, rc)
rtlib.check("%d requests during the handover, none failed" % tally["ok"],
            tally["ok"] > 100 and not tally["errors"], tally["errors"][:5])
st, status, _ = b.admin("GET", "/status")
rtlib.check("the new router serves the admin API on the same address",
            st == 200 and status["pid"] == b.proc.pid and status["pid"] != old_pid, status)
rtlib.check("it took the sockets over", status["tookOver"] is True, status)
st, w, _ = b.admin("GET", "/routes/app/weight")
rtlib.check("it kept the live configuration (weight 30, not the file's 0)",
            w["canaryWeight"] == 30, w)
out = rtlib.raw(b.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
rtlib.check("traffic flows through the new router", b" 200 OK" in out, out[:60])
import socket    # noqa: E402
s = socket.socket(socket.AF_UNIX)
s.connect(a.admin_sock)
s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
resp = s.recv(1000)
s.close()
rtlib.check("the unix admin socket was handed over too", b"200 OK" in resp, resp)

# ---- SIGTERM drains ----
result = []
t = threading.Thread(target=lambda: result.append(
    rtlib.http_get(b.port, "/slow?ms=1500", timeout=10)))
t.start()
time.sleep(0.3)
b.proc.terminate()
time.sleep(0.3)
refused = False
try:
    rtlib.http_get(b.port, "/", timeout=2)
except ConnectionRefusedError:
    refused = True
t.join()
rc = b.proc.wait(20)
rtlib.check("SIGTERM: the in-flight request completes", result and result[0][0] == 200, result)
rtlib.check("SIGTERM: new connections are refused while draining", refused)
rtlib.check("SIGTERM: exit status 0", rc == 0, rc)
rtlib.finish()
