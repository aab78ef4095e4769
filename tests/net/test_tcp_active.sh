#!/usr/bin/env bash
# net test: loomd's active open.
#  - tcp_kernel_server.py --mode verify listens on the client's kernel IP
#  - loomd starts with [test] connect = CLIENT_IP:PORT, connect_count 50:
#    it opens 50 connections to it and echoes what the server sends
#  - the server sends 1 MiB on each, verifies the echo byte-exact, half-
#    closes, and sees loomd's FIN; it must verify all 50 in time
#  - loomd counted 50 active opens and its connection count returns to 0;
#    SIGTERM ends it cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=9000
CONNS=${TCP_ACTIVE_CONNS:-50}
BYTES=${TCP_ACTIVE_BYTES:-1048576}
ACTIVE_DEADLINE_S=${TCP_ACTIVE_DEADLINE_S:-300}

net_init tcpactive
devnet_up 1 1
bg_client_py server 1 tcp_kernel_server.py --bind "$CLI_IP" --port "$PORT" \
  --mode verify --conns "$CONNS" --bytes "$BYTES" --seed 4 \
  --deadline "$ACTIVE_DEADLINE_S" --ready-file "$WORK/server.ready" --json
SERVER_PID=$BG_PID
wait_for 20 "the kernel server to listen" test -e "$WORK/server.ready"

node_config --mem 1024 --connect "$CLI_IP:$PORT" --connect-count "$CONNS" >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
require_tcp_stats

echo "== loomd opens $CONNS connections to $CLI_IP:$PORT; $BYTES bytes echoed on each"
rc=0
bg_wait "$SERVER_PID" $((ACTIVE_DEADLINE_S + 30)) "the kernel server" || rc=$?
grep -v '^{' "$WORK/server.log" || true
[[ $rc -eq 0 ]] || fail "the kernel server did not verify all $CONNS connections (exit $rc)"
loomd_alive || fail "loomd died"

opens() { stats_true "([.lcores[]? | .tcp.active_opens // 0] | add) >= $CONNS"; }
wait_for 10 "loomd to count $CONNS active opens" opens
wait_for 60 "loomd's connection count to return to 0" tcp_idle
tcp_report

stop_loomd
pass
