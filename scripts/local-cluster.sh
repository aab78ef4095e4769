#!/usr/bin/env bash
# local-cluster.sh: a working local Loom cluster on this machine, from
# nothing, as root.
#
#   scripts/local-cluster.sh [up]    install packages, build, bring up a devnet
#                                    (network namespaces only), make a cluster
#                                    CA and a certificate per node, start
#                                    three nodes (loomd + loom-controld),
#                                    form the cluster with `loomctl node add`,
#                                    write a record on node 1 and read it back
#                                    from nodes 2 and 3
#   scripts/local-cluster.sh status  what is running, and `loomctl status`
#   scripts/local-cluster.sh down    stop the nodes and remove the devnet
#
# Each node's loom-controld runs mutually authenticated TLS 1.3 with the
# others on the management addresses (mg0) and hands its loomd the
# replication keys it exports from those sessions (docs/CONTROL.md). State
# lives in /run/loom-demo: RUN/pki (the CA), RUN/nI (each node's configs,
# sockets, data and logs).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
TAG=demo
RUN=/run/loom-$TAG
BUILD=$SRC/build
NODES=3

die() { echo "local-cluster: $*" >&2; exit 1; }

# stop_pid FILE: SIGTERM the process in FILE, SIGKILL after 10 s.
stop_pid() {
  local pid
  [[ -f $1 ]] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

down() {
  local i
  for ((i = 1; i <= NODES; i++)); do
    stop_pid "$RUN/n$i/controld.pid"
    stop_pid "$RUN/n$i.pid"
  done
  scripts/devnet.sh down --tag "$TAG" >/dev/null
  rm -rf "${RUN:?}" /var/run/dpdk/loom-"$TAG"-n*
  echo "local-cluster: down"
}

status() {
  local i running=0
  for ((i = 1; i <= NODES; i++)); do
    if [[ -f $RUN/n$i.pid ]] && kill -0 "$(cat "$RUN/n$i.pid")" 2>/dev/null; then
      echo "loomd n$i running (pid $(cat "$RUN/n$i.pid")), log $RUN/n$i.log, counters $RUN/n$i/stats.json"
      running=1
    fi
  done
  if ((running)); then
    scripts/devnet.sh status --tag "$TAG"
    "$BUILD/loomctl" status --socket "$RUN/n1/controld.sock" || true
  else
    echo "local-cluster: not running"
  fi
}

up() {
  [[ $EUID -eq 0 ]] || die "run as root (network namespaces, DPDK)"
  scripts/install-deps.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target loomd loom-controld loomctl >/dev/null
  if [[ -d $RUN ]]; then down >/dev/null; fi
  mkdir -p "$RUN"
  scripts/devnet.sh up --nodes "$NODES" --clients 1 --tag "$TAG" --force >/dev/null
  local state prefix cli_ns i
  local -a ns ip mgmt
  state=$(scripts/devnet.sh status --tag "$TAG" --json)
  prefix=$(jq -r '.prefix' <<<"$state")
  cli_ns=$(jq -r '.clients[0].ns' <<<"$state")
  for ((i = 1; i <= NODES; i++)); do
    ns[i]=$(jq -r ".nodes[$((i - 1))].ns" <<<"$state")
    ip[i]=$(jq -r ".nodes[$((i - 1))].ip" <<<"$state")
    mgmt[i]=$(jq -r ".nodes[$((i - 1))].mgmt_ip" <<<"$state")
  done
  echo "== the cluster CA and one certificate per node (loomctl, ECDSA P-256)"
  "$BUILD/loomctl" ca init --dir "$RUN/pki" --cluster "$TAG"
  for ((i = 1; i <= NODES; i++)); do
    "$BUILD/loomctl" cert issue "n$i" --dir "$RUN/pki"
  done

  for ((i = 1; i <= NODES; i++)); do
    mkdir -p "$RUN/n$i"
    scripts/node-config.sh --tag "$TAG" --node "$i" --ip "${ip[i]}/$prefix" --dir "$RUN/n$i" \
      --control-socket "$RUN/n$i/loomd.sock" >"$RUN/n$i.ini"
    "$BUILD/loomd" --check-config "$RUN/n$i.ini" >/dev/null
    cat >"$RUN/n$i/controld.ini" <<INI
[controld]
name = n$i
listen = ${mgmt[i]}:9925
ca = $RUN/pki/ca.crt.pem
crl = $RUN/pki/crl.pem
cert = $RUN/pki/nodes/n$i/n$i.crt.pem
key = $RUN/pki/nodes/n$i/n$i.key.pem
state_dir = $RUN/n$i/control
loomd_socket = $RUN/n$i/loomd.sock
admin_socket = $RUN/n$i/controld.sock
INI
    ip netns exec "${ns[i]}" setsid "$BUILD/loomd" --config "$RUN/n$i.ini" \
      >"$RUN/n$i.log" 2>&1 </dev/null &
    echo $! >"$RUN/n$i.pid"
  done
  for ((i = 1; i <= NODES; i++)); do
    for _ in $(seq 1 300); do
      grep -q "polling port" "$RUN/n$i.log" && break
      kill -0 "$(cat "$RUN/n$i.pid")" 2>/dev/null || { cat "$RUN/n$i.log"; die "loomd n$i exited"; }
      sleep 0.2
    done
    grep -q "polling port" "$RUN/n$i.log" || { tail "$RUN/n$i.log"; die "loomd n$i did not start"; }
    echo "== loomd n$i is up at ${ip[i]} in namespace ${ns[i]} (log $RUN/n$i.log)"
    ip netns exec "${ns[i]}" setsid "$BUILD/loom-controld" --config "$RUN/n$i/controld.ini" \
      >"$RUN/n$i/controld.log" 2>&1 </dev/null &
    echo $! >"$RUN/n$i/controld.pid"
    for _ in $(seq 1 100); do
      [[ -S $RUN/n$i/controld.sock ]] && break
      kill -0 "$(cat "$RUN/n$i/controld.pid")" 2>/dev/null ||
        { cat "$RUN/n$i/controld.log"; die "loom-controld n$i exited"; }
      sleep 0.1
    done
    [[ -S $RUN/n$i/controld.sock ]] || die "loom-controld n$i did not start (see $RUN/n$i/controld.log)"
    echo "== loom-controld n$i is up at ${mgmt[i]}:9925 (log $RUN/n$i/controld.log)"
  done
  echo "== the cluster formed with loomctl node add, sent to node 1 (it spreads the topology)"
  for ((i = 1; i <= NODES; i++)); do
    "$BUILD/loomctl" node add --id "$i" --name "n$i" --mgmt "${mgmt[i]}:9925" --dp "${ip[i]}" \
      --socket "$RUN/n1/controld.sock"
  done

  echo "== from client namespace $cli_ns: ping ${ip[1]}"
  ip netns exec "$cli_ns" ping -n -c 2 -i 0.2 -W 5 "${ip[1]}"
  echo "== the replication links come up (each node shows its peers)"
  local url up=0
  for _ in $(seq 1 150); do
    up=0
    for ((i = 1; i <= NODES; i++)); do
      url="http://${ip[i]}:9926/metrics"
      n=$(ip netns exec "$cli_ns" curl -sS -m 2 "$url" 2>/dev/null |
        awk '/^loom_repl_peer_up\{/ {s += $2} END {print s + 0}')
      ((n == NODES - 1)) && up=$((up + 1))
    done
    ((up == NODES)) && break
    sleep 0.2
  done
  ((up == NODES)) || die "the replication links did not come up (see $RUN/n*.log, $RUN/n*/controld.log)"
  echo "every node has its $((NODES - 1)) links up, keyed from the mTLS sessions:"
  # loom-controld asks loomd for its links every second: wait for that view
  for _ in $(seq 1 50); do
    "$BUILD/loomctl" status --json --socket "$RUN/n1/controld.sock" 2>/dev/null |
      jq -e '[.peers[] | .data_up] | all' >/dev/null && break
    sleep 0.2
  done
  "$BUILD/loomctl" status --socket "$RUN/n1/controld.sock"

  local loc
  url="http://${ip[1]}:9926"
  echo "== POST a record to node 1: $url/demo/ (Loom's own TCP and HTTP)"
  loc=$(ip netns exec "$cli_ns" curl -sS -m 10 -D - -o /dev/null -X POST \
    -H 'Content-Type: application/json' \
    -d '{"name":"first record","written_on":"node 1"}' "$url/demo/" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
  [[ -n $loc ]] || die "POST $url/demo/ did not answer 201 with a Location"
  echo "201 Created, Location: $loc (committed to node 1's LMDB before the answer)"
  for ((i = 2; i <= NODES; i++)); do
    url="http://${ip[i]}:9926$loc"
    echo "== GET it from node $i: $url"
    local body=""
    for _ in $(seq 1 100); do
      body=$(ip netns exec "$cli_ns" curl -sS -m 2 -f "$url" 2>/dev/null) && break
      sleep 0.1
    done
    [[ -n $body ]] || die "node $i does not have $loc"
    echo "$body"
  done
  echo "== stop with: scripts/local-cluster.sh down"
}

case ${1:-up} in
  up) up ;;
  down) down ;;
  status) status ;;
  -h|--help) sed -n '2,19p' "$0" ;;
  *) die "unknown command ${1} (up, status, down)" ;;
esac
