#!/usr/bin/env bash
# harper.sh: Loom's insert workload against a Harper (HarperDB) cluster on
# this machine, for the side-by-side comparison (issue 7).
#
#   bench/harper.sh [--quick] [--nodes "1 2 3"] [--keys "uuid seq"]
#                   [--conns "64 256 500"] [--seconds S] [--warmup S]
#                   [--threads T] [--port-base P] [--sample K] [--out DIR]
#
# As root (it may apt-get install npm). Installs harperdb@$HARPER_VERSION
# (default 4.7.29) from the npm registry into $LOOM_HARPER_PREFIX (default
# /var/cache/loom-bench/harper; skipped when that version is there). For
# each cluster size N in --nodes (1..3): N Harper nodes on loopback, node i
# on 127.0.0.(10+i) with its own ports (operations API P+10+i, REST P+20+i,
# replication P+30+i; P = --port-base, default 19900), each with its own
# ROOTPATH and HOME under a temporary directory, installed non-interactively
# (prod defaults, Basic auth, no TLS, no MQTT, no studio; --threads sets
# threads.count) with the component bench/harper/app (table data.bench,
# primary key id, exported on REST as /bench/), joined into a full mesh
# with add_node (Harper's native replication over plain ws:// on
# loopback) and checked with a probe record per node, then warmed up
# (--warmup S of load, default 5, not measured). Then, for every key kind
# and connection count: wrk -t1 POSTs bench/wrk/insert.lua (the 400-byte,
# 8-field record; uuid or seq keys) to node 1 for S seconds (default 10,
# --quick 3) and logs the acknowledged ids. Reported per run:
#   inserts/s       acknowledged by node 1 (wrk; any non-2xx fails the run)
#   on all nodes/s  the records the run added over the time from its start
#                   until every node had them
#   p50/p99 ms      wrk's latency distribution
#   CPU ms/insert   utime+stime of every Harper process (all threads) from
#                   the load's start to convergence, over the inserts
#   other CPU %     CPU time of other processes (and steal) during the
#                   load, over all CPUs: other jobs (noise)
# Verified: every node's record count grew alike, by at least the 201s and
# at most the 201s plus the requests in flight when wrk stopped
# (connections + timeouts); every acknowledged id found on every node
# (search_by_id); a sample of K (default 20) read over REST on every node.
# A run that fails a check is written as FAILED, never as a figure, and
# the exit status is 1. Writes OUT/harper-DATE.md and .csv (OUT:
# bench/results). Default: nodes 1 2 3, keys uuid seq, conns 64 256 500
# (about 8 minutes on an idle machine); --quick: 3 s runs at 64
# connections, 2 s warm-up (about 2 minutes once Harper is installed).
# Every wait is bounded; everything is stopped and removed at exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
HCTL=$HERE/harper/hctl.py
LUA=$HERE/wrk/insert.lua
APP=$HERE/harper/app

usage() { sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; }

HARPER_VERSION=${HARPER_VERSION:-4.7.29}
prefix=${LOOM_HARPER_PREFIX:-/var/cache/loom-bench/harper}
nodes="1 2 3" keys="uuid seq" conns="64 256 500" secs=10 warmup=5 threads="" port_base=19900 sample=20
out=$SRC/bench/results
quick=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 secs=3 warmup=2 conns=64; shift ;;
    --warmup) warmup=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --port-base) port_base=$2; shift 2 ;;
    --sample) sample=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "harper.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "harper.sh: $*" >&2; exit 2; }
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 300 ]] || die "--seconds: 1..300"
[[ $warmup =~ ^[0-9]+$ && $warmup -le 120 ]] || die "--warmup: 0..120"
for n in $nodes; do [[ $n =~ ^[1-3]$ ]] || die "--nodes: cluster sizes 1..3"; done
for k in $keys; do [[ $k == uuid || $k == seq ]] || die "--keys: uuid and/or seq"; done
for c in $conns; do
  [[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 1000 ]] || die "--conns: counts in 1..1000"
done
[[ -z $threads || $threads =~ ^[1-9][0-9]?$ ]] || die "--threads: 1..99"
[[ $port_base =~ ^[0-9]+$ && $port_base -ge 1024 && $port_base -le 65000 ]] || die "--port-base: 1024..65000"
[[ $sample =~ ^[0-9]+$ && $sample -le 10000 ]] || die "--sample: 0..10000"
[[ -n $nodes && -n $keys && -n $conns ]] || die "--nodes, --keys and --conns need at least one value"
[[ $HARPER_VERSION =~ ^4\.[0-9]+\.[0-9]+$ ]] || die "HARPER_VERSION must be a 4.x version"
[[ $EUID -eq 0 ]] || die "run as root"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 not found"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"
command -v node >/dev/null || die "node not found (apt-get install nodejs)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || die "Harper 4.7 needs Node.js 18 or later, found $(node --version)"

log() { echo "== $*"; }

# --- install ------------------------------------------------------------
HDB=$prefix/node_modules/harperdb/bin/harperdb.js
installed_version() {
  node -p "require('$prefix/node_modules/harperdb/package.json').version" 2>/dev/null || true
}
if [[ $(installed_version) != "$HARPER_VERSION" ]]; then
  if ! command -v npm >/dev/null; then
    log "installing npm (apt)"
    timeout 600 apt-get install -y npm >/dev/null ||
      { timeout 300 apt-get update >/dev/null && timeout 600 apt-get install -y npm >/dev/null; } ||
      die "apt-get install npm failed"
  fi
  log "installing harperdb@$HARPER_VERSION into $prefix (npm)"
  mkdir -p "$prefix"
  # --ignore-scripts: no package's install script runs (none of them may
  # fetch anything); the native parts are prebuilt optional packages that
  # node-gyp-build finds at run time.
  timeout 900 npm install --prefix "$prefix" --cache "$prefix/.npm-cache" --no-audit --no-fund --ignore-scripts \
    --loglevel=error "harperdb@$HARPER_VERSION" || die "npm install harperdb@$HARPER_VERSION failed"
  [[ $(installed_version) == "$HARPER_VERSION" ]] || die "harperdb $HARPER_VERSION not found in $prefix after npm install"
fi
[[ -f $HDB ]] || die "$HDB missing"

# --- state and clean-up -------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/harper-bench.XXXXXX")
SESSIONS=()   # every Harper process (install or node) runs in its own session, id = its pid
NODE_PIDS=()  # the sessions of the running nodes

# spawn LOG I ARGS...: run ARGS (VAR=value... then a command) in a new
# session, with an environment of nothing but PATH, LANG and HOME (node
# I's directory: Harper keeps its boot properties in ~/.harperdb); sets
# SPAWNED. The subshell is not a process-group leader, so setsid does not
# fork and SPAWNED is the session's id.
spawn() {
  local log=$1 i=$2; shift 2
  mkdir -p "$WORK/n$i"
  (exec env -i PATH="$PATH" LANG=C.UTF-8 HOME="$WORK/n$i" setsid env "$@" >"$log" 2>&1) &
  SPAWNED=$!
  SESSIONS+=("$SPAWNED")
}

# kill_sessions ID...: SIGTERM to each session's process group, SIGKILL
# to what is left after 20 s, then reap.
kill_sessions() {
  local p i alive
  (($#)) || return 0
  for p in "$@"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for p in "$@"; do kill -0 -- "-$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for p in "$@"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
stop_nodes() {
  kill_sessions "${NODE_PIDS[@]}"
  NODE_PIDS=()
}
trap 'kill_sessions "${SESSIONS[@]}"; rm -rf "${WORK:?}"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

USER_NAME=bench
PASS=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export HARPER_AUTH=$USER_NAME:$PASS
B64=$(printf '%s' "$HARPER_AUTH" | base64 -w0)

addr() { echo "127.0.0.$((10 + $1))"; }
# shellcheck disable=SC2317  # called through urls
ops_url() { echo "http://$(addr "$1"):$((port_base + 10 + $1))"; }
rest_url() { echo "http://$(addr "$1"):$((port_base + 20 + $1))"; }
repl_url() { echo "ws://$(addr "$1"):$((port_base + 30 + $1))"; }
urls() { local f=$1 n=$2 i s=""; for ((i = 1; i <= n; i++)); do s+="$($f "$i"),"; done; echo "${s%,}"; }
port_busy() { [[ -n $(ss -Hltn "( sport = :$1 )") ]]; }

# Upper bound on a node's life: every run of a cluster, its waits, slack.
nruns=$(($(wc -w <<<"$keys") * $(wc -w <<<"$conns")))
wait_max=$((quick ? 60 : 120))
life=$(((nruns + 1) * (secs + warmup + wait_max + 90) + 300))

# install_node I: start the non-interactive install of node I (the
# configuration from environment variables, read by `harperdb install`);
# sets SPAWNED.
install_node() {
  local i=$1 a; a=$(addr "$1")
  local d=$WORK/n$i extra=()
  [[ -n $threads ]] && extra=(THREADS_COUNT="$threads")
  spawn "$d/install.log" "$i" TC_AGREEMENT=yes HDB_ADMIN_USERNAME="$USER_NAME" HDB_ADMIN_PASSWORD="$PASS" \
    ROOTPATH="$d/hdb" DEFAULTS_MODE=prod REPLICATION_HOSTNAME="$a" \
    REPLICATION_URL="$(repl_url "$i")" REPLICATION_PORT="$a:$((port_base + 30 + i))" REPLICATION_SECUREPORT=null \
    HTTP_PORT="$a:$((port_base + 20 + i))" HTTP_SECUREPORT=null \
    OPERATIONSAPI_NETWORK_PORT="$a:$((port_base + 10 + i))" OPERATIONSAPI_NETWORK_SECUREPORT=null \
    MQTT_NETWORK_PORT=null MQTT_NETWORK_SECUREPORT=null LOCALSTUDIO_ENABLED=false \
    LOGGING_LEVEL=warn LOGGING_STDSTREAMS=false AUTHENTICATION_AUTHORIZELOCAL=false "${extra[@]}" \
    timeout 180 node "$HDB" install
}

# start_node I: Harper in the foreground, in its own session, bounded by
# timeout; its session id goes to NODE_PIDS.
start_node() {
  local i=$1
  spawn "$WORK/n$i/run.log" "$i" timeout -k 10 "$life" node "$HDB"
  NODE_PIDS+=("$SPAWNED")
}

node_logs() {
  local f
  for f in "$WORK"/n*/run.log "$WORK"/n*/hdb/log/hdb.log; do
    [[ -f $f ]] || continue
    echo "--- $f"; tail -15 "$f"
  done
}

# cluster_ticks: utime+stime (clock ticks) of every process of every node.
cluster_ticks() {
  local p q t=0 s
  for p in "${NODE_PIDS[@]}"; do
    for q in $(ps -o pid= -s "$p" 2>/dev/null); do
      s=$(cat "/proc/$q/stat" 2>/dev/null) || continue
      s=${s##*) }
      t=$((t + $(awk '{print $12 + $13}' <<<"$s")))
    done
  done
  echo "$t"
}
TCK=$(getconf CLK_TCK)
# busy_ticks: the time the machine's CPUs ran processes or were taken by
# the hypervisor (clock ticks: user, nice, system, steal). Interrupts and
# softirqs are left out: they are mostly the loopback traffic of the load.
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $9; exit}' /proc/stat; }
# child_ticks: user+system time of this shell's finished children (wrk),
# in clock ticks. `times` runs in this shell: a subshell's are zero.
child_ticks() {
  times >"$WORK/times"
  awk -v hz="$TCK" 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { m = $i; sub(/s$/, "", m); split(m, p, "m"); t += p[1] * 60 + p[2] }
    printf "%d", t * hz }' "$WORK/times"
}

# cluster_up N: install, start, wait, mesh. Returns 1 (logs printed) on failure.
cluster_up() {
  local n=$1 i p pids=()
  for ((i = 1; i <= n; i++)); do
    for p in $((port_base + 10 + i)) $((port_base + 20 + i)) $((port_base + 30 + i)); do
      port_busy "$p" && { echo "port $p is in use (--port-base)"; return 1; }
    done
  done
  log "$n node(s): install"
  for ((i = 1; i <= n; i++)); do install_node "$i"; pids+=("$SPAWNED"); done
  for ((i = 1; i <= n; i++)); do
    wait "${pids[i - 1]}" || { echo "install of node $i failed:"; tail -20 "$WORK/n$i/install.log"; return 1; }
    mkdir -p "$WORK/n$i/hdb/components/loom-bench"
    cp "$APP/config.yaml" "$APP/schema.graphql" "$WORK/n$i/hdb/components/loom-bench/"
  done
  log "$n node(s): start"
  for ((i = 1; i <= n; i++)); do start_node "$i"; done
  python3 "$HCTL" ready --ops "$(urls ops_url "$n")" --rest "$(urls rest_url "$n")" --timeout 120 ||
    { node_logs; return 1; }
  for p in "${NODE_PIDS[@]}"; do
    [[ -n $(ps -o pid= -s "$p") ]] || { echo "no process in the session $p of a node"; return 1; }
  done
  if ((n > 1)); then
    log "$n nodes: full mesh (add_node, ws://)"
    python3 "$HCTL" mesh --ops "$(urls ops_url "$n")" --repl "$(urls repl_url "$n")" --timeout 90 ||
      { node_logs; return 1; }
    python3 "$HCTL" probe --ops "$(urls ops_url "$n")" --rest "$(urls rest_url "$n")" --tag "$n" --timeout 60 ||
      { node_logs; return 1; }
  fi
  ((warmup > 0)) || return 0
  # Warm-up (V8 compiles the hot paths): a load that is not measured,
  # then wait until every node has what node 1 has.
  log "$n node(s): warm-up, ${warmup}s"
  local base w
  base=$(python3 "$HCTL" count --ops "$(urls ops_url "$n")" | paste -sd, -)
  timeout -k 5 $((warmup + 30)) wrk -t1 -c64 -d"${warmup}s" --timeout 10s \
    -H "Authorization: Basic $B64" -s "$LUA" "$(rest_url 1)/bench/" -- keys=uuid >"$WORK/warmup-$n.wrk" 2>&1 || true
  if ! w=$(python3 "$HCTL" wait --ops "$(urls ops_url "$n")" --base "$base" --min 1 --timeout "$wait_max"); then
    w+="; ids the nodes lack: $(python3 "$HCTL" diff --ops "$(urls ops_url "$n")" 2>&1 | cut -c1-500)"
    echo "   the warm-up's records did not reach every node: $w"
    notes+=("$n nodes: the warm-up's records did not reach every node within ${wait_max}s (${w//|//})")
  fi
}

# to_ms VALUE: wrk's "2.15ms" / "389.00us" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v == "") { print "-"; exit }
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

stamp=$(date +%Y%m%d-%H%M%S)
rows=()
notes=()
failed=0

# run_one N KEYS CONNS: one load and its checks; appends a row.
run_one() {
  local n=$1 k=$2 c=$3 name=$1-$2-$3
  local f=$WORK/$name.wrk ids=$WORK/$name.ids ops rest
  ops=$(urls ops_url "$n") rest=$(urls rest_url "$n")
  log "$n node(s), $k keys, $c connections, ${secs}s"
  local base; base=$(python3 "$HCTL" count --ops "$ops" | paste -sd, -) || base=""
  [[ $base =~ ^[0-9,]+$ ]] || { rows+=("$n|$k|$c|FAILED|-|-|-|-|-|-|-|FAILED: no counts before the load"); failed=1; return; }
  local t0 c0 b0 k0
  b0=$(busy_ticks) k0=$(child_ticks) c0=$(cluster_ticks) t0=$(date +%s.%N)
  timeout -k 5 $((secs + 30)) wrk -t1 -c"$c" -d"${secs}s" --timeout 10s --latency \
    -H "Authorization: Basic $B64" -s "$LUA" "$(rest_url 1)/bench/" \
    -- "keys=$k" "run=h$stamp-$name" "ids=$ids" >"$f" 2>&1 || true
  local t_end c_end b1 k1
  t_end=$(date +%s.%N) c_end=$(cluster_ticks) b1=$(busy_ticks) k1=$(child_ticks)
  # What the rest of the machine used meanwhile (not Harper, not wrk),
  # as a share of all its CPUs: the noise on a shared machine.
  local other
  other=$(awk -v b=$((b1 - b0 - (c_end - c0) - (k1 - k0))) -v a="$t0" -v e="$t_end" -v hz="$TCK" -v n="$(nproc)" \
    'BEGIN {v = b / ((e - a) * hz * n) * 100; if (v < 0) v = 0; printf "%.0f", v}')
  local rps reqs non2xx errs p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
  reqs=$(awk '/requests in/ {print $1}' "$f")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$f")
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$f")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
  non2xx=${non2xx:-0} errs=${errs:-0}
  local acked=0; [[ -f $ids ]] && acked=$(wc -l <"$ids")
  if [[ -z $rps || -z $reqs ]]; then
    tail -5 "$f"
    rows+=("$n|$k|$c|FAILED|-|-|-|-|$acked|-|$other|FAILED: wrk did not finish")
    failed=1; return
  fi
  # Every node's count grown by as much as node 1's, at least the 201s.
  local w conv agreed grew grown
  w=$(python3 "$HCTL" wait --ops "$ops" --base "$base" --min "$acked" --timeout "$wait_max" \
    --since "$t_end" --ids "$ids" --sessions "$(IFS=,; echo "${NODE_PIDS[*]}")") || true
  local c1; c1=$(jq -r '.ticks // empty' <<<"$w" 2>/dev/null || true)
  [[ $c1 =~ ^[0-9]+$ ]] || c1=$c0
  conv=$(jq -r '.converged' <<<"$w" 2>/dev/null || echo false)
  agreed=$(jq -r '.agreed_at // empty' <<<"$w" 2>/dev/null || true)
  grew=$(jq -r '.grown[0] // "-"' <<<"$w" 2>/dev/null || echo -)
  grown=$(jq -r '.grown // [] | map(tostring) | join("/")' <<<"$w" 2>/dev/null || true)
  local why=""
  if [[ $non2xx != 0 ]]; then why="$non2xx non-2xx answers"
  elif [[ $acked != "$reqs" ]]; then why="wrk counted $reqs answers, $acked of them 201"
  elif [[ $conv != true ]]; then why="the nodes' counts did not grow alike within ${wait_max}s (grown $grown for $acked acknowledged)"
  elif ((grew > acked + c + errs)); then why="$acked acknowledged but the table grew by $grew"
  fi
  local v
  v=$(python3 "$HCTL" verify --ops "$ops" --rest "$rest" --ids "$ids" --sample "$sample") ||
    why="${why:+$why; }acknowledged ids missing: $(jq -c '.missing' <<<"$v" 2>/dev/null | cut -c1-300) $(jq -c '.rest_bad[:3]' <<<"$v" 2>/dev/null)"
  if [[ -n $why ]]; then
    if [[ $conv != true ]] && ((n > 1)); then
      why+="; ids the nodes lack (all runs): $(python3 "$HCTL" diff --ops "$ops" 2>&1 | cut -c1-500)"
    fi
    echo "   verification failed: $why"
    node_logs
    rows+=("$n|$k|$c|FAILED|-|-|-|-|$acked|$grew|$other|FAILED: ${why//|//}")
    failed=1; return
  fi
  local all cpu
  all=$(awk -v n="$grew" -v a="$t0" -v b="$agreed" 'BEGIN {printf "%.0f", n / (b - a)}')
  cpu=$(awk -v t=$((c1 - c0)) -v hz="$TCK" -v n="$acked" 'BEGIN {printf "%.3f", t / hz * 1000 / n}')
  echo "   $acked inserts acknowledged at $rps/s, on all $n node(s) at $all/s; p50 $p50 ms, p99 $p99 ms; CPU $cpu ms/insert; other processes $other% of the CPUs; verified"
  rows+=("$n|$k|$c|$rps|$all|$p50|$p99|$cpu|$acked|$grew|$other|yes")
}

harper_threads=""
for n in $nodes; do
  if cluster_up "$n"; then
    [[ -n $harper_threads ]] ||
      harper_threads=$(awk '/^threads:/ {t = 1; next} t && /count:/ {print $2; exit}' "$WORK/n1/hdb/harperdb-config.yaml")
    for k in $keys; do
      for c in $conns; do run_one "$n" "$k" "$c"; done
    done
  else
    failed=1
    for k in $keys; do
      for c in $conns; do rows+=("$n|$k|$c|FAILED|-|-|-|-|-|-|-|FAILED: the $n-node cluster did not start or form"); done
    done
  fi
  stop_nodes
  rm -rf "${WORK:?}"/n*
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc)
kern=$(uname -r)
nodev=$(node --version)
rev=$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[[ -z $harper_threads || $harper_threads == null ]] && harper_threads="Harper's default"
hdr="| nodes | keys | conns | inserts/s | on all nodes/s | p50 ms | p99 ms | CPU ms/insert | acked | stored | other CPU % | verified |"
echo
echo "Harper benchmark $when, $ncpu x $cpu, Linux $kern, Harper $HARPER_VERSION, Node.js $nodev, ${secs}s runs"
echo "$hdr"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done

mkdir -p "$out"
md=$out/harper-$stamp.md csv=$out/harper-$stamp.csv
{
  echo "# Harper insert benchmark $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu; Linux $kern (every node and the client share them)"
  echo "- Harper $HARPER_VERSION (npm harperdb), Node.js $nodev; worker threads per node: $harper_threads; prod defaults (storage.writeAsync false), Basic auth"
  echo "- nodes on loopback (127.0.0.11..13, own ports and ROOTPATH); replication: Harper's native replication, full mesh with add_node over plain ws:// (no TLS), databases '*'; a probe record written on each node seen on every node before any load"
  echo "- table data.bench (primary key id, the 8 fields declared, only id indexed), REST POST /bench/ on node 1"
  echo "- load: per cluster a ${warmup}s warm-up (not measured), then wrk -t1 for ${secs}s per run, bench/wrk/insert.lua (400-byte records), acknowledged ids logged; the table is not emptied between runs"
  echo "- on all nodes/s: the records a run added over the time from its start until every node had them; CPU: utime+stime of every Harper process, load start to convergence, over the acknowledged inserts"
  echo "- other CPU %: during the load, the CPU time of processes other than Harper and wrk, and steal, as a share of all $(nproc) CPUs (/proc/stat user+nice+system+steal less Harper's and wrk's; interrupts and softirqs left out): other jobs on a shared machine"
  echo "- verified: every node's count grown alike, by the 201s (acked) plus at most the requests in flight when wrk stopped (stored); every acknowledged id on every node (search_by_id); $sample of them read over REST on every node"
  echo "- bench/harper.sh at loom $rev"
  for r in "${notes[@]}"; do echo "- note: $r"; done
  echo
  echo "$hdr"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
} >"$md"
{
  echo "date,nproc,cpu,kernel,harper,node,seconds,nodes,keys,conns,inserts_s,all_nodes_s,p50_ms,p99_ms,cpu_ms_per_insert,acked,stored,other_cpu_pct,verified"
  for r in "${rows[@]}"; do
    IFS='|' read -r -a f <<<"$r"
    printf '%s,%s,"%s",%s,%s,%s,%s,' "$when" "$ncpu" "$cpu" "$kern" "$HARPER_VERSION" "$nodev" "$secs"
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"%s"\n' "${f[@]:0:11}" "${f[11]//\"/\'}"
  done
} >"$csv"
echo "wrote $md and $csv"
exit "$failed"
