#!/usr/bin/env bash
# net test: no acknowledged write is lost when loomd is killed mid-load.
#  - `sync = commit` is loomd's default ([storage] sync): a 201 leaves only
#    after the LMDB commit holding the write is durable. So every id loomd
#    acknowledged must be there after a kill -9 and a restart.
#  - http_load.py in the background (--allow-errors: the kill resets its
#    connections; no status but 201 is allowed) POSTs over 64 keep-alive
#    connections and logs each acknowledged id as its 201 arrives
#  - once HTTP_CRASH_MIN_ACKS (2,000) ids are logged, loomd gets SIGKILL
#    while writes are in flight; the client is stopped (stop file) and must
#    exit 0 with exactly as many ids logged as 201s counted
#  - loomd restarted on the same data dir; http_load.py --verify-log GETs
#    every logged id: 200, the same id and the record that was sent
#  - the restarted loomd takes new writes; SIGTERM ends it cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

MIN_ACKS=${HTTP_CRASH_MIN_ACKS:-2000}
LOAD_DEADLINE_S=300   # the background client's own bound
ACKS_WAIT_S=180       # for MIN_ACKS acknowledgements
VERIFY_DEADLINE_S=240

net_init httpcrash
devnet_up 1 1
# shellcheck disable=SC2119  # the defaults (sync = commit): no flags
node_config >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
wait_http 60

ACKS=$WORK/acks.log
echo "== background load; kill -9 loomd after $MIN_ACKS acknowledged POSTs"
# --count is only a bound: the kill and the stop file end the run.
bg_client_py load 1 http_load.py --host "$NODE_IP" --port "$HTTP_PORT" --conns 64 \
  --count 5000000 --table crash --keys uuid --body-bytes 400 --allow-errors \
  --ack-log "$ACKS" --stop-file "$WORK/stop" --drain 3 --deadline "$LOAD_DEADLINE_S"
LOAD_PID=$BG_PID

# enough_acks: MIN_ACKS ids logged (and the client still running).
enough_acks() {
  kill -0 "$LOAD_PID" 2>/dev/null ||
    fail "the load client exited early: $(tail -n 5 "$WORK/load.log")"
  (($(lines_in "$ACKS") >= MIN_ACKS))
}
wait_for "$ACKS_WAIT_S" "$MIN_ACKS acknowledged POSTs" enough_acks
at_kill=$(lines_in "$ACKS")
kill9_loomd
echo "loomd killed with $at_kill ids logged"
cp "$LOOMD_LOG" "$WORK/loomd-killed.log"
touch "$WORK/stop"
rc=0
bg_wait "$LOAD_PID" 60 "the load client" || rc=$?
tail -n 12 "$WORK/load.log"
[[ $rc -eq 0 ]] || fail "the load client failed (a status other than 201?)"
SUM=$(tail -n 1 "$WORK/load.log")
acked=$(jq -r .acked_201 <<<"$SUM")
logged=$(lines_in "$ACKS")
[[ $acked -eq $logged ]] || fail "the client counted $acked 201s but logged $logged ids"
((logged >= MIN_ACKS)) || fail "only $logged ids logged"
echo "$logged acknowledged ids; $(jq -r .unanswered <<<"$SUM") requests were in flight" \
  "(unanswered: may or may not have been committed)"

echo "== restart on the same data dir; GET every acknowledged id"
start_loomd "$WORK/n1.ini"
wait_http 60
rc=0
with_loomd client_py 1 $((VERIFY_DEADLINE_S + 60)) http_load.py --host "$NODE_IP" \
  --port "$HTTP_PORT" --table crash --body-bytes 400 --verify-log "$ACKS" \
  --verify-conns 8 --deadline "$VERIFY_DEADLINE_S" >"$WORK/verify.out" || rc=$?
tail -n 42 "$WORK/verify.out"
[[ $rc -eq 0 ]] || fail "acknowledged writes missing or wrong after kill -9 and restart"
jq -e --arg n "$logged" '.verify.ok == ($n | tonumber)' <(tail -n 1 "$WORK/verify.out") \
  >/dev/null || fail "verified fewer than the $logged logged ids"
echo "all $logged acknowledged ids read back after the crash"

http_req after POST /crash/ -H 'Content-Type: application/json' \
  --data-binary '{"id":"after-restart","n":1}'
expect_status after 201
echo "the restarted loomd takes writes"

stop_loomd
pass
