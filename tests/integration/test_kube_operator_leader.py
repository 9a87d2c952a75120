"""test_kube_operator_leader.py - two `canaryd kube` replicas with leader
election (a coordination.k8s.io/v1 Lease, short timings for the test):
only the leader works; on SIGTERM the leader releases the Lease and the
other replica takes over at once and finishes a release; when another
holder takes the Lease, the leader stops all work and exits 1.
"""
import datetime
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, image_of, wait_until  # noqa: E402

NS = "shop"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/canaryd-system/leases/canaryd-leader-election"

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: canaryd-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      containers: [{name: cart, image: "cart:1"}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: cart, namespace: shop}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 2, iterations: 2}
"""

# a lease of 15 s (renewed within 10 s, every 500 ms): 4 s and 3 s could
# depose a leader whose renewals a loaded host under ASan held up for 3 s;
# what is checked does not wait on it (a released or taken Lease is seen at
# the next 500 ms retry), and a take-over within 10 s now tells A's release
# of the Lease from its expiry (15 s; with 4 s, 6 s could not)
FLAGS = ["-enable-leader-election", "-leader-election-namespace", "canaryd-system",
         "-leader-election-lease-duration", "15s", "-leader-election-renew-deadline", "10s",
         "-leader-election-retry-period", "500ms", "-interval-override", "1s",
         "-metrics-server", "http://127.0.0.1:1"]


def holder(c):
    lease = c.get_api(LEASE)
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def log_of(c, i):
    with open(c.operator_logs[i]) as f:
        return f.read()


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(APP)
        a = c.start_operator(*FLAGS)
        t.check("A becomes the leader", wait_until(lambda: holder(c) != "", 20), holder(c))
        first = holder(c)
        b = c.start_operator(*FLAGS)
        t.check("the canary is Initialized (by the leader)",
                wait_until(lambda: c.phase(NS, "cart") == "Initialized", 60), c.phase(NS, "cart"))
        time.sleep(2)
        t.check("B waits: it is not the holder and starts no workers",
                holder(c) == first and "Starting workers" not in log_of(c, 1) and
                "Waiting for leadership" in log_of(c, 1), log_of(c, 1)[-2000:])
        t.check("A works", "Starting workers" in log_of(c, 0))

        a.send_signal(signal.SIGTERM)
        t.check("A exits 0 on SIGTERM", a.wait(20) == 0)
        t.check("B takes over within a few seconds",
                wait_until(lambda: holder(c) not in ("", first), 10, 0.1), holder(c))
        t.check("B starts its workers", wait_until(lambda: "Starting workers" in log_of(c, 1), 10))
        c.kubectl("-n", NS, "set", "image", "deployment/cart", "cart=cart:2")
        t.check("B drives the release to Succeeded",
                wait_until(lambda: c.phase(NS, "cart") == "Succeeded", 60), c.phase(NS, "cart"))
        t.check("cart-primary on cart:2", image_of(c.get("deployment", NS, "cart-primary")) == "cart:2")

        # someone else takes the Lease: B must stop at once and exit 1
        status = None
        for _ in range(20):   # B renews every 500ms: read-modify-write until it sticks
            lease = c.get_api(LEASE)
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            lease["spec"].update({"holderIdentity": "intruder", "renewTime": now, "acquireTime": now,
                                  "leaseDurationSeconds": 60})
            status, _, _ = c.api.put(LEASE, lease)
            if status == 200:
                break
        t.check("the Lease is taken by another holder", status == 200, status)
        try:
            rc = b.wait(10)
        except Exception:
            rc = None
        t.check("B exits 1 when it loses the Lease", rc == 1, rc)
        t.check("B says why", "Leadership lost" in log_of(c, 1), log_of(c, 1)[-1500:])
    finally:
        if t.failed:
            print(c.operator_log()[-8000:])
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
