#!/usr/bin/env bash
# sse-server on its own: bad messages from the broker, the client limit,
# and a broker that is not there yet when the server starts.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init sse_server
it_broker
export AMQP_EXCHANGE=test-sse-$$
D=$IT_DIR

start_sse "$D/sse.log" --amqp-url "$AMQP" --max-clients 3
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes from the broker"
spawn "$D/c1.err" curl -sN -o "$D/c1.out" "$SSE/api/v1/sso/stream"

publish() { amqp-publish --url="$AMQP" -e "$AMQP_EXCHANGE" -C application/json; }
good='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":60000.25}'
# The client must be subscribed before anything is published (it gets only
# what comes after).
wait_for 10 grep -qs '^: ' "$D/c1.out" || bail "client 1 connects"

# Each bad body is dropped and counted; the client stays and gets the next
# good one. printf keeps NULs and invalid bytes intact.
bad_bodies=(
    'not json'
    '[1,2,3]'
    '"a string"'
    '{}'
    '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD"}'
    '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":"60000.25"}'
    '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":1e400}'
    '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":-1}'
    '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":0}'
    '{"time":"yesterday","asset_id_base":"BTC","asset_id_quote":"USD","rate":1}'
    "$good trailing"
    ''
)
for b in "${bad_bodies[@]}"; do printf '%s' "$b" | publish; done
printf '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC\0","asset_id_quote":"USD","rate":1}' | publish
printf '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"\xff\xfe","asset_id_quote":"USD","rate":1}' | publish
head -c 1048576 /dev/zero | tr '\0' ' ' | publish
printf '%s' "$good" | publish
n_bad=$((${#bad_bodies[@]} + 3))
check "every bad message counted ($n_bad)" wait_for 5 metric_is sse_broker_invalid_messages_total "$n_bad"
check "the client got the good message after all the bad ones" wait_for 3 grep -qxF "data: $good" "$D/c1.out"
check "... and nothing else" test "$(grep -c '^data: ' "$D/c1.out")" = 1
check "the server is alive" kill -0 "$SSE_PID"
check "bad messages are logged with the reason" grep -q 'invalid message dropped.*not valid JSON' "$D/sse.log"

# A pretty-printed message with a newline inside a string still makes one
# well-formed event (no raw line break can reach the SSE framing).
printf '{\n "time": "2026-11-28T02:31:19.5655909Z",\n "asset_id_base": "ETH",\n "asset_id_quote": "USD",\n "rate": 3000.123456789012345678,\n "note": "a\\nb\\rc"\n}' | publish
check "pretty JSON is compacted to one data line, rate digits kept" wait_for 3 grep -qxF \
    'data: {"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"ETH","asset_id_quote":"USD","rate":3000.123456789012345678,"note":"a\nb\rc"}' "$D/c1.out"

# The client limit: 3 streams, the 4th gets 503 with Retry-After.
spawn "$D/c2.err" curl -sN -o "$D/c2.out" "$SSE/api/v1/sso/stream"
spawn "$D/c3.err" curl -sN -o "$D/c3.out" "$SSE/api/v1/sso/stream"
wait_for 10 metric_is sse_clients 3 || bail "3 streams connect (sse_clients $(metric sse_clients))"
# --max-time: were the limit not enforced, this would be a stream that never ends.
curl -s --max-time 5 -D "$D/h4" -o "$D/b4" "$SSE/api/v1/sso/stream"
check "past --max-clients: 503" grep -q '^HTTP/1.1 503' "$D/h4"
check "... with Retry-After" grep -qi '^Retry-After: [0-9]' "$D/h4"
check "... and a short body" grep -q 'too many clients' "$D/b4"
check "... counted" test "$(metric sse_clients_rejected_total)" = 1
check "/healthz still answers at the limit" test "$(curl -s "$SSE/healthz")" = ok

# Requests that are not streams have a deadline (--request-timeout):
# a client that never finishes its headers is cut off.
start_sse "$D/slow.log" --amqp-url "$AMQP" --request-timeout 1s
exec 3<>"/dev/tcp/127.0.0.1/$SSE_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3
t0=$(now_ms)
timeout 10 cat <&3 >/dev/null
rc=$?
ms=$(($(now_ms) - t0))
exec 3<&-
check "a request stuck in its headers is closed by --request-timeout 1s (rc $rc, after $ms ms, <= 4000)" \
    test "$rc" = 0 -a "$ms" -le 4000
# Headers past the per-connection memory pool are refused, not buffered.
big=$(head -c 40000 /dev/zero | tr '\0' a)
check "headers larger than the connection's memory: 431, server alive" \
    bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Big: $big' '$SSE/healthz') = 431 ] && kill -0 $SSE_PID"
check "a stream still works on the same server afterwards" \
    bash -c "curl -sN --max-time 3 '$SSE/api/v1/sso/stream' | grep -q '^retry: '"

# Broker absent at start: the server serves anyway and connects once the
# broker appears.
PORT2=${RC_TEST_LATE_BROKER_PORT:-5971}
start_sse "$D/sse2.log" --amqp-url "amqp://guest:guest@127.0.0.1:$PORT2/%2f" --reconnect-max 1s
check "broker down at start: /healthz answers" test "$(curl -s "$SSE/healthz")" = ok
spawn "$D/c5.err" curl -sN -o "$D/c5.out" "$SSE/api/v1/sso/stream"
check "broker down at start: streams are served" wait_for 3 grep -qs '^: ' "$D/c5.out"
check "broker down at start: retrying is logged" wait_for 3 grep -q 'retrying in' "$D/sse2.log"
check "broker down: /readyz answers 503" test "$(curl -s -o /dev/null -w '%{http_code}' "$SSE/readyz")" = 503
IT_MORE_BROKERS+=("$PORT2") # beside it_broker's own, when it started one
AMQP2=$(RABBITMQ_PORT=$PORT2 RATECAST_RUN_DIR=$IT_DIR/run "$TOP/scripts/rabbitmq-local" start 2>"$D/broker2.log") ||
    bail "start the late broker"
check "the server connects once the broker is up" wait_for 15 metric_is sse_broker_connected 1
check "... and /readyz answers 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$SSE/readyz")" = 200
printf '%s' "$good" | amqp-publish --url="$AMQP2" -e "$AMQP_EXCHANGE"
check "... and the waiting client gets the message" wait_for 3 grep -qxF "data: $good" "$D/c5.out"

it_done
