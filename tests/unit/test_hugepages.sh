#!/usr/bin/env bash
# test_hugepages.sh: drive scripts/hugepages.sh against a fake /sys + /proc
# tree (LOOM_SYSROOT), so it needs neither root nor real hugepages.
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
hp=$src/scripts/hugepages.sh
[[ -x $hp ]] || { echo "FAIL: $hp missing or not executable" >&2; exit 1; }

root=$(mktemp -d /tmp/loom-hp-test.XXXXXX)
[[ -n $root && -d $root && $root == /tmp/loom-hp-test.* ]] \
  || { echo "FAIL: mktemp -d gave '$root'" >&2; exit 1; }
trap 'rm -rf "${root:?}"' EXIT

sys2=$root/sys/kernel/mm/hugepages/hugepages-2048kB
sys1g=$root/sys/kernel/mm/hugepages/hugepages-1048576kB
node2=$root/sys/devices/system/node/node0/hugepages/hugepages-2048kB
node1g=$root/sys/devices/system/node/node0/hugepages/hugepages-1048576kB

# reset_tree: a 4 GiB machine, one NUMA node, 2M and 1G pages, nothing reserved.
reset_tree() {
  rm -rf "${root:?}/sys" "${root:?}/proc" "${root:?}/etc"
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
check() { # DESC COMMAND...: pass when COMMAND succeeds
  local desc=$1; shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

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

# --- persist -----------------------------------------------------------------
etc=${root:?}/etc
dropin=$etc/sysctl.d/60-loom-hugepages.conf
hpconf=$etc/loom/hugepages.conf
grub=$etc/default/grub

# 2M system-wide: the sysctl drop-in.
reset_tree
run persist 128
expect_rc 0 "persist 128"
if grep -qx 'vm.nr_hugepages = 128' "$dropin" 2>/dev/null; then
  pass "persist 128 writes vm.nr_hugepages = 128 to the sysctl drop-in"
else fail "persist 128: $dropin lacks 'vm.nr_hugepages = 128'"; fi
expect_file "$sys2/nr_hugepages" 0 "persist does not reserve now"
check "2M system-wide persist leaves hugepages.conf alone" test ! -e "$hpconf"
run persist 256
if grep -qx 'vm.nr_hugepages = 256' "$dropin" && (($(grep -c nr_hugepages "$dropin") == 1)); then
  pass "persist again replaces the drop-in's value"
else fail "persist 256: drop-in is '$(<"$dropin")'"; fi
run persist 8 --apply-grub
expect_rc 2 "--apply-grub with 2M pages refused"

# Per node: hugepages.conf, created with a header, then updated in place.
reset_tree
run persist 16 --node 0
expect_rc 0 "persist 16 --node 0"
if grep -qx '2M 0 16' "$hpconf" 2>/dev/null; then pass "persist --node 0 writes '2M 0 16'"
else fail "persist --node 0: $hpconf lacks '2M 0 16'"; fi
check "per-node persist leaves the sysctl drop-in alone" test ! -e "$dropin"
printf '%s\n' '# mine' '1G 0 2' '2M 0 8   # old' '2M 1 4' >"$hpconf"
run persist 32 --node 0
expect_rc 0 "persist 32 --node 0 over an existing conf"
expect_file "$hpconf" $'# mine\n1G 0 2\n2M 0 32\n2M 1 4' \
  "persist --node updates its SIZE NODE line in place, keeps the others"
run persist 3 --node 0 --size 1G
expect_file "$hpconf" $'# mine\n1G 0 3\n2M 0 32\n2M 1 4' "persist --size 1G --node 0 updates the 1G line"
run persist 5 --node 2
expect_file "$hpconf" $'# mine\n1G 0 3\n2M 0 32\n2M 1 4\n2M 2 5' "a new size+node is appended"
printf '2M 0 1' >"$hpconf"   # no trailing newline
run persist 9 --node 0
expect_file "$hpconf" '2M 0 9' "a last line without newline is still updated, not duplicated"

# 1G system-wide: the kernel command line, and GRUB_CMDLINE_LINUX.
reset_tree
params="default_hugepagesz=1G hugepagesz=1G hugepages=4"
run persist 4 --size 1G
expect_rc 0 "persist 4 --size 1G without a grub file"
expect_out "add: $params" "1G persist prints the kernel command line"
expect_out "no .*/etc/default/grub" "1G persist says there is no grub file"
run persist 4 --size 1G --apply-grub
expect_rc 1 "--apply-grub without a grub file fails"
mkdir -p "$etc/default"
printf '%s\n' 'GRUB_DEFAULT=0' 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"' \
  'GRUB_CMDLINE_LINUX="console=ttyS0 hugepagesz=2M hugepages=8"' 'GRUB_TIMEOUT=5' >"$grub"
grub_before=$(<"$grub")
run persist 4 --size 1G
expect_rc 0 "persist 4 --size 1G (no --apply-grub)"
expect_out "GRUB_CMDLINE_LINUX=\"console=ttyS0 $params\"" "without --apply-grub it prints the line to write"
expect_file "$grub" "$grub_before" "without --apply-grub the grub file is untouched"
run --dry-run persist 4 --size 1G --apply-grub
expect_rc 0 "--dry-run persist --apply-grub"
expect_out "would write $grub" "dry-run --apply-grub prints the write"
expect_file "$grub" "$grub_before" "dry-run --apply-grub writes nothing"
run persist 4 --size 1G --apply-grub
expect_rc 0 "persist 4 --size 1G --apply-grub"
grub_after=$'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0 '"$params"$'"\nGRUB_TIMEOUT=5'
expect_file "$grub" "$grub_after" "--apply-grub replaces the hugepage parameters of GRUB_CMDLINE_LINUX only"
sum1=$(cksum <"$grub")
run persist 4 --size 1G --apply-grub
expect_rc 0 "--apply-grub again"
expect_out "already has" "--apply-grub again says nothing to do"
check "--apply-grub is idempotent (file unchanged)" test "$(cksum <"$grub")" = "$sum1"
run persist 6 --size 1G --apply-grub
expect_out "hugepages=6\"" "--apply-grub with a new count updates it"
check "only one hugepages= after an update" test "$(grep -o 'hugepages=' "$grub" | wc -l)" -eq 1

# --dry-run writes nothing anywhere.
reset_tree
run --dry-run persist 64
expect_rc 0 "--dry-run persist 64"
expect_out "would write $dropin" "dry-run persist prints the drop-in write"
run --dry-run persist 16 --node 0
expect_out "would write $hpconf" "dry-run persist --node prints the conf write"
expect_out "2M 0 16" "dry-run persist --node shows the line"
check "dry-run persist created nothing under etc/" test ! -e "$etc"

run persist abc
expect_rc 2 "persist abc refused"
run persist
expect_rc 2 "persist without a count refused"
run reserve 4 --verify
expect_rc 2 "--verify outside persist refused"

# --- persist --verify --------------------------------------------------------
reset_tree
run persist --verify
expect_rc 1 "persist --verify with nothing persisted"
expect_out "MISMATCH: nothing is persisted" "nothing-persisted message"

run persist 64
run persist 16 --node 0
echo 64 >"$sys2/nr_hugepages"
echo 16 >"$node2/nr_hugepages"
run persist --verify
expect_rc 0 "persist --verify when persisted == reserved"
expect_out "^OK: .*60-loom-hugepages.conf: vm.nr_hugepages = 64, 64 2M" "verify OK line for the drop-in"
expect_out "^OK: .*hugepages.conf: 16 2M pages \(node 0\), 16 reserved" "verify OK line for hugepages.conf"
if grep -q MISMATCH <<<"$out"; then fail "verify printed MISMATCH when all match: $out"; else pass "no MISMATCH when all match"; fi

echo 10 >"$node2/nr_hugepages"
run persist --verify
expect_rc 1 "persist --verify when a node pool differs"
expect_out "^MISMATCH: .*16 2M pages \(node 0\), but 10 reserved now" "verify MISMATCH line for hugepages.conf"
echo 16 >"$node2/nr_hugepages"
echo 60 >"$sys2/nr_hugepages"
run persist --verify
expect_rc 1 "persist --verify when the system-wide pool differs"
expect_out "^MISMATCH: .*vm.nr_hugepages = 64, but 60" "verify MISMATCH line for the drop-in"

# grub vs the running kernel's command line.
reset_tree
mkdir -p "$etc/default"
echo "GRUB_CMDLINE_LINUX=\"quiet default_hugepagesz=1G hugepagesz=1G hugepages=2\"" >"$grub"
echo "BOOT_IMAGE=/vmlinuz quiet default_hugepagesz=1G hugepagesz=1G hugepages=2" >"$root/proc/cmdline"
echo 2 >"$sys1g/nr_hugepages"
run persist --verify
expect_rc 0 "persist --verify: grub == cmdline == reserved"
expect_out "^OK: .*grub: hugepages=2 is on the running kernel" "verify OK line for grub"
expect_out "^OK: .*cmdline: hugepages=2, 2 1G pages" "verify OK line for cmdline"
echo "BOOT_IMAGE=/vmlinuz quiet" >"$root/proc/cmdline"
run persist --verify
expect_rc 1 "persist --verify: grub edited but not booted"
expect_out "^MISMATCH: .*grub: hugepages=2, but the running kernel has hugepages=\(none\)" "verify MISMATCH for grub"

# --- boot --------------------------------------------------------------------
reset_tree
run boot
expect_rc 0 "boot without hugepages.conf"
expect_out "nothing to reserve" "boot without a conf says so"
mkdir -p "$etc/loom"
printf '%s\n' '# comment' '2M 0 16' '1G - 1' '' >"$hpconf"
run --dry-run boot
expect_rc 0 "--dry-run boot"
expect_file "$node2/nr_hugepages" 0 "dry-run boot reserves nothing"
run boot
expect_rc 0 "boot reserves hugepages.conf"
expect_file "$node2/nr_hugepages" 16 "boot: '2M 0 16' reserved on node 0"
expect_file "$sys1g/nr_hugepages" 1 "boot: '1G - 1' reserved system-wide"
expect_file "$sys2/nr_hugepages" 0 "boot leaves unlisted pools alone"
run persist --verify
expect_rc 0 "persist --verify after boot"
printf '%s\n' '2M 7 16' '2M 0 20' >"$hpconf"
run boot
expect_rc 1 "boot with a bad line fails"
expect_out "line '2M 7 16' failed" "boot names the failed line"
expect_file "$node2/nr_hugepages" 20 "boot still reserves the good lines"
printf '# nothing here\n' >"$hpconf"
run boot
expect_rc 0 "boot with an empty conf"
expect_out "lists no reservations" "empty conf message"

if ((failures)); then
  echo "FAIL: $failures check(s) failed" >&2
  exit 1
fi
echo "PASS: hugepages.sh on a fake sysfs"
