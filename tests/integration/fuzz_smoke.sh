#!/usr/bin/env bash
# Smoke test of the libFuzzer targets (tests/fuzz/): builds them
# (make fuzz-build), replays every input of the checked-in corpus once
# (-runs=0: a regression run), then fuzzes each target for a few seconds
# from that corpus. Every run must exit 0: no sanitizer report, no broken
# invariant.
#
# Needs clang with libFuzzer (Debian: clang-14, libclang-rt-14-dev; `make
# deps` installs them): without them this test fails and says so.
#
# Open bugs: tests/fuzz/known-crashes lists inputs that still crash (the
# fix is pending) and "env" switches that relax the broken invariant while
# fuzzing. This test skips exactly those inputs and exports those switches,
# and notes when a listed input stops crashing (then delete its lines).
#
# Prints "ok - ..." / "not ok - ..." per check; exits 0 only if all pass.
#   FUZZ_SMOKE_SECONDS  fresh fuzzing per target (default 5)
#   FUZZ_SMOKE_SEED     libFuzzer -seed (default 1: the same mutations every
#                       run, so a failure here is a regression, reproducible;
#                       random exploration is tests/fuzz/run's job)
set -u
. "$(dirname "$0")/lib.sh"
it_init fuzz_smoke
cd "$TOP" || bail "cd $TOP"

SECS=${FUZZ_SMOKE_SECONDS:-5}
SEED=${FUZZ_SMOKE_SEED:-1}
TARGETS=(fuzz_tick fuzz_frame fuzz_event_id fuzz_config fuzz_es_decode)
FUZZ_BIN=bin/fuzz
CORPUS=tests/fuzz/corpus
KNOWN=tests/fuzz/known-crashes

# Our own sanitizer settings, also under `make check-asan` (whose
# ASAN_OPTIONS send reports to files): the fuzzer's report must land in
# this test's log, where the failing check can show it.
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
unset LSAN_OPTIONS

# ---- toolchain --------------------------------------------------------------

CLANG=${FUZZ_CC:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
    bail "clang is installed ($CLANG not found: apt-get install clang-14 libclang-rt-14-dev, or make deps)"
fi
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$IT_DIR/probe.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$IT_DIR/probe" "$IT_DIR/probe.c" \
    >"$IT_DIR/probe.log" 2>&1; then
    sed 's/^/# /' "$IT_DIR/probe.log" | head -5
    bail "$CLANG links -fsanitize=fuzzer (libFuzzer runtime missing: apt-get install libclang-rt-14-dev, or make deps)"
fi
ok "clang with libFuzzer, ASan and UBSan is installed ($("$CLANG" --version | head -1))"

# ---- build ------------------------------------------------------------------

# The top-level Makefile includes tests/fuzz/fuzz.mk; if it ever does not,
# read the fragment directly.
if grep -q 'tests/fuzz/fuzz.mk' Makefile; then
    build=(make -s fuzz-build)
else
    build=(make -s -f Makefile -f tests/fuzz/fuzz.mk fuzz-build)
fi
if "${build[@]}" >"$IT_DIR/build.log" 2>&1; then
    ok "fuzz targets build (${build[*]})"
else
    tail -20 "$IT_DIR/build.log" | sed 's/^/# /'
    bail "fuzz targets build (${build[*]}): see $IT_DIR/build.log"
fi
for t in "${TARGETS[@]}"; do
    [ -x "$FUZZ_BIN/$t" ] || bail "$FUZZ_BIN/$t exists after the build"
done

# ---- open bugs --------------------------------------------------------------

# Corpus files of open bugs, and the env switches that relax their invariant.
KNOWN_FILES=()
KNOWN_ENV=()
if [ -f "$KNOWN" ]; then
    while read -r first second _; do
        case "$first" in
        '' | '#'*) ;;
        env) [[ "$second" == RC_FUZZ_*=* ]] && KNOWN_ENV+=("$second") ;;
        *) KNOWN_FILES+=("$first") ;;
        esac
    done <"$KNOWN"
fi
is_known() {
    local k
    for k in "${KNOWN_FILES[@]}"; do [ "$k" = "$1" ] && return 0; done
    return 1
}

# The known crashes still crash (without the switches): otherwise the bug
# was fixed and the file should become a plain regression input.
for k in "${KNOWN_FILES[@]}"; do
    t=${k#"$CORPUS"/}
    t=${t%%/*}
    if [ ! -f "$k" ]; then
        not_ok "known crash $k exists (listed in $KNOWN)"
    elif "$FUZZ_BIN/$t" -artifact_prefix="$IT_DIR/known-" "$k" >"$IT_DIR/known.log" 2>&1; then
        echo "# note: $k no longer crashes: the bug looks fixed; delete its lines from $KNOWN"
    else
        echo "# skip: $k (open bug, see $KNOWN): $(grep -m1 -E 'invariant failed|SUMMARY' "$IT_DIR/known.log")"
    fi
done
for e in "${KNOWN_ENV[@]}"; do
    export "${e?}"
    echo "# env: $e (open bug, see $KNOWN)"
done

# ---- regression: every corpus input once --------------------------------------

# report LOG: the lines that say what failed, for the log of this test.
report() {
    grep -m1 -A12 -E 'invariant failed|==[0-9]+==ERROR|runtime error|ERROR: libFuzzer' "$1" |
        grep -v -E '^\s+#[0-9]+ 0x[0-9a-f]+ in (fuzzer::|__libc|_start|main )' | sed 's/^/# /'
    sed -n 's/.*Test unit written to \(.*\)$/# input saved: \1/p' "$1"
}

for t in "${TARGETS[@]}"; do
    dir=$IT_DIR/corpus/$t
    mkdir -p "$dir"
    n=0
    skipped=0
    for f in "$CORPUS/$t"/*; do
        [ -f "$f" ] || continue
        if is_known "$f"; then
            skipped=$((skipped + 1))
            continue
        fi
        cp "$f" "$dir/"
        n=$((n + 1))
    done
    log=$IT_DIR/$t.replay.log
    if "$FUZZ_BIN/$t" -runs=0 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$IT_DIR/$t-" \
        "$dir" >"$log" 2>&1 &&
        grep -q 'INITED' "$log"; then
        ok "$t replays its $n corpus inputs ($skipped known crashes skipped): $(grep -m1 -o 'cov: [0-9]* ft: [0-9]*' "$log")"
    else
        report "$log"
        not_ok "$t replays its $n corpus inputs: see $log"
    fi
done

# ---- fresh fuzzing ------------------------------------------------------------

for t in "${TARGETS[@]}"; do
    work=$IT_DIR/fuzz/$t
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$IT_DIR/corpus/$t"/* "$work/corpus/" 2>/dev/null
    log=$IT_DIR/$t.fuzz.log
    timeout $((SECS + 120)) "$FUZZ_BIN/$t" -seed="$SEED" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | grep -o 'cov: [0-9]* ft: [0-9]*')
    if [ "$rc" -eq 0 ]; then
        ok "$t fuzzes ${SECS}s clean (-seed=$SEED): ${runs:-?} runs, ${cov:-?}"
    else
        report "$log"
        not_ok "$t fuzzes ${SECS}s clean (-seed=$SEED; exit $rc after ${runs:-?} runs): see $log"
    fi
done

it_done
