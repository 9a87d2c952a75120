#!/bin/bash
# test_kube_canaryctl_incluster.sh - kubectl-canary inside a pod
# (docs/kubectl-plugin.md, "Which cluster, which namespace"): with no
# kubeconfig ($KUBECONFIG unset, no ~/.kube/config) and
# KUBERNETES_SERVICE_HOST/PORT set, it uses the pod's service account (its
# token, CA and namespace, the default for -n), as kubectl does; with a
# kubeconfig present the kubeconfig wins. The fake API server serves HTTPS
# with a CA made here and accepts one bearer token. The service-account
# directory is the fixed /var/run/secrets/kubernetes.io/serviceaccount: the
# test mounts a tmpfs over /var/run in a private mount namespace
# (unshare -m), so nothing outside the test sees it.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
T=$TEST_TMP
cd "$T" || exit 1

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=fake-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
  -extfile server.ext 2>/dev/null

fake_apiserver_start --tls-cert server.crt --tls-key server.key --token s3cret:robot \
  --crd "$CANARYD_SRC/deploy/crds/canaries.yaml" || exit 1
URL=https://127.0.0.1:$FAKE_PORT
api() {   # api PATH JSON: create an object as the service account
  curl -s --cacert ca.crt -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' \
    -X POST -d "$2" "$URL$1" >/dev/null
}
api /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}'
api /apis/flagger.app/v1beta1/namespaces/team/canaries '{"apiVersion":"flagger.app/v1beta1",
  "kind":"Canary","metadata":{"name":"podinfo","namespace":"team"},"spec":{"provider":"kubernetes",
  "targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"podinfo"},"service":{"port":80},
  "analysis":{"interval":"1m","threshold":2,"iterations":3}}}'

mkdir -p sa bin home && cp ca.crt sa/ca.crt && echo team >sa/namespace && echo s3cret >sa/token
ln -s "$CANARYCTL" bin/kubectl-canary
# in_pod CMD...: CMD with the service account mounted where a pod has it
in_pod() {
  env -u KUBECONFIG HOME="$T/home" KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$FAKE_PORT" \
    unshare -m --propagation private sh -c 'mount -t tmpfs none /var/run &&
      mkdir -p /var/run/secrets/kubernetes.io/serviceaccount &&
      cp "$0"/* /var/run/secrets/kubernetes.io/serviceaccount/ && exec "$@"' "$T/sa" "$@"
}

if unshare -m --propagation private true 2>/dev/null; then
  in_pod "$T/bin/kubectl-canary" get canaries >pod.out 2>pod.err
  check "in a pod: the service account's token and CA, its namespace by default" \
    bash -c "grep -q '^podinfo ' pod.out" || cat pod.out pod.err
  in_pod "$T/bin/kubectl-canary" get canaries -n default >pod2.out 2>&1
  check "in a pod: -n still wins over the pod's namespace" grep -q 'No canaries found in namespace default' pod2.out
  in_pod "$T/bin/kubectl-canary" describe canary podinfo >pod3.out 2>&1
  check "in a pod: describe" grep -q '^Namespace:    team' pod3.out
else
  echo "note: no private mount namespace here (unshare -m refused): the in-cluster cases are not run"
fi

# a kubeconfig, when there is one, wins over the pod's service account (as kubectl)
cat >kubeconfig <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$URL", certificate-authority: "$T/ca.crt"}}]
users: [{name: robot, user: {token: s3cret}}]
contexts: [{name: team, context: {cluster: c, user: robot, namespace: team}}]
current-context: team
KC
env KUBECONFIG="$T/kubeconfig" KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=1 \
  "$T/bin/kubectl-canary" get canaries >kc.out 2>&1
check "a kubeconfig wins over KUBERNETES_SERVICE_HOST (its context's namespace)" grep -q '^podinfo ' kc.out \
  || cat kc.out
env -u KUBECONFIG HOME="$T/home" KUBERNETES_SERVICE_HOST= "$T/bin/kubectl-canary" get canaries >none.out 2>&1
rc=$?
check "no kubeconfig and not in a pod: exit 2 with a message naming what was tried" \
  bash -c "[ $rc -eq 2 ] && grep -q 'no kubeconfig found' none.out" || cat none.out
finish
