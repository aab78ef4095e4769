#!/usr/bin/env bash
# cluster test: X-Replicate-To: confirm=K (semi-synchronous writes).
#  - 3 nodes, links up
#  - POST with confirm=2 on node 1: 201 once both peers committed it (the
#    record is then readable on nodes 2 and 3 at once, no waiting)
#  - node 3 stopped: POST with confirm=2; timeout_ms=2000 waits at least
#    2 s and answers 504 naming the id and "confirmed":1; confirm=1 still
#    answers 201; the 504'd record is committed on node 1 and reaches
#    node 2
#  - a bad header (confirm=3 on a 3-node cluster) is 400, nothing written
#  - node 3 restarted: it catches up and holds both records; converged
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TABLE=conf
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-300}

cluster_init confirm
cluster_up 3
start_nodes
wait_peers_up 120

# post I ID HEADER: POST {"id":ID} to node I with HEADER; sets CODE, BODY
# and SECS (the answer's wall time).
post() {
  local i=$1 id=$2 hdr=$3 t0 t1 out
  t0=$(date +%s.%N)
  out=$(in_client 1 curl -sS --max-time 30 -w '\n%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "$hdr" \
    -d "{\"id\":\"$id\",\"v\":\"$hdr\"}" "http://$(node_ip "$i"):$HTTP_PORT/$TABLE/") ||
    fail "POST $id to node $i: curl failed"
  t1=$(date +%s.%N)
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
}

# get_code I ID: the status of GET /TABLE/ID on node I.
get_code() {
  in_client 1 curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    "http://$(node_ip "$1"):$HTTP_PORT/$TABLE/$2" || true
}

echo "== confirm=2 with every peer up"
post 1 c1 "X-Replicate-To: confirm=2"
[[ $CODE == 201 ]] || fail "confirm=2: $CODE $BODY"
for i in 2 3; do
  [[ $(get_code "$i" c1) == 200 ]] || fail "c1 answered 201 with confirm=2 but node $i does not have it"
done
echo "201 in ${SECS}s; already on nodes 2 and 3"

echo "== a bad header"
post 1 bad "X-Replicate-To: confirm=3"
[[ $CODE == 400 ]] || fail "confirm=3 with 2 peers: $CODE $BODY, want 400"
[[ $(get_code 1 bad) == 404 ]] || fail "a refused confirm=3 write was stored"

echo "== node 3 stopped"
stop_node 3
post 1 c2 "X-Replicate-To: confirm=2; timeout_ms=2000"
[[ $CODE == 504 ]] || fail "confirm=2 with a peer down: $CODE $BODY, want 504"
awk -v s="$SECS" 'BEGIN {exit !(s >= 1.9)}' || fail "504 after ${SECS}s, before its 2 s timeout"
jq -e '.id == "c2" and .confirmed == 1 and (.error | test("committed on this node"))' \
  <<<"$BODY" >/dev/null || fail "504 body: $BODY"
echo "504 after ${SECS}s: $BODY"
post 1 c3 "X-Replicate-To: confirm=1"
[[ $CODE == 201 ]] || fail "confirm=1 with one peer up: $CODE $BODY"
for id in c2 c3; do
  [[ $(get_code 1 "$id") == 200 && $(get_code 2 "$id") == 200 ]] ||
    fail "$id is not on nodes 1 and 2"
done

echo "== node 3 back"
start_node 3
wait_peers_up 120
wait_converged "$CONVERGE_S" "$TABLE"
for id in c1 c2 c3; do
  [[ $(get_code 3 "$id") == 200 ]] || fail "$id did not reach node 3 after its restart"
done
echo "node 3 caught up: c1 c2 c3 everywhere"
pass
