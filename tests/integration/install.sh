#!/usr/bin/env bash
# make install / make uninstall into a DESTDIR: every file lands where the
# Makefile says, the installed programs run, the systemd units point at
# them, pass `systemd-analyze verify` and keep their sandbox, the env file
# examples name only variables the programs read; uninstall removes it all.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init install
D=$IT_DIR
RB=${RC_BIN:-bin}
PROGS="sse-server fetcher fake-coinapi"
UNITS="ratecast-sse-server ratecast-fetcher"

# The binaries are whatever make check built: -o forbids make to rebuild
# them here (the test checks installing, and a rebuild with default flags
# would be wrong for bin-asan).
minstall() { make -s -C "$TOP" --no-print-directory BIN="$RB" $(for p in $PROGS; do echo "-o $RB/$p"; done) "$@"; }
for p in $PROGS; do [ -x "$BIN/$p" ] || bail "$BIN/$p is built (run make first)"; done

R=$D/root
minstall install DESTDIR="$R" PREFIX=/usr/local >"$D/install.log" 2>&1 || bail "make install ($(tail -3 "$D/install.log"))"
P=$R/usr/local
DOC=$P/share/doc/ratecast
UNITDIR=$P/lib/systemd/system
for p in $PROGS; do
    check "installed: bin/ratecast-$p, executable" test -x "$P/bin/ratecast-$p"
    check "... it runs: --version says '$p ...'" bash -c "'$P/bin/ratecast-$p' --version | grep -q '^$p [0-9]'"
done
for u in $UNITS; do check "installed: lib/systemd/system/$u.service" test -f "$UNITDIR/$u.service"; done
check "installed: share/doc/ratecast/README.md" cmp -s "$TOP/README.md" "$DOC/README.md"
for f in "$TOP"/docs/*; do check "installed: share/doc/ratecast/docs/${f##*/}" cmp -s "$f" "$DOC/docs/${f##*/}"; done
check "installed: the nginx config, unchanged" cmp -s "$TOP/deploy/nginx/ratecast.conf" "$DOC/deploy/nginx/ratecast.conf"
check "installed: deploy/nginx/render, executable" test -x "$DOC/deploy/nginx/render"
for n in sse-server fetcher; do
    check "installed: deploy/systemd/$n.env.example" cmp -s "$TOP/deploy/systemd/$n.env.example" "$DOC/deploy/systemd/$n.env.example"
done
check "nothing written outside PREFIX (no /etc)" bash -c "[ \"\$(ls '$R')\" = usr ] && [ \"\$(ls '$R/usr')\" = local ]"

# The units: the installed programs, the env files, the restart policy.
unit() { cat "$UNITDIR/ratecast-$1.service"; }
check "sse-server unit: ExecStart is the installed program" \
    bash -c "grep -qx 'ExecStart=/usr/local/bin/ratecast-sse-server' '$UNITDIR/ratecast-sse-server.service'"
check "fetcher unit: ExecStart is the installed program, running until stopped" \
    bash -c "grep -qx 'ExecStart=/usr/local/bin/ratecast-fetcher --duration 0' '$UNITDIR/ratecast-fetcher.service'"
check "... and the fetcher's --duration 0 means until stopped" bash -c "'$P/bin/ratecast-fetcher' --help | grep -q '0 = until stopped'"
check "fetcher unit: no restart on exit 2, 3 (CoinAPI 401), 4 (CoinAPI 403)" \
    bash -c "grep -qx 'RestartPreventExitStatus=2 3 4' '$UNITDIR/ratecast-fetcher.service'"
check "... which are the fetcher's exit codes for those" \
    bash -c "'$P/bin/ratecast-fetcher' --help | tr '\n' ' ' | grep -q '2 bad configuration, 3 CoinAPI 401 (bad key), *4 CoinAPI 403'"
check "sse-server unit: LimitNOFILE=20000" bash -c "grep -qx 'LimitNOFILE=20000' '$UNITDIR/ratecast-sse-server.service'"
for n in sse-server fetcher; do
    u=$UNITDIR/ratecast-$n.service
    check "$n unit: secrets from EnvironmentFile=-/etc/ratecast/$n.env, none on the command line" \
        bash -c "grep -qx 'EnvironmentFile=-/etc/ratecast/$n.env' '$u' && ! grep -E '^ExecStart=.*(KEY|TOKEN|amqp://)' '$u'"
    check "$n unit: Restart=on-failure, after network-online.target" \
        bash -c "grep -qx 'Restart=on-failure' '$u' && grep -qx 'After=network-online.target' '$u' && grep -qx 'Wants=network-online.target' '$u'"
    missing=""
    for k in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
        PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service; do
        grep -qx "$k" "$u" || missing="$missing $k"
    done
    check "$n unit: sandboxed (${missing:-all of DynamicUser, NoNewPrivileges, ProtectSystem=strict, ...})" test -z "$missing"
    # Every variable an example env file names is one the program reads.
    "$P/bin/ratecast-$n" --help >"$D/$n.help"
    for v in $(sed -n 's/^#\{0,1\}\([A-Z_][A-Z0-9_]*\)=.*/\1/p' "$TOP/deploy/systemd/$n.env.example"); do
        check "$n.env.example: $n reads $v" grep -qw "$v" "$D/$n.help"
    done
done

# systemd-analyze verify needs each ExecStart program to exist: check copies
# pointing into DESTDIR. It exits 0 on warnings (unknown keys, bad values),
# so any line naming our unit files counts as a failure too. The control,
# with a key systemd does not know, proves that this check can fail.
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$D/verify"
    for u in $UNITS; do
        sed "s|^ExecStart=/usr/local/bin/|ExecStart=$P/bin/|" "$UNITDIR/$u.service" >"$D/verify/$u.service"
    done
    verify() { # UNIT...: systemd-analyze verify, quiet about our units
        local out rc
        out=$(cd "$D/verify" && systemd-analyze verify "${@/#/./}" 2>&1)
        rc=$?
        echo "$out" >>"$D/verify.log"
        [ "$rc" = 0 ] && ! grep -qE 'ratecast-[a-z-]+\.service' <<<"$out"
    }
    for u in $UNITS; do check "systemd-analyze verify $u.service: no error, no warning" verify "$u.service"; done
    { cat "$D/verify/ratecast-fetcher.service"; echo "NotASetting=1"; } >"$D/verify/ratecast-bogus.service"
    check "control: systemd-analyze verify reports a unit with an unknown key" bash -c "$(declare -f verify); D='$D'; ! verify ratecast-bogus.service"
    # The sandbox as systemd scores it (0 = locked down, 10 = exposed).
    for u in $UNITS; do
        score=$(cd "$D/verify" && systemd-analyze security --offline=yes "./$u.service" 2>/dev/null |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
        check "systemd-analyze security $u.service: exposure ${score:-?} <= 2.0" \
            awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 2.0) }'
    done
else
    ok "systemd-analyze verify on the installed units # SKIP systemd-analyze not installed"
fi

# Another PREFIX: the units follow it.
R2=$D/root2
minstall install DESTDIR="$R2" PREFIX=/opt/ratecast >"$D/install2.log" 2>&1 || not_ok "make install PREFIX=/opt/ratecast"
check "PREFIX=/opt/ratecast: the unit runs /opt/ratecast/bin/ratecast-sse-server" \
    grep -qx 'ExecStart=/opt/ratecast/bin/ratecast-sse-server' "$R2/opt/ratecast/lib/systemd/system/ratecast-sse-server.service"
check "... and names its docs in /opt/ratecast/share/doc/ratecast" \
    grep -qx 'Documentation=file:/opt/ratecast/share/doc/ratecast/README.md' "$R2/opt/ratecast/lib/systemd/system/ratecast-sse-server.service"
check "... the programs are there" test -x "$R2/opt/ratecast/bin/ratecast-fetcher"

# Uninstall removes every file it installed, and the doc directory.
minstall uninstall DESTDIR="$R" PREFIX=/usr/local >"$D/uninstall.log" 2>&1
check "make uninstall removes every file" test -z "$(find "$R" -type f)"
check "... and share/doc/ratecast" test ! -e "$DOC"
minstall uninstall DESTDIR="$R2" PREFIX=/opt/ratecast >>"$D/uninstall.log" 2>&1
check "make uninstall PREFIX=/opt/ratecast removes every file too" test -z "$(find "$R2" -type f)"
it_done
