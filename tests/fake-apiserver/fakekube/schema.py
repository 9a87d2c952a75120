"""schema.py - what the API server does with a custom resource against its
CRD's structural openAPIV3Schema: drop nulls for non-nullable fields, prune
unknown fields (unless x-kubernetes-preserve-unknown-fields), apply
defaults, then validate, reporting causes worded as apiextensions-apiserver
does ("Required value", "Unsupported value: ...", "... in body should match
'...'"). anyOf/oneOf/allOf/not are checked with python3-jsonschema (Draft 4,
the dialect OpenAPI v3.0 schemas follow). CEL rules
(x-kubernetes-validations) and string formats are not evaluated. Pure."""
import copy
import json
import re

try:
    import jsonschema
except ImportError:            # the structural core works without it
    jsonschema = None

_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_regex_cache = {}


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _go_value(v):
    """Value as Go's %v/%q would print it in a field error."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, separators=(",", ":"))


def _type_ok(v, t, schema):
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(v, (int, str)) and not isinstance(v, bool)
    if not t:
        return True
    actual = _type_name(v)
    if t == "number":
        return actual in ("integer", "number")
    return actual == t


def _to_draft4(schema):
    """OpenAPI v3.0 schema -> JSON Schema draft 4 (nullable -> type union)."""
    if isinstance(schema, list):
        return [_to_draft4(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k.startswith("x-kubernetes-") or k in ("nullable", "default", "example", "format",
                                                   "description"):
            continue
        if k in ("properties", "patternProperties"):
            out[k] = {pk: _to_draft4(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = _to_draft4(v)
        elif k in ("anyOf", "oneOf", "allOf"):
            out[k] = _to_draft4(v)
        else:
            out[k] = v
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out = {"allOf": [out, {"type": ["integer", "string"]}]} if out else {"type": ["integer", "string"]}
    return out


class Walker:
    def __init__(self):
        self.causes = []          # (reason, field, message)

    def add(self, reason, field, message):
        self.causes.append((reason, field, message))

    def invalid(self, field, value, msg):
        self.add("FieldValueInvalid", field, "Invalid value: %s: %s" % (_go_value(value), msg))

    # -- pruning, defaulting, nulls ----------------------------------------------------
    def prepare(self, v, schema, root=False):
        if not isinstance(schema, dict):
            return v
        if isinstance(v, dict):
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            preserve = schema.get("x-kubernetes-preserve-unknown-fields")
            embedded = schema.get("x-kubernetes-embedded-resource")
            out = {}
            for k, x in v.items():
                if (root or embedded) and k in _ROOT_KEEP:
                    out[k] = x
                    continue
                if props and k in props:
                    sub = props[k]
                    if x is None and not sub.get("nullable"):
                        continue
                    out[k] = self.prepare(x, sub)
                elif isinstance(addl, dict):
                    if x is None and not addl.get("nullable"):
                        continue
                    out[k] = self.prepare(x, addl)
                elif preserve or addl is True or (props is None and addl is None
                                                  and schema.get("type") != "object"):
                    out[k] = x
                elif props is None and addl is None and not schema.get("type"):
                    out[k] = x
                # else: unknown field, pruned
            for k, sub in (props or {}).items():
                if k not in out and isinstance(sub, dict) and "default" in sub:
                    out[k] = self.prepare(copy.deepcopy(sub["default"]), sub)
            return out
        if isinstance(v, list) and isinstance(schema.get("items"), dict):
            return [self.prepare(x, schema["items"]) for x in v]
        return v

    # -- validation --------------------------------------------------------------
    def validate(self, v, schema, path, root=False):
        if not isinstance(schema, dict):
            return
        if v is None:
            if not schema.get("nullable") and not root:
                t = schema.get("type")
                if t:
                    self.add("FieldValueTypeInvalid", path,
                             'Invalid value: "null": %s in body must be of type %s: "null"'
                             % (path, t))
            return
        t = schema.get("type")
        if not _type_ok(v, t, schema):
            self.add("FieldValueTypeInvalid", path, 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                     % (_type_name(v), path, t or "integer-or-string", _type_name(v)))
            return
        if "enum" in schema and v not in schema["enum"]:
            self.add("FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s"
                     % (_go_value(v), ", ".join(_go_value(e) for e in schema["enum"])))
        if isinstance(v, str):
            self._string(v, schema, path)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            self._number(v, schema, path)
        if isinstance(v, list):
            self._array(v, schema, path)
        if isinstance(v, dict):
            self._object(v, schema, path, root)
        self._combinators(v, schema, path)

    def _string(self, v, schema, path):
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            self.add("FieldValueTooLong", path, "Too long: may not be longer than %d" % schema["maxLength"])
        if "minLength" in schema and len(v) < schema["minLength"]:
            self.invalid(path, v, "%s in body should be at least %d chars long" % (path, schema["minLength"]))
        if "pattern" in schema:
            rx = _regex_cache.get(schema["pattern"])
            if rx is None:
                try:
                    rx = re.compile(schema["pattern"])
                except re.error:
                    rx = re.compile(".*")
                _regex_cache[schema["pattern"]] = rx
            if not rx.search(v):
                self.invalid(path, v, "%s in body should match '%s'" % (path, schema["pattern"]))

    def _number(self, v, schema, path):
        if "maximum" in schema:
            m = schema["maximum"]
            if schema.get("exclusiveMaximum") and v >= m:
                self.invalid(path, v, "%s in body should be less than %s" % (path, _go_value(m)))
            elif v > m:
                self.invalid(path, v, "%s in body should be less than or equal to %s" % (path, _go_value(m)))
        if "minimum" in schema:
            m = schema["minimum"]
            if schema.get("exclusiveMinimum") and v <= m:
                self.invalid(path, v, "%s in body should be greater than %s" % (path, _go_value(m)))
            elif v < m:
                self.invalid(path, v, "%s in body should be greater than or equal to %s" % (path, _go_value(m)))
        if "multipleOf" in schema and schema["multipleOf"] and v % schema["multipleOf"]:
            self.invalid(path, v, "%s in body should be a multiple of %s" % (path, _go_value(schema["multipleOf"])))

    def _array(self, v, schema, path):
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            self.add("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                     % (len(v), schema["maxItems"]))
        if "minItems" in schema and len(v) < schema["minItems"]:
            self.invalid(path, v, "%s in body should have at least %d items" % (path, schema["minItems"]))
        if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
            seen = []
            for i, x in enumerate(v):
                if x in seen:
                    self.add("FieldValueDuplicate", "%s[%d]" % (path, i), "Duplicate value: %s" % _go_value(x))
                seen.append(x)
        if schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = []
            for i, x in enumerate(v):
                if isinstance(x, dict):
                    k = [x.get(key) for key in keys]
                    if k in seen:
                        self.add("FieldValueDuplicate", "%s[%d]" % (path, i),
                                 "Duplicate value: %s" % _go_value({key: x.get(key) for key in keys}))
                    seen.append(k)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, x in enumerate(v):
                self.validate(x, items, "%s[%d]" % (path, i))

    def _object(self, v, schema, path, root):
        for r in schema.get("required") or []:
            if r not in v:
                self.add("FieldValueRequired", (path + "." if path else "") + r, "Required value")
        if "maxProperties" in schema and len(v) > schema["maxProperties"]:
            self.add("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                     % (len(v), schema["maxProperties"]))
        if "minProperties" in schema and len(v) < schema["minProperties"]:
            self.invalid(path, v, "%s in body should have at least %d properties" % (path, schema["minProperties"]))
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for k, x in v.items():
            if root and k in _ROOT_KEEP:
                continue
            sub = props.get(k)
            if sub is None and isinstance(addl, dict):
                sub = addl
            if sub is not None:
                self.validate(x, sub, (path + "." if path else "") + k)

    def _combinators(self, v, schema, path):
        if not any(k in schema for k in ("anyOf", "oneOf", "allOf", "not")):
            return
        if jsonschema is None:
            return
        for key in ("anyOf", "oneOf", "allOf", "not"):
            if key not in schema:
                continue
            sub = {key: schema[key]}
            try:
                jsonschema.Draft4Validator(_to_draft4(sub)).validate(v)
            except jsonschema.ValidationError:
                what = {"anyOf": "must validate at least one schema (anyOf)",
                        "oneOf": "must validate one and only one schema (oneOf)",
                        "allOf": "must validate all the schemas (allOf)",
                        "not": "must not validate the schema (not)"}[key]
                self.invalid(path, v, "%s in body %s" % (path or "<root>", what))
            except jsonschema.SchemaError:
                pass


def apply(obj, schema):
    """Returns (pruned and defaulted object, causes)."""
    if not isinstance(schema, dict):
        return obj, []
    w = Walker()
    out = w.prepare(obj, schema, root=True)
    w.validate(out, schema, "", root=True)
    w.causes.sort(key=lambda c: c[1])
    return out, w.causes
