#!/usr/bin/env bash
# net test: one loomd on net_af_packet inside a devnet node namespace.
#  - ping -c 20 from the client namespace gets 20 replies; arping is answered
#  - 10,000 malformed frames from a packet socket land in the right drop
#    counters, and loomd keeps answering
#  - idle, with back-off on, the whole process uses under 10% of one core
#  - DPDK telemetry (/loom/stats, /loom/peers) reports the same counters
#  - SIGTERM ends it cleanly (exit 0, "clean shutdown")
#  - devnet down leaves no namespace of ours and the root namespace's
#    interfaces exactly as they were
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

net_init l2l3
root_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

devnet_up 1 1
node_config --stats-interval-ms 100 >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"

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
in_client python3 "$NET_DIR/send_frames.py" --iface eth0 \
  --dst-mac "$NODE_MAC" --src-mac "$CLI_MAC" --dst-ip "$NODE_IP" \
  --src-ip "$CLI_IP" --count 10000 --stats "$STATS" \
  || fail "malformed frames were not all counted as drops"
loomd_alive || fail "loomd died under malformed frames"
out=$(in_client ping -n -c 5 -i 0.2 -W 5 "$NODE_IP" 2>&1) || true
grep -q " 5 received" <<<"$out" || { echo "$out"; fail "no ping replies after the malformed frames"; }
echo "still answering after the malformed frames"

# DPDK telemetry: /loom/stats carries the same counters as the stats file.
tele() { echo "$1" | dpdk-telemetry.py -f "loom-$TAG-n1" 2>/dev/null | tail -n 1; }
tstats=$(tele /loom/stats)
jq -e '."/loom/stats" | .node == "n1" and .net_icmp_tx_echo_reply >= 25
  and .net_drops >= 10000 and .net_ip_drop_csum > 0 and (.tcp_conns | type) == "number"' \
  <<<"$tstats" >/dev/null || { echo "$tstats" | head -c 600; fail "telemetry /loom/stats is wrong"; }
jq -e '."/loom/peers".node_id == 1' <<<"$(tele /loom/peers)" >/dev/null \
  || fail "telemetry /loom/peers did not answer"
echo "telemetry: /loom/stats and /loom/peers answer with the counters"

# Idle CPU: utime+stime of the whole process over 5 s, after a short settle.
sleep 1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$LOOMD_PID/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep 5
c1=$(cpu); t1=$(date +%s.%N)
pct=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$tck" \
  'BEGIN { printf "%.2f", 100 * (b - a) / hz / (t1 - t0) }')
echo "idle cpu: ${pct}% of one core"
awk -v p="$pct" 'BEGIN { exit !(p < 10) }' || fail "idle loomd used ${pct}% of a core (limit 10%)"

# SIGTERM: exits 0 and says it shut down cleanly.
stop_loomd 30

devnet_down
if ip netns list | grep -q "loom-$TAG-"; then fail "namespaces left behind"; fi
root_links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
[[ $root_links_before == "$root_links_after" ]] || fail "root namespace interfaces changed"
echo "devnet down: nothing left behind"
pass
