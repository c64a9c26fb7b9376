# bench/lib.sh: helpers bench/run and bench/scenarios share (sourced).

# wait_for SECONDS CMD...: polls CMD every 0.1 s; false on timeout.
wait_for() {
    local t=$1 i
    shift
    for ((i = 0; i < t * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# cpu_ticks PID...: utime+stime summed (all threads of each process).
cpu_ticks() {
    local sum=0 pid stat rest f
    for pid in "$@"; do
        { IFS= read -r stat <"/proc/$pid/stat"; } 2>/dev/null || continue
        rest=${stat##*) }
        read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12])) # fields 14 and 15 of /proc/PID/stat
    done
    echo "$sum"
}

# JSON written by sse-load: one key per line, so a grep is enough (no jq/python needed).

# jnum FILE KEY: the number (or null) after "KEY": on its first line.
jnum() {
    local v
    v=$(grep -m1 -o "\"$2\": *[-0-9.eE+]*\(null\)\?" "$1" 2>/dev/null | sed 's/.*: *//' || true)
    echo "${v:-null}"
}
# jsub FILE OBJECT KEY: a field of a one-line object ("latency_ms": {...}).
jsub() {
    local v
    v=$(grep -m1 "\"$2\": {" "$1" 2>/dev/null | grep -o "\"$3\": *[-0-9.eE+]*\(null\)\?" |
        sed 's/.*: *//' || true)
    echo "${v:-null}"
}
