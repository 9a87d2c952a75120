"""test_fake_apiserver_openapi.py - the fake API server behaves like a real
one where kubectl can tell (issue 14):

- /openapi/v2 is the recorded v1.24 document with every installed CRD
  merged in as kube-apiserver publishes it (definitions app.flagger.v1beta1.
  Canary and ...CanaryList tagged x-kubernetes-group-version-kind, paths and
  operations), served as JSON and as the protocol buffer kubectl asks for
  (kubectl explain reads it), with an ETag; /openapi/v3 lists a document per
  group version, and kubectl explain reads those;
- playing v1.24 (no server-side field validation), kubectl validates
  client-side against /openapi/v2 and refuses unknown fields with the
  recorded document's words ("ValidationError(...): unknown field ...");
- playing v1.32 (the default), the OpenAPI documents offer fieldValidation,
  kubectl leaves validation to the server, and the server honours
  Strict / Warn / Ignore on create, update and patch with kube-apiserver's
  texts (400 "... cannot be handled as a ...: strict decoding error:
  unknown field ...", 422 for patches, Warning headers, duplicate fields,
  422 for an unsupported value), Warn when the parameter is absent;
- the CRD line of issue 14 (a description whose commas made two schema
  keys with null values): what kubectl does with it against each version."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("CANARYD_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARED = os.environ.get("CANARYD_SHARED") or os.path.join(SRC, "..", "shared")
sys.path.insert(0, os.path.join(SRC, "tests", "fake-apiserver"))
from fakekube.testing import Checker, FakeApiServer, canaryd_fields_lost  # noqa: E402

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CRDS = os.path.join(SRC, "deploy", "crds")
PB = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
AX = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
t = Checker()
TMP = tempfile.mkdtemp(prefix="test-openapi.")

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: default}
spec:
  replicas: 1
  %(extra)s
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - {name: app, image: example.com/app:1}
"""
CANARY = """apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: %(name)s, namespace: default}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: app}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 5, iterations: 3%(extra)s}
"""

# issue 14: the old deploy/crds/alertproviders.yaml line, and the same
# mistake with values (what kubectl's client-side validation can see)
OLD_LINE = "channel: {type: string, description: Channel (Slack, Discord, Rocket.Chat); default general.}"
WITH_VALUE = "channel: {type: string, description: Channel (Slack), Discord: yes}"


def alertproviders(replace_with, name="alertproviders"):
    with open(os.path.join(CRDS, "alertproviders.yaml")) as f:
        text = f.read()
    lines = [ln for ln in text.splitlines() if ln.strip().startswith("channel:")]
    assert len(lines) == 1, lines
    indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
    text = text.replace(lines[0], indent + replace_with)
    path = os.path.join(TMP, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Kubectl:
    def __init__(self, srv, tag):
        self.kc = srv.kubeconfig(os.path.join(TMP, "kubeconfig-" + tag))
        self.env = dict(os.environ, KUBECONFIG=self.kc, KUBECACHEDIR=os.path.join(TMP, "cache-" + tag))

    def __call__(self, *args, stdin=None):
        r = subprocess.run([KUBECTL, "--request-timeout=30s"] + list(args), input=stdin,
                           capture_output=True, text=True, env=self.env)
        return r.returncode, r.stdout + r.stderr


def documents():
    with FakeApiServer("--crd", os.path.join(CRDS, "canaries.yaml")) as s:
        k = Kubectl(s, "docs")
        code, hdr, v2 = s.get("/openapi/v2")
        with gzip.open(os.path.join(SHARED, "conformance", "kube-api", "openapi-v2.json.gz")) as f:
            recorded = json.load(f)
        defs = v2.get("definitions", {})
        t.check("/openapi/v2: JSON with every recorded definition",
                code == 200 and hdr.get("content-type") == "application/json" and
                set(recorded["definitions"]) <= set(defs), (code, hdr.get("content-type")))
        c = defs.get("app.flagger.v1beta1.Canary", {})
        t.check("a CRD's kind is published as app.flagger.v1beta1.Canary, tagged with its GVK",
                c.get("x-kubernetes-group-version-kind") ==
                [{"group": "flagger.app", "kind": "Canary", "version": "v1beta1"}] and
                c["properties"]["metadata"].get("$ref") ==
                "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", c.get("properties", {}).keys())
        t.check("... and its list kind as app.flagger.v1beta1.CanaryList",
                defs.get("app.flagger.v1beta1.CanaryList", {}).get("x-kubernetes-group-version-kind") ==
                [{"group": "flagger.app", "kind": "CanaryList", "version": "v1beta1"}])
        t.check("OpenAPI v2 cannot say oneOf/anyOf/allOf/not: dropped from the published schema",
                not any(w in json.dumps(c) for w in ('"oneOf"', '"anyOf"', '"allOf"', '"not"')))
        item = v2["paths"].get("/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}", {})
        patch = item.get("patch", {})
        t.check("a CRD's paths: patch operation with its GVK and operationId as the API server names it",
                patch.get("operationId") == "patchFlaggerAppV1beta1NamespacedCanary" and
                patch.get("x-kubernetes-group-version-kind") ==
                {"group": "flagger.app", "kind": "Canary", "version": "v1beta1"} and
                "/apis/flagger.app/v1beta1/namespaces/{namespace}/canaries/{name}/status" in v2["paths"],
                patch.get("operationId"))
        t.check("v1.32: write operations offer fieldValidation (server-side validation)",
                any(p.get("name") == "fieldValidation" for p in patch.get("parameters", [])) and
                any(p.get("name") == "fieldValidation" for p in v2["paths"][
                    "/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]["parameters"]))
        code, hdr, body = s.request("GET", "/openapi/v2", headers={"Accept": PB}, raw=True)
        t.check("/openapi/v2 as the protocol buffer kubectl asks for", code == 200 and
                hdr.get("content-type") == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
                and body[:2] == b"\x0a\x03" and len(body) > 1000000, (code, hdr.get("content-type")))
        etag = hdr.get("etag")
        code, _, _ = s.request("GET", "/openapi/v2", headers={"Accept": PB, "If-None-Match": etag},
                               raw=True)
        t.check("ETag: If-None-Match answers 304 Not Modified", code == 304 and etag, (code, etag))
        rc, out = k("explain", "canary.spec.analysis", "--output=plaintext-openapiv2")
        t.check("kubectl explain reads the protobuf document, CRDs included",
                rc == 0 and "stepWeight" in out and "RESOURCE: analysis" in out, out[-500:])
        rc, out = k("explain", "deployment.spec.strategy.rollingUpdate", "--output=plaintext-openapiv2")
        t.check("... and the built-in kinds", rc == 0 and "maxSurge" in out, out[-500:])
        code, _, root = s.get("/openapi/v3")
        url = (root.get("paths", {}).get("apis/flagger.app/v1beta1") or {}).get("serverRelativeURL", "")
        t.check("/openapi/v3 lists a document per group version, with its hash",
                code == 200 and url.startswith("/openapi/v3/apis/flagger.app/v1beta1?hash=") and
                "api/v1" in root["paths"] and "apis/apps/v1" in root["paths"], root)
        code, hdr, gv = s.get(url)
        schemas = gv.get("components", {}).get("schemas", {})
        t.check("the flagger.app/v1beta1 document: Canary schema (with its oneOf), paths, immutable cache",
                code == 200 and "oneOf" in json.dumps(schemas.get("app.flagger.v1beta1.Canary")) and
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas and
                hdr.get("cache-control") == "public, immutable", (code, list(schemas)[:5]))
        rc, out = k("explain", "canary.spec.analysis")
        t.check("kubectl explain reads the OpenAPI v3 documents", rc == 0 and "stepWeight" in out, out[-500:])
        rc, out = k("apply", "-f", os.path.join(CRDS, "metrictemplates.yaml"))
        code, hdr2, _ = s.request("GET", "/openapi/v2", headers={"Accept": PB}, raw=True)
        _, _, root2 = s.get("/openapi/v3")
        t.check("a CRD applied later: new ETag, new v3 group document",
                rc == 0 and hdr2.get("etag") != etag and
                root2["paths"]["apis/flagger.app/v1beta1"]["serverRelativeURL"] != url, out)
        rc, out = k("delete", "crd", "canaries.flagger.app")
        _, _, v2b = s.get("/openapi/v2")
        t.check("a deleted CRD leaves the document", rc == 0 and
                "app.flagger.v1beta1.Canary" not in v2b["definitions"] and
                "app.flagger.v1beta1.MetricTemplate" in v2b["definitions"], out)


def client_side():
    """A server playing v1.24: no fieldValidation; kubectl validates."""
    with FakeApiServer("--kube-version", "v1.24.0", "--crd", os.path.join(CRDS, "canaries.yaml")) as s:
        k = Kubectl(s, "v124")
        _, _, v2 = s.get("/openapi/v2")
        t.check("v1.24: no fieldValidation parameter offered", "fieldValidation" not in json.dumps(
            v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]))
        rc, out = k("apply", "-f", write("d1.yaml", DEPLOY % {"name": "typo", "extra": "replicass: 2"}))
        t.check("v1.24: kubectl refuses an unknown field client-side, in the recorded document's words",
                rc != 0 and 'error validating data: ValidationError(Deployment.spec): unknown field '
                '"replicass" in io.k8s.api.apps.v1.DeploymentSpec' in out, out)
        rc, out = k("apply", "-f", write("c1.yaml", CANARY % {"name": "typo", "extra": ", stepWeigth: 5"}))
        t.check("v1.24: ... in a custom resource too, against the CRD's published schema",
                rc != 0 and 'ValidationError(Canary.spec.analysis): unknown field "stepWeigth" in '
                'app.flagger.v1beta1.Canary.spec.analysis' in out, out)
        rc, out = k("apply", "-f", alertproviders(WITH_VALUE, "with-value"))
        t.check("v1.24: a stray schema key with a value: 'unknown field ... in ...JSONSchemaProps'",
                rc != 0 and 'ValidationError(CustomResourceDefinition.spec.versions[0].schema.'
                'openAPIV3Schema.properties.spec.properties.channel): unknown field "Discord" in '
                'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps' in out, out)
        rc, out = k("apply", "-f", alertproviders(OLD_LINE, "old-line"))
        _, _, crd = s.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/alertproviders.flagger.app")
        ch = json.dumps(crd.get("spec", {}).get("versions", [{}])[0].get("schema", {})
                        .get("openAPIV3Schema", {}).get("properties", {}).get("spec", {})
                        .get("properties", {}).get("channel"))
        t.check("v1.24: issue 14's line (keys with null values) passes kubectl, which skips nulls, and the "
                "server drops the keys silently, as a real v1.24 does",
                rc == 0 and "created" in out and "Discord" not in ch and '"Channel (Slack"' in ch, (out, ch))
        code, _, d = s.post("/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "raw"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "bogus": 1, "template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
        t.check("v1.24: fieldValidation=Strict is ignored, the unknown field dropped",
                code == 201 and "bogus" not in d["spec"], (code, d))


def server_side():
    with FakeApiServer("--crd", os.path.join(CRDS, "canaries.yaml")) as s:
        k = Kubectl(s, "v132")
        rc, out = k("apply", "-f", write("d2.yaml", DEPLOY % {"name": "typo", "extra": "replicass: 2"}))
        t.check("v1.32: kubectl sends Strict; the server refuses with kube-apiserver's words",
                rc != 0 and 'Error from server (BadRequest): error when creating' in out and
                'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                'unknown field "spec.replicass"' in out, out)
        rc, out = k("apply", "--validate=warn", "-f", write("d3.yaml", DEPLOY % {
            "name": "warned", "extra": "replicass: 2"}))
        _, _, d = s.get("/apis/apps/v1/namespaces/default/deployments/warned")
        t.check("kubectl --validate=warn: created, with the server's warning, the field dropped",
                rc == 0 and 'Warning: unknown field "spec.replicass"' in out and
                "replicass" not in d.get("spec", {}), out)
        rc, out = k("apply", "--validate=false", "-f", write("d4.yaml", DEPLOY % {
            "name": "ignored", "extra": "replicass: 2"}))
        t.check("kubectl --validate=false (Ignore): created silently", rc == 0 and "Warning" not in out, out)
        rc, out = k("apply", "-f", write("c2.yaml", CANARY % {"name": "typo", "extra": ", stepWeigth: 5"}))
        t.check("a custom resource: 'Canary in version \"v1beta1\" cannot be handled as a Canary'",
                rc != 0 and 'Canary in version "v1beta1" cannot be handled as a Canary: strict decoding '
                'error: unknown field "spec.analysis.stepWeigth"' in out, out)
        rc, out = k("apply", "-f", write("c3.yaml", CANARY % {"name": "good", "extra": ""}))
        t.check("a valid Canary is created", rc == 0 and "created" in out, out)

        # issue 14's CRD
        old = alertproviders(OLD_LINE, "old-line")
        rc, out = k("create", "-f", old)
        t.check("issue 14's CRD: kubectl create is refused, both stray keys named",
                rc != 0 and 'CustomResourceDefinition in version "v1" cannot be handled as a '
                'CustomResourceDefinition: strict decoding error: unknown field "spec.versions[0].schema.'
                'openAPIV3Schema.properties.spec.properties.channel.Discord", unknown field "spec.'
                'versions[0].schema.openAPIV3Schema.properties.spec.properties.channel.Rocket.Chat); '
                'default general."' in out, out)
        rc, out = k("apply", "-f", old)
        t.check("issue 14's CRD: a first kubectl apply creates it (kubectl drops null values from the "
                "object it creates, as against a real server)", rc == 0 and "created" in out, out)
        with open(old) as f:
            changed = f.read().replace("served: true", "served: true\n      deprecated: false", 1)
        rc, out = k("apply", "-f", write("old-changed.yaml", changed))
        t.check("issue 14's CRD: the next apply that touches spec.versions is refused (422, patch)",
                rc != 0 and "The request is invalid: patch: Invalid value:" in out and
                'strict decoding error: unknown field "spec.versions[0].schema.openAPIV3Schema.properties.'
                'spec.properties.channel.Discord"' in out, out)
        rc, out = k("apply", "-f", os.path.join(CRDS, "alertproviders.yaml"))
        t.check("the fixed CRD applies", rc == 0 and "configured" in out, out)
        rc, out = k("apply", "-f", alertproviders(WITH_VALUE, "with-value"))
        t.check("a stray schema key with a value: refused by the server",
                rc != 0 and 'unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.'
                'properties.channel.Discord"' in out, out)
        raw_api(s)


def raw_api(s):
    D = "/apis/apps/v1/namespaces/default/deployments"
    C = "/apis/flagger.app/v1beta1/namespaces/default/canaries"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "raw"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "foo": 1, "template": {
               "metadata": {"labels": {"a": "b"}},
               "spec": {"containers": [{"name": "c", "image": "i", "imagee": "typo"}]}}}}
    code, hdr, body = s.post(D, dep, headers={"User-Agent": "canaryd/test"})
    t.check("no parameter: Warn - created, one Warning header per field, fields dropped",
            code == 201 and hdr.get("warning") == '299 - "unknown field \\"spec.foo\\"", 299 - '
            '"unknown field \\"spec.template.spec.containers[0].imagee\\""' and "foo" not in body["spec"],
            (code, hdr.get("warning")))
    # the request log is written once the answer is out: wait for it
    lost = s.wait_for(lambda: canaryd_fields_lost(s.control("fields-lost", method="GET")["writes"]) and
                      s.control("fields-lost", method="GET")["writes"], 10) or []
    t.check("the write that lost fields is listed by /fake/fields-lost (and counts against canaryd)",
            len(canaryd_fields_lost(lost)) == 1 and lost[-1]["errors"] == [
                'unknown field "spec.foo"', 'unknown field "spec.template.spec.containers[0].imagee"'], lost)
    s.control("fields-lost", method="DELETE")
    code, _, st = s.post(D + "?fieldValidation=Strict", dict(dep, metadata={"name": "raw2"}))
    t.check("Strict: 400 BadRequest Status as kube-apiserver words it", code == 400 and st == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                   'unknown field "spec.foo", unknown field "spec.template.spec.containers[0].imagee"',
        "reason": "BadRequest", "code": 400}, st)
    code, hdr, _ = s.post(D + "?fieldValidation=Ignore", dict(dep, metadata={"name": "raw3"}))
    t.check("Ignore: created, no warning", code == 201 and "warning" not in hdr, hdr)
    code, _, st = s.post(D + "?fieldValidation=Loose", dict(dep, metadata={"name": "raw4"}))
    t.check("an unsupported value: 422 on CreateOptions", code == 422 and st["message"] ==
            'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": '
            'supported values: "", "Ignore", "Strict", "Warn"' and
            st["details"]["causes"][0]["field"] == "fieldValidation", st)
    dup = ('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"dup"},"spec":{"replicas":1,'
           '"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},'
           '"spec":{"containers":[{"name":"c","image":"i"}]}}}}')
    code, _, st = s.request("POST", D + "?fieldValidation=Strict", dup.encode(), raw=False)
    t.check("a duplicate field: Strict refuses it", code == 400 and
            st["message"].endswith('strict decoding error: duplicate field "spec.replicas"'), st)
    code, hdr, d = s.request("POST", D, dup.encode())
    t.check("a duplicate field: Warn keeps the last value and warns", code == 201 and
            d["spec"]["replicas"] == 2 and 'duplicate field \\"spec.replicas\\"' in hdr.get("warning", ""),
            (code, hdr.get("warning")))
    code, _, st = s.patch(D + "/raw?fieldValidation=Strict", {"spec": {"paused": True, "bar": 1}})
    t.check("merge patch, Strict: 422 Invalid on the patched object",
            code == 422 and st["reason"] == "Invalid" and st["message"].startswith(
                ' "" is invalid: patch: Invalid value: "{\\"apiVersion\\":\\"apps/v1\\",') and
            st["message"].endswith('": strict decoding error: unknown field "spec.bar"') and
            st["details"]["causes"][0]["field"] == "patch", st)
    code, _, st = s.patch(D + "/raw?fieldValidation=Strict", {"spec": {"bar": 1}}, "strategic")
    t.check("strategic merge patch, Strict: the patch shown as Go prints a map",
            code == 422 and st["message"] == ' "" is invalid: patch: Invalid value: "map[spec:map[bar:1]]": '
            'strict decoding error: unknown field "spec.bar"', st)
    code, _, st = s.patch(D + "/raw?fieldValidation=Strict",
                          [{"op": "add", "path": "/spec/paused", "value": True, "valeu": 1}], "json")
    t.check("JSON patch, Strict: an unknown key of an operation is a 'json patch' error",
            code == 422 and st["message"].endswith(
                'strict decoding error: json patch unknown field "[0].valeu"'), st)
    code, hdr, d = s.patch(D + "/raw", {"spec": {"paused": True, "bar": 1}})
    t.check("merge patch, Warn: applied, warned, dropped", code == 200 and d["spec"]["paused"] is True
            and "bar" not in d["spec"] and 'unknown field \\"spec.bar\\"' in hdr.get("warning", ""))
    code, _, st = s.put(D + "/raw?fieldValidation=Strict", dict(d, spec=dict(d["spec"], baz=2)))
    t.check("update (PUT), Strict: 400 as for a create", code == 400 and st["message"] ==
            'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
            'unknown field "spec.baz"', st)
    can = {"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
           "metadata": {"name": "raw", "labelz": {"a": "b"}},
           "spec": {"provider": "kubernetes", "foo": 1, "service": {"port": 80},
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "raw"},
                    "analysis": {"interval": "1m", "threshold": 1, "iterations": 1}}}
    code, _, st = s.post(C + "?fieldValidation=Strict", can)
    t.check("custom resource, Strict: unknown fields of metadata (ObjectMeta) and of the schema",
            code == 400 and st["message"] == 'Canary in version "v1beta1" cannot be handled as a Canary: '
            'strict decoding error: unknown field "metadata.labelz", unknown field "spec.foo"', st)
    code, hdr, c = s.post(C, can)
    t.check("custom resource, Warn: created, pruned (metadata too), warned", code == 201 and
            "foo" not in c["spec"] and "labelz" not in c["metadata"] and
            hdr.get("warning", "").count("299 -") == 2, hdr.get("warning"))
    code, _, st = s.patch(C + "/raw/status?fieldValidation=Strict", {"status": {"phase": "Progressing",
                                                                                "phaze": 1}})
    t.check("status subresource patch, Strict: 422 naming status.phaze", code == 422 and
            st["message"].endswith('strict decoding error: unknown field "status.phaze"'), st)


def preload_refused():
    bad = alertproviders(WITH_VALUE, "with-value")
    srv = FakeApiServer("--crd", bad)
    try:
        srv.start()
        started = True
    except RuntimeError as e:
        started = False
        msg = str(e)
    finally:
        srv.stop()
    t.check("--crd with a CRD an API server refuses: the fake does not start, and says why",
            not started and 'unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.'
            'properties.channel.Discord"' in msg, msg if not started else "started")


def main():
    try:
        documents()
        client_side()
        server_side()
        preload_refused()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    t.finish()


if __name__ == "__main__":
    main()
