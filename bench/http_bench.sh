#!/usr/bin/env bash
# http_bench.sh: single-node inserts through the REST API, with the I/O
# ceiling of the same client against GET /health in the same run.
#
#   bench/http_bench.sh [--quick] [--seconds S] [--conns "64 256"]
#                       [--keys "uuid seq"] [--sync commit|interval]
#                       [--out DIR]
#
# As root. Brings up a devnet (1 node, 1 client, unique tag), starts loomd
# on node 1 (net_af_packet; io lcore and storage lcore on CPU 1, the main
# lcore and the client on CPU 0 of a 2-core machine) and runs wrk from the
# client namespace, one thread per run:
#   health  GET /health                        the I/O ceiling
#   insert  POST /bench/ with bench/wrk/insert.lua: the reference record
#           (exactly 400 bytes of JSON, 8 fields), keys=uuid (random
#           UUIDv4 ids) or keys=seq (ascending ids)
# for every connection count. Each insert run is verified: wrk saw no
# status other than 201, and loomd's record count (/metrics
# loom_storage_records) grew by the number of answered requests plus at
# most the requests in flight when wrk stopped; a run that fails its check
# is reported as "fail", never as a figure. CPU per insert
# is loomd's user+system CPU time over the run (all its threads, from
# /proc/PID/stat) divided by the inserts; poll-mode lcores spin while there
# is work, so this is what the node really spent.
#
# Writes OUT/http-DATE.md and .csv (OUT: bench/results) with the machine
# and the commit. Default 8 s a run (about 1 minute in all); --quick 3 s.
# It also runs bench/rest_insn.sh (callgrind: instructions per insert of
# the same software path) and puts its figures in the results.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export LOOM_SOURCE_DIR=${LOOM_SOURCE_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/net/lib.sh
. "$LOOM_SOURCE_DIR/tests/net/lib.sh"

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

secs=8 conns="64 256" keys="uuid seq" sync=commit out="$LOOM_SOURCE_DIR/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) secs=3; shift ;;
    --seconds) secs=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --sync) sync=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "http_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 120 ]] || { echo "--seconds: 1..120" >&2; exit 2; }
for c in $conns; do
  [[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 1000 ]] || { echo "--conns: counts in 1..1000" >&2; exit 2; }
done
for k in $keys; do
  [[ $k == uuid || $k == seq ]] || { echo "--keys: uuid and/or seq" >&2; exit 2; }
done
[[ $sync == commit || $sync == interval ]] || { echo "--sync: commit or interval" >&2; exit 2; }
command -v wrk >/dev/null || { echo "http_bench.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "http_bench.sh: run as root (network namespaces)" >&2; exit 2; }

# The build rest_insn comes from: the one loomd comes from (lib.sh's LOOMD).
LOOM_BUILD_DIR_RESOLVED=$(dirname "$LOOMD")

net_init hbench
devnet_up 1 1
URL=http://$NODE_IP:9926
node_config --mem 1024 --tcp-max-conns 2048 >"$WORK/n1.ini"
if [[ $sync == interval ]]; then
  sed -i 's/^\[storage\]$/[storage]\nsync = interval/' "$WORK/n1.ini"
fi
start_loomd "$WORK/n1.ini"
wait_for 20 "the REST API" in_client curl -sf -m 2 "$URL/health" -o /dev/null

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

# run NAME CONNS ARGS...: one wrk run; sets RPS P50 P99 REQS NON2XX.
run() {
  local name=$1 c=$2 f=$WORK/$1.wrk; shift 2
  timeout -k 5 $((secs + 30)) ip netns exec "$CLI_NS" \
    wrk -t1 -c"$c" -d"${secs}s" --timeout 10s --latency "$@" >"$f" 2>&1 || true
  RPS=$(awk '/^Requests\/sec:/ {print $2}' "$f")
  P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
  P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
  REQS=$(awk '/requests in/ {print $1}' "$f")
  NON2XX=$(awk '/Non-2xx/ {print $NF}' "$f")
  NON2XX=${NON2XX:-0}
  [[ -n $RPS && -n $REQS ]] || { RPS=fail REQS=0; tail -5 "$f"; }
}

rows=()
for c in $conns; do
  echo "== GET /health, $c connections, ${secs}s"
  run "health-$c" "$c" "$URL/health"
  hrps=$RPS
  rows+=("health|-|$c|$RPS|$P50|$P99|-|-")
  for k in $keys; do
    echo "== POST 400-byte records, $k keys, $c connections, ${secs}s"
    before=$(metric loom_storage_records)
    t0=$(cpu_ticks)
    run "insert-$k-$c" "$c" -s "$LOOM_SOURCE_DIR/bench/wrk/insert.lua" "$URL/bench/" \
      -- "keys=$k" "run=$TAG-$c"
    t1=$(cpu_ticks)
    # The last answers may trail wrk's exit by a commit; wait for them.
    want=$((before + REQS))
    for ((i = 0; i < 150; i++)); do records_at_least "$want" && break; sleep 0.2; done
    after=$(metric loom_storage_records)
    # wrk counts answered requests; the (at most $c) in flight when it
    # stopped are committed too, unanswered.
    grew=$((after - before))
    if [[ $RPS == fail || $NON2XX != 0 || $grew -lt $REQS || $grew -gt $((REQS + c)) ]]; then
      echo "   verification failed: wrk answered $REQS (non-201: $NON2XX), records grew by $grew"
      rows+=("insert|$k|$c|fail|-|-|-|-")
      continue
    fi
    cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$TCK" -v n="$REQS" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    frac=$(awk -v a="$RPS" -v b="$hrps" 'BEGIN {if (b + 0 > 0) printf "%.2f", a / b; else print "-"}')
    rows+=("insert|$k|$c|$RPS|$P50|$P99|$cpu_us|$frac")
  done
done
loomd_alive || fail "loomd died during the benchmark"
commits=$(metric loom_storage_commits_total)
entries=$(metric loom_storage_entries_total)
stop_loomd

# Instructions per insert of the same software path, in process, counted
# by callgrind (bench/rest_insn.sh): repeatable where the figures above
# are not.
insn="(not measured: no valgrind or no rest_insn binary)"
if command -v valgrind >/dev/null && [[ -x $LOOM_BUILD_DIR_RESOLVED/rest_insn ]]; then
  insn=$(LOOM_BUILD_DIR=$LOOM_BUILD_DIR_RESOLVED "$LOOM_SOURCE_DIR/bench/rest_insn.sh" 2>&1 | tail -n +2 | paste -sd ';' -) ||
    insn="(rest_insn.sh failed)"
fi

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc)
kern=$(uname -r)
rev=$(git -C "$LOOM_SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown)
stamp=$(date +%Y%m%d-%H%M%S)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
batch=$(awk -v e="$entries" -v c="$commits" 'BEGIN {if (c > 0) printf "%.1f", e / c; else print "-"}')

hdr="| run | keys | conns | req/s | p50 ms | p99 ms | CPU us/insert | of /health |"
echo
echo "REST benchmark $when, $ncpu x $cpu, Linux $kern, loom $rev, sync = $sync, ${secs}s a run"
echo "$hdr"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
echo "group commit: $entries writes in $commits commits ($batch a commit)"
echo "instructions per insert (callgrind, bench/rest_insn.sh): $insn"

mkdir -p "$out"
md=$out/http-$stamp.md csv=$out/http-$stamp.csv
{
  echo "# REST insert benchmark $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu; Linux $kern"
  echo "- loom: $rev; one node, net_af_packet on a veth; io and storage lcores on CPU 1"
  echo "- client: wrk -t1 in the client namespace (CPU shared with loomd's main lcore)"
  echo "- storage: sync = $sync; $entries writes in $commits commits ($batch a commit)"
  echo "- instructions per insert (callgrind, in process, bench/rest_insn.sh): $insn"
  echo "- each insert run verified: only 201s, and the record count grew by the answered requests (plus at most those in flight when wrk stopped)"
  echo
  echo "$hdr"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
} >"$md"
{
  echo "date,nproc,cpu,kernel,rev,sync,seconds,run,keys,conns,req_s,p50_ms,p99_ms,cpu_us_per_insert,fraction_of_health"
  for r in "${rows[@]}"; do echo "$when,$ncpu,\"$cpu\",$kern,$rev,$sync,$secs,${r//|/,}"; done
} >"$csv"
echo "wrote $md and $csv"
pass
