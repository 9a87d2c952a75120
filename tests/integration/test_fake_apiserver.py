"""test_fake_apiserver.py - the fake API server answers as the recordings of
a real kube-apiserver in shared/conformance/kube-api/ do (status codes,
Status objects, discovery, defaults, Table, watch framing, 410 after
compaction), and follows the API conventions canaryd relies on
(resourceVersion and 409, generation, status subresource, finalizers,
selectors, pagination, patches, garbage collection, fake controllers, fault
injection, TLS with client certificates and bearer tokens)."""
import json
import os
import re
import sys
import tempfile
import time

SRC = os.environ.get("CANARYD_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("CANARYD_SHARED") or os.path.join(SRC, "..", "shared")
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer, make_cert  # noqa: E402

REC = os.path.join(SHARED, "conformance", "kube-api")
FLAGGER_CRD = os.path.join(SHARED, "conformance", "flagger", "crd.yaml")
APPMESH = os.path.join(SHARED, "conformance", "crds", "appmesh")
t = Checker()


def rec(name):
    with open(os.path.join(REC, name + ".body")) as f:
        return json.load(f)


def rec_status(name):
    with open(os.path.join(REC, name + ".headers")) as f:
        return int(f.readline().split()[1])


def strip(o):
    """Drops what differs run to run: uid, times, resourceVersion, managedFields."""
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in (
            "uid", "creationTimestamp", "resourceVersion", "managedFields", "lastUpdateTime",
            "lastTransitionTime", "deletionTimestamp", "time")}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "podinfo", "labels": {"app": "podinfo"}},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}},
                   "template": {"metadata": {"labels": {"app": "podinfo"}},
                                "spec": {"containers": [{"name": "podinfo",
                                                         "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                                                         "ports": [{"containerPort": 9898}]}]}}}}
D = "/apis/apps/v1/namespaces/rec/deployments"
C = "/apis/flagger.app/v1beta1/namespaces/rec/canaries"
CANARY = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
          "metadata": {"name": "podinfo", "finalizers": ["finalizer.flagger.app"]},
          "spec": {"provider": "appmesh:v1beta2", "unknownField": "pruned",
                   "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                   "service": {"port": 9898},
                   "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10}}}


def discovery(s):
    code, hdr, v = s.get("/version", headers={"User-Agent": "curl/7.88.1"})
    t.check("version: 200 with the recorded keys", code == 200 and set(v) == set(rec("01-version")), v)
    code, _, api = s.get("/api")
    want = rec("02-api")
    t.check("/api: APIVersions with v1", code == 200 and api["kind"] == want["kind"]
            and api["versions"] == want["versions"] and "serverAddressByClientCIDRs" in api, api)
    code, _, apis = s.get("/apis")
    groups = {g["name"]: g for g in apis["groups"]}
    rgroups = {g["name"]: g for g in rec("03-apis")["groups"]}
    for g in ("apps", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io", "flagger.app",
              "appmesh.k8s.aws"):
        t.check("/apis lists %s with its preferred version" % g, g in groups and
                groups[g]["preferredVersion"] == rgroups[g]["preferredVersion"], groups.get(g))
    t.check("/apis: autoscaling prefers v2", groups["autoscaling"]["preferredVersion"]["version"] == "v2")
    code, _, apps = s.get("/apis/apps/v1")
    mine = {r["name"]: r for r in apps["resources"]}
    want = {r["name"]: r for r in rec("04-apps-v1")["resources"]}
    for name in ("deployments", "deployments/status", "deployments/scale", "daemonsets",
                 "daemonsets/status", "replicasets", "statefulsets"):
        t.check("apps/v1 resource %s as recorded" % name, mine.get(name) == want[name],
                (mine.get(name), want[name]))
    code, _, fl = s.get("/apis/flagger.app/v1beta1")
    mine = {r["name"]: r for r in fl["resources"]}
    want = {r["name"]: r for r in rec("05-flagger-v1beta1")["resources"]}
    t.check("flagger.app/v1beta1 resources as recorded (CRD registered at run time)",
            set(mine) == set(want) and all(
                {k: v for k, v in mine[n].items() if k != "verbs"} ==
                {k: v for k, v in want[n].items() if k != "verbs"}
                and sorted(mine[n]["verbs"]) == sorted(want[n]["verbs"]) for n in want), mine)
    code, _, g = s.get("/apis/flagger.app")
    t.check("APIGroup document", code == 200 and g["kind"] == "APIGroup" and g["name"] == "flagger.app")
    code, _, nf = s.get("/apis/nope.example.com/v1")
    t.check("unknown group version: 404 Status", code == 404 and nf.get("kind") == "Status")
    code, _, oa = s.get("/openapi/v3")
    t.check("openapi v3 root lists group versions", code == 200 and "apis/apps/v1" in oa["paths"])


def deployments(s):
    s.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rec"}})
    s.control("controllers", {"paused": True})
    code, hdr, d = s.post(D, DEPLOY, headers={"User-Agent": "curl/7.88.1"})
    r = rec("06-create-deployment")
    t.check("create deployment: 201 as recorded", code == rec_status("06-create-deployment"), code)
    t.check("create deployment: defaults as recorded", d["spec"] == r["spec"], (d["spec"], r["spec"]))
    t.check("create deployment: server-filled metadata", d["metadata"]["generation"] == 1 and
            re.match(r"^[0-9a-f-]{36}$", d["metadata"]["uid"]) and d["metadata"]["resourceVersion"].isdigit()
            and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d["metadata"]["creationTimestamp"]), d["metadata"])
    t.check("create deployment: empty status", d["status"] == {} and list(d)[:3] == ["kind", "apiVersion", "metadata"])
    t.check("pretty JSON for curl, as recorded", hdr.get("content-type") == "application/json")
    code, _, again = s.post(D, DEPLOY)
    t.check("create again: 409 AlreadyExists Status as recorded",
            code == 409 and strip(again) == strip(rec("07-create-again-conflict")), again)
    s.control("controllers", {"paused": False})
    got = s.wait_for(lambda: (lambda r: r[2] if r[2].get("status", {}).get("availableReplicas") == 2
                              and any(c["reason"] == "NewReplicaSetAvailable" for c in r[2]["status"].get(
                                  "conditions", [])) else None)(s.get(D + "/podinfo")))
    want = rec("08-get-deployment")
    t.check("controller: status filled as the Deployment controller does", got and
            {k: v for k, v in got["status"].items() if k != "conditions"} ==
            {k: v for k, v in want["status"].items() if k != "conditions"}, got and got["status"])
    t.check("controller: conditions Available/Progressing with the recorded reasons", got and
            sorted((c["type"], c["status"], c["reason"]) for c in got["status"]["conditions"]) ==
            sorted((c["type"], c["status"], c["reason"]) for c in want["status"]["conditions"]))
    t.check("controller: revision annotation", got and got["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "1")
    stale = dict(got)
    stale["metadata"] = dict(got["metadata"], resourceVersion=str(int(got["metadata"]["resourceVersion"]) - 1))
    code, _, body = s.put(D + "/podinfo", stale)
    t.check("update with a stale resourceVersion: 409 Conflict as recorded",
            code == 409 and strip(body) == strip(rec("09-update-stale-409")), body)
    code, _, p = s.patch(D + "/podinfo", {"spec": {"replicas": 0}})
    t.check("merge patch: generation bumped on a spec change", code == 200 and p["metadata"]["generation"] == 2
            and p["spec"]["replicas"] == 0, p.get("metadata"))
    code, _, p2 = s.patch(D + "/podinfo", {"metadata": {"labels": {"team": "a"}}})
    t.check("metadata-only change: generation unchanged", p2["metadata"]["generation"] == 2 and
            int(p2["metadata"]["resourceVersion"]) > int(p["metadata"]["resourceVersion"]))
    code, _, p3 = s.patch(D + "/podinfo", {"spec": {"template": {"spec": {"containers": [
        {"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.0.1"}]}}}}, "strategic")
    want = rec("11-strategic-merge-patch")
    t.check("strategic merge patch: containers merged by name as recorded",
            code == 200 and p3["spec"]["template"] == want["spec"]["template"], p3.get("spec"))
    code, _, p4 = s.patch(D + "/podinfo", {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "envoy:1", "env": [{"name": "A", "value": "1"}]}]}}}}, "strategic")
    cs = p4["spec"]["template"]["spec"]["containers"]
    t.check("strategic merge patch: a new name appends a container",
            [c["name"] for c in cs] == ["podinfo", "sidecar"] and cs[1]["imagePullPolicy"] == "IfNotPresent")
    code, _, p5 = s.patch(D + "/podinfo", {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "podinfo"}],
        "containers": [{"name": "sidecar", "$patch": "delete"}]}}}}, "strategic")
    t.check("strategic merge patch: $patch delete and $setElementOrder",
            [c["name"] for c in p5["spec"]["template"]["spec"]["containers"]] == ["podinfo"], p5)
    code, _, p6 = s.patch(D + "/podinfo", [{"op": "replace", "path": "/spec/replicas", "value": 1},
                                            {"op": "test", "path": "/spec/replicas", "value": 1}], "json")
    t.check("JSON patch", code == 200 and p6["spec"]["replicas"] == 1)
    code, _, bad = s.patch(D + "/podinfo", [{"op": "test", "path": "/spec/replicas", "value": 7}], "json")
    t.check("JSON patch: failed test op is refused and changes nothing", code == 422 and
            s.get(D + "/podinfo")[2]["spec"]["replicas"] == 1, bad)
    code, _, nf = s.get(D + "/nope", headers={"User-Agent": "curl/7.88.1"})
    t.check("get a missing object: 404 NotFound as recorded", code == 404 and nf == rec("12-get-missing-404"), nf)
    code, _, sc = s.get(D + "/podinfo/scale")
    t.check("scale subresource: Scale with selector", code == 200 and sc["kind"] == "Scale" and
            sc["spec"]["replicas"] == 1 and sc["status"]["selector"] == "app=podinfo", sc)
    code, _, sc = s.patch(D + "/podinfo/scale", {"spec": {"replicas": 3}})
    t.check("scale subresource: patch sets spec.replicas", code == 200 and
            s.get(D + "/podinfo")[2]["spec"]["replicas"] == 3)
    bad = json.loads(json.dumps(DEPLOY))
    bad["metadata"]["name"] = "mismatch"
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    code, _, inv = s.post(D, bad)
    t.check("selector not matching template labels: 422 Invalid", code == 422 and inv["reason"] == "Invalid"
            and inv["details"]["causes"][0]["field"] == "spec.template.metadata.labels", inv)
    # the fake's Deployment controller may write the status in between:
    # re-read on 409 Conflict and try again, as every client does
    for _ in range(10):
        sel = json.loads(json.dumps(s.get(D + "/podinfo")[2]))
        sel["spec"]["selector"] = {"matchLabels": {"app": "podinfo", "x": "y"}}
        sel["spec"]["template"]["metadata"]["labels"]["x"] = "y"
        code, _, inv = s.put(D + "/podinfo", sel)
        if code != 409:
            break
    t.check("selector is immutable", code == 422 and "field is immutable" in inv["message"], inv)
    code, _, inv = s.post(D, dict(DEPLOY, metadata={"name": "Bad_Name"}))
    t.check("invalid object name: 422 with the RFC 1123 message", code == 422 and
            "a lowercase RFC 1123 subdomain" in inv["message"], inv)
    code, _, inv = s.post("/apis/apps/v1/namespaces/nope/deployments", DEPLOY)
    t.check("create in a missing namespace: 404", code == 404 and inv["message"] == 'namespaces "nope" not found')


def lists(s):
    for i in range(5):
        d = json.loads(json.dumps(DEPLOY))
        d["metadata"] = {"name": "page-%d" % i, "labels": {"app": "page", "idx": str(i)}}
        d["spec"]["selector"]["matchLabels"] = {"app": "page"}
        d["spec"]["template"]["metadata"]["labels"] = {"app": "page"}
        s.post(D, d)
    code, _, l = s.get(D + "?labelSelector=app%3Dpodinfo&limit=10")
    w = rec("13-list-label-selector")
    t.check("list with a label selector: List shape as recorded", code == 200 and l["kind"] == w["kind"] and
            l["apiVersion"] == w["apiVersion"] and set(l["metadata"]) == set(w["metadata"]) and
            [i["metadata"]["name"] for i in l["items"]] == ["podinfo"] and "kind" not in l["items"][0], l["metadata"])
    code, _, l = s.get(D + "?labelSelector=app%20in%20(page),idx!=3")
    t.check("set-based selector", sorted(i["metadata"]["name"] for i in l["items"]) ==
            ["page-0", "page-1", "page-2", "page-4"])
    code, _, l = s.get(D + "?labelSelector=app=page&limit=2")
    names = [i["metadata"]["name"] for i in l["items"]]
    pages = 1
    while l["metadata"].get("continue"):
        code, _, l = s.get(D + "?labelSelector=app=page&limit=2&continue=" + l["metadata"]["continue"])
        names += [i["metadata"]["name"] for i in l["items"]]
        pages += 1
    t.check("pagination with limit and continue", names == ["page-%d" % i for i in range(5)] and pages == 3, names)
    code, _, bad = s.get(D + "?labelSelector=app%20in%20")
    t.check("bad label selector: 400", code == 400 and bad["reason"] == "BadRequest", bad)
    code, _, bad = s.get(D + "?fieldSelector=spec.replicas=1")
    t.check("unsupported field selector: 400", code == 400 and "field label not supported" in bad["message"], bad)
    for name, phase in (("p-running", "Running"), ("p-pending", "Pending")):
        s.post("/api/v1/namespaces/rec/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                               "spec": {"containers": [{"name": "c", "image": "i"}]}})
        s.patch("/api/v1/namespaces/rec/pods/%s/status" % name, {"status": {"phase": phase}})
    code, _, pl = s.get("/api/v1/namespaces/rec/pods?fieldSelector=status.phase%3DRunning")
    w = rec("14-list-field-selector")
    t.check("field selector on pods", code == 200 and pl["kind"] == w["kind"] and
            [p["metadata"]["name"] for p in pl["items"]] == ["p-running"], pl)
    code, _, tb = s.get(D + "?labelSelector=app%3Dpodinfo", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"})
    w = rec("15-table")
    t.check("Table: columns as recorded", code == 200 and tb["kind"] == "Table" and
            tb["columnDefinitions"] == w["columnDefinitions"], tb.get("columnDefinitions"))
    t.check("Table: row cells and PartialObjectMetadata", len(tb["rows"]) == 1 and
            tb["rows"][0]["cells"][0] == "podinfo" and len(tb["rows"][0]["cells"]) == 8 and
            tb["rows"][0]["object"]["kind"] == "PartialObjectMetadata", tb["rows"])
    s.request("DELETE", D + "?labelSelector=app%3Dpage")
    code, _, l = s.get(D + "?labelSelector=app%3Dpage")
    t.check("deletecollection by label", l["items"] == [], l)


def canaries(s):
    bad = json.loads(json.dumps(CANARY))
    bad["spec"]["provider"] = "appmash"
    bad["spec"]["analysis"]["interval"] = "1 minute"
    code, _, inv = s.post(C, bad)
    w = rec("16-create-invalid-422")
    t.check("CRD schema: 422 Invalid with every violation, as recorded",
            code == 422 and inv == w, inv)
    code, _, c = s.post(C, CANARY)
    w = rec("17-create-canary-unknown-field-pruned")
    t.check("CRD: unknown field pruned, finalizer kept, as recorded",
            code == 201 and strip(c) == strip(w), (strip(c), strip(w)))
    t.check("custom resource: keys sorted as Go marshals maps", list(c) == sorted(c) and
            list(c["metadata"]) == sorted(c["metadata"]))
    code, _, c2 = s.post(C + "?fieldValidation=Strict", dict(CANARY, metadata={"name": "strict"}))
    t.check("fieldValidation=Strict refuses unknown fields", code == 400 and
            'unknown field "spec.unknownField"' in c2["message"], c2)
    code, _, st = s.patch(C + "/podinfo/status", {"status": {"phase": "Initializing", "canaryWeight": 0,
                                                             "failedChecks": 0}})
    w = rec("18-status-subresource-merge-patch")
    t.check("status subresource: status written, as recorded", code == 200 and strip(st) == strip(w), st)
    code, _, st2 = s.patch(C + "/podinfo/status", {"spec": {"analysis": {"threshold": 9}}})
    t.check("spec change through /status ignored (same resourceVersion, generation)", code == 200 and
            st2["spec"]["analysis"]["threshold"] == 5 and st2["metadata"]["resourceVersion"] ==
            st["metadata"]["resourceVersion"] and st2["metadata"]["generation"] == 1)
    code, _, m = s.patch(C + "/podinfo", {"status": {"phase": "Failed"}})
    t.check("status change through the main resource ignored", m["status"]["phase"] == "Initializing")
    code, _, m = s.patch(C + "/podinfo", {"spec": {"analysis": {"threshold": 6}}}, "strategic")
    t.check("strategic merge patch on a custom resource: 415", code == 415 and m["reason"] == "UnsupportedMediaType", m)
    code, _, dl = s.delete(C + "/podinfo")
    w = rec("20-delete-with-finalizer")
    t.check("delete with a finalizer: deletionTimestamp set, generation bumped, as recorded",
            code == 200 and strip(dl) == strip(w) and dl["metadata"]["generation"] == 2, strip(dl))
    code, _, tg = s.get(C + "/podinfo")
    t.check("terminating object still readable", code == 200 and "deletionTimestamp" in tg["metadata"])
    code, _, nf = s.patch(C + "/podinfo", {"metadata": {"finalizers": ["another"]}})
    t.check("no new finalizers on a terminating object", code == 422, nf)
    code, _, rm = s.patch(C + "/podinfo", {"metadata": {"finalizers": None}})
    w = rec("22-remove-finalizer")
    t.check("removing the last finalizer deletes, as recorded", code == 200 and strip(rm) == strip(w), strip(rm))
    code, _, gone = s.get(C + "/podinfo", headers={"User-Agent": "curl/7.88.1"})
    t.check("gone after the last finalizer: 404 as recorded", code == 404 and
            gone == rec("23-get-after-finalizer-removed"), gone)


def leases_and_events(s):
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "canaryd-leader-election"},
             "spec": {"holderIdentity": "host_1234", "leaseDurationSeconds": 60,
                      "acquireTime": "2026-11-26T03:00:00.000000Z", "renewTime": "2026-11-26T03:00:00.000000Z",
                      "leaseTransitions": 0}}
    code, _, l = s.post("/apis/coordination.k8s.io/v1/namespaces/rec/leases", lease)
    t.check("lease create as recorded", code == 201 and strip(l) == strip(rec("24-create-lease")), strip(l))
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"generateName": "podinfo."},
          "eventTime": "2026-11-26T03:00:00.000000Z", "reportingController": "canaryd",
          "reportingInstance": "canaryd-1", "action": "Synced", "reason": "Synced",
          "regarding": {"kind": "Canary", "namespace": "rec", "name": "podinfo",
                        "apiVersion": "flagger.app/v1beta1"},
          "note": "Initialization done! podinfo.rec", "type": "Normal"}
    code, _, bad = s.post("/apis/events.k8s.io/v1/namespaces/rec/events", ev)
    w = rec("25-create-event-bad-generatename-422")
    norm = re.compile(r'podinfo\.[bcdfghjklmnpqrstvwxz2456789]{5}')
    t.check("events.k8s.io/v1: generateName ending in '.' is 422, as recorded", code == 422 and
            json.loads(norm.sub("X", json.dumps(bad))) == json.loads(norm.sub("X", json.dumps(w))), bad)
    ev["metadata"]["generateName"] = "podinfo-"
    code, _, e1 = s.post("/apis/events.k8s.io/v1/namespaces/rec/events", ev)
    w = rec("26-create-event-events-v1")
    t.check("events.k8s.io/v1 Event as recorded", code == 201 and
            {k: v for k, v in e1.items() if k != "metadata"} ==
            {k: v for k, v in w.items() if k != "metadata"}, e1)
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "podinfo."},
            "involvedObject": {"kind": "Canary", "namespace": "rec", "name": "podinfo",
                               "apiVersion": "flagger.app/v1beta1"},
            "reason": "Synced", "message": "Initialization done! podinfo.rec", "source": {"component": "canaryd"},
            "firstTimestamp": "2026-11-26T03:00:00Z", "lastTimestamp": "2026-11-26T03:00:00Z", "count": 1,
            "type": "Normal"}
    code, _, e2 = s.post("/api/v1/namespaces/rec/events", core)
    t.check("core v1 Event accepts generateName 'podinfo.'", code == 201 and e2["metadata"]["name"].startswith("podinfo."))
    code, _, l = s.get("/api/v1/namespaces/rec/events?fieldSelector=involvedObject.name%3Dpodinfo,involvedObject.kind%3DCanary")
    msgs = sorted(e["message"] for e in l["items"])
    t.check("both Events visible through core v1 (one storage)", len(l["items"]) == 2 and
            msgs == ["Initialization done! podinfo.rec"] * 2, l)
    code, _, l = s.get("/apis/events.k8s.io/v1/namespaces/rec/events")
    t.check("... and through events.k8s.io/v1 as regarding/note", all(
        e["regarding"]["name"] == "podinfo" and e["note"] for e in l["items"]), l)


def read_watch(s, path, timeout=30):
    c = s.conn(timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    body = r.read().decode()
    c.close()
    return r.status, hdrs, body


def watches(s):
    # watch from the collection's current resourceVersion (what clients do
    # after a list), restricted to podinfo: other objects of the namespace
    # (and the fake controllers' status writes) must not shift the stream
    code, _, d = s.get(D + "?fieldSelector=metadata.name%3Dpodinfo")
    rv = d["metadata"]["resourceVersion"]
    import threading
    result = {}

    def run():
        result["w"] = read_watch(s, D + "?watch=1&fieldSelector=metadata.name%%3Dpodinfo&resourceVersion=%s"
                                 "&allowWatchBookmarks=true&timeoutSeconds=3" % rv)
    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.3)
    s.patch(D + "/podinfo", {"spec": {"replicas": 1}})
    th.join(20)
    code, hdrs, body = result.get("w", (0, {}, ""))
    lines = [l for l in body.split("\n") if l]
    evs = [json.loads(l) for l in lines]
    t.check("watch: 200, chunked, application/json", code == 200 and hdrs.get("transfer-encoding") == "chunked"
            and hdrs.get("content-type") == "application/json", hdrs)
    t.check("watch: newline-delimited events as recorded", body.endswith("\n") and all(
        set(e) == {"type", "object"} for e in evs) and evs and evs[0]["type"] == "MODIFIED", lines[:2])
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs if e["type"] == "MODIFIED"]
    t.check("watch: resourceVersions increase", rvs == sorted(rvs) and len(set(rvs)) == len(rvs) and rvs[0] > int(rv))
    bms = [e for e in evs if e["type"] == "BOOKMARK"]
    w = [json.loads(l) for l in open(os.path.join(REC, "28-watch.body")) if l.strip()]
    wbm = [e for e in w if e["type"] == "BOOKMARK"][0]
    t.check("watch: BOOKMARK events carry only metadata.resourceVersion", bms and all(
        set(b["object"]["metadata"]) == set(wbm["object"]["metadata"]) and
        b["object"]["kind"] == wbm["object"]["kind"] for b in bms), bms[:1])
    t.check("watch: stream ended at timeoutSeconds (the request returned)", code == 200)
    code, _, body = read_watch(s, D + "?watch=1&labelSelector=app%3Dpodinfo&timeoutSeconds=1")
    evs = [json.loads(l) for l in body.split("\n") if l]
    t.check("watch without resourceVersion starts with ADDED for existing objects",
            [e["type"] for e in evs] == ["ADDED"] and evs[0]["object"]["metadata"]["name"] == "podinfo", evs)
    # label selector transitions
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("w", read_watch(
        s, D + "?watch=1&labelSelector=tier%3Dfront&timeoutSeconds=2&resourceVersion=" + s.get(D)[2]["metadata"]["resourceVersion"])))
    th.start()
    time.sleep(0.3)
    s.patch(D + "/podinfo", {"metadata": {"labels": {"tier": "front"}}})
    s.patch(D + "/podinfo", {"metadata": {"labels": {"tier": None}}})
    th.join(20)
    types = [json.loads(l)["type"] for l in result["w"][2].split("\n") if l]
    types = [x for i, x in enumerate(types) if i == 0 or x != types[i - 1] or x != "MODIFIED"]
    t.check("watch with a selector: ADDED when an object starts matching, DELETED when it stops",
            types[:1] == ["ADDED"] and "DELETED" in types, types)
    # compaction
    compacted = s.control("compact")["compacted"]
    code, _, body = read_watch(s, D + "?watch=1&resourceVersion=%d" % (compacted - 3))
    ev = json.loads(body.split("\n")[0])
    t.check("watch from a compacted resourceVersion: ERROR event with a 410 Expired Status",
            code == 200 and ev["type"] == "ERROR" and ev["object"]["code"] == 410 and
            ev["object"]["reason"] == "Expired", ev)
    code, _, l = s.get(D + "?resourceVersion=%d&resourceVersionMatch=Exact" % (compacted - 3),
                       headers={"User-Agent": "curl/7.88.1"})
    t.check("list at a compacted resourceVersion: 410 as recorded", code == 410 and l == rec("30-list-too-old"), l)
    code, _, l = s.get(D + "?resourceVersion=%d&resourceVersionMatch=Exact" % compacted)
    t.check("list at an exact, retained resourceVersion", code == 200 and l["metadata"]["resourceVersion"] == str(compacted))
    # cut
    result = {}

    def cut_run():
        try:
            result["w"] = read_watch(s, D + "?watch=1&timeoutSeconds=20")
        except Exception as e:
            result["err"] = e
    th = threading.Thread(target=cut_run)
    th.start()
    s.wait_for(lambda: s.control("watches", method="GET")["watches"])
    n = s.control("cut-watches")["cut"]
    th.join(20)
    t.check("cut-watches drops the connection without the final chunk", n == 1 and "err" in result and
            not th.is_alive(), result)


def gc_and_namespaces(s):
    code, _, owner = s.post("/api/v1/namespaces/rec/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                  "metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    s.post("/api/v1/namespaces/rec/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "dep", "ownerReferences": [ref]}})
    s.delete("/api/v1/namespaces/rec/configmaps/owner")
    gone = s.wait_for(lambda: s.get("/api/v1/namespaces/rec/configmaps/dep")[0] == 404, timeout=10)
    t.check("garbage collection: dependents of a deleted owner are deleted", gone)
    code, _, owner = s.post("/api/v1/namespaces/rec/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                  "metadata": {"name": "owner2"}})
    ref["uid"], ref["name"] = owner["metadata"]["uid"], "owner2"
    s.post("/api/v1/namespaces/rec/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "dep2", "ownerReferences": [ref]}})
    s.delete("/api/v1/namespaces/rec/configmaps/owner2", {"propagationPolicy": "Orphan"})
    orphaned = s.wait_for(lambda: s.get("/api/v1/namespaces/rec/configmaps/owner2")[0] == 404, timeout=10)
    code, _, dep2 = s.get("/api/v1/namespaces/rec/configmaps/dep2")
    t.check("orphan propagation keeps dependents without the ownerReference",
            orphaned and code == 200 and "ownerReferences" not in dep2["metadata"], dep2)
    s.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    s.post("/api/v1/namespaces/doomed/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    code, _, ns = s.delete("/api/v1/namespaces/doomed")
    t.check("namespace deletion: Terminating", ns["status"]["phase"] == "Terminating", ns)
    code, _, forb = s.post("/api/v1/namespaces/doomed/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                    "metadata": {"name": "late"}})
    t.check("no new content in a terminating namespace: 403", code in (403, 404), forb)
    t.check("namespace and its content removed", s.wait_for(
        lambda: s.get("/api/v1/namespaces/doomed")[0] == 404 and
        s.get("/api/v1/namespaces/doomed/configmaps/c")[0] == 404, timeout=10))


def rollouts_and_faults(s):
    d = json.loads(json.dumps(DEPLOY))
    d["metadata"] = {"name": "slow", "labels": {"app": "slow"}}
    d["spec"]["selector"]["matchLabels"] = {"app": "slow"}
    d["spec"]["template"]["metadata"]["labels"] = {"app": "slow"}
    d["spec"]["progressDeadlineSeconds"] = 1
    d["spec"]["replicas"] = 1
    s.post(D, d)
    s.wait_for(lambda: s.get(D + "/slow")[2].get("status", {}).get("availableReplicas") == 1)
    s.control("stall", {"namespace": "rec", "name": "slow", "image": ":v3"})
    s.patch(D + "/slow", {"spec": {"template": {"spec": {"containers": [{"name": "podinfo", "image": "p:v3"}]}}}},
            "strategic")

    def exceeded():
        st = s.get(D + "/slow")[2].get("status", {})
        return st if any(c["type"] == "Progressing" and c["reason"] == "ProgressDeadlineExceeded" and
                         c["status"] == "False" for c in st.get("conditions", [])) else None
    st = s.wait_for(exceeded, timeout=15)
    t.check("stalled rollout: ProgressDeadlineExceeded after progressDeadlineSeconds, old pod still available",
            st and st.get("updatedReplicas") == 1 and st.get("availableReplicas") == 1 and
            st.get("readyReplicas") == 1 and st.get("replicas") == 2, st)
    s.control("stall", {"namespace": "rec", "name": "slow", "image": ":v3", "stall": False})
    st = s.wait_for(lambda: (lambda x: x if x.get("updatedReplicas") == 1 and x.get("replicas") == 1 and
                             x.get("availableReplicas") == 1 else None)(s.get(D + "/slow")[2].get("status", {})))
    t.check("unstalled rollout completes", bool(st), st)
    s.patch(D + "/slow", {"spec": {"replicas": 0}})
    st = s.wait_for(lambda: (lambda x: x if "replicas" not in x and x.get("observedGeneration") ==
                             s.get(D + "/slow")[2]["metadata"]["generation"] else None)(
        s.get(D + "/slow")[2].get("status", {})))
    t.check("scaled to zero: replica counts omitted as the real controller does", bool(st), st)
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
          "spec": {"selector": {"matchLabels": {"app": "ds"}},
                   "template": {"metadata": {"labels": {"app": "ds"}},
                                "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}
    s.post("/apis/apps/v1/namespaces/rec/daemonsets", ds)
    st = s.wait_for(lambda: (lambda x: x if x.get("numberReady") == 2 else None)(
        s.get("/apis/apps/v1/namespaces/rec/daemonsets/ds")[2].get("status", {})))
    t.check("daemonset: scheduled on every fake node", st and st["desiredNumberScheduled"] == 2 and
            st["updatedNumberScheduled"] == 2, st)
    s.patch("/apis/apps/v1/namespaces/rec/daemonsets/ds", {"spec": {"template": {"spec": {
        "nodeSelector": {"flagger.app/scale-to-zero": "true"}}}}})
    st = s.wait_for(lambda: (lambda x: x if x.get("desiredNumberScheduled") == 0 and x.get("numberReady") == 0
                             else None)(s.get("/apis/apps/v1/namespaces/rec/daemonsets/ds")[2].get("status", {})))
    t.check("daemonset: a node selector no node matches scales it to zero", st is not None, st)
    # error storms
    s.control("errors", {"code": 500, "count": 3, "verbs": ["get"]})
    codes = [s.get(D + "/podinfo")[0] for _ in range(4)]
    t.check("error storm: the next 3 gets fail with 500, then the server recovers", codes == [500, 500, 500, 200], codes)
    s.control("errors", {"code": 429, "count": 1})
    code, hdrs, body = s.get(D)
    t.check("429 with Retry-After", code == 429 and hdrs.get("retry-after") == "1" and
            body["reason"] == "TooManyRequests", (code, hdrs))
    s.control("errors", {"code": 503, "seconds": 0.5, "path": "/deployments"})
    c1 = s.get(D)[0]
    c2 = s.get("/api/v1/namespaces/rec/configmaps")[0]
    time.sleep(0.6)
    c3 = s.get(D)[0]
    t.check("timed error storm filtered by path", (c1, c2, c3) == (503, 200, 200), (c1, c2, c3))
    s.control("conflicts", {"first_write": True})
    cur = s.get(D + "/podinfo")[2]
    cur["metadata"]["labels"]["round"] = "1"
    c1, _, e1 = s.put(D + "/podinfo", cur)
    c2, _, _ = s.put(D + "/podinfo", cur)
    fresh = s.get(D + "/podinfo")[2]
    fresh["metadata"]["labels"]["round"] = "1"
    c3, _, _ = s.put(D + "/podinfo", fresh)
    c4, _, _ = s.patch(D + "/podinfo/status", {"status": {"observedGeneration": 99}})
    c5, _, _ = s.patch(D + "/podinfo/status", {"status": {"observedGeneration": 99}})
    s.control("conflicts", {"first_write": False})
    t.check("409 on the first write of each object: blind retry fails, re-read succeeds",
            (c1, c2, c3) == (409, 409, 200) and e1["reason"] == "Conflict", (c1, c2, c3))
    t.check("409 on the first write of a subresource too", (c4, c5) == (409, 200), (c4, c5))
    st = s.control("state", method="GET")
    t.check("fault counters in /fake/state", st["errorsInjected"] >= 5 and st["conflictsInjected"] >= 2, st)
    reqs = s.control("requests", method="GET")["requests"]
    t.check("request log records method, path, verb and status", any(
        r["method"] == "PUT" and r["code"] == 409 and r["verb"] == "update" for r in reqs))


def replicasets(s):
    """A Deployment's ReplicaSets as kube-controller-manager keeps them
    (what `rollout history`, `rollout undo` and canaryctl rollback read)."""
    RS = "/apis/apps/v1/namespaces/rec/replicasets"
    d = json.loads(json.dumps(DEPLOY))
    d["metadata"] = {"name": "hist", "labels": {"app": "hist"}, "annotations": {"team": "a"}}
    d["spec"]["selector"]["matchLabels"] = {"app": "hist"}
    d["spec"]["template"]["metadata"]["labels"] = {"app": "hist"}
    d["spec"]["revisionHistoryLimit"] = 1
    s.post(D, d)

    def image(img):
        s.patch(D + "/hist", {"spec": {"template": {"spec": {"containers": [
            {"name": "podinfo", "image": img}]}}}}, "strategic")

    def owned():
        items = s.get(RS)[2].get("items", [])
        return {i["spec"]["template"]["spec"]["containers"][0]["image"]: i for i in items
                if any(r.get("name") == "hist" and r.get("controller") for r in
                       i["metadata"].get("ownerReferences") or [])}

    def settled(img, n):
        def f():
            rs = owned()
            new = rs.get(img) or {}
            olds = [r for k, r in rs.items() if k != img]
            return rs if (new.get("status") or {}).get("readyReplicas") == 2 and len(rs) == n and \
                all(r["spec"]["replicas"] == 0 for r in olds) else None
        return s.wait_for(f, timeout=15)
    rs = settled("ghcr.io/stefanprodan/podinfo:6.0.0", 1)
    r1 = (rs or {}).get("ghcr.io/stefanprodan/podinfo:6.0.0") or {"metadata": {}, "spec": {}}
    h = r1["metadata"].get("labels", {}).get("pod-template-hash", "")
    ann = r1["metadata"].get("annotations") or {}
    t.check("replicaset: <deployment>-<pod-template-hash>, the hash in its labels, selector and "
            "template", h and r1["metadata"]["name"] == "hist-" + h and
            r1["spec"]["selector"]["matchLabels"] == {"app": "hist", "pod-template-hash": h} and
            r1["spec"]["template"]["metadata"]["labels"] == {"app": "hist", "pod-template-hash": h},
            r1["metadata"])
    t.check("replicaset: owned by the Deployment (controller, blockOwnerDeletion)",
            [(o["kind"], o["name"], o.get("controller"), o.get("blockOwnerDeletion"))
             for o in r1["metadata"].get("ownerReferences", [])] == [("Deployment", "hist", True, True)])
    t.check("replicaset: the Deployment's annotations, revision 1, desired 2, max 3 (maxSurge 25%)",
            ann == {"team": "a", "deployment.kubernetes.io/revision": "1",
                    "deployment.kubernetes.io/desired-replicas": "2",
                    "deployment.kubernetes.io/max-replicas": "3"}, ann)
    image("p:v2")
    settled("p:v2", 2)
    image("p:v3")
    rs = settled("p:v3", 2) or {}
    revs = {k: (v["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
            for k, v in rs.items()}
    t.check("revisionHistoryLimit 1: v1's ReplicaSet deleted, v2 (revision 2, 0 replicas) and v3 "
            "(revision 3) kept", revs == {"p:v2": "2", "p:v3": "3"}, revs)
    image("p:v2")
    rs = settled("p:v2", 2) or {}
    a2 = (rs.get("p:v2") or {}).get("metadata", {}).get("annotations") or {}
    dep = s.get(D + "/hist")[2]
    t.check("an older template back: its ReplicaSet reused at revision 4, revision-history 2, the "
            "Deployment at revision 4",
            a2.get("deployment.kubernetes.io/revision") == "4" and
            a2.get("deployment.kubernetes.io/revision-history") == "2" and
            dep["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == "4",
            (a2, dep["metadata"].get("annotations")))
    s.patch(D + "/hist", {"spec": {"replicas": 0}})

    def at_zero():
        r = owned().get("p:v2") or {}
        a = r.get("metadata", {}).get("annotations") or {}
        return r if r.get("spec", {}).get("replicas") == 0 and \
            a.get("deployment.kubernetes.io/desired-replicas") == "0" else None
    r = s.wait_for(at_zero, timeout=15)
    t.check("scaled to zero: the ReplicaSet at 0 with desired-replicas 0, max-replicas 0",
            r is not None and r["metadata"]["annotations"].get("deployment.kubernetes.io/max-replicas") == "0" and
            (owned().get("p:v3") or {}).get("metadata", {}).get("annotations", {}).get(
                "deployment.kubernetes.io/desired-replicas") == "2", r and r["metadata"].get("annotations"))
    s.delete(D + "/hist")
    t.check("deleting the Deployment collects its ReplicaSets",
            s.wait_for(lambda: not owned() or None, timeout=15) is not None, list(owned()))


def crds_at_runtime(s):
    import yaml
    for fn in sorted(os.listdir(APPMESH)):
        with open(os.path.join(APPMESH, fn)) as f:
            crd = yaml.safe_load(f)
        code, _, out = s.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        t.check("register %s (meshes preloaded with --crd: AlreadyExists)" % fn,
                code == 201 or (code == 409 and "meshes" in fn), out)
    code, _, crd = s.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualnodes.appmesh.k8s.aws")
    t.check("CRD established", code == 200 and any(c["type"] == "Established" and c["status"] == "True"
                                                   for c in crd["status"]["conditions"]))
    code, _, rl = s.get("/apis/appmesh.k8s.aws/v1beta2")
    names = {r["name"] for r in rl["resources"]}
    t.check("App Mesh resources discoverable after POSTing the CRDs",
            {"virtualnodes", "virtualrouters", "virtualservices", "meshes"} <= names, names)
    vn = {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "VirtualNode", "metadata": {"name": "podinfo"},
          "spec": {"listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}],
                   "serviceDiscovery": {"dns": {"hostname": "podinfo.rec.svc.cluster.local"}}}}
    code, _, v = s.post("/apis/appmesh.k8s.aws/v1beta2/namespaces/rec/virtualnodes", vn)
    t.check("a valid VirtualNode is accepted", code == 201, v)
    vn["metadata"]["name"] = "bad"
    vn["spec"]["listeners"][0]["portMapping"]["protocol"] = "ftp"
    code, _, v = s.post("/apis/appmesh.k8s.aws/v1beta2/namespaces/rec/virtualnodes", vn)
    t.check("an invalid VirtualNode is refused by the App Mesh schema", code == 422 and
            v["details"]["causes"][0]["field"] == "spec.listeners[0].portMapping.protocol", v)
    with open(os.path.join(SHARED, "conformance", "crds", "gateway-api", "gateway.networking.k8s.io_httproutes.yaml")) as f:
        gw = yaml.safe_load(f)
    code, _, out = s.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", gw)
    t.check("Gateway API HTTPRoute CRD registers", code == 201, out)
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "podinfo"},
             "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [
                 {"name": "podinfo-primary", "port": 9898, "weight": 90},
                 {"name": "podinfo-canary", "port": 9898, "weight": 10}]}]}}
    code, _, r = s.post("/apis/gateway.networking.k8s.io/v1/namespaces/rec/httproutes", route)
    t.check("an HTTPRoute validates and gets the schema's defaults", code == 201 and
            r["spec"]["rules"][0]["matches"][0]["path"] == {"type": "PathPrefix", "value": "/"}, r)
    s.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualnodes.appmesh.k8s.aws")
    code, _, _ = s.get("/apis/appmesh.k8s.aws/v1beta2/namespaces/rec/virtualnodes/podinfo")
    t.check("deleting a CRD removes its resources", code == 404)


def tls_and_auth():
    tmp = tempfile.mkdtemp(prefix="fake-tls-")
    ca = make_cert(tmp, "ca", "fake-ca")
    srv = make_cert(tmp, "server", "127.0.0.1", ca=ca, server=True)
    cli = make_cert(tmp, "client", "canaryd", ca=ca)
    with FakeApiServer("--client-ca", ca[0], "--token", "s3cret:robot", tls_cert=srv[0], tls_key=srv[1],
                       ca=ca[0]) as s:
        code, _, body = s.get("/api/v1/namespaces")
        t.check("TLS: anonymous request is 401 Unauthorized", code == 401 and body["reason"] == "Unauthorized", body)
        code, _, body = s.get("/api/v1/namespaces", headers={"Authorization": "Bearer wrong"})
        t.check("TLS: wrong bearer token is 401", code == 401)
        code, _, body = s.get("/api/v1/namespaces", headers={"Authorization": "Bearer s3cret"})
        t.check("TLS: bearer token accepted", code == 200 and body["kind"] == "NamespaceList")
        s.client_cert, s.client_key = cli
        code, _, body = s.get("/api/v1/namespaces")
        t.check("TLS: client certificate accepted", code == 200)
        reqs = s.control("requests", method="GET")["requests"]
        t.check("TLS: identities logged (token user, certificate CN)",
                [r["user"] for r in reqs if r["code"] == 200] == ["robot", "cert:canaryd"], reqs)


def main():
    with FakeApiServer("--crd", FLAGGER_CRD, "--crd", os.path.join(APPMESH, "appmesh.k8s.aws_meshes.yaml"),
                       "--nodes", "2", "--step", "0.05", "--bookmark-interval", "0.5") as s:
        discovery(s)
        deployments(s)
        lists(s)
        canaries(s)
        leases_and_events(s)
        watches(s)
        gc_and_namespaces(s)
        rollouts_and_faults(s)
        replicasets(s)
        crds_at_runtime(s)
    tls_and_auth()
    t.finish()


if __name__ == "__main__":
    main()
