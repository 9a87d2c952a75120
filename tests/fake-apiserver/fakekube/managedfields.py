"""managedfields.py - metadata.managedFields as kube-apiserver keeps them for
Update operations (create, update, patch; server-side apply is not
served): one entry per (manager, operation, API version, subresource) with
the set of fields that manager set, in the FieldsV1 form (`f:name`,
`k:{"name":"x"}` for items of keyed lists, `v:"x"` for items of sets,
`.` for a node that was added as a whole and has children).

A write compares the object before (for a create: the kind's Go zero
value) with the object after: the fields added or changed go to the
writer's set and leave everybody else's, the fields removed leave every
set, empty entries go. What is a struct, a map, an atomic value or a
keyed list comes from the kind's OpenAPI definition (built-in kinds:
x-kubernetes-list-type / -list-map-keys / -map-type, or the patch merge
key) or from the CRD's schema. Server-managed metadata (name, uid,
resourceVersion, generation, timestamps) and, through the main resource,
the status of a kind with a status subresource (through /status: all but
the status) are not tracked. Pure."""
import json

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
STRIPPED_META = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink")
_TEMPLATE = {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}}

# The Go zero value of each built-in kind as JSON (metadata aside): the
# fields a create finds already there (non-pointer structs, fields without
# omitempty), which a create therefore changes rather than adds.
ZERO = {
    ("apps", "Deployment"): {"spec": {"selector": None, "template": _TEMPLATE, "strategy": {}}},
    ("apps", "ReplicaSet"): {"spec": {"selector": None, "template": _TEMPLATE}},
    ("apps", "StatefulSet"): {"spec": {"selector": None, "template": _TEMPLATE, "serviceName": "",
                                       "updateStrategy": {}}},
    ("apps", "DaemonSet"): {"spec": {"selector": None, "template": _TEMPLATE, "updateStrategy": {}}},
    ("batch", "Job"): {"spec": {"template": _TEMPLATE}},
    ("batch", "CronJob"): {"spec": {"schedule": "", "jobTemplate": {"metadata": {
        "creationTimestamp": None}, "spec": {
        "template": _TEMPLATE}}}},
    ("", "Pod"): {"spec": {"containers": None}},
    ("", "Service"): {"spec": {}},
    ("", "Namespace"): {"spec": {}},
    ("", "Node"): {"spec": {}},
    ("coordination.k8s.io", "Lease"): {"spec": {}},
    ("autoscaling", "HorizontalPodAutoscaler"): {"spec": {"scaleTargetRef": {"kind": "", "name": ""},
                                                          "maxReplicas": 0}},
    ("", "Event"): {"involvedObject": {}, "reason": "", "message": "", "source": {},
                    "firstTimestamp": None, "lastTimestamp": None, "type": "", "eventTime": None,
                    "reportingComponent": "", "reportingInstance": ""},
    ("events.k8s.io", "Event"): {"eventTime": None, "reportingController": "", "reportingInstance": "",
                                 "action": "", "reason": "", "regarding": {}, "note": "", "type": "",
                                 "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None},
    ("rbac.authorization.k8s.io", "Role"): {"rules": None},
    ("rbac.authorization.k8s.io", "ClusterRole"): {"rules": None},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"roleRef": {"apiGroup": "", "kind": "", "name": ""}},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"roleRef": {"apiGroup": "", "kind": "",
                                                                      "name": ""}},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {"spec": {
        "group": "", "names": {"plural": "", "kind": ""}, "scope": "", "versions": None}},
    ("networking.k8s.io", "Ingress"): {"spec": {}},
    ("networking.k8s.io", "NetworkPolicy"): {"spec": {"podSelector": {}}},
    ("policy", "PodDisruptionBudget"): {"spec": {}},
}


def zero_object(group, kind, builtin):
    z = json.loads(json.dumps(ZERO.get((group, kind), {}))) if builtin else {}
    z["metadata"] = {}
    return z


def manager_name(field_manager, user_agent):
    """The fieldManager parameter, or the user agent up to its first '/'
    (printable characters, at most 128), as kube-apiserver names managers."""
    if field_manager:
        return field_manager
    m = (user_agent or "").split("/")[0]
    return "".join(ch for ch in m if ch.isprintable())[:128]


# ---- schema nodes ---------------------------------------------------------------------------

class Schema:
    """Answers, for a schema node, how SMD treats it."""

    def __init__(self, defs):
        self.defs = defs or {}

    def resolve(self, s):
        n = 0
        while isinstance(s, dict) and "$ref" in s and n < 30:
            s = self.defs.get(s["$ref"].rsplit("/", 1)[-1], {})
            n += 1
        return s if isinstance(s, dict) else {}

    def kind(self, s, value):
        """'struct', 'map', 'assoc', 'set', or 'atomic'."""
        s = self.resolve(s)
        if isinstance(value, list):
            lt = s.get("x-kubernetes-list-type")
            if lt == "map":
                return "assoc"
            if lt == "set":
                return "set"
            if lt == "atomic":
                return "atomic"
            strat = s.get("x-kubernetes-patch-strategy", "")
            if "merge" in strat.split(","):
                return "assoc" if s.get("x-kubernetes-patch-merge-key") else "set"
            return "atomic"
        if isinstance(value, dict):
            if s.get("x-kubernetes-map-type") == "atomic":
                return "atomic"
            if s.get("properties") is not None:
                return "struct"
            if isinstance(s.get("additionalProperties"), dict) or \
                    s.get("x-kubernetes-preserve-unknown-fields"):
                return "map"
            return "atomic"
        return "atomic"

    def keys(self, s):
        s = self.resolve(s)
        if s.get("x-kubernetes-list-map-keys"):
            return list(s["x-kubernetes-list-map-keys"])
        k = s.get("x-kubernetes-patch-merge-key")
        return [k] if k else []

    def child(self, s, key):
        s = self.resolve(s)
        props = s.get("properties")
        if props is not None and key in props:
            return props[key]
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            return addl
        return {"x-kubernetes-preserve-unknown-fields": True} if \
            s.get("x-kubernetes-preserve-unknown-fields") else {}

    def items(self, s):
        it = self.resolve(s).get("items")
        return it if isinstance(it, dict) else {}


# ---- comparing -----------------------------------------------------------------------------

_MISSING = object()


def _item_key(item, keys):
    if not isinstance(item, dict):
        return None
    # SMD writes the key fields sorted by name
    return "k:" + json.dumps({k: item.get(k) for k in sorted(keys) if k in item},
                             separators=(",", ":"), sort_keys=True)


def _set_key(v):
    return "v:" + json.dumps(v, separators=(",", ":"), sort_keys=True)


def _walk_all(v, sch, schema, path, out):
    """Every path of a subtree (added or removed as a whole)."""
    out.add(path)
    k = schema.kind(sch, v)
    if k in ("struct", "map"):
        for key, x in v.items():
            _walk_all(x, schema.child(sch, key), schema, path + ("f:" + key,), out)
    elif k == "assoc":
        for item in v:
            ik = _item_key(item, schema.keys(sch))
            if ik is not None:
                _walk_all(item, schema.items(sch), schema, path + (ik,), out)
    elif k == "set":
        for item in v:
            out.add(path + (_set_key(item),))


def compare(old, new, sch, schema, path, added, modified, removed):
    """Fills added / modified / removed with the paths (tuples of
    FieldsV1 elements) that differ between old and new."""
    if old is _MISSING and new is _MISSING:
        return
    if old is _MISSING:
        _walk_all(new, sch, schema, path, added)
        return
    if new is _MISSING:
        _walk_all(old, sch, schema, path, removed)
        return
    k = schema.kind(sch, new if new is not None else old)
    if k in ("struct", "map") and isinstance(new, dict) and (isinstance(old, dict) or old is None):
        old = old or {}
        for key in list(old) + [x for x in new if x not in old]:
            compare(old.get(key, _MISSING), new.get(key, _MISSING), schema.child(sch, key), schema,
                    path + ("f:" + key,), added, modified, removed)
        return
    if k == "assoc" and isinstance(new, list) and (isinstance(old, list) or old is None):
        keys = schema.keys(sch)
        om = {_item_key(i, keys): i for i in (old or [])}
        nm = {_item_key(i, keys): i for i in new}
        for ik in list(om) + [x for x in nm if x not in om]:
            if ik is None:
                continue
            compare(om.get(ik, _MISSING), nm.get(ik, _MISSING), schema.items(sch), schema,
                    path + (ik,), added, modified, removed)
        return
    if k == "set" and isinstance(new, list) and (isinstance(old, list) or old is None):
        ov = {_set_key(v) for v in (old or [])}
        nv = {_set_key(v) for v in new}
        for v in nv - ov:
            added.add(path + (v,))
        for v in ov - nv:
            removed.add(path + (v,))
        return
    if old != new:
        modified.add(path)


# ---- FieldsV1 -------------------------------------------------------------------------------

def to_fields_v1(paths):
    """The FieldsV1 tree of a set of paths: a path that is itself a member
    and has children gets "."."""
    root = {}
    for p in paths:
        node = root
        for el in p:
            node = node.setdefault(el, {})
    for p in paths:
        node = root
        for el in p:
            node = node[el]
        if p and node:
            node["."] = {}
    return _sorted(root)


def _sorted(d):
    out = {}
    if "." in d:
        out["."] = {}
    for k in sorted(x for x in d if x != "."):
        out[k] = _sorted(d[k])
    return out


def from_fields_v1(f, path=()):
    out = set()
    for k, v in (f or {}).items():
        if k == ".":
            out.add(path)
            continue
        p = path + (k,)
        if not v:
            out.add(p)
        else:
            out |= from_fields_v1(v, p)
    return out


# ---- the update -----------------------------------------------------------------------------

def _strip_meta(v):
    return {mk: mv for mk, mv in v.items() if mk not in STRIPPED_META} if isinstance(v, dict) else v


def _tracked(obj, subresource, has_status, status_meta=False):
    """The part of an object a write by this endpoint is tracked on
    (status_meta: a status write that may also change labels and
    annotations, as the fake's controllers make)."""
    if not isinstance(obj, dict):
        return {}
    if subresource == "status":
        out = {"status": obj["status"]} if "status" in obj else {}
        if status_meta and isinstance(obj.get("metadata"), dict):
            out["metadata"] = {k: v for k, v in obj["metadata"].items() if k in ("labels", "annotations")}
        return out
    out = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "status" and has_status):
            continue
        if k == "metadata":
            v = _strip_meta(v)
        out[k] = v
    return out


def update(entries, old, new, root_schema, schema, manager, api_version, subresource, now,
           has_status, sort_keys=False, status_meta=False):
    """The managedFields after a write of new over old (for a create: the
    kind's zero object) by manager. entries: the current managedFields."""
    old_t = _tracked(old, subresource, has_status, status_meta)
    new_t = _tracked(new, subresource, has_status, status_meta)
    added, modified, removed = set(), set(), set()
    compare(old_t, new_t, root_schema, schema, (), added, modified, removed)
    added.discard(())
    changed = added | modified
    sub = subresource or ""
    sets = []
    mine = None
    for e in entries or []:
        if not isinstance(e, dict) or e.get("fieldsType") != "FieldsV1":
            continue
        key = (e.get("manager"), e.get("operation"), e.get("apiVersion"), e.get("subresource") or "")
        fs = from_fields_v1(e.get("fieldsV1"))
        if key == (manager, "Update", api_version, sub):
            mine = (e, fs)
            continue
        fs = {p for p in fs if p not in changed and not _under(p, removed)}
        sets.append((e, fs))
    if mine is None:
        mine_fs, mine_e, fresh = set(), None, True
    else:
        mine_e, mine_fs = mine
        fresh = False
    new_fs = {p for p in mine_fs if not _under(p, removed)} | changed
    new_fs.discard(())
    out = []
    for e, fs in sets:
        if fs:
            out.append(_entry(e, fs, e.get("time"), sort_keys))
    if new_fs:
        # the time moves when this write set something (a write that only
        # removed fields leaves it), as kube-apiserver's managedFieldsUpdater does
        t = now if fresh or changed else mine_e.get("time")
        base = {"manager": manager, "operation": "Update", "apiVersion": api_version}
        if sub:
            base["subresource"] = sub
        out.append(_entry(base, new_fs, t, sort_keys))
    out.sort(key=lambda e: (e.get("operation") != "Apply", e.get("time") or "", e.get("manager") or "",
                            e.get("apiVersion") or "", e.get("subresource") or ""))
    return out


def _under(p, removed):
    return any(p[:len(r)] == r for r in removed)


def _entry(base, fs, time, sort_keys):
    e = {"manager": base.get("manager"), "operation": base.get("operation", "Update"),
         "apiVersion": base.get("apiVersion"), "time": time, "fieldsType": "FieldsV1",
         "fieldsV1": to_fields_v1(fs)}
    if base.get("subresource"):
        e["subresource"] = base["subresource"]
    if sort_keys:
        e = dict(sorted(e.items()))
    return e
