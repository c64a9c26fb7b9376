#!/usr/bin/env bash
# Slow consumers: 200 clients that never read, beside 1,000 that do, at
# 50 messages a second of about 1 KiB.
#
#  - the stalled ones are cut (sse_clients_lagged_total) once the ring laps
#    them, and their sockets are gone from the server;
#  - while they wait to be cut, each holds at most the --sndbuf kernel
#    buffer (the kernel doubles SO_SNDBUF for its bookkeeping, and
#    finishes filling the segment that crosses the limit: up to 64 KiB on
#    loopback), not the megabytes of the kernel's autotuning;
#  - the server's RSS grows by less than 16 MiB for them;
#  - the readers lose nothing, their median latency stays within 50 ms of
#    a run without the stalled clients, and their p99 stays under 1 s.
#    The p99s of the two runs are printed, not compared: each is the tail of
#    a separate 12 s run of 1,000 clients on two shared cores, where one
#    burst of loopback drops (netdev_max_backlog, a 200 ms+ retransmit) in
#    either run moves it tenfold. A server that made readers wait on the
#    stalled sockets would fail both bounds by seconds: a stalled client is
#    cut only once the ring laps it, about 5 s after it stops reading.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init slow_consumers
D=$IT_DIR
it_broker
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-slow-$$
[ -x "$BIN/sse-load" ] && [ -x "$BIN/publisher" ] || bail "bin/sse-load and bin/publisher exist (make all)"

SNDBUF_KIB=32
HISTORY=256 # lapped in about 5 s at 50 msg/s
start_sse "$D/sse.log" --history $HISTORY --sndbuf $SNDBUF_KIB --max-clients 2000
wait_for 10 metric_is sse_broker_connected 1 || bail "sse-server consumes"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SSE_PID/status"; }

# The speed figures (latency, events per client) are the server's only if
# the machine gave this test its CPUs. On a shared box other processes can
# take them (seen: load average 9 on 2 cores, the publisher itself skipping
# ticks, p50 45 -> 222 ms between the phases). So each phase also measures
# the CPU time used outside the test: the whole machine's busy time (steal
# included) minus that of the server, sse-load and its workers, the
# publisher and the broker. A server that spun on its stalled sockets would
# count as ours, not as others.
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
our_jiffies() { # PID...: utime + stime, reaped children's included
    local p s sum=0 f
    for p in "$@"; do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a f <<<"${s##*) }"
        sum=$((sum + f[11] + f[12] + f[13] + f[14]))
    done
    echo "$sum"
}
amqp_port=${AMQP##*:}
BROKER_PID=$(ss -ltnpH "( sport = :${amqp_port%%/*} )" | grep -o 'pid=[0-9]*' | head -1)
BROKER_PID=${BROKER_PID#pid=}
[ -n "$BROKER_PID" ] || echo "# the broker's pid was not found: its CPU counts as other processes'"

# phase NAME: 1,000 readers for 12 s while 50 msg/s of 1 KiB are published;
# writes $D/NAME.json and records the server's peak RSS in $D/NAME.rss.
phase() {
    local name=$1
    spawn "$D/$name-load.log" "$BIN/sse-load" --url "$SSE/api/v1/sso/stream" --clients 1000 \
        --duration 12 --warmup-events 10 --json "$D/$name.json"
    local load=$SPAWNED
    wait_for 20 metric_is sse_clients "$2" || not_ok "$name: $2 clients connected"
    "$BIN/publisher" --rate 50 --duration 14 --size 1024 --amqp-url "$AMQP" \
        --exchange "$AMQP_EXCHANGE" >"$D/$name-pub.log" 2>&1 &
    local pub=$! peak=0 r m0 o0 t0 m1 o1 t1 m o t
    IT_PIDS+=("$pub")
    ours() { our_jiffies "$SSE_PID" "$load" $(pgrep -P "$load") "$pub" $BROKER_PID; }
    m0=$(busy_jiffies) o0=$(ours) t0=$(now_ms)
    m1=$m0 o1=$o0 t1=$t0
    while kill -0 "$load" 2>/dev/null; do
        # (a sample where ours went down - a worker gone, not yet reaped
        # into sse-load's children's time - is left out)
        read -r m o t <<<"$(busy_jiffies) $(ours) $(now_ms)"
        [ "$o" -ge "$o1" ] && m1=$m o1=$o t1=$t
        r=$(rss_kib)
        [ "${r:-0}" -gt "$peak" ] && peak=$r
        # The largest send queue of any server socket on our port.
        ss -tnH state established "( sport = :$SSE_PORT )" |
            awk '{ print $2 }' | sort -n | tail -1 >>"$D/$name.sendq"
        sleep 0.5
    done
    wait "$load"
    wait "$pub"
    echo "$peak" >"$D/$name.rss"
    # % of all CPUs that processes outside the test took during the phase
    awk -v m="$((m1 - m0))" -v o="$((o1 - o0))" -v ms="$((t1 - t0))" -v n="$(nproc)" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { x = ms > 0 ? 100 * (m - o) / (n * hz * ms / 1000) : 100; printf "%d\n", x < 0 ? 0 : x }' >"$D/$name.others"
}

phase base 1000
check "baseline: sse-load ran" test -s "$D/base.json"
check "baseline: no misses, no disconnects" \
    bash -c "[ '$(json "$D/base.json" missed_events)' = 0 ] && [ '$(json "$D/base.json" disconnected)' = 0 ]"

# 200 clients that send a request and never read a byte: one bash process
# holding 200 sockets, ended by the EXIT trap.
spawn "$D/stalled.log" bash -c '
    for ((i = 0; i < 200; i++)); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /api/v1/sso/stream HTTP/1.1\r\nHost: stalled\r\n\r\n" >&$fd
    done
    echo stalled 200
    exec sleep 600' stalled "$SSE_PORT"
wait_for 10 metric_is sse_clients 200 || bail "200 stalled clients connected"
lagged0=$(metric sse_clients_lagged_total)
phase stalled 1200

check "the 200 stalled clients were cut and counted (sse_clients_lagged_total +200)" \
    test "$(($(metric sse_clients_lagged_total) - lagged0))" = 200
check "... and no socket of theirs is left on the server" \
    test "$(ss -tnH state established "( sport = :$SSE_PORT )" | wc -l)" = 0
max_sendq=$(sort -n "$D/stalled.sendq" | tail -1)
check "a stalled socket held at most 2 x --sndbuf + 64 KiB in the kernel (max Send-Q ${max_sendq:-?} B)" \
    test "${max_sendq:-999999999}" -le $(((2 * SNDBUF_KIB + 64) * 1024))
check "... and it did fill (the cut came from lagging, not from elsewhere)" \
    test "${max_sendq:-0}" -ge $((SNDBUF_KIB * 1024))
base_rss=$(cat "$D/base.rss")
stall_rss=$(cat "$D/stalled.rss")
# Under sanitizers (make check-asan) memory and speed are ASan's (shadow
# memory, quarantine, 2-3x slower code), not the product's: the
# measurements below are made by make check; the rest holds either way.
measure() {
    if [ -n "${RC_SANITIZERS:-}" ]; then
        ok "$1 # SKIP under sanitizers"
    else
        check "$@"
    fi
}
# timed DESCRIPTION cmd...: a check of speed, judged only when processes
# outside the test took at most a quarter of the machine in both phases.
others_base=$(cat "$D/base.others") others_stall=$(cat "$D/stalled.others")
echo "# processes outside this test took ${others_base}% (baseline) and ${others_stall}% (stalled) of the $(nproc) CPUs;" \
    "the publisher: $(paste -sd' ' "$D/base-pub.log") / $(paste -sd' ' "$D/stalled-pub.log")"
BUSY=
[ "$others_base" -gt 25 ] || [ "$others_stall" -gt 25 ] &&
    BUSY="processes outside this test took ${others_base}% / ${others_stall}% of the machine: not the server's speed"
timed() {
    if [ -n "$BUSY" ]; then ok "$1 # SKIP $BUSY"; else measure "$@"; fi
}
measure "server RSS with the stalled clients $stall_rss KiB <= baseline $base_rss KiB + 16 MiB" \
    test "$stall_rss" -le $((base_rss + 16384))
check "readers: all 1,000 stayed connected" \
    bash -c "[ '$(json "$D/stalled.json" connected)' = 1000 ] && [ '$(json "$D/stalled.json" disconnected)' = 0 ]"
check "readers: no event missed or duplicated" \
    bash -c "[ '$(json "$D/stalled.json" missed_events)' = 0 ] && [ '$(json "$D/stalled.json" duplicates)' = 0 ]"
timed "readers: at least 500 events each (50 msg/s for about 12 s)" \
    test "$(json "$D/stalled.json" min)" -ge 500
p50_base=$(json "$D/base.json" p50)
p50_stall=$(json "$D/stalled.json" p50)
p99_base=$(json "$D/base.json" p99)
p99_stall=$(json "$D/stalled.json" p99)
echo "# readers' latency, baseline -> with 200 stalled clients: p50 $p50_base -> $p50_stall ms," \
    "p99 $p99_base -> $p99_stall ms (x$(awk -v a="$p99_stall" -v b="$p99_base" 'BEGIN { if (b > 0) printf "%.2f", a / b }'));" \
    "netdev_max_backlog $(json "$D/stalled.json" netdev_max_backlog)"
timed "readers' median latency $p50_stall ms within 50 ms of the baseline's $p50_base ms" \
    awk -v a="$p50_stall" -v b="$p50_base" 'BEGIN { exit !(a != "" && b != "" && a <= b + 50) }'
timed "readers' p99 latency $p99_stall ms < 1000 ms with 200 stalled clients" \
    awk -v a="$p99_stall" 'BEGIN { exit !(a != "" && a < 1000) }'
it_done
