"""rtlib.py - helpers for the router's integration tests (Debian python3
only): free ports, test backends, a router process with its admin API,
raw HTTP over sockets, and ok/FAIL bookkeeping. Every process started here
is stopped at exit, whatever happens."""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, free_port, summary  # noqa: E402,F401

BUILD = os.environ.get("CANARYD_BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
CANARYD = os.path.join(BUILD, "canaryd")
BACKEND = os.path.join(BUILD, "rt_testbackend")
TMP = tempfile.mkdtemp(prefix="canaryd-rt-")
# a TCP admin API needs a token: every router started here (and the C
# admin client, tests/tools/rt_clientcheck) takes it from the environment
TOKEN = os.urandom(24).hex()
os.environ["CANARYD_ROUTER_TOKEN"] = TOKEN
_procs = []
_routers = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 5
    for p in _procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    subprocess.call(["rm", "-rf", TMP])


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def finish():
    # every router still running must stop cleanly: exit 0 and, in the
    # sanitizer build, no AddressSanitizer/LeakSanitizer report
    for r in _routers:
        if r.proc.poll() is None:
            try:
                rc = r.stop(timeout=60)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                rc = "hung"
            check("router %s stops cleanly on SIGTERM" % os.path.basename(r.log), rc == 0, rc)
        text = r.log_text()
        check("router %s: no sanitizer report" % os.path.basename(r.log),
              "Sanitizer" not in text and "runtime error" not in text,
              text[text.find("Sanitizer") - 200:][:2000])
    sys.exit(summary())


def wait_for(cond, timeout=10.0, step=0.05):
    """Polls cond() until it is true (returns True) or timeout passes."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on %d" % port)


def start(args, log=None, env=None):
    out = open(log, "wb") if log else subprocess.DEVNULL
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    _procs.append(p)
    return p


class Backend:
    def __init__(self, name, delay_ms=0, fail_every=0):
        self.name = name
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        args = [BACKEND, str(self.port), name] + ([str(delay_ms)] if delay_ms else [])
        env = dict(os.environ, RT_FAIL_EVERY=str(fail_every)) if fail_every else None
        self.proc = start(args, env=env)
        wait_port(self.port)

    def count(self):
        """(requests served, not counting /count, of which mirrored copies)"""
        body = http_get(self.port, "/count")[2].decode().split()
        return int(body[0]), int(body[1])

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait()


class Router:
    def __init__(self, config, extra=(), listen_port=None, admin_unix=False, name="router",
                 env=None):
        self.port = listen_port or free_port()
        self.admin_port = free_port()
        self.metrics_port = free_port()
        self.config_path = os.path.join(TMP, name + ".json")
        self.log = os.path.join(TMP, name + ".log")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        args = [CANARYD, "router", "--listen", "127.0.0.1:%d" % self.port,
                "--admin", "127.0.0.1:%d" % self.admin_port,
                "--metrics", "127.0.0.1:%d" % self.metrics_port,
                "--config", self.config_path, "--log-format", "text"] + list(extra)
        if admin_unix:
            self.admin_sock = os.path.join(TMP, name + ".sock")
            args += ["--admin", "unix:" + self.admin_sock]
        self.proc = start(args, self.log, env)
        _routers.append(self)
        wait_port(self.port)
        wait_port(self.admin_port)

    def admin(self, method, path, body=None, headers=None, port=None, token=True):
        """(status, parsed JSON or text, headers); sends the token and, for
        a change, Content-Type: application/json unless headers say
        otherwise"""
        c = http.client.HTTPConnection("127.0.0.1", port or self.admin_port, timeout=10)
        data = json.dumps(body) if body is not None and not isinstance(body, (str, bytes)) else body
        hs = dict(headers or {})
        if token:
            hs.setdefault("Authorization", "Bearer " + TOKEN)
        if method not in ("GET", "HEAD"):
            hs.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=hs)
        r = c.getresponse()
        raw = r.read()
        c.close()
        ctype = r.getheader("Content-Type", "")
        val = json.loads(raw) if ctype.startswith("application/json") else raw.decode()
        return r.status, val, dict(r.getheaders())

    def set_weight(self, route, weight, **kw):
        body = {"canaryWeight": weight}
        body.update(kw)
        st, val, _ = self.admin("PUT", "/routes/%s/weight" % route, body)
        if st != 200:
            raise RuntimeError("set weight: %s %s" % (st, val))
        return val

    def stats(self):
        return self.admin("GET", "/stats")[1]

    def metrics(self):
        """/metrics from the metrics-only listener (no token)"""
        return self.admin("GET", "/metrics", port=self.metrics_port, token=False)[1]

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def route(name, primary, canary=(), weight=0, **kw):
    r = {"name": name, "weight": weight,
         "primary": {"backends": list(primary)}, "canary": {"backends": list(canary)}}
    r.update(kw)
    return r


def http_get(port, path, headers=None, timeout=10, method="GET", body=None):
    """(status, headers dict (lower-case names, last wins), body) on a fresh connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hs = {k.lower(): v for k, v in r.getheaders()}
    hs["_set_cookie_all"] = r.headers.get_all("Set-Cookie") or []
    c.close()
    return r.status, hs, data


def raw(port, data, timeout=5, shut=False):
    """Sends raw bytes, returns everything received until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        out += b"<timeout>"
    s.close()
    return out


def backend_of(body):
    return body.decode().strip()


def stats_group(stats, route_name, group):
    for r in stats["routes"]:
        if r["name"] == route_name:
            return r["groups"].get(group)
    return None
