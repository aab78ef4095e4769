# shellcheck shell=bash
# shellcheck disable=SC2034  # variables set here are read by the tests
# tests/cluster/lib.sh: the multi-node harness of the cluster tests. It
# sources tests/net/lib.sh for the shared pieces (fail/skip/pass, wait_for,
# bg/bg_client_py/bg_wait/bg_stop, client_py, in_client, devnet_up,
# lines_in) and replaces its single-loomd parts. Source it from a test that
# has `set -euo pipefail`:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "$0")/lib.sh"
#   cluster_init converge        # root or exit 77; TAG, WORK, SEED, trap
#   cluster_up 3                 # devnet + one config per node (WORK/nI/)
#   start_nodes                  # every node, each up and serving REST
#   wait_peers_up 120            # every session established
#   load_start l1 1 t 5000       # http_load.py against node 1 (background)
#   loads_wait 600               # every load client exited 0
#   wait_converged 300 t         # lag 0, cursors == heads, digests equal
#   verify_acks t "$WORK"/*.acks # every acked id on every node
#   stop_nodes; pass
#
# Functions (each documented where it is defined):
#   nodes    cluster_up N [CLIENTS], cluster_down [wipe], start_node I,
#            start_nodes [I...], stop_node I, stop_nodes, kill_node I,
#            restart_node I, node_ip I, node_ns I, node_up I, up_nodes,
#            with_nodes CMD..., link_set I up|down, node_rss I, report_rss
#   metrics  metrics I [FILE], metric I NAME [LABELS], metric_in FILE NAME
#            [LABELS], metric_all NAME [LABELS], metric_sum_up NAME
#   checks   wait_peers_up SECS, wait_converged SECS [TABLE...],
#            converged_once [TABLE...], cluster_report [TABLE...],
#            digests_equal TABLE, table_records TABLE, verify_acks TABLE
#            ACKS..., verify_on I TABLE ACKS..., spot_check TABLE IDS_FILE K
#   load     load_start NAME I TABLE COUNT [ARGS...], load_acks NAME,
#            loads_wait SECS, loads_stop, load_summary NAME, acks_total
#            FILES..., cluster_py J GUARD ARGS... (cluster_http.py)
#   misc     pick N (PICK = seeded 1..N), client_of I
#
# Nodes are numbered 1..N like the devnet's: node I has id I, namespace
# CL_NS[I], address CL_IP[I] (A.B.C.(10+I)), config CL_CFG[I] =
# WORK/nI/loomd.ini, data WORK/nI/data, stats WORK/nI/stats.json and one
# log per run, WORK/nI/loomd.K.log (CL_LOG[I] is the current one). A node
# that the test started and did not stop or kill is "up" (CL_UP[I] = 1):
# wait_for, bg_wait and with_nodes fail at once if an up node's loomd dies.
#
# The EXIT trap kills every loomd and background tool, takes the devnet
# down, prints (on failure) the end of every node's log and every tool's
# output, and removes WORK (LOOM_KEEP_WORK=1 keeps it).
#
# Replication config (docs/REPLICATION.md, docs/CONTROL.md): every node
# gets node-config.sh --control-socket WORK/nI/loomd.sock (a repl lcore;
# peers and keys from loom-controld, or from the test in CL_KEYS=ctl mode).
# LOOM_CLUSTER_REPL=0 leaves it out (standalone nodes: only to try the
# harness itself; nothing converges then).
#
# Environment: as tests/net/lib.sh (LOOM_SOURCE_DIR, LOOM_BUILD_DIR,
# LOOM_LOOMD, LOOM_KEEP_WORK, LOOM_NODE_FLAGS: extra node-config.sh flags
# for every node, last), plus LOOM_CLUSTER_SEED (the RNG seed; printed, so a
# failure can be replayed), LOOM_CLUSTER_REPL (default 1),
# LOOM_CLUSTER_START_S (per node start bound, 180).

# shellcheck source-path=SCRIPTDIR source=../net/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../net/lib.sh"

CLUSTER_DIR=$SRC/tests/cluster
CL_N=0 CL_CLIENTS=0 CL_BR_NS="" SEED=""
CL_NS=() CL_IP=() CL_BR_IF=() CL_CFG=() CL_LOG=() CL_PID=() CL_UP=() CL_RUNS=()
CLUSTER_NODE_FLAGS=()  # node-config.sh flags for every node (set before cluster_up)
# Where the nodes' peers and keys come from: "controld" (the default: a
# loom-controld per node on its mg0 address, certificates from a CA in
# WORK/pki made by cluster_up, started by start_nodes, which also forms
# the cluster with `loomctl node add` the first time: controld_* below),
# or "ctl" (each loomd's control socket WORK/nI/loomd.sock, and the test
# hands out keys itself with ctl_keys / keys_* below). Set before
# cluster_up.
CL_KEYS=${LOOM_CLUSTER_KEYS:-controld}
CL_FORMED=0
CL_MGMT=() CTLD_PID=() CTLD_LOG=() CTLD_RUNS=()
CONTROLD=${LOOM_CONTROLD:-$BUILD/loom-controld}
CONTROLD_FLAGS=()  # extra "key = value" lines for every controld.ini
LOAD_NAMES=() LOAD_PIDS=()
METRICS_CLIENT=1        # the client namespace that reads /metrics
START_S=${LOOM_CLUSTER_START_S:-180}
CONV_WHY="" CONV_SNAP=""

# cluster_init NAME: skip unless root, check the tools, pick a unique devnet
# tag, make WORK, seed RANDOM (LOOM_CLUSTER_SEED or a fresh seed, printed),
# install the cleanup trap.
cluster_init() {
  local name=$1 t
  [[ $EUID -eq 0 ]] || skip "needs root"
  for t in ip jq python3 timeout curl; do
    command -v "$t" >/dev/null 2>&1 || fail "$t not found; run scripts/install-deps.sh"
  done
  t=${name:0:1}
  [[ $t =~ ^[a-z]$ ]] || t=t
  exec {NET_OUT}>&1
  TAG="$t$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/loom-cluster-$name.XXXXXX")
  [[ -d $WORK ]] || fail "mktemp -d failed"
  trap cluster_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  SEED=${LOOM_CLUSTER_SEED:-$((($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 32767) + 1))}
  [[ $SEED =~ ^[0-9]+$ ]] || fail "LOOM_CLUSTER_SEED must be a number, got '$SEED'"
  RANDOM=$SEED
  echo "seed $SEED (replay with LOOM_CLUSTER_SEED=$SEED); devnet tag $TAG; work $WORK"
}

cluster_cleanup() {
  local rc=$?
  trap - EXIT
  cluster_cleanup_body "$rc" >&"$NET_OUT" 2>&1
  exit "$rc"
}

cluster_cleanup_body() {
  local rc=$1 i
  for i in "${!BG_PIDS[@]}"; do
    if kill -9 "${BG_PIDS[i]}" 2>/dev/null; then wait "${BG_PIDS[i]}" 2>/dev/null || true; fi
  done
  for i in "${!CTLD_PID[@]}"; do
    if [[ -n ${CTLD_PID[i]} ]] && kill -9 "${CTLD_PID[i]}" 2>/dev/null; then
      wait "${CTLD_PID[i]}" 2>/dev/null || true
    fi
  done
  for i in "${!CL_PID[@]}"; do
    if [[ -n ${CL_PID[i]} ]] && kill -9 "${CL_PID[i]}" 2>/dev/null; then
      wait "${CL_PID[i]}" 2>/dev/null || true
    fi
  done
  if [[ -n $TAG ]]; then
    "$DEVNET" down --tag "$TAG" >/dev/null 2>&1 || true
    rm -rf "/var/run/dpdk/loom-${TAG:?}-"n*
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -n $WORK ]]; then
    for i in "${!BG_PIDS[@]}"; do
      if [[ -s $WORK/${BG_NAMES[i]}.log ]]; then
        echo "--- ${BG_NAMES[i]}.log (last 12 lines)"; tail -n 12 "$WORK/${BG_NAMES[i]}.log" | cut -c1-1000
      fi
    done
    for i in "$WORK"/*.out; do
      if [[ -s $i ]]; then echo "--- ${i##*/} (last 12 lines)"; tail -n 12 "$i" | cut -c1-1000; fi
    done
    for i in "${!CTLD_LOG[@]}"; do
      if [[ -f ${CTLD_LOG[i]} ]]; then
        echo "--- node $i: ${CTLD_LOG[i]#"$WORK"/} (last 25 lines)"; tail -n 25 "${CTLD_LOG[i]}"
      fi
    done
    for i in "${!CL_LOG[@]}"; do
      if [[ -f ${CL_LOG[i]} ]]; then
        echo "--- node $i: ${CL_LOG[i]#"$WORK"/} (last 25 lines)"; tail -n 25 "${CL_LOG[i]}"
      fi
    done
  fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ ${LOOM_KEEP_WORK:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "${WORK:?}"; fi
  fi
}

# loomd_check WHAT (replaces tests/net/lib.sh's, which wait_for and bg_wait
# call): fail now if the loomd of an up node has exited.
loomd_check() {
  local i rc
  for ((i = 1; i <= CL_N; i++)); do
    [[ ${CL_UP[i]:-0} == 1 ]] || continue
    kill -0 "${CL_PID[i]}" 2>/dev/null && continue
    rc=0
    wait "${CL_PID[i]}" 2>/dev/null || rc=$?
    CL_UP[i]=0 CL_PID[i]=""
    fail "node $i's loomd exited (status $rc) $1"
  done
}

# pick N: PICK = a seeded random number in 1..N. (Not in $(...): a
# subshell's RANDOM does not advance the test's sequence.)
PICK=""
pick() { PICK=$((RANDOM % $1 + 1)); }

# client_of I: the client namespace index that drives node I.
client_of() { echo $((($1 - 1) % CL_CLIENTS + 1)); }

node_ip() { echo "${CL_IP[$1]}"; }
node_ns() { echo "${CL_NS[$1]}"; }
node_up() { [[ ${CL_UP[$1]:-0} == 1 ]]; }

# up_nodes: the indexes of the up nodes, one line.
up_nodes() {
  local i out=()
  for ((i = 1; i <= CL_N; i++)); do
    if node_up "$i"; then out+=("$i"); fi
  done
  echo "${out[*]}"
}

# repl_flags I: REPL_FLAGS = the node-config.sh flags that make node I
# replicate (CL_IP of every node must be set).
REPL_FLAGS=()
repl_flags() {
  local i=$1
  REPL_FLAGS=()
  [[ ${LOOM_CLUSTER_REPL:-1} == 1 ]] || return 0
  ((CL_N > 1)) || return 0
  case $CL_KEYS in
    ctl|controld) REPL_FLAGS=(--control-socket "${WORK:?}/n$i/loomd.sock") ;;
    *) fail "CL_KEYS must be controld or ctl, not '$CL_KEYS'" ;;
  esac
}

# --- the control plane (CL_KEYS=controld) ------------------------------------

# pki_init: a cluster CA in WORK/pki and a certificate for every node
# (WORK/pki/nodes/nI/); what a previous cluster_up of the test made is
# kept.
pki_init() {
  local i out
  [[ -x $LOOMCTL ]] || fail "no loomctl at $LOOMCTL"
  if [[ ! -f ${WORK:?}/pki/ca.crt.pem ]]; then
    out=$("$LOOMCTL" ca init --dir "$WORK/pki" --cluster "$TAG" 2>&1) || fail "loomctl ca init: $out"
  fi
  for ((i = 1; i <= CL_N; i++)); do
    [[ -f $WORK/pki/nodes/n$i/n$i.crt.pem ]] && continue
    out=$("$LOOMCTL" cert issue "n$i" --dir "$WORK/pki" 2>&1) || fail "loomctl cert issue n$i: $out"
  done
}

# controld_config I [CERT_NODE [PKI_DIR]]: WORK/nI/controld.ini for node I
# (with the certificate and key of CERT_NODE, default nI, from PKI_DIR,
# default WORK/pki: a test may hand a node another's, or another CA's),
# then the CONTROLD_FLAGS lines.
controld_config() {
  local i=$1 c=${2:-n$1} pki=${3:-${WORK:?}/pki}
  mkdir -p "${WORK:?}/n$i/control"
  {
    printf '[controld]\nname = %s\nlisten = %s:9925\n' "$c" "${CL_MGMT[i]}"
    printf 'ca = %s\ncrl = %s\n' "$pki/ca.crt.pem" "$pki/crl.pem"
    printf 'cert = %s\nkey = %s\n' "$pki/nodes/$c/$c.crt.pem" "$pki/nodes/$c/$c.key.pem"
    printf 'state_dir = %s\nloomd_socket = %s\nadmin_socket = %s\n' \
      "$WORK/n$i/control" "$WORK/n$i/loomd.sock" "$WORK/n$i/controld.sock"
    if ((${#CONTROLD_FLAGS[@]})); then printf '%s\n' "${CONTROLD_FLAGS[@]}"; fi
  } >"$WORK/n$i/controld.ini"
}

# controld_start I: node I's loom-controld in its namespace (its loomd's
# socket may come later: it retries).
controld_start() {
  local i=$1
  [[ -x $CONTROLD ]] || fail "no loom-controld at $CONTROLD"
  [[ -f $WORK/n$i/controld.ini ]] || controld_config "$i"
  CTLD_RUNS[i]=$((${CTLD_RUNS[i]:-0} + 1))
  CTLD_LOG[i]=$WORK/n$i/controld.${CTLD_RUNS[i]}.log
  ip netns exec "${CL_NS[i]}" "$CONTROLD" --config "$WORK/n$i/controld.ini" >"${CTLD_LOG[i]:?}" 2>&1 &
  CTLD_PID[i]=$!
  wait_for 30 "node $i's loom-controld admin socket" test -S "$WORK/n$i/controld.sock"
}

# controld_kill I: kill -9 node I's loom-controld.
controld_kill() {
  local i=$1
  [[ -n ${CTLD_PID[i]:-} ]] || fail "controld_kill: node $i has no loom-controld"
  kill -9 "${CTLD_PID[i]}" 2>/dev/null || true
  wait "${CTLD_PID[i]}" 2>/dev/null || true
  CTLD_PID[i]=""
}

# controld_alive: every started loom-controld still runs.
controld_alive() {
  local i
  for i in "${!CTLD_PID[@]}"; do
    [[ -z ${CTLD_PID[i]} ]] || kill -0 "${CTLD_PID[i]}" 2>/dev/null ||
      fail "node $i's loom-controld exited: $(tail -n 5 "${CTLD_LOG[i]}" | paste -sd' ' | cut -c1-600)"
  done
}

# loomctl_on I ARGS...: loomctl ARGS against node I's loom-controld.
loomctl_on() {
  local i=$1; shift
  timeout -k 5 30 "$LOOMCTL" "$@" --socket "${WORK:?}/n$i/controld.sock"
}

# controld_form: the cluster made with `loomctl node add` for every node,
# all sent to node 1's loom-controld (it spreads the topology).
controld_form() {
  local i out
  for ((i = 1; i <= CL_N; i++)); do
    out=$(loomctl_on 1 node add --id "$i" --name "n$i" --mgmt "${CL_MGMT[i]}:9925" \
      --dp "${CL_IP[i]}" 2>&1) || fail "loomctl node add n$i: $out"
  done
}

# --- keys through loomd's control socket (CL_KEYS=ctl) -------------------------

# ctl_keys I ARGS...: tests/cluster/ctl_keys.py ARGS on node I's socket.
ctl_keys() {
  local i=$1; shift
  local cmd=$1; shift
  timeout -k 5 30 python3 "$CLUSTER_DIR/ctl_keys.py" "$cmd" "${WORK:?}/n$i/loomd.sock" "$@"
}

# pair_secret I J EPOCH: the secret of pair {I, J} in EPOCH (64 hex digits,
# random, made once and kept in WORK/keys/).
pair_secret() {
  local lo=$1 hi=$2 f
  if ((lo > hi)); then lo=$2 hi=$1; fi
  f=${WORK:?}/keys/$lo-$hi.$3
  if [[ ! -s $f ]]; then
    mkdir -p "$WORK/keys"
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"${f:?}"
  fi
  cat "$f"
}

# key_set I J EPOCH: node I gets the key of EPOCH for peer J.
key_set() {
  local out
  out=$(ctl_keys "$1" set "$2" "${CL_IP[$2]}" "$3" "$(pair_secret "$1" "$2" "$3")" 2>&1) ||
    fail "node $1: PEER_SET of peer $2 epoch $3: $out"
}

# keys_pair I J EPOCH: both ends of pair {I, J} get EPOCH.
keys_pair() { key_set "$1" "$2" "$3"; key_set "$2" "$1" "$3"; }

# keys_all EPOCH: every pair of the up nodes gets EPOCH.
keys_all() {
  local i j
  for i in $(up_nodes); do
    for j in $(up_nodes); do ((i < j)) && keys_pair "$i" "$j" "$1"; done
  done
  return 0
}

# cluster_up N [CLIENTS]: a devnet with N nodes and CLIENTS client
# namespaces (default N, at most 16), one config per node in
# WORK/nI/loomd.ini (node-config.sh with the repl flags, then
# CLUSTER_NODE_FLAGS, then LOOM_NODE_FLAGS), and with CL_KEYS=controld the
# cluster CA and every node's certificate (pki_init).
cluster_up() {
  local n=$1 clients=${2:-$1} i out
  local -a extra=()
  ((n >= 1 && n <= 16)) || fail "cluster_up: 1..16 nodes"
  ((clients >= 1 && clients <= 16)) || fail "cluster_up: 1..16 clients"
  [[ -x $LOOMD ]] || fail "no loomd at $LOOMD (build it, or set LOOM_BUILD_DIR or LOOM_LOOMD)"
  devnet_up "$n" "$clients"
  CL_N=$n CL_CLIENTS=$clients
  CL_BR_NS=$(jq -r '.bridge_ns' <<<"$DEVNET_STATE")
  read -ra extra <<<"${LOOM_NODE_FLAGS:-}"
  for ((i = 1; i <= n; i++)); do
    CL_NS[i]=$(jq -r ".nodes[$((i - 1))].ns" <<<"$DEVNET_STATE")
    CL_IP[i]=$(jq -r ".nodes[$((i - 1))].ip" <<<"$DEVNET_STATE")
    CL_MGMT[i]=$(jq -r ".nodes[$((i - 1))].mgmt_ip" <<<"$DEVNET_STATE")
    CL_BR_IF[i]=$(jq -r ".nodes[$((i - 1))].name" <<<"$DEVNET_STATE")
    CL_PID[i]="" CL_UP[i]=0 CL_RUNS[i]=0 CL_LOG[i]=""
  done
  for ((i = 1; i <= n; i++)); do
    mkdir -p "${WORK:?}/n$i"
    CL_CFG[i]=$WORK/n$i/loomd.ini
    repl_flags "$i"
    if ! out=$("$SRC/scripts/node-config.sh" --tag "$TAG" --node "$i" \
      --ip "${CL_IP[i]}/$PREFIX" --dir "$WORK/n$i" --stats-interval-ms 500 \
      "${REPL_FLAGS[@]}" "${CLUSTER_NODE_FLAGS[@]}" "${extra[@]}" 2>&1); then
      fail "node-config.sh for node $i: $out"
    fi
    printf '%s\n' "$out" >"${CL_CFG[i]:?}"
    "$LOOMD" --check-config "${CL_CFG[i]}" >"$WORK/n$i/check-config.out" 2>&1 ||
      fail "loomd --check-config for node $i: $(tail -n 5 "$WORK/n$i/check-config.out")"
  done
  if [[ $CL_KEYS == controld ]]; then pki_init; fi
  echo "cluster: $n nodes (${CL_IP[*]}), $clients client namespace(s), devnet $TAG," \
    "keys from ${CL_KEYS}"
}

# cluster_down [wipe]: stop every up node (SIGTERM, clean), kill the
# background tools, take the devnet down; "wipe" also removes WORK/n*/ so
# that a later cluster_up starts from empty data dirs.
cluster_down() {
  local i
  for i in "${!CTLD_PID[@]}"; do
    if [[ -n ${CTLD_PID[i]} ]]; then controld_kill "$i"; fi
  done
  stop_nodes
  for i in "${!BG_PIDS[@]}"; do
    if kill -9 "${BG_PIDS[i]}" 2>/dev/null; then wait "${BG_PIDS[i]}" 2>/dev/null || true; fi
  done
  BG_PIDS=() BG_NAMES=() LOAD_NAMES=() LOAD_PIDS=()
  devnet_down
  if [[ ${1:-} == wipe ]]; then
    for ((i = 1; i <= CL_N; i++)); do rm -rf "${WORK:?}/n$i"; done
  fi
  CL_NS=() CL_IP=() CL_BR_IF=() CL_CFG=() CL_LOG=() CL_PID=() CL_UP=() CL_RUNS=()
  CL_MGMT=() CTLD_PID=() CTLD_LOG=() CTLD_RUNS=()
  CL_N=0 CL_FORMED=0
}

# launch_node I: start node I's loomd in its namespace (no waiting).
launch_node() {
  local i=$1
  [[ -n ${CL_CFG[i]:-} ]] || fail "launch_node: no node $i"
  ! node_up "$i" || fail "launch_node: node $i is already running"
  CL_RUNS[i]=$((CL_RUNS[i] + 1))
  CL_LOG[i]=${WORK:?}/n$i/loomd.${CL_RUNS[i]}.log
  rm -f "${WORK:?}/n$i/stats.json"
  ip netns exec "${CL_NS[i]}" "$LOOMD" --config "${CL_CFG[i]}" >"${CL_LOG[i]:?}" 2>&1 &
  CL_PID[i]=$!
  CL_UP[i]=1
}

# node_serving I: node I answers GET /health with 200.
node_serving() {
  [[ $(in_client "$(client_of "$1")" curl -s -o /dev/null --max-time 5 -w '%{http_code}' \
    "http://${CL_IP[$1]}:$HTTP_PORT/health" 2>/dev/null) == 200 ]]
}

# node_polling I N: at least N lcores of node I have logged "polling port".
node_polling() {
  local c
  c=$(grep -c "polling port" "${CL_LOG[$1]}" 2>/dev/null || true)
  ((${c:-0} >= $2))
}

# wait_node_ready I [SECONDS]: every io lcore of node I polls, its stats
# file exists and its REST API answers /health.
wait_node_ready() {
  local i=$1 secs=${2:-$START_S} n
  n=$(io_lcore_count "${CL_CFG[i]}")
  n=${n:-1}
  wait_for "$secs" "node $i's $n io lcore(s) to poll" node_polling "$i" "$n"
  wait_for 30 "node $i's stats file" test -s "$WORK/n$i/stats.json"
  wait_for "$secs" "node $i's REST API (GET /health on ${CL_IP[i]})" node_serving "$i"
}

# start_node I: start node I and wait until it serves REST.
start_node() {
  launch_node "$1"
  wait_node_ready "$1"
}

# shellcheck disable=SC2120  # the node list is optional
# start_nodes [I...]: start the nodes (default: all) at once, then wait for
# each to serve.
start_nodes() {
  local -a ids=("$@") i
  if ((${#ids[@]} == 0)); then mapfile -t ids < <(seq 1 "$CL_N"); fi
  for i in "${ids[@]}"; do launch_node "$i"; done
  for i in "${ids[@]}"; do wait_node_ready "$i"; done
  if [[ $CL_KEYS == controld ]]; then
    for i in "${ids[@]}"; do
      [[ -n ${CTLD_PID[i]:-} ]] || controld_start "$i"
    done
    if ((!CL_FORMED && CL_N > 1)); then
      controld_form
      CL_FORMED=1
    fi
  fi
  echo "nodes ${ids[*]} serving"
}

# kill_node I: SIGKILL node I's loomd (a crash) and reap it.
kill_node() {
  local i=$1
  node_up "$i" || fail "kill_node: node $i is not running"
  loomd_check "before kill -9 of node $i"
  kill -9 "${CL_PID[i]}"
  wait "${CL_PID[i]}" 2>/dev/null || true
  CL_UP[i]=0 CL_PID[i]=""
  echo "node $i: kill -9"
}

# stop_node I [SECONDS]: SIGTERM; node I's loomd must exit 0 within SECONDS
# (90) and log "clean shutdown".
stop_node() {
  local i=$1 secs=${2:-90} rc=0 pid
  node_up "$i" || fail "stop_node: node $i is not running"
  loomd_check "before SIGTERM to node $i"
  pid=${CL_PID[i]}
  CL_UP[i]=0
  kill -TERM "$pid"
  local end=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null; do
    [[ $SECONDS -lt $end ]] || fail "node $i still running ${secs}s after SIGTERM"
    sleep 0.2
  done
  wait "$pid" || rc=$?
  CL_PID[i]=""
  [[ $rc -eq 0 ]] || fail "node $i exited $rc after SIGTERM"
  grep -q "clean shutdown" "${CL_LOG[i]}" || fail "node $i: no clean shutdown in its log"
}

# stop_nodes: stop_node for every up node.
stop_nodes() {
  local i
  for ((i = 1; i <= CL_N; i++)); do
    if node_up "$i"; then stop_node "$i"; fi
  done
}

# restart_node I: stop node I cleanly if it runs, then start it on the same
# data (after kill_node, just start it).
restart_node() {
  if node_up "$1"; then stop_node "$1"; fi
  start_node "$1"
  echo "node $1: restarted (run ${CL_RUNS[$1]})"
}

# with_nodes COMMAND...: run COMMAND while watching the up nodes; if one
# dies first, COMMAND is stopped and the test fails saying so. Returns
# COMMAND's status (not in a pipeline or $(...)).
with_nodes() {
  local pid rc=0 i
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for ((i = 1; i <= CL_N; i++)); do
      if node_up "$i" && ! kill -0 "${CL_PID[i]}" 2>/dev/null; then
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        loomd_check "while running: $*"
      fi
    done
    sleep 0.2
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# node_rss I: "RSS_KiB PEAK_KiB" of node I's loomd (VmRSS, VmHWM).
node_rss() {
  awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r + 0, h + 0}' \
    "/proc/${CL_PID[$1]}/status" 2>/dev/null || echo "0 0"
}

# report_rss: one line per up node with its RSS and peak, and the totals.
report_rss() {
  local i r h tr=0 th=0
  for i in $(up_nodes); do
    read -r r h < <(node_rss "$i")
    echo "node $i: RSS $((r / 1024)) MiB, peak $((h / 1024)) MiB"
    tr=$((tr + r)) th=$((th + h))
  done
  echo "all nodes: RSS $((tr / 1024)) MiB, peaks summed $((th / 1024)) MiB;" \
    "MemAvailable $(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo) MiB"
}

# --- metrics -----------------------------------------------------------------

# metrics I [FILE]: GET /metrics of node I (from client METRICS_CLIENT) into
# FILE (default WORK/nI/metrics.txt); status 0 iff it answered 200.
metrics() {
  local i=$1 file=${2:-${WORK:?}/n$1/metrics.txt} code
  code=$(in_client "$METRICS_CLIENT" curl -sS --max-time 10 -o "$file" -w '%{http_code}' \
    "http://${CL_IP[i]}:$HTTP_PORT/metrics" 2>/dev/null) || true
  [[ $code == 200 ]]
}

# metric_in FILE NAME [LABELS]: the value of NAME in the Prometheus text
# FILE, as printed (no float rounding: digests are u64). With LABELS
# ('origin="2"' or origin=2; several comma-separated) the sample with
# exactly that label set; without, the unlabelled sample, or the sum of all
# samples when NAME has labels. Empty when absent.
metric_in() {
  awk -v n="$2" -v want="${3:-}" '
    function norm(s) { gsub(/["[:space:]]/, "", s); return s }
    BEGIN { want = norm(want) }
    /^#/ { next }
    {
      name = $1; labels = ""
      i = index(name, "{")
      if (i > 0) { labels = substr(name, i + 1); sub(/}$/, "", labels); name = substr(name, 1, i - 1) }
      if (name != n) next
      if (want != "") { if (norm(labels) == want) { print $2; found = 1; exit } ; next }
      if (labels == "") { plain = $2; hasplain = 1 }
      if (cnt == 0) first = $2
      sum += $2; cnt++
    }
    END {
      if (found || want != "") exit
      if (hasplain) print plain
      else if (cnt == 1) print first
      else if (cnt > 1) printf "%.0f\n", sum
    }' "$1"
}

# metric I NAME [LABELS]: fetch node I's /metrics and print NAME's value
# (see metric_in); status 1 (nothing printed) if /metrics did not answer.
metric() {
  local f=${WORK:?}/n$1/metric.txt
  metrics "$1" "$f" || return 1
  metric_in "$f" "$2" "${3:-}"
}

# metric_all NAME [LABELS]: "I=VALUE" for every up node, one line.
metric_all() {
  local i out=()
  for i in $(up_nodes); do out+=("$i=$(metric "$i" "$1" "${2:-}" || echo '?')"); done
  echo "${out[*]}"
}

# metric_sum_up NAME: the sum of NAME over the up nodes (absent counts 0);
# empty if some node's /metrics did not answer.
metric_sum_up() {
  local i v s=0
  for i in $(up_nodes); do
    v=$(metric "$i" "$1") || return 0
    s=$((s + ${v:-0}))
  done
  echo "$s"
}

# --- convergence -------------------------------------------------------------

# converged_once [TABLE...]: one look at every up node's /metrics (saved in
# WORK/nI/metrics.txt). Succeeds iff every session between up nodes is up,
# every loom_repl_lag_entries is 0, every node's loom_repl_cursor{origin=X}
# equals X's loom_storage_own_seq, and for each TABLE
# loom_storage_table_digest and _records are present and equal everywhere.
# Otherwise CONV_WHY says why (the first reason). CONV_SNAP: own seqs and
# table values (converged only when it stays the same over two looks).
converged_once() {
  local -a ids own=()
  local i j t v f0 f ref_d ref_r d r
  read -ra ids <<<"$(up_nodes)"
  CONV_SNAP=""
  ((${#ids[@]} > 0)) || { CONV_WHY="no node is up"; return 1; }
  for i in "${ids[@]}"; do
    metrics "$i" || { CONV_WHY="node $i: GET /metrics failed"; return 1; }
  done
  for i in "${ids[@]}"; do
    own[i]=$(metric_in "$WORK/n$i/metrics.txt" loom_storage_own_seq)
    [[ -n ${own[i]} ]] || {
      CONV_WHY="node $i exports no loom_storage_own_seq (replication metrics, docs/REPLICATION.md, not in this loomd?)"
      return 1
    }
    CONV_SNAP+="own$i=${own[i]} "
  done
  for i in "${ids[@]}"; do
    f=$WORK/n$i/metrics.txt
    for j in "${ids[@]}"; do
      ((i == j)) && continue
      v=$(metric_in "$f" loom_repl_peer_up "peer=\"$j\"")
      [[ $v == 1 || -n ${CONV_LINKS_MAY_BE_DOWN:-} ]] ||
        { CONV_WHY="node $i: loom_repl_peer_up{peer=\"$j\"} is ${v:-absent}, want 1"; return 1; }
      v=$(metric_in "$f" loom_repl_lag_entries "origin=\"$j\"")
      [[ $v == 0 ]] || { CONV_WHY="node $i: loom_repl_lag_entries{origin=\"$j\"} is ${v:-absent}, want 0"; return 1; }
      v=$(metric_in "$f" loom_repl_cursor "origin=\"$j\"")
      [[ $v == "${own[j]}" ]] || {
        CONV_WHY="node $i: loom_repl_cursor{origin=\"$j\"} is ${v:-absent}, node $j's loom_storage_own_seq is ${own[j]}"
        return 1
      }
    done
  done
  for t in "$@"; do
    f0=$WORK/n${ids[0]}/metrics.txt
    ref_d=$(metric_in "$f0" loom_storage_table_digest "table=\"$t\"")
    ref_r=$(metric_in "$f0" loom_storage_table_records "table=\"$t\"")
    [[ -n $ref_d && -n $ref_r ]] || {
      CONV_WHY="node ${ids[0]}: no loom_storage_table_digest/_records{table=\"$t\"}"
      return 1
    }
    for i in "${ids[@]:1}"; do
      f=$WORK/n$i/metrics.txt
      d=$(metric_in "$f" loom_storage_table_digest "table=\"$t\"")
      r=$(metric_in "$f" loom_storage_table_records "table=\"$t\"")
      [[ $d == "$ref_d" && $r == "$ref_r" ]] || {
        CONV_WHY="table $t: node ${ids[0]} has $ref_r records, digest $ref_d; node $i has ${r:-absent} records, digest ${d:-absent}"
        return 1
      }
    done
    CONV_SNAP+="$t=$ref_r/$ref_d "
  done
  return 0
}

# cluster_report [TABLE...]: the replication state of every up node, from
# the last converged_once (WORK/nI/metrics.txt).
cluster_report() {
  local i t f
  for i in $(up_nodes); do
    f=$WORK/n$i/metrics.txt
    [[ -s $f ]] || { echo "node $i: no /metrics"; continue; }
    if ! grep -qE '^loom_(repl_[a-z_]+\{|storage_own_seq)' "$f"; then
      echo "node $i: no replication metrics (loom_storage_own_seq, loom_repl_*{...})"
      continue
    fi
    echo "node $i: own_seq $(metric_in "$f" loom_storage_own_seq)" \
      "reconnects $(metric_in "$f" loom_repl_reconnects_total)" \
      "applied $(metric_in "$f" loom_repl_entries_applied_total)" \
      "sent $(metric_in "$f" loom_repl_entries_sent_total)"
    grep -E '^loom_repl_(peer_up|cursor|origin_head|lag_entries|peer_acked)\{' "$f" |
      paste -sd' ' | fold -s -w 160 | sed 's/^/    /' || true
    for t in "$@"; do
      echo "    table $t: records $(metric_in "$f" loom_storage_table_records "table=\"$t\"")" \
        "digest $(metric_in "$f" loom_storage_table_digest "table=\"$t\"")"
    done
  done
}

# wait_converged SECONDS [TABLE...]: wait (bounded) until converged_once
# holds on two consecutive looks with the same own seqs and table values;
# fails with the last reason and every node's replication state. The nodes
# must be idle (no load running).
wait_converged() {
  local secs=$1; shift
  local end=$((SECONDS + secs)) t0=$SECONDS last="" absent_since=""
  while true; do
    loomd_check "while waiting for convergence"
    if converged_once "$@"; then
      if [[ $CONV_SNAP == "$last" ]]; then
        echo "converged after $((SECONDS - t0)) s: $CONV_SNAP"
        return 0
      fi
      last=$CONV_SNAP
      CONV_WHY="not yet stable"
    else
      last=""
    fi
    # Fail fast when this loomd has no replication at all.
    if [[ $CONV_WHY == *"exports no loom_storage_own_seq"* ]]; then
      absent_since=${absent_since:-$SECONDS}
      if ((SECONDS - absent_since >= 30)); then
        cluster_report "$@" >&"$NET_OUT"
        fail "not converged: $CONV_WHY"
      fi
    fi
    if ((SECONDS >= end)); then
      cluster_report "$@" >&"$NET_OUT"
      fail "not converged after ${secs}s: $CONV_WHY"
    fi
    sleep 1
  done
}

# wait_peers_up SECONDS: every session between up nodes is established
# (loom_repl_peer_up{peer=J} == 1 on every up node I for every up J != I).
# Fails after 30 s if no node exports any replication metric (loom_repl_
# peer_up/cursor/lag_entries{...}, loom_storage_own_seq): a loomd without
# replication.
wait_peers_up() {
  local secs=$1 end=$((SECONDS + $1)) t0=$SECONDS i j v why ok any answered
  while true; do
    loomd_check "while waiting for the replication sessions"
    ok=1 any=0 answered=1 why=""
    for i in $(up_nodes); do
      if ! metrics "$i"; then
        ok=0 answered=0 why=${why:-"node $i: GET /metrics failed"}
        continue
      fi
      if grep -qE '^(loom_repl_(peer_up|cursor|lag_entries)\{|loom_storage_own_seq )' \
        "$WORK/n$i/metrics.txt"; then any=1; fi
      for j in $(up_nodes); do
        ((i == j)) && continue
        v=$(metric_in "$WORK/n$i/metrics.txt" loom_repl_peer_up "peer=\"$j\"")
        if [[ $v != 1 ]]; then
          ok=0 why=${why:-"node $i: loom_repl_peer_up{peer=\"$j\"} is ${v:-absent}"}
        fi
      done
    done
    if ((ok)); then
      echo "replication sessions up after $((SECONDS - t0)) s"
      return 0
    fi
    if ((!any && answered && SECONDS - t0 >= 30)); then
      fail "no node exports replication metrics (loom_repl_peer_up, loom_repl_cursor," \
        "loom_storage_own_seq) after 30 s: this loomd does not replicate yet" \
        "(docs/REPLICATION.md; node 1's config has $(grep -cE '^\[control\]' "${CL_CFG[1]}")" \
        "[control] section)"
    fi
    ((SECONDS < end)) || fail "replication sessions not up after ${secs}s: $why"
    sleep 1
  done
}

# digests_equal TABLE: loom_storage_table_digest and _records{table=TABLE}
# present and equal on every up node (one fresh look); prints them.
digests_equal() {
  local t=$1 i d r ref="" out=() ok=0
  for i in $(up_nodes); do
    metrics "$i" || { echo "node $i: GET /metrics failed"; return 1; }
    d=$(metric_in "$WORK/n$i/metrics.txt" loom_storage_table_digest "table=\"$t\"")
    r=$(metric_in "$WORK/n$i/metrics.txt" loom_storage_table_records "table=\"$t\"")
    out+=("node $i: ${r:-?} records, digest ${d:-?}")
    [[ -n $d && -n $r ]] || ok=1
    [[ -z $ref || $ref == "$r/$d" ]] || ok=1
    ref=${ref:-$r/$d}
  done
  printf 'table %s: %s\n' "$t" "${out[0]}"
  printf '          %s\n' "${out[@]:1}"
  return "$ok"
}

# table_records TABLE: the (agreed) record count of TABLE on the up nodes,
# from the last digests_equal / converged_once look.
table_records() {
  metric_in "$WORK/n$(up_nodes | awk '{print $1}')/metrics.txt" loom_storage_table_records "table=\"$1\""
}

# --- load and checks -----------------------------------------------------------

# cluster_py J GUARD_SECS ARGS...: tests/cluster/cluster_http.py ARGS in
# client J's namespace, killed if it outlives GUARD_SECS.
cluster_py() {
  local j=$1 guard=$2; shift 2
  timeout -k 10 "$guard" ip netns exec "${CLIENT_NS[j]}" \
    python3 "$CLUSTER_DIR/cluster_http.py" "$@"
}

# load_start NAME I TABLE COUNT [HTTP_LOAD ARGS...]: http_load.py in the
# background against node I from its client namespace: COUNT POSTs of the
# 400-byte reference record, UUID keys, acked ids in WORK/NAME.acks, output
# in WORK/NAME.log. LOAD_CONNS (32) connections, LOAD_DEADLINE_S (600) bound.
LOAD_CONNS=${LOAD_CONNS:-32}
LOAD_DEADLINE_S=${LOAD_DEADLINE_S:-600}
load_start() {
  local name=$1 i=$2 table=$3 count=$4; shift 4
  bg_client_py "$name" "$(client_of "$i")" http_load.py --host "${CL_IP[i]}" \
    --port "$HTTP_PORT" --conns "$LOAD_CONNS" --count "$count" --table "$table" \
    --keys uuid --body-bytes 400 --ack-log "${WORK:?}/$name.acks" \
    --deadline "$LOAD_DEADLINE_S" "$@"
  LOAD_NAMES+=("$name") LOAD_PIDS+=("$BG_PID")
  : >>"$WORK/$name.acks"
}

# load_acks NAME: how many ids load NAME has logged so far.
load_acks() { lines_in "$WORK/$1.acks"; }

# loads_wait SECONDS: wait for every started load to exit (bounded); fail
# naming the loads that did not exit 0. Prints each one's summary.
loads_wait() {
  local secs=$1 k rc bad=()
  for k in "${!LOAD_PIDS[@]}"; do
    rc=0
    bg_wait "${LOAD_PIDS[k]}" "$secs" "load ${LOAD_NAMES[k]}" || rc=$?
    load_summary "${LOAD_NAMES[k]}"
    ((rc == 0)) || bad+=("${LOAD_NAMES[k]}")
  done
  LOAD_NAMES=() LOAD_PIDS=()
  ((${#bad[@]} == 0)) || {
    for k in "${bad[@]}"; do echo "--- $k.log"; tail -n 15 "$WORK/$k.log" | cut -c1-600; done
    fail "load client(s) failed: ${bad[*]}"
  }
}

# loads_stop: stop every started load (stop file WORK/stop; they get their
# --drain), then loads_wait 120. Start them with --stop-file "$WORK/stop".
loads_stop() {
  touch "${WORK:?}/stop"
  loads_wait 120
  rm -f "${WORK:?}/stop"
}

# load_summary NAME: one line from load NAME's JSON summary.
load_summary() {
  local s
  s=$(tail -n 1 "$WORK/$1.log" 2>/dev/null)
  if jq -e . >/dev/null 2>&1 <<<"$s"; then
    echo "load $1: $(jq -c '{host, acked_201, statuses, errors, unanswered, seconds, rate}' <<<"$s")"
  else
    echo "load $1: no summary"
  fi
}

# acks_total FILE...: the number of distinct ids in the ack logs.
acks_total() { cat "$@" | sort -u | wc -l; }

# verify_acks TABLE ACKS...: every id in the ack logs reads back on every up
# node (http_load.py --verify-log: 200, the same id, the record that was
# sent); fails naming the node otherwise. VERIFY_DEADLINE_S (600) per node.
VERIFY_DEADLINE_S=${VERIFY_DEADLINE_S:-600}
verify_acks() {
  local table=$1 i; shift
  for i in $(up_nodes); do verify_on "$i" "$table" "$@"; done
}

# verify_on I TABLE ACKS...: verify_acks on node I only.
verify_on() {
  local i=$1 table=$2 rc=0 n all out s; shift 2
  all=${WORK:?}/verify-$table.ids
  sort -u "$@" >"${all:?}"
  n=$(lines_in "$all")
  ((n > 0)) || fail "verify: no acknowledged ids in $*"
  out=$WORK/verify-$table-n$i.out
  with_nodes client_py "$(client_of "$i")" $((VERIFY_DEADLINE_S + 60)) http_load.py \
    --host "${CL_IP[i]}" --port "$HTTP_PORT" --table "$table" --body-bytes 400 \
    --verify-log "$all" --verify-conns 8 --deadline "$VERIFY_DEADLINE_S" \
    >"${out:?}" || rc=$?
  s=$(tail -n 1 "$out" | jq -c '.verify | {ids, ok, failed, not_checked, statuses}' 2>/dev/null ||
    echo "no summary")
  if ((rc != 0)); then
    tail -n 12 "$out" | cut -c1-400
    fail "node $i: acknowledged ids of table $table missing or wrong: $s"
  fi
  echo "node $i: all $n acknowledged ids of $table read back" \
    "($(tail -n 1 "$out" | jq -r '.verify.seconds') s)"
}

# spot_check TABLE IDS_FILE K: GET K ids of IDS_FILE (chosen with SEED) on
# every up node: 200 and the same body and ETag everywhere.
spot_check() {
  local table=$1 idfile=$2 k=$3 hosts="" i rc=0
  for i in $(up_nodes); do hosts+="${hosts:+,}${CL_IP[i]}"; done
  with_nodes cluster_py "$METRICS_CLIENT" 300 compare \
    --hosts "$hosts" --port "$HTTP_PORT" --table "$table" --keys-from "$idfile" \
    --sample "$k" --seed "$SEED" >"$WORK/spot-$table.out" || rc=$?
  if ((rc != 0)); then
    tail -n 42 "$WORK/spot-$table.out" | cut -c1-600
    fail "spot check of $k ids of $table: the nodes disagree (see above)"
  fi
  echo "spot check: $(tail -n 1 "$WORK/spot-$table.out" | jq -r '.same') ids of $table" \
    "with the same body and ETag on nodes $(up_nodes)"
}

# link_isolate I on|off: node I's port on the devnet bridge isolated (or
# not): isolated ports reach no other isolated port but every other one, so
# isolating two nodes cuts just the link between them (the kernel here has
# no tc actions or nftables to drop one pair's frames otherwise).
link_isolate() {
  local i=$1 state=$2
  ip netns exec "$CL_BR_NS" bridge link set dev "${CL_BR_IF[i]}" isolated "$state" ||
    fail "bridge link set dev ${CL_BR_IF[i]} isolated $state (in $CL_BR_NS)"
}

# link_set I up|down: node I's veth port on the devnet bridge (in the
# bridge namespace; dp0 in the node's namespace, which DPDK holds, is left
# alone and loses carrier).
link_set() {
  local i=$1 state=$2
  ip -n "$CL_BR_NS" link show "${CL_BR_IF[i]}" >/dev/null 2>&1 ||
    fail "no ${CL_BR_IF[i]} in $CL_BR_NS: $(ip -n "$CL_BR_NS" -br link 2>&1 | paste -sd' ')"
  ip -n "$CL_BR_NS" link set "${CL_BR_IF[i]}" "$state" ||
    fail "ip -n $CL_BR_NS link set ${CL_BR_IF[i]} $state"
}
