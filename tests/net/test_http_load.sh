#!/usr/bin/env bash
# net test: loomd's REST API under load, every acknowledged write durable
# and readable.
#  - loomd (one io lcore, the [tcp] defaults) on a devnet
#  - http_load.py in the client namespace: HTTP_LOAD_COUNT (100,000) POSTs
#    of the 400-byte reference record, UUIDv4 keys chosen by the client,
#    over HTTP_LOAD_CONNS (200) keep-alive connections; each 201 must carry
#    the id sent (body and Location) and is appended to an ack log
#  - exactly COUNT 201s and nothing else; the ack log holds COUNT distinct
#    ids
#  - /metrics: loom_storage_entries_total (writes committed) == COUNT, and
#    loom_storage_records (records in LMDB) == COUNT when loomd exports it
#  - the verify pass of http_load.py: GET of every acknowledged id over 8
#    keep-alive connections gives 200, the same id and the record sent
#  - all of it within HTTP_LOAD_DEADLINE_S; SIGTERM ends loomd cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

COUNT=${HTTP_LOAD_COUNT:-100000}
CONNS=${HTTP_LOAD_CONNS:-200}
# The whole client run, first POST to the last verifying GET. The client
# alone does about 45,000 POSTs/s and 35,000 GETs/s (one Python process,
# measured against a C stub on loopback), so the bound is loomd's; 600 s is
# generous for a 2-core machine and the ASan build.
DEADLINE_S=${HTTP_LOAD_DEADLINE_S:-600}

net_init httpload
devnet_up 1 1
# shellcheck disable=SC2119  # the defaults: no node_config flags
node_config >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
wait_http 60

echo "== $COUNT POSTs over $CONNS keep-alive connections, then GET every id"
rc=0
with_loomd client_py 1 $((DEADLINE_S + 60)) http_load.py --host "$NODE_IP" \
  --port "$HTTP_PORT" --conns "$CONNS" --count "$COUNT" --table load --keys uuid \
  --body-bytes 400 --ack-log "$WORK/acks.log" --verify --verify-conns 8 \
  --deadline "$DEADLINE_S" >"$WORK/load.out" || rc=$?
tail -n 42 "$WORK/load.out"
[[ $rc -eq 0 ]] || fail "http_load.py failed (see above)"
SUM=$(tail -n 1 "$WORK/load.out")
jq -e --arg n "$COUNT" '.acked_201 == ($n | tonumber) and .statuses == {"201": ($n | tonumber)}' \
  <<<"$SUM" >/dev/null || fail "want exactly $COUNT 201s and no other status"
jq -e --arg n "$COUNT" '.verify.ok == ($n | tonumber) and .verify.failed == 0' \
  <<<"$SUM" >/dev/null || fail "the verify pass did not read back all $COUNT records"
lines=$(lines_in "$WORK/acks.log")
distinct=$(sort -u "$WORK/acks.log" | wc -l)
[[ $lines -eq $COUNT && $distinct -eq $COUNT ]] ||
  fail "ack log: $lines lines, $distinct distinct ids; want $COUNT"
echo "201s: $COUNT in $(jq -r .seconds <<<"$SUM") s ($(jq -r .rate <<<"$SUM")/s);" \
  "verified: $(jq -r .verify.ok <<<"$SUM") in $(jq -r .verify.seconds <<<"$SUM") s"

echo "== /metrics"
wait_metric 10 loom_storage_entries_total "$COUNT"
echo "loom_storage_entries_total $COUNT"
metrics_get "$WORK/metrics.txt"
records=$(metric_sum loom_storage_records "$WORK/metrics.txt")
if [[ -n $records ]]; then
  [[ $records -eq $COUNT ]] || fail "loom_storage_records is $records, want $COUNT"
  echo "loom_storage_records $records"
else
  echo "(no loom_storage_records in /metrics: not checked)"
fi
for m in loom_http_requests_total loom_storage_commits_total; do
  echo "$m $(metric_sum "$m" "$WORK/metrics.txt")"
done

loomd_alive || fail "loomd died"
stop_loomd
pass
