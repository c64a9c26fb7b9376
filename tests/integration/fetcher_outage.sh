#!/usr/bin/env bash
# A broker killed (SIGKILL) and restarted in the middle of a 20-tick run,
# with an sse-server and an SSE client attached: afterwards the client has
# received every tick the fetcher fetched exactly once and in order (the
# fetcher buffered them, published them confirmed, and held them while no
# queue was bound yet after the restart). Connecting to the freshly booted
# node happens between ticks and can make one late, which the fetcher then
# skips (that is its schedule, tested in fetcher.sh): the counts expected
# here are the ticks it says it fetched.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init fetcher_outage
D=$IT_DIR
IT_OWN_BROKER=${RC_TEST_OUTAGE_BROKER_PORT:-5991}
broker() { RABBITMQ_PORT=$IT_OWN_BROKER RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" "$@"; }
AMQP=$(broker start 2>"$D/broker.log") || bail "start a private broker on $IT_OWN_BROKER"
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-outage-$$

start_fake "$D/fake.log" --journal "$D/journal"
start_sse "$D/sse.log" --reconnect-max 1s --heartbeat 2s
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes"
spawn "$D/c.err" curl -sN -o "$D/c.out" "$SSE/api/v1/sso/stream"
CURL=$SPAWNED
wait_for 3 grep -qs '^retry: ' "$D/c.out" || bail "the client connects"

COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 20s --interval 1s --drain 30s \
    >"$D/fetcher.log" 2>&1 &
FETCHER=$!
IT_PIDS+=("$FETCHER")
wait_for 10 bash -c "[ \$(grep -c '^data: ' '$D/c.out') -ge 3 ]" || not_ok "the first ticks arrive"
kill -9 "$(cat "$D/run/rabbitmq-$IT_OWN_BROKER/rabbitmq.pid")"
sleep 2
broker start >>"$D/broker.log" 2>&1 || bail "restart the broker"
wait "$FETCHER"
check "the fetcher exits 0" test $? = 0
check "the fetcher saw the outage and reconnected" grep -q 'broker: connected again' "$D/fetcher.log"
n=$(fsum "$D/fetcher.log" fetched)
echo "# $(grep -o 'summary: scheduled=[0-9]* skipped=[0-9]*' "$D/fetcher.log")"
check "... and counted every tick it fetched ($n of 20) confirmed, none dropped or unsent" \
    bash -c "grep summary: '$D/fetcher.log' | grep -q 'scheduled=20 .* requests=$n fetched=$n .*confirmed=$n .*dropped_overflow=0 dropped_unrouted=0 unsent=0' &&
             [ '${n:-0}' -ge 10 ]"
check "the stand-in served $n ticks" test "$(wc -l <"$D/journal")" = "${n:-x}"
check "the client received all $n exactly once, in order, byte-exact" \
    wait_for 10 bash -c "diff <(sed -n 's/^data: //p' '$D/c.out') '$D/journal' >/dev/null"
check "... with strictly increasing ids" \
    bash -c "sed -n 's/^id: //p' '$D/c.out' | awk -v want='${n:-x}' 'NR > 1 && \$1 <= p { exit 1 } { p = \$1; n++ } END { exit n != want }'"
check "the client stayed connected throughout" kill -0 "$CURL"
it_done
