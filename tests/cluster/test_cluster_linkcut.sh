#!/usr/bin/env bash
# cluster test: a node cut off the network for a while resumes replication
# from its cursors, without a copy.
#  - 3 nodes (LOOM_CLUSTER_NODES), sessions up
#  - http_load.py against every node (--allow-errors: the cut node's own
#    clients stall or reset), UUID keys, acked ids logged
#  - once every load has LOOM_CLUSTER_ACKS (1,000) acks, one node (seeded
#    RNG, or LOOM_CLUSTER_CUT_NODE) has its veth port on the devnet bridge
#    taken down for LOOM_CLUSTER_CUT_S (10) seconds, then up again; the
#    other nodes must keep taking writes during the cut; the cut node must
#    take writes again afterwards; then the loads stop
#  - sessions up again, converged within LOOM_CLUSTER_CONVERGE_S (300): lag
#    0, cursors == heads, digests and record counts equal
#  - every acked id reads back on every node; random ids have the same body
#    and ETag everywhere
#  - the links resumed from cursors: loom_repl_reconnects_total (summed over
#    the nodes) grew, and loom_repl_copies_total (merge resyncs; counted 0
#    while loomd does not export it) did not
# A reconnect needs the session to notice the cut: the nodes run with [repl]
# ping_interval_ms LOOM_CLUSTER_PING_MS (500) and dead_after_ms
# LOOM_CLUSTER_DEAD_MS (3000), well below LOOM_CLUSTER_CUT_S.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NODES=${LOOM_CLUSTER_NODES:-3}
CUT_S=${LOOM_CLUSTER_CUT_S:-10}
PING_MS=${LOOM_CLUSTER_PING_MS:-500}
DEAD_MS=${LOOM_CLUSTER_DEAD_MS:-3000}
ACKS=${LOOM_CLUSTER_ACKS:-1000}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-8}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
SPOT=${LOOM_CLUSTER_SPOT:-100}
LOAD_DEADLINE_S=900 # the load clients' own bound (the stop file ends them)
ACKS_WAIT_S=300
TABLE="cut"

cluster_init linkcut
# A dead link must be noticed well inside the cut (loomd's defaults: ping
# 1000 ms, dead after 5000 ms).
CLUSTER_NODE_FLAGS=(--repl-ping-ms "$PING_MS" --repl-dead-ms "$DEAD_MS")
cluster_up "$NODES"
start_nodes
wait_peers_up 120

# repl_counters: RECONNECTS and COPIES = loom_repl_reconnects_total and
# loom_repl_copies_total summed over the nodes; fails if a node does not
# answer or does not export loom_repl_reconnects_total.
RECONNECTS="" COPIES=""
repl_counters() {
  local i f v
  RECONNECTS=0 COPIES=0
  for ((i = 1; i <= NODES; i++)); do
    f=$WORK/n$i/counters.txt
    metrics "$i" "$f" || fail "node $i: GET /metrics failed"
    v=$(metric_in "$f" loom_repl_reconnects_total)
    [[ -n $v ]] || fail "node $i exports no loom_repl_reconnects_total (docs/REPLICATION.md)"
    RECONNECTS=$((RECONNECTS + v))
    v=$(metric_in "$f" loom_repl_copies_total)
    COPIES=$((COPIES + ${v:-0}))
  done
}

loads_alive() {
  local k
  for k in "${!LOAD_PIDS[@]}"; do
    kill -0 "${LOAD_PIDS[k]}" 2>/dev/null ||
      fail "load ${LOAD_NAMES[k]} exited early: $(tail -n 3 "$WORK/${LOAD_NAMES[k]}.log" | cut -c1-400)"
  done
}
acks_at_least() {
  loads_alive
  (($(load_acks "$1") >= $2))
}
all_acks_at_least() {
  local i
  for ((i = 1; i <= NODES; i++)); do acks_at_least "l$i" "$1" || return 1; done
}

repl_counters
reconnects0=$RECONNECTS copies0=$COPIES
echo "before: loom_repl_reconnects_total $reconnects0, loom_repl_copies_total $copies0" \
  "(summed over the nodes)"

echo "== load on every node"
acks=()
for ((i = 1; i <= NODES; i++)); do
  load_start "l$i" "$i" "$TABLE" 100000000 --allow-errors --stop-file "$WORK/stop" --drain 3
  acks+=("$WORK/l$i.acks")
done
wait_for "$ACKS_WAIT_S" "$ACKS acks on every node's load" all_acks_at_least "$ACKS"

if [[ -n ${LOOM_CLUSTER_CUT_NODE:-} ]]; then
  v=$LOOM_CLUSTER_CUT_NODE
else
  pick "$NODES"
  v=$PICK
fi
((v >= 1 && v <= NODES)) || fail "LOOM_CLUSTER_CUT_NODE must be 1..$NODES"
echo "== node $v cut off for $CUT_S s (${CL_BR_IF[v]} down in $CL_BR_NS)"
at_cut=()
for ((i = 1; i <= NODES; i++)); do at_cut[i]=$(load_acks "l$i"); done
link_set "$v" down
cut_at=$SECONDS
saw_down=""
while ((SECONDS - cut_at < CUT_S)); do
  loads_alive
  loomd_check "during the link cut"
  if [[ -z $saw_down ]]; then
    for ((i = 1; i <= NODES; i++)); do
      ((i == v)) && continue
      if [[ $(metric "$i" loom_repl_peer_up "peer=\"$v\"" || true) == 0 ]]; then
        saw_down="node $i saw the session with node $v go down after $((SECONDS - cut_at)) s"
        break
      fi
    done
  fi
  sleep 0.5
done
link_set "$v" up
echo "link up after $((SECONDS - cut_at)) s; ${saw_down:-no node reported the session down during the cut}"
for ((i = 1; i <= NODES; i++)); do
  ((i == v)) && continue
  n=$(load_acks "l$i")
  ((n > at_cut[i])) || fail "node $i took no writes while node $v was cut off"
  echo "node $i: $((n - at_cut[i])) writes acknowledged during the cut"
done
n=$(load_acks "l$v")
wait_for "$ACKS_WAIT_S" "node $v to take writes after the cut" acks_at_least "l$v" $((n + 200))
loads_stop
echo "$(acks_total "${acks[@]}") writes acknowledged"

echo "== resume and convergence"
wait_peers_up 120
wait_converged "$CONVERGE_S" "$TABLE"
verify_acks "$TABLE" "${acks[@]}"
digests_equal "$TABLE" || fail "table $TABLE differs between nodes"
spot_check "$TABLE" "$WORK/verify-$TABLE.ids" "$SPOT"

repl_counters
reconnects1=$RECONNECTS copies1=$COPIES
echo "after: loom_repl_reconnects_total $reconnects1, loom_repl_copies_total $copies1"
for ((i = 1; i <= NODES; i++)); do
  echo "  node $i: reconnects $(metric_in "$WORK/n$i/counters.txt" loom_repl_reconnects_total)," \
    "copies $(metric_in "$WORK/n$i/counters.txt" loom_repl_copies_total)"
done
((reconnects1 > reconnects0)) ||
  fail "loom_repl_reconnects_total did not grow ($reconnects0 -> $reconnects1): the sessions" \
    "never noticed the ${CUT_S} s cut (dead_after_ms $DEAD_MS, ping_interval_ms $PING_MS)"
((copies1 == copies0)) ||
  fail "loom_repl_copies_total grew ($copies0 -> $copies1): the links did not resume from cursors"
echo "links resumed from cursors: $((reconnects1 - reconnects0)) reconnect(s), no copy"
stop_nodes
pass
