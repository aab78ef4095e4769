#!/usr/bin/env bash
# net test: one loomd on net_af_packet inside a devnet node namespace.
#  - ping -c 20 from the client namespace gets 20 replies; arping is answered
#  - 10,000 malformed frames from a packet socket land in the right drop
#    counters, and loomd keeps answering
#  - idle, with back-off on, the whole process uses under 10% of one core
#  - SIGTERM ends it cleanly (exit 0, "clean shutdown")
#  - devnet down leaves no namespace of ours and the root namespace's
#    interfaces exactly as they were
set -euo pipefail

SRC=${LOOM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${LOOM_BUILD_DIR:-$SRC/build}
if [[ $EUID -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi

TAG="l$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/loom-l2l3.XXXXXX")
DEVNET="$SRC/scripts/devnet.sh"
PID=""

cleanup() {
  local rc=$?
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  "$DEVNET" down --tag "$TAG" >/dev/null 2>&1 || true
  if [[ $rc -ne 0 && -f $WORK/loomd.log ]]; then
    echo "--- loomd.log (last 40 lines)"; tail -n 40 "$WORK/loomd.log"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $end ]] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

root_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

"$DEVNET" up --nodes 1 --clients 1 --tag "$TAG" >/dev/null
STATE=$("$DEVNET" status --tag "$TAG" --json)
NODE_NS=$(jq -r '.nodes[0].ns' <<<"$STATE")
NODE_IP=$(jq -r '.nodes[0].ip' <<<"$STATE")
NODE_MAC=$(jq -r '.nodes[0].mac' <<<"$STATE")
CLI_NS=$(jq -r '.clients[0].ns' <<<"$STATE")
CLI_IP=$(jq -r '.clients[0].ip' <<<"$STATE")
CLI_MAC=$(jq -r '.clients[0].mac' <<<"$STATE")
PREFIX=$(jq -r '.prefix' <<<"$STATE")

"$SRC/scripts/node-config.sh" --tag "$TAG" --node 1 --ip "$NODE_IP/$PREFIX" \
  --dir "$WORK" --stats-interval-ms 100 >"$WORK/n1.ini"

"$BUILD/loomd" --check-config "$WORK/n1.ini"
ip netns exec "$NODE_NS" "$BUILD/loomd" --config "$WORK/n1.ini" >"$WORK/loomd.log" 2>&1 &
PID=$!
wait_for 60 "loomd to start polling" grep -q "polling port" "$WORK/loomd.log"
wait_for 10 "the stats file" test -s "$WORK/stats.json"

in_client() { ip netns exec "$CLI_NS" "$@"; }

# ARP: arping gets answers from loomd's stack (dp0 has no kernel address).
out=$(in_client arping -c 3 -w 20 -I eth0 "$NODE_IP" 2>&1) || { echo "$out"; fail "arping got no answer"; }
grep -Eq "Received [1-9][0-9]* response" <<<"$out" || { echo "$out"; fail "arping output has no responses"; }
echo "arping: $(grep -E 'Received' <<<"$out")"

# ICMP: 20 echo requests, 20 replies.
out=$(in_client ping -n -c 20 -i 0.2 -W 5 "$NODE_IP" 2>&1) || true
received=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' <<<"$out")
[[ $received == 20 ]] || { echo "$out"; fail "ping: $received of 20 replies"; }
echo "ping: 20 of 20 replies"

# 10,000 malformed frames, each counted under its reason.
in_client python3 "$SRC/tests/net/send_frames.py" --iface eth0 \
  --dst-mac "$NODE_MAC" --src-mac "$CLI_MAC" --dst-ip "$NODE_IP" \
  --src-ip "$CLI_IP" --count 10000 --stats "$WORK/stats.json" \
  || fail "malformed frames were not all counted as drops"
kill -0 "$PID" || fail "loomd died under malformed frames"
out=$(in_client ping -n -c 5 -i 0.2 -W 5 "$NODE_IP" 2>&1) || true
grep -q " 5 received" <<<"$out" || { echo "$out"; fail "no ping replies after the malformed frames"; }
echo "still answering after the malformed frames"

# Idle CPU: utime+stime of the whole process over 5 s, after a short settle.
sleep 1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep 5
c1=$(cpu); t1=$(date +%s.%N)
pct=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$tck" \
  'BEGIN { printf "%.2f", 100 * (b - a) / hz / (t1 - t0) }')
echo "idle cpu: ${pct}% of one core"
awk -v p="$pct" 'BEGIN { exit !(p < 10) }' || fail "idle loomd used ${pct}% of a core (limit 10%)"

# SIGTERM: exits 0 and says it shut down cleanly.
kill -TERM "$PID"
end=$((SECONDS + 30))
while kill -0 "$PID" 2>/dev/null; do
  [[ $SECONDS -lt $end ]] || fail "loomd still running 30s after SIGTERM"
  sleep 0.2
done
rc=0; wait "$PID" || rc=$?
PID=""
[[ $rc -eq 0 ]] || fail "loomd exited $rc after SIGTERM"
grep -q "clean shutdown" "$WORK/loomd.log" || fail "no clean shutdown in the log"
echo "SIGTERM: clean shutdown"

"$DEVNET" down --tag "$TAG" >/dev/null
if ip netns list | grep -q "loom-$TAG-"; then fail "namespaces left behind"; fi
root_links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
[[ $root_links_before == "$root_links_after" ]] || fail "root namespace interfaces changed"
echo "devnet down: nothing left behind"
echo "PASS"
