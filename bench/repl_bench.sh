#!/usr/bin/env bash
# repl_bench.sh: replicated inserts on 2- and 3-node clusters.
#
#   bench/repl_bench.sh [--quick] [--seconds S] [--sizes "2 3"] [--conns C]
#                       [--keys uuid|seq] [--catchup N] [--out DIR]
#
# As root. For each cluster size: a devnet cluster (tests/cluster/lib.sh;
# every node on the same 2 cores here), wrk POSTing the reference record
# (bench/wrk/insert.lua: 400 bytes, 8 fields) to node 1 for S seconds
# (default 10) with C connections (default 64), while
# bench/repl_sample.py reads every node's /metrics every 100 ms. Reported:
#   inserts/s       acknowledged by node 1 (wrk), only 201s allowed
#   all-nodes/s     the inserts divided by the time from the load's start
#                   until the LAST node had committed all of them
#   lag p50/p99     origin commit to peer commit (repl_sample.py: how long
#                   ago node 1 had committed what a peer has committed at
#                   each sample), over the load
#   catch-up/s      the last node stopped (SIGTERM), N (default 50,000)
#                   records written on node 1, the node restarted: entries
#                   per second from its restart until its cursor for node
#                   1 equals node 1's seq
# Every run is verified: converged (lag 0, digests and record counts equal
# on every node) before a figure is written; a failed check fails the run.
# Writes OUT/repl-DATE.md and .csv (OUT: bench/results).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export LOOM_SOURCE_DIR=${LOOM_SOURCE_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/cluster/lib.sh
. "$LOOM_SOURCE_DIR/tests/cluster/lib.sh"

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }

secs=10 sizes="2 3" conns=64 keys=uuid catchup=50000 out="$LOOM_SOURCE_DIR/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) secs=4 catchup=10000; shift ;;
    --seconds) secs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --catchup) catchup=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "repl_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 300 ]] || { echo "--seconds: 1..300" >&2; exit 2; }
[[ $conns =~ ^[0-9]+$ && $conns -ge 1 && $conns -le 1000 ]] || { echo "--conns: 1..1000" >&2; exit 2; }
[[ $catchup =~ ^[0-9]+$ && $catchup -ge 100 && $catchup -le 10000000 ]] || { echo "--catchup: 100..10000000" >&2; exit 2; }
[[ $keys == uuid || $keys == seq ]] || { echo "--keys: uuid or seq" >&2; exit 2; }
for n in $sizes; do
  [[ $n =~ ^[0-9]+$ && $n -ge 2 && $n -le 8 ]] || { echo "--sizes: cluster sizes 2..8" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "repl_bench.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }

cluster_init rbench
TABLE=bench
rows=()

# wrk_run NAME NODE SECONDS: POST the reference record; sets RPS REQS NON2XX.
wrk_run() {
  local name=$1 i=$2 s=$3 f=$WORK/$1.wrk
  timeout -k 5 $((s + 30)) ip netns exec "${CLIENT_NS[1]}" wrk -t1 -c"$conns" -d"${s}s" \
    --timeout 10s --latency -s "$LOOM_SOURCE_DIR/bench/wrk/insert.lua" \
    "http://$(node_ip "$i"):$HTTP_PORT/$TABLE/" -- "keys=$keys" "run=$TAG-$name" >"$f" 2>&1 || true
  RPS=$(awk '/^Requests\/sec:/ {print $2}' "$f")
  REQS=$(awk '/requests in/ {print $1}' "$f")
  NON2XX=$(awk '/Non-2xx/ {print $NF}' "$f")
  NON2XX=${NON2XX:-0}
  [[ -n $RPS && -n $REQS && $NON2XX == 0 ]] || { tail -5 "$f"; fail "$name: wrk failed or saw non-201 answers"; }
}

# node_has I N: node I has committed at least N records of TABLE.
node_has() { local v; v=$(metric "$1" loom_storage_table_records "table=$TABLE"); [[ -n $v && $v -ge $2 ]]; }

for n in $sizes; do
  echo "== $n nodes"
  cluster_up "$n" 1
  start_nodes
  wait_peers_up 120
  hosts=$(for ((i = 1; i <= n; i++)); do printf '%s,' "$(node_ip "$i")"; done)
  node_ids=$(seq -s, 1 "$n")
  rm -f "$WORK/sample.stop"
  bg sample ip netns exec "${CLIENT_NS[1]}" python3 "$LOOM_SOURCE_DIR/bench/repl_sample.py" \
    --hosts "${hosts%,}" --ids "$node_ids" --origin 1 --duration $((secs + 120)) --stop-file "$WORK/sample.stop"
  sampler=$BG_PID
  t0=$(date +%s.%N)
  wrk_run "load$n" 1 "$secs"
  # All of node 1's committed records (at least the answered ones) on
  # every node: the time the last one got there.
  want=$(metric 1 loom_storage_table_records "table=$TABLE")
  ((want >= REQS)) || fail "node 1 has $want records after $REQS answered inserts"
  deadline=$((SECONDS + 300))
  for ((i = 2; i <= n; i++)); do
    until node_has "$i" "$want"; do
      ((SECONDS < deadline)) || fail "node $i did not reach $want records within 300 s"
      sleep 0.05
    done
  done
  t1=$(date +%s.%N)
  touch "$WORK/sample.stop"
  bg_wait "$sampler" 30 "the sampler" || fail "repl_sample.py failed"
  lag=$(grep '^{' "$WORK/sample.log" | tail -n 1)
  wait_converged 300 "$TABLE"
  all_rate=$(awk -v n="$want" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
  p50=$(jq -r '.lag_ms_p50 // "-" | if type == "number" then (. * 10 | round / 10) else . end' <<<"$lag")
  p99=$(jq -r '.lag_ms_p99 // "-" | if type == "number" then (. * 10 | round / 10) else . end' <<<"$lag")
  echo "   $REQS inserts answered at $RPS/s; on all $n nodes at $all_rate/s; lag p50 $p50 ms, p99 $p99 ms"

  echo "== $n nodes: catch-up of node $n after a stop ($catchup records)"
  stop_node "$n"
  base=$(metric 1 loom_storage_own_seq)
  # Write the records with http_load.py at a bounded count.
  load_start "cu$n" 1 "$TABLE" "$catchup"
  loads_wait 600
  head=$(metric 1 loom_storage_own_seq)
  ((head >= base + catchup)) || fail "node 1 wrote only $((head - base)) of $catchup records"
  start_node "$n"
  c0=$(date +%s.%N)
  deadline=$((SECONDS + 600))
  until [[ $(metric "$n" loom_repl_cursor "origin=1") -ge $head ]] 2>/dev/null; do
    ((SECONDS < deadline)) || fail "node $n did not catch up within 600 s"
    sleep 0.05
  done
  c1=$(date +%s.%N)
  catch_rate=$(awk -v n=$((head - base)) -v a="$c0" -v b="$c1" 'BEGIN {printf "%.0f", n / (b - a)}')
  wait_converged 300 "$TABLE"
  echo "   node $n applied $((head - base)) entries in $(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}') s after its restart: $catch_rate/s"
  rows+=("$n|$keys|$conns|$RPS|$all_rate|$p50|$p99|$catch_rate")
  cluster_down wipe
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc)
kern=$(uname -r)
rev=$(git -C "$LOOM_SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown)
stamp=$(date +%Y%m%d-%H%M%S)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
hdr="| nodes | keys | conns | inserts/s (node 1) | committed on all nodes/s | lag p50 ms | lag p99 ms | catch-up entries/s |"
echo
echo "Replication benchmark $when, $ncpu x $cpu, Linux $kern, loom $rev, ${secs}s loads"
echo "$hdr"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
mkdir -p "$out"
md=$out/repl-$stamp.md csv=$out/repl-$stamp.csv
{
  echo "# Replication benchmark $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu; Linux $kern (every node, the client and the kernel share them)"
  echo "- loom: $rev; devnet clusters (net_af_packet on veths through one bridge), sync = commit"
  echo "- load: wrk -t1 -c$conns for ${secs}s on node 1, bench/wrk/insert.lua ($keys keys, 400-byte records)"
  echo "- every run converged (lag 0, equal digests and record counts) before its figures were written"
  echo
  echo "$hdr"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
} >"$md"
{
  echo "date,nproc,cpu,kernel,rev,seconds,nodes,keys,conns,inserts_s,all_nodes_s,lag_p50_ms,lag_p99_ms,catchup_s"
  for r in "${rows[@]}"; do echo "$when,$ncpu,\"$cpu\",$kern,$rev,$secs,${r//|/,}"; done
} >"$csv"
echo "wrote $md and $csv"
pass
