"""test_kube_dashboard.py - `canaryd kube -dashboard` (docs/dashboard.md):
the read-only dashboard on the operator's HTTP port, against the fake
cluster, loaded in Debian's headless Chromium: the list shows every Canary
in the cache with its phase and weight (with JavaScript disabled too), a
Canary's page shows its status and thresholds and no button, and after a
release the chart of its weights over time; the pages
answer only GET, only for this machine's names (not a rebound one) and
carry a script-free Content-Security-Policy; without -dashboard there is
no /ui at all."""
import http.client
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from operator_env import Checker, Cluster, wait_until  # noqa: E402

NS = "shop"
APP = """
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
  analysis:
    interval: 1m
    threshold: 2
    iterations: 2
    metrics:
      - {name: request-success-rate, interval: 1m, thresholdRange: {min: 99}}
"""
FLAGS = ["-interval-override", "1s", "-metrics-server", "http://127.0.0.1:1"]


def get(port, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def status(port, path):
    try:
        return get(port, path)[0]
    except OSError:
        return None


def chrome(tmp, profile, *args):
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--user-data-dir=" + os.path.join(tmp, profile)] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.stdout


def main():
    t = Checker()
    c = Cluster()
    try:
        c.apply(APP)
        c.start_operator(*(FLAGS + ["-dashboard"]))
        port = c.metrics_port
        t.check("the canary is Initialized",
                wait_until(lambda: c.phase(NS, "cart") == "Initialized", 60), c.phase(NS, "cart"))
        base = "http://127.0.0.1:%d" % port
        html = chrome(c.tmp, "js", "--dump-dom", base + "/ui/")
        os.makedirs(os.path.join(c.tmp, "nojs", "Default"))
        with open(os.path.join(c.tmp, "nojs", "Default", "Preferences"), "w") as f:
            json.dump({"profile": {"default_content_setting_values": {"javascript": 2}}}, f)
        nojs = chrome(c.tmp, "nojs", "--dump-dom", base + "/ui/")
        for label, page in (("", html), (" (JavaScript disabled)", nojs)):
            t.check("the list shows the canary with a link to its page" + label,
                    '<td class="name"><a href="/ui/canaries/shop/cart">cart</a></td>' in page, page[-1500:])
            t.check("... its phase" + label, '<span class="phase idle">Initialized</span>' in page)
            t.check("... and its weights" + label,
                    '<span class="canary-weight">0</span> / <span class="primary-weight">100</span>' in page)
        page = chrome(c.tmp, "js", "--dump-dom", base + "/ui/canaries/shop/cart")
        t.check("the canary's page: name, phase, thresholds",
                '<span id="name">cart</span>' in page and 'Initialized' in page and
                "min 99" in page, page[-2000:])
        t.check("... no button and no form (read-only)", "<form" not in page and "<button" not in page)
        t.check("... and where the events are", 'kubectl describe canary cart -n shop' in page)
        png = os.path.join(c.tmp, "kube.png")
        chrome(c.tmp, "js", "--window-size=1000,800", "--screenshot=" + png, base + "/ui/")
        t.check("a screenshot of the list is a PNG of some size",
                os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and
                os.path.getsize(png) > 5000, os.path.exists(png) and os.path.getsize(png))

        st, hs, _ = get(port, "/ui/")
        t.check("pages carry a Content-Security-Policy without script",
                st == 200 and hs.get("content-security-policy", "").startswith("default-src 'none'")
                and "script" not in hs.get("content-security-policy", ""), hs)
        st, _, _ = get(port, "/ui/", {"Host": "rebind.example:%d" % port})
        t.check("a rebound Host name is refused (403)", st == 403, st)
        st, _, _ = get(port, "/ui/", {"Origin": "http://evil.example"})
        t.check("another Origin is refused (403)", st == 403, st)
        st, _, _ = get(port, "/ui/canaries/shop/cart/abort", {"Content-Type": "application/x-www-form-urlencoded"},
                       method="POST")
        t.check("a POST is refused (405: read-only)", st == 405, st)
        st, _, _ = get(port, "/ui/canaries/shop/nope")
        t.check("an unknown canary: 404", st == 404, st)
        st, _, body = get(port, "/metrics")
        t.check("/metrics still answers", st == 200 and "flagger_info" in body, st)

        # a release (its metric has no Prometheus to answer: it fails after
        # two failed checks): the page draws the phases' weights over time
        c.kubectl("-n", NS, "set", "image", "deployment/cart", "cart=cart:2")
        t.check("the release ends", wait_until(lambda: c.phase(NS, "cart") in ("Failed", "Succeeded"), 90),
                c.phase(NS, "cart"))
        page = chrome(c.tmp, "js", "--dump-dom", base + "/ui/canaries/shop/cart")
        t.check("the canary's page has the weights chart of what the operator saw",
                '<svg class="chart" id="chart-weights"' in page and
                '<polyline class="series canary"' in page and
                '<polyline class="series primary"' in page, page[-3000:])
        c.stop_operator()

        c.start_operator(*FLAGS)
        port = c.metrics_port
        t.check("without -dashboard", wait_until(lambda: status(port, "/healthz") == 200, 30))
        t.check("... there is no /ui (404)", get(port, "/ui/")[0] == 404)
    finally:
        if t.failed:
            print(c.operator_log()[-6000:])
        c.stop_operator()
        c.close()
    t.finish()


if __name__ == "__main__":
    main()
