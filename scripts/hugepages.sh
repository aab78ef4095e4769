#!/usr/bin/env bash
# hugepages.sh: reserve, inspect and release hugepages for DPDK.
#
#   hugepages.sh [--dry-run] reserve N [--size 2M|1G] [--node K]
#   hugepages.sh status
#   hugepages.sh [--dry-run] release [--size 2M|1G] [--node K]
#
# Exit status: 0 success, 1 operation failed (write refused, kernel granted
# fewer pages than asked, mount failed, not root), 2 bad request (usage error,
# unknown size or node, size unsupported by the kernel, too much memory).
#
# Environment (for tests):
#   LOOM_SYSROOT  Root prefix for every path read or written under /sys and
#                 /proc (default empty = the real ones). When set, the script
#                 works on that fake tree: it never mounts anything (it says
#                 so instead) and does not require root.
#   LOOM_HUGEPAGES_GRANT_LIMIT
#                 Test-only, honoured only together with LOOM_SYSROOT (refused
#                 otherwise). A fake tree is plain files, so it cannot refuse
#                 pages the way the kernel does when memory is fragmented.
#                 With this set to G, every write of a page count larger than
#                 G to a fake nr_hugepages file is followed by a write of G,
#                 i.e. the fake "kernel" grants at most G pages. The script's
#                 re-read-and-verify step then runs exactly as on real sysfs.
set -euo pipefail

prog=${0##*/}
sysroot=${LOOM_SYSROOT:-}
grant_limit=${LOOM_HUGEPAGES_GRANT_LIMIT:-}

usage() {
  cat <<EOF
Usage:
  $prog [--dry-run] reserve N [--size 2M|1G] [--node K]
  $prog status
  $prog [--dry-run] release [--size 2M|1G] [--node K]
  $prog --help

Commands:
  reserve N   Set the number of persistent hugepages of the given size to N
              (default size 2M), system-wide or on NUMA node K. Verifies the
              kernel granted all N, then mounts hugetlbfs for that size if no
              hugetlbfs mount of that page size exists (/dev/hugepages for 2M,
              /dev/hugepages-1G with pagesize=1G for 1G). Reserving what is
              already reserved is a no-op.
  status      Show total/free/surplus pages per size (and per NUMA node), and
              the hugetlbfs mounts.
  release     Set the number of hugepages to 0 for the given size, or for
              every supported size when --size is not given. Unmounts nothing.

Options:
  --size S    2M or 1G (default 2M for reserve; all sizes for release)
  --node K    Operate on NUMA node K's pool instead of the system-wide one
  --dry-run   Print every write and mount it would make; change nothing
  -h, --help  Show this help

Refuses (exit 2): N that is not a non-negative integer, unknown sizes, nodes
that do not exist, sizes this kernel does not support, and N * size above 90%
of MemTotal. Exits 1 when the kernel grants fewer pages than asked.

Environment: LOOM_SYSROOT (prefix for /sys and /proc, for tests; disables
mounting), LOOM_HUGEPAGES_GRANT_LIMIT (test-only, see the script header).
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }
refuse() { echo "$prog: $*" >&2; exit 2; }
usage_error() { echo "$prog: $* (see --help)" >&2; exit 2; }
info() { echo "$prog: $*"; }

# --- argument parsing --------------------------------------------------------

dry_run=0 cmd="" count="" size="" node=""
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --dry-run|-n) dry_run=1 ;;
    --size|--node)
      (($# >= 2)) || usage_error "$1 needs a value"
      if [[ $1 == --size ]]; then size=$2; else node=$2; fi
      shift ;;
    --size=*) size=${1#*=} ;;
    --node=*) node=${1#*=} ;;
    reserve|status|release)
      [[ -z $cmd ]] || usage_error "only one command allowed, got '$cmd' and '$1'"
      cmd=$1 ;;
    -[0-9]*|[0-9]*|'')
      # A count (including malformed ones such as -1): validated below.
      [[ $cmd == reserve && -z $count ]] || usage_error "unexpected argument '$1'"
      count=$1 ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      if [[ -z $cmd ]]; then usage_error "unknown command '$1'"; fi
      if [[ $cmd == reserve && -z $count ]]; then count=$1
      else usage_error "unexpected argument '$1'"; fi ;;
  esac
  shift
done

[[ -n $cmd ]] || usage_error "missing command (reserve, status or release)"

if [[ -n $grant_limit ]]; then
  [[ -n $sysroot ]] || refuse "LOOM_HUGEPAGES_GRANT_LIMIT is test-only and needs LOOM_SYSROOT (a fake tree)"
  [[ $grant_limit =~ ^[0-9]+$ ]] || refuse "LOOM_HUGEPAGES_GRANT_LIMIT must be a non-negative integer, got '$grant_limit'"
fi

# --- helpers -----------------------------------------------------------------

hp_dir="$sysroot/sys/kernel/mm/hugepages"
node_root="$sysroot/sys/devices/system/node"
meminfo="$sysroot/proc/meminfo"
mounts="$sysroot/proc/mounts"

# size_to_kb S: print the page size in kB for a user-given size, or fail.
size_to_kb() {
  case ${1^^} in
    2M|2MB|2048K|2048KB) echo 2048 ;;
    1G|1GB|1024M|1024MB|1048576K|1048576KB) echo 1048576 ;;
    *) return 1 ;;
  esac
}

# kb_to_name KB: human name of a page size (2048 -> 2M, 1048576 -> 1G).
kb_to_name() {
  local kb=$1
  if ((kb % 1048576 == 0)); then echo "$((kb / 1048576))G"
  elif ((kb % 1024 == 0)); then echo "$((kb / 1024))M"
  else echo "${kb}K"; fi
}

# pool_dir KB [NODE]: the sysfs directory for that page size and scope.
pool_dir() {
  if [[ -n ${2:-} ]]; then
    echo "$node_root/node$2/hugepages/hugepages-${1}kB"
  else
    echo "$hp_dir/hugepages-${1}kB"
  fi
}

scope_name() { if [[ -n ${1:-} ]]; then echo "node $1"; else echo "system-wide"; fi; }

# read_count FILE: print the integer in FILE, or fail clearly.
read_count() {
  local v
  [[ -r $1 ]] || die "cannot read $1"
  v=$(<"$1")
  v=${v//[[:space:]]/}
  [[ $v =~ ^[0-9]+$ ]] || die "unexpected content '$v' in $1"
  echo "$((10#$v))"
}

# read_opt FILE: like read_count but prints "?" when the file is missing.
read_opt() {
  local v
  if [[ -r $1 ]]; then
    v=$(<"$1"); v=${v//[[:space:]]/}
    [[ $v =~ ^[0-9]+$ ]] && { echo "$((10#$v))"; return; }
  fi
  echo "?"
}

# write_count VALUE FILE: write (or, with --dry-run, describe the write).
write_count() {
  local value=$1 file=$2
  if ((dry_run)); then
    echo "would write $value to $file"
    return 0
  fi
  if ! { printf '%s\n' "$value" >"$file"; } 2>/dev/null; then
    die "writing $value to $file failed (not root? pages in use? read-only sysfs?)"
  fi
  # Test-only emulation of a kernel that cannot find enough free memory.
  if [[ -n $grant_limit ]] && ((value > grant_limit)); then
    printf '%s\n' "$grant_limit" >"$file"
  fi
}

# mem_total_kb: MemTotal from meminfo, in kB.
mem_total_kb() {
  local v
  [[ -r $meminfo ]] || die "cannot read $meminfo"
  v=$(awk '$1 == "MemTotal:" {print $2; exit}' "$meminfo")
  [[ $v =~ ^[0-9]+$ ]] || die "no MemTotal in $meminfo"
  echo "$v"
}

# hugetlbfs_mount_for KB: print the mountpoint of a hugetlbfs mount whose page
# size is KB (an entry without pagesize= uses the default hugepage size).
hugetlbfs_mount_for() {
  local want=$1 default_kb
  default_kb=$(awk '$1 == "Hugepagesize:" {print $2; exit}' "$meminfo" 2>/dev/null || true)
  [[ -r $mounts ]] || return 0
  awk -v want="$want" -v dflt="${default_kb:-2048}" '
    $3 == "hugetlbfs" {
      kb = dflt
      n = split($4, opts, ",")
      for (i = 1; i <= n; i++) {
        if (opts[i] ~ /^pagesize=/) {
          v = substr(opts[i], 10)
          u = toupper(substr(v, length(v)))
          num = substr(v, 1, length(v) - 1) + 0
          if (u == "K") kb = num
          else if (u == "M") kb = num * 1024
          else if (u == "G") kb = num * 1048576
          else kb = v / 1024
        }
      }
      if (kb == want) { print $2; exit }
    }' "$mounts"
}

# mountpoint_used PATH: true when something is mounted at PATH.
mountpoint_used() {
  [[ -r $mounts ]] && awk -v p="$1" '$2 == p {found = 1} END {exit !found}' "$mounts"
}

# ensure_mount KB: make sure a hugetlbfs mount of that page size exists.
ensure_mount() {
  local kb=$1 name existing target
  name=$(kb_to_name "$kb")
  existing=$(hugetlbfs_mount_for "$kb")
  if [[ -n $existing ]]; then
    info "hugetlbfs for $name pages is mounted at $existing"
    return 0
  fi
  if ((kb == 2048)); then target=/dev/hugepages; else target=/dev/hugepages-$name; fi
  # /dev/hugepages taken by a mount of another page size: use a sized name.
  if mountpoint_used "$target"; then target=/dev/hugepages-$name; fi
  if [[ -n $sysroot ]]; then
    info "LOOM_SYSROOT is set: skipping mount of hugetlbfs (pagesize=$name) at $target"
    return 0
  fi
  if ((dry_run)); then
    echo "would mount hugetlbfs (pagesize=$name) at $target"
    return 0
  fi
  mkdir -p "$target" || die "cannot create $target"
  mount -t hugetlbfs -o "pagesize=$name" nodev "$target" \
    || die "mounting hugetlbfs (pagesize=$name) at $target failed"
  info "mounted hugetlbfs (pagesize=$name) at $target"
}

# check_node: validate --node and that the node exists.
check_node() {
  [[ -z $node ]] && return 0
  [[ $node =~ ^[0-9]+$ ]] || refuse "node must be a non-negative integer, got '$node'"
  node=$((10#$node))
  if [[ ! -d $node_root/node$node ]]; then
    local have="" d
    for d in "$node_root"/node[0-9]*; do
      [[ -d $d ]] && have+="${have:+, }${d##*/node}"
    done
    refuse "NUMA node $node does not exist (nodes present: ${have:-none})"
  fi
}

# check_size_supported KB: the pool directory must exist.
check_size_supported() {
  local dir
  dir=$(pool_dir "$1" "$node")
  [[ -d $dir ]] || refuse "$(kb_to_name "$1") hugepages are not supported by this kernel$( [[ -n $node ]] && echo " on node $node") (no $dir)"
}

need_root() {
  if [[ -z $sysroot ]] && ((!dry_run)) && ((EUID != 0)); then
    die "must run as root to change hugepages (or use --dry-run)"
  fi
}

# supported_sizes: page sizes (kB) the kernel exposes, ascending.
supported_sizes() {
  local d
  for d in "$hp_dir"/hugepages-*kB; do
    [[ -d $d ]] || continue
    d=${d##*/hugepages-}; echo "${d%kB}"
  done | sort -n
}

# --- commands ----------------------------------------------------------------

cmd_reserve() {
  [[ -n $count ]] || usage_error "reserve needs a page count, e.g. '$prog reserve 64'"
  [[ $count =~ ^[0-9]+$ ]] || refuse "page count must be a non-negative integer, got '$count'"
  # A billion pages is beyond any machine's memory; the bound also keeps the
  # arithmetic below inside 64 bits.
  ((${#count} <= 9)) || refuse "page count $count is implausibly large (more than 90% of memory)"
  count=$((10#$count))
  local kb name file cur got total_kb scope
  kb=$(size_to_kb "${size:-2M}") || refuse "unknown page size '$size' (use 2M or 1G)"
  name=$(kb_to_name "$kb")
  check_node
  check_size_supported "$kb"
  scope=$(scope_name "$node")
  total_kb=$(mem_total_kb)
  if ((count * kb * 10 > total_kb * 9)); then
    refuse "$count x $name pages = $((count * kb / 1024)) MiB is more than 90% of MemTotal ($((total_kb / 1024)) MiB)"
  fi
  need_root
  file=$(pool_dir "$kb" "$node")/nr_hugepages
  cur=$(read_count "$file")
  if ((cur == count)); then
    info "already reserved: $count $name pages ($scope)"
  else
    write_count "$count" "$file"
    if ((dry_run)); then
      ((count > 0)) && ensure_mount "$kb"
      return 0
    fi
    got=$(read_count "$file")
    if ((got < count)); then
      echo "$prog: reserved only $got of $count $name pages (memory fragmented? try earlier in boot or 1G pages on the kernel command line)" >&2
      echo "$prog: the $got pages stay reserved; '$prog release --size $name${node:+ --node $node}' frees them" >&2
      exit 1
    fi
    ((got == count)) || info "note: $file reads $got after writing $count"
    info "reserved $count $name pages ($scope, $((count * kb / 1024)) MiB; was $cur)"
  fi
  if ((count > 0)); then ensure_mount "$kb"; fi
}

cmd_release() {
  [[ -z $count ]] || usage_error "release takes no page count"
  local sizes kb file cur got surplus scope name
  check_node
  if [[ -n $size ]]; then
    kb=$(size_to_kb "$size") || refuse "unknown page size '$size' (use 2M or 1G)"
    check_size_supported "$kb"
    sizes=("$kb")
  else
    mapfile -t sizes < <(supported_sizes)
    ((${#sizes[@]})) || refuse "this kernel exposes no hugepage sizes (no $hp_dir/hugepages-*kB)"
  fi
  need_root
  scope=$(scope_name "$node")
  for kb in "${sizes[@]}"; do
    name=$(kb_to_name "$kb")
    file=$(pool_dir "$kb" "$node")/nr_hugepages
    [[ -e $file ]] || { [[ -n $size ]] && die "missing $file"; continue; }
    cur=$(read_count "$file")
    if ((cur == 0)); then
      info "already released: 0 $name pages ($scope)"
      continue
    fi
    write_count 0 "$file"
    ((dry_run)) && continue
    got=$(read_count "$file")
    ((got == 0)) || die "$file still reads $got after writing 0"
    surplus=$(read_opt "$(pool_dir "$kb" "$node")/surplus_hugepages")
    if [[ $surplus != "?" ]] && ((surplus > 0)); then
      info "released $cur $name pages ($scope); $surplus still in use, freed when their users exit"
    else
      info "released $cur $name pages ($scope)"
    fi
  done
}

cmd_status() {
  [[ -z $count && -z $size && -z $node ]] || usage_error "status takes no arguments"
  local kb dir name nd nodes=() line
  local -a sizes
  mapfile -t sizes < <(supported_sizes)
  if ((${#sizes[@]} == 0)); then
    echo "no hugepage support exposed ($hp_dir missing or empty)"
  fi
  for nd in "$node_root"/node[0-9]*; do
    [[ -d $nd/hugepages ]] && nodes+=("${nd##*/node}")
  done
  printf '%-5s %-8s %8s %8s %8s\n' size scope total free surplus
  for kb in "${sizes[@]}"; do
    name=$(kb_to_name "$kb")
    dir=$(pool_dir "$kb")
    printf '%-5s %-8s %8s %8s %8s\n' "$name" system \
      "$(read_opt "$dir/nr_hugepages")" "$(read_opt "$dir/free_hugepages")" \
      "$(read_opt "$dir/surplus_hugepages")"
    for nd in "${nodes[@]}"; do
      dir=$(pool_dir "$kb" "$nd")
      [[ -d $dir ]] || continue
      printf '%-5s %-8s %8s %8s %8s\n' "$name" "node$nd" \
        "$(read_opt "$dir/nr_hugepages")" "$(read_opt "$dir/free_hugepages")" \
        "$(read_opt "$dir/surplus_hugepages")"
    done
  done
  echo "hugetlbfs mounts:"
  line=""
  if [[ -r $mounts ]]; then
    line=$(awk '$3 == "hugetlbfs" {printf "  %s (%s)\n", $2, $4}' "$mounts")
  fi
  echo "${line:-  (none)}"
}

case $cmd in
  reserve) cmd_reserve ;;
  release) cmd_release ;;
  status)
    ((!dry_run)) || usage_error "--dry-run does not apply to status"
    cmd_status ;;
esac
