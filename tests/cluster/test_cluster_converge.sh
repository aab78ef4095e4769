#!/usr/bin/env bash
# cluster test: concurrent writes on every node converge everywhere.
#  - LOOM_CLUSTER_NODES (3) nodes, each with a repl lcore, peers = all the
#    others, one shared secret (docs/REPLICATION.md); every session up
#  - http_load.py against every node at once: LOOM_CLUSTER_COUNT (5,000)
#    POSTs of the 400-byte reference record each, random UUID keys, over
#    LOOM_CLUSTER_CONNS (32) connections, acked ids logged; every POST must
#    be a good 201
#  - after the loads stop, within LOOM_CLUSTER_CONVERGE_S (300): on every
#    node every loom_repl_lag_entries is 0, every loom_repl_cursor{origin=X}
#    equals node X's loom_storage_own_seq, and loom_storage_table_digest /
#    _records{table="conv"} are equal on all nodes
#  - the record count is exactly NODES x COUNT on every node
#  - every acked id (all nodes' logs) reads back on every node with the
#    record that was sent (http_load.py --verify-log against each node)
#  - LOOM_CLUSTER_SPOT (100) random ids: the same body and ETag on all nodes
#  - SIGTERM ends every node cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NODES=${LOOM_CLUSTER_NODES:-3}
COUNT=${LOOM_CLUSTER_COUNT:-5000}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-32}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
SPOT=${LOOM_CLUSTER_SPOT:-100}
LOAD_DEADLINE_S=600 # each load client's own bound
TABLE=conv

cluster_init converge
cluster_up "$NODES"
start_nodes
wait_peers_up 120

echo "== $NODES x $COUNT POSTs, all nodes at once"
acks=()
for ((i = 1; i <= NODES; i++)); do
  load_start "l$i" "$i" "$TABLE" "$COUNT"
  acks+=("$WORK/l$i.acks")
done
loads_wait $((LOAD_DEADLINE_S + 60))
total=$(acks_total "${acks[@]}")
((total == NODES * COUNT)) || fail "the ack logs hold $total distinct ids, want $((NODES * COUNT))"
echo "$total writes acknowledged"

echo "== convergence"
wait_converged "$CONVERGE_S" "$TABLE"
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
records=$(table_records "$TABLE")
[[ $records == "$total" ]] || fail "loom_storage_table_records{table=\"$TABLE\"} is $records, want $total"
cluster_report "$TABLE"

echo "== every acknowledged id on every node"
verify_acks "$TABLE" "${acks[@]}"
spot_check "$TABLE" "$WORK/verify-$TABLE.ids" "$SPOT"

report_rss
stop_nodes
pass
