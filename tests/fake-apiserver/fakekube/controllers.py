"""controllers.py - a fake kubelet and controller-manager: one thread that
moves Deployments' and DaemonSets' status the way the real controllers do
(observedGeneration, replicas, updatedReplicas, readyReplicas,
availableReplicas, unavailableReplicas, the Progressing and Available
conditions, ProgressDeadlineExceeded after progressDeadlineSeconds, the
revision annotation), keeps a Deployment's ReplicaSets as the
deployment controller does (see _replicasets) and a DaemonSet's
ControllerRevisions as the daemon controller does, runs StatefulSets' pods with the partitioned
RollingUpdate (see _statefulset), completes ReplicaSets and HPAs, stands in
for Knative Serving's controller and KEDA's operator when their CRDs are
installed (knative.py, keda.py), finishes
namespace deletion, and garbage-collects dependents by ownerReferences
(background, foreground and orphan). Pods are not created: readiness is
simulated with counters, one pod step at a time. A rollout stalls (new pods
never become ready) when the Deployment carries the annotation
fake-apiserver/stall: "true" or a /fake/stall rule matches it.

With thousands of objects the loop must not rescan them all every tick:
the store tells it every change (Store.listeners), and it only visits
the workloads that changed or are still rolling out, and garbage-collects
only after a change that can give the collector work (a deletion, a
deletionTimestamp, an ownerReference to a uid that does not exist). A
full pass as before runs every FULL_PASS_S seconds anyway; skipping a
settled workload or a needless collection never changes what is written."""
import json
import threading
import time

from .keda import Keda
from .knative import KnativeServing
from .util import now_rfc3339

FULL_PASS_S = 10.0
WORKLOADS = {("apps", "deployments"): "Deployment", ("apps", "daemonsets"): "DaemonSet"}


def _int_or_percent(v, total, round_up):
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        try:
            pct = int(v[:-1])
        except ValueError:
            return 0
        x = total * pct / 100.0
        return int(-(-x // 1)) if round_up else int(x // 1)
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(tpl):
    """A pod-template-hash shaped as the Deployment controller's: the
    decimal digits of a 32-bit FNV-1a hash mapped onto apimachinery's
    SafeEncodeString alphabet (the controller hashes Go's dump of the
    template; this hashes its JSON, so values differ, forms do not)."""
    h = 0x811c9dc5
    for b in json.dumps(tpl, sort_keys=True).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(d) % len(_SAFE)] for d in str(h))


class Rollout:
    """Pods of one workload, as counters: ready pods of older templates,
    pods of the current template and how many of those are ready."""

    def __init__(self, thash):
        self.hash = thash
        self.revision = 1
        self.old_ready = 0
        self.new_total = 0
        self.new_ready = 0
        self.last_progress = time.time()
        self.next_step = 0.0
        self.generation = None

    def new_template(self, thash):
        self.old_ready += self.new_ready
        self.new_total = 0
        self.new_ready = 0
        self.hash = thash
        self.revision += 1
        self.last_progress = time.time()

    def step(self, desired, stalled):
        """One pod action; returns True when something changed."""
        before = (self.old_ready, self.new_total, self.new_ready)
        if self.new_total > desired:
            self.new_total = desired
            self.new_ready = min(self.new_ready, desired)
        elif self.new_total < desired:
            self.new_total += 1
        elif self.new_ready < self.new_total and not stalled:
            self.new_ready += 1
        while self.old_ready > 0 and (self.new_ready + self.old_ready > desired or
                                      (self.new_ready == desired)):
            self.old_ready -= 1
        if desired == 0:
            self.old_ready = 0
        changed = before != (self.old_ready, self.new_total, self.new_ready)
        if changed:
            self.last_progress = time.time()
        return changed

    def complete(self, desired):
        return self.new_total == desired and self.new_ready == desired and self.old_ready == 0


def _set_condition(conds, ctype, status, reason, message, now, progress=False):
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
                c["lastUpdateTime"] = now
            elif c.get("reason") != reason or c.get("message") != message or progress:
                c["lastUpdateTime"] = now
            c["status"], c["reason"], c["message"] = status, reason, message
            return
    conds.append({"type": ctype, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
                  "reason": reason, "message": message})


class Controllers(threading.Thread):
    def __init__(self, store, registry, faults, interval=0.05, step=0.2, gc_interval=0.5):
        super().__init__(daemon=True, name="fake-controllers")
        self.store = store
        self.registry = registry
        self.faults = faults
        self.interval = interval
        self.step_seconds = step
        self.gc_interval = gc_interval
        self.paused = False
        self.rollouts = {}          # uid -> Rollout
        self.sets = {}              # StatefulSet uid -> {"next": mono, "current": currentRevision}
        self.written = {}           # uid -> what the status last written was computed from
        self.replicasets = {}       # Deployment uid -> {pod-template-hash: ReplicaSet name}
        self.stop_event = threading.Event()
        self._last_gc = 0.0
        # fed by the store's change listener (under the store's lock)
        self._dirty = set()         # (storage, ns, name) of workloads that changed
        self._full = True           # the next tick makes a full pass
        self._gc_needed = True
        self._uids = set()          # live uids, for ownerReferences of new objects
        # the controller thread's own
        self._active = set()        # workloads changed or still rolling out
        self._last_full = 0.0
        self._last_full_gc = 0.0
        self._step_seen = step
        store.listeners.append(self._on_change)
        self.knative = KnativeServing(store, faults)   # only with the Knative CRD installed
        self.keda = Keda(store)                        # only with KEDA's CRD installed

    def _on_change(self, ch):
        if ch.storage in WORKLOADS:
            self._dirty.add((ch.storage, ch.ns, ch.name))
        elif ch.storage == ("", "nodes"):
            self._full = True       # DaemonSets count the nodes
        obj = ch.new if ch.new is not None else ch.old
        md = obj.get("metadata") or {}
        if ch.type == "DELETED":
            self._uids.discard(md.get("uid"))
            self._gc_needed = True
            return
        if ch.type == "ADDED":
            self._uids.add(md.get("uid"))
        if md.get("deletionTimestamp"):
            self._gc_needed = True
        refs = md.get("ownerReferences")
        if refs and not any(r.get("uid") in self._uids for r in refs):
            self._gc_needed = True

    def run(self):
        while not self.stop_event.wait(self.interval):
            if self.paused:
                continue
            try:
                self.tick()
            except Exception as e:        # never let the loop die
                import traceback
                traceback.print_exc()
                print("fake-controllers: %s" % e, flush=True)

    def tick(self):
        mono = time.monotonic()
        with self.store.lock:
            dirty, self._dirty = self._dirty, set()
            full = self._full or mono - self._last_full >= FULL_PASS_S or \
                self.step_seconds != self._step_seen
            self._full = False
        if full:
            self._full_pass(mono)
        else:
            self._active |= dirty
            for key in sorted(self._active):
                storage, ns, name = key
                o = self.store.find(storage, ns, name)
                if o is None or self._workload(o, WORKLOADS[storage], mono):
                    self._active.discard(key)
        seen = set()
        for s in self.store.all(("apps", "statefulsets")):
            seen.add(s["metadata"]["uid"])
            self._statefulset(s, mono)
        for uid in [u for u in self.sets if u not in seen]:
            del self.sets[uid]
        for r in self.store.all(("apps", "replicasets")):
            self._replicaset(r)
        for h in self.store.all(("autoscaling", "horizontalpodautoscalers")):
            self._hpa(h)
        self.knative.tick(mono, self.step_seconds)
        self.keda.tick()
        if mono - self._last_gc >= self.gc_interval:
            self._last_gc = mono
            self._namespaces()
            with self.store.lock:
                needed, self._gc_needed = self._gc_needed, False
            if needed or mono - self._last_full_gc >= FULL_PASS_S:
                self._last_full_gc = mono
                self._gc()

    def _full_pass(self, mono):
        """Every workload, as the loop always did; remembers which still move."""
        self._last_full = mono
        self._step_seen = self.step_seconds
        seen = set()
        active = set()
        for storage, kind in WORKLOADS.items():
            for d in self.store.all(storage):
                seen.add(d["metadata"]["uid"])
                if not self._workload(d, kind, mono):
                    active.add((storage, d["metadata"].get("namespace"), d["metadata"]["name"]))
        self._active = active
        for uid in [u for u in self.rollouts if u not in seen]:
            del self.rollouts[uid]
            self.written.pop(uid, None)
            self.replicasets.pop(uid, None)

    # -- Deployments and DaemonSets -------------------------------------------------------
    def _nodes_matching(self, selector):
        n = 0
        for node in self.store.all(("", "nodes")):
            labels = node["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in (selector or {}).items()):
                n += 1
        return n

    def _workload(self, obj, kind, mono):
        """Moves one workload; True when it is settled (rollout complete,
        its status written, nothing left to do until it changes)."""
        md, spec = obj["metadata"], obj.get("spec") or {}
        if md.get("deletionTimestamp"):
            return True
        tpl = spec.get("template") or {}
        r = self.rollouts.get(md["uid"])
        if r is not None and r.generation == md.get("generation") and mono < r.next_step and \
                self.written.get(md["uid"], (None, None))[1] == md.get("resourceVersion"):
            return False    # waiting for its next step: skip the hashing
        thash = r.hash if r is not None and r.generation == md.get("generation") else template_hash(tpl)
        if r is None:
            r = self.rollouts[md["uid"]] = Rollout(thash)
        elif r.hash != thash:
            r.new_template(thash)
        r.generation = md.get("generation")
        if kind == "Deployment":
            desired = spec.get("replicas", 1)
        else:
            desired = self._nodes_matching(((tpl.get("spec") or {}).get("nodeSelector")))
        images = [c.get("image", "") for c in (tpl.get("spec") or {}).get("containers") or []]
        stalled = self.faults.is_stalled(kind, obj, images)
        if mono >= r.next_step and not spec.get("paused"):
            r.step(desired, stalled)
            r.next_step = mono + self.step_seconds
        ns, name = md.get("namespace"), md["name"]
        deadline = spec.get("progressDeadlineSeconds")
        late = deadline is not None and not r.complete(desired) and time.time() - r.last_progress > deadline
        recent = time.time() - r.last_progress < self.step_seconds * 2
        sig = (md.get("generation"), md.get("resourceVersion"), desired, r.hash, r.old_ready,
               r.new_total, r.new_ready, late, recent)
        if self.written.get(md["uid"]) == sig:
            # nothing moved since the status was last written
            return r.complete(desired) and not late and not recent
        if kind == "DaemonSet":
            self._sts_revision(obj, "controller-revision-hash")
            self._trim_revisions(obj)
        if kind == "Deployment":
            r.revision = self._replicasets(obj, r, desired)
            res = self.store.internal_update(("apps", "deployments"), ns, name,
                                             lambda o: self._deployment_status(o, r, desired))
        else:
            res = self.store.internal_update(("apps", "daemonsets"), ns, name,
                                             lambda o: self._daemonset_status(o, r, desired))
        if res is not None:
            self.written[md["uid"]] = sig[:1] + (res["metadata"].get("resourceVersion"),) + sig[2:]
        return res is None

    def _deployment_status(self, o, r, desired):
        spec = o.get("spec") or {}
        st = o.get("status") or {}
        now = now_rfc3339()
        ann = o["metadata"].setdefault("annotations", {})
        ann["deployment.kubernetes.io/revision"] = str(r.revision)
        rs_name = "%s-%s" % (o["metadata"]["name"], r.hash)
        total = r.new_total + r.old_ready
        ready = r.new_ready + r.old_ready
        strategy = spec.get("strategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            ru = strategy.get("rollingUpdate") or {}
            surge = _int_or_percent(ru.get("maxSurge", "25%"), desired, True)
            max_unavail = _int_or_percent(ru.get("maxUnavailable", "25%"), desired, False)
            if surge == 0 and max_unavail == 0:
                max_unavail = 1
        else:
            max_unavail = 0
        min_available = max(0, desired - max_unavail)
        conds = list(st.get("conditions") or [])
        if ready >= min_available:
            _set_condition(conds, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.", now)
        else:
            _set_condition(conds, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.", now)
        deadline = spec.get("progressDeadlineSeconds")
        if r.complete(desired):
            _set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                           'ReplicaSet "%s" has successfully progressed.' % rs_name, now)
        elif deadline is not None and time.time() - r.last_progress > deadline:
            _set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                           'ReplicaSet "%s" has timed out progressing.' % rs_name, now)
        else:
            progressed = time.time() - r.last_progress < self.step_seconds * 2
            _set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                           'ReplicaSet "%s" is progressing.' % rs_name, now, progress=progressed)
        new = {"observedGeneration": o["metadata"].get("generation", 1)}
        for k, v in (("replicas", total), ("updatedReplicas", r.new_total), ("readyReplicas", ready),
                     ("availableReplicas", ready), ("unavailableReplicas", max(0, desired - ready))):
            if v:
                new[k] = v
        new["conditions"] = conds
        o["status"] = new

    # -- a Deployment's ReplicaSets (kube-controller-manager's deployment/sync.go) ----------
    def _replicasets(self, o, r, desired):
        """The ReplicaSets of a Deployment as the deployment controller keeps
        them: one per pod template, named <deployment>-<pod-template-hash>,
        owned by the Deployment (controller: true), its template and
        selector those of the Deployment plus the label pod-template-hash,
        the Deployment's annotations copied (but its revision ones) and
        deployment.kubernetes.io/revision, desired-replicas and
        max-replicas. A new template gets a new ReplicaSet at revision
        max+1; an older template coming back reuses its ReplicaSet, whose
        revision becomes max+1 and whose old revision goes into
        deployment.kubernetes.io/revision-history (what `kubectl rollout
        history/undo` read). The new ReplicaSet holds the rollout's new pods,
        the newest older one its old ready pods, the others none; those
        beyond spec.revisionHistoryLimit (oldest revision first) are
        deleted once at zero. Returns the new ReplicaSet's revision (the
        Deployment's revision annotation)."""
        md, spec = o["metadata"], o.get("spec") or {}
        ns, uid = md.get("namespace"), md["uid"]
        known = self.replicasets.setdefault(uid, {})
        live = {}
        for h, n in list(known.items()):
            rs = self.store.find(RS, ns, n)
            if rs is None or not any(ref.get("uid") == uid for ref in
                                     rs["metadata"].get("ownerReferences") or []):
                del known[h]
            else:
                live[h] = rs
        revs = {h: _revision(rs) for h, rs in live.items()}
        top = max(revs.values()) if revs else 0
        name = "%s-%s" % (md["name"], r.hash)
        if r.hash not in live:
            if self.store.find(RS, ns, name) is not None:
                return r.revision       # a name taken by another object: leave it be
            revs[r.hash] = top + 1
            self.store.internal_create(self.store.storage_type(RS),
                                       self._new_replicaset(o, r.hash, top + 1, desired),
                                       manager="kube-controller-manager")
            known[r.hash] = name
        elif revs[r.hash] < top:
            old = revs[r.hash]
            revs[r.hash] = top + 1

            def bump(x):
                ann = x["metadata"].setdefault("annotations", {})
                hist = [v for v in (ann.get(REV_HISTORY) or "").split(",") if v]
                ann[REV_HISTORY] = ",".join(hist + [str(old)])
                ann[REV] = str(top + 1)
            self.store.internal_update(RS, ns, name, bump, manager="kube-controller-manager",
                                       subresource=None)
        olds = sorted((h for h in revs if h != r.hash), key=lambda h: -revs[h])
        counts = {r.hash: (r.new_total, r.new_ready)}
        for i, h in enumerate(olds):
            counts[h] = (r.old_ready, r.old_ready) if i == 0 else (0, 0)
        surge = _max_surge(spec, desired)
        for h, (total, ready) in counts.items():
            if _rs_settled(live.get(h), total, ready, desired, surge):
                continue        # thousands of Deployments: no clone-and-compare per tick
            self.store.internal_update(RS, ns, known[h], _rs_scale(total, ready, desired, surge),
                                       manager="kube-controller-manager", subresource=None)
        limit = spec.get("revisionHistoryLimit", 10)
        idle = [h for h in olds if counts[h][0] == 0]
        for h in sorted(idle, key=lambda h: revs[h])[:max(0, len(olds) - limit)]:
            self.store.internal_delete(RS, ns, known.pop(h))
        return revs[r.hash]

    @staticmethod
    def _new_replicaset(o, thash, revision, desired):
        md, spec = o["metadata"], o.get("spec") or {}
        tpl = json.loads(json.dumps(spec.get("template") or {}))
        tmd = tpl.setdefault("metadata", {})
        tmd["labels"] = dict(tmd.get("labels") or {}, **{HASH_LABEL: thash})
        sel = json.loads(json.dumps(spec.get("selector") or {}))
        sel["matchLabels"] = dict(sel.get("matchLabels") or {}, **{HASH_LABEL: thash})
        ann = {k: v for k, v in (md.get("annotations") or {}).items() if k not in SKIPPED_ANNOTATIONS}
        ann.update({REV: str(revision), DESIRED: str(desired),
                    MAX: str(desired + _max_surge(spec, desired))})
        rs_spec = {"replicas": 0, "selector": sel, "template": tpl}
        if spec.get("minReadySeconds"):
            rs_spec["minReadySeconds"] = spec["minReadySeconds"]
        return {"metadata": {"name": "%s-%s" % (md["name"], thash), "namespace": md.get("namespace"),
                             "labels": dict(tmd["labels"]), "annotations": ann,
                             "ownerReferences": [_owner(o)]},
                "spec": rs_spec}

    def _daemonset_status(self, o, r, desired):
        st = {
            "currentNumberScheduled": r.new_total + r.old_ready,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": desired,
            "numberReady": r.new_ready + r.old_ready,
            "observedGeneration": o["metadata"].get("generation", 1),
        }
        for k, v in (("updatedNumberScheduled", r.new_total), ("numberAvailable", r.new_ready + r.old_ready),
                     ("numberUnavailable", max(0, desired - r.new_ready - r.old_ready))):
            if v:
                st[k] = v
        o["status"] = st

    # -- StatefulSets (kube-controller-manager's stateful_set_control.go) --------------------
    def _statefulset(self, o, mono):
        """Pods <name>-<ordinal> (real Pod objects, labelled
        controller-revision-hash), ControllerRevisions per template, and
        the partitioned RollingUpdate: one pod action per step; pods are
        created in ordinal order at currentRevision below the partition and
        updateRevision from it; updates go from the highest ordinal down to
        the partition, deleting a pod that is not at updateRevision while
        fewer than maxUnavailable (default 1) pods of the set are
        unavailable; currentRevision becomes updateRevision only when every
        pod is updated and ready (completeRollingUpdate). OnDelete updates
        nothing by itself: a deleted pod comes back at updateRevision."""
        md, spec = o["metadata"], o.get("spec") or {}
        if md.get("deletionTimestamp"):
            return
        st = self.sets.setdefault(md["uid"], {"next": 0.0, "current": None})
        ns, name = md.get("namespace"), md["name"]
        update_rev = self._sts_revision(o)
        if st["current"] is None:
            st["current"] = (o.get("status") or {}).get("currentRevision") or update_rev
        pods = self._sts_pods(ns, name, md["uid"])
        desired = spec.get("replicas", 1)
        us = spec.get("updateStrategy") or {}
        rolling = us.get("type", "RollingUpdate") == "RollingUpdate"
        ru = us.get("rollingUpdate") or {}
        partition = ru.get("partition", 0) if rolling else 0
        max_unavail = max(1, _int_or_percent(ru.get("maxUnavailable", 1), desired, False)) if rolling else 1
        tpl = spec.get("template") or {}
        images = [c.get("image", "") for c in (tpl.get("spec") or {}).get("containers") or []]
        if mono >= st["next"]:
            st["next"] = mono + self.step_seconds
            self._sts_step(o, st, pods, desired, rolling, partition, max_unavail, update_rev,
                           self.faults.is_stalled("StatefulSet", o, images))
            pods = self._sts_pods(ns, name, md["uid"])
        live = list(pods.values())
        ready = sum(1 for p in live if p["ready"])
        current = sum(1 for p in live if p["rev"] == st["current"])
        updated = sum(1 for p in live if p["rev"] == update_rev)
        if rolling and updated == len(live) and ready == len(live):
            st["current"] = update_rev            # completeRollingUpdate
            current = updated

        def set_status(x):
            new = {"observedGeneration": md.get("generation", 1), "replicas": len(live),
                   "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
                   "currentRevision": st["current"], "updateRevision": update_rev,
                   "collisionCount": 0, "availableReplicas": ready}
            x["status"] = {k: v for k, v in new.items() if v or k == "replicas"}
        self.store.internal_update(("apps", "statefulsets"), ns, name, set_status)

    def _sts_revision(self, o, hash_label="controller.kubernetes.io/hash"):
        """The ControllerRevision of the StatefulSet's (or DaemonSet's)
        template (created when new, its revision number raised when an
        older one is reused, as the controllers do) and its name
        <name>-<hash>. The StatefulSet controller labels it
        controller.kubernetes.io/hash, the DaemonSet controller
        controller-revision-hash."""
        md = o["metadata"]
        tpl = (o.get("spec") or {}).get("template") or {}
        rev_name = "%s-%s" % (md["name"], template_hash(tpl))
        storage = ("apps", "controllerrevisions")
        ns = md.get("namespace")
        mine = [r for r in self.store.all(storage) if r["metadata"].get("namespace") == ns and
                any(ref.get("uid") == md["uid"] for ref in r["metadata"].get("ownerReferences") or [])]
        top = max([r.get("revision", 0) for r in mine] or [0])
        existing = next((r for r in mine if r["metadata"]["name"] == rev_name), None)
        if existing is None:
            labels = dict((tpl.get("metadata") or {}).get("labels") or {})
            labels[hash_label] = rev_name[len(md["name"]) + 1:]
            data = {"spec": {"template": dict(json.loads(json.dumps(tpl)), **{"$patch": "replace"})}}
            self.store.internal_create(self.store.storage_type(storage), {
                "metadata": {"name": rev_name, "namespace": ns, "labels": labels,
                             "ownerReferences": [_owner(o)]},
                "data": data, "revision": top + 1}, manager="kube-controller-manager")
        elif existing.get("revision", 0) < top and rev_name != self._newest(mine):
            def bump(r):
                r["revision"] = top + 1
            self.store.internal_update(storage, ns, rev_name, bump, subresource=None)
        return rev_name

    def _trim_revisions(self, o):
        """A DaemonSet's ControllerRevisions beyond spec.revisionHistoryLimit
        (default 10) besides the current one, oldest revision first."""
        md = o["metadata"]
        storage = ("apps", "controllerrevisions")
        mine = [r for r in self.store.all(storage) if r["metadata"].get("namespace") == md.get("namespace")
                and any(ref.get("uid") == md["uid"] for ref in r["metadata"].get("ownerReferences") or [])]
        newest = self._newest(mine)
        olds = sorted((r for r in mine if r["metadata"]["name"] != newest), key=lambda r: r.get("revision", 0))
        limit = (o.get("spec") or {}).get("revisionHistoryLimit", 10)
        for r in olds[:max(0, len(olds) - limit)]:
            self.store.internal_delete(storage, md.get("namespace"), r["metadata"]["name"])

    @staticmethod
    def _newest(revs):
        return max(revs, key=lambda r: r.get("revision", 0))["metadata"]["name"] if revs else None

    def _sts_pods(self, ns, name, uid):
        out = {}
        for p in self.store.all(("", "pods")):
            pm = p["metadata"]
            if pm.get("namespace") != ns or pm.get("deletionTimestamp"):
                continue
            if not any(ref.get("uid") == uid for ref in pm.get("ownerReferences") or []):
                continue
            ordinal = int(pm["name"].rsplit("-", 1)[1])
            conds = (p.get("status") or {}).get("conditions") or []
            out[ordinal] = {"name": pm["name"], "ordinal": ordinal,
                            "rev": (pm.get("labels") or {}).get("controller-revision-hash"),
                            "ready": any(c.get("type") == "Ready" and c.get("status") == "True"
                                         for c in conds)}
        return out

    def _sts_step(self, o, st, pods, desired, rolling, partition, max_unavail, update_rev, stalled):
        md = o["metadata"]
        ns, name = md.get("namespace"), md["name"]
        # a pod that is not ready becomes ready (unless its revision stalls)
        for ordinal in sorted(pods):
            p = pods[ordinal]
            if not p["ready"] and not (stalled and p["rev"] == update_rev):
                self.store.internal_update(("", "pods"), ns, p["name"], _pod_ready(True))
                return
        # OrderedReady: create the first missing ordinal
        for ordinal in range(desired):
            if ordinal not in pods:
                if any(not pods[i]["ready"] for i in pods if i < ordinal):
                    return
                rev = st["current"] if rolling and ordinal < partition else update_rev
                self._sts_create_pod(o, ordinal, rev)
                return
        # scale down: the highest ordinal first
        extra = sorted((i for i in pods if i >= desired), reverse=True)
        if extra:
            self.store.internal_delete(("", "pods"), ns, pods[extra[0]]["name"])
            return
        if not rolling:
            return
        unavailable = sum(1 for p in pods.values() if not p["ready"])
        for ordinal in range(desired - 1, partition - 1, -1):
            if unavailable >= max_unavail:
                return
            p = pods.get(ordinal)
            if p and p["rev"] != update_rev:
                self.store.internal_delete(("", "pods"), ns, p["name"])
                self._sts_create_pod(o, ordinal, update_rev)
                unavailable += 1
                if max_unavail == 1:
                    return

    def _sts_create_pod(self, o, ordinal, rev):
        md = o["metadata"]
        name = "%s-%d" % (md["name"], ordinal)
        rev_template = None
        for r in self.store.all(("apps", "controllerrevisions")):
            if r["metadata"]["name"] == rev and r["metadata"].get("namespace") == md.get("namespace"):
                rev_template = ((r.get("data") or {}).get("spec") or {}).get("template")
        tpl = json.loads(json.dumps(rev_template or (o.get("spec") or {}).get("template") or {}))
        tpl.pop("$patch", None)
        labels = dict((tpl.get("metadata") or {}).get("labels") or {})
        labels.update({"controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": name,
                       "apps.kubernetes.io/pod-index": str(ordinal)})
        pod = {"metadata": {"name": name, "namespace": md.get("namespace"), "labels": labels,
                            "annotations": (tpl.get("metadata") or {}).get("annotations") or {},
                            "ownerReferences": [_owner(o)]},
               "spec": dict(tpl.get("spec") or {}, hostname=name,
                            subdomain=(o.get("spec") or {}).get("serviceName", "")),
               "status": {"phase": "Running", "conditions": [
                   {"type": "Ready", "status": "False", "lastTransitionTime": now_rfc3339()}]}}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        self.store.internal_create(self.store.storage_type(("", "pods")), pod,
                                   manager="kube-controller-manager")

    def _replicaset(self, o):
        """A ReplicaSet of its own (no Deployment controls it): all its pods
        ready. A Deployment's are kept by _replicasets."""
        md, spec = o["metadata"], o.get("spec") or {}
        if any(ref.get("controller") and ref.get("kind") == "Deployment"
               for ref in md.get("ownerReferences") or []):
            return
        desired = spec.get("replicas", 1)

        def set_status(x):
            st = {"replicas": desired, "fullyLabeledReplicas": desired, "readyReplicas": desired,
                  "availableReplicas": desired, "observedGeneration": md.get("generation", 1)}
            x["status"] = {k: v for k, v in st.items() if v or k == "replicas"}
        self.store.internal_update(("apps", "replicasets"), md.get("namespace"), md["name"], set_status)

    def _hpa(self, o):
        md, spec = o["metadata"], o.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment":
            return
        target = self.store.find(("apps", "deployments"), md.get("namespace"), ref.get("name"))
        if target is None:
            return
        cur = (target.get("status") or {}).get("replicas", 0)
        want = (target.get("spec") or {}).get("replicas", 1)
        want = max(spec.get("minReplicas", 1), min(spec.get("maxReplicas", want), want))

        def set_status(x):
            st = dict(x.get("status") or {})
            st["currentReplicas"] = cur
            st["desiredReplicas"] = want
            x["status"] = st
        self.store.internal_update(("autoscaling", "horizontalpodautoscalers"), md.get("namespace"),
                                   md["name"], set_status)

    # -- namespaces and garbage collection -------------------------------------------------
    def _namespaces(self):
        for nsobj in self.store.all(("", "namespaces")):
            if not nsobj["metadata"].get("deletionTimestamp"):
                continue
            ns = nsobj["metadata"]["name"]
            left = 0
            with self.store.lock:
                buckets = [(s, list(b.items())) for s, b in self.store.objects.items()]
            for storage, items in buckets:
                for (ons, oname), _ in items:
                    if ons == ns:
                        left += 1
                        self.store.internal_delete(storage, ons, oname)
            if left == 0:
                self.store.internal_delete(("", "namespaces"), None, ns)

    def _gc(self):
        with self.store.lock:
            buckets = [(s, list(b.items())) for s, b in self.store.objects.items()]
            by_uid = {}
            for storage, items in buckets:
                for key, o in items:
                    by_uid[o["metadata"].get("uid")] = (storage, key, o)
            live_uids = set(by_uid)
            self._uids = set(live_uids)
        dependents = {}
        for storage, items in buckets:
            for key, o in items:
                refs = o["metadata"].get("ownerReferences") or []
                for ref in refs:
                    dependents.setdefault(ref.get("uid"), []).append((storage, key))
                if refs and not any(ref.get("uid") in live_uids for ref in refs):
                    self.store.internal_delete(storage, key[0], key[1])
        for uid, (storage, key, o) in by_uid.items():
            md = o["metadata"]
            fins = md.get("finalizers") or []
            if not md.get("deletionTimestamp"):
                continue
            if "foregroundDeletion" in fins:
                deps = dependents.get(uid, [])
                for dstorage, dkey in deps:
                    self.store.internal_delete(dstorage, dkey[0], dkey[1])
                if not any(self.store.find(ds, dk[0], dk[1]) for ds, dk in deps):
                    self.store.internal_update(storage, key[0], key[1], _drop_finalizer("foregroundDeletion"), subresource=None)
            if "orphan" in fins:
                for dstorage, dkey in dependents.get(uid, []):
                    self.store.internal_update(dstorage, dkey[0], dkey[1], _drop_owner(uid), subresource=None)
                self.store.internal_update(storage, key[0], key[1], _drop_finalizer("orphan"), subresource=None)


RS = ("apps", "replicasets")
HASH_LABEL = "pod-template-hash"
REV = "deployment.kubernetes.io/revision"
REV_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
# what the deployment controller does not copy from a Deployment onto its
# ReplicaSets (deployment/util's annotationsToSkip)
SKIPPED_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REV, REV_HISTORY,
                       DESIRED, MAX, "deprecated.deployment.rollback.to"}


def _revision(rs):
    try:
        return int(((rs["metadata"].get("annotations") or {}).get(REV)) or 0)
    except ValueError:
        return 0


def _max_surge(spec, desired):
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    return _int_or_percent((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"), desired, True)


def _rs_settled(rs, total, ready, desired, surge):
    """Whether _rs_scale would leave rs as it is (a cheap look first)."""
    if rs is None or (rs.get("spec") or {}).get("replicas") != total:
        return False
    st = rs.get("status") or {}
    if st.get("replicas", 0) != total or st.get("readyReplicas", 0) != ready or \
            st.get("observedGeneration") != rs["metadata"].get("generation", 1):
        return False
    ann = rs["metadata"].get("annotations") or {}
    return not total or (ann.get(DESIRED), ann.get(MAX)) == (str(desired), str(desired + surge))


def _rs_scale(total, ready, desired, surge):
    """A ReplicaSet's spec.replicas, its status and the replica annotations
    (the controller's scaleReplicaSet sets them to the Deployment's
    replicas and replicas + maxSurge whenever it scales a ReplicaSet, to
    zero too; an idle one at zero is left alone)."""
    def f(x):
        scaled = x["spec"].get("replicas") != total
        x["spec"]["replicas"] = total
        ann = x["metadata"].setdefault("annotations", {})
        if scaled or total:
            ann[DESIRED], ann[MAX] = str(desired), str(desired + surge)
        st = {"replicas": total, "fullyLabeledReplicas": total, "readyReplicas": ready,
              "availableReplicas": ready, "observedGeneration": x["metadata"].get("generation", 1)}
        x["status"] = {k: v for k, v in st.items() if v or k == "replicas"}
    return f


def _owner(o):
    md = o["metadata"]
    return {"apiVersion": o.get("apiVersion", "apps/v1"), "kind": o.get("kind", "StatefulSet"),
            "name": md["name"], "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}


def _pod_ready(ready):
    def f(p):
        st = p.setdefault("status", {})
        conds = [c for c in st.get("conditions") or [] if c.get("type") != "Ready"]
        conds.append({"type": "Ready", "status": "True" if ready else "False",
                      "lastTransitionTime": now_rfc3339()})
        st["conditions"] = conds
    return f


def _drop_finalizer(name):
    def f(o):
        fins = [x for x in o["metadata"].get("finalizers") or [] if x != name]
        if fins:
            o["metadata"]["finalizers"] = fins
        else:
            o["metadata"].pop("finalizers", None)
    return f


def _drop_owner(uid):
    def f(o):
        refs = [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            o["metadata"]["ownerReferences"] = refs
        else:
            o["metadata"].pop("ownerReferences", None)
    return f
