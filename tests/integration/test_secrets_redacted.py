"""test_secrets_redacted.py - no secret reaches anything canaryd prints.

Distinctive secrets are put everywhere a user puts credentials:
  - alert providers whose posts fail: a Slack hook from a secret (path and
    API token), a Discord and a Rocket.Chat hook with their token in the
    path, the global -slack-url; one receiver answers 404 quoting the path
    back, the others refuse connections;
  - webhooks with userinfo, a token query and a token path segment, and a
    global event webhook, to a receiver that answers 403 quoting the whole
    request (request line and headers) back;
  - MetricTemplates: Prometheus with userinfo in its address and basic
    auth from a secret, Prometheus with a bearer token, Datadog and New
    Relic keys from secrets, all answered 403 with the request quoted;
  - -metrics-server / metricsServer with userinfo; the kubeconfig's bearer
    token (the fake API server requires it);
  - the load tester: a command with an Authorization header and userinfo,
    a native load task with userinfo, a token query and an Authorization
    header; canaryctl load with the same.
Then canaryd local (with canaryctl) and canaryd kube (on the fake API
server) run a release that fails on them, and every output is read:
stdout and stderr of every process, log files, the local state directory
(event journal, status), Kubernetes Events and the Canary's status,
canaryctl get/describe/events/metrics (text and JSON), the /metrics of
canaryd local, canaryd kube and the load tester, and the load tester's
answers. Each secret must appear in none of them, while the same run shows
the endpoints were really called with them (the receivers saw the
credentials) and the redacted forms (REDACTED) are there."""
import base64
import glob
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, free_port, summary, wait_until  # noqa: E402

SRC = os.environ.get("CANARYD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("CANARYD_BUILD", os.path.join(SRC, "build"))
CANARYD = os.path.join(BUILD, "canaryd")
CANARYCTL = os.path.join(BUILD, "canaryctl")
TMP = tempfile.mkdtemp(prefix="canaryd-secrets-")
PROCS = []

# Every secret, distinctive. Path and token secrets look like the tokens
# vendors issue; some are plain words, which only the context says are secret.
S = {
    "slack_path": "plainslackhookpath",             # AlertProvider secret: address path
    "slack_token": "xoxb-SlackApiT0kenQ4w8",        # AlertProvider secret: token
    "discord_token": "Dsc0rdHookT0kenZ9x7Lq2",      # AlertProvider address path
    "rocket_token": "plainrockettoken",             # AlertProvider address path (/hooks/)
    "global_slack": "plaingloballslackpath",        # -slack-url path
    "hook_pass": "HookPassw0rdK3y9",                 # webhook userinfo
    "hook_query": "hookquerytokenvalue",            # webhook ?token=
    "hook_segment": "Tk9xR2mK9pL4xW7nC3hJ",          # webhook path segment
    "event_pass": "EvtPassw0rdM4q2",                 # event webhook userinfo
    "event_key": "eventkeyqueryvalue",              # event webhook ?key=
    "prom_pass": "PromUrlPassw0rd7Hq",               # template address userinfo
    "prom_basic": "PromBasicPassw0rdX5",             # template secret: password
    "prom_bearer": "PromBearerT0kenV8n",             # template secret: token
    "dd_api": "ddapikey0123456789abcdef",            # Datadog secret
    "dd_app": "ddappkey0123456789abcdef",            # Datadog secret
    "nr_key": "NRAK-QueryKey7Mx2Lp9",                # New Relic secret
    "ms_pass": "MetricsSrvPassw0rd3Jk",              # -metrics-server / metricsServer userinfo
    "kube_token": "KubeBearerT0ken8Gz4Wn",           # kubeconfig token
    "cmd_bearer": "CmdBearerT0kenR6t1",              # load tester cmd header
    "cmd_pass": "CmdUrlPassw0rdB2v7",                # load tester cmd URL userinfo
    "load_pass": "LoadUrlPassw0rdN8c5",              # load task URL userinfo
    "load_query": "loadquerytokenvalue",            # load task ?token=
    "load_header": "LoadHeaderT0kenW3e6",            # load task header.Authorization
    "ctl_pass": "CtlLoadPassw0rdF1k8",               # canaryctl load URL userinfo
}


def start(args, log, env=None):
    out = open(log, "ab")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    PROCS.append(p)
    return p


def stop(p, timeout=20):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(args, name, env=None, timeout=60):
    """Runs a command; its stdout and stderr are kept as an output to read."""
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    with open(os.path.join(TMP, "out-" + name), "w") as f:
        f.write(r.stdout + r.stderr)
    return r


# ---- receivers: everything they are sent is recorded and quoted back ----

class Echo:
    """Answers every request with `status`, quoting its request line and
    headers in the body (what a careless server does), and records what it
    saw."""

    def __init__(self, status):
        self.seen = []
        echo = self

        class H(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                quoted = "%s %s\n%s" % (self.command, self.path, str(self.headers))
                echo.seen.append(quoted + body.decode(errors="replace"))
                data = ("no access: " + quoted).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = answer

            def log_message(self, *a):
                pass

        self.server = testlib.serve(H)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port

    def saw(self, text):
        return any(text in s for s in self.seen)


# ---- the manifests ----

def hook_url(echo):
    return "http://hookuser:%s@127.0.0.1:%d/hooks-in/%s/check?token=%s" % (
        S["hook_pass"], echo.port, S["hook_segment"], S["hook_query"])


def templates(ns, echo):
    return """
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: prom-basic, namespace: %(ns)s}
spec:
  provider: {type: prometheus, address: "http://promuser:%(prom_pass)s@127.0.0.1:%(port)d", secretRef: {name: prom-basic}}
  query: sum(rate(http_requests_total{namespace="{{ namespace }}"}[1m]))
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: prom-bearer, namespace: %(ns)s}
spec:
  provider: {type: prometheus, address: "http://127.0.0.1:%(port)d/prom", secretRef: {name: prom-bearer}}
  query: up
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: datadog, namespace: %(ns)s}
spec:
  provider: {type: datadog, address: "http://127.0.0.1:%(port)d", secretRef: {name: datadog}}
  query: avg:requests{*}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: newrelic, namespace: %(ns)s}
spec:
  provider: {type: newrelic, address: "http://127.0.0.1:%(port)d", secretRef: {name: newrelic}}
  query: SELECT count(*) FROM Transaction
""" % dict(S, ns=ns, port=echo.port)


def alert_providers(ns, closed_port):
    return """
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: slack, namespace: %(ns)s}
spec: {type: slack, channel: releases, secretRef: {name: slack-hook}}
---
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: discord, namespace: %(ns)s}
spec: {type: discord, channel: releases, address: "http://127.0.0.1:%(closed)d/api/webhooks/4242/%(discord_token)s"}
---
apiVersion: flagger.app/v1beta1
kind: AlertProvider
metadata: {name: rocket, namespace: %(ns)s}
spec: {type: rocket, channel: releases, address: "http://127.0.0.1:%(closed)d/hooks/4242/%(rocket_token)s"}
""" % dict(S, ns=ns, closed=closed_port)


def secrets_of(alert_echo):
    """name -> {key: value}: the secrets both platforms read."""
    return {
        "slack-hook": {"address": "%s/services/T0/B0/%s" % (alert_echo.url, S["slack_path"]),
                       "token": S["slack_token"]},
        "prom-basic": {"username": "prombasicuser", "password": S["prom_basic"]},
        "prom-bearer": {"token": S["prom_bearer"]},
        "datadog": {"datadog_api_key": S["dd_api"], "datadog_application_key": S["dd_app"]},
        "newrelic": {"newrelic_account_id": "4242", "newrelic_query_key": S["nr_key"]},
    }


ALERTS = """
    alerts:
    - {name: slack, severity: info, providerRef: {name: slack}}
    - {name: discord, severity: info, providerRef: {name: discord}}
    - {name: rocket, severity: info, providerRef: {name: rocket}}
"""

METRICS = """
    metrics:
    - {name: prom-basic, templateRef: {name: prom-basic}, thresholdRange: {min: 1}, interval: 1m}
    - {name: prom-bearer, templateRef: {name: prom-bearer}, thresholdRange: {min: 1}, interval: 1m}
    - {name: datadog, templateRef: {name: datadog}, thresholdRange: {min: 1}, interval: 1m}
    - {name: newrelic, templateRef: {name: newrelic}, thresholdRange: {min: 1}, interval: 1m}
"""


def webhooks(echo, loadtester_url, closed_port):
    cmd = ("curl -sf -H 'Authorization: Bearer %s' http://cmduser:%s@127.0.0.1:%d/x"
           % (S["cmd_bearer"], S["cmd_pass"], closed_port))
    load_url = "http://loaduser:%s@127.0.0.1:%d/load?token=%s" % (S["load_pass"], closed_port,
                                                                  S["load_query"])
    return """
    webhooks:
    - name: cmd
      type: pre-rollout
      url: %(lt)s/
      metadata: {type: cmd, cmd: "%(cmd)s"}
    - name: load
      type: pre-rollout
      url: %(lt)s/
      metadata: {type: load, url: "%(load)s", duration: 1s, rate: "5", header.Authorization: "Bearer %(lh)s"}
    - name: echo
      type: pre-rollout
      url: "%(hook)s"
""" % dict(lt=loadtester_url, cmd=cmd, load=load_url, lh=S["load_header"], hook=hook_url(echo))


# ---- reading every output ----

def read_tree(paths):
    """{path: text} of every file under paths (state directories, logs)."""
    out = {}
    for p in paths:
        files = [p] if os.path.isfile(p) else glob.glob(os.path.join(p, "**", "*"), recursive=True)
        for f in files:
            if os.path.isfile(f) and not f.endswith(".sock"):
                with open(f, "rb") as fh:
                    out[f] = fh.read().decode(errors="replace")
    return out


def http_text(url, unix=None):
    try:
        if unix:
            r = subprocess.run(["curl", "-s", "--unix-socket", unix, url], capture_output=True,
                               text=True, timeout=10)
            return r.stdout
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode(errors="replace")
    except Exception as e:  # noqa: BLE001
        return "(unreachable: %s)" % e


def hits(outputs):
    """[(secret name, where)] for every secret found in any output."""
    found = []
    for name, value in S.items():
        for where, text in outputs.items():
            if value in text:
                found.append((name, where))
    return found


# ---- canaryd local ----

def local_run(echo, alert_echo, closed, lt_url):
    d = os.path.join(TMP, "local")
    man, sec = os.path.join(d, "manifests"), os.path.join(d, "secrets")
    os.makedirs(man)
    for name, kv in secrets_of(alert_echo).items():
        os.makedirs(os.path.join(sec, "test", name))
        for k, v in kv.items():
            with open(os.path.join(sec, "test", name, k), "w") as f:
                f.write(v + "\n")
    demo = os.path.join(SRC, "examples/demo/manifests")
    with open(os.path.join(demo, "podinfo-workload.yaml")) as f:
        workload = f.read()
    ports = {}
    docs = [templates("test", echo), alert_providers("test", closed)]
    for name in ("hooks", "checks"):
        ports[name] = free_port()
        docs.append(workload.replace("name: podinfo", "name: " + name))
        canary = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: %s}
spec:
  targetRef: {apiVersion: canaryd.dev/v1alpha1, kind: LocalWorkload, name: %s}
  progressDeadlineSeconds: 60
  service: {port: %d}
  analysis:
    interval: 10s
    threshold: 1
    stepWeight: 50
    maxWeight: 50
""" % (name, name, ports[name])
        if name == "hooks":
            # failing webhooks, and alerts on the way to Failed
            canary += webhooks(echo, lt_url, closed) + ALERTS
        else:
            # failing metric checks; no alerts of its own: the global -slack-url
            canary = canary.replace("spec:\n", "spec:\n  metricsServer: http://msuser:%s@127.0.0.1:%d\n"
                                    % (S["ms_pass"], closed), 1) + METRICS
        docs.append(canary)
    for i, doc in enumerate(docs):
        with open(os.path.join(man, "%02d.yaml" % i), "w") as f:
            f.write(doc)
    api = os.path.join(d, "api.sock")
    env = dict(os.environ, PATH=BUILD + ":" + os.environ["PATH"], CANARYD_API="unix:" + api)
    log = os.path.join(d, "canaryd.log")
    event_hook = "http://evuser:%s@127.0.0.1:%d/events?key=%s" % (S["event_pass"], echo.port,
                                                                  S["event_key"])
    p = start([CANARYD, "local", "--dir", man, "--api", "unix:" + api, "--secrets-dir", sec,
               "--namespace", "test",
               "--stop-on-exit", "--log-format", "text", "--log-level", "debug",
               "--metrics-server", "http://msuser:%s@127.0.0.1:%d" % (S["ms_pass"], closed),
               "--slack-url", "http://127.0.0.1:%d/services/T1/B1/%s" % (closed, S["global_slack"]),
               "--slack-channel", "general", "--event-webhook", event_hook], log, env)

    def phase(name):
        r = subprocess.run([CANARYCTL, "get", "canaries", "-n", "test", "-o", "json"], capture_output=True,
                           text=True, env=env)
        try:
            for c in json.loads(r.stdout)["items"]:
                if c["metadata"]["name"] == name:
                    return c["status"]["phase"]
        except (ValueError, KeyError):
            pass
        return None

    ok = wait_until(lambda: phase("hooks") == "Initialized" and phase("checks") == "Initialized", 90)
    check("local: both canaries initialize", ok, (phase("hooks"), phase("checks")))
    # a new revision of both: the webhooks and the metric checks fail
    for i, name in enumerate(("hooks", "checks")):
        path = os.path.join(man, "%02d.yaml" % (2 + 2 * i))
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('"v1"', '"v2"'))
    done = wait_until(lambda: phase("hooks") == "Failed" and phase("checks") == "Failed", 150)
    check("local: both releases fail on their secret-laden checks", done,
          (phase("hooks"), phase("checks")))

    # everything a user reads
    for name in ("hooks", "checks"):
        run([CANARYCTL, "describe", "canary", name, "-n", "test"], "describe-" + name, env)
        run([CANARYCTL, "describe", "canary", name, "-n", "test", "-o", "json"],
            "describe-json-" + name, env)
        run([CANARYCTL, "events", name, "-n", "test", "--limit", "500"], "events-" + name, env)
        run([CANARYCTL, "events", name, "-n", "test", "--limit", "500", "-o", "json"],
            "events-json-" + name, env)
    run([CANARYCTL, "get", "canaries", "-n", "test"], "get", env)
    run([CANARYCTL, "get", "canaries", "-n", "test", "-o", "json"], "get-json", env)
    with open(os.path.join(man, "05.yaml")) as f:
        checks_yaml = f.read()
    one = os.path.join(TMP, "checks-only.yaml")
    with open(one, "w") as f:
        f.write(checks_yaml + "\n---\n" + templates("test", echo))
    for extra, tag in (([], "run"), (["--render-only"], "render"), (["-o", "json"], "json")):
        run([CANARYCTL, "metrics", "-f", one, "--namespace", "test", "--secrets-dir", sec,
             "--metrics-server", "http://msuser:%s@127.0.0.1:%d" % (S["ms_pass"], closed)] + extra,
            "metrics-" + tag, env)
    r = run([CANARYCTL, "load", "http://ctluser:%s@127.0.0.1:%d/?token=%s" % (S["ctl_pass"], closed,
                                                                            S["load_query"]),
             "--duration", "1s", "--rate", "5", "-H", "Authorization: Bearer " + S["load_header"]],
            "load", env)
    run([CANARYCTL, "load", "htp://ctluser:%s@x" % S["ctl_pass"], "--duration", "1s"], "load-bad", env)
    metrics = http_text("http://x/metrics", unix=api)
    status = http_text("http://x/api/v1/canaries", unix=api)
    with open(os.path.join(TMP, "out-local-api-canaries"), "w") as f:
        f.write(status)
    with open(os.path.join(TMP, "out-local-metrics"), "w") as f:
        f.write(metrics)
    check("local: /metrics answers", "flagger_canary_status" in metrics, metrics[:200])
    stop(p)
    # what canaryd wrote (its log, the state directory), not what it was given
    return [log, os.path.join(man, ".canaryd")]


# ---- canaryd kube on the fake API server ----

def kube_run(echo, alert_echo, closed, lt_url):
    from operator_env import Cluster
    # kubectl sends a bearer token over TLS only: a self-signed server certificate
    crt, key = os.path.join(TMP, "api.crt"), os.path.join(TMP, "api.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "2"], check=True, capture_output=True)
    c = Cluster("--token", S["kube_token"], "--tls-cert", crt, "--tls-key", key)
    c.api.token, c.api.tls_cert, c.api.tls_key, c.api.ca = S["kube_token"], crt, key, crt
    c.kubeconfig = c.api.kubeconfig(c.kubeconfig)
    try:
        secrets = "".join("""
---
apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: apps}
type: Opaque
stringData: %s
""" % (n, json.dumps(kv)) for n, kv in secrets_of(alert_echo).items())
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n" + secrets)
        c.apply(templates("apps", echo) + "---\n" + alert_providers("apps", closed))
        for name, analysis in (("web", webhooks(echo, lt_url, closed) + ALERTS),
                               ("chk", METRICS + ALERTS)):
            c.apply("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers: [{name: app, image: "app:1", ports: [{containerPort: 8080}]}]
---
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: %(name)s, namespace: apps}
spec:
  provider: kubernetes
  metricsServer: "http://msuser:%(ms)s@127.0.0.1:%(closed)d"
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: %(name)s}
  service: {port: 80, targetPort: 8080}
  analysis:
    interval: 1m
    threshold: 2
    iterations: 2
%(analysis)s""" % dict(name=name, ms=S["ms_pass"], closed=closed, analysis=analysis))
        event_hook = "http://evuser:%s@127.0.0.1:%d/events?key=%s" % (S["event_pass"], echo.port,
                                                                      S["event_key"])
        c.start_operator("-interval-override", "1s", "-log-level", "debug",
                         "-metrics-server", "http://msuser:%s@127.0.0.1:%d" % (S["ms_pass"], closed),
                         "-slack-url", "http://127.0.0.1:%d/services/T1/B1/%s" % (closed, S["global_slack"]),
                         "-slack-channel", "general",
                         "-event-webhook", event_hook)
        both = lambda ph: c.phase("apps", "web") == ph and c.phase("apps", "chk") == ph  # noqa: E731
        check("kube: both canaries initialize (the operator authenticated with the token)",
              wait_until(lambda: both("Initialized"), 60), (c.phase("apps", "web"), c.phase("apps", "chk")))
        for name in ("web", "chk"):
            c.kubectl("-n", "apps", "set", "image", "deployment/" + name, "app=app:2")
        check("kube: both releases fail on their secret-laden checks",
              wait_until(lambda: both("Failed"), 90), (c.phase("apps", "web"), c.phase("apps", "chk")))
        outputs = {}
        _, _, events = c.api.get("/api/v1/namespaces/apps/events")
        outputs["kube-events"] = json.dumps(events)
        outputs["kube-status"] = json.dumps([(c.canary("apps", n) or {}).get("status")
                                             for n in ("web", "chk")])
        outputs["kube-metrics"] = c.metrics()
        c.stop_operator()
        outputs["kube-operator-log"] = c.operator_log()
        check("kube: Events were recorded", len((events or {}).get("items", [])) > 3,
              len((events or {}).get("items", [])))
        return outputs
    finally:
        c.close()


def main():
    echo = Echo(403)
    alert_echo = Echo(404)
    closed = free_port()        # nothing listens there: posts fail
    lt_port = free_port()
    lt_log = os.path.join(TMP, "loadtester.log")
    lt = start([CANARYD, "loadtester", "-port", str(lt_port), "-address", "127.0.0.1"], lt_log)
    lt_url = "http://127.0.0.1:%d" % lt_port
    check("the load tester starts", wait_until(lambda: "OK" in http_text(lt_url + "/healthz"), 20))
    outputs = {}
    try:
        dirs = local_run(echo, alert_echo, closed, lt_url)
        outputs.update(kube_run(echo, alert_echo, closed, lt_url))
        outputs["loadtester-metrics"] = http_text(lt_url + "/metrics")
        # the load tester's answers to direct calls: a failing command, a failing load
        load_url = "http://loaduser:%s@127.0.0.1:%d/load?token=%s" % (S["load_pass"], closed,
                                                                      S["load_query"])
        for tag, md in (("bash", {"type": "bash", "cmd": "curl -sf -H 'Authorization: Bearer %s' "
                                  "http://cmduser:%s@127.0.0.1:%d/" % (S["cmd_bearer"], S["cmd_pass"], closed)}),
                        ("load", {"type": "load", "url": load_url, "duration": "1s", "rate": "5",
                                  "wait": "true", "maxErrorRate": "0",
                                  "header.Authorization": "Bearer " + S["load_header"]})):
            body = json.dumps({"name": "web", "namespace": "apps", "phase": "Progressing",
                               "metadata": md}).encode()
            try:
                with urllib.request.urlopen(urllib.request.Request(lt_url + "/", body), timeout=30) as r:
                    outputs["loadtester-answer-" + tag] = "%d %s" % (r.status, r.read().decode(errors="replace"))
            except urllib.error.HTTPError as e:
                outputs["loadtester-answer-" + tag] = "%d %s" % (e.code, e.read().decode(errors="replace"))
        stop(lt)
        outputs.update(read_tree(dirs + [lt_log] + glob.glob(os.path.join(TMP, "out-*"))))
    finally:
        for p in PROCS:
            stop(p)
        echo.server.shutdown()
        alert_echo.server.shutdown()

    # the secrets were really used: the receivers got them
    saw = "\n".join(echo.seen + alert_echo.seen)
    sent = {"prom basic auth": base64.b64encode(("prombasicuser:" + S["prom_basic"]).encode()).decode(),
            "prom bearer": S["prom_bearer"], "datadog key": S["dd_api"], "newrelic key": S["nr_key"],
            "webhook token query": S["hook_query"], "webhook token segment": S["hook_segment"],
            "event webhook key": S["event_key"]}
    missing = [k for k, v in sent.items() if v not in saw]
    check("the receivers were called with the credentials (%s)" % ", ".join(sent), not missing,
          "not seen: %s" % missing)
    check("the Slack hook from the secret was posted to, with its API token",
          alert_echo.saw(S["slack_path"]) and alert_echo.saw(S["slack_token"]))
    everything = "\n".join(outputs.values())
    check("the outputs show the failures (what was redacted is marked REDACTED)",
          "REDACTED" in everything and "sending notification failed" in everything, "")
    bad = [w for w, t in outputs.items() if "Sanitizer" in t or "runtime error" in t]
    check("no sanitizer report in any output", not bad, bad[:5])
    found = hits(outputs)
    for name in S:
        where = [w for n, w in found if n == name]
        check("secret %s (%s) appears in no output" % (name, S[name]), not where,
              ", ".join(os.path.relpath(w, TMP) if w.startswith("/") else w for w in where[:5]))
    print("secrets grepped: %d, in %d outputs (%d bytes); hits: %d" %
          (len(S), len(outputs), sum(len(t) for t in outputs.values()), len(found)))
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(summary())


if __name__ == "__main__":
    main()
