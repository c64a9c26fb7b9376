# Sourced by the tests of scripts/rabbitmq-local (rabbitmq_local.sh,
# rabbitmq_cluster.sh), which test the broker script itself and so cannot use
# lib.sh (it starts brokers with that script). TAP output with the counters
# n and failed, a millisecond clock, and the probes for processes and ports
# those tests check a broker with.
# '$1' inside bash -c strings is meant to expand later.
# shellcheck disable=SC2016,SC2034

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok - $*"
}
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok - $*"
}
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
diag() { sed 's/^/# /' >&2; }

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

# alive PID COMM: running (zombies count as gone: pid 1 may not reap) and named COMM.
alive() {
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    { IFS= read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    [[ $stat == "$1 ($2) "* ]] || return 1
    stat=${stat#"$1 ($2) "}
    [[ ${stat%% *} != [ZX] ]]
}

gone_within() { # gone_within PID COMM SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        alive "$1" "$2" || return 0
        sleep 0.1
    done
    return 1
}

tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# The port speaks AMQP: after the 0-9-1 protocol header the broker answers with a
# method frame (type 1, Connection.Start).
amqp_answers() {
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "AMQP\x00\x00\x09\x01" >&3
        IFS= read -r -d "" -N 1 b <&3 || exit 1
        [[ $b == $'"'"'\x01'"'"' ]]' _ "$1" 2>/dev/null
}
