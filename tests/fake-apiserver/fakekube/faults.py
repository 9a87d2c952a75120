"""faults.py - the failures a test can ask the fake API server for through
its /fake/ control endpoints: error storms (any status code, for a count or
a duration, filtered by verb and path), 409 Conflict on the first write of
every object (or on the next N writes), added latency, stalled rollouts,
cut watch connections; plus the request log tests read back. Holds state
only; the HTTP handler and the store consult it."""
import collections
import re
import threading
import time

from . import errors


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.error_rules = []
        self.conflict_first_write = False
        self.conflict_verbs = {"update", "patch"}
        self.conflicted = set()
        self.conflict_next = 0
        self.conflicts_injected = 0
        self.delay_ms = 0
        self.stalls = []
        self.watches = set()
        self.requests = collections.deque(maxlen=20000)
        self.tokens = set()
        self.errors_injected = 0

    def reset(self):
        with self.lock:
            self.error_rules = []
            self.conflict_first_write = False
            self.conflicted = set()
            self.conflict_next = 0
            self.delay_ms = 0
            self.stalls = []

    # -- error storms -------------------------------------------------------------
    def add_error_rule(self, spec):
        rule = {
            "code": int(spec.get("code", 500)),
            "count": int(spec["count"]) if "count" in spec else None,
            "until": time.monotonic() + float(spec["seconds"]) if "seconds" in spec else None,
            "verbs": set(spec.get("verbs") or []),
            "path": re.compile(spec["path"]) if spec.get("path") else None,
            "message": spec.get("message", "fake-apiserver: injected failure"),
        }
        if rule["count"] is None and rule["until"] is None:
            rule["count"] = 1
        with self.lock:
            self.error_rules.append(rule)

    def check_error(self, verb, path):
        with self.lock:
            now = time.monotonic()
            for rule in list(self.error_rules):
                if rule["until"] is not None and now > rule["until"]:
                    self.error_rules.remove(rule)
                    continue
                if rule["verbs"] and verb not in rule["verbs"]:
                    continue
                if rule["path"] and not rule["path"].search(path):
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.error_rules.remove(rule)
                self.errors_injected += 1
                return errors.from_code(rule["code"], rule["message"])
        return None

    # -- conflicts (a write hook of the store) ---------------------------------------
    def write_hook(self, store, rt, verb, ns, name, sub):
        with self.lock:
            if verb not in self.conflict_verbs and not (self.conflict_next and verb != "delete"):
                return
            fire = False
            if self.conflict_next > 0 and verb != "delete":
                self.conflict_next -= 1
                fire = True
            elif self.conflict_first_write:
                key = (rt.storage, ns, name, sub)
                if key not in self.conflicted:
                    self.conflicted.add(key)
                    fire = True
            if not fire:
                return
            self.conflicts_injected += 1
        if verb != "create":
            # someone else wrote the object: its resourceVersion moves on
            touch(store, rt.storage, ns, name)
            raise errors.conflict(rt, name)
        raise errors.already_exists(rt, name)

    # -- stalls ---------------------------------------------------------------------
    def set_stall(self, spec):
        with self.lock:
            key = (spec.get("kind", "Deployment"), spec.get("namespace"), spec.get("name"),
                   spec.get("image"))
            self.stalls = [s for s in self.stalls if s[:4] != key]
            if spec.get("stall", True):
                self.stalls.append(key)

    def is_stalled(self, kind, obj, images):
        md = obj.get("metadata") or {}
        if (md.get("annotations") or {}).get("fake-apiserver/stall") == "true":
            return True
        with self.lock:
            for k, ns, name, image in self.stalls:
                if k and k != kind:
                    continue
                if ns and ns != md.get("namespace"):
                    continue
                if name and name != md.get("name"):
                    continue
                if image and not any(image in i for i in images):
                    continue
                return True
        return False

    # -- watches ----------------------------------------------------------------------
    def register_watch(self, w):
        with self.lock:
            self.watches.add(w)

    def unregister_watch(self, w):
        with self.lock:
            self.watches.discard(w)

    def cut_watches(self, path_filter=None):
        with self.lock:
            victims = [w for w in self.watches if not path_filter or re.search(path_filter, w.path)]
        for w in victims:
            w.cut()
        return len(victims)

    def log_request(self, entry):
        self.requests.append(entry)


def touch(store, storage, ns, name):
    """Commits the object unchanged under a new resourceVersion."""
    with store.lock:
        cur = store.bucket(storage).get((ns, name))
        if cur is None:
            return
        new = dict(cur)
        new["metadata"] = dict(cur["metadata"])
        store._commit("MODIFIED", storage, ns, name, cur, new)
