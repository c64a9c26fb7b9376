#!/usr/bin/env bash
# Hostile messages on the exchange: every kind of bad body a producer (or an
# attacker with publish rights) can put on the fanout exchange. Each invalid
# body must be dropped and counted exactly once (sse_broker_invalid_messages_total
# +1) with nothing reaching the client; each valid but unusual body must reach
# the client as exactly one well-formed event (id: line, one data: line, blank
# line). After every row the server must be alive and a well-behaved client,
# connected before the hostile message, must get the next good event.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init hostile_broker
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-hostile-broker-$$
D=$IT_DIR

start_sse "$D/sse.log"
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes from the broker"
spawn "$D/w.err" curl -sN -o "$D/w.out" "$SSE/api/v1/sso/stream"
W_PID=$SPAWNED
wait_for 5 grep -qs '^retry: ' "$D/w.out" || bail "the watching client connects"

publish() { amqp-publish --url="$AMQP" -e "$AMQP_EXCHANGE"; }
T='"time":"2026-11-28T02:31:19.5655909Z"'
B='"asset_id_base":"BTC"'
Q='"asset_id_quote":"USD"'
RATE=70000
# good_tick: publish a valid tick with a rate no other row uses; sets GOOD.
good_tick() {
    RATE=$((RATE + 1))
    GOOD="{$T,$B,$Q,\"rate\":$RATE.5}"
    printf '%s' "$GOOD" | publish
}
ndata() { grep -c '^data: ' "$D/w.out"; }
size() { stat -c %s "$D/w.out"; }
# framed FILE: FILE holds only well-formed events (id: digits, then exactly
# one data: line, then a blank line), comments and retry: lines; no CR
# anywhere (an EventSource parser treats a lone CR as a line end). Prints
# the data lines.
framed() {
    ! grep -q $'\r' "$1" || return 1
    awk 'BEGIN { RS = ""; FS = "\n" }
        { meta = 1; for (i = 1; i <= NF; i++) if ($i !~ /^(:|retry: [0-9]+$)/) meta = 0 }
        meta { next }
        NF == 2 && $1 ~ /^id: [0-9]+$/ && $2 ~ /^data: \{.*\}$/ { print substr($2, 7); next }
        { bad = 1 }
        END { exit bad }' "$1"
}

# Each row writes its body to $M, then calls bad or good (not through a
# pipe: a function at the end of a pipeline runs in a subshell and its
# counters would be lost).
M=$D/body

# bad "desc": an invalid body is counted once, nothing reaches the
# client, the server lives and the client gets the next good tick.
bad() {
    local what=$1 inv0 n0 why=""
    inv0=$(metric sse_broker_invalid_messages_total)
    n0=$(ndata)
    publish <"$M" # the hostile body
    good_tick
    if ! wait_for 10 grep -qxF "data: $GOOD" "$D/w.out"; then
        why+=" [the watching client did not get the next good event]"
    fi
    kill -0 "$SSE_PID" 2>/dev/null || why+=" [sse-server died]"
    local inv1 n1
    inv1=$(metric sse_broker_invalid_messages_total)
    n1=$(ndata)
    [ "$inv1" = $((inv0 + 1)) ] || why+=" [invalid counter $inv0 -> $inv1, expected +1]"
    [ "$n1" = $((n0 + 1)) ] || why+=" [client got $((n1 - n0)) events, expected only the good one]"
    kill -0 "$W_PID" 2>/dev/null || why+=" [the watching client was disconnected]"
    if [ -z "$why" ]; then ok "invalid: $what: counted once, nothing delivered, alive, client served"; else
        not_ok "invalid: $what:$why"
        tail -n +$((LOGAT + 1)) "$D/sse.log" | head -3 | cut -c1-300 | sed 's/^/#   log: /'
    fi
    LOGAT=$(wc -l <"$D/sse.log")
}

# good "desc" EXPECTED: a valid body reaches the client as exactly
# one well-formed event whose data is EXPECTED, followed by the good tick.
good() {
    local what=$1 want=$2 inv0 ev0 off why=""
    inv0=$(metric sse_broker_invalid_messages_total)
    ev0=$(metric sse_events_total)
    off=$(size)
    publish <"$M"
    good_tick
    if ! wait_for 10 grep -qxF "data: $GOOD" "$D/w.out"; then
        why+=" [the watching client did not get the next good event]"
    fi
    kill -0 "$SSE_PID" 2>/dev/null || why+=" [sse-server died]"
    tail -c +$((off + 1)) "$D/w.out" >"$D/portion"
    if ! framed "$D/portion" >"$D/portion.data"; then
        why+=" [malformed SSE framing: $(head -c 300 "$D/portion" | od -c | head -5 | tr -s ' ' | tr '\n' ' ')]"
    elif ! diff -q <(printf '%s\n%s\n' "$want" "$GOOD") "$D/portion.data" >/dev/null; then
        why+=" [got data: $(head -c 300 "$D/portion.data" | tr '\n' '|')]"
    fi
    [ "$(metric sse_broker_invalid_messages_total)" = "$inv0" ] || why+=" [counted as invalid]"
    [ "$(metric sse_events_total)" = $((ev0 + 2)) ] || why+=" [sse_events_total did not move by 2]"
    if [ -z "$why" ]; then ok "valid: $what: exactly one well-formed event, alive, client served"; else
        not_ok "valid: $what:$why"
        tail -n +$((LOGAT + 1)) "$D/sse.log" | head -3 | cut -c1-300 | sed 's/^/#   log: /'
    fi
    LOGAT=$(wc -l <"$D/sse.log")
}

# A first good tick: the client is receiving.
LOGAT=$(wc -l <"$D/sse.log")
good_tick
check "the watching client gets a good tick" wait_for 10 grep -qxF "data: $GOOD" "$D/w.out"

# ---- not a JSON object --------------------------------------------------
printf 'not json' >"$M"; bad "not JSON"
printf '[1,2,3]' >"$M"; bad "a JSON array"
printf '"a string"' >"$M"; bad "a JSON string"
printf '' >"$M"; bad "an empty body"

# ---- missing fields -------------------------------------------------------
printf '{%s,%s,"rate":1.5}' "$B" "$Q" >"$M"; bad "missing time"
printf '{%s,%s,"rate":1.5}' "$T" "$Q" >"$M"; bad "missing asset_id_base"
printf '{%s,%s,"rate":1.5}' "$T" "$B" >"$M"; bad "missing asset_id_quote"
printf '{%s,%s,%s}' "$T" "$B" "$Q" >"$M"; bad "missing rate"

# ---- wrong types ----------------------------------------------------------
printf '{"time":1795835057,%s,%s,"rate":1.5}' "$B" "$Q" >"$M"; bad "time as a number"
printf '{%s,"asset_id_base":1,%s,"rate":1.5}' "$T" "$Q" >"$M"; bad "asset_id_base as a number"
printf '{%s,%s,"asset_id_quote":2,"rate":1.5}' "$T" "$B" >"$M"; bad "asset_id_quote as a number"
printf '{%s,%s,%s,"rate":"60000.25"}' "$T" "$B" "$Q" >"$M"; bad "rate as a string"
printf '{%s,%s,%s,"rate":true}' "$T" "$B" "$Q" >"$M"; bad "rate as a bool"
printf '{%s,%s,%s,"rate":null}' "$T" "$B" "$Q" >"$M"; bad "rate null"

# ---- numbers that are not usable rates ------------------------------------
printf '{%s,%s,%s,"rate":1e400}' "$T" "$B" "$Q" >"$M"; bad "rate 1e400 (infinity)"
printf '{%s,%s,%s,"rate":-1e400}' "$T" "$B" "$Q" >"$M"; bad "rate -1e400"
printf '{%s,%s,%s,"rate":NaN}' "$T" "$B" "$Q" >"$M"; bad "rate NaN literal"
printf '{%s,%s,%s,"rate":"NaN"}' "$T" "$B" "$Q" >"$M"; bad "rate \"NaN\" string"
printf '{%s,%s,%s,"rate":-60000.25}' "$T" "$B" "$Q" >"$M"; bad "negative rate"
printf '{%s,%s,%s,"rate":0}' "$T" "$B" "$Q" >"$M"; bad "zero rate"

# ---- size -----------------------------------------------------------------
{
    printf '{%s,%s,%s,"rate":1.5,"pad":"' "$T" "$B" "$Q"
    head -c $((1024 * 1024)) /dev/zero | tr '\0' p
    printf '"}'
} >"$M"
bad "a 1 MiB body"

# ---- NUL bytes (printf keeps them) -----------------------------------------
printf '{%s,"asset_id_base":"BT\0C",%s,"rate":1.5}' "$T" "$Q" >"$M"; bad "a NUL byte inside a string"
printf '{%s,%s,\0%s,"rate":1.5}' "$T" "$B" "$Q" >"$M"; bad "a NUL byte between tokens"
printf '{%s,%s,%s,"rate":1.5}\0' "$T" "$B" "$Q" >"$M"; bad "a NUL byte after the object"
# The escaped form is valid JSON text, but the decoded asset id is
# "BTC<NUL>junk": not 1-32 letters, digits or '_'.
printf '{%s,"asset_id_base":"BTC\\u0000junk",%s,"rate":1.5}' "$T" "$Q" >"$M"; bad "an escaped \\u0000 inside asset_id_base"

# ---- invalid UTF-8 ----------------------------------------------------------
printf '{%s,%s,%s,"rate":1.5,"note":"\xff"}' "$T" "$B" "$Q" >"$M"; bad "invalid UTF-8: lone 0xff"
printf '{%s,%s,%s,"rate":1.5,"note":"\xc0\xaf"}' "$T" "$B" "$Q" >"$M"; bad "invalid UTF-8: overlong 0xc0 0xaf"
printf '{%s,%s,%s,"rate":1.5,"note":"\xed\xa0\x80"}' "$T" "$B" "$Q" >"$M"; bad "invalid UTF-8: surrogate 0xed 0xa0 0x80"
printf '{%s,%s,%s,"rate":1.5,"note":"\xe2\x82"}' "$T" "$B" "$Q" >"$M"; bad "invalid UTF-8: truncated 0xe2 0x82"
printf '{%s,%s,%s,"rate":1.5}\xe2\x82' "$T" "$B" "$Q" >"$M"; bad "invalid UTF-8: truncated 0xe2 0x82 at the very end"

# ---- nesting ----------------------------------------------------------------
# nested N: a tick with an extra field "x" nested N arrays deep.
nested() {
    printf '{%s,%s,%s,"rate":%s,"x":' "$T" "$B" "$Q" "$2"
    printf '%*s' "$1" '' | tr ' ' '['
    printf '%*s' "$1" '' | tr ' ' ']'
    printf '}'
}
# Within cJSON's nesting limit (1000 levels, the object included): delivered.
want=$(nested 998 7.25)
nested 998 7.25 >"$M"
good "an extra field nested 998 arrays deep (999 levels)" "$want"
# 1,000 arrays in the extra field (1,001 levels): past the parser's limit.
nested 1000 7.5 >"$M"
bad "an extra field nested 1,000 deep"
nested 100000 7.75 >"$M"
bad "an extra field nested 100,000 deep"
{
    printf '%*s' 100000 '' | tr ' ' '{' | sed 's/{/{"a":/g'
    printf '1'
    printf '%*s' 100000 '' | tr ' ' '}'
} >"$M"
bad "100,000 nested objects"

# ---- semantics --------------------------------------------------------------
printf '{%s,%s,%s,"rate":1.5,"rate":2.5}' "$T" "$B" "$Q" >"$M"; bad "duplicate keys (rate twice)"
printf '{%s,%s,%s,"asset_id_base":"ETH","rate":1.5}' "$T" "$B" "$Q" >"$M"; bad "duplicate keys (asset_id_base twice)"
printf '{"time":"2026-11-28T02:31:19.5655909",%s,%s,"rate":1.5}' "$B" "$Q" >"$M"; bad "time without Z"
printf '{"time":"2026-13-28T02:31:19.5655909Z",%s,%s,"rate":1.5}' "$B" "$Q" >"$M"; bad "time with month 13"
printf '{%s,"asset_id_base":"%s",%s,"rate":1.5}' "$T" "$(printf '%*s' 33 '' | tr ' ' A)" "$Q" >"$M"; bad "asset_id_base of 33 characters"
printf '{%s,"asset_id_base":"BTC/USD",%s,"rate":1.5}' "$T" "$Q" >"$M"; bad "asset_id_base with '/'"
printf '{%s,%s,"asset_id_quote":"US/D","rate":1.5}' "$T" "$B" >"$M"; bad "asset_id_quote with '/'"

# ---- valid bodies that must not break the SSE framing -----------------------
printf '{\n"time"\r\n:\r"2026-11-28T02:31:19.5655909Z"\n,\r\n%s ,\n%s,\r"rate"\n:\r\n8.125\n}\r\n' "$B" "$Q" >"$M"
good "raw newlines and CRs between tokens" "{$T,$B,$Q,\"rate\":8.125}"
printf '{%s,%s,%s,"rate":9.125,"note":"a\\nb\\rc\\r\\n"}' "$T" "$B" "$Q" >"$M"
good "escaped \\n and \\r inside a string field" "{$T,$B,$Q,\"rate\":9.125,\"note\":\"a\\nb\\rc\\r\\n\"}"
printf '{%s,%s,%s,"rate":10.125,"note":"x\\u000ay\\u000dz"}' "$T" "$B" "$Q" >"$M"
good "\\u000a and \\u000d escapes inside a string field" "{$T,$B,$Q,\"rate\":10.125,\"note\":\"x\\ny\\rz\"}"

check "the server is alive at the end" kill -0 "$SSE_PID"
check "the watching client stayed connected throughout" kill -0 "$W_PID"
framed "$D/w.out" >"$D/all.data"
check "the whole stream the client saw is well-formed" test $? = 0
check "invalid messages are logged with a reason" grep -q 'invalid message dropped.*not valid JSON' "$D/sse.log"

it_done
