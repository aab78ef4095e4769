#!/usr/bin/env bash
# cluster test: larger clusters (full mesh) converge under a moderate load
# on a small machine.
#  - for each size in LOOM_CLUSTER_SIZES ("5 8"): a devnet with that many
#    nodes, each loomd with --mem LOOM_CLUSTER_MEM (256) MB and [tcp]
#    max_conns LOOM_CLUSTER_TCP_MAX_CONNS (64), all sessions up
#  - http_load.py against every node at once: LOOM_CLUSTER_COUNT (1,000)
#    POSTs each over LOOM_CLUSTER_CONNS (8) connections, all good 201s
#  - converged within LOOM_CLUSTER_CONVERGE_S (600): lag 0, cursors ==
#    heads, digests and record counts equal; exactly SIZE x COUNT records
#  - every acked id reads back on every node; LOOM_CLUSTER_SPOT (50) random
#    ids have the same body and ETag everywhere
#  - each node's resident memory (VmRSS, and its peak VmHWM) is printed;
#    a peak above LOOM_CLUSTER_RSS_MAX_MB (400) fails
#  - SIGTERM ends every node cleanly; the devnet goes down before the next
#    size
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SIZES=${LOOM_CLUSTER_SIZES:-5 8}
COUNT=${LOOM_CLUSTER_COUNT:-1000}
LOAD_CONNS=${LOOM_CLUSTER_CONNS:-8}
MEM=${LOOM_CLUSTER_MEM:-256}
MAX_CONNS=${LOOM_CLUSTER_TCP_MAX_CONNS:-64}
CONVERGE_S=${LOOM_CLUSTER_CONVERGE_S:-600}
SPOT=${LOOM_CLUSTER_SPOT:-50}
RSS_MAX_MB=${LOOM_CLUSTER_RSS_MAX_MB:-400}
LOAD_DEADLINE_S=900
VERIFY_DEADLINE_S=900
TABLE=sizes

cluster_init sizes
CLUSTER_NODE_FLAGS=(--mem "$MEM" --tcp-max-conns "$MAX_CONNS")
echo "memory before: MemAvailable $(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo) MiB"

for n in $SIZES; do
  echo "== $n nodes"
  t0=$SECONDS
  cluster_up "$n"
  start_nodes
  wait_peers_up 300
  report_rss
  acks=()
  for ((i = 1; i <= n; i++)); do
    load_start "s$n-l$i" "$i" "$TABLE" "$COUNT"
    acks+=("$WORK/s$n-l$i.acks")
  done
  loads_wait $((LOAD_DEADLINE_S + 60))
  total=$(acks_total "${acks[@]}")
  ((total == n * COUNT)) || fail "$n nodes: $total distinct ids acknowledged, want $((n * COUNT))"
  wait_converged "$CONVERGE_S" "$TABLE"
  records=$(table_records "$TABLE")
  [[ $records == "$total" ]] || fail "$n nodes: $records records of $TABLE, want $total"
  digests_equal "$TABLE" || fail "$n nodes: table $TABLE differs between nodes"
  verify_acks "$TABLE" "${acks[@]}"
  spot_check "$TABLE" "$WORK/verify-$TABLE.ids" "$SPOT"
  echo "$n nodes: memory after the load"
  report_rss
  for ((i = 1; i <= n; i++)); do
    read -r _ peak < <(node_rss "$i")
    ((peak / 1024 <= RSS_MAX_MB)) ||
      fail "$n nodes: node $i peaked at $((peak / 1024)) MiB resident, above $RSS_MAX_MB MiB"
  done
  cluster_down wipe
  echo "$n nodes: converged and checked in $((SECONDS - t0)) s"
done
pass
