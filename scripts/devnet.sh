#!/usr/bin/env bash
# devnet.sh: a Loom test topology built entirely inside network namespaces.
#
#   loom-TAG-br   Linux bridge br0; one veth end per node/client is a port
#   loom-TAG-nI   node I: veth dp0, up, no IP, IPv6 off (net_af_packet binds it),
#                 and veth mg0 with a kernel IPv4 address (the management
#                 network: loom-controld)
#   loom-TAG-cJ   client J: veth eth0 with a kernel IPv4 address
#
# Every veth pair is created from inside the bridge namespace with its other
# end moved straight into the node/client namespace, so the root namespace
# never sees any of these interfaces. Outside the namespaces this script only
# writes /run/netns (via ip netns) and /run/loom-devnet/TAG.json.
set -euo pipefail

prog=${0##*/}
state_dir=/run/loom-devnet
max_nodes=16 max_clients=16

usage() {
  cat <<EOF
Usage:
  $prog up --nodes N --clients M [--tag TAG] [--subnet A.B.C.0/24] [--force]
  $prog down [--tag TAG]
  $prog status [--tag TAG] [--json]
  $prog --help

Builds a test network inside network namespaces (never touching the root
namespace's interfaces):
  loom-TAG-br  bridge br0 (STP off, forward delay 0)
  loom-TAG-nI  node I (1..N): veth dp0, up, no IP address, IPv6 disabled,
               and veth mg0 with A.B.C.(50+I)/24 for the kernel (the
               management address: loom-controld); its bridge-side peer
               is mI, apart from nI so that cutting dp0 leaves it,
               for DPDK's net_af_packet; its IP (A.B.C.(10+I)) is the one
               loomd should use. Its bridge-side peer is nI.
  loom-TAG-cJ  client J (0..M): veth eth0 with A.B.C.(100+J)/24 for kernel
               clients. Its bridge-side peer is cJ.
Offloads tx, tso, gso and gro are off on both ends of every veth; MTU 1500.
MACs are deterministic: 02:00:00:77:TT:XX, TT from a hash of the tag, XX the
last octet of the IP (nodes 0b.., clients 65..). IPv6 is disabled in every
namespace so the kernel puts no stray frames on the wire.

Commands:
  up       create the topology and write $state_dir/TAG.json
           (fails if TAG is already up, unless --force, which downs it first)
  down     kill processes left in loom-TAG-* namespaces, delete them and the
           state file; succeeds when nothing is there
  status   show the tag's namespaces and links (exit 1 if not up);
           --json prints the state file

Options:
  --nodes N      number of nodes, 1..$max_nodes
  --clients M    number of clients, 0..$max_clients
  --tag TAG      [a-z0-9]{1,8}, default "dev"
  --subnet NET   a /24 network address, default 10.77.0.0/24
  --force        (up) tear down an existing devnet with this tag first
  --json         (status) print the JSON state
  -h, --help     show this help

Must run as root (except --help).
EOF
}

die() { echo "$prog: error: $*" >&2; exit 1; }
usage_error() { echo "$prog: $* (see --help)" >&2; exit 2; }
warn() { echo "$prog: warning: $*" >&2; }

# --- arguments ---------------------------------------------------------------

cmd="" tag=dev nodes="" clients="" subnet=10.77.0.0/24 force=0 json=0
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --nodes|--clients|--tag|--subnet)
      (($# >= 2)) || usage_error "$1 needs a value"
      case $1 in
        --nodes) nodes=$2 ;;
        --clients) clients=$2 ;;
        --tag) tag=$2 ;;
        --subnet) subnet=$2 ;;
      esac
      shift ;;
    --nodes=*) nodes=${1#*=} ;;
    --clients=*) clients=${1#*=} ;;
    --tag=*) tag=${1#*=} ;;
    --subnet=*) subnet=${1#*=} ;;
    --force) force=1 ;;
    --json) json=1 ;;
    up|down|status)
      [[ -z $cmd ]] || usage_error "only one command allowed, got '$cmd' and '$1'"
      cmd=$1 ;;
    -*) usage_error "unknown option '$1'" ;;
    *) usage_error "unexpected argument '$1'" ;;
  esac
  shift
done

[[ -n $cmd ]] || usage_error "missing command (up, down or status)"
[[ $tag =~ ^[a-z0-9]{1,8}$ ]] || usage_error "tag must match [a-z0-9]{1,8}, got '$tag'"
if [[ $cmd != up ]]; then
  [[ -z $nodes && -z $clients && $subnet == 10.77.0.0/24 ]] \
    || usage_error "--nodes, --clients and --subnet only apply to up"
  ((!force)) || usage_error "--force only applies to up"
fi
[[ $cmd == status ]] || ((!json)) || usage_error "--json only applies to status"

br_ns=loom-$tag-br
state_file=$state_dir/$tag.json

# --- helpers -----------------------------------------------------------------

need_root() { ((EUID == 0)) || die "must run as root (network namespaces)"; }
need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found; run scripts/install-deps.sh"
}

# in_range V LO HI: V is a decimal integer with LO <= V <= HI.
in_range() {
  [[ $1 =~ ^[0-9]{1,5}$ ]] || return 1
  local v=$((10#$1))
  ((v >= $2 && v <= $3))
}

# tag_namespaces: every existing namespace named loom-TAG-*.
tag_namespaces() {
  ip netns list 2>/dev/null | awk -v p="loom-$tag-" 'index($1, p) == 1 {print $1}' | sort -V
}

# lock: serialise up/down across concurrent invocations.
lock() {
  mkdir -p "$state_dir" || die "cannot create $state_dir"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$state_dir/.lock"
  flock -w 60 9 || die "timed out waiting for another devnet.sh (lock $state_dir/.lock)"
}

# kill_ns_pids NS: TERM every process in NS, then KILL what is left.
kill_ns_pids() {
  local ns=$1 pids i
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ') || true
  [[ -n ${pids// } ]] || return 0
  echo "$prog: stopping processes in $ns: $pids"
  # shellcheck disable=SC2086  # word splitting of the pid list is intended
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ') || true
    [[ -n ${pids// } ]] || return 0
    sleep 0.1
  done
  warn "processes still alive in $ns after 3s, sending KILL: $pids"
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

# do_down: remove everything of this tag; never fails.
do_down() {
  local ns found=0
  local -a all
  mapfile -t all < <(tag_namespaces)
  for ns in "${all[@]}"; do
    found=1
    kill_ns_pids "$ns"
  done
  for ns in "${all[@]}"; do
    ip netns del "$ns" 2>/dev/null || warn "could not delete namespace $ns"
  done
  if [[ -e $state_file ]]; then
    found=1
    rm -f "$state_file"
  fi
  if ((found)); then
    echo "$prog: devnet $tag is down (removed ${#all[@]} namespace(s))"
  else
    echo "$prog: devnet $tag: nothing to remove"
  fi
}

# tag_byte: the TT byte of this tag's MACs, from a CRC of the tag.
tag_byte() {
  local crc
  crc=$(printf '%s' "$tag" | cksum | awk '{print $1}')
  printf '%02x' $((crc % 256))
}

# offloads_off NS IF: turn off tx, tso, gso, gro; report features that fail.
offloads_off() {
  local ns=$1 ifn=$2 f failed=()
  if ip netns exec "$ns" ethtool -K "$ifn" tx off tso off gso off gro off >/dev/null 2>&1; then
    return 0
  fi
  for f in tx tso gso gro; do
    ip netns exec "$ns" ethtool -K "$ifn" "$f" off >/dev/null 2>&1 || failed+=("$f")
  done
  ((${#failed[@]} == 0)) || warn "ethtool could not turn off ${failed[*]} on $ns/$ifn"
}

# ns_create NS: a namespace with lo up and IPv6 off.
ns_create() {
  local ns=$1
  ip netns add "$ns" || die "cannot create namespace $ns"
  if [[ -d /proc/sys/net/ipv6 ]]; then
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 >/dev/null \
      || die "cannot disable IPv6 in $ns"
  fi
  ip -n "$ns" link set lo up || die "cannot bring lo up in $ns"
}

# veth_attach NS IF PEER MAC: veth PEER (in the bridge ns, port of br0) <->
# IF (in NS), offloads off, MTU 1500, MAC on IF, both ends up.
veth_attach() {
  local ns=$1 ifn=$2 peer=$3 mac=$4
  ip -n "$br_ns" link add "$peer" type veth peer name "$ifn" netns "$ns" \
    || die "cannot create veth $br_ns/$peer <-> $ns/$ifn"
  ip -n "$ns" link set "$ifn" address "$mac" mtu 1500 || die "cannot configure $ns/$ifn"
  ip -n "$br_ns" link set "$peer" mtu 1500 master br0 || die "cannot enslave $peer to br0"
  offloads_off "$ns" "$ifn"
  offloads_off "$br_ns" "$peer"
  ip -n "$br_ns" link set "$peer" up || die "cannot bring $br_ns/$peer up"
  ip -n "$ns" link set "$ifn" up || die "cannot bring $ns/$ifn up"
}

# --- commands ----------------------------------------------------------------

up_in_progress=0
on_exit() {
  local rc=$?
  if ((up_in_progress)); then
    up_in_progress=0
    echo "$prog: up failed; removing what it created" >&2
    do_down >&2 || true
  fi
  exit "$rc"
}

cmd_up() {
  [[ -n $nodes ]] || usage_error "up needs --nodes N"
  in_range "$nodes" 1 "$max_nodes" \
    || usage_error "--nodes must be an integer in 1..$max_nodes, got '$nodes'"
  clients=${clients:-0}
  in_range "$clients" 0 "$max_clients" \
    || usage_error "--clients must be an integer in 0..$max_clients, got '$clients'"
  nodes=$((10#$nodes)) clients=$((10#$clients))
  local re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.0/24$'
  local base="" o1 o2 o3
  if [[ $subnet =~ $re ]]; then
    o1=$((10#${BASH_REMATCH[1]})) o2=$((10#${BASH_REMATCH[2]})) o3=$((10#${BASH_REMATCH[3]}))
    ((o1 <= 255 && o2 <= 255 && o3 <= 255)) && base=$o1.$o2.$o3
  fi
  [[ -n $base ]] \
    || usage_error "--subnet must be a /24 network address such as 10.77.0.0/24, got '$subnet'"
  subnet=$base.0/24

  need_root
  need_tool ip; need_tool ethtool; need_tool jq
  lock

  local existing
  existing=$(tag_namespaces | tr '\n' ' ')
  if [[ -n ${existing// } || -e $state_file ]]; then
    ((force)) || die "devnet $tag is already up; run $prog down --tag $tag first (or up --force)"
    do_down
  fi

  up_in_progress=1
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local tt i ns ip mac mgmt entries_n=() entries_c=()
  tt=$(tag_byte)

  ns_create "$br_ns"
  # nf_call_*tables 0: with br_netfilter loaded (Docker loads it), bridged
  # IPv4 would pass the kernel's IP sanity checks and defragmentation, which
  # silently eat the malformed frames and fragments the tests aim at loomd.
  ip -n "$br_ns" link add br0 type bridge stp_state 0 forward_delay 0 \
    nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 \
    || die "cannot create bridge br0 in $br_ns"
  if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    ip netns exec "$br_ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
      net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 \
      >/dev/null 2>&1 || true
  fi
  ip -n "$br_ns" link set br0 mtu 1500 up || die "cannot bring br0 up"

  for ((i = 1; i <= nodes; i++)); do
    ns=loom-$tag-n$i ip=$base.$((10 + i))
    mac=$(printf '02:00:00:77:%s:%02x' "$tt" $((10 + i)))
    ns_create "$ns"
    veth_attach "$ns" dp0 "n$i" "$mac"
    mgmt=$base.$((50 + i))
    veth_attach "$ns" mg0 "m$i" "$(printf '02:00:00:78:%s:%02x' "$tt" $((50 + i)))"
    ip -n "$ns" addr add "$mgmt/24" dev mg0 || die "cannot add $mgmt/24 to $ns/mg0"
    entries_n+=("$(jq -cn --arg name "n$i" --arg ns "$ns" --arg ip "$ip" --arg mac "$mac" \
      --arg mgmt "$mgmt" \
      '{name: $name, ns: $ns, iface: "dp0", ip: $ip, mac: $mac, mgmt_iface: "mg0", mgmt_ip: $mgmt}')")
  done
  for ((i = 1; i <= clients; i++)); do
    ns=loom-$tag-c$i ip=$base.$((100 + i))
    mac=$(printf '02:00:00:77:%s:%02x' "$tt" $((100 + i)))
    ns_create "$ns"
    veth_attach "$ns" eth0 "c$i" "$mac"
    ip -n "$ns" addr add "$ip/24" dev eth0 || die "cannot add $ip/24 to $ns/eth0"
    entries_c+=("$(jq -cn --arg name "c$i" --arg ns "$ns" --arg ip "$ip" --arg mac "$mac" \
      '{name: $name, ns: $ns, iface: "eth0", ip: $ip, mac: $mac}')")
  done

  local nodes_json clients_json
  nodes_json=$(printf '%s\n' "${entries_n[@]}" | jq -cs .)
  if ((clients)); then
    clients_json=$(printf '%s\n' "${entries_c[@]}" | jq -cs .)
  else
    clients_json='[]'
  fi
  jq -n --arg tag "$tag" --arg subnet "$subnet" --arg br "$br_ns" \
    --argjson nodes "$nodes_json" --argjson clients "$clients_json" \
    '{tag: $tag, subnet: $subnet, prefix: 24, bridge_ns: $br, bridge: "br0",
      nodes: $nodes, clients: $clients}' >"$state_file.tmp" \
    || die "cannot write $state_file.tmp"
  mv -f "$state_file.tmp" "$state_file" || die "cannot write $state_file"

  up_in_progress=0
  trap - EXIT INT TERM

  echo "devnet $tag is up: subnet $subnet, bridge $br_ns/br0, state $state_file"
  printf '%-7s %-5s %-16s %-6s %-15s %s\n' ROLE NAME NAMESPACE IFACE IP MAC
  jq -r '(.nodes[] | ["node", .name, .ns, .iface, .ip + "*", .mac]),
         (.clients[] | ["client", .name, .ns, .iface, .ip, .mac]) | @tsv' "$state_file" |
    while IFS=$'\t' read -r role name ns ifn ip mac; do
      printf '%-7s %-5s %-16s %-6s %-15s %s\n' "$role" "$name" "$ns" "$ifn" "$ip" "$mac"
    done
  echo "* node IPs are for loomd (net_af_packet on dp0); the kernel has no address there,"
  echo "  only on mg0 (A.B.C.(50+I): the management address, for loom-controld)"
}

cmd_down() {
  need_root
  lock
  do_down
}

cmd_status() {
  if ((json)); then
    [[ -r $state_file ]] || { echo "$prog: devnet $tag is not up (no $state_file)" >&2; exit 1; }
    need_tool jq
    jq . "$state_file"
    return 0
  fi
  need_root
  local -a all
  local ns
  mapfile -t all < <(tag_namespaces)
  if ((${#all[@]} == 0)); then
    echo "devnet $tag: down (no loom-$tag-* namespaces)"
    [[ ! -e $state_file ]] || echo "  stale state file $state_file (run $prog down --tag $tag)"
    exit 1
  fi
  if [[ -e $state_file ]]; then
    echo "devnet $tag: up (state $state_file)"
  else
    echo "devnet $tag: incomplete (namespaces without $state_file; run $prog down --tag $tag)"
  fi
  for ns in "${all[@]}"; do
    echo "$ns:"
    ip -n "$ns" -br link show 2>/dev/null | sed 's/^/  /' || true
    ip -n "$ns" -br -4 addr show 2>/dev/null | awk 'NF > 2 {print "  addr " $1 " " $3}' || true
  done
  [[ -e $state_file ]] || exit 1
}

case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
esac
