#!/usr/bin/env bash
# The broker dies (SIGKILL) and comes back while clients stream: they stay
# connected (heartbeats go on), /readyz follows the broker, the server
# reconnects with backoff, redeclares its queue, and delivery resumes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init broker_restart
D=$IT_DIR
IT_OWN_BROKER=${RC_TEST_RESTART_BROKER_PORT:-5981}
broker() { RABBITMQ_PORT=$IT_OWN_BROKER RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" "$@"; }
AMQP=$(broker start 2>"$D/broker.log") || bail "start a private broker on $IT_OWN_BROKER"
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-restart-$$

start_fake "$D/fake.log"
start_sse "$D/sse.log" --heartbeat 1s --reconnect-max 1s --amqp-heartbeat 2s
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes"
for c in 1 2 3; do
    spawn "$D/c$c.err" curl -sN -o "$D/c$c.out" "$SSE/api/v1/sso/stream"
done
CURLS=("${IT_PIDS[@]: -3}")
wait_for 3 metric_is sse_clients 3 || bail "3 clients connect"
publish() { COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 1s --interval 500ms >>"$D/fetcher.log" 2>&1; }
publish
check "before the outage: every client got 2 events" \
    wait_for 3 bash -c "for c in 1 2 3; do [ \$(grep -c '^data: ' '$D/c'\$c'.out') = 2 ] || exit 1; done"

beam=$(cat "$D/run/rabbitmq-$IT_OWN_BROKER/rabbitmq.pid")
kill -9 "$beam"
check "broker killed: /readyz turns 503 within 5 s" \
    wait_for 5 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$SSE/readyz') = 503 ]"
check "... /healthz still 200" test "$(curl -s "$SSE/healthz")" = ok
hb_before=$(grep -c '^: heartbeat' "$D/c1.out")
sleep 2.5
check "clients keep getting heartbeats during the outage" test "$(grep -c '^: heartbeat' "$D/c1.out")" -gt "$hb_before"
check "... and stay connected" bash -c "for p in ${CURLS[*]}; do kill -0 \$p || exit 1; done"
check "the server logs the lost connection" grep -q 'broker: .*\(lost\|closed\|socket\)' "$D/sse.log"

broker start >>"$D/broker.log" 2>&1 || bail "restart the broker"
check "broker back: the server reconnects (connects_total 2)" wait_for 20 metric_is sse_broker_connects_total 2
# Ready again once the ring is filled from the history stream (the stream's
# node may refuse it for a moment right after a restart: 404, retried).
check "... /readyz 200 again" \
    wait_for 20 bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$SSE/readyz') = 200 ]"
publish
check "after the restart: every client got the 2 new events" \
    wait_for 5 bash -c "for c in 1 2 3; do [ \$(grep -c '^data: ' '$D/c'\$c'.out') = 4 ] || exit 1; done"
check "no client had to reconnect (3 connections in all)" metric_is sse_clients_total 3
check "ids still increase across the outage" \
    bash -c "sed -n 's/^id: //p' '$D/c1.out' | awk 'NR > 1 && \$1 <= p { exit 1 } { p = \$1 }'"
it_done
