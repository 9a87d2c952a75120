#!/bin/bash
# test_kube_client_auth.sh - how canaryd's Kubernetes client finds and
# authenticates to the API server, against the fake API server over HTTPS
# (certificates made here with openssl): kubeconfig CA file and data,
# client certificates from files (relative paths) and data, bearer tokens,
# tokenFile rotation, exec credential plugins (token and certificate),
# insecure-skip-tls-verify, tls-server-name, named contexts, KUBECONFIG
# merging, the in-cluster configuration, and HTTP/2 through nginx.
. "$(dirname "$0")/../lib.sh"
. "$CANARYD_SRC/tests/fake-apiserver/lib.sh"
CHECK=$CANARYD_BUILD/kube_client_check
T=$TEST_TMP
cd "$T" || exit 1

# ---- certificates -------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=fake-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -subj /CN=other -days 2 \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
sign() {   # sign NAME CN EXT
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 \
    -extfile "$1.ext" 2>/dev/null
}
sign server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc"
sign client canaryd "extendedKeyUsage=clientAuth"
b64() { base64 -w0 "$1"; }

fake_apiserver_start --tls-cert server.crt --tls-key server.key --client-ca ca.crt \
  --token s3cret:robot --token other-token:robot2 || exit 1
URL=https://127.0.0.1:$FAKE_PORT
fake_ctl() { curl -s --cacert ca.crt -X POST -H 'Content-Type: application/json' -d "$2" "$URL/fake/$1"; }

kubeconfig() {   # kubeconfig FILE CLUSTER-YAML USER-YAML
  cat >"$1" <<KC
apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c
  cluster:
$2
users:
- name: u
  user:
$3
contexts:
- name: main
  context: {cluster: c, user: u, namespace: default}
KC
}

get() {   # get KUBECONFIG EXPECTED-USER: one GET, the server saw that identity
  "$CHECK" get --kubeconfig "$1" --expect-user "$2" >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
}
fails_with() {   # fails_with KUBECONFIG TEXT
  ! "$CHECK" get --kubeconfig "$1" >"$T/out" 2>&1 && grep -q "$2" "$T/out" || { cat "$T/out"; return 1; }
}

kubeconfig k-token "    server: $URL
    certificate-authority: $T/ca.crt" "    token: s3cret"
check "CA file + bearer token" get k-token robot

kubeconfig k-data "    server: $URL
    certificate-authority-data: $(b64 ca.crt)" "    client-certificate-data: $(b64 client.crt)
    client-key-data: $(b64 client.key)"
check "CA data + client certificate data" get k-data cert:canaryd

mkdir -p sub/certs && cp ca.crt client.crt client.key sub/certs/
kubeconfig sub/k-files "    server: $URL
    certificate-authority: certs/ca.crt" "    client-certificate: certs/client.crt
    client-key: certs/client.key"
check "files named relative to the kubeconfig" get sub/k-files cert:canaryd

kubeconfig k-insecure "    server: $URL
    insecure-skip-tls-verify: true" "    token: s3cret"
check "insecure-skip-tls-verify" get k-insecure robot

kubeconfig k-wrong-ca "    server: $URL
    certificate-authority: $T/other-ca.crt" "    token: s3cret"
check "a server certificate from another CA is refused" fails_with k-wrong-ca "SSL\|certificate"

kubeconfig k-sni "    server: https://127.0.0.1:$FAKE_PORT
    tls-server-name: kubernetes.default.svc
    certificate-authority: $T/ca.crt" "    token: s3cret"
check "tls-server-name verifies the certificate against that name" get k-sni robot
kubeconfig k-sni-bad "    server: https://127.0.0.1:$FAKE_PORT
    tls-server-name: wrong.example.com
    certificate-authority: $T/ca.crt" "    token: s3cret"
check "... and refuses a name the certificate does not carry" fails_with k-sni-bad "SSL\|certificate\|match"

kubeconfig k-anon "    server: $URL
    certificate-authority: $T/ca.crt" "    {}"
check "no credentials: 401 Unauthorized, decoded" fails_with k-anon "Unauthorized"

# ---- exec credential plugins ---------------------------------------------------------
cat >plugin-token.sh <<'SH'
#!/bin/sh
# an exec credential plugin: records what it was given, prints a token
echo "$KUBERNETES_EXEC_INFO" >"$(dirname "$0")/exec-info.json"
echo "$MY_ENV $*" >"$(dirname "$0")/exec-args"
cat <<JSON
{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
 "status":{"token":"s3cret","expirationTimestamp":"2099-01-01T00:00:00Z"}}
JSON
SH
cat >plugin-cert.sh <<SH
#!/bin/sh
python3 - <<PY
import json
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
  "status": {"clientCertificateData": open("$T/client.crt").read(),
             "clientKeyData": open("$T/client.key").read()}}))
PY
SH
printf '#!/bin/sh\necho "no credentials for you" >&2\nexit 3\n' >plugin-fail.sh
chmod +x plugin-*.sh
kubeconfig k-exec "    server: $URL
    certificate-authority-data: $(b64 ca.crt)" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin-token.sh
      args: [--cluster, demo]
      env: [{name: MY_ENV, value: hello}]
      provideClusterInfo: true
      interactiveMode: Never"
check "exec plugin (relative command) gives a token" get k-exec robot
check "exec plugin got its args and env" grep -qx "hello --cluster demo" exec-args
check "exec plugin got KUBERNETES_EXEC_INFO with the cluster" \
  /usr/bin/python3 -c "import json,sys; d=json.load(open('exec-info.json')); sys.exit(not (d['kind']=='ExecCredential' and d['spec']['interactive'] is False and d['spec']['cluster']['server']=='$URL' and d['spec']['cluster']['certificate-authority-data']))"
kubeconfig k-exec-cert "    server: $URL
    certificate-authority: $T/ca.crt" "    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: $T/plugin-cert.sh"
check "exec plugin gives a client certificate" get k-exec-cert cert:canaryd
kubeconfig k-exec-fail "    server: $URL
    certificate-authority: $T/ca.crt" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $T/plugin-fail.sh"
check "a failing exec plugin is reported with its exit status" fails_with k-exec-fail "failed with exit status 3"
kubeconfig k-exec-missing "    server: $URL
    certificate-authority: $T/ca.crt" "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: no-such-plugin
      installHint: install no-such-plugin from example.com"
check "a missing exec plugin shows the install hint" fails_with k-exec-missing "install no-such-plugin"

# ---- contexts and KUBECONFIG merging -------------------------------------------------
cat >k-multi <<KC
apiVersion: v1
kind: Config
current-context: anon
clusters:
- {name: c, cluster: {server: "$URL", certificate-authority: "$T/ca.crt"}}
users:
- {name: anon, user: {}}
- {name: robot2, user: {token: other-token}}
contexts:
- {name: anon, context: {cluster: c, user: anon}}
- {name: second, context: {cluster: c, user: robot2, namespace: kube-system}}
KC
check "a named context (--context)" bash -c "'$CHECK' get --kubeconfig k-multi --context second --expect-user robot2 >/dev/null"
unknown_context() {
  ! "$CHECK" get --kubeconfig k-multi --context nope >"$T/out" 2>&1 && grep -q 'context "nope" not found' "$T/out"
}
check "an unknown context is an error naming it" unknown_context
cat >k-part1 <<KC
apiVersion: v1
kind: Config
current-context: second
KC
check "KUBECONFIG lists are merged (current-context from the first file)" \
  bash -c "KUBECONFIG=$T/k-part1:$T/missing:$T/k-multi '$CHECK' get --expect-user robot2 >/dev/null"

# ---- in-cluster: token rotation --------------------------------------------------------
mkdir -p sa && cp ca.crt sa/ca.crt && echo test-ns >sa/namespace && echo s3cret >sa/token
check "in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, service-account files)" \
  env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$FAKE_PORT \
  "$CHECK" get --sa-dir "$T/sa" --expect-user robot
rm -f rotated
env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$FAKE_PORT \
  "$CHECK" rotate --sa-dir "$T/sa" --flag "$T/rotated" >rotate.out 2>&1 &
rpid=$!
track $rpid
i=0; while ! grep -q ready rotate.out && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
echo rotated-token >sa/token.new && mv sa/token.new sa/token
fake_ctl tokens '{"tokens":["rotated-token:robot"]}' >/dev/null
touch rotated
wait $rpid
rc=$?
cat rotate.out
check "a rotated service-account token is re-read after the server refuses the old one" [ $rc -eq 0 ]

# ---- HTTP/2 through nginx (the fake speaks HTTP/1.1 only) ----------------------------------
if command -v nginx >/dev/null; then
  NPORT=$(free_port)
  mkdir -p nginx
  cat >nginx/nginx.conf <<NG
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events {}
http {
  access_log $T/nginx/access.log;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$NPORT ssl http2;
    ssl_certificate $T/server.crt;
    ssl_certificate_key $T/server.key;
    location / {
      proxy_pass https://127.0.0.1:$FAKE_PORT;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }
  }
}
NG
  nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" 2>"$T/nginx/start.log" &
  track $!
  i=0
  while ! curl -sf --cacert ca.crt -o /dev/null "https://127.0.0.1:$NPORT/healthz" && [ $i -lt 200 ]; do
    sleep 0.05; i=$((i + 1))
  done
  kubeconfig k-h2 "    server: https://127.0.0.1:$NPORT
    certificate-authority: $T/ca.crt" "    token: rotated-token"
  check "HTTP/2: requests and a watch stream through an h2 proxy" \
    "$CHECK" http2 --kubeconfig k-h2
  check "HTTP/2: nginx logged HTTP/2.0 requests from the client" grep -q 'HTTP/2.0' nginx/access.log
else
  echo "nginx missing: HTTP/2 not checked (scripts/deps.sh test)"
  check "nginx available for the HTTP/2 check" false
fi
finish
