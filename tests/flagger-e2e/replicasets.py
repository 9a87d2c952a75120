#!/usr/bin/python3
"""replicasets.py - the Pods of the Deployments of one namespace, for
Flagger's e2e scripts that read them (test/nginx/test-lifecycle.sh takes
`kubectl get pods -l app=podinfo-primary` and compares the
pod-template-hash label before and after a step, to tell whether the
primary was rolled again).

The fake API server runs Deployments' pods as counters, with no Pod
objects; this stand-in does what the ReplicaSet controller and the kubelet
do for the scripts to see: for every Deployment of the namespace with a
ready replica, one Pod named <deployment>-<hash>-<suffix> carrying the
template's labels and pod-template-hash (the fake's own template hash, so
it changes exactly when the template does); a Pod of an older template,
or of a Deployment scaled to zero or gone, is deleted.

Tests only: one Pod per Deployment whatever its replicas, no containers
run, it trusts the API server it is given.

usage: replicasets.py --api URL [--namespace test] [--period 1]
"""
import argparse
import json
import os
import random
import string
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake-apiserver"))
from fakekube.controllers import template_hash  # noqa: E402

MARK = "fake-apiserver/stand-in-replicaset"


def api(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "replicaset/stand-in"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def sync(base, ns):
    deps = api("GET", "%s/apis/apps/v1/namespaces/%s/deployments" % (base, ns)).get("items") or []
    pods = api("GET", "%s/api/v1/namespaces/%s/pods" % (base, ns)).get("items") or []
    ours = {}
    for p in pods:
        owner = ((p.get("metadata") or {}).get("annotations") or {}).get(MARK)
        if owner:
            ours.setdefault(owner, []).append(p)
    want = {}
    for d in deps:
        if (d.get("status") or {}).get("readyReplicas", 0) > 0:
            want[d["metadata"]["name"]] = d
    for owner, ps in ours.items():
        d = want.get(owner)
        h = template_hash(d["spec"]["template"]) if d else None
        for p in ps:
            if p["metadata"].get("labels", {}).get("pod-template-hash") != h:
                try:
                    api("DELETE", "%s/api/v1/namespaces/%s/pods/%s" % (base, ns, p["metadata"]["name"]))
                except urllib.error.HTTPError:
                    pass
    for name, d in want.items():
        tpl = d["spec"]["template"]
        h = template_hash(tpl)
        if any(p["metadata"].get("labels", {}).get("pod-template-hash") == h for p in ours.get(name, [])):
            continue
        labels = dict((tpl.get("metadata") or {}).get("labels") or {})
        labels["pod-template-hash"] = h
        suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        containers = [{"name": c["name"], "image": c.get("image", "")}
                      for c in (tpl.get("spec") or {}).get("containers") or []]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "%s-%s-%s" % (name, h, suffix), "namespace": ns, "labels": labels,
                            "annotations": {MARK: name}},
               "spec": {"containers": containers}}
        try:
            api("POST", "%s/api/v1/namespaces/%s/pods" % (base, ns), pod)
        except urllib.error.HTTPError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--namespace", default="test")
    ap.add_argument("--period", type=float, default=1)
    a = ap.parse_args()
    base = a.api.rstrip("/")
    while True:
        try:
            sync(base, a.namespace)
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
        time.sleep(a.period)


if __name__ == "__main__":
    main()
