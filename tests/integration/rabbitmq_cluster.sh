#!/usr/bin/env bash
# Integration test for the cluster mode of scripts/rabbitmq-local: starts a
# three-node RabbitMQ cluster on loopback, declares a stream queue on it, kills
# a node with SIGKILL and restarts it, stops and restarts the whole cluster, and
# always stops it again.
#
#   tests/integration/rabbitmq_cluster.sh
#
# Ports: RC_TEST_CLUSTER_PORT (default 6300): AMQP PORT..PORT+2, epmd PORT+10000,
# stream replication PORT+10001..PORT+10030, distribution PORT+20000..PORT+20002.
# Prints one line per check ("ok - ..." / "not ok - ..."); exits 0 only if all pass.
# rabbitmqctl only ever runs through the script's `ctl`, with the nodes' environment.
# '$1' inside bash -c and eval strings is meant to expand later.
# shellcheck disable=SC2016
set -uo pipefail

TOP=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
RL=$TOP/scripts/rabbitmq-local
PORT=${RC_TEST_CLUSTER_PORT:-6300}
N=3
START_MAX_MS=180000 # three nodes on two shared cores
IDEMPOTENT_MAX_MS=15000 # the same pids are the proof; this only says no boot was waited for

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rc-rabbitmq-cluster.XXXXXX")
export RATECAST_RUN_DIR=$TMP/run
unset RABBITMQ_PORT RABBITMQ_NODES RABBITMQ_EPMD_PORT RABBITMQ_DIST_PORT

# TAP output, the clock and the process and port probes: lib_broker.sh.
. "$TOP/tests/integration/lib_broker.sh"

rc() { # rc ARGS...: the script for our cluster; stdout->$OUT, stderr->$TMP/err, status->$RC
    RABBITMQ_NODES=$N RABBITMQ_PORT=$PORT "$RL" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
}

url() { echo "amqp://guest:guest@127.0.0.1:$((PORT + $1))/%2f"; }
node() { echo "ratecast-$((PORT + $1))@localhost"; }
URLS="$(url 0),$(url 1),$(url 2)"
ALL_NODES="$(node 0) $(node 1) $(node 2)"
CSTATE=$RATECAST_RUN_DIR/rabbitmq-cluster-$PORT

# pid_of I|epmd: the pid `pids` prints for node I (or epmd), "-" if none.
pid_of() {
    rc pids
    awk -v k="$1" '$1 == k { print $2 }' <<<"$OUT"
}

# running_of I: the running nodes that node I's cluster_status lists, sorted,
# on one line.
running_of() {
    rc ctl "$1" -q cluster_status --formatter json
    python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["running_nodes"])))' \
        <<<"$OUT" 2>/dev/null
}

# sees_within I WANT SECONDS: node I's cluster_status lists exactly WANT as running
# (SECONDS of wall clock: a rabbitmqctl call alone can take seconds on a busy machine).
sees_within() {
    local end=$((SECONDS + $3)) got
    while :; do
        got=$(running_of "$1")
        [[ $got == "$2" ]] && return 0
        ((SECONDS < end)) || break
        sleep 1
    done
    echo "node $1 sees running: '$got' (want '$2')" | diag
    return 1
}

# stream_field NAME FIELD: FIELD (members, online) of queue NAME as node 0 lists
# it, sorted, on one line; or its type.
stream_field() {
    rc ctl 0 -q list_queues name type members online --formatter json
    python3 -c '
import json, sys
for q in json.load(sys.stdin):
    if q["name"] == sys.argv[1]:
        v = q[sys.argv[2]]
        print(" ".join(sorted(v)) if isinstance(v, list) else v)' "$1" "$2" <<<"$OUT" 2>/dev/null
}

# online_within SECONDS: every member of the test's stream queue is online.
online_within() {
    local end=$((SECONDS + $1)) got
    while :; do
        got=$(stream_field rc-cluster-stream online)
        [[ $got == "$ALL_NODES" ]] && return 0
        ((SECONDS < end)) || break
        sleep 1
    done
    echo "online members: '$got'" | diag
    return 1
}

# all_gone SECONDS COMM PID...: every PID (command name COMM) is gone.
all_gone() {
    local secs=$1 comm=$2 pid
    shift 2
    for pid in "$@"; do gone_within "$pid" "$comm" "$secs" || return 1; done
}

# all_closed PORT...: nothing accepts connections on any of these ports.
all_closed() {
    local p
    for p in "$@"; do
        if tcp_open "$p"; then
            echo "port $p still accepts connections" | diag
            return 1
        fi
    done
}

# loopback_only PID...: these processes listen on something, and only on loopback.
loopback_only() {
    local line pid seen=0 bad=0
    while IFS= read -r line; do
        for pid in "$@"; do
            [[ $line == *"pid=$pid,"* ]] || continue
            seen=$((seen + 1))
            case $(awk '{print $4}' <<<"$line") in
                127.0.0.1:* | \[::1\]:*) ;;
                *)
                    echo "non-loopback listener: $line" | diag
                    bad=1
                    ;;
            esac
        done
    done < <(ss -Hltnp 2>/dev/null)
    ((seen > 0 && bad == 0))
}

# epmd_has_all: the epmd on PORT+10000 has the three nodes registered, each on its
# distribution port (`epmd -names` only asks; it never starts an epmd).
epmd_has_all() {
    local out i
    out=$(epmd -port $((PORT + 10000)) -names 2>&1) || return 1
    for i in 0 1 2; do
        grep -qx "name ratecast-$((PORT + i)) at port $((PORT + 20000 + i))" <<<"$out" || {
            echo "epmd -names: $out" | diag
            return 1
        }
    done
}

# same_cookie: the three nodes' HOMEs hold one Erlang cookie, each file mode 0400.
same_cookie() {
    local c f i
    c=$(cat "$CSTATE/node-0/home/.erlang.cookie") && [[ -n $c ]] || return 1
    for i in 0 1 2; do
        f=$CSTATE/node-$i/home/.erlang.cookie
        [[ $(cat "$f") == "$c" && $(stat -c %a "$f") == 400 ]] || return 1
    done
}

# osiris_ranges: node I's advanced.config gives osiris PORT+10001+10I..PORT+10010+10I.
osiris_ranges() {
    local i lo
    for i in 0 1 2; do
        lo=$((PORT + 10001 + 10 * i))
        grep -qF "[{osiris, [{port_range, {$lo, $((lo + 9))}}]}]." "$CSTATE/node-$i/advanced.config" || return 1
    done
}

# A tiny AMQP 0-9-1 client (Python's standard library only): declare a durable
# stream queue (x-queue-type=stream) as guest; exit 0 on Queue.DeclareOk.
cat >"$TMP/declare.py" <<'PY'
import socket, struct, sys

port, queue = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)

def shortstr(b): return struct.pack("B", len(b)) + b
def longstr(b): return struct.pack(">I", len(b)) + b
def send(ch, cls, meth, args=b""):
    p = struct.pack(">HH", cls, meth) + args
    s.sendall(struct.pack(">BHI", 1, ch, len(p)) + p + b"\xce")
def recv_exact(k):
    b = b""
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c:
            sys.exit("connection closed by the broker")
        b += c
    return b
def recv_method():
    while True:
        t, ch, size = struct.unpack(">BHI", recv_exact(7))
        p = recv_exact(size + 1)[:-1]
        if t != 1:
            continue
        cls, meth = struct.unpack(">HH", p[:4])
        if (cls, meth) in ((10, 50), (20, 40)):  # Connection.Close, Channel.Close
            code, = struct.unpack(">H", p[4:6])
            sys.exit("closed by the broker: %d %s" % (code, p[7:7 + p[6]].decode()))
        return cls, meth, p[4:]
def expect(cls, meth):
    got = recv_method()
    if got[:2] != (cls, meth):
        sys.exit("expected method %d.%d, got %d.%d" % (cls, meth, got[0], got[1]))
    return got[2]

s.sendall(b"AMQP\x00\x00\x09\x01")
expect(10, 10)                                              # Connection.Start
send(0, 10, 11, struct.pack(">I", 0) + shortstr(b"PLAIN")   # StartOk, no client properties
     + longstr(b"\0guest\0guest") + shortstr(b"en_US"))
ch_max, frame_max, _ = struct.unpack(">HIH", expect(10, 30)[:8])  # Tune
send(0, 10, 31, struct.pack(">HIH", ch_max, frame_max, 0))  # TuneOk, no heartbeats
send(0, 10, 40, shortstr(b"/") + shortstr(b"") + b"\0")    # Connection.Open
expect(10, 41)
send(1, 20, 10, shortstr(b""))                              # Channel.Open
expect(20, 11)
args = shortstr(b"x-queue-type") + b"S" + longstr(b"stream")
send(1, 50, 10, struct.pack(">H", 0) + shortstr(queue) + b"\x02"  # Queue.Declare, durable
     + struct.pack(">I", len(args)) + args)
expect(50, 11)                                              # DeclareOk
send(0, 10, 50, struct.pack(">H", 200) + shortstr(b"bye") + struct.pack(">HH", 0, 0))
s.close()
PY
declare_stream() { timeout 30 python3 "$TMP/declare.py" "$1" "$2" 2> >(diag); }

# listeners_4369: the pids listening on port 4369 (Erlang's default epmd port).
listeners_4369() { ss -Hltnp '( sport = :4369 )' 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u | xargs; }

OUR_PIDS=() # every beam and epmd pid this test has seen, for the last-resort cleanup
remember_pids() { # (leaves $OUT and $RC alone)
    local p
    for p in $(RABBITMQ_NODES=$N RABBITMQ_PORT=$PORT "$RL" pids 2>/dev/null | awk '{ print $2 }'); do
        [[ $p == - ]] || OUR_PIDS+=("$p")
    done
}
cleanup() {
    local pid
    if [[ -d $CSTATE ]]; then
        RABBITMQ_NODES=$N RABBITMQ_PORT=$PORT "$RL" stop >/dev/null 2>&1
    fi
    # Last resort, only for pids this test's cluster reported.
    for pid in "${OUR_PIDS[@]}"; do
        if alive "$pid" beam.smp || alive "$pid" epmd; then
            echo "# cleanup: killing leftover pid $pid"
            kill -KILL "$pid"
        fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- checks that need no broker ---------------------------------------------------
check "scripts/rabbitmq-local is executable" test -x "$RL"
rc url
check "url with RABBITMQ_NODES=3 prints the three URLs comma-separated" test "$RC" = 0 -a "$OUT" = "$URLS"
rc status
check "status before start: three 'node I: stopped' lines, exit 3" \
    test "$RC" = 3 -a "$OUT" = "$(printf 'node 0: stopped\nnode 1: stopped\nnode 2: stopped')"
RABBITMQ_TLS_PORT=$((PORT + 5)) rc start
check "start with a TLS port is refused in cluster mode, naming why" \
    eval '((RC != 0)) && grep -q "not supported with RABBITMQ_NODES" "$TMP/err"'
rc stop-node 3
check "stop-node 3 of a three-node cluster is refused" test "$RC" != 0

for p in $PORT $((PORT + 1)) $((PORT + 2)) $((PORT + 10000)) $((PORT + 20000)) $((PORT + 20001)) $((PORT + 20002)); do
    if tcp_open "$p"; then
        echo "Bail out! port $p is already in use; set RC_TEST_CLUSTER_PORT"
        exit 1
    fi
done
EPMD_4369_BEFORE=$(listeners_4369)

# --- start ----------------------------------------------------------------------------
t0=$(now_ms)
rc start
dt=$(($(now_ms) - t0))
remember_pids
check "start of 3 nodes exits 0 and prints the 3 URLs on one line (${dt} ms)" test "$RC" = 0 -a "$OUT" = "$URLS"
((RC == 0)) || diag <"$TMP/err"
check "start of 3 nodes took less than $((START_MAX_MS / 1000)) s" test "$dt" -lt "$START_MAX_MS"
for i in 0 1 2; do
    check "node $i: port $((PORT + i)) answers the AMQP 0-9-1 header" amqp_answers $((PORT + i))
done

B0=$(pid_of 0) B1=$(pid_of 1) B2=$(pid_of 2) EPMD=$(pid_of epmd)
check "pids: three running beams ($B0 $B1 $B2) and one epmd ($EPMD)" \
    eval 'alive "$B0" beam.smp && alive "$B1" beam.smp && alive "$B2" beam.smp && alive "$EPMD" epmd &&
        [[ $B0 != "$B1" && $B1 != "$B2" && $B0 != "$B2" ]]'
check "the nodes share one epmd on PORT+10000, where all three are registered" epmd_has_all
check "every listener of the nodes and the epmd is on loopback" loopback_only "$B0" "$B1" "$B2" "$EPMD"
check "the three nodes' HOMEs hold the same Erlang cookie, mode 0400" same_cookie
check "node I's osiris port_range is PORT+10001+10I..PORT+10010+10I" osiris_ranges

for i in 0 1 2; do
    rc ctl "$i" -q eval 'node().'
    check "ctl $i runs rabbitmqctl against node $i ($OUT)" test "$RC" = 0 -a "$OUT" = "'$(node "$i")'"
    check "cluster_status of node $i lists all three nodes running" sees_within "$i" "$ALL_NODES" 10
done

# --- a stream queue -------------------------------------------------------------------
check "a durable stream queue (x-queue-type=stream) is declared via node 1" declare_stream $((PORT + 1)) rc-cluster-stream
check "... its type is stream" test "$(stream_field rc-cluster-stream type)" = stream
check "... it has members on all three nodes" test "$(stream_field rc-cluster-stream members)" = "$ALL_NODES"
check "... and all three members come online" online_within 30
# The leader's replica readers connect to each replica's osiris listener: their
# connections end in the nodes' stream replication ranges.
check "... replicating over connections to ports in the nodes' stream ranges" \
    eval '[[ $(ss -Htn state established "( dport >= :$((PORT + 10001)) and dport <= :$((PORT + 10030)) )" | wc -l) -ge 2 ]]'

rc status
want="node 0: running (pid $B0, url $(url 0), cluster: 3 of 3 running)
node 1: running (pid $B1, url $(url 1), cluster: 3 of 3 running)
node 2: running (pid $B2, url $(url 2), cluster: 3 of 3 running)"
check "status lists the three nodes running, seeing 3 of 3, exit 0" test "$RC" = 0 -a "$OUT" = "$want"
((RC == 0)) || diag <<<"$OUT"

t0=$(now_ms)
rc start
dt=$(($(now_ms) - t0))
check "start again is idempotent: exit 0, same URLs, same pids (${dt} ms < ${IDEMPOTENT_MAX_MS} ms)" \
    eval '((RC == 0 && dt < IDEMPOTENT_MAX_MS)) && [[ $OUT == "$URLS" && $(pid_of 0)$(pid_of 1)$(pid_of 2) == "$B0$B1$B2" ]]'

RABBITMQ_NODES=2 RABBITMQ_PORT=$PORT "$RL" status >/dev/null 2>"$TMP/err"
RC=$?
check "the cluster's dir refuses another size (RABBITMQ_NODES=2), saying which" \
    eval '((RC != 0)) && grep -q "has 3 nodes" "$TMP/err"'

# --- SIGKILL one node, restart it -------------------------------------------------------
kill -KILL "$B1"
check "SIGKILL node 1's beam (pid $B1): it is gone" gone_within "$B1" beam.smp 10
check "... nodes 0 and 2 keep answering AMQP" eval 'amqp_answers $PORT && amqp_answers $((PORT + 2))'
check "... node 0's cluster_status lists nodes 0 and 2 running" sees_within 0 "$(node 0) $(node 2)" 30
check "... the stream queue still takes declarations (via node 2)" declare_stream $((PORT + 2)) rc-cluster-stream
check "... pids prints '1 -'" test "$(pid_of 1)" = -
rc status
check "... status: node 1 stopped, the others running, exit 4" \
    eval '((RC == 4)) && grep -qx "node 1: stopped" <<<"$OUT" && [[ $(grep -c ": running (" <<<"$OUT") == 2 ]]'

t0=$(now_ms)
rc start-node 1
dt=$(($(now_ms) - t0))
remember_pids
check "start-node 1 exits 0 and prints node 1's URL (${dt} ms)" test "$RC" = 0 -a "$OUT" = "$(url 1)"
((RC == 0)) || diag <"$TMP/err"
NB1=$(pid_of 1)
check "... node 1 has a new beam (pid $NB1) and answers AMQP" \
    eval 'alive "$NB1" beam.smp && [[ $NB1 != "$B1" ]] && amqp_answers $((PORT + 1))'
check "... it rejoined: node 1's cluster_status lists 3 running" sees_within 1 "$ALL_NODES" 30
check "... and node 0's too" sees_within 0 "$ALL_NODES" 30
check "... nodes 0 and 2 were not restarted" test "$(pid_of 0) $(pid_of 2)" = "$B0 $B2"
check "... the stream queue's member on node 1 comes back online" online_within 30

# --- stop one node gracefully; start brings back only it --------------------------------
rc stop-node 2
check "stop-node 2 exits 0 and node 2's beam (pid $B2) is gone" eval '((RC == 0)) && gone_within "$B2" beam.smp 5'
check "... node 2's port is closed, nodes 0 and 1 answer" \
    eval '! tcp_open $((PORT + 2)) && amqp_answers $PORT && amqp_answers $((PORT + 1))'
rc start
remember_pids
check "start with node 2 stopped starts it alone: exit 0, 3 URLs, nodes 0 and 1 keep their pids" \
    eval '((RC == 0)) && [[ $OUT == "$URLS" && $(pid_of 0)$(pid_of 1) == "$B0$NB1" && $(pid_of 2) != "$B2" ]]'
check "... node 2 rejoined (cluster_status on node 2 lists 3 running)" sees_within 2 "$ALL_NODES" 30

# --- stop everything, restart from the nodes' state ---------------------------------------
BEAMS="$(pid_of 0) $(pid_of 1) $(pid_of 2)"
t0=$(now_ms)
rc stop
dt=$(($(now_ms) - t0))
check "stop exits 0 (${dt} ms)" test "$RC" = 0
((RC == 0)) || diag <"$TMP/err"
# shellcheck disable=SC2086 # $BEAMS: one pid a word
check "... every beam ($BEAMS) and the epmd ($EPMD) are gone" eval 'all_gone 5 beam.smp $BEAMS && all_gone 5 epmd "$EPMD"'
check "... AMQP, epmd and distribution ports are closed" \
    all_closed "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 10000)) $((PORT + 20000)) $((PORT + 20001)) $((PORT + 20002))
check "... no process listens in the stream replication ranges" \
    eval '[[ -z $(ss -Hltn "( sport >= :$((PORT + 10001)) and sport <= :$((PORT + 10030)) )") ]]'
rc status
check "status after stop: exit 3" test "$RC" = 3

t0=$(now_ms)
rc start
dt=$(($(now_ms) - t0))
remember_pids
check "start after stop brings all three back from their state (${dt} ms)" test "$RC" = 0 -a "$OUT" = "$URLS"
((RC == 0)) || diag <"$TMP/err"
check "... one cluster again (cluster_status on node 0 lists 3 running)" sees_within 0 "$ALL_NODES" 30
check "... with the stream queue and its three members" \
    test "$(stream_field rc-cluster-stream members)" = "$ALL_NODES"

# --- stop with a node killed -----------------------------------------------------------
B0=$(pid_of 0) EPMD=$(pid_of epmd)
BEAMS="$B0 $(pid_of 1) $(pid_of 2)"
rc kill-node 0
check "kill-node 0 exits 0 and node 0's beam (pid $B0) is gone" eval '((RC == 0)) && ! alive "$B0" beam.smp'
rc stop
check "stop with node 0 dead exits 0; no beam or epmd left" \
    eval '((RC == 0)) && all_gone 5 beam.smp $BEAMS && all_gone 5 epmd "$EPMD"'
check "... no epmd on port $((PORT + 10000)) is left" \
    eval '! pgrep -f "^epmd .*-port $((PORT + 10000))( |\$)" >/dev/null && ! tcp_open $((PORT + 10000))'
rc stop
check "stop again is ok (exit 0)" test "$RC" = 0

EPMD_4369_AFTER=$(listeners_4369)
check "nothing was started on port 4369 (listeners before: '${EPMD_4369_BEFORE}', after: '${EPMD_4369_AFTER}')" \
    test "$EPMD_4369_AFTER" = "$EPMD_4369_BEFORE"

echo "1..$n"
if ((failed)); then
    echo "# $failed of $n checks failed"
    exit 1
fi
echo "# all $n checks passed"
