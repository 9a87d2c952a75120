"""store.py - the fake API server's storage and API semantics: objects per
(group, resource), one global resourceVersion counter, the change history
that watches read (with compaction and 410 Expired), and the rules of the
generic registry: server-filled metadata, generateName, resourceVersion
preconditions and 409 Conflict, AlreadyExists, generation bumped on spec
changes only, the status and scale subresources, finalizers and
deletionTimestamp, garbage-collector finalizers (foreground/orphan), CRD
registration, pruning/defaulting/validation. Thread-safe (one lock); never
does network I/O."""
import base64
import bisect
import copy
import json
import threading
import time

from . import defaults, errors, fieldvalidation, managedfields, schema
from .errors import ApiError
from .patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from .resources import crd_types
from .util import clone, now_rfc3339, new_uid, random_suffix, sort_keys_deep

META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
              "annotations", "ownerReferences", "finalizers", "managedFields"]
SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "selfLink", "managedFields")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class Change:
    __slots__ = ("rv", "type", "storage", "ns", "name", "old", "new")

    def __init__(self, rv, etype, storage, ns, name, old, new):
        self.rv, self.type, self.storage, self.ns, self.name = rv, etype, storage, ns, name
        self.old, self.new = old, new


# Go's field order (and the zero values Go writes for fields without
# omitempty) of the kinds whose fields are not spec/status
KIND_FIELDS = {
    ("v1", "Event"): (["involvedObject", "reason", "message", "source", "firstTimestamp",
                       "lastTimestamp", "count", "type", "eventTime", "series", "action", "related",
                       "reportingComponent", "reportingInstance"],
                      {"involvedObject": {}, "source": {}, "firstTimestamp": None,
                       "lastTimestamp": None, "eventTime": None, "reportingComponent": "",
                       "reportingInstance": ""}),
    ("events.k8s.io/v1", "Event"): (["eventTime", "series", "reportingController",
                                     "reportingInstance", "action", "reason", "regarding",
                                     "related", "note", "type", "deprecatedSource",
                                     "deprecatedFirstTimestamp", "deprecatedLastTimestamp",
                                     "deprecatedCount"],
                                    {"eventTime": None, "regarding": {}, "deprecatedSource": {},
                                     "deprecatedFirstTimestamp": None,
                                     "deprecatedLastTimestamp": None}),
}


def order_builtin(obj):
    """Key order of Go structs: kind, apiVersion, metadata, then the rest."""
    fields = KIND_FIELDS.get((obj.get("apiVersion"), obj.get("kind")))
    if fields is not None:
        order, zero = fields
        rest = {k: obj[k] for k in order if k in obj}
        for k, v in zero.items():
            rest.setdefault(k, copy.deepcopy(v))
        rest = {k: rest[k] for k in order if k in rest}
        for k, v in obj.items():
            if k not in rest and k not in ("kind", "apiVersion", "metadata"):
                rest[k] = v
        head = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
        obj = dict(head, **rest)
    out = {}
    for k in ("kind", "apiVersion"):
        if k in obj:
            out[k] = obj[k]
    md = obj.get("metadata")
    if isinstance(md, dict):
        out["metadata"] = {k: md[k] for k in META_ORDER if k in md}
        for k in md:
            if k not in out["metadata"]:
                out["metadata"][k] = md[k]
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out


def spec_part(obj, has_status):
    return {k: v for k, v in obj.items()
            if k not in ("metadata", "kind", "apiVersion") and not (has_status and k == "status")}


class Store:
    def __init__(self, registry, history_limit=20000, clock=time.time):
        self.registry = registry
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 100
        self.objects = {}           # storage -> {(ns, name): stored object}
        self.history = []           # Change, rv increasing
        self.history_offset = 0     # absolute index of history[0]
        self.compacted_rv = 0
        self.history_limit = history_limit
        self.clock = clock
        self._ip = 10
        self._node_port = 30000
        self.write_hooks = []       # fn(rt, verb, ns, name) -> None|raise ApiError (fault injection)
        self.openapi = None         # openapi.OpenAPI: the built-in kinds' definitions
        self.listeners = []         # fn(Change), called under the lock on every commit

    # ---- helpers -----------------------------------------------------------------
    def alloc_cluster_ip(self):
        self._ip += 1
        return "10.96.%d.%d" % (self._ip // 250, self._ip % 250 + 1)

    def alloc_node_port(self):
        self._node_port += 1
        return self._node_port

    def bucket(self, storage):
        return self.objects.setdefault(storage, {})

    def storage_type(self, storage):
        """The ResourceType whose shape objects are stored in."""
        for t in self.registry.by_storage(storage):
            if t.to_storage is None:
                return t
        ts = self.registry.by_storage(storage)
        return ts[0] if ts else None

    def external(self, rt, stored):
        """A stored object as rt's group/version shows it (a new dict)."""
        if stored is None:
            return None
        if rt.from_storage:
            return order_builtin(rt.from_storage(stored))
        if not rt.builtin:
            o = dict(stored)
            o["apiVersion"] = rt.api_version
            o["metadata"] = dict(sorted(o["metadata"].items()))
            return o
        return stored

    def to_storage(self, rt, obj):
        if rt.to_storage:
            return rt.to_storage(obj)
        return obj

    def _normalize(self, rt, obj):
        if rt.builtin:
            return order_builtin(obj)
        return sort_keys_deep(obj)

    def _commit(self, etype, storage, ns, name, old, new):
        """Records a change; caller holds the lock. For deletes, new is the
        last state (None: old); the event carries it with a fresh
        resourceVersion."""
        self.rv += 1
        b = self.bucket(storage)
        if etype == "DELETED":
            final = clone(new if new is not None else old)
            final["metadata"]["resourceVersion"] = str(self.rv)
            final["metadata"] = _meta_ordered(final["metadata"])
            b.pop((ns, name), None)
            ch = Change(self.rv, etype, storage, ns, name, old, final)
            result = final
        else:
            new["metadata"]["resourceVersion"] = str(self.rv)
            new["metadata"] = _meta_ordered(new["metadata"])
            b[(ns, name)] = new
            ch = Change(self.rv, etype, storage, ns, name, old, new)
            result = new
        self.history.append(ch)
        for fn in self.listeners:
            fn(ch)
        if len(self.history) > self.history_limit:
            drop = len(self.history) - self.history_limit
            self.compacted_rv = self.history[drop - 1].rv
            del self.history[:drop]
            self.history_offset += drop
        self.cond.notify_all()
        return result

    def compact(self, upto=None):
        with self.lock:
            upto = self.rv if upto is None else min(int(upto), self.rv)
            idx = bisect.bisect_right([c.rv for c in self.history], upto)
            del self.history[:idx]
            self.history_offset += idx
            self.compacted_rv = max(self.compacted_rv, upto)
            self.cond.notify_all()
            return self.compacted_rv

    def _check_namespace(self, rt, ns, name):
        if not rt.namespaced:
            return
        nsobj = self.bucket(("", "namespaces")).get((None, ns))
        if nsobj is None:
            raise errors.namespace_not_found(ns)
        if nsobj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(rt, name, "unable to create new content in namespace %s because "
                                   "it is being terminated" % ns)

    def _check_body(self, rt, body, ns, name=None):
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        av, kind = body.get("apiVersion"), body.get("kind")
        if kind is None and rt.builtin is False:
            raise errors.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body)[:200])
        if av and av != rt.api_version:
            raise errors.bad_request("the API version in the data (%s) does not match the expected "
                                     "API version (%s)" % (av, rt.api_version))
        if kind and kind != rt.kind:
            raise errors.bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                                     % (kind, rt.kind))
        md = body.get("metadata")
        if md is None:
            md = body["metadata"] = {}
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        bns = md.get("namespace")
        if rt.namespaced and bns and bns != ns:
            raise errors.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        if name is not None and md.get("name") and md["name"] != name:
            raise errors.bad_request("the name of the object (%s) does not match the name on the "
                                     "URL (%s)" % (md["name"], name))

    # -- field validation ------------------------------------------------------------
    def _definition(self, rt):
        if self.openapi is None or not rt.builtin:
            return None
        return self.openapi.definition_name(rt.group, rt.version, rt.kind)

    def unknown_fields(self, rt, body):
        """(body as the API server decodes it, paths of the fields it
        loses): a built-in kind against its OpenAPI definition, a custom
        resource against its structural schema and ObjectMeta."""
        d = self._definition(rt)
        if d is not None:
            return fieldvalidation.builtin(body, d, self.openapi.definitions())
        if rt.schema and isinstance(body, dict):
            pruned = schema.Walker().prepare(body, rt.schema, root=True)
            paths = fieldvalidation.pruned_paths(body, pruned)
            if self.openapi is not None:
                paths = fieldvalidation.object_meta(body.get("metadata"), self.openapi.definitions()) \
                    + paths
            return body, paths
        return body, []

    def _field_check(self, rt, body, check, patch_value=None):
        """Reports body's unknown fields (plus check.pre) as check's
        directive says; raises for Strict."""
        if check is None:
            return
        _, paths = self.unknown_fields(rt, body)
        fieldvalidation.apply(check, rt, [fieldvalidation.unknown(p) for p in paths], patch_value)

    def _managed(self, rt, old, new, manager, subresource=None, status_meta=False):
        """new's metadata.managedFields after a write by manager (old None:
        a create); both are rt's external view."""
        if self.openapi is None or not manager:
            return ((old or {}).get("metadata") or {}).get("managedFields")
        defs = self.openapi.definitions()
        d = self._definition(rt)
        if d is not None:
            root = {"$ref": "#/definitions/" + d}
        else:
            root = dict(rt.schema or {})
            root["properties"] = dict(root.get("properties") or {},
                                      metadata={"$ref": "#/definitions/" + managedfields.OBJECT_META})
        base = old if old is not None else managedfields.zero_object(rt.group, rt.kind, rt.builtin)
        entries = ((old or {}).get("metadata") or {}).get("managedFields") or []
        return managedfields.update(entries, base, new, root, managedfields.Schema(defs), manager,
                                    rt.api_version, subresource, now_rfc3339(self.clock()),
                                    rt.has_status, sort_keys=not rt.builtin, status_meta=status_meta)

    def _set_managed(self, obj, mf):
        if mf:
            obj["metadata"]["managedFields"] = mf
        else:
            obj["metadata"].pop("managedFields", None)

    def _prepare(self, rt, obj, old):
        """Defaults, schema, validation; returns the object to store."""
        d = self._definition(rt)
        if d is not None:      # a Go struct has no room for unknown fields
            obj, _ = fieldvalidation.builtin(obj, d, self.openapi.definitions())
        elif self.openapi is not None and isinstance(obj.get("metadata"), dict):
            obj["metadata"] = fieldvalidation.prune_typed(     # a custom resource's ObjectMeta
                obj["metadata"], {"$ref": "#/definitions/" + fieldvalidation.OBJECT_META},
                self.openapi.definitions(), "metadata", [])
        defaults.apply_defaults(rt, obj, self)
        causes = []
        if rt.schema:
            w = schema.Walker()
            pruned = w.prepare(obj, rt.schema, root=True)
            w.validate(pruned, rt.schema, "", root=True)
            causes += sorted(w.causes, key=lambda c: c[1])
            obj = pruned
        causes = defaults.validate(rt, obj, old) + causes
        return obj, causes

    # ---- reads -------------------------------------------------------------------
    def get(self, rt, ns, name):
        with self.lock:
            o = self.bucket(rt.storage).get((ns if rt.namespaced else None, name))
            if o is None:
                raise errors.not_found(rt, name)
            return self.external(rt, o)

    def find(self, storage, ns, name):
        with self.lock:
            return self.bucket(storage).get((ns, name))

    def all(self, storage):
        with self.lock:
            return list(self.bucket(storage).values())

    def _snapshot(self, storage, at_rv):
        """{key: obj} of one storage as it was at at_rv (undoing later changes)."""
        state = dict(self.bucket(storage))
        for ch in reversed(self.history):
            if ch.rv <= at_rv:
                break
            if ch.storage != storage:
                continue
            key = (ch.ns, ch.name)
            if ch.type == "ADDED":
                state.pop(key, None)
            else:
                state[key] = ch.old
        return state

    def list(self, rt, ns, lsel, fsel, limit=0, cont=None, rv=None, rv_match=None):
        with self.lock:
            at = self.rv
            start = None
            if cont:
                try:
                    tok = json.loads(base64.b64decode(cont).decode())
                    at, start = int(tok["rv"]), tok["start"]
                except Exception:
                    raise errors.bad_request("continue key is not valid: illegal base64 data")
                if at < self.compacted_rv:
                    raise errors.expired("The provided continue parameter is too old to display a "
                                         "consistent list result. You can start a new list "
                                         "without the continue parameter.")
            elif rv not in (None, "", "0"):
                try:
                    want = int(rv)
                except ValueError:
                    raise errors.bad_request('invalid resource version "%s"' % rv)
                if rv_match == "Exact":
                    if want < self.compacted_rv:
                        raise errors.expired()
                    if want > self.rv:
                        raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                                       % (want, self.rv), {"causes": [{"reason": "ResourceVersionTooLarge",
                                                                       "message": "Too large resource version"}],
                                                           "retryAfterSeconds": 1})
                    at = want
                elif want > self.rv:
                    raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                                   % (want, self.rv), {"causes": [{"reason": "ResourceVersionTooLarge",
                                                                   "message": "Too large resource version"}],
                                                       "retryAfterSeconds": 1})
            state = self.bucket(rt.storage) if at == self.rv else self._snapshot(rt.storage, at)
            keys = sorted(k for k in state if not rt.namespaced or ns is None or k[0] == ns)
            items = []
            cont_out = None
            remaining = 0
            for i, k in enumerate(keys):
                if start is not None and "%s/%s" % (k[0] or "", k[1]) <= start:
                    continue
                o = self.external(rt, state[k])
                if not lsel.matches(o["metadata"].get("labels")) or not fsel.matches(o):
                    continue
                if limit and len(items) >= limit:
                    cont_out = base64.b64encode(json.dumps(
                        {"rv": at, "start": "%s/%s" % (items[-1]["metadata"].get("namespace") or "",
                                                       items[-1]["metadata"]["name"])}).encode()).decode()
                    remaining = sum(1 for kk in keys[i:] if lsel.matches(
                        state[kk]["metadata"].get("labels")) and fsel.matches(state[kk]))
                    break
                items.append(o)
            meta = {"resourceVersion": str(at)}
            if cont_out:
                meta["continue"] = cont_out
                if lsel.empty() and fsel.empty():
                    meta["remainingItemCount"] = remaining
            if rt.builtin:
                items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
            return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}

    # ---- writes ------------------------------------------------------------------
    def _run_hooks(self, rt, verb, ns, name, sub):
        for h in self.write_hooks:
            h(self, rt, verb, ns, name, sub)

    def create(self, rt, ns, body, dry_run=False, field_validation=None, warnings=None):
        check = _as_check(field_validation, warnings)
        body = clone(body)
        self._check_body(rt, body, ns)
        self._field_check(rt, body, check)
        md = body["metadata"]
        if md.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        name = md.get("name")
        gen_name = md.get("generateName")
        if not name and not gen_name:
            raise errors.invalid(rt, "", [("FieldValueRequired", "metadata.name",
                                           "Required value: name or generateName is required")])
        with self.lock:
            key_ns = ns if rt.namespaced else None
            self._run_hooks(rt, "create", key_ns, name or gen_name, None)
            if not name:
                for _ in range(20):
                    name = gen_name + random_suffix()
                    if (key_ns, name) not in self.bucket(rt.storage):
                        break
            self._check_namespace(rt, ns, name)
            for k in SERVER_META:
                md.pop(k, None)
            md["name"] = name
            if rt.namespaced:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            body["kind"], body["apiVersion"] = rt.kind, rt.api_version
            if rt.has_status and (not rt.builtin or rt.kind not in ("Namespace",)):
                body.pop("status", None)
                if rt.builtin and rt.kind in ("Deployment", "DaemonSet", "ReplicaSet", "StatefulSet",
                                              "HorizontalPodAutoscaler"):
                    body["status"] = {}
            obj, causes = self._prepare(rt, body, None)
            if gen_name and not (rt.group == "" and rt.kind == "Event"):
                causes = defaults.validate_name(rt, gen_name, "metadata.generateName", prefix=True) + causes
            else:
                causes = defaults.validate_name(rt, name) + causes
            if causes:
                raise errors.invalid(rt, name, causes)
            if (key_ns, name) in self.bucket(rt.storage):
                raise errors.already_exists(rt, name)
            md = obj["metadata"]
            md["uid"] = new_uid()
            md["creationTimestamp"] = now_rfc3339(self.clock())
            if rt.has_generation:
                md["generation"] = 1
            self._set_managed(obj, self._managed(rt, None, obj, check.manager if check else None))
            stored = self._normalize(rt, self.to_storage(rt, obj))
            if dry_run:
                stored = clone(stored)
                stored["metadata"]["resourceVersion"] = ""
                return self.external(rt, stored)
            res = self._commit("ADDED", rt.storage, key_ns, name, None, stored)
            if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
                res = self._register_crd(res)
            return self.external(rt, res)

    def update(self, rt, ns, name, body, subresource=None, dry_run=False, field_validation=None,
               warnings=None, verb="update", patch_value=None):
        check = _as_check(field_validation, warnings)
        body = clone(body)
        self._check_body(rt, body, ns, name)
        self._field_check(rt, body, check, patch_value)
        with self.lock:
            key_ns = ns if rt.namespaced else None
            cur_stored = self.bucket(rt.storage).get((key_ns, name))
            if cur_stored is None:
                raise errors.not_found(rt, name)
            self._run_hooks(rt, verb, key_ns, name, subresource)
            cur = self.external(rt, cur_stored)
            want_rv = body["metadata"].get("resourceVersion")
            if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            if subresource == "status":
                new = clone(cur)
                if "status" in body:
                    new["status"] = body["status"]
                else:
                    new.pop("status", None)
            else:
                new = body
                new["kind"], new["apiVersion"] = rt.kind, rt.api_version
                if rt.has_status:
                    if "status" in cur:
                        new["status"] = clone(cur["status"])
                    else:
                        new.pop("status", None)
            md = new["metadata"]
            cmd = cur["metadata"]
            for k in SERVER_META:
                md.pop(k, None)
                if k in cmd and k != "managedFields":
                    md[k] = cmd[k]
            md["name"] = name
            if rt.namespaced:
                md["namespace"] = ns
            if subresource == "status":
                new["metadata"] = clone(cmd)
            terminating = bool(cmd.get("deletionTimestamp"))
            if terminating:
                added = set(new["metadata"].get("finalizers") or []) - set(cmd.get("finalizers") or [])
                if added:
                    raise errors.invalid(rt, name, [(
                        "FieldValueForbidden", "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted, "
                        "found new finalizers %s" % json.dumps(sorted(added)))])
            obj, causes = self._prepare(rt, new, cur)
            if causes:
                raise errors.invalid(rt, name, causes)
            obj["metadata"].pop("resourceVersion", None)
            if rt.has_generation and subresource != "status":
                if spec_part(obj, rt.has_status) != spec_part(cur, rt.has_status):
                    obj["metadata"]["generation"] = int(cmd.get("generation") or 0) + 1
            cmp_cur = clone(cur)
            cmp_cur["metadata"].pop("resourceVersion", None)
            cmp_cur["metadata"].pop("managedFields", None)
            obj["metadata"].pop("managedFields", None)
            stored = self._normalize(rt, self.to_storage(rt, obj))
            if json.dumps(self._normalize(rt, self.to_storage(rt, cmp_cur)), sort_keys=True) == \
                    json.dumps(stored, sort_keys=True):
                return cur
            self._set_managed(obj, self._managed(rt, cur, obj, check.manager if check else None,
                                                 subresource))
            stored = self._normalize(rt, self.to_storage(rt, obj))
            if dry_run:
                stored["metadata"]["resourceVersion"] = cmd["resourceVersion"]
                return self.external(rt, stored)
            if terminating and not stored["metadata"].get("finalizers"):
                stored["metadata"]["resourceVersion"] = cmd["resourceVersion"]
                self._commit("DELETED", rt.storage, key_ns, name, cur_stored, stored)
                return self.external(rt, stored)
            res = self._commit("MODIFIED", rt.storage, key_ns, name, cur_stored, stored)
            if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io" \
                    and subresource != "status":
                res = self._register_crd(res)
            return self.external(rt, res)

    def patch(self, rt, ns, name, ptype, patch, subresource=None, dry_run=False,
              field_validation=None, warnings=None):
        with self.lock:
            cur = self.get(rt, ns, name)
            if subresource == "scale":
                return self._patch_scale(rt, ns, name, cur, ptype, patch, dry_run)
            try:
                if ptype == "merge":
                    new = merge_patch(cur, patch)
                elif ptype == "json":
                    new = json_patch(cur, patch)
                elif ptype == "strategic":
                    if not rt.smp:
                        raise errors.unsupported_media_type([
                            "application/json-patch+json", "application/merge-patch+json",
                            "application/apply-patch+yaml"])
                    new = strategic_merge_patch(cur, patch, rt.kind)
                else:
                    raise errors.unsupported_media_type([
                        "application/json-patch+json", "application/merge-patch+json",
                        "application/strategic-merge-patch+json"])
            except PatchError as e:
                raise ApiError(422, "Invalid", str(e), {})
            if not isinstance(new, dict):
                raise errors.bad_request("the patch must produce a JSON object")
            if not isinstance(new.get("metadata"), dict):
                new["metadata"] = {}
            if new["metadata"].get("name") not in (None, name):
                raise errors.bad_request("metadata.name: Invalid value: the name cannot be changed "
                                         "by a patch")
            new["metadata"]["name"] = name
            if rt.namespaced:
                new["metadata"]["namespace"] = ns
            check = _as_check(field_validation, warnings)
            if check is not None:
                pv = fieldvalidation.go_fmt(patch) if ptype == "strategic" else \
                    fieldvalidation.go_json(new)
            else:
                pv = None
            return self.update(rt, ns, name, new, subresource, dry_run, check, warnings,
                               verb="patch", patch_value=pv)

    # -- scale subresource ---------------------------------------------------------
    def _scale_paths(self, rt):
        if rt.builtin:
            return "spec.replicas", "status.replicas", None
        s = rt.scale or {}
        return (s.get("specReplicasPath", ".spec.replicas").lstrip("."),
                s.get("statusReplicasPath", ".status.replicas").lstrip("."),
                (s.get("labelSelectorPath") or "").lstrip(".") or None)

    def get_scale(self, rt, ns, name):
        from .util import get_path
        cur = self.get(rt, ns, name)
        sp, stp, selp = self._scale_paths(rt)
        md = cur["metadata"]
        status = {"replicas": get_path(cur, stp) or 0}
        if rt.builtin:
            sel = defaults.selector_string((cur.get("spec") or {}).get("selector"))
            if sel:
                status["selector"] = sel
        elif selp and get_path(cur, selp):
            status["selector"] = get_path(cur, selp)
        spec = {}
        if get_path(cur, sp) is not None:
            spec["replicas"] = get_path(cur, sp)
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                "creationTimestamp") if k in md},
                "spec": spec, "status": status}

    def update_scale(self, rt, ns, name, body, dry_run=False):
        with self.lock:
            cur = self.get(rt, ns, name)
            want_rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            replicas = ((body or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(rt, name, [("FieldValueInvalid", "spec.replicas",
                                                 "Invalid value: %s: must be greater than or equal to 0"
                                                 % json.dumps(replicas))])
            sp, _, _ = self._scale_paths(rt)
            new = clone(cur)
            node = new
            parts = sp.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = replicas
            self.update(rt, ns, name, new, None, dry_run)
            return self.get_scale(rt, ns, name)

    def _patch_scale(self, rt, ns, name, cur, ptype, patch, dry_run):
        scale = self.get_scale(rt, ns, name)
        try:
            if ptype == "json":
                new = json_patch(scale, patch)
            elif ptype in ("merge", "strategic"):
                new = merge_patch(scale, patch)
            else:
                raise errors.unsupported_media_type(["application/merge-patch+json"])
        except PatchError as e:
            raise ApiError(422, "Invalid", str(e), {})
        return self.update_scale(rt, ns, name, new, dry_run)

    # -- delete --------------------------------------------------------------------
    def delete(self, rt, ns, name, options=None, dry_run=False):
        options = options or {}
        with self.lock:
            key_ns = ns if rt.namespaced else None
            cur_stored = self.bucket(rt.storage).get((key_ns, name))
            if cur_stored is None:
                raise errors.not_found(rt, name)
            self._run_hooks(rt, "delete", key_ns, name, None)
            cur = self.external(rt, cur_stored)
            md = cur["metadata"]
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise errors.precondition_failed(rt, name, "UID", pre["uid"], md.get("uid"))
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise errors.precondition_failed(rt, name, "ResourceVersion", pre["resourceVersion"],
                                                 md.get("resourceVersion"))
            if md.get("deletionTimestamp"):
                return cur, False
            policy = options.get("propagationPolicy")
            if options.get("orphanDependents") is True:
                policy = "Orphan"
            fins = list(md.get("finalizers") or [])
            if policy == "Foreground" and FOREGROUND not in fins and self._has_dependents(md["uid"]):
                fins.append(FOREGROUND)
            if policy == "Orphan" and ORPHAN not in fins and self._has_dependents(md["uid"]):
                fins.append(ORPHAN)
            is_ns = rt.group == "" and rt.kind == "Namespace"
            if fins or is_ns:
                new = clone(cur_stored)
                new["metadata"]["deletionTimestamp"] = now_rfc3339(self.clock())
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if fins:
                    new["metadata"]["finalizers"] = fins
                if rt.has_generation:
                    new["metadata"]["generation"] = int(new["metadata"].get("generation") or 0) + 1
                if is_ns:
                    new.setdefault("status", {})["phase"] = "Terminating"
                new = self._normalize(rt, new) if rt.to_storage is None else new
                if dry_run:
                    return self.external(rt, new), False
                res = self._commit("MODIFIED", rt.storage, key_ns, name, cur_stored, new)
                return self.external(rt, res), False
            if dry_run:
                return cur, True
            res = self._commit("DELETED", rt.storage, key_ns, name, cur_stored, None)
            if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
                self._unregister_crd(res)
            return self.external(rt, res), True

    def _has_dependents(self, uid):
        for b in self.objects.values():
            for o in b.values():
                for ref in o["metadata"].get("ownerReferences") or []:
                    if ref.get("uid") == uid:
                        return True
        return False

    # ---- internal writes (fake controllers, GC) -----------------------------------
    def internal_update(self, storage, ns, name, mutate, manager="kcm", subresource="status"):
        """Applies mutate(copy) and commits if anything changed, recording
        the change under manager (the fake's controller manager, through
        the status subresource, as the recordings show it; subresource None
        for metadata writes such as finalizers). Returns the new object, or
        None when it is gone."""
        with self.lock:
            cur = self.bucket(storage).get((ns, name))
            if cur is None:
                return None
            new = clone(cur)
            if mutate(new) is False:
                return cur
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if json.dumps(new, sort_keys=True) == json.dumps(cur, sort_keys=True):
                return cur
            rt = self.storage_type(storage)
            if rt is not None:
                self._set_managed(new, self._managed(rt, cur, new, manager, subresource,
                                                     status_meta=True))
                new = self._normalize(rt, new)
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                    and not (storage == ("", "namespaces")):
                self._commit("DELETED", storage, ns, name, cur, new)
                return None
            return self._commit("MODIFIED", storage, ns, name, cur, new)

    def internal_delete(self, storage, ns, name):
        with self.lock:
            cur = self.bucket(storage).get((ns, name))
            if cur is None:
                return
            if cur["metadata"].get("finalizers"):
                if not cur["metadata"].get("deletionTimestamp"):
                    def mark(o):
                        o["metadata"]["deletionTimestamp"] = now_rfc3339(self.clock())
                        o["metadata"]["deletionGracePeriodSeconds"] = 0
                    self.internal_update(storage, ns, name, mark, subresource=None)
                return
            self._commit("DELETED", storage, ns, name, cur, None)
            if storage == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._unregister_crd(cur)

    def internal_create(self, rt, obj, manager="kube-apiserver"):
        with self.lock:
            md = obj["metadata"]
            md.setdefault("uid", new_uid())
            md.setdefault("creationTimestamp", now_rfc3339(self.clock()))
            obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
            defaults.apply_defaults(rt, obj, self)
            self._set_managed(obj, self._managed(rt, None, obj, manager))
            key = (md.get("namespace") if rt.namespaced else None, md["name"])
            if key in self.bucket(rt.storage):
                return self.bucket(rt.storage)[key]
            return self._commit("ADDED", rt.storage, key[0], key[1], None, self._normalize(rt, obj))

    # ---- CRDs --------------------------------------------------------------------
    def _register_crd(self, crd):
        spec = crd.get("spec") or {}
        group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
        self.registry.remove_group_resource(group, plural)
        for t in crd_types(crd):
            self.registry.add(t)
        storage_versions = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        now = now_rfc3339(self.clock())

        def set_status(o):
            st = o.setdefault("status", {})
            st["acceptedNames"] = copy.deepcopy(spec.get("names") or {})
            st["conditions"] = [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now,
                 "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": now,
                 "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
            ]
            prev = st.get("storedVersions") or []
            st["storedVersions"] = prev + [v for v in storage_versions if v not in prev]
        res = self.internal_update(("apiextensions.k8s.io", "customresourcedefinitions"), None,
                                   crd["metadata"]["name"], set_status, manager="kube-apiserver")
        return res or crd

    def _unregister_crd(self, crd):
        spec = crd.get("spec") or {}
        group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
        self.registry.remove_group_resource(group, plural)
        storage = (group, plural)
        for (ns, name), o in list(self.bucket(storage).items()):
            self._commit("DELETED", storage, ns, name, o, None)
        self.objects.pop(storage, None)

    # ---- watch -------------------------------------------------------------------
    def watch_start(self, rt, ns, lsel, fsel, rv):
        """Returns (initial events, absolute history index to read from) or
        raises Expired (answered as an ERROR event by the caller)."""
        with self.lock:
            end = self.history_offset + len(self.history)
            if rv in (None, "", "0"):
                init = []
                for (kns, _), o in sorted(self.bucket(rt.storage).items()):
                    if rt.namespaced and ns is not None and kns != ns:
                        continue
                    e = self.external(rt, o)
                    if lsel.matches(e["metadata"].get("labels")) and fsel.matches(e):
                        init.append(("ADDED", e))
                return init, end
            try:
                want = int(rv)
            except ValueError:
                raise errors.bad_request('invalid resource version "%s"' % rv)
            if want < self.compacted_rv:
                raise errors.expired("too old resource version: %d (%d)" % (want, self.compacted_rv))
            rvs = [c.rv for c in self.history]
            return [], self.history_offset + bisect.bisect_right(rvs, want)

    def watch_wait(self, index, timeout):
        """Changes from absolute index on, waiting up to timeout seconds for
        the first one. Returns (changes, next index, current rv); raises
        Expired when the history before index was compacted away."""
        with self.lock:
            deadline = time.monotonic() + timeout
            while index >= self.history_offset + len(self.history):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            if index < self.history_offset:
                raise errors.expired("too old resource version: %d (%d)"
                                     % (self.history[0].rv - 1 if self.history else self.rv,
                                        self.compacted_rv))
            chunk = self.history[index - self.history_offset:]
            return chunk, index + len(chunk), self.rv

    def wake_all(self):
        with self.lock:
            self.cond.notify_all()


def _meta_ordered(md):
    """ObjectMeta's keys in Go's field order (custom resources are sorted
    again when served)."""
    out = {k: md[k] for k in META_ORDER if k in md}
    for k in md:
        if k not in out:
            out[k] = md[k]
    return out


def _as_check(field_validation, warnings):
    """A fieldvalidation.Check from what callers pass: a Check, a directive
    name (Strict, Warn, Ignore) or None (internal writes: no check)."""
    if field_validation is None or isinstance(field_validation, fieldvalidation.Check):
        return field_validation
    return fieldvalidation.Check(field_validation, warnings=warnings)


def _pruned_paths(before, after, path):
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for k, v in before.items():
            p = (path + "." if path else "") + k
            if k not in after:
                if v is not None:
                    out.append(p)
            else:
                out += _pruned_paths(v, after[k], p)
    elif isinstance(before, list) and isinstance(after, list):
        for i, (a, b) in enumerate(zip(before, after)):
            out += _pruned_paths(a, b, "%s[%d]" % (path, i))
    return out
