# shellcheck shell=bash
# shellcheck disable=SC2034  # variables set here are read by the tests
# tests/net/lib.sh: the shared harness of the net tests. Source it from a
# test that has `set -euo pipefail`:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "$0")/lib.sh"
#   net_init tcpecho                 # root or exit 77; TAG, WORK, cleanup trap
#   devnet_up 1 1                    # NODE_NS NODE_IP NODE_MAC PREFIX, CLI_*
#   node_config --echo-port 7 >"$WORK/n1.ini"
#   start_loomd "$WORK/n1.ini"       # waits for every io lcore to poll
#   with_loomd client_py 1 300 tcp_echo_client.py --host "$NODE_IP" ... \
#     || fail "..."                  # fails at once if loomd dies meanwhile
#   wait_for 60 "connections to drain" stats_true '.totals.tcp_conns == 0'
#   stop_loomd                       # SIGTERM, exit 0, "clean shutdown"
#   pass
#
# Everything runs inside the namespaces of a devnet with a unique tag; the
# EXIT trap kills loomd and background tools, takes the devnet down, prints
# the end of loomd's log (and of every background tool's) on failure, and
# removes WORK (LOOM_KEEP_WORK=1 keeps it).
#
# Environment: LOOM_SOURCE_DIR (default: this checkout), LOOM_BUILD_DIR
# (default SRC/build), LOOM_LOOMD (the loomd binary, default BUILD/loomd),
# LOOM_NODE_FLAGS (extra node-config.sh flags, e.g. "--io 2"),
# LOOM_KEEP_WORK=1 (keep WORK: config, loomd.log, stats.json, tool output).

SRC=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${LOOM_BUILD_DIR:-$SRC/build}
LOOMD=${LOOM_LOOMD:-$BUILD/loomd}
DEVNET=$SRC/scripts/devnet.sh
NET_DIR=$SRC/tests/net

TAG="" WORK="" LOOMD_PID="" LOOMD_LOG="" STATS="" DEVNET_STATE=""
DEVNET_IS_UP=0
NODE_NS="" NODE_IP="" NODE_MAC="" PREFIX=""
CLI_NS="" CLI_IP="" CLI_MAC=""
CLIENT_NS=() CLIENT_IP=() CLIENT_MAC=()  # 1-based: client J is devnet's cJ
BG_PIDS=() BG_NAMES=()
BG_PID=""

# fail and the cleanup write to the test's own stdout (NET_OUT, saved by
# net_init) even when called under a redirection, e.g. from a wait_for in
# `cmd >file` or a $(...).
NET_OUT=1
fail() { echo "FAIL: $*" >&"$NET_OUT"; exit 1; }
skip() { echo "SKIP: $*" >&"$NET_OUT"; exit 77; }
pass() { echo "PASS"; }

# net_init NAME: skip unless root, check the tools, pick a unique devnet tag
# (NAME's first letter + 6 random hex digits), make WORK, install the trap.
net_init() {
  local name=$1 t
  [[ $EUID -eq 0 ]] || skip "needs root"
  for t in ip jq python3 timeout; do
    command -v "$t" >/dev/null 2>&1 || fail "$t not found; run scripts/install-deps.sh"
  done
  t=${name:0:1}
  [[ $t =~ ^[a-z]$ ]] || t=t
  exec {NET_OUT}>&1
  TAG="$t$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/loom-$name.XXXXXX")
  LOOMD_LOG=$WORK/loomd.log
  STATS=$WORK/stats.json
  trap net_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

net_cleanup() {
  local rc=$?
  trap - EXIT
  net_cleanup_body "$rc" >&"$NET_OUT" 2>&1
  exit "$rc"
}

net_cleanup_body() {
  local rc=$1 i
  for i in "${!BG_PIDS[@]}"; do
    if kill -9 "${BG_PIDS[i]}" 2>/dev/null; then wait "${BG_PIDS[i]}" 2>/dev/null || true; fi
  done
  if [[ -n $LOOMD_PID ]] && kill -9 "$LOOMD_PID" 2>/dev/null; then
    wait "$LOOMD_PID" 2>/dev/null || true
  fi
  if [[ -n $TAG ]]; then
    "$DEVNET" down --tag "$TAG" >/dev/null 2>&1 || true
    # EAL leaves its runtime directory (one per --file-prefix) behind.
    rm -rf "/var/run/dpdk/loom-${TAG:?}-"n*
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -n $WORK ]]; then
    for i in "${!BG_PIDS[@]}"; do
      if [[ -s $WORK/${BG_NAMES[i]}.log ]]; then
        echo "--- ${BG_NAMES[i]}.log (last 20 lines)"; tail -n 20 "$WORK/${BG_NAMES[i]}.log"
      fi
    done
    for i in "$WORK"/*.out; do
      if [[ -s $i ]]; then echo "--- ${i##*/} (last 20 lines)"; tail -n 20 "$i" | cut -c1-2000; fi
    done
    if [[ -s $STATS ]]; then
      echo "--- stats.json: totals and tcp counters"
      jq -c '.totals, (.lcores[]? | select(.tcp) | {lcore, tcp})' "$STATS" 2>/dev/null || true
    fi
    if [[ -f $LOOMD_LOG ]]; then
      echo "--- loomd.log (last 40 lines)"; tail -n 40 "$LOOMD_LOG"
    fi
  fi
  if [[ -n $WORK ]]; then
    if [[ ${LOOM_KEEP_WORK:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  fi
}

# loomd_check WHAT: if loomd was started and has exited since, fail now
# (with its exit status) instead of waiting out a deadline.
loomd_check() {
  local rc=0
  [[ -n $LOOMD_PID ]] || return 0
  kill -0 "$LOOMD_PID" 2>/dev/null && return 0
  wait "$LOOMD_PID" 2>/dev/null || rc=$?
  LOOMD_PID=""
  fail "loomd exited (status $rc) $1"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
# (fails early if loomd dies meanwhile).
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    loomd_check "while waiting for $what"
    [[ $SECONDS -lt $end ]] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

# with_loomd COMMAND...: run COMMAND while watching loomd; if loomd exits
# first, COMMAND is stopped and the test fails saying so. Returns COMMAND's
# exit status. (Not in a pipeline: it must run in the test's own shell.)
with_loomd() {
  local pid rc=0
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -n $LOOMD_PID ]] && ! kill -0 "$LOOMD_PID" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null || true  # COMMAND may be a function
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      loomd_check "while running: $*"
    fi
    sleep 0.2
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# devnet_up NODES CLIENTS: bring the tag's devnet up; node 1 and client 1
# in NODE_* / CLI_*, client J in CLIENT_NS[J], CLIENT_IP[J], CLIENT_MAC[J].
devnet_up() {
  local nodes=$1 clients=$2 j
  "$DEVNET" up --nodes "$nodes" --clients "$clients" --tag "$TAG" >/dev/null
  DEVNET_IS_UP=1
  DEVNET_STATE=$("$DEVNET" status --tag "$TAG" --json)
  NODE_NS=$(jq -r '.nodes[0].ns' <<<"$DEVNET_STATE")
  NODE_IP=$(jq -r '.nodes[0].ip' <<<"$DEVNET_STATE")
  NODE_MAC=$(jq -r '.nodes[0].mac' <<<"$DEVNET_STATE")
  PREFIX=$(jq -r '.prefix' <<<"$DEVNET_STATE")
  for ((j = 1; j <= clients; j++)); do
    CLIENT_NS[j]=$(jq -r ".clients[$((j - 1))].ns" <<<"$DEVNET_STATE")
    CLIENT_IP[j]=$(jq -r ".clients[$((j - 1))].ip" <<<"$DEVNET_STATE")
    CLIENT_MAC[j]=$(jq -r ".clients[$((j - 1))].mac" <<<"$DEVNET_STATE")
  done
  if ((clients > 0)); then
    CLI_NS=${CLIENT_NS[1]} CLI_IP=${CLIENT_IP[1]} CLI_MAC=${CLIENT_MAC[1]}
  fi
}

devnet_down() {
  "$DEVNET" down --tag "$TAG" >/dev/null
  DEVNET_IS_UP=0
}

# node_config [FLAGS...]: node-config.sh for node 1 of this devnet, stats
# every 100 ms into WORK; FLAGS are node-config.sh's (later ones win), and
# LOOM_NODE_FLAGS (e.g. "--io 2") comes last, to rerun a test in another
# configuration.
node_config() {
  local -a extra=()
  read -ra extra <<<"${LOOM_NODE_FLAGS:-}"
  "$SRC/scripts/node-config.sh" --tag "$TAG" --node 1 --ip "$NODE_IP/$PREFIX" \
    --dir "$WORK" --stats-interval-ms 100 "$@" "${extra[@]}"
}

# in_client [J] COMMAND...: run COMMAND in client J's namespace (default 1).
in_client() {
  local j=1
  if [[ $1 =~ ^[0-9]+$ ]]; then j=$1; shift; fi
  [[ -n ${CLIENT_NS[j]:-} ]] || fail "in_client: no client $j"
  ip netns exec "${CLIENT_NS[j]}" "$@"
}

in_node() { ip netns exec "$NODE_NS" "$@"; }

# client_py J GUARD_SECS TOOL.py ARGS...: a tests/net tool in client J's
# namespace, killed if it outlives GUARD_SECS (its own --deadline should end
# it first). Returns the tool's exit status.
client_py() {
  local j=$1 guard=$2 tool=$3; shift 3
  timeout -k 10 "$guard" ip netns exec "${CLIENT_NS[j]}" \
    python3 "$NET_DIR/$tool" "$@"
}

# bg NAME COMMAND...: COMMAND in the background, output in WORK/NAME.log;
# BG_PID is its pid. Killed by the cleanup if still running.
bg() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
  BG_NAMES+=("$name")
}

# bg_client_py NAME J TOOL.py ARGS...: a tests/net tool in the background in
# client J's namespace (BG_PID is the python process itself).
bg_client_py() {
  local name=$1 j=$2 tool=$3; shift 3
  [[ -n ${CLIENT_NS[j]:-} ]] || fail "bg_client_py: no client $j"
  bg "$name" ip netns exec "${CLIENT_NS[j]}" python3 "$NET_DIR/$tool" "$@"
}

# bg_wait PID SECONDS DESCRIPTION: wait for a bg process to exit (fail if it
# is still running after SECONDS, or if loomd dies); returns its exit status.
bg_wait() {
  local pid=$1 secs=$2 what=$3 rc=0
  local end=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null; do
    loomd_check "while waiting for $what"
    [[ $SECONDS -lt $end ]] || fail "$what still running after ${secs}s"
    sleep 0.2
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# bg_stop PID: SIGTERM a bg process and wait (10 s, then SIGKILL); returns
# its exit status.
bg_stop() {
  local pid=$1 rc=0 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  return "$rc"
}

# io_lcore_count CONFIG: how many ids the [lcores] io list names.
io_lcore_count() {
  awk -F= '
    /^[[:space:]]*\[/ { sec = $0; gsub(/[][[:space:]]/, "", sec); next }
    sec == "lcores" && $1 ~ /^[[:space:]]*io[[:space:]]*$/ {
      n = split($2, ids, ","); print n; exit }' "$1"
}

# start_loomd CONFIG [SECONDS]: check the config, start loomd in node 1's
# namespace (log in LOOMD_LOG, pid in LOOMD_PID), wait until every io lcore
# logs "polling port" and the stats file exists.
start_loomd() {
  local cfg=$1 secs=${2:-60} n rc=0
  [[ -x $LOOMD ]] || fail "no loomd at $LOOMD (build it, or set LOOM_BUILD_DIR or LOOM_LOOMD)"
  "$LOOMD" --check-config "$cfg" || fail "loomd --check-config $cfg"
  n=$(io_lcore_count "$cfg")
  n=${n:-1}
  rm -f "$STATS"
  ip netns exec "$NODE_NS" "$LOOMD" --config "$cfg" >"$LOOMD_LOG" 2>&1 &
  LOOMD_PID=$!
  local end=$((SECONDS + secs))
  while (($(grep -c "polling port" "$LOOMD_LOG" || true) < n)); do
    if ! kill -0 "$LOOMD_PID" 2>/dev/null; then
      wait "$LOOMD_PID" || rc=$?
      LOOMD_PID=""
      fail "loomd exited with status $rc while starting"
    fi
    [[ $SECONDS -lt $end ]] || fail "timed out after ${secs}s waiting for $n io lcore(s) to poll"
    sleep 0.2
  done
  wait_for 10 "the stats file" test -s "$STATS"
}

loomd_alive() { [[ -n $LOOMD_PID ]] && kill -0 "$LOOMD_PID" 2>/dev/null; }

# shellcheck disable=SC2120  # SECONDS is optional
# stop_loomd [SECONDS]: SIGTERM; loomd must exit 0 within SECONDS (60) and
# log "clean shutdown".
stop_loomd() {
  local secs=${1:-60} rc=0
  [[ -n $LOOMD_PID ]] || fail "stop_loomd: loomd is not running"
  loomd_alive || fail "loomd died before SIGTERM"
  kill -TERM "$LOOMD_PID"
  local end=$((SECONDS + secs))
  while kill -0 "$LOOMD_PID" 2>/dev/null; do
    [[ $SECONDS -lt $end ]] || fail "loomd still running ${secs}s after SIGTERM"
    sleep 0.2
  done
  wait "$LOOMD_PID" || rc=$?
  LOOMD_PID=""
  [[ $rc -eq 0 ]] || fail "loomd exited $rc after SIGTERM"
  grep -q "clean shutdown" "$LOOMD_LOG" || fail "no clean shutdown in the log"
  echo "SIGTERM: clean shutdown"
}

# stats_get JQ_EXPR: the expression over WORK/stats.json (jq -r).
stats_get() { jq -r "$1" "$STATS"; }
# stats_true JQ_EXPR: succeeds iff the expression is true (jq -e).
stats_true() { jq -e "$1" "$STATS" >/dev/null 2>&1; }
# tcp_stat NAME: a TCP counter summed over the io lcores (0 if absent).
tcp_stat() {
  jq -r --arg n "$1" '[.lcores[]? | .tcp[$n]? // 0] | add // 0' "$STATS"
}

# --- TCP -------------------------------------------------------------------

# require_tcp_stats: loomd's stats carry the TCP counters (totals.tcp_conns
# and a "tcp" object per io lcore); a clear failure until TCP is wired in.
require_tcp_stats() {
  wait_for 10 "TCP counters in stats.json (.totals.tcp_conns, .lcores[].tcp)" \
    stats_true '(.totals | has("tcp_conns")) and ([.lcores[] | select(.role == "io") | has("tcp")] | all)'
}

# wait_echo_service PORT [SECONDS]: loomd echoes a 16-byte probe on PORT
# (one connection per attempt, each bounded to 5 s).
wait_echo_service() {
  local port=$1 secs=${2:-30}
  wait_for "$secs" "loomd's echo service on $NODE_IP:$port" \
    client_py 1 15 tcp_echo_client.py --host "$NODE_IP" --port "$port" \
    --conns 1 --bytes 16 --deadline 5 --seed 99
}

# tcp_idle: no TCP connection in use (any state) per loomd's stats.
tcp_idle() { stats_true '.totals.tcp_conns == 0'; }

# tcp_report: loomd's TCP totals and the per-lcore counters, one line each.
tcp_report() {
  jq -c '{totals: .totals}, (.lcores[]? | select(.tcp) | {lcore, tcp})' "$STATS"
}

# --- HTTP (the REST API, DESIGN §3) -----------------------------------------

HTTP_PORT=9926 # loomd's default [dataplane] http_port
HTTP_STATUS=""
LOOMCTL=${LOOM_LOOMCTL:-$BUILD/loomctl}

# http_url PATH: the node's REST URL for PATH.
http_url() { echo "http://$NODE_IP:$HTTP_PORT$1"; }

# http_req NAME METHOD PATH [CURL ARGS...]: one request with curl from
# client 1 (bounded to 10 s): the response head(s) in WORK/NAME.head (an
# interim 100 Continue first, if any), the body in WORK/NAME.body, curl's
# stderr (and -v trace) in WORK/NAME.err; the status in HTTP_STATUS ("000"
# when there was no answer). Call it directly, not in $(...).
http_req() {
  local name=$1 method=$2 path=$3; shift 3
  HTTP_STATUS=$(in_client curl -sS --max-time 10 -X "$method" \
    -D "$WORK/$name.head" -o "$WORK/$name.body" -w '%{http_code}' \
    "$@" "$(http_url "$path")" 2>"$WORK/$name.err") || true
  HTTP_STATUS=${HTTP_STATUS:-000}
}

# expect_status NAME CODE: the last http_req (named NAME) answered CODE.
expect_status() {
  local body=""
  [[ -f $WORK/$1.body ]] && body=$(head -c 300 "$WORK/$1.body" | tr -d '\0')
  [[ $HTTP_STATUS == "$2" ]] ||
    fail "$1: status $HTTP_STATUS, want $2; body: $body; curl: $(tail -n 2 "$WORK/$1.err" 2>/dev/null)"
}

# expect_error NAME CODE: status CODE and a JSON body {"error": "..."}.
expect_error() {
  expect_status "$1" "$2"
  jq -e '(type == "object") and (.error | type == "string")' "$WORK/$1.body" >/dev/null 2>&1 ||
    fail "$1: the $2 body is not {\"error\": \"...\"}: $(head -c 300 "$WORK/$1.body")"
}

# http_header NAME FIELD: the value of FIELD (case-insensitive) in the final
# response head of http_req NAME; empty when absent.
http_header() {
  awk -v f="$(tr '[:upper:]' '[:lower:]' <<<"$2")" '
    { sub(/\r$/, "") }
    /^HTTP\// { v = ""; next }
    { i = index($0, ":")
      if (i > 0 && tolower(substr($0, 1, i - 1)) == f) {
        v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v) } }
    END { print v }' "$WORK/$1.head"
}

# http_health_ok [CURL ARGS...]: GET /health answers 200.
http_health_ok() {
  [[ $(in_client curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@" \
    "$(http_url /health)" 2>/dev/null) == 200 ]]
}

# wait_http [SECONDS [CURL ARGS...]]: wait until loomd's REST API answers
# GET /health with 200 (default 60 s).
wait_http() {
  local secs=${1:-60}
  if (($# > 0)); then shift; fi
  wait_for "$secs" "loomd's REST API (GET /health on $NODE_IP:$HTTP_PORT)" \
    http_health_ok "$@"
}

# metrics_get FILE [CURL ARGS...]: GET /metrics into FILE; fails unless 200.
metrics_get() {
  local file=$1 code; shift
  code=$(in_client curl -sS --max-time 10 -o "$file" -w '%{http_code}' "$@" \
    "$(http_url /metrics)" 2>/dev/null) || true
  [[ $code == 200 ]] || fail "GET /metrics: status ${code:-000}"
}

# metric_sum NAME FILE: the sum of every sample of metric NAME (with or
# without labels) in the Prometheus text FILE; empty when NAME is absent.
metric_sum() {
  awk -v n="$1" '
    /^#/ { next }
    $1 == n || index($1, n "{") == 1 {
      line = $0
      sub(/^[^ {]+(\{[^}]*\})?[ \t]+/, "", line)
      split(line, f, /[ \t]+/)
      s += f[1]; found = 1 }
    END { if (found) printf "%.0f\n", s }' "$2"
}

# metric_is NAME VALUE [CURL ARGS...]: /metrics has NAME summing to VALUE
# (METRIC_LAST keeps what was read).
METRIC_LAST=""
metric_is() {
  local name=$1 want=$2; shift 2
  metrics_get "$WORK/metrics.poll" "$@"
  METRIC_LAST=$(metric_sum "$name" "$WORK/metrics.poll")
  [[ $METRIC_LAST == "$want" ]]
}

# wait_metric SECONDS NAME VALUE [CURL ARGS...]: wait until NAME sums to
# VALUE (counters may trail the responses a little); fails with the last
# value read.
wait_metric() {
  local secs=$1 name=$2 want=$3; shift 3
  local end=$((SECONDS + secs))
  until metric_is "$name" "$want" "$@"; do
    loomd_check "while waiting for $name == $want"
    [[ $SECONDS -lt $end ]] ||
      fail "$name is '${METRIC_LAST}' after ${secs}s, want $want"
    sleep 0.2
  done
}

# user_hash USER PASSWORD: the verifier `loomctl passwd` makes for USER
# (1000 iterations: a test needs no guessing resistance), for
# node_config --user USER=HASH.
user_hash() {
  local out h
  [[ -x $LOOMCTL ]] || fail "no loomctl at $LOOMCTL (build it, or set LOOM_LOOMCTL)"
  out=$(printf '%s\n' "$2" | "$LOOMCTL" passwd --iterations 1000 "$1") ||
    fail "loomctl passwd --iterations 1000 $1 failed"
  # "USER = pbkdf2-sha256$N$SALT$HASH"
  h=$(sed -n 's/^[^=]*=[[:space:]]*//p' <<<"$out" | tail -n 1)
  [[ -n $h ]] || fail "loomctl passwd printed no verifier: $out"
  printf '%s\n' "$h"
}

# kill9_loomd: SIGKILL loomd (a crash: no shutdown at all) and reap it;
# start_loomd may then run it again on the same data.
kill9_loomd() {
  [[ -n $LOOMD_PID ]] || fail "kill9_loomd: loomd is not running"
  loomd_alive || loomd_check "before kill -9"
  kill -9 "$LOOMD_PID"
  wait "$LOOMD_PID" 2>/dev/null || true
  LOOMD_PID=""
}

# lines_in FILE: its line count (0 if it does not exist yet).
lines_in() {
  if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}
