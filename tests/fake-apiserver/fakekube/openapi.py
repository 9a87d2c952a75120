"""openapi.py - the OpenAPI documents a kube-apiserver serves, which is what
kubectl validates objects against before it sends them:

- /openapi/v2: the recorded document of a real kube-apiserver v1.24
  (shared/conformance/kube-api/openapi-v2.json.gz, 558 built-in
  definitions) with every served version of every installed
  CustomResourceDefinition merged in as the API server publishes them:
  definitions named `<reversed group>.<version>.<Kind>` and `...<ListKind>`
  tagged with x-kubernetes-group-version-kind, the schema turned into what
  OpenAPI v2 can say (allOf/anyOf/oneOf/not dropped, nullable and
  x-kubernetes-preserve-unknown-fields subtrees left untyped, defaults
  pruned), apiVersion/kind/metadata added, and their paths with operations
  and parameters shaped like the built-in ones. JSON, or the protocol
  buffer every kubectl asks for (openapi_pb.py).
- /openapi/v3 and /openapi/v3/<group version>: the same content as OpenAPI
  3.0, one document per group version (paths, components.schemas), which
  kubectl reads to decide whether the server validates fields itself.

Whether write operations list the `fieldValidation` query parameter depends
on the version the server plays (--kube-version): from 1.25 (server-side
field validation on by default) they do and kubectl leaves validation to
the server; before, they do not and kubectl validates client-side against
/openapi/v2. Documents are rebuilt when the CRDs change and cached with an
ETag. Pure apart from reading the recorded document once."""
import copy
import gzip
import hashlib
import json
import re
import threading

from . import openapi_pb

# what clients ask for, and the (parseable) media type kube-openapi answers with
PB_MIME = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PB_MIME_RETURNED = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
OBJECT_META_REF = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META_REF = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

# fieldValidation as kube-apiserver 1.25+ documents it on POST, PUT and PATCH
FIELD_VALIDATION_PARAM = {
    "uniqueItems": True, "type": "string", "name": "fieldValidation", "in": "query",
    "description": "fieldValidation instructs the server on how to handle objects in the request "
                   "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: "
                   "- Ignore: unknown fields are silently dropped and only the last of duplicate "
                   "fields is kept. - Warn: a warning is sent via the standard warning response "
                   "header for each unknown field that is dropped and each duplicate field; this "
                   "is the default when the parameter is absent. - Strict: the request fails with "
                   "a BadRequest error if any unknown field would be dropped or any duplicate "
                   "field is present, listing all of them."}


def friendly_name(group, version, kind):
    """kube-openapi's ToRESTFriendlyName of "group/version.Kind": the
    group's DNS labels reversed, e.g. app.flagger.v1beta1.Canary."""
    g = ".".join(reversed(group.split("."))) if "." in group else group
    return "%s.%s.%s" % (g, version, kind) if g else "%s.%s" % (version, kind)


def _op_id_part(s, capitalize):
    """apiserver's ToValidOperationID: drop non-alphanumerics, capitalizing
    the letter after each."""
    out, up = [], capitalize
    for ch in s:
        if not ch.isalnum():
            up = True
            continue
        out.append(ch.upper() if up else ch)
        up = False
    return "".join(out)


def gv_path(group, version):
    return "api/v1" if group == "" else "apis/%s/%s" % (group, version)


def _version_tuple(v):
    m = re.match(r"^v?(\d+)\.(\d+)", v or "")
    return (int(m.group(1)), int(m.group(2))) if m else (1, 24)


# Fields added since v1.24 to the types a CRD is made of (the recorded
# document is v1.24's): a server of a later version knows them, so strict
# field validation must not call them unknown.
_AX = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
NEWER_FIELDS = [
    ((1, 26), _AX + "ValidationRule", "messageExpression", {"type": "string"}),
    ((1, 28), _AX + "ValidationRule", "reason", {"type": "string"}),
    ((1, 28), _AX + "ValidationRule", "fieldPath", {"type": "string"}),
    ((1, 29), _AX + "ValidationRule", "optionalOldSelf", {"type": "boolean"}),
    ((1, 30), _AX + "CustomResourceDefinitionVersion", "selectableFields",
     {"type": "array", "items": {"$ref": "#/definitions/" + _AX + "SelectableField"},
      "x-kubernetes-list-type": "atomic"}),
]
NEWER_DEFINITIONS = [
    ((1, 30), _AX + "SelectableField",
     {"description": "SelectableField specifies the JSON path of a field that may be used with "
                     "field selectors.", "type": "object", "required": ["jsonPath"],
      "properties": {"jsonPath": {"type": "string"}}}),
]


def with_newer_fields(static, kube_version):
    """static with NEWER_FIELDS of versions up to kube_version (a copy of
    what changes; static itself is not modified)."""
    v = _version_tuple(kube_version)
    defs = dict(static["definitions"])
    for since, name, d in NEWER_DEFINITIONS:
        if v >= since and name not in defs:
            defs[name] = d
    for since, name, prop, sch in NEWER_FIELDS:
        if v >= since and name in defs and prop not in defs[name].get("properties", {}):
            d = dict(defs[name])
            d["properties"] = dict(d.get("properties", {}), **{prop: sch})
            defs[name] = d
    out = dict(static)
    out["definitions"] = defs
    return out


def field_validation_served(kube_version):
    """Server-side field validation is on by default from Kubernetes 1.25."""
    return _version_tuple(kube_version) >= (1, 25)


# ---- CRD schema as published ---------------------------------------------------------------

_STRUCTURAL_KEYS = {"type", "format", "title", "description", "default", "nullable", "maximum",
                    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
                    "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "enum",
                    "maxProperties", "minProperties", "required", "properties", "items",
                    "additionalProperties", "allOf", "oneOf", "anyOf", "not"}


def _structural(s):
    """The parts of a JSONSchemaProps a structural schema keeps (and its
    x-kubernetes-* extensions), recursively; unfolds int-or-string."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k.startswith("x-kubernetes-"):
            out[k] = copy.deepcopy(v)
        elif k in ("properties",):
            out[k] = {pk: _structural(pv) for pk, pv in (v or {}).items()}
        elif k in ("items", "not"):
            out[k] = _structural(v) if isinstance(v, dict) else v
        elif k == "additionalProperties":
            out[k] = _structural(v) if isinstance(v, dict) else v
        elif k in ("allOf", "oneOf", "anyOf"):
            out[k] = [_structural(x) for x in (v or [])]
        elif k in _STRUCTURAL_KEYS:
            out[k] = copy.deepcopy(v)
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def _to_v2(s):
    """apiextensions' ToStructuralOpenAPIV2, then PruneDefaults."""
    if not isinstance(s, dict):
        return s
    s = dict(s)
    for k in ("allOf", "oneOf", "anyOf", "not", "default"):
        s.pop(k, None)
    props = s.get("properties")
    if props:
        req = [r for r in s.get("required") or [] if not (props.get(r) or {}).get("nullable")]
        if "required" in s:
            if req:
                s["required"] = req
            else:
                del s["required"]
    addl = s.get("additionalProperties")
    if isinstance(addl, dict) and addl.get("nullable"):
        s.pop("required", None)
    if s.get("nullable"):
        for k in ("type", "nullable", "items", "properties"):
            s.pop(k, None)
    if s.get("x-kubernetes-preserve-unknown-fields"):
        s.pop("items", None)
        s.pop("properties", None)
    if "items" not in s and s.get("type") == "array":
        s.pop("type")
    if s.get("x-kubernetes-preserve-unknown-fields") and s.get("type") == "object":
        s.pop("type")
    if "properties" in s:
        s["properties"] = {k: _to_v2(v) for k, v in s["properties"].items()}
    if isinstance(s.get("items"), dict):
        s["items"] = _to_v2(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = _to_v2(s["additionalProperties"])
    return s


class OpenAPI:
    """The documents of one server. static: the recorded v2 document (a
    dict, not modified); disabled: set of (group, version) the server does
    not serve (their paths are left out)."""

    def __init__(self, static, kube_version="v1.24.0", disabled=()):
        self.static = with_newer_fields(static, kube_version)
        self.kube_version = kube_version
        self.field_validation = field_validation_served(kube_version)
        self.disabled = set(disabled)
        self._crds = []
        self.lock = threading.Lock()
        self._key = None
        self._v2 = None
        self._v2_json = None
        self._v2_pb = None
        self._v3 = {}
        self._defs_by_gvk = None
        self._template = self._templates()

    @classmethod
    def load(cls, path, kube_version="v1.24.0", disabled=()):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return cls(json.load(f), kube_version, disabled)

    # -- what kubectl and the validator look up ------------------------------------------
    def definition_name(self, group, version, kind):
        """The built-in definition of a kind (None for custom resources)."""
        if self._defs_by_gvk is None:
            m = {}
            for name, d in self.static["definitions"].items():
                for gvk in d.get("x-kubernetes-group-version-kind") or []:
                    m.setdefault((gvk.get("group", ""), gvk.get("version"), gvk.get("kind")), name)
            self._defs_by_gvk = m
        return self._defs_by_gvk.get((group, version, kind))

    def definitions(self):
        return self.static["definitions"]

    # -- building ------------------------------------------------------------------------
    def _templates(self):
        p = self.static["paths"]
        return {
            "ns_list_all": p.get("/apis/apps/v1/deployments"),
            "ns_coll": p.get("/apis/apps/v1/namespaces/{namespace}/deployments"),
            "ns_item": p.get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
            "ns_status": p.get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"),
            "ns_scale": p.get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"),
        }

    def _path_served(self, path):
        return self._gv_of(path) not in self.disabled

    def _with_field_validation(self, paths):
        if not self.field_validation:
            return paths
        for item in paths.values():
            for method in ("post", "put", "patch"):
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                params = op.setdefault("parameters", [])
                if not any(p.get("name") == "fieldValidation" for p in params):
                    at = next((i for i, p in enumerate(params) if p.get("name") == "fieldManager"),
                              len(params) - 1)
                    params.insert(at + 1, dict(FIELD_VALIDATION_PARAM))
        return paths

    def _crd_paths(self, crd, version, kind_def, list_def):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        v = next((x for x in spec.get("versions") or [] if x.get("name") == version), {})
        subs = v.get("subresources") or {}
        gvk = {"group": group, "kind": kind, "version": version}
        prefix = _op_id_part(group[:-len(".k8s.io")] if group.endswith(".k8s.io") else group, True) \
            + _op_id_part(version, True)
        tag = _op_id_part(group[:-len(".k8s.io")] if group.endswith(".k8s.io") else group, False) \
            + "_" + _op_id_part(version, False)

        def adapt(item, drop_namespace=False):
            item = copy.deepcopy(item)
            out = {}
            for method, op in item.items():
                if method == "parameters":
                    params = [p for p in op if not (drop_namespace and p.get("name") == "namespace")]
                    for p in params:
                        if p.get("name") == "name":
                            p["description"] = "name of the " + kind
                    out["parameters"] = params
                    continue
                op = json.loads(json.dumps(op)
                                .replace("#/definitions/io.k8s.api.apps.v1.DeploymentList",
                                         "#/definitions/" + list_def)
                                .replace("#/definitions/io.k8s.api.apps.v1.Deployment\"",
                                         "#/definitions/" + kind_def + "\""))
                op_id = op.get("operationId", "")
                op_id = op_id.replace("AppsV1", prefix).replace("Deployment", kind)
                if not namespaced:
                    op_id = op_id.replace("Namespaced", "")
                op["operationId"] = op_id
                op["description"] = op.get("description", "").replace("Deployment", kind)
                op["tags"] = [tag]
                op["produces"] = ["application/json", "application/yaml"]
                if method == "patch":
                    op["consumes"] = ["application/json-patch+json", "application/merge-patch+json",
                                      "application/apply-patch+yaml"]
                # every route of a CRD carries the CRD's kind, scale included
                op["x-kubernetes-group-version-kind"] = dict(gvk)
                out[method] = op
            return out

        t = self._template
        base = "/apis/%s/%s" % (group, version)
        paths = {}
        if namespaced:
            paths["%s/%s" % (base, plural)] = adapt({"get": t["ns_list_all"]["get"],
                                                     "parameters": t["ns_list_all"]["parameters"]})
            root = "%s/namespaces/{namespace}/%s" % (base, plural)
        else:
            root = "%s/%s" % (base, plural)
        coll = {k: t["ns_coll"][k] for k in ("get", "post", "delete", "parameters")}
        paths[root] = adapt(coll, not namespaced)
        item = {k: t["ns_item"][k] for k in ("get", "put", "delete", "patch", "parameters")}
        paths[root + "/{name}"] = adapt(item, not namespaced)
        if "status" in subs:
            st = {k: t["ns_status"][k] for k in ("get", "put", "patch", "parameters")}
            paths[root + "/{name}/status"] = adapt(st, not namespaced)
        if "scale" in subs:
            sc = {k: t["ns_scale"][k] for k in ("get", "put", "patch", "parameters")}
            paths[root + "/{name}/scale"] = adapt(sc, not namespaced)
        return paths

    def _type_meta_props(self):
        d = self.static["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]
        return {k: copy.deepcopy(d[k]) for k in ("apiVersion", "kind", "metadata")}

    def crd_definitions(self, crd, version, v2=True):
        """(kind definition name, schema, list definition name, schema)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, kind = spec.get("group", ""), names.get("kind", "")
        list_kind = names.get("listKind") or kind + "List"
        v = next((x for x in spec.get("versions") or [] if x.get("name") == version), {})
        raw = (v.get("schema") or {}).get("openAPIV3Schema")
        kind_name = friendly_name(group, version, kind)
        list_name = friendly_name(group, version, list_kind)
        gvk = {"group": group, "kind": kind, "version": version}
        if not isinstance(raw, dict) or (v2 and (raw.get("x-kubernetes-preserve-unknown-fields")
                                                 or spec.get("preserveUnknownFields"))):
            schema = {"type": "object"}
        else:
            schema = _structural(raw)
            if v2:
                schema = _to_v2(schema)
            schema.setdefault("properties", {})
            tm = self._type_meta_props()
            schema["properties"]["apiVersion"] = tm["apiVersion"]
            schema["properties"]["kind"] = tm["kind"]
            schema["properties"]["metadata"] = tm["metadata"]
            self._embedded(schema, v2)
        schema["x-kubernetes-group-version-kind"] = [gvk]
        tm = self._type_meta_props()
        lst = {"description": "%s is a list of %s" % (list_kind, kind), "type": "object",
               "required": ["items"],
               "properties": {
                   "apiVersion": tm["apiVersion"],
                   "items": {"description": "List of %s. More info: https://git.k8s.io/"
                                            "community/contributors/devel/sig-architecture/"
                                            "api-conventions.md" % names.get("plural", ""),
                             "type": "array", "items": {"$ref": "#/definitions/" + kind_name}},
                   "kind": tm["kind"],
                   "metadata": {"description": "Standard list metadata. More info: https://git."
                                               "k8s.io/community/contributors/devel/sig-architecture"
                                               "/api-conventions.md#types-kinds",
                                "$ref": LIST_META_REF}},
               "x-kubernetes-group-version-kind": [dict(gvk, kind=list_kind)]}
        return kind_name, schema, list_name, lst

    def _embedded(self, s, v2):
        """x-kubernetes-embedded-resource objects get apiVersion, kind and
        metadata, as the API server publishes them."""
        if not isinstance(s, dict):
            return
        for sub in (s.get("properties") or {}).values():
            self._embedded(sub, v2)
        if isinstance(s.get("items"), dict):
            self._embedded(s["items"], v2)
        if isinstance(s.get("additionalProperties"), dict):
            self._embedded(s["additionalProperties"], v2)
        if v2 and s.get("x-kubernetes-preserve-unknown-fields"):
            return
        if s.get("x-kubernetes-embedded-resource"):
            tm = self._type_meta_props()
            props = s.setdefault("properties", {})
            for k in ("apiVersion", "kind", "metadata"):
                props[k] = tm[k]
            req = s.setdefault("required", [])
            for k in ("kind", "apiVersion"):
                if k not in req:
                    req.append(k)

    def _build_v2(self, crds):
        doc = dict(self.static)
        doc["info"] = dict(self.static.get("info") or {})
        if self.kube_version != "v1.24.0":
            doc["info"]["version"] = self.kube_version
        paths = {k: copy.deepcopy(v) if self.field_validation else v
                 for k, v in self.static["paths"].items() if self._path_served(k)}
        defs = dict(self.static["definitions"])
        for crd in crds:
            for v in (crd.get("spec") or {}).get("versions") or []:
                if not v.get("served", True):
                    continue
                kn, ks, ln, ls = self.crd_definitions(crd, v["name"], v2=True)
                if kn in self.static["definitions"]:
                    continue        # a CRD never shadows a built-in definition
                defs[kn] = ks
                defs[ln] = ls
                for p, item in self._crd_paths(crd, v["name"], kn, ln).items():
                    paths.setdefault(p, item)
        doc["paths"] = self._with_field_validation(paths)
        doc["definitions"] = defs
        return doc

    def _refresh(self, crds):
        key = tuple(sorted(((c.get("metadata") or {}).get("name", ""),
                            (c.get("metadata") or {}).get("resourceVersion", "")) for c in crds))
        with self.lock:
            if key == self._key and self._v2 is not None:
                return
            crds = sorted(crds, key=lambda c: (c.get("metadata") or {}).get("name", ""))
            self._v2 = self._build_v2(crds)
            self._v2_json = None
            self._v2_pb = None
            self._v3 = {}
            self._crds = crds
            self._key = key

    # -- /openapi/v2 ---------------------------------------------------------------------
    def v2(self, crds, protobuf):
        """(body bytes, content type, etag)."""
        self._refresh(crds)
        with self.lock:
            if self._v2_json is None:
                self._v2_json = json.dumps(self._v2, separators=(",", ":")).encode()
            if protobuf and self._v2_pb is None:
                self._v2_pb = openapi_pb.encode_document(self._v2)
            body = self._v2_pb if protobuf else self._v2_json
            etag = '"%s"' % hashlib.sha512(self._v2_json).hexdigest().upper()
        return body, PB_MIME_RETURNED if protobuf else "application/json", etag

    def v2_doc(self, crds):
        self._refresh(crds)
        return self._v2

    # -- /openapi/v3 ---------------------------------------------------------------------
    def _gv_of(self, path):
        if path.startswith("/api/v1/") or path == "/api/v1":
            return ("", "v1")
        m = re.match(r"^/apis/([^/]+)/([^/]+)(/|$)", path)
        return (m.group(1), m.group(2)) if m else None

    def _v3_gv_doc(self, group, version):
        v2 = self._v2
        paths = {}
        for p, item in v2["paths"].items():
            if self._gv_of(p) == (group, version):
                paths[p] = _v3_path_item(item)
        if not paths:
            return None
        defs = {}
        crd_defs = {}
        for crd in self._crds:
            if (crd.get("spec") or {}).get("group") != group:
                continue
            for v in (crd.get("spec") or {}).get("versions") or []:
                if v.get("name") == version and v.get("served", True):
                    kn, ks, ln, ls = self.crd_definitions(crd, version, v2=False)
                    crd_defs[kn], crd_defs[ln] = ks, ls
        todo = []
        _collect_refs(paths, todo)
        while todo:
            name = todo.pop()
            if name in defs:
                continue
            d = crd_defs.get(name) or v2["definitions"].get(name)
            if d is None:
                continue
            defs[name] = d
            _collect_refs(d, todo)
        schemas = {k: _v3_schema(defs[k]) for k in sorted(defs)}
        return {"openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": self._v2.get("info", {}).get("version", "")},
                "paths": paths,
                "components": {"schemas": schemas,
                               "securitySchemes": {"BearerToken": {
                                   "type": "apiKey", "description": "Bearer Token authentication",
                                   "name": "authorization", "in": "header"}}}}

    def v3_gv(self, crds, group, version):
        """(body bytes, hash) of one group version's document, or None."""
        self._refresh(crds)
        with self.lock:
            if (group, version) not in self._v3:
                doc = self._v3_gv_doc(group, version)
                if doc is None:
                    return None
                body = json.dumps(doc, separators=(",", ":")).encode()
                self._v3[(group, version)] = (body, hashlib.sha512(body).hexdigest().upper())
            return self._v3[(group, version)]

    def v3_root(self, crds):
        """The /openapi/v3 discovery document: one serverRelativeURL with
        the content hash per group version."""
        self._refresh(crds)
        gvs = []
        for p in self._v2["paths"]:
            gv = self._gv_of(p)
            if gv is not None and gv not in gvs:
                gvs.append(gv)
        paths = {}
        for g, v in gvs:
            got = self.v3_gv(crds, g, v)
            if got is None:
                continue
            rel = gv_path(g, v)
            paths[rel] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (rel, got[1])}
        return {"paths": paths}


# ---- v2 -> v3 ------------------------------------------------------------------------------

def _collect_refs(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                name = v.rsplit("/", 1)[-1]
                out.append(name)
            else:
                _collect_refs(v, out)
    elif isinstance(node, list):
        for x in node:
            _collect_refs(x, out)


def _v3_ref(ref):
    return ref.replace("#/definitions/", "#/components/schemas/", 1)


def _v3_schema(s):
    if isinstance(s, list):
        return [_v3_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k == "$ref":
            continue
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {pk: _v3_schema(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[k] = _v3_schema(v)
        else:
            out[k] = copy.deepcopy(v)
    if "$ref" in s:
        ref = {"$ref": _v3_ref(s["$ref"])}
        if not out:
            return ref
        out["allOf"] = [ref] + out.get("allOf", [])
    return out


def _v3_param(p):
    q = {"name": p.get("name"), "in": p.get("in")}
    if p.get("description"):
        q["description"] = p["description"]
    if p.get("required"):
        q["required"] = True
    sch = {}
    for k in ("type", "format", "items", "enum", "default"):
        if k in p:
            sch[k] = p[k]
    if p.get("uniqueItems"):
        sch["uniqueItems"] = True
    q["schema"] = sch
    return q


def _v3_operation(op):
    out = {}
    for k in ("tags", "description", "operationId", "deprecated"):
        if k in op:
            out[k] = op[k]
    params = []
    for p in op.get("parameters") or []:
        if p.get("in") == "body":
            body = {"content": {"*/*": {"schema": _v3_schema(p.get("schema") or {})}}}
            if p.get("required"):
                body["required"] = True
            out["requestBody"] = body
        else:
            params.append(_v3_param(p))
    if params:
        out["parameters"] = params
    responses = {}
    for code, r in (op.get("responses") or {}).items():
        rr = {"description": r.get("description", "")}
        if "schema" in r:
            rr["content"] = {m: {"schema": _v3_schema(r["schema"])} for m in op.get("produces") or
                             ["application/json"]}
        responses[code] = rr
    out["responses"] = responses
    for k, v in op.items():
        if k.startswith("x-"):
            out[k] = copy.deepcopy(v)
    return out


def _v3_path_item(item):
    out = {}
    for k, v in item.items():
        if k == "parameters":
            out["parameters"] = [_v3_param(p) for p in v]
        elif k in ("get", "put", "post", "delete", "patch", "head", "options"):
            out[k] = _v3_operation(v)
    return out
