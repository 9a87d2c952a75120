#!/bin/bash
# test_local_dashboard.sh - the web dashboard of `canaryd local`
# (docs/dashboard.md) in Debian's headless Chromium, during a real release
# of the demo workload under load: the list (with and without JavaScript)
# shows the canary with its phase and the API's weights; the canary's page
# has the weights chart, a chart per metric with its threshold, the events
# and the promote/abort forms while the release is analysed; a screenshot
# is a real PNG of a real size. The access rules (docs/security.md): no
# page without the token, no form from another origin or without the
# session's CSRF token; the abort button, used as a browser would (the
# session's cookie, the page's token, this Origin), rolls the release back,
# and the Failed canary's page has no buttons.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/local_lib.sh"
command -v chromium >/dev/null || { echo "chromium is missing (scripts/deps.sh test)"; exit 1; }
unset CANARYD_TOKEN
export XDG_RUNTIME_DIR=$TEST_TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
PORT=$(free_port)
export CANARYD_API=127.0.0.1:$PORT
BASE=http://127.0.0.1:$PORT
# small steps: the weight changes at every interval while the promotion is held
sed -i 's/stepWeight: 25/stepWeight: 10/' "$W/podinfo-canary.yaml"
canaryd local --dir "$W" --api "$CANARYD_API" --stop-on-exit --log-format text >>"$W/canaryd.log" 2>&1 &
CPID=$!
TOKFILE=$XDG_RUNTIME_DIR/canaryd/api-127.0.0.1_$PORT.token
i=0; while [ ! -s "$TOKFILE" ] || ! canaryctl get canaries >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1; done
require "canaryd local answers on TCP" bash -c "canaryctl get canaries >/dev/null"
TOKEN=$(cat "$TOKFILE")

# Chromium: its own profile in the test's directory, no sandbox (tests may run as root)
CHROME_DIR=$TEST_TMP/chrome
chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$CHROME_DIR" "$@" 2>>"$TEST_TMP/chromium.log"; }
nojs_cmd() { CHROME_DIR=$TEST_TMP/nojs chrome "$@"; }
export -f chrome nojs_cmd; export CHROME_DIR TEST_TMP
login_url() { echo "$BASE/ui/login?token=$TOKEN&next=$1"; }

# --- access rules (curl) ------------------------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "without a session the list sends to the sign-in page" \
  bash -c '[ "$(curl -s -o /dev/null -w "%{http_code} %{redirect_url}" "$0/ui/")" = "303 $0/ui/login" ]' "$BASE"
check "the sign-in page is a form" bash -c 'curl -s "$0/ui/login" | grep -q "name=\"token\""' "$BASE"
check "a wrong token: 401, no cookie" \
  bash -c '[ "$(curl -s -D - -o /dev/null "$0/ui/login?token=wrong" | grep -ci "^set-cookie")" = 0 ] &&
           [ "$(curl -s -o /dev/null -w "%{http_code}" "$0/ui/login?token=wrong")" = 401 ]' "$BASE"
hdrs=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/ui/")
check "pages carry a strict Content-Security-Policy (no script)" \
  bash -c 'grep -qi "^content-security-policy: default-src '"'"'none'"'"'; style-src '"'"'self'"'"'" <<<"$0" &&
           ! grep -i "^content-security-policy" <<<"$0" | grep -q script' "$hdrs"
check "... and are neither framed nor cached" \
  bash -c 'grep -qi "^x-frame-options: DENY" <<<"$0" && grep -qi "^cache-control: no-store" <<<"$0"' "$hdrs"
check "a page for another Host name is refused (DNS rebinding)" \
  [ "$(code -H "Host: evil.example" -H "Authorization: Bearer $TOKEN" "$BASE/ui/")" = 403 ]
check "sign-in never sends to another site (next=//evil)" \
  bash -c '[ "$(curl -s -o /dev/null -w "%{redirect_url}" "$0/ui/login?token=$1&next=//evil.example/ui/")" = "$0/ui/" ]' "$BASE" "$TOKEN"

# --- a release under load -----------------------------------------------------
require "v1 initializes" wait_phase Initialized 90
canaryctl load "$URL" --rate 30 --concurrency 8 --duration 0 -o json >"$TEST_TMP/load.json" 2>&1 &
track $!
canaryctl hold podinfo >/dev/null   # the release stays in analysis while the browser looks
set_version --version v2
require "v2 is analysed" wait_phase Progressing 60
history_ready() {  # the weight went up and each metric has 2 values
  curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/namespaces/default/canaries/podinfo/history" |
    /usr/bin/python3 -c '
import json,sys
h=json.load(sys.stdin); p=h["points"]
ok=len(h["metrics"])==2 and max(x["canaryWeight"] for x in p)>0 and all(
  sum(1 for x in p if x["values"][k] is not None)>=2 for k in range(2))
sys.exit(0 if ok else 1)'
}
i=0; while ! history_ready && [ $i -lt 120 ]; do i=$((i + 1)); sleep 0.5; done
require "the history API has weights and two values of each metric" history_ready
api_weight() { canaryctl get canaries -o json | /usr/bin/python3 -c '
import json,sys; print(json.load(sys.stdin)["items"][0]["status"]["canaryWeight"])'; }

# --- the list in Chromium, with and without JavaScript -------------------------
w_before=$(api_weight)
chrome --dump-dom "$(login_url /ui/)" >"$TEST_TMP/list.html"
# JavaScript off: the profile's content setting (Chromium 156's headless
# mode prints nothing at all under --blink-settings=scriptEnabled=false)
mkdir -p "$TEST_TMP/nojs/Default"
echo '{"profile":{"default_content_setting_values":{"javascript":2}}}' >"$TEST_TMP/nojs/Default/Preferences"
nojs() { CHROME_DIR=$TEST_TMP/nojs chrome "$@"; }
check "the JavaScript-less profile runs no script (control page)" bash -c '
  out=$("$0" --dump-dom "data:text/html,<p>a</p><script>document.write(\"RAN\")</script>")
  grep -q "<p>a</p>" <<<"$out" && ! grep -q ">RAN<\|</script>RAN" <<<"$out"' nojs_cmd
nojs --dump-dom "$(login_url /ui/)" >"$TEST_TMP/list-nojs.html"
w_after=$(api_weight)
for f in list list-nojs; do
  check "$f: the canary's row links to its page" \
    grep -q '<td class="name"><a href="/ui/canaries/default/podinfo">podinfo</a></td>' "$TEST_TMP/$f.html"
  check "$f: its phase is Progressing" grep -q '<span class="phase busy">Progressing</span>' "$TEST_TMP/$f.html"
  w=$(sed -n 's/.*<span class="canary-weight">\([0-9]*\)<\/span>.*/\1/p' "$TEST_TMP/$f.html")
  pw=$(sed -n 's/.*<span class="primary-weight">\([0-9]*\)<\/span>.*/\1/p' "$TEST_TMP/$f.html")
  check "$f: the canary weight ($w) is the API's (between $w_before and $w_after) and the two add up" \
    bash -c '[ -n "$0" ] && [ "$0" -ge "$1" ] && [ "$0" -le "$2" ] && [ $(($0 + $3)) = 100 ] && [ "$0" -gt 0 ]' \
      "$w" "$w_before" "$w_after" "${pw:-x}"
done

# --- the canary's page ---------------------------------------------------------
chrome --dump-dom "$(login_url /ui/canaries/default/podinfo)" >"$TEST_TMP/canary.html"
P=$TEST_TMP/canary.html
check "the page names the canary" grep -q '<span id="name">podinfo</span>' "$P"
check "the weights chart has the canary's and the primary's lines" \
  bash -c 'grep -q "<svg class=\"chart\" id=\"chart-weights\"" "$0" &&
           grep -q "<polyline class=\"series canary\" points=\"[0-9.,]* [0-9.,]*" "$0" &&
           grep -q "<polyline class=\"series primary\"" "$0"' "$P"
check "a chart per metric, each with its threshold line and measured points" \
  bash -c 'for k in 0 1; do
    sed -n "/id=\"chart-metric-$k\"/,/<\/svg>/p" "$0" >"$0.$k"
    grep -q "<line class=\"threshold\"" "$0.$k" && [ "$(grep -o "<circle class=\"value\"" "$0.$k" | wc -l)" -ge 2 ] || exit 1
  done' "$P"
check "the metrics are named with their thresholds" \
  bash -c 'grep -q "<h3>request-success-rate</h3>" "$0" && grep -q "<h3>request-duration</h3>" "$0" &&
           grep -q "min</tspan>\|>min 99<" "$0"' "$P"
check "the events are there (the new revision)" \
  bash -c 'grep -q "<table id=\"events\">" "$0" && grep -q "New revision detected" "$0"' "$P"
check "promote and abort buttons while the release is analysed, with a CSRF token" \
  bash -c 'grep -q "<button type=\"submit\" id=\"promote\"" "$0" &&
           grep -q "<button type=\"submit\" id=\"abort\"" "$0" &&
           grep -q "<input type=\"hidden\" name=\"csrf\" value=\"[0-9a-f]\{64\}\">" "$0"' "$P"
check "the held promotion shows" grep -q 'promotion held' "$P"

chrome --window-size=1200,1800 --screenshot="$TEST_TMP/canary.png" "$(login_url /ui/canaries/default/podinfo)" >/dev/null
check "a screenshot of the canary's page: a 1200x1800 PNG of more than 20 kB" /usr/bin/python3 -c '
import struct,sys,os
d=open(sys.argv[1],"rb").read()
w,h=struct.unpack(">II", d[16:24])
sys.exit(0 if d[:8]==b"\x89PNG\r\n\x1a\n" and (w,h)==(1200,1800) and os.path.getsize(sys.argv[1])>20000 else 1)' \
  "$TEST_TMP/canary.png"
[ -n "${CANARYD_KEEP_SCREENSHOT:-}" ] && cp "$TEST_TMP/canary.png" "$CANARYD_KEEP_SCREENSHOT"

# --- forms: CSRF and origin, then the abort button as a browser sends it ------------------
JAR=$TEST_TMP/jar
curl -s -c "$JAR" -o /dev/null "$BASE/ui/login?token=$TOKEN"
check "signing in sets an HttpOnly, SameSite=Strict cookie" \
  bash -c 'curl -s -D - -o /dev/null "$0/ui/login?token=$1" | grep -i "^set-cookie:" | grep -i "httponly" | grep -qi "samesite=strict"' "$BASE" "$TOKEN"
check "the sign-in form (POST, as a browser sends it) starts a session too" \
  bash -c 'curl -s -D - -o /dev/null -H "Origin: $0" --data-urlencode "token=$1" "$0/ui/login" |
           grep -qi "^set-cookie: canaryd_ui_$2=[0-9a-f]\{64\};"' "$BASE" "$TOKEN" "$PORT"
csrf=$(curl -s -b "$JAR" "$BASE/ui/canaries/default/podinfo" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
require "the page of a session has its CSRF token" [ ${#csrf} = 64 ]
post() { curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -X POST "$@"; }
ABORT=$BASE/ui/canaries/default/podinfo/abort
check "a form from another site is refused (403)" \
  [ "$(post -H 'Origin: http://evil.example' --data "csrf=$csrf" "$ABORT")" = 403 ]
check "a form without an Origin is refused (403)" [ "$(post --data "csrf=$csrf" "$ABORT")" = 403 ]
check "a form without the CSRF token is refused (403)" \
  [ "$(post -H "Origin: $BASE" --data "csrf=0000" "$ABORT")" = 403 ]
check "a form without the session is refused (401)" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Origin: $BASE" --data "csrf=$csrf" "$ABORT")" = 401 ]
check "... and none of them changed anything" [ "$(phase)" = Progressing ]
check "the abort button: 303 back to the canary's page" \
  [ "$(post -H "Origin: $BASE" --data "csrf=$csrf" "$ABORT")" = 303 ]
check "the release is rolled back" [ "$(wait_done 60)" = Failed ]
chrome --dump-dom "$(login_url /ui/canaries/default/podinfo)" >"$TEST_TMP/failed.html"
check "the Failed canary's page has no buttons" \
  bash -c 'grep -q "<span class=\"phase failed\">Failed</span>" "$0" && ! grep -q "id=\"abort\"\|id=\"promote\"" "$0"' "$TEST_TMP/failed.html"
check "the dashboard's abort is an event of the release" \
  grep -q 'Rolling back\|rolling back\|Canary failed' "$TEST_TMP/failed.html"
check "the token is in no log line" bash -c '! grep -q "$0" "$1"' "$TOKEN" "$W/canaryd.log"
stop_canaryd
finish
