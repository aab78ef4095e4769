#!/usr/bin/env bash
# Real hugepages (root): scripts/hugepages.sh reserves 16 more 2 MiB pages
# than the machine has, status reports them, and the machine is put back as
# it was (the prior count, and hugetlbfs unmounted if the script mounted it).
# The fake-tree test covers every other path; this one proves the script
# against the kernel. Skipped (77) without root or 2 MiB page support.
set -euo pipefail

SRC=${LOOM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HP="$SRC/scripts/hugepages.sh"
NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

if [[ $EUID -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi
if [[ ! -w $NR ]]; then echo "SKIP: no 2 MiB hugepage support"; exit 77; fi

prior=$(cat "$NR")
was_mounted=0
if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then was_mounted=1; fi
want=$((prior + 16))

restore() {
  local rc=$?
  echo "$prior" >"$NR" || true
  if [[ $was_mounted -eq 0 ]] && grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    umount /dev/hugepages || true
  fi
  exit "$rc"
}
trap restore EXIT

fail() { echo "FAIL: $*"; exit 1; }

out=$("$HP" reserve "$want" 2>&1) || { echo "$out"; fail "reserve $want failed"; }
echo "$out"
[[ $(cat "$NR") -eq $want ]] || fail "kernel has $(cat "$NR") pages, wanted $want"
grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts || fail "hugetlbfs not mounted"

# Idempotent: the same reservation again changes nothing and says so.
out=$("$HP" reserve "$want" 2>&1) || { echo "$out"; fail "second reserve failed"; }
grep -qi "already" <<<"$out" || { echo "$out"; fail "second reserve did not say it was already reserved"; }

out=$("$HP" status 2>&1) || fail "status failed"
grep -q "$want" <<<"$out" || { echo "$out"; fail "status does not show $want pages"; }

# Back to what the machine had.
if [[ $prior -eq 0 ]]; then
  "$HP" release --size 2M >/dev/null || fail "release failed"
else
  "$HP" reserve "$prior" >/dev/null || fail "reserve $prior (restore) failed"
fi
[[ $(cat "$NR") -eq $prior ]] || fail "after release the kernel has $(cat "$NR") pages, not $prior"
echo "PASS: reserved $want 2 MiB pages for real and gave them back"
