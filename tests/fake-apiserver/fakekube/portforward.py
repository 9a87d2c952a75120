"""portforward.py - pods/NAME/portforward, answered as a kube-apiserver and
the kubelet behind it answer `kubectl port-forward`: the SPDY/3.1 upgrade
(POST, Upgrade: SPDY/3.1, X-Stream-Protocol-Version: portforward.k8s.io)
and the WebSocket tunnel kubectl tries first (GET, Upgrade: websocket,
subprotocol SPDY/3.1+portforward.k8s.io: the same SPDY byte stream carried
in binary messages). For each connection it forwards, the client opens two
streams with one requestid (streamtype error and data, and the port); the
fake connects to the Pod's status.podIP at that port (where a kubelet
would enter the pod's network namespace), copies bytes both ways, and
writes a failure to the error stream worded as the kubelet words it.

Tests only. Every input is bounded (control frames 64 KiB, header blocks
inflate to 64 KiB, data frames and WebSocket messages 1 MiB, 128 open
streams and 64 unpaired requestids per connection); a malformed frame ends
that connection with GOAWAY, never the server. It must not hold the
store's lock or any object state: the handler gives it the Pod."""
import base64
import hashlib
import socket
import struct
import threading
import zlib

PROTOCOL = "portforward.k8s.io"
WS_PROTOCOL = "SPDY/3.1+" + PROTOCOL
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

MAX_CONTROL = 64 << 10
MAX_HEADERS = 64 << 10
MAX_DATA = 1 << 20
MAX_STREAMS = 128
MAX_PENDING = 64
CHUNK = 32 << 10
CONNECT_TIMEOUT = 5.0

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_REFUSED_STREAM, RST_STREAM_IN_USE = 1, 3, 8
GOAWAY_PROTOCOL_ERROR = 1

# SPDY/3's header compression dictionary (draft 3, section 2.6.10.1):
# length-prefixed names and values, then the raw tail.
_DICT_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date "
    "etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
    "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00"
    " Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICT_WORDS) + _DICT_TAIL.encode()
assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 3821447106


class ProtocolError(Exception):
    """The peer broke SPDY or WebSocket framing: the connection ends."""


def handshake(handler):
    """(transport kind, response headers) for an upgrade request, or an
    error message for a 400 (a non-upgrade request, an unknown protocol)."""
    h = handler.headers
    upgrade = (h.get("Upgrade") or "").strip().lower()
    if upgrade == "websocket":
        offered = [p.strip() for p in (h.get("Sec-WebSocket-Protocol") or "").split(",")]
        key = (h.get("Sec-WebSocket-Key") or "").strip()
        if WS_PROTOCOL not in offered or not key:
            return None, "unable to upgrade: no supported subprotocol among %r" % offered
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        return "websocket", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                             ("Sec-WebSocket-Accept", accept), ("Sec-WebSocket-Protocol", WS_PROTOCOL)]
    if upgrade.startswith("spdy/3.1"):
        offered = [p.strip() for v in h.get_all("X-Stream-Protocol-Version") or [] for p in v.split(",")]
        if PROTOCOL not in offered:
            return None, "unable to upgrade: unable to negotiate protocol: client supports %s, server " \
                         "accepts [%s]" % (offered, PROTOCOL)
        return "spdy", [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                        ("X-Stream-Protocol-Version", PROTOCOL)]
    return None, "Upgrade request required"


class RawTransport:
    """SPDY straight on the upgraded connection."""

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile

    def read(self, n):
        return self.rfile.read(n)

    def write(self, data):
        self.wfile.write(data)

    def close(self):
        pass


class WebSocketTransport:
    """SPDY bytes in WebSocket binary messages (RFC 6455, server side):
    masked frames in, unmasked binary messages out; ping answered, close
    echoed, text refused."""

    def __init__(self, rfile, wfile, wlock):
        self.rfile, self.wfile, self.wlock = rfile, wfile, wlock
        self.buf = b""
        self.eof = False

    def _exact(self, n):
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise EOFError
        return data

    def _frame(self):
        b0, b1 = self._exact(2)
        opcode, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exact(8))[0]
        if not masked:
            raise ProtocolError("websocket: an unmasked frame from the client")
        if n > MAX_DATA or (opcode >= 8 and n > 125):
            raise ProtocolError("websocket: a frame of %d bytes" % n)
        mask = self._exact(4)
        raw = self._exact(n)
        keys = (mask * (n // 4 + 1))[:n]
        return opcode, (int.from_bytes(raw, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")

    def _send(self, opcode, data):
        n = len(data)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
        with self.wlock:
            self.wfile.write(head + data)

    def read(self, n):
        while len(self.buf) < n and not self.eof:
            try:
                opcode, data = self._frame()
            except (EOFError, ValueError):
                self.eof = True
                break
            if opcode in (0, 2):
                self.buf += data
            elif opcode == 8:
                self.eof = True
                try:
                    self._send(8, data[:2])
                except OSError:
                    pass
            elif opcode == 9:
                self._send(10, data)
            elif opcode == 1:
                raise ProtocolError("websocket: a text message where SPDY frames go")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def write(self, data):
        self._send(2, data)

    def close(self):
        try:
            self._send(8, struct.pack(">H", 1000))
        except OSError:
            pass


class Forward:
    """One requestid: its two streams and the socket to the pod."""

    def __init__(self, rid):
        self.rid = rid
        self.error = self.data = None
        self.port = None
        self.sock = None
        self.done = False


class Session:
    """One SPDY/3.1 connection of the port-forward protocol, server side."""

    def __init__(self, transport, wlock, pod, log=None):
        self.t = transport
        self.wlock = wlock
        self.pod = pod
        self.log = log or (lambda msg: None)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self.streams = {}        # stream id -> Forward
        self.pending = {}        # requestid -> Forward, not yet paired
        self.last_id = 0
        self.lock = threading.Lock()
        self.closed = False

    # ---- writing
    def _write(self, data):
        if self.closed:
            return
        try:
            with self.wlock:
                self.t.write(data)
        except (OSError, ValueError):
            self.closed = True

    def _control(self, ftype, flags, payload):
        self._write(struct.pack(">HHI", 0x8003, ftype, (flags << 24) | len(payload)) + payload)

    def _data(self, sid, data, fin=False):
        self._write(struct.pack(">II", sid, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data)

    def _reply(self, sid):
        with self.lock:    # one zlib context for the connection: blocks in order
            block = self.deflate.compress(struct.pack(">I", 0)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            self._control(SYN_REPLY, 0, struct.pack(">I", sid) + block)

    def _rst(self, sid, status):
        self._control(RST_STREAM, 0, struct.pack(">II", sid, status))

    def _goaway(self, status):
        self._control(GOAWAY, 0, struct.pack(">II", self.last_id, status))

    # ---- reading
    def _exact(self, n):
        data = self.t.read(n) if n else b""
        if len(data) != n:
            raise EOFError
        return data

    def serve(self):
        try:
            while not self.closed:
                w0, w1 = struct.unpack(">II", self._exact(8))
                flags, length = w1 >> 24, w1 & 0xFFFFFF
                if w0 & 0x80000000:
                    version, ftype = (w0 >> 16) & 0x7FFF, w0 & 0xFFFF
                    if length > MAX_CONTROL:
                        raise ProtocolError("a control frame of %d bytes" % length)
                    payload = self._exact(length)
                    if version != 3:
                        raise ProtocolError("SPDY version %d" % version)
                    if self._on_control(ftype, flags, payload) is False:
                        break
                else:
                    if length > MAX_DATA:
                        raise ProtocolError("a data frame of %d bytes" % length)
                    self._on_data(w0 & 0x7FFFFFFF, flags, self._exact(length))
        except EOFError:
            pass
        except (ProtocolError, struct.error, zlib.error) as e:
            self.log("portforward: %s: closing the connection" % e)
            self._goaway(GOAWAY_PROTOCOL_ERROR)
        except OSError:
            pass
        finally:
            self.t.close()
            self.closed = True
            for f in list(self.streams.values()) + list(self.pending.values()):
                self._close_target(f)

    def _headers(self, block):
        raw = self.inflate.decompress(block, MAX_HEADERS)
        if self.inflate.unconsumed_tail:
            raise ProtocolError("a header block inflating past %d bytes" % MAX_HEADERS)
        off, out = 4, {}
        if len(raw) < 4:
            raise ProtocolError("a truncated header block")
        (count,) = struct.unpack(">I", raw[:4])
        for _ in range(count):
            pair = []
            for _ in range(2):
                if off + 4 > len(raw):
                    raise ProtocolError("a truncated header block")
                (n,) = struct.unpack(">I", raw[off:off + 4])
                if off + 4 + n > len(raw):
                    raise ProtocolError("a truncated header block")
                pair.append(raw[off + 4:off + 4 + n].decode("utf-8", "replace"))
                off += 4 + n
            out[pair[0].lower()] = pair[1].split("\x00")[0]
        return out

    def _on_control(self, ftype, flags, p):
        if ftype == SYN_STREAM:
            if len(p) < 10:
                raise ProtocolError("a short SYN_STREAM")
            sid = struct.unpack(">I", p[:4])[0] & 0x7FFFFFFF
            headers = self._headers(p[10:])
            self._on_stream(sid, flags, headers)
        elif ftype == RST_STREAM:
            if len(p) != 8:
                raise ProtocolError("a RST_STREAM of %d bytes" % len(p))
            self._on_reset(struct.unpack(">I", p[:4])[0] & 0x7FFFFFFF)
        elif ftype == PING:
            if len(p) != 4:
                raise ProtocolError("a PING of %d bytes" % len(p))
            self._control(PING, 0, p)
        elif ftype == GOAWAY:
            return False
        elif ftype in (SYN_REPLY, HEADERS):
            if len(p) < 4:
                raise ProtocolError("a short control frame")
            self._headers(p[4:])    # keeps the zlib context in step
        # SETTINGS, WINDOW_UPDATE and unknown types: ignored, as SPDY/3 says
        return True

    def _on_stream(self, sid, flags, headers):
        if sid == 0 or sid % 2 == 0 or sid <= self.last_id:
            self._rst(sid, RST_PROTOCOL_ERROR)
            return
        self.last_id = sid
        stype, rid, port = headers.get("streamtype"), headers.get("requestid"), headers.get("port")
        if stype not in ("error", "data") or not rid or len(self.streams) >= MAX_STREAMS:
            self._rst(sid, RST_REFUSED_STREAM if stype in ("error", "data") else RST_PROTOCOL_ERROR)
            return
        f = self.pending.get(rid)
        if f is None:
            if len(self.pending) >= MAX_PENDING:
                self._rst(sid, RST_REFUSED_STREAM)
                return
            f = self.pending[rid] = Forward(rid)
        if getattr(f, stype) is not None:
            self._rst(sid, RST_STREAM_IN_USE)
            return
        setattr(f, stype, sid)
        f.port = f.port or port
        self.streams[sid] = f
        self._reply(sid)
        if f.error is not None and f.data is not None:
            del self.pending[rid]
            self._connect(f)

    def _connect(self, f):
        meta = self.pod.get("metadata") or {}
        name, uid = meta.get("name", ""), meta.get("uid", "")
        addr = ((self.pod.get("status") or {}).get("podIP") or "")
        try:
            port = int(f.port or "")
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            return self._fail(f, "error forwarding port %s to pod %s, uid %s: invalid port %r"
                              % (f.port, name, uid, f.port))
        if not addr:
            return self._fail(f, "error forwarding port %d to pod %s, uid %s: the pod has no status.podIP "
                              "to forward to (fake-apiserver)" % (port, name, uid))
        try:
            f.sock = socket.create_connection((addr, port), timeout=CONNECT_TIMEOUT)
            f.sock.settimeout(None)
        except OSError as e:
            reason = "connect: connection refused" if isinstance(e, ConnectionRefusedError) else str(e)
            return self._fail(f, "error forwarding port %d to pod %s, uid %s: failed to connect to "
                              "localhost:%d inside namespace of pod %s (fake-apiserver: %s:%d), IPv4: "
                              "dial tcp4 %s:%d: %s" % (port, name, uid, port, name, addr, port, addr, port,
                                                       reason))
        threading.Thread(target=self._pump, args=(f,), daemon=True,
                         name="portforward-%s" % f.rid).start()

    def _fail(self, f, msg):
        self.log("portforward: %s" % msg)
        self._data(f.error, msg.encode(), fin=True)
        self._data(f.data, b"", fin=True)
        self._forget(f)

    def _pump(self, f):
        """The pod's bytes to the data stream, until the pod closes; then
        both streams are finished, as the kubelet does."""
        try:
            while not self.closed:
                chunk = f.sock.recv(CHUNK)
                if not chunk:
                    break
                self._data(f.data, chunk)
        except OSError:
            pass
        if not f.done:
            self._data(f.data, b"", fin=True)
        self._data(f.error, b"", fin=True)
        self._close_target(f)
        self._forget(f)

    def _on_data(self, sid, flags, data):
        f = self.streams.get(sid)
        if f is None or sid != f.data or f.sock is None:
            return    # the error stream's half-close, or a stream already gone
        try:
            if data:
                f.sock.sendall(data)
            if flags & FLAG_FIN:
                f.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close_target(f)

    def _on_reset(self, sid):
        f = self.streams.get(sid)
        if f is None:
            return
        if sid == f.data:
            f.done = True          # no more frames on it; the error stream still finishes
            self._close_target(f)
            if f.sock is None:
                self._forget(f)

    def _close_target(self, f):
        s = f.sock
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _forget(self, f):
        for sid in (f.error, f.data):
            if sid is not None:
                self.streams.pop(sid, None)
        self.pending.pop(f.rid, None)


def serve(handler, pod, log=None):
    """Answer an upgrade request on pods/NAME/portforward and serve the
    connection until the client closes it. Returns the status sent."""
    kind, extra = handshake(handler)
    if kind is None:
        return 400, extra
    handler.send_response(101, "Switching Protocols")
    for k, v in extra:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.flush()
    handler.close_connection = True
    wlock = threading.Lock()
    if kind == "websocket":
        transport = WebSocketTransport(handler.rfile, handler.wfile, threading.Lock())
    else:
        transport = RawTransport(handler.rfile, handler.wfile)
    Session(transport, wlock, pod, log).serve()
    return 101, None
