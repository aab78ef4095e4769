#!/usr/bin/env bash
# cluster test: a node killed mid-load catches up, and no acknowledged write
# is lost anywhere.
#  - 3 nodes (LOOM_CLUSTER_NODES), sessions up
#  - LOOM_CLUSTER_ROUNDS (5) rounds; in each, http_load.py against every
#    node (--allow-errors: the kill resets a client's connections; a status
#    other than 201 still fails it), UUID keys, acked ids logged:
#      once every load has LOOM_CLUSTER_KILL_ACKS (1,000) acks this round,
#      a node chosen with the seeded RNG (seed printed; replay with
#      LOOM_CLUSTER_SEED) gets kill -9;
#      the others must keep taking writes while it is down (each survivor's
#      load acks at least 100 more, and it stays down LOOM_CLUSTER_DOWN_S,
#      5 s, at least);
#      it is restarted on its data and must take writes again (its load
#      acks LOOM_CLUSTER_AFTER_ACKS, 500, more); then the loads stop
#  - after each round: converged within LOOM_CLUSTER_CONVERGE_S (300) (lag
#    0, cursors == heads, table digests and counts equal), every id acked
#    in the round reads back on every node
#  - at the end: every id acked in any round reads back on every node, the
#    record count is at least the number of acked ids (requests in flight at
#    a kill may have been committed too), random ids have the same body and
#    ETag everywhere; SIGTERM ends every node cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NODES=${LOOM_CLUSTER_NODES:-3}
ROUNDS=${LOOM_CLUSTER_ROUNDS:-5}
KILL_ACKS=${LOOM_CLUSTER_KILL_ACKS:-1000}
DOWN_S=${LOOM_CLUSTER_DOWN_S:-5}
AFTER_ACKS=${LOOM_CLUSTER_AFTER_ACKS:-500}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-8}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
SPOT=${LOOM_CLUSTER_SPOT:-100}
LOAD_DEADLINE_S=900 # a round's load clients' own bound (the stop file ends them)
ACKS_WAIT_S=300     # for each ack threshold
TABLE="kill"

cluster_init kill
cluster_up "$NODES"
start_nodes
wait_peers_up 120

# loads_alive: every load client of this round still runs.
loads_alive() {
  local k
  for k in "${!LOAD_PIDS[@]}"; do
    kill -0 "${LOAD_PIDS[k]}" 2>/dev/null ||
      fail "load ${LOAD_NAMES[k]} exited early: $(tail -n 3 "$WORK/${LOAD_NAMES[k]}.log" | cut -c1-400)"
  done
}

# acks_at_least NAME N: load NAME has logged N ids (and all loads run).
acks_at_least() {
  loads_alive
  (($(load_acks "$1") >= $2))
}

# all_acks_at_least ROUND N: every load of ROUND has logged N ids.
all_acks_at_least() {
  local i
  for ((i = 1; i <= NODES; i++)); do acks_at_least "r$1-l$i" "$2" || return 1; done
}

all_acks=()
for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r of $ROUNDS"
  rm -f "${WORK:?}/stop"
  round_acks=()
  for ((i = 1; i <= NODES; i++)); do
    load_start "r$r-l$i" "$i" "$TABLE" 100000000 --allow-errors \
      --stop-file "$WORK/stop" --drain 3
    round_acks+=("$WORK/r$r-l$i.acks")
  done
  wait_for "$ACKS_WAIT_S" "$KILL_ACKS acks on every node's load" all_acks_at_least "$r" "$KILL_ACKS"
  pick "$NODES"
  v=$PICK
  down_at=$SECONDS
  kill_node "$v"
  for ((i = 1; i <= NODES; i++)); do
    ((i == v)) && continue
    n=$(load_acks "r$r-l$i")
    wait_for "$ACKS_WAIT_S" "node $i to take writes while node $v is down" \
      acks_at_least "r$r-l$i" $((n + 100))
  done
  while ((SECONDS - down_at < DOWN_S)); do sleep 0.5; done
  n=$(load_acks "r$r-l$v")
  start_node "$v"
  echo "node $v: restarted after $((SECONDS - down_at)) s down"
  wait_for "$ACKS_WAIT_S" "node $v to take writes after its restart" \
    acks_at_least "r$r-l$v" $((n + AFTER_ACKS))
  loads_stop
  echo "round $r: $(acks_total "${round_acks[@]}") writes acknowledged"
  wait_converged "$CONVERGE_S" "$TABLE"
  verify_acks "$TABLE" "${round_acks[@]}"
  all_acks+=("${round_acks[@]}")
done

echo "== all rounds: every acknowledged id on every node"
verify_acks "$TABLE" "${all_acks[@]}"
total=$(acks_total "${all_acks[@]}")
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
records=$(table_records "$TABLE")
((records >= total)) || fail "$records records of $TABLE, but $total writes were acknowledged"
echo "$total writes acknowledged, $records records on every node"
spot_check "$TABLE" "$WORK/verify-$TABLE.ids" "$SPOT"
cluster_report "$TABLE"
stop_nodes
pass
