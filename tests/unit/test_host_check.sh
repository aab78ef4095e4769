#!/usr/bin/env bash
# test_host_check.sh: drive scripts/host-check.sh against a fake /sys + /proc
# tree (LOOM_SYSROOT) of a well-tuned host, then break one thing at a time.
# Everything it creates lives in one mktemp -d directory under /tmp. Last, it
# runs host-check.sh read-only on the real machine and only checks that it
# does not fail as a usage error.
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
hc=$src/scripts/host-check.sh
[[ -x $hc ]] || { echo "FAIL: $hc missing or not executable" >&2; exit 1; }

root=$(mktemp -d /tmp/loom-hostcheck-test.XXXXXX)
[[ -n $root && -d $root && $root == /tmp/loom-hostcheck-test.* ]] \
  || { echo "FAIL: mktemp -d gave '$root'" >&2; exit 1; }
trap 'rm -rf "${root:?}"' EXIT

tree=${root:?}/tree         # the fake sysroot
good=${root:?}/good.ini     # the profile the fake host matches
nic=0000:3b:00.0
dev=${tree:?}/sys/bus/pci/devices/$nic
cpu=${tree:?}/sys/devices/system/cpu

# A profile as in hw-configs/: [eal] args continued on an indented line,
# lcore 3 on two CPUs via a group, comments (inline too).
printf '%s\n' \
  '[node]' 'id = 1' '' \
  '[eal]' \
  "args = -a $nic --file-prefix t" \
  '    --lcores 0@1,1@2,2@3,3@(4-5)' '' \
  '[host]' \
  '# two housekeeping CPUs, four isolated' \
  'hugepage_size = 1G   ; 1 GiB pages' \
  'hugepages = 4' \
  'numa_node = 0' \
  'isolcpus = 2-5' \
  'nohz_full = 2-5' \
  'irq_cpus = 0-1' \
  'governor = performance' \
  'thp = never' \
  'iommu = pt' \
  "nic = $nic" \
  'nic_driver = vfio-pci' '' \
  '[run]' 'x = 1' >"$good"

# build_tree: 8 CPUs on 2 nodes (0-5 node 0, 6-7 node 1), tuned as $good says.
build_tree() {
  rm -rf "${tree:?}"
  mkdir -p "${tree:?}/proc" "${cpu:?}" "${dev:?}" "${tree:?}/sys/bus/pci/drivers/vfio-pci" \
    "${tree:?}/sys/bus/pci/drivers/ice" "${tree:?}/sys/kernel/mm/transparent_hugepage" \
    "${tree:?}/sys/class/iommu/dmar0"
  echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt isolcpus=managed_irq,domain,2-5 nohz_full=2-5" \
    >"${tree:?}/proc/cmdline"
  echo 2-5 >"${cpu:?}/isolated"
  echo 2-5 >"${cpu:?}/nohz_full"
  local c n
  for c in 0 1 2 3 4 5 6 7; do
    n=0; ((c < 6)) || n=1
    mkdir -p "${cpu:?}/cpu$c/cpufreq" "${cpu:?}/cpu$c/node$n"
    echo performance >"${cpu:?}/cpu$c/cpufreq/scaling_governor"
  done
  echo "always madvise [never]" >"${tree:?}/sys/kernel/mm/transparent_hugepage/enabled"
  for n in 0 1; do
    mkdir -p "${tree:?}/sys/devices/system/node/node$n/hugepages/hugepages-1048576kB" \
      "${tree:?}/sys/devices/system/node/node$n/hugepages/hugepages-2048kB"
    echo 0 >"${tree:?}/sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages"
  done
  echo 4 >"${tree:?}/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"
  echo 0 >"${tree:?}/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"
  echo 0 >"${dev:?}/numa_node"
  ln -s ../../../../bus/pci/drivers/vfio-pci "${dev:?}/driver"
}

failures=0 out="" rc=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# run PROFILE: host-check.sh on the fake tree; sets $out and $rc.
run() {
  rc=0
  out=$(LOOM_SYSROOT=${tree:?} "$hc" "$@" 2>&1) || rc=$?
}
expect_rc() { # WANT DESC
  if [[ $rc == "$1" ]]; then pass "$2 (exit $rc)"
  else fail "$2: exit $rc, want $1; output:"; printf '    %s\n' "$out" >&2; fi
}
expect_out() { # PATTERN DESC
  if grep -qE -- "$1" <<<"$out"; then pass "$2"
  else fail "$2: output lacks /$1/; output:"; printf '    %s\n' "$out" >&2; fi
}
# expect_fix CHECK PATTERN DESC: exit 1, exactly one FIX line, for CHECK,
# matching PATTERN.
expect_fix() {
  expect_rc 1 "$3"
  expect_out "^FIX +$1 .*$2" "$3: FIX line for $1"
  local n
  n=$(grep -c '^FIX' <<<"$out" || true)
  if [[ $n == 1 ]]; then pass "$3: only one FIX line"
  else fail "$3: $n FIX lines, want 1:"; printf '    %s\n' "$out" >&2; fi
}

# --- the well-tuned host ------------------------------------------------------
build_tree
run "$good"
expect_rc 0 "well-tuned host"
for check in isolcpus nohz_full irq lcores governor thp numa_nic numa_lcores hugepages iommu nic_driver; do
  expect_out "^OK +$check " "well-tuned host: OK $check"
done
if grep -qE '^(FIX|WARN)' <<<"$out"; then fail "well-tuned host printed FIX/WARN: $out"
else pass "well-tuned host: no FIX or WARN"; fi
expect_out "^OK +irq +no kernel IRQs" "vfio-pci NIC without msi_irqs: no kernel IRQs"
expect_out "^OK +lcores +lcore CPUs 1-5" "--lcores A@B and A@(B-C) map to CPUs 1-5"

# --- one thing wrong at a time ------------------------------------------------
build_tree
echo powersave >"${cpu:?}/cpu3/cpufreq/scaling_governor"
run "$good"
expect_fix governor "cpu3=powersave" "governor powersave on an lcore CPU"

build_tree
echo powersave >"${cpu:?}/cpu7/cpufreq/scaling_governor"
run "$good"
expect_rc 0 "powersave on a CPU that runs no lcore is fine"

build_tree
rm -rf "${cpu:?}"/cpu*/cpufreq
run "$good"
expect_rc 0 "no cpufreq at all is only a warning"
expect_out "^WARN +governor +no cpufreq \(VM\?\)" "no cpufreq: WARN (VM?)"

build_tree
echo "[always] madvise never" >"${tree:?}/sys/kernel/mm/transparent_hugepage/enabled"
run "$good"
expect_fix thp "'always', want never" "THP always"

build_tree
mkdir -p "${dev:?}/msi_irqs" "${tree:?}/proc/irq/40" "${tree:?}/proc/irq/41"
: >"${dev:?}/msi_irqs/40"
: >"${dev:?}/msi_irqs/41"
echo 0-1 >"${tree:?}/proc/irq/40/smp_affinity_list"
echo 0 >"${tree:?}/proc/irq/41/smp_affinity_list"
run "$good"
expect_rc 0 "NIC IRQs all on irq_cpus"
expect_out "^OK +irq +2 IRQ\(s\)" "NIC IRQs on irq_cpus: OK"
echo 3 >"${tree:?}/proc/irq/41/smp_affinity_list"
run "$good"
expect_fix irq "41->3" "an IRQ on an isolated CPU"

build_tree
echo 1 >"${dev:?}/numa_node"
run "$good"
expect_fix numa_nic "on node 1" "NIC on the other node"

build_tree
echo -1 >"${dev:?}/numa_node"
run "$good"
expect_rc 0 "NIC without a NUMA node is only a warning"
expect_out "^WARN +numa_nic" "numa_node -1: WARN"

build_tree
rm -rf "${cpu:?}/cpu4/node0"
mkdir -p "${cpu:?}/cpu4/node1"
run "$good"
expect_fix numa_lcores "cpu4@node1" "an lcore CPU on the other node"

build_tree
echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt nohz_full=2-5" >"${tree:?}/proc/cmdline"
: >"${cpu:?}/isolated"
run "$good"
expect_fix isolcpus "add isolcpus=2-5 to GRUB_CMDLINE_LINUX" "isolcpus missing from the command line"

build_tree
: >"${cpu:?}/isolated"
run "$good"
expect_fix isolcpus "on the kernel command line but .* not active: reboot" "isolcpus on the command line, not active"

build_tree
echo 2-3 >"${cpu:?}/nohz_full"
run "$good"
expect_fix nohz_full "CPUs 4-5 are not active" "nohz_full active on only some CPUs"

build_tree
echo 2 >"${tree:?}/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"
run "$good"
expect_fix hugepages "2 1G pages reserved \(node 0\), want 4: scripts/hugepages.sh reserve 4 --size 1G --node 0" \
  "too few hugepages"

build_tree
echo 4 >"${tree:?}/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages"
echo 0 >"${tree:?}/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"
run "$good"
expect_fix hugepages "0 1G pages reserved \(node 0\)" "hugepages on the wrong node"

build_tree
rm -f "${dev:?}/driver"
ln -s ../../../../bus/pci/drivers/ice "${dev:?}/driver"
run "$good"
expect_fix nic_driver "bound to ice, want vfio-pci: scripts/nic-bind.sh bind $nic" "driver mismatch"

build_tree
rm -f "${dev:?}/driver"
run "$good"
expect_fix nic_driver "bound to no driver" "NIC bound to nothing"

build_tree
rm -rf "${tree:?}/sys/class/iommu/dmar0"
echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1 isolcpus=managed_irq,domain,2-5 nohz_full=2-5" >"${tree:?}/proc/cmdline"
run "$good"
expect_fix iommu "no IOMMU active" "iommu off"

build_tree
echo "BOOT_IMAGE=/vmlinuz intel_iommu=on isolcpus=managed_irq,domain,2-5 nohz_full=2-5" >"${tree:?}/proc/cmdline"
run "$good"
expect_fix iommu "add iommu=pt" "iommu on but not passthrough"

build_tree
rm -rf "${cpu:?}/cpu5"
run "$good"
expect_fix lcores "lcore CPUs 5 do not exist" "an lcore CPU the host lacks"

# -l (identity) instead of --lcores, and empty keys are not checked.
build_tree
printf '%s\n' '[eal]' 'args = -l 6-7 -a x' '[host]' 'governor = performance' 'thp =' 'numa_node = 1' >"${root:?}/l.ini"
run "${root:?}/l.ini"
expect_rc 0 "-l 6-7 on node 1"
expect_out "^OK +lcores +lcore CPUs 6-7" "-l maps lcores to the same CPUs"
expect_out "^OK +thp +not checked" "an empty key is not checked"
echo powersave >"${cpu:?}/cpu6/cpufreq/scaling_governor"
run "${root:?}/l.ini"
expect_fix governor "cpu6=powersave" "-l: governor checked on CPU 6"

# --- usage errors -------------------------------------------------------------
printf '%s\n' '[eal]' 'args = -l 1' '[run]' 'x = 1' >"${root:?}/nohost.ini"
run "${root:?}/nohost.ini"
expect_rc 2 "profile without [host]"
expect_out "no \[host\] section" "no [host] message"
run "${root:?}/does-not-exist.ini"
expect_rc 2 "missing profile"
run
expect_rc 2 "no profile"
run "$good" --bogus
expect_rc 2 "unknown option"
run --help
expect_rc 0 "--help"
expect_out "^Usage:" "--help prints usage"

# --- the real machine, read-only ----------------------------------------------
real=$src/hw-configs/cloud-8vcpu-virtio.ini
if [[ -r $real ]]; then
  rc=0
  out=$(env -u LOOM_SYSROOT "$hc" "$real" 2>&1) || rc=$?
  if [[ $rc == 0 || $rc == 1 ]]; then pass "real machine with $(basename "$real") (exit $rc)"
  else fail "real machine: exit $rc, want 0 or 1:"; printf '    %s\n' "$out" >&2; fi
  expect_out "^(OK|WARN|FIX) +nic_driver " "real machine: prints check lines"
else
  fail "missing $real"
fi

if ((failures)); then
  echo "FAIL: $failures check(s) failed" >&2
  exit 1
fi
echo "PASS: host-check.sh on a fake sysfs"
