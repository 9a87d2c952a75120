"""kubetools.py - the one check every test that runs kubectl or helm goes
through first: is the kubectl on PATH (the pinned one from
scripts/kube-tools.sh in .cache/tools/bin comes first) recent enough for
canaryd's deploy/ files, and can it actually render them? When not, one
message says which kubectl was found, what it lacks and which version is
needed, instead of dozens of unexplained failures later.

Imported by testlib.py (require_kubectl, require_helm); tests/lib.sh runs
it as a program:
    /usr/bin/python3 tests/integration/kubetools.py kubectl|helm
Exit status 0 when the tool is fit, 1 with the message on stdout.
Not a test itself (no test_ prefix); it only reads, and starts nothing but
`kubectl version`, `kubectl kustomize` and `helm version`."""
import json
import os
import re
import shutil
import subprocess
import sys

SRC = os.environ.get("CANARYD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
LOCK = os.path.join(SRC, "scripts/kube-tools.lock")
TOOLS_BIN = os.path.join(os.environ.get("CANARYD_TOOLS_DIR") or os.path.join(SRC, ".cache/tools"), "bin")
# rendering it uses every kustomize feature deploy/kubernetes has: the
# base's `labels` (includeSelectors), `patches` from a file, inline
# `$patch: delete` patches and a JSON 6902 patch with a target
PROBE = "deploy/kubernetes/overlays/appmesh"
INSTALL_HINT = "`scripts/deps.sh test` (or scripts/kube-tools.sh) installs kubectl %s and helm %s in %s"


def lock():
    """The lock file's KEY=VALUE pairs."""
    out = {}
    with open(LOCK) as f:
        for line in f:
            m = re.match(r"^([A-Z0-9_]+)=(\S+)$", line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def put_tools_first(env=None):
    """Puts the pinned tools' directory first on PATH (os.environ, or the
    env dict given); returns the new PATH."""
    env = os.environ if env is None else env
    parts = [p for p in env.get("PATH", "/usr/bin:/bin").split(":") if p and p != TOOLS_BIN]
    env["PATH"] = ":".join([TOOLS_BIN] + parts)
    return env["PATH"]


def version_tuple(v):
    """(major, minor, patch) of "v1.34.5", "v1.32.4-dispatcher", "3.14.0"."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", v or "")
    return tuple(int(x or 0) for x in m.groups()) if m else None


def _hint(lk):
    where = TOOLS_BIN
    if where.startswith(SRC + os.sep):
        where = os.path.relpath(where, SRC)
    return INSTALL_HINT % (lk.get("KUBECTL_VERSION", "?"), lk.get("HELM_VERSION", "?"), where)


def check_kubectl(path=None):
    """(True, description) when the kubectl at path (default: on PATH) is
    fit for canaryd's deploy/ files and tests; (False, message) if not."""
    lk = lock()
    need = lk["KUBECTL_MIN"]
    path = path or shutil.which("kubectl")
    if not path:
        return False, "kubectl is not on PATH; canaryd's tests need kubectl %s or later. %s" % (need, _hint(lk))
    try:
        r = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True,
                           text=True, timeout=60)
        info = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return False, "%s does not run as kubectl (%s); canaryd's tests need kubectl %s or later. %s" % (
            path, e, need, _hint(lk))
    have = (info.get("clientVersion") or {}).get("gitVersion", "")
    kust = info.get("kustomizeVersion") or "version not reported"
    what = "kubectl %s (%s, kustomize %s)" % (have, path, kust)
    hv, nv = version_tuple(have), version_tuple(need)
    if hv is None or hv < nv:
        return False, ("%s is too old: canaryd's deploy/ files need kubectl %s or later "
                       "(kustomize v4.2+: `labels`, and `patches` from files, inline and JSON 6902 "
                       "with a target); Debian 12's kubernetes-client is 1.20. %s"
                       % (what, need, _hint(lk)))
    try:
        r = subprocess.run([path, "kustomize", os.path.join(SRC, PROBE)], capture_output=True,
                           text=True, timeout=120)
        ok, err = r.returncode == 0 and "kind: Deployment" in r.stdout, r.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, err = False, str(e)
    if not ok:
        return False, ("%s cannot render %s (%s): canaryd's deploy/ files need kubectl %s or later "
                       "with its built-in kustomize (`labels`, `patches`). %s"
                       % (what, PROBE, (err.splitlines() or ["no Deployment in its output"])[-1],
                          need, _hint(lk)))
    return True, what


def check_helm(path=None):
    """(True, description) when the helm at path (default: on PATH) is one
    the chart supports; (False, message) if not."""
    lk = lock()
    need = lk["HELM_MIN"]
    path = path or shutil.which("helm")
    if not path:
        return False, "helm is not on PATH; canaryd's chart needs helm %s or later. %s" % (need, _hint(lk))
    try:
        r = subprocess.run([path, "version", "--template", "{{.Version}}"], capture_output=True,
                           text=True, timeout=60)
        have = r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "%s does not run as helm (%s). %s" % (path, e, _hint(lk))
    hv = version_tuple(have)
    if hv is None or hv < version_tuple(need):
        return False, ("helm %s (%s) is too old: canaryd's chart (deploy/helm/canaryd) needs helm %s "
                       "or later. %s" % (have or "of unknown version", path, need, _hint(lk)))
    return True, "helm %s (%s)" % (have, path)


def main(argv):
    if len(argv) != 2 or argv[1] not in ("kubectl", "helm"):
        print("usage: kubetools.py kubectl|helm", file=sys.stderr)
        return 2
    put_tools_first()
    ok, msg = (check_kubectl if argv[1] == "kubectl" else check_helm)()
    print(msg)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
