#!/usr/bin/env bash
# Faults on purpose: the broker frozen (SIGSTOP) under streaming clients,
# and CoinAPI flapping between answers and errors for a whole run.
# (Broker SIGKILL under streaming clients: broker_restart.sh and
# fetcher_outage.sh; under 1,000 clients: faults_load.sh.)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init faults
D=$IT_DIR
IT_OWN_BROKER=${RC_TEST_FAULTS_BROKER_PORT:-5987}
broker() { RABBITMQ_PORT=$IT_OWN_BROKER RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" "$@"; }
AMQP=$(broker start 2>"$D/broker.log") || bail "start a private broker on $IT_OWN_BROKER"
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-faults-$$

# ---- broker frozen ------------------------------------------------------
start_sse "$D/sse.log" --amqp-heartbeat 2s --heartbeat 1s --reconnect-max 1s
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes"
spawn "$D/c.err" curl -sN -o "$D/c.out" "$SSE/api/v1/sso/stream"
CURL=$SPAWNED
beam=$(cat "$D/run/rabbitmq-$IT_OWN_BROKER/rabbitmq.pid")
kill -STOP "$beam"
t0=$(now_ms)
check "broker frozen: sse-server notices (AMQP heartbeats, 2 s) and /readyz turns 503" \
    wait_for 10 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$SSE/readyz') = 503 ]"
ms=$(($(now_ms) - t0))
check "... within two heartbeat intervals plus slack ($ms ms <= 7000)" test "$ms" -le 7000
hb=$(grep -c '^: heartbeat' "$D/c.out")
sleep 2.5
check "clients keep their heartbeats while the broker is frozen" test "$(grep -c '^: heartbeat' "$D/c.out")" -gt "$hb"
check "... and stay connected" kill -0 "$CURL"
kill -CONT "$beam"
check "broker thawed: sse-server consumes again, /readyz 200" \
    wait_for 30 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$SSE/readyz') = 200 ]"
good='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":42.42}'
printf '%s' "$good" | amqp-publish --url="$AMQP" -e "$AMQP_EXCHANGE"
check "... and the same client gets the next event" wait_for 5 grep -qxF "data: $good" "$D/c.out"

# ---- CoinAPI flapping for a whole run -----------------------------------
# The stand-in cycles ok, 500, ok, 429, ok, 550, ok, malformed: the fetcher
# must never exit (no 401/403) and its counts must match what was served.
start_fake "$D/fake.log" --mode flap --retry-after 1
COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 12s --interval 250ms --drain 5s \
    >"$D/fetcher.log" 2>&1
check "flapping CoinAPI: the fetcher runs to the end, exit 0" test $? = 0
curl -s "$FAKE/fake/stats" >"$D/stats"
served() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$D/stats"; }
counted() { grep 'summary:' "$D/fetcher.log" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
check "requests made = requests served ($(counted requests))" test "$(counted requests)" = "$(served requests)"
check "http_5xx = 500s served ($(served 500))" test "$(counted http_5xx)" = "$(served 500)"
check "http_550 = 550s served ($(served 550))" test "$(counted http_550)" = "$(served 550)"
check "http_429 = 429s served ($(served 429))" test "$(counted http_429)" = "$(served 429)"
check "invalid = malformed served ($(served malformed))" test "$(counted invalid)" = "$(served malformed)"
check "fetched = good 200s served ($(counted fetched))" \
    test "$(counted fetched)" = $(($(served 200) - $(served malformed)))
check "every fetched tick was confirmed" test "$(counted confirmed)" = "$(counted fetched)"
check "429s paused the schedule (ticks skipped)" test "$(counted skipped)" -gt 0
check "some of everything was served" \
    bash -c "[ $(served 500) -gt 0 ] && [ $(served 550) -gt 0 ] && [ $(served 429) -gt 0 ] && [ $(served malformed) -gt 0 ]"
check "the same client got exactly the fetched ticks" \
    wait_for 5 bash -c "[ \$(grep -c '^data: ' '$D/c.out') = $(($(counted fetched) + 1)) ]"

check "no secret in any log or metric" \
    bash -c "curl -s '$SSE/metrics' >'$D/metrics'; ! grep -rlq 'guest:guest\|COIN_API_KEY=' '$D'/*.log '$D/metrics'"
it_done
