"""test_fake_apiserver_recordings.py - every response recorded from a real
kube-apiserver in shared/conformance/kube-api/ against what the fake API
server answers to the same request, made in the same order: the status
code, the response headers a client sees (names; Content-Type and
Cache-Control values), and the whole body, key order included, after
only what differs from run to run is masked (uids, resourceVersions,
timestamps, generated name suffixes, audit ids, IPs) - managedFields
included. The requests are the ones the recordings' README lists; the
session's objects are those of the recordings (a podinfo Deployment in
namespace rec, Flagger's Canary, a Lease, Events), on a fake playing v1.24
as the recorded server was.

What cannot be the same is named where the test allows it (ALLOWED): the
groups and versions the fake does not serve (03), the order of a CRD
group's resources (05: a real server lists them in its informer's map
order), the ReplicaSet hash in a condition message (08, 13, 15) and a
Table's AGE column, and the pods of 14 (a kubelet's; compared by shape).
28's watch framing is checked by test_fake_apiserver.py."""
import json
import os
import re
import sys
import time

SRC = os.environ.get("CANARYD_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARED = os.environ.get("CANARYD_SHARED") or os.path.join(SRC, "..", "shared")
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer  # noqa: E402

REC = os.path.join(SHARED, "conformance", "kube-api")
FLAGGER_CRD = os.path.join(SHARED, "conformance", "flagger", "crd.yaml")
APPMESH = os.path.join(SHARED, "conformance", "crds", "appmesh")
CURL = {"User-Agent": "curl/7.88.1"}
t = Checker()

D = "/apis/apps/v1/namespaces/rec/deployments"
C = "/apis/flagger.app/v1beta1/namespaces/rec/canaries"
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "podinfo", "labels": {"app": "podinfo"}},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                   "template": {"metadata": {"labels": {"app": "podinfo"}},
                                "spec": {"containers": [{"name": "podinfo",
                                                         "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                                                         "ports": [{"containerPort": 9898}]}]}}}}
CANARY = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
          "metadata": {"name": "podinfo", "finalizers": ["finalizer.flagger.app"]},
          "spec": {"provider": "appmesh:v1beta2", "unknownField": "pruned",
                   "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                   "service": {"port": 9898},
                   "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10}}}

VOLATILE_KEYS = {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "time",
                 "lastUpdateTime", "lastTransitionTime", "eventTime", "firstTimestamp",
                 "lastTimestamp", "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
                 "renewTime", "acquireTime", "clusterIP", "podIP", "hostIP", "startTime"}
GENERATED = re.compile(r"(podinfo[.-])[bcdfghjklmnpqrstvwxz2456789]{5}\b")
# ALLOWED: the Deployment controller names ReplicaSets after a hash of Go's
# dump of the pod template; the fake's hash has the same form, not the
# same value. A Table's AGE column depends on when the test runs.
TEMPLATE_HASH = re.compile(r"(ReplicaSet \\?\"podinfo-)[bcdfghjklmnpqrstvwxz2456789]{6,10}")
AGE = re.compile(r"^\d+[smhd]$")


def mask(o, key=None):
    if isinstance(o, dict):
        return {k: mask(v, k) for k, v in o.items()}
    if isinstance(o, list):
        if key == "managedFields":
            # ALLOWED: entries are ordered by their times (whole seconds),
            # which depend on when the test runs; compared in a fixed order
            o = sorted(o, key=lambda e: (e.get("operation", ""), e.get("manager", ""),
                                         e.get("apiVersion", ""), e.get("subresource", "")))
        return [mask(x, key) for x in o]
    if key in VOLATILE_KEYS and o not in (None, ""):
        return "<%s>" % key
    if isinstance(o, str):
        if key == "cells" and AGE.match(o):
            return "<age>"
        return TEMPLATE_HASH.sub(r"\1<hash>", GENERATED.sub(r"\1<suffix>", o))
    return o


def recorded(name):
    with open(os.path.join(REC, name + ".headers")) as f:
        lines = f.read().splitlines()
    code = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    with open(os.path.join(REC, name + ".body"), "rb") as f:
        body = f.read()
    return code, hdrs, body


# headers HTTP/2 over TLS shows that HTTP/1.1 does not, and per-connection ones
TRANSPORT = {"date", "content-length", "transfer-encoding", "connection", "keep-alive", "server"}


def compare(name, got, body_check=None):
    """got: (code, headers, raw body bytes) of the fake's answer."""
    rcode, rhdrs, rbody = recorded(name)
    code, hdrs, body = got
    t.check("%s: status %d" % (name, rcode), code == rcode, code)
    want_h = set(rhdrs) - TRANSPORT
    have_h = set(hdrs) - TRANSPORT
    t.check("%s: the same response headers (%s)" % (name, ", ".join(sorted(want_h))),
            want_h == have_h and all(hdrs.get(h) == rhdrs[h] for h in ("content-type", "cache-control")),
            {"missing": sorted(want_h - have_h), "extra": sorted(have_h - want_h),
             "content-type": hdrs.get("content-type"), "cache-control": hdrs.get("cache-control")})
    if name == "28-watch":
        return
    want = json.loads(rbody)
    have = json.loads(body)
    if body_check:
        want, have = body_check(want, have)
    a, b = json.dumps(mask(want), indent=1), json.dumps(mask(have), indent=1)
    t.check("%s: the body, key order and managedFields included" % name, a == b, diff(a, b))


def diff(a, b):
    import difflib
    return "\n".join(list(difflib.unified_diff(a.splitlines(), b.splitlines(), "recorded", "fake",
                                               n=2))[:80])


def req(s, method, path, body=None, ctype="application/json", headers=None):
    h = dict(CURL)
    h.update(headers or {})
    return s.request(method, path, body, ctype=ctype, headers=h, raw=True)


def session(s):
    compare("01-version", req(s, "GET", "/version"), lambda w, h: (
        {k: w[k] for k in ("major", "minor")}, {k: h[k] for k in ("major", "minor")}) if list(w) == list(h)
        else (list(w), list(h)))
    compare("02-api", req(s, "GET", "/api"), lambda w, h: (
        dict(w, serverAddressByClientCIDRs=None), dict(h, serverAddressByClientCIDRs=None)))
    compare("03-apis", req(s, "GET", "/apis"), served_groups)
    compare("04-apps-v1", req(s, "GET", "/apis/apps/v1"))
    compare("05-flagger-v1beta1", req(s, "GET", "/apis/flagger.app/v1beta1"), lambda w, h: (
        dict(w, resources=sorted(w["resources"], key=lambda r: r["name"])),
        dict(h, resources=sorted(h["resources"], key=lambda r: r["name"]))))
    s.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rec"}})
    s.control("controllers", {"paused": True})
    compare("06-create-deployment", req(s, "POST", D, DEPLOY))
    compare("07-create-again-conflict", req(s, "POST", D, DEPLOY))
    s.control("controllers", {"paused": False})
    s.wait_for(lambda: s.get(D + "/podinfo")[2].get("status", {}).get("availableReplicas") == 2 and
               len(s.get(D + "/podinfo")[2]["status"].get("conditions", [])) == 2, 30)
    time.sleep(0.5)
    s.control("controllers", {"paused": True})
    got = req(s, "GET", D + "/podinfo")
    compare("08-get-deployment", got)
    cur = json.loads(got[2])
    stale = dict(cur, metadata=dict(cur["metadata"], resourceVersion=str(int(cur["metadata"]["resourceVersion"]) - 1)))
    compare("09-update-stale-409", req(s, "PUT", D + "/podinfo", stale))
    compare("10-merge-patch", req(s, "PATCH", D + "/podinfo", {"spec": {"replicas": 0}},
                                  "application/merge-patch+json"))
    s.control("controllers", {"paused": False})
    s.wait_for(lambda: s.get(D + "/podinfo")[2].get("status", {}).get("observedGeneration") == 2, 30)
    time.sleep(0.5)
    s.control("controllers", {"paused": True})
    compare("11-strategic-merge-patch", req(s, "PATCH", D + "/podinfo", {"spec": {"template": {"spec": {
        "containers": [{"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.0.1"}]}}}},
        "application/strategic-merge-patch+json"))
    s.control("controllers", {"paused": False})      # the controller notes the new revision
    s.wait_for(lambda: s.get(D + "/podinfo")[2].get("status", {}).get("observedGeneration") == 3, 30)
    time.sleep(0.5)
    s.control("controllers", {"paused": True})
    compare("12-get-missing-404", req(s, "GET", D + "/nope"))
    compare("13-list-label-selector", req(s, "GET", D + "?labelSelector=app%3Dpodinfo&limit=10"))
    for name, phase in (("podinfo-running", "Running"), ("podinfo-pending", "Pending")):
        req(s, "POST", "/api/v1/namespaces/rec/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name}, "spec": {"containers": [{"name": "podinfo", "image": "i"}]}})
        req(s, "PATCH", "/api/v1/namespaces/rec/pods/%s/status" % name, {"status": {"phase": phase}},
            "application/merge-patch+json")
    compare("14-list-field-selector", req(s, "GET", "/api/v1/namespaces/rec/pods?fieldSelector="
                                                    "status.phase%3DRunning"), pod_list)
    compare("15-table", req(s, "GET", D + "?labelSelector=app%3Dpodinfo", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
                  "g=meta.k8s.io,application/json"}), lambda w, h: (w, h))
    bad = json.loads(json.dumps(CANARY))
    bad["spec"]["provider"] = "appmash"
    bad["spec"]["analysis"]["interval"] = "1 minute"
    compare("16-create-invalid-422", req(s, "POST", C, bad))
    compare("17-create-canary-unknown-field-pruned", req(s, "POST", C, CANARY))
    compare("18-status-subresource-merge-patch", req(s, "PATCH", C + "/podinfo/status", {
        "status": {"phase": "Initializing", "canaryWeight": 0, "failedChecks": 0}},
        "application/merge-patch+json"))
    compare("19-spec-change-via-status-ignored", req(s, "PATCH", C + "/podinfo/status", {
        "spec": {"analysis": {"threshold": 9}}}, "application/merge-patch+json"))
    compare("20-delete-with-finalizer", req(s, "DELETE", C + "/podinfo"))
    compare("21-get-terminating", req(s, "GET", C + "/podinfo"))
    compare("22-remove-finalizer", req(s, "PATCH", C + "/podinfo", {"metadata": {"finalizers": None}},
                                       "application/merge-patch+json"))
    compare("23-get-after-finalizer-removed", req(s, "GET", C + "/podinfo"))
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "canaryd-leader-election"},
             "spec": {"holderIdentity": "host_1234", "leaseDurationSeconds": 60,
                      "acquireTime": "2026-11-26T03:00:00.000000Z", "renewTime": "2026-11-26T03:00:00.000000Z",
                      "leaseTransitions": 0}}
    compare("24-create-lease", req(s, "POST", "/apis/coordination.k8s.io/v1/namespaces/rec/leases", lease))
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"generateName": "podinfo."},
          "eventTime": "2026-11-26T03:00:00.000000Z", "reportingController": "canaryd",
          "reportingInstance": "canaryd-1", "action": "Synced", "reason": "Synced",
          "regarding": {"kind": "Canary", "namespace": "rec", "name": "podinfo",
                        "apiVersion": "flagger.app/v1beta1"},
          "note": "Initialization done! podinfo.rec", "type": "Normal"}
    compare("25-create-event-bad-generatename-422",
            req(s, "POST", "/apis/events.k8s.io/v1/namespaces/rec/events", ev))
    ev["metadata"]["generateName"] = "podinfo-"
    compare("26-create-event-events-v1", req(s, "POST", "/apis/events.k8s.io/v1/namespaces/rec/events", ev))
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "podinfo."},
            "involvedObject": {"kind": "Canary", "namespace": "rec", "name": "podinfo",
                               "apiVersion": "flagger.app/v1beta1"},
            "reason": "Synced", "message": "Initialization done! podinfo.rec", "source": {"component": "canaryd"},
            "firstTimestamp": "2026-11-26T03:00:00Z", "lastTimestamp": "2026-11-26T03:00:00Z", "count": 1,
            "type": "Normal"}
    compare("27-create-event-core-v1", req(s, "POST", "/api/v1/namespaces/rec/events", core))
    compare("28-watch", req(s, "GET", D + "?watch=1&resourceVersion=1&allowWatchBookmarks=true&"
                                          "timeoutSeconds=1"))
    s.control("compact", {})
    compare("30-list-too-old", req(s, "GET", D + "?resourceVersion=2&resourceVersionMatch=Exact"))


def served_groups(want, have):
    """ALLOWED: the fake serves a subset of v1.24's groups and versions
    (one version of autoscaling, events, batch, policy). Compared: the
    order of the groups it serves, each one's versions in the recorded
    order and its preferred version; and it lists nothing the recording
    has not."""
    mine = {g["name"]: [v["version"] for v in g["versions"]] for g in have["groups"]}
    rec = {g["name"]: [v["version"] for v in g["versions"]] for g in want["groups"]}
    t.check("03-apis: every group version the fake lists is one a real v1.24 lists",
            all(g in rec and set(vs) <= set(rec[g]) for g, vs in mine.items()), mine)
    w = dict(want, groups=[dict(g, versions=[v for v in g["versions"] if v["version"] in mine[g["name"]]])
                           for g in want["groups"] if g["name"] in mine])
    return w, have


def pod_list(want, have):
    """ALLOWED: the recorded pods were made by a ReplicaSet and a kubelet;
    the fake has neither. Compared: the List envelope, that only Running
    pods are listed, and that each item has the keys of a real pod."""
    def shape(lst):
        return {"kind": lst["kind"], "apiVersion": lst["apiVersion"], "metadata": sorted(lst["metadata"]),
                "phases": sorted({i["status"]["phase"] for i in lst["items"]}),
                "item keys": sorted({k for i in lst["items"] for k in i}),
                "item metadata has": sorted({k for i in lst["items"] for k in i["metadata"]} &
                                            {"name", "namespace", "uid", "resourceVersion",
                                             "creationTimestamp", "managedFields"})}
    return shape(want), shape(have)


GROUPS = ("apps", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io", "flagger.app",
          "appmesh.k8s.aws", "autoscaling", "rbac.authorization.k8s.io", "networking.k8s.io",
          "policy", "batch")


def main():
    crds = ["--crd", FLAGGER_CRD] + [a for f in sorted(os.listdir(APPMESH)) for a in
                                     ("--crd", os.path.join(APPMESH, f))]
    with FakeApiServer("--kube-version", "v1.24.0", *crds) as s:
        session(s)
    t.finish()


if __name__ == "__main__":
    main()
