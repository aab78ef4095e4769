#!/usr/bin/env bash
# install.sh: install Loom's binaries, operations scripts and systemd units.
#
#   install.sh [--prefix DIR] [--sysroot DIR] [--build-dir DIR] [--dry-run]
#              [--no-enable] [--help]
#
# Installs from an existing build; it never builds. Exit status: 0 success,
# 1 failure (no build, missing file, not root), 2 usage error.
set -euo pipefail

prog=${0##*/}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  cat <<EOF
Usage: $prog [--prefix DIR] [--sysroot DIR] [--build-dir DIR] [--dry-run]
       [--no-enable] [--help]

Installs, under SYSROOT (default: the running system):
  PREFIX/bin/           loomd, loom-controld, loomctl (from the build dir)
  PREFIX/lib/loom/      hugepages.sh, nic-bind.sh
  /etc/systemd/system/  loom-hugepages.service, loomd.service,
                        loom-controld.service (/usr/local in them rewritten
                        to PREFIX when PREFIX differs)
  /etc/loom/loomd.ini   only if absent: a placeholder copy of
                        hw-configs/veth.ini, to be replaced by this machine's
                        profile. An existing loomd.ini is never overwritten.
Then, only when installing onto the running system (no --sysroot) and PID 1
is systemd: systemctl daemon-reload and, unless --no-enable,
systemctl enable loom-hugepages loomd loom-controld. Otherwise it prints the
commands to run.

Options:
  --prefix DIR     Installation prefix (default /usr/local)
  --sysroot DIR    Install into DIR as if it were / (image builds, tests);
                   never runs systemctl
  --build-dir DIR  CMake build directory holding the binaries (default
                   build/ in the source tree). Not built implicitly.
  --dry-run        Print every action; change nothing
  --no-enable      Do not enable the units
  -h, --help       Show this help
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }
usage_error() { echo "$prog: $* (see --help)" >&2; exit 2; }
info() { echo "$prog: $*"; }

prefix=/usr/local sysroot="" sysroot_given=0 build_dir="$src/build"
dry_run=0 enable=1
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --dry-run|-n) dry_run=1 ;;
    --no-enable) enable=0 ;;
    --prefix|--sysroot|--build-dir)
      (($# >= 2)) || usage_error "$1 needs a value"
      case $1 in
        --prefix) prefix=$2 ;;
        --sysroot) sysroot=$2; sysroot_given=1 ;;
        --build-dir) build_dir=$2 ;;
      esac
      shift ;;
    --prefix=*) prefix=${1#*=} ;;
    --sysroot=*) sysroot=${1#*=}; sysroot_given=1 ;;
    --build-dir=*) build_dir=${1#*=} ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
  shift
done

# --- validate ----------------------------------------------------------------

# The prefix ends up in ExecStart= lines: absolute, no whitespace, not "/".
[[ $prefix == /* ]] || usage_error "--prefix must be an absolute path, got '$prefix'"
[[ $prefix != *[[:space:]]* ]] || usage_error "--prefix must not contain whitespace"
while [[ $prefix == */ && $prefix != / ]]; do prefix=${prefix%/}; done
[[ $prefix != / ]] || usage_error "--prefix / is not supported (use /usr or /usr/local)"

if ((sysroot_given)); then
  [[ -n $sysroot ]] || usage_error "--sysroot needs a non-empty directory"
  [[ $sysroot == /* ]] || sysroot=$PWD/$sysroot
  while [[ $sysroot == */ ]]; do sysroot=${sysroot%/}; done
  # "--sysroot /" leaves sysroot empty: the real root, but still no systemctl.
fi

[[ -n $build_dir ]] || usage_error "--build-dir needs a directory"
bins=(loomd loom-controld loomctl)
units=(loom-hugepages.service loomd.service loom-controld.service)
build_hint="build it first: cmake -S . -B build && cmake --build build"
if [[ ! -d $build_dir ]]; then
  echo "$prog: error: build directory '$build_dir' not found; $build_hint" >&2
  exit 1
fi
for b in "${bins[@]}"; do
  [[ -x $build_dir/$b ]] || {
    echo "$prog: error: $build_dir/$b missing or not executable; $build_hint" >&2
    exit 1
  }
done
[[ -f $src/scripts/hugepages.sh ]] || die "missing $src/scripts/hugepages.sh"
for u in "${units[@]}"; do
  [[ -f $src/systemd/$u ]] || die "missing $src/systemd/$u"
done
[[ -f $src/hw-configs/veth.ini ]] || die "missing $src/hw-configs/veth.ini"

if [[ -z $sysroot ]] && ((!dry_run)) && ((EUID != 0)); then
  die "installing onto the running system needs root (or use --sysroot DIR or --dry-run)"
fi

bindir=$sysroot$prefix/bin
libdir=$sysroot$prefix/lib/loom
unitdir=$sysroot/etc/systemd/system
confdir=$sysroot/etc/loom
config=$confdir/loomd.ini

# --- actions -------------------------------------------------------------------

# run CMD...: run it, or with --dry-run print it.
run() {
  if ((dry_run)); then
    printf 'would run:'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# write_file CONTENT DEST MODE: write CONTENT (plus a newline) to DEST via a
# temporary file in the same directory, so DEST is never half-written.
write_file() {
  local content=$1 dest=${2:?} mode=$3 tmp
  tmp=$dest.tmp.$$
  printf '%s\n' "$content" >"${tmp:?}"
  chmod "$mode" "${tmp:?}"
  mv -f "${tmp:?}" "${dest:?}"
}

# install_unit NAME: copy a unit, rewriting /usr/local/ to PREFIX/.
install_unit() {
  local name=$1 content dest
  dest=${unitdir:?}/$name
  content=$(<"$src/systemd/$name")
  if [[ $prefix != /usr/local ]]; then
    content=${content//"/usr/local/"/"$prefix/"}
  fi
  if ((dry_run)); then
    if [[ $prefix != /usr/local ]]; then
      echo "would write $dest (from systemd/$name, /usr/local -> $prefix)"
    else
      echo "would write $dest (from systemd/$name)"
    fi
    return 0
  fi
  write_file "$content" "$dest" 0644
  info "installed $dest"
}

# install_config: place the placeholder loomd.ini unless one exists.
config_placed=0
install_config() {
  if [[ -e ${config:?} || -L ${config:?} ]]; then
    info "keeping existing $config (never overwritten)"
    return 0
  fi
  config_placed=1
  if ((dry_run)); then
    echo "would write $config (placeholder: hw-configs/veth.ini with a header)"
    return 0
  fi
  local header content
  header="# PLACEHOLDER installed by scripts/install.sh: a copy of hw-configs/veth.ini,
# the veth test profile, NOT a configuration for this machine.
# Replace this file with this machine's profile (start from the matching
# hw-configs/*.ini and edit its PCI address, CPU lists and addresses), then
# check it with: $prefix/bin/loomd --check-config /etc/loom/loomd.ini
# install.sh never overwrites an existing /etc/loom/loomd.ini.
#"
  content=$(<"$src/hw-configs/veth.ini")
  write_file "$header"$'\n'"$content" "$config" 0644
  info "installed placeholder $config"
}

run install -d -m 0755 "${bindir:?}" "${libdir:?}" "${unitdir:?}" "${confdir:?}"
for b in "${bins[@]}"; do
  run install -m 0755 "$build_dir/$b" "${bindir:?}/$b"
done
scripts=(hugepages.sh)
[[ -f $src/scripts/nic-bind.sh ]] && scripts+=(nic-bind.sh)
for s in "${scripts[@]}"; do
  run install -m 0755 "$src/scripts/$s" "${libdir:?}/$s"
done
for u in "${units[@]}"; do
  install_unit "$u"
done
install_config

# --- systemd -------------------------------------------------------------------

enable_cmd=(systemctl enable loom-hugepages loomd loom-controld)
if ((!sysroot_given)) && command -v systemctl >/dev/null 2>&1 \
    && [[ -d /run/systemd/system ]]; then
  run systemctl daemon-reload
  if ((enable)); then
    run "${enable_cmd[@]}"
  else
    info "--no-enable: units not enabled; to enable: ${enable_cmd[*]}"
  fi
else
  if ((sysroot_given)); then
    info "--sysroot given: not running systemctl. On the target system run:"
  else
    info "systemd is not running here (no systemctl or /run/systemd/system). Once it is, run:"
  fi
  echo "  systemctl daemon-reload"
  if ((enable)); then
    echo "  ${enable_cmd[*]}"
    if ((sysroot_given)); then
      echo "  (or now, offline: systemctl --root=${sysroot:-/} enable loom-hugepages loomd loom-controld)"
    fi
  fi
fi

# --- next steps ----------------------------------------------------------------

echo
echo "Next steps:"
if ((config_placed)); then
  echo "  1. /etc/loom/loomd.ini is a PLACEHOLDER (the veth test profile): replace"
  echo "     it with this machine's profile from hw-configs/ and edit it."
else
  echo "  1. /etc/loom/loomd.ini was kept as it was; make sure it is this machine's profile."
fi
echo "     Check it: $prefix/bin/loomd --check-config /etc/loom/loomd.ini"
echo "  2. Persist the hugepages loom-hugepages.service reserves at boot, e.g.:"
echo "     $prefix/lib/loom/hugepages.sh persist 8 --size 1G --node 0"
echo "     (writes 'SIZE NODE COUNT' lines to /etc/loom/hugepages.conf)"
echo "  3. Hand the NIC to DPDK: $prefix/lib/loom/nic-bind.sh bind PCI_ADDRESS"
echo "  4. The control plane: this node's certificate (loomctl cert issue on the CA host),"
echo "     [control] socket in loomd.ini and /etc/loom/controld.ini (README, Running a cluster;"
echo "     docs/CONTROL.md)."
echo "  5. Start: systemctl start loomd (pulls in loom-hugepages and loom-controld);"
echo "     logs: journalctl -u loomd -u loom-controld -u loom-hugepages; then, on one node,"
echo "     loomctl node add for every node, and loomctl status."
if ((dry_run)); then
  echo
  info "dry run: nothing was changed"
fi
