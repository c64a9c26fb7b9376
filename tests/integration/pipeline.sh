#!/usr/bin/env bash
# The whole pipeline on real parts: broker, CoinAPI stand-in, sse-server,
# fetcher and two real SSE clients (curl). Every tick the stand-in served
# must reach both clients byte-exact, in order, with the right headers.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init pipeline
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-pipeline-$$
D=$IT_DIR

start_fake "$D/fake.log" --journal "$D/journal"
start_sse "$D/sse.log"
check "/healthz answers 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$SSE/healthz")" = 200
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes from the broker"

# Two clients. The greeting comment must arrive before any event, so the
# headers reach the browser at once.
for c in 1 2; do
    spawn "$D/c$c.err" curl -sN -D "$D/h$c" -o "$D/c$c.out" "$SSE/api/v1/sso/stream"
done
check "both clients get headers and the greeting at once (no event yet)" \
    wait_for 3 bash -c "grep -qs '^: ' '$D/c1.out' && grep -qs '^: ' '$D/c2.out'"
check "sse_clients gauge counts both" test "$(metric sse_clients)" = 2

hdr() { tr -d '\r' <"$D/h1" | grep -i "^$1:" | cut -d' ' -f2-; }
check "status 200" grep -q '^HTTP/1.1 200' "$D/h1"
check "Content-Type: text/event-stream; charset=utf-8" test "$(hdr content-type)" = "text/event-stream; charset=utf-8"
check "Cache-Control: no-cache, no-transform" test "$(hdr cache-control)" = "no-cache, no-transform"
check "X-Accel-Buffering: no" test "$(hdr x-accel-buffering)" = "no"
check "Access-Control-Allow-Origin: *" test "$(hdr access-control-allow-origin)" = "*"

# Five ticks of two pairs.
COIN_API_KEY=test-key COIN_API_URL=$FAKE "$BIN/fetcher" --duration 5s --interval 1s \
    --pairs BTC/USD,ETH/USD >"$D/fetcher.log" 2>&1
check "fetcher exits 0 after --duration" test $? = 0
# What follows is about the pipeline, not the schedule: a tick that the
# first broker connect made late is skipped (fetcher.sh tests that), so the
# expected counts are what the fetcher says it fetched and published.
n=$(fsum "$D/fetcher.log" confirmed)
ticks=$((${n:-0} / 2))
check "fetcher published every tick it fetched ($n events, $ticks of 5 ticks x 2 pairs)" \
    bash -c "grep -q 'summary: scheduled=5 ' '$D/fetcher.log' && [ '$(fsum "$D/fetcher.log" requests)' = '${n:-x}' ] &&
             [ '$(fsum "$D/fetcher.log" fetched)' = '${n:-x}' ] && [ '${n:-0}' -ge 6 ]"
check "the stand-in served $n answers" test "$(wc -l <"$D/journal")" = "${n:-x}"

data_lines() { sed -n 's/^data: //p' "$1"; }
wait_for 5 bash -c "[ \$(grep -c '^data: ' '$D/c1.out') -ge ${n:-1} ] && [ \$(grep -c '^data: ' '$D/c2.out') -ge ${n:-1} ]"
for c in 1 2; do
    data_lines "$D/c$c.out" >"$D/c$c.data"
    check "client $c received exactly what CoinAPI served, byte-exact, in order per pair" \
        same_ticks "$D/c$c.data" "$D/journal"
    check "client $c: each tick's pairs in --pairs order (BTC then ETH)" \
        bash -c "grep -o '\"asset_id_base\":\"[A-Z]*\"' '$D/c$c.data' | paste -sd' ' | grep -qx '\(\"asset_id_base\":\"BTC\" \"asset_id_base\":\"ETH\" \?\)\{$ticks\}'"
    check "client $c: every event has an id, strictly increasing" \
        bash -c "sed -n 's/^id: //p' '$D/c$c.out' | awk -v want=${n:-x} 'NR > 1 && \$1 <= prev { exit 1 } { prev = \$1; n++ } END { exit n != want }'"
done
shape='^\{"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z","asset_id_base":"(BTC|ETH)","asset_id_quote":"USD","rate":[0-9]+\.[0-9]+\}$'
check "every event is CoinAPI's exact shape, one line" \
    bash -c "data_ok=\$(sed -n 's/^data: //p' '$D/c1.out' | grep -cE '$shape'); [ \"\$data_ok\" = '${n:-x}' ]"
check "each event is 'id: N', 'data: <json>', blank line" \
    bash -c "awk '/^id: /{ getline d; getline b; if (d !~ /^data: \\{/ || b != \"\") exit 1; n++ } END { exit n != ${n:-x} }' '$D/c1.out'"

# Routes.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "unknown path: 404" test "$(code "$SSE/api/v1/nope")" = 404
check "POST on the stream: 405" test "$(code -X POST "$SSE/api/v1/sso/stream")" = 405
check "405 names the allowed methods" bash -c "curl -si -X DELETE '$SSE/api/v1/sso/stream' | tr -d '\r' | grep -q '^Allow: GET, HEAD, OPTIONS'"
check "CORS preflight: 204 allowing Last-Event-ID" \
    bash -c "curl -si -X OPTIONS -H 'Origin: http://example.test' -H 'Access-Control-Request-Headers: last-event-id' '$SSE/api/v1/sso/stream' | tr -d '\r' | grep -q '^Access-Control-Allow-Headers: Last-Event-ID'"

# Clients that leave an idle stream are released at once, without waiting
# for the next event or heartbeat to find the dead socket.
kill "${IT_PIDS[2]}" "${IT_PIDS[3]}" 2>/dev/null
# (The heartbeat is 15 s: only the hang-up watcher can notice within 5 s.)
check "clients that left are released at once, no event needed" \
    wait_for 5 bash -c "curl -s '$SSE/metrics' | grep -qx 'sse_clients 0'"
check "... and counted as hang-ups" test "$(metric sse_clients_hangups_total)" = 2

# SIGTERM with a client connected: the stream ends cleanly, exit 0.
spawn "$D/c3.err" curl -sN -o "$D/c3.out" "$SSE/api/v1/sso/stream"
C3=$SPAWNED
wait_for 10 grep -qs '^: ' "$D/c3.out" || bail "client 3 connects"
kill -TERM "$SSE_PID"
start=$(now_ms)
wait "$SSE_PID"
rc=$?
ms=$(($(now_ms) - start))
check "sse-server exits 0 on SIGTERM with a client connected" test "$rc" = 0
check "... within 2 s ($ms ms)" test "$ms" -le 2000
check "the client's stream ended (curl exits by itself)" wait_for 3 bash -c "! kill -0 $C3 2>/dev/null"
check "no secret in any log" bash -c "! grep -rq 'test-key' '$D'/*.log"

it_done
