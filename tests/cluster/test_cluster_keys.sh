#!/usr/bin/env bash
# cluster test: peers and keys handed to loomd over its control socket
# ([control] socket), the way loom-controld does (docs/CONTROL.md), driven
# here by tests/cluster/ctl_keys.py so the data plane's side is shown on its
# own:
#  - 3 nodes with --control-socket and no [peers]: no link before a key
#    (loom_repl_peers 0); with no peer a node prunes its own log by age
#    alone (log_retention_ms 0 here): 200 writes on node 1 before any key
#    are pruned there; one PEER_SET per pair and end: every link up under
#    epoch 1, each pair with its own secret, and nodes 2 and 3 get node 1's
#    pruned entries by a merge copy
#  - load on every node (no client error allowed: a rekey must reset no
#    client connection); during it every pair rekeyed twice (epochs 2
#    and 3, the lower id's end first: its link reopens at once and is
#    refused by the other end until that end has the key too); the loads
#    end, the nodes converge, every acked id reads back on every node
#  - an old epoch is refused once the switch is done: node 1 goes back to
#    epoch 2 for node 2 and node 2 refuses it (loom_repl_unknown_epoch_total
#    grows, the link stays down); epoch 4 on both brings it back
#  - node 1 removed from nodes 2 and 3 (PEER_REMOVE; node 1 itself is not
#    told and keeps its keys): within LOOM_CLUSTER_REMOVE_S (10) s nodes 2
#    and 3 list no peer 1 and node 1 sees both links down; its reconnects
#    are refused (loom_repl_refused_total grows), and its later writes reach
#    neither (their record counts stay)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PING_MS=${LOOM_CLUSTER_PING_MS:-500}
DEAD_MS=${LOOM_CLUSTER_DEAD_MS:-3000}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
REMOVE_S=${LOOM_CLUSTER_REMOVE_S:-10}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-16}
TABLE="keys"

cluster_init keys
CL_KEYS=ctl
CLUSTER_NODE_FLAGS=(--repl-ping-ms "$PING_MS" --repl-dead-ms "$DEAD_MS"
  --repl-log-retention-ms 0 --repl-prune-interval-ms 100)
cluster_up 3
start_nodes

for i in 1 2 3; do
  v=$(metric "$i" loom_repl_peers || true)
  [[ $v == 0 ]] || fail "node $i: loom_repl_peers is ${v:-absent} before any key, want 0"
  h=$(ctl_keys "$i" hello) || fail "node $i: no HELLO on its control socket"
  [[ $(jq -r .node_id <<<"$h") == "$i" ]] || fail "node $i: HELLO says $h"
done
mode=$(stat -c %a "$WORK/n1/loomd.sock")
[[ $mode == 600 ]] || fail "the control socket has mode $mode, want 600"
echo "no links before a key; control sockets mode 600"
load_start pre 1 "$TABLE" 200
loads_wait 120
acks=("$WORK/pre.acks")
pruned_alone() { (($(metric 1 loom_storage_pruned_entries_total || echo 0) >= 200)); }
wait_for 30 "node 1, with no peer, to prune its 200 entries by age" pruned_alone
echo "node 1 pruned its log alone: $(metric 1 loom_storage_pruned_entries_total) entries"

keys_all 1
wait_peers_up 60

# epochs_are E: every node's links up under key epoch E.
epochs_are() {
  local i j
  for i in 1 2 3; do
    for j in 1 2 3; do
      ((i == j)) && continue
      [[ $(metric "$i" loom_repl_peer_epoch "peer=\"$j\"" || true) == "$1" ]] || return 1
      [[ $(metric "$i" loom_repl_peer_up "peer=\"$j\"" || true) == 1 ]] || return 1
    done
  done
}
wait_for 30 "every link under epoch 1" epochs_are 1

counter() {
  local v
  v=$(metric "$1" "loom_repl_$2_total" || true)
  echo "${v:-0}"
}

wait_converged 120 "$TABLE"
verify_acks "$TABLE" "${acks[@]}"
copies=$(( $(metric 1 loom_repl_copies_total || echo 0) ))
((copies >= 2)) || fail "node 1 made $copies merge copies for its pruned log, want one per peer"
echo "nodes 2 and 3 got node 1's pruned entries by merge copy ($copies copies)"

echo "== load on every node, two rekeys of every pair under it"
for i in 1 2 3; do
  load_start "l$i" "$i" "$TABLE" 100000000 --stop-file "$WORK/stop" --drain 3
  acks+=("$WORK/l$i.acks")
done
acks_over() { (($(load_acks l1) >= $1 && $(load_acks l2) >= $1 && $(load_acks l3) >= $1)); }
wait_for 120 "500 acks on every node's load" acks_over 500
unknown0=$(($(counter 2 unknown_epoch) + $(counter 3 unknown_epoch)))
for e in 2 3; do
  for p in "1 2" "1 3" "2 3"; do
    read -r lo hi <<<"$p"
    key_set "$lo" "$hi" "$e"
    sleep 0.3 # the other end gets it a little later, as over real links
    key_set "$hi" "$lo" "$e"
  done
  t0=$SECONDS
  wait_for 60 "every link under epoch $e" epochs_are "$e"
  echo "epoch $e on every link after $((SECONDS - t0)) s"
  n=$(($(load_acks l1) + $(load_acks l2) + $(load_acks l3)))
  wait_for 120 "the loads to go on after the rekey" acks_over $((n / 3 + 300))
done
unknown1=$(($(counter 2 unknown_epoch) + $(counter 3 unknown_epoch)))
echo "connections refused under an epoch the acceptor had no key for yet: $((unknown1 - unknown0))"
loads_stop
echo "$(acks_total "${acks[@]}") writes acknowledged, no client error"
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"

echo "== an older epoch is refused once the switch is done"
u0=$(counter 2 unknown_epoch)
key_set 1 2 2
n12_down() { [[ $(metric 1 loom_repl_peer_up 'peer="2"' || true) == 0 ]]; }
wait_for 30 "node 1's link to node 2 to go down" n12_down
refused_old() { (($(counter 2 unknown_epoch) > u0)); }
wait_for 30 "node 2 to refuse epoch 2" refused_old
sleep 1
n12_down || fail "node 2 took a link under epoch 2 after epoch 3 was in use"
echo "node 2 refused $(($(counter 2 unknown_epoch) - u0)) connection(s) under epoch 2"
keys_pair 1 2 4
wait_peers_up 60

echo "== node 1 removed by nodes 2 and 3"
r0=$(($(counter 2 refused) + $(counter 3 refused)))
c2=$(metric 2 loom_storage_table_records "table=\"$TABLE\"")
c3=$(metric 3 loom_storage_table_records "table=\"$TABLE\"")
t0=$SECONDS
ctl_keys 2 remove 1 >/dev/null || fail "node 2: PEER_REMOVE 1"
ctl_keys 3 remove 1 >/dev/null || fail "node 3: PEER_REMOVE 1"
removed() {
  [[ -z $(metric 2 loom_repl_peer_up 'peer="1"' || true) &&
    -z $(metric 3 loom_repl_peer_up 'peer="1"' || true) &&
    $(metric 1 loom_repl_peer_up 'peer="2"' || true) == 0 &&
    $(metric 1 loom_repl_peer_up 'peer="3"' || true) == 0 ]]
}
wait_for "$REMOVE_S" "node 1's links to close" removed
echo "node 1's links closed $((SECONDS - t0)) s after the removal (bound ${REMOVE_S} s)"
load_start w1 1 "$TABLE" 300
loads_wait 120
refused_more() { (($(counter 2 refused) + $(counter 3 refused) > r0)); }
wait_for 30 "node 1's reconnects to be refused" refused_more
sleep 2
[[ $(metric 2 loom_storage_table_records "table=\"$TABLE\"" || true) == "$c2" ]] ||
  fail "node 2 applied writes of the removed node 1"
[[ $(metric 3 loom_storage_table_records "table=\"$TABLE\"" || true) == "$c3" ]] ||
  fail "node 3 applied writes of the removed node 1"
[[ $(metric 1 loom_storage_table_records "table=\"$TABLE\"" || true) == $((c2 + 300)) ]] ||
  fail "node 1 does not hold its 300 later writes"
echo "node 1's reconnects refused $(($(counter 2 refused) + $(counter 3 refused) - r0)) time(s);" \
  "its 300 later writes reached neither node ($c2 records there, $((c2 + 300)) on node 1)"
stop_nodes
pass
