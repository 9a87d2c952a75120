"""openapi.py - a minimal OpenAPI v3 discovery: /openapi/v3 lists every
group version, and each group version document lists the object paths with
their PATCH operation, its x-kubernetes-group-version-kind and the
fieldValidation query parameter. That is what kubectl reads to decide that
the server validates fields itself (so `kubectl apply` needs no client-side
schema). No schemas of the objects are served: `kubectl explain` does not
work against the fake. Pure."""
import hashlib
import json


def _gv_path(group, version):
    return "api/v1" if group == "" else "apis/%s/%s" % (group, version)


def _doc(registry, group, version):
    paths = {}
    for (g, v, plural), rt in registry.types.items():
        if g != group or v != version:
            continue
        base = "/" + _gv_path(g, v)
        obj = base + ("/namespaces/{namespace}/%s/{name}" if rt.namespaced else "/%s/{name}") % plural
        gvk = {"group": g, "version": v, "kind": rt.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        paths[obj] = {
            "get": {"operationId": "read" + rt.kind, "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk},
            "put": {"operationId": "replace" + rt.kind, "x-kubernetes-action": "put",
                    "x-kubernetes-group-version-kind": gvk, "parameters": params},
            "patch": {"operationId": "patch" + rt.kind, "x-kubernetes-action": "patch",
                      "x-kubernetes-group-version-kind": gvk, "parameters": params},
            "delete": {"operationId": "delete" + rt.kind, "x-kubernetes-action": "delete",
                       "x-kubernetes-group-version-kind": gvk},
        }
        coll = obj.rsplit("/", 1)[0]
        paths[coll] = {"post": {"operationId": "create" + rt.kind, "x-kubernetes-action": "post",
                                "x-kubernetes-group-version-kind": gvk, "parameters": params}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "paths": paths, "components": {}}


def _hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def root(registry):
    paths = {}
    for g, versions in registry.groups():
        for v in versions:
            doc = _doc(registry, g, v)
            paths[_gv_path(g, v)] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (_gv_path(g, v), _hash(doc))}
    return {"paths": paths}


def group_version(registry, rel):
    """rel: "api/v1" or "apis/<group>/<version>"; None when unknown."""
    parts = rel.strip("/").split("/")
    if parts == ["api", "v1"]:
        group, version = "", "v1"
    elif len(parts) == 3 and parts[0] == "apis":
        group, version = parts[1], parts[2]
    else:
        return None
    if not any(g == group and v == version for (g, v, _) in registry.types):
        return None
    return _doc(registry, group, version)
