"""test_kube_canaryctl_rollback.py - `canaryctl rollback NAME` on the fake
cluster (docs/rollback.md): the previous promoted revision is found where
`kubectl rollout undo` finds it (a Deployment's ReplicaSets, a
StatefulSet's ControllerRevisions) and written back into the target;
`canaryd kube` then promotes it through its instant-rollback path.

- the fake keeps a Deployment's ReplicaSets as kube-controller-manager
  does: one per template, <name>-<pod-template-hash>, revision
  annotations, owned by the Deployment; `kubectl rollout history` reads
  them (checked with the real kubectl);
- Deployment web: web:2 analysed and promoted; `canaryctl rollback web`
  puts web:1 back (its ReplicaSet named in the output): the "Instant
  rollback" Event and one naming who ("Rollback requested by u"), Succeeded, the primary on web:1, no analysis ran; the
  ReplicaSet of web:1 is reused at revision 3 (revision-history 1), as the
  controller does;
- a second rollback goes to web:2 (now the previous promoted one);
- a release in flight (web:3, held before promotion by `canaryctl hold`):
  `canaryctl rollback` puts the primary's revision back and the release
  ends at once (no gate asked), Succeeded on web:2;
- refused, exit 2 and nothing written: a canary without
  spec.rollbackWindow; a revision whose ReplicaSet the controller deleted
  (revisionHistoryLimit 0); exit 1: no such canary;
- StatefulSet db: db:2 promoted through its partition steps, then
  `canaryctl rollback db` restores db:1's template from its
  ControllerRevision: instant rollback (partition 0 at once), every pod
  back on db:1's revision;
- DaemonSet agent: agent:2 promoted, `canaryctl rollback agent` restores
  agent:1's template from its ControllerRevision (the fake keeps them as
  the daemon controller does), the target keeping Flagger's scale-to-zero
  node selector: instant rollback, the primary on agent:1;
- every request canaryctl made is granted by the canaryctl ClusterRole of
  docs/kubectl-plugin.md.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import BUILD, SRC, Checker, Cluster, image_of, parse_path, wait_until  # noqa: E402

NS = "apps"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: apps}
spec:
  provider: kubernetes
  rollbackWindow: {revisions: 3, maxAge: 24h}
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service: {port: 80, targetPort: 8080}
  analysis: {interval: 1m, threshold: 2, iterations: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec:
      containers: [{name: plain, image: "plain:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: plain, namespace: apps}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: plain}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 2, iterations: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: short, namespace: apps}
spec:
  replicas: 1
  revisionHistoryLimit: 0
  selector: {matchLabels: {app: short}}
  template:
    metadata: {labels: {app: short}}
    spec:
      containers: [{name: short, image: "short:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: short, namespace: apps}
spec:
  provider: kubernetes
  rollbackWindow: {revisions: 2}
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: short}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 2, iterations: 1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: db, namespace: apps}
spec:
  rollbackWindow: {revisions: 2}
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  service: {port: 5432}
  analysis: {interval: 1m, threshold: 2, stepWeight: 50, maxWeight: 50}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {name: agent}}
  template:
    metadata: {labels: {name: agent}}
    spec:
      containers: [{name: agent, image: "agent:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: agent, namespace: apps}
spec:
  provider: kubernetes
  rollbackWindow: {revisions: 2}
  targetRef: {apiVersion: apps/v1, kind: DaemonSet, name: agent}
  service: {port: 9100}
  analysis: {interval: 1m, threshold: 2, iterations: 1}
"""


def status(c, name):
    return (c.canary(NS, name) or {}).get("status") or {}


def count(c, name, text):
    _, _, body = c.api.get("/apis/events.k8s.io/v1/namespaces/%s/events" % NS)
    return sum(max((e.get("series") or {}).get("count") or 0, e.get("deprecatedCount") or 0, 1)
               for e in (body or {}).get("items", [])
               if (e.get("regarding") or {}).get("name") == name and text in (e.get("note") or ""))


def canaryctl(c, *args):
    r = subprocess.run([os.path.join(BUILD, "canaryctl")] + list(args) +
                       ["--kubeconfig", c.kubeconfig, "-n", NS],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def replicasets(c, name):
    j = c.get_api("/apis/apps/v1/namespaces/%s/replicasets" % NS) or {}
    return {i["metadata"]["name"]: i for i in j.get("items") or []
            if any(r.get("name") == name and r.get("kind") == "Deployment" and r.get("controller")
                   for r in i["metadata"].get("ownerReferences") or [])}


def ann(o, key):
    return ((o.get("metadata") or {}).get("annotations") or {}).get(key)


def check_replicasets(t, c):
    """The fake's ReplicaSets of web after web:1 and web:2."""
    rs = replicasets(c, "web")
    revs = sorted((ann(r, "deployment.kubernetes.io/revision"), image_of({"spec": r["spec"]}))
                  for r in rs.values())
    t.check("fake: web has one ReplicaSet per template, revisions 1 (web:1) and 2 (web:2)",
            revs == [("1", "web:1"), ("2", "web:2")], revs)
    ok = all(r["metadata"]["name"] == "web-" + r["metadata"]["labels"].get("pod-template-hash", "?")
             and r["spec"]["selector"]["matchLabels"].get("pod-template-hash") ==
             r["spec"]["template"]["metadata"]["labels"].get("pod-template-hash")
             for r in rs.values())
    t.check("fake: ReplicaSet name, selector and template carry pod-template-hash", ok,
            [r["metadata"]["name"] for r in rs.values()])
    dep = c.get("deployment", NS, "web") or {}
    t.check("fake: the Deployment's revision annotation is its new ReplicaSet's",
            ann(dep, "deployment.kubernetes.io/revision") == "2", ann(dep, "deployment.kubernetes.io/revision"))
    hist = c.kubectl("-n", NS, "rollout", "history", "deployment/web", check=False)
    rows = [ln.split()[0] for ln in hist.stdout.splitlines()[2:] if ln.strip()]
    t.check("kubectl rollout history reads revisions 1 and 2 from them", rows == ["1", "2"],
            hist.stdout + hist.stderr)


def deployment_part(t, c):
    t.check("web: Initialized", wait_until(lambda: c.phase(NS, "web") == "Initialized", 60),
            c.phase(NS, "web"))
    rev1 = status(c, "web").get("lastPromotedSpec")
    c.kubectl("-n", NS, "set", "image", "deployment/web", "web=web:2")
    t.check("web:2: Progressing", wait_until(lambda: c.phase(NS, "web") == "Progressing", 30),
            c.phase(NS, "web"))
    t.check("web:2: Succeeded", wait_until(lambda: c.phase(NS, "web") == "Succeeded", 60),
            c.phase(NS, "web"))
    rev2 = status(c, "web").get("lastPromotedSpec")
    t.check("web:2 went through the analysis", count(c, "web", "Advance web.apps canary iteration") >= 2)
    check_replicasets(t, c)

    iters = count(c, "web", "Advance web.apps canary iteration")
    new_rev = count(c, "web", "New revision detected")
    rc, out = canaryctl(c, "rollback", "web")
    t.check("canaryctl rollback web: exit 0, names revision and ReplicaSet",
            rc == 0 and rev1 in out and "ReplicaSet web-" in out and "revision 1" in out, (rc, out))
    t.check("the target runs web:1 again", image_of(c.get("deployment", NS, "web")) == "web:1")
    instant = "Instant rollback of web.apps to revision %s promoted " % rev1
    t.check("the Instant rollback Event", wait_until(lambda: count(c, "web", instant) == 1, 30),
            c.events(NS, "web")[-5:])
    who = "Rollback requested by u (canaryctl rollback): the last promoted revision of web.apps " \
          "was put back into its target"
    t.check("an Event names who rolled back (annotation canaryd.io/rollback, then removed)",
            wait_until(lambda: count(c, "web", who) == 1 and "canaryd.io/rollback" not in
                       ((c.canary(NS, "web") or {}).get("metadata", {}).get("annotations") or {}), 30),
            (c.events(NS, "web")[-5:], (c.canary(NS, "web") or {}).get("metadata", {}).get("annotations")))
    t.check("Succeeded, the primary on web:1",
            wait_until(lambda: c.phase(NS, "web") == "Succeeded" and
                       image_of(c.get("deployment", NS, "web-primary")) == "web:1", 15),
            (c.phase(NS, "web"), image_of(c.get("deployment", NS, "web-primary"))))
    time.sleep(2)
    t.check("no analysis ran for the rollback",
            count(c, "web", "Advance web.apps canary iteration") == iters and
            count(c, "web", "New revision detected") == new_rev, c.events(NS, "web")[-6:])
    t.check("status: lastPromotedSpec is web:1's, history web:1, web:2",
            status(c, "web").get("lastPromotedSpec") == rev1 and
            [e.get("revision") for e in status(c, "web").get("promotedRevisions") or []][:2] == [rev1, rev2],
            status(c, "web"))
    rs1 = [r for r in replicasets(c, "web").values() if image_of({"spec": r["spec"]}) == "web:1"]
    t.check("fake: web:1's ReplicaSet reused at revision 3, revision-history 1",
            len(rs1) == 1 and ann(rs1[0], "deployment.kubernetes.io/revision") == "3" and
            ann(rs1[0], "deployment.kubernetes.io/revision-history") == "1",
            [r["metadata"].get("annotations") for r in rs1])

    rc, out = canaryctl(c, "rollback", "web")
    t.check("a second rollback goes to web:2", rc == 0 and rev2 in out, (rc, out))
    again = "Instant rollback of web.apps to revision %s promoted " % rev2
    t.check("...instantly", wait_until(lambda: count(c, "web", again) == 1 and
                                       image_of(c.get("deployment", NS, "web-primary")) == "web:2", 30),
            c.events(NS, "web")[-5:])

    # a release in flight, waiting at a closed promotion gate
    rc, out = canaryctl(c, "hold", "web")
    t.check("hold web", rc == 0, out)
    c.kubectl("-n", NS, "set", "image", "deployment/web", "web=web:3")
    t.check("web:3 waits in WaitingPromotion",
            wait_until(lambda: c.phase(NS, "web") == "WaitingPromotion", 60), c.phase(NS, "web"))
    rc, out = canaryctl(c, "rollback", "web")
    t.check("rollback during the release: back to the primary's revision (web:2)",
            rc == 0 and rev2 in out, (rc, out))
    t.check("...the release ends at once: a second Instant rollback to web:2, Succeeded",
            wait_until(lambda: count(c, "web", again) == 2 and c.phase(NS, "web") == "Succeeded", 30),
            (c.phase(NS, "web"), c.events(NS, "web")[-5:]))
    t.check("...web:3 never promoted: primary and target on web:2",
            image_of(c.get("deployment", NS, "web-primary")) == "web:2" and
            image_of(c.get("deployment", NS, "web")) == "web:2")
    rc, out = canaryctl(c, "resume", "web")
    t.check("resume web (the hold released)", rc == 0, out)


def refusals(t, c):
    t.check("plain: Initialized", wait_until(lambda: c.phase(NS, "plain") == "Initialized", 60))
    before = (c.get("deployment", NS, "plain") or {}).get("metadata", {}).get("resourceVersion")
    rc, out = canaryctl(c, "rollback", "plain")
    t.check("no spec.rollbackWindow: exit 2, says why", rc == 2 and "rollbackWindow" in out, (rc, out))
    t.check("...and the Deployment is untouched",
            (c.get("deployment", NS, "plain") or {}).get("metadata", {}).get("resourceVersion") == before)
    t.check("short: Initialized", wait_until(lambda: c.phase(NS, "short") == "Initialized", 60))
    c.kubectl("-n", NS, "set", "image", "deployment/short", "short=short:2")
    t.check("short:2: Succeeded", wait_until(
        lambda: c.phase(NS, "short") == "Succeeded" and
        image_of(c.get("deployment", NS, "short-primary")) == "short:2", 60), c.phase(NS, "short"))
    t.check("fake: revisionHistoryLimit 0 keeps only the current ReplicaSet",
            wait_until(lambda: len(replicasets(c, "short")) == 1, 15), list(replicasets(c, "short")))
    before = (c.get("deployment", NS, "short") or {}).get("metadata", {}).get("resourceVersion")
    rc, out = canaryctl(c, "rollback", "short")
    t.check("its previous ReplicaSet is gone: exit 2, names revisionHistoryLimit",
            rc == 2 and "revisionHistoryLimit" in out, (rc, out))
    t.check("...and the Deployment is untouched",
            (c.get("deployment", NS, "short") or {}).get("metadata", {}).get("resourceVersion") == before)
    rc, out = canaryctl(c, "rollback", "nosuch")
    t.check("no such canary: exit 1", rc == 1 and "not found" in out, (rc, out))


def statefulset_part(t, c):
    def sts():
        return c.get("statefulset", NS, "db") or {}

    def pods_revs():
        j = c.get_api("/api/v1/namespaces/%s/pods" % NS) or {}
        return sorted((p["metadata"]["name"], p["metadata"]["labels"].get("controller-revision-hash"))
                      for p in j.get("items") or [] if p["metadata"]["name"].startswith("db-"))

    t.check("db: Initialized", wait_until(lambda: c.phase(NS, "db") == "Initialized", 60),
            c.phase(NS, "db"))
    rev1 = status(c, "db").get("lastPromotedSpec")
    cr1 = (sts().get("status") or {}).get("currentRevision")
    c.kubectl("-n", NS, "set", "image", "statefulset/db", "db=db:2")
    t.check("db:2: Succeeded after its steps",
            wait_until(lambda: c.phase(NS, "db") == "Succeeded" and
                       status(c, "db").get("lastPromotedSpec") != rev1, 90), c.phase(NS, "db"))
    steps = count(c, "db", "Advance db.apps canary weight")
    rc, out = canaryctl(c, "rollback", "db")
    t.check("canaryctl rollback db: from its ControllerRevision",
            rc == 0 and rev1 in out and "ControllerRevision db-" in out, (rc, out))
    instant = "Instant rollback of db.apps to revision %s promoted " % rev1
    t.check("db: the Instant rollback Event", wait_until(lambda: count(c, "db", instant) == 1, 30),
            c.events(NS, "db")[-5:])
    t.check("db: every pod back on db:1's revision, currentRevision db:1's",
            wait_until(lambda: pods_revs() == [("db-0", cr1), ("db-1", cr1)] and
                       (sts().get("status") or {}).get("currentRevision") == cr1 and
                       c.phase(NS, "db") == "Succeeded", 60),
            (pods_revs(), sts().get("status"), c.phase(NS, "db")))
    t.check("db: no analysis step ran for the rollback",
            count(c, "db", "Advance db.apps canary weight") == steps, c.events(NS, "db")[-6:])
    t.check("db: the target runs db:1", image_of(sts()) == "db:1")


def daemonset_part(t, c):
    def ds(name):
        return c.get("daemonset", NS, name) or {}

    def node_selector(o):
        return ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}

    t.check("agent: Initialized", wait_until(lambda: c.phase(NS, "agent") == "Initialized", 60),
            c.phase(NS, "agent"))
    rev1 = status(c, "agent").get("lastPromotedSpec")
    c.kubectl("-n", NS, "set", "image", "daemonset/agent", "agent=agent:2")
    t.check("agent:2: Succeeded",
            wait_until(lambda: c.phase(NS, "agent") == "Succeeded" and
                       image_of(ds("agent-primary")) == "agent:2", 60), c.phase(NS, "agent"))
    crs = c.get_api("/apis/apps/v1/namespaces/%s/controllerrevisions" % NS) or {}
    mine = [r for r in crs.get("items") or [] if any(
        o.get("kind") == "DaemonSet" and o.get("name") == "agent"
        for o in r["metadata"].get("ownerReferences") or [])]
    t.check("fake: the DaemonSet's ControllerRevisions, labelled controller-revision-hash",
            len(mine) >= 2 and all(r["metadata"]["labels"].get("controller-revision-hash") ==
                                   r["metadata"]["name"][len("agent-"):] for r in mine),
            [(r["metadata"]["name"], r.get("revision")) for r in mine])
    t.check("agent is scaled to zero by Flagger's node selector",
            node_selector(ds("agent")).get("flagger.app/scale-to-zero") == "true", node_selector(ds("agent")))
    rc, out = canaryctl(c, "rollback", "agent")
    t.check("canaryctl rollback agent: from its ControllerRevision",
            rc == 0 and rev1 in out and "ControllerRevision agent-" in out, (rc, out))
    t.check("agent: the target runs agent:1 and stays scaled to zero",
            image_of(ds("agent")) == "agent:1" and
            node_selector(ds("agent")).get("flagger.app/scale-to-zero") == "true", ds("agent").get("spec"))
    instant = "Instant rollback of agent.apps to revision %s promoted " % rev1
    t.check("agent: the Instant rollback Event, the primary on agent:1",
            wait_until(lambda: count(c, "agent", instant) == 1 and c.phase(NS, "agent") == "Succeeded" and
                       image_of(ds("agent-primary")) == "agent:1", 30),
            (c.phase(NS, "agent"), c.events(NS, "agent")[-5:]))
    t.check("agent: the primary has no scale-to-zero node selector",
            "flagger.app/scale-to-zero" not in node_selector(ds("agent-primary")))


def documented_role():
    """The rules of the canaryctl ClusterRole in docs/kubectl-plugin.md."""
    import yaml
    text = open(os.path.join(SRC, "docs/kubectl-plugin.md")).read()
    for block in text.split("```yaml")[1:]:
        d = yaml.safe_load(block.split("```")[0])
        if isinstance(d, dict) and d.get("kind") == "ClusterRole" and \
                (d.get("metadata") or {}).get("name") == "canaryctl":
            return d["rules"]
    return []


def rbac_part(t, c):
    rules = documented_role()
    _, _, log = c.api.get("/fake/requests")
    entries = log.get("requests", log) if isinstance(log, dict) else log
    used, denied = set(), set()
    for e in entries:
        if "canaryctl" not in e.get("userAgent", ""):
            continue
        pr = parse_path(e["path"])
        if not pr or pr == ("authentication.k8s.io", "selfsubjectreviews"):
            continue    # who the user is (hold): allowed to every authenticated user
        key = (pr[0], pr[1], e["verb"])
        used.add(key)
        if not any(pr[0] in r.get("apiGroups", []) and pr[1] in r.get("resources", []) and
                   e["verb"] in r.get("verbs", []) for r in rules):
            denied.add(key)
    t.check("canaryctl rollback used list on replicasets and controllerrevisions, update on "
            "deployments and statefulsets",
            {("apps", "replicasets", "list"), ("apps", "controllerrevisions", "list"),
             ("apps", "deployments", "update"), ("apps", "statefulsets", "update")} <= used,
            sorted(used))
    t.check("...all granted by docs/kubectl-plugin.md's canaryctl ClusterRole", rules and not denied,
            sorted(denied))


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(MANIFESTS)
        c.start_operator("-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1")
        deployment_part(t, c)
        refusals(t, c)
        statefulset_part(t, c)
        daemonset_part(t, c)
        rbac_part(t, c)
    finally:
        if t.failed:
            print(c.operator_log()[-3000:])
        c.close()
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
