"""kube_memory.py - memory of `canaryd kube` with N Canaries (default 1,000)
on the fake cluster (tests/fake-apiserver), measured in one run against
peers: the same canaryd watching an empty cluster, and the fake API server
holding the objects. Each Canary targets its own Deployment (provider
kubernetes, analysis every 30s); canaryd initializes all of them (primary
Deployment, three Services, status), then ticks them for a while. Prints
RSS (VmRSS) and peak RSS (VmHWM) at each stage, the cost per canary, and
the ratios.

Usage: kube_memory.py [BUILD_DIR] [N]   (python3 with Debian's python3-yaml)
"""
import json
import os
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


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])   # kB
    return out


def mib(kb):
    return "%.1f MiB" % (kb / 1024.0)


def deployment(i):
    n = "app-%04d" % i
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": n, "namespace": "bench", "labels": {"app": n}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": n}},
                     "template": {"metadata": {"labels": {"app": n}},
                                  "spec": {"containers": [{"name": "app", "image": "app:1",
                                                           "ports": [{"name": "http",
                                                                      "containerPort": 8080}]}]}}}}


def canary(i):
    n = "app-%04d" % i
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


def start_canaryd(kubeconfig, log):
    return subprocess.Popen([CANARYD, "kube", "-kubeconfig", kubeconfig, "-port", "0",
                             "-log-level", "warn", "-threadiness", "4", "-kubeconfig-qps", "2000",
                             "-kubeconfig-burst", "2000", "-metrics-server", "http://127.0.0.1:1"],
                            stdout=log, stderr=subprocess.STDOUT)


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
        # peer 1: canaryd on an empty cluster
        api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "bench"}})
        p = start_canaryd(kc, log)
        procs.append(p)
        time.sleep(5)
        empty = rss(p.pid)
        p.terminate()
        p.wait(20)

        t0 = time.time()
        create_all(api, [deployment(i) for i in range(N)], "/apis/apps/v1/namespaces/bench/deployments")
        create_all(api, [canary(i) for i in range(N)], "/apis/flagger.app/v1beta1/namespaces/bench/canaries")
        print("created %d Deployments and %d Canaries in %.1fs" % (N, N, time.time() - t0))

        p = start_canaryd(kc, log)
        procs.append(p)
        t0 = time.time()
        peak = {"VmRSS": 0, "VmHWM": 0}
        init_s = None
        while time.time() - t0 < 600:
            time.sleep(2)
            r = rss(p.pid)
            peak = {k: max(peak[k], r[k]) for k in peak}
            ph = phases(api)
            if ph.get("Initialized", 0) == N:
                init_s = time.time() - t0
                break
        initialized = rss(p.pid)
        print("all %d canaries Initialized after %.0fs" % (N, init_s) if init_s else
              "not all Initialized after 600s: %s" % json.dumps(phases(api)))
        # steady state: every canary ticks at least twice more
        time.sleep(65)
        steady = rss(p.pid)
        api_rss = rss(api.proc.pid)
        print()
        print("canaryd kube, empty cluster:          VmRSS %s" % mib(empty["VmRSS"]))
        print("canaryd kube, %d canaries Initialized: VmRSS %s" % (N, mib(initialized["VmRSS"])))
        print("canaryd kube, 65s of ticks later:     VmRSS %s  peak (VmHWM) %s"
              % (mib(steady["VmRSS"]), mib(steady["VmHWM"])))
        per = (steady["VmRSS"] - empty["VmRSS"]) * 1024.0 / N
        print("cost per canary:                      %.1f KiB" % (per / 1024.0))
        print("fake API server holding the objects:  VmRSS %s" % mib(api_rss["VmRSS"]))
        print()
        print("ratio canaryd(%d canaries) / canaryd(empty):     %.2fx" % (N, steady["VmRSS"] / empty["VmRSS"]))
        print("ratio canaryd(%d canaries) / fake API server:    %.2fx" % (N, steady["VmRSS"] / api_rss["VmRSS"]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        api.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
