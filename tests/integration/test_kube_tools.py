"""test_kube_tools.py - the kubectl and helm the tests use, and the check
that guards them:

- the kubectl and helm on the tests' PATH pass the check (kubetools.py):
  recent enough for deploy/, and `kubectl kustomize` renders it;
- when scripts/kube-tools.sh installed them, they are the pinned ones
  (.cache/tools/bin first on PATH, versions and SHA-256 as in
  scripts/kube-tools.lock);
- the check refuses, with one message naming the version found and the
  version needed, Debian 12's kubectl 1.20 (its real `version` output), a
  kubectl whose kustomize cannot render deploy/kubernetes, a missing
  kubectl and an old helm; tests/lib.sh's require_kubectl stops a bash
  test at once with that message;
- scripts/kube-tools.sh, against a registry on loopback: installs the
  pinned tarball (the one kept in .cache/tools/dl) into an empty directory
  (cleaning up after an installer killed in the middle), refuses a tarball whose SHA-256 differs and a registry that answers 404,
  installing nothing;
- docs/kubernetes.md states the minimum kubectl and helm versions of the
  lock file.
"""
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubetools  # noqa: E402
from testlib import check, summary  # noqa: E402

SRC = kubetools.SRC
LOCK = kubetools.lock()
SCRIPT = os.path.join(SRC, "scripts/kube-tools.sh")

# `kubectl version --client -o json` of Debian 12's kubernetes-client
# 1.20.5+really1.20.2, and its `kubectl kustomize` of deploy/kubernetes
DEBIAN_VERSION = ('{"clientVersion": {"major": "1", "minor": "20", "gitVersion": "v1.20.2", '
                  '"gitCommit": "faecb196815e248d3ecfb03c680a4507229c2a56", "gitTreeState": '
                  '"archive", "goVersion": "go1.19.8", "compiler": "gc", "platform": "linux/amd64"}}')
KUSTOMIZE_V2_ERROR = "Error: json: unknown field \"labels\""


def shim(tmp, name, version_json, kustomize_error=None, helm_version=None):
    """A stand-in kubectl (or helm) printing the given version output."""
    d = tempfile.mkdtemp(dir=tmp)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
        if helm_version:
            f.write("[ \"$1\" = version ] && { printf '%%s' '%s'; exit 0; }\nexit 1\n" % helm_version)
        else:
            f.write("[ \"$1\" = version ] && { echo '%s'; exit 0; }\n" % version_json)
            f.write("[ \"$1\" = kustomize ] && { echo '%s' >&2; exit 1; }\nexit 1\n"
                    % (kustomize_error or ""))
    os.chmod(path, 0o755)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Registry:
    """An npm registry on loopback serving one file (or 404) at the
    package's tarball address."""

    def __init__(self, tarball):
        base = LOCK["NPM_PACKAGE"].split("/")[-1]
        want = "/%s/-/%s-%s.tgz" % (LOCK["NPM_PACKAGE"], base, LOCK["NPM_VERSION"])
        self.requests = []
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                reg.requests.append(self.path)
                if self.path != want or not tarball:
                    self.send_error(404)
                    return
                with open(tarball, "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def run_installer(tools_dir, registry, *args):
    env = dict(os.environ, CANARYD_TOOLS_DIR=tools_dir, npm_config_registry=registry)
    env.pop("CANARYD_KUBE_TOOLS", None)
    return subprocess.run(["sh", SCRIPT] + list(args), env=env, capture_output=True, text=True,
                          timeout=300)


def test_tools_on_path():
    ok, msg = kubetools.check_kubectl()
    check("the kubectl on PATH passes the check: " + msg, ok, msg)
    ok, msg = kubetools.check_helm()
    check("the helm on PATH passes the check: " + msg, ok, msg)
    if os.environ.get("CANARYD_KUBE_TOOLS") == "system":
        print("# CANARYD_KUBE_TOOLS=system: the pinned tools are not required")
        return
    installed = subprocess.run(["sh", SCRIPT, "--check"]).returncode == 0
    if not check("scripts/kube-tools.sh installed the pinned kubectl and helm", installed,
                 "run scripts/deps.sh test"):
        return
    for tool in ("kubectl", "helm"):
        path = os.path.join(kubetools.TOOLS_BIN, tool)
        check("%s on PATH is the pinned one in %s" % (tool, kubetools.TOOLS_BIN),
              shutil.which(tool) == path, shutil.which(tool))
        check("%s matches the lock file's SHA-256" % tool,
              sha256(path) == LOCK[tool.upper() + "_SHA256"])
    r = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True)
    check("kubectl reports the lock file's version " + LOCK["KUBECTL_VERSION"],
          '"gitVersion": "%s"' % LOCK["KUBECTL_VERSION"] in r.stdout, r.stdout)
    r = subprocess.run(["helm", "version", "--template", "{{.Version}}"], capture_output=True, text=True)
    check("helm reports the lock file's version " + LOCK["HELM_VERSION"],
          r.stdout.strip() == LOCK["HELM_VERSION"], r.stdout)


def test_check_refuses(tmp):
    need = LOCK["KUBECTL_MIN"]
    ok, msg = kubetools.check_kubectl(shim(tmp, "kubectl", DEBIAN_VERSION, KUSTOMIZE_V2_ERROR))
    check("Debian's kubectl 1.20 is refused", not ok)
    check("the message names the version found and the version needed",
          "kubectl v1.20.2" in msg and "%s or later" % need in msg and "labels" in msg, msg)
    check("the message says how to get the pinned one",
          "scripts/deps.sh test" in msg and LOCK["KUBECTL_VERSION"] in msg, msg)

    recent = DEBIAN_VERSION.replace("v1.20.2", "v1.30.0").replace('"20"', '"30"')
    ok, msg = kubetools.check_kubectl(shim(tmp, "kubectl", recent, KUSTOMIZE_V2_ERROR))
    check("a kubectl whose kustomize cannot render deploy/ is refused", not ok)
    check("the message names the overlay, kustomize's error and the version needed",
          kubetools.PROBE in msg and 'unknown field "labels"' in msg and "%s or later" % need in msg, msg)

    ok, msg = kubetools.check_kubectl(shim(tmp, "kubectl", "not json"))
    check("something that is not kubectl is refused", not ok and "does not run as kubectl" in msg, msg)

    ok, msg = kubetools.check_helm(shim(tmp, "helm", None, helm_version="v3.2.4"))
    check("helm 3.2 is refused, naming the version needed",
          not ok and "helm v3.2.4" in msg and "%s or later" % LOCK["HELM_MIN"] in msg, msg)

    # tests/lib.sh: the bash side of the same check
    empty = tempfile.mkdtemp(dir=tmp)
    old = os.path.dirname(shim(tmp, "kubectl", DEBIAN_VERSION, KUSTOMIZE_V2_ERROR))
    script = os.path.join(tmp, "t.sh")
    with open(script, "w") as f:
        f.write('. "%s/tests/lib.sh"\nrequire_kubectl\necho "not reached"\n' % SRC)
    env = dict(os.environ, CANARYD_TOOLS_DIR=empty, PATH=old + ":/usr/bin:/bin")
    r = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=60)
    check("lib.sh's require_kubectl stops the test (exit 1, nothing after it runs)",
          r.returncode == 1 and "not reached" not in r.stdout, r.stdout + r.stderr)
    check("... with one FAIL line naming the versions and the summary line",
          "FAIL kubectl: kubectl v1.20.2" in r.stdout and "%s or later" % need in r.stdout and
          r.stdout.strip().endswith("0 passed, 1 failed"), r.stdout)
    saved = os.environ["PATH"]
    os.environ["PATH"] = empty
    try:
        ok, msg = kubetools.check_kubectl()
    finally:
        os.environ["PATH"] = saved
    check("no kubectl at all: the message says so", not ok and "kubectl is not on PATH" in msg, msg)


def test_installer(tmp):
    base = LOCK["NPM_PACKAGE"].split("/")[-1]
    kept = os.path.join(os.path.dirname(kubetools.TOOLS_BIN), "dl",
                        "%s-%s.tgz" % (base, LOCK["NPM_VERSION"]))
    # a tarball that is not the pinned one: refused, nothing installed
    bogus = os.path.join(tmp, "bogus.tgz")
    subprocess.run(["tar", "-czf", bogus, "-C", tmp, "t.sh"], check=True)
    reg = Registry(bogus)
    try:
        dest = tempfile.mkdtemp(dir=tmp)
        r = run_installer(dest, reg.url)
        check("kube-tools.sh refuses a tarball whose SHA-256 differs (exit 1)", r.returncode == 1, r.stderr)
        check("... saying which sum it got and which the lock file wants",
              "SHA-256 %s, expected %s" % (sha256(bogus), LOCK["TARBALL_SHA256"]) in r.stderr and
              "nothing installed" in r.stderr, r.stderr)
        check("... and installs nothing", not os.path.exists(os.path.join(dest, "bin")) and
              not os.path.exists(os.path.join(dest, "dl")), os.listdir(dest))
        check("... it asked the registry for the package's tarball address",
              reg.requests == ["/%s/-/%s-%s.tgz" % (LOCK["NPM_PACKAGE"], base, LOCK["NPM_VERSION"])],
              reg.requests)
    finally:
        reg.close()
    reg = Registry(None)
    try:
        dest = tempfile.mkdtemp(dir=tmp)
        r = run_installer(dest, reg.url)
        check("a registry answering 404: exit 1, says which address failed",
              r.returncode == 1 and "could not download %s/" % reg.url in r.stderr, r.stderr)
        check("--check fails on an empty directory", run_installer(dest, reg.url, "--check").returncode == 1)
    finally:
        reg.close()
    if not os.path.exists(kept):
        print("# no kept tarball (%s): the end-to-end install is not checked" % kept)
        return
    reg = Registry(kept)
    try:
        dest = tempfile.mkdtemp(dir=tmp)
        # what an installer killed with -9 in the middle leaves behind
        os.makedirs(os.path.join(dest, "tmp.killed"))
        with open(os.path.join(dest, "tmp.killed", "pkg.tgz"), "wb") as f:
            f.write(b"half a download")
        r = run_installer(dest, reg.url)
        check("the pinned tarball installs into an empty directory", r.returncode == 0, r.stderr)
        check("... removing what a killed installer left",
              sorted(os.listdir(dest)) == [".lock", "bin", "dl"], os.listdir(dest))
        kubectl = os.path.join(dest, "bin", "kubectl")
        check("... kubectl and helm there (their sums checked by the installer), and the check "
              "accepts them", kubetools.check_kubectl(kubectl)[0] and
              kubetools.check_helm(os.path.join(dest, "bin", "helm"))[0])
        check("--check then passes", run_installer(dest, reg.url, "--check").returncode == 0)
        n = len(reg.requests)
        r = run_installer(dest, reg.url)
        check("a second run changes nothing and downloads nothing",
              r.returncode == 0 and r.stderr == "" and len(reg.requests) == n, r.stderr)
        shutil.rmtree(os.path.join(dest, "bin"))
        r = run_installer(dest, reg.url)
        check("a reinstall uses the kept tarball, without the registry",
              r.returncode == 0 and len(reg.requests) == n and os.path.exists(kubectl), r.stderr)
    finally:
        reg.close()


def test_docs():
    with open(os.path.join(SRC, "docs/kubernetes.md")) as f:
        doc = f.read()
    kmin = ".".join(LOCK["KUBECTL_MIN"].lstrip("v").split(".")[:2])
    hmin = ".".join(LOCK["HELM_MIN"].lstrip("v").split(".")[:2])
    check("docs/kubernetes.md states the minimum kubectl (%s) of the lock file" % kmin,
          "kubectl %s or later" % kmin in doc)
    check("docs/kubernetes.md states the minimum helm (%s) of the lock file" % hmin,
          "Helm %s or later" % hmin in doc)


def main():
    tmp = tempfile.mkdtemp(prefix="canaryd-kube-tools.")
    try:
        test_tools_on_path()
        test_check_refuses(tmp)
        test_installer(tmp)
        test_docs()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
