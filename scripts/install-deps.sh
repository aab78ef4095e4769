#!/usr/bin/env bash
# install-deps.sh: install every Debian package that Loom's build, tests and
# benchmarks need. Idempotent and non-interactive.
#
# Fast path: when every package is already installed (per dpkg-query) nothing
# else runs, not even `apt-get update`. Otherwise `apt-get update` runs once,
# each package is checked for an install candidate (apt-cache policy), and the
# missing ones are installed with apt-get -y -q.
set -euo pipefail

prog=${0##*/}

# Keep in sync with README.md (operations) and DESIGN.md section 7.
packages=(
  # build
  build-essential cmake pkg-config clang
  libclang-rt-14-dev          # libFuzzer and sanitizer runtimes for clang 14
  dpdk dpdk-dev libdpdk-dev
  libwolfssl-dev liblmdb-dev lmdb-utils libjemalloc-dev libinih-dev
  # tests: namespaces, veth, offloads, process handling
  iproute2 iputils-ping
  iputils-arping              # not `arping`: that package conflicts with it
  ethtool procps psmisc python3 jq curl shellcheck valgrind
  # benchmarks and reports
  wrk gnuplot-nox bsdextrautils
)

usage() {
  cat <<EOF
Usage: $prog [--check] [--list] [--help]

Install the Debian packages Loom's build, tests and benchmarks need
(Debian 12 "bookworm"). Safe to run repeatedly: when everything is already
installed it does nothing, not even 'apt-get update'.

Options:
  --check   only report which packages are missing; exit 1 if any are
  --list    print the package list, one per line, and exit
  -h, --help  show this help

Must run as root unless everything is already installed.
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }

check_only=0
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --check) check_only=1 ;;
    --list) printf '%s\n' "${packages[@]}"; exit 0 ;;
    *) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# is_installed PKG: true when dpkg reports the package fully installed.
is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == *" installed" ]]
}

# missing_packages: print, one per line, every listed package not installed.
missing_packages() {
  local p
  for p in "${packages[@]}"; do
    is_installed "$p" || printf '%s\n' "$p"
  done
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script is for Debian"

mapfile -t missing < <(missing_packages)

if ((${#missing[@]} == 0)); then
  echo "install-deps: ${#packages[@]} packages present"
  exit 0
fi

if ((check_only)); then
  echo "$prog: missing: ${missing[*]}"
  echo "install-deps: $((${#packages[@]} - ${#missing[@]})) packages present"
  exit 1
fi

((EUID == 0)) || die "must run as root to install: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found"

export DEBIAN_FRONTEND=noninteractive
echo "$prog: missing ${#missing[@]} package(s): ${missing[*]}"
echo "$prog: apt-get update"
apt-get update -q || die "apt-get update failed (network or sources.list problem?)"

# Keep only packages the archive actually offers; report the rest.
installable=() unavailable=()
for p in "${missing[@]}"; do
  candidate=$(apt-cache policy "$p" 2>/dev/null | awk '$1 == "Candidate:" {print $2; exit}')
  if [[ -n $candidate && $candidate != "(none)" ]]; then
    installable+=("$p")
  else
    unavailable+=("$p")
  fi
done

# --no-install-recommends: Recommends would pull in fonts, imagemagick and
# dpdk's optional tooling, none of which the build, tests or benchmarks use.
if ((${#installable[@]})); then
  echo "$prog: apt-get install ${installable[*]}"
  apt-get install -y -q --no-install-recommends "${installable[@]}" \
    || die "apt-get install failed"
fi

mapfile -t still_missing < <(missing_packages)
present=$((${#packages[@]} - ${#still_missing[@]}))
if ((${#unavailable[@]})); then
  echo "$prog: not available from the configured archive: ${unavailable[*]}" >&2
fi
if ((${#still_missing[@]})); then
  echo "$prog: still missing: ${still_missing[*]}" >&2
  echo "install-deps: $present packages present"
  exit 1
fi
echo "install-deps: $present packages present"
