#!/usr/bin/env bash
# net test: one long transfer through loomd's TCP.
#  - tcp_bulk.py sends 256 MiB over one connection to loomd's echo service
#    while reading the echo back; SHA-256 of sent and received are equal
#    (and the byte counts), within BULK_DEADLINE_S
#  - the connection is gone from loomd afterwards; SIGTERM ends it cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=7
BYTES=${TCP_BULK_BYTES:-$((256 << 20))}
BULK_DEADLINE_S=${TCP_BULK_DEADLINE_S:-300}

net_init tcpbulk
devnet_up 1 1
node_config --mem 1024 --echo-port "$PORT" >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
require_tcp_stats
wait_echo_service "$PORT"

echo "== $BYTES bytes each way over one connection"
with_loomd client_py 1 $((BULK_DEADLINE_S + 60)) tcp_bulk.py --host "$NODE_IP" \
  --port "$PORT" --bytes "$BYTES" --seed 3 --deadline "$BULK_DEADLINE_S" \
  || fail "the bulk transfer did not come back intact within ${BULK_DEADLINE_S}s"
loomd_alive || fail "loomd died during the bulk transfer"
wait_for 60 "loomd's connection count to return to 0" tcp_idle
tcp_report

stop_loomd
pass
