#!/usr/bin/python3
"""kubelet.py - the kubelet of one Deployment for Flagger's e2e harness:
runs canaryd in place of the `flagger` Deployment that the scripts install
with `kubectl apply -k kustomize/kubernetes`.

It polls the fake API server until the Deployment exists, then creates one
Pod for it (name <deployment>-<hash>-<suffix>, the template's labels and
containers, phase Running, annotation fake-apiserver/log-file naming the
file canaryd logs to, so that `kubectl logs deployment/flagger` shows
canaryd's log) and starts `canaryd kube` with the container's args (a
leading `kube` dropped, as canaryd's own manifests carry it) plus the
kubeconfig and the metrics port the harness gives. SIGTERM stops canaryd
and exits; canaryd is also sent SIGTERM if this process dies otherwise.

Tests only: no restarts, no probes, one container.

usage: kubelet.py --api URL --kubeconfig F --canaryd BIN --log F --port N
                  [--namespace flagger-system] [--deployment flagger] [--container flagger]
"""
import argparse
import ctypes
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

child = None


def api(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", "User-Agent": "kubelet/stand-in"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def die_with_parent():
    """canaryd gets SIGTERM if this process dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def stop(*_):
    if child and child.poll() is None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    sys.exit(0)


def main():
    global child
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--canaryd", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", required=True)
    ap.add_argument("--namespace", default="flagger-system")
    ap.add_argument("--deployment", default="flagger")
    ap.add_argument("--container", default="flagger")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    base = "%s/apis/apps/v1/namespaces/%s/deployments/%s" % (a.api, a.namespace, a.deployment)
    while True:
        try:
            dep = api("GET", base)
            break
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    tmpl = dep["spec"]["template"]
    containers = [{"name": c["name"], "image": c.get("image", "")} for c in tmpl["spec"]["containers"]]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "%s-5c8d9f7b6d-x2k9q" % a.deployment, "namespace": a.namespace,
                        "labels": dict(tmpl["metadata"].get("labels") or {}),
                        "annotations": {"fake-apiserver/log-file": a.log}},
           "spec": {"containers": containers}}
    api("POST", "%s/api/v1/namespaces/%s/pods" % (a.api, a.namespace), pod)
    args = []
    for c in tmpl["spec"]["containers"]:
        if c["name"] == a.container:
            args = list(c.get("args") or [])
    if args[:1] == ["kube"]:
        args = args[1:]
    cmd = [a.canaryd, "kube"] + args + ["-kubeconfig", a.kubeconfig, "-port", a.port]
    with open(a.log, "ab") as log:
        log.write(("# kubelet stand-in: %s\n" % " ".join(cmd)).encode())
        log.flush()
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=die_with_parent)
    child.wait()
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
