#!/usr/bin/env bash
# sse-server's hub semantics on real processes: producer ids shared by
# replicas, resume (header, query, across replicas), reset, retry jitter,
# heartbeats, pair filters, CORS origins, /readyz, metrics, the broadcast
# endpoint, the snapshot on connect, ?since= and slow-client disconnects.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init sse_features
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-features-$$
D=$IT_DIR
TOKEN=tok-$$-secret

start_fake "$D/fake.log"
start_sse "$D/a.log" --history 8 --heartbeat 1s --cors-origins https://app.example,https://b.example
A=$SSE
start_sse "$D/b.log" --history 8 --heartbeat 1s
B=$SSE
SSE=$A wait_for 10 metric_is sse_broker_connected 1 || bail "replica A consumes"
SSE=$B wait_for 10 metric_is sse_broker_connected 1 || bail "replica B consumes"
check "/readyz: 200 while consuming" test "$(curl -s -o /dev/null -w '%{http_code}' "$A/readyz")" = 200

stream() { # NAME URL [curl args]: a background SSE client writing $D/NAME.out
    local name=$1 url=$2
    shift 2
    spawn "$D/$name.err" curl -sN -D "$D/$name.h" -o "$D/$name.out" "$@" "$url"
    wait_for 3 grep -qs '^retry: ' "$D/$name.out" || not_ok "$name connects"
}
ids() { sed -n 's/^id: //p' "$D/$1.out"; }
datas() { sed -n 's/^data: //p' "$D/$1.out"; }
hdr() { tr -d '\r' <"$D/$1.h" | grep -i "^$2:" | cut -d' ' -f2-; }

stream a1 "$A/api/v1/sso/stream"
stream b1 "$B/api/v1/sso/stream"
stream eth "$A/api/v1/sso/stream?pairs=eth/usd"

# retry: once, jittered within [3000, 4500] ms.
check "retry: sent once on connect" test "$(grep -c '^retry: ' "$D/a1.out")" = 1
for i in 1 2 3 4 5 6; do curl -sN --max-time 1 "$A/api/v1/sso/stream" | sed -n 's/^retry: //p' >>"$D/retries"; done
check "retry values within 3000-4500 ms" awk '$1 < 3000 || $1 > 4500 { exit 1 }' "$D/retries"
check "retry values differ between clients (jitter)" test "$(sort -u "$D/retries" | wc -l)" -gt 1

# Heartbeats on an idle stream (--heartbeat 1s).
check "an idle stream gets a heartbeat comment" wait_for 3 grep -q '^: heartbeat' "$D/a1.out"
check "... counted in sse_heartbeats_total" \
    bash -c "[ \"\$(curl -s '$A/metrics' | awk '\$1 == \"sse_heartbeats_total\" { print \$2 }')\" -ge 1 ]"

# Ten events with producer ids (5 ticks x BTC/USD, ETH/USD). What follows
# needs exactly 10 (the history keeps 8), so the interval is 1 s: the first
# broker connect, made between ticks 1 and 2, fits with room to spare (at
# 500 ms a slow one made tick 2 late and the fetcher skipped it).
COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 5s --interval 1s \
    --pairs BTC/USD,ETH/USD >"$D/fetcher.log" 2>&1
check "fetcher published 10, confirmed" grep -q 'confirmed=10 ' "$D/fetcher.log"
wait_for 5 bash -c "[ \$(grep -c '^id: ' '$D/a1.out') -ge 10 ] && [ \$(grep -c '^id: ' '$D/b1.out') -ge 10 ]"
check "replica A got 10 events" test "$(ids a1 | wc -l)" = 10
check "both replicas name every event with the same id" diff <(ids a1) <(ids b1)
check "... and the same data" diff <(datas a1) <(datas b1)
check "the ids are the producer's (16-digit microsecond ids)" bash -c "ids=\$(sed -n 's/^id: //p' '$D/a1.out'); ! grep -qvE '^[0-9]{16}$' <<<\"\$ids\""
check "?pairs=eth/usd got only the 5 ETH/USD events" \
    bash -c "[ \$(grep -c '^data: ' '$D/eth.out') = 5 ] && ! grep '^data: ' '$D/eth.out' | grep -qv '\"asset_id_base\":\"ETH\"'"
mapfile -t ID < <(ids a1)

# Resume on the OTHER replica from the 4th event: events 5..8 of the 8 kept
# (history 8 holds the last 8 of 10) are replayed... the 4th id is older
# than the oldest kept (3rd event), so use the 5th: replay 6..10, no gap.
curl -sN --max-time 2 -D "$D/r1.h" -H "Last-Event-ID: ${ID[4]}" "$B/api/v1/sso/stream" >"$D/r1.out"
check "resume on replica B with Last-Event-ID: exactly the 5 later events" \
    diff <(ids r1) <(printf '%s\n' "${ID[@]:5}")
check "... with the same data as replica A sent" diff <(datas r1) <(datas a1 | tail -5)
check "... response header Last-Event-ID names the replay point" test "$(hdr r1 last-event-id)" = "${ID[4]}"
check "... X-Ratecast-Resume: replay" test "$(hdr r1 x-ratecast-resume)" = replay
curl -sN --max-time 2 "$A/api/v1/sso/stream?last_event_id=${ID[7]}" >"$D/r2.out"
check "resume with ?last_event_id= works too" diff <(ids r2) <(printf '%s\n' "${ID[@]:8}")
curl -sN --max-time 2 -H "Last-Event-ID: ${ID[9]}" "$A/api/v1/sso/stream" >"$D/r3.out"
check "resume from the newest id: nothing replayed, no reset" \
    bash -c "! grep -q '^id: \|^event: reset' '$D/r3.out'"
curl -sN --max-time 2 -H "Last-Event-ID: ${ID[4]}" "$A/api/v1/sso/stream?pairs=BTC/USD" >"$D/r4.out"
check "resume with a filter replays only matching events" \
    bash -c "[ \$(grep -c '^data: ' '$D/r4.out') -ge 2 ] && ! grep '^data: ' '$D/r4.out' | grep -qv BTC"

# Too old, unknown or invalid: a reset event naming the live point.
curl -sN --max-time 2 -D "$D/x1.h" -H "Last-Event-ID: ${ID[0]}" "$B/api/v1/sso/stream" >"$D/x1.out"
check "an id older than the history: event: reset" grep -q '^event: reset' "$D/x1.out"
check "... whose data names the range kept" \
    grep -q "^data: {\"requested\":\"${ID[0]}\",\"oldest\":\"${ID[2]}\",\"newest\":\"${ID[9]}\"" "$D/x1.out"
check "... with id: the newest, so the next reconnect resumes from there" \
    grep -qx "id: ${ID[9]}" "$D/x1.out"
check "... nothing replayed" test "$(grep -c '^data: {"time"' "$D/x1.out")" = 0
check "... header Last-Event-ID names the live point" test "$(hdr x1 last-event-id)" = "${ID[9]}"
check "... X-Ratecast-Resume: reset" test "$(hdr x1 x-ratecast-resume)" = reset
for bad in abc -5 1234567890123456789012345678901234567890 '1 2'; do
    curl -sN --max-time 1 -H "Last-Event-ID: $bad" "$A/api/v1/sso/stream" >"$D/bad.out"
    check "Last-Event-ID '$bad': reset, stream continues" grep -q '^event: reset' "$D/bad.out"
done
check "replays and resets are counted" \
    bash -c "[ \$(SSE=$B; curl -s $B/metrics | awk '\$1==\"sse_replays_total\"{print \$2}') -ge 1 ] && [ \$(curl -s $A/metrics | awk '\$1==\"sse_resets_total\"{print \$2}') -ge 4 ]"
check "the delivery delay histogram counted deliveries" \
    bash -c "[ \$(curl -s $A/metrics | awk '\$1==\"sse_delivery_delay_seconds_count\"{print \$2}') -ge 15 ]"

# Bad filters: 400.
check "?pairs=BTCUSD: 400" test "$(curl -s -o /dev/null -w '%{http_code}' "$A/api/v1/sso/stream?pairs=BTCUSD")" = 400

# CORS with a list of origins.
curl -s -D "$D/o1.h" -o /dev/null --max-time 1 -H 'Origin: https://app.example' "$A/api/v1/sso/stream"
check "listed origin is echoed in Access-Control-Allow-Origin" test "$(hdr o1 access-control-allow-origin)" = https://app.example
check "... with Vary: Origin" test "$(hdr o1 vary)" = Origin
curl -s -D "$D/o2.h" -o /dev/null --max-time 1 -H 'Origin: https://evil.example' "$A/api/v1/sso/stream"
check "unlisted origin gets no Access-Control-Allow-Origin" test -z "$(hdr o2 access-control-allow-origin)"
curl -s -D "$D/o3.h" -o /dev/null -X OPTIONS -H 'Origin: https://b.example' "$A/api/v1/sso/stream"
check "preflight for a listed origin: 204, origin echoed" \
    bash -c "grep -q '^HTTP/1.1 204' '$D/o3.h' && tr -d '\r' <'$D/o3.h' | grep -qx 'Access-Control-Allow-Origin: https://b.example'"

# Broadcast: disabled without a token.
code() { curl -s -o "$D/code.body" -w '%{http_code}' "$@"; }
good='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"XRP","asset_id_quote":"EUR","rate":0.5123}'
check "broadcast disabled without SSE_PUBLISH_TOKEN: 404" test "$(code -X POST -d "$good" "$A/api/v1/sso/broadcast")" = 404
SSE_PUBLISH_TOKEN=$TOKEN start_sse "$D/c.log" --history 8
C=$SSE
check "broadcast without a token: 401" test "$(code -X POST -d "$good" "$C/api/v1/sso/broadcast")" = 401
check "broadcast with a wrong token: 401" test "$(code -X POST -H "Authorization: Bearer nope" -d "$good" "$C/api/v1/sso/broadcast")" = 401
check "broadcast GET: 405" test "$(code "$C/api/v1/sso/broadcast")" = 405
check "broadcast invalid JSON: 400" test "$(code -X POST -H "Authorization: Bearer $TOKEN" -d '{"rate":' "$C/api/v1/sso/broadcast")" = 400
check "... saying why" grep -q 'not valid JSON' "$D/code.body"
head -c 20000 /dev/zero | tr '\0' x >"$D/big"
check "broadcast body over 16 KiB: 413" test "$(code -X POST -H "Authorization: Bearer $TOKEN" --data-binary @"$D/big" "$C/api/v1/sso/broadcast")" = 413
check "broadcast chunked body over 16 KiB: 413" test "$(code -X POST -H "Authorization: Bearer $TOKEN" -H 'Transfer-Encoding: chunked' --data-binary @"$D/big" "$C/api/v1/sso/broadcast")" = 413
check "broadcast with the token: 202" test "$(code -X POST -H "Authorization: Bearer $TOKEN" -d "$good" "$C/api/v1/sso/broadcast")" = 202
check "... every replica delivers it (A)" wait_for 3 grep -qxF "data: $good" "$D/a1.out"
check "... every replica delivers it (B)" wait_for 3 grep -qxF "data: $good" "$D/b1.out"
check "... with the same id on both" test "$(grep -B1 -xF "data: $good" "$D/a1.out" | head -1)" = "$(grep -B1 -xF "data: $good" "$D/b1.out" | head -1)"
check "the token never appears in a log" bash -c "! grep -q '$TOKEN' '$D'/*.log"

# Snapshot on connect and ?since=: replicas of their own (E with the
# snapshot, F without, through its variable) on an exchange of their own,
# so that their rings (and the history stream they fill them from) hold
# only these events. Times are the events' own, back from now.
SNAPX=$AMQP_EXCHANGE-snap
AMQP_EXCHANGE=$SNAPX start_sse "$D/e.log" --history 16
E=$SSE
AMQP_EXCHANGE=$SNAPX SSE_SNAPSHOT=false start_sse "$D/f.log" --history 16
F=$SSE
SSE=$E wait_for 10 metric_is sse_broker_connected 1 || bail "replica E consumes"
SSE=$F wait_for 10 metric_is sse_broker_connected 1 || bail "replica F consumes"
ago() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S.0000000Z; }
tick_at() { # PAIR SECONDS_AGO RATE: one tick line
    printf '{"time":"%s","asset_id_base":"%s","asset_id_quote":"%s","rate":%s}\n' \
        "$(ago "$2")" "${1%/*}" "${1#*/}" "$3"
}
pub_lines() { amqp-publish --url="$AMQP" -e "$SNAPX" -l; }
stream e0 "$E/api/v1/sso/stream"
{
    tick_at XRP/USD 1800 0.51 # 30 min ago: before a 15 min window
    tick_at BTC/USD 1200 60001
    tick_at ETH/USD 720 3001
    tick_at BTC/USD 600 60002
    tick_at ETH/USD 300 3002
    tick_at BTC/USD 60 60003
} | pub_lines
wait_for 5 bash -c "[ \$(grep -c '^data: ' '$D/e0.out') = 6 ]" || not_ok "replica E got the 6 timed ticks"
mapfile -t EID < <(ids e0)
mapfile -t EDATA < <(datas e0)
get() { # NAME URL [curl args]: a 2 s stream, headers in NAME.h
    local name=$1 url=$2
    shift 2
    curl -sN --max-time 2 -D "$D/$name.h" -o "$D/$name.out" "$@" "$url"
}
# want NAME I...: NAME got exactly the events E's own client saw as I... (ids and data)
want() {
    local name=$1 i
    shift
    diff <(ids "$name") <(for i in "$@"; do echo "${EID[$i]}"; done) &&
        diff <(datas "$name") <(for i in "$@"; do echo "${EDATA[$i]}"; done)
}
get s1 "$E/api/v1/sso/stream"
check "snapshot: a new client gets the newest event of each pair at once, oldest first (XRP, ETH, BTC)" want s1 0 4 5
check "... X-Ratecast-Snapshot: 3" test "$(hdr s1 x-ratecast-snapshot)" = 3
check "... and no resume headers" test -z "$(hdr s1 x-ratecast-resume)$(hdr s1 last-event-id)"
get s2 "$E/api/v1/sso/stream?pairs=BTC/USD,XRP/USD"
check "snapshot with ?pairs=: only those pairs" want s2 0 5
get s3 "$E/api/v1/sso/stream?since=15m"
check "?since=15m: the snapshot of the pair with nothing in the window (XRP), then the window" want s3 0 2 3 4 5
check "... X-Ratecast-Resume: since" test "$(hdr s3 x-ratecast-resume)" = since
since_s=$(date -u -d "$(hdr s3 x-ratecast-since)" +%s)
check "... X-Ratecast-Since is 15 min ago ($(hdr s3 x-ratecast-since))" \
    test $(($(date +%s) - 900 - since_s)) -ge 0 -a $(($(date +%s) - 900 - since_s)) -le 5
get s4 "$E/api/v1/sso/stream?since=1h"
check "?since=1h, past the oldest kept: every kept event" want s4 0 1 2 3 4 5
xrp_time=$(sed 's/.*"time":"\([^"]*\)".*/\1/' <<<"${EDATA[0]}")
check "... X-Ratecast-Since says it starts at the oldest kept event, XRP's ($(hdr s4 x-ratecast-since))" \
    test "$(date -u -d "$(hdr s4 x-ratecast-since)" +%s)" = "$(date -u -d "$xrp_time" +%s)"
get s5 "$E/api/v1/sso/stream?since=15m&pairs=ETH/USD"
check "?since=15m&pairs=ETH/USD: the ETH events of the window" want s5 2 4
get s6 "$E/api/v1/sso/stream?since=1h" -H "Last-Event-ID: ${EID[3]}"
check "Last-Event-ID wins over ?since=: replay after it" want s6 4 5
check "... X-Ratecast-Resume: replay" test "$(hdr s6 x-ratecast-resume)" = replay
for bad in abc 0 15 -5m 1.5h; do
    check "?since=$bad: 400" test "$(curl -s -o "$D/since.body" -w '%{http_code}' "$E/api/v1/sso/stream?since=$bad")" = 400
done
check "... saying what is expected" grep -q 'bad ?since=: expected a duration' "$D/since.body"
# The ring laps XRP's only event; the snapshot still has it.
for i in $(seq 20); do tick_at BTC/USD 30 $((70000 + i)); done | pub_lines
SSE=$E wait_for 5 metric_is sse_events_total 26 || not_ok "replica E got 20 more"
get s7 "$E/api/v1/sso/stream"
check "after the ring (16) lapped XRP's event, the snapshot still has it" \
    bash -c "grep -c '^data: ' '$D/s7.out' | grep -qx 3 && grep '^data: ' '$D/s7.out' | head -1 | grep -qxF 'data: ${EDATA[0]}' && tail -3 '$D/s7.out' | grep -q '\"rate\":70020}'"
# Snapshots: s1, s2, s3 and s7 (s4 and s5 had every wanted pair in their window).
check "snapshots are counted (4)" metric_is_at "$E" sse_snapshots_total 4
check "... and since replays (3: Last-Event-ID won the 4th)" metric_is_at "$E" sse_since_replays_total 3
# --snapshot off (SSE_SNAPSHOT=false): exactly as before, nothing until the next publish.
stream f1 "$F/api/v1/sso/stream"
sleep 1
check "--snapshot off: a new client gets nothing before the next publish" test "$(grep -c '^data: ' "$D/f1.out")" = 0
check "... and no X-Ratecast-Snapshot header" test -z "$(hdr f1 x-ratecast-snapshot)"
tick_at ETH/USD 1 3003 | pub_lines
check "... then exactly the next event" wait_for 3 bash -c "[ \$(grep -c '^data: ' '$D/f1.out') = 1 ] && grep -q '\"rate\":3003}' '$D/f1.out'"
get f2 "$F/api/v1/sso/stream?since=1m"
check "--snapshot off, ?since=1m: the window (all 16 kept) only, no snapshot" \
    bash -c "[ \$(grep -c '^data: ' '$D/f2.out') = 16 ] && ! grep -q 'XRP' '$D/f2.out'"
check "--snapshot off: sse_snapshots_total stays 0" metric_is_at "$F" sse_snapshots_total 0

# A client that stops reading falls behind the ring: it is cut off and
# counted when its socket drains, and memory never grows for it. Its own
# replica on an exchange of its own (its ring then holds only this burst),
# so the burst does not disturb the clients above.
SLOWX=$AMQP_EXCHANGE-slow
AMQP_EXCHANGE=$SLOWX start_sse "$D/d.log" --history 256
DD=$SSE
stream d1 "$DD/api/v1/sso/stream"
exec 3<>"/dev/tcp/127.0.0.1/${DD##*:}"
printf 'GET /api/v1/sso/stream HTTP/1.1\r\nHost: x\r\n\r\n' >&3
wait_for 3 metric_is_at "$DD" sse_clients 2
pad=$(head -c 4000 /dev/zero | tr '\0' p)
# 20 batches of 100 events of 4 KB (8 MB: more than the kernel buffers
# between the server and a client that does not read), paced so that a
# reading client never falls 256 events behind.
for b in $(seq 20); do
    for i in $(seq 100); do
        printf '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":%d,"pad":"%s"}\n' "$i" "$pad"
    done | amqp-publish --url="$AMQP" -e "$SLOWX" -l
    sleep 0.2
done
SSE=$DD wait_for 10 metric_is sse_events_total 2000 || not_ok "2000 large events reached the replica"
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$SSE_PID/status")
limit_kib=65536
[ -n "${RC_SANITIZERS:-}" ] && limit_kib=262144 # ASan's shadow memory and quarantine
check "RSS stays small with a stalled client (${rss_kib} KiB < $((limit_kib / 1024)) MiB)" test "$rss_kib" -lt "$limit_kib"
check "the reading client got all 2000" wait_for 5 bash -c "[ \$(grep -c '\"pad\"' '$D/d1.out') = 2000 ]"
check "the stalled client is cut off while still not reading, and counted" \
    wait_for 3 metric_is_at "$DD" sse_clients_lagged_total 1
check "... its connection is gone from the server" wait_for 3 metric_is_at "$DD" sse_clients 1
timeout 10 cat <&3 >"$D/stalled.out"
check "... and the client sees the connection closed (EOF, not a timeout)" test $? = 0
exec 3<&-
check "... after far less than 8 MB ($(wc -c <"$D/stalled.out") bytes)" test "$(wc -c <"$D/stalled.out")" -lt 6000000

it_done
