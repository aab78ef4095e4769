#!/usr/bin/env bash
# net test: loomd under a SYN flood.
#  - loomd runs its echo service with syn_backlog 128
#  - syn_flood.py sends 5000 SYNs (1000/s) from spoofed, unused addresses of
#    the subnet (.200-.250), so none of them ever completes
#  - once loomd reports its SYN backlog full, 50 legitimate connections of
#    64 KiB each are opened during the flood: all must be echoed byte-exact
#  - stats: syn_backlog_full > 0 and syn_cookies_sent > 0; loomd stays alive
#    and SIGTERM ends it cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PORT=7
SYNS=${TCP_SYNFLOOD_SYNS:-5000}
SYN_RATE=${TCP_SYNFLOOD_RATE:-1000}
CONNS=${TCP_SYNFLOOD_CONNS:-50}
LEGIT_DEADLINE_S=${TCP_SYNFLOOD_DEADLINE_S:-120}

net_init tcpsynflood
devnet_up 1 1
node_config --mem 1024 --echo-port "$PORT" --tcp-syn-backlog 128 >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
require_tcp_stats
wait_echo_service "$PORT"

base=${NODE_IP%.*}
echo "== $SYNS SYNs at ${SYN_RATE}/s from $base.200-$base.250 while $CONNS clients connect"
bg_client_py flood 1 syn_flood.py --iface eth0 --dst-mac "$NODE_MAC" \
  --src-mac "$CLI_MAC" --dst-ip "$NODE_IP" --dst-port "$PORT" \
  --src-range "$base.200-$base.250" --count "$SYNS" --rate "$SYN_RATE" \
  --deadline 120
FLOOD_PID=$BG_PID
backlog_full() { (($(tcp_stat syn_backlog_full) > 0)); }
wait_for 30 "loomd to report its SYN backlog full (syn_backlog_full > 0)" backlog_full

with_loomd client_py 1 $((LEGIT_DEADLINE_S + 60)) tcp_echo_client.py --host "$NODE_IP" \
  --port "$PORT" --conns "$CONNS" --bytes 65536 --seed 5 --connect-rate 25 \
  --deadline "$LEGIT_DEADLINE_S" \
  || fail "legitimate connections were not all served byte-exact during the SYN flood"
if kill -0 "$FLOOD_PID" 2>/dev/null; then echo "(the flood was still going when they finished)"; fi
bg_wait "$FLOOD_PID" 150 "syn_flood.py" || fail "syn_flood.py did not send all $SYNS SYNs"
tail -n 1 "$WORK/flood.log"
loomd_alive || fail "loomd died under the SYN flood"

cookies() { (($(tcp_stat syn_cookies_sent) > 0)); }
wait_for 10 "syn_cookies_sent > 0" cookies
echo "syn_backlog_full $(tcp_stat syn_backlog_full), syn_cookies_sent $(tcp_stat syn_cookies_sent)," \
  "syn_cookies_ok $(tcp_stat syn_cookies_ok), tcp_conns $(stats_get .totals.tcp_conns)"
tcp_report

stop_loomd
pass
