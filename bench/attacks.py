"""attacks.py - tries, against the real binaries, every attack of issue 13
on canaryd's listeners (see docs/security.md) and prints one line per
attack, then "attacks tried: N, succeeded: S". An attack succeeds when it
reaches its goal (a command runs, a file or a weight changes, a gate opens,
a probe is starved, memory balloons), not when it merely gets an answer.

  canaryd local   CSRF-style POSTs (text/plain, forms, foreign Origin and
                  Host) to the Unix-socket and TCP APIs, socket modes under
                  umask 000, no or wrong token, DNS rebinding, oversized and
                  hostile manifests, slow clients; the web dashboard (/ui):
                  pages without a session or for a rebound name, forms from
                  another site, without an Origin or without the CSRF
                  token, wrong and oversized sign-ins, paths out of the
                  embedded files, sign-in redirects to another site
  canaryd router  cross-site weight and configuration changes, no token,
                  the metrics-only listener, slow bodies, slow clients,
                  socket modes under umask 000
  loadtester      commands outside the allowlist and shell tricks (with the
                  token: even an authorised caller runs only allowed
                  programs), gates without the token, -namespace-regexp
                  bypasses, a few thousand slow-loris connections against
                  /healthz, oversized bodies, a load task whose every
                  request fails

Debian python3 only. Every process it starts is stopped at exit.
Usage: python3 bench/attacks.py [BUILD_DIR] [--short]"""
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
SHORT = "--short" in sys.argv
BUILD = os.path.abspath(args[0] if args else os.path.join(ROOT, "build"))
CANARYD = os.path.join(BUILD, "canaryd")
TMP = tempfile.mkdtemp(prefix="canaryd-attacks-")
SLOW_CONNS = 1000 if SHORT else 3000
procs = []
tried = 0
succeeded = 0


def cleanup():
    """Stops every process; returns the logs holding a sanitizer report
    (in a sanitizer build a process reports at exit)."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    end = time.time() + 20
    for p in procs:
        try:
            p.wait(max(0.1, end - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    bad = []
    for f in os.listdir(TMP):
        if f.endswith(".log"):
            with open(os.path.join(TMP, f), errors="replace") as fh:
                text = fh.read()
            if "Sanitizer" in text or "runtime error" in text:
                bad.append(f)
                i = text.find("Sanitizer")
                print(text[max(0, i - 300):][:3000])
    shutil.rmtree(TMP, ignore_errors=True)
    return bad


signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def attack(name, goal_reached, detail=""):
    """Records one attack: goal_reached True means it succeeded."""
    global tried, succeeded
    tried += 1
    if goal_reached:
        succeeded += 1
        print("ATTACK SUCCEEDED  %s  (%s)" % (name, detail), flush=True)
    else:
        print("refused           %s  (%s)" % (name, detail), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(argv, log, env=None, umask=None):
    def pre():
        os.setsid()
        if umask is not None:
            os.umask(umask)
    p = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env,
                         preexec_fn=pre)
    procs.append(p)
    return p


def wait_for(cond, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def request(where, method, path, body=None, headers=None, timeout=10):
    """(status, body text); where is a port or a Unix socket path. The
    answer is read even when the server answered (and closed) before the
    body was all sent, as servers refusing on the headers do."""
    if isinstance(where, str):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(where)
    else:
        s = socket.create_connection(("127.0.0.1", where), timeout)
    hs = {"Host": "localhost" if isinstance(where, str) else "127.0.0.1:%d" % where}
    hs.update(headers or {})
    data = body.encode() if isinstance(body, str) else (body or b"")
    if body is not None:
        hs.setdefault("Content-Length", str(len(data)))
    hs["Connection"] = "close"
    head = "%s %s HTTP/1.1\r\n" % (method, path) + \
        "".join("%s: %s\r\n" % (k, v) for k, v in hs.items() if v is not None) + "\r\n"
    try:
        s.sendall(head.encode() + data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = http.client.HTTPResponse(s)
    try:
        r.begin()
        text = r.read().decode(errors="replace")
    finally:
        s.close()
    return r.status, text


def slow_loris(port, n, seconds, probe):
    """n connections that send a request head one header at a time (each
    reconnecting when the server cuts it); meanwhile probe() runs every
    0.25 s. Returns (max probe latency in s, failed probes, probes, the
    most connections open at once)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stop = time.time() + seconds
    conns = []

    def open_one():
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        return [s, 0]

    for _ in range(n):
        conns.append(open_one())
    time.sleep(0.3)
    results = {"max": 0.0, "failed": 0, "probes": 0}

    def prober():
        while time.time() < stop:
            t0 = time.time()
            try:
                ok = probe()
            except Exception:       # noqa: BLE001
                ok = False
            dt = time.time() - t0
            results["probes"] += 1
            results["max"] = max(results["max"], dt)
            if not ok:
                results["failed"] += 1
            time.sleep(0.25)

    t = threading.Thread(target=prober)
    t.start()
    peak = 0
    step = 0
    while time.time() < stop:
        held = 0
        for c in conns:
            s = c[0]
            try:
                if c[1] == 0:
                    s.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
                else:
                    s.send(b"X-%d: %d\r\n" % (step, step))
                c[1] += 1
                held += 1
            except (BlockingIOError, InterruptedError):
                held += 1
            except OSError:
                s.close()
                c[0], c[1] = open_one()[0], 0
        step += 1
        peak = max(peak, held)
        time.sleep(1.0)
    t.join()
    for c in conns:
        c[0].close()
    return results["max"], results["failed"], results["probes"], peak


def health_probe(where, path="/healthz", expect=200):
    def probe():
        st, _ = request(where, "GET", path, timeout=2)
        return st == expect
    return probe


# ---------------------------------------------------------------------------
# canaryd local
# ---------------------------------------------------------------------------

PWNED = os.path.join(TMP, "pwned")
EVIL_WORKLOAD = """apiVersion: canaryd.dev/v1alpha1
kind: LocalWorkload
metadata: {name: evil}
spec:
  command: sh
  args: ["-c", "touch %s; sleep 60"]
  replicas: 1
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: evil}
spec:
  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: evil}
  service: {port: %d}
  analysis: {interval: 10s, threshold: 1, stepWeight: 50, maxWeight: 50}
""" % (PWNED, free_port())


def manifests_dir(name):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    for f in ("podinfo-canary.yaml", "podinfo-workload.yaml"):
        shutil.copy(os.path.join(ROOT, "examples/demo/manifests", f), d)
    p = os.path.join(d, "podinfo-canary.yaml")
    with open(p) as f:
        text = f.read().replace("    port: 18080\n", "    port: %d\n" % free_port())
    with open(p, "w") as f:
        f.write(text)
    return d


def nothing_applied(d):
    return not any("evil" in f or "pwned" in f for f in os.listdir(d)) and not os.path.exists(PWNED)


def csrf_attacks(where, d, label):
    """The CSRF-style requests a web page can send, against an API."""
    origin = {"Origin": "http://evil.example"}
    cases = [
        ("apply as text/plain from a foreign page (Origin, Host)",
         {"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "attacker.example"}),
        ("apply as text/plain", {"Content-Type": "text/plain"}),
        ("apply as a form", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("apply with no Content-Type", {}),
        ("apply as JSON from a foreign Origin", dict(origin, **{"Content-Type": "application/json"})),
    ]
    for what, hs in cases:
        st, body = request(where, "POST", "/api/v1/apply?name=evil.yaml", EVIL_WORKLOAD, hs)
        time.sleep(0.3)
        attack("%s: %s" % (label, what), st < 300 or not nothing_applied(d), "HTTP %d" % st)
    st, _ = request(where, "POST", "/api/v1/namespaces/default/canaries/podinfo/abort", "x=1",
                    {"Content-Type": "application/x-www-form-urlencoded"})
    attack("%s: abort a canary with a form post" % label, st < 300, "HTTP %d" % st)
    st, _ = request(where, "POST", "/gate/open", '{"name":"podinfo","namespace":"default"}',
                    {"Content-Type": "text/plain"})
    attack("%s: open a gate with a text/plain post" % label, st < 300, "HTTP %d" % st)


def ui_cookie(port, token):
    """A dashboard session's cookie ("name=value"), signed in with the token."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/ui/login?token=" + token)
    r = c.getresponse()
    r.read()
    c.close()
    return (r.getheader("Set-Cookie") or "").split(";")[0]


def dashboard_attacks(port, token):
    """The web dashboard (/ui, docs/dashboard.md): what a page on another
    site, a rebound name or a guesser can get from it."""
    st, body = request(port, "GET", "/ui/", None)
    attack("dashboard: the list without a session", st == 200 or "podinfo" in body, "HTTP %d" % st)
    st, _ = request(port, "GET", "/ui/canaries/default/podinfo", None,
                    {"Host": "rebind.example:%d" % port})
    attack("dashboard: a DNS-rebound page reads a canary", st == 200, "HTTP %d" % st)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    abort = "/ui/canaries/default/podinfo/abort"
    st, _ = request(port, "POST", abort, "csrf=x", dict(form, Origin="http://evil.example"))
    attack("dashboard: a form on another site aborts", st in (200, 202, 303), "HTTP %d" % st)
    cookie = ui_cookie(port, token)
    st, _ = request(port, "POST", abort, "csrf=guessed", dict(form, Cookie=cookie,
                                                              Origin="http://127.0.0.1:%d" % port))
    attack("dashboard: a session's cookie without its CSRF token aborts",
           not cookie or st in (200, 202, 303), "HTTP %d, cookie %s" % (st, "set" if cookie else "none"))
    st, _ = request(port, "POST", abort, "csrf=guessed", dict(form, Cookie=cookie))
    attack("dashboard: a form without an Origin aborts", st in (200, 202, 303), "HTTP %d" % st)
    st, _ = request(port, "POST", abort, '{"csrf": "x"}',
                    {"Content-Type": "application/json", "Cookie": cookie,
                     "Origin": "http://127.0.0.1:%d" % port})
    attack("dashboard: a JSON post with the session's cookie aborts", st in (200, 202, 303), "HTTP %d" % st)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/ui/login", "token=guessed", dict(form, Origin="http://127.0.0.1:%d" % port))
    r = c.getresponse()
    r.read()
    c.close()
    attack("dashboard: a wrong token signs in", bool(r.getheader("Set-Cookie")), "HTTP %d" % r.status)
    st, _ = request(port, "POST", "/ui/login", "token=" + "x" * (1 << 20),
                    dict(form, Origin="http://127.0.0.1:%d" % port), timeout=30)
    attack("dashboard: a 1 MiB sign-in form is read", st != 413, "HTTP %d" % st)
    st, body = request(port, "GET", "/ui/static/../../../../etc/passwd", None)
    attack("dashboard: a static path leaves the embedded files", st == 200 or "root:" in body, "HTTP %d" % st)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/ui/login?token=%s&next=https://evil.example/" % token)
    r = c.getresponse()
    r.read()
    c.close()
    loc = r.getheader("Location") or ""
    attack("dashboard: sign-in sends the browser to another site", not loc.startswith("/ui/"), loc)


def local_attacks():
    d = manifests_dir("local")
    sock = os.path.join(TMP, "api.sock")
    p = start([CANARYD, "local", "--dir", d, "--api", "unix:" + sock, "--stop-on-exit",
               "--log-format", "text"], os.path.join(TMP, "local1.log"), umask=0)
    if not wait_for(lambda: request(sock, "GET", "/api/v1/canaries")[0] == 200, 60):
        sys.exit("canaryd local did not start (see %s)" % os.path.join(TMP, "local1.log"))
    mode = os.stat(sock).st_mode & 0o777
    attack("local API socket under umask 000 is open to other users", mode & 0o077 != 0, oct(mode))
    rsock = os.path.join(d, ".canaryd", "router.sock")
    wait_for(lambda: os.path.exists(rsock))
    mode = os.stat(rsock).st_mode & 0o777
    attack("router admin socket under umask 000 is open to other users", mode & 0o077 != 0, oct(mode))
    csrf_attacks(sock, d, "local API (unix)")

    # hostile manifests: memory and error size stay bounded
    before = rss_kb(p.pid)
    st, body = request(sock, "POST", "/api/v1/apply?name=x.yaml", "[" * (1 << 20),
                       {"Content-Type": "application/yaml"}, timeout=30)
    grown = rss_kb(p.pid) - before
    attack("1 MiB of '[' to /api/v1/apply balloons memory or the error", st < 300 or len(body) > 8192 or
           grown > 50000, "HTTP %d, %d-byte answer, RSS +%d KiB" % (st, len(body), grown))
    st, body = request(sock, "POST", "/api/v1/apply?name=x.yaml", "#" * (2 << 20),
                       {"Content-Type": "application/yaml"}, timeout=30)
    attack("a 2 MiB manifest is read", st != 413, "HTTP %d" % st)
    many = "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: x}\nspec:\n" + \
        "".join("  bogus%d: 1\n" % i for i in range(3000))
    st, body = request(sock, "POST", "/api/v1/apply?name=x.yaml", many,
                       {"Content-Type": "application/yaml"}, timeout=30)
    try:
        n = len(json.loads(body).get("errors", [])) + len(json.loads(body).get("warnings", []))
    except ValueError:
        n = -1
    attack("thousands of findings give an unbounded error list", n < 0 or n > 102 or len(body) > 65536,
           "%d entries, %d bytes" % (n, len(body)))
    p.terminate()
    p.wait(60)

    # the same directory on TCP, with the router's metrics listener
    port, mport = free_port(), free_port()
    p = start([CANARYD, "local", "--dir", d, "--api", "127.0.0.1:%d" % port, "--router-metrics",
               "127.0.0.1:%d" % mport, "--stop-on-exit", "--log-format", "text"],
              os.path.join(TMP, "local2.log"), env=dict(os.environ, XDG_RUNTIME_DIR=TMP))
    if not wait_for(lambda: request(port, "GET", "/healthz")[0] == 200, 60):
        sys.exit("canaryd local (TCP) did not start")
    try:
        token = open(os.path.join(TMP, "canaryd", "api-127.0.0.1_%d.token" % port)).read().strip()
    except OSError:
        token = "none"   # a canaryd that publishes no token (and needs none)
    auth = {"Authorization": "Bearer " + token}
    yaml = {"Content-Type": "application/yaml"}
    st, _ = request(port, "POST", "/api/v1/apply?name=evil.yaml", EVIL_WORKLOAD, yaml)
    attack("local API (TCP): apply without a token", st < 300 or not nothing_applied(d), "HTTP %d" % st)
    st, _ = request(port, "POST", "/api/v1/apply?name=evil.yaml", EVIL_WORKLOAD,
                    dict(yaml, Authorization="Bearer guessed"))
    attack("local API (TCP): apply with a wrong token", st < 300 or not nothing_applied(d), "HTTP %d" % st)
    st, _ = request(port, "GET", "/api/v1/canaries", None, {"Host": "rebind.example:%d" % port})
    attack("local API (TCP): DNS-rebound page reads the canaries", st == 200, "HTTP %d" % st)
    st, _ = request(port, "GET", "/api/v1/canaries", None,
                    dict(auth, Host="rebind.example:%d" % port))
    attack("local API (TCP): a foreign Host is served even with the token", st == 200, "HTTP %d" % st)
    csrf_attacks(port, d, "local API (TCP)")
    dashboard_attacks(port, token)
    st, w = request(mport, "GET", "/metrics")
    for method, path, body in (("PUT", "/routes/podinfo.default/weight", '{"canaryWeight":100}'),
                               ("POST", "/config", '{"listeners":[],"routes":[]}'),
                               ("GET", "/config", None)):
        st, _ = request(mport, method, path, body, {"Content-Type": "application/json"})
        attack("router metrics listener: %s %s" % (method, path), st < 300, "HTTP %d" % st)
    mx, failed, probes, held = slow_loris(port, 300 if SHORT else 800, 6 if SHORT else 12,
                                          health_probe(port))
    attack("local API (TCP): %d slow-loris connections starve /healthz" % held,
           failed > 0 or mx > 1.0, "%d probes, %d failed, slowest %.2fs" % (probes, failed, mx))
    attack("local API (TCP): a workload was started by an attack", os.path.exists(PWNED), PWNED)
    p.terminate()
    p.wait(60)


# ---------------------------------------------------------------------------
# canaryd router
# ---------------------------------------------------------------------------

def router_attacks():
    port, aport = free_port(), free_port()
    backend = free_port()
    cfg = os.path.join(TMP, "router.json")
    with open(cfg, "w") as f:
        json.dump({"listeners": [{"name": "web", "address": "127.0.0.1:%d" % port}],
                   "routes": [{"name": "app", "weight": 0,
                               "primary": {"backends": ["127.0.0.1:%d" % backend]},
                               "canary": {"backends": ["127.0.0.1:%d" % backend]}}]}, f)
    token = os.urandom(16).hex()
    sock = os.path.join(TMP, "admin.sock")
    env = dict(os.environ, CANARYD_ROUTER_TOKEN=token)
    p = start([CANARYD, "router", "--config", cfg, "--admin", "127.0.0.1:%d" % aport,
               "--admin", "unix:" + sock], os.path.join(TMP, "router.log"), env=env, umask=0)
    if not wait_for(lambda: request(aport, "GET", "/healthz")[0] == 200):
        sys.exit("the router did not start")
    mode = os.stat(sock).st_mode & 0o777
    attack("router admin socket under umask 000 is open to other users", mode & 0o077 != 0, oct(mode))
    auth = {"Authorization": "Bearer " + token}

    def weight():
        return json.loads(request(aport, "GET", "/routes/app/weight", None, auth)[1])["canaryWeight"]

    for what, hs in (("text/plain from a foreign page", {"Content-Type": "text/plain",
                                                          "Origin": "http://evil.example"}),
                     ("JSON without the token", {"Content-Type": "application/json"}),
                     ("JSON, DNS-rebound Host", {"Content-Type": "application/json",
                                                 "Host": "rebind.example:%d" % aport}),
                     ("JSON with the token from a foreign Origin",
                      dict(auth, **{"Content-Type": "application/json", "Origin": "http://evil.example"})),
                     ("text/plain with the token", dict(auth, **{"Content-Type": "text/plain"}))):
        st, _ = request(aport, "POST", "/routes/app/weight", '{"canaryWeight": 100}', hs)
        attack("router admin: set the canary weight to 100, %s" % what, st < 300 or weight() != 0,
               "HTTP %d" % st)
    st, _ = request(aport, "POST", "/config", '{"listeners":[],"routes":[]}',
                    {"Content-Type": "application/json"})
    attack("router admin: swap the configuration without the token",
           st < 300 or weight() != 0, "HTTP %d" % st)

    # slow 16 MiB bodies: refused on their headers, nothing buffered
    before = rss_kb(p.pid)
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", aport))
        s.sendall(b"PUT /config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 16777000\r\n\r\n")
        s.setblocking(False)
        socks.append(s)
    chunk = b" " * 65536
    for _ in range(40):
        for s in socks:
            try:
                s.send(chunk)
            except OSError:
                pass
    time.sleep(0.5)
    grown = rss_kb(p.pid) - before
    for s in socks:
        s.close()
    attack("router admin: 20 slow 16 MiB bodies without the token take memory", grown > 20000,
           "RSS +%d KiB" % grown)
    mx, failed, probes, held = slow_loris(aport, 300 if SHORT else 800, 6 if SHORT else 12,
                                          health_probe(aport))
    attack("router admin: %d slow-loris connections starve /healthz" % held, failed > 0 or mx > 1.0,
           "%d probes, %d failed, slowest %.2fs" % (probes, failed, mx))
    p.terminate()
    p.wait(60)


# ---------------------------------------------------------------------------
# the load tester
# ---------------------------------------------------------------------------

def loadtester_attacks():
    port = free_port()
    token = os.urandom(16).hex()
    env = dict(os.environ, CANARYD_LOADTESTER_TOKEN=token, POD_NAMESPACE="test")
    p = start([CANARYD, "loadtester", "-port", str(port), "-namespace-regexp", "^test$",
               "-log-level", "error", "-timeout", "20s"], os.path.join(TMP, "lt.log"), env=env)
    if not wait_for(lambda: request(port, "GET", "/healthz")[0] == 200):
        sys.exit("the load tester did not start")
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    marker = os.path.join(TMP, "lt-pwned")

    def task(md, hs=auth, ns="test"):
        return request(port, "POST", "/", json.dumps({"name": "podinfo", "namespace": ns,
                                                        "metadata": md}), hs, timeout=30)

    cmds = [
        ("id > FILE (the issue's attack)", {"cmd": "id>" + marker}),
        ("bash: cat /etc/shadow, output returned", {"type": "bash", "cmd": "cat /etc/shadow",
                                                    "returnCmdOutput": "true"}),
        ("command substitution in an allowed command", {"cmd": "curl -s http://127.0.0.1:1/$(touch %s)" % marker}),
        ("backticks in an allowed command", {"cmd": "curl -s http://127.0.0.1:1/`touch %s`" % marker}),
        ("a second command after ;", {"cmd": "curl -s http://127.0.0.1:1/; touch " + marker}),
        ("a pipe into sh", {"cmd": "curl -s http://127.0.0.1:1/ | sh"}),
        ("PATH= prefix", {"cmd": "PATH=/tmp hey http://127.0.0.1:1/"}),
        ("an absolute path", {"cmd": "/usr/bin/touch " + marker}),
        ("redirection from an allowed command", {"cmd": "curl -s http://127.0.0.1:1/ >" + marker}),
        ("bash -c through type: bash", {"type": "bash", "cmd": "bash -c 'touch %s'" % marker}),
    ]
    for what, md in cmds:
        st, body = task(md)
        time.sleep(0.2)
        attack("load tester (with the token): %s" % what,
               st < 300 or os.path.exists(marker) or "root:" in body, "HTTP %d" % st)
    for what, md in (("kubectl -n kube-system", {"type": "kubectl", "cmd": "-n kube-system get secrets"}),
                     ("kubectl -A", {"type": "kubectl", "cmd": "get secrets -A"}),
                     ("kubectl --context", {"type": "kubectl", "cmd": "--context prod -n test get pods"}),
                     ("kubectl in a cmd line", {"cmd": "curl -s http://127.0.0.1:1/ && kubectl -n prod delete ns prod"})):
        st, body = task(md)
        attack("load tester: -namespace-regexp bypass with %s" % what, st != 403, "HTTP %d" % st)
    st, _ = task({"cmd": "id"}, ns="kube-system")
    attack("load tester: a payload for another namespace", st < 300, "HTTP %d" % st)
    gate = json.dumps({"name": "podinfo", "namespace": "test"})
    for path in ("/gate/close", "/gate/open", "/gate/approve", "/rollback/open"):
        st, _ = request(port, "POST", path, gate, {"Content-Type": "application/json"})
        attack("load tester: %s without the token" % path, st < 300, "HTTP %d" % st)
    st, _ = request(port, "POST", "/gate/check", gate, {"Authorization": "Bearer " + token})
    attack("load tester: the gate opened by one of the above", st == 200, "HTTP %d" % st)
    st, _ = request(port, "POST", "/gate/open", gate, dict(auth, Origin="http://evil.example"))
    attack("load tester: a cross-site page opens a gate (with a leaked token)", st < 300, "HTTP %d" % st)
    st, _ = request(port, "POST", "/", "x" * (2 << 20), auth, timeout=30)
    attack("load tester: a 2 MiB body is read", st != 413, "HTTP %d" % st)
    st, body = task({"type": "load", "url": "http://127.0.0.1:1/", "requests": "5", "wait": "true"})
    attack("load tester: wait: true passes with every request failed", st < 300, "HTTP %d" % st)
    before = rss_kb(p.pid)
    mx, failed, probes, held = slow_loris(port, SLOW_CONNS, 8 if SHORT else 15, health_probe(port))
    attack("load tester: %d slow-loris connections starve /healthz" % held, failed > 0 or mx > 1.0,
           "%d probes, %d failed, slowest %.2fs, RSS +%d KiB" % (probes, failed, mx,
                                                                rss_kb(p.pid) - before))
    p.terminate()
    p.wait(30)

    # helm without -n acts in the load tester's own namespace: refused when it does not match
    port2 = free_port()
    p2 = start([CANARYD, "loadtester", "-port", str(port2), "-namespace-regexp", "^test$",
                "-log-level", "error"], os.path.join(TMP, "lt2.log"),
               env=dict(os.environ, POD_NAMESPACE="kube-system"))
    wait_for(lambda: request(port2, "GET", "/healthz")[0] == 200)
    st, _ = request(port2, "POST", "/", json.dumps({"name": "podinfo", "namespace": "test", "metadata": {
        "type": "helmv3", "cmd": "uninstall podinfo"}}), {"Content-Type": "application/json"})
    attack("load tester: helm without -n in a namespace -namespace-regexp refuses", st != 403,
           "HTTP %d" % st)
    st, _ = request(port2, "POST", "/", json.dumps({"name": "podinfo", "namespace": "test", "metadata": {
        "cmd": "touch " + marker}}), {"Content-Type": "application/json"})
    time.sleep(0.3)
    attack("load tester without a token (Flagger's setup): a command off the allowlist",
           st < 300 or os.path.exists(marker), "HTTP %d" % st)
    p2.terminate()
    p2.wait(30)


try:
    print("# attacks on canaryd's listeners (%s)%s" % (BUILD, " short" if SHORT else ""), flush=True)
    local_attacks()
    router_attacks()
    loadtester_attacks()
finally:
    reports = cleanup()
if reports:
    print("sanitizer reports in: %s" % " ".join(reports))
print("attacks tried: %d, succeeded: %d" % (tried, succeeded))
sys.exit(1 if succeeded or reports else 0)
