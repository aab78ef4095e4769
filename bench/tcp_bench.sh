#!/usr/bin/env bash
# tcp_bench.sh: loomd's TCP against the kernel's, on the same veth path.
#
#   bench/tcp_bench.sh [--quick] [--skip-loomd] [--bulk-mib N] [--cps-seconds S]
#                      [--out DIR]
#
# As root. Brings up a devnet (1 node, 2 clients, unique tag) and measures,
# from client 1 with the tools of tests/net:
#   bulk  tcp_bulk.py: one connection, N MiB (default 512) through an echo
#         service, both directions at once, sha256 verified: MB/s each way
#   cps   tcp_echo_client.py --bytes 1 --concurrency 32: connect, send 1 byte,
#         read it back, close, for S seconds (default 8): connections/s and
#         the p50/p99 of one connection's life (connect to FIN)
# against two targets over the same bridge:
#   kernel  tcp_kernel_server.py --mode echo in client 2's namespace
#   loomd   loomd's [test] echo_port on node 1 (net_af_packet on dp0)
# then prints a table with the loomd/kernel ratio and writes
# OUT/tcp-DATE.md and OUT/tcp-DATE.csv (OUT: bench/results) with the machine
# (nproc, CPU model, kernel) and the commit.
#
# Bounded: every step has a deadline; about 40 s when all goes well, under
# 3 minutes in the worst case (--quick: 128 MiB and 3 s, about 20 s; under
# 75 s). A loomd that fails to start or to serve is reported as "fail" in
# the table (the kernel baseline is still written) and the exit status is 1.
# --skip-loomd measures the kernel only. LOOM_BUILD_DIR / LOOM_LOOMD choose
# the loomd binary as for the tests.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export LOOM_SOURCE_DIR=${LOOM_SOURCE_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/net/lib.sh
. "$LOOM_SOURCE_DIR/tests/net/lib.sh"

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }

quick=0 skip_loomd=0 bulk_mib="" cps_s="" out="$LOOM_SOURCE_DIR/bench/results"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --skip-loomd) skip_loomd=1; shift ;;
    --bulk-mib) bulk_mib=$2; shift 2 ;;
    --cps-seconds) cps_s=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tcp_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ((quick)); then
  bulk_mib=${bulk_mib:-128} cps_s=${cps_s:-3}
  BULK_DEADLINE=8 START_S=15 PROBE_S=8 STOP_S=10
else
  bulk_mib=${bulk_mib:-512} cps_s=${cps_s:-8}
  BULK_DEADLINE=25 START_S=30 PROBE_S=15 STOP_S=20
fi
[[ $bulk_mib =~ ^[0-9]+$ && $bulk_mib -ge 1 && $bulk_mib -le 4096 ]] || { echo "--bulk-mib: 1..4096" >&2; exit 2; }
[[ $cps_s =~ ^[0-9]+$ && $cps_s -ge 1 && $cps_s -le 60 ]] || { echo "--cps-seconds: 1..60" >&2; exit 2; }
BULK=$((bulk_mib << 20))
CPS_MAX=200000       # connections per cps run, at most (the run is time-bound)
CPS_CONC=32
PORT=7
TCP_BUF=${LOOM_BENCH_TCP_BUF:-262144} # loomd [tcp] sndbuf and rcvbuf

[[ $EUID -eq 0 ]] || { echo "tcp_bench.sh: run as root (network namespaces)" >&2; exit 2; }
net_init bench
devnet_up 1 2
IP2=${CLIENT_IP[2]}
# Client 1 opens up to ~100k short connections and is the first to close,
# so its TIME_WAITs would exhaust the ephemeral ports: widen the range and
# reuse TIME_WAIT ports for new outgoing connections (namespaced sysctls).
in_client 1 sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

# measure NAME HOST: bulk and cps against HOST:PORT into WORK/NAME.*.json.
measure() {
  local name=$1 host=$2
  echo "== $name: bulk, $bulk_mib MiB each way over one connection"
  client_py 1 $((BULK_DEADLINE + 15)) tcp_bulk.py --host "$host" --port "$PORT" \
    --bytes "$BULK" --deadline "$BULK_DEADLINE" --seed 11 --json \
    >"$WORK/$name.bulk.out" 2>&1 || true
  grep -v '^{' "$WORK/$name.bulk.out" || true
  grep '^{' "$WORK/$name.bulk.out" | tail -n 1 >"$WORK/$name.bulk.json" || true
  echo "== $name: connections per second, ${cps_s}s, $CPS_CONC at a time"
  client_py 1 $((cps_s + 20)) tcp_echo_client.py --host "$host" --port "$PORT" \
    --conns "$CPS_MAX" --concurrency "$CPS_CONC" --bytes 1 --duration "$cps_s" \
    --deadline $((cps_s + 5)) --seed 12 --json --quiet \
    >"$WORK/$name.cps.out" 2>&1 || true
  grep -v '^{' "$WORK/$name.cps.out" || true
  grep '^{' "$WORK/$name.cps.out" | tail -n 1 >"$WORK/$name.cps.json" || true
}

# The kernel baseline: a kernel echo server in client 2's namespace.
bg_client_py kserver 2 tcp_kernel_server.py --bind "$IP2" --port "$PORT" \
  --mode echo --deadline 600 --ready-file "$WORK/kserver.ready"
KSERVER=$BG_PID
wait_for 10 "the kernel echo server" test -e "$WORK/kserver.ready"
measure kernel "$IP2"
bg_stop "$KSERVER" || true

# loomd, in a subshell so that a failure (fail exits) ends only this phase.
loomd_phase() {
  trap 'if [[ -n $LOOMD_PID ]]; then kill -9 "$LOOMD_PID" 2>/dev/null || true; fi' EXIT
  # Buffers the size Linux autotunes a LAN connection to (256 KiB), so the
  # bulk figure compares stacks, not window limits.
  node_config --mem 2048 --echo-port "$PORT" --tcp-max-conns 1024 \
    --tcp-sndbuf "$TCP_BUF" --tcp-rcvbuf "$TCP_BUF" >"$WORK/n1.ini"
  start_loomd "$WORK/n1.ini" "$START_S"
  require_tcp_stats
  wait_echo_service "$PORT" "$PROBE_S"
  measure loomd "$NODE_IP"
  loomd_alive || fail "loomd died during the benchmark"
  tcp_report >"$WORK/loomd.tcp.json" || true
  stop_loomd "$STOP_S"
}
loomd_rc=0
if ((skip_loomd)); then
  loomd_rc=-1
else
  set +e
  (set -e; loomd_phase)
  loomd_rc=$?
  set -e
  if ((loomd_rc != 0)); then
    echo "loomd phase failed (exit $loomd_rc); last lines of its log:"
    tail -n 15 "$LOOMD_LOG" 2>/dev/null || true
  fi
fi

# --- report ----------------------------------------------------------------

# val NAME KIND FIELD: a result field, "fail" if the run did not pass, "-"
# if it did not run. A bulk run cut by its deadline reports its rate so far.
val() {
  local f=$WORK/$1.$2.json
  if [[ ! -s $f ]]; then
    if [[ $1 == loomd ]] && ((loomd_rc > 0)); then echo fail; else echo "-"; fi
    return
  fi
  jq -r --arg k "$3" 'if .pass then .[$k]
    elif .tool == "tcp_bulk" and .error == "deadline" and $k == "mb_per_s" then "\(.[$k])*"
    else "fail" end | tostring' "$f"
}
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cpu=${cpu:-$(uname -m)}
ncpu=$(nproc)
kern=$(uname -r)
rev=$(git -C "$LOOM_SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown)
stamp=$(date +%Y%m%d-%H%M%S)
when=$(date -u +%Y-%m-%dT%H:%M:%SZ)

rows=()
for m in "bulk MB/s each way|bulk|mb_per_s" "connections/s|cps|conns_per_s" \
         "connection p50 ms|cps|conn_ms_p50" "connection p99 ms|cps|conn_ms_p99"; do
  IFS='|' read -r label kind field <<<"$m"
  l=$(val loomd "$kind" "$field") k=$(val kernel "$kind" "$field")
  rows+=("$label|$l|$k|$(ratio "${l%\*}" "${k%\*}")")
done

echo
echo "TCP benchmark $when, $ncpu x $cpu, Linux $kern, loom $rev"
printf '%-22s %12s %12s %14s\n' metric loomd kernel loomd/kernel
for r in "${rows[@]}"; do
  IFS='|' read -r label l k q <<<"$r"
  printf '%-22s %12s %12s %14s\n' "$label" "$l" "$k" "$q"
done
if [[ ${rows[*]} == *"*"* ]]; then echo "(* = cut by the ${BULK_DEADLINE}s deadline: the rate so far)"; fi

mkdir -p "$out"
md=$out/tcp-$stamp.md csv=$out/tcp-$stamp.csv
{
  echo "# TCP benchmark $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu; Linux $kern"
  echo "- loom: $rev; loomd: $LOOMD"
  echo "- path: devnet veth pairs through one Linux bridge (MTU 1500, offloads off);"
  echo "  client 1 runs the tools; loomd on node 1 (net_af_packet, [test] echo_port),"
  echo "  the kernel baseline is tcp_kernel_server.py --mode echo on client 2"
  echo "- bulk: tcp_bulk.py, one connection, $bulk_mib MiB each way, sha256 verified"
  echo "- cps: tcp_echo_client.py --bytes 1 --concurrency $CPS_CONC for ${cps_s}s"
  if ((loomd_rc > 0)); then echo "- loomd phase FAILED (exit $loomd_rc)"; fi
  if ((loomd_rc < 0)); then echo "- loomd not measured (--skip-loomd)"; fi
  echo
  echo "| metric | loomd | kernel | loomd/kernel |"
  echo "|---|---:|---:|---:|"
  for r in "${rows[@]}"; do
    IFS='|' read -r label l k q <<<"$r"
    echo "| $label | $l | $k | $q |"
  done
} >"$md"
{
  echo "date,nproc,cpu,kernel,rev,target,bulk_bytes,bulk_mb_s,cps_seconds,conns_per_s,conn_ms_p50,conn_ms_p99"
  for t in loomd kernel; do
    echo "$when,$ncpu,\"$cpu\",$kern,$rev,$t,$BULK,$(val "$t" bulk mb_per_s),$cps_s,$(val "$t" cps conns_per_s),$(val "$t" cps conn_ms_p50),$(val "$t" cps conn_ms_p99)"
  done
} >"$csv"
echo "wrote $md and $csv"
((loomd_rc <= 0))
