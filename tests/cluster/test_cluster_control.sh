#!/usr/bin/env bash
# cluster test: the control plane end to end (DESIGN §5, docs/CONTROL.md).
# Three loomd nodes with [control] socket and no [peers]; one loom-controld
# per node on its management address (mg0), certificates from a CA made
# with loomctl; the cluster formed ONLY with loomctl:
#  - `loomctl ca init`, `cert issue` x3, `node add` x3 sent to node 1: every
#    data link comes up; `loomctl status --json` on every node shows both
#    control links and both data links up, then lag 0 after a load, and
#    every acked write is on every node
#  - rekeying under load (rekey_interval_s LOOM_CLUSTER_REKEY_S, 6): the
#    epochs of every pair move on while POSTs run on every node; no client
#    error (no connection reset), nothing lost; frames under an old epoch
#    are refused once the switch completes (cluster_keys shows that in
#    detail on loomd's side)
#  - loom-controld of node 2 killed (-9) under load: the data plane keeps
#    replicating on its current keys (node 2's writes keep reaching node 1);
#    restarted, it picks up its topology and its links come back with a
#    newer epoch
#  - `loomctl node remove 3` on node 1: within LOOM_CLUSTER_REMOVE_S (15)
#    nodes 1 and 2 list no peer 3 and node 3's data links are down; node
#    3's writes after that reach neither
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PING_MS=${LOOM_CLUSTER_PING_MS:-500}
DEAD_MS=${LOOM_CLUSTER_DEAD_MS:-3000}
REKEY_S=${LOOM_CLUSTER_REKEY_S:-6}
REMOVE_S=${LOOM_CLUSTER_REMOVE_S:-15}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-16}
TABLE="ctl"

cluster_init control
CL_KEYS=controld
CLUSTER_NODE_FLAGS=(--repl-ping-ms "$PING_MS" --repl-dead-ms "$DEAD_MS")
CONTROLD_FLAGS=("rekey_interval_s = 3600")
# cluster_up: `loomctl ca init` and `cert issue` per node (lib.sh pki_init);
# start_nodes: loomd, then loom-controld on every node, then `loomctl node
# add` x3 on node 1 (controld_form): nothing else gives the nodes peers.
cluster_up 3
echo "== the cluster formed with loomctl only (node add x3 on node 1)"
start_nodes
wait_peers_up 120

# status_json I: loomctl status --json of node I into WORK/status.I.json.
status_json() {
  loomctl_on "$1" status --json >"$WORK/status.$1.json" 2>"$WORK/status.$1.err"
}
# all_linked: on every node, both peers' control and data links up.
all_linked() {
  local i
  for i in 1 2 3; do
    status_json "$i" || return 1
    jq -e '(.peers | length) == 2 and ([.peers[] | .control == "up" and .data_up and .epoch > 0] | all)' \
      "$WORK/status.$i.json" >/dev/null || return 1
  done
}
wait_for 60 "loomctl status to show every link up" all_linked
for i in 1 2 3; do
  echo "node $i: $(jq -c '[.peers[] | {id, control, data_up, epoch}]' "$WORK/status.$i.json")"
done

echo "== a load on every node; lag back to 0 after it"
acks=()
for i in 1 2 3; do
  load_start "a$i" "$i" "$TABLE" 3000
  acks+=("$WORK/a$i.acks")
done
loads_wait 600
lag_zero() {
  local i
  for i in 1 2 3; do
    status_json "$i" || return 1
    jq -e '[.peers[] | .data_up and .lag_entries == 0] | all' "$WORK/status.$i.json" >/dev/null || return 1
  done
}
wait_for 120 "loomctl status to show lag 0 on every node" lag_zero
echo "loomctl status: lag 0 everywhere"
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"

# epoch_of I J: node I's key epoch for peer J as loomd reports it.
epoch_of() { metric "$1" loom_repl_peer_epoch "peer=\"$2\"" || true; }

echo "== rekeying under load (every ${REKEY_S} s)"
for i in 1 2 3; do
  controld_kill "$i"
  sed -i "s/^rekey_interval_s = .*/rekey_interval_s = $REKEY_S/" "$WORK/n$i/controld.ini"
done
for i in 1 2 3; do controld_start "$i"; done
wait_for 60 "loomctl status to show every link up again" all_linked
e12=$(epoch_of 1 2) e13=$(epoch_of 1 3) e23=$(epoch_of 2 3)
for i in 1 2 3; do
  load_start "r$i" "$i" "$TABLE" 100000000 --stop-file "$WORK/stop" --drain 3
  acks+=("$WORK/r$i.acks")
done
rekeyed_twice() {
  controld_alive
  local a b c
  a=$(epoch_of 1 2) b=$(epoch_of 1 3) c=$(epoch_of 2 3)
  [[ -n $a && -n $b && -n $c ]] && ((a >= e12 + 2 && b >= e13 + 2 && c >= e23 + 2))
}
wait_for $((REKEY_S * 8 + 60)) "two rekeys of every pair under load" rekeyed_twice
loads_stop
echo "epochs 1-2 $e12 -> $(epoch_of 1 2), 1-3 $e13 -> $(epoch_of 1 3), 2-3 $e23 -> $(epoch_of 2 3);" \
  "$(acks_total "${acks[@]}") writes acknowledged, no client error"
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
u=0
for i in 1 2 3; do u=$((u + $(metric "$i" loom_repl_unknown_epoch_total || echo 0))); done
echo "connections refused under an epoch the acceptor no longer (or not yet) held: $u"

echo "== node 2's loom-controld killed under load"
for i in 1 2 3; do
  controld_kill "$i"
  sed -i "s/^rekey_interval_s = .*/rekey_interval_s = 3600/" "$WORK/n$i/controld.ini"
done
for i in 1 2 3; do controld_start "$i"; done
wait_for 60 "every link up again" all_linked
e12=$(epoch_of 1 2)
controld_kill 2
echo "node 2's loom-controld is gone"
c=$(metric 1 loom_repl_cursor 'origin="2"')
load_start k2 2 "$TABLE" 2000
acks+=("$WORK/k2.acks")
loads_wait 300
cursor_moved() { (($(metric 1 loom_repl_cursor 'origin="2"' || echo 0) >= c + 2000)); }
wait_for 60 "node 2's writes to reach node 1 without its loom-controld" cursor_moved
[[ $(metric 2 loom_repl_peer_up 'peer="1"') == 1 ]] || fail "node 2's data link to node 1 went down"
echo "node 2's 2000 writes reached node 1 on the keys it had (epoch $e12)"
controld_start 2
newer() { [[ -n $(epoch_of 1 2) ]] && (($(epoch_of 1 2) > e12)) && all_linked; }
wait_for 60 "node 2's links back under a newer epoch" newer
jq -e '.node.member and .node.topology_version > 0' "$WORK/status.2.json" >/dev/null ||
  fail "node 2's loom-controld did not pick up its topology: $(jq -c .node "$WORK/status.2.json")"
echo "restarted: topology version $(jq .node.topology_version "$WORK/status.2.json"), epoch 1-2 $(epoch_of 1 2)"
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"

echo "== loomctl node remove 3"
r1=$(metric 1 loom_storage_table_records "table=\"$TABLE\"")
t0=$SECONDS
out=$(loomctl_on 1 node remove 3 2>&1) || fail "loomctl node remove 3: $out"
gone() {
  [[ -z $(metric 1 loom_repl_peer_up 'peer="3"' || true) &&
    -z $(metric 2 loom_repl_peer_up 'peer="3"' || true) &&
    $(metric 3 loom_repl_peer_up 'peer="1"' || echo 0) != 1 &&
    $(metric 3 loom_repl_peer_up 'peer="2"' || echo 0) != 1 ]]
}
wait_for "$REMOVE_S" "node 3's links to close" gone
echo "node 3's links closed $((SECONDS - t0)) s after node remove (bound ${REMOVE_S} s)"
load_start w3 3 "$TABLE" 300
loads_wait 120
sleep 3
for i in 1 2; do
  [[ $(metric "$i" loom_storage_table_records "table=\"$TABLE\"") == "$r1" ]] ||
    fail "node $i applied writes of the removed node 3"
done
echo "node 3's 300 writes after its removal reached neither node 1 nor node 2"
controld_alive
pass
