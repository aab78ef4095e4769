#!/usr/bin/env bash
# cluster test: failover relay (DESIGN §4). Nodes 1 and 2 lose the link
# between them while both still reach node 3: each asks node 3 for the
# other's origin, node 3 relays it from its own copy of their logs, and
# every write reaches every node with the link still cut. When the link
# heals, the two take each other's origin straight again and the relays end.
#  - 3 nodes, sessions up
#  - the bridge ports of nodes 1 and 2 isolated (bridge link ... isolated
#    on: isolated ports reach every port but each other); wait until both
#    report the link down and node 3 as the relay of the other's origin
#    (loom_repl_relay_via)
#  - LOOM_CLUSTER_WRITES (3,000) POSTs on node 1 and on node 2 while cut
#  - converged with the link still down: cursors == heads, digests and
#    record counts equal; every acked id reads back on every node
#  - node 3 relayed entries (loom_repl_relay_entries_sent_total) and nodes
#    1 and 2 applied relayed entries; no merge copy happened
#  - healed: sessions up, more writes on node 1, converged, relay_via back
#    to 0, loom_repl_relays_ended_total grew on nodes 1 and 2
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PING_MS=${LOOM_CLUSTER_PING_MS:-500}
DEAD_MS=${LOOM_CLUSTER_DEAD_MS:-3000}
WRITES=${LOOM_CLUSTER_WRITES:-3000}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-16}
TABLE="relay"

cluster_init relay
CLUSTER_NODE_FLAGS=(--repl-ping-ms "$PING_MS" --repl-dead-ms "$DEAD_MS")
cluster_up 3
start_nodes
wait_peers_up 120

# relaying: nodes 1 and 2 see their link down, and node 3 relays each
# one's origin to the other.
relaying() {
  [[ $(metric 1 loom_repl_peer_up 'peer="2"' || true) == 0 &&
    $(metric 2 loom_repl_peer_up 'peer="1"' || true) == 0 &&
    $(metric 1 loom_repl_relay_via 'origin="2"' || true) == 3 &&
    $(metric 2 loom_repl_relay_via 'origin="1"' || true) == 3 ]]
}
# counter I NAME: loom_repl_NAME_total on node I (0 when absent).
counter() {
  local v
  v=$(metric "$1" "loom_repl_$2_total" || true)
  echo "${v:-0}"
}
copies_total() {
  local i n=0
  for i in 1 2 3; do n=$((n + $(counter "$i" copies))); done
  echo "$n"
}

copies0=$(copies_total)
echo "== the link between nodes 1 and 2 cut (their bridge ports isolated)"
link_isolate 1 on
link_isolate 2 on
cut_at=$SECONDS
wait_for 60 "nodes 1 and 2 to see their link down and relay through node 3" relaying
echo "relaying through node 3 after $((SECONDS - cut_at)) s"
loomd_check "after the cut"

echo "== $WRITES writes on node 1 and on node 2, link still cut"
load_start w1 1 "$TABLE" "$WRITES"
load_start w2 2 "$TABLE" "$WRITES"
loads_wait 600
acks=("$WORK/w1.acks" "$WORK/w2.acks")
echo "$(acks_total "${acks[@]}") writes acknowledged"
CONV_LINKS_MAY_BE_DOWN=1 wait_converged "$CONVERGE_S" "$TABLE"
relaying || fail "the relays ended while the link was still cut"
verify_acks "$TABLE" "${acks[@]}"
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
sent3=$(counter 3 relay_entries_sent)
got1=$(counter 1 relay_entries_received)
got2=$(counter 2 relay_entries_received)
echo "relayed: node 3 sent $sent3 entries; node 1 received $got1, node 2 received $got2"
((sent3 >= 2 * WRITES)) || fail "node 3 relayed $sent3 entries, want at least $((2 * WRITES))"
((got1 >= WRITES && got2 >= WRITES)) ||
  fail "relayed entries received: node 1 $got1, node 2 $got2; want at least $WRITES each"
(($(copies_total) == copies0)) || fail "a merge copy ran: the relay should have carried everything"

echo "== link healed"
link_isolate 1 off
link_isolate 2 off
wait_peers_up 120
load_start w3 1 "$TABLE" 500
loads_wait 300
acks+=("$WORK/w3.acks")
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"
spot_check "$TABLE" "$WORK/verify-$TABLE.ids" 100
for i in 1 2; do
  v=$(metric "$i" loom_repl_relay_via "origin=\"$((3 - i))\"" || true)
  [[ $v == 0 ]] || fail "node $i: loom_repl_relay_via{origin=\"$((3 - i))\"} is ${v:-absent} after the heal, want 0"
  n=$(counter "$i" relays_ended)
  ((n >= 1)) || fail "node $i: loom_repl_relays_ended_total is $n after the heal"
  echo "node $i: relays started $(counter "$i" relays_started), ended $n," \
    "stale relayed batches dropped $(counter "$i" relay_batches_dropped)"
done
(($(copies_total) == copies0)) || fail "a merge copy ran after the heal"
stop_nodes
pass
