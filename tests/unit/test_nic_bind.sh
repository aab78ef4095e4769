#!/usr/bin/env bash
# test_nic_bind.sh: scripts/nic-bind.sh on a fake sysfs with a fake `ip` and
# a fake dpdk-devbind.py that records its arguments. Then, on the real
# machine, a --dry-run bind of the default-route NIC must be refused.
set -euo pipefail

src=${LOOM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
script=$src/scripts/nic-bind.sh
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# --- fake sysfs ----------------------------------------------------------
root=$tmp/root
mkdir -p "$root/sys/bus/pci/devices" "$root/sys/class/net" \
  "$root/sys/bus/pci/drivers"/{ice,mlx5_core,vfio-pci}
# dev ADDR VENDOR DRIVER [NETDEV]
dev() {
  local d=$root/sys/devices/pci0000:00/$1
  mkdir -p "$d"
  echo "$2" >"$d/vendor"
  ln -s "$root/sys/bus/pci/drivers/$3" "$d/driver"
  ln -s "$d" "$root/sys/bus/pci/devices/$1"
  if [[ -n ${4:-} ]]; then
    mkdir -p "$d/net/$4" "$root/sys/class/net/$4"
    ln -s "$d" "$root/sys/class/net/$4/device"
  fi
}
dev 0000:00:05.0 0x8086 ice eth0   # management: default route + address
dev 0000:00:06.0 0x8086 ice eth1   # unused
dev 0000:00:07.0 0x15b3 mlx5_core eth2
dev 0000:00:08.0 0x8086 ice eth3   # unused, but has an address

# --- fake commands -------------------------------------------------------
cat >"$tmp/ip" <<'IP'
#!/usr/bin/env bash
case "$*" in
  "-4 route show default") echo "default via 10.0.0.1 dev eth0 proto dhcp metric 100" ;;
  "-6 route show default") echo "default via fe80::1 dev eth0 proto ra metric 1024 pref medium" ;;
  "-o addr show dev eth0")
    echo "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever"
    echo "2: eth0    inet6 fe80::5/64 scope link \\       valid_lft forever preferred_lft forever" ;;
  "-o addr show dev eth1")
    echo "3: eth1    inet6 fe80::6/64 scope link \\       valid_lft forever preferred_lft forever" ;;
  "-o addr show dev eth3")
    echo "5: eth3    inet6 2001:db8::8/64 scope global \\       valid_lft forever preferred_lft forever" ;;
esac
IP
cat >"$tmp/devbind" <<'DB'
#!/usr/bin/env bash
echo "$*" >>"$DEVBIND_LOG"
DB
chmod +x "$tmp/ip" "$tmp/devbind"
export DEVBIND_LOG=$tmp/devbind.log
: >"$DEVBIND_LOG"

nb() {
  LOOM_SYSROOT=$root LOOM_IP_CMD=$tmp/ip LOOM_DEVBIND_CMD=$tmp/devbind \
    LOOM_MODPROBE_CMD=true "$script" "$@"
}
# expect RC PATTERN DESC -- ARGS...: exit status RC, output matching PATTERN
expect() {
  local want=$1 pat=$2 desc=$3 out rc=0
  shift 4
  out=$(nb "$@" 2>&1) || rc=$?
  if [[ $rc -eq $want && $out =~ $pat ]]; then
    pass "$desc"
  else
    fail "$desc: rc=$rc (want $want), output: $out"
  fi
}

expect 2 "eth0.*default route" "management NIC (default route) refused" -- bind 0000:00:05.0
expect 2 "eth0.*default route" "management NIC refused in --dry-run too" -- --dry-run bind 0000:00:05.0
expect 2 "eth3.*2001:db8::8/64" "NIC with an address in use refused" -- bind 0000:00:08.0
expect 2 "not a PCI address" "malformed PCI address refused" -- bind 00:06.0
expect 2 "not a PCI address" "PCI address with junk refused" -- bind "0000:00:06.0;true"
expect 2 "no PCI device" "absent PCI address refused" -- bind 0000:00:09.0
expect 2 "mlx5.*bifurcated" "mlx5 bind refused" -- bind 0000:00:07.0
expect 2 "unknown command" "unknown command refused" -- frob
expect 0 "Usage" "--help" -- --help
if [[ -s $DEVBIND_LOG ]]; then fail "refusals ran devbind: $(cat "$DEVBIND_LOG")"; fi

expect 0 "would run: $tmp/devbind --bind=vfio-pci 0000:00:06.0" \
  "--dry-run prints the devbind command" -- --dry-run bind 0000:00:06.0
if [[ -s $DEVBIND_LOG || -e $root/run/loom-nic-bind/0000:00:06.0.driver ]]; then
  fail "--dry-run changed something"
else
  pass "--dry-run ran nothing"
fi

expect 0 "recorded previous driver ice" "bind eth1 (link-local only)" -- bind 0000:00:06.0
if [[ $(cat "$DEVBIND_LOG") == "--bind=vfio-pci 0000:00:06.0" ]]; then
  pass "devbind got --bind=vfio-pci 0000:00:06.0"
else
  fail "devbind args: $(cat "$DEVBIND_LOG")"
fi
rec=$root/run/loom-nic-bind/0000:00:06.0.driver
if [[ $(cat "$rec" 2>/dev/null) == ice ]]; then pass "previous driver recorded"
else fail "record: $(cat "$rec" 2>&1)"; fi

# What the real devbind would have done, so unbind sees a DPDK-bound device.
ln -sfn "$root/sys/bus/pci/drivers/vfio-pci" "$root/sys/devices/pci0000:00/0000:00:06.0/driver"
: >"$DEVBIND_LOG"
expect 0 "" "unbind restores" -- unbind 0000:00:06.0
if [[ $(cat "$DEVBIND_LOG") == "--bind=ice 0000:00:06.0" && ! -e $rec ]]; then
  pass "unbind ran --bind=ice 0000:00:06.0 and dropped the record"
else
  fail "unbind: devbind args '$(cat "$DEVBIND_LOG")', record present: $([[ -e $rec ]] && echo yes || echo no)"
fi
expect 2 "no kernel driver recorded" "unbind without record or --driver refused" -- unbind 0000:00:06.0
: >"$DEVBIND_LOG"
expect 0 "" "unbind --driver" -- unbind 0000:00:06.0 --driver ice
if [[ $(cat "$DEVBIND_LOG") == "--bind=ice 0000:00:06.0" ]]; then pass "unbind --driver ice"
else fail "unbind --driver: $(cat "$DEVBIND_LOG")"; fi

# --- the real machine: dry-run only, must refuse the default-route NIC ----
real_dev=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}' || true)
[[ -n $real_dev ]] || real_dev=$(ip -6 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}' || true)
real_pci=""
if [[ -n $real_dev && -e /sys/class/net/$real_dev/device ]]; then
  p=$(readlink -f "/sys/class/net/$real_dev/device")
  [[ ${p##*/} == virtio* ]] && p=${p%/*}
  p=${p##*/}
  [[ $p =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] && real_pci=$p
fi
if [[ -z $real_pci ]]; then
  echo "SKIP: this machine's default-route device (${real_dev:-none}) has no PCI address; real-machine check skipped"
else
  rc=0
  # --dry-run and a devbind that fails if reached: nothing can be bound.
  out=$(LOOM_DEVBIND_CMD=false LOOM_MODPROBE_CMD=false "$script" --dry-run bind "$real_pci" 2>&1) || rc=$?
  if [[ $rc -eq 2 && $out == *"default route"* ]]; then
    pass "real machine: $real_dev ($real_pci) refused: $out"
  else
    fail "real machine: $real_dev ($real_pci) not refused: rc=$rc $out"
  fi
fi

if ((fails)); then
  echo "FAIL: $fails check(s) failed" >&2
  exit 1
fi
echo "PASS: nic-bind.sh"
