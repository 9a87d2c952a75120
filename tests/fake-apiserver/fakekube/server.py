"""server.py - the HTTP side of the fake API server: URL routing as the
real kube-apiserver lays it out (/api, /apis, group versions, namespaced and
cluster-scoped collections, objects, subresources, legacy /watch/
prefixes), content negotiation (JSON, Table, PartialObjectMetadata),
patch content types, chunked watch streams with bookmarks, timeoutSeconds
and ERROR events, bearer-token and client-certificate authentication, the
request log, and the /fake/ control endpoints. Depends on the store for
every API semantic; holds no object state itself."""
import json
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import errors, fieldvalidation, managedfields, openapi, portforward, protobuf
from .errors import ApiError
from .selectors import FieldSelector, LabelSelector
from .table import to_table
from .util import new_uid, now_rfc3339

try:
    import yaml
except ImportError:
    yaml = None

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
}


class App:
    """Everything one server instance shares between request threads."""

    def __init__(self, registry, store, faults, controllers, version, bookmark_interval=1.0,
                 watch_timeout=1800, verbose=False, openapi_docs=None):
        self.registry = registry
        self.openapi = openapi_docs        # openapi.OpenAPI: /openapi/v2, /openapi/v3
        self.openapi_modified = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        self.store = store
        self.faults = faults
        self.controllers = controllers
        self.version = version
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.verbose = verbose
        self.tokens = {}             # token -> user name
        self.client_ca = False
        self.address = "127.0.0.1:0"
        self.request_seq = 0
        self.seq_lock = threading.Lock()
        self.fields_lost = []        # writes that succeeded but lost fields (unknown, duplicate)
        self.pf_flowschema_uid = str(uuid.uuid4())      # API Priority and Fairness headers
        self.pf_prioritylevel_uid = str(uuid.uuid4())

    @property
    def auth_required(self):
        return bool(self.tokens) or self.client_ca


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, addr, app, ssl_ctx=None):
        self.app = app
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        try:    # headers and body go out in separate writes: no Nagle delay
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ssl_ctx is not None:
            try:
                request.settimeout(10)
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass


class WatchConn:
    def __init__(self, handler, path):
        self.handler = handler
        self.path = path
        self.cut_flag = False

    def cut(self):
        self.cut_flag = True
        try:
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.handler.server.app.store.wake_all()


class Route:
    def __init__(self):
        self.kind = None             # version|api|apis|group|resources|resource
        self.group = ""
        self.version = None
        self.rt = None
        self.ns = None
        self.name = None
        self.sub = None
        self.watch_prefix = False


def _truthy(v):
    return v in ("1", "true", "True")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            super().log_message(fmt, *args)

    # one entry point for every method
    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # ---- plumbing --------------------------------------------------------------------
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def pretty(self):
        if "pretty" in self.query:
            return _truthy(self.query["pretty"])
        ua = self.headers.get("User-Agent", "")
        return ua.startswith("curl/") or ua.startswith("Wget")

    def send_json(self, code, obj, headers=None):
        if self.pretty():
            body = json.dumps(obj, indent=2).encode()
        else:
            body = json.dumps(obj, separators=(",", ":")).encode()
        self.status_code = code
        self.send_response(code)
        self.send_api_headers()
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in getattr(self, "warnings", []):
            self.send_header("Warning", '299 - %s' % fieldvalidation.go_quote(w))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_api_headers(self):
        """What kube-apiserver adds to every API response: the audit id and
        the API Priority and Fairness classification."""
        app = self.server.app
        self.send_header("Audit-Id", new_uid())
        if self.path.startswith(("/api", "/openapi", "/version")):
            self.send_header("X-Kubernetes-Pf-Flowschema-Uid", app.pf_flowschema_uid)
            self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", app.pf_prioritylevel_uid)

    def send_text(self, code, text, ctype="text/plain; charset=utf-8"):
        body = text.encode()
        self.status_code = code
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error_status(self, e):
        self.send_json(e.code, e.status(), e.headers)

    def identity(self):
        app = self.server.app
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            if tok in app.tokens:
                return app.tokens[tok]
            return None
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                cert = self.connection.getpeercert()
            except (ValueError, OSError):
                cert = None
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return "cert:" + v
                return "cert:unknown"
        return "anonymous" if not app.auth_required else None

    # ---- main dispatch ----------------------------------------------------------------
    def handle_any(self, method):
        app = self.server.app
        t0 = time.monotonic()
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.status_code = 0
        self.warnings = []
        self.body_dups = []
        self.check = None
        user = None
        verb = method.lower()
        try:
            body = self.read_body()
            path = url.path
            if path.startswith("/fake/") or path == "/fake":
                return self.control(method, path, body)
            if path in ("/healthz", "/livez", "/readyz"):
                return self.send_text(200, "ok")
            user = self.identity()
            if user is None:
                raise errors.unauthorized()
            route = self.route(path)
            verb = self.verb(method, route)
            err = app.faults.check_error(verb, path)
            if app.faults.delay_ms:
                time.sleep(app.faults.delay_ms / 1000.0)
            if err is not None:
                raise err
            self.dispatch(method, route, body, verb)
        except ApiError as e:
            try:
                self.send_error_status(e)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the fake: say so loudly
            traceback.print_exc()
            try:
                self.send_error_status(errors.internal("fake-apiserver: %s" % e))
            except OSError:
                pass
        finally:
            if not url.path.startswith("/fake/"):
                with app.seq_lock:
                    app.request_seq += 1
                    seq = app.request_seq
                    if self.check is not None and self.check.found and 200 <= self.status_code < 300:
                        lost = {"seq": seq, "method": method, "path": url.path,
                                "userAgent": self.headers.get("User-Agent", ""),
                                "fieldValidation": self.check.directive,
                                "errors": list(self.check.found)}
                        if len(app.fields_lost) < 1000:
                            app.fields_lost.append(lost)
                        print("fake-apiserver: %s %s (%s, fieldValidation=%s) lost fields: %s"
                              % (method, url.path, lost["userAgent"], lost["fieldValidation"],
                                 "; ".join(lost["errors"])), file=sys.stderr, flush=True)
                app.faults.log_request({
                    "seq": seq, "method": method, "path": url.path, "query": self.query,
                    "verb": verb, "code": self.status_code, "user": user,
                    "userAgent": self.headers.get("User-Agent", ""),
                    "contentType": self.headers.get("Content-Type", ""),
                    "accept": self.headers.get("Accept", ""),
                    "protocol": self.request_version, "time": time.time(),
                    "ms": round((time.monotonic() - t0) * 1000, 2),
                    "fieldValidation": self.check.directive if self.check else None,
                    "strictErrors": list(self.check.found) if self.check else [],
                    "warnings": list(self.warnings)})

    def verb(self, method, route):
        if route.kind != "resource":
            return "get"
        if method == "GET":
            if route.watch_prefix or _truthy(self.query.get("watch", "")):
                return "watch"
            return "get" if route.name else "list"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        return method.lower()

    def route(self, path):
        app = self.server.app
        parts = [p for p in path.split("/") if p]
        r = Route()
        if parts == ["version"]:
            r.kind = "version"
            return r
        if parts == ["openapi", "v2"]:
            r.kind = "openapi2"
            return r
        if parts[:2] == ["openapi", "v3"]:
            r.kind = "openapi"
            r.name = "/".join(parts[2:])
            return r
        if not parts or parts[0] not in ("api", "apis"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if parts[0] == "api":
            if len(parts) == 1:
                r.kind = "api"
                return r
            r.group, r.version, rest = "", parts[1], parts[2:]
            if r.version != "v1":
                raise errors.resource_not_found()
        else:
            if len(parts) == 1:
                r.kind = "apis"
                return r
            r.group = parts[1]
            if len(parts) == 2:
                r.kind = "group"
                return r
            r.version, rest = parts[2], parts[3:]
        if not rest:
            r.kind = "resources"
            return r
        if rest[0] == "watch":
            r.watch_prefix = True
            rest = rest[1:]
            if not rest:
                raise errors.resource_not_found()
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in
                                                                ("status", "finalize")):
            r.ns, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise errors.resource_not_found()
        rt = app.registry.get(r.group, r.version, rest[0])
        if rt is None:
            raise errors.resource_not_found()
        r.rt = rt
        r.name = rest[1] if len(rest) > 1 else None
        r.sub = rest[2] if len(rest) > 2 else None
        if r.sub and r.sub not in rt.subresources:
            raise errors.resource_not_found()
        if rt.namespaced and r.ns is None and r.name:
            raise errors.resource_not_found()
        if not rt.namespaced and r.ns is not None:
            raise errors.resource_not_found()
        r.kind = "resource"
        return r

    def parse_body(self, body, required=True):
        if not body:
            if required:
                raise errors.bad_request("the body of the request is empty")
            return None
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(body)
        try:
            if ctype in ("application/yaml", "application/x-yaml", "text/yaml") and yaml:
                return yaml.safe_load(body.decode())
            value, self.body_dups = fieldvalidation.loads(body.decode())
            return value
        except (ValueError, UnicodeDecodeError) as e:
            if yaml is not None and ctype not in PATCH_TYPES:
                try:
                    return yaml.safe_load(body.decode())
                except Exception:
                    pass
            raise errors.bad_request("couldn't get version/kind; json parse error: %s" % e)

    def wants(self):
        """'table', 'partial', or 'json' from the Accept header."""
        accept = self.headers.get("Accept", "") or "*/*"
        ok = False
        for item in accept.split(","):
            params = [p.strip() for p in item.split(";")]
            mtype = params[0]
            kv = dict(p.split("=", 1) for p in params[1:] if "=" in p)
            if mtype in ("application/json", "*/*", "application/*"):
                if kv.get("as") == "Table":
                    return "table", kv.get("v", "v1")
                if kv.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                    return "partial", kv.get("v", "v1")
                if "as" not in kv:
                    ok = True
        if not ok:
            raise errors.not_acceptable(["application/json", "application/yaml"])
        return "json", None

    def serve_pod_log(self, pod):
        """GET pods/NAME/log: text/plain, as a kubelet's log. The fake has no
        containers: the log is the file named by the Pod's annotation
        fake-apiserver/log-file (a test's stand-in process writes it), else
        empty. container (checked against the spec), tailLines, limitBytes."""
        q = self.query
        name = pod["metadata"]["name"]
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request("a container name must be specified for pod %s, choose one of: "
                                         "[%s]" % (name, " ".join(containers)))
        elif container not in containers:
            raise errors.bad_request("container %s is not valid for pod %s" % (container, name))
        data = b""
        path = ((pod["metadata"].get("annotations") or {}).get("fake-apiserver/log-file"))
        if path:
            try:
                with open(path, "rb") as f:
                    f.seek(0, 2)
                    size = f.tell()
                    f.seek(max(0, size - (1 << 20)))   # a kubelet keeps bounded logs too
                    data = f.read()
            except OSError:
                data = b""
        tail = q.get("tailLines")
        if tail is not None:
            try:
                n = int(tail)
            except ValueError:
                raise errors.bad_request("tailLines: invalid value %r" % tail)
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-n:]) if n > 0 else b""
        limit = q.get("limitBytes")
        if limit is not None and limit.isdigit():
            data = data[:int(limit)]
        return self.send_bytes(200, data, "text/plain")

    def serve_port_forward(self, pod, method):
        """GET or POST pods/NAME/portforward: an upgrade to SPDY/3.1 or to
        a WebSocket tunnel of it (fakekube/portforward.py); the connection
        is served until the client closes it."""
        if method not in ("GET", "POST"):
            raise errors.method_not_allowed()
        if self.query.get("ports"):
            for p in self.query["ports"].split(","):
                if not p.strip().isdigit() or not 0 < int(p) < 65536:
                    raise errors.bad_request("invalid port %r" % p)
        self.status_code = 101
        code, msg = portforward.serve(self, pod, self.log_port_forward)
        if code != 101:
            self.status_code = 0
            raise errors.bad_request(msg)

    def log_port_forward(self, msg):
        if self.server.app.verbose:
            print("fake-apiserver: %s" % msg, file=sys.stderr, flush=True)

    def dispatch(self, method, r, body, verb):
        app = self.server.app
        store = app.store
        if r.kind == "version":
            return self.send_json(200, app.version)
        if r.kind == "openapi2":
            return self.serve_openapi_v2()
        if r.kind == "openapi":
            return self.serve_openapi_v3(r.name)
        if r.kind == "api":
            return self.send_json(200, app.registry.api_versions(app.address))
        if r.kind == "apis":
            return self.send_json(200, app.registry.api_group_list())
        if r.kind == "group":
            g = app.registry.api_group(r.group)
            if g is None:
                raise errors.resource_not_found()
            return self.send_json(200, g)
        if r.kind == "resources":
            rl = app.registry.resource_list(r.group, r.version)
            if rl is None:
                raise errors.resource_not_found()
            return self.send_json(200, rl)
        rt = r.rt
        q = self.query
        dry = q.get("dryRun") == "All"
        fv = None
        if r.sub == "log":
            if method != "GET":
                raise errors.method_not_allowed()
            return self.serve_pod_log(store.get(rt, r.ns, r.name))
        if r.sub == "portforward":
            return self.serve_port_forward(store.get(rt, r.ns, r.name), method)
        if method in ("POST", "PUT", "PATCH") and r.sub != "scale":
            options = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}[method]
            served = app.openapi is not None and app.openapi.field_validation
            fv = self.check = fieldvalidation.Check(
                fieldvalidation.directive(q.get("fieldValidation"), served, options),
                warnings=self.warnings, manager=managedfields.manager_name(
                    q.get("fieldManager"), self.headers.get("User-Agent", "")))
        if method == "GET":
            fmt, tv = self.wants()
            if verb == "watch":
                return self.serve_watch(rt, r, fmt, tv)
            if r.name is None:
                lsel = LabelSelector(q.get("labelSelector"))
                fsel = FieldSelector(q.get("fieldSelector"), rt)
                lst = store.list(rt, r.ns, lsel, fsel, int(q.get("limit") or 0), q.get("continue"),
                                 q.get("resourceVersion"), q.get("resourceVersionMatch"))
                return self.send_list(rt, lst, fmt, tv)
            if r.sub == "scale":
                return self.send_json(200, store.get_scale(rt, r.ns, r.name))
            obj = store.get(rt, r.ns, r.name)
            if fmt == "table":
                t = to_table(rt, [obj], None, q.get("includeObject", "Metadata"))
                t["apiVersion"] = "meta.k8s.io/" + (tv or "v1")
                return self.send_json(200, t)
            if fmt == "partial":
                return self.send_json(200, {"kind": "PartialObjectMetadata",
                                            "apiVersion": "meta.k8s.io/" + (tv or "v1"),
                                            "metadata": obj["metadata"]})
            return self.send_json(200, obj)
        if method == "POST":
            if r.name is not None:
                raise errors.method_not_allowed()
            data = self.parse_body(body)
            fv.pre = list(self.body_dups)
            obj = store.create(rt, r.ns, data, dry, fv, self.warnings)
            return self.send_json(201, obj)
        if method == "PUT":
            if r.name is None:
                raise errors.method_not_allowed()
            data = self.parse_body(body)
            if r.sub == "scale":
                return self.send_json(200, store.update_scale(rt, r.ns, r.name, data, dry))
            fv.pre = list(self.body_dups)
            obj = store.update(rt, r.ns, r.name, data, r.sub, dry, fv, self.warnings)
            return self.send_json(200, obj)
        if method == "PATCH":
            if r.name is None:
                raise errors.method_not_allowed()
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype not in PATCH_TYPES:
                raise errors.unsupported_media_type(sorted(PATCH_TYPES) if rt.smp else [
                    "application/json-patch+json", "application/merge-patch+json"])
            data = self.parse_body(body)
            if fv is not None:
                fv.pre = self.patch_strict_errors(PATCH_TYPES[ctype], data)
            obj = store.patch(rt, r.ns, r.name, PATCH_TYPES[ctype], data, r.sub, dry, fv, self.warnings)
            return self.send_json(200, obj)
        if method == "DELETE":
            opts = self.parse_body(body, required=False) or {}
            if "propagationPolicy" in q:
                opts["propagationPolicy"] = q["propagationPolicy"]
            if r.name is None:
                return self.delete_collection(rt, r, opts, dry)
            if r.sub:
                raise errors.method_not_allowed()
            obj, gone = store.delete(rt, r.ns, r.name, opts, dry)
            if gone and rt.builtin and rt.kind not in ("Pod", "Service", "Namespace"):
                d = {"name": r.name}
                if rt.group:
                    d["group"] = rt.group
                d["kind"] = rt.plural
                d["uid"] = obj["metadata"].get("uid")
                return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Success", "details": d})
            return self.send_json(200, obj)
        raise errors.method_not_allowed()

    def patch_strict_errors(self, ptype, data):
        """What strict decoding finds in a patch body itself: duplicate
        keys, and for a JSON patch keys an operation has no field for (each
        prefixed "json patch", as kube-apiserver words them)."""
        errs = list(self.body_dups)
        if ptype != "json":
            return errs
        if isinstance(data, list):
            for i, op in enumerate(data):
                if isinstance(op, dict):
                    errs += [fieldvalidation.unknown("[%d].%s" % (i, k)) for k in op
                             if k not in ("op", "path", "from", "value")]
        return ["json patch " + e for e in errs]

    # ---- OpenAPI ------------------------------------------------------------------------
    def _crds(self):
        return self.server.app.store.all(("apiextensions.k8s.io", "customresourcedefinitions"))

    def send_bytes(self, code, body, ctype, headers=None):
        self.status_code = code
        self.send_response(code)
        self.send_api_headers()
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_modified(self, etag, headers):
        self.status_code = 304
        self.send_response(304)
        self.send_api_headers()
        self.send_header("Etag", etag)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def serve_openapi_v2(self):
        """JSON or, for the protobuf media type every kubectl asks for, the
        gnostic protocol buffer; ETag and If-None-Match as kube-openapi does."""
        accept = self.headers.get("Accept", "") or "*/*"
        want = None
        for item in accept.split(","):
            mtype = item.split(";")[0].strip()
            if mtype in (openapi.PB_MIME, openapi.PB_MIME_RETURNED):
                want = "pb"
                break
            if mtype in ("application/json", "*/*", "application/*"):
                want = "json"
                break
        if want is None:
            raise errors.not_acceptable(["application/json", openapi.PB_MIME])
        body, ctype, etag = self.server.app.openapi.v2(self._crds(), want == "pb")
        headers = {"Cache-Control": "no-cache, private", "Vary": "Accept"}
        if self.headers.get("If-None-Match") == etag:
            return self.not_modified(etag, headers)
        headers["Etag"] = etag
        headers["Last-Modified"] = self.server.app.openapi_modified
        return self.send_bytes(200, body, ctype, headers)

    def serve_openapi_v3(self, rel):
        oa = self.server.app.openapi
        if not rel:
            return self.send_json(200, oa.v3_root(self._crds()))
        parts = rel.strip("/").split("/")
        if parts == ["api", "v1"]:
            gv = ("", "v1")
        elif len(parts) == 3 and parts[0] == "apis":
            gv = (parts[1], parts[2])
        else:
            raise errors.resource_not_found()
        got = oa.v3_gv(self._crds(), *gv)
        if got is None:
            raise errors.resource_not_found()
        body, digest = got
        etag = '"%s"' % digest
        asked = self.query.get("hash")
        headers = {"Cache-Control": "public, immutable" if asked == digest else "no-cache, private",
                   "Vary": "Accept"}
        if self.headers.get("If-None-Match") == etag:
            return self.not_modified(etag, headers)
        headers["Etag"] = etag
        return self.send_bytes(200, body, "application/json", headers)

    def send_list(self, rt, lst, fmt, tv):
        if fmt == "table":
            objs = lst["items"]
            if rt.builtin:
                objs = [dict({"kind": rt.kind, "apiVersion": rt.api_version}, **o) for o in objs]
            t = to_table(rt, objs, lst["metadata"]["resourceVersion"], self.query.get("includeObject", "Metadata"))
            t["apiVersion"] = "meta.k8s.io/" + (tv or "v1")
            if "continue" in lst["metadata"]:
                t["metadata"]["continue"] = lst["metadata"]["continue"]
            return self.send_json(200, t)
        if fmt == "partial":
            return self.send_json(200, {
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + (tv or "v1"),
                "metadata": lst["metadata"],
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + (tv or "v1"),
                           "metadata": o["metadata"]} for o in lst["items"]]})
        return self.send_json(200, lst)

    def delete_collection(self, rt, r, opts, dry):
        store = self.server.app.store
        lsel = LabelSelector(self.query.get("labelSelector"))
        fsel = FieldSelector(self.query.get("fieldSelector"), rt)
        lst = store.list(rt, r.ns, lsel, fsel)
        items = []
        for o in lst["items"]:
            try:
                obj, _ = store.delete(rt, o["metadata"].get("namespace"), o["metadata"]["name"], opts, dry)
                items.append(obj)
            except ApiError as e:
                if e.code != 404:
                    raise
        if rt.builtin:
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success", "details": {"kind": rt.plural}})
        return self.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                    "metadata": {"resourceVersion": str(store.rv)}, "items": items})

    # ---- watch ------------------------------------------------------------------------
    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def check_watch_list(self, q):
        """A watch's sendInitialEvents / resourceVersionMatch (client-go's
        streaming lists), validated as kube-apiserver does for the version
        served: unknown before v1.27 (resourceVersionMatch forbidden on a
        watch), behind the WatchList feature gate (off) until v1.32, on
        from v1.32. True when the watch is a streaming list; an Invalid
        ListOptions otherwise, so that clients fall back to LIST+WATCH."""
        v = self.server.app.version
        ver = (int(v["major"]), int("".join(ch for ch in v["minor"] if ch.isdigit()) or 0))
        sie = q.get("sendInitialEvents") if ver >= (1, 27) else None
        match = q.get("resourceVersionMatch")
        causes = []

        def forbid(path, msg):
            causes.append({"reason": "FieldValueForbidden", "field": path, "message": "Forbidden: " + msg})
        if ver < (1, 27):
            if match:
                forbid("resourceVersionMatch", "resourceVersionMatch is forbidden for watch")
        else:
            if sie is not None:
                if match != "NotOlderThan":
                    forbid("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch "
                           "to NotOlderThan")
                if ver < (1, 32):
                    forbid("sendInitialEvents", "sendInitialEvents is forbidden for watch unless the "
                           "WatchList feature gate is enabled")
            if match:
                if sie is None:
                    forbid("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless "
                           "sendInitialEvents is provided")
                if match != "NotOlderThan":
                    causes.append({"reason": "FieldValueNotSupported", "field": "resourceVersionMatch",
                                   "message": 'Unsupported value: "%s": supported values: "NotOlderThan"'
                                   % match})
                if not _truthy(q.get("allowWatchBookmarks", "")):
                    forbid("allowWatchBookmarks", "allowWatchBookmarks must be set to true when "
                           "sendInitialEvents is provided")
        if causes:
            parts = ["%s: %s" % (c["field"], c["message"]) for c in causes]
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: %s'
                           % (parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"),
                           {"group": "meta.k8s.io", "kind": "ListOptions", "causes": causes})
        return _truthy(sie or "")

    def serve_watch(self, rt, r, fmt="json", tv=None):
        app = self.server.app
        store = app.store
        q = self.query
        fs = q.get("fieldSelector") or ""
        if r.name:
            fs = ("metadata.name=%s" % r.name) + ("," + fs if fs else "")
        lsel = LabelSelector(q.get("labelSelector"))
        fsel = FieldSelector(fs, rt)
        timeout = app.watch_timeout
        if q.get("timeoutSeconds"):
            try:
                timeout = min(float(q["timeoutSeconds"]), timeout)
            except ValueError:
                raise errors.bad_request("timeoutSeconds: invalid value")
        streaming = self.check_watch_list(q)
        bookmarks = _truthy(q.get("allowWatchBookmarks", ""))
        initial, index, expired = [], None, None
        try:
            # a streaming list starts with the current state, whatever
            # resourceVersion (NotOlderThan) names
            with store.lock:     # the state and its resourceVersion at once
                initial, index = store.watch_start(rt, r.ns, lsel, fsel,
                                                   None if streaming else q.get("resourceVersion"))
                snapshot_rv = store.rv
        except ApiError as e:
            if e.code != 410:
                raise
            expired = e
        self.status_code = 200
        self.send_response(200)
        self.send_api_headers()
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        conn = WatchConn(self, self.path)
        app.faults.register_watch(conn)
        clean = True
        headers_sent = [False]
        try:
            def emit(etype, obj):
                if fmt == "table" and etype in ("ADDED", "MODIFIED", "DELETED"):
                    # a table watch: one-row Tables, column definitions on the first only
                    t = to_table(rt, [obj], obj["metadata"].get("resourceVersion"),
                                 q.get("includeObject", "Metadata"))
                    t["apiVersion"] = "meta.k8s.io/" + (tv or "v1")
                    if headers_sent[0]:
                        t["columnDefinitions"] = []
                    headers_sent[0] = True
                    obj = t
                line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n"
                self.write_chunk(line.encode())
            if expired is not None:
                emit("ERROR", expired.status())
                return
            for etype, obj in initial:
                emit(etype, obj)
            if streaming:
                # the end of a streaming list's initial events
                bm = {"kind": rt.kind, "apiVersion": rt.api_version,
                      "metadata": {"resourceVersion": str(snapshot_rv),
                                   "annotations": {"k8s.io/initial-events-end": "true"}}}
                if rt.builtin:
                    bm["metadata"]["creationTimestamp"] = None
                emit("BOOKMARK", bm)
            deadline = time.monotonic() + timeout
            next_bm = time.monotonic() + app.bookmark_interval
            while not conn.cut_flag:
                now = time.monotonic()
                if now >= deadline:
                    break
                wait = max(0.0, min(deadline, next_bm if bookmarks else deadline, now + 1.0) - now)
                try:
                    changes, index, cur_rv = store.watch_wait(index, wait)
                except ApiError as e:
                    emit("ERROR", e.status())
                    return
                if conn.cut_flag:
                    break
                for ch in changes:
                    ev = self.watch_event(rt, r.ns, lsel, fsel, ch)
                    if ev:
                        emit(*ev)
                if bookmarks and time.monotonic() >= next_bm:
                    bm = {"kind": rt.kind, "apiVersion": rt.api_version,
                          "metadata": {"resourceVersion": str(cur_rv)}}
                    if rt.builtin:
                        bm["metadata"]["creationTimestamp"] = None
                    emit("BOOKMARK", bm)
                    next_bm = time.monotonic() + app.bookmark_interval
            if conn.cut_flag:
                clean = False
        except (BrokenPipeError, ConnectionResetError, OSError):
            clean = False
        finally:
            app.faults.unregister_watch(conn)
            if clean and not conn.cut_flag:
                try:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass
            else:
                self.close_connection = True

    def watch_event(self, rt, ns, lsel, fsel, ch):
        store = self.server.app.store
        if ch.storage != rt.storage:
            return None
        if rt.namespaced and ns is not None and ch.ns != ns:
            return None

        def match(o):
            return o is not None and lsel.matches(o["metadata"].get("labels")) and fsel.matches(o)
        new = store.external(rt, ch.new)
        if ch.type == "DELETED":
            return ("DELETED", new) if match(new) else None
        if ch.type == "ADDED":
            return ("ADDED", new) if match(new) else None
        old = store.external(rt, ch.old) if ch.old is not None else None
        om, nm = match(old), match(new)
        if om and nm:
            return ("MODIFIED", new)
        if nm:
            return ("ADDED", new)
        if om:
            return ("DELETED", new)
        return None

    # ---- /fake/ control endpoints ----------------------------------------------------------
    def control(self, method, path, body):
        app = self.server.app
        f = app.faults
        data = {}
        if body:
            try:
                data = json.loads(body.decode())
            except ValueError as e:
                return self.send_json(400, {"error": "bad JSON: %s" % e})
        what = path[len("/fake/"):].strip("/")
        if what == "state" and method == "GET":
            with app.store.lock:
                counts = {"%s/%s" % k if k[0] else k[1]: len(v) for k, v in app.store.objects.items() if v}
                return self.send_json(200, {
                    "resourceVersion": app.store.rv, "compactedResourceVersion": app.store.compacted_rv,
                    "history": len(app.store.history), "objects": counts, "watches": len(f.watches),
                    "errorsInjected": f.errors_injected, "conflictsInjected": f.conflicts_injected,
                    "requests": app.request_seq})
        if what == "fields-lost":
            with app.seq_lock:
                if method == "DELETE":
                    app.fields_lost = []
                return self.send_json(200, {"writes": list(app.fields_lost)})
        if what == "watches" and method == "GET":
            with f.lock:
                return self.send_json(200, {"watches": sorted(w.path for w in f.watches)})
        if what == "errors":
            if method == "DELETE":
                with f.lock:
                    f.error_rules = []
                return self.send_json(200, {"ok": True})
            if method == "GET":
                with f.lock:
                    return self.send_json(200, {"rules": [
                        {"code": r["code"], "count": r["count"], "verbs": sorted(r["verbs"])}
                        for r in f.error_rules]})
            f.add_error_rule(data)
            return self.send_json(200, {"ok": True})
        if what == "conflicts":
            with f.lock:
                if "first_write" in data:
                    f.conflict_first_write = bool(data["first_write"])
                    f.conflicted = set()
                if "next" in data:
                    f.conflict_next = int(data["next"])
                if "verbs" in data:
                    f.conflict_verbs = set(data["verbs"])
            return self.send_json(200, {"ok": True})
        if what == "delay":
            f.delay_ms = int(data.get("ms", 0))
            return self.send_json(200, {"ok": True})
        if what == "stall":
            f.set_stall(data)
            return self.send_json(200, {"ok": True})
        if what == "cut-watches":
            n = f.cut_watches(data.get("path"))
            return self.send_json(200, {"cut": n})
        if what == "compact":
            rv = app.store.compact(data.get("resourceVersion"))
            return self.send_json(200, {"compacted": rv})
        if what == "requests":
            if method == "DELETE":
                f.requests.clear()
                return self.send_json(200, {"ok": True})
            since = int(self.query_get(path, "since") or 0)
            return self.send_json(200, {"requests": [r for r in list(f.requests) if r["seq"] > since]})
        if what == "tokens":
            app.tokens = {}
            for t in data.get("tokens", []):
                tok, _, user = t.partition(":")
                app.tokens[tok] = user or "token-user"
            return self.send_json(200, {"ok": True})
        if what == "controllers":
            if "paused" in data:
                app.controllers.paused = bool(data["paused"])
            if "step" in data:
                app.controllers.step_seconds = float(data["step"])
            return self.send_json(200, {"ok": True})
        if what == "reset":
            f.reset()
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "unknown control endpoint %s" % path})

    def query_get(self, path, key):
        return self.query.get(key)


def now():
    return now_rfc3339()
