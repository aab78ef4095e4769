#!/usr/bin/env bash
# host-check.sh: compare what a node profile's [host] section expects with
# what this host provides. Read-only: it never changes the host; every FIX
# line says what to run instead.
#
#   host-check.sh PROFILE.ini
#   host-check.sh --help
#
# Checks (one line each: OK, WARN or FIX, the check's name, details):
#   isolcpus     /proc/cmdline isolcpus= and /sys/devices/system/cpu/isolated
#   nohz_full    /proc/cmdline nohz_full= and /sys/devices/system/cpu/nohz_full
#   irq          the NIC's MSI IRQs (/sys/bus/pci/devices/ADDR/msi_irqs/N ->
#                /proc/irq/N/smp_affinity_list) inside irq_cpus
#   lcores       the lcore CPUs of [eal] args exist (cpuN under sysfs)
#   governor     cpuN/cpufreq/scaling_governor of every lcore CPU
#   thp          /sys/kernel/mm/transparent_hugepage/enabled
#   numa_nic     the NIC's numa_node vs numa_node
#   numa_lcores  every lcore CPU's node (cpuN/nodeK) vs numa_node
#   hugepages    nr_hugepages of hugepage_size on numa_node >= hugepages
#   iommu        /sys/class/iommu entries and intel_iommu=/amd_iommu=/iommu=pt
#   nic_driver   /sys/bus/pci/devices/ADDR/driver vs nic_driver
# The lcore CPUs come from [eal] args: --lcores (A@B maps lcore A to CPU B; an
# id without @ is its own CPU) or -l (identity). A key left empty in [host]
# is not checked.
#
# Exit status: 0 nothing to fix (WARN lines alone are 0), 1 at least one FIX,
# 2 usage error (no such file, no [host] section, bad arguments).
#
# Environment (for tests): LOOM_SYSROOT, prefix for every /sys and /proc path
# read (default empty = the real ones).
set -euo pipefail

prog=${0##*/}
sysroot=${LOOM_SYSROOT:-}

usage() {
  cat <<EOF
Usage: $prog PROFILE.ini
       $prog --help

Compares the [host] section of a node profile (isolcpus, nohz_full,
irq_cpus, governor, thp, numa_node, hugepage_size, hugepages, iommu, nic,
nic_driver) and the lcore CPUs of [eal] args (--lcores / -l) with this host.
Prints one line per check: OK, WARN (worth a look, not fatal) or FIX (with
what to do). Changes nothing.

Exit status: 0 nothing to fix, 1 something to fix, 2 usage error.
Environment: LOOM_SYSROOT (prefix for /sys and /proc, for tests).
EOF
}

usage_error() { echo "$prog: $*" >&2; exit 2; }

profile=""
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *)
      [[ -z $profile ]] || usage_error "only one profile allowed (see --help)"
      profile=$1 ;;
  esac
  shift
done
[[ -n $profile ]] || usage_error "missing PROFILE.ini (see --help)"
[[ -f $profile && -r $profile ]] || usage_error "cannot read profile '$profile'"

# --- INI reading -------------------------------------------------------------

# ini_section FILE SECTION: print "key<TAB>value" for every key of SECTION
# (indented lines continue the previous value, ';' or '#' at the start of a
# line or after a blank starts a comment). Exits 3 when there is no SECTION.
ini_section() {
  awk -v want="$2" '
    function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
    {
      sub(/^\xef\xbb\xbf/, "")
      line = $0
      if (line ~ /^[ \t]*[;#]/) next
      sub(/[ \t]+[;#].*$/, "", line)
      if (trim(line) == "") next
    }
    line ~ /^[ \t]*\[/ {
      s = line; sub(/^[ \t]*\[/, "", s); sub(/\].*$/, "", s)
      cur = trim(s); last = ""
      if (cur == want) found = 1
      next
    }
    line ~ /^[ \t]/ {
      if (cur == want && last != "") val[last] = val[last] " " trim(line)
      next
    }
    index(line, "=") {
      k = trim(substr(line, 1, index(line, "=") - 1))
      v = trim(substr(line, index(line, "=") + 1))
      last = ""
      if (cur == want) {
        if (!(k in val)) order[++n] = k
        val[k] = v; last = k
      }
      next
    }
    { last = "" }
    END {
      if (!found) exit 3
      for (i = 1; i <= n; i++) printf "%s\t%s\n", order[i], val[order[i]]
    }' "$1"
}

declare -A host=()
if ! host_lines=$(ini_section "$profile" host); then
  usage_error "$profile has no [host] section"
fi
while IFS=$'\t' read -r k v; do
  [[ -n $k ]] && host[$k]=$v
done <<<"$host_lines"
eal_args=""
if eal_lines=$(ini_section "$profile" eal); then
  eal_args=$(awk -F'\t' '$1 == "args" {print $2}' <<<"$eal_lines")
fi

hv() { echo "${host[$1]:-}"; }

# --- CPU lists -----------------------------------------------------------------

# expand_cpus LIST: "2-4,7" -> "2 3 4 7" (sorted, unique). Non-numeric items
# (isolcpus flags such as managed_irq or domain, "(null)") are ignored.
expand_cpus() {
  awk -v s="$1" 'BEGIN {
    n = split(s, parts, ",")
    for (i = 1; i <= n; i++) {
      p = parts[i]; gsub(/[ \t()]/, "", p)
      if (p ~ /^[0-9]+$/) seen[p + 0] = 1
      else if (p ~ /^[0-9]+-[0-9]+$/) {
        split(p, r, "-")
        for (c = r[1] + 0; c <= r[2] + 0; c++) seen[c] = 1
      }
    }
    for (c in seen) print c
  }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# compress_cpus "2 3 4 7": -> "2-4,7".
compress_cpus() {
  awk -v s="$1" 'BEGIN {
    n = split(s, c, " ")
    out = ""
    for (i = 1; i <= n; i = j + 1) {
      j = i
      while (j < n && c[j + 1] == c[j] + 1) j++
      item = (j > i) ? c[i] "-" c[j] : c[i]
      out = out (out == "" ? "" : ",") item
    }
    print out
  }'
}

# cpus_missing A B: the CPUs of expanded set A that are not in expanded set B.
cpus_missing() {
  local a b out=""
  local -A inb=()
  for b in $2; do inb[$b]=1; done
  for a in $1; do [[ -n ${inb[$a]:-} ]] || out+="${out:+ }$a"; done
  echo "$out"
}

# lcore_cpus ARGS: the CPUs the EAL lcores run on, expanded; nothing when the
# args name neither --lcores nor -l.
lcore_cpus() {
  local -a toks
  local i tok spec="" kind=""
  read -r -a toks <<<"$1"
  for ((i = 0; i < ${#toks[@]}; i++)); do
    tok=${toks[i]}
    case $tok in
      --lcores) spec=${toks[i + 1]:-}; kind=lcores; i=$((i + 1)) ;;
      --lcores=*) spec=${tok#*=}; kind=lcores ;;
      -l) spec=${toks[i + 1]:-}; kind=l; i=$((i + 1)) ;;
      -l*) spec=${tok#-l}; spec=${spec#=}; kind=l ;;
    esac
  done
  [[ -n $spec ]] || return 0
  if [[ $kind == l ]]; then expand_cpus "$spec"; return; fi
  # --lcores: split at the commas outside parentheses; each item is
  # LCORES@CPUS or LCORES (each lcore on the CPU of the same number).
  local depth=0 item="" ch all="" j
  local -a items=()
  for ((j = 0; j < ${#spec}; j++)); do
    ch=${spec:j:1}
    case $ch in
      '(') depth=$((depth + 1)); item+=$ch ;;
      ')') depth=$((depth - 1)); item+=$ch ;;
      ,) if ((depth == 0)); then items+=("$item"); item=""; else item+=$ch; fi ;;
      *) item+=$ch ;;
    esac
  done
  [[ -z $item ]] || items+=("$item")
  for item in "${items[@]}"; do
    if [[ $item == *@* ]]; then all+="${all:+,}${item#*@}"
    else all+="${all:+,}$item"; fi
  done
  expand_cpus "$all"
}

# --- output --------------------------------------------------------------------

fixes=0 warns=0
report() { # STATUS CHECK MESSAGE
  printf '%-4s %-11s %s\n' "$1" "$2" "$3"
  case $1 in FIX) fixes=$((fixes + 1)) ;; WARN) warns=$((warns + 1)) ;; esac
}

read_file() { # FILE: its first line, trimmed; nothing when unreadable
  local v=""
  if [[ -r $1 ]]; then IFS= read -r v <"$1" || true; fi
  v=${v%$'\r'}
  echo "${v#"${v%%[![:space:]]*}"}"
}

cmdline=$(read_file "$sysroot/proc/cmdline")
cpu_dir=$sysroot/sys/devices/system/cpu

# cmdline_value KEY: the value of the last KEY= token of /proc/cmdline.
cmdline_value() {
  local tok v=""
  local -a toks
  read -r -a toks <<<"$cmdline"
  for tok in "${toks[@]}"; do
    [[ $tok == "$1="* ]] && v=${tok#*=}
  done
  echo "$v"
}

# --- checks --------------------------------------------------------------------

# check_cpu_param NAME SYSFILE: isolcpus / nohz_full.
check_cpu_param() {
  local name=$1 sysfile=$2 want want_l on_cmd active missing extra
  want_l=$(hv "$name")
  if [[ -z $want_l ]]; then report OK "$name" "not checked ($name empty in the profile)"; return; fi
  want=$(expand_cpus "$want_l")
  on_cmd=$(expand_cpus "$(cmdline_value "$name")")
  if [[ -r $sysfile ]]; then active=$(expand_cpus "$(read_file "$sysfile")")
  else active=$on_cmd; fi
  missing=$(cpus_missing "$want" "$active")
  extra=$(cpus_missing "$active" "$want")
  if [[ -z $missing && -z $extra ]]; then
    report OK "$name" "$want_l active"
  elif [[ -z $missing ]]; then
    report WARN "$name" "$want_l active, and also CPUs $(compress_cpus "$extra") (profile expects $want_l only)"
  elif [[ -z $(cpus_missing "$want" "$on_cmd") ]]; then
    report FIX "$name" "$name=$want_l is on the kernel command line but CPUs $(compress_cpus "$missing") are not active: reboot into that command line"
  else
    report FIX "$name" "CPUs $(compress_cpus "$missing") missing (active: $(compress_cpus "$active" | sed 's/^$/none/')): add $name=$want_l to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot"
  fi
}

nic=$(hv nic)
nic_dev=""
[[ -z $nic ]] || nic_dev=$sysroot/sys/bus/pci/devices/$nic
nic_driver_now=""
if [[ -n $nic_dev && -L $nic_dev/driver ]]; then
  nic_driver_now=$(readlink "$nic_dev/driver"); nic_driver_now=${nic_driver_now##*/}
fi

check_irq() {
  local want_l want irqs=() f n aff bad="" ok=0
  want_l=$(hv irq_cpus)
  if [[ -z $want_l ]]; then report OK irq "not checked (irq_cpus empty in the profile)"; return; fi
  if [[ -z $nic ]]; then report WARN irq "no nic in the profile: NIC IRQs not checked"; return; fi
  if [[ ! -d $nic_dev ]]; then report FIX irq "NIC $nic not found under /sys/bus/pci/devices: check nic in the profile"; return; fi
  want=$(expand_cpus "$want_l")
  for f in "$nic_dev"/msi_irqs/*; do
    [[ -e $f ]] && irqs+=("${f##*/}")
  done
  if ((${#irqs[@]} == 0)); then
    if [[ $nic_driver_now == vfio-pci ]]; then
      report OK irq "no kernel IRQs ($nic is bound to vfio-pci)"
    else
      report OK irq "no kernel MSI IRQs for $nic (driver ${nic_driver_now:-none})"
    fi
    return
  fi
  for n in "${irqs[@]}"; do
    f=$sysroot/proc/irq/$n/smp_affinity_list
    if [[ ! -r $f ]]; then continue; fi
    aff=$(expand_cpus "$(read_file "$f")")
    if [[ -n $(cpus_missing "$aff" "$want") ]]; then
      bad+="${bad:+, }$n->$(compress_cpus "$aff")"
    else
      ok=$((ok + 1))
    fi
  done
  if [[ -n $bad ]]; then
    report FIX irq "IRQs of $nic outside irq_cpus $want_l: $bad; for each: echo $want_l > /proc/irq/N/smp_affinity_list (and keep irqbalance off those IRQs, e.g. IRQBALANCE_BANNED_CPULIST)"
  else
    report OK irq "$ok IRQ(s) of $nic on $want_l"
  fi
}

lcpus=$(lcore_cpus "$eal_args")

# check_lcores: the lcore CPUs must exist; the checks below skip the others.
check_lcores() {
  local c gone="" have=""
  if [[ -z $lcpus ]]; then
    report WARN lcores "no --lcores/-l in [eal] args: lcore CPUs unknown, governor and NUMA of lcores not checked"
    return
  fi
  for c in $lcpus; do
    if [[ -d $cpu_dir/cpu$c ]]; then have+="${have:+ }$c"; else gone+="${gone:+ }$c"; fi
  done
  if [[ -n $gone ]]; then
    report FIX lcores "lcore CPUs $(compress_cpus "$gone") do not exist on this host (no ${cpu_dir#"$sysroot"}/cpuN): change --lcores/-l in [eal] args"
  else
    report OK lcores "lcore CPUs $(compress_cpus "$lcpus")"
  fi
  lcpus=$have
}

check_governor() {
  local want c f g bad="" nofreq="" ok=0
  want=$(hv governor)
  if [[ -z $want ]]; then report OK governor "not checked (governor empty in the profile)"; return; fi
  if [[ -z $lcpus ]]; then report WARN governor "no lcore CPU to check (see lcores)"; return; fi
  for c in $lcpus; do
    f=$cpu_dir/cpu$c/cpufreq/scaling_governor
    if [[ ! -r $f ]]; then nofreq+="${nofreq:+ }$c"; continue; fi
    g=$(read_file "$f")
    if [[ $g == "$want" ]]; then ok=$((ok + 1)); else bad+="${bad:+, }cpu$c=$g"; fi
  done
  if [[ -n $bad ]]; then
    report FIX governor "want $want: $bad; run: cpupower -c $(compress_cpus "$lcpus") frequency-set -g $want (or echo $want > /sys/devices/system/cpu/cpuN/cpufreq/scaling_governor)"
  elif [[ -n $nofreq ]]; then
    report WARN governor "no cpufreq (VM?) on CPUs $(compress_cpus "$nofreq")$( ((ok)) && echo "; $ok with $want")"
  else
    report OK governor "$want on lcore CPUs $(compress_cpus "$lcpus")"
  fi
}

check_thp() {
  local want f line now
  want=$(hv thp)
  if [[ -z $want ]]; then report OK thp "not checked (thp empty in the profile)"; return; fi
  f=$sysroot/sys/kernel/mm/transparent_hugepage/enabled
  if [[ ! -r $f ]]; then report WARN thp "no $f (kernel without THP?)"; return; fi
  line=$(read_file "$f")
  now=$(sed -n 's/.*\[\([^]]*\)\].*/\1/p' <<<"$line")
  if [[ $now == "$want" ]]; then
    report OK thp "$now"
  else
    report FIX thp "transparent hugepages are '${now:-?}', want $want: echo $want > /sys/kernel/mm/transparent_hugepage/enabled (at boot: transparent_hugepage=$want on the kernel command line)"
  fi
}

want_node=$(hv numa_node)
[[ $want_node =~ ^-?[0-9]+$ ]] || want_node=""
[[ $want_node == -* ]] && want_node=""

check_numa() {
  local f got c d node bad="" unknown=""
  if [[ -z $want_node ]]; then
    report OK numa_nic "not checked (numa_node empty or -1 in the profile)"
    report OK numa_lcores "not checked (numa_node empty or -1 in the profile)"
    return
  fi
  if [[ -z $nic ]]; then
    report WARN numa_nic "no nic in the profile: NIC node not checked"
  elif [[ ! -d $nic_dev ]]; then
    report FIX numa_nic "NIC $nic not found under /sys/bus/pci/devices: check nic in the profile"
  else
    f=$nic_dev/numa_node
    got=$(read_file "$f")
    if [[ -z $got || $got == -1 ]]; then
      report WARN numa_nic "$nic reports no NUMA node (${got:-no numa_node file}; single-node host or VM?)"
    elif [[ $got == "$want_node" ]]; then
      report OK numa_nic "$nic on node $got"
    else
      report FIX numa_nic "$nic is on node $got, the profile expects node $want_node: set numa_node = $got and pick lcores/hugepages on node $got (or move the card)"
    fi
  fi
  if [[ -z $lcpus ]]; then report WARN numa_lcores "no lcore CPU to check (see lcores)"; return; fi
  for c in $lcpus; do
    node=""
    for d in "$cpu_dir/cpu$c"/node[0-9]*; do
      [[ -e $d ]] && node=${d##*/node}
    done
    if [[ -z $node ]]; then unknown+="${unknown:+ }$c"
    elif [[ $node != "$want_node" ]]; then bad+="${bad:+, }cpu$c@node$node"; fi
  done
  if [[ -n $bad ]]; then
    report FIX numa_lcores "lcore CPUs off node $want_node: $bad; change --lcores in [eal] args to CPUs of node $want_node (lscpu -p=CPU,NODE)"
  elif [[ -n $unknown ]]; then
    report WARN numa_lcores "no NUMA node for CPUs $(compress_cpus "$unknown") (no cpuN/nodeK; single-node host or VM?)"
  else
    report OK numa_lcores "lcore CPUs $(compress_cpus "$lcpus") on node $want_node"
  fi
}

check_hugepages() {
  local size want kb dir got scope args
  size=$(hv hugepage_size) want=$(hv hugepages)
  if [[ -z $want || $want == 0 ]]; then report OK hugepages "not checked (hugepages empty or 0 in the profile)"; return; fi
  case ${size^^} in
    ''|2M|2MB) kb=2048 size=2M ;;
    1G|1GB) kb=1048576 size=1G ;;
    *) report FIX hugepages "unknown hugepage_size '$size' in the profile (use 2M or 1G)"; return ;;
  esac
  if [[ -n $want_node ]]; then
    dir=$sysroot/sys/devices/system/node/node$want_node/hugepages/hugepages-${kb}kB
    scope="node $want_node" args=" --node $want_node"
  else
    dir=$sysroot/sys/kernel/mm/hugepages/hugepages-${kb}kB
    scope=system-wide args=""
  fi
  if [[ ! -d $dir ]]; then
    report FIX hugepages "no $size hugepages ($scope) on this host (no ${dir#"$sysroot"}): the kernel or the node lacks them"
    return
  fi
  got=$(read_file "$dir/nr_hugepages")
  [[ $got =~ ^[0-9]+$ ]] || got=0
  if ((got >= want)); then
    report OK hugepages "$got $size pages reserved ($scope), want $want"
  else
    report FIX hugepages "$got $size pages reserved ($scope), want $want: scripts/hugepages.sh reserve $want --size $size$args; to keep it across reboots: scripts/hugepages.sh persist $want --size $size$args"
  fi
}

check_iommu() {
  local want present=0 e cmd_on=0 pt=0 v
  want=$(hv iommu)
  if [[ -z $want ]]; then report OK iommu "not checked (iommu empty in the profile)"; return; fi
  for e in "$sysroot"/sys/class/iommu/*; do
    [[ -e $e || -L $e ]] && present=1
  done
  v=$(cmdline_value intel_iommu); [[ $v == on* ]] && cmd_on=1
  v=$(cmdline_value amd_iommu); [[ -n $v && $v != off ]] && cmd_on=1
  [[ $(cmdline_value iommu) == pt ]] && pt=1
  case $want in
    on|pt)
      if ((!present)); then
        report FIX iommu "no IOMMU active (/sys/class/iommu is empty): enable VT-d/AMD-Vi in the firmware and add intel_iommu=on (or amd_iommu=on)$([[ $want == pt ]] && echo " iommu=pt") to the kernel command line, then reboot"
      elif [[ $want == pt ]] && ((!pt)); then
        report FIX iommu "IOMMU active but not in passthrough mode: add iommu=pt to the kernel command line and reboot"
      else
        report OK iommu "IOMMU active$( ((pt)) && echo ", iommu=pt")$( ((cmd_on)) && echo ", enabled on the command line")"
      fi ;;
    off)
      if ((present)); then
        report WARN iommu "an IOMMU is active but the profile says iommu = off"
      else
        report OK iommu "no IOMMU, as the profile says"
      fi ;;
    *) report FIX iommu "unknown iommu '$want' in the profile (use on, off or pt)" ;;
  esac
}

check_driver() {
  local want
  want=$(hv nic_driver)
  if [[ -z $want ]]; then report OK nic_driver "not checked (nic_driver empty in the profile)"; return; fi
  if [[ -z $nic ]]; then report WARN nic_driver "no nic in the profile: driver not checked"; return; fi
  if [[ ! -d $nic_dev ]]; then report FIX nic_driver "NIC $nic not found under /sys/bus/pci/devices: check nic in the profile"; return; fi
  if [[ $nic_driver_now == "$want" ]]; then
    report OK nic_driver "$nic bound to $want"
  elif [[ $want == vfio-pci ]]; then
    report FIX nic_driver "$nic is bound to ${nic_driver_now:-no driver}, want vfio-pci: scripts/nic-bind.sh bind $nic"
  else
    report FIX nic_driver "$nic is bound to ${nic_driver_now:-no driver}, want $want: scripts/nic-bind.sh unbind $nic --driver $want"
  fi
}

echo "host-check: $profile${sysroot:+ (LOOM_SYSROOT=$sysroot)}"
check_cpu_param isolcpus "$cpu_dir/isolated"
check_cpu_param nohz_full "$cpu_dir/nohz_full"
check_irq
check_lcores
check_governor
check_thp
check_numa
check_hugepages
check_iommu
check_driver

if ((fixes)); then
  echo "host-check: $fixes to fix, $warns warning(s)"
  exit 1
fi
echo "host-check: nothing to fix, $warns warning(s)"
exit 0
