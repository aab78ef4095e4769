#!/usr/bin/env bash
# nic-bind.sh: hand a NIC to DPDK (vfio-pci) and give it back to the kernel,
# refusing the NICs that must never leave the kernel.
#
#   nic-bind.sh [--dry-run] bind PCI_ADDR [--driver vfio-pci]
#   nic-bind.sh [--dry-run] unbind PCI_ADDR [--driver KERNEL_DRIVER]
#   nic-bind.sh status
#
# Binding goes through dpdk-devbind.py (Debian package dpdk). `bind` refuses
# (exit 2):
#   - anything that is not a PCI address DDDD:BB:DD.F present under
#     /sys/bus/pci/devices;
#   - the device carrying an IPv4 or IPv6 default route (losing it cuts the
#     machine off, usually including the ssh session running this);
#   - a device whose netdev has an IP address in use. IPv6 link-local
#     addresses (fe80::/10) are ignored: the kernel puts one on every
#     interface that is up, so they say nothing about the NIC being in use.
#     Every other address, IPv4 link-local included, counts;
#   - a Mellanox/NVIDIA mlx5 device: net_mlx5 is a bifurcated driver that
#     works on top of the kernel's mlx5_core, so the device must not be
#     bound to vfio-pci at all.
# The previous kernel driver is recorded in /run/loom-nic-bind/PCI.driver;
# `unbind` restores it (or the one given with --driver).
#
# Exit status: 0 success, 1 the operation failed, 2 refused or usage error.
#
# Environment (for tests):
#   LOOM_SYSROOT       prefix for /sys and /run (default empty = the real ones)
#   LOOM_IP_CMD        the `ip` command (default ip)
#   LOOM_DEVBIND_CMD   the devbind command (default dpdk-devbind.py)
#   LOOM_MODPROBE_CMD  the modprobe command (default modprobe)
set -euo pipefail

prog=${0##*/}
sysroot=${LOOM_SYSROOT:-}
ip_cmd=${LOOM_IP_CMD:-ip}
devbind_cmd=${LOOM_DEVBIND_CMD:-dpdk-devbind.py}
modprobe_cmd=${LOOM_MODPROBE_CMD:-modprobe}
state_dir=$sysroot/run/loom-nic-bind
pci_dir=$sysroot/sys/bus/pci/devices

usage() {
  cat <<EOF
Usage:
  $prog [--dry-run] bind PCI_ADDR [--driver vfio-pci]
  $prog [--dry-run] unbind PCI_ADDR [--driver KERNEL_DRIVER]
  $prog status
  $prog --help

Commands:
  bind ADDR     Load the driver's module and bind the device to it (default
                vfio-pci) with dpdk-devbind.py; record the kernel driver it
                had in $state_dir/ADDR.driver.
  unbind ADDR   Bind the device back to its kernel driver: the one given
                with --driver, else the one recorded at bind time.
  status        dpdk-devbind.py --status, and the recorded bindings.

Options:
  --driver D    Driver to bind to (bind: default vfio-pci; unbind: kernel
                driver, default the recorded one)
  --dry-run     Run every check, print the commands it would run, change
                nothing
  -h, --help    Show this help

bind refuses (exit 2): malformed or absent PCI addresses, the device that
carries the default route (IPv4 or IPv6), a device whose netdev has an IP
address (IPv6 link-local fe80:: ignored), and mlx5 devices (the bifurcated
mlx5 driver needs no binding: the kernel keeps mlx5_core).
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
refuse() { echo "$prog: refusing: $*" >&2; exit 2; }
usage_err() { echo "$prog: $*" >&2; echo "Try '$prog --help'." >&2; exit 2; }

dry_run=0

# Print a command, then run it unless --dry-run.
run() {
  if ((dry_run)); then
    echo "would run: $*"
  else
    echo "running: $*"
    "$@"
  fi
}

# Validate ADDR's form and existence; print it lower-cased.
check_addr() {
  local addr=$1
  if [[ ! $addr =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
    refuse "'$addr' is not a PCI address of the form DDDD:BB:DD.F (e.g. 0000:3b:00.0; see dpdk-devbind.py --status)"
  fi
  addr=${addr,,}
  [[ -e $pci_dir/$addr ]] || refuse "no PCI device $addr (not in $pci_dir)"
  printf '%s\n' "$addr"
}

# The driver a device is bound to now ("" = none).
current_driver() {
  local link=$pci_dir/$1/driver
  if [[ -L $link || -e $link ]]; then
    local target
    target=$(readlink -f -- "$link" 2>/dev/null || readlink -- "$link")
    printf '%s\n' "${target##*/}"
  fi
}

# The netdevs of a device (one per line; none when bound to a DPDK driver).
# virtio-net puts them one level down, under the virtioN child device.
netdevs_of() {
  local d
  for d in "$pci_dir/$1"/net/* "$pci_dir/$1"/virtio*/net/*; do
    [[ -e $d ]] && printf '%s\n' "${d##*/}"
  done
  return 0
}

# The PCI address behind netdev DEV ("" if it is not a PCI device).
pci_of_netdev() {
  local link=$sysroot/sys/class/net/$1/device target
  [[ -e $link || -L $link ]] || return 0
  target=$(readlink -f -- "$link" 2>/dev/null || readlink -- "$link")
  # virtio-net: .../0000:00:03.0/virtio2: the PCI device is the parent.
  [[ ${target##*/} == virtio* ]] && target=${target%/*}
  target=${target##*/}
  if [[ $target =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then
    printf '%s\n' "$target"
  fi
}

# Interfaces named by the default routes (IPv4 and IPv6), one per line.
default_route_devs() {
  local fam
  for fam in -4 -6; do
    "$ip_cmd" "$fam" route show default 2>/dev/null | awk '
      { for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }'
  done | sort -u
}

# Addresses in use on DEV, one per line (IPv6 link-local left out).
addrs_in_use() {
  "$ip_cmd" -o addr show dev "$1" 2>/dev/null | awk '
    $3 == "inet" { print $4 }
    $3 == "inet6" && tolower($4) !~ /^fe[89ab][0-9a-f]:/ { print $4 }'
}

is_mlx5() {
  local addr=$1 drv vendor=""
  drv=$(current_driver "$addr")
  [[ $drv == mlx5_core ]] && return 0
  [[ -r $pci_dir/$addr/vendor ]] && vendor=$(<"$pci_dir/$addr/vendor")
  # 0x15b3: Mellanox. Its current Ethernet parts all use mlx5 (the older
  # mlx4 ones are driven by net_mlx4, also bifurcated).
  [[ $vendor == 0x15b3 ]]
}

cmd_bind() {
  local addr=$1 driver=$2 dev rdev prev
  addr=$(check_addr "$addr")
  if is_mlx5 "$addr"; then
    refuse "$addr is a Mellanox/NVIDIA mlx5 device. net_mlx5 is a bifurcated driver: it runs on top of the kernel's mlx5_core, so the device must stay bound to mlx5_core (no vfio-pci). Allow-list it in [eal] args (-a $addr) and set [dataplane] flow_isolate = true; see hw-configs/mlx5-connectx6.ini"
  fi
  local devs=() routed=()
  mapfile -t devs < <(netdevs_of "$addr")
  mapfile -t routed < <(default_route_devs)
  for rdev in "${routed[@]}"; do
    [[ -n $rdev ]] || continue
    local same=0
    [[ $(pci_of_netdev "$rdev") == "$addr" ]] && same=1
    for dev in "${devs[@]}"; do [[ $dev == "$rdev" ]] && same=1; done
    if ((same)); then
      refuse "$addr is interface $rdev, which carries the default route: binding it would cut this machine off the network. Use a second NIC for the dataplane."
    fi
  done
  for dev in "${devs[@]}"; do
    local addrs=()
    mapfile -t addrs < <(addrs_in_use "$dev")
    if ((${#addrs[@]} > 0)); then
      refuse "$addr is interface $dev, which has address(es) in use: ${addrs[*]}. Remove them first (ip addr flush dev $dev) if this NIC is really meant for DPDK."
    fi
  done

  prev=$(current_driver "$addr")
  if [[ $prev == "$driver" ]]; then
    echo "$addr is already bound to $driver"
    return 0
  fi
  run "$modprobe_cmd" "$driver"
  run "$devbind_cmd" "--bind=$driver" "$addr"
  if [[ -n $prev ]] && ((!dry_run)); then
    mkdir -p -- "$state_dir" || die "cannot create $state_dir"
    printf '%s\n' "$prev" >"$state_dir/$addr.driver" ||
      die "cannot record the previous driver in $state_dir/$addr.driver"
    echo "recorded previous driver $prev in $state_dir/$addr.driver"
  elif [[ -n $prev ]]; then
    echo "would record previous driver $prev in $state_dir/$addr.driver"
  fi
}

cmd_unbind() {
  local addr=$1 driver=$2 rec
  addr=$(check_addr "$addr")
  rec=$state_dir/$addr.driver
  if [[ -z $driver ]]; then
    [[ -r $rec ]] && driver=$(<"$rec")
    [[ -n $driver ]] || refuse "no kernel driver recorded for $addr ($rec); give one with --driver (e.g. ice, ena, virtio-pci)"
  fi
  if [[ $(current_driver "$addr") == "$driver" ]]; then
    echo "$addr is already bound to $driver"
  else
    run "$devbind_cmd" "--bind=$driver" "$addr"
  fi
  if ((dry_run)); then
    [[ -e $rec ]] && echo "would remove $rec"
  else
    rm -f -- "$rec"
  fi
  return 0
}

cmd_status() {
  "$devbind_cmd" --status || die "$devbind_cmd --status failed"
  local f any=0
  for f in "$state_dir"/*.driver; do
    [[ -e $f ]] || continue
    if ((!any)); then echo; echo "Recorded kernel drivers ($state_dir):"; any=1; fi
    local b=${f##*/}
    echo "  ${b%.driver}: $(<"$f")"
  done
}

main() {
  local cmd="" addr="" driver="" args=()
  while (($#)); do
    case $1 in
      -h|--help) usage; exit 0 ;;
      --dry-run) dry_run=1 ;;
      --driver)
        (($# >= 2)) || usage_err "--driver needs a value"
        driver=$2; shift ;;
      --driver=*) driver=${1#--driver=} ;;
      -*) usage_err "unknown option $1" ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#args[@]} > 0)) || usage_err "no command given"
  cmd=${args[0]}
  if [[ -n $driver && ! $driver =~ ^[A-Za-z0-9_-]+$ ]]; then
    usage_err "'$driver' is not a driver name"
  fi
  case $cmd in
    bind|unbind)
      ((${#args[@]} == 2)) || usage_err "$cmd takes exactly one PCI address"
      addr=${args[1]}
      if [[ $cmd == bind ]]; then
        cmd_bind "$addr" "${driver:-vfio-pci}"
      else
        cmd_unbind "$addr" "$driver"
      fi ;;
    status)
      ((${#args[@]} == 1)) || usage_err "status takes no argument"
      cmd_status ;;
    *) usage_err "unknown command '$cmd'" ;;
  esac
}

main "$@"
