#!/usr/bin/env bash
# test_hugepages.sh: drive scripts/hugepages.sh against a fake /sys + /proc
# tree (LOOM_SYSROOT), so it needs neither root nor real hugepages.
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
hp=$src/scripts/hugepages.sh
[[ -x $hp ]] || { echo "FAIL: $hp missing or not executable" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/loom-hp-test.XXXXXX")
trap 'rm -rf "$root"' EXIT

sys2=$root/sys/kernel/mm/hugepages/hugepages-2048kB
sys1g=$root/sys/kernel/mm/hugepages/hugepages-1048576kB
node2=$root/sys/devices/system/node/node0/hugepages/hugepages-2048kB
node1g=$root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB

# reset_tree: a 4 GiB machine, one NUMA node, 2M and 1G pages, nothing reserved.
reset_tree() {
  rm -rf "${root:?}/sys" "${root:?}/proc"
  local d
  for d in "$sys2" "$sys1g" "$node2" "$node1g"; do
    mkdir -p "$d"
    echo 0 >"$d/nr_hugepages"
    echo 0 >"$d/free_hugepages"
    echo 0 >"$d/surplus_hugepages"
  done
  mkdir -p "$root/proc"
  cat >"$root/proc/meminfo" <<'EOF'
MemTotal:        4194304 kB
MemFree:         3000000 kB
Hugepagesize:       2048 kB
EOF
  cat >"$root/proc/mounts" <<'EOF'
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
EOF
}

failures=0 out="" rc=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# run ARGS...: run hugepages.sh on the fake tree; sets $out (stdout+stderr) and $rc.
run() {
  rc=0
  out=$(LOOM_SYSROOT=$root "$hp" "$@" 2>&1) || rc=$?
}

expect_rc() { # WANT DESC
  if [[ $rc == "$1" ]]; then pass "$2 (exit $rc)"
  else fail "$2: exit $rc, want $1; output:"; printf '    %s\n' "$out" >&2; fi
}
expect_out() { # PATTERN DESC
  if grep -qE -- "$1" <<<"$out"; then pass "$2"
  else fail "$2: output lacks /$1/; output:"; printf '    %s\n' "$out" >&2; fi
}
expect_file() { # FILE WANT DESC
  local got
  got=$(<"$1")
  if [[ $got == "$2" ]]; then pass "$3"
  else fail "$3: $1 holds '$got', want '$2'"; fi
}

# --- reserve -----------------------------------------------------------------
reset_tree
run reserve 64
expect_rc 0 "reserve 64"
expect_file "$sys2/nr_hugepages" 64 "reserve 64 writes 64 to the 2M pool"
expect_out "skipping mount" "mounting is skipped under LOOM_SYSROOT"
expect_file "$node2/nr_hugepages" 0 "system-wide reserve leaves the node pool alone"

run reserve 64
expect_rc 0 "reserve 64 again"
expect_out "already reserved" "second reserve is a no-op"

# --- dry run -----------------------------------------------------------------
reset_tree
run --dry-run reserve 32
expect_rc 0 "--dry-run reserve 32"
expect_out "would write 32 to $sys2/nr_hugepages" "dry run prints the write"
expect_file "$sys2/nr_hugepages" 0 "dry run writes nothing"
run reserve 2 --size 1G --dry-run
expect_out "would write 2 to $sys1g/nr_hugepages" "--dry-run also works after the command"
expect_file "$sys1g/nr_hugepages" 0 "dry run (1G) writes nothing"

# --- sizes and nodes ---------------------------------------------------------
reset_tree
run reserve 2 --size 1G
expect_rc 0 "reserve 2 --size 1G"
expect_file "$sys1g/nr_hugepages" 2 "1G pages go to the 1G pool"

reset_tree
run reserve 16 --node 0
expect_rc 0 "reserve 16 --node 0"
expect_file "$node2/nr_hugepages" 16 "--node 0 writes the per-node file"
expect_file "$sys2/nr_hugepages" 0 "--node 0 leaves the system-wide file alone"

run reserve 16 --node 7
expect_rc 2 "--node 7 refused"
expect_out "NUMA node 7 does not exist" "--node 7 message"

run reserve 16 --node x
expect_rc 2 "--node x refused"

# --- nonsense ----------------------------------------------------------------
run reserve abc
expect_rc 2 "reserve abc refused"
expect_out "non-negative integer" "reserve abc message"

run reserve -1
expect_rc 2 "reserve -1 refused"
expect_out "non-negative integer" "reserve -1 message"

run reserve
expect_rc 2 "reserve without a count refused"

run reserve 4 --size 3M
expect_rc 2 "--size 3M refused"
expect_out "unknown page size '3M'" "--size 3M message"

run reserve 1800
expect_rc 0 "reserve 1800 x 2M (3.5 GiB of 4 GiB) accepted"
run reserve 1900000
expect_rc 2 "reserve 1900000 x 2M refused"
expect_out "more than 90% of MemTotal" "over-90% message"
run reserve 4 --size 1G
expect_rc 2 "4 x 1G on a 4 GiB machine refused"
run reserve 99999999999999999999
expect_rc 2 "absurd count refused"

rm -rf "$sys1g" "$node1g"
run reserve 1 --size 1G
expect_rc 2 "1G refused when the kernel lacks it"
expect_out "not supported by this kernel" "unsupported size message"

run frobnicate
expect_rc 2 "unknown command refused"

run --help
expect_rc 0 "--help"
expect_out "Usage:" "--help prints usage"

# --- grant shortfall ---------------------------------------------------------
reset_tree
rc=0
out=$(LOOM_SYSROOT=$root LOOM_HUGEPAGES_GRANT_LIMIT=10 "$hp" reserve 64 2>&1) || rc=$?
expect_rc 1 "shortfall exits 1"
expect_out "reserved only 10 of 64 2M pages \(memory fragmented\?" "shortfall message"
expect_file "$sys2/nr_hugepages" 10 "shortfall leaves what the kernel granted"

rc=0
out=$(LOOM_HUGEPAGES_GRANT_LIMIT=10 "$hp" --dry-run reserve 64 2>&1) || rc=$?
expect_rc 2 "grant limit without LOOM_SYSROOT refused"

# --- release -----------------------------------------------------------------
reset_tree
echo 64 >"$sys2/nr_hugepages"
echo 3 >"$sys1g/nr_hugepages"
run --dry-run release
expect_rc 0 "--dry-run release"
expect_out "would write 0 to $sys2/nr_hugepages" "dry-run release prints the 2M write"
expect_file "$sys2/nr_hugepages" 64 "dry-run release writes nothing"
run release --size 2M
expect_rc 0 "release --size 2M"
expect_file "$sys2/nr_hugepages" 0 "release writes 0"
expect_file "$sys1g/nr_hugepages" 3 "release --size 2M leaves 1G alone"
run release
expect_rc 0 "release (all sizes)"
expect_file "$sys1g/nr_hugepages" 0 "release without --size frees 1G too"
run release
expect_rc 0 "release again"
expect_out "already released" "release is idempotent"
echo 5 >"$node2/nr_hugepages"
run release --node 0 --size 2M
expect_file "$node2/nr_hugepages" 0 "release --node 0 writes the per-node file"

# --- status ------------------------------------------------------------------
reset_tree
echo 64 >"$sys2/nr_hugepages"
echo 60 >"$sys2/free_hugepages"
echo 2 >"$sys2/surplus_hugepages"
echo 64 >"$node2/nr_hugepages"
echo "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" >>"$root/proc/mounts"
run status
expect_rc 0 "status"
expect_out '^2M +system +64 +60 +2$' "status prints system-wide total/free/surplus"
expect_out '^2M +node0 +64 ' "status prints per-node numbers"
expect_out '^1G +system +0 +0 +0$' "status prints 1G numbers"
expect_out '/dev/hugepages \(rw,relatime,pagesize=2M\)' "status lists hugetlbfs mounts"
run reserve 64
expect_out "mounted at /dev/hugepages" "an existing 2M mount is recognised"

if ((failures)); then
  echo "FAIL: $failures check(s) failed" >&2
  exit 1
fi
echo "PASS: hugepages.sh on a fake sysfs"
