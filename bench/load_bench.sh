#!/usr/bin/env bash
# load_bench.sh: the same single-node REST workloads driven by wrk (kernel
# sockets) and by loom-load (DPDK, Loom's own TCP stack), side by side.
#
#   bench/load_bench.sh [--quick] [--seconds S] [--repeat N]
#                       [--conns "64 256"] [--runs "health uuid seq"]
#                       [--client-cpu N] [--out DIR]
#
# As root. Brings up a devnet (1 node, 1 client, unique tag), starts loomd
# on node 1 (net_af_packet on its veth; io and storage lcores on CPU 1,
# its main lcore on CPU 0) and, for every connection count and workload,
# runs wrk -t1 and loom-load (one load lcore) from the client namespace,
# both pinned to --client-cpu (default 0), S seconds a run (default 5),
# N times each (default 3), taking turns (the order flips every time);
# each figure is the median run. --quick: 3 s, once. Workloads:
#   health  GET /health: the I/O ceiling (parsing, routing, no storage)
#   uuid    POST /bench/ of the reference record (bench/wrk/insert.lua;
#           loom-load builds the same 400 bytes) with random UUIDv4 ids
#   seq     the same with ascending ids
# loom-load runs on the client's eth0 with an address the kernel does not
# own (.200), closed loop like wrk. Every insert run is verified: only
# 201s, and loomd's record count (/metrics loom_storage_records) grew by
# the answered requests (wrk: plus at most the requests in flight when it
# stopped; loom-load waits for those, so exactly its 201s). A run that
# fails its check is reported as "fail", never as a figure.
# Columns: requests/s, p50/p99 latency, loomd's CPU time per request (all
# its threads, /proc/PID/stat) and the client's CPU use over the run
# (loom-load polls while it has work and backs off to 100 us sleeps when
# it has none; wrk waits in epoll).
#
# Writes OUT/load-DATE.md and .csv (OUT: bench/results) with the machine
# and the commit. Uses loomd and loom-load from $LOOM_BUILD_DIR (default
# build/), or $LOOM_LOOMD and $LOOM_LOOMLOAD.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export LOOM_SOURCE_DIR=${LOOM_SOURCE_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/net/lib.sh
. "$LOOM_SOURCE_DIR/tests/net/lib.sh"

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' | grep -v '^set '; }

secs=5 repeat=3 conns="64 256" runs="health uuid seq" ccpu=0 out="$LOOM_SOURCE_DIR/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) secs=3 repeat=1; shift ;;
    --seconds) secs=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --client-cpu) ccpu=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "load_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 120 ]] || { echo "--seconds: 1..120" >&2; exit 2; }
[[ $repeat =~ ^[0-9]+$ && $repeat -ge 1 && $repeat -le 9 ]] || { echo "--repeat: 1..9" >&2; exit 2; }
for c in $conns; do
  [[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 1000 ]] || { echo "--conns: counts in 1..1000" >&2; exit 2; }
done
for r in $runs; do
  [[ $r == health || $r == uuid || $r == seq ]] || { echo "--runs: health, uuid and/or seq" >&2; exit 2; }
done
[[ $ccpu =~ ^[0-9]+$ && $ccpu -lt $(nproc) ]] || { echo "--client-cpu: a CPU below $(nproc)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "load_bench.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }
command -v taskset >/dev/null || { echo "load_bench.sh: taskset not found (util-linux)" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "load_bench.sh: run as root (network namespaces)" >&2; exit 2; }
LOOMLOAD=${LOOM_LOOMLOAD:-$BUILD/loom-load}
[[ -x $LOOMLOAD ]] || { echo "load_bench.sh: no loom-load at $LOOMLOAD (build it, or set LOOM_BUILD_DIR or LOOM_LOOMLOAD)" >&2; exit 2; }

net_init lbench
LL_PREFIX=loom-$TAG-load
ll_cleanup() {
  local rc=$?
  rm -rf "/var/run/dpdk/${LL_PREFIX:?}"
  (exit "$rc")
  net_cleanup
}
trap ll_cleanup EXIT

devnet_up 1 1
URL=http://$NODE_IP:$HTTP_PORT
LOAD_IP=${NODE_IP%.*}.200
node_config --mem 1024 --tcp-max-conns 2048 >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
wait_http 60

metric() { in_client curl -sf -m 5 "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
records_at_least() { local n; n=$(metric loom_storage_records); [[ -n $n && $n -ge $1 ]]; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$LOOMD_PID/stat"; }
TCK=$(getconf CLK_TCK)

# to_ms VALUE: wrk's "2.15ms" / "389.00us" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# timed FILE COMMAND...: COMMAND's output in FILE; its CPU ticks (user +
# system, it and its children) in CLIENT_TICKS. The subshell's cutime and
# cstime count exactly the children it waited for.
CLIENT_TICKS=0
timed() {
  local f=$1; shift
  CLIENT_TICKS=$( ("$@" >"$f" 2>&1 || true; awk '{print $16 + $17}' "/proc/$BASHPID/stat") )
}

# Each run sets RPS P50 P99 REQS OK SENT BAD CCPU (client CPU %).
run_wrk() {
  local c=$2 f=$WORK/$1.wrk; shift 2
  timed "$f" timeout -k 5 $((secs + 30)) ip netns exec "$CLI_NS" \
    taskset -c "$ccpu" wrk -t1 -c"$c" -d"${secs}s" --timeout 10s --latency "$@"
  RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
  P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
  P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
  REQS=$(awk '/requests in/ {print $1}' "$f")
  BAD=$(awk '/Non-2xx/ {print $NF}' "$f")
  BAD=${BAD:-0}
  OK=$((${REQS:-0} - BAD)) SENT=$((${REQS:-0} + c))
  CCPU=$(awk -v t="$CLIENT_TICKS" -v hz="$TCK" -v s="$secs" 'BEGIN {printf "%.0f", t / hz / s * 100}')
  [[ -n $RPS && -n $REQS ]] || { RPS=fail REQS=0; tail -5 "$f"; }
}

run_ll() {
  local c=$2 f=$WORK/$1.ll; shift 2
  timed "$f" timeout -k 5 $((secs + 40)) ip netns exec "$CLI_NS" \
    "$LOOMLOAD" --file-prefix "$LL_PREFIX" --iface eth0 --lcores "0@$ccpu,1@$ccpu" \
    --ip "$LOAD_IP/$PREFIX" --target "$NODE_IP:$HTTP_PORT" --conns "$c" \
    --duration "$secs" --json "$@"
  local j
  j=$(grep '^{' "$f" | tail -n 1) || true
  if [[ -z $j ]] || ! jq -e '.exit == 0' <<<"$j" >/dev/null; then
    RPS=fail REQS=0 OK=0 SENT=0 BAD=0 P50=- P99=- CCPU=-
    tail -5 "$f"
    return
  fi
  RPS=$(jq -r '.rps | floor' <<<"$j")
  P50=$(jq -r '.latency_us.p50 / 1000 * 100 | round / 100' <<<"$j")
  P99=$(jq -r '.latency_us.p99 / 1000 * 100 | round / 100' <<<"$j")
  REQS=$(jq -r .requests <<<"$j")
  OK=$(jq -r .ok <<<"$j")
  SENT=$(jq -r .sent <<<"$j")
  BAD=$(jq -r .errors <<<"$j")
  CCPU=$(awk -v t="$CLIENT_TICKS" -v hz="$TCK" -v s="$(jq -r .duration_s <<<"$j")" \
    'BEGIN {printf "%.0f", t / hz / s * 100}')
}

# one_run RUN CONNS CLIENT REP: one measured and verified run; RESULT is
# "RPS|P50|P99|LOOMD_CPU_US|CLIENT_CPU" or "fail".
RESULT=""
one_run() {
  local r=$1 c=$2 client=$3 rep=$4 before t0 t1 want after grew i
  echo "== $client: $([[ $r == health ]] && echo "GET /health" || echo "POST, $r keys"), $c connections, ${secs}s (run $rep of $repeat)"
  # Writes wrk left in flight when it stopped commit after it exits: wait
  # until the count holds still, so they are not counted in this run.
  local prev=-1
  before=$(metric loom_storage_records)
  for ((i = 0; i < 50 && before != prev; i++)); do
    prev=$before
    sleep 0.3
    before=$(metric loom_storage_records)
  done
  t0=$(cpu_ticks)
  if [[ $client == wrk ]]; then
    if [[ $r == health ]]; then
      run_wrk "wrk-$r-$c-$rep" "$c" "$URL/health"
    else
      run_wrk "wrk-$r-$c-$rep" "$c" -s "$LOOM_SOURCE_DIR/bench/wrk/insert.lua" "$URL/bench/" \
        -- "keys=$r" "run=$TAG-w$c-$rep"
    fi
  else
    if [[ $r == health ]]; then
      run_ll "ll-$r-$c-$rep" "$c" --health
    else
      run_ll "ll-$r-$c-$rep" "$c" --path /bench --keys "$r" --prefix "$TAG-l$c-$rep"
    fi
  fi
  t1=$(cpu_ticks)
  RESULT=fail
  if [[ $RPS == fail || $BAD != 0 ]]; then
    echo "   failed: $client answered $REQS, errors $BAD"
    return
  fi
  if [[ $r != health ]]; then
    # The last answers may trail the client's exit by a commit.
    want=$((before + OK))
    for ((i = 0; i < 150; i++)); do records_at_least "$want" && break; sleep 0.2; done
    after=$(metric loom_storage_records)
    grew=$((after - before))
    if [[ $grew -lt $OK || $grew -gt $SENT ]]; then
      echo "   verification failed: $client had $OK answered with 201 of $SENT sent, records grew by $grew"
      return
    fi
  fi
  local cpu_us
  cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$TCK" -v n="$REQS" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  RESULT="$RPS|$P50|$P99|$cpu_us|$CCPU"
  echo "   $RPS req/s, p50 $P50 ms, p99 $P99 ms, loomd $cpu_us us/request, client CPU $CCPU%"
}

# median RESULT...: the result with the median rate ("fail" if any is).
median() {
  local x
  for x in "$@"; do [[ $x != fail ]] || { echo fail; return; }; done
  printf '%s\n' "$@" | sort -t'|' -k1,1n | sed -n "$((($# + 1) / 2))p"
}

# The two clients take turns (the order flips every repetition), so the
# noise of a shared machine falls on both; each figure is the median run.
rows=() all=()
declare -A RATE
for c in $conns; do
  for r in $runs; do
    keys=$([[ $r == health ]] && echo - || echo "$r")
    what=$([[ $r == health ]] && echo health || echo insert)
    declare -A got=()
    for ((rep = 1; rep <= repeat; rep++)); do
      order="wrk loom-load"
      ((rep % 2 == 1)) || order="loom-load wrk"
      for client in $order; do
        one_run "$r" "$c" "$client" "$rep"
        got[$client]+="$RESULT "
        all+=("$what|$keys|$c|$client|$rep|${RESULT//fail/fail|-|-|-|-}")
      done
    done
    for client in wrk loom-load; do
      # shellcheck disable=SC2086  # the results are blank-separated
      m=$(median ${got[$client]})
      [[ $m == fail ]] && m="fail|-|-|-|-"
      rows+=("$what|$keys|$c|$client|$m")
      RATE[$r-$c-$client]=${m%%|*}
    done
    unset got
  done
done
loomd_alive || fail "loomd died during the benchmark"
commits=$(metric loom_storage_commits_total)
entries=$(metric loom_storage_entries_total)
stop_loomd

ratios=()
for c in $conns; do
  for r in $runs; do
    w=${RATE[$r-$c-wrk]:-} l=${RATE[$r-$c-loom-load]:-}
    ratio=$(awk -v a="$l" -v b="$w" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-"}')
    ratios+=("$r|$c|${w:-fail}|${l:-fail}|$ratio")
  done
done

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc)
kern=$(uname -r)
rev=$(git -C "$LOOM_SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown)
stamp=$(date +%Y%m%d-%H%M%S)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
batch=$(awk -v e="$entries" -v c="$commits" 'BEGIN {if (c > 0) printf "%.1f", e / c; else print "-"}')

hdr="| run | keys | conns | client | req/s | p50 ms | p99 ms | loomd CPU us/req | client CPU % |"
hdr2="| run | conns | wrk req/s | loom-load req/s | loom-load / wrk |"
echo
echo "Load generators $when, $ncpu x $cpu, Linux $kern, loom $rev, ${secs}s a run, clients on CPU $ccpu"
echo "$hdr"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
echo
echo "$hdr2"
for r in "${ratios[@]}"; do echo "| ${r//|/ | } |"; done
echo "group commit: $entries writes in $commits commits ($batch a commit)"

mkdir -p "$out"
md=$out/load-$stamp.md csv=$out/load-$stamp.csv
{
  echo "# Load generators: wrk against loom-load, $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu; Linux $kern"
  echo "- loom: $rev; one node, net_af_packet on a veth; io and storage lcores on CPU 1, main lcore on CPU 0"
  echo "- clients in the client namespace, pinned to CPU $ccpu, taking turns, ${secs} s a run, $repeat run(s) each, the median shown:"
  echo "  wrk -t1 (kernel TCP) and loom-load with one load lcore (net_af_packet on the client's eth0, Loom's TCP), closed loop"
  echo "- storage: sync = commit; $entries writes in $commits commits ($batch a commit)"
  echo "- each insert run verified: only 201s, and the record count grew by the answered requests (wrk: plus at most those in flight when it stopped)"
  echo
  echo "$hdr"
  echo "|---|---|---:|---|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
  echo
  echo "$hdr2"
  echo "|---|---:|---:|---:|---:|"
  for r in "${ratios[@]}"; do echo "| ${r//|/ | } |"; done
} >"$md"
{
  echo "date,nproc,cpu,kernel,rev,seconds,run,keys,conns,client,rep,req_s,p50_ms,p99_ms,loomd_cpu_us_per_req,client_cpu_pct"
  for r in "${all[@]}"; do echo "$when,$ncpu,\"$cpu\",$kern,$rev,$secs,${r//|/,}"; done
} >"$csv"
echo "wrote $md and $csv"
pass
