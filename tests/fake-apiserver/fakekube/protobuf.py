"""protobuf.py - request bodies in Kubernetes' protobuf encoding
(application/vnd.kubernetes.protobuf), which kubectl's typed clients send
(`kubectl create namespace` since v1.3x): the "k8s\\0" envelope, the
runtime.Unknown message with its TypeMeta and raw object, and the object
decoded to the JSON the rest of the fake handles, for the kinds listed in
MESSAGES. Another kind is a 415 UnsupportedMediaType naming it, never a
guess. Responses stay JSON (clients decode them by their Content-Type).
Wire format only: must not validate or default (the store does)."""
import base64
import struct

from . import errors

MAGIC = b"k8s\x00"


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    """[(field number, wire type, value)]: varints as int, length-delimited
    as bytes, fixed as raw bytes."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field %d" % num)
            v, pos = buf[pos:pos + n], pos + n
        elif wt == 1:
            v, pos = buf[pos:pos + 8], pos + 8
        elif wt == 5:
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, wt, v))
    return out


# message schemas: field number -> (json name, type); types are "string",
# "int", "bool", "time", "map" (map<string,string>), "bytesmap"
# (map<string,bytes>, base64 in JSON), a message name, or a
# list of one of these for repeated fields
MESSAGES = {
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
                   8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"),
                   12: ("annotations", "map"), 13: ("ownerReferences", ["OwnerReference"]),
                   14: ("finalizers", ["string"])},
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", ["string"])},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "bytesmap"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map"), 3: ("binaryData", "bytesmap"),
                  4: ("immutable", "bool")},
    # kubectl create serviceaccount; Helm's typed clients send DeleteOptions
    # with every delete (helm uninstall, release history pruning)
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", ["ObjectReference"]),
                       3: ("imagePullSecrets", ["LocalObjectReference"]),
                       4: ("automountServiceAccountToken", "bool")},
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", ["string"])},
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
}
KINDS = {("v1", "Namespace"): "Namespace", ("v1", "Secret"): "Secret", ("v1", "ConfigMap"): "ConfigMap",
         ("v1", "ServiceAccount"): "ServiceAccount", ("v1", "DeleteOptions"): "DeleteOptions",
         ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions"}


def _time(buf):
    secs = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = v
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))


def _scalar(t, wt, v):
    if t == "string":
        return v.decode()
    if t == "int":
        return v - (1 << 64) if v >= 1 << 63 else v
    if t == "bool":
        return bool(v)
    if t == "time":
        return _time(v)
    if t in ("map", "bytesmap"):
        k, val = "", b""
        for num, _, x in fields(v):
            if num == 1:
                k = x.decode()
            elif num == 2:
                val = x
        return (k, base64.b64encode(val).decode() if t == "bytesmap" else val.decode())
    return message(t, v)


def message(name, buf):
    schema = MESSAGES[name]
    out = {}
    for num, wt, v in fields(buf):
        if num not in schema:
            continue        # fields a JSON body could not carry either (managedFields, status)
        key, t = schema[num]
        if isinstance(t, list):
            out.setdefault(key, []).append(_scalar(t[0], wt, v))
        elif t in ("map", "bytesmap"):
            k, val = _scalar(t, wt, v)
            out.setdefault(key, {})[k] = val
        else:
            out[key] = _scalar(t, wt, v)
    return out


def decode(body):
    """The JSON object of a protobuf request body; ApiError 415 for kinds
    this fake cannot read, 400 for a body that is not protobuf."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("the body of the request is not a protobuf object (no k8s\\x00 prefix)")
    try:
        api_version = kind = None
        raw = b""
        for num, _, v in fields(body[len(MAGIC):]):
            if num == 1:
                for n2, _, v2 in fields(v):
                    if n2 == 1:
                        api_version = v2.decode()
                    elif n2 == 2:
                        kind = v2.decode()
            elif num == 2:
                raw = v
        name = KINDS.get((api_version, kind))
        if name is None:
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  "the fake API server reads protobuf bodies only for %s, not %s %s: send JSON"
                                  % (", ".join("%s %s" % k for k in sorted(KINDS)), api_version, kind))
        obj = message(name, raw)
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        raise errors.bad_request("the protobuf body could not be decoded: %s" % e)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
