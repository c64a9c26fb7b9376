#!/usr/bin/env bash
# The history stream: what survives a replica restart and a broker restart.
#
#   - a replica restarted after its clients' last event fills its ring from
#     the stream before it is ready, and 200 clients resuming with
#     Last-Event-ID get exactly the events they missed, no reset;
#   - the broker stopped for 5 s while the fetcher keeps ticking (its buffer
#     holds the ticks): every client ends with every tick once, in order;
#   - a gap the stream cannot fill (a replica away for more events than it
#     reads back) is marked: its streams end, and their resume is a reset;
#   - refusals: an existing stream with other arguments (406, naming the
#     argument), a broker without stream queues (the stream_queue feature
#     flag off), and the stream turned off: each logged once, live as ever.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init history
D=$IT_DIR
IT_OWN_BROKER=${RC_TEST_HISTORY_BROKER_PORT:-5975}
OLD_BROKER=${RC_TEST_HISTORY_OLD_BROKER_PORT:-5977}
broker() { RABBITMQ_PORT=$IT_OWN_BROKER RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" "$@"; }
# A broker that stands in for one without stream queues (RabbitMQ before
# 3.9): a new node with every feature flag but stream_queue. It boots
# while the first part runs.
IT_MORE_BROKERS+=("$OLD_BROKER")
RABBITMQ_FEATURE_FLAGS=quorum_queue,implicit_default_bindings,virtual_host_metadata,maintenance_mode_status,user_limits \
    RABBITMQ_PORT=$OLD_BROKER RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" start \
    >"$D/old.url" 2>"$D/broker-old.log" &
OLD_START=$!
AMQP=$(broker start 2>"$D/broker.log") || bail "start a private broker on $IT_OWN_BROKER"
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-history-$$

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$SSE/readyz")" = 200 ]; }
# ids NAME: the ids a curl stream got, in order.
ids() { sed -n 's/^id: //p' "$D/$1.out"; }

# ---- a replica restarts: its clients resume from before -----------------
start_sse "$D/a.log"
A_PORT=$SSE_PORT
wait_for 15 ready || bail "replica A ready"
spawn "$D/ref.err" curl -sN -o "$D/ref.out" "$SSE/api/v1/sso/stream"
wait_for 5 grep -qs '^retry: ' "$D/ref.out" || bail "the reference client connects"
# sent N: what the publisher says it sent (it skips a tick it is late for).
sent() { sed -n 's/^sent \([0-9]*\)$/\1/p' "$1"; }
"$BIN/publisher" --rate 20 --duration 1 --amqp-url "$AMQP" --exchange "$AMQP_EXCHANGE" >"$D/pub1.out" 2>&1
N1=$(sent "$D/pub1.out")
wait_for 10 bash -c "[ \$(grep -c '^id: ' '$D/ref.out') -ge ${N1:-1} ]" || bail "the $N1 events reach replica A"
LAST=$(ids ref | tail -1)
kill "$SSE_PID"
wait "$SSE_PID" 2>/dev/null
# What the clients miss while their replica is gone.
"$BIN/publisher" --rate 20 --duration 1 --amqp-url "$AMQP" --exchange "$AMQP_EXCHANGE" >"$D/pub2.out" 2>&1
N2=$(sent "$D/pub2.out")
check "$N2 more events published while the replica is down" test "${N2:-0}" -gt 10
spawn "$D/a2.log" "$BIN/sse-server" --listen "127.0.0.1:$A_PORT"
SSE_PID=$SPAWNED
check "the restarted replica is ready (its ring filled from the stream)" wait_for 15 ready
bf=$(sed -n 's/.*history: \([0-9]*\) events from the stream.* in \([0-9]*\) ms/\1 \2/p' "$D/a2.log" | head -1)
check "... it read the $((N1 + N2)) events back from the stream (${bf% *})" test "${bf% *}" = $((N1 + N2))
check "... ready within 2 s of its broker connection (${bf#* } ms)" test "${bf#* }" -lt 2000
"$BIN/sse-load" --url "$SSE/api/v1/sso/stream" --clients 200 --rate 1000 --duration 2 \
    --header "Last-Event-ID: $LAST" --json "$D/resume.json" >"$D/resume.txt" 2>&1
j=$D/resume.json
check "200 clients resume with Last-Event-ID from before the restart ($(json "$j" connected))" \
    test "$(json "$j" connected)" = 200
epc=$(sed -n 's/.*"events_per_client": {"min": \([0-9]*\), "avg": [0-9.]*, "max": \([0-9]*\)}.*/\1 \2/p' "$j")
check "... each gets exactly the $N2 it missed ($epc)" test "$epc" = "$N2 $N2"
check "... no duplicates" test "$(json "$j" duplicates)" = 0
check "... served as replays, no reset" bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_resets_total\" { print \$2 }')\" = 0 ] &&
    [ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_replays_total\" { print \$2 }')\" = 200 ]"
stream_listed() { broker ctl 0 -q list_queues name type 2>/dev/null | grep -qx "$1"$'\t'stream; }
check "the stream is on the broker: a stream queue named <exchange>.history" \
    stream_listed "test-history-$$.history"
A2_PID=$SSE_PID

# ---- the broker goes away for 5 s while the fetcher ticks ----------------
# A replica with the stream, three clients, and a fetcher against the
# stand-in, whose journal is what was served: the clients must end with all
# of it, each tick once, in order per pair.
export AMQP_EXCHANGE=test-history-outage-$$
start_sse "$D/b.log" --reconnect-max 1s --amqp-heartbeat 2s
B_PID=$SSE_PID
wait_for 15 ready || bail "replica B ready"
for c in c1 c2 c3; do spawn "$D/$c.err" curl -sN -o "$D/$c.out" "$SSE/api/v1/sso/stream"; done
wait_for 5 bash -c "[ \$(cat '$D'/c?.out 2>/dev/null | grep -c '^retry: ') = 3 ]" || bail "3 clients connect"
start_fake "$D/fake.log" --journal "$D/journal"
spawn "$D/fetcher.log" env COIN_API_KEY=k COIN_API_URL="$FAKE" "$BIN/fetcher" --pairs BTC/USD,ETH/USD \
    --interval 500ms --duration 30s --drain 20s
FETCHER=$SPAWNED
wait_for 10 bash -c "[ \$(grep -c '^id: ' '$D/c1.out') -ge 6 ]" || bail "ticks flow before the outage"
broker stop >>"$D/broker.log" 2>&1
sleep 5
broker start >>"$D/broker.log" 2>&1 || bail "restart the broker"
wait "$FETCHER"
# What it fetched (a loaded machine can make it skip a tick) it confirmed,
# none dropped, none left: the stand-in's journal is the whole truth.
fetched=$(sed -n 's/.*summary: .* fetched=\([0-9]*\) .*/\1/p' "$D/fetcher.log")
check "the fetcher ran through the outage: every tick fetched ($fetched) confirmed, none dropped" \
    bash -c "[ '${fetched:-0}' -ge 80 ] && grep -q 'summary: .* confirmed=$fetched .*dropped_overflow=0 dropped_unrouted=0 unsent=0 .*reconnects=1' '$D/fetcher.log' && [ \$(wc -l <'$D/journal') = $fetched ]"
check "the replica reconnected and read the stream again" \
    wait_for 20 bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_backfills_total\" { print \$2 }')\" -ge 2 ]"
has_all() { sed -n 's/^data: //p' "$D/$1.out" >"$D/$1.ticks" && same_ticks "$D/$1.ticks" "$D/journal"; }
for c in c1 c2 c3; do
    check "client $c: every tick the stand-in served, once, in order per pair" wait_for 20 has_all "$c"
done
check "no gap was marked" bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_backfill_gaps_total\" { print \$2 }')\" = 0 ]"
kill "$FAKE_PID" 2>/dev/null

# ---- a gap the stream cannot fill ----------------------------------------
# A replica that reads back only 10 events, frozen until the broker drops
# it (two missed AMQP heartbeats: its private queue goes with it), misses
# 30: it cannot prove continuity, so it marks a gap: its open stream ends,
# and a resume from before it is a reset.
kill "$A2_PID" "$B_PID"
wait "$A2_PID" "$B_PID" 2>/dev/null
private_queues() { broker ctl 0 -q list_queues name 2>/dev/null | grep -c '^amq\.gen-'; }
no_private_queue() { [ "$(private_queues)" = 0 ]; }
export AMQP_EXCHANGE=test-history-gap-$$
start_sse "$D/g.log" --history 10 --amqp-heartbeat 1s --reconnect-max 1s
G_PID=$SSE_PID
wait_for 15 ready || bail "replica G ready"
spawn "$D/g1.err" curl -sN -o "$D/g1.out" "$SSE/api/v1/sso/stream"
G1=$SPAWNED
wait_for 5 grep -qs '^retry: ' "$D/g1.out" || bail "a client of G connects"
"$BIN/publisher" --rate 10 --duration 1 --amqp-url "$AMQP" --exchange "$AMQP_EXCHANGE" >"$D/pub3.out" 2>&1
wait_for 5 bash -c "[ \$(grep -c '^id: ' '$D/g1.out') -ge $(sent "$D/pub3.out") ]" || bail "events reach G"
GLAST=$(ids g1 | tail -1)
check "G is the only replica left (one private queue)" test "$(private_queues)" = 1
kill -STOP "$G_PID"
check "frozen G is dropped by the broker: its private queue is gone" wait_for 30 no_private_queue
"$BIN/publisher" --rate 30 --duration 1 --amqp-url "$AMQP" --exchange "$AMQP_EXCHANGE" >"$D/pub4.out" 2>&1
check "G misses more events than it reads back ($(sent "$D/pub4.out") > 10)" test "$(sent "$D/pub4.out")" -gt 10
kill -CONT "$G_PID"
check "G reconnects and reads back: the gap is marked" \
    wait_for 20 bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_backfill_gaps_total\" { print \$2 }')\" = 1 ]"
check "... logged, naming the last event it had" grep -q "does not reach back to event $GLAST" "$D/g.log"
check "... its open stream is ended (the client sees the connection close)" wait_for 5 bash -c "! kill -0 $G1 2>/dev/null"
curl -sN --max-time 2 -D "$D/g2.h" -o "$D/g2.out" -H "Last-Event-ID: $GLAST" "$SSE/api/v1/sso/stream"
check "... and a resume from before the gap is a reset, not a silent jump" \
    bash -c "grep -qi '^x-ratecast-resume: reset' '$D/g2.h' && grep -q '^event: reset' '$D/g2.out'"

# ---- refusals ------------------------------------------------------------
export AMQP_EXCHANGE=test-history-$$ # its stream exists, kept for 24 h
start_sse "$D/m.log" --history-age 1h
wait_for 15 ready
check "a stream declared with another age: refused, logged naming the argument (x-max-age)" \
    wait_for 5 grep -q "history stream 'test-history-$$.history' was refused: .*x-max-age" "$D/m.log"
check "... once" test "$(grep -c 'was refused' "$D/m.log")" = 1
check "... shown in the metrics (sse_history_enabled 0, refused 1)" bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 == \"sse_history_enabled\" || \$1 == \"sse_history_refused_total\" { printf \"%s \", \$2 }')\" = '0 1 ' ]"
spawn "$D/m1.err" curl -sN -o "$D/m1.out" "$SSE/api/v1/sso/stream?pairs=XRP/EUR"
wait_for 5 grep -qs '^retry: ' "$D/m1.out"
xrp='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"XRP","asset_id_quote":"EUR","rate":0.5}'
printf '%s' "$xrp" | amqp-publish --url="$AMQP" -e "$AMQP_EXCHANGE"
check "... and it serves live events as ever" wait_for 5 grep -qxF "data: $xrp" "$D/m1.out"

start_sse "$D/off.log" --history-stream off
wait_for 15 ready
check "--history-stream off: no stream declared, nothing refused, no backfill" \
    bash -c "[ \"\$(curl -s $SSE/metrics | awk '\$1 ~ /^sse_(history_enabled|history_refused_total|backfills_total)\$/ { printf \"%s \", \$2 }')\" = '0 0 0 ' ] && grep -q 'history stream off' '$D/off.log'"

wait "$OLD_START" || bail "start the broker without stream queues ($(tail -3 "$D/broker-old.log"))"
OLD=$(cat "$D/old.url")
AMQP_EXCHANGE=test-history-old-$$ start_sse "$D/old.log" --amqp-url "$OLD"
check "a broker without stream queues: the replica still gets ready" wait_for 15 ready
check "... the refusal is logged once, with the broker's reason" \
    bash -c "[ \$(grep -c 'was refused' '$D/old.log') = 1 ] && grep -q 'feature flag is disabled' '$D/old.log'"
spawn "$D/o1.err" curl -sN -o "$D/o1.out" "$SSE/api/v1/sso/stream"
wait_for 5 grep -qs '^retry: ' "$D/o1.out"
printf '%s' "$xrp" | amqp-publish --url="$OLD" -e "test-history-old-$$"
check "... and serves live events" wait_for 5 grep -qxF "data: $xrp" "$D/o1.out"
start_fake "$D/fake-old.log"
COIN_API_KEY=k COIN_API_URL=$FAKE AMQP_URL=$OLD AMQP_EXCHANGE=test-history-old-$$ "$BIN/fetcher" \
    --duration 2s --interval 500ms >"$D/fetcher-old.log" 2>&1
check "the fetcher publishes there too (4 confirmed), the refusal logged once" \
    bash -c "grep -q 'summary: .*confirmed=4 ' '$D/fetcher-old.log' && [ \$(grep -c 'was refused' '$D/fetcher-old.log') = 1 ]"
it_done
