#!/usr/bin/env bash
# fetcher against the CoinAPI stand-in: configuration errors, CoinAPI's
# error answers, a broker that is down, and the tick schedule.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init fetcher
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-fetcher-$$
D=$IT_DIR
KEY=sekrit-key-$$
start_fake "$D/fake.log"

run_fetcher() { # LOG args...: run with the stand-in and the key; sets RC
    local log=$1
    shift
    COIN_API_KEY=$KEY COIN_API_URL=$FAKE "$BIN/fetcher" "$@" >"$log" 2>&1
    RC=$?
}

# Configuration errors: exit 2 with a clear line.
env -u COIN_API_KEY "$BIN/fetcher" >"$D/nokey.log" 2>&1
check "no COIN_API_KEY: exit 2" test $? = 2
check "... and the message says how to get a key or run the demo" \
    grep -q 'COIN_API_KEY is not set.*make demo' "$D/nokey.log"
COIN_API_KEY=x "$BIN/fetcher" --coinapi-key "$KEY" >"$D/flagkey.log" 2>&1
check "the key is refused on the command line (visible in ps)" test $? = 2
check "... without echoing it" bash -c "! grep -q '$KEY' '$D/flagkey.log'"
run_fetcher "$D/badint.log" --interval 5
check "a duration without unit is refused: exit 2" test "$RC" = 2
run_fetcher "$D/badpair.log" --pairs BTCUSD
check "a malformed pair is refused: exit 2" test "$RC" = 2
run_fetcher "$D/badurl.log" --coinapi-url ftp://x
check "a non-http CoinAPI URL is refused: exit 2" test "$RC" = 2

# CoinAPI errors: logged with the status and CoinAPI's own text; the loop
# goes on and the run ends normally.
start_fake "$D/fake401.log" --mode 401
run_fetcher "$D/e401.log" --duration 2s --interval 500ms --coinapi-url "$FAKE"
check "401: the run goes on and exits 0" test "$RC" = 0
check "401: all 4 ticks counted as HTTP errors" grep -q 'ticks=4 requests=4 published=0 http_errors=4' "$D/e401.log"
check "401: logged with status and CoinAPI's error text" grep -q 'HTTP 401: .*[Aa][Pp][Ii] key' "$D/e401.log"
start_fake "$D/fake500.log" --mode 500
run_fetcher "$D/e500.log" --duration 1s --interval 500ms --coinapi-url "$FAKE"
check "500 with a {\"message\":...} body: CoinAPI's text is logged" \
    bash -c "grep 'HTTP 500: ' '$D/e500.log' | grep -qv '{'"
start_fake "$D/fakebad.log" --mode malformed
run_fetcher "$D/bad.log" --duration 1s --interval 500ms --coinapi-url "$FAKE"
check "malformed JSON from CoinAPI: dropped and counted" grep -q 'published=0 .*invalid=2' "$D/bad.log"
COIN_API_KEY=$KEY "$BIN/fetcher" --duration 1s --interval 500ms --coinapi-url http://127.0.0.1:1 \
    >"$D/conn.log" 2>&1
check "connection refused: counted as transport errors, exit 0" \
    bash -c "[ $? = 0 ] && grep -q 'transport_errors=2' '$D/conn.log'"

start_fake "$D/fakeok.log"

# Broker down: ticks are counted as failed publishes, the fetcher carries on.
AMQP_URL=amqp://guest:guest@127.0.0.1:1/%2f run_fetcher "$D/nobroker.log" --duration 2s --interval 500ms
check "broker down: exit 0 after the duration" test "$RC" = 0
check "broker down: failed publishes counted, nothing published" \
    grep -q 'published=0 .*publish_failures=4' "$D/nobroker.log"
check "broker down: the reason is logged" grep -q 'cannot connect to 127.0.0.1:1' "$D/nobroker.log"

# Schedule: 10 ticks at 500 ms take about 4.5 s (first tick at once), no drift.
t0=$(date +%s%N)
run_fetcher "$D/sched.log" --duration 5s --interval 500ms --coinapi-url "$FAKE"
ms=$((($(date +%s%N) - t0) / 1000000))
check "--duration 5s --interval 500ms: 10 ticks, all published" grep -q 'ticks=10 requests=10 published=10' "$D/sched.log"
check "... in 4.5 s give or take (took $ms ms)" test "$ms" -ge 4400 -a "$ms" -le 6500

check "the key never appears in any log" bash -c "! grep -rq '$KEY' '$D'"
it_done
