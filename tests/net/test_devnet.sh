#!/usr/bin/env bash
# test_devnet.sh: bring a devnet up and down under a unique tag and check the
# topology, the state file, client-to-client traffic over the bridge, and
# that the root namespace's interfaces are unchanged. Needs root.
# jq programs below name jq variables ($t, $b) inside single quotes:
# shellcheck disable=SC2016
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
devnet=$src/scripts/devnet.sh

if ((EUID != 0)); then
  echo "SKIP: test_devnet.sh needs root (network namespaces)"
  exit 77
fi
for t in ip jq ping ethtool; do
  command -v "$t" >/dev/null 2>&1 || { echo "FAIL: $t not found; run scripts/install-deps.sh" >&2; exit 1; }
done
[[ -x $devnet ]] || { echo "FAIL: $devnet missing or not executable" >&2; exit 1; }

# Unique per run: "t" + 6 hex digits from the pid and $RANDOM.
tag=$(printf 't%06x' $(((($$ << 12) ^ RANDOM ^ (RANDOM << 9)) & 0xffffff)))
state=/run/loom-devnet/$tag.json
tmp=$(mktemp -d "${TMPDIR:-/tmp}/loom-devnet-test.XXXXXX")

cleanup() {
  local rc=$?
  local t
  for t in "$tag" "f${tag#t}"; do
    if ip netns list 2>/dev/null | grep -q "^loom-$t-"; then
      "$devnet" down --tag "$t" >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
check() { # DESC CMD...: pass when CMD succeeds
  local desc=$1; shift
  if "$@" >"$tmp/check.out" 2>&1; then pass "$desc"
  else fail "$desc"; sed 's/^/    /' "$tmp/check.out" >&2; fi
}

root_links() { ip -o link show; }
root_links >"$tmp/links.before"

echo "devnet tag: $tag"
"$devnet" up --nodes 2 --clients 2 --tag "$tag"

# Namespaces.
for ns in br n1 n2 c1 c2; do
  check "namespace loom-$tag-$ns exists" test -e "/run/netns/loom-$tag-$ns"
done

# State file.
check "state file $state exists" test -s "$state"
check "status --json parses" jq -e . <("$devnet" status --tag "$tag" --json)
"$devnet" status --tag "$tag" --json >"$tmp/state.json"
check "json: tag" jq -e --arg t "$tag" '.tag == $t' "$tmp/state.json"
check "json: subnet and prefix" jq -e '.subnet == "10.77.0.0/24" and .prefix == 24' "$tmp/state.json"
check "json: node IPs" jq -e '[.nodes[].ip] == ["10.77.0.11", "10.77.0.12"]' "$tmp/state.json"
check "json: client IPs" jq -e '[.clients[].ip] == ["10.77.0.101", "10.77.0.102"]' "$tmp/state.json"
check "json: bridge namespace" jq -e --arg b "loom-$tag-br" '.bridge_ns == $b' "$tmp/state.json"
check "json: node ifaces and namespaces" jq -e --arg t "$tag" \
  '[.nodes[] | .iface == "dp0" and .ns == "loom-\($t)-\(.name)"] | all' "$tmp/state.json"
check "json: MACs are distinct, locally administered" jq -e \
  '[.nodes[].mac, .clients[].mac] | (unique | length) == 4 and all(test("^02:00:00:77:[0-9a-f]{2}:[0-9a-f]{2}$"))' \
  "$tmp/state.json"

# Nodes: dp0 up, the MAC from the state file, no IPv4 address, IPv6 off,
# offloads off.
for i in 1 2; do
  ns=loom-$tag-n$i
  mac=$(jq -r ".nodes[$((i - 1))].mac" "$tmp/state.json")
  check "n$i: dp0 is up" grep -q 'state UP' <(ip -n "$ns" -o link show dp0)
  check "n$i: dp0 has MAC $mac" grep -qi "link/ether $mac" <(ip -n "$ns" -o link show dp0)
  check "n$i: dp0 has no IPv4 address" test -z "$(ip -n "$ns" -4 -o addr show dev dp0)"
  check "n$i: IPv6 disabled on dp0" grep -qx 1 <(ip netns exec "$ns" sysctl -n net.ipv6.conf.dp0.disable_ipv6)
  ip netns exec "$ns" ethtool -k dp0 >"$tmp/features"
  for f in tx-checksumming tcp-segmentation-offload generic-segmentation-offload generic-receive-offload; do
    check "n$i: $f off on dp0" grep -q "^$f: off" "$tmp/features"
  done
done

# Nodes' management interfaces: mg0 with 10.77.0.(50+I), reachable from
# the other node's kernel (loom-controld's links).
check "json: node management addresses" \
  jq -e '[.nodes[].mgmt_ip] == ["10.77.0.51", "10.77.0.52"] and ([.nodes[].mgmt_iface] | all(. == "mg0"))' \
  "$tmp/state.json"
for i in 1 2; do
  ns=loom-$tag-n$i
  check "n$i: mg0 has 10.77.0.$((50 + i))/24" \
    grep -q "inet 10.77.0.$((50 + i))/24" <(ip -n "$ns" -4 -o addr show dev mg0)
done
check "n1's kernel reaches n2's management address" \
  ip netns exec "loom-$tag-n1" ping -c 1 -W 5 10.77.0.52

# Clients: eth0 up with the expected address.
for j in 1 2; do
  ns=loom-$tag-c$j
  check "c$j: eth0 is up" grep -q 'state UP' <(ip -n "$ns" -o link show eth0)
  check "c$j: eth0 has 10.77.0.$((100 + j))/24" \
    grep -q "inet 10.77.0.$((100 + j))/24" <(ip -n "$ns" -4 -o addr show dev eth0)
done

# Bridge ports.
for port in n1 n2 m1 m2 c1 c2; do
  check "bridge port $port is enslaved to br0 and up" \
    grep -q "state UP" <(ip -n "loom-$tag-br" -o link show "$port" master br0)
done
check "bridge br0 has STP off" grep -q 'stp_state 0' <(ip -n "loom-$tag-br" -d -o link show br0)

# Traffic: client 2 pings client 1 through the bridge.
check "c2 pings c1 via br0" ip netns exec "loom-$tag-c2" ping -c 3 -i 0.2 -W 2 10.77.0.101

# status (human) works while up.
check "status exits 0 while up" "$devnet" status --tag "$tag"

# Up again without --force refuses, and leaves the devnet intact.
rc=0
out=$("$devnet" up --nodes 1 --tag "$tag" 2>&1) || rc=$?
if ((rc != 0)) && grep -q "devnet $tag is already up" <<<"$out"; then
  pass "second up refused: $out"
else
  fail "second up: exit $rc, output: $out"
fi
check "refused up left the state file" test -s "$state"
check "refused up left the namespaces" test -e "/run/netns/loom-$tag-n2"

# An up that fails halfway removes what it created: a shim `ip` fails the
# client address assignment, after the bridge, node and client namespaces exist.
ftag=f${tag#t}
mkdir -p "$tmp/shim"
cat >"$tmp/shim/ip" <<EOF
#!/bin/sh
case "\$*" in *"addr add"*) echo "shim: injected failure" >&2; exit 1 ;; esac
exec $(command -v ip) "\$@"
EOF
chmod +x "$tmp/shim/ip"
rc=0
out=$(PATH=$tmp/shim:$PATH "$devnet" up --nodes 2 --clients 1 --tag "$ftag" 2>&1) || rc=$?
if ((rc != 0)) && grep -q "up failed; removing what it created" <<<"$out"; then
  pass "failed up reports its cleanup"
else
  fail "failed up: exit $rc, output: $out"
fi
check "failed up left no loom-$ftag-* namespace" \
  test -z "$(ip netns list | awk -v p="loom-$ftag-" 'index($1, p) == 1')"
check "failed up left no state file" test ! -e "/run/loom-devnet/$ftag.json"

# Leftover processes are killed by down.
ip netns exec "loom-$tag-c1" sleep 300 &
sleeper=$!
sleep 0.2

"$devnet" down --tag "$tag"

remaining=$(ip netns list | awk -v p="loom-$tag-" 'index($1, p) == 1 {print $1}')
check "no loom-$tag-* namespace remains" test -z "$remaining"
check "state file removed" test ! -e "$state"
if kill -0 "$sleeper" 2>/dev/null; then
  fail "process in loom-$tag-c1 survived down"
  kill -9 "$sleeper" 2>/dev/null || true
else
  pass "down killed the process left in loom-$tag-c1"
fi
wait "$sleeper" 2>/dev/null || true
check "down is idempotent" "$devnet" down --tag "$tag"
rc=0
"$devnet" status --tag "$tag" >/dev/null 2>&1 || rc=$?
if ((rc == 1)); then pass "status exits 1 when down"; else fail "status when down: exit $rc, want 1"; fi

# Root namespace untouched.
root_links >"$tmp/links.after"
if diff -u "$tmp/links.before" "$tmp/links.after" >"$tmp/links.diff"; then
  pass "root namespace links unchanged"
else
  fail "root namespace links changed:"; sed 's/^/    /' "$tmp/links.diff" >&2
fi

if ((failures)); then
  echo "FAIL: $failures check(s) failed" >&2
  exit 1
fi
echo "PASS: devnet up/down ($tag)"
