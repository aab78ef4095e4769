#!/usr/bin/env bash
# compare.sh: the replicated-insert benchmark, Loom and Harper side by side,
# in one run on this machine (issue 7; bench/README.md).
#
#   bench/compare.sh [--short] [--sizes "1 2 3"] [--keys "uuid seq"]
#                    [--conns "64 256 500"] [--seconds S] [--no-harper]
#                    [--client wrk|loom-load|both] [--out DIR]
#
# As root, on a fresh Debian 12 machine: installs what it needs (the
# project's packages, wrk, gnuplot, valgrind; Harper from the npm registry
# through bench/harper.sh), builds Loom (Release, into build-bench/), then:
#
#  Loom, for each cluster size N: a devnet cluster of N nodes (one loomd and
#  one loom-controld each, mTLS, formed with loomctl; tests/cluster/lib.sh),
#  and for each key kind and connection count:
#    null      GET /health on node 1 with the same client and connections:
#              the I/O ceiling of this client, machine and stack
#    inserts   POSTs of the 400-byte, 8-field record (uuid or seq keys) to
#              node 1 for S seconds, every acknowledged id logged, p50/p99;
#              the client is wrk with bench/wrk/insert.lua (kernel TCP:
#              the path Harper's clients take too) and/or loom-load
#              (--client: DPDK and Loom's TCP in the client namespace,
#              bench/loom_load/), one row each
#    all/s     the inserts over the time until the LAST node had them
#    lag       origin commit to peer commit, p50/p99 (bench/repl_sample.py)
#    CPU       utime+stime of every loomd and loom-controld over the run,
#              per insert (poll-mode lcores back off when idle, so this is
#              the work, not the wall clock)
#  verified before any figure is written: every node has the table's same
#  record count and digest, at least the acknowledged inserts and at most
#  those plus the requests in flight when wrk stopped, and every
#  acknowledged id reads back on every node. A failed check writes the row
#  as FAILED (no figures) and the run exits 1.
#  Instructions per insert: bench/rest_insn.sh (callgrind, one node's
#  server path in one process, uuid and seq).
#
#  Harper (unless --no-harper): bench/harper.sh with the same sizes, keys,
#  connections and seconds (Harper 4.7 from npm, nodes on loopback, its
#  native replication), verified its own way (every acknowledged id on
#  every node).
#
# Writes OUT/compare-DATE.md, .csv and PNG plots (inserts/s and p99 against
# connections; inserts/s against cluster size) with the machine (CPUs,
# model, kernel) recorded. OUT: bench/results. --short: sizes 1 2 3, uuid,
# 64 connections, 3 s runs, Harper in its --quick mode: under 5 minutes once
# the packages are installed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
usage() { sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; }

sizes="1 2 3" keyset="uuid seq" connset="64 256 500" secs=10 harper=1 short=0
clients=wrk
out=$ROOT/bench/results
while [[ $# -gt 0 ]]; do
  case $1 in
    --short) short=1 sizes="1 2 3" keyset=uuid connset=64 secs=3; shift ;;
    --sizes) sizes=$2; shift 2 ;;
    --keys) keyset=$2; shift 2 ;;
    --conns) connset=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --no-harper) harper=0; shift ;;
    --client) clients=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 300 ]] || { echo "--seconds: 1..300" >&2; exit 2; }
for n in $sizes; do [[ $n =~ ^[1-8]$ ]] || { echo "--sizes: 1..8" >&2; exit 2; }; done
for k in $keyset; do [[ $k == uuid || $k == seq ]] || { echo "--keys: uuid, seq" >&2; exit 2; }; done
for c in $connset; do
  [[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 1000 ]] || { echo "--conns: 1..1000" >&2; exit 2; }
done
case $clients in
  wrk|loom-load) ;;
  both) clients="wrk loom-load" ;;
  *) echo "--client: wrk, loom-load or both" >&2; exit 2 ;;
esac
[[ $EUID -eq 0 ]] || { echo "compare.sh: run as root (network namespaces, DPDK)" >&2; exit 2; }

echo "== packages and build"
"$ROOT/scripts/install-deps.sh" >/dev/null
need=()
for p in wrk gnuplot-nox valgrind; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
export LOOM_BUILD_DIR=${LOOM_BUILD_DIR:-$ROOT/build-bench}
cmake -S "$ROOT" -B "$LOOM_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$LOOM_BUILD_DIR" -j"$(nproc)" --target loomd loom-controld loomctl rest_insn \
  loom-load >/dev/null
LOOMLOAD=$LOOM_BUILD_DIR/loom-load
export LOOM_SOURCE_DIR=$ROOT
# shellcheck source=tests/cluster/lib.sh
. "$ROOT/tests/cluster/lib.sh"
cluster_init compare
t_start=$SECONDS
rows=()   # system|nodes|keys|conns|inserts_s|p50|p99|all_s|lag50|lag99|cpu_ms|null_s|frac|verified
failed=0

# wrk_out FILE: RPS REQS NON2XX P50 P99 (ms) from wrk --latency output.
wrk_ms() { # wrk latency "1.23ms" / "456.00us" / "1.2s" -> ms
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else printf "-" }'
}
wrk_parse() {
  local f=$1
  RPS=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
  REQS=$(awk '/requests in/ {print $1}' "$f")
  NON2XX=$(awk '/Non-2xx/ {print $NF}' "$f")
  NON2XX=${NON2XX:-0}
  ERRS=$(awk '/Socket errors/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s}' "$f")
  ERRS=${ERRS:-0}
  P50=$(wrk_ms "$(awk '$1 == "50%" {print $2}' "$f")")
  P99=$(wrk_ms "$(awk '$1 == "99%" {print $2}' "$f")")
}

# ll_parse FILE: the same from loom-load --json (exit 0 or nothing).
ll_parse() {
  local j
  j=$(grep '^{' "$1" | tail -n 1 || true)
  RPS="" REQS="" NON2XX=0 ERRS=0 P50=- P99=-
  if [[ -z $j ]] || ! jq -e '.exit == 0' <<<"$j" >/dev/null; then
    NON2XX=1
    return 0
  fi
  RPS=$(jq -r '.rps | floor' <<<"$j")
  REQS=$(jq -r .ok <<<"$j")
  P50=$(jq -r '.latency_us.p50 / 1000 * 100 | round / 100' <<<"$j")
  P99=$(jq -r '.latency_us.p99 / 1000 * 100 | round / 100' <<<"$j")
}

# client_run CLIENT C OUT null|KEYS [TABLE IDS]: one load on node 1, its
# figures in RPS REQS NON2XX ERRS P50 P99. loom-load runs on the client
# namespace's eth0 with an address its kernel does not own (.200), its
# DPDK file prefix under the cluster's (cleaned up with it).
client_run() {
  local cl=$1 c=$2 f=$3 what=$4 t=${5:-} idf=${6:-} ip
  if [[ $cl == wrk ]]; then
    if [[ $what == null ]]; then
      timeout -k 5 $((secs + 30)) ip netns exec "${CLIENT_NS[1]}" wrk -t1 -c"$c" -d"${secs}s" \
        --timeout 10s --latency "http://$(node_ip 1):$HTTP_PORT/health" >"$f" 2>&1 || true
    else
      timeout -k 5 $((secs + 30)) ip netns exec "${CLIENT_NS[1]}" wrk -t1 -c"$c" -d"${secs}s" \
        --timeout 10s --latency -s "$ROOT/bench/wrk/insert.lua" \
        "http://$(node_ip 1):$HTTP_PORT/$t/" -- "keys=$what" "run=$TAG-$t" "ids=$idf" \
        >"$f" 2>&1 || true
    fi
    wrk_parse "$f"
    return 0
  fi
  ip=$(node_ip 1)
  local -a a=(--file-prefix "loom-$TAG-nload" --iface eth0 --lcores "0@0,1@0"
    --ip "${ip%.*}.200/$PREFIX" --target "$ip:$HTTP_PORT" --conns "$c" --duration "$secs" --json)
  if [[ $what == null ]]; then a+=(--health); else a+=(--keys "$what" --path "/$t" --ids "$idf"); fi
  timeout -k 5 $((secs + 60)) ip netns exec "${CLIENT_NS[1]}" "$LOOMLOAD" "${a[@]}" >"$f" 2>&1 || true
  rm -rf "/var/run/dpdk/loom-${TAG:?}-nload"
  ll_parse "$f"
}

# cpu_ticks: utime+stime of every loomd and loom-controld of the cluster.
cpu_ticks() {
  local t=0 p
  for p in "${CL_PID[@]}" "${CTLD_PID[@]}"; do
    [[ -n $p && -r /proc/$p/stat ]] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
HZ=$(getconf CLK_TCK)

# records I TABLE: node I's live records of TABLE (empty if none yet).
records() { metric "$1" loom_storage_table_records "table=\"$2\"" || true; }

# loom_run CLIENT N KEYS CONNS: one measured run on the up cluster of N
# nodes; appends a row (or a FAILED row).
loom_run() {
  local cl=$1 n=$2 k=$3 c=$4 t f i want ok=1 why="" t0 t1 c0 c1 lag
  local null_rps all lag50="-" lag99="-" cpu frac hosts ids sys=loom
  [[ $cl == wrk ]] || sys=loom/loom-load
  t="b_${k}_${c}_${cl//-/_}"
  f=$WORK/$t
  # the null endpoint: the same client and connections, no work
  client_run "$cl" "$c" "$f.null" null
  null_rps=${RPS:-0}
  if ((n > 1)); then
    hosts=$(for ((i = 1; i <= n; i++)); do printf '%s,' "$(node_ip "$i")"; done)
    ids=$(seq -s, 1 "$n")
    rm -f "$WORK/sample.stop" "$WORK/sample.log"
    bg sample ip netns exec "${CLIENT_NS[1]}" python3 "$ROOT/bench/repl_sample.py" \
      --hosts "${hosts%,}" --ids "$ids" --origin 1 --duration $((secs + 300)) \
      --stop-file "$WORK/sample.stop"
  fi
  c0=$(cpu_ticks)
  t0=$(date +%s.%N)
  client_run "$cl" "$c" "$f.out" "$k" "$t" "$f.ids"
  [[ -n $RPS && -n $REQS ]] || { ok=0 why="$cl failed: $(tail -n 2 "$f.out" | paste -sd' ' | cut -c1-200)"; }
  ((NON2XX == 0)) || { ok=0 why="$NON2XX answers other than 201"; }
  local acked
  acked=$(sort -u "$f.ids" 2>/dev/null | wc -l)
  # every node: at least the acked inserts, at most those plus the ones in
  # flight when wrk stopped; the same count everywhere
  local end=$((SECONDS + 300)) have
  while ((ok)); do
    want=$(records 1 "$t")
    have=1
    for ((i = 1; i <= n; i++)); do [[ $(records "$i" "$t") == "$want" ]] || have=0; done
    ((have)) && [[ -n $want ]] && ((want >= acked)) && break
    ((SECONDS < end)) || { ok=0 why="nodes did not reach the same record count within 300 s"; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  c1=$(cpu_ticks)
  if ((n > 1)); then
    touch "$WORK/sample.stop"
    bg_wait "$BG_PID" 60 "the lag sampler" || true
    lag=$(grep '^{' "$WORK/sample.log" 2>/dev/null | tail -n 1 || true)
    [[ -n $lag ]] || lag='{}'
    lag50=$(jq -r '.lag_ms_p50 // "-" | if type == "number" then (. * 10 | round / 10) else . end' <<<"$lag")
    lag99=$(jq -r '.lag_ms_p99 // "-" | if type == "number" then (. * 10 | round / 10) else . end' <<<"$lag")
  fi
  if ((ok)); then
    ((want <= acked + c + ERRS)) || { ok=0 why="$want records for $acked acknowledged inserts and $c connections"; }
    if ((ok)) && ! converged_once "$t"; then ok=0 why="not converged: $CONV_WHY"; fi
  fi
  if ((ok)); then
    for ((i = 1; i <= n; i++)); do
      if ! with_nodes client_py 1 600 http_load.py --host "$(node_ip "$i")" --port "$HTTP_PORT" \
        --table "$t" --body-bytes 400 --verify-log "$f.ids" --verify-id-only --verify-conns 8 --deadline 300 \
        >"$f.verify$i" 2>&1; then
        ok=0 why="node $i: acknowledged ids missing: $(tail -n 1 "$f.verify$i" | cut -c1-200)"
        break
      fi
    done
  fi
  if ((!ok)); then
    echo "   $sys $n nodes $k $c conns: FAILED: $why"
    rows+=("$sys|$n|$k|$c|FAILED|-|-|-|-|-|-|-|-|no: ${why//|/ }")
    failed=1
    return 0
  fi
  all=$(awk -v a="$t0" -v b="$t1" -v w="$want" 'BEGIN {printf "%.0f", w / (b - a)}')
  cpu=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v w="$want" 'BEGIN {printf "%.3f", d * 1000 / hz / w}')
  frac=$(awk -v a="$RPS" -v b="$null_rps" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
  echo "   $sys $n nodes $k $c conns: $RPS inserts/s (p50 $P50 ms, p99 $P99 ms), all nodes $all/s," \
    "lag p50 $lag50 p99 $lag99 ms, CPU $cpu ms/insert, null $null_rps/s ($frac); $acked ids verified on $n node(s)"
  rows+=("$sys|$n|$k|$c|$RPS|$P50|$P99|$all|$lag50|$lag99|$cpu|$null_rps|$frac|yes")
}

# A fresh cluster (empty stores) for each client and key kind: a node with
# no peer never prunes its own log, so one node taking every run would fill
# its 4 GiB LMDB map after ~2.5 M inserts (507 Insufficient Storage).
for n in $sizes; do
  for cl in $clients; do
    for k in $keyset; do
      echo "== Loom, $n node(s), $k keys, $cl"
      cluster_up "$n" 1
      start_nodes
      if ((n > 1)); then wait_peers_up 120; fi
      for c in $connset; do loom_run "$cl" "$n" "$k" "$c"; done
      cluster_down wipe
    done
  done
done

echo "== instructions per insert (callgrind)"
insn=$("$ROOT/bench/rest_insn.sh" --keys "$keyset" --inserts $((short ? 1000 : 5000)) 2>&1 |
  awk '/instructions per insert$/ {sub(/^keys=/, "", $1); sub(/:$/, "", $1); printf "%s %s; ", $1, $2}')
echo "   ${insn:-not measured}"

harper_csv="" harper_note="not run (--no-harper)"
if ((harper)); then
  echo "== Harper (bench/harper.sh)"
  hargs=(--nodes "$sizes" --keys "$keyset" --conns "$connset" --seconds "$secs" --out "$WORK/harper")
  ((short)) && hargs+=(--quick)
  if "$ROOT/bench/harper.sh" "${hargs[@]}" >"$WORK/harper.log" 2>&1; then
    harper_note="every run verified by bench/harper.sh"
  else
    harper_note="bench/harper.sh exited non-zero: its FAILED rows carry no figures (see its log)"
    failed=1
  fi
  tail -n 25 "$WORK/harper.log" | sed 's/^/   /'
  harper_csv=$(find "$WORK/harper" -name "harper-*.csv" 2>/dev/null | sort | tail -n 1 || true)
fi
# Harper's CSV columns by name into rows.
if [[ -n $harper_csv ]]; then
  while IFS= read -r r; do rows+=("$r"); done < <(python3 - "$harper_csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    ok = r.get("verified", "").lower() in ("yes", "true", "1", "ok")
    g = lambda *ks: next((r[k] for k in ks if r.get(k) not in (None, "")), "-")
    if not ok:
        print(f"harper|{g('nodes')}|{g('keys')}|{g('conns')}|FAILED|-|-|-|-|-|-|-|-|no")
        continue
    print("|".join(["harper", g("nodes"), g("keys"), g("conns"),
                    g("inserts_s"), g("p50_ms"), g("p99_ms"),
                    g("all_nodes_s", "on_all_nodes_s"), "-", "-",
                    g("cpu_ms_per_insert", "cpu_ms_insert"), "-", "-", "yes"]))
PY
  )
fi

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ncpu=$(nproc) kern=$(uname -r)
rev=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
stamp=$(date +%Y%m%d-%H%M%S) when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$out"
base=$out/compare-$stamp
hdr="| system | nodes | keys | conns | inserts/s | p50 ms | p99 ms | on all nodes/s | lag p50 ms | lag p99 ms | CPU ms/insert | null req/s | of null | verified |"
{
  echo "# Loom and Harper, replicated inserts, $when"
  echo
  echo "- machine: $ncpu CPUs, $cpu_model; Linux $kern; every node, client and kernel share them"
  echo "- loom $rev (Release): devnet clusters (net_af_packet on veths, one bridge), one loomd and"
  echo "  one loom-controld per node (mTLS, keys from the TLS exporter), sync = commit"
  echo "- clients: $clients for ${secs}s on node 1; wrk -t1 with bench/wrk/insert.lua (kernel TCP),"
  echo "  loom-load with one load lcore (DPDK, Loom's TCP; rows loom/loom-load): 400-byte, 8-field"
  echo "  records; null = GET /health with the same client and connections"
  echo "- Loom verified per run: same record count and digest on every node, every acknowledged"
  echo "  id read back on every node; Harper: $harper_note"
  echo "- instructions per insert (callgrind, bench/rest_insn.sh): ${insn:-not measured}"
  echo "- the run took $((SECONDS - t_start)) s"
  echo
  echo "$hdr"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
  echo
  echo "![inserts/s against connections]($(basename "$base")-conns.png)"
  echo "![p99 latency against connections]($(basename "$base")-p99.png)"
  echo "![inserts/s against cluster size]($(basename "$base")-nodes.png)"
} >"$base.md"
{
  echo "date,nproc,cpu,kernel,rev,seconds,system,nodes,keys,conns,inserts_s,p50_ms,p99_ms,all_nodes_s,lag_p50_ms,lag_p99_ms,cpu_ms_per_insert,null_s,of_null,verified"
  for r in "${rows[@]}"; do echo "$when,$ncpu,\"$cpu_model\",$kern,$rev,$secs,${r//|/,}"; done
} >"$base.csv"

# Plots: one data file per (system, nodes, keys) series.
pd=$WORK/plot
mkdir -p "$pd"
for r in "${rows[@]}"; do
  IFS='|' read -r sys n k c ins _p50 p99 _rest <<<"$r"
  [[ $ins == FAILED ]] && continue
  sys=${sys//\//+}
  echo "$c $ins $p99" >>"$pd/$sys-${n}n-$k.conns"
  echo "$n $ins" >>"$pd/$sys-$k-${c}c.nodes"
done
plot_series() { # EXT COLUMN: "file" using 1:COL title ..., for every series
  local ext=$1 col=$2 f s=""
  for f in "$pd"/*."$ext"; do
    [[ -e $f ]] || continue
    sort -n -o "$f" "$f"
    s+="${s:+, }'$f' using 1:$col with linespoints title '$(basename "$f" ".$ext")'"
  done
  echo "$s"
}
if command -v gnuplot >/dev/null; then
  s=$(plot_series conns 2)
  [[ -n $s ]] && gnuplot -e "set terminal png size 900,560; set output '$base-conns.png';
    set title 'Replicated inserts/s against connections (node 1 takes the load)';
    set xlabel 'connections'; set ylabel 'inserts/s'; set key outside; set logscale x 2;
    plot $s"
  s=$(plot_series conns 3)
  [[ -n $s ]] && gnuplot -e "set terminal png size 900,560; set output '$base-p99.png';
    set title 'p99 latency of an insert against connections';
    set xlabel 'connections'; set ylabel 'p99 ms'; set key outside; set logscale x 2; set logscale y;
    plot $s"
  s=$(plot_series nodes 2)
  [[ -n $s ]] && gnuplot -e "set terminal png size 900,560; set output '$base-nodes.png';
    set title 'Replicated inserts/s against cluster size (every write on every node)';
    set xlabel 'nodes'; set ylabel 'inserts/s'; set key outside; set xtics 1;
    plot $s"
fi
echo
cat "$base.md"
echo
echo "wrote $base.md, $base.csv and the PNG plots"
if ((failed)); then
  fail "some runs failed verification: they are FAILED in the table, with no figures"
fi
pass
