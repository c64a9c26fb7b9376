#!/usr/bin/env bash
# Debian's nginx in front of two sse-servers, running the committed
# deploy/nginx/ratecast.conf (rendered by deploy/nginx/render with loopback
# ports, a throwaway certificate and a 3 s read timeout): TLS + HTTP/2, the
# stream's headers, the redirect, internal-only locations; events relayed
# unbuffered (latency via nginx vs direct); heartbeats keeping a stream past
# proxy_read_timeout; a client resuming through nginx after its replica died.
# Controls prove the checks can fail: the same config with buffering forced
# on holds events back, and with sse-server's heartbeat above the read
# timeout nginx cuts the idle stream.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init nginx_proxy
D=$IT_DIR
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || bail "nginx is installed ($NGINX; make deps installs it)"
command -v openssl >/dev/null || bail "openssl is installed (make deps installs it)"
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-nginx-$$

[ -x "$BIN/sse-load" ] || bail "$BIN/sse-load is missing: run make first"

# Ports from 6200-6299 (this test's range).
ports=$(free_ports 6200 100 4 | xargs) || bail "4 free ports in 6200-6299"
read -r P_HTTP P_TLS P_PLAIN P_CTL <<<"$ports"
echo "# ports: redirect $P_HTTP, tls $P_TLS, plain $P_PLAIN, control $P_CTL"

nginx_cert || bail "openssl makes a certificate"

start_fake "$D/fake.log"
start_sse "$D/a.log" --heartbeat 1s
A=$SSE A_PID=$SSE_PID A_PORT=$SSE_PORT
start_sse "$D/b.log" --heartbeat 1s
B=$SSE B_PID=$SSE_PID B_PORT=$SSE_PORT
# The control replica: its heartbeat (30 s) is longer than the read timeout.
start_sse "$D/c.log" --heartbeat 30s
C=$SSE C_PORT=$SSE_PORT
for r in "$A" "$B" "$C"; do
    wait_for 10 metric_is_at "$r" sse_broker_connected 1 || bail "replica $r consumes"
done

# The production file, rendered for this machine. Only the site values may
# differ from the committed file.
CONF=$TOP/deploy/nginx/ratecast.conf
nginx_render main --upstream "127.0.0.1:$A_PORT" --upstream "127.0.0.1:$B_PORT" \
    --http "127.0.0.1:$P_HTTP" --https "127.0.0.1:$P_TLS" --plain "127.0.0.1:$P_PLAIN" \
    --read-timeout 3s --internal 127.0.0.2
mkdir -p "$D/ctl"
check "... with proxy_buffering off on the stream" grep -q '^ *proxy_buffering off;' "$D/main/ratecast.conf"
# The control: the same file, plain HTTP, in front of the 30 s-heartbeat
# replica, with what commonly breaks SSE behind nginx switched on: response
# buffering plus gzip for text/event-stream (browsers always send
# Accept-Encoding: gzip). nginx would honour sse-server's X-Accel-Buffering: no
# and flush anyway: ignore it, to see what a proxy that buffers does.
# (Buffering alone does not delay here: nginx writes what it has whenever the
# replica's socket runs dry; the gzip filter then holds it.)
"$TOP/deploy/nginx/render" --no-tls --plain "127.0.0.1:$P_CTL" --upstream "127.0.0.1:$C_PORT" \
    --read-timeout 3s "$CONF" |
    sed 's/^\( *\)proxy_buffering off;/\1proxy_buffering on; proxy_ignore_headers X-Accel-Buffering;/
         s/^\( *\)gzip off;/\1gzip on; gzip_types text\/event-stream; gzip_proxied any;/' \
        >"$D/ctl/ratecast.conf"
grep -q 'proxy_buffering on;' "$D/ctl/ratecast.conf" && grep -q 'gzip on;' "$D/ctl/ratecast.conf" ||
    bail "render the control config"
nginx_conf main
nginx_conf ctl
check "nginx -t accepts the rendered config" nginx_t main
nginx_t ctl 2>"$D/ctl-t.err" || bail "nginx -t accepts the control config ($(cat "$D/ctl-t.err"))"
nginx_spawn main
nginx_spawn ctl
wait_for 5 bash -c "$(declare -f listening); listening $P_TLS && listening $P_PLAIN && listening $P_CTL" ||
    bail "nginx listens ($(tail -3 "$D/main/error.log" "$D/ctl/error.log"))"
TLS=https://127.0.0.1:$P_TLS
PLAIN=http://127.0.0.1:$P_PLAIN
CTL=http://127.0.0.1:$P_CTL
TC=(curl --cacert "$D/cert.pem") # spawn needs a command, not a function
hdr() { tr -d '\r' <"$1" | grep -i "^$2:" | cut -d' ' -f2-; }
ids() { sed -n 's/^id: //p' "$1"; }

# Reference clients straight to each replica, for the resume check below.
spawn "$D/ref-a.err" curl -sN -o "$D/ref-a.out" "$A/api/v1/sso/stream"
spawn "$D/ref-b.err" curl -sN -o "$D/ref-b.out" "$B/api/v1/sso/stream"

# --- TLS, HTTP/2, headers, the redirect, internal-only locations ---------
v=$("${TC[@]}" --http2 -sN --max-time 2 -D "$D/h2.h" -o "$D/h2.out" -w '%{http_version}' "$TLS/api/v1/sso/stream")
check "the stream over TLS speaks HTTP/2 (curl says HTTP/$v), certificate verified" test "$v" = 2
check "... status 200" grep -q '^HTTP/2 200' "$D/h2.h"
check "... Content-Type: text/event-stream comes through" \
    bash -c "[[ '$(hdr "$D/h2.h" content-type)' == text/event-stream* ]]"
check "... X-Accel-Buffering: no comes through" test "$(hdr "$D/h2.h" x-accel-buffering)" = no
check "... Cache-Control: no-cache, no-transform comes through" \
    test "$(hdr "$D/h2.h" cache-control)" = "no-cache, no-transform"
check "... the stream opens at once (retry: and the comment)" grep -q '^retry: ' "$D/h2.out"
check "... heartbeats arrive over HTTP/2" grep -q '^: heartbeat' "$D/h2.out"
r=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$P_HTTP/api/v1/sso/stream?pairs=BTC/USD")
check "port 80 redirects to https ($r)" test "$r" = "301 https://127.0.0.1/api/v1/sso/stream?pairs=BTC/USD"
check "/healthz through nginx: 200 ok" test "$("${TC[@]}" -s "$TLS/healthz")" = ok
check "/readyz through nginx: 200" test "$("${TC[@]}" -s -o /dev/null -w '%{http_code}' "$TLS/readyz")" = 200
check "/metrics from a network not allowed: 403" \
    test "$("${TC[@]}" -s -o /dev/null -w '%{http_code}' "$TLS/metrics")" = 403
check "/metrics from an allowed network (127.0.0.2): 200" \
    bash -c "curl --cacert '$D/cert.pem' -s --interface 127.0.0.2 '$TLS/metrics' | grep -q '^sse_clients '"
check "broadcast from a network not allowed: 403" \
    test "$("${TC[@]}" -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$TLS/api/v1/sso/broadcast")" = 403

# --- (b) heartbeats keep a stream open past proxy_read_timeout (3 s) -----
# Nothing is published for 8 s. Through nginx in front of the 1 s-heartbeat
# replicas the stream stays; in front of the 30 s one nginx cuts it at 3 s.
spawn "$D/idle.err" "${TC[@]}" --http2 -sN -o "$D/idle.out" "$TLS/api/v1/sso/stream"
IDLE_PID=$SPAWNED
t0=$(date +%s.%N)
curl -sN -o "$D/cut.out" -w '%{time_total}\n' "$CTL/api/v1/sso/stream" >"$D/cut.time" 2>"$D/cut.err" &
CUT_PID=$!
IT_PIDS+=("$CUT_PID")
sleep 8
check "a stream through nginx (read timeout 3 s) is still open after 8 s idle" kill -0 "$IDLE_PID"
nhb=$(grep -c '^: heartbeat' "$D/idle.out")
check "... and received heartbeats ($nhb in 8 s)" test "$nhb" -ge 5
check "... and no event" test "$(grep -c '^data: ' "$D/idle.out")" = 0
kill "$IDLE_PID" 2>/dev/null
ended=$(cat "$D/cut.time" 2>/dev/null)
check "control: with a 30 s heartbeat nginx cuts the idle stream after ~3 s (after ${ended:-never} s)" \
    awk -v t="${ended:-99}" 'BEGIN { exit !(t >= 2.5 && t < 6) }'
check "... for its read timeout (nginx's log: upstream timed out)" \
    grep -q 'upstream timed out.*while reading upstream' "$D/ctl/error.log"

# --- (a) events pass through unbuffered ----------------------------------
# Each event's delay is measured from its JSON "time" (stamped when the
# stand-in answered the fetcher) to its arrival. sse-load (plain HTTP):
# straight to replica A vs through nginx (the plain listener of the same
# server block). curl like a browser (TLS, HTTP/2, Accept-Encoding: gzip):
# through nginx vs through the control. Every client subscribes before the
# first event, and the counts expected are what the fetcher published.
# With 3 clients and about 20 events a p99 is the maximum, so nginx is
# compared with the direct path on p90, and the bound on every event only
# has to tell "relayed" (tens of ms; one loopback retransmit 200 ms+) from
# "held" (by a buffering proxy until a flush, by gzip until the read
# timeout: seconds). The first 2 events of each client, which also wait
# for the fetcher's first broker connect, are left out of the latencies.
WARMUP=2 HELD_MS=800
for t in direct:$A proxy:$PLAIN; do
    spawn "$D/load-${t%%:*}.log" "$BIN/sse-load" --url "${t#*:}/api/v1/sso/stream" --clients 3 \
        --duration 9 --connect-timeout 5 --warmup-events $WARMUP --json "$D/load-${t%%:*}.json"
done
# stamped NAME SECONDS curl-args...: every data line's arrival time and
# event time into $D/NAME.t ("<epoch seconds> <ISO time>").
stamped() {
    local name=$1 secs=$2 line
    shift 2
    curl -sN --compressed --max-time "$secs" -D "$D/$name.h" "$@" | while IFS= read -r line; do
        [[ $line == data:* ]] || continue
        line=${line#*\"time\":\"}
        printf '%s %s\n' "$EPOCHREALTIME" "${line%%\"*}"
    done >"$D/$name.t"
}
stamped gz-proxy 10 --cacert "$D/cert.pem" --http2 "$TLS/api/v1/sso/stream" &
GZ1=$!
# The control holds everything, headers included, until nginx cuts the
# stream 3 s after the last event (read timeout): checked at the end.
stamped gz-control 20 "$CTL/api/v1/sso/stream" &
GZ2=$!
IT_PIDS+=("$GZ1" "$GZ2")
# Subscribed: on A and B the 2 reference clients, 3 + 3 sse-load clients
# and the browser-like curl; on C the control's curl.
clients_at() { curl -s "$1/metrics" | awk '$1 == "sse_clients" { print $2 }'; }
all_subscribed() {
    local a b c
    a=$(clients_at "$A") b=$(clients_at "$B") c=$(clients_at "$C")
    [ "$((${a:-0} + ${b:-0}))" = 9 ] && [ "${c:-0}" = 1 ]
}
wait_for 15 all_subscribed ||
    not_ok "every client subscribes before the first event (A $(clients_at "$A"), B $(clients_at "$B"), C $(clients_at "$C"))"
COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 4s --interval 200ms >"$D/fetcher1.log" 2>&1
n1=$(fsum "$D/fetcher1.log" confirmed)
echo "# $(grep -o 'summary: scheduled=[0-9]* skipped=[0-9]*' "$D/fetcher1.log")"
check "fetcher published $n1 events, every one confirmed (of 20 ticks)" \
    bash -c "[ '$(fsum "$D/fetcher1.log" fetched)' = '${n1:-x}' ] && [ '${n1:-0}' -ge 10 ]"
wait_for 15 bash -c "[ -s '$D/load-direct.json' ] && [ -s '$D/load-proxy.json' ]" ||
    not_ok "sse-load reports ($(tail -2 "$D"/load-*.log))"
wait "$GZ1"
# jval NAME KEY [FIELD]: from sse-load's JSON (one key per line).
jval() {
    local line
    line=$(grep -m1 "^  \"$2\": " "$D/load-$1.json") || return 1
    if [ $# -gt 2 ]; then sed -n "s/.*\"$3\": \([^,}]*\).*/\1/p" <<<"$line"; else sed 's/^[^:]*: //; s/,$//' <<<"$line"; fi
}
# delays NAME: "<count> <max ms>" of $D/NAME.t, the max leaving out the
# first $WARMUP events.
delays() {
    local at t n=0 max=0 ms
    while read -r at t; do
        ms=$(awk -v a="$at" -v e="$(date -d "$t" +%s.%N)" 'BEGIN { printf "%d", (a - e) * 1000 }')
        n=$((n + 1))
        [ "$n" -gt "$WARMUP" ] && [ "$ms" -gt "$max" ] && max=$ms
    done <"$D/$1.t"
    echo "$n $max"
}
dp90=$(jval direct latency_ms p90) pp90=$(jval proxy latency_ms p90) pmax=$(jval proxy latency_ms max)
dn=$(jval direct events_per_client min) pn=$(jval proxy events_per_client min)
echo "# direct: $(grep -m1 latency_ms "$D/load-direct.json")"
echo "# proxy:  $(grep -m1 latency_ms "$D/load-proxy.json")"
check "direct: every client got all $n1 events (min $dn per client)" test "${dn:-0}" = "${n1:-x}"
check "through nginx: every client got all $n1 events too (min $pn), none missed" \
    bash -c "[ '${pn:-0}' = '${n1:-x}' ] && [ '$(jval proxy missed_events)' = 0 ] && [ '$(jval proxy duplicates)' = 0 ]"
check "through nginx: p90 latency $pp90 ms < direct p90 $dp90 ms + 100 ms" \
    awk -v p="$pp90" -v d="$dp90" 'BEGIN { exit !(p != "null" && d != "null" && p + 0 < d + 100) }'
check "through nginx: every event within $HELD_MS ms (max $pmax ms), before a 1 s heartbeat could flush a buffer" \
    awk -v m="$pmax" -v h="$HELD_MS" 'BEGIN { exit !(m != "null" && m + 0 < h) }'
read -r gn gmax <<<"$(delays gz-proxy)"
check "like a browser (TLS, HTTP/2, accepts gzip): all $n1 events, each within $HELD_MS ms (max $gmax ms)" \
    test "$gn" = "${n1:-x}" -a "$gmax" -lt "$HELD_MS"
check "... the stream is not compressed (gzip off)" bash -c "[ -z '$(hdr "$D/gz-proxy.h" content-encoding)' ]"
# --- (c) resume through nginx after the client's replica died -----------
# Find the replica the client was sent to by the sse_clients gauge (each
# has exactly the reference client before).
wait_for 10 bash -c "$(declare -f metric_is_at); metric_is_at '$A' sse_clients 1 && metric_is_at '$B' sse_clients 1" ||
    not_ok "only the reference clients remain (A $(curl -s "$A/metrics" | grep '^sse_clients ') B $(curl -s "$B/metrics" | grep '^sse_clients '))"
spawn "$D/x.err" "${TC[@]}" --http2 -sN -o "$D/x.out" "$TLS/api/v1/sso/stream"
X_PID=$SPAWNED
wait_for 5 bash -c "$(declare -f metric_is_at); metric_is_at '$A' sse_clients 2 || metric_is_at '$B' sse_clients 2" ||
    bail "the client through nginx reaches a replica"
if metric_is_at "$A" sse_clients 2; then
    VICTIM=$A_PID LIVE=$B LIVE_REF=$D/ref-b.out name=A
else
    VICTIM=$B_PID LIVE=$A LIVE_REF=$D/ref-a.out name=B
fi
echo "# the client is on replica $name"
COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 1s --interval 200ms >"$D/fetcher2.log" 2>&1
# Its snapshot on connect (BTC/USD's newest, from the run above), then the
# new events.
n2=$(fsum "$D/fetcher2.log" confirmed)
wait_for 5 bash -c "[ \$(grep -c '^id: ' '$D/x.out') -ge $((${n2:-1} + 1)) ]"
LAST=$(ids "$D/x.out" | tail -1)
check "the client through nginx got its snapshot and the $n2 new events the fetcher published (last id $LAST)" \
    bash -c "[ '$(ids "$D/x.out" | wc -l)' = '$((${n2:-0} + 1))' ] && [ '${n2:-0}' -ge 3 ]"
check "... named as the surviving replica names them (producer ids)" grep -qx "id: $LAST" "$LIVE_REF"
kill -9 "$VICTIM"
wait "$VICTIM" 2>/dev/null # reaped quietly (no "Killed" line)
check "replica $name killed: the stream through nginx ends" wait_for 5 bash -c "! kill -0 $X_PID 2>/dev/null"
COIN_API_KEY=k COIN_API_URL=$FAKE "$BIN/fetcher" --duration 1s --interval 200ms >"$D/fetcher3.log" 2>&1
n3=$(fsum "$D/fetcher3.log" confirmed)
wait_for 5 bash -c "[ \$(grep -c '^id: ' '$LIVE_REF') -ge $((${n1:-0} + ${n2:-0} + ${n3:-0})) ]"
# The reconnect EventSource would make: Last-Event-ID through nginx.
# Round robin sends some requests to the dead replica first; nginx must
# move each of them to the live one.
for i in 1 2 3; do
    "${TC[@]}" --http2 -sN --max-time 2 -D "$D/r$i.h" -o "$D/r$i.out" -H "Last-Event-ID: $LAST" "$TLS/api/v1/sso/stream"
done
ids "$LIVE_REF" | sed "1,/^$LAST\$/d" >"$D/expected.ids"
check "the reference client on the live replica has the $n3 events published after the kill" \
    bash -c "[ '$(wc -l <"$D/expected.ids")' = '${n3:-x}' ] && [ '${n3:-0}' -ge 3 ]"
for i in 1 2 3; do
    check "reconnect $i with Last-Event-ID through nginx: 200, every later event, no gap, no duplicate" \
        bash -c "grep -q '^HTTP/2 200' '$D/r$i.h' && diff <(sed -n 's/^id: //p' '$D/r$i.out') '$D/expected.ids' >/dev/null"
done
check "... served as a replay (X-Ratecast-Resume: replay)" test "$(hdr "$D/r1.h" x-ratecast-resume)" = replay
check "nginx did try the dead replica and moved on (connect refused in its log)" \
    grep -q 'connect() failed (111: Connection refused) while connecting to upstream' "$D/main/error.log"
codes=$(for i in 1 2 3 4 5 6; do "${TC[@]}" -s -o /dev/null -w '%{http_code} ' "$TLS/healthz"; done)
check "with one replica dead, every request through nginx still succeeds ($codes)" \
    test "$codes" = "200 200 200 200 200 200 "

# The control from (a), now that nginx has cut its stream.
wait "$GZ2"
check "control is set up as meant: its stream is gzip-encoded" test "$(hdr "$D/gz-control.h" content-encoding)" = gzip
read -r cn cmax <<<"$(delays gz-control)"
check "control: with buffering and gzip on, the check of (a) fails (events held up to $cmax ms; $cn of $n1 arrived)" \
    bash -c "[ '$cn' != '${n1:-x}' ] || [ '$cmax' -ge $HELD_MS ]"

it_done
