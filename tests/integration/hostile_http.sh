#!/usr/bin/env bash
# Hostile HTTP clients against sse-server: oversized and numerous headers,
# unknown methods, HEAD, absurd Last-Event-ID values, malformed ?pairs=, path
# tricks, slowloris, idle kept-alive connections, garbage instead of HTTP,
# a connection flood past --max-clients, and guessed broadcast tokens.
# Every row asserts three things: the answer (status or counter) is right,
# the server is still alive, and a well-behaved SSE client connected before
# the hostile input still receives the next good event published afterwards.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init hostile_http
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-hostile-http-$$
D=$IT_DIR
# Random, with lower-case letters (so the upper-cased guess differs).
TOKEN=rcTok$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
STREAM=/api/v1/sso/stream

declare -A URL PID PORT WPID
# server KEY LOG [args...]: an sse-server known as KEY, with a watching client.
server() {
    local key=$1 log=$2
    shift 2
    start_sse "$log" "$@"
    URL[$key]=$SSE PID[$key]=$SSE_PID PORT[$key]=$SSE_PORT
    SSE=${URL[$key]} wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server $key consumes from the broker"
    spawn "$D/w$key.err" curl -sN -o "$D/w$key.out" "${URL[$key]}$STREAM"
    WPID[$key]=$SPAWNED
    wait_for 5 grep -qs '^retry: ' "$D/w$key.out" || bail "the watching client of $key connects"
}
server m "$D/main.log"                       # defaults: 6 KiB per-connection pool, 10 s request timeout
server s "$D/slow.log" --request-timeout 2s  # slowloris and garbage
server f "$D/flood.log" --max-clients 50     # the connection flood
SSE_PUBLISH_TOKEN=$TOKEN server b "$D/bcast.log"

RATE=61000
# tick: publish a good tick with a rate no other row uses; sets LAST_RATE.
tick() {
    RATE=$((RATE + 1))
    LAST_RATE=$RATE.25
    printf '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":%s}' \
        "$LAST_RATE" | amqp-publish --url="$AMQP" -e "$AMQP_EXCHANGE"
}
got_rate() { grep -qF "\"rate\":$1}" "$2"; } # got_rate RATE FILE
# metric_at KEY NAME
metric_at() { curl -s "${URL[$1]}/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# row "desc" KEY cmd...: cmd checks the answer; then server KEY must be
# alive and its watching client must get the next good event.
row() {
    local what=$1 key=$2 why=""
    shift 2
    "$@" || why+=" [wrong answer${WHY:+: $WHY}]"
    WHY=
    kill -0 "${PID[$key]}" 2>/dev/null || why+=" [sse-server $key died]"
    kill -0 "${WPID[$key]}" 2>/dev/null || why+=" [the watching client was disconnected]"
    tick
    wait_for 5 got_rate "$LAST_RATE" "$D/w$key.out" || why+=" [the watching client did not get the next event]"
    if [ -z "$why" ]; then
        ok "$what"
    else
        not_ok "$what:$why"
        # What the server logged since the previous row.
        tail -n +$((LOGAT[$key] + 1)) "$D/$(logof "$key")" | head -4 | cut -c1-300 | sed 's/^/#   log: /'
    fi
    mark_logs
}
WHY=
logof() { case $1 in m) echo main.log ;; s) echo slow.log ;; f) echo flood.log ;; b) echo bcast.log ;; esac; }
declare -A LOGAT
mark_logs() { for k in m s f b; do LOGAT[$k]=$(wc -l <"$D/$(logof "$k")"); done; }

# st [curl args...]: the status code (000: no answer); headers in $D/hdr,
# body in $D/body. MT bounds the time (a stream answers 200 and never ends).
st() { curl -s -o "$D/body" -D "$D/hdr" -w '%{http_code}' --max-time "${MT:-3}" "$@"; }
hdr() { tr -d '\r' <"$D/hdr" | grep -i "^$1:" | head -1 | cut -d' ' -f2-; }
is4xx() { [[ $1 =~ ^4[0-9][0-9]$ ]]; }
is() { [ "$1" = "$2" ]; }
# A 200 stream that stayed open: curl timed out (28) after the greeting.
# A stream never ends, so each such row takes all of STREAM_MT: 3 s, so that
# a stall of a second on a busy box (a lane partner, a broker booting) does
# not turn the answer into 000.
STREAM_MT=3
is_stream() { [ "$1" = 200 ] && [ "$2" = 28 ] && grep -q '^retry: ' "$D/body"; }

# raw PORT SECS < request: send bytes as they are; the answer goes to
# $D/raw.out. RAW_RC is 124 if the server kept the connection open for
# SECS, RAW_STATUS the status code or "none", RAW_MS the time taken.
raw() {
    local fd t0
    t0=$(date +%s%N)
    if ! exec {fd}<>"/dev/tcp/127.0.0.1/$1"; then
        RAW_RC=1 RAW_STATUS=refused RAW_MS=0
        return
    fi
    cat 1>&"$fd" 2>/dev/null
    timeout "$2" cat <&"$fd" >"$D/raw.out" 2>/dev/null
    RAW_RC=$?
    exec {fd}<&-
    RAW_MS=$((($(date +%s%N) - t0) / 1000000))
    RAW_STATUS=$(head -1 "$D/raw.out" | sed -n 's/^HTTP\/1\.[01] \([0-9][0-9][0-9]\).*/\1/p')
    : "${RAW_STATUS:=none}"
}
raw_hdr() { tr -d '\r' <"$D/raw.out" | sed '/^$/q' | grep -i "^$1:" | head -1 | cut -d' ' -f2-; }

mark_logs
tick
for k in m s f b; do
    check "the watching client of $k gets a first good tick" wait_for 5 got_rate "$LAST_RATE" "$D/w$k.out"
done

# ---- headers past the limit ---------------------------------------------------
big=$(head -c 40000 /dev/zero | tr '\0' a)
code=$(st -H "X-Big: $big" "${URL[m]}$STREAM")
row "a 40 KB header: 4xx (got $code)" m is4xx "$code"
hargs=()
for i in $(seq 2000); do hargs+=(-H "X-H$i: v"); done
code=$(st "${hargs[@]}" "${URL[m]}$STREAM")
row "2,000 small headers: 4xx (got $code)" m is4xx "$code"

# ---- unknown methods ------------------------------------------------------------
allow_get() { is "$1" 405 && [[ $2 == *GET* ]]; }
for meth in FOO PROPFIND TRACE; do
    code=$(st -X "$meth" "${URL[m]}$STREAM")
    allow=$(hdr allow)
    row "$meth on the stream path: 405 with Allow (got $code, Allow: $allow)" m allow_get "$code" "$allow"
    code=$(st -X "$meth" "${URL[m]}/no/such/path")
    row "$meth on an unknown path: 404 (got $code)" m is "$code" 404
done
# curl turns CONNECT into a proxy tunnel: send it raw.
printf 'CONNECT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$STREAM" >"$D/req"
raw "${PORT[m]}" 5 <"$D/req"
allow=$(raw_hdr allow)
row "CONNECT on the stream path: 405 with Allow (got $RAW_STATUS, Allow: $allow)" m allow_get "$RAW_STATUS" "$allow"
printf 'CONNECT /no/such/path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >"$D/req"
raw "${PORT[m]}" 5 <"$D/req"
row "CONNECT on an unknown path: 404 (got $RAW_STATUS)" m is "$RAW_STATUS" 404

# ---- HEAD: a GET without the body, on every GET route ------------------------------
# Raw, with Connection: close, so that any byte after the head would show.
after_head() { tr -d '\r' <"$D/raw.out" | sed '1,/^$/d' | wc -c; }
head_ok() { is "$RAW_STATUS" 200 && [ "$RAW_RC" != 124 ] && [ "$(after_head)" = 0 ]; }
subscribed0=$(metric_at m sse_clients_total)
for path in / "$STREAM" /healthz /readyz /metrics; do
    printf 'HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >"$D/req"
    raw "${PORT[m]}" 5 <"$D/req"
    type=$(raw_hdr content-type)
    row "HEAD $path: 200 with no body (got $RAW_STATUS, $(after_head) bytes after the head, $type)" m head_ok
    [ "$path" = "$STREAM" ] && stream_type=$type
done
subscribed1=$(metric_at m sse_clients_total)
check "HEAD of the stream: the stream's Content-Type ($stream_type), and no client subscribed (sse_clients_total $subscribed0 -> $subscribed1)" \
    test "${stream_type%%;*}" = text/event-stream -a "$subscribed0" = "$subscribed1"

# ---- absurd Last-Event-ID values ------------------------------------------------
resets_start=$(metric_at m sse_resets_total)
n_resets=0
# resume_row "desc" reset|live QUERY [curl args...]
resume_row() {
    local what=$1 want=$2 query=$3 r0 r1 code rc
    shift 3
    r0=$(metric_at m sse_resets_total)
    code=$(MT=$STREAM_MT st -N "$@" "${URL[m]}$STREAM$query")
    rc=$?
    r1=$(metric_at m sse_resets_total)
    if [ "$want" = reset ]; then
        n_resets=$((n_resets + 1))
        resume_ok() {
            is_stream "$code" "$rc" && grep -q '^event: reset$' "$D/body" &&
                [ "$(hdr x-ratecast-resume)" = reset ] && [ "$r1" = $((r0 + 1)) ]
        }
    else
        resume_ok() {
            is_stream "$code" "$rc" && ! grep -q '^event: reset' "$D/body" && [ "$r1" = "$r0" ]
        }
    fi
    WHY="status $code, curl rc $rc, sse_resets_total $r0 -> $r1, $(grep -c '^event: reset' "$D/body") reset events"
    row "Last-Event-ID $what: $want, stream stays open, resets +$([ "$want" = reset ] && echo 1 || echo 0)" m resume_ok
}
resume_row "negative (-5)" reset '' -H 'Last-Event-ID: -5'
resume_row "40 digits" reset '' -H 'Last-Event-ID: 1234567890123456789012345678901234567890'
resume_row "text (abc)" reset '' -H 'Last-Event-ID: abc'
resume_row "with spaces (1 2)" reset '' -H 'Last-Event-ID: 1 2'
resume_row "0" reset '' -H 'Last-Event-ID: 0'
resume_row "2^63 (9223372036854775808)" reset '' -H 'Last-Event-ID: 9223372036854775808'
resume_row "empty" live '' -H 'Last-Event-ID;'
resume_row "NUL via the query (last_event_id=%00)" reset '?last_event_id=%00'
resets_end=$(metric_at m sse_resets_total)
check "sse_resets_total grew by the $n_resets absurd ids ($resets_start -> $resets_end)" \
    test "$resets_end" = $((resets_start + n_resets))

# ---- malformed ?pairs= ------------------------------------------------------------
code=$(MT=$STREAM_MT st -N "${URL[m]}$STREAM?pairs=")
rc=$?
row "?pairs= (empty: no filter): 200 stream (got $code)" m is_stream "$code" "$rc"
for q in BTC BTC/ /USD BTC/USD/EUR %00; do
    code=$(st "${URL[m]}$STREAM?pairs=$q")
    row "?pairs=$q: 400 (got $code)" m is "$code" 400
done
p64=$(for i in $(seq 64); do printf 'P%d/USD,' "$i"; done)
code=$(MT=$STREAM_MT st -N "${URL[m]}$STREAM?pairs=${p64%,}")
rc=$?
row "?pairs= with 64 pairs (the limit): 200 stream (got $code)" m is_stream "$code" "$rc"
p70=$(for i in $(seq 70); do printf 'P%d/USD,' "$i"; done)
code=$(st "${URL[m]}$STREAM?pairs=${p70%,}")
row "?pairs= with 70 pairs (over 64): 400 (got $code)" m is "$code" 400
code=$(st "${URL[m]}$STREAM?pairs=$(head -c 2048 /dev/zero | tr '\0' B)/USD")
row "?pairs= of 2 KB: 400 (got $code)" m is "$code" 400
# Past the connection's memory (--conn-memory, 6 KiB) the request line itself is refused.
code=$(st "${URL[m]}$STREAM?pairs=$(head -c 10240 /dev/zero | tr '\0' B)/USD")
row "?pairs= of 10 KB: 414 URI too long (got $code)" m is "$code" 414

# ---- path tricks --------------------------------------------------------------------
not_stream() { is4xx "$1"; }
for path in "$STREAM/../stream" /api/v1/sso/../sso/stream /%2e%2e/ "/%2e%2e$STREAM" "$STREAM%00" "$STREAM%00x"; do
    code=$(MT=2 st --path-as-is "${URL[m]}$path")
    row "path $path: 4xx, not a stream (got $code)" m not_stream "$code"
done
code=$(MT=$STREAM_MT st -N "${URL[m]}$STREAM?x=%00")
rc=$?
row "path $STREAM?x=%00 (exactly the stream path): 200 stream (got $code)" m is_stream "$code" "$rc"
code=$(st "${URL[m]}/$(head -c 100000 /dev/zero | tr '\0' a)")
row "a 100 KB path: 4xx (got $code)" m is4xx "$code"

# ---- slowloris: headers one byte a second (server s: --request-timeout 2s) ----------
# drip FD TEXT: writes TEXT to FD a byte a second, in the background (DRIP_PID);
# stops at the first failed write (the server closed the connection).
drip() {
    (
        for ((i = 0; i < ${#2}; i++)); do
            printf '%s' "${2:i:1}" 1>&"$1" 2>/dev/null || exit 0
            sleep 1
        done
    ) &
    DRIP_PID=$!
    IT_PIDS+=("$DRIP_PID")
}
req="GET $STREAM HTTP/1.1"$'\r\n'"Host: 127.0.0.1"$'\r\n'"User-Agent: slowloris"$'\r\n'"X-Padding: $(printf '%*s' 40 '' | tr ' ' p)"$'\r\n\r\n'
exec {slow}<>"/dev/tcp/127.0.0.1/${PORT[s]}"
drip "$slow" "$req"
writer=$DRIP_PID
t0=$(date +%s%N)
timeout 8 cat <&"$slow" >"$D/slowloris.out" 2>/dev/null &
reader=$!
IT_PIDS+=("$reader")
sleep 1
# Meanwhile other clients are served.
during_health=$(curl -s --max-time 2 "${URL[s]}/healthz")
tick
wait_for 3 got_rate "$LAST_RATE" "$D/ws.out"
during_event=$?
wait "$reader"
slow_rc=$?
slow_ms=$((($(date +%s%N) - t0) / 1000000))
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
exec {slow}<&-
slow_ok() {
    WHY="closed: $([ "$slow_rc" = 124 ] && echo "no, still open after 8 s" || echo "after $slow_ms ms"); healthz meanwhile: '$during_health'; watcher got an event meanwhile: $([ "$during_event" = 0 ] && echo yes || echo no)"
    [ "$slow_rc" != 124 ] && [ "$slow_ms" -le 4500 ] && [ "$during_health" = ok ] && [ "$during_event" = 0 ] &&
        ! grep -q '^HTTP/1.1 200' "$D/slowloris.out"
}
row "slowloris (1 byte/s): cut off by --request-timeout 2s within ~4 s ($([ "$slow_rc" = 124 ] && echo "still open after 8 s" || echo "closed after $slow_ms ms")), others served meanwhile" s slow_ok

# ---- keep-alive (server s: --request-timeout 2s) ------------------------------------
# Requests answered at once keep their connection for the next one; an idle
# kept-alive connection holds no slot for long: the next request's headers
# are on the --request-timeout clock like the first one's.
curl -sv -o /dev/null "${URL[s]}/healthz" -o /dev/null "${URL[s]}/metrics" -o /dev/null "${URL[s]}/nope" 2>"$D/keepalive.err"
kept_ok() {
    WHY="$(grep -c 'Re-using existing connection' "$D/keepalive.err") reuses, $(grep -ci '^< connection: close' "$D/keepalive.err") 'Connection: close'"
    [ "$(grep -c 'Re-using existing connection' "$D/keepalive.err")" = 2 ] &&
        ! grep -qi '^< connection: close' "$D/keepalive.err" &&
        [ "$(grep -c '^< HTTP/1.1 ' "$D/keepalive.err")" = 3 ]
}
row "keep-alive: /healthz, /metrics and a 404 on one connection, none with 'Connection: close'" s kept_ok
exec {ka}<>"/dev/tcp/127.0.0.1/${PORT[s]}"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$ka"
t0=$(date +%s%N)
timeout 8 cat <&"$ka" >"$D/keepalive-idle.out" 2>/dev/null
ka_rc=$?
ka_ms=$((($(date +%s%N) - t0) / 1000000))
exec {ka}<&-
# Whichever closes it first (libmicrohttpd's idle timeout, also
# --request-timeout, or the header deadline's sweep), it is gone in time.
idle_ok() {
    WHY="answer '$(head -1 "$D/keepalive-idle.out" | tr -d '\r')'"
    grep -q '^HTTP/1.1 200' "$D/keepalive-idle.out" && [ "$ka_rc" != 124 ] && [ "$ka_ms" -le 4500 ]
}
row "an idle kept-alive connection: answered, then closed by --request-timeout 2s within ~4 s ($([ "$ka_rc" = 124 ] && echo "still open after 8 s" || echo "after $ka_ms ms"))" s idle_ok

# The second request of a kept-alive connection sent a byte a second: each
# byte restarts libmicrohttpd's idle timeout, so only the header deadline,
# restarted when the first request completed, can cut it.
req2="GET /healthz HTTP/1.1"$'\r\n'"Host: 127.0.0.1"$'\r\n'"X-Padding: $(printf '%*s' 30 '' | tr ' ' p)"$'\r\n\r\n'
cut0=$(metric_at s sse_http_request_timeouts_total)
exec {ka}<>"/dev/tcp/127.0.0.1/${PORT[s]}"
timeout 8 cat <&"$ka" >"$D/keepalive-slow.out" 2>/dev/null &
reader=$!
IT_PIDS+=("$reader")
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$ka"
sleep 0.3
drip "$ka" "$req2"
writer=$DRIP_PID
t0=$(date +%s%N)
wait "$reader"
ka_rc=$?
ka_ms=$((($(date +%s%N) - t0) / 1000000))
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
exec {ka}<&-
cut1=$(metric_at s sse_http_request_timeouts_total)
slow2_ok() {
    WHY="$(grep -c '^HTTP/1.1 200' "$D/keepalive-slow.out") answers, sse_http_request_timeouts_total $cut0 -> $cut1"
    [ "$ka_rc" != 124 ] && [ "$ka_ms" -le 4500 ] && [ "$(grep -c '^HTTP/1.1 200' "$D/keepalive-slow.out")" = 1 ] &&
        [ "$cut1" = $((cut0 + 1)) ]
}
row "a kept-alive connection's second request at 1 byte/s: the first answered, the second cut by the header deadline (--request-timeout 2s) within ~4 s and counted ($([ "$ka_rc" = 124 ] && echo "still open after 8 s" || echo "closed after $ka_ms ms"))" s slow2_ok

# ---- garbage instead of HTTP (server s) ---------------------------------------------
# 505 is the right answer to a request line naming HTTP/2.0.
garbage_ok() { [ "$RAW_RC" != 124 ] && { [[ $RAW_STATUS == none || $RAW_STATUS == 505 ]] || is4xx "$RAW_STATUS"; }; }
garbage_row() {
    raw "${PORT[s]}" 6 <"$D/req"
    local got="answer $RAW_STATUS, closed after $RAW_MS ms"
    [ "$RAW_RC" = 124 ] && got="answer $RAW_STATUS, still open after 6 s"
    row "$1: a 4xx or closed, never served ($got)" s garbage_ok
}
head -c 4096 /dev/urandom >"$D/req"
garbage_row "4 KB from /dev/urandom"
{
    # A TLS 1.2 ClientHello record: handshake header, client version,
    # random, session id, cipher suites, compression, SNI extension.
    printf '\x16\x03\x01\x00\x5e\x01\x00\x00\x5a\x03\x03'
    head -c 32 /dev/zero | tr '\0' '\x5a'
    printf '\x20'
    head -c 32 /dev/zero | tr '\0' '\x33'
    printf '\x00\x04\x13\x01\xc0\x2f\x01\x00\x00\x0e\x00\x00\x00\x0a\x00\x08\x00\x00\x05local'
} >"$D/req"
garbage_row "a TLS ClientHello"
printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' >"$D/req"
garbage_row "the HTTP/2 preface"
printf '\r\n\r\n' >"$D/req"
garbage_row "a bare CRLF CRLF"

# ---- a connection flood past --max-clients (server f: 50) ----------------------------
# The watching client is stream 1 of 50.
FPIDS=()
for i in $(seq 49); do
    spawn "$D/f$i.err" curl -sN -o "$D/f$i.out" "${URL[f]}$STREAM"
    FPIDS+=("$SPAWNED")
done
SSE=${URL[f]} wait_for 10 metric_is sse_clients 50 || not_ok "50 streams connect to server f"
rej0=$(metric_at f sse_clients_rejected_total)
XPIDS=()
for i in $(seq 100); do
    spawn "$D/x$i.code" curl -s --max-time 10 -D "$D/x$i.h" -o "$D/x$i.b" -w '%{http_code}' "${URL[f]}$STREAM"
    XPIDS+=("$SPAWNED")
done
health_during=$(curl -s --max-time 5 --retry 3 --retry-connrefused "${URL[f]}/healthz")
wait "${XPIDS[@]}" 2>/dev/null
n503=0 nclosed=0 nother=0 other=
for i in $(seq 100); do
    c=$(cat "$D/x$i.code")
    if [ "$c" = 503 ] && grep -qi '^Retry-After: [0-9]' "$D/x$i.h"; then
        n503=$((n503 + 1))
    elif [ "$c" = 000 ]; then
        nclosed=$((nclosed + 1))
    else
        nother=$((nother + 1)) other+=" $c"
    fi
done
rej1=$(metric_at f sse_clients_rejected_total)
flood_ok() {
    WHY="503+Retry-After: $n503, refused/closed: $nclosed, other:${other:- none}; rejected_total $rej0 -> $rej1; healthz during: '$health_during'"
    [ "$nother" = 0 ] && [ "$n503" -ge 1 ] && [ "$rej1" = $((rej0 + n503)) ] && [ "$health_during" = ok ] &&
        [ "$(curl -s --max-time 2 "${URL[f]}/healthz")" = ok ]
}
row "100 streams past --max-clients 50: each 503 with Retry-After or refused ($n503 x 503, $nclosed closed), counted, /healthz answers" f flood_ok
check "... sse_clients stays at 50" test "$(metric_at f sse_clients)" = 50
tick
all50() {
    got_rate "$LAST_RATE" "$D/wf.out" || return 1
    for i in $(seq 49); do got_rate "$LAST_RATE" "$D/f$i.out" || return 1; done
}
check "... all 50 held streams get the next event" wait_for 5 all50
kill "${FPIDS[@]}" 2>/dev/null
wait "${FPIDS[@]}" 2>/dev/null
check "... the 49 extra streams are released when they leave" wait_for 5 metric_is_at "${URL[f]}" sse_clients 1
code=$(MT=$STREAM_MT st -N "${URL[f]}$STREAM")
rc=$?
row "after the flood, a new stream is accepted again (got $code)" f is_stream "$code" "$rc"

# ---- broadcast tokens ----------------------------------------------------------------
bbody='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":65000.5}'
code=$(st -X POST -H "Authorization: Bearer $TOKEN" -d "$bbody" "${URL[m]}/api/v1/sso/broadcast")
row "POST broadcast without SSE_PUBLISH_TOKEN: 404 (got $code)" m is "$code" 404
bad_token() { # bad_token "desc" [curl args...]
    local what=$1
    shift
    local code
    code=$(st -X POST "$@" -d "$bbody" "${URL[b]}/api/v1/sso/broadcast")
    row "broadcast, $what: 401 (got $code)" b is "$code" 401
}
bad_token "no Authorization"
bad_token "a wrong token" -H "Authorization: Bearer nope"
bad_token "the token minus its last character" -H "Authorization: Bearer ${TOKEN%?}"
bad_token "the token plus a character" -H "Authorization: Bearer ${TOKEN}x"
bad_token "the token in a different case" -H "Authorization: Bearer ${TOKEN^^}"
bad_token "'Bearer' glued to the token" -H "Authorization: Bearer$TOKEN"
bad_token "the bare token, no scheme" -H "Authorization: $TOKEN"
check "... none of the refused broadcasts reached a client" bash -c "! grep -q '65000.5' '$D'/w?.out"
# RFC 9110: the scheme is case-insensitive and may be followed by several
# spaces: these are the right token, written differently.
lbody='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":65000.25}'
code=$(st -X POST -H "Authorization: bearer  $TOKEN" -d "$lbody" "${URL[b]}/api/v1/sso/broadcast")
row "broadcast, 'bearer' in lower case with two spaces (RFC 9110): 202 (got $code)" b is "$code" 202
gbody='{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":65001.75}'
code=$(st -X POST -H "Authorization: Bearer $TOKEN" -d "$gbody" "${URL[b]}/api/v1/sso/broadcast")
bcast_ok() { is "$code" 202 && wait_for 5 grep -qxF "data: $gbody" "$D/wb.out"; }
row "broadcast with the valid token: 202 and the event reaches the client (got $code)" b bcast_ok
check "the token never appears in a server log" bash -c "! grep -qF -e '$TOKEN' -e '${TOKEN%?}' '$D'/*.log"

for k in m s f b; do
    check "sse-server $k is alive at the end" kill -0 "${PID[$k]}"
done
it_done
