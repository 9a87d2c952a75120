#!/bin/bash
# test_fake_apiserver_portforward.sh - `kubectl port-forward` through the
# fake API server's pods/NAME/portforward (fakekube/portforward.py), as
# Flagger's session-affinity e2e scripts use it: to a
# Pod and to a Service (its targetPort), over the WebSocket tunnel kubectl
# tries first and over plain SPDY/3.1; bytes both ways on two concurrent
# connections; a port nobody listens on gives kubectl the kubelet's error;
# malformed frames end their connection, never the server.
# It starts: the fake-apiserver, kubectl port-forward, and a loopback echo
# server (tests/integration/pf_client.py) standing for the pod's process.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
require_kubectl
fake_apiserver_start
PF=$CANARYD_SRC/tests/integration/pf_client.py
ECHO=$(free_port)
/usr/bin/python3 "$PF" echo "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
track $!

kubectl apply -f - >"$TEST_TMP/apply.log" 2>&1 <<EOF
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  containers: [{name: echo, image: echo, ports: [{name: tcp, containerPort: $ECHO}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: noip, labels: {app: noip}}
spec:
  containers: [{name: noip, image: echo}]
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: tcp}]
EOF
require "the Pods and the Service are created" [ $? = 0 ]
kubectl patch pod echo --subresource=status --type=merge \
  -p '{"status":{"phase":"Running","podIP":"127.0.0.1"}}' >/dev/null &&
  kubectl patch pod noip --subresource=status --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null
require "the Pods are Running, echo at 127.0.0.1" [ $? = 0 ]

# pf_start NAME TARGET LOCAL:REMOTE...: kubectl port-forward in the
# background, until it says it forwards
pf_start() {
  local log=$TEST_TMP/pf-$1.log i=0; shift
  kubectl port-forward "$@" >"$log" 2>&1 &
  PF_PID=$!
  track $PF_PID
  while ! grep -q "^Forwarding from 127.0.0.1" "$log"; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 $PF_PID 2>/dev/null; then cat "$log"; return 1; fi
    sleep 0.1
  done
}
pf_stop() { kill "$PF_PID" 2>/dev/null; wait "$PF_PID" 2>/dev/null; }
upgrades() {   # METHOD: the portforward upgrades the fake answered 101 to
  curl -s "$FAKE_URL/fake/requests" | /usr/bin/python3 -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r["path"].endswith("/portforward")
      and r["method"] == sys.argv[1] and r["code"] == 101))' "$1"
}

L1=$(free_port)
require "kubectl port-forward pod/echo (WebSocket tunnel)" pf_start ws pod/echo "$L1:$ECHO"
check "bytes both ways, two concurrent connections, over the WebSocket tunnel" \
  /usr/bin/python3 "$PF" roundtrip "$L1" 2
check "a third connection after those closed" /usr/bin/python3 "$PF" roundtrip "$L1" 1
pf_stop
check "kubectl tunnelled SPDY through a WebSocket (GET upgraded)" [ "$(upgrades GET)" -ge 1 ]

L2=$(free_port)
KUBECTL_PORT_FORWARD_WEBSOCKETS=false pf_start spdy svc/echo "$L2:80"
require "kubectl port-forward svc/echo 80 (targetPort tcp) over SPDY/3.1" [ $? = 0 ]
check "the Service's port maps to the Pod's named container port" grep -q "$L2 -> $ECHO" "$TEST_TMP/pf-spdy.log"
check "bytes both ways, two concurrent connections, over SPDY/3.1" /usr/bin/python3 "$PF" roundtrip "$L2" 2
pf_stop
check "kubectl upgraded to SPDY/3.1 (POST upgraded)" [ "$(upgrades POST)" -ge 1 ]

# a port nobody listens on: the kubelet's error reaches kubectl, which
# prints it and gives up on the pod (kubectl >= 1.29)
DEAD=$(free_port) L3=$(free_port)
require "kubectl port-forward to a port nobody listens on" pf_start dead pod/echo "$L3:$DEAD"
curl -s -m 10 -o /dev/null "http://127.0.0.1:$L3/"
for _ in $(seq 50); do kill -0 "$PF_PID" 2>/dev/null || break; sleep 0.1; done
check "kubectl prints the refused connection as the kubelet words it" \
  grep -q "an error occurred forwarding $L3 -> $DEAD: error forwarding port $DEAD to pod echo, uid .*connect: connection refused" \
  "$TEST_TMP/pf-dead.log"
check "kubectl then gives up: lost connection to pod" grep -q "lost connection to pod" "$TEST_TMP/pf-dead.log"
pf_stop

L4=$(free_port)
require "kubectl port-forward to a pod without status.podIP" pf_start noip pod/noip "$L4:8080"
curl -s -m 10 -o /dev/null "http://127.0.0.1:$L4/"
for _ in $(seq 50); do kill -0 "$PF_PID" 2>/dev/null || break; sleep 0.1; done
check "a pod without status.podIP: the error says so" grep -q "the pod has no status.podIP" "$TEST_TMP/pf-noip.log"
pf_stop

code=$(curl -s -o "$TEST_TMP/plain.json" -w '%{http_code}' -X POST \
  "$FAKE_URL/api/v1/namespaces/default/pods/echo/portforward")
check "a POST without Upgrade: 400 Upgrade request required" \
  eval '[ "$code" = 400 ] && grep -q "Upgrade request required" "$TEST_TMP/plain.json"'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
  "$FAKE_URL/api/v1/namespaces/default/pods/missing/portforward")
check "a missing pod: 404" [ "$code" = 404 ]
check "garbage SPDY frames end their connection (GOAWAY), bounded" \
  /usr/bin/python3 "$PF" garbage "$FAKE_PORT" /api/v1/namespaces/default/pods/echo/portforward
check "the fake API server is still up after them" curl -sf -o /dev/null "$FAKE_URL/healthz"
check "discovery lists pods/portforward (create, get)" eval \
  'kubectl get --raw /api/v1 | /usr/bin/python3 -c "import json,sys
r=[x for x in json.load(sys.stdin)[\"resources\"] if x[\"name\"]==\"pods/portforward\"]
sys.exit(0 if r and r[0][\"verbs\"]==[\"create\",\"get\"] and r[0][\"kind\"]==\"PodPortForwardOptions\" else 1)"'
finish
