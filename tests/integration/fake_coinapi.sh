#!/usr/bin/env bash
# Integration test of bin/fake-coinapi, the local CoinAPI stand-in.
#
# Starts the fake on a loopback port (RC_TEST_FAKE_PORT, default 18787) with a
# journal in a temporary directory and checks, with curl, everything other
# tests rely on: the exact 200 shape, the headers, the journal, the 401s, every
# forced mode (by header and by query), the flap cycle, 400/404/405,
# keep-alive, concurrency, /fake/stats, FAKE_COINAPI_KEY, --port 0 and clean shutdown;
# and the all-rates endpoint: its shape, filter_asset_id, a dropped quote, the
# modes on the whole request, the journal of its rates, what it does not fake.
#
# Prints "ok - ..." / "not ok - ..." per check; exits 0 only if all pass.
# Run from the repository top after `make` (bin/fake-coinapi must exist).
set -u
shopt -s extglob

BIN=${FAKE_COINAPI_BIN:-${RC_BIN:-bin}/fake-coinapi}
PORT=${RC_TEST_FAKE_PORT:-18787}
BASE="http://127.0.0.1:$PORT"
KEY="test-key-$$"
RETRY_AFTER=7 # not the default, to prove --retry-after is used
SLOW_MS=500

T=$(mktemp -d "${TMPDIR:-/tmp}/fake_coinapi.XXXXXX")
MAIN_PID=
KEYED_PID=

cleanup() {
    # Only the servers this script started, by pid.
    [ -n "$MAIN_PID" ] && kill "$MAIN_PID" 2>/dev/null
    [ -n "$KEYED_PID" ] && kill "$KEYED_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# ---- reporting --------------------------------------------------------------

FAILS=0
CHECKS=0
ok() {
    CHECKS=$((CHECKS + 1))
    echo "ok - $*"
}
not_ok() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    echo "not ok - $*"
}
expect_eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1"; else
        not_ok "$1"
        echo "#   got:  $2"
        echo "#   want: $3"
    fi
}
expect_match() { # description text extended-regex
    if [[ $2 =~ $3 ]]; then ok "$1"; else
        not_ok "$1"
        echo "#   got:   $2"
        echo "#   regex: $3"
    fi
}
expect_true() { # description command...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# ---- requests ---------------------------------------------------------------

CURL=(curl -s --noproxy '*' -m 10)
WITH_KEY=(-H "X-CoinAPI-Key: $KEY")

# What /fake/stats must say at the end: every counted request goes through
# get() (or adds itself), which notes its status here.
declare -A WANT=([requests]=0 [malformed]=0 [slow]=0 [grouped]=0 [dropped]=0)
for s in 200 400 401 403 404 405 429 500 550; do WANT[$s]=0; done
note_status() {
    WANT[requests]=$((WANT[requests] + 1))
    WANT[$1]=$((${WANT[$1]:-0} + 1))
}

# Every 200 body this script received, to compare with the journal.
RECEIVED=$T/received
: >"$RECEIVED"

# get PATH [curl args...]: sets STATUS and BODY; headers go to $T/headers.
get() {
    local path=$1
    shift
    STATUS=$("${CURL[@]}" -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@" "$BASE$path") ||
        STATUS=000
    BODY=$(cat "$T/body" 2>/dev/null)
    note_status "$STATUS"
    [[ $path == /v1/exchangerate/+([A-Za-z0-9_])?(\?*) ]] && WANT[grouped]=$((WANT[grouped] + 1))
    if [ "$STATUS" != 200 ]; then
        :
    elif [[ $BODY == '{"asset_id_base":'*']}' ]]; then
        group_ticks "$BODY" >>"$RECEIVED"
    else
        printf '%s\n' "$BODY" >>"$RECEIVED"
    fi
}

# group_ticks BODY: the per-pair ticks an all-rates answer stands for, one a
# line (what the journal must hold for it).
group_ticks() {
    local base
    base=$(sed -n 's/^{"asset_id_base":"\([^"]*\)",.*/\1/p' <<<"$1")
    sed 's/^{"asset_id_base":"[^"]*","rates":\[//; s/\]}$//; s/},{/}\n{/g' <<<"$1" |
        sed "s/^{\"time\":\"\([^\"]*\)\",/{\"time\":\"\1\",\"asset_id_base\":\"$base\",/"
}

# Value of a header of the last get() (names are case-insensitive).
header() {
    tr -d '\r' <"$T/headers" | sed -n "s/^$1: *//Ip" | tail -n 1
}

stats() {
    "${CURL[@]}" "$BASE/fake/stats"
}
stat_of() { # stats-json key
    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"
}

now_ns() { date +%s%N; }

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z'
# CoinAPI's exact shape and field order; the rate is captured.
rate_re() {
    printf '^\\{"time":"(%s)","asset_id_base":"%s","asset_id_quote":"%s","rate":([0-9]+\\.[0-9]+)\\}$' \
        "$TIME_RE" "$1" "$2"
}
# An all-rates answer: group_re BASE QUOTE...
group_re() {
    local base=$1 sep= entries=
    shift
    for q in "$@"; do
        entries+="$sep"'\{"time":"'"$TIME_RE"'","asset_id_quote":"'"$q"'","rate":[0-9]+\.[0-9]+\}'
        sep=,
    done
    printf '^\\{"asset_id_base":"%s","rates":\\[%s\\]\\}$' "$base" "$entries"
}
MALFORMED_RE='^\{"time":"'"$TIME_RE"'","asset_id_base":"BTC","asset_id_quote":"USD","rate":[0-9.]+$'

# ok, malformed, or the status: how flap steps are told apart.
classify() {
    if [ "$STATUS" != 200 ]; then
        echo "$STATUS"
    elif [[ $BODY =~ $(rate_re '[A-Z0-9_]+' '[A-Z0-9_]+') ]]; then
        echo ok
    else
        echo malformed
    fi
}

# wait_ready PID LOG: 0 once that process has logged that it listens, 1 if it
# died or 5 s passed. Its own log, not a probe of the port: another process
# already on the port would answer a probe and fool the test.
wait_ready() {
    for _ in $(seq 50); do
        grep -q ' listening on ' "$2" 2>/dev/null && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---- start ------------------------------------------------------------------

if [ ! -x "$BIN" ]; then
    echo "not ok - $BIN exists (run make first)"
    exit 1
fi

JOURNAL=$T/journal
"$BIN" --port "$PORT" --journal "$JOURNAL" --retry-after "$RETRY_AFTER" \
    --slow "${SLOW_MS}ms" --seed 1 >"$T/main.out" 2>"$T/main.log" &
MAIN_PID=$!
if ! wait_ready "$MAIN_PID" "$T/main.log"; then
    not_ok "fake-coinapi starts on 127.0.0.1:$PORT (set RC_TEST_FAKE_PORT if it is taken)"
    sed 's/^/#   /' "$T/main.log"
    exit 1
fi
ok "fake-coinapi starts on 127.0.0.1:$PORT"
expect_match "start-up log names the address and mode" "$(cat "$T/main.log")" \
    "listening on http://127\.0\.0\.1:$PORT mode=ok"
listeners=$(ss -Hltn "sport = :$PORT" 2>/dev/null | awk '{print $4}')
expect_eq "listens on loopback only" "$listeners" "127.0.0.1:$PORT"

# ---- 200 --------------------------------------------------------------------

get /v1/exchangerate/BTC/USD "${WITH_KEY[@]}"
expect_eq "200 for BTC/USD with a key" "$STATUS" 200
expect_match "200 body has CoinAPI's exact shape and field order" "$BODY" "$(rate_re BTC USD)"
[[ $BODY =~ $(rate_re BTC USD) ]]
time1=${BASH_REMATCH[1]:-}
rate1=${BASH_REMATCH[2]:-0}
expect_true "rate is > 0 and near 60000" awk -v r="$rate1" 'BEGIN { exit !(r > 40000 && r < 80000) }'
digits=$(tr -d '.' <<<"$rate1" | sed 's/^0*//')
expect_true "rate has more significant digits than a double (${#digits})" [ "${#digits}" -gt 17 ]
skew=$(($(date -u +%s) - $(date -u -d "$time1" +%s 2>/dev/null || echo 0)))
expect_true "time is the current UTC time (skew ${skew}s)" [ "${skew#-}" -le 5 ]
expect_eq "Content-Type" "$(header Content-Type)" "application/json; charset=utf-8"
expect_eq "X-RateLimit-Limit" "$(header X-RateLimit-Limit)" 100000
expect_eq "X-RateLimit-Remaining after the first request" "$(header X-RateLimit-Remaining)" 99999
expect_eq "X-RateLimit-Request-Cost" "$(header X-RateLimit-Request-Cost)" 1
expect_match "X-RateLimit-Reset is a CoinAPI timestamp" "$(header X-RateLimit-Reset)" "^$TIME_RE\$"
expect_eq "journal's last line is the body served" "$(tail -n 1 "$JOURNAL")" "$BODY"

get /v1/exchangerate/BTC/USD "${WITH_KEY[@]}"
[[ $BODY =~ $(rate_re BTC USD) ]]
rate2=${BASH_REMATCH[2]:-}
expect_true "the rate moves between requests ($rate1 -> $rate2)" [ -n "$rate2" -a "$rate1" != "$rate2" ]
expect_eq "X-RateLimit-Remaining counts down" "$(header X-RateLimit-Remaining)" 99998

get /v1/exchangerate/eth/usd "${WITH_KEY[@]}"
expect_match "ids are echoed uppercased" "$BODY" "$(rate_re ETH USD)"
[[ $BODY =~ $(rate_re ETH USD) ]]
expect_true "ETH/USD starts near 3000" awk -v r="${BASH_REMATCH[2]:-0}" 'BEGIN { exit !(r > 2000 && r < 4000) }'

get /v1/exchangerate/Foo_1/bar "${WITH_KEY[@]}"
[[ $BODY =~ $(rate_re FOO_1 BAR) ]]
expect_true "other pairs start near 1" awk -v r="${BASH_REMATCH[2]:-0}" 'BEGIN { exit !(r > 0.5 && r < 2) }'

long=$(printf 'A%.0s' $(seq 32))
get "/v1/exchangerate/$long/USD" "${WITH_KEY[@]}"
expect_eq "a 32-character id is accepted" "$STATUS" 200

# ---- 401 --------------------------------------------------------------------

get /v1/exchangerate/BTC/USD
expect_eq "401 without a key" "$STATUS" 401
expect_match "401 body is CoinAPI's missing-key error" "$BODY" \
    '^\{"error":"You didn.t specify API key or it is incorrectly formatted\.'
expect_eq "no X-RateLimit headers on a 401" "$(header X-RateLimit-Limit)" ""

get /v1/exchangerate/BTC/USD -H 'X-CoinAPI-Key;' # curl's syntax for an empty header
expect_eq "401 with an empty key" "$STATUS" 401

get "/v1/exchangerate/BTC/USD?apikey=$KEY"
expect_eq "401 for a key in the query string (header only)" "$STATUS" 401

# ---- forced modes, by header and by query -----------------------------------

declare -A MODE_BODY=(
    [401]='^\{"error":"Invalid API key"\}$'
    [403]='^\{"title":"Forbidden",.*"error":"Forbidden \(Quota exceeded: Insufficient Usage Credits or Subscription\.\)"'
    [429]='^\{"error":"You have exceeded your API key rate limits"\}$'
    [500]='^\{"message":"An error has occurred\."\}$'
    [550]='^\{"error":"You requested specific single item that we don.t have at this moment\."\}$'
)
for via in header query; do
    for mode in 401 403 429 500 550 malformed; do
        if [ "$via" = header ]; then
            get /v1/exchangerate/BTC/USD "${WITH_KEY[@]}" -H "X-Fake-Mode: $mode"
        else
            get "/v1/exchangerate/BTC/USD?fake=$mode" "${WITH_KEY[@]}"
        fi
        if [ "$mode" = malformed ]; then
            WANT[malformed]=$((WANT[malformed] + 1))
            expect_eq "mode malformed by $via: status 200" "$STATUS" 200
            expect_match "mode malformed by $via: body is cut short" "$BODY" "$MALFORMED_RE"
            expect_eq "mode malformed by $via: journalled as served" "$(tail -n 1 "$JOURNAL")" "$BODY"
            continue
        fi
        expect_eq "mode $mode by $via: status" "$STATUS" "$mode"
        expect_match "mode $mode by $via: body" "$BODY" "${MODE_BODY[$mode]}"
        if [ "$mode" = 429 ]; then
            expect_eq "mode 429 by $via: Retry-After" "$(header Retry-After)" "$RETRY_AFTER"
            expect_eq "mode 429 by $via: X-RateLimit-Remaining 0" \
                "$(header X-RateLimit-Remaining)" 0
        fi
    done
done

t0=$(now_ns)
get "/v1/exchangerate/BTC/USD?fake=slow" "${WITH_KEY[@]}"
elapsed_ms=$((($(now_ns) - t0) / 1000000))
WANT[slow]=$((WANT[slow] + 1))
expect_true "mode slow waits --slow (${elapsed_ms} ms >= $SLOW_MS)" [ "$elapsed_ms" -ge "$SLOW_MS" ]
expect_match "mode slow then answers normally" "$BODY" "$(rate_re BTC USD)"

get "/v1/exchangerate/BTC/USD?fake=429" "${WITH_KEY[@]}" -H "X-Fake-Mode: 500"
expect_eq "the query parameter wins over the header" "$STATUS" 429

get "/v1/exchangerate/BTC/USD?fake=bogus" "${WITH_KEY[@]}"
expect_eq "400 for an unknown mode" "$STATUS" 400
expect_match "400 body names the modes" "$BODY" '^\{"error":"Unknown fake mode .*flap, huge, wrongpair"\}$'

# ---- all current rates: GET /v1/exchangerate/{BASE} --------------------------

before=$(wc -l <"$JOURNAL")
get '/v1/exchangerate/btc?filter_asset_id=USD,eur;ETH' "${WITH_KEY[@]}"
expect_eq "all rates: 200" "$STATUS" 200
expect_match "all rates: CoinAPI's shape, the quotes asked (commas and semicolons), uppercased" \
    "$BODY" "$(group_re BTC USD EUR ETH)"
expect_eq "all rates: X-RateLimit-Request-Cost 1 (no limit parameter)" "$(header X-RateLimit-Request-Cost)" 1
expect_eq "all rates: each rate journalled as the per-pair tick it stands for" \
    "$(tail -n +$((before + 1)) "$JOURNAL")" "$(group_ticks "$BODY")"
expect_eq "all rates: 3 journal lines, each a per-pair body" \
    "$(tail -n +$((before + 1)) "$JOURNAL" | grep -cE "$(rate_re BTC '(USD|EUR|ETH)')")" 3
[[ $BODY =~ \"rate\":([0-9.]+) ]]
expect_true "all rates: BTC/USD walks on from the per-pair endpoint's rate (${BASH_REMATCH[1]:-})" \
    awk -v r="${BASH_REMATCH[1]:-0}" 'BEGIN { exit !(r > 40000 && r < 80000) }'

get /v1/exchangerate/ETH "${WITH_KEY[@]}"
expect_match "all rates without filter_asset_id: a fixed handful, the base left out" \
    "$BODY" "$(group_re ETH USD EUR GBP JPY USDT BTC)"
get '/v1/exchangerate/BTC?filter_asset_id=' "${WITH_KEY[@]}"
expect_match "an empty filter_asset_id is no filter" "$BODY" "$(group_re BTC USD EUR GBP JPY USDT ETH)"
get '/v1/exchangerate/BTC?filter_asset_id=USD,USD' "${WITH_KEY[@]}"
expect_match "a quote named twice is served once" "$BODY" "$(group_re BTC USD)"

get '/v1/exchangerate/BTC?filter_asset_id=USD,EUR,ETH&fake_drop=EUR' "${WITH_KEY[@]}"
WANT[dropped]=$((WANT[dropped] + 1))
expect_match "fake_drop=EUR leaves EUR out" "$BODY" "$(group_re BTC USD ETH)"
get '/v1/exchangerate/BTC?filter_asset_id=USD,EUR' "${WITH_KEY[@]}" -H 'X-Fake-Drop: usd'
WANT[dropped]=$((WANT[dropped] + 1))
expect_match "X-Fake-Drop: usd leaves USD out (ids compared as CoinAPI does, case aside)" "$BODY" "$(group_re BTC EUR)"
get '/v1/exchangerate/BTC/EUR?fake_drop=EUR' "${WITH_KEY[@]}"
expect_match "the per-pair endpoint drops nothing" "$BODY" "$(rate_re BTC EUR)"

for mode in 401 403 429 500 550; do
    get "/v1/exchangerate/BTC?filter_asset_id=USD,EUR&fake=$mode" "${WITH_KEY[@]}"
    expect_eq "all rates, mode $mode: the whole request gets $mode" "$STATUS" "$mode"
    expect_match "all rates, mode $mode: CoinAPI's body" "$BODY" "${MODE_BODY[$mode]}"
    [ "$mode" = 429 ] && expect_eq "all rates, mode 429: Retry-After" "$(header Retry-After)" "$RETRY_AFTER"
done
get '/v1/exchangerate/BTC?filter_asset_id=USD,EUR' "${WITH_KEY[@]}" -H 'X-Fake-Mode: malformed'
WANT[malformed]=$((WANT[malformed] + 1))
expect_match "all rates, mode malformed: a 200 cut inside the last rate" "$BODY" \
    '^\{"asset_id_base":"BTC","rates":\[\{"time":"[^"]*","asset_id_quote":"USD","rate":[0-9.]+\},\{"time":"[^"]*","asset_id_quote":"EUR","rate":[0-9.]+$'
expect_eq "all rates, mode malformed: journalled as sent" "$(tail -n 1 "$JOURNAL")" "$BODY"
get /v1/exchangerate/BTC
expect_eq "all rates without a key: 401" "$STATUS" 401

for bad in 'invert=true' 'time=2024-01-01T00:00:00' 'filter_asset_id=US-D' 'filter_asset_id=USD,,EUR'; do
    get "/v1/exchangerate/BTC?$bad" "${WITH_KEY[@]}"
    expect_eq "all rates: 400 for $bad" "$STATUS" 400
    case $bad in
    invert* | time*) expect_match "... saying it is not faked" "$BODY" 'this stand-in does not fake' ;;
    esac
done
many=$(for i in $(seq 65); do printf 'Q%d,' "$i"; done)
get "/v1/exchangerate/BTC?filter_asset_id=${many%,}" "${WITH_KEY[@]}"
expect_eq "all rates: 400 for 65 quotes (64 at most)" "$STATUS" 400
get '/v1/exchangerate/BTC?invert=false&filter_asset_id=USD' "${WITH_KEY[@]}"
expect_eq "all rates: invert=false is fine" "$STATUS" 200

# ---- 400, 404, 405 ----------------------------------------------------------

for bad in 'B-C/USD' "BTC/${long}B" '/USD' 'BTC/'; do
    get "/v1/exchangerate/$bad" "${WITH_KEY[@]}"
    expect_eq "400 for asset ids '$bad'" "$STATUS" 400
    expect_match "400 body for '$bad' is an error" "$BODY" '^\{"error":".+"\}$'
done

for path in /nope /v1/exchangerate/BTC/USD/EUR /fake/stats/x; do
    get "$path" "${WITH_KEY[@]}"
    expect_eq "404 for $path" "$STATUS" 404
    expect_match "404 body for $path is an error" "$BODY" '^\{"error":".+"\}$'
done

for method in POST DELETE; do
    get /v1/exchangerate/BTC/USD "${WITH_KEY[@]}" -X "$method" -d 'x=1'
    expect_eq "405 for $method" "$STATUS" 405
    expect_eq "405 for $method names GET in Allow" "$(header Allow)" GET
done

# ---- flap -------------------------------------------------------------------

seen=()
for _ in $(seq 16); do
    get "/v1/exchangerate/BTC/USD?fake=flap" "${WITH_KEY[@]}"
    step=$(classify)
    seen+=("$step")
    [ "$step" = malformed ] && WANT[malformed]=$((WANT[malformed] + 1))
done
cycle="ok 500 ok 429 ok 550 ok malformed"
expect_eq "flap cycles deterministically" "${seen[*]}" "$cycle $cycle"
get /v1/exchangerate/BTC/USD "${WITH_KEY[@]}" -H "X-Fake-Mode: flap"
expect_eq "flap by header continues the same cycle" "$(classify)" ok

# ---- keep-alive and concurrency ---------------------------------------------

conns=$("${CURL[@]}" "${WITH_KEY[@]}" -w '%{num_connects} ' -o "$T/ka1" -o "$T/ka2" \
    "$BASE/v1/exchangerate/BTC/USD" "$BASE/v1/exchangerate/ETH/USD")
for f in ka1 ka2; do
    note_status 200
    cat "$T/$f" >>"$RECEIVED" && echo >>"$RECEIVED"
done
expect_eq "a second request reuses the connection (new connections per request)" "$conns" "1 0 "

# One curl opens the 4 connections at once (--parallel-immediate), so the
# requests arrive within milliseconds of each other, far inside the
# $SLOW_MS ms each is held; the stand-in counts how many it held at once
# (a server serving one at a time: 1). The time is printed, not judged: it
# also counts process starts on a busy machine.
t0=$(now_ns)
slow_url="$BASE/v1/exchangerate/BTC/USD?fake=slow"
"${CURL[@]}" "${WITH_KEY[@]}" --parallel --parallel-immediate --parallel-max 4 -w '%{http_code}\n' \
    -o "$T/par1" "$slow_url" -o "$T/par2" "$slow_url" -o "$T/par3" "$slow_url" -o "$T/par4" "$slow_url" \
    >"$T/par.status"
elapsed_ms=$((($(now_ns) - t0) / 1000000))
statuses=
while read -r st; do
    statuses+="$st "
    note_status "$st"
    WANT[slow]=$((WANT[slow] + 1))
done <"$T/par.status"
for i in 1 2 3 4; do
    cat "$T/par$i" >>"$RECEIVED" && echo >>"$RECEIVED"
done
expect_eq "4 concurrent slow requests all succeed" "$statuses" "200 200 200 200 "
echo "# the 4 took ${elapsed_ms} ms (one by one: $((4 * SLOW_MS)) ms at least)"
expect_eq "they are served in parallel (4 in flight at once)" "$(stat_of "$(stats)" max_concurrent)" 4

# ---- /fake/stats and the journal --------------------------------------------

s1=$(stats)
s2=$(stats)
expect_eq "/fake/stats does not count itself" "$(stat_of "$s1" requests)" "$(stat_of "$s2" requests)"
for k in requests 200 400 401 403 404 405 429 500 550 malformed slow grouped dropped; do
    expect_eq "/fake/stats \"$k\" matches what this test did" "$(stat_of "$s2" "$k")" "${WANT[$k]}"
done
expect_eq "journal holds exactly the 200 bodies received" \
    "$(sort "$JOURNAL" | md5sum)" "$(sort "$RECEIVED" | md5sum)"
expect_eq "journal line count: one per rate served (an all-rates answer's too)" \
    "$(wc -l <"$JOURNAL")" "$(wc -l <"$RECEIVED")"
expect_true "... more lines than 200 answers: all-rates answers served several" \
    [ "$(wc -l <"$JOURNAL")" -gt "${WANT[200]}" ]

log=$(cat "$T/main.log")
expect_match "non-200 answers are logged at info" "$log" 'info +GET /v1/exchangerate/BTC/USD -> 429 \(mode 429\)'
expect_match "401s are logged with their reason" "$log" '-> 401 \(no key\)'

# ---- shutdown ---------------------------------------------------------------

kill -TERM "$MAIN_PID"
wait "$MAIN_PID"
rc=$?
MAIN_PID=
expect_eq "SIGTERM stops the server with exit status 0" "$rc" 0
expect_match "shutdown is logged" "$(tail -n 1 "$T/main.log")" 'info +stopped$'
expect_true "the key never reaches the log" bash -c "! grep -qF -- '$KEY' '$T/main.log'"

# ---- FAKE_COINAPI_KEY (secrets come from the environment only), --port 0, SIGINT

SECRET="sekrit-$$"
FAKE_COINAPI_KEY=$SECRET "$BIN" --port 0 --log-level debug >"$T/keyed.out" 2>"$T/keyed.log" &
KEYED_PID=$!
kport=
for _ in $(seq 50); do
    kport=$(head -n 1 "$T/keyed.out" 2>/dev/null)
    [ -n "$kport" ] && break
    sleep 0.1
done
expect_match "--port 0 prints the port picked on stdout" "$kport" '^[1-9][0-9]*$'
if [ -n "$kport" ]; then
    kbase="http://127.0.0.1:$kport/v1/exchangerate/BTC/USD"
    expect_eq "FAKE_COINAPI_KEY: the right key gets 200" \
        "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "X-CoinAPI-Key: $SECRET" "$kbase")" 200
    wrong=$("${CURL[@]}" -w ' %{http_code}' -H "X-CoinAPI-Key: not-$SECRET" "$kbase")
    expect_eq "FAKE_COINAPI_KEY: another key gets 401 Invalid API key" "$wrong" '{"error":"Invalid API key"} 401'
    expect_match "FAKE_COINAPI_KEY: the log says the key is fixed, not what it is" \
        "$(cat "$T/keyed.log")" "mode=ok key=fixed "
fi
kill -INT "$KEYED_PID"
wait "$KEYED_PID"
rc=$?
KEYED_PID=
expect_eq "SIGINT stops the server with exit status 0" "$rc" 0
expect_true "the FAKE_COINAPI_KEY value never reaches the log (even at debug)" \
    bash -c "! grep -qF -- '$SECRET' '$T/keyed.log'"
expect_true "--help hides the key" \
    bash -c "FAKE_COINAPI_KEY='$SECRET' '$BIN' --help | grep -q 'secret, never printed' &&
             ! FAKE_COINAPI_KEY='$SECRET' '$BIN' --help | grep -qF -- '$SECRET'"

# ---- bad configuration ------------------------------------------------------

"$BIN" --port "$PORT" --mode nope >/dev/null 2>"$T/bad.log"
rc=$?
expect_eq "an unknown --mode exits 2" "$rc" 2
expect_match "and says why" "$(cat "$T/bad.log")" "invalid --mode 'nope'"

echo "# $((CHECKS - FAILS)) of $CHECKS checks passed"
[ "$FAILS" -eq 0 ]
