#!/usr/bin/env bash
# cluster test: convergence under port-layer faults. test_cluster_converge.sh
# with every node's port dropping LOOM_CLUSTER_FAULT_DROP (2%) and
# reordering LOOM_CLUSTER_FAULT_REORDER (1%) of its frames in each
# direction ([fault]: this kernel has no netem), so the replication links
# (and the clients' HTTP) run over a lossy, reordering network; the same
# assertions: every POST acknowledged, converged, digests and record
# counts equal, every acked id on every node. LOOM_CLUSTER_COUNT defaults
# to 2,000 per node here (retransmissions slow everything down).
set -euo pipefail
export LOOM_NODE_FLAGS="${LOOM_NODE_FLAGS:-} --fault-drop ${LOOM_CLUSTER_FAULT_DROP:-0.02} --fault-reorder ${LOOM_CLUSTER_FAULT_REORDER:-0.01} --fault-seed ${LOOM_CLUSTER_FAULT_SEED:-7}"
export LOOM_CLUSTER_COUNT=${LOOM_CLUSTER_COUNT:-2000}
echo "faults on every node's port: $LOOM_NODE_FLAGS"
exec "$(dirname "$0")/test_cluster_converge.sh"
