#!/usr/bin/python3
"""pf_client.py - the two ends test_fake_apiserver_portforward.sh needs
around `kubectl port-forward`: a loopback echo server standing for a pod's
process, and the checks of what comes back through a forwarded port.

Tests only: it binds loopback, trusts its peer, and bounds every read.

usage: pf_client.py echo PORT                 serve: each connection gets back
                                              what it sent, with a prefix
       pf_client.py roundtrip PORT N           N concurrent connections, each
                                              sending 300 KiB of its own bytes
       pf_client.py garbage FAKE_PORT PATH     SPDY garbage after the upgrade
"""
import os
import socket
import socketserver
import struct
import sys
import threading
import zlib


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"echo:")
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


def echo(port):
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer(("127.0.0.1", port), Echo).serve_forever()


def roundtrip(port, n):
    """Open n connections at once, send every one its own 300 KiB in
    pieces, interleaved, then read each back whole."""
    size = 300 << 10
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    payloads = [bytes((i * 7 + j) % 251 for j in range(size)) for i in range(n)]
    results = [b""] * n

    def reader(i):
        want = 5 + size
        buf = b""
        while len(buf) < want:
            chunk = socks[i].recv(65536)
            if not chunk:
                break
            buf += chunk
        results[i] = buf

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for off in range(0, size, 16 << 10):
        for i in range(n):
            socks[i].sendall(payloads[i][off:off + (16 << 10)])
    for t in threads:
        t.join(60)
    ok = True
    for i in range(n):
        if results[i] != b"echo:" + payloads[i]:
            print("connection %d: got %d bytes back, not its own %d" % (i, len(results[i]), 5 + size))
            ok = False
        socks[i].close()
    print("%d connections, %d bytes each way each: %s" % (n, size, "intact" if ok else "MISMATCH"))
    return 0 if ok else 1


def _upgrade(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
               "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n" % path).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n")[0].decode()


def _drain(s):
    """What the server sends until it closes (bounded), or None if it
    keeps the connection open for 10 s."""
    out = b""
    try:
        while len(out) < 1 << 16:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk
    except socket.timeout:
        return None
    return out


def garbage(port, path):
    """Each malformed input ends its connection with a GOAWAY (or a plain
    close), and the server stays up for the next."""
    cases = {
        "SPDY version 2": struct.pack(">HHI", 0x8002, 1, 12) + b"\0" * 12,
        "a 16 MiB control frame": struct.pack(">HHI", 0x8003, 1, 0xFFFFFF),
        "a 16 MiB data frame": struct.pack(">II", 1, 0xFFFFFF),
        "a header block that is not zlib": struct.pack(">HHI", 0x8003, 1, 20) + struct.pack(">IIBB", 1, 0, 0, 0)
        + b"not zlib at all!"[:10],
        "a header block inflating past 64 KiB": None,
        "a short PING": struct.pack(">HHI", 0x8003, 6, 2) + b"\0\0",
    }
    comp = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, _dictionary())
    block = comp.compress(struct.pack(">I", 1) + struct.pack(">I", 4) + b"port" + struct.pack(">I", 1 << 20)
                          + b"8" * (1 << 20)) + comp.flush(zlib.Z_SYNC_FLUSH)
    cases["a header block inflating past 64 KiB"] = (struct.pack(">HHI", 0x8003, 1, 10 + len(block))
                                                     + struct.pack(">IIBB", 1, 0, 0, 0) + block)
    bad = 0
    for name, data in cases.items():
        s, status = _upgrade(port, path)
        if "101" not in status:
            print("%s: upgrade answered %r" % (name, status))
            bad += 1
            continue
        s.sendall(data)
        out = _drain(s)
        s.close()
        goaway = out is not None and out[:4] == struct.pack(">HH", 0x8003, 7)
        print("%s: %s" % (name, "GOAWAY, closed" if goaway else "closed" if out == b"" else "still open"))
        if out is None:
            bad += 1
    return 1 if bad else 0


def _dictionary():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "fake-apiserver"))
    from fakekube.portforward import DICTIONARY
    return DICTIONARY


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "echo":
        echo(int(sys.argv[2]))
    elif cmd == "roundtrip":
        sys.exit(roundtrip(int(sys.argv[2]), int(sys.argv[3])))
    elif cmd == "garbage":
        sys.exit(garbage(int(sys.argv[2]), sys.argv[3]))
