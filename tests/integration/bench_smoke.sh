#!/usr/bin/env bash
# The benchmark harness still runs: bench/run with all three systems
# (sse-server, nginx + Nchan, the floor), bench/run with bursts (BURST=5: the
# two floors, write per event and write per burst, beside sse-server and
# Nchan), bench/scenarios (idle with the floor beside it, storm, scale-out)
# and bench/summary over all of them, at a tiny scale. `make bench` takes
# half an hour, so without this a change could break it unseen. It checks
# that each part ran and produced its numbers and files, and the counts that
# do not depend on speed (clients held, events missed, replays); it asserts
# no speed: figures from 300 clients on a busy machine mean nothing.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init bench_smoke
D=$IT_DIR
CLIENTS=300

# Ports of its own: bench/run and bench/scenarios each start a private broker.
export BENCH_RABBITMQ_PORT=${RC_TEST_BENCH_BROKER_PORT:-5993}
export BENCH_NCHAN_PORT=${RC_TEST_BENCH_NCHAN_PORT:-18391}
# The numbers do not matter here: no waiting for a quiet machine, no
# re-measuring, and the machine-wide backlog setting left alone.
export QUIET_WAIT=0 BUSY_RETRIES=0 BACKLOG_WANTED=0 SETTLE_MAX=3

for t in sse-server sse-load publisher floor; do
    [ -x "$BIN/$t" ] || bail "bin/$t is built (make all)"
done

R=$D/run
CLIENTS=$CLIENTS RATE=4 DURATION=3 RESULTS=$R timeout 300 "$TOP/bench/run" >"$D/run.out" 2>"$D/run.err"
rc=$?
check "bench/run exits 0 ($rc; $(tail -1 "$D/run.err"))" test "$rc" = 0
# The table: one row per system, "NAME  HELD/CLIENTS  DELIVERIES  MISSED ...".
row() { awk -v s="$1" '$1 == s && $2 ~ /^[0-9]+\/[0-9]+$/' "$R/table.txt" 2>/dev/null; }
for s in sse-server nchan floor; do
    r=$(row "$s")
    check "table row for $s: all $CLIENTS held, none missed, a CPU and a p99 figure ($r)" \
        awk -v r="$r" -v n="$CLIENTS" 'BEGIN { split(r, f, " ");
            exit !(f[2] == n "/" n && f[3] > 0 && f[4] == 0 && f[5] ~ /^[0-9.]+$/ && f[8] ~ /^[0-9.]+$/) }'
done
check "the ratio to Nchan is printed" grep -q '^sse-server / nchan: CPU per delivery [0-9.]*x' "$D/run.out"
check "the ratio to the floor is printed" grep -q '^sse-server / floor: CPU per delivery [0-9.]*x' "$D/run.out"
check "machine facts are printed (CPUs, kernel, backlog)" \
    bash -c "grep -q '^machine: ' '$D/run.out' && grep -q '^kernel: ' '$D/run.out' && grep -q '^net.core.netdev_max_backlog: ' '$D/run.out'"
check "raw numbers saved (summary.tsv with 3 rows, each system's JSON)" \
    bash -c "[ \$(tail -n +2 '$R/summary.tsv' | wc -l) = 3 ] && [ -s '$R/sse-server.load.json' ] && [ -s '$R/nchan.load.json' ] && [ -s '$R/floor.load.json' ]"
check "report.txt keeps the whole table" test "$(grep -cE '^(sse-server|nchan|floor) +[0-9]+/' "$R/report.txt")" = 3
check "the plot is a PNG" bash -c "head -c 8 '$R/bench.png' | od -An -c | grep -q 'P   N   G'"

# Bursts: 5 distinct pairs back to back every 5/RATE s. 50 clients are enough
# to see every row, the ratios to both floors and the per-id verdicts.
B=$D/burst5
BCLIENTS=50
CLIENTS=$BCLIENTS BURST=5 RATE=4 DURATION=3 RESULTS=$B timeout 300 "$TOP/bench/run" >"$D/burst.out" 2>"$D/burst.err"
rc=$?
sed 's/^/# /' "$B/table.txt" 2>/dev/null
check "bench/run BURST=5 exits 0 ($rc; $(tail -1 "$D/burst.err"))" test "$rc" = 0
check "the burst table says the burst size" grep -q '^bursts of 5 messages (distinct pairs) every 1.25 s' "$B/table.txt"
# A row: "LABEL  HELD/CLIENTS  DELIVERIES  MISSED  CPU  RSS  P50  P99  MAX"; labels may hold spaces.
brow() { grep -F "$1 " "$B/table.txt" 2>/dev/null | grep -E "^$(sed 's/[()]/\\&/g' <<<"$1") +[0-9]+/[0-9]+ " | sed "s/^.\{19\}//"; }
for pair in "sse-server|sse-server" "nchan|nchan" "floor|floor (write/event)" "floor-burst|floor (write/burst)"; do
    id=${pair%%|*} s=${pair#*|}
    sent=$(sed -n 's/^sent \([0-9]*\)$/\1/p' "$B/$id.publisher.txt" 2>/dev/null)
    check "$s: the publisher sent whole bursts of 5 (${sent:-none})" \
        bash -c "[ '${sent:-0}' -gt 0 ] && [ \$(( ${sent:-0} % 5 )) = 0 ]"
    r=$(brow "$s")
    check "burst row for $s: all $BCLIENTS held, each got all $sent events, a CPU and a p99 figure ($r)" \
        awk -v r="$r" -v n="$BCLIENTS" -v sent="${sent:-0}" 'BEGIN { split(r, f, " ");
            exit !(f[1] == n "/" n && f[2] == sent * n && f[3] == 0 && f[4] ~ /^[0-9.]+$/ && f[7] ~ /^[0-9.]+$/) }'
    check "$s: every client every event, in order, checked by id" \
        grep -qE "^every client every event, in order: $(sed 's/[()]/\\&/g' <<<"$s"): yes \($BCLIENTS/$BCLIENTS clients held, 0 missed; 0 missed by id, 0 duplicates/out-of-order\)" "$B/table.txt"
done
for s in sse-server nchan; do
    for f in "floor (write/event)" "floor (write/burst)"; do
        check "ratio $s / $f printed" grep -qF "$s / $f: CPU per delivery " "$B/table.txt"
    done
done
check "the write-per-burst floor ran with --per-burst" grep -q 'messages in [0-9]* bursts (--per-burst)' "$B/floor-burst.log"
sed -n 's/^floor: \(.* bursts\).*/# floor-burst: \1/p' "$B/floor-burst.log"
check "burst summary.tsv has 4 rows with their labels" \
    bash -c "[ \$(tail -n +2 '$B/summary.tsv' | wc -l) = 4 ] && cut -f22 '$B/summary.tsv' | grep -qx 'floor (write/burst)'"
check "the burst plot is a PNG" bash -c "head -c 8 '$B/bench.png' | od -An -c | grep -q 'P   N   G'"

S=$D/scenarios
CLIENTS=$CLIENTS IDLE_S=4 HEARTBEAT_S=1 SETTLE_S=1 STORM_EVENTS=6 STORM_RATE=1000 RATE=4 DURATION=3 \
    SCALE_CLIENTS=600 RESULTS=$S timeout 300 "$TOP/bench/scenarios" >"$D/sc.out" 2>"$D/sc.err"
rc=$?
sed 's/^/# /' "$D/sc.out"
check "bench/scenarios exits 0 ($rc; $(tail -1 "$D/sc.err"))" test "$rc" = 0
# idle: both heartbeat counts are real (one per client per second here).
idle=$(grep -m1 ' idle: ' "$D/sc.out")
hb=$(sed -n 's/.*; \([0-9]*\) heartbeats sent.*/\1/p' <<<"$idle")
fhb=$(sed -n 's/.*heartbeats: [0-9.]*% (\([0-9]*\) writes.*/\1/p' <<<"$idle")
check "idle: sse-server sent heartbeats to all $CLIENTS clients ($hb in the window)" \
    test "${hb:-0}" -ge $((CLIENTS * 2))
check "idle: the floor beside it wrote heartbeats too ($fhb in the window)" \
    test "${fhb:-0}" -ge $((CLIENTS * 2))
check "idle: CPU figures for both" \
    grep -Eq 'server CPU [0-9.]+% .* the floor, same clients and heartbeats: [0-9.]+%' <<<"$idle"
check "storm: PASS (all reconnected, each replayed the rest without a gap)" \
    grep -q '^PASS  storm: ' "$D/sc.out"
check "scaleout: PASS (3 processes on one port, every client got every event)" \
    grep -q '^PASS  scaleout: ' "$D/sc.out"
check "scenarios.txt keeps the three verdict lines" test "$(grep -cE '^(PASS|FAIL)  ' "$S/scenarios.txt")" = 3
check "scenarios.json has all three" \
    bash -c "grep -q '\"idle\"' '$S/scenarios.json' && grep -q '\"storm\"' '$S/scenarios.json' && grep -q '\"scaleout\"' '$S/scenarios.json'"
check "the backlog was left alone (BACKLOG_WANTED=0)" \
    grep -q '^net.core.netdev_max_backlog: [0-9]*$' "$D/sc.out"

# The combined table over every run in the directory, as make bench prints it.
"$TOP/bench/summary" "$D" >"$D/summary.out" 2>&1
rc=$?
sed 's/^/# /' "$D/summary.out"
check "bench/summary exits 0 ($rc)" test "$rc" = 0
# (a ratio is n/a when a floor's CPU rounds to 0 at this scale: 10 ms clock ticks)
check "combined table: single-event and burst rows, ratios to both floors, verdicts" \
    bash -c "grep -qE '^run +sse-server +$CLIENTS ' '$D/combined.txt' && grep -qE '^burst5 +floor \(write/burst\) +$BCLIENTS ' '$D/combined.txt' && grep -qE '^burst5 +sse-server .* (n/a|[0-9.]+x), (n/a|[0-9.]+x) +(n/a|[0-9.]+x), (n/a|[0-9.]+x) +yes$' '$D/combined.txt'"
check "combined table ends with the scenario verdicts" test "$(grep -cE '^(PASS|FAIL)  ' "$D/combined.txt")" = 3
it_done
