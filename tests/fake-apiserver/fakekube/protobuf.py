"""protobuf.py - request bodies in Kubernetes' protobuf encoding
(application/vnd.kubernetes.protobuf), which kubectl's typed client sends
for `kubectl create namespace|serviceaccount|configmap|secret`: the "k8s\\0"
magic, a runtime.Unknown envelope (typeMeta, raw) and the object's message.
Decoded for those four kinds (field numbers of k8s.io/api core/v1 and
apimachinery meta/v1 generated.proto); any other kind is reported as not
supported, never guessed. Pure: bytes in, a JSON-shaped dict out."""
import base64
import datetime

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data, i):
    shift = n = 0
    while True:
        if i >= len(data):
            raise ProtobufError("truncated varint")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(data):
    """[(field number, wire type, value)]: varints as ints, length-delimited
    as bytes; fixed-width fields are skipped."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ProtobufError("truncated field %d" % num)
            v, i = data[i:i + n], i + n
        elif wire == 1:
            i += 8
            continue
        elif wire == 5:
            i += 4
            continue
        else:
            raise ProtobufError("unsupported wire type %d" % wire)
        out.append((num, wire, v))
    return out


# message tables: field number -> (JSON name, kind[, sub]); kinds: str, bytes (base64 in JSON),
# bool, int, msg, rmsg (repeated message), rstr (repeated string), smap (map<string,string>),
# bmap (map<string,bytes>), time (meta/v1 Time)
OWNER_REF = {5: ("apiVersion", "str"), 1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
               4: ("selfLink", "str"), 5: ("uid", "str"), 6: ("resourceVersion", "str"),
               7: ("generation", "int"), 8: ("creationTimestamp", "time"),
               9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
               11: ("labels", "smap"), 12: ("annotations", "smap"),
               13: ("ownerReferences", "rmsg", OWNER_REF), 14: ("finalizers", "rstr")}
OBJECT_REF = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str"), 4: ("uid", "str"),
              5: ("apiVersion", "str"), 6: ("resourceVersion", "str"), 7: ("fieldPath", "str")}
KINDS = {
    ("v1", "Namespace"): {1: ("metadata", "msg", OBJECT_META),
                          2: ("spec", "msg", {1: ("finalizers", "rstr")}),
                          3: ("status", "msg", {1: ("phase", "str")})},
    ("v1", "ServiceAccount"): {1: ("metadata", "msg", OBJECT_META),
                               2: ("secrets", "rmsg", OBJECT_REF),
                               3: ("imagePullSecrets", "rmsg", {1: ("name", "str")}),
                               4: ("automountServiceAccountToken", "bool")},
    ("v1", "ConfigMap"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "smap"),
                          3: ("binaryData", "bmap"), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "bmap"),
                       3: ("type", "str"), 4: ("stringData", "smap"), 5: ("immutable", "bool")},
}


def _signed(n):
    return n - (1 << 64) if n >= 1 << 63 else n


def _map_entry(raw):
    k = v = None
    for num, _, val in fields(raw):
        if num == 1:
            k = val.decode("utf-8")
        elif num == 2:
            v = val
    return k or "", v if v is not None else b""


def message(raw, table):
    out = {}
    for num, wire, val in fields(raw):
        spec = table.get(num)
        if spec is None:
            continue    # a field this table does not know: dropped, as an unknown field
        name, kind = spec[0], spec[1]
        if kind == "str":
            if val:     # gogo-protobuf writes empty optional strings; JSON omits them
                out[name] = val.decode("utf-8")
        elif kind == "bool":
            out[name] = bool(val)
        elif kind == "int":
            out[name] = _signed(val)
        elif kind == "msg":
            out[name] = message(val, spec[2])
        elif kind == "rmsg":
            out.setdefault(name, []).append(message(val, spec[2]))
        elif kind == "rstr":
            out.setdefault(name, []).append(val.decode("utf-8"))
        elif kind == "smap":
            k, v = _map_entry(val)
            out.setdefault(name, {})[k] = v.decode("utf-8")
        elif kind == "bmap":
            k, v = _map_entry(val)
            out.setdefault(name, {})[k] = base64.b64encode(v).decode()
        elif kind == "time":
            secs = 0
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    secs = _signed(v2)
            if secs:    # the zero Time is null in JSON
                out[name] = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
    return out


def decode(body):
    """The object a protobuf request body holds, as JSON would give it.
    Raises ProtobufError for a body that is not one, or a kind not decoded
    here."""
    if not body.startswith(MAGIC):
        raise ProtobufError("no k8s protobuf magic number")
    api_version = kind = ""
    raw = b""
    for num, _, val in fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in fields(val):
                if n2 == 1:
                    api_version = v2.decode("utf-8")
                elif n2 == 2:
                    kind = v2.decode("utf-8")
        elif num == 2:
            raw = val
    table = KINDS.get((api_version, kind))
    if table is None:
        raise ProtobufError("fake-apiserver decodes protobuf bodies of %s only, not %s %s: send JSON"
                            % (", ".join(k for _, k in sorted(KINDS)), api_version, kind))
    obj = {"kind": kind, "apiVersion": api_version}
    obj.update(message(raw, table))
    return obj
