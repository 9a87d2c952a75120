#!/bin/sh
# Installs the Debian packages canaryd needs, only those that are missing,
# and (test and bench) the pinned kubectl and helm in the project's cache
# (scripts/kube-tools.sh: .cache/tools/bin, not on the system; Debian 12's
# kubectl is 1.20, too old for deploy/; scripts/debian-kubectl.sh unpacks
# that one into the cache too, for the test that checks it against the fake).
# Usage: scripts/deps.sh [build|test|demo|bench]   (default: build)
# It never starts system services: it makes sure /usr/sbin/policy-rc.d
# refuses them before installing servers (prometheus, haproxy, nginx).
set -eu

profile=${1:-build}

build_pkgs="build-essential pkg-config cmake ninja-build clang-14 libclang-rt-14-dev
libjansson-dev libfyaml-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev zlib1g-dev
node-llhttp libcmocka-dev curl ca-certificates"
# servers and tools the tests run: Prometheus (promtool too), nginx (load
# tester, TLS), HAProxy and wrk (test_router_bench.sh), openssl (test
# certificates), pgrep (procps), the fake API server's Python (python3 also
# unzips kubectl and helm for scripts/kube-tools.sh), hey (the load tests of
# Flagger's e2e scripts, run by the load tester), util-linux (unshare) and
# iproute2 (ip) for their private network namespace, jq (Flagger's gloo e2e
# script calls it), chromium (headless: the web dashboard's tests,
# docs/dashboard.md), golang-go (Flagger's session-affinity e2e scripts
# `go run verify_session_affinity.go`, standard library only, offline)
test_pkgs="prometheus haproxy nginx wrk openssl procps python3 python3-jsonschema
python3-scipy python3-yaml python3-numpy hey util-linux iproute2 git jq chromium golang-go"
bench_pkgs="hyperfine valgrind"

kube_tools=no
case "$profile" in
  build) want="$build_pkgs" ;;
  demo)  want="$build_pkgs python3" ;;
  test)  want="$build_pkgs $test_pkgs"; kube_tools=yes ;;
  bench) want="$build_pkgs $test_pkgs $bench_pkgs"; kube_tools=yes ;;
  *) echo "usage: $0 [build|test|demo|bench]" >&2; exit 2 ;;
esac

# kubectl and helm for the tests, once the packages are there (curl, python3)
kube_tools() {
  [ "$kube_tools" = yes ] || return 0
  "$(dirname "$0")/kube-tools.sh"
}

# Debian's own kubectl (1.20), unpacked into the project's cache for
# tests/integration/test_kubectl_debian.sh, never installed on the system
debian_kubectl() {
  case "$profile" in test|bench) "$(dirname "$0")/debian-kubectl.sh" ;; esac
}

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  kube_tools
  debian_kubectl
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages:$missing" >&2
  echo "deps: run as root, or install them with apt-get" >&2
  exit 1
fi

# Servers must never be started by their install scripts.
if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi

echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
kube_tools
debian_kubectl
