"""kube_memory.py - memory and CPU of `canaryd kube` with N Canaries
(default 1,000; bench/kube_scale.sh runs 10,000) on the fake cluster
(tests/fake-apiserver), measured in one run against peers: the same
canaryd watching an empty cluster, and the fake API server holding the
objects. Each Canary targets its own Deployment (provider kubernetes,
analysis every 30s); canaryd initializes all of them (primary Deployment,
three Services, status), then ticks them for a while.

Prints, so that the bottleneck is visible:
- RSS (VmRSS) and peak RSS (VmHWM) at each stage, the cost per canary;
- the time to initialize every canary and the requests it took;
- canaryd's CPU seconds per canary initialized and per analysis tick
  (a tick reads its Canary once: ticks are counted as canaryd's GETs of
  single Canaries in the fake's request log, minus the syncs' and status
  writes' reads measured apart);
- the share of the wall time the API server was busy (its CPU seconds
  over the wall time: the fake is Python, one core at most, so 100% means
  it is the bottleneck), and the share of canaryd's workers' time spent
  in the fake's request handlers (the fake's log; queueing before a
  handler runs is not counted), next to canaryd's own CPU share;
- ratios against canaryd on the empty cluster.

Environment: CANARYD_BENCH_DEADLINE (seconds to wait for Initialized,
default 600), CANARYD_BENCH_STEADY (seconds of ticks after, default 65),
CANARYD_BENCH_QPS / CANARYD_BENCH_BURST (canaryd's -kubeconfig-qps and
-kubeconfig-burst, default 2000), FAKE_APISERVER_PROFILE=FILE (the fake's
sampling profile, tests/fake-apiserver/fakekube/sampler.py).

Usage: kube_memory.py [BUILD_DIR] [N]   (python3 with Debian's python3-yaml)
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests/fake-apiserver"))
from fakekube.testing import FakeApiServer  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
CANARYD = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(SRC, BUILD), "canaryd")
DEADLINE = float(os.environ.get("CANARYD_BENCH_DEADLINE", "600"))
STEADY = float(os.environ.get("CANARYD_BENCH_STEADY", "65"))
QPS = os.environ.get("CANARYD_BENCH_QPS", "2000")
BURST = os.environ.get("CANARYD_BENCH_BURST", "2000")
CLK = os.sysconf("SC_CLK_TCK")
WORKERS = 4                         # canaryd's -threadiness


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])   # kB
    return out


def cpu(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def mib(kb):
    return "%.1f MiB" % (kb / 1024.0)


def deployment(i):
    n = "app-%05d" % i
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": n, "namespace": "bench", "labels": {"app": n}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": n}},
                     "template": {"metadata": {"labels": {"app": n}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1",
                                                           "ports": [{"name": "http",
                                                                      "containerPort": 8080}]}]}}}}


def canary(i):
    n = "app-%05d" % i
    return {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
            "metadata": {"name": n, "namespace": "bench"},
            "spec": {"provider": "kubernetes",
                     "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": n},
                     "service": {"port": 80, "targetPort": 8080},
                     "analysis": {"interval": "30s", "threshold": 2, "iterations": 2,
                                  "metrics": [{"name": "request-success-rate", "interval": "1m",
                                               "thresholdRange": {"min": 99}}]}}}


def create_all(api, objs, path):
    def worker(chunk):
        for o in chunk:
            st, _, body = api.post(path, o)
            if st not in (200, 201):
                raise RuntimeError("create failed: %s %s" % (st, body))
    threads = [threading.Thread(target=worker, args=(objs[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def phases(api):
    _, _, body = api.get("/apis/flagger.app/v1beta1/namespaces/bench/canaries")
    out = {}
    for c in body.get("items", []):
        p = (c.get("status") or {}).get("phase", "")
        out[p] = out.get(p, 0) + 1
    return out


CANARY_ONE = re.compile(r"^/apis/flagger\.app/v1beta1/namespaces/[^/]+/canaries/[^/]+(/status)?$")


def kind_of(r):
    p = r["path"]
    m = CANARY_ONE.match(p)
    if m:
        return "canary/status" if m.group(1) else "canary"
    parts = p.strip("/").split("/")
    return parts[-2] if len(parts) >= 2 and r["verb"] in ("get", "update", "patch", "delete") \
        else parts[-1]


class RequestLog:
    """Follows the fake's request log (/fake/requests?since=SEQ) and counts
    canaryd's requests by verb and resource, and everyone's."""

    def __init__(self, api):
        self.api = api
        self.seq = 0
        self.counts = collections.Counter()
        self.server_ms = 0.0        # the fake's time answering canaryd (watches excluded)
        self.total = 0
        self.lost = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)

    def poll(self):
        st, _, body = self.api.get("/fake/requests?since=%d" % self.seq)
        if st != 200:
            return
        reqs = body.get("requests", [])
        with self.lock:
            if reqs and reqs[0]["seq"] > self.seq + 1:
                self.lost += reqs[0]["seq"] - self.seq - 1
            for r in reqs:
                self.seq = max(self.seq, r["seq"])
                self.total += 1
                if r.get("userAgent", "").startswith("canaryd"):
                    self.counts[(r["verb"], kind_of(r))] += 1
                    if r["verb"] != "watch":
                        self.server_ms += r.get("ms", 0.0)

    def run(self):
        while not self.stop.wait(0.5):
            try:
                self.poll()
            except (OSError, ValueError):
                pass

    def snapshot(self):
        self.poll()
        with self.lock:
            return collections.Counter(self.counts), self.server_ms, self.lost


def start_canaryd(kubeconfig, log):
    return subprocess.Popen([CANARYD, "kube", "-kubeconfig", kubeconfig, "-port", "0",
                             "-log-level", "warn", "-threadiness", str(WORKERS), "-kubeconfig-qps", QPS,
                             "-kubeconfig-burst", BURST, "-metrics-server", "http://127.0.0.1:1"],
                            stdout=log, stderr=subprocess.STDOUT)


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def show_requests(title, counts, seconds):
    n = sum(counts.values())
    print("%s: %d requests by canaryd (%.0f/s)" % (title, n, n / max(seconds, 1e-9)))
    for (verb, kind), c in sorted(counts.items(), key=lambda kv: -kv[1])[:10]:
        print("    %-8s %-22s %8d" % (verb, kind, c))


def main():
    tmp = tempfile.mkdtemp(prefix="canaryd-bench.")
    crds = []
    for f in ("canaries.yaml", "metrictemplates.yaml", "alertproviders.yaml"):
        crds += ["--crd", os.path.join(SRC, "deploy/crds", f)]
    api = FakeApiServer(*crds, "--history", "200000").start()
    kc = api.kubeconfig(os.path.join(tmp, "kubeconfig"))
    log = open(os.path.join(tmp, "canaryd.log"), "w")
    procs = []
    try:
        # peer 1: canaryd on an empty cluster, idle for 10 s
        api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "bench"}})
        p = start_canaryd(kc, log)
        procs.append(p)
        time.sleep(3)
        c0, w0 = cpu(p.pid), time.time()
        time.sleep(10)
        empty = rss(p.pid)
        empty_cpu_s = (cpu(p.pid) - c0) / (time.time() - w0)
        stop(p)

        t0 = time.time()
        create_all(api, [deployment(i) for i in range(N)], "/apis/apps/v1/namespaces/bench/deployments")
        create_all(api, [canary(i) for i in range(N)], "/apis/flagger.app/v1beta1/namespaces/bench/canaries")
        print("created %d Deployments and %d Canaries in %.1fs" % (N, N, time.time() - t0), flush=True)

        rl = RequestLog(api)
        rl.snapshot()
        rl.counts.clear()
        rl.server_ms = 0.0
        rl.th.start()
        api_cpu0 = cpu(api.proc.pid)
        p = start_canaryd(kc, log)
        procs.append(p)
        t0 = time.time()
        peak = {"VmRSS": 0, "VmHWM": 0}
        init_s = None
        last_print = t0
        # listing every Canary costs the fake too: at most one list per
        # 1,000 canaries' worth of seconds (10 s at 10,000)
        poll_s = max(2.0, N / 1000.0)
        while time.time() - t0 < DEADLINE:
            time.sleep(poll_s)
            r = rss(p.pid)
            peak = {k: max(peak[k], r[k]) for k in peak}
            ph = phases(api)
            if time.time() - last_print >= 30:
                last_print = time.time()
                print("  %4.0fs: %d Initialized, canaryd VmRSS %s, CPU %.1fs; API server CPU %.1fs"
                      % (time.time() - t0, ph.get("Initialized", 0), mib(r["VmRSS"]), cpu(p.pid),
                         cpu(api.proc.pid) - api_cpu0), flush=True)
            if ph.get("Initialized", 0) == N:
                init_s = time.time() - t0
                break
        wall_init = time.time() - t0
        cpu_init = cpu(p.pid)
        api_cpu_init = cpu(api.proc.pid) - api_cpu0
        init_counts, init_server_ms, _ = rl.snapshot()
        initialized = rss(p.pid)
        ph = phases(api)
        n_init = ph.get("Initialized", 0)
        print("all %d canaries Initialized after %.0fs (seen by a list every %.0fs)" % (N, init_s, poll_s)
              if init_s else
              "not all Initialized after %.0fs: %s" % (DEADLINE, json.dumps(ph)))

        # steady state: every canary ticks at least twice more
        c1, a1, w1 = cpu(p.pid), cpu(api.proc.pid), time.time()
        time.sleep(STEADY)
        steady_counts, steady_server_ms, lost = rl.snapshot()
        wall_steady = time.time() - w1
        cpu_steady = cpu(p.pid) - c1
        api_cpu_steady = cpu(api.proc.pid) - a1
        steady = rss(p.pid)
        api_rss = rss(api.proc.pid)
        rl.stop.set()
        window = steady_counts - init_counts
        # a tick GETs its Canary once; in steady state nothing is synced
        ticks = window[("get", "canary")]

        print()
        show_requests("initialization (%.0fs)" % wall_init, init_counts, wall_init)
        show_requests("steady state (%.0fs)" % wall_steady, window, wall_steady)
        if lost:
            print("    (%d requests fell out of the fake's request log unseen)" % lost)
        print()
        print("canaryd kube, empty cluster:          VmRSS %s, CPU %.3f s/s"
              % (mib(empty["VmRSS"]), empty_cpu_s))
        print("canaryd kube, %d canaries Initialized: VmRSS %s" % (n_init, mib(initialized["VmRSS"])))
        print("canaryd kube, %.0fs of ticks later:     VmRSS %s  peak (VmHWM) %s"
              % (wall_steady, mib(steady["VmRSS"]), mib(steady["VmHWM"])))
        per = (steady["VmRSS"] - empty["VmRSS"]) * 1024.0 / N
        print("cost per canary:                      %.1f KiB" % (per / 1024.0))
        print("fake API server holding the objects:  VmRSS %s" % mib(api_rss["VmRSS"]))
        print()
        print("initialization: %.0fs wall; canaryd CPU %.1fs (%.0f%% of the wall time), "
              "%.2f ms per canary initialized" % (wall_init, cpu_init, 100 * cpu_init / wall_init,
                                                  1000 * cpu_init / max(n_init, 1)))
        print("                API server busy %.0f%% of the wall time (CPU %.1fs; 100%% = saturated)"
              % (100 * api_cpu_init / wall_init, api_cpu_init))
        print("                canaryd's %d workers waited on the API server %.0f%% of the wall time "
              "(%.1f ms per request)" % (WORKERS, 100 * init_server_ms / 1000 / (WORKERS * wall_init),
                                         init_server_ms / max(sum(init_counts.values()), 1)))
        print("steady state:   %d ticks in %.0fs (%.0f/s); canaryd CPU %.2fs (%.0f%%), %.3f ms per tick"
              % (ticks, wall_steady, ticks / wall_steady, cpu_steady, 100 * cpu_steady / wall_steady,
                 1000 * cpu_steady / max(ticks, 1)))
        print("                API server busy %.0f%% of the wall time (CPU %.1fs)"
              % (100 * api_cpu_steady / wall_steady, api_cpu_steady))
        n_steady = max(sum(window.values()), 1)
        print("                canaryd's %d workers waited on the API server %.0f%% of the wall time "
              "(%.1f ms per request)" % (WORKERS, 100 * (steady_server_ms - init_server_ms) / 1000
                                         / (WORKERS * wall_steady),
                                         (steady_server_ms - init_server_ms) / n_steady))
        print("host: %d CPUs, load average %.1f (other processes share them)"
              % (os.cpu_count(), os.getloadavg()[0]))
        print()
        print("ratio canaryd(%d canaries) / canaryd(empty), RSS:     %.2fx"
              % (N, steady["VmRSS"] / empty["VmRSS"]))
        print("ratio canaryd(%d canaries) / canaryd(empty), CPU/s:   %.1fx"
              % (N, (cpu_steady / wall_steady) / max(empty_cpu_s, 1e-3)))
        print("ratio canaryd(%d canaries) / fake API server, RSS:    %.2fx"
              % (N, steady["VmRSS"] / api_rss["VmRSS"]))
        print("ratio canaryd / API server, CPU (initialization):   %.2fx"
              % (cpu_init / max(api_cpu_init, 1e-3)))
        if not init_s:
            sys.exit(1)
    finally:
        for p in procs:
            stop(p)
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
