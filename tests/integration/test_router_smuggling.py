"""test_router_smuggling.py - the router forwards no request framing that
RFC 9112 says a proxy must not forward, with real servers behind it.

Behind `canaryd router`: a real nginx (Debian's; a front server that
buffers request bodies, proxying to an inner one) on one route, and a
real HAProxy (Debian's, proxying to the inner nginx, reading whole request bodies
first as an application would) on another. Every
case of tests/integration/smuggling_cases.py is sent through the router
to each backend on a fresh connection: a malformed request followed by a
pipelined "GET /smuggled-<case>". The router must answer 400 (501 for a
transfer coding it does not implement, 505 for an HTTP version it does
not serve) as the only response, close the connection, and neither
nginx nor HAProxy may ever log a smuggled request. The valid cases
(chunked bodies with extensions and trailers, keep-alive, pipelining,
Expect: 100-continue, a WebSocket upgrade request, ...) must keep
working: both responses arrive and the backends log the second request.
Also checked: the router counts each refusal in
canaryd_router_request_parse_errors_total and logs why (debug)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rtlib  # noqa: E402
from rtlib import check, free_port, Router, route, TMP  # noqa: E402
import smuggling_cases as sc  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HOSTS = {"nginx": "nginx.test", "haproxy": "haproxy.test"}


def start_nginx():
    d = os.path.join(TMP, "nginx")
    os.makedirs(os.path.join(d, "tmp"))
    front, inner = free_port(), free_port()
    conf = """
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
  log_format req '$host "$request" $status';
  client_body_buffer_size 1m;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{front};
    access_log {d}/front.log req;
    location / {{
      proxy_pass http://127.0.0.1:{inner};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }}
  }}
  server {{
    listen 127.0.0.1:{inner};
    access_log {d}/inner.log req;
    location / {{ return 200 "served $request_uri\\n"; }}
  }}
}}
""".format(d=d, front=front, inner=inner)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    rtlib.start([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e",
                 os.path.join(d, "error.log"), "-g", "daemon off;"],
                os.path.join(d, "out.log"))
    rtlib.wait_port(front)
    rtlib.wait_port(inner)
    return front, inner, [os.path.join(d, n) for n in ("front.log", "inner.log", "error.log")]


def start_haproxy(inner):
    d = os.path.join(TMP, "haproxy")
    os.makedirs(d)
    port = free_port()
    conf = """
global
    log stdout format raw local0
    maxconn 256
defaults
    mode http
    log global
    option httplog
    option http-buffer-request
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server inner 127.0.0.1:{inner}
""".format(port=port, inner=inner)
    cfg = os.path.join(d, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(conf)
    log = os.path.join(d, "haproxy.log")
    rtlib.start([HAPROXY, "-f", cfg, "-db"], log)
    rtlib.wait_port(port)
    return port, [log]


# ---- a small HTTP/1.1 client on a raw socket ----

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 5)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            raise TimeoutError("no answer within 5 s")
        if not b:
            self.eof = True
            raise EOFError
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        """(status, headers, body) of the next response."""
        status = int(self._line().split(b" ")[1])
        hs = {}
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.split(b":", 1)
            hs[k.strip().lower().decode()] = v.strip().decode("latin-1")
        if status < 200 or status in (204, 304):
            return status, hs, b""
        if hs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if not size:
                    while self._line():
                        pass
                    return status, hs, body
                body += self._take(size)
                self._take(2)
        return status, hs, self._take(int(hs.get("content-length", "0")))

    def rest(self):
        """Everything until the server closes (or 5 s pass)."""
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        except TimeoutError:
            pass
        return self.buf

    def close(self):
        self.s.close()


def try_malformed(port, data, want):
    """Sends one smuggling pair; (passed, detail)."""
    c = Conn(port)
    try:
        c.send(data)
    except OSError:
        pass    # the router may close while the rest is still being sent
    out = c.rest()
    closed = c.eof
    c.close()
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", out)
    ok = closed and statuses == [str(want).encode()]
    return ok, "closed=%s responses=%s head=%r" % (closed, statuses, out[:80])


def try_valid(port, parts):
    """Sends a valid request and a second one; the statuses of the final
    responses (interim ones, 100 Continue, are skipped)."""
    c = Conn(port)
    finals = []
    try:
        for i, part in enumerate(parts):
            c.send(part)
            if i < len(parts) - 1:
                st, _, _ = c.response()
                if st >= 200:
                    finals.append(st)
        while len(finals) < 2:
            st, _, _ = c.response()
            if st >= 200:
                finals.append(st)
    except (EOFError, TimeoutError, ValueError, IndexError) as e:
        finals.append(repr(e))
    c.close()
    return finals


def grep(paths, needle):
    hits = []
    for p in paths:
        if os.path.exists(p):
            with open(p, errors="replace") as f:
                hits += [ln.rstrip() for ln in f if needle in ln]
    return hits


def parse_errors(router):
    m = re.search(r"^canaryd_router_request_parse_errors_total (\d+)", router.metrics(), re.M)
    return int(m.group(1)) if m else -1


def main():
    front, inner, nginx_logs = start_nginx()
    hap_port, hap_logs = start_haproxy(inner)
    r = Router({"routes": [
        route("nginx", ["127.0.0.1:%d" % front], hosts=[HOSTS["nginx"]]),
        route("haproxy", ["127.0.0.1:%d" % hap_port], hosts=[HOSTS["haproxy"]])]},
        extra=["--log-level", "debug"])
    # where each backend logs the requests it reads (HAProxy's inner nginx too)
    logs = {"nginx": nginx_logs, "haproxy": hap_logs + [nginx_logs[1]]}
    served = {"nginx": nginx_logs[:1], "haproxy": hap_logs}

    # the valid forms keep working, through both backends
    for be, host in HOSTS.items():
        for name, parts in sc.VALID:
            finals = try_valid(r.port, sc.valid_parts(name, parts, host))
            seen = rtlib.wait_for(lambda: grep(served[be], "/valid2-%s " % name), 3) and \
                grep(served[be], "/valid2-%s " % name)
            check("%s: valid %s: both answered and the second request served" % (be, name),
                  finals == [200, 200] and seen, "responses %s, logged %s" % (finals, seen))
    # the keep-alive case again, waiting for the first answer before the second request
    c = Conn(r.port)
    c.send(b"GET /ka1 HTTP/1.1\r\nHost: nginx.test\r\n\r\n")
    first = c.response()[0]
    c.send(b"GET /ka2 HTTP/1.1\r\nHost: nginx.test\r\n\r\n")
    second = c.response()[0]
    c.close()
    check("keep-alive: a second request on the same connection after the first answer",
          (first, second) == (200, 200), (first, second))
    time.sleep(0.5)
    check("a request inside a Content-Length body is never read as a request",
          not grep(nginx_logs + hap_logs, "/bodytext-"), grep(nginx_logs + hap_logs, "/bodytext-"))
    errors0 = parse_errors(r)
    check("no valid request was counted as a parse error", errors0 == 0, errors0)

    # the smuggling pairs
    tried = refused = 0
    for be, host in HOSTS.items():
        for name, template, want in sc.MALFORMED:
            ok, detail = try_malformed(r.port, sc.malformed_pair(name, template, host), want)
            tried += 1
            refused += ok
            check("%s: %s answered %d, alone, and the connection closed" % (be, name, want),
                  ok, detail)
    time.sleep(1.0)    # HAProxy logs a request when its connection ends
    seen = {be: grep(paths, "/smuggled-") for be, paths in logs.items()}
    for be, hits in seen.items():
        check("%s never saw a smuggled request" % be, not hits, hits[:5])
    errors = parse_errors(r)
    check("each refusal counted in canaryd_router_request_parse_errors_total",
          errors - errors0 == tried, "%d counted, %d sent" % (errors - errors0, tried))
    text = r.log_text()
    check("the router logs why it refused (debug)",
          "refused (400): obsolete line folding" in text and
          "refused (400): chunk data not followed by CRLF" in text and
          "refused (501): a transfer coding other than chunked" in text, text[-1500:])
    # the router still serves after all that
    check("the router still serves", rtlib.http_get(r.port, "/after",
                                                    {"Host": "nginx.test"})[0] == 200)
    print("smuggling pairs tried: %d, refused: %d, smuggled requests seen by nginx: %d, "
          "by HAProxy: %d" % (tried, refused, len(seen["nginx"]), len(seen["haproxy"])))
    rtlib.finish()


if __name__ == "__main__":
    main()
