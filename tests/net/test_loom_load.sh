#!/usr/bin/env bash
# net test: loom-load (bench/loom_load/), the DPDK load generator on Loom's
# own TCP stack, against loomd.
#  - loomd (one io lcore, defaults) on node 1 of a devnet; loom-load in the
#    client namespace on its eth0 (net_af_packet) with an address the
#    kernel does not own (.200: the kernel ignores frames for it), its own
#    --file-prefix, removed at the end
#  - --count LOOM_LOAD_COUNT (20,000) POSTs of the reference record over
#    LOOM_LOAD_CONNS (64) connections with --ids: exit 0, exactly COUNT
#    201s and no error, the ids file holds COUNT distinct ids
#  - every 100th id (200 of them) read back with curl from the client's
#    kernel: 200 and the same id; /metrics: loom_storage_records == COUNT
#    and COUNT 201 responses
#  - GET /health for 1 s: exit 0, only 200s
#  - SIGTERM mid-run (--duration 60): exit 0 within 10 s, "stopped":
#    "signal", nothing lost
#  - after each run no connection is left on loomd; SIGTERM ends loomd
#    cleanly
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

COUNT=${LOOM_LOAD_COUNT:-20000}
CONNS=${LOOM_LOAD_CONNS:-64}
RUN_LIMIT_S=120 # loom-load's own --timeout for the count run
LOOMLOAD=${LOOM_LOOMLOAD:-$BUILD/loom-load}
[[ -x $LOOMLOAD ]] || fail "no loom-load at $LOOMLOAD (build it, or set LOOM_BUILD_DIR or LOOM_LOOMLOAD)"

net_init loomload
LL_PREFIX=loom-$TAG-load
# EAL's runtime directory of loom-load goes with the rest of the test.
ll_cleanup() {
  local rc=$?
  rm -rf "/var/run/dpdk/${LL_PREFIX:?}"
  (exit "$rc")
  net_cleanup
}
trap ll_cleanup EXIT

devnet_up 1 1
# shellcheck disable=SC2119  # the defaults: no node_config flags
node_config >"$WORK/n1.ini"
start_loomd "$WORK/n1.ini"
wait_http 60
LOAD_IP=${NODE_IP%.*}.200

# loom_load NAME GUARD_S ARGS...: loom-load in the client namespace on eth0
# (both its lcores on CPU 0; loomd's io lcore is on CPU 1), JSON summary
# in WORK/NAME.out, stderr in WORK/NAME.err; killed after GUARD_S.
loom_load() {
  local name=$1 guard=$2; shift 2
  timeout -k 5 "$guard" ip netns exec "$CLI_NS" "$LOOMLOAD" \
    --file-prefix "$LL_PREFIX" --iface eth0 --lcores 0@0,1@0 \
    --ip "$LOAD_IP/$PREFIX" --target "$NODE_IP:$HTTP_PORT" --json "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# summary NAME JQ: the JSON summary of run NAME satisfies JQ.
summary() { jq -e "$2" "$WORK/$1.out" >/dev/null 2>&1; }

echo "== loom-load: $COUNT POSTs over $CONNS connections"
rc=0
with_loomd loom_load count $((RUN_LIMIT_S + 30)) --count "$COUNT" --conns "$CONNS" \
  --timeout "$RUN_LIMIT_S" --path /loadtest --ids "$WORK/ids.txt" || rc=$?
cat "$WORK/count.out" "$WORK/count.err"
[[ $rc -eq 0 ]] || fail "loom-load exited $rc"
summary count ".requests == $COUNT and .ok == $COUNT and .errors == 0 and .status[\"2xx\"] == $COUNT and .stopped == \"count\"" ||
  fail "want exactly $COUNT 201s and no error"
lines=$(lines_in "$WORK/ids.txt")
distinct=$(sort -u "$WORK/ids.txt" | wc -l)
[[ $lines -eq $COUNT && $distinct -eq $COUNT ]] ||
  fail "ids file: $lines lines, $distinct distinct ids; want $COUNT"
echo "$COUNT ids, all distinct; $(jq -r '"\(.rps) req/s, p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us"' "$WORK/count.out")"
# loom-load closed its connections before it exited: none left on loomd.
wait_for 20 "loomd's connections from loom-load to close" tcp_idle

echo "== every 100th id read back with curl (200 of them)"
mapfile -t sample < <(awk 'NR % 100 == 1' "$WORK/ids.txt")
[[ ${#sample[@]} -eq $((COUNT / 100)) ]] || fail "sampled ${#sample[@]} ids"
urls=()
for id in "${sample[@]}"; do urls+=("$(http_url "/loadtest/$id")"); done
# One curl, one connection: each body (one line of JSON) then its status.
in_client curl -sS --max-time 60 -w '\n%{http_code}\n' "${urls[@]}" >"$WORK/readback.txt" ||
  fail "curl of the sampled ids failed"
awk 'NR % 2 == 1' "$WORK/readback.txt" | jq -r '.id' >"$WORK/readback.ids" ||
  fail "the read-back bodies are not JSON records"
codes=$(awk 'NR % 2 == 0' "$WORK/readback.txt" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
[[ $codes == "200:${#sample[@]} " ]] || fail "read-back statuses: $codes"
printf '%s\n' "${sample[@]}" | cmp -s - "$WORK/readback.ids" ||
  fail "the read-back records do not carry the ids asked for"
echo "${#sample[@]} records read back with their ids"

echo "== /metrics"
wait_metric 10 loom_storage_records "$COUNT"
metrics_get "$WORK/metrics.txt"
created=$(awk '$1 == "loom_http_responses_total{code=\"201\"}" {print $2}' "$WORK/metrics.txt")
[[ $created == "$COUNT" ]] || fail "loomd answered ${created:-no} 201s, want $COUNT"
echo "loom_storage_records $COUNT, 201 responses $created"

echo "== loom-load: GET /health for 1 s"
rc=0
with_loomd loom_load health 60 --health --duration 1 --conns 16 || rc=$?
cat "$WORK/health.out"
[[ $rc -eq 0 ]] || { cat "$WORK/health.err"; fail "loom-load --health exited $rc"; }
summary health '.requests > 0 and .ok == .requests and .errors == 0 and .method == "GET"' ||
  fail "GET /health: not every answer was a 200"

echo "== loom-load: SIGTERM mid-run"
bg ll_sig ip netns exec "$CLI_NS" "$LOOMLOAD" --file-prefix "$LL_PREFIX" --iface eth0 \
  --lcores 0@0,1@0 --ip "$LOAD_IP/$PREFIX" --target "$NODE_IP:$HTTP_PORT" \
  --duration 60 --conns 16 --keys seq --path /loadtest --json
SIG_PID=$BG_PID
# running: loomd has answered 1,000 POSTs more than the count run's.
running() {
  local n
  metrics_get "$WORK/metrics.poll"
  n=$(metric_sum loom_storage_records "$WORK/metrics.poll")
  [[ ${n:-0} -ge $((COUNT + 1000)) ]]
}
wait_for 30 "the SIGTERM run to be under way" running
kill -TERM "$SIG_PID"
rc=0
bg_wait "$SIG_PID" 10 "loom-load after SIGTERM" || rc=$?
grep '^{' "$WORK/ll_sig.log" >"$WORK/sig.out" || true
cat "$WORK/sig.out"
[[ $rc -eq 0 ]] || { cat "$WORK/ll_sig.log"; fail "loom-load exited $rc after SIGTERM"; }
summary sig '.stopped == "signal" and .errors == 0 and .ok == .requests and .requests > 0' ||
  fail "the SIGTERM run did not stop cleanly"
wait_for 20 "loomd's connections to close" tcp_idle

loomd_alive || fail "loomd died"
stop_loomd
pass
