#!/usr/bin/env bash
# Integration test for scripts/rabbitmq-local: starts two private RabbitMQ nodes on
# loopback, checks start/status/url/stop, and always stops them again.
#
#   tests/integration/rabbitmq_local.sh
#
# Ports: RC_TEST_RL_PORT (default 5830) and RC_TEST_RL_PORT2 (default 5840);
# each node also uses PORT+10000 (epmd) and PORT+20000 (distribution).
# Prints one line per check ("ok - ..." / "not ok - ..."); exits 0 only if all pass.
# '$1' inside bash -c and eval strings is meant to expand later.
# shellcheck disable=SC2016
set -uo pipefail

TOP=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
RL=$TOP/scripts/rabbitmq-local
PORT_A=${RC_TEST_RL_PORT:-5830} # not RC_TEST_RABBITMQ_PORT: that is the runner's own broker
PORT_B=${RC_TEST_RL_PORT2:-5840}
# A second `start` must not boot anything (the same beam pid is the proof; the bound
# only says it did not wait for one). 15 s: far below a boot, and a busy two-core
# machine (load average 15 seen) took over 3 s just to run the script.
IDEMPOTENT_MAX_MS=15000
START_MAX_MS=60000

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rc-rabbitmq-local.XXXXXX")
export RATECAST_RUN_DIR=$TMP/run
unset RABBITMQ_PORT

# TAP output, the clock and the process and port probes: lib_broker.sh.
. "$TOP/tests/integration/lib_broker.sh"

rl() { # rl PORT ARGS...: run the script with RABBITMQ_PORT=PORT; stdout->$OUT, stderr->$ERR
    local port=$1
    shift
    RABBITMQ_PORT=$port "$RL" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
}

state() { echo "$RATECAST_RUN_DIR/rabbitmq-$1"; }
beam_pid_of() { tr -dc '0-9' 2>/dev/null <"$(state "$1")/rabbitmq.pid"; }
epmd_pid_of() { tr -dc '0-9' 2>/dev/null <"$(state "$1")/epmd.pid"; }

# listens_on PORT COMM: a process named COMM listens on 127.0.0.1:PORT.
listens_on() { ss -Hltnp "( sport = :$1 )" 2>/dev/null | grep -q "127.0.0.1:$1 .*((\"$2\","; }

# Every TCP socket our node's processes listen on is bound to loopback.
loopback_only() {
    local pids="$1" line addr bad=0 seen=0
    command -v ss >/dev/null || return 0 # no iproute2: nothing to check with
    while IFS= read -r line; do
        local pid match=0
        for pid in $pids; do [[ $line == *"pid=$pid,"* ]] && match=1; done
        ((match)) || continue
        seen=$((seen + 1))
        addr=$(awk '{print $4}' <<<"$line")
        case $addr in 127.0.0.1:* | \[::1\]:*) ;; *)
            echo "non-loopback listener: $line" | diag
            bad=1
            ;;
        esac
    done < <(ss -Hltnp 2>/dev/null)
    ((seen > 0 && bad == 0))
}

BEAM_A='' EPMD_A='' BEAM_B='' EPMD_B=''
cleanup() {
    local port pid
    for port in "$PORT_A" "$PORT_B"; do
        [[ -d $(state "$port") ]] || continue
        RABBITMQ_PORT=$port "$RL" stop >/dev/null 2>&1
    done
    # Last resort, only for pids this test's nodes recorded.
    for pid in "$BEAM_A" "$BEAM_B" "$(beam_pid_of "$PORT_A")" "$(beam_pid_of "$PORT_B")"; do
        if alive "$pid" beam.smp; then
            echo "# cleanup: killing leftover beam pid $pid"
            kill -KILL "$pid"
        fi
    done
    for pid in "$EPMD_A" "$EPMD_B" "$(epmd_pid_of "$PORT_A")" "$(epmd_pid_of "$PORT_B")"; do
        if alive "$pid" epmd; then
            echo "# cleanup: killing leftover epmd pid $pid"
            kill -KILL "$pid"
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

URL_A="amqp://guest:guest@127.0.0.1:$PORT_A/%2f"
URL_B="amqp://guest:guest@127.0.0.1:$PORT_B/%2f"

# --- checks that need no broker ---------------------------------------------------
check "scripts/rabbitmq-local is executable" test -x "$RL"

rl "$PORT_A" url
check "url prints $URL_A" test "$RC" = 0 -a "$OUT" = "$URL_A"

rl 1023 url
check "port 1023 is rejected" test "$RC" != 0
rl abc start
check "non-numeric port is rejected" test "$RC" != 0

rl "$PORT_A" status
check "status before start: 'stopped', exit 3" test "$RC" = 3 -a "$OUT" = stopped

# The optional TLS listener takes all four settings or none.
RABBITMQ_TLS_PORT=$((PORT_A + 1)) rl "$PORT_A" start
check "start with RABBITMQ_TLS_PORT alone (no cert, key, CA) is refused" test "$RC" != 0
check "... saying the four go together, and starts nothing" \
    eval 'grep -q "go together" "$TMP/err" && ! tcp_open "$PORT_A" && test ! -e "$(state "$PORT_A")"'

for port in "$PORT_A" "$PORT_B"; do
    if tcp_open "$port"; then
        echo "Bail out! port $port is already in use; set RC_TEST_RL_PORT(2)"
        exit 1
    fi
done

# --- node A -------------------------------------------------------------------------
t0=$(now_ms)
rl "$PORT_A" start
dt=$(($(now_ms) - t0))
check "start $PORT_A exits 0 and prints the URL (${dt} ms)" test "$RC" = 0 -a "$OUT" = "$URL_A"
((RC == 0)) || diag <"$TMP/err"
check "start $PORT_A took less than $((START_MAX_MS / 1000)) s" test "$dt" -lt "$START_MAX_MS"
check "port $PORT_A accepts a TCP connection right after start" tcp_open "$PORT_A"
check "port $PORT_A answers the AMQP 0-9-1 header" amqp_answers "$PORT_A"

BEAM_A=$(beam_pid_of "$PORT_A")
EPMD_A=$(epmd_pid_of "$PORT_A")
check "beam pid recorded and running ($BEAM_A)" alive "$BEAM_A" beam.smp
check "epmd pid recorded and running ($EPMD_A)" alive "$EPMD_A" epmd
check "node $PORT_A listens on loopback only (AMQP, dist, epmd)" loopback_only "$BEAM_A $EPMD_A"
# Derived ports stay below the kernel's ephemeral range, where a load test's
# connections in TIME_WAIT would make epmd's bind fail.
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
check "epmd listens on PORT+10000, distribution on PORT+20000, both below the ephemeral range ($EPH_LO-$EPH_HI)" \
    eval 'listens_on $((PORT_A + 10000)) epmd && listens_on $((PORT_A + 20000)) beam.smp && ((PORT_A + 20000 < EPH_LO))'
SA=$(state "$PORT_A")
check "state dir has enabled_plugins '[].' and an empty conf-env file" \
    eval 'test "$(cat "$SA/enabled_plugins")" = "[]." -a -f "$SA/rabbitmq-env.conf" -a ! -s "$SA/rabbitmq-env.conf"'
check "rabbitmq.conf listens on 127.0.0.1:$PORT_A and keeps guest loopback-only" \
    eval 'grep -qx "listeners.tcp.1 = 127.0.0.1:$PORT_A" "$SA/rabbitmq.conf" && ! grep -q loopback_users "$SA/rabbitmq.conf"'
check "the Erlang cookie is private to the node's HOME" test -s "$SA/home/.erlang.cookie"

t0=$(now_ms)
rl "$PORT_A" start
dt=$(($(now_ms) - t0))
check "start again is idempotent: exit 0, same URL, same pid" \
    test "$RC" = 0 -a "$OUT" = "$URL_A" -a "$(beam_pid_of "$PORT_A")" = "$BEAM_A"
check "start again is quick (${dt} ms < ${IDEMPOTENT_MAX_MS} ms)" test "$dt" -lt "$IDEMPOTENT_MAX_MS"

rl "$PORT_A" status
check "status $PORT_A: exit 0, 'running (pid $BEAM_A, url $URL_A)'" \
    test "$RC" = 0 -a "$OUT" = "running (pid $BEAM_A, url $URL_A)"

# Something else (node A) holds the port of a node in another run dir: fail at once.
t0=$(now_ms)
RATECAST_RUN_DIR=$TMP/other RABBITMQ_PORT=$PORT_A "$RL" start >"$TMP/out" 2>"$TMP/err"
RC=$?
dt=$(($(now_ms) - t0))
check "start on a port taken by another process fails at once (rc $RC, ${dt} ms)" \
    test "$RC" != 0 -a "$dt" -lt "$IDEMPOTENT_MAX_MS"
check "... with a clear message naming the port and who holds it (beam.smp pid $BEAM_A)" \
    grep -q "AMQP port 127.0.0.1:$PORT_A is already in use: .*LISTEN (by beam.smp pid $BEAM_A)" "$TMP/err"
check "... and starts no epmd" test ! -s "$TMP/other/rabbitmq-$PORT_A/epmd.pid"

# --- node B at the same time ------------------------------------------------------------
t0=$(now_ms)
rl "$PORT_B" start
dt=$(($(now_ms) - t0))
check "second node: start $PORT_B while $PORT_A runs (${dt} ms)" test "$RC" = 0 -a "$OUT" = "$URL_B"
((RC == 0)) || diag <"$TMP/err"
BEAM_B=$(beam_pid_of "$PORT_B")
EPMD_B=$(epmd_pid_of "$PORT_B")
check "two nodes at once: both ports answer AMQP" amqp_answers "$PORT_A"
check "two nodes at once: both ports answer AMQP ($PORT_B)" amqp_answers "$PORT_B"
rl "$PORT_A" status
rc_a=$RC
rl "$PORT_B" status
check "two nodes at once: both statuses exit 0" test "$rc_a" = 0 -a "$RC" = 0
check "two nodes have distinct beam and epmd pids" \
    test -n "$BEAM_B" -a "$BEAM_B" != "$BEAM_A" -a -n "$EPMD_B" -a "$EPMD_B" != "$EPMD_A"

# --- stop -------------------------------------------------------------------------------
t0=$(now_ms)
rl "$PORT_A" stop
dt=$(($(now_ms) - t0))
check "stop $PORT_A exits 0 (${dt} ms)" test "$RC" = 0
((RC == 0)) || diag <"$TMP/err"
check "stop $PORT_A: beam pid $BEAM_A is gone" gone_within "$BEAM_A" beam.smp 2
check "stop $PORT_A: epmd pid $EPMD_A is gone" gone_within "$EPMD_A" epmd 2
check "stop $PORT_A: port $PORT_A is closed" eval '! tcp_open "$PORT_A"'
check "stop $PORT_A: epmd port $((PORT_A + 10000)) is closed" eval '! tcp_open "$((PORT_A + 10000))"'
check "stop $PORT_A left node $PORT_B running" amqp_answers "$PORT_B"

rl "$PORT_A" status
check "status after stop: 'stopped', exit 3" test "$RC" = 3 -a "$OUT" = stopped

rl "$PORT_A" stop
check "stop again is ok (exit 0)" test "$RC" = 0

rl "$PORT_B" stop
check "stop $PORT_B exits 0" test "$RC" = 0
check "stop $PORT_B: beam pid $BEAM_B and epmd pid $EPMD_B are gone" \
    eval 'gone_within "$BEAM_B" beam.smp 2 && gone_within "$EPMD_B" epmd 2'
check "stop $PORT_B: ports $PORT_B, $((PORT_B + 10000)), $((PORT_B + 20000)) are closed" \
    eval '! tcp_open "$PORT_B" && ! tcp_open "$((PORT_B + 10000))" && ! tcp_open "$((PORT_B + 20000))"'
rl "$PORT_B" status
check "status $PORT_B after stop: exit 3" test "$RC" = 3

# --- a port held by a connection in TIME_WAIT -----------------------------------------
# Nobody listens on it, yet epmd cannot bind it: the failure must name the port
# and what holds it. A client socket bound to that port without SO_REUSEADDR
# (like the ephemeral ports of a load client) and closed first stays in
# TIME_WAIT for 60 s; epmd's bind (with SO_REUSEADDR) still conflicts with it.
TW_PORT=$((PORT_A + 10001))
while [[ -n $(ss -Htan "( sport = :$TW_PORT )") ]] && ((TW_PORT < PORT_A + 10099)); do TW_PORT=$((TW_PORT + 1)); done
python3 - "$TW_PORT" <<'PY'
import socket, sys, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.socket()  # no SO_REUSEADDR, as a connect()'s own port has none
c.bind(("127.0.0.1", int(sys.argv[1])))
c.connect(srv.getsockname())
peer, _ = srv.accept()
c.close()            # the active close: this side goes to TIME_WAIT
time.sleep(0.1)
peer.close()
time.sleep(0.1)
PY
check "a connection from port $TW_PORT left it in TIME-WAIT" \
    eval '[[ -n $(ss -Htan state time-wait "( sport = :$TW_PORT )") ]]'
RABBITMQ_EPMD_PORT=$TW_PORT rl "$PORT_A" start
check "start with its epmd port in TIME_WAIT fails (rc $RC)" test "$RC" != 0
check "... naming the port and the TIME-WAIT connection that holds it" \
    grep -q "127.0.0.1:$TW_PORT: .*TIME-WAIT" "$TMP/err"
check "... and leaves nothing running (no epmd, no beam, port $PORT_A closed)" \
    eval '! alive "$(epmd_pid_of "$PORT_A")" epmd && ! alive "$(beam_pid_of "$PORT_A")" beam.smp && ! tcp_open "$PORT_A"'
((RC != 0)) || RABBITMQ_EPMD_PORT=$TW_PORT rl "$PORT_A" stop

echo "1..$n"
if ((failed)); then
    echo "# $failed of $n checks failed"
    exit 1
fi
echo "# all $n checks passed"
