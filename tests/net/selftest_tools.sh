#!/usr/bin/env bash
# net test of the TCP test tools themselves, kernel to kernel (no loomd): a
# devnet with two clients; client 2 runs tcp_kernel_server.py, client 1 the
# tools under test, over the same bridge the loomd tests use.
#  - tcp_echo_client.py: 200 x 256 KiB byte-exact, then a 1-byte
#    connections-per-second run
#  - tcp_bulk.py: 64 MiB each way, sha256 equal
#  - tcp_kernel_server.py --mode verify: 50 x 1 MiB through tcp_echo_peer.py
#    (the stand-in for loomd's active open)
#  - sink mode: the byte count comes back
#  - syn_flood.py: 5000 SYNs with correct checksums (no TcpInCsumErrors)
#    make client 2's kernel (listen backlog 8) send SYN cookies, while 50
#    legitimate echo connections opened during the flood are all served
#  - and every checker FAILS when it should: a corrupting echo server
#    (mismatch named with its offset), a resetting one (ECONNRESET), a
#    corrupting echo peer against the verify server
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

net_init selftest
devnet_up 1 2
IP2=${CLIENT_IP[2]}
command -v nstat >/dev/null 2>&1 || fail "nstat not found (iproute2)"

# start_server NAME PORT ARGS...: tcp_kernel_server.py on client 2; waits
# until it listens. SRV_PID is its pid.
start_server() {
  local name=$1 port=$2; shift 2
  bg_client_py "$name" 2 tcp_kernel_server.py --bind "$IP2" --port "$port" \
    --ready-file "$WORK/$name.ready" "$@"
  SRV_PID=$BG_PID
  wait_for 20 "$name to listen" test -e "$WORK/$name.ready"
}

# must_fail DESCRIPTION PATTERN COMMAND...: COMMAND exits non-zero and its
# output matches the extended regex PATTERN.
must_fail() {
  local what=$1 pat=$2 rc=0 out; shift 2
  out=$("$@" 2>&1) || rc=$?
  tail -n 3 <<<"$out"
  [[ $rc -ne 0 ]] || fail "$what: the checker passed (exit 0)"
  [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$what: the checker hung (exit $rc)"
  grep -Eq "$pat" <<<"$out" || fail "$what: output does not match /$pat/"
  echo "ok: $what fails as it should (exit $rc)"
}

echo "== kernel echo server on client 2, tools on client 1"
start_server echo 7 --mode echo --deadline 900
ECHO_PID=$SRV_PID
client_py 1 200 tcp_echo_client.py --host "$IP2" --port 7 --conns 200 \
  --bytes 262144 --deadline 150 --seed 3 || fail "tcp_echo_client 200 x 256 KiB"
client_py 1 200 tcp_bulk.py --host "$IP2" --port 7 --bytes $((64 << 20)) \
  --deadline 150 --seed 4 || fail "tcp_bulk 64 MiB"
client_py 1 60 tcp_echo_client.py --host "$IP2" --port 7 --conns 3000 \
  --concurrency 16 --bytes 1 --duration 3 --deadline 30 --quiet \
  || fail "tcp_echo_client connections-per-second mode"

echo "== verify mode: 50 x 1 MiB through tcp_echo_peer.py"
start_server verify 9000 --mode verify --conns 50 --bytes 1048576 --deadline 150
VERIFY_PID=$SRV_PID
client_py 1 200 tcp_echo_peer.py --host "$IP2" --port 9000 --conns 50 \
  --deadline 150 || fail "tcp_echo_peer"
bg_wait "$VERIFY_PID" 60 "the verify server" || fail "the verify server did not verify all 50"
tail -n 1 "$WORK/verify.log"

echo "== sink mode"
start_server sink 9001 --mode sink --conns 1 --deadline 60
SINK_PID=$SRV_PID
got=$(in_client 1 timeout 60 python3 -c '
import socket, struct, sys
s = socket.create_connection((sys.argv[1], 9001), timeout=30)
s.sendall(bytes(3000000)); s.shutdown(socket.SHUT_WR)
b = b""
while len(b) < 8:
    d = s.recv(8 - len(b))
    if not d: break
    b += d
print(struct.unpack("!Q", b)[0] if len(b) == 8 else -1)' "$IP2")
[[ $got == 3000000 ]] || fail "sink mode answered $got, expected 3000000"
bg_wait "$SINK_PID" 30 "the sink server" || fail "the sink server"
echo "ok: sink counted 3000000 bytes"

echo "== syn_flood.py against client 2's kernel (listen backlog 8)"
start_server floodsrv 9002 --mode echo --backlog 8 --deadline 300
FLOOD_SRV=$SRV_PID
base=${IP2%.*}
kstat() { in_client 2 nstat -asz "$1" | awk -v n="$1" '$1 == n {print $2}'; }
cookies_sent() { (($(kstat TcpExtSyncookiesSent) > 0)); }
bg_client_py flood 1 syn_flood.py --iface eth0 --dst-mac "${CLIENT_MAC[2]}" \
  --src-mac "$CLI_MAC" --dst-ip "$IP2" --dst-port 9002 \
  --src-range "$base.200-$base.250" --count 5000 --rate 1000 --deadline 60
FLOOD_PID=$BG_PID
# The legitimate connections start once the kernel is answering with cookies.
wait_for 30 "client 2's kernel to send SYN cookies" cookies_sent
client_py 1 150 tcp_echo_client.py --host "$IP2" --port 9002 --conns 50 \
  --bytes 65536 --connect-rate 25 --deadline 120 --seed 5 \
  || fail "legitimate clients during the SYN flood"
kill -0 "$FLOOD_PID" 2>/dev/null && echo "(the flood was still going when they finished)"
bg_wait "$FLOOD_PID" 90 "syn_flood.py" || fail "syn_flood.py did not send them all"
tail -n 1 "$WORK/flood.log"
cookies=$(kstat TcpExtSyncookiesSent)
csumerr=$(kstat TcpInCsumErrors)
echo "client 2 kernel: TcpExtSyncookiesSent $cookies, TcpInCsumErrors $csumerr"
((cookies >= 4000)) || fail "the kernel sent only $cookies SYN cookies for 5000 SYNs"
((csumerr == 0)) || fail "the kernel counted $csumerr TCP checksum errors"
echo "ok: $cookies SYN cookies, 0 checksum errors"
bg_stop "$FLOOD_SRV" || true

echo "== the checkers fail when they should"
start_server corrupt 9003 --mode echo --corrupt-every 100003 --deadline 300
CORRUPT_PID=$SRV_PID
must_fail "tcp_echo_client vs a corrupting echo" "mismatch at offset 100002" \
  client_py 1 60 tcp_echo_client.py --host "$IP2" --port 9003 --conns 20 \
  --bytes 262144 --deadline 30
must_fail "tcp_bulk vs a corrupting echo" "sha256 DIFFERENT, first mismatch at offset 100002" \
  client_py 1 60 tcp_bulk.py --host "$IP2" --port 9003 --bytes $((8 << 20)) --deadline 30
start_server reset 9004 --mode echo --reset-after 100000 --deadline 300
RESET_PID=$SRV_PID
must_fail "tcp_echo_client vs a resetting echo" "ECONNRESET|EPIPE" \
  client_py 1 60 tcp_echo_client.py --host "$IP2" --port 9004 --conns 20 \
  --bytes 1048576 --deadline 30
start_server verifybad 9005 --mode verify --conns 5 --bytes 1048576 --deadline 60
VBAD_PID=$SRV_PID
client_py 1 60 tcp_echo_peer.py --host "$IP2" --port 9005 --conns 5 \
  --corrupt-every 500009 --deadline 30 >/dev/null 2>&1 || true
rc=0
bg_wait "$VBAD_PID" 60 "the verify server (corrupting peer)" || rc=$?
tail -n 1 "$WORK/verifybad.log"
[[ $rc -ne 0 ]] || fail "the verify server passed a corrupting peer"
grep -q "mismatch at offset 500008" "$WORK/verifybad.log" \
  || fail "the verify server did not name the mismatch offset"
echo "ok: the verify server fails against a corrupting peer (exit $rc)"
must_fail "tcp_echo_client with nothing listening" "ECONNREFUSED" \
  client_py 1 60 tcp_echo_client.py --host "$IP2" --port 9999 --conns 3 --deadline 10

for pid in "$ECHO_PID" "$CORRUPT_PID" "$RESET_PID"; do
  bg_stop "$pid" || fail "an echo server exited non-zero"
done
tail -n 1 "$WORK/echo.log"
pass
