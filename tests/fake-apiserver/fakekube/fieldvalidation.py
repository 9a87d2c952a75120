"""fieldvalidation.py - server-side field validation as kube-apiserver does
it from 1.25 (GA in 1.27): on create, update and patch, the fields a
request would lose - keys its Go type has no field for ("unknown field"),
keys given twice in one JSON object ("duplicate field") - are reported
according to the `fieldValidation` query parameter:

- Strict: the request fails. Create and update: 400 BadRequest
  `<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding
  error: unknown field "spec.foo", ...`; patch: 422 Invalid
  ` "" is invalid: patch: Invalid value: "<patched object>": strict decoding
  error: ...`.
- Warn (the default when the parameter is absent): one `Warning: 299 -
  "unknown field \\"spec.foo\\""` response header per field; the request
  succeeds with the fields dropped.
- Ignore: the fields are dropped silently (also what every server before
  1.25 does, whatever the parameter says).

Paths are written as sigs.k8s.io/json writes them (`a.b[0].c`, map keys
as `.key`), at most 100, each once. Built-in kinds are checked against
their definitions in the recorded /openapi/v2 document (objects with
`properties` are Go structs; other objects are maps or raw JSON), custom
resources against their CRD's structural schema (pruning) plus ObjectMeta.
Pure."""
import json

from .errors import ApiError

DIRECTIVES = ("Ignore", "Warn", "Strict")
MAX_ERRORS = 100
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class Check:
    """What one write request asks for and what was found.
    directive: Ignore, Warn or Strict (already defaulted); pre: errors
    found while parsing the body (duplicate fields); found: every strict
    error of the request (for the request log); warnings: the Warning
    headers to send."""

    def __init__(self, directive="Ignore", pre=(), warnings=None, manager=None):
        self.directive = directive
        self.pre = list(pre)
        self.found = []
        self.warnings = [] if warnings is None else warnings
        self.manager = manager      # the field manager the write is recorded under


def directive(value, served, options_kind):
    """The effective directive for a request's fieldValidation value.
    served: the server version has field validation (1.25+). An unknown
    value is a 422 on the CreateOptions/UpdateOptions/PatchOptions."""
    if not served:
        return "Ignore"
    if value is None or value == "":
        return "Warn"
    if value not in DIRECTIVES:
        msg = 'fieldValidation: Unsupported value: %s: supported values: "", "Ignore", "Strict", ' \
              '"Warn"' % go_quote(value)
        raise ApiError(422, "Invalid", '%s.meta.k8s.io "" is invalid: %s' % (options_kind, msg), {
            "group": "meta.k8s.io", "kind": options_kind,
            "causes": [{"reason": "FieldValueNotSupported",
                        "message": msg.split(": ", 1)[1], "field": "fieldValidation"}]})
    return value


def go_quote(s):
    """strconv.Quote: printable characters kept, the rest escaped."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0x80 <= o < 0xA0 or not ch.isprintable() and o > 0x7F:
            out.append("\\u%04x" % o if o <= 0xFFFF else "\\U%08x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def unknown(path):
    return "unknown field " + go_quote(path)


def duplicate(path):
    return "duplicate field " + go_quote(path)


def _join(base, key):
    return base + "." + key if base else key


# ---- parsing with duplicate detection ------------------------------------------------------

class _Obj(dict):
    """A JSON object that remembers keys given more than once."""
    __slots__ = ("dups",)


def _pairs(pairs):
    o = _Obj()
    o.dups = []
    for k, v in pairs:
        if k in o:
            o.dups.append(k)
        o[k] = v
    return o


def _collect_dups(v, path, out):
    if isinstance(v, _Obj):
        for k in v.dups:
            out.append(duplicate(_join(path, k)))
        for k, x in v.items():
            _collect_dups(x, _join(path, k), out)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _collect_dups(x, "%s[%d]" % (path, i), out)


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def loads(text):
    """(value, duplicate-field errors) of a JSON text; ValueError when it
    does not parse."""
    v = json.loads(text, object_pairs_hook=_pairs)
    dups = []
    _collect_dups(v, "", dups)
    return _plain(v), dups[:MAX_ERRORS]


# ---- unknown fields -----------------------------------------------------------------------

def _resolve(defs, s):
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 20:
        s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
        seen += 1
    return s if isinstance(s, dict) else {}


def prune_typed(value, schema, defs, path, out):
    """value as a Go struct decoder would keep it, given its OpenAPI v2
    schema; unknown keys are appended to out (their paths)."""
    s = _resolve(defs, schema)
    if isinstance(value, dict):
        props = s.get("properties")
        if props is not None:
            kept = {}
            for k, v in value.items():
                if k in props:
                    kept[k] = prune_typed(v, props[k], defs, _join(path, k), out)
                else:
                    out.append(_join(path, k))
            return kept
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            return {k: prune_typed(v, addl, defs, _join(path, k), out) for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(s.get("items"), dict):
        return [prune_typed(v, s["items"], defs, "%s[%d]" % (path, i), out)
                for i, v in enumerate(value)]
    return value


def builtin(obj, definition, defs):
    """(object without unknown fields, unknown-field paths) for a built-in
    kind whose definition name is given."""
    out = []
    kept = prune_typed(obj, {"$ref": "#/definitions/" + definition}, defs, "", out)
    return kept, out


def object_meta(meta, defs):
    """Unknown fields of a custom resource's metadata (checked against
    ObjectMeta, as apiextensions-apiserver does)."""
    out = []
    if isinstance(meta, dict) and OBJECT_META in defs:
        prune_typed(meta, {"$ref": "#/definitions/" + OBJECT_META}, defs, "metadata", out)
    return out


def pruned_paths(before, after, path=""):
    """Paths of keys in before that a structural schema pruned from after
    (null values are dropped, not unknown)."""
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for k, v in before.items():
            p = _join(path, k)
            if k not in after:
                if v is not None:
                    out.append(p)
            else:
                out += pruned_paths(v, after[k], p)
    elif isinstance(before, list) and isinstance(after, list):
        for i, (a, b) in enumerate(zip(before, after)):
            out += pruned_paths(a, b, "%s[%d]" % (path, i))
    return out


# ---- reporting ----------------------------------------------------------------------------

def _dedup(errs):
    seen, out = set(), []
    for e in errs:
        if e not in seen:
            seen.add(e)
            out.append(e)
    return out[:MAX_ERRORS]


def strict_message(errs):
    return "strict decoding error: " + ", ".join(errs)


def decode_error(rt, errs):
    """400 of a create or update whose body failed strict decoding."""
    return ApiError(400, "BadRequest", '%s in version %s cannot be handled as a %s: %s'
                    % (rt.kind, go_quote(rt.version), rt.kind, strict_message(errs)))


def go_json(v):
    """Compact JSON as Go's encoding/json writes a map (sorted keys, HTML
    characters escaped)."""
    s = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def go_fmt(v):
    """fmt's %+v of a decoded JSON value (map[...] with sorted keys)."""
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, go_fmt(v[k])) for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_fmt(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return str(v)


def patch_error(value, errs):
    """422 of a patch whose result failed strict decoding."""
    msg = "Invalid value: %s: %s" % (go_quote(value), strict_message(errs))
    return ApiError(422, "Invalid", ' "" is invalid: patch: ' + msg,
                    {"causes": [{"reason": "FieldValueInvalid", "message": msg, "field": "patch"}]})


def apply(check, rt, errs, patch_value=None):
    """Reports errs (strict decoding errors of one request) as check's
    directive says; raises for Strict."""
    if check is None:
        return
    errs = _dedup(list(check.pre) + list(errs))
    check.pre = []
    check.found.extend(e for e in errs if e not in check.found)
    if not errs:
        return
    if check.directive == "Strict":
        if patch_value is not None:
            raise patch_error(patch_value, errs)
        raise decode_error(rt, errs)
    if check.directive == "Warn":
        for e in errs:
            if e not in check.warnings:
                check.warnings.append(e)
