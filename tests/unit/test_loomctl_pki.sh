#!/usr/bin/env bash
# test_loomctl_pki.sh: `loomctl ca|cert` end to end on the built binary
# ($LOOM_BUILD_DIR/loomctl), every CA and certificate in a mktemp -d
# directory: ca init and its refusal, cert issue and its refusals, cert list
# --json (jq), cert verify's exit codes (ok, wrong name, revoked, another
# CA, malformed), cert revoke, --help on every command and the usage errors
# (exit 2). docs/CONTROL.md documents what is checked here.
set -euo pipefail

build=${LOOM_BUILD_DIR:-}
if [[ -z $build || ! -x $build/loomctl ]]; then
  echo "FAIL: no loomctl in LOOM_BUILD_DIR ('$build'); run through ctest" >&2
  exit 1
fi
loomctl=$build/loomctl
command -v jq >/dev/null 2>&1 || { echo "FAIL: jq not found; run scripts/install-deps.sh" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loom-pki-test.XXXXXX")
[[ -n $tmp && -d $tmp && $tmp != / ]] || { echo "FAIL: mktemp -d gave '$tmp'" >&2; exit 1; }
trap 'rm -rf "${tmp:?}"' EXIT
ca=$tmp/ca

failures=0 out="" err="" rc=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run ARGS...: loomctl ARGS; sets out, err, rc.
run() {
  rc=0
  "$loomctl" "$@" >"${tmp:?}/out" 2>"${tmp:?}/err" || rc=$?
  out=$(<"${tmp:?}/out")
  err=$(<"${tmp:?}/err")
}

# expect RC DESCRIPTION ARGS...: loomctl ARGS exits RC.
expect() {
  local want=$1 what=$2
  shift 2
  run "$@"
  if [[ $rc == "$want" ]]; then
    pass "$what (exit $rc)"
  else
    fail "$what: exit $rc, wanted $want; stdout: $out; stderr: $err"
  fi
}

# has TEXT NEEDLE DESCRIPTION
has() {
  if [[ $1 == *"$2"* ]]; then pass "$3"; else fail "$3: '$2' not in: $1"; fi
}

# check DESCRIPTION CMD...: pass if CMD succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

not() { ! "$@"; }
mode_is() { [[ $(stat -c %a "$1") == "$2" ]]; }
# jq_ok FILTER JSON: the filter holds (jq -e) on JSON.
jq_ok() { jq -e "$1" <<<"$2" >/dev/null; }

# --- help --------------------------------------------------------------------
for cmd in "ca init" "cert issue" "cert revoke" "cert list" "cert verify"; do
  read -ra words <<<"$cmd"
  expect 0 "loomctl $cmd --help" "${words[@]}" --help
  has "$out" "usage: loomctl $cmd" "loomctl $cmd --help prints its usage"
  has "$out" "exit" "loomctl $cmd --help documents the exit codes"
  expect 0 "loomctl $cmd -h" "${words[@]}" -h
done
expect 0 "loomctl --help" --help
has "$out" "cert verify" "the command table lists cert verify"
expect 0 "loomctl cert --help" cert --help
expect 2 "loomctl cert without a command" cert
expect 2 "loomctl cert bogus" cert bogus

# --- ca init -----------------------------------------------------------------
expect 0 "ca init" ca init --dir "$ca" --cluster test1
for f in ca.key.pem ca.crt.pem crl.pem serial issued.txt; do
  if [[ -s $ca/$f ]]; then pass "ca init wrote $f"; else fail "ca init did not write $f"; fi
done
check "ca.key.pem is 0600" mode_is "$ca/ca.key.pem" 600
check "the CA directory is 0700" mode_is "$ca" 700
check "ca.key.pem is a PEM EC key" grep -q -- '-----BEGIN EC PRIVATE KEY-----' "$ca/ca.key.pem"
check "crl.pem is a PEM CRL" grep -q -- '-----BEGIN X509 CRL-----' "$ca/crl.pem"
check "serial starts at 1" grep -qx 1 "$ca/serial"
cp "$ca/ca.crt.pem" "$tmp/ca-first.pem"
expect 1 "a second ca init is refused" ca init --dir "$ca" --cluster test1
has "$err" "already holds a CA" "the refusal says why"
check "the refused init left the CA alone" cmp -s "$ca/ca.crt.pem" "$tmp/ca-first.pem"
expect 2 "ca init with a bad cluster name" ca init --dir "$tmp/ca-x" --cluster 'no spaces'
expect 2 "ca init --days 0" ca init --dir "$tmp/ca-x" --days 0
expect 2 "ca init with an unknown option" ca init --dir "$tmp/ca-x" --bogus
expect 2 "ca init --dir without a value" ca init --dir
check "usage errors create nothing" not test -e "$tmp/ca-x"

# --force replaces a CA (on a CA of its own).
expect 0 "ca init (to replace)" ca init --dir "$tmp/ca2"
cp "$tmp/ca2/ca.crt.pem" "$tmp/ca2-first.pem"
expect 0 "ca init --force" ca init --dir "$tmp/ca2" --force --cluster again
check "--force made a new CA" not cmp -s "$tmp/ca2/ca.crt.pem" "$tmp/ca2-first.pem"

# --- cert issue --------------------------------------------------------------
expect 0 "cert issue n1" cert issue n1 --dir "$ca"
has "$out" "serial 1" "n1 got serial 1"
expect 0 "cert issue n2" cert issue n2 --dir "$ca"
has "$out" "serial 2" "n2 got serial 2"
for f in n1.key.pem n1.crt.pem ca.crt.pem crl.pem; do
  if [[ -s $ca/nodes/n1/$f ]]; then pass "n1's bundle has $f"; else fail "n1's bundle lacks $f"; fi
done
check "n1.key.pem is 0600" mode_is "$ca/nodes/n1/n1.key.pem" 600
check "n1's bundle directory is 0700" mode_is "$ca/nodes/n1" 700
check "the bundle's ca.crt.pem is the CA's" cmp -s "$ca/nodes/n1/ca.crt.pem" "$ca/ca.crt.pem"
expect 1 "a second certificate for n1 is refused" cert issue n1 --dir "$ca"
has "$err" "already holds certificate serial 1" "the refusal names the serial"
expect 0 "cert issue n3 --days 1 --out" cert issue n3 --dir "$ca" --days 1 --out "$tmp/bundle-n3"
check "--out holds n3's certificate" test -s "$tmp/bundle-n3/n3.crt.pem"
check "--out holds n3's key, 0600" mode_is "$tmp/bundle-n3/n3.key.pem" 600
check "--out wrote nothing under nodes/" not test -e "$ca/nodes/n3"
for bad in 'bad name' ca . .. "$(printf 'x%.0s' {1..64})" 'a/b' ''; do
  expect 2 "cert issue '$bad' is a usage error" cert issue "$bad" --dir "$ca"
done
has "$err" "not a node name" "the bad name's error says why"
expect 2 "cert issue without NODE" cert issue --dir "$ca"
expect 2 "cert issue with two nodes" cert issue n5 n6 --dir "$ca"
expect 2 "cert issue --days abc" cert issue n5 --dir "$ca" --days abc
expect 1 "cert issue past the CA's validity" cert issue n5 --dir "$ca" --days 4000
has "$err" "outlive the CA" "the refusal says the CA expires first"
expect 1 "cert issue with no CA" cert issue n5 --dir "$tmp/none"
has "$err" "$tmp/none/ca.crt.pem" "the error names the missing file"

# --- cert list ---------------------------------------------------------------
expect 0 "cert list" cert list --dir "$ca"
has "$out" "n2" "cert list shows n2"
expect 0 "cert list --json" cert list --dir "$ca" --json
json=$out
echo "cert list --json: $json"
check "three certificates listed" jq_ok '.certs | length == 3' "$json"
check "the JSON names the CA" jq_ok '.ca == "loom cluster CA test1"' "$json"
check "all valid, none revoked" jq_ok '[.certs[] | .status, .revoked_at] == ["valid", null, "valid", null, "valid", null]' "$json"
check "--days 1: one day and the hour of backdating" \
  jq_ok '.certs[2] | .node == "n3" and ((.not_after | fromdate) - (.not_before | fromdate)) == 90000' "$json"
n2_serial=$(jq -r '.certs[] | select(.node == "n2") | .serial' <<<"$json")
check "n2's serial from the JSON is 2" test "$n2_serial" = 2

# --- cert verify -------------------------------------------------------------
expect 0 "n1's certificate verifies as n1" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca" --name n1
has "$out" "ok" "verify prints ok"
expect 0 "n1's certificate verifies without a name" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca"
expect 14 "n1's certificate as n2: wrong-name" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca" --name n2
has "$err" "wrong-name" "the reason is printed"
expect 0 "with the node's own CA copy and CRL" cert verify "$ca/nodes/n2/n2.crt.pem" \
  --ca "$ca/nodes/n1/ca.crt.pem" --crl "$ca/nodes/n1/crl.pem" --name n2
expect 10 "the CA certificate is no node: bad-chain" cert verify "$ca/ca.crt.pem" --dir "$ca"
expect 0 "another CA" ca init --dir "$tmp/other" --cluster test1
expect 0 "another CA's n1" cert issue n1 --dir "$tmp/other"
expect 10 "another CA's n1 (same CA name): bad-chain" cert verify "$tmp/other/nodes/n1/n1.crt.pem" --dir "$ca" --name n1
printf 'not a certificate\n' >"$tmp/garbage.pem"
expect 15 "garbage: malformed" cert verify "$tmp/garbage.pem" --dir "$ca"
head -c 200 "$ca/nodes/n1/n1.crt.pem" >"$tmp/cut.pem"
expect 15 "a cut PEM: malformed" cert verify "$tmp/cut.pem" --dir "$ca"
expect 1 "a missing certificate file" cert verify "$tmp/nothing.pem" --dir "$ca"
expect 2 "--ca without --crl" cert verify "$ca/nodes/n1/n1.crt.pem" --ca "$ca/ca.crt.pem"
expect 2 "--dir and --ca" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca" --ca "$ca/ca.crt.pem" --crl "$ca/crl.pem"
expect 2 "verify --name with a bad name" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca" --name 'a b'

# --- cert revoke -------------------------------------------------------------
expect 0 "cert revoke n2" cert revoke "$n2_serial" --dir "$ca"
has "$out" "crl.pem" "revoke says the CRL changed"
expect 13 "n2 is revoked" cert verify "$ca/nodes/n2/n2.crt.pem" --dir "$ca" --name n2
has "$err" "revoked" "the reason is printed"
expect 13 "n2 is revoked by the CA's new CRL on a node" cert verify "$ca/nodes/n2/n2.crt.pem" \
  --ca "$ca/nodes/n1/ca.crt.pem" --crl "$ca/crl.pem" --name n2
expect 0 "n1 still verifies" cert verify "$ca/nodes/n1/n1.crt.pem" --dir "$ca" --name n1
expect 0 "revoking it again changes nothing" cert revoke "$n2_serial" --dir "$ca"
has "$err" "already revoked" "and says so"
expect 1 "revoking an unknown serial" cert revoke 99 --dir "$ca"
has "$err" "serial 99" "the error names the serial"
expect 2 "cert revoke abc" cert revoke abc --dir "$ca"
expect 2 "cert revoke 0" cert revoke 0 --dir "$ca"
expect 2 "cert revoke without SERIAL" cert revoke --dir "$ca"
expect 0 "cert list --json after the revocation" cert list --dir "$ca" --json
check "n2 is listed revoked" \
  jq_ok '.certs[] | select(.node == "n2") | .status == "revoked" and (.revoked_at | type) == "string"' "$out"
expect 0 "a revoked name may be issued again" cert issue n2 --dir "$ca"
has "$out" "serial 4" "with the next serial"
expect 0 "the new n2 verifies" cert verify "$ca/nodes/n2/n2.crt.pem" --dir "$ca" --name n2
expect 1 "cert list with no CA" cert list --dir "$tmp/none"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all loomctl PKI checks passed"
