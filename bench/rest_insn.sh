#!/usr/bin/env bash
# rest_insn.sh: instructions per insert on the server's software path,
# counted by callgrind (repeatable on a noisy machine, unlike time).
#
#   bench/rest_insn.sh [--conns C] [--inserts N] [--keys "uuid seq"] [--top K]
#
# Runs build/rest_insn (bench/rest_insn.c: the TCP stack, the REST server,
# JSON validation, id handling, LMDB group commit and the answers, in one
# process over a fake frame layer) under valgrind --tool=callgrind twice,
# with N and 2N inserts of the reference 400-byte record from C clients
# (default 64 connections, N = 5000), and reports
#   (server instructions at 2N - at N) / N
# where the server's instructions are the inclusive cost of net_rx,
# tcp_input, bench_storage_step and bench_poll (see rest_insn.c): set-up and
# the clients' own work cancel out or are not counted. --top K lists the K
# most expensive functions (inclusive) of the 2N run. Needs valgrind; no
# root, no DPDK. LOOM_BUILD_DIR chooses the build (default build/).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${LOOM_BUILD_DIR:-$SRC/build}
BIN=$BUILD/rest_insn

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

conns=64 n=5000 keys="uuid seq" top=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --conns) conns=$2; shift 2 ;;
    --inserts) n=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "rest_insn.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $conns =~ ^[0-9]+$ && $conns -ge 1 && $conns -le 256 ]] || { echo "--conns: 1..256" >&2; exit 2; }
[[ $n =~ ^[0-9]+$ && $n -ge 100 && $n -le 1000000 ]] || { echo "--inserts: 100..1000000" >&2; exit 2; }
[[ $top =~ ^[0-9]+$ ]] || { echo "--top: a count" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "rest_insn.sh: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
[[ -x $BIN ]] || { echo "rest_insn.sh: no $BIN (cmake --build $BUILD --target rest_insn)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/loom-insn.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT

# server_ir FILE: the summed inclusive Ir of the server's entry points.
server_ir() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null | awk '
    /:(net_rx|tcp_input|bench_storage_step|bench_poll) \[/ && $2 ~ /^\(/ {
      gsub(",", "", $1); sum += $1 }
    END { printf "%d", sum }'
}

# run KEYS COUNT: callgrind output file of one run.
run() {
  local k=$1 count=$2 out=$work/cg.$1.$2
  rm -rf "${work:?}/db"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" --dir "$work/db" \
    --keys "$k" --inserts "$count" --conns "$conns" >"$work/run.log" 2>&1 || {
    cat "$work/run.log" >&2
    echo "rest_insn.sh: rest_insn failed (keys $k, $count inserts)" >&2
    exit 1
  }
  echo "$out"
}

echo "instructions per insert (callgrind), $conns connections, ${n} vs $((2 * n)) inserts, loom $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown)"
for k in $keys; do
  a=$(run "$k" "$n")
  b=$(run "$k" $((2 * n)))
  ia=$(server_ir "$a") ib=$(server_ir "$b")
  per=$(( (ib - ia) / n ))
  echo "keys=$k: $per instructions per insert"
  if ((top > 0)); then
    callgrind_annotate --inclusive=yes "$b" 2>/dev/null |
      awk -v n=$((2 * n)) -v k="$top" '
        $2 ~ /^\(/ && $3 ~ /:/ && $3 !~ /main|libc_start|below main|th_inject|rx_frame|drain|th_pop|make_request|tcp_ref_csum/ && shown < k {
          c = $1; gsub(",", "", c); sub(/^.*:/, "", $3)
          printf "  %8d  %s\n", c / n, $3; shown++ }'
  fi
done
