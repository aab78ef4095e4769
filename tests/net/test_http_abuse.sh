#!/usr/bin/env bash
# net test: malformed and hostile HTTP never harms loomd or another client.
#  - loomd with basic auth on (--user, hash from loomctl passwd) and a 2 s
#    header timeout; max_conns 8192 (with 1 GiB of EAL memory) so that the
#    TIME_WAIT of thousands of short connections cannot exhaust the slots
#  - http_abuse.py: 10,000 malformed or abusive requests on short
#    connections (bad methods, oversized and too many headers, bad chunk
#    sizes, bodies over max_body, missing lengths, wrong Content-Type, bad
#    JSON, bad versions, wrong credentials, garbage), each with its expected
#    status and a JSON error body; 8 slowloris connections answered 408 or
#    closed within the header timeout + 3 s; meanwhile a well-behaved
#    keep-alive client POSTs and GETs and gets only 201/200
#  - afterwards loomd is alive, /health answers 200, a POST is still
#    accepted, and SIGTERM ends loomd cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

COUNT=${HTTP_ABUSE_COUNT:-10000}
HEADER_TIMEOUT_MS=2000
DEADLINE_S=400
AUTH_USER=abuser
PW=loom-abuse-pw-7

net_init httpabuse
command -v curl >/dev/null 2>&1 || fail "curl not found; run scripts/install-deps.sh"
devnet_up 1 1
HASH=$(user_hash "$AUTH_USER" "$PW")
node_config --mem 1024 --tcp-max-conns 8192 --user "$AUTH_USER=$HASH" \
  --http-header-timeout-ms "$HEADER_TIMEOUT_MS" >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
wait_http 60 -u "$AUTH_USER:$PW"

echo "== $COUNT abusive requests, 8 slowloris connections, one good client"
rc=0
with_loomd client_py 1 $((DEADLINE_S + 60)) http_abuse.py --host "$NODE_IP" \
  --port "$HTTP_PORT" --count "$COUNT" --concurrency 16 --table abuse \
  --auth "$AUTH_USER:$PW" --auth-on --header-timeout-ms "$HEADER_TIMEOUT_MS" \
  --slow-margin 3 --slowloris 8 --timeout 10 --deadline "$DEADLINE_S" \
  >"$WORK/abuse.out" || rc=$?
tail -n 60 "$WORK/abuse.out"
[[ $rc -eq 0 ]] || fail "http_abuse.py: mismatches, a slow connection not cut, or the good client failed"
jq -e '.good.ops > 0 and .good.error == null' <(tail -n 1 "$WORK/abuse.out") >/dev/null ||
  fail "the good client did not complete a round trip"

echo "== loomd still serves"
loomd_alive || fail "loomd died under abuse"
http_req health GET /health -u "$AUTH_USER:$PW"
expect_status health 200
http_req good_post POST /abuse/ -H 'Content-Type: application/json' -u "$AUTH_USER:$PW" \
  --data-binary '{"id":"after-abuse"}'
expect_status good_post 201
metrics_get "$WORK/metrics.txt" -u "$AUTH_USER:$PW"
echo "loom_http_requests_total $(metric_sum loom_http_requests_total "$WORK/metrics.txt")"

stop_loomd
pass
