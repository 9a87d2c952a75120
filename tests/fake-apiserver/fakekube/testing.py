"""testing.py - helpers for Python integration tests that use the fake API
server: start it on a free loopback port (HTTP or HTTPS), talk to it with
http.client, drive its /fake/ control endpoints, write a kubeconfig for
kubectl or canaryd, and print ok/FAIL lines ending with "N passed, N
failed". Test-side only; never imported by the server."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(HERE, "fake_apiserver.py")
_started = []       # every FakeApiServer of this process, for Checker.finish


def canaryd_fields_lost(writes):
    """The writes made by canaryd (its user agent) that an API server
    accepted only by dropping fields (unknown or duplicate): canaryd must
    write nothing a real cluster would silently lose."""
    return [w for w in writes if w.get("userAgent", "").startswith("canaryd")]


class FakeApiServer:
    def __init__(self, *args, tls_cert=None, tls_key=None, ca=None, client_cert=None,
                 client_key=None, token=None):
        self.args = list(args)
        self.tls_cert, self.tls_key, self.ca = tls_cert, tls_key, ca
        self.client_cert, self.client_key, self.token = client_cert, client_key, token
        self.proc = None
        self.port = None
        self.dir = tempfile.mkdtemp(prefix="fake-apiserver-")
        self.fields_lost = None     # /fake/fields-lost, read when stopped
        self.writes_by_canaryd = 0

    def start(self, timeout=20):
        port_file = os.path.join(self.dir, "port")
        cmd = ["/usr/bin/python3", SERVER, "--port-file", port_file] + self.args
        if self.tls_cert:
            cmd += ["--tls-cert", self.tls_cert, "--tls-key", self.tls_key]
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(port_file):
                self.port = int(open(port_file).read())
                _started.append(self)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("fake-apiserver did not start: " + open(os.path.join(self.dir, "log")).read())

    def read_fields_lost(self):
        """Keeps what the server says about lost fields and canaryd's writes
        (before it stops)."""
        try:
            self.fields_lost = self.control("fields-lost", method="GET").get("writes", [])
            reqs = self.control("requests", method="GET").get("requests", [])
            self.writes_by_canaryd = max(self.writes_by_canaryd, sum(
                1 for r in reqs if r.get("userAgent", "").startswith("canaryd")
                and r.get("method") in ("POST", "PUT", "PATCH")))
        except (OSError, ValueError, http.client.HTTPException):
            pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.read_fields_lost()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls_cert else "http", self.port)

    def conn(self, timeout=30):
        if self.tls_cert:
            ctx = ssl.create_default_context(cafile=self.ca)
            if self.client_cert:
                ctx.load_cert_chain(self.client_cert, self.client_key)
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", headers=None, raw=False):
        """Returns (status, headers dict, parsed JSON body or text)."""
        c = self.conn()
        h = dict(headers or {})
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            h["Content-Type"] = ctype
        if self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():     # repeated headers (Warning) joined as HTTP allows
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        c.close()
        if raw:
            return r.status, hdrs, data
        try:
            return r.status, hdrs, json.loads(data)
        except ValueError:
            return r.status, hdrs, data.decode(errors="replace")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ptype="merge", **kw):
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[ptype]
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def control(self, what, data=None, method="POST"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10) if not self.tls_cert else self.conn()
        c.request(method, "/fake/" + what, body=json.dumps(data) if data is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read() or b"{}")
        c.close()
        return out

    def wait_for(self, fn, timeout=20, interval=0.05):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        return last

    def kubeconfig(self, path, namespace="default", extra_user=None):
        cluster = {"server": self.url}
        if self.ca:
            cluster["certificate-authority"] = self.ca
        user = dict(extra_user or {})
        if self.token and "token" not in user:
            user["token"] = self.token
        if self.client_cert and "client-certificate" not in user:
            user["client-certificate"] = self.client_cert
            user["client-key"] = self.client_key
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
               "clusters": [{"name": "fake", "cluster": cluster}],
               "users": [{"name": "u", "user": user}],
               "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u",
                                                         "namespace": namespace}}]}
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=None):
        if cond:
            print("ok   " + name, flush=True)
            self.passed += 1
        else:
            print("FAIL " + name + ("" if detail is None else ": " + str(detail)[:2000]), flush=True)
            self.failed += 1
        return bool(cond)

    def check_fields_lost(self):
        """One check per fake API server canaryd wrote to: none of its
        writes lost a field (see canaryd_fields_lost)."""
        for srv in _started:
            if srv.proc is not None and srv.proc.poll() is None:
                srv.read_fields_lost()
            if not srv.writes_by_canaryd:
                continue
            lost = canaryd_fields_lost(srv.fields_lost or [])
            self.check("the API server dropped no field of canaryd's %d writes (fieldValidation)"
                       % srv.writes_by_canaryd, not lost,
                       "; ".join("%s %s: %s" % (w["method"], w["path"], ", ".join(w["errors"]))
                                 for w in lost[:10]))
        _started.clear()

    def finish(self):
        self.check_fields_lost()
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)


def make_cert(dirpath, name, cn, ca=None, server=False):
    """Self-signed CA (ca None) or a cert signed by ca=(cert, key) with openssl."""
    key = os.path.join(dirpath, name + ".key")
    crt = os.path.join(dirpath, name + ".crt")
    subprocess.run(["openssl", "req", "-x509" if ca is None else "-new", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", crt if ca is None else crt + ".csr", "-subj", "/CN=" + cn,
                    "-days", "2"] + (["-addext", "basicConstraints=critical,CA:TRUE"] if ca is None else []),
                   check=True, capture_output=True)
    if ca is not None:
        ext = os.path.join(dirpath, name + ".ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", crt + ".csr", "-CA", ca[0], "-CAkey", ca[1],
                        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
                       check=True, capture_output=True)
    return crt, key
