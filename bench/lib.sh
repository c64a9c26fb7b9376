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

# Loopback fan-out bursts overflow net.core.netdev_max_backlog (1000 by default): the
# kernel drops packets and TCP retransmits 200 ms+ later (docs/conventions.md, the machines). As root,
# backlog_raise raises it to BACKLOG_WANTED for the run and prints what it did (one line,
# for the report); backlog_restore puts the old value back. Both print with "$@" first
# (e.g. backlog_raise say), so each script keeps its own output style.
BACKLOG_WANTED=${BACKLOG_WANTED:-100000}
BACKLOG_OLD=
backlog_raise() {
    local now
    now=$(cat /proc/sys/net/core/netdev_max_backlog)
    if ((EUID == 0)) && ((now < BACKLOG_WANTED)); then
        if sysctl -qw net.core.netdev_max_backlog="$BACKLOG_WANTED" >/dev/null 2>&1; then
            BACKLOG_OLD=$now
            "$@" "net.core.netdev_max_backlog: $now -> RAISED to $BACKLOG_WANTED for this run (restored at the end): loopback fan-out bursts would otherwise drop packets and add 200 ms+ retransmits"
        else
            "$@" "net.core.netdev_max_backlog: $now (could NOT raise it: expect retransmit latency outliers)"
        fi
    else
        "$@" "net.core.netdev_max_backlog: $now$( ((now < BACKLOG_WANTED)) && echo " (not root, left as is: expect retransmit latency outliers)")"
    fi
}
backlog_restore() {
    [[ -n $BACKLOG_OLD ]] || return 0
    if sysctl -qw net.core.netdev_max_backlog="$BACKLOG_OLD" >/dev/null 2>&1; then
        "$@" "net.core.netdev_max_backlog restored to $BACKLOG_OLD"
    else
        "$@" "could not restore net.core.netdev_max_backlog to $BACKLOG_OLD"
    fi
    BACKLOG_OLD=
}

# keep_output FILE: from here on stdout also goes to FILE (through tee). flush_output,
# last thing before exiting, closes it and waits for tee, so that whoever reads the
# script's output or FILE right after it exits sees all of it.
KEEP_PID=
keep_output() {
    exec > >(tee "$1")
    KEEP_PID=$!
}
flush_output() {
    [[ -n $KEEP_PID ]] || return 0
    exec 1>&-
    wait "$KEEP_PID" 2>/dev/null || true
    KEEP_PID=
}
