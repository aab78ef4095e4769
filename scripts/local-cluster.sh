#!/usr/bin/env bash
# local-cluster.sh: a working local Loom on this machine, from nothing, as root.
#
#   scripts/local-cluster.sh [up]    install packages, build, bring up a devnet
#                                    (network namespaces only), start loomd and
#                                    show it answering ARP and ping, then
#                                    write a record over HTTP and read it back
#   scripts/local-cluster.sh status  what is running
#   scripts/local-cluster.sh down    stop loomd and remove the devnet
#
# Today this is one node: replication and the control plane (mTLS) arrive
# with their issues, and then this starts three nodes and shows a record
# written on one read back from the others. State lives in /run/loom-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
TAG=demo
RUN=/run/loom-$TAG
BUILD=$SRC/build

die() { echo "local-cluster: $*" >&2; exit 1; }

down() {
  if [[ -f $RUN/n1.pid ]]; then
    local pid; pid=$(cat "$RUN/n1.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  scripts/devnet.sh down --tag "$TAG" >/dev/null
  rm -rf "$RUN"
  echo "local-cluster: down"
}

status() {
  if [[ -f $RUN/n1.pid ]] && kill -0 "$(cat "$RUN/n1.pid")" 2>/dev/null; then
    echo "loomd n1 running (pid $(cat "$RUN/n1.pid")), log $RUN/n1.log, counters $RUN/stats.json"
    scripts/devnet.sh status --tag "$TAG"
  else
    echo "local-cluster: not running"
  fi
}

up() {
  [[ $EUID -eq 0 ]] || die "run as root (network namespaces, DPDK)"
  scripts/install-deps.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target loomd loom-controld loomctl >/dev/null
  if [[ -f $RUN/n1.pid ]]; then down >/dev/null; fi
  mkdir -p "$RUN"
  scripts/devnet.sh up --nodes 1 --clients 1 --tag "$TAG" --force >/dev/null
  local state node_ns node_ip prefix cli_ns
  state=$(scripts/devnet.sh status --tag "$TAG" --json)
  node_ns=$(jq -r '.nodes[0].ns' <<<"$state")
  node_ip=$(jq -r '.nodes[0].ip' <<<"$state")
  prefix=$(jq -r '.prefix' <<<"$state")
  cli_ns=$(jq -r '.clients[0].ns' <<<"$state")

  scripts/node-config.sh --tag "$TAG" --node 1 --ip "$node_ip/$prefix" --dir "$RUN" \
    >"$RUN/n1.ini"
  "$BUILD/loomd" --check-config "$RUN/n1.ini"
  ip netns exec "$node_ns" setsid "$BUILD/loomd" --config "$RUN/n1.ini" \
    >"$RUN/n1.log" 2>&1 </dev/null &
  echo $! >"$RUN/n1.pid"
  for _ in $(seq 1 300); do
    grep -q "polling port" "$RUN/n1.log" && break
    kill -0 "$(cat "$RUN/n1.pid")" 2>/dev/null || { cat "$RUN/n1.log"; die "loomd exited"; }
    sleep 0.2
  done
  grep -q "polling port" "$RUN/n1.log" || { tail "$RUN/n1.log"; die "loomd did not start"; }

  echo "== loomd n1 is up at $node_ip in namespace $node_ns (log $RUN/n1.log)"
  echo "== from client namespace $cli_ns: arping $node_ip"
  ip netns exec "$cli_ns" arping -c 2 -w 10 -I eth0 "$node_ip"
  echo "== from client namespace $cli_ns: ping $node_ip"
  ip netns exec "$cli_ns" ping -n -c 3 -i 0.2 -W 5 "$node_ip"
  local url="http://$node_ip:9926" loc
  echo "== from client namespace $cli_ns: POST a record to $url/demo/ (loomd's own TCP and HTTP)"
  loc=$(ip netns exec "$cli_ns" curl -sS -m 10 -D - -o /dev/null -X POST \
    -H 'Content-Type: application/json' \
    -d '{"name":"first record","written_by":"local-cluster.sh"}' "$url/demo/" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
  [[ -n $loc ]] || die "POST $url/demo/ did not answer 201 with a Location"
  echo "201 Created, Location: $loc (committed to LMDB before the answer)"
  echo "== GET $url$loc"
  ip netns exec "$cli_ns" curl -sS -m 10 -f "$url$loc"
  echo
  sleep 1.2
  echo "== loomd counters (totals)"
  jq -c '.totals' "$RUN/stats.json"
  echo "== stop with: scripts/local-cluster.sh down"
}

case ${1:-up} in
  up) up ;;
  down) down ;;
  status) status ;;
  -h|--help) sed -n '2,13p' "$0" ;;
  *) die "unknown command ${1} (up, status, down)" ;;
esac
