"""knative.py - a stand-in for Knative Serving's controller (the
Service -> Configuration -> Revision and Route reconcilers), enough for a
canary of a Knative Service: runs only when the serving.knative.dev
Service CRD is installed (--crd), and writes only Services' status, as
Knative's controller does:

- every new spec.template (and the first) creates a revision named
  spec.template.metadata.name, or <service>-<NNNNN> numbered by the
  Configuration's generation (Knative's naming); the newest one is
  status.latestCreatedRevisionName at once, and becomes
  status.latestReadyRevisionName after two controller steps (--step),
  never while it is stalled (/fake/stall with kind Service, or the
  annotation fake-apiserver/stall: "true"): ConfigurationsReady stays
  Unknown, as while Knative waits for the revision's pods;
- status.traffic resolves spec.traffic as the Route reconciler does:
  latestRevision entries (and configurationName ones) name the latest
  ready revision, revisionName entries are kept, percent and tag copied;
  no spec.traffic means 100 % to the latest ready revision (the default
  Knative's webhook writes). A revisionName that names no ready revision
  leaves status.traffic as it was, with RoutesReady False,
  reason RevisionMissing;
- observedGeneration, url, address.url and the conditions
  ConfigurationsReady, RoutesReady and Ready.

Revision objects are not served (their CRD is not in the conformance
set): revisions live in this controller's memory, per Service uid.
Knative's admission webhooks (defaults, validation of percent sums) are
not run. Tests only."""
import json
import time

from .util import now_rfc3339

SERVICES = ("serving.knative.dev", "services")


def _hash(tpl):
    return json.dumps(tpl, sort_keys=True)


class _State:
    def __init__(self):
        self.hash = None
        self.generation = 0          # the Configuration's generation
        self.revisions = []          # [name, ready_at (monotonic) or None, stalled]


class KnativeServing:
    def __init__(self, store, faults):
        self.store = store
        self.faults = faults
        self.state = {}              # Service uid -> _State

    def tick(self, mono, step):
        if not self.store.registry.by_storage(SERVICES):
            return
        seen = set()
        for svc in self.store.all(SERVICES):
            md = svc["metadata"]
            if md.get("deletionTimestamp"):
                continue
            seen.add(md["uid"])
            self._service(svc, mono, step)
        for uid in [u for u in self.state if u not in seen]:
            del self.state[uid]

    def _service(self, svc, mono, step):
        md, spec = svc["metadata"], svc.get("spec") or {}
        st = self.state.setdefault(md["uid"], _State())
        tpl = spec.get("template") or {}
        images = [c.get("image", "") for c in (tpl.get("spec") or {}).get("containers") or []]
        stalled = self.faults.is_stalled("Service", svc, images)
        h = _hash(tpl)
        if h != st.hash:
            st.hash = h
            st.generation += 1
            name = (tpl.get("metadata") or {}).get("name") or "%s-%05d" % (md["name"], st.generation)
            st.revisions.append([name, None, stalled])
        latest = st.revisions[-1]
        if latest[1] is None and not stalled:
            latest[1] = mono + 2 * step
        ready = [r[0] for r in st.revisions if r[1] is not None and r[1] <= mono]
        latest_ready = ready[-1] if ready else None

        def write(o):
            cur = o.get("status") or {}
            new = self._status(o, latest[0], latest_ready, ready, cur)
            if new == cur:
                return False
            o["status"] = new
        self.store.internal_update(SERVICES, md.get("namespace"), md["name"], write,
                                   manager="controller")

    def _traffic(self, spec_traffic, latest_ready, ready):
        """status.traffic for spec.traffic, or None when a revision is missing."""
        if not spec_traffic:
            return [{"latestRevision": True, "revisionName": latest_ready, "percent": 100}] \
                if latest_ready else None
        out = []
        for t in spec_traffic:
            e = {}
            if t.get("tag"):
                e["tag"] = t["tag"]
            if t.get("revisionName"):
                if t["revisionName"] not in ready:
                    return None
                e["revisionName"] = t["revisionName"]
                e["latestRevision"] = False
            else:
                if not latest_ready:
                    return None
                e["revisionName"] = latest_ready
                e["latestRevision"] = True
            if "percent" in t:
                e["percent"] = t["percent"]
            out.append(e)
        return out

    def _status(self, o, latest_created, latest_ready, ready, cur):
        md, spec = o["metadata"], o.get("spec") or {}
        now = now_rfc3339()
        traffic = self._traffic(spec.get("traffic"), latest_ready, ready)
        st = {"observedGeneration": md.get("generation", 1),
              "latestCreatedRevisionName": latest_created,
              "url": "http://%s.%s.example.com" % (md["name"], md.get("namespace")),
              "address": {"url": "http://%s.%s.svc.cluster.local" % (md["name"], md.get("namespace"))}}
        if latest_ready:
            st["latestReadyRevisionName"] = latest_ready
        if traffic is not None:
            st["traffic"] = traffic
        elif cur.get("traffic"):
            st["traffic"] = cur["traffic"]
        config_ready = "True" if latest_ready == latest_created else "Unknown"
        routes_ready = "True" if traffic is not None else ("False" if latest_ready else "Unknown")
        conds = []
        old = {c.get("type"): c for c in cur.get("conditions") or []}
        for ctype, status, reason in (
                ("ConfigurationsReady", config_ready, "" if config_ready == "True" else "RevisionMissing"),
                ("Ready", "True" if config_ready == "True" and routes_ready == "True" else
                 ("False" if routes_ready == "False" else "Unknown"),
                 "" if config_ready == "True" and routes_ready == "True" else "RevisionMissing"),
                ("RoutesReady", routes_ready, "" if routes_ready == "True" else "RevisionMissing")):
            c = {"type": ctype, "status": status}
            if reason:
                c["reason"] = reason
                c["message"] = ("Configuration %s is waiting for a Revision to become ready." % md["name"]
                                if ctype != "RoutesReady" or routes_ready == "Unknown" else
                                "Revision missing from the traffic targets.")
            prev = old.get(ctype)
            c["lastTransitionTime"] = prev["lastTransitionTime"] if prev and \
                prev.get("status") == status and prev.get("lastTransitionTime") else now
            conds.append(c)
        st["conditions"] = conds
        return st
