"""test_fake_apiserver_schema.py - the fake API server's CRD validation
agrees with python3-jsonschema on the real CRDs: App Mesh objects as Flagger
generates them, Gateway API HTTPRoutes and every Flagger conformance
manifest against canaryd's CRDs are accepted by both; hundreds of random
mutations are accepted or refused by both alike; validate_crd.py (the tool
the operator's tests use on generated objects) reports invalid objects."""
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

SRC = os.environ.get("CANARYD_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("CANARYD_SHARED") or os.path.join(SRC, "..", "shared")
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
import jsonschema  # noqa: E402
import yaml  # noqa: E402

from fakekube import schema  # noqa: E402
from fakekube.testing import Checker  # noqa: E402
import validate_crd  # noqa: E402

t = Checker()
APPMESH = os.path.join(SHARED, "conformance", "crds", "appmesh")
GATEWAY = os.path.join(SHARED, "conformance", "crds", "gateway-api")
crds = validate_crd.load_crds([APPMESH, GATEWAY, os.path.join(SRC, "deploy", "crds")])

GENERATED = [
    {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualNode", "metadata": {"name": "podinfo-primary", "namespace": "test"},
     "spec": {"podSelector": {"matchLabels": {"app": "podinfo-primary"}},
              "listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}],
              "serviceDiscovery": {"dns": {"hostname": "podinfo-primary.test.svc.cluster.local"}},
              "backends": [{"virtualService": {"virtualServiceRef": {"name": "backend"}}}]}},
    {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualRouter", "metadata": {"name": "podinfo", "namespace": "test"},
     "spec": {"listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}],
              "routes": [{"name": "podinfo-route", "httpRoute": {
                  "match": {"prefix": "/"},
                  "action": {"weightedTargets": [{"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 90},
                                                 {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": 10}]},
                  "timeout": {"perRequest": {"unit": "ms", "value": 15000}},
                  "retryPolicy": {"httpRetryEvents": ["server-error", "gateway-error"], "maxRetries": 10,
                                  "perRetryTimeout": {"unit": "ms", "value": 5000}}}}]}},
    {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualService", "metadata": {"name": "podinfo", "namespace": "test"},
     "spec": {"awsName": "podinfo.test", "provider": {"virtualRouter": {"virtualRouterRef": {"name": "podinfo"}}}}},
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "podinfo", "namespace": "test"},
     "spec": {"parentRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
              "rules": [{"backendRefs": [{"name": "podinfo-primary", "port": 9898, "weight": 90},
                                         {"name": "podinfo-canary", "port": 9898, "weight": 10}]}]}},
]


def both(obj):
    """(walker causes, jsonschema errors) for obj."""
    sch = crds[(obj["apiVersion"], obj["kind"])]
    pruned, causes = schema.apply(obj, sch)
    errs = list(jsonschema.Draft4Validator(schema._to_draft4(sch)).iter_errors(pruned))
    return causes, errs


def mutate(o, rnd):
    o = copy.deepcopy(o)
    paths = []

    def walk(x, p):
        if isinstance(x, dict):
            for k, v in x.items():
                if not p and k in ("apiVersion", "kind", "metadata"):
                    continue
                paths.append(p + [k])
                walk(v, p + [k])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                paths.append(p + [i])
                walk(v, p + [i])
    walk(o, [])
    p = rnd.choice(paths)
    cur = o
    for k in p[:-1]:
        cur = cur[k]
    val = rnd.choice([None, "text", -5, 99999999, [], {}, True, 2.5, "DELETE"])
    if val == "DELETE":
        del cur[p[-1]]
    else:
        cur[p[-1]] = val
    return o


def main():
    for obj in GENERATED:
        causes, errs = both(obj)
        t.check("generated %s validates (walker and jsonschema)" % obj["kind"], not causes and not errs,
                (causes, [e.message for e in errs]))
    manifests = os.path.join(SHARED, "conformance", "flagger", "manifests")
    bad = []
    n = 0
    for fn in sorted(os.listdir(manifests)):
        with open(os.path.join(manifests, fn)) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or (doc.get("apiVersion"), doc.get("kind")) not in crds:
                    continue
                n += 1
                causes, errs = both(doc)
                if causes or errs:
                    bad.append((fn, causes[:2], [e.message for e in errs][:2]))
    t.check("all %d Flagger conformance manifests validate against canaryd's CRDs in the fake" % n,
            n >= 80 and not bad, bad[:3])
    rnd = random.Random(20261126)
    mismatches = []
    total = 0
    for obj in GENERATED:
        for _ in range(250):
            m = mutate(obj, rnd)
            causes, errs = both(m)
            total += 1
            if bool(causes) != bool(errs):
                mismatches.append((json.dumps(m["spec"])[:200], causes[:1], [e.message for e in errs][:1]))
    t.check("%d random mutations: the fake and jsonschema agree on every one" % total, not mismatches,
            mismatches[:3])
    # the command line tool
    tmp = tempfile.mkdtemp()
    good = os.path.join(tmp, "good.yaml")
    with open(good, "w") as f:
        yaml.safe_dump_all(GENERATED, f)
    broken = copy.deepcopy(GENERATED[1])
    broken["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] = 101
    broken["spec"]["routes"][0]["httpRoute"]["extra"] = 1
    badf = os.path.join(tmp, "bad.yaml")
    with open(badf, "w") as f:
        yaml.safe_dump(broken, f)
    tool = os.path.join(SRC, "tests", "fake-apiserver", "validate_crd.py")
    r = subprocess.run(["/usr/bin/python3", tool, APPMESH, GATEWAY, "--", good], capture_output=True, text=True)
    t.check("validate_crd.py: generated objects valid", r.returncode == 0 and r.stdout.count("valid ") == 4, r.stdout + r.stderr)
    r = subprocess.run(["/usr/bin/python3", tool, APPMESH, "--", badf], capture_output=True, text=True)
    t.check("validate_crd.py: a weight over 100 and an unknown field are reported", r.returncode == 1 and
            "weightedTargets[0].weight" in r.stdout and "unknown field" in r.stdout, r.stdout)
    t.finish()


if __name__ == "__main__":
    main()
