#!/usr/bin/env bash
# cluster test: a node that comes back after its peers pruned the log it
# needed is merge-resynced (DESIGN §2, docs/REPLICATION.md): every record
# copied with its version and applied with LWW, never a table replace, then
# streaming resumes from the copy's cursor vector.
#  - 3 nodes with log retention 0 ([repl] log_retention_ms 0,
#    prune_interval_ms 100: an entry goes as soon as every peer that is up
#    acknowledged it), sessions up; LOOM_CLUSTER_ACKS (500) POSTs on every
#    node, converged
#  - node 3 is cut off from its peers: the devnet ports of nodes 1 and 2
#    go down (node 3's own port stays up, so that its client still reaches
#    it); once node 3 sees both sessions down, LOOM_CLUSTER_ONLY3 (25)
#    records are written on node 3 only (they cannot replicate) and node 3
#    is stopped (SIGTERM), its cursors of origins 1 and 2 noted
#  - the ports come up; nodes 1 and 2 reconnect and take
#    LOOM_CLUSTER_LOAD (2,000) POSTs each while node 3 is down; their logs
#    are pruned past node 3's cursors (loom_storage_log_floor{origin="1"}
#    on node 1 above node 3's cursor of origin 1, likewise for 2)
#  - node 3 restarts: its SUBSCRIBEs are below the floors, so nodes 1 and 2
#    copy to it (loom_repl_copies_total grows on node 1 or 2, and
#    loom_repl_copies_received_total on node 3)
#  - converged within LOOM_CLUSTER_CONVERGE_S (300): sessions up, lag 0,
#    cursors == heads, digests and record counts equal; node 3's own
#    records reached nodes 1 and 2 (through node 3's stream: its log kept
#    them, no peer ever acknowledged them); every acked id reads back on
#    every node; random ids have the same body and ETag everywhere
# The time from node 3's start to convergence and the records copied are
# printed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ACKS=${LOOM_CLUSTER_ACKS:-500}
ONLY3=${LOOM_CLUSTER_ONLY3:-25}
LOAD=${LOOM_CLUSTER_LOAD:-2000}
PING_MS=${LOOM_CLUSTER_PING_MS:-500}
DEAD_MS=${LOOM_CLUSTER_DEAD_MS:-3000}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-8}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
SPOT=${LOOM_CLUSTER_SPOT:-100}
PRUNE_WAIT_S=120
TABLE="resync"

cluster_init resync
# Retention 0: the logs of nodes 1 and 2 are pruned as soon as the other
# one acknowledges; a dead link must be noticed within seconds.
CLUSTER_NODE_FLAGS=(--repl-log-retention-ms 0 --repl-prune-interval-ms 100
  --repl-ping-ms "$PING_MS" --repl-dead-ms "$DEAD_MS")
cluster_up 3
start_nodes
wait_peers_up 120

# copies_on I: loom_repl_copies_total (merge copies sent) on node I.
copies_on() { metric "$1" loom_repl_copies_total; }

echo "== $ACKS writes on every node"
acks=()
for i in 1 2 3; do
  load_start "a$i" "$i" "$TABLE" "$ACKS"
  acks+=("$WORK/a$i.acks")
done
loads_wait 300
wait_converged "$CONVERGE_S" "$TABLE"
copies0=()
for i in 1 2 3; do
  copies0[i]=$(copies_on "$i") || fail "node $i: GET /metrics failed"
  [[ -n ${copies0[i]} ]] || fail "node $i exports no loom_repl_copies_total"
done

echo "== node 3 cut off from its peers (${CL_BR_IF[1]} and ${CL_BR_IF[2]} down in $CL_BR_NS)"
link_set 1 down
link_set 2 down
cut_at=$SECONDS
# node3_alone: node 3 (still reachable from its client) sees both sessions down.
node3_alone() {
  [[ $(metric 3 loom_repl_peer_up 'peer="1"') == 0 &&
    $(metric 3 loom_repl_peer_up 'peer="2"') == 0 ]]
}
wait_for 60 "node 3 to see both sessions down" node3_alone
echo "node 3 alone after $((SECONDS - cut_at)) s"
load_start only3 3 "$TABLE" "$ONLY3"
loads_wait 120
n3=$(load_acks only3)
((n3 == ONLY3)) || fail "node 3 acknowledged $n3 of $ONLY3 writes"
acks+=("$WORK/only3.acks")
metrics 3 "$WORK/n3/before-stop.txt" || fail "node 3: GET /metrics failed"
c31=$(metric_in "$WORK/n3/before-stop.txt" loom_repl_cursor 'origin="1"')
c32=$(metric_in "$WORK/n3/before-stop.txt" loom_repl_cursor 'origin="2"')
own3=$(metric_in "$WORK/n3/before-stop.txt" loom_storage_own_seq)
[[ -n $c31 && -n $c32 && -n $own3 ]] || fail "node 3: no loom_repl_cursor / loom_storage_own_seq"
echo "node 3: $n3 records of its own only; its cursors: origin 1 at $c31, origin 2 at $c32; own seq $own3"
stop_node 3
link_set 1 up
link_set 2 up
echo "node 3 stopped; nodes 1 and 2 back on the network"
wait_peers_up 120

echo "== $LOAD writes on nodes 1 and 2 while node 3 is down"
for i in 1 2; do
  load_start "b$i" "$i" "$TABLE" "$LOAD"
  acks+=("$WORK/b$i.acks")
done
loads_wait 600
# pruned_past: node 1's log of origin 1 and node 2's of origin 2 no longer
# hold what node 3 needs next.
pruned_past() {
  local f1 f2
  f1=$(metric 1 loom_storage_log_floor 'origin="1"') || return 1
  f2=$(metric 2 loom_storage_log_floor 'origin="2"') || return 1
  [[ -n $f1 && -n $f2 ]] && ((f1 > c31 && f2 > c32))
}
wait_for "$PRUNE_WAIT_S" "the logs of nodes 1 and 2 to be pruned past node 3's cursors" \
  pruned_past
echo "pruned: node 1 log floor of origin 1 $(metric 1 loom_storage_log_floor 'origin="1"')" \
  "(node 3 needs $((c31 + 1))), node 2 log floor of origin 2" \
  "$(metric 2 loom_storage_log_floor 'origin="2"') (node 3 needs $((c32 + 1)))"

echo "== node 3 restarts below the log floors: merge copy"
t0=$SECONDS
start_node 3
wait_peers_up 120
wait_converged "$CONVERGE_S" "$TABLE"
took=$((SECONDS - t0))
sent=0 grew=0
for i in 1 2; do
  c=$(copies_on "$i") || fail "node $i: GET /metrics failed"
  r=$(metric "$i" loom_repl_copy_records_sent_total) || fail "node $i: GET /metrics failed"
  echo "node $i: loom_repl_copies_total ${copies0[i]} -> $c, loom_repl_copy_records_sent_total ${r:-absent}"
  ((c > copies0[i])) && grew=$((grew + c - copies0[i]))
  sent=$((sent + ${r:-0}))
done
((grew > 0)) || fail "loom_repl_copies_total did not grow on node 1 or 2: node 3 was not merge-resynced"
got=$(metric 3 loom_repl_copies_received_total) || fail "node 3: GET /metrics failed"
((${got:-0} >= 1)) || fail "node 3: loom_repl_copies_received_total is ${got:-absent}, want >= 1"
echo "node 3 merge-resynced by $grew copy(ies) ($sent records sent, $got applied on node 3)" \
  "and converged $took s after its start"

echo "== node 3's own records and every acked id on every node"
for i in 1 2; do verify_on "$i" "$TABLE" "$WORK/only3.acks"; done
verify_acks "$TABLE" "${acks[@]}"
total=$(acks_total "${acks[@]}")
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
records=$(table_records "$TABLE")
((records == total)) || fail "$records records of $TABLE, but $total writes were acknowledged"
spot_check "$TABLE" "$WORK/verify-$TABLE.ids" "$SPOT"
cluster_report "$TABLE"
echo "resync: $total records on every node; $sent copied to node 3 in ${took} s to convergence"
stop_nodes
pass
