#!/usr/bin/env bash
# cluster test: certificates the control plane refuses (DESIGN §5). Four
# nodes; nodes 1, 3 and 4 form the cluster with good certificates, node 2
# is in the topology too but its loom-controld presents, in turn:
#   other-ca    a certificate from another CA (and trusts only that CA)
#   expired     a certificate of this CA whose validity ended a minute ago
#   revoked     its own certificate, revoked (`loomctl cert revoke`, the
#               new CRL loaded by the others: SIGHUP)
#   wrong-name  a valid certificate of this CA for the name n9
# Node 2 holds the cluster's topology (as a member that was good before),
# so both directions are tried: node 1 dials node 2 (the lower id dials)
# and refuses its certificate as the client; node 2 dials nodes 3 and 4
# (except as n9, a name that is no member, which dials nobody) and the
# handshake fails there too: nodes 3/4 refuse the expired or revoked
# certificate as servers, and for another CA's it is node 2 that refuses
# theirs (TLS 1.3: the client checks the server first) while nodes 3/4
# log the alert. For each: the reason is
# logged by the refusing loom-controld, node 2's loomd never gets a key
# (loom_repl_peers stays 0 there) and nodes 1, 3 and 4 keep replicating
# with each other (links up, a write on node 1 reaches 3 and 4).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

REFUSE_S=${LOOM_CLUSTER_REFUSE_S:-60}
TABLE="refuse"
PKI_ISSUE_AT=${LOOM_PKI_ISSUE_AT:-$BUILD/pki_issue_at}

cluster_init refuse
[[ -x $PKI_ISSUE_AT ]] || fail "no pki_issue_at at $PKI_ISSUE_AT (built with the unit tests)"
cluster_up 4
start_nodes 1 3 4
good_links() {
  local i j
  for i in 1 3 4; do
    for j in 1 3 4; do
      ((i == j)) && continue
      [[ $(metric "$i" loom_repl_peer_up "peer=\"$j\"" || true) == 1 ]] || return 1
    done
  done
}
wait_for 120 "nodes 1, 3 and 4 linked" good_links
echo "nodes 1, 3 and 4 replicate; node 2 is in the topology but not started"
launch_node 2
wait_node_ready 2

# logged NODE REASON SINCE_LINE: node NODE's loom-controld logged a refusal
# naming REASON after line SINCE_LINE of its log.
logged() {
  tail -n +"$(($3 + 1))" "${CTLD_LOG[$1]}" | grep -i "refused" | grep -qi -- "$2"
}
log_lines() { wc -l <"${CTLD_LOG[$1]}"; }

# a write on node 1 must reach nodes 3 and 4 while node 2 is refused
n_writes=0
write_reaches() {
  local out
  out=$(load_start "w$n_writes" 1 "$TABLE" 50 && loads_wait 60) || return 1
  n_writes=$((n_writes + 1))
  wait_converged_among 1 3 4
}
# wait_converged_among I...: the same record count of TABLE on the nodes.
wait_converged_among() {
  local want have i end=$((SECONDS + 60))
  want=$(metric "$1" loom_storage_table_records "table=\"$TABLE\"" || echo x)
  while ((SECONDS < end)); do
    have=1
    for i in "$@"; do
      [[ $(metric "$i" loom_storage_table_records "table=\"$TABLE\"" || true) == "$want" ]] || have=0
    done
    ((have)) && return 0
    sleep 0.5
  done
  return 1
}

# scenario NAME REASON DIALS [REASON_3_4]: node 2's loom-controld (config
# already written) starts with the cluster's topology; node 1 must log
# REASON, and with DIALS=1 node 3 or node 4 must log a failed handshake
# with node 2 naming REASON_3_4 (default REASON); node 2's loomd gets no
# key; the others are unaffected.
scenario() {
  local name=$1 reason=$2 dials=$3 reason34=${4:-$2} l1 l3 l4 i
  l1=$(log_lines 1) l3=$(log_lines 3) l4=$(log_lines 4)
  mkdir -p "$WORK/n2/control"
  cp "$WORK/n1/control/topology" "$WORK/n2/control/topology"
  controld_start 2
  wait_for "$REFUSE_S" "node 1 to refuse node 2 ($name: $reason)" logged 1 "$reason" "$l1"
  if ((dials)); then
    refused_by_3_or_4() { logged 3 "$reason34" "$l3" || logged 4 "$reason34" "$l4"; }
    wait_for "$REFUSE_S" "node 3 or 4 to log the failed handshake with node 2 ($name)" refused_by_3_or_4
  fi
  sleep 2
  [[ $(metric 2 loom_repl_peers || true) == 0 ]] ||
    fail "$name: node 2's loomd has peers: $(metric 2 loom_repl_peers)"
  good_links || fail "$name: the links between nodes 1, 3 and 4 suffered"
  write_reaches || fail "$name: a write on node 1 did not reach nodes 3 and 4"
  echo "$name: refused ($reason) by node 1 dialling node 2$( ((dials)) && echo ", and node 2's dials to nodes 3/4 failed ($reason34)");" \
    "node 2 got no key; nodes 1, 3, 4 unaffected"
  { grep -i "refused" "${CTLD_LOG[1]}" | grep -i -- "$reason" || true; } | tail -n 1 |
    sed "s/^/  node 1: /" | cut -c1-240
  if ((dials)); then
    { grep -ih "refused" "${CTLD_LOG[3]}" "${CTLD_LOG[4]}" | grep -i -- "$reason34" || true; } |
      tail -n 1 | sed "s/^/  node 3|4: /" | cut -c1-240
  fi
  controld_kill 2
}

echo "== a certificate from another CA"
out=$("$LOOMCTL" ca init --dir "$WORK/pki-other" --cluster other 2>&1) || fail "ca init: $out"
out=$("$LOOMCTL" cert issue n2 --dir "$WORK/pki-other" 2>&1) || fail "cert issue: $out"
controld_config 2 n2 "$WORK/pki-other"
scenario other-ca bad-chain 1 unknown_ca

echo "== an expired certificate"
mkdir -p "$WORK/pki-expired/nodes/n2"
ln -s "$WORK/pki/ca.crt.pem" "$WORK/pki-expired/ca.crt.pem"
ln -s "$WORK/pki/crl.pem" "$WORK/pki-expired/crl.pem"
out=$("$PKI_ISSUE_AT" "$WORK/pki" n2 -3000 -60 "$WORK/pki-expired/nodes/n2" 2>&1) ||
  fail "pki_issue_at: $out"
controld_config 2 n2 "$WORK/pki-expired"
scenario expired expired 1

echo "== a revoked certificate"
serial=$("$LOOMCTL" cert list --dir "$WORK/pki" --json |
  jq -r '[.certs[] | select(.node == "n2" and .status == "valid")][0].serial')
[[ $serial =~ ^[0-9]+$ ]] || fail "no valid certificate of n2 to revoke"
out=$("$LOOMCTL" cert revoke "$serial" --dir "$WORK/pki" 2>&1) || fail "cert revoke: $out"
for i in 1 3 4; do kill -HUP "${CTLD_PID[i]}"; done
wait_for 60 "nodes 1, 3 and 4 linked again after reloading the CRL" good_links
controld_config 2
scenario revoked revoked 1

echo "== a certificate for another name (n9)"
out=$("$LOOMCTL" cert issue n9 --dir "$WORK/pki" 2>&1) || fail "cert issue n9: $out"
controld_config 2 n9
scenario wrong-name wrong-name 0
controld_alive
pass
