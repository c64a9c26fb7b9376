#!/usr/bin/env bash
# fetcher against the CoinAPI stand-in and a real broker: configuration
# errors, every class of CoinAPI answer (with exact counts), confirmed
# publishing, NO_ROUTE, a broker that is down, a full buffer, concurrent
# requests per tick, one request per base (CoinAPI's all-rates endpoint) with
# a quote missing and errors on it, the metrics against the summary line, the
# schedule, and the key never shown.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init fetcher
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-fetcher-$$
D=$IT_DIR
KEY=sekrit-key-$$
# An sse-server binds its queue to the exchange (otherwise every publish
# comes back NO_ROUTE), and a client of it shows what was delivered.
start_sse "$D/sse.log"
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server binds its queue"
spawn "$D/bound.err" curl -sN -o "$D/bound.sse" "$SSE/api/v1/sso/stream"

fetch() { # LOG [fake args --] fetcher args...: run against a fresh stand-in; sets RC
    local log=$1
    shift
    local fargs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do fargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    start_fake "$log.fake" "${fargs[@]}"
    COIN_API_KEY=$KEY COIN_API_URL=$FAKE "$BIN/fetcher" "$@" >"$log" 2>&1
    RC=$?
    curl -s "$FAKE/fake/stats" >"$log.stats"
    kill "$FAKE_PID" 2>/dev/null
}
stat() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1.stats"; }
summary_has() { grep 'summary:' "$1" | grep -q -- "$2"; }

# ---- configuration: exit 2 with one clear line --------------------------
env -u COIN_API_KEY "$BIN/fetcher" >"$D/nokey.log" 2>&1
check "no COIN_API_KEY: exit 2" test $? = 2
check "... saying how to get a key or run the demo" grep -q 'COIN_API_KEY is not set.*make demo' "$D/nokey.log"
COIN_API_KEY=x "$BIN/fetcher" --coinapi-key "$KEY" >"$D/flagkey.log" 2>&1
check "the key is refused on the command line (visible in ps): exit 2" test $? = 2
for bad in "--interval 5" "--pairs BTCUSD" "--coinapi-url ftp://x" "--buffer 0" "--route-grace soon"; do
    # shellcheck disable=SC2086
    COIN_API_KEY=$KEY "$BIN/fetcher" $bad >"$D/bad.log" 2>&1
    check "'$bad' is refused: exit 2" test $? = 2
done

# ---- CoinAPI answers ----------------------------------------------------
fetch "$D/e401.log" --mode 401 -- --duration 2s --interval 500ms
check "401: exit 3 at once" test "$RC" = 3
check "401: one request only" test "$(stat "$D/e401.log" requests)" = 1
check "401: names the cause" grep -q 'refused the key (401): check COIN_API_KEY' "$D/e401.log"
check "401: logs CoinAPI's own text" grep -q 'HTTP 401: Invalid API key' "$D/e401.log"
fetch "$D/e403.log" --mode 403 -- --duration 2s --interval 500ms
check "403: exit 4" test "$RC" = 4
check "403: names permission or quota" grep -q '403.*permission.*quota' "$D/e403.log"

fetch "$D/e429.log" --mode 429 --retry-after 2 -- --duration 4s --interval 500ms
check "429: exit 0, the run goes on" test "$RC" = 0
check "429: Retry-After 2 s honoured: 2 requests in 8 ticks, 6 skipped" \
    summary_has "$D/e429.log" 'scheduled=8 skipped=6 requests=2 fetched=0 failed: http_429=2'
check "429: the stand-in saw exactly 2 requests" test "$(stat "$D/e429.log" 429)" = 2
check "429: said once per pause" test "$(grep -c 'pausing requests for 2 s' "$D/e429.log")" = 2

for m in 500:http_5xx 550:http_550 malformed:invalid huge:invalid wrongpair:invalid; do
    fetch "$D/m${m%%:*}.log" --mode "${m%%:*}" -- --duration 2s --interval 500ms --drain 0
    check "${m%%:*}: exit 0, all 4 ticks counted as ${m#*:}" \
        bash -c "[ $RC = 0 ] && grep summary: '$D/m${m%%:*}.log' | grep -q 'requests=4 fetched=0 .*${m#*:}=4'"
done
check "500: CoinAPI's {\"message\":...} text is logged" grep -q 'HTTP 500: An error has occurred' "$D/m500.log"
check "repeated errors are logged once per 10 s, not per tick" test "$(grep -c 'HTTP 500' "$D/m500.log")" = 1
check "a body over 64 KiB is dropped" grep -q 'larger than 65536 bytes' "$D/mhuge.log"
check "an answer for another pair is dropped" grep -q 'answer names USD/BTC' "$D/mwrongpair.log"
# A request is cut at 90 % of the interval, so the cadence holds. At 2 s
# that leaves 200 ms for the tick's wake-up and curl's noticing the timeout;
# at 500 ms it left 50 ms, which one scheduling stall on a busy box eats.
fetch "$D/slow.log" --mode slow --slow 5s -- --duration 8s --interval 2s --drain 0
check "timeouts (request over 1800 ms): 4 transport errors, the cadence kept" \
    summary_has "$D/slow.log" 'scheduled=4 skipped=0 requests=4 fetched=0 .*transport=4'
COIN_API_KEY=$KEY "$BIN/fetcher" --duration 1s --interval 500ms --coinapi-url http://127.0.0.1:1 >"$D/conn.log" 2>&1
check "connection refused: exit 0, 2 transport errors" bash -c "[ $? = 0 ] && grep -q 'transport=2' '$D/conn.log'"

# ---- publishing ---------------------------------------------------------
seen=$(grep -c '^data: ' "$D/bound.sse")
# Publishing, not the schedule (that is below): the first broker connect
# happens after tick 1 and can make tick 2 late, which is then skipped, so
# the counts are taken from what the fetcher says it did.
fetch "$D/ok.log" --journal "$D/ok.journal" -- --duration 3s --interval 500ms --pairs BTC/USD,ETH/USD
ran=$(($(fsum "$D/ok.log" scheduled) - $(fsum "$D/ok.log" skipped)))
n=$(fsum "$D/ok.log" confirmed)
check "6 ticks x 2 pairs: each tick run ($ran) fetched both pairs, every one confirmed by the broker ($n)" \
    bash -c "grep summary: '$D/ok.log' | grep -q 'scheduled=6 .* requests=$((2 * ran)) fetched=$((2 * ran)) .*confirmed=$((2 * ran)) ' && [ $ran -ge 4 ]"
check "one info line per tick run" test "$(grep -c 'fetcher info  tick [0-9]/6:' "$D/ok.log")" = "$ran"
delivered() { sed -n 's/^data: //p' "$D/bound.sse" | tail -n +$((seen + 1)) >"$D/ok.delivered"; same_ticks "$D/ok.delivered" "$D/ok.journal"; }
check "the bound queue got exactly what the stand-in served, in order per pair" wait_for 3 delivered

fetch "$D/overlap.log" --mode slow --slow 300ms -- --duration 2s --interval 1s --pairs BTC/USD,ETH/USD,XRP/EUR
check "3 pairs: each tick's 3 requests overlap (3 in flight at once)" test "$(stat "$D/overlap.log" max_concurrent)" = 3
n=$(fsum "$D/overlap.log" fetched)
check "... and all fetched are confirmed ($n of 6)" \
    bash -c "[ '$(fsum "$D/overlap.log" confirmed)' = '$n' ] && [ '${n:-0}' -ge 3 ]"

# Without the history stream nothing keeps a tick no sse-server takes.
AMQP_EXCHANGE=nobody-bound-$$ HISTORY_STREAM=off fetch "$D/noroute.log" -- --duration 2s --interval 500ms --route-grace 1s
n=$(fsum "$D/noroute.log" fetched)
check "no queue bound (NO_ROUTE): every tick fetched ($n of 4) dropped as unrouted after --route-grace" \
    bash -c "grep summary: '$D/noroute.log' | grep -q 'fetched=$n .*confirmed=0 .*dropped_unrouted=$n unsent=0' && [ '${n:-0}' -ge 2 ]"
check "... logged once, not per tick" test "$(grep -c 'no queue is bound' "$D/noroute.log")" = 1
# With it (the default), the stream takes them: confirmed, none unrouted.
AMQP_EXCHANGE=nobody-bound-h-$$ fetch "$D/kept.log" -- --duration 2s --interval 500ms --route-grace 1s
n=$(fsum "$D/kept.log" fetched)
check "no sse-server, history stream on: every tick fetched ($n of 4) kept by the stream, none unrouted" \
    bash -c "grep summary: '$D/kept.log' | grep -q 'fetched=$n .*confirmed=$n .*dropped_unrouted=0 unsent=0' && [ '${n:-0}' -ge 2 ]"

AMQP_URL=amqp://guest:guest@127.0.0.1:1/%2f fetch "$D/down.log" -- --duration 2s --interval 500ms --drain 500ms
check "broker down the whole run: exit 0, 4 fetched, none confirmed, 4 left unsent" \
    bash -c "[ $RC = 0 ] && grep summary: '$D/down.log' | grep -q 'fetched=4 .*confirmed=0 .*unsent=4'"
check "... the reason is logged" grep -q 'cannot connect to 127.0.0.1:1' "$D/down.log"
AMQP_URL=amqp://guest:guest@127.0.0.1:1/%2f fetch "$D/full.log" -- --duration 3s --interval 500ms --buffer 4 --drain 0
check "--buffer 4 with the broker down: the 2 oldest of 6 dropped and counted" \
    summary_has "$D/full.log" 'fetched=6 .*buffered_max=4 dropped_overflow=2 .*unsent=4'

# Waiting between ticks happens inside the AMQP library: with 2 s AMQP
# heartbeats and 8 s between ticks, a fetcher that slept would be dropped
# by the broker (after two missed heartbeats) and have to reconnect.
# (1 s heartbeats gave a busy box only 2 s before the broker hung up.)
fetch "$D/hb.log" -- --duration 24s --interval 8s --amqp-heartbeat 2s
check "8 s between ticks with 2 s AMQP heartbeats: never dropped by the broker" \
    bash -c "grep summary: '$D/hb.log' | grep -q 'confirmed=3 .*reconnects=0' && ! grep -q 'lost' '$D/hb.log'"

# ---- schedule -----------------------------------------------------------
t0=$(date +%s%N)
# 1 s between ticks: the first broker connect (after tick 1) fits in the
# budget with room to spare, so a skipped tick is a schedule fault.
fetch "$D/sched.log" -- --duration 10s --interval 1s
ms=$((($(date +%s%N) - t0) / 1000000))
check "--duration 10s --interval 1s: 10 ticks scheduled, all fetched" summary_has "$D/sched.log" 'scheduled=10 skipped=0 requests=10 fetched=10'
check "... in about 9 s, no drift (took $ms ms)" test "$ms" -ge 8900 -a "$ms" -le 11000

# ---- one request per base -----------------------------------------------
GP=BTC/USD,BTC/EUR,ETH/USD,BTC/ETH
seen=$(grep -c '^data: ' "$D/bound.sse")
fetch "$D/grp.log" --journal "$D/grp.journal" -- --duration 3s --interval 500ms --pairs $GP
check "4 pairs over 2 bases: 2 requests a tick, 24 rates fetched and confirmed" \
    summary_has "$D/grp.log" 'scheduled=6 skipped=0 requests=12 fetched=24 .*missing=0 confirmed=24 '
check "the stand-in saw one request per base per tick (12, of which 6 for BTC's all rates)" \
    test "$(stat "$D/grp.log" requests)/$(stat "$D/grp.log" grouped)" = 12/6
check "... and served 24 rates, each journalled as its own tick" test "$(wc -l <"$D/grp.journal")" = 24
gdelivered() { sed -n 's/^data: //p' "$D/bound.sse" | tail -n +$((seen + 1)) >"$D/grp.delivered"; same_ticks "$D/grp.delivered" "$D/grp.journal"; }
check "the bound queue got exactly what the stand-in served (byte for byte, digits kept)" wait_for 3 gdelivered
pairs_order() { sed -n 's/.*"asset_id_base":"\([^"]*\)","asset_id_quote":"\([^"]*\)".*/\1\/\2/p' "$1" | paste -sd, -; }
check "... in --pairs order within every tick" \
    test "$(pairs_order "$D/grp.delivered")" = "$(printf "$GP,%.0s" 1 2 3 4 5 6 | sed 's/,$//')"

fetch "$D/drop.log" --drop-quote EUR -- --duration 2s --interval 500ms --pairs BTC/USD,BTC/EUR,ETH/USD
check "a quote missing from the grouped answer: counted for that pair (4), the others fetched (8)" \
    summary_has "$D/drop.log" 'requests=8 fetched=8 .*invalid=0 missing=4 confirmed=8 '
check "... logged for the pair, not the base" grep -q "coinapi: BTC/EUR: not in CoinAPI's answer for BTC" "$D/drop.log"
check "... once per 10 s, not per tick" test "$(grep -c 'not in CoinAPI' "$D/drop.log")" = 1

fetch "$D/g429.log" --mode 429 --retry-after 2 -- --duration 4s --interval 500ms --pairs BTC/USD,BTC/EUR
check "429 on a grouped request: Retry-After honoured, counted per request (2), not per pair" \
    summary_has "$D/g429.log" 'scheduled=8 skipped=6 requests=2 fetched=0 failed: http_429=2 '
check "... the stand-in saw 2 grouped requests, both 429" test "$(stat "$D/g429.log" grouped)/$(stat "$D/g429.log" 429)" = 2/2
for m in 500:http_5xx 550:http_550 malformed:invalid huge:invalid wrongpair:invalid; do
    fetch "$D/g${m%%:*}.log" --mode "${m%%:*}" -- --duration 2s --interval 500ms --drain 0 --pairs BTC/USD,BTC/EUR
    check "grouped ${m%%:*}: 4 requests, all counted once as ${m#*:}, nothing fetched" \
        bash -c "[ $RC = 0 ] && grep summary: '$D/g${m%%:*}.log' | grep -q 'requests=4 fetched=0 .*${m#*:}=4 '"
done
check "grouped 500: logged once for the request, naming its pairs" \
    test "$(grep -c 'coinapi: BTC/USD,EUR: HTTP 500: An error has occurred' "$D/g500.log")" = 1
check "grouped wrongpair: the answer for another base is dropped" grep -q 'answer names base USD, not BTC' "$D/gwrongpair.log"
fetch "$D/g401.log" --mode 401 -- --duration 2s --interval 500ms --pairs BTC/USD,BTC/EUR
check "grouped 401: exit 3 after one request" bash -c "[ $RC = 3 ] && [ $(stat "$D/g401.log" requests) = 1 ]"

# ---- metrics --------------------------------------------------------------
COIN_API_KEY=$KEY "$BIN/fetcher" --metrics-listen nowhere >"$D/badm.log" 2>&1
check "--metrics-listen without HOST:PORT: exit 2" bash -c "[ $? = 2 ] && grep -q 'metrics-listen' '$D/badm.log'"
start_fake "$D/met.log.fake" --drop-quote EUR
MET_LOG=$D/met.log
spawn "$MET_LOG" env COIN_API_KEY=$KEY COIN_API_URL=$FAKE "$BIN/fetcher" --duration 0 --interval 2s \
    --pairs BTC/USD,BTC/EUR,ETH/USD --metrics-listen 127.0.0.1:0
MET_PID=$SPAWNED
wait_for 10 grep -q 'serving GET /metrics on port' "$MET_LOG" || bail "the fetcher serves metrics ($(tail -3 "$MET_LOG"))"
MET=http://127.0.0.1:$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$MET_LOG" | head -1)/metrics
fm() { awk -v m="$1" '$1 == m { print $2 }' "$D/metrics.txt"; }
# Two ticks in, everything fetched confirmed; then stop well before the third.
settled() { curl -s "$MET" >"$D/metrics.txt" && [ "$(fm fetcher_ticks_scheduled_total)" = 2 ] && [ "$(fm fetcher_published_total)" = 4 ]; }
check "metrics: two ticks fetched and confirmed" wait_for 10 settled
kill -TERM "$MET_PID"
wait "$MET_PID"
check "metrics: the fetcher stops on SIGTERM, exit 0" test $? = 0
kill "$FAKE_PID" 2>/dev/null
sum() { grep 'summary:' "$MET_LOG" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
declare -A SUMMARY_METRIC=(
    [scheduled]=fetcher_ticks_scheduled_total [skipped]=fetcher_ticks_skipped_total
    [requests]=fetcher_coinapi_requests_total [fetched]=fetcher_rates_fetched_total
    [confirmed]=fetcher_published_total [buffered_max]=fetcher_buffered_max
    [dropped_overflow]='fetcher_dropped_total{reason="overflow"}'
    [dropped_unrouted]='fetcher_dropped_total{reason="unrouted"}' [unsent]=fetcher_buffered
    [returned]=fetcher_broker_returned_total [nacked]=fetcher_broker_nacked_total
    [reconnects]=fetcher_broker_reconnects_total)
for c in http_429 http_5xx http_550 http_other transport invalid missing; do
    SUMMARY_METRIC[$c]="fetcher_coinapi_failures_total{cause=\"$c\"}"
done
mismatch=
for k in "${!SUMMARY_METRIC[@]}"; do
    [ -n "$(sum "$k")" ] && [ "$(sum "$k")" = "$(fm "${SUMMARY_METRIC[$k]}")" ] ||
        mismatch+=" $k=$(sum "$k")/${SUMMARY_METRIC[$k]}=$(fm "${SUMMARY_METRIC[$k]}")"
done
check "metrics: every number of the summary line is the same in the metrics (${#SUMMARY_METRIC[@]} compared)$mismatch" test -z "$mismatch"
check "metrics: the missing quote shows (2 ticks: missing=2), requests per tick 2, 3 pairs" \
    test "$(sum missing)/$(fm fetcher_coinapi_requests_per_tick)/$(fm fetcher_pairs)" = 2/2/3
check "metrics: broker connected, rate limit remaining from CoinAPI's header" \
    bash -c "[ '$(fm fetcher_broker_connected)' = 1 ] && [ '$(fm fetcher_coinapi_ratelimit_remaining)' = 99996 ]"
well_formed() {
    awk '/^# HELP /{h[$3]=1; next} /^# TYPE /{t[$3]=$4; next}
         { n=$1; sub(/\{.*/, "", n); if (!h[n] || !t[n] || n !~ /^fetcher_/) exit 1
           if ((t[n] == "counter") != (n ~ /_total$/)) exit 1; if ($2 !~ /^([0-9]+|NaN)$/) exit 1; s++ }
         END { exit s < 20 }' "$D/metrics.txt"
}
check "metrics: every sample has HELP and TYPE, a fetcher_ name, counters and only they end in _total" well_formed
check "metrics: no secret in them" bash -c "! grep -q -e '$KEY' -e guest '$D/metrics.txt'"

# ---- the key ------------------------------------------------------------
fetch "$D/debug.log" -- --duration 1s --log-level debug
check "debug shows libcurl's request with the key header redacted" grep -q 'curl > X-CoinAPI-Key: \*\*\*' "$D/debug.log"
check "the key never appears in any output" bash -c "! grep -rq '$KEY' '$D'"
it_done
