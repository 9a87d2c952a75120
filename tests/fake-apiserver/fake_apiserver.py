#!/usr/bin/python3
"""fake_apiserver.py - a fake Kubernetes API server for canaryd's tests.

Starts on a loopback port (plain HTTP, or HTTPS with --tls-cert/--tls-key,
optionally requiring client certificates or bearer tokens), serves the
built-in kinds canaryd uses plus any CustomResourceDefinition POSTed to it
or preloaded with --crd, and runs a fake kubelet/controller loop that moves
Deployment and DaemonSet status. See README.md next to this file. Python 3
standard library plus Debian's python3-yaml (and python3-jsonschema for
anyOf/oneOf); run with /usr/bin/python3. Never use it outside tests."""
import argparse
import os
import signal
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekube.controllers import Controllers  # noqa: E402
from fakekube.errors import ApiError  # noqa: E402
from fakekube.faults import Faults  # noqa: E402
from fakekube.fieldvalidation import Check  # noqa: E402
from fakekube.openapi import OpenAPI  # noqa: E402
from fakekube.resources import Registry  # noqa: E402
from fakekube.sampler import start_from_env  # noqa: E402
from fakekube.server import App, Server  # noqa: E402
from fakekube.store import Store  # noqa: E402


def load_yaml_docs(path):
    import yaml
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main(argv=None):
    p = argparse.ArgumentParser(description="fake Kubernetes API server (tests only)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    p.add_argument("--tls-key", help="... and this PEM key")
    p.add_argument("--client-ca", help="accept client certificates signed by this CA (authn)")
    p.add_argument("--token", action="append", default=[],
                   help="accepted bearer token, TOKEN or TOKEN:USER (repeatable; enables authn)")
    p.add_argument("--crd", action="append", default=[], help="preload CRDs from a YAML file")
    p.add_argument("--nodes", type=int, default=1, help="fake nodes (DaemonSets schedule on them)")
    p.add_argument("--step", type=float, default=0.2,
                   help="seconds between two pod steps of a rollout")
    p.add_argument("--tick", type=float, default=0.05, help="controller loop period (s)")
    p.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    p.add_argument("--watch-timeout", type=float, default=1800,
                   help="longest watch (s) when the client sends no timeoutSeconds")
    p.add_argument("--history", type=int, default=20000,
                   help="changes kept for watches; older ones are compacted (410 Expired)")
    p.add_argument("--disable", action="append", default=[],
                   help="do not serve GROUP/VERSION (e.g. events.k8s.io/v1), to test fallbacks")
    p.add_argument("--kube-version", default="v1.32.0",
                   help="gitVersion reported by /version; from v1.25 writes honour "
                        "fieldValidation (default Warn) and the OpenAPI documents say so, "
                        "before they ignore it and kubectl validates against /openapi/v2")
    p.add_argument("--openapi-v2", default=os.path.join(
        os.environ.get("CANARYD_SHARED") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "..", "..", "..", "shared"),
        "conformance", "kube-api", "openapi-v2.json.gz"),
        help="the recorded /openapi/v2 document of a real kube-apiserver (gzip JSON)")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    start_from_env()

    registry = Registry()
    for gv in a.disable:
        group, _, version = gv.rpartition("/")
        for key in [k for k in registry.order if k[0] == group and k[1] == version]:
            registry.order.remove(key)
            del registry.types[key]
    store = Store(registry, history_limit=a.history)
    faults = Faults()
    store.write_hooks.append(faults.write_hook)
    controllers = Controllers(store, registry, faults, interval=a.tick, step=a.step)
    ver = a.kube_version.lstrip("v").split("+")[0].split(".")
    version = {"major": ver[0], "minor": ver[1] if len(ver) > 1 else "0",
               "gitVersion": a.kube_version if a.kube_version.startswith("v") else "v" + a.kube_version,
               "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
               "buildDate": "2022-05-06T09:44:28Z", "goVersion": "go1.19.8", "compiler": "gc",
               "platform": "linux/amd64"}
    try:
        oa = OpenAPI.load(a.openapi_v2, version["gitVersion"],
                          {tuple(gv.rpartition("/")[::2]) for gv in a.disable})
    except OSError as e:
        print("fake-apiserver: cannot read the OpenAPI document %s: %s" % (a.openapi_v2, e),
              file=sys.stderr)
        return 2
    store.openapi = oa
    app = App(registry, store, faults, controllers, version, a.bookmark_interval, a.watch_timeout,
              a.verbose, oa)
    for t in a.token:
        tok, _, user = t.partition(":")
        app.tokens[tok] = user or "token-user"

    # the cluster a kube-apiserver starts with
    ns_rt = registry.get("", "v1", "namespaces")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        store.internal_create(ns_rt, {"metadata": {"name": ns}})
    node_rt = registry.get("", "v1", "nodes")
    for i in range(1, a.nodes + 1):
        name = "fake-node-%d" % i
        store.internal_create(node_rt, manager="kubelet", obj={
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64"}},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}],
                       "nodeInfo": {"kubeletVersion": a.kube_version}}})
    crd_rt = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    for path in a.crd:      # as `kubectl apply` would send them: strict field validation
        for doc in load_yaml_docs(path):
            if doc.get("kind") == "CustomResourceDefinition":
                try:
                    store.create(crd_rt, None, doc, field_validation=Check(
                        "Strict" if oa.field_validation else "Ignore", manager="fake-apiserver"))
                except ApiError as e:
                    print("fake-apiserver: --crd %s: %s" % (path, e.message), file=sys.stderr)
                    return 2

    ssl_ctx = None
    if a.tls_cert:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ssl_ctx.set_alpn_protocols(["http/1.1"])
        if a.client_ca:
            ssl_ctx.load_verify_locations(a.client_ca)
            ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
            app.client_ca = True

    server = Server((a.host, a.port), app, ssl_ctx)
    port = server.server_address[1]
    app.address = "%s:%d" % (a.host, port)
    controllers.start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print("fake-apiserver listening on %s://%s:%d" % ("https" if ssl_ctx else "http", a.host, port),
          flush=True)

    def stop(*_):
        controllers.stop_event.set()
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
