"""testlib.py - what the Python integration tests share (Debian python3
only): ok/FAIL bookkeeping ending in "N passed, N failed", free loopback
ports, polling, a small HTTP server on a thread, and a real Prometheus
(Debian package) scraping targets the test names, on a port picked here,
and require_kubectl()/require_helm(), the check a test makes before it runs
kubectl or helm (kubetools.py). On import it puts the pinned kubectl and
helm (scripts/kube-tools.sh, .cache/tools/bin) first on PATH.
Not a test itself (no test_ prefix); it starts nothing on import."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import kubetools

kubetools.put_tools_first()
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    """One assertion, printed as ok/FAIL (with detail on failure)."""
    if cond:
        print("ok   " + name, flush=True)
        results["passed"] += 1
    else:
        print("FAIL " + name + (": " + str(detail) if detail else ""), flush=True)
        results["failed"] += 1
    return cond


def summary():
    """Prints the summary line; the exit status: 0 only if something passed
    and nothing failed."""
    print("%d passed, %d failed" % (results["passed"], results["failed"]), flush=True)
    return 0 if results["failed"] == 0 and results["passed"] > 0 else 1


def _require(check, tool):
    ok, msg = check()
    if ok:
        print("# " + msg, flush=True)
        return shutil.which(tool)
    print("FAIL %s: %s" % (tool, msg), flush=True)
    results["failed"] += 1
    raise SystemExit(summary() or 1)


def require_kubectl():
    """The check before a test runs kubectl: returns its path, or stops the
    test with one FAIL naming the kubectl found and the version needed."""
    return _require(kubetools.check_kubectl, "kubectl")


def require_helm():
    """The same for helm (the chart in deploy/helm/canaryd)."""
    return _require(kubetools.check_helm, "helm")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, interval=0.1):
    """Polls fn() until it returns something true (returned) or timeout
    passes (the last value is returned)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    return last


def serve(handler):
    """A threading HTTP server for handler on a free loopback port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Prometheus:
    """The real Prometheus scraping targets (loopback ports) every scrape_ms,
    its data and log under tmp. close() stops it."""

    def __init__(self, tmp, targets, scrape_ms=1000, job="exporter", honor_labels=False):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {scrape_interval: %dms, evaluation_interval: 1s}\n"
                    "scrape_configs:\n- job_name: %s\n%s  static_configs:\n"
                    "  - targets: [%s]\n"
                    % (scrape_ms, job, "  honor_labels: true\n" if honor_labels else "",
                       ", ".join("'127.0.0.1:%d'" % t for t in targets)))
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                                      "--storage.tsdb.path=" + os.path.join(tmp, "prom-data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port,
                                      "--log.level=warn"], stdout=self.log, stderr=self.log)

    def query(self, q):
        u = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(u, timeout=5) as r:
            return json.loads(r.read())["data"]["result"]

    def wait_series(self, q, timeout=60, at_least=None):
        """Until q returns a series (with a first value >= at_least if
        given); True if it did within timeout."""
        def ok():
            try:
                r = self.query(q)
            except OSError:
                return False
            if not r:
                return False
            return at_least is None or float(r[0]["value"][1]) >= at_least
        return bool(wait_until(ok, timeout, 0.1))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
