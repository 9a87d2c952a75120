#!/bin/sh
# scripts/debian-kubectl.sh - puts the kubectl Debian 12 ships (package
# kubernetes-client, kubectl 1.20) in the project's cache, never on the
# system and never on PATH: tests/integration/test_kubectl_debian.sh checks
# that the fake API server serves what this old kubectl needs (it fetches
# /openapi/v2 before every apply) and that the docs name the kubectl
# version deploy/ needs. `apt-get download` checks the package against the
# archive's signed index; `dpkg-deb -x` unpacks it into the cache.
#
# Usage: scripts/debian-kubectl.sh            install when missing
#        scripts/debian-kubectl.sh --path     print where kubectl is (or
#                                             would be), install nothing
# Environment: CANARYD_TOOLS_DIR (default <repo>/.cache/tools).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${CANARYD_TOOLS_DIR:-$repo/.cache/tools}/debian-kubectl
kubectl=$dir/root/usr/bin/kubectl

if [ "${1:-}" = --path ]; then
  echo "$kubectl"
  exit 0
fi

die() { echo "debian-kubectl: $*" >&2; exit 1; }

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this needs Debian (kubernetes-client)"
version=$(apt-cache policy kubernetes-client 2>/dev/null | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] ||
  die "no kubernetes-client package in the APT sources (run apt-get update; Debian 12 has it)"

if [ -x "$kubectl" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d "$dir/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download -q "kubernetes-client=$version" >/dev/null 2>&1 ) ||
  die "apt-get download kubernetes-client=$version failed"
dpkg-deb -x "$work"/kubernetes-client_*.deb "$work/root"
[ -x "$work/root/usr/bin/kubectl" ] || die "the package holds no usr/bin/kubectl"
"$work/root/usr/bin/kubectl" version --client >/dev/null 2>&1 || die "the unpacked kubectl does not run"
rm -rf "$dir/root"
mv "$work/root" "$dir/root"
echo "$version" >"$dir/version"
echo "debian-kubectl: kubernetes-client $version in $dir/root/usr/bin" >&2
