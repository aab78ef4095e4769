#!/usr/bin/env bash
# hugepages.sh: reserve, inspect and release hugepages for DPDK.
#
#   hugepages.sh [--dry-run] reserve N [--size 2M|1G] [--node K]
#   hugepages.sh status
#   hugepages.sh [--dry-run] release [--size 2M|1G] [--node K]
#   hugepages.sh [--dry-run] persist N [--size 2M|1G] [--node K] [--apply-grub]
#   hugepages.sh persist --verify
#   hugepages.sh [--dry-run] boot
#
# Exit status: 0 success, 1 operation failed (write refused, kernel granted
# fewer pages than asked, mount failed, not root), 2 bad request (usage error,
# unknown size or node, size unsupported by the kernel, too much memory).
#
# Environment (for tests):
#   LOOM_SYSROOT  Root prefix for every path read or written under /sys and
#                 /proc (default empty = the real ones). When set, the script
#                 works on that fake tree: it never mounts anything (it says
#                 so instead) and does not require root. It also prefixes
#                 the /etc files persist, boot and persist --verify use
#                 (etc/sysctl.d, etc/loom/hugepages.conf, etc/default/grub).
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
  $prog [--dry-run] persist N [--size 2M|1G] [--node K] [--apply-grub]
  $prog persist --verify
  $prog [--dry-run] boot
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
  persist N   Make a reservation of N pages survive reboots (it does not
              reserve now; run reserve for that):
                2M, no --node: writes /etc/sysctl.d/60-loom-hugepages.conf
                  (vm.nr_hugepages = N).
                2M or 1G with --node K: writes (or updates in place) the line
                  "SIZE K N" of /etc/loom/hugepages.conf, which
                  loom-hugepages.service (installed by scripts/install.sh)
                  reserves at boot by running '$prog boot'.
                1G, no --node: prints the kernel command line to add
                  (default_hugepagesz=1G hugepagesz=1G hugepages=N); 1G pages
                  are only reliably available when reserved at boot. Names
                  the GRUB_CMDLINE_LINUX line of /etc/default/grub to edit;
                  with --apply-grub edits it (idempotently) itself.
  persist --verify
              Compare what is persisted (sysctl drop-in, hugepages.conf,
              GRUB_CMDLINE_LINUX) with what is reserved now and with
              /proc/cmdline. Prints OK/MISMATCH lines; exit 1 on any
              mismatch or when nothing is persisted.
  boot        Reserve every "SIZE NODE COUNT" line of /etc/loom/hugepages.conf
              (NODE "-" = system-wide). What loom-hugepages.service runs.
              Without that file: says so and exits 0.

Options:
  --size S    2M or 1G (default 2M for reserve; all sizes for release)
  --node K    Operate on NUMA node K's pool instead of the system-wide one
  --dry-run   Print every write and mount it would make; change nothing
  --apply-grub  (persist, 1G) edit GRUB_CMDLINE_LINUX in /etc/default/grub
  --verify    (persist) check instead of write
  -h, --help  Show this help

Refuses (exit 2): N that is not a non-negative integer, unknown sizes, nodes
that do not exist, sizes this kernel does not support, and N * size above 90%
of MemTotal, or with --node above 90% of that node's MemTotal. Exits 1 when
the kernel grants fewer pages than asked.

Environment: LOOM_SYSROOT (prefix for /sys, /proc and the /etc files above,
for tests; disables mounting), LOOM_HUGEPAGES_GRANT_LIMIT (test-only, see the script header).
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }
refuse() { echo "$prog: $*" >&2; exit 2; }
usage_error() { echo "$prog: $* (see --help)" >&2; exit 2; }
info() { echo "$prog: $*"; }

# --- argument parsing --------------------------------------------------------

dry_run=0 cmd="" count="" size="" node="" apply_grub=0 verify=0
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --dry-run|-n) dry_run=1 ;;
    --apply-grub) apply_grub=1 ;;
    --verify) verify=1 ;;
    --size|--node)
      (($# >= 2)) || usage_error "$1 needs a value"
      if [[ $1 == --size ]]; then size=$2; else node=$2; fi
      shift ;;
    --size=*) size=${1#*=} ;;
    --node=*) node=${1#*=} ;;
    reserve|status|release|persist|boot)
      [[ -z $cmd ]] || usage_error "only one command allowed, got '$cmd' and '$1'"
      cmd=$1 ;;
    -[0-9]*|[0-9]*|'')
      # A count (including malformed ones such as -1): validated below.
      [[ ($cmd == reserve || $cmd == persist) && -z $count ]] || usage_error "unexpected argument '$1'"
      count=$1 ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      if [[ -z $cmd ]]; then usage_error "unknown command '$1'"; fi
      if [[ ($cmd == reserve || $cmd == persist) && -z $count ]]; then count=$1
      else usage_error "unexpected argument '$1'"; fi ;;
  esac
  shift
done

[[ -n $cmd ]] || usage_error "missing command (reserve, status, release, persist or boot)"
((!apply_grub)) || [[ $cmd == persist ]] || usage_error "--apply-grub only applies to persist"
((!verify)) || [[ $cmd == persist ]] || usage_error "--verify only applies to persist"

if [[ -n $grant_limit ]]; then
  [[ -n $sysroot ]] || refuse "LOOM_HUGEPAGES_GRANT_LIMIT is test-only and needs LOOM_SYSROOT (a fake tree)"
  [[ $grant_limit =~ ^[0-9]+$ ]] || refuse "LOOM_HUGEPAGES_GRANT_LIMIT must be a non-negative integer, got '$grant_limit'"
fi

# --- helpers -----------------------------------------------------------------

hp_dir="$sysroot/sys/kernel/mm/hugepages"
node_root="$sysroot/sys/devices/system/node"
meminfo="$sysroot/proc/meminfo"
mounts="$sysroot/proc/mounts"
cmdline_file="$sysroot/proc/cmdline"
sysctl_dropin="$sysroot/etc/sysctl.d/60-loom-hugepages.conf"
loom_conf="$sysroot/etc/loom/hugepages.conf"
grub_file="$sysroot/etc/default/grub"

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

# node_meminfo_kb FIELD: FIELD (MemTotal, MemFree) of node $node in kB, or
# nothing when the node has no meminfo.
node_meminfo_kb() {
  local f=$node_root/node$node/meminfo
  [[ -r $f ]] || return 0
  awk -v k="$1:" '$3 == k {print $4; exit}' "$f"
}

# check_node_memory KB: with --node, the node itself must hold the pages: a
# reservation that fits the machine may not fit one node.
check_node_memory() {
  local kb=$1 total free cur need
  total=$(node_meminfo_kb MemTotal)
  [[ $total =~ ^[0-9]+$ ]] || return 0
  need=$((count * kb))
  if ((need * 10 > total * 9)); then
    refuse "node $node lacks the memory: $count x $(kb_to_name "$kb") pages = $((need / 1024)) MiB is more than 90% of node $node's MemTotal ($((total / 1024)) MiB); reserve less or spread the pages across nodes"
  fi
  free=$(node_meminfo_kb MemFree)
  [[ $free =~ ^[0-9]+$ ]] || return 0
  cur=$(read_opt "$(pool_dir "$kb" "$node")/nr_hugepages")
  [[ $cur == "?" ]] && cur=0
  if ((need > free + cur * kb)); then
    info "warning: node $node has only $((free / 1024)) MiB free (plus $((cur * kb / 1024)) MiB already reserved) for $((need / 1024)) MiB of pages; the kernel may grant fewer"
  fi
}

# write_file FILE CONTENT: replace FILE with CONTENT (a trailing newline is
# added), creating its directory; with --dry-run, print it instead. FILE is
# always one of the /etc paths above, i.e. under $sysroot when it is set.
write_file() {
  local file=$1 content=$2 dir
  if ((dry_run)); then
    echo "would write $file:"
    printf '%s\n' "$content" | sed 's/^/    /'
    return 0
  fi
  need_root
  dir=$(dirname "$file")
  mkdir -p "$dir" || die "cannot create $dir"
  { printf '%s\n' "$content" >"$file.tmp.$$" && mv -f "$file.tmp.$$" "$file"; } 2>/dev/null \
    || { rm -f "$file.tmp.$$"; die "writing $file failed (not root?)"; }
}

# conf_lines: the "SIZE NODE COUNT" lines of hugepages.conf, comments and
# blank lines stripped.
conf_lines() {
  [[ -r $loom_conf ]] || return 0
  awk '{sub(/#.*/, "")} NF {print $1, $2, $3}' "$loom_conf"
}

# cmdline_value CMDLINE KEY: the value of the last KEY=value token.
cmdline_value() {
  local tok v=""
  local -a toks
  read -r -a toks <<<"$1"
  for tok in "${toks[@]}"; do
    [[ $tok == "$2="* ]] && v=${tok#*=}
  done
  echo "$v"
}

# hp_cmdline N: the kernel parameters that reserve N 1G pages at boot.
hp_cmdline() {
  echo "default_hugepagesz=1G hugepagesz=1G hugepages=$1"
}

# grub_cmdline: the value of GRUB_CMDLINE_LINUX in the grub defaults file.
grub_cmdline() {
  [[ -r $grub_file ]] || return 0
  sed -n 's/^GRUB_CMDLINE_LINUX=["'\'']\{0,1\}\([^"'\'']*\)["'\'']\{0,1\}$/\1/p' "$grub_file" | tail -n 1
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
  [[ -z $node ]] || check_node_memory "$kb"
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

cmd_persist_verify() {
  [[ -z $count && -z $size && -z $node ]] || usage_error "persist --verify takes no other arguments"
  ((!apply_grub)) || usage_error "--verify and --apply-grub do not go together"
  local bad=0 any=0 want cur sz nd cnt kb cmdline="" grubline v f
  [[ -r $cmdline_file ]] && cmdline=$(<"$cmdline_file")
  if [[ -r $sysctl_dropin ]]; then
    any=1
    want=$(awk -F= '{gsub(/[[:space:]]/, "", $1); gsub(/[[:space:]]/, "", $2)} $1 == "vm.nr_hugepages" {v = $2} END {print v}' "$sysctl_dropin")
    cur=$(read_opt "$(pool_dir 2048)/nr_hugepages")
    if [[ $want == "$cur" ]]; then echo "OK: $sysctl_dropin: vm.nr_hugepages = $want, $cur 2M pages reserved now"
    else echo "MISMATCH: $sysctl_dropin: vm.nr_hugepages = ${want:-?}, but $cur 2M pages reserved now"; bad=1; fi
  fi
  while read -r sz nd cnt; do
    any=1
    if ! kb=$(size_to_kb "$sz") || ! [[ $cnt =~ ^[0-9]+$ ]] || ! [[ $nd == - || $nd =~ ^[0-9]+$ ]]; then
      echo "MISMATCH: $loom_conf: malformed line '$sz $nd $cnt' (want SIZE NODE COUNT)"; bad=1; continue
    fi
    [[ $nd == - ]] && nd=""
    f=$(pool_dir "$kb" "$nd")/nr_hugepages
    cur=$(read_opt "$f")
    if [[ $cur == "$((10#$cnt))" ]]; then echo "OK: $loom_conf: $cnt $sz pages ($(scope_name "$nd")), $cur reserved now"
    else echo "MISMATCH: $loom_conf: $cnt $sz pages ($(scope_name "$nd")), but $cur reserved now"; bad=1; fi
  done < <(conf_lines)
  grubline=$(grub_cmdline)
  v=$(cmdline_value "$grubline" hugepages)
  if [[ -n $v ]]; then
    any=1
    want=$(cmdline_value "$cmdline" hugepages)
    if [[ $v == "$want" && $(cmdline_value "$grubline" hugepagesz) == "$(cmdline_value "$cmdline" hugepagesz)" ]]; then
      echo "OK: $grub_file: hugepages=$v is on the running kernel's command line"
    else
      echo "MISMATCH: $grub_file: hugepages=$v, but the running kernel has hugepages=${want:-(none)} (run update-grub and reboot?)"; bad=1
    fi
  fi
  v=$(cmdline_value "$cmdline" hugepages)
  if [[ -n $v ]]; then
    any=1
    sz=$(cmdline_value "$cmdline" hugepagesz)
    kb=$(size_to_kb "${sz:-2M}") || kb=2048
    if [[ $v == *:* ]]; then
      nd=${v%%:*} cnt=${v#*:}
      f=$(pool_dir "$kb" "$nd")/nr_hugepages
    else
      nd="" cnt=$v
      f=$(pool_dir "$kb")/nr_hugepages
    fi
    cur=$(read_opt "$f")
    if [[ $cur == "$cnt" ]]; then echo "OK: $cmdline_file: hugepages=$v, $cur $(kb_to_name "$kb") pages reserved now ($(scope_name "$nd"))"
    else echo "MISMATCH: $cmdline_file: hugepages=$v, but $cur $(kb_to_name "$kb") pages reserved now ($(scope_name "$nd"))"; bad=1; fi
  fi
  if ((!any)); then
    echo "MISMATCH: nothing is persisted (no $sysctl_dropin, no $loom_conf, no hugepages= in $grub_file or $cmdline_file)"
    bad=1
  fi
  return "$bad"
}

cmd_persist() {
  if ((verify)); then cmd_persist_verify; return; fi
  [[ -n $count ]] || usage_error "persist needs a page count, e.g. '$prog persist 1024'"
  [[ $count =~ ^[0-9]+$ ]] || refuse "page count must be a non-negative integer, got '$count'"
  ((${#count} <= 9)) || refuse "page count $count is implausibly large"
  count=$((10#$count))
  local kb name params line new grubline tok kept entry replaced=0
  local -a words toks
  kb=$(size_to_kb "${size:-2M}") || refuse "unknown page size '$size' (use 2M or 1G)"
  name=$(kb_to_name "$kb")
  [[ -z $node ]] || [[ $node =~ ^[0-9]+$ ]] || refuse "node must be a non-negative integer, got '$node'"
  [[ -z $node ]] || node=$((10#$node))
  if ((kb == 2048)) && [[ -z $node ]]; then
    ((!apply_grub)) || usage_error "--apply-grub only applies to 1G pages"
    write_file "$sysctl_dropin" "# Written by hugepages.sh persist: $count 2M hugepages at boot (systemd-sysctl).
vm.nr_hugepages = $count"
    ((dry_run)) || info "persisted: $count 2M pages system-wide via $sysctl_dropin (applied at boot by systemd-sysctl; 'sysctl --system' applies it now)"
    return 0
  fi
  if [[ -n $node ]]; then
    ((!apply_grub)) || usage_error "--apply-grub does not apply to per-node reservations (they go to $loom_conf)"
    # Update this size+node's line where it stands (dropping any duplicate of
    # it), keep every other line (comments too); append when it is new.
    entry="$name $node $count"
    new=""
    if [[ -r $loom_conf ]]; then
      while IFS= read -r line || [[ -n $line ]]; do
        read -r -a words <<<"${line%%#*}"
        if ((${#words[@]} >= 2)) && [[ $(size_to_kb "${words[0]}" 2>/dev/null || true) == "$kb" && ${words[1]} == "$node" ]]; then
          ((replaced)) && continue
          line=$entry replaced=1
        fi
        new+="$line"$'\n'
      done <"$loom_conf"
    else
      new="# SIZE NODE COUNT: hugepages loom-hugepages.service reserves at boot"$'\n'
      new+="# (hugepages.sh boot). NODE - = system-wide. Written by hugepages.sh persist."$'\n'
    fi
    ((replaced)) || new+="$entry"$'\n'
    write_file "$loom_conf" "${new%$'\n'}"
    if ((!dry_run)); then
      info "persisted: $count $name pages on node $node in $loom_conf"
      info "the reservation is done at boot by loom-hugepages.service (installed by scripts/install.sh), which runs 'hugepages.sh boot'"
    fi
    return 0
  fi
  # 1G system-wide: the kernel command line.
  params=$(hp_cmdline "$count")
  info "1G pages are reserved at boot from the kernel command line; add: $params"
  if [[ ! -e $grub_file ]]; then
    ((!apply_grub)) || die "no $grub_file to edit: add those parameters to your boot loader's kernel command line"
    info "no $grub_file: add those parameters to your boot loader's kernel command line"
    return 0
  fi
  grubline=$(grub_cmdline)
  kept=""
  read -r -a toks <<<"$grubline"
  for tok in "${toks[@]}"; do
    case $tok in default_hugepagesz=*|hugepagesz=*|hugepages=*) ;; *) kept+="${kept:+ }$tok" ;; esac
  done
  new="${kept:+$kept }$params"
  if ((!apply_grub)); then
    info "edit the line GRUB_CMDLINE_LINUX=\"$grubline\" in $grub_file to read:"
    echo "    GRUB_CMDLINE_LINUX=\"$new\""
    info "then run update-grub and reboot (or rerun with --apply-grub to edit it)"
    return 0
  fi
  if [[ $new == "$grubline" ]] && grep -q '^GRUB_CMDLINE_LINUX=' "$grub_file"; then
    info "$grub_file already has: $params"
    return 0
  fi
  if grep -q '^GRUB_CMDLINE_LINUX=' "$grub_file"; then
    line=$(LOOM_GRUB_NEW=$new awk '/^GRUB_CMDLINE_LINUX=/ {print "GRUB_CMDLINE_LINUX=\"" ENVIRON["LOOM_GRUB_NEW"] "\""; next} {print}' "$grub_file")
  else
    line=$(<"$grub_file")$'\n'"GRUB_CMDLINE_LINUX=\"$new\""
  fi
  write_file "$grub_file" "$line"
  if ((!dry_run)); then
    info "edited GRUB_CMDLINE_LINUX in $grub_file: \"$new\""
    info "run update-grub and reboot"
  fi
}

cmd_boot() {
  [[ -z $count && -z $size && -z $node ]] || usage_error "boot takes no arguments (it reads $loom_conf)"
  local sz nd cnt failed=0 n=0 self
  local -a args
  self=${BASH_SOURCE[0]}
  if [[ ! -r $loom_conf ]]; then
    info "no $loom_conf: nothing to reserve"
    return 0
  fi
  while read -r sz nd cnt; do
    n=$((n + 1))
    args=()
    if ((dry_run)); then args+=(--dry-run); fi
    args+=(reserve "$cnt" --size "$sz")
    [[ $nd == - ]] || args+=(--node "$nd")
    info "boot: reserve $cnt $sz pages ($(if [[ $nd == - ]]; then echo system-wide; else echo "node $nd"; fi))"
    # Same environment (LOOM_SYSROOT included), one reservation per run so a
    # bad line does not stop the others.
    "${BASH:-bash}" "$self" "${args[@]}" </dev/null \
      || { failed=$((failed + 1)); echo "$prog: boot: line '$sz $nd $cnt' failed" >&2; }
  done < <(conf_lines)
  ((n)) || info "$loom_conf lists no reservations"
  ((failed == 0)) || die "$failed of $n reservation(s) from $loom_conf failed"
}

case $cmd in
  reserve) cmd_reserve ;;
  release) cmd_release ;;
  persist) cmd_persist ;;
  boot) cmd_boot ;;
  status)
    ((!dry_run)) || usage_error "--dry-run does not apply to status"
    cmd_status ;;
esac
