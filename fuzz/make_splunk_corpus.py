#!/usr/bin/python3
"""Writes the seeds of fuzz_splunk_stream (fuzz/corpus/fuzz_splunk_stream):
WebSocket server frames carrying SignalFlow messages as Splunk's stream
endpoint sends them (binary data messages, plain and gzip-compressed, JSON
control and error messages), fragmented, masked, with ping and close frames,
and a handshake answer. Byte 0 of each seed is the target's mode byte."""
import gzip
import hashlib
import json
import os
import struct
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_splunk_stream")


def frame(op, payload, fin=True, mask=None, long=False):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if long:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    elif n < 126:
        h = bytes([b0, m | n])
    elif n <= 0xFFFF:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        h += mask
    return h + payload


def data_msg(values, ts=1700000000000, flags=0):
    body = struct.pack(">QI", ts, len(values))
    for vt, tsid, v in values:
        if vt == 1:
            raw = struct.pack(">q", v)
        elif vt == 2:
            raw = struct.pack(">d", v)
        else:
            raw = struct.pack(">iI", v, 0)
        body += bytes([vt]) + struct.pack(">Q", tsid) + raw
    if flags & 1:
        body = gzip.compress(body)
    hdr = bytes([1, 5, flags, 0]) + b"R0".ljust(16, b"\0")
    return hdr + body


def json_text(o):
    return json.dumps(o).encode()


end = json_text({"type": "control-message", "event": "END_OF_CHANNEL", "channel": "R0"})
seeds = {
    "one_double": frame(2, data_msg([(2, 7, 0.25)])) + frame(1, end),
    "one_long": frame(2, data_msg([(1, 7, 42)])) + frame(1, end),
    "one_int": frame(2, data_msg([(3, 7, -3)])) + frame(1, end),
    "gzip": frame(2, data_msg([(2, 9, 99.5)], flags=1)) + frame(1, end),
    "json_in_binary": frame(2, bytes([1, 5, 2, 0]) + b"R0".ljust(16, b"\0") + end),
    "json_gzip_binary": frame(2, bytes([1, 5, 3, 0]) + b"R0".ljust(16, b"\0") + gzip.compress(end)),
    "several_tsids": frame(2, data_msg([(2, 1, 1.0), (2, 2, 2.0)])) + frame(1, end),
    "no_value": frame(2, data_msg([(0, 1, 0)])) + frame(1, end),
    "abort": frame(1, json_text({"type": "control-message", "event": "CHANNEL_ABORT"})),
    "error": frame(1, json_text({"type": "error", "error": 400, "message": "bad program"})),
    "metadata_then_data": frame(1, json_text({"type": "metadata", "tsId": "AAAAAAAAAAc",
                                              "properties": {"sf_metric": "cpu"}}))
    + frame(2, data_msg([(2, 7, 3.5)])) + frame(1, end),
    "fragmented": frame(2, data_msg([(2, 7, 1.5)])[:10], fin=False)
    + frame(9, b"ping")
    + frame(0, data_msg([(2, 7, 1.5)])[10:]) + frame(1, end),
    "masked": frame(2, data_msg([(2, 7, 1.5)]), mask=b"\x01\x02\x03\x04") + frame(1, end),
    "len126": frame(2, data_msg([(2, i, float(i)) for i in range(10)])) + frame(1, end),
    "len64bit": frame(2, data_msg([(2, 1, float(i)) for i in range(40)]), long=True) + frame(1, end),
    "close": frame(8, struct.pack(">H", 1011) + b"internal error"),
    "close_empty": frame(8, b""),
    "truncated": frame(2, data_msg([(2, 7, 1.5)]))[:-5],
}
key = "dGhlIHNhbXBsZSBub25jZQ=="
accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
hs = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode()
os.makedirs(out, exist_ok=True)
for name, body in seeds.items():
    for mode, prefix in ((0, b""), (1, hs)):
        if mode and name not in ("one_double", "close"):
            continue
        d = bytes([mode]) + prefix + body
        with open(os.path.join(out, hashlib.sha1(d).hexdigest()), "wb") as f:
            f.write(d)
with open(os.path.join(out, hashlib.sha1(b"\x01HTTP/1.1 403 Forbidden\r\n\r\n").hexdigest()), "wb") as f:
    f.write(b"\x01HTTP/1.1 403 Forbidden\r\n\r\n")
print("wrote %d seeds to %s" % (len(os.listdir(out)), out), file=sys.stderr)
