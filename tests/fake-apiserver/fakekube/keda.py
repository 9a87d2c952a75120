"""keda.py - a stand-in for KEDA's operator, enough for an autoscalerRef to
a ScaledObject: runs only when the keda.sh ScaledObject CRD is installed
(--crd), and for each ScaledObject whose scaleTargetRef is a Deployment:

- annotated autoscaling.keda.sh/paused-replicas: N, scales the
  Deployment to N and leaves it there (condition Paused True), as KEDA
  does while paused;
- otherwise keeps the Deployment's replicas within
  [max(minReplicaCount, 1), maxReplicaCount] (KEDA's HPA with no load:
  it never scales to zero here, there is no activation metric), and
  reports Ready True, Paused False;
- status: scaleTargetKind, originalReplicaCount (the replicas found the
  first time), hpaName keda-hpa-<name> (or advanced's name) and the
  conditions.

No HPA object is created and no trigger is evaluated: the stand-in only
does what a canary's scaling depends on. Tests only."""
SCALEDOBJECTS = ("keda.sh", "scaledobjects")
DEPLOYMENTS = ("apps", "deployments")
PAUSED = "autoscaling.keda.sh/paused-replicas"


class Keda:
    def __init__(self, store):
        self.store = store

    def tick(self):
        if not self.store.registry.by_storage(SCALEDOBJECTS):
            return
        for so in self.store.all(SCALEDOBJECTS):
            if not so["metadata"].get("deletionTimestamp"):
                self._scaled_object(so)

    def _scaled_object(self, so):
        md, spec = so["metadata"], so.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind", "Deployment") != "Deployment":
            return
        ns = md.get("namespace")
        target = self.store.find(DEPLOYMENTS, ns, ref.get("name"))
        paused = (md.get("annotations") or {}).get(PAUSED)
        try:
            paused = int(paused) if paused is not None else None
        except ValueError:
            paused = None
        if target is not None:
            cur = (target.get("spec") or {}).get("replicas", 1)
            if paused is not None:
                want = paused
            else:
                lo = max(spec.get("minReplicaCount", 0), 1)
                hi = spec.get("maxReplicaCount", 100)
                want = min(max(cur, lo), hi)
            if want != cur:
                def scale(o):
                    o.setdefault("spec", {})["replicas"] = want
                self.store.internal_update(DEPLOYMENTS, ns, ref.get("name"), scale,
                                           manager="keda", subresource=None)
        hpa = ((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get("name") \
            or "keda-hpa-%s" % md["name"]

        def status(o):
            cur = o.get("status") or {}
            new = {"scaleTargetKind": "apps/v1.Deployment", "hpaName": hpa}
            if "originalReplicaCount" in cur:
                new["originalReplicaCount"] = cur["originalReplicaCount"]
            elif target is not None:
                new["originalReplicaCount"] = (target.get("spec") or {}).get("replicas", 1)
            conds = []
            for ctype, st, reason in (
                    ("Ready", "True" if target is not None else "False",
                     "ScaledObjectReady" if target is not None else "ScaledObjectCheckFailed"),
                    ("Active", "False", "ScalerNotActive"),
                    ("Paused", "True" if paused is not None else "False",
                     "ScaledObjectPaused" if paused is not None else "ScaledObjectUnpaused")):
                conds.append({"type": ctype, "status": st, "reason": reason})
            new["conditions"] = conds
            if paused is not None:
                new["pausedReplicaCount"] = paused
            if new == cur:
                return False
            o["status"] = new
        self.store.internal_update(SCALEDOBJECTS, ns, md["name"], status, manager="keda")
