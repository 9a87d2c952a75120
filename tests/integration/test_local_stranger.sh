#!/bin/bash
# test_local_stranger.sh - `canaryd local` and canaryctl as a stranger uses
# them, on what test_local_newcomer.sh does not cover: a mistyped --api
# (a host without a port) is a usage error that publishes no token; an
# --api-token-file that is missing says why even when its name ends in
# "token" (the log's redactor hid the reason); a named pipe given as the
# token file, or lying in the watched directory, never hangs a start (it
# did, SIGTERM included); a symbolic link added to the watched directory is
# applied, and one replaced by a link to nowhere keeps its Canary.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"
unset CANARYD_TOKEN
export XDG_RUNTIME_DIR=$TEST_TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"

# --- a mistyped --api ----------------------------------------------------------
out=$(cd "$W" && timeout 30 canaryd local --dir . --api localhost --stop-on-exit 2>&1); rc=$?
check "--api localhost exits 2 (a usage error)" [ "$rc" = 2 ]
check "... saying what --api takes" grep -qF -- '--api localhost: not unix:/PATH nor an IPv4 address and port such as 127.0.0.1:9090' <<<"$out"
check "... and publishes no token" bash -c '! ls "$0"/canaryd/*.token >/dev/null 2>&1' "$XDG_RUNTIME_DIR"
check "... and creates no state" [ ! -e "$W/.canaryd" ]

# --- token files ----------------------------------------------------------------
out=$(timeout 30 canaryd local --dir "$W" --api 127.0.0.1:0 --api-token-file "$TEST_TMP/my-token" \
      --log-format text --stop-on-exit 2>&1); rc=$?
check "a missing --api-token-file fails the start (exit 1)" [ "$rc" = 1 ]
check "... naming the file and why (not REDACTED)" \
  grep -qF -- "cannot read --api-token-file $TEST_TMP/my-token (No such file or directory)" <<<"$out"
mkfifo "$TEST_TMP/pipe-token"
out=$(timeout 30 canaryd local --dir "$W" --api 127.0.0.1:0 --api-token-file "$TEST_TMP/pipe-token" \
      --log-format text --stop-on-exit 2>&1); rc=$?
check "a named pipe as --api-token-file does not hang the start (exit 1, not 124)" [ "$rc" = 1 ]
check "... and says it is not a regular file" grep -qF "pipe-token (not a regular file)" <<<"$out"
out=$(timeout 30 canaryctl --server 127.0.0.1:1 --token-file "$TEST_TMP/pipe-token" get canaries 2>&1); rc=$?
check "nor does canaryctl --token-file PIPE (exit 2)" \
  bash -c '[ "$0" = 2 ] && grep -qF "pipe-token (not a regular file)" <<<"$1"' "$rc" "$out"

# --- the watched directory: a pipe, links -------------------------------------------
mkfifo "$W/notes.yaml"
start_canaryd
check "with a named pipe in the directory canaryd local starts and serves" wait_phase Initialized 90
check "... and logs why the pipe is rejected" \
  grep -q 'manifests: notes.yaml rejected (not a regular file (a named pipe)' "$W/canaryd.log"

# podinfo-canary.yaml becomes a link (to the same content elsewhere): applied, nothing changes
mkdir -p "$TEST_TMP/shared"
mv "$W/podinfo-canary.yaml" "$TEST_TMP/shared/canary.yaml"
ln -s "$TEST_TMP/shared/canary.yaml" "$W/podinfo-canary.yaml"
sleep 2
check "a Canary whose file is now a symbolic link is still there" [ "$(phase)" = Initialized ]
# an edit through a new link is applied without kill -HUP
sed 's/stepWeight: [0-9]*/stepWeight: 7/' "$TEST_TMP/shared/canary.yaml" >"$TEST_TMP/shared/canary2.yaml"
ln -s "$TEST_TMP/shared/canary2.yaml" "$W/.next"
mv -T "$W/.next" "$W/podinfo-canary.yaml"
stepw() { canaryctl get canaries -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["items"][0]["spec"]["analysis"]["stepWeight"])'; }
export -f stepw
check "a link swapped in is applied (stepWeight 7)" \
  bash -c 'for i in $(seq 100); do [ "$(stepw)" = 7 ] && exit 0; sleep 0.1; done; exit 1'
# a link to a file that is not there (a typo in ln -sf): rejected, the Canary stays
ln -s "$TEST_TMP/shared/canray.yaml" "$W/.next"
mv -T "$W/.next" "$W/podinfo-canary.yaml"
check "a link to nowhere is logged, naming its target" bash -c \
  'for i in $(seq 100); do grep -q "podinfo-canary.yaml rejected (a symbolic link to a missing file ($0))" "$1" && exit 0; sleep 0.1; done; exit 1' \
  "$TEST_TMP/shared/canray.yaml" "$W/canaryd.log"
check "... and the Canary stays, with stepWeight 7" [ "$(stepw)" = 7 ]
check "... and still serves" bash -c "curl -s '$URL' | grep -q '\"version\":\"v1\"'"

# canaryctl apply of a workload whose command is relative to its own
# directory: canaryd writes it into the watched one, where the path names
# another file; apply says so (it only showed in describe, as a program
# that cannot start)
mkdir -p "$TEST_TMP/src"
printf 'apiVersion: canaryd.dev/v1alpha1\nkind: LocalWorkload\nmetadata: {name: other}\nspec:\n  command: ./bin/demo-app\n' \
  >"$TEST_TMP/src/other.yaml"
out=$(cd "$TEST_TMP" && canaryctl apply -f src/other.yaml 2>&1); rc=$?
check "apply of a workload with a relative command from elsewhere: applied (exit 0)" [ "$rc" = 0 ]
check "... warning that the path is now relative to canaryd's directory" grep -qF \
  "src/other.yaml:1:1: warning: spec.command: ./bin/demo-app is relative to the manifest's directory, which is now $(realpath "$W") (canaryd local's), not $TEST_TMP/src" <<<"$out"
out=$(cd "$W" && canaryctl apply -f localworkload-default-other.yaml 2>&1)
check "... and not when applied from that directory" bash -c '! grep -q warning <<<"$0"' "$out"

# -n "" is no namespace, as the Kubernetes CLI takes it; -n ../x is not a namespace
check "get canaries -n '' lists the default namespace's" bash -c \
  'canaryctl get canaries -n "" | grep -q "^podinfo "'
out=$(canaryctl describe canary podinfo -n ../x 2>&1); rc=$?
check "describe -n ../x: exit 2, not a namespace name" bash -c \
  '[ "$0" = 2 ] && grep -qF -- "-n ../x: not a namespace name" <<<"$1"' "$rc" "$out"

# flagger-loadtester's gates on the local API: names longer than a
# Canary's are refused, and at most 4096 gates are open at once (each open
# of a new name kept 600 bytes, without end)
out=$(/usr/bin/python3 - "$W/api.sock" <<'PY'
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
def post(path, name, ns="default"):
    c = C("localhost"); c.request("POST", path, json.dumps({"name": name, "namespace": ns}),
                                  {"Content-Type": "application/json"})
    r = c.getresponse(); body = r.read().decode(); c.close(); return r.status, body
print("long", post("/gate/open", "a" * 254)[0])
codes = [post("/gate/open", "g%d" % i)[0] for i in range(4096)]
print("opened", sum(1 for c in codes if c == 202))
st, body = post("/gate/open", "one-more")
print("more", st, " ".join(body.split()))
print("again", post("/gate/open", "g7")[0], post("/gate/check", "g7")[0])
post("/gate/close", "g7")
print("after-close", post("/gate/open", "one-more")[0])
PY
)
check "a gate name longer than a Canary's is refused (400)" grep -qx "long 400" <<<"$out"
check "4096 gates open" grep -qx "opened 4096" <<<"$out"
check "the 4097th is refused (507) saying why" grep -q "^more 507 .*too many open gates (4096)" <<<"$out"
check "... an open one stays open and checks" grep -qx "again 202 200" <<<"$out"
check "... and once one is closed another opens" grep -qx "after-close 202" <<<"$out"
stop_canaryd
# --- canaryctl --kube before the command, as the plugin docs write it
mkdir -p "$TEST_TMP/home"
out=$(HOME=$TEST_TMP/home KUBECONFIG= KUBERNETES_SERVICE_HOST= canaryctl --kube get canaries 2>&1); rc=$?
check "canaryctl --kube get canaries goes to Kubernetes (no kubeconfig here: exit 2 saying so)" \
  bash -c '[ "$0" = 2 ] && grep -q "no kubeconfig found" <<<"$1" && ! grep -q "unknown command" <<<"$1"' "$rc" "$out"
finish
