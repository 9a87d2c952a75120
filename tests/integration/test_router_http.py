"""test_router_http.py - HTTP/1.1 done properly: malformed requests get 400
(or 431, 505) and a closed connection; bodies pass byte for byte in both
directions (Content-Length and chunked, large, de-chunked for HTTP/1.0);
pipelining; Expect: 100-continue; hop-by-hop headers removed and
X-Forwarded-For/-Proto added; HEAD; absolute-form targets; a slow client
does not stall others; a stalled request head times out with 408."""
import http.client
import os
import re
import socket
import threading
import time

import rtlib

be = rtlib.Backend("primary")
router = rtlib.Router({"routes": [rtlib.route("app", [be.address])]},
                      extra=["--header-timeout", "5s"])
port = router.port


def pattern(n):
    return bytes((ord("a") + (i * 7 + i // 251) % 26) for i in range(n))


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


# ---- malformed requests ----
bad = {
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    "bad request line": b"GET\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "invalid content-length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
    "content-length and chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "invalid chunk size": (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"zz\r\nabc\r\n0\r\n\r\n"),
    "no Host in HTTP/1.1": b"GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n",
    "two Host headers": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bare LF in header": b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
}
for name, data in bad.items():
    out = rtlib.raw(port, data)
    rtlib.check("malformed (%s): 400 and closed" % name,
                status_of(out) == 400 and b"Connection: close" in out and
                not out.endswith(b"<timeout>"), out[:120])
out = rtlib.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
rtlib.check("a 20 KB request head: 431 and closed", status_of(out) == 431, out[:80])
many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
out = rtlib.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
rtlib.check("150 request headers: 431", status_of(out) == 431, out[:80])
out = rtlib.raw(port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
rtlib.check("an HTTP/2 preface: 505", status_of(out) == 505, out[:80])
out = rtlib.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n")
rtlib.check("an unknown Expect: 417", status_of(out) == 417, out[:80])
out = rtlib.raw(port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
rtlib.check("CONNECT: 405", status_of(out) == 405, out[:80])
st, _, body = rtlib.http_get(port, "/")
rtlib.check("the router still serves after all that", st == 200 and body == b"primary\n")

# ---- bodies ----
big = os.urandom(3 * 1024 * 1024 + 17)
st, hs, body = rtlib.http_get(port, "/echo", method="POST", body=big)
rtlib.check("a 3 MiB Content-Length upload comes back byte for byte", st == 200 and body == big,
            (st, len(body)))


def chunks():
    for i in range(0, len(big), 65536 + 3):
        yield big[i:i + 65536 + 3]


c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
c.request("POST", "/echo", body=chunks(), encode_chunked=True,
          headers={"Transfer-Encoding": "chunked"})
r = c.getresponse()
body = r.read()
rtlib.check("a 3 MiB chunked upload comes back byte for byte", r.status == 200 and body == big,
            (r.status, len(body)))
c.request("GET", "/big?size=%d" % (20 * 1024 * 1024))
r = c.getresponse()
body = r.read()
rtlib.check("a 20 MiB Content-Length download is exact (same connection)",
            r.status == 200 and body == pattern(20 * 1024 * 1024), len(body))
c.request("GET", "/chunked?size=%d" % (5 * 1024 * 1024 + 5))
r = c.getresponse()
body = r.read()
rtlib.check("a 5 MiB chunked download is exact", r.status == 200 and
            r.getheader("Transfer-Encoding") == "chunked" and body == pattern(5 * 1024 * 1024 + 5),
            (r.getheaders(), len(body)))
c.close()
out = rtlib.raw(port, b"GET /chunked?size=100000 HTTP/1.0\r\nHost: x\r\n\r\n", timeout=10)
head, _, rest = out.partition(b"\r\n\r\n")
rtlib.check("an HTTP/1.0 client gets the chunked response de-chunked, then a close",
            status_of(out) == 200 and b"chunked" not in head.lower() and rest == pattern(100000),
            (head, len(rest)))

# ---- pipelining ----
reqs = (b"GET /?a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /status?code=204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = rtlib.raw(port, reqs)
statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
rtlib.check("three pipelined requests answered in order", statuses == [200, 200, 204] and
            b"\r\n\r\nhello" in out, out)

# ---- Expect: 100-continue ----
s = socket.create_connection(("127.0.0.1", port), 5)
s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
first = s.recv(100)
s.sendall(b"ping")
rest = b""
while b"ping" not in rest:
    d = s.recv(1000)
    if not d:
        break
    rest += d
s.close()
rtlib.check("Expect: 100-continue gets 100 Continue before the body is sent",
            first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and rest.endswith(b"ping"),
            (first, rest))

# ---- headers ----
out = rtlib.raw(port, b"GET /headers HTTP/1.1\r\nHost: h.test\r\n"
                      b"Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
                      b"TE: trailers\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\n"
                      b"X-Forwarded-For: 10.0.0.1\r\nX-Keep: yes\r\n\r\n", shut=True)
hl = out.lower()
rtlib.check("hop-by-hop headers are not forwarded",
            all(h not in hl for h in (b"\nx-secret:", b"\nkeep-alive:", b"\nte:", b"\nupgrade:",
                                      b"\nproxy-connection:", b"\nconnection:")), out)
rtlib.check("X-Forwarded-For is appended and X-Forwarded-Proto set",
            b"x-forwarded-for: 10.0.0.1, 127.0.0.1" in hl and b"x-forwarded-proto: http" in hl
            and b"x-keep: yes" in hl and b"host: h.test" in hl, out)

# ---- HEAD, absolute form ----
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.request("HEAD", "/big?size=5000")
r = c.getresponse()
r.read()
c.request("GET", "/")
r2 = c.getresponse()
rtlib.check("HEAD gets the head only and the connection stays usable",
            r.getheader("Content-Length") == "5000" and r2.read() == b"primary\n")
c.close()
out = rtlib.raw(port, b"GET http://abs.test/headers HTTP/1.1\r\nHost: other\r\n\r\n", shut=True)
rtlib.check("an absolute-form target is sent in origin form with its host",
            status_of(out) == 200 and b"host: abs.test" in out.lower(), out[:300])

# ---- a slow client does not stall others ----
stalled = socket.create_connection(("127.0.0.1", port))
stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Half")      # never finished
reader = socket.create_connection(("127.0.0.1", port))
reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
reader.sendall(b"GET /big?size=50000000 HTTP/1.1\r\nHost: x\r\n\r\n")
reader.recv(100)                                                 # then stop reading
lat, codes = [], set()
for _ in range(50):
    t0 = time.time()
    st, _, _ = rtlib.http_get(port, "/")
    lat.append(time.time() - t0)
    codes.add(st)
lat.sort()
# served before the stalled head is answered (at the 5 s header timeout): an
# order, not a latency bound (p99 < 0.5 s was one, which a loaded host under
# ASan can miss), that a router waiting on the stalled client would break
stalled.setblocking(False)
try:
    early = stalled.recv(1000)
except BlockingIOError:
    early = None
rtlib.check("with a stalled and a non-reading client, others are served before the "
            "stalled head times out (p99 %.1f ms)" % (lat[-1] * 1000),
            codes == {200} and early is None, (codes, lat[-5:], early))
stalled.settimeout(15)
try:
    out = stalled.recv(1000)
except socket.timeout:
    out = b"<timeout>"
rtlib.check("the unfinished request head times out with 408", status_of(out) == 408, out)
stalled.close()
reader.close()
rtlib.finish()
