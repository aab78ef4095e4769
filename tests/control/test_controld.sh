#!/usr/bin/env bash
# test_controld.sh: loom-controld end to end on loopback, no root: a CA
# and node certificates made with `loomctl ca|cert`, three loom-controld
# with three fake loomds (fake_loomd.py logs every PEER_SET/PEER_REMOVE),
# the cluster formed only by `loomctl node add` x3 sent to node 1. Then:
#   - every loomd holds a key for both others, each pair's two ends hold
#     the same epoch and secret, and the three pairs' secrets differ;
#     `loomctl status --json` shows both control links up everywhere
#   - a rekey (rekey_interval_s = 4) gives every pair a higher epoch and
#     another secret, still equal at both ends
#   - a restarted loomd gets its keys again; node 2's loom-controld killed
#     (-9) and restarted comes back with its topology and higher epochs
#   - a stopped (SIGSTOP) peer is found dead and linked again after
#   - four bad nodes added to the topology: a certificate of another CA,
#     an expired one, a revoked one (CRL reloaded with SIGHUP) and one
#     presenting another name than the topology's; the members refuse
#     each (the reason in their logs, counted in stats), the bad nodes see
#     the refusal, and a dial-in with each certificate is refused too; no
#     bad node's loomd ever gets a PEER_SET, nor any loomd one for them,
#     and the three members stay keyed
#   - `loomctl node remove 3`: nodes 1 and 2 get PEER_REMOVE for 3, node 3
#     withdraws all of its keys
#   - loomctl's and loom-controld's usage, errors and exit codes
# Ports are chosen free at run time on 127.0.0.1; every process and the
# mktemp directory go away on exit, failure included.
set -euo pipefail

build=${LOOM_BUILD_DIR:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z $build || ! -x $build/loom-controld || ! -x $build/loomctl ||
      ! -x $build/pki_issue_at ]]; then
  echo "FAIL: loom-controld, loomctl or pki_issue_at missing in" \
       "LOOM_BUILD_DIR ('$build'); run through ctest" >&2
  exit 1
fi
for tool in jq python3; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "FAIL: $tool not found; run scripts/install-deps.sh" >&2; exit 1; }
done
ctld=$build/loom-controld
loomctl=$build/loomctl
fake=$here/fake_loomd.py
keys_py=$here/check_keys.py
probe=$here/tls_probe.py
cluster=0x4c4f4f4d

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loom-ctld-test.XXXXXX")
[[ -n $tmp && -d $tmp && $tmp != / ]] || { echo "FAIL: mktemp -d gave '$tmp'" >&2; exit 1; }

declare -A ctld_pid=() fake_pid=() port=()
failures=0

cleanup() {
  local p
  for p in "${ctld_pid[@]}" "${fake_pid[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  for p in "${ctld_pid[@]}" "${fake_pid[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if ((failures > 0)) && [[ -d $tmp ]]; then
    for p in "$tmp"/n*/controld.log; do
      [[ -f $p ]] || continue
      echo "---- last lines of $p" >&2
      tail -n 25 "$p" >&2
    done
  fi
  if [[ -n ${LOOM_KEEP_TMP:-} ]]; then
    echo "kept $tmp (LOOM_KEEP_TMP)" >&2
  else
    rm -rf "${tmp:?}"
  fi
}
trap cleanup EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { fail "$*"; exit 1; }

# check DESCRIPTION CMD...: pass if CMD succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_for SECONDS DESCRIPTION CMD...: CMD until it succeeds, at most
# SECONDS; pass or fail. wait_ok says which; $tmp/last holds the last
# run's stdout (the successful one's on a pass).
wait_ok=0
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  while :; do
    if "$@" >"$tmp/last" 2>"$tmp/last.err"; then
      pass "$what"
      wait_ok=1
      return 0
    fi
    ((SECONDS < end)) || break
    sleep 0.2
  done
  fail "$what (not within ${secs}s): $(head -c 400 "$tmp/last.err")"
  wait_ok=0
}

# expect RC DESCRIPTION CMD...: CMD exits RC; its stdout/stderr in out/err.
out="" err="" rc=0
expect() {
  local want=$1 what=$2
  shift 2
  rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  out=$(<"$tmp/out")
  err=$(<"$tmp/err")
  if [[ $rc == "$want" ]]; then
    pass "$what (exit $rc)"
  else
    fail "$what: exit $rc, wanted $want; stdout: $out; stderr: $err"
  fi
}

has() {
  if [[ $1 == *"$2"* ]]; then pass "$3"; else fail "$3: '$2' not in: $1"; fi
}

# log_has N TEXT: node N's loom-controld log holds TEXT.
log_has() { grep -qF -- "$2" "$tmp/n$1/controld.log"; }
# log_count N TEXT: how many lines of node N's log hold TEXT.
log_count() { grep -cF -- "$2" "$tmp/n$1/controld.log" || true; }

sock() { echo "$tmp/n$1/run/controld.sock"; }
ctl() { local n=$1; shift; "$loomctl" "$@" --socket "$(sock "$n")"; }
# status_ok N FILTER: jq -e FILTER holds on `loomctl status --json` of N.
status_ok() { ctl "$1" status --json | jq -e "$2" >/dev/null; }
stats_ok() { ctl "$1" stats --json | jq -e "$2" >/dev/null; }
# keys CHECK ARGS...: check_keys.py on every fake loomd's log.
keys() { python3 "$keys_py" --dir "$tmp" "$@"; }

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# config N NAME CERT_DIR CERT_NAME: node N's config file (its bundle in
# CERT_DIR, certificate CERT_NAME.crt.pem).
config() {
  local n=$1 name=$2 dir=$3 cn=$4
  mkdir -p "$tmp/n$n"
  printf '%s\n' \
    "# node $n" \
    "[controld]" \
    "name = $name" \
    "listen = 127.0.0.1:${port[$n]}" \
    "ca = $dir/ca.crt.pem" \
    "cert = $dir/$cn.crt.pem" \
    "key = $dir/$cn.key.pem" \
    "crl = $dir/crl.pem" \
    "state_dir = $tmp/n$n/state" \
    "loomd_socket = $tmp/n$n/loomd.sock" \
    "admin_socket = $tmp/n$n/run/controld.sock" \
    "rekey_interval_s = 4" \
    "ping_interval_s = 1" \
    "dead_after_s = 3" >"$tmp/n$n/controld.conf"
}

# start_fake N NAME [ID]: node N's fake loomd, running as node ID (default N).
start_fake() {
  local n=$1 name=$2 id=${3:-$1}
  python3 "$fake" --socket "$tmp/n$n/loomd.sock" --id "$id" --name "$name" \
    --cluster "$cluster" --log "$tmp/n$n/loomd.jsonl" --rate 50 \
    2>>"$tmp/n$n/fake.log" &
  fake_pid[$n]=$!
}

stop_fake() {
  kill "${fake_pid[$1]}" 2>/dev/null || true
  wait "${fake_pid[$1]}" 2>/dev/null || true
  unset "fake_pid[$1]"
}

start_ctld() {
  local n=$1
  "$ctld" --config "$tmp/n$n/controld.conf" 2>>"$tmp/n$n/controld.log" &
  ctld_pid[$n]=$!
  local end=$((SECONDS + 10))
  # answering, not only a socket file there (a killed one leaves its own)
  until "$loomctl" stats --socket "$(sock "$n")" >/dev/null 2>&1; do
    if ((SECONDS >= end)) || ! kill -0 "${ctld_pid[$n]}" 2>/dev/null; then
      die "loom-controld $n did not start: $(tail -n 5 "$tmp/n$n/controld.log")"
    fi
    sleep 0.1
  done
}

stop_ctld() {
  local n=$1 sig=${2:-TERM} rc=0
  kill "-$sig" "${ctld_pid[$n]}" 2>/dev/null || true
  wait "${ctld_pid[$n]}" 2>/dev/null || rc=$?
  unset "ctld_pid[$n]"
  return "$rc"
}

# --- usage and exit codes ------------------------------------------------------
expect 0 "loom-controld --help" "$ctld" --help
has "$out" "usage: loom-controld --config FILE" "loom-controld --help prints its usage"
expect 0 "loom-controld --version" "$ctld" --version
expect 2 "loom-controld without --config" "$ctld"
mkdir -p "$tmp/bad"
printf '[controld]\nca = x\nbogus = 1\n' >"$tmp/bad/unknown.conf"
expect 2 "loom-controld: an unknown key" "$ctld" --config "$tmp/bad/unknown.conf"
has "$err" "unknown.conf:3: [controld] bogus: unknown key" "the unknown key is named with its line"
printf '[controld]\nca = x\ncert = x\nkey = x\ncrl = x\nping_interval_s = 5\ndead_after_s = 5\n' \
  >"$tmp/bad/dead.conf"
expect 2 "loom-controld: dead_after_s not above ping_interval_s" "$ctld" --config "$tmp/bad/dead.conf"
printf '[controld]\ncert = x\nkey = x\ncrl = x\n' >"$tmp/bad/noca.conf"
expect 2 "loom-controld: ca missing" "$ctld" --config "$tmp/bad/noca.conf"
has "$err" "[controld] ca: missing" "the missing key is named"
printf '[controld]\nca = %s/none\ncert = x\nkey = x\ncrl = x\nstate_dir = %s/bad/st\nadmin_socket = %s/bad/a.sock\n' \
  "$tmp" "$tmp" "$tmp" >"$tmp/bad/files.conf"
expect 1 "loom-controld: a CA file that does not exist" "$ctld" --config "$tmp/bad/files.conf"
expect 3 "loomctl status: no loom-controld there" "$loomctl" status --socket "$tmp/bad/none.sock"
has "$err" "cannot reach loom-controld" "loomctl says it cannot reach loom-controld"
expect 2 "loomctl node add without --dp" "$loomctl" node add --id 1 --name n1 --mgmt 127.0.0.1 --socket "$tmp/x"
expect 2 "loomctl node add --id 0" "$loomctl" node add --id 0 --name n1 --mgmt 127.0.0.1 --dp 10.0.0.1
expect 2 "loomctl node add a bad name" "$loomctl" node add --id 1 --name 'n 1' --mgmt 127.0.0.1 --dp 10.0.0.1
expect 2 "loomctl node add a bad --mgmt" "$loomctl" node add --id 1 --name n1 --mgmt 127.0.0.1:0 --dp 10.0.0.1
expect 2 "loomctl node remove without ID" "$loomctl" node remove
expect 2 "loomctl status --bogus" "$loomctl" status --bogus
for cmd in "node add" "node remove" "status" "stats"; do
  read -ra words <<<"$cmd"
  expect 0 "loomctl $cmd --help" "$loomctl" "${words[@]}" --help
  has "$out" "usage: loomctl $cmd" "loomctl $cmd --help prints its usage"
done

# --- the PKI ---------------------------------------------------------------------
"$loomctl" ca init --dir "$tmp/ca" --cluster test >/dev/null
"$loomctl" ca init --dir "$tmp/ca2" --cluster other >/dev/null
for n in 1 2 3 6 8; do
  "$loomctl" cert issue "n$n" --dir "$tmp/ca" --out "$tmp/pki/n$n" >/dev/null
done
"$loomctl" cert issue n4 --dir "$tmp/ca2" --out "$tmp/pki/n4" >/dev/null
# expired a minute ago
"$build/pki_issue_at" "$tmp/ca" n5 -3000 -60 "$tmp/pki/n5" >/dev/null
serial6=$("$loomctl" cert list --dir "$tmp/ca" --json |
          jq -r '.certs[] | select(.node == "n6") | .serial')
# n7's bundle holds n8's certificate: the wrong name for node 7
cp -r "$tmp/pki/n8" "$tmp/pki/n7"
pass "CA, certificates of n1..n8 (n4 of another CA, n5 expired)"

read -ra ports <<<"$(free_ports 7)"
for n in 1 2 3 4 5 6 7; do port[$n]=${ports[$((n - 1))]}; done
for n in 1 2 3 4 5 6; do config "$n" "n$n" "$tmp/pki/n$n" "n$n"; done
config 7 n8 "$tmp/pki/n7" n8

# --- three nodes -------------------------------------------------------------------
for n in 1 2 3; do start_fake "$n" "n$n"; done
for n in 1 2 3; do start_ctld "$n"; done
check "admin socket mode 0600" test "$(stat -c %a "$(sock 1)")" = 600
check "admin socket's directory made 0700" test "$(stat -c %a "$tmp/n1/run")" = 700
check "state_dir made 0700" test "$(stat -c %a "$tmp/n1/state")" = 700
wait_for 10 "node 1 is connected to its loomd" status_ok 1 '.loomd.connected and .loomd.node_id == 1'

for n in 1 2 3; do
  expect 0 "node add $n (sent to node 1)" \
    ctl 1 node add --id "$n" --name "n$n" --mgmt "127.0.0.1:${port[$n]}" --dp "127.0.1.$n"
done
has "$out" "added node 3 (n3)" "node add says what it added"
expect 1 "node add: an id that exists" ctl 1 node add --id 2 --name n9 --mgmt 127.0.0.1:1 --dp 127.0.1.9
has "$err" "node id 2 is taken" "the refusal says the id is taken"
expect 1 "node add: a name that exists" ctl 1 node add --id 9 --name n2 --mgmt 127.0.0.1:1 --dp 127.0.1.9
expect 1 "node remove: no such node" ctl 1 node remove 99
has "$err" "no such node" "the refusal says there is no such node"
check "topology file mode 0600" test "$(stat -c %a "$tmp/n1/state/topology")" = 600
check "node 1's topology file holds version 3" grep -qx "version 3" "$tmp/n1/state/topology"

wait_for 20 "every pair keyed, both ends equal, three distinct secrets" \
  keys mesh 1,2,3
cp "$tmp/last" "$tmp/mesh1.json"
for n in 1 2 3; do
  wait_for 10 "node $n: topology version 3, both control links up, data up" status_ok "$n" \
    '.node.topology_version == 3 and .node.member and (.peers | length == 2)
     and all(.peers[]; .control == "up" and .data_up and .epoch > 0 and .epoch == .data_epoch)'
done
check "node 2 adopted version 3 from a peer (logged)" log_has 2 "topology version 3 adopted from n1"
check "the cluster id came from loomd's HELLO" \
  grep -qx "cluster 000000004c4f4f4d" "$tmp/n3/state/topology"
wait_for 5 "status shows entries/s from loomd's cursors" status_ok 1 \
  'all(.peers[]; .entries_per_s > 0)'
expect 0 "loomctl status (text)" ctl 1 status
has "$out" "node n1 (id 1), topology version 3" "status text names the node"
expect 0 "loomctl stats (text)" ctl 1 stats
has "$out" "peer_sets" "stats text has the counters"

# --- rekey ---------------------------------------------------------------------------
((wait_ok)) || die "no keys: the rest cannot run"
wait_for 20 "a rekey gives every pair a higher epoch and a new secret, equal at both ends" \
  keys mesh 1,2,3 --newer "$tmp/mesh1.json"
check "node 1 logged a rekey" log_has 1 "rekey (epoch"
wait_for 5 "stats count the rekeys" stats_ok 1 '.controld.rekeys > 0 and .controld.epochs > 2'

# --- a restarted loomd gets its keys again ------------------------------------------------
stop_fake 1
start_fake 1 n1
wait_for 10 "a restarted loomd is given both keys again, equal to its peers'" \
  keys mesh 1,2,3
check "node 1 logged losing loomd" log_has 1 "loomd lost"

# --- node 2's loom-controld killed and restarted -------------------------------------------
wait_for 10 "(the keys before node 2's restart)" keys mesh 1,2,3
cp "$tmp/last" "$tmp/mesh3.json"
stop_ctld 2 KILL || true
check "a killed loom-controld leaves its socket file" test -S "$(sock 2)"
start_ctld 2
check "the restarted node replaced the stale socket" log_has 2 "replaced the stale socket"
check "the restarted node loaded its topology" log_has 2 "topology version 3 loaded"
wait_for 10 "the restarted node learns the epochs from loomd" log_has 2 "loomd holds epoch"
wait_for 15 "node 2 linked again: both control links up" status_ok 2 \
  '.node.topology_version == 3 and all(.peers[]; .control == "up")'
wait_for 20 "after the restart every pair has a higher epoch, equal at both ends" \
  keys mesh 1,2,3 --newer "$tmp/mesh3.json"

# --- a stopped peer is dead, then back ---------------------------------------------------
kill -STOP "${ctld_pid[3]}"
wait_for 10 "node 1 finds node 3 dead (nothing for dead_after_s)" log_has 1 "nothing received for 3 s"
wait_for 5 "node 1's status shows node 3's control link down" status_ok 1 \
  '.peers[] | select(.id == 3) | .control != "up"'
kill -CONT "${ctld_pid[3]}"
wait_for 15 "node 3 is linked again after SIGCONT" status_ok 1 \
  'all(.peers[]; .control == "up")'

# --- a loomd of another node id gets nothing ----------------------------------------------
stop_fake 2
start_fake 2 n2 9
wait_for 10 "node 2 refuses a loomd that runs as node 9, loudly" log_has 2 "REFUSING loomd"
check "that loomd got no key" keys holds-none 2
stop_fake 2
start_fake 2 n2
wait_for 15 "node 2's own loomd back: keyed again" keys mesh 1,2,3

# --- refusals ----------------------------------------------------------------------------
for n in 4 5 6 7; do start_ctld "$n"; done
expect 1 "node add on an empty topology before loomd is there" \
  ctl 4 node add --id 4 --name n4 --mgmt "127.0.0.1:${port[4]}" --dp 127.0.1.4
has "$err" "not connected to loomd yet" "the refusal says loomd is missing"
for n in 4 5 6 7; do start_fake "$n" "n$n"; done
check "n5 says its own certificate fails the peer check" log_has 5 "our own certificate fails the peer check (expired)"
# n6 is revoked after its bundle was made: the members get the new CRL
# and reload it (SIGHUP)
"$loomctl" cert revoke "$serial6" --dir "$tmp/ca" >/dev/null
for n in 1 2 3; do
  cp "$tmp/ca/crl.pem" "$tmp/pki/n$n/crl.pem"
  kill -HUP "${ctld_pid[$n]}"
done
for n in 1 2 3; do
  wait_for 5 "node $n reloaded its CRL" log_has "$n" "reloaded the CA, certificate, key and CRL"
done
for n in 4 5 6 7; do
  expect 0 "node add $n" ctl 1 node add --id "$n" --name "n$n" \
    --mgmt "127.0.0.1:${port[$n]}" --dp "127.0.1.$n"
done
declare -A why=([4]="bad-chain" [5]="expired" [6]="revoked" [7]="wrong-name")
for n in 4 5 6 7; do
  for m in 1 2 3; do
    wait_for 15 "node $m refuses n$n (${why[$n]}), logged" \
      log_has "$m" "refused n$n at 127.0.0.1:${port[$n]}: peer certificate refused (${why[$n]})"
  done
  wait_for 10 "n$n hears it was refused" log_has "$n" "refused us"
done
check "the refusal names the revoked serial" log_has 1 "certificate serial $serial6 ('n6') is revoked"
# the other direction: each bad certificate dialling in to node 1
probe_refused() { python3 "$probe" --port "${port[1]}" "$@" >"$tmp/probe" 2>&1; }
check "a dial-in with n4's certificate (another CA) is refused" \
  probe_refused --cert "$tmp/pki/n4/n4.crt.pem" --key "$tmp/pki/n4/n4.key.pem"
check "a dial-in with n5's certificate (expired) is refused" \
  probe_refused --cert "$tmp/pki/n5/n5.crt.pem" --key "$tmp/pki/n5/n5.key.pem"
check "a dial-in with n6's certificate (revoked) is refused" \
  probe_refused --cert "$tmp/pki/n6/n6.crt.pem" --key "$tmp/pki/n6/n6.key.pem"
check "a dial-in with n8's certificate (not a member) is refused" \
  probe_refused --cert "$tmp/pki/n8/n8.crt.pem" --key "$tmp/pki/n8/n8.key.pem" --hello n8
has "$(<"$tmp/probe")" "n8 is not a member of the topology" "the dial-in is told why"
for r in "bad-chain" "expired" "revoked"; do
  wait_for 5 "node 1 logged a dial-in refused ($r)" \
    log_has 1 "refused a peer at 127.0.0.1:"
  check "node 1 logged the dial-in's reason ($r)" \
    grep -qE "refused a peer at 127\.0\.0\.1:[0-9]+: peer certificate refused \($r\)" "$tmp/n1/controld.log"
done
check "node 1 logged the non-member dial-in" log_has 1 "refused n8 at 127.0.0.1:"
wait_for 5 "node 1's stats count every reason" stats_ok 1 \
  '.controld.refused["bad-chain"] > 0 and .controld.refused.expired > 0 and
   .controld.refused.revoked > 0 and .controld.refused["wrong-name"] > 0 and
   .controld.refused["not-member"] > 0'
check "node 1's status shows a peer's last refusal" status_ok 1 \
  '.peers[] | select(.id == 6) | .control != "up" and (.last_refusal | test("revoked"))'
check "no bad node's loomd got a PEER_SET, nor any loomd one for them" \
  keys never-set 4,5,6,7
wait_for 15 "the three members are unaffected: still keyed pairwise" \
  keys mesh 1,2,3
for n in 1 2 3; do
  check "node $n: its control links to 1..3 are up" status_ok "$n" \
    '[.peers[] | select(.id <= 3) | .control] | all(. == "up")'
done

# --- node remove ----------------------------------------------------------------------
expect 0 "node remove 3 (sent to node 1)" ctl 1 node remove 3
wait_for 10 "nodes 1 and 2 get PEER_REMOVE for 3" \
  keys removed 3 --on 1,2
wait_for 10 "node 3 withdraws the keys of all its peers" \
  keys holds-none 3
check "node 3 logged its removal" log_has 3 "removed from the cluster"
wait_for 5 "node 3's status: not a member" status_ok 3 '.node.member == false and (.peers | length == 0)'
wait_for 5 "node 1's status: node 3 gone" status_ok 1 \
  '[.peers[].id] | index(3) == null'
check "nodes 1 and 2 still keyed to each other" keys mesh 1,2

# --- loom-controld stops on SIGTERM with exit 0 --------------------------------------------
stopped=0
stop_ctld 1 TERM || stopped=$?
check "loom-controld exits 0 on SIGTERM" test "$stopped" = 0
check "and removes its admin socket" test ! -e "$(sock 1)"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all loom-controld checks passed"
