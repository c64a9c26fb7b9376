#!/usr/bin/env bash
# A rolling restart behind nginx: two replicas behind the committed
# deploy/nginx/ratecast.conf (rendered as in nginx_proxy.sh), 500 clients
# streaming through nginx with bin/sse-load --reconnect (a dropped stream
# comes back after 1 s with Last-Event-ID, through nginx, to whichever
# replica nginx picks), a fetcher ticking every 500 ms through the whole
# test. Replica A gets SIGTERM, is started again on its port with the same
# arguments and polled until its /readyz says 200; then the same for B.
# At the end every client must have every tick the fetcher confirmed,
# exactly once, every reconnect must have been served as a replay (the
# restarted replicas fill their rings from the history stream before they
# are ready: each must read back every tick from before its restart), and
# no replica may have answered a resume with a reset.
#
# sse-load speaks plain HTTP only: it streams through the plain listener
# that `render --plain` adds to the TLS server block (the same locations,
# the same upstream and proxy settings as the committed file), not a
# variant of the config.
#
# RC_ROLLING_REPLICA_ARGS: more sse-server arguments, for every start. The
# control: "--history-stream off" (a restarted replica's ring starts empty)
# makes the resumes on a restarted replica resets, and the checks fail.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init rolling_restart
D=$IT_DIR
NGINX=${NGINX:-/usr/sbin/nginx}
CLIENTS=500
[ -x "$NGINX" ] || bail "nginx is installed ($NGINX; make deps installs it)"
command -v openssl >/dev/null || bail "openssl is installed (make deps installs it)"
[ -x "$BIN/sse-load" ] || bail "bin/sse-load is built (make all)"
it_broker
export AMQP_URL=$AMQP
export AMQP_EXCHANGE=test-rolling-$$

# Fixed ports (a replica comes back on its own), from 6400-6449, this
# test's range: below the ephemeral range, so none of the thousand client
# and upstream connections can hold a replica's port while it is down.
ports=$(free_ports 6400 50 5 | xargs) || bail "5 free ports in 6400-6449"
read -r A_PORT B_PORT P_HTTP P_TLS P_PLAIN <<<"$ports"
echo "# ports: replicas $A_PORT $B_PORT, nginx redirect $P_HTTP, tls $P_TLS, plain $P_PLAIN"
A=http://127.0.0.1:$A_PORT B=http://127.0.0.1:$B_PORT
nginx_cert || bail "openssl makes a certificate"

# replica NAME PORT LOG: sse-server on PORT, with the same arguments at
# every start; sets SPAWNED.
read -r -a MORE <<<"${RC_ROLLING_REPLICA_ARGS:-}"
replica() { spawn "$3" "$BIN/sse-server" --listen "127.0.0.1:$2" "${MORE[@]}"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ]; }
# m URL NAME: one metric of one replica.
m() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
# Streams held by both (a replica that does not answer counts 0).
clients() { local a b; a=$(m "$A" sse_clients) b=$(m "$B" sse_clients); echo $((${a:-0} + ${b:-0})); }
all_back() { [ "$(clients)" = "$CLIENTS" ]; }
# ticks: the fetcher's ticks so far (a line each).
ticks() { grep -c 'queued for the broker' "$D/fetcher.log"; }
# after_ticks N: wait (up to 20 s) until the fetcher has ticked N more times.
ticks_at_least() { [ "$(ticks)" -ge "$1" ]; }
after_ticks() { wait_for 20 ticks_at_least $(($(ticks) + $1)); }

start_fake "$D/fake.log"
replica a "$A_PORT" "$D/a1.log"
A_PID=$SPAWNED
replica b "$B_PORT" "$D/b1.log"
B_PID=$SPAWNED
wait_for 15 ready "$A" && wait_for 15 ready "$B" || bail "both replicas ready ($(tail -2 "$D/a1.log" "$D/b1.log"))"

nginx_render main --upstream "127.0.0.1:$A_PORT" --upstream "127.0.0.1:$B_PORT" \
    --http "127.0.0.1:$P_HTTP" --https "127.0.0.1:$P_TLS" --plain "127.0.0.1:$P_PLAIN"
# Each stream holds two connections in nginx: 500 streams need 1,000.
nginx_conf main 2048
nginx_t main 2>"$D/nginx-t.err" || bail "nginx -t accepts the rendered config ($(cat "$D/nginx-t.err"))"
nginx_spawn main
wait_for 5 listening "$P_PLAIN" || bail "nginx listens ($(tail -3 "$D/main/error.log"))"

# Every client subscribes before the fetcher's first tick, so each must
# end with every tick it confirmed.
spawn "$D/load.log" "$BIN/sse-load" --url "http://127.0.0.1:$P_PLAIN/api/v1/sso/stream" \
    --clients $CLIENTS --reconnect --duration 300 --connect-timeout 5 --json "$D/load.json"
LOAD_PID=$SPAWNED
wait_for 30 grep -q "all $CLIENTS clients resolved" "$D/load.log" ||
    bail "sse-load connects its clients ($(tail -2 "$D/load.log"))"
check "$CLIENTS clients stream through nginx ($(grep -o 'resolved in .*streaming)' "$D/load.log"))" \
    grep -q "all $CLIENTS clients resolved .*($CLIENTS streaming)" "$D/load.log"
wait_for 10 all_back || not_ok "both replicas hold the $CLIENTS streams (A $(m "$A" sse_clients), B $(m "$B" sse_clients))"
echo "# nginx spread them: A $(m "$A" sse_clients), B $(m "$B" sse_clients)"
spawn "$D/fetcher.log" env COIN_API_KEY=k COIN_API_URL="$FAKE" "$BIN/fetcher" --interval 500ms --duration 90s
FETCHER=$SPAWNED
after_ticks 4 || bail "the fetcher ticks ($(tail -2 "$D/fetcher.log"))"

# restart NAME URL PORT PID: SIGTERM, start again on PORT, poll /readyz
# (deadline 20 s), then wait until every client is back (sse-load
# reconnects after 1 s). Sets SPAWNED to the new pid and keeps the old
# process's last metrics in $D/NAME1.metrics (its counters die with it).
restart() {
    local name=$1 url=$2 port=$3 pid=$4 t0 t1 t2 rc bf n read_back
    curl -s "$url/metrics" >"$D/${name}1.metrics"
    n=$(ticks) # all in the stream by the time the new process reads it
    t0=$(now_ms)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    t1=$(now_ms)
    check "replica $name: SIGTERM ended its streams and it exited 0 (exit $rc) in $((t1 - t0)) ms" test "$rc" = 0
    replica "$name" "$port" "$D/${name}2.log"
    if wait_for 20 ready "$url"; then
        t2=$(now_ms)
        ok "replica $name started again on port $port: /readyz 200 $((t2 - t1)) ms after the old one exited"
    else
        not_ok "replica $name started again on port $port: /readyz 200 within 20 s ($(tail -2 "$D/${name}2.log"))"
        t2=$(now_ms)
    fi
    bf=$(sed -n 's/.*broker: \(history: .*\)/\1/p' "$D/${name}2.log" | head -1)
    echo "# $name: ${bf:-no history read}"
    # Its ring must hold every tick from before its restart, or a resume
    # from one of them is a reset.
    read_back=$(sed -n 's/^history: \([0-9]*\) events.*/\1/p' <<<"$bf")
    check "replica $name read back every tick from before its restart from the history stream (${read_back:-none} >= $n)" \
        test "${read_back:-0}" -ge "$n"
    if wait_for 20 all_back; then
        echo "# $name: all $CLIENTS streams back $(($(now_ms) - t0)) ms after the SIGTERM (A $(m "$A" sse_clients), B $(m "$B" sse_clients))"
    else
        not_ok "all $CLIENTS streams back within 20 s of replica $name's restart (A $(m "$A" sse_clients), B $(m "$B" sse_clients))"
    fi
}
restart a "$A" "$A_PORT" "$A_PID"
A_PID=$SPAWNED
after_ticks 2 || not_ok "ticks go on between the restarts"
restart b "$B" "$B_PORT" "$B_PID"
B_PID=$SPAWNED
after_ticks 4 || not_ok "ticks go on after the restarts"

# Stop the fetcher (it drains and prints its summary), let the last ticks
# reach every client (the replicas' deliveries stop growing), stop sse-load
# (it reports on SIGINT).
kill -TERM "$FETCHER"
wait "$FETCHER"
deliveries() { m "$A" sse_deliveries_total; m "$B" sse_deliveries_total; }
quiet() {
    local d
    d=$(deliveries)
    sleep 1
    [ "$(deliveries)" = "$d" ]
}
wait_for 10 quiet || not_ok "deliveries settle after the fetcher stopped"
kill -INT "$LOAD_PID"
wait "$LOAD_PID"
wait_for 5 test -s "$D/load.json" || bail "sse-load reports ($(tail -3 "$D/load.log"))"
for r in a b; do curl -s "$([ $r = a ] && echo "$A" || echo "$B")/metrics" >"$D/${r}2.metrics"; done

# ---- what the fetcher published ------------------------------------------
S=$(grep -o 'summary: .*' "$D/fetcher.log" | tail -1)
echo "# fetcher $S"
N=$(fsum "$D/fetcher.log" fetched)
check "the fetcher confirmed every tick it fetched ($N), none unsent" \
    bash -c "[ '$(fsum "$D/fetcher.log" confirmed)' = '${N:-x}' ] && [ '$(fsum "$D/fetcher.log" unsent)' = 0 ] && [ '${N:-0}' -ge 10 ]"

# ---- what the clients got -------------------------------------------------
J=$D/load.json
jline() { grep -m1 "\"$1\"" "$J" | sed 's/^ *//; s/,$//'; }
echo "# sse-load: $(jline connected) $(jline disconnected) $(jline reconnects) $(jline reconnect_failures) $(jline non_200)"
echo "# sse-load: $(jline events_per_client) $(jline duplicates) $(jline missed_events) $(jline latency_ms)"
epc=$(sed -n 's/.*"events_per_client": {"min": \([0-9]*\), "avg": [0-9.]*, "max": \([0-9]*\)}.*/\1 \2/p' "$J")
check "every client got every tick exactly once: events per client min/max $epc = $N" test "$epc" = "${N:-x} ${N:-x}"
check "... no duplicate, none out of order ($(json "$J" duplicates))" test "$(json "$J" duplicates)" = 0
check "... none missed ($(json "$J" missed_events))" test "$(json "$J" missed_events)" = 0
check "... all $CLIENTS streams open at the end ($(json "$J" connected))" test "$(json "$J" connected)" = $CLIENTS
check "... no status but 200 ($(jline non_200))" grep -q '"non_200": {}' "$J"
R=$(json "$J" reconnects)
# A client on A when A restarts and on B when B restarts drops twice; every
# other one once.
check "every client was dropped and came back at least once: $R reconnects = $(json "$J" disconnected) drops, >= $CLIENTS" \
    bash -c "[ '${R:-0}' = '$(json "$J" disconnected)' ] && [ '${R:-0}' -ge $CLIENTS ]"

# ---- how the replicas served the resumes ----------------------------------
# mf FILE NAME: a metric from a saved scrape.
mf() { awk -v m="$2" '$1 == m { print $2 }' "$D/$1.metrics"; }
replays=0 resets=0 line=
for f in a1 b1 a2 b2; do
    replays=$((replays + $(mf $f sse_replays_total))) resets=$((resets + $(mf $f sse_resets_total)))
    line="$line $f: $(mf $f sse_replays_total)/$(mf $f sse_resets_total)"
done
echo "# replays/resets per process (1: before its restart, 2: after):$line"
check "no reset from any replica, before or after its restart ($resets)" test "$resets" = 0
check "every reconnect was served as a replay ($replays replays, $R reconnects)" test "$replays" = "${R:-x}"
check "the restarted replicas served replays (A $(mf a2 sse_replays_total), B $(mf b2 sse_replays_total))" \
    test "$(mf a2 sse_replays_total)" -gt 0 -a "$(mf b2 sse_replays_total)" -gt 0
check "no gap was marked on the restarted replicas" test "$(mf a2 sse_backfill_gaps_total)$(mf b2 sse_backfill_gaps_total)" = 00
echo "# nginx: $(grep -c 'Connection refused) while connecting to upstream' "$D/main/error.log") refused connects moved to the other replica," \
    "$(grep -c 'no live upstreams' "$D/main/error.log") 'no live upstreams'"

it_done
