#!/usr/bin/env bash
# node-config.sh: print a loomd config for node I of a devnet topology
# (net_af_packet on dp0 inside the node's namespace, no hugepages).
#
#   node-config.sh --tag TAG --node I --ip A.B.C.D/P --dir DIR
#                  [--stats-interval-ms N] [--mem MB] [--io N]
#                  [--fault-drop R] [--fault-dup R] [--fault-reorder R]
#                  [--fault-corrupt R] [--fault-seed N]
#                  [--tcp-max-conns N] [--tcp-sndbuf B] [--tcp-rcvbuf B]
#                  [--tcp-syn-backlog N] [--tcp-time-wait-ms N]
#                  [--tcp-rto-min-ms N] [--tcp-rto-init-ms N]
#                  [--tcp-delack-ms N]
#                  [--echo-port P] [--connect A.B.C.D:P] [--connect-count N]
#                  [--http-header-timeout-ms N] [--http-backpressure-ms N]
#                  [--http-max-inflight N] [--user NAME=HASH]...
#                  [--control-socket PATH]
#                  [--repl-batch-max N] [--repl-window N]
#                  [--repl-ping-ms N] [--repl-dead-ms N]
#                  [--repl-log-retention-ms N] [--repl-prune-interval-ms N]
#
# DIR holds the node's data and stats file (DIR/data, DIR/stats.json).
# --mem MB is EAL's --no-huge memory (default 256, 512 with
# --control-socket; the TCP tests use 1024).
# Lcores: main 0 on CPU 0; --io N (default 1) io lcores 1..N, all on CPU 1,
# one queue pair each (qpairs=N, framecnt=16384: the kernel-side packet ring
# must absorb what a thousand peers' windows can put in flight at once, or
# the kernel drops there and TCP falls back on timeouts); storage N+1, also
# on CPU 1. On the small
# test machines every lcore relies on idle back-off to share cores.
# The [tcp] section is written only when a --tcp-* flag is given, [test] only
# when --echo-port, --connect or --connect-count is; keys not given keep
# loomd's defaults. [test] runs loomd's test-only TCP services: an echo
# service on --echo-port, and --connect-count (default 1) active opens to
# the kernel server at --connect that echo what it sends.
# [http] is always written. Without --user it has auth = none: the REST API
# answers without credentials (fine inside a test namespace). Each --user
# NAME=HASH (repeatable, at most 32) adds a [users] entry and sets auth =
# basic; HASH is what `loomctl passwd NAME` prints after "NAME = "
# (pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64), and that whole line, blanks
# around '=' included, is accepted too. --http-header-timeout-ms,
# --http-backpressure-ms and --http-max-inflight set header_timeout_ms,
# backpressure_timeout_ms and max_inflight; the other [http] keys keep
# loomd's defaults.
# --control-socket PATH makes the node replicate: its peers and their keys
# come from loom-controld over that Unix socket ([control] socket,
# docs/CONTROL.md); it adds a repl lcore (id N+2, CPU 1, with its own queue
# pair: qpairs=N+1); the --repl-* flags set [repl] batch_max, window,
# ping_interval_ms, dead_after_ms, log_retention_ms and prune_interval_ms
# (docs/REPLICATION.md, docs/CONFIG.md); they are written only with
# --control-socket.
set -euo pipefail

# The comment block above, without its '# ' prefixes.
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }
die() { echo "node-config.sh: $*" >&2; exit 2; }

tag="" node="" ip="" dir="" interval=1000 mem=256 mem_set=0 io=1
fault_drop=0 fault_dup=0 fault_reorder=0 fault_corrupt=0 fault_seed=1
tcp_max_conns="" tcp_sndbuf="" tcp_rcvbuf="" tcp_syn_backlog=""
tcp_time_wait_ms="" tcp_rto_min_ms="" tcp_rto_init_ms="" tcp_delack_ms=""
echo_port="" connect="" connect_count=""
http_header_timeout_ms="" http_backpressure_ms="" http_max_inflight=""
control_socket="" repl_batch_max="" repl_window="" repl_ping_ms="" repl_dead_ms=""
repl_log_retention_ms="" repl_prune_interval_ms=""
users=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    -*) [[ $# -ge 2 ]] || die "$1 needs a value" ;;
    *) die "unexpected argument '$1' (see --help)" ;;
  esac
  case $1 in
    --tag) tag=$2 ;;
    --node) node=$2 ;;
    --ip) ip=$2 ;;
    --dir) dir=$2 ;;
    --stats-interval-ms) interval=$2 ;;
    --mem) mem=$2 mem_set=1 ;;
    --io) io=$2 ;;
    --fault-drop) fault_drop=$2 ;;
    --fault-dup) fault_dup=$2 ;;
    --fault-reorder) fault_reorder=$2 ;;
    --fault-corrupt) fault_corrupt=$2 ;;
    --fault-seed) fault_seed=$2 ;;
    --tcp-max-conns) tcp_max_conns=$2 ;;
    --tcp-sndbuf) tcp_sndbuf=$2 ;;
    --tcp-rcvbuf) tcp_rcvbuf=$2 ;;
    --tcp-syn-backlog) tcp_syn_backlog=$2 ;;
    --tcp-time-wait-ms) tcp_time_wait_ms=$2 ;;
    --tcp-rto-min-ms) tcp_rto_min_ms=$2 ;;
    --tcp-rto-init-ms) tcp_rto_init_ms=$2 ;;
    --tcp-delack-ms) tcp_delack_ms=$2 ;;
    --echo-port) echo_port=$2 ;;
    --connect) connect=$2 ;;
    --connect-count) connect_count=$2 ;;
    --http-header-timeout-ms) http_header_timeout_ms=$2 ;;
    --http-backpressure-ms) http_backpressure_ms=$2 ;;
    --http-max-inflight) http_max_inflight=$2 ;;
    --user) users+=("$2") ;;
    --control-socket) control_socket=$2 ;;
    --repl-batch-max) repl_batch_max=$2 ;;
    --repl-window) repl_window=$2 ;;
    --repl-ping-ms) repl_ping_ms=$2 ;;
    --repl-dead-ms) repl_dead_ms=$2 ;;
    --repl-log-retention-ms) repl_log_retention_ms=$2 ;;
    --repl-prune-interval-ms) repl_prune_interval_ms=$2 ;;
    *) echo "node-config.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift 2
done
for v in tag node ip dir; do
  [[ -n ${!v} ]] || die "--$v is required"
done
[[ $node =~ ^[0-9]+$ ]] || die "--node must be a number"

# uint NAME VALUE MIN MAX: VALUE is a decimal integer in MIN..MAX (at most
# 12 digits, far inside bash's 64-bit arithmetic).
uint() {
  if [[ ! $2 =~ ^[0-9]{1,12}$ ]] || ((10#$2 < $3 || 10#$2 > $4)); then
    die "$1 must be an integer in $3..$4, got '$2'"
  fi
}
# pow2 NAME VALUE: a power of two >= 4096.
pow2() {
  uint "$1" "$2" 4096 16777216
  if (((10#$2) & (10#$2 - 1))); then die "$1 must be a power of two, got '$2'"; fi
}
uint --mem "$mem" 64 65536
mem=$((10#$mem))
uint --io "$io" 1 16
io=$((10#$io))

tcp_keys=()
if [[ -n $tcp_max_conns ]]; then uint --tcp-max-conns "$tcp_max_conns" 16 1048576; tcp_keys+=("max_conns = $tcp_max_conns"); fi
if [[ -n $tcp_sndbuf ]]; then pow2 --tcp-sndbuf "$tcp_sndbuf"; tcp_keys+=("sndbuf = $tcp_sndbuf"); fi
if [[ -n $tcp_rcvbuf ]]; then pow2 --tcp-rcvbuf "$tcp_rcvbuf"; tcp_keys+=("rcvbuf = $tcp_rcvbuf"); fi
if [[ -n $tcp_syn_backlog ]]; then uint --tcp-syn-backlog "$tcp_syn_backlog" 1 65536; tcp_keys+=("syn_backlog = $tcp_syn_backlog"); fi
if [[ -n $tcp_time_wait_ms ]]; then uint --tcp-time-wait-ms "$tcp_time_wait_ms" 1 240000; tcp_keys+=("time_wait_ms = $tcp_time_wait_ms"); fi
if [[ -n $tcp_rto_min_ms ]]; then uint --tcp-rto-min-ms "$tcp_rto_min_ms" 1 60000; tcp_keys+=("rto_min_ms = $tcp_rto_min_ms"); fi
if [[ -n $tcp_rto_init_ms ]]; then uint --tcp-rto-init-ms "$tcp_rto_init_ms" 10 60000; tcp_keys+=("rto_init_ms = $tcp_rto_init_ms"); fi
if [[ -n $tcp_delack_ms ]]; then uint --tcp-delack-ms "$tcp_delack_ms" 1 500; tcp_keys+=("delack_ms = $tcp_delack_ms"); fi

test_keys=()
if [[ -n $echo_port ]]; then uint --echo-port "$echo_port" 1 65535; test_keys+=("echo_port = $echo_port"); fi
if [[ -n $connect_count && -z $connect ]]; then die "--connect-count needs --connect A.B.C.D:P"; fi
if [[ -n $connect ]]; then
  re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3}):([0-9]{1,5})$'
  [[ $connect =~ $re ]] || die "--connect must be A.B.C.D:P, got '$connect'"
  for o in 1 2 3 4; do
    ((10#${BASH_REMATCH[o]} <= 255)) || die "--connect: '$connect' is not an IPv4 address"
  done
  uint "--connect port" "${BASH_REMATCH[5]}" 1 65535
  test_keys+=("connect = $connect")
  uint --connect-count "${connect_count:-1}" 1 65535
  test_keys+=("connect_count = ${connect_count:-1}")
fi

http_keys=()
if [[ -n $http_header_timeout_ms ]]; then uint --http-header-timeout-ms "$http_header_timeout_ms" 100 600000; http_keys+=("header_timeout_ms = $http_header_timeout_ms"); fi
if [[ -n $http_backpressure_ms ]]; then uint --http-backpressure-ms "$http_backpressure_ms" 1 600000; http_keys+=("backpressure_timeout_ms = $http_backpressure_ms"); fi
if [[ -n $http_max_inflight ]]; then uint --http-max-inflight "$http_max_inflight" 1 1024; http_keys+=("max_inflight = $http_max_inflight"); fi

# --user NAME=HASH: the form is checked here, the values by loomd.
user_lines=() user_names=" "
hash_re='^pbkdf2-sha256\$[0-9]+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$'
for u in "${users[@]}"; do
  [[ $u == *=* ]] || die "--user must be NAME=HASH (loomctl passwd NAME prints it); the value given has no '='"
  name=${u%%=*} hash=${u#*=}
  name=${name%"${name##*[![:blank:]]}"} hash=${hash#"${hash%%[![:blank:]]*}"}
  [[ $name =~ ^[A-Za-z0-9_.-]{1,63}$ ]] || die "--user: '$name' is not a user name ([A-Za-z0-9_.-]{1,63})"
  # Never echo a HASH that does not look like one: it may be a password.
  [[ $hash =~ $hash_re ]] || die "--user $name: not pbkdf2-sha256\$ITERATIONS\$SALT_B64\$HASH_B64 (loomctl passwd $name prints it)"
  [[ $user_names != *" $name "* ]] || die "--user: '$name' given twice"
  user_names+="$name "
  user_lines+=("$name = $hash")
done
((${#user_lines[@]} <= 32)) || die "--user: at most 32 users"
if ((${#user_lines[@]})); then auth=basic; else auth=none; fi

repl_keys=() replicates=0
if [[ -n $control_socket ]]; then
  [[ $control_socket == /* ]] || die "--control-socket: '$control_socket' is not an absolute path"
  replicates=1
  # The repl lcore's TCP and frame buffers need room beyond the default.
  if ((!mem_set)); then mem=512; fi
fi
if ((replicates)); then
  if [[ -n $repl_batch_max ]]; then uint --repl-batch-max "$repl_batch_max" 1 4096; repl_keys+=("batch_max = $repl_batch_max"); fi
  if [[ -n $repl_window ]]; then uint --repl-window "$repl_window" 16 1048576; repl_keys+=("window = $repl_window"); fi
  if [[ -n $repl_ping_ms ]]; then uint --repl-ping-ms "$repl_ping_ms" 50 60000; repl_keys+=("ping_interval_ms = $repl_ping_ms"); fi
  if [[ -n $repl_dead_ms ]]; then uint --repl-dead-ms "$repl_dead_ms" 200 600000; repl_keys+=("dead_after_ms = $repl_dead_ms"); fi
  if [[ -n $repl_log_retention_ms ]]; then uint --repl-log-retention-ms "$repl_log_retention_ms" 0 31536000000; repl_keys+=("log_retention_ms = $repl_log_retention_ms"); fi
  if [[ -n $repl_prune_interval_ms ]]; then uint --repl-prune-interval-ms "$repl_prune_interval_ms" 10 600000; repl_keys+=("prune_interval_ms = $repl_prune_interval_ms"); fi
fi

# Lcores: io 1..N, storage N+1 and (replicating) repl N+2 share CPU 1;
# main 0 has CPU 0. The repl lcore has its own queue pair.
storage=$((io + 1))
repl_lcore=$((io + 2))
qpairs=$io
if ((io == 1)); then
  lcores="0@0,1@1,2@1"
  io_list=1
else
  lcores="0@0,(1-$io)@1,$storage@1"
  io_list=$(seq -s, 1 "$io")
fi
repl_line=""
if ((replicates)); then
  lcores="$lcores,$repl_lcore@1"
  repl_line="repl = $repl_lcore"
  qpairs=$((io + 1))
fi

cat <<INI
# loomd config for devnet $tag node $node (generated by scripts/node-config.sh)
[node]
id = $node
name = n$node

[eal]
args = --no-pci --no-huge -m $mem --file-prefix loom-$tag-n$node --lcores $lcores --vdev net_af_packet0,iface=dp0,qpairs=$qpairs,framecnt=16384

[dataplane]
ip = $ip

[lcores]
main = 0
io = $io_list
storage = $storage
$repl_line

[idle]
spin_polls = 1000
sleep_max_us = 1000

[storage]
path = $dir/data

[fault]
drop = $fault_drop
dup = $fault_dup
reorder = $fault_reorder
corrupt = $fault_corrupt
seed = $fault_seed

[run]
stats_file = $dir/stats.json
stats_interval_ms = $interval
INI

if ((${#tcp_keys[@]})); then
  printf '\n[tcp]\n'
  printf '%s\n' "${tcp_keys[@]}"
fi
if ((${#test_keys[@]})); then
  printf '\n[test]\n'
  printf '%s\n' "${test_keys[@]}"
fi
printf '\n[http]\n'
if [[ $auth == none ]]; then
  printf '# No --user: the REST API answers without credentials.\n'
fi
printf '%s\n' "${http_keys[@]}" "auth = $auth"
if ((${#user_lines[@]})); then
  printf '\n[users]\n'
  printf '%s\n' "${user_lines[@]}"
fi
if ((replicates)) && ((${#repl_keys[@]})); then
  printf '\n[repl]\n'
  printf '%s\n' "${repl_keys[@]}"
fi
if [[ -n $control_socket ]]; then
  printf '\n[control]\nsocket = %s\n' "$control_socket"
fi
