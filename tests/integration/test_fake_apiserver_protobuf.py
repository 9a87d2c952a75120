"""test_fake_apiserver_protobuf.py - the fake API server reads the protobuf
bodies client-go's typed clients send (Helm's release Secrets, kubectl's
`create namespace|secret|configmap|serviceaccount`), as a real server
does: the real kubectl's typed commands work and send protobuf; a Secret
encoded here with every ObjectMeta field comes back as the same JSON
object; protobuf DeleteOptions are honoured (a precondition that does not
match answers 409); a kind the fake cannot read in protobuf answers 415
naming the media types it can; a broken body answers 400 and creates
nothing.
"""
import base64
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402,F401  (puts the pinned kubectl first on PATH)
import operator_env  # noqa: E402,F401  (fakekube on sys.path)
from testlib import require_kubectl  # noqa: E402
from fakekube.testing import Checker, FakeApiServer  # noqa: E402

PB = "application/vnd.kubernetes.protobuf"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """One field: an int (varint), a bool, or bytes/str (length-delimited)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def entries(num, mapping):
    return b"".join(field(num, field(1, k) + field(2, v)) for k, v in mapping.items())


def envelope(api_version, kind, raw):
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, raw)


def secret_pb():
    meta = (field(1, "pb-secret") + field(3, "shop") + entries(11, {"owner": "helm", "name": "x"}) +
            entries(12, {"note": "made by the test"}) +
            field(13, field(1, "ConfigMap") + field(3, "owner-cm") + field(4, "1234") + field(5, "v1") +
                  field(6, True)) +
            field(14, "example.com/keep"))
    raw = (field(1, meta) + entries(2, {"release": b"\x00\x01binary\xff"}) + field(3, "helm.sh/release.v1") +
           entries(4, {"extra": "plain"}) + field(5, False))
    return envelope("v1", "Secret", raw)


def main():
    require_kubectl()
    t = Checker()
    tmp = tempfile.mkdtemp(prefix="canaryd-pb-test.")
    api = FakeApiServer().start()
    try:
        kc = api.kubeconfig(os.path.join(tmp, "kubeconfig"))
        env = dict(os.environ, KUBECONFIG=kc, KUBECACHEDIR=os.path.join(tmp, "cache"))

        def kubectl(*args):
            return subprocess.run(["kubectl"] + list(args), env=env, capture_output=True, text=True, timeout=60)

        api.request("DELETE", "/fake/requests")
        for args in (("create", "namespace", "shop"),
                     ("create", "secret", "generic", "db", "-n", "shop", "--from-literal=password=s3cr3t"),
                     ("create", "configmap", "settings", "-n", "shop", "--from-literal=size=3"),
                     ("create", "serviceaccount", "runner", "-n", "shop")):
            r = kubectl(*args)
            t.check("kubectl " + " ".join(args[:2]) + " works", r.returncode == 0, r.stderr)
        _, _, log = api.get("/fake/requests")
        posts = [e for e in log.get("requests", log) if e["method"] == "POST"]
        t.check("kubectl sent those bodies in protobuf", len(posts) == 4 and
                all(e["contentType"].startswith(PB) for e in posts), [e["contentType"] for e in posts])
        _, _, s = api.get("/api/v1/namespaces/shop/secrets/db")
        t.check("the Secret's data arrived", s["data"] == {"password": base64.b64encode(b"s3cr3t").decode()}, s)
        _, _, c = api.get("/api/v1/namespaces/shop/configmaps/settings")
        t.check("the ConfigMap's data arrived", c["data"] == {"size": "3"}, c)
        _, _, n = api.get("/api/v1/namespaces/shop")
        t.check("the Namespace is Active, with the kubernetes finalizer",
                n["status"]["phase"] == "Active" and n["spec"]["finalizers"] == ["kubernetes"], n)

        status, _, obj = api.request("POST", "/api/v1/namespaces/shop/secrets", secret_pb(), ctype=PB)
        t.check("a protobuf Secret with every ObjectMeta field: 201", status == 201, obj)
        if status == 201:
            md = obj["metadata"]
            t.check("... labels, annotations, finalizers as sent",
                    md["labels"] == {"owner": "helm", "name": "x"} and md["annotations"] == {"note": "made by the test"}
                    and md["finalizers"] == ["example.com/keep"], md)
            t.check("... the owner reference as sent",
                    md["ownerReferences"] == [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner-cm",
                                               "uid": "1234", "controller": True}], md.get("ownerReferences"))
            t.check("... binary data kept byte for byte, stringData merged into data, the type",
                    obj["data"] == {"release": base64.b64encode(b"\x00\x01binary\xff").decode(),
                                    "extra": base64.b64encode(b"plain").decode()} and
                    obj["type"] == "helm.sh/release.v1", obj)

        # protobuf DeleteOptions: a uid precondition that does not match
        opts = envelope("meta.k8s.io/v1", "DeleteOptions", field(2, field(1, "not-the-uid")))
        status, _, body = api.request("DELETE", "/api/v1/namespaces/shop/configmaps/settings", opts, ctype=PB)
        t.check("protobuf DeleteOptions with a wrong uid precondition: 409, nothing deleted",
                status == 409 and api.get("/api/v1/namespaces/shop/configmaps/settings")[0] == 200, (status, body))
        opts = envelope("meta.k8s.io/v1", "DeleteOptions", field(4, "Background"))
        status, _, body = api.request("DELETE", "/api/v1/namespaces/shop/configmaps/settings", opts, ctype=PB)
        t.check("protobuf DeleteOptions (propagationPolicy): deleted",
                status == 200 and api.get("/api/v1/namespaces/shop/configmaps/settings")[0] == 404, (status, body))

        pod = envelope("v1", "Pod", field(1, field(1, "p")))
        status, _, body = api.request("POST", "/api/v1/namespaces/shop/pods", pod, ctype=PB)
        t.check("a kind the fake cannot read in protobuf: 415, naming the media types it reads",
                status == 415 and body.get("reason") == "UnsupportedMediaType" and
                "JSON" in body.get("message", ""), (status, body))
        for what, data in (("no envelope", b"\x0a\x03abc"),
                           ("a truncated field", b"k8s\x00\x0a\x7f"),
                           ("a truncated varint", b"k8s\x00\x08\xff"),
                           ("an invalid wire type", b"k8s\x00\x0f")):
            status, _, body = api.request("POST", "/api/v1/namespaces/shop/secrets", data, ctype=PB)
            t.check("%s: 400 BadRequest" % what, status == 400 and body.get("reason") == "BadRequest", (status, body))
        _, _, lst = api.get("/api/v1/namespaces/shop/secrets")
        t.check("the broken bodies created nothing",
                sorted(i["metadata"]["name"] for i in lst["items"]) == ["db", "pb-secret"], lst["items"])
    finally:
        api.stop()
    t.finish()


if __name__ == "__main__":
    main()
