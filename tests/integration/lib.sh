# Shared helpers for the integration tests (bash). Source it, then call
# `it_init NAME`. Every process a test starts goes through `spawn`, and the
# EXIT trap ends exactly those (by pid). Checks print TAP-like lines that
# tests/run-tests counts: "ok - ..." / "not ok - ...".

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$TOP/${RC_BIN:-bin}
IT_PIDS=()
IT_MORE_BROKERS=()
IT_FAILS=0
IT_CHECKS=0

it_init() {
    IT_NAME=$1
    IT_DIR=$(mktemp -d "/tmp/ratecast-$IT_NAME.XXXXXX")
    trap it_cleanup EXIT
}

it_cleanup() {
    local pid port
    for pid in "${IT_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${IT_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    # IT_OWN_BROKER: the port of a test's own broker; IT_MORE_BROKERS: any
    # further ones it starts (all under $IT_DIR/run).
    for port in ${IT_OWN_BROKER:-} "${IT_MORE_BROKERS[@]}"; do
        RABBITMQ_PORT=$port RATECAST_RUN_DIR=$IT_DIR/run "$TOP/scripts/rabbitmq-local" stop >/dev/null 2>&1 || true
    done
    if [ "$IT_FAILS" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
        rm -rf "$IT_DIR"
    else
        echo "# logs kept in $IT_DIR"
    fi
}

ok() { IT_CHECKS=$((IT_CHECKS + 1)); echo "ok - $*"; }
not_ok() { IT_CHECKS=$((IT_CHECKS + 1)); IT_FAILS=$((IT_FAILS + 1)); echo "not ok - $*"; }
# check "description" command...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# Stop at once: the remaining checks cannot run.
bail() { not_ok "$*"; exit 1; }

it_done() {
    # Secrets never reach our logs: the broker password (tests use guest)
    # appears only redacted. Broker logs are the broker's, not ours.
    local leaks
    leaks=$(grep -l 'guest:guest@' "$IT_DIR"/*.log 2>/dev/null | grep -v '/broker[^/]*\.log$')
    if [ -n "$leaks" ]; then not_ok "no broker password in our logs (found in: $leaks)"; else ok "no broker password in our logs"; fi
    echo "# $IT_NAME: $((IT_CHECKS - IT_FAILS)) of $IT_CHECKS checks passed"
    [ "$IT_FAILS" -eq 0 ]
}

# spawn LOG cmd...: start cmd in the background, output to LOG; sets SPAWNED.
spawn() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    SPAWNED=$!
    IT_PIDS+=("$SPAWNED")
}

# now_ms: the wall clock in milliseconds (bash's EPOCHREALTIME, no fork), for
# elapsed times: $SECONDS counts whole seconds, so a difference of two reads
# of it is off by up to a second.
now_ms() { local us=${EPOCHREALTIME//[!0-9]/}; echo $((10#$us / 1000)); }

# wait_for SECONDS cmd...: poll cmd every 0.1 s until it succeeds; false once
# SECONDS (may be fractional: 0.5, 2.5) have passed, to the millisecond.
wait_for() {
    local whole=${1%%.*} frac
    frac=${1#"$whole"}
    frac=${frac#.}000
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + (10#${whole:-0} * 1000 + 10#${frac:0:3}) * 1000))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# The broker: the one tests/run-tests started (RC_TEST_AMQP_URL), or our own.
it_broker() {
    if [ -n "${RC_TEST_AMQP_URL:-}" ]; then
        AMQP=$RC_TEST_AMQP_URL
        return
    fi
    IT_OWN_BROKER=${RC_TEST_RABBITMQ_PORT:-5961}
    AMQP=$(RABBITMQ_PORT=$IT_OWN_BROKER RATECAST_RUN_DIR=$IT_DIR/run "$TOP/scripts/rabbitmq-local" start) ||
        bail "start a private broker on port $IT_OWN_BROKER"
}

# start_sse LOG [args...]: sse-server on a free port; sets SSE_PID, SSE_PORT, SSE.
start_sse() {
    local log=$1
    shift
    spawn "$log" "$BIN/sse-server" --listen 127.0.0.1:0 "$@"
    SSE_PID=$SPAWNED
    wait_for 10 grep -q 'listening on port' "$log" || bail "sse-server starts ($(tail -3 "$log"))"
    SSE_PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log" | head -1)
    SSE=http://127.0.0.1:$SSE_PORT
}

# start_fake LOG [args...]: fake-coinapi on a free port; sets FAKE_PID, FAKE.
start_fake() {
    local log=$1
    shift
    "$BIN/fake-coinapi" --port 0 "$@" >"$log.port" 2>"$log" &
    FAKE_PID=$!
    IT_PIDS+=("$FAKE_PID")
    wait_for 10 test -s "$log.port" || bail "fake-coinapi starts ($(tail -3 "$log"))"
    FAKE=http://127.0.0.1:$(head -1 "$log.port")
}

# fsum LOG KEY: a count from the fetcher's summary line in LOG
# ("summary: scheduled=N skipped=N ... confirmed=N ..."). Tests that are not
# about the schedule take what the fetcher says it fetched and published
# from here instead of assuming that no tick was skipped.
fsum() { sed -n "s/.*summary:.* $2=\([0-9]*\).*/\1/p" "$1" | tail -1; }

# json FILE KEY: the first number after "KEY": in a JSON file (bin/sse-load's
# report puts one key per line, and nested objects on one line).
json() { sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -1; }

# metric NAME: the value of one sse-server metric.
metric() { curl -s "$SSE/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# metric_is NAME VALUE: for wait_for, which must re-read the metric each time.
metric_is() { [ "$(metric "$1")" = "$2" ]; }
# metric_is_at URL NAME VALUE: the same against a given server.
metric_is_at() { [ "$(curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }')" = "$3" ]; }
# same_ticks A B: files of tick JSON lines hold the same ticks, in the same
# order per pair. (A tick's pairs are fetched concurrently, so the stand-in's
# journal may list them in any order within a tick; the fetcher publishes
# them in --pairs order.)
same_ticks() { ticks_within "$1" "$2" 0; }

# ticks_within A B N: every tick of A is in B, in the same order per pair, and
# B holds at most N ticks more (N = 0: the same ticks). For a stand-in's
# journal (B) beside what was published (A) when the fetcher gave up on N
# requests (transport=N): the stand-in may still have served, and recorded,
# an answer the fetcher no longer waited for.
ticks_within() {
    local extra=$(($(wc -l <"$2") - $(wc -l <"$1")))
    ((extra >= 0 && extra <= $3)) || return 1
    local pair
    for pair in $(sed -n 's/.*"asset_id_base":"\([^"]*\)","asset_id_quote":"\([^"]*\)".*/\1\/\2/p' "$1" "$2" | sort -u); do
        local sel="\"asset_id_base\":\"${pair%/*}\",\"asset_id_quote\":\"${pair#*/}\""
        # A line only A has ("<") means a tick B never served, or one out of order
        # (pairs of both files: a pair only A has is all "<").
        # (diff's output is taken whole first: a grep -q that stopped early
        # would break diff's pipe, and pipefail would read that as no match.)
        ! grep -q '^<' <<<"$(diff <(grep -F "$sel" "$1") <(grep -F "$sel" "$2"))" || return 1
    done
}

# free_ports FIRST COUNT N: N ports of FIRST..FIRST+COUNT-1 that nobody
# listens on (a test's own fixed range, below the ephemeral range), starting
# at a pid-dependent offset so two runs at once rarely collide.
free_ports() {
    local first=$1 count=$2 n=$3 i p used
    used=$(ss -Hltn | awk '{ sub(/.*:/, "", $4); print $4 }')
    for ((i = 0; i < count && n > 0; i++)); do
        p=$((first + ($$ + i) % count))
        grep -qx "$p" <<<"$used" && continue
        echo "$p"
        n=$((n - 1))
    done
    [ "$n" -eq 0 ]
}
listening() { ss -Hltn "sport = :$1" | grep -q .; }

# ---- Debian's nginx with deploy/nginx/ratecast.conf (nginx_proxy.sh,
# rolling_restart.sh). NGINX, and the test's $D, are set by the caller.

# nginx_cert: a throwaway certificate for 127.0.0.1 in $D/cert.pem and
# $D/key.pem (never committed): clients verify it with --cacert rather than
# skipping verification.
nginx_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$D/key.pem" -out "$D/cert.pem" >"$D/openssl.log" 2>&1
}

# nginx_render NAME render-options...: the committed config rendered with
# the site values given (and the certificate of nginx_cert) into
# $D/NAME/ratecast.conf, and the check that only site values differ from
# the committed file.
nginx_render() {
    local name=$1 conf=$TOP/deploy/nginx/ratecast.conf
    shift
    mkdir -p "$D/$name"
    "$TOP/deploy/nginx/render" --server-name localhost --cert "$D/cert.pem" --key "$D/key.pem" \
        "$@" "$conf" >"$D/$name/ratecast.conf" 2>"$D/render.err" ||
        bail "deploy/nginx/render renders the committed config ($(cat "$D/render.err"))"
    local site='^[<>] *(server [^ ]+ max_fails|listen |server_name |ssl_certificate|proxy_read_timeout |allow )'
    check "the rendered config is the committed one but for the site values" \
        bash -c "! diff '$conf' '$D/$name/ratecast.conf' | grep '^[<>]' | grep -vE '$site'"
}

# nginx_conf NAME [WORKER_CONNECTIONS]: a top-level nginx.conf for $D/NAME
# that includes the rendered $D/NAME/ratecast.conf, with every path nginx
# writes under $D. A proxied stream holds two connections in nginx.
nginx_conf() {
    local dir=$D/$1 t
    mkdir -p "$dir/tmp"
    {
        echo "daemon off;"
        echo "worker_processes 1;"
        # As root, workers would switch to "nobody", who cannot enter $D.
        [ "$(id -u)" = 0 ] && echo "user root;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log info;"
        echo "events { worker_connections ${2:-256}; }"
        echo "http {"
        echo "    access_log $dir/access.log;"
        for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $dir/tmp/$t;"; done
        echo "    include $dir/ratecast.conf;"
        echo "}"
    } >"$dir/nginx.conf"
}
nginx_t() { "$NGINX" -t -q -p "$D/$1/" -c "$D/$1/nginx.conf" -e "$D/$1/error.log"; }
# nginx_spawn NAME: run it (not a daemon) until the test ends.
nginx_spawn() { spawn "$D/nginx-$1.log" "$NGINX" -p "$D/$1/" -c "$D/$1/nginx.conf" -e "$D/$1/error.log"; }
