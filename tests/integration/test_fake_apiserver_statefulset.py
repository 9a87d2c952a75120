"""test_fake_apiserver_statefulset.py - the fake API server's StatefulSet
controller follows kube-controller-manager's documented partitioned-update
semantics, which canaryd's StatefulSet support relies on, as the Kubernetes
documentation's StatefulSet page describes them (Rolling Updates,
Partitioned rolling updates, Maximum unavailable Pods, On Delete):

- pods <name>-<ordinal> are created in order, labelled
  controller-revision-hash, statefulset.kubernetes.io/pod-name and
  apps.kubernetes.io/pod-index, owned by the StatefulSet;
- a ControllerRevision per template (data.spec.template with
  $patch: replace, revision numbers), reused when a template comes back;
- with a partition P, only ordinals >= P are updated, from the highest
  down, one at a time; currentRevision stays the old one and
  currentReplicas / updatedReplicas count each side; pods below P that are
  deleted come back at currentRevision;
- when every pod is updated and ready, currentRevision = updateRevision;
- maxUnavailable N updates up to N pods at once;
- OnDelete updates nothing by itself, and a deleted pod comes back at
  updateRevision.
"""
import os
import sys
import time

SRC = os.environ.get("CANARYD_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer  # noqa: E402

NS = "default"
STS = "/apis/apps/v1/namespaces/default/statefulsets"


def sts(name, replicas, image, strategy=None):
    o = {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": name, "namespace": NS},
         "spec": {"replicas": replicas, "serviceName": name,
                  "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}}}
    if strategy:
        o["spec"]["updateStrategy"] = strategy
    return o


def main():
    t = Checker()
    with FakeApiServer("--step", "0.25") as s:   # slow enough to watch each pod action
        def get(name):
            return s.get(STS + "/" + name)[2]

        def status(name):
            return get(name).get("status") or {}

        def pods(name):
            items = s.get("/api/v1/namespaces/default/pods")[2].get("items") or []
            out = {}
            for p in items:
                lab = p["metadata"].get("labels") or {}
                if lab.get("app") == name:
                    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                                for c in (p.get("status") or {}).get("conditions") or [])
                    out[int(lab.get("apps.kubernetes.io/pod-index", -1))] = (
                        lab.get("controller-revision-hash"), ready, p)
            return out

        def settled(name, n):
            st = status(name)
            return st.get("readyReplicas") == n and st.get("replicas") == n

        def set_image(name, image, partition=None):
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
            if partition is not None:
                patch["spec"]["updateStrategy"] = {"rollingUpdate": {"partition": partition}}
            return s.patch(STS + "/" + name, patch, ptype="strategic")[0]

        # ---- creation ------------------------------------------------------------
        s.post(STS, sts("db", 4, "db:1"))
        t.check("4 pods become ready", s.wait_for(lambda: settled("db", 4), 30), status("db"))
        st = status("db")
        rev1 = st.get("currentRevision")
        t.check("currentRevision = updateRevision = db-<hash>",
                rev1 and rev1 == st.get("updateRevision") and rev1.startswith("db-"), st)
        t.check("currentReplicas = updatedReplicas = 4",
                st.get("currentReplicas") == 4 and st.get("updatedReplicas") == 4, st)
        p = pods("db")
        t.check("pods db-0..db-3 at rev1, labelled as the controller does",
                sorted(p) == [0, 1, 2, 3] and all(v[0] == rev1 for v in p.values()) and
                p[2][2]["metadata"]["name"] == "db-2" and
                p[2][2]["metadata"]["labels"].get("statefulset.kubernetes.io/pod-name") == "db-2",
                {k: v[0] for k, v in p.items()})
        owner = (p[0][2]["metadata"].get("ownerReferences") or [{}])[0]
        t.check("pods are owned by the StatefulSet (controller)",
                owner.get("kind") == "StatefulSet" and owner.get("controller") is True, owner)
        crs = s.get("/apis/apps/v1/namespaces/default/controllerrevisions")[2].get("items") or []
        cr = [c for c in crs if c["metadata"]["name"] == rev1]
        t.check("a ControllerRevision rev1 (revision 1, data.spec.template, $patch replace)",
                len(cr) == 1 and cr[0].get("revision") == 1 and
                cr[0]["data"]["spec"]["template"].get("$patch") == "replace", cr)

        # ---- partitioned update ------------------------------------------------------
        t.check("patch: db:2 with partition 2", set_image("db", "db:2", 2) == 200)

        def partial():
            st, p = status("db"), pods("db")
            return st.get("updatedReplicas") == 2 and settled("db", 4) and \
                all(p[i][0] == st.get("updateRevision") for i in (2, 3))
        t.check("ordinals 3 and 2 update (updatedReplicas 2)", s.wait_for(partial, 30),
                (status("db"), {k: v[0] for k, v in pods("db").items()}))
        st = status("db")
        rev2 = st.get("updateRevision")
        t.check("updateRevision is new; currentRevision stays rev1; currentReplicas 2",
                rev2 != rev1 and st.get("currentRevision") == rev1 and st.get("currentReplicas") == 2, st)
        p = pods("db")
        t.check("ordinals 0 and 1 still run rev1", p[0][0] == rev1 and p[1][0] == rev1,
                {k: v[0] for k, v in p.items()})
        s.delete("/api/v1/namespaces/default/pods/db-0")
        t.check("a deleted pod below the partition comes back at currentRevision",
                s.wait_for(lambda: pods("db").get(0, (None, False))[:2] == (rev1, True), 20),
                pods("db").get(0))

        # the order: db-3 first, then db-2 (watch the order on a fresh set)
        s.post(STS, sts("ord", 3, "o:1"))
        s.wait_for(lambda: settled("ord", 3), 30)
        seen = []
        ord1 = status("ord").get("updateRevision")

        def track():
            st, p = status("ord"), pods("ord")
            if st.get("updateRevision") == ord1:
                return False    # the controller has not seen the new template yet
            upd = [i for i in sorted(p) if p[i][0] == st.get("updateRevision")]
            if upd and (not seen or seen[-1] != upd):
                seen.append(upd)
            return st.get("updatedReplicas") == 3 and settled("ord", 3)
        set_image("ord", "o:2")
        t.check("partition 0: every pod updates", s.wait_for(track, 30, interval=0.01), seen)
        t.check("from the highest ordinal down, one at a time", seen == [[2], [1, 2], [0, 1, 2]], seen)
        st = status("ord")
        t.check("all updated and ready: currentRevision = updateRevision",
                s.wait_for(lambda: status("ord").get("currentRevision") == status("ord").get("updateRevision"), 10),
                st)

        # ---- promotion of db: partition 0; then a template back to rev1 --------------
        s.patch(STS + "/db", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
                ptype="strategic")
        t.check("partition 0: db completes, currentRevision = rev2",
                s.wait_for(lambda: status("db").get("currentRevision") == rev2 and
                           status("db").get("updatedReplicas") == 4 and settled("db", 4), 30), status("db"))
        s.patch(STS + "/db", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 4}}}},
                ptype="strategic")
        set_image("db", "db:1")
        t.check("the old template again reuses rev1 as updateRevision",
                s.wait_for(lambda: status("db").get("updateRevision") == rev1, 10), status("db"))
        crs = s.get("/apis/apps/v1/namespaces/default/controllerrevisions")[2].get("items") or []
        revs = {c["metadata"]["name"]: c.get("revision") for c in crs if c["metadata"]["name"].startswith("db-")}
        t.check("...with its revision number raised above rev2's", revs.get(rev1, 0) > revs.get(rev2, 0), revs)
        time.sleep(1)
        t.check("partition 4 (= replicas): no pod updates", status("db").get("updatedReplicas", 0) == 0 and
                all(v[0] == rev2 for v in pods("db").values()), status("db"))

        # ---- maxUnavailable ------------------------------------------------------------
        s.post(STS, sts("mu", 4, "m:1", {"type": "RollingUpdate",
                                          "rollingUpdate": {"partition": 0, "maxUnavailable": 2}}))
        s.wait_for(lambda: settled("mu", 4), 30)
        most = [0]
        mu1 = status("mu").get("updateRevision")

        def watch_mu():
            if status("mu").get("updateRevision") == mu1:
                return False
            p = pods("mu")
            most[0] = max(most[0], sum(1 for v in p.values() if not v[1]))
            return status("mu").get("updatedReplicas") == 4 and settled("mu", 4)
        set_image("mu", "m:2")
        t.check("maxUnavailable 2: completes", s.wait_for(watch_mu, 30, interval=0.01), status("mu"))
        t.check("...with two pods updating at once", most[0] == 2, most[0])

        # ---- OnDelete ---------------------------------------------------------------------
        s.post(STS, sts("od", 2, "d:1", {"type": "OnDelete"}))
        s.wait_for(lambda: settled("od", 2), 30)
        od1 = status("od").get("currentRevision")
        set_image("od", "d:2")
        time.sleep(1)
        st = status("od")
        t.check("OnDelete: nothing updates by itself", st.get("updatedReplicas", 0) == 0 and
                st.get("updateRevision") != od1, st)
        s.delete("/api/v1/namespaces/default/pods/od-1")
        t.check("OnDelete: a deleted pod comes back at updateRevision",
                s.wait_for(lambda: pods("od").get(1, (None, False))[:2] == (status("od").get("updateRevision"), True), 20),
                pods("od").get(1))
        t.check("OnDelete: updatedReplicas 1, currentRevision unchanged",
                s.wait_for(lambda: status("od").get("updatedReplicas") == 1, 10) and
                status("od").get("currentRevision") == od1, status("od"))

        # ---- deletion: the pods go with the StatefulSet ----------------------------------
        s.delete(STS + "/ord")
        t.check("deleting the StatefulSet removes its pods (GC)",
                s.wait_for(lambda: not pods("ord"), 20), list(pods("ord")))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
