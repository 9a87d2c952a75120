"""patch.py - the three patch formats the API server accepts:
JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
patch for the built-in kinds canaryd and kubectl use (lists merged by their
patchMergeKey: containers/env/volumes by name, ports by containerPort or
port, conditions by type, ownerReferences by uid, finalizers as a set;
directives $patch, $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...).
Pure functions on JSON values; errors raise PatchError."""
import copy


class PatchError(Exception):
    pass


# ---- JSON merge patch ---------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- JSON patch -----------------------------------------------------------------

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError('invalid JSON pointer "%s"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError("doc is missing path: /%s" % "/".join(parts))
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError("doc is missing path: /%s" % "/".join(parts))
        else:
            raise PatchError("doc is missing path: /%s" % "/".join(parts))
    return cur


def _get(doc, parts):
    if not parts:
        return doc
    par = _parent(doc, parts)
    key = parts[-1]
    try:
        return par[key] if isinstance(par, dict) else par[int(key)]
    except (KeyError, ValueError, IndexError, TypeError):
        raise PatchError("doc is missing path: /%s" % "/".join(parts))


def _add(doc, parts, value):
    if not parts:
        return value
    par = _parent(doc, parts)
    key = parts[-1]
    if isinstance(par, dict):
        par[key] = value
    elif isinstance(par, list):
        if key == "-":
            par.append(value)
        else:
            try:
                i = int(key)
            except ValueError:
                raise PatchError("invalid array index %s" % key)
            if i < 0 or i > len(par):
                raise PatchError("index out of bounds: %d" % i)
            par.insert(i, value)
    else:
        raise PatchError("doc is missing path: /%s" % "/".join(parts))
    return doc


def _remove(doc, parts):
    if not parts:
        raise PatchError("cannot remove the whole document")
    par = _parent(doc, parts)
    key = parts[-1]
    try:
        if isinstance(par, dict):
            del par[key]
        else:
            del par[int(key)]
    except (KeyError, ValueError, IndexError, TypeError):
        raise PatchError("unable to remove nonexistent key: %s: missing value" % key)
    return doc


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be an array of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("invalid JSON patch operation: %r" % (op,))
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            val = copy.deepcopy(_get(doc, src))
            if kind == "move":
                doc = _remove(doc, src)
            doc = _add(doc, parts, val)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise PatchError("testing value %s failed" % op["path"])
        else:
            raise PatchError('Unexpected kind: %s' % kind)
    return doc


# ---- strategic merge patch ------------------------------------------------------
# A type is a dict field -> type; a list field is ("merge", key, item_type)
# (key None = merge a list of primitives as a set), ("replace",) otherwise.

CONTAINER = {
    "ports": ("merge", "containerPort", None),
    "env": ("merge", "name", None),
    "volumeMounts": ("merge", "mountPath", None),
    "volumeDevices": ("merge", "devicePath", None),
}
POD_SPEC = {
    "containers": ("merge", "name", CONTAINER),
    "initContainers": ("merge", "name", CONTAINER),
    "ephemeralContainers": ("merge", "name", CONTAINER),
    "volumes": ("merge", "name", None),
    "imagePullSecrets": ("merge", "name", None),
    "hostAliases": ("merge", "ip", None),
    "topologySpreadConstraints": ("merge", "topologyKey", None),
    "resourceClaims": ("merge", "name", None),
}
META = {
    "finalizers": ("merge", None, None),
    "ownerReferences": ("merge", "uid", None),
}
POD_TEMPLATE = {"metadata": META, "spec": POD_SPEC}
CONDITIONS = {"conditions": ("merge", "type", None)}
WORKLOAD = {"metadata": META, "spec": {"template": POD_TEMPLATE}, "status": CONDITIONS}
TYPES = {
    "Pod": {"metadata": META, "spec": POD_SPEC, "status": CONDITIONS},
    "Deployment": WORKLOAD,
    "DaemonSet": WORKLOAD,
    "ReplicaSet": WORKLOAD,
    "StatefulSet": WORKLOAD,
    "Job": WORKLOAD,
    "CronJob": {"metadata": META, "spec": {"jobTemplate": {"spec": {"template": POD_TEMPLATE}}}},
    "Service": {"metadata": META, "spec": {"ports": ("merge", "port", None)}},
    "Node": {"metadata": META, "status": CONDITIONS},
    "Namespace": {"metadata": META, "status": CONDITIONS},
    "HorizontalPodAutoscaler": {"metadata": META, "status": CONDITIONS},
}
DEFAULT = {"metadata": META}

_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$deleteFromPrimitiveList/", "$retainKeys", "$patch")


def _sub(t, key):
    if isinstance(t, dict):
        return t.get(key)
    return None


def _strip_directives(v):
    if isinstance(v, dict):
        return {k: _strip_directives(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_directives(x) for x in v]
    return v


def _merge_map(orig, patch, t):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError('Unknown patch type: %s' % directive)
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k[len("$deleteFromPrimitiveList/"):]
            if isinstance(out.get(field), list) and isinstance(v, list):
                out[field] = [x for x in out[field] if x not in v]
        elif k in ("$retainKeys", "$patch"):
            continue
        elif v is None:
            out.pop(k, None)
        else:
            ft = _sub(t, k)
            if isinstance(v, list):
                out[k] = _merge_list(out.get(k), v, ft)
            elif isinstance(v, dict):
                merged = _merge_map(out.get(k), v, ft if isinstance(ft, dict) else None)
                if merged is None:
                    out.pop(k, None)
                else:
                    out[k] = merged
            else:
                out[k] = v
    for field, order in orders.items():
        ft = _sub(t, field)
        if isinstance(out.get(field), list):
            out[field] = _apply_order(out[field], order, ft)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _item_key(item, key):
    return item.get(key) if isinstance(item, dict) else None


def _merge_list(orig, patch, ft):
    if not (isinstance(ft, tuple) and ft[0] == "merge"):
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [_strip_directives(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return _strip_directives(patch)
    _, key, item_t = ft
    out = copy.deepcopy(orig) if isinstance(orig, list) else []
    if key is None:                         # list of primitives: union
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    for item in patch:
        if isinstance(item, dict) and item.get("$patch") == "replace":
            return [_strip_directives(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError("merging an object in json but data type is not struct, instead is: "
                             + type(item).__name__)
        k = item.get(key)
        if k is None:
            raise PatchError('map: %s does not contain declared merge key: %s' % (item, key))
        idx = next((i for i, o in enumerate(out) if _item_key(o, key) == k), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = _merge_map(out[idx], item, item_t)
    return out


def _apply_order(lst, order, ft):
    if not isinstance(order, list):
        return lst
    key = ft[1] if isinstance(ft, tuple) and len(ft) > 1 else None

    def ident(x):
        return _item_key(x, key) if key else x

    wanted = [ident(o) if isinstance(o, dict) else o for o in order]
    pos = {w: i for i, w in enumerate(wanted)}
    known = [x for x in lst if ident(x) in pos]
    rest = [x for x in lst if ident(x) not in pos]
    known.sort(key=lambda x: pos[ident(x)])
    return known + rest


def strategic_merge_patch(target, patch, kind):
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    out = _merge_map(target, patch, TYPES.get(kind, DEFAULT))
    return out if out is not None else {}
