#!/usr/bin/python3
"""bench/local_load.py - steady HTTP load for bench/local_crash.sh that tells
apart the answers a release gives on purpose (200, and 500 from a faulty
demo-app) from the ones a crash would cause: no response, a connection
error, or 502/503/504 from the router (a backend gone: a request that
reached a stopped process). Runs until SIGINT/SIGTERM, then writes
{"sent", "ok", "app_errors", "failed", "failures": {...}} to OUT.

Usage: local_load.py URL RATE OUT   (Debian's python3, standard library only)
"""
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse

url, rate, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlsplit(url)
lock = threading.Lock()
stats = {"sent": 0, "ok": 0, "app_errors": 0, "failed": 0, "failures": {}}
stop = threading.Event()


def one():
    kind = None
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("GET", u.path or "/")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            kind = "ok"
        elif r.status == 500:
            kind = "app_errors"   # the faulty release's own errors
        else:
            kind = str(r.status)
    except Exception as e:  # no answer at all
        kind = type(e).__name__
    with lock:
        stats["sent"] += 1
        if kind in ("ok", "app_errors"):
            stats[kind] += 1
        else:
            stats["failed"] += 1
            stats["failures"][kind] = stats["failures"].get(kind, 0) + 1


def worker(period):
    nxt = time.monotonic()
    while not stop.is_set():
        one()
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))


def finish(*_):
    stop.set()


signal.signal(signal.SIGINT, finish)
signal.signal(signal.SIGTERM, finish)
threads = 4
for _ in range(threads):
    threading.Thread(target=worker, args=(threads / rate,), daemon=True).start()
while not stop.is_set():
    stop.wait(0.2)
time.sleep(0.5)
with lock:
    with open(out, "w") as f:
        json.dump(stats, f)
