"""protobuf.py - decodes the protobuf request bodies client-go's typed
clients send (Content-Type application/vnd.kubernetes.protobuf) for the
kinds they send them for in canaryd's tests: Helm's release storage writes
Secrets (and ConfigMaps, with HELM_DRIVER=configmap) and DeleteOptions
that way, and so do kubectl's typed commands (`kubectl create namespace`,
`create secret`, `create configmap`, `create serviceaccount`). A real kube-apiserver accepts protobuf for every built-in kind;
this fake decodes these few into the JSON objects the rest of the server
handles, and answers 415 for any other kind, as a server does for a
media type it cannot read. Responses stay JSON (client-go's Accept
header allows it).

The wire format: the 4 bytes "k8s\\0", then a runtime.Unknown message
(typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2: the object's own
message), with the field numbers of k8s.io/api's generated.proto.
Never used for responses; never imported by the tests."""
import base64
import datetime

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


class DecodeError(ValueError):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """(field number, wire type, value) of each field of one message:
    value is an int (varint, fixed) or bytes (length-delimited)."""
    i, out = 0, []
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            if i + 8 > len(buf):
                raise DecodeError("truncated fixed64")
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise DecodeError("truncated field %d" % num)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 5:
            if i + 4 > len(buf):
                raise DecodeError("truncated fixed32")
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        out.append((num, wt, v))
    return out


def _str(v):
    if not isinstance(v, bytes):
        raise DecodeError("expected a string")
    return v.decode("utf-8")


def _int64(v):
    if isinstance(v, bytes):
        raise DecodeError("expected an integer")
    return v - (1 << 64) if v >= 1 << 63 else v


def _map_entry(v, value_fn):
    k = val = None
    for num, _, x in fields(v):
        if num == 1:
            k = _str(x)
        elif num == 2:
            val = value_fn(x)
    return k or "", val if val is not None else value_fn(b"")


def _time(v):
    secs = 0
    for num, _, x in fields(v):
        if num == 1:
            secs = _int64(x)
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(v):
    return base64.b64encode(v).decode()


# message schemas: field number -> (name, kind); kinds: str, int, bool,
# strs (repeated string), map (string->string), bmap (string->bytes),
# time, or a nested schema (dict), repeated when the name ends with []
OWNER_REFERENCE = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"),
                   5: ("apiVersion", "str"), 6: ("controller", "bool"),
                   7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
               4: ("selfLink", "str"), 5: ("uid", "str"), 6: ("resourceVersion", "str"),
               7: ("generation", "int"), 8: ("creationTimestamp", "time"),
               9: ("deletionTimestamp", "time"), 10: ("deletionGracePeriodSeconds", "int"),
               11: ("labels", "map"), 12: ("annotations", "map"),
               13: ("ownerReferences[]", OWNER_REFERENCE), 14: ("finalizers", "strs")}
SECRET = {1: ("metadata", OBJECT_META), 2: ("data", "bmap"), 3: ("type", "str"),
          4: ("stringData", "map"), 5: ("immutable", "bool")}
CONFIG_MAP = {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
              4: ("immutable", "bool")}
NAMESPACE_SPEC = {1: ("finalizers", "strs")}
NAMESPACE = {1: ("metadata", OBJECT_META), 2: ("spec", NAMESPACE_SPEC)}
OBJECT_REFERENCE = {1: ("kind", "str"), 2: ("namespace", "str"), 3: ("name", "str")}
LOCAL_OBJECT_REFERENCE = {1: ("name", "str")}
SERVICE_ACCOUNT = {1: ("metadata", OBJECT_META), 2: ("secrets[]", OBJECT_REFERENCE),
                   3: ("imagePullSecrets[]", LOCAL_OBJECT_REFERENCE),
                   4: ("automountServiceAccountToken", "bool")}
PRECONDITIONS = {1: ("uid", "str"), 2: ("resourceVersion", "str")}
DELETE_OPTIONS = {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", PRECONDITIONS),
                  3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"),
                  5: ("dryRun", "strs")}
KINDS = {("v1", "Secret"): SECRET, ("v1", "ConfigMap"): CONFIG_MAP, ("v1", "Namespace"): NAMESPACE,
         ("v1", "ServiceAccount"): SERVICE_ACCOUNT,
         ("v1", "DeleteOptions"): DELETE_OPTIONS, ("meta.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS}


def message(buf, schema):
    """A JSON-like dict of one message, by its schema (unknown fields are
    dropped, as a server drops fields it does not know)."""
    out = {}
    for num, _, v in fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if isinstance(kind, dict):
            if name.endswith("[]"):
                out.setdefault(name[:-2], []).append(message(_bytes(v), kind))
            else:
                out[name] = message(_bytes(v), kind)
        elif kind == "str":
            out[name] = _str(v)
        elif kind == "int":
            out[name] = _int64(v)
        elif kind == "bool":
            out[name] = bool(_int64(v))
        elif kind == "strs":
            out.setdefault(name, []).append(_str(v))
        elif kind == "map":
            k, val = _map_entry(_bytes(v), _str)
            out.setdefault(name, {})[k] = val
        elif kind == "bmap":
            k, val = _map_entry(_bytes(v), _b64)
            out.setdefault(name, {})[k] = val
        elif kind == "time":
            out[name] = _time(_bytes(v))
    return out


def _bytes(v):
    if not isinstance(v, bytes):
        raise DecodeError("expected a message")
    return v


def decode(body):
    """The JSON object of a protobuf request body; DecodeError when it is
    not one, LookupError (apiVersion, kind) for a kind this fake cannot
    read."""
    if not body.startswith(MAGIC):
        raise DecodeError("the body does not start with the protobuf envelope's magic bytes")
    api_version = kind = ""
    raw = b""
    for num, _, v in fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, x in fields(_bytes(v)):
                if n2 == 1:
                    api_version = _str(x)
                elif n2 == 2:
                    kind = _str(x)
        elif num == 2:
            raw = _bytes(v)
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise LookupError((api_version, kind))
    obj = message(raw, schema)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
