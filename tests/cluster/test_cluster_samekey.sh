#!/usr/bin/env bash
# cluster test: the same keys written at the same moment on two nodes end
# with the same winner everywhere, and it is the last writer's.
#  - 3 nodes (LOOM_CLUSTER_NODES), sessions up
#  - race 1: two nodes A and B (chosen with the seeded RNG) each PUT
#    /t/KEY, for LOOM_CLUSTER_KEYS (50) keys ("k", "k1", ...) and
#    LOOM_CLUSTER_ROUNDS (20) rounds, the two PUTs of a key released together
#    (cluster_http.py race); every PUT answers 204 with an ETag
#    ("HLC-ORIGIN"); the expected winner of a key is its acknowledged PUT
#    with the highest version (HLC, then the higher origin)
#  - converged within LOOM_CLUSTER_CONVERGE_S (300); exactly KEYS records
#  - on every node, every key: 200, the same body and ETag everywhere, and
#    they are the expected winner's (cluster_http.py compare --expect)
#  - race 2 on the same keys between B and the third node C (remote
#    versions now compete with local ones), the race-1 winners competing
#    too; converged; every key again the same, expected winner everywhere
#  - SIGTERM ends every node cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

NODES=${LOOM_CLUSTER_NODES:-3}
KEYS=${LOOM_CLUSTER_KEYS:-50}
ROUNDS=${LOOM_CLUSTER_ROUNDS:-20}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}
RACE_GUARD_S=600
TABLE=t

((NODES >= 3)) || fail "LOOM_CLUSTER_NODES must be at least 3"
cluster_init samekey
cluster_up "$NODES"
start_nodes
wait_peers_up 120

pick "$NODES"
a=$PICK
b=$((a % NODES + 1))
c=$((b % NODES + 1))

# race NAME X Y [PRIOR]: nodes X and Y race on the keys; winners in
# WORK/NAME.json.
race() {
  local name=$1 x=$2 y=$3 prior=${4:-} rc=0
  local -a pr=()
  [[ -z $prior ]] || pr=(--prior "$prior")
  echo "== $name: nodes $x and $y PUT the same $KEYS keys, $ROUNDS rounds"
  with_nodes cluster_py 1 "$RACE_GUARD_S" race --a "$(node_ip "$x")" --b "$(node_ip "$y")" \
    --a-name "n$x" --b-name "n$y" --port "$HTTP_PORT" --table "$TABLE" --keys "$KEYS" \
    --rounds "$ROUNDS" --out "$WORK/$name.json" "${pr[@]}" >"$WORK/$name.out" || rc=$?
  tail -n 41 "$WORK/$name.out" | cut -c1-400
  ((rc == 0)) || fail "$name: not every PUT answered 204 with an ETag"
}

# same_winner NAME: every key has the expected winner of WORK/NAME.json on
# every node.
same_winner() {
  local name=$1 hosts="" i rc=0
  for ((i = 1; i <= NODES; i++)); do hosts+="${hosts:+,}$(node_ip "$i")"; done
  with_nodes cluster_py 1 300 compare --hosts "$hosts" --port "$HTTP_PORT" --table "$TABLE" \
    --expect "$WORK/$name.json" >"$WORK/$name-compare.out" || rc=$?
  tail -n 41 "$WORK/$name-compare.out" | cut -c1-400
  ((rc == 0)) || fail "after $name: the nodes do not all hold the newest acknowledged PUT"
  echo "after $name: all $KEYS keys hold the same winner (body and ETag) on all $NODES nodes"
}

race race1 "$a" "$b"
wait_converged "$CONVERGE_S" "$TABLE"
records=$(table_records "$TABLE")
[[ $records == "$KEYS" ]] || fail "$records records in $TABLE, want $KEYS"
same_winner race1

race race2 "$b" "$c" "$WORK/race1.json"
wait_converged "$CONVERGE_S" "$TABLE"
records=$(table_records "$TABLE")
[[ $records == "$KEYS" ]] || fail "$records records in $TABLE, want $KEYS"
same_winner race2

stop_nodes
pass
