"""keda.py - a stand-in for KEDA's operator, enough for an autoscalerRef to
a ScaledObject: runs only when the keda.sh ScaledObject CRD is installed
(--crd), and for each ScaledObject whose scaleTargetRef is a Deployment:

- annotated autoscaling.keda.sh/paused-replicas: N, scales the
  Deployment to N and leaves it there (condition Paused True), as KEDA
  does while paused;
- otherwise scales it as KEDA's HPA would, every pollingInterval (30 s by
  default): each `prometheus` trigger's query is run against its
  serverAddress (a real Prometheus in the tests that have one) and asks
  for ceil(value / threshold) replicas (metricType AverageValue, KEDA's
  default; Value asks for 1 above the threshold), the most any trigger
  asks, within [max(minReplicaCount, 1), maxReplicaCount]; up at once,
  down only after 300 s of asking for less (the HPA's default
  stabilization); a trigger that cannot be read asks for nothing (the
  replicas stay where they are, within the bounds); reports Ready True,
  Paused False;
- status: scaleTargetKind, originalReplicaCount (the replicas found the
  first time), hpaName keda-hpa-<name> (or advanced's name) and the
  conditions.

No HPA object is created and other trigger types ask for nothing: the
stand-in only does what a canary's scaling depends on. Tests only."""
import json
import math
import threading
import time
import urllib.parse
import urllib.request
SCALEDOBJECTS = ("keda.sh", "scaledobjects")
DEPLOYMENTS = ("apps", "deployments")
PAUSED = "autoscaling.keda.sh/paused-replicas"


def _prometheus(trigger):
    """The replicas a prometheus trigger asks for, or None."""
    md = trigger.get("metadata") or {}
    try:
        url = md["serverAddress"].rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(
            {"query": md["query"]})
        threshold = float(md.get("threshold", "0"))
        with urllib.request.urlopen(url, timeout=2) as r:
            res = json.load(r)["data"]["result"]
        value = float(res[0]["value"][1]) if res else 0.0
    except (KeyError, ValueError, IndexError, OSError, TypeError):
        return None
    if value != value or threshold <= 0:     # NaN, no threshold
        return None
    if trigger.get("metricType", "AverageValue") == "Value":
        return 1 if value > threshold else 0
    return int(math.ceil(value / threshold))


class Keda:
    def __init__(self, store):
        self.store = store
        self.lock = threading.Lock()
        self.polled = {}      # ScaledObject uid -> (next poll, replicas asked)
        self.low_since = {}   # ScaledObject uid -> when it started asking for less

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
                with self.lock:
                    self.polled.pop(md["uid"], None)
            else:
                want = self._desired(md["uid"], spec, cur)
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

    def _poll(self, uid, triggers):
        asks = [a for a in (_prometheus(t) for t in triggers) if a is not None]
        with self.lock:
            if uid in self.polled:
                self.polled[uid] = (self.polled[uid][0], max(asks) if asks else None)

    def _desired(self, uid, spec, cur):
        lo = max(spec.get("minReplicaCount", 0), 1)
        hi = spec.get("maxReplicaCount", 100)
        now = time.monotonic()
        with self.lock:
            due, asked = self.polled.get(uid, (0.0, None))
        if now >= due:      # polled off the controller thread: a query may take seconds
            with self.lock:
                self.polled[uid] = (now + spec.get("pollingInterval", 30), asked)
            triggers = [t for t in spec.get("triggers") or [] if t.get("type") == "prometheus"]
            threading.Thread(target=self._poll, args=(uid, triggers), daemon=True).start()
        want = cur if asked is None else asked
        want = min(max(want, lo), hi)
        if want < cur:      # the HPA's scale-down stabilization
            since = self.low_since.setdefault(uid, now)
            if now - since < 300:
                return min(max(cur, lo), hi)
        self.low_since.pop(uid, None)
        return want
