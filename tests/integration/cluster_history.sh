#!/usr/bin/env bash
# Zero loss on a real three-node RabbitMQ cluster, through node crashes and
# a replica crash, with the history stream.
#
#   A fetcher (500 ms ticks, two pairs, against the stand-in with a journal)
#   publishes to a fresh exchange; two sse-server replicas, A and B, each
#   with 200 sse-load clients (--reconnect: Last-Event-ID after 1 s) and one
#   recording client that resumes the same way. While it ticks:
#     1. SIGKILL the node A is connected to: A (and B, if it was there too)
#        fails over to another node, reads the stream, is ready again;
#        the node is started again and rejoins (3 of 3, stream members online);
#     2. SIGKILL the node that holds the stream's leader: a new leader is
#        elected, any replica that was on that node fails over;
#     3. SIGKILL replica A (one node still down) and start it again on the
#        same port: it fills its ring from the stream before it is ready,
#        and its clients resume into it;
#     4. the node of step 2 is started again and rejoins.
#   Then the fetcher is stopped (SIGTERM: it drains its buffer), and every
#   client of both replicas must hold every tick the stand-in served, once,
#   in order: no loss, no duplicate, no reset, no gap.
#
# One node down at a time, and each back (3 of 3) before the next crash:
# that is what a three-node cluster is built to survive. Two of three down
# at once takes away the stream's majority (no leader, nothing confirmed):
# an outage, not a failover, which history.sh covers on one node.
#
# Which node a replica lands on: every program gets the whole URL list
# (each rotated to start at another node, but a list is tried from a random
# element on, so the order does not decide it); the test reads the node
# from the replica's log ("broker: consuming exchange ... on 127.0.0.1:PORT")
# and kills that one.
#
# Ports: RC_TEST_CLUSTER_HISTORY_PORT (default 5900): AMQP PORT..PORT+2,
# epmd PORT+10000, stream replication PORT+10001..PORT+10030, distribution
# PORT+20000..PORT+20002. Every other test's broker is at 5830, 5840,
# 5950 (the runner's) or 5961..5998 (epmd +10000, distribution +20000),
# the other cluster at 6300: none of them falls into these ranges (5920,
# say, would: its stream range would reach 15950, the runner's epmd).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init cluster_history
D=$IT_DIR
PORT=${RC_TEST_CLUSTER_HISTORY_PORT:-5900}
CLIENTS=${RC_TEST_CLUSTER_HISTORY_CLIENTS:-200}
T_START=$(now_ms)

cl() { RABBITMQ_NODES=3 RABBITMQ_PORT=$PORT RATECAST_RUN_DIR=$D/run "$TOP/scripts/rabbitmq-local" "$@"; }
# The cluster goes first: it_cleanup removes $D (its state) when all passed.
trap 'cl stop >/dev/null 2>&1; it_cleanup' EXIT

url() { echo "amqp://guest:guest@127.0.0.1:$((PORT + $1))/%2f"; }
# urls_from I: the three URLs, node I first.
urls_from() { echo "$(url "$1"),$(url $((($1 + 1) % 3))),$(url $((($1 + 2) % 3)))"; }
since() { echo $(($(now_ms) - $1)); }
diag() { sed 's/^/#   /'; }

# poll SECONDS cmd...: like wait_for, a second between tries (for
# rabbitmqctl, which costs a second of CPU a call).
poll() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 1
    done
}

# ---- the cluster -----------------------------------------------------------
busy=$(ss -Hltn | awk -v p="$PORT" '{ n = $4; sub(/.*:/, "", n); n += 0
    if ((n >= p && n <= p + 2) || (n >= p + 10000 && n <= p + 10030) || (n >= p + 20000 && n <= p + 20002)) print n }' | sort -u | xargs)
[ -z "$busy" ] || bail "the cluster's ports are free (in use: $busy; set RC_TEST_CLUSTER_HISTORY_PORT)"
t=$(now_ms)
URLS=$(cl start 2>"$D/broker-cluster.log") || bail "start a 3-node cluster on $PORT ($(tail -3 "$D/broker-cluster.log"))"
T_CLUSTER=$(since "$t")
echo "# cluster of 3 started in $T_CLUSTER ms"
check "the cluster prints three URLs" test "$URLS" = "$(url 0),$(url 1),$(url 2)"
export AMQP_EXCHANGE=test-cluster-$$
STREAM=$AMQP_EXCHANGE.history

# alive I: node I's beam runs.
alive() { [ "$(cl pids 2>/dev/null | awk -v i="$1" '$1 == i { print $2 }')" != - ]; }
# live_node: some running node.
live_node() {
    local i
    for i in 0 1 2; do alive "$i" && echo "$i" && return; done
}
# running_is I N: node I sees N running nodes.
running_is() {
    [ "$(cl ctl "$1" -q cluster_status --formatter json 2>/dev/null |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["running_nodes"]))' 2>/dev/null)" = "$2" ]
}
# stream_info FIELD: the stream's leader (as a node index) or its online
# members (how many), asked of a running node.
stream_info() {
    cl ctl "$(live_node)" -q list_queues name leader online --formatter json 2>/dev/null |
        python3 -c '
import json, sys
for q in json.load(sys.stdin):
    if q["name"] == sys.argv[1]:
        if sys.argv[2] == "leader":
            print(int(q["leader"].split("@")[0].split("-")[-1]) - int(sys.argv[3]))
        else:
            print(len(q["online"]))' "$STREAM" "$1" "$PORT" 2>/dev/null
}
leader() { stream_info leader; }
online_is() { [ "$(stream_info online)" = "$1" ]; }
leader_not() {
    local l
    l=$(leader)
    [ -n "$l" ] && [ "$l" != "$1" ] && alive "$l"
}
# whole: all three nodes run and see each other, every stream member online.
whole() { running_is 0 3 && running_is 1 3 && running_is 2 3 && online_is 3; }

# ---- replicas, clients, fetcher -------------------------------------------
ready_at() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = 200 ]; }
metric_at() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
# node_of LOG: the node a replica consumes on now (its last connect).
node_of() { sed -n "s/.*broker: consuming exchange .* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p" "$1" | tail -1 | awk -v p="$PORT" '{ print $1 - p }'; }
# ready_again URL CONNECTS: reconnected since (connects above CONNECTS) and ready.
ready_again() { [ "$(metric_at "$1" sse_broker_connects_total)" -gt "$2" ] 2>/dev/null && ready_at "$1"; }

start_fake "$D/fake.log" --journal "$D/journal"
SSE_ARGS=(--reconnect-max 1s)
start_sse "$D/a.log" --amqp-url "$(urls_from 0)" "${SSE_ARGS[@]}"
A=$SSE A_PID=$SSE_PID A_PORT=$SSE_PORT
start_sse "$D/b.log" --amqp-url "$(urls_from 1)" "${SSE_ARGS[@]}"
B=$SSE
wait_for 60 ready_at "$A" || bail "replica A ready ($(tail -3 "$D/a.log"))"
wait_for 60 ready_at "$B" || bail "replica B ready ($(tail -3 "$D/b.log"))"
check "both replicas read the history stream (sse_history_enabled 1)" \
    test "$(metric_at "$A" sse_history_enabled)$(metric_at "$B" sse_history_enabled)" = 11
NA=$(node_of "$D/a.log") NB=$(node_of "$D/b.log")
echo "# replica A is on node $NA, B on node $NB"

# events MODE FILES...: the complete events (ended by a blank line) in a
# recorder's files, in order: "last" (the newest id), "ids", "data", or
# "resets" (how many reset events).
cat >"$D/events.py" <<'PY'
import sys
mode, evs, resets = sys.argv[1], [], 0
for f in sys.argv[2:]:
    try:
        text = open(f, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    for frame in text.split("\n\n")[:-1]:
        fid = data = None
        reset = False
        for line in frame.split("\n"):
            if line.startswith("id: "):
                fid = line[4:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "event: reset":
                reset = True
        if reset:
            resets += 1
        elif fid is not None and data is not None:
            evs.append((fid, data))
if mode == "last":
    print(evs[-1][0] if evs else "")
elif mode == "resets":
    print(resets)
else:
    for fid, data in evs:
        print(fid if mode == "ids" else data)
PY
events() { python3 "$D/events.py" "$@"; }
ids_up() { events ids "$@" | sort -c -n -u 2>/dev/null; }
# recorder NAME URL: one client that resumes like a browser, 1 s after each
# drop, with the last id it got whole; connection K goes to $D/NAME.K.
recorder() {
    local k=0 last
    while :; do
        last=$(events last "$D/$1".[0-9]*)
        curl -sN ${last:+-H "Last-Event-ID: $last"} -o "$D/$1.$(printf %03d $k)" "$2/api/v1/sso/stream" &
        echo $! >"$D/$1.curl"
        wait $!
        k=$((k + 1))
        sleep 1
    done
}
spawn "$D/recA.log" recorder recA "$A"
REC_A=$SPAWNED
spawn "$D/recB.log" recorder recB "$B"
REC_B=$SPAWNED

# The load clients connect before the first tick, so each must get all.
spawn "$D/loadA.txt" "$BIN/sse-load" --url "$A/api/v1/sso/stream" --clients "$CLIENTS" --reconnect \
    --duration 900 --json "$D/loadA.json"
LOAD_A=$SPAWNED
spawn "$D/loadB.txt" "$BIN/sse-load" --url "$B/api/v1/sso/stream" --clients "$CLIENTS" --reconnect \
    --duration 900 --json "$D/loadB.json"
LOAD_B=$SPAWNED
all_in() { metric_is_at "$A" sse_clients $((CLIENTS + 1)) && metric_is_at "$B" sse_clients $((CLIENTS + 1)); }
check "$CLIENTS load clients and a recorder on each replica" wait_for 30 all_in

start_fetcher() {
    spawn "$D/fetcher.log" env COIN_API_KEY=k COIN_API_URL="$FAKE" "$BIN/fetcher" \
        --amqp-url "$(urls_from 2)" --pairs BTC/USD,ETH/USD --interval 500ms --duration 600s --drain 30s
    FETCHER=$SPAWNED
}
start_fetcher
# events_at_least URL N: the replica has published at least N events.
events_at_least() { [ "$(metric_at "$1" sse_events_total)" -ge "$2" ] 2>/dev/null; }
both_have() { events_at_least "$A" "$1" && events_at_least "$B" "$1"; }
check "ticks flow to both replicas" wait_for 15 both_have 6
check "the stream's three members are online" poll 60 online_is 3
L0=$(leader)
echo "# the stream's leader is on node $L0"

# fail_over NAME URL LOG CONNECTS T0 DEAD: a replica that was on node DEAD
# reconnects elsewhere and is ready again; prints the time.
fail_over() {
    if check "replica $1 is ready again after its node $6 died" wait_for 60 ready_again "$2" "$4"; then
        local n
        n=$(node_of "$3")
        echo "# node $6 killed -> replica $1 ready again on node $n: $(since "$5") ms"
        check "... on another node ($n)" test "$n" != "$6"
    fi
}
# ticks_go_on: both replicas keep receiving (4 more events each).
ticks_go_on() {
    local a b
    a=$(metric_at "$A" sse_events_total) b=$(metric_at "$B" sse_events_total)
    wait_for 20 events_at_least "$A" $((a + 4)) && wait_for 20 events_at_least "$B" $((b + 4))
}
# restart_node I: start node I again, wait until the cluster is whole.
restart_node() {
    local t
    t=$(now_ms)
    cl start-node "$1" >/dev/null 2>>"$D/broker-cluster.log"
    check "node $1 starts again and rejoins: 3 of 3 running, 3 stream members online" poll 120 whole
    echo "# node $1 restarted -> cluster whole: $(since "$t") ms"
}

# ---- 1. the node A is on ---------------------------------------------------
cA=$(metric_at "$A" sse_broker_connects_total) cB=$(metric_at "$B" sse_broker_connects_total)
t=$(now_ms)
cl kill-node "$NA" >/dev/null 2>>"$D/broker-cluster.log"
fail_over A "$A" "$D/a.log" "$cA" "$t" "$NA"
[ "$NB" = "$NA" ] && fail_over B "$B" "$D/b.log" "$cB" "$t" "$NA"
check "the stream has a leader on a running node (not $NA)" poll 60 leader_not "$NA"
check "ticks go on with node $NA down" ticks_go_on
restart_node "$NA"

# ---- 2. the node of the stream's leader ------------------------------------
L=$(leader)
[ -n "$L" ] || bail "the stream's leader is known"
NA=$(node_of "$D/a.log") NB=$(node_of "$D/b.log")
echo "# the stream's leader is on node $L; A is on node $NA, B on node $NB$([ "$NA" != "$L" ] && [ "$NB" != "$L" ] && echo ' (no replica on it this time)')"
cA=$(metric_at "$A" sse_broker_connects_total) cB=$(metric_at "$B" sse_broker_connects_total)
t=$(now_ms)
cl kill-node "$L" >/dev/null 2>>"$D/broker-cluster.log"
[ "$NA" = "$L" ] && fail_over A "$A" "$D/a.log" "$cA" "$t" "$L"
[ "$NB" = "$L" ] && fail_over B "$B" "$D/b.log" "$cB" "$t" "$L"
if check "a new leader is elected on a running node" poll 60 leader_not "$L"; then
    echo "# leader's node $L killed -> new leader on node $(leader): $(since "$t") ms"
fi
check "ticks go on with node $L down" ticks_go_on

# ---- 3. replica A itself ---------------------------------------------------
# What its first life counted goes with it: read it now.
A1=$(metric_at "$A" sse_resets_total)/$(metric_at "$A" sse_backfill_gaps_total)
check "replica A, before it is killed: no reset, no gap (resets/gaps $A1)" test "$A1" = 0/0
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
t=$(now_ms)
spawn "$D/a2.log" "$BIN/sse-server" --listen "127.0.0.1:$A_PORT" --amqp-url "$(urls_from 0)" "${SSE_ARGS[@]}"
A_PID=$SPAWNED
if check "replica A, killed and started again, is ready" wait_for 60 ready_at "$A"; then
    echo "# replica A killed -> ready again (on node $(node_of "$D/a2.log")): $(since "$t") ms"
fi
bf=$(sed -n 's/.*history: \([0-9]*\) events from the stream.* in \([0-9]*\) ms/\1 \2/p' "$D/a2.log" | head -1)
echo "# its first history read: ${bf% *} events in ${bf#* } ms"
check "... it filled its ring from the stream (${bf% *} events)" test "${bf% *}" -gt 0
check "... and its clients are back" wait_for 30 all_in
check "ticks go on" ticks_go_on

# ---- 4. the leader's node comes back ----------------------------------------
restart_node "$L"
check "ticks go on with the cluster whole" ticks_go_on

# ---- the end ----------------------------------------------------------------
kill -TERM "$FETCHER"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "the fetcher ends (SIGTERM, then its drain)" wait_for 60 gone "$FETCHER"
fetched=$(fsum "$D/fetcher.log" fetched)
# A request the fetcher gave up on (its timeout is 90 % of the 500 ms tick; a
# busy machine can take longer) may still have been served and journalled.
abandoned=$(fsum "$D/fetcher.log" transport)
echo "# fetcher: $(sed -n 's/.*summary: //p' "$D/fetcher.log")"
check "every tick it fetched ($fetched) confirmed, none dropped or left, the journal has them all ($(wc -l <"$D/journal") lines; $abandoned request(s) given up)" \
    bash -c "[ '${fetched:-0}' -ge 40 ] && grep -q 'summary: .* confirmed=$fetched .*dropped_overflow=0 dropped_unrouted=0 unsent=0 ' '$D/fetcher.log' && j=\$(wc -l <'$D/journal') && [ \$j -ge $fetched ] && [ \$j -le $((fetched + ${abandoned:-0})) ]"
# has_newest URL: a new stream's snapshot (each pair's newest event) is the
# journal's last tick of each pair: the replica has published it.
for p in BTC ETH; do grep -F "\"asset_id_base\":\"$p\"" "$D/journal" | tail -1; done | sort >"$D/newest"
# (curl ends by its --max-time: exit 28.)
has_newest() { { curl -sN --max-time 1 "$1/api/v1/sso/stream" || :; } | sed -n 's/^data: //p' | sort | cmp -s - "$D/newest"; }
both_newest() { has_newest "$A" && has_newest "$B"; }
check "both replicas have the last tick" wait_for 20 both_newest
# Then the clients have had it once the replicas stop handing out events.
settled() {
    local a b
    a=$(metric_at "$A" sse_deliveries_total)$(metric_at "$B" sse_deliveries_total)
    sleep 1
    b=$(metric_at "$A" sse_deliveries_total)$(metric_at "$B" sse_deliveries_total)
    [ "$a" = "$b" ]
}
wait_for 20 settled
kill -INT "$LOAD_A" "$LOAD_B"
wait "$LOAD_A" "$LOAD_B"
kill "$REC_A" "$REC_B" 2>/dev/null
kill "$(cat "$D/recA.curl")" "$(cat "$D/recB.curl")" 2>/dev/null

for r in A B; do
    j=$D/load$r.json
    epc=$(sed -n 's/.*"events_per_client": {"min": \([0-9]*\), "avg": [0-9.]*, "max": \([0-9]*\)}.*/\1 \2/p' "$j")
    echo "# replica $r's clients: events per client $epc, duplicates $(json "$j" duplicates), missed $(json "$j" missed_events), reconnects $(json "$j" reconnects) (failed attempts $(json "$j" reconnect_failures), $(grep -o '"non_200": {[^}]*}' "$j"))"
    check "replica $r: all $CLIENTS clients held to the end ($(json "$j" connected))" test "$(json "$j" connected)" = "$CLIENTS"
    check "... each got every tick: $fetched events ($epc)" test "$epc" = "$fetched $fetched"
    check "... none twice or out of order (duplicates $(json "$j" duplicates))" test "$(json "$j" duplicates)" = 0
    check "... none missed (missed_events $(json "$j" missed_events))" test "$(json "$j" missed_events)" = 0
    events data "$D/rec$r".[0-9]* >"$D/rec$r.ticks"
    check "... its recorder got every tick the fetcher took from the stand-in, once, in order per pair ($(wc -l <"$D/rec$r.ticks") of $fetched)" \
        eval '[ "$(wc -l <"$D/rec$r.ticks")" = "$fetched" ] && ticks_within "$D/rec$r.ticks" "$D/journal" "${abandoned:-0}"'
    check "... with ids that only go up" ids_up "$D/rec$r".[0-9]*
    check "... and no reset event" test "$(events resets "$D/rec$r".[0-9]*)" = 0
done
metrics() { metric_at "$1" sse_resets_total; metric_at "$1" sse_backfill_gaps_total; }
check "no resume was a reset, no gap was marked: sse_resets_total, sse_backfill_gaps_total 0 on both" \
    test "$(metrics "$A" | xargs) $(metrics "$B" | xargs)" = "0 0 0 0"
check "no replica logged a gap" bash -c "! grep -q 'does not reach back' '$D/a.log' '$D/a2.log' '$D/b.log'"
check "no history read was refused or given up (sse_history_refused_total 0 on both)" \
    test "$(metric_at "$A" sse_history_refused_total)$(metric_at "$B" sse_history_refused_total)" = 00
echo "# backfills: A $(grep -c 'history: ' "$D/a.log") + $(grep -c 'history: ' "$D/a2.log"), B $(grep -c 'history: ' "$D/b.log"); fetcher reconnects $(fsum "$D/fetcher.log" reconnects)"
grep -h 'history: \|refused\|not available\|giving it up\|gap' "$D/a.log" "$D/a2.log" "$D/b.log" | diag
echo "# total: $(since "$T_START") ms"
it_done
