#!/usr/bin/python3
"""make_router_corpus.py - seeds the router's fuzz targets with the
request-smuggling matrix (tests/integration/smuggling_cases.py):

  fuzz/corpus/fuzz_router_request/  every malformed pair and valid request
                                    of the matrix, as a client sends it
  fuzz/corpus/fuzz_router_framing/  their heads ("\\0" + head) and bodies
                                    ("\\1" + body)

Files are named by the SHA-1 of their content, as libFuzzer names them, so
running this again adds nothing twice. Usage: fuzz/make_router_corpus.py"""
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import smuggling_cases as sc  # noqa: E402

# the fuzz target's routes: "ab.test" (A/B rules) and any other host (mirroring)
HOSTS = ["ab.test", "www.test"]


def write(target, data):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if os.path.exists(path):
        return 0
    with open(path, "wb") as f:
        f.write(data)
    return 1


def split(req):
    """(head, body) of a request: at the first empty line."""
    i = req.find(b"\r\n\r\n")
    return (req, b"") if i < 0 else (req[:i + 4], req[i + 4:])


def main():
    added = {"fuzz_router_request": 0, "fuzz_router_framing": 0}
    requests = []
    for host in HOSTS:
        requests += [sc.malformed_pair(n, t, host) for n, t, _ in sc.MALFORMED]
        requests += [b"".join(sc.valid_parts(n, p, host)) for n, p in sc.VALID]
    for req in requests:
        added["fuzz_router_request"] += write("fuzz_router_request", req)
        head, body = split(req)
        added["fuzz_router_framing"] += write("fuzz_router_framing", b"\0" + head)
        if body:
            added["fuzz_router_framing"] += write("fuzz_router_framing", b"\1" + body)
    for k, v in added.items():
        print("%s: %d new seeds" % (k, v))


if __name__ == "__main__":
    main()
