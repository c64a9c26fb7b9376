#!/usr/bin/env bash
# docker-compose.yml: no Docker engine runs here, so check what can be
# checked without one: the file is valid for Debian's docker-compose (1.29)
# in both modes (real CoinAPI, and the demo), each mode starts the services
# it should, every environment variable, command and flag given to our
# programs is one they accept, every host path mounted is in the repository,
# nginx runs the committed config (rendered the way the container does it,
# then checked by nginx -t), and the Dockerfile's build stage has every file
# its make needs and ships every program compose runs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init compose
cd "$TOP"
D=$IT_DIR
DC=(docker-compose -f docker-compose.yml)
DEMO_ENV=deploy/compose/demo.env
# docker-compose is Python: its interpreter has PyYAML and compose's own
# modules, which answer what `config` does not print (active profiles).
PY=$(sed -n '1s/^#! *//p' "$(command -v docker-compose)")

check "docker-compose config accepts the file (COIN_API_KEY set)" \
    env COIN_API_KEY=placeholder "${DC[@]}" config -q
check "... and the demo without a key (--env-file $DEMO_ENV)" \
    env -u COIN_API_KEY "${DC[@]}" --env-file "$DEMO_ENV" config -q
check "docker-compose refuses to start without COIN_API_KEY (outside the demo)" \
    bash -c "! env -u COIN_API_KEY docker-compose -f docker-compose.yml config -q 2>/dev/null"
# Why the demo needs its env file: compose 1.29 interpolates every service,
# whatever the active profiles. If a compose version stops doing that, this
# fails and deploy/compose/demo.env's comment needs a look.
check "... --profile demo alone does not help (compose interpolates \${COIN_API_KEY:?} in every service)" \
    bash -c "! env -u COIN_API_KEY docker-compose -f docker-compose.yml --profile demo config -q 2>/dev/null"

# active ENVFILE [PROFILE...]: the services `up` would start, by compose's
# own reading of --profile, COMPOSE_PROFILES and the env file.
active() {
    "$PY" - "$@" <<'EOF'
import sys
from compose.cli.command import get_profiles_from_options
from compose.config import config
from compose.config.environment import Environment
env_file = sys.argv[1] or None
environment = Environment.from_env_file('.', env_file)
cfg = config.load(config.find('.', ['docker-compose.yml'], environment))
profiles = get_profiles_from_options({'--profile': sys.argv[2:]}, environment)
print(' '.join(sorted(s['name'] for s in cfg.services
                      if not s.get('profiles') or set(s['profiles']) & set(profiles))))
EOF
}
live=$(COIN_API_KEY=placeholder active "" 2>&1)
check "up starts rabbitmq, two sse-server replicas, nginx and the fetcher ($live)" \
    test "$live" = "fetcher nginx rabbitmq sse-server-1 sse-server-2"
demo=$(unset COIN_API_KEY; active "$DEMO_ENV" 2>&1)
check "the demo env file adds fake-coinapi ($demo)" \
    test "$demo" = "fake-coinapi fetcher nginx rabbitmq sse-server-1 sse-server-2"

# The resolved file as bash arrays, per service: IMAGE_x, CMD_x, ENV_x,
# VOLS_x, NET_x, HEALTH_x, ALIASES_x, PORTS_x (x = the service name with _
# for -); PREFIX_ first.
dump() {
    "$PY" -c '
import sys, yaml, shlex
p = sys.argv[1]
d = yaml.safe_load(sys.stdin)
q = lambda xs: " ".join(shlex.quote(str(x)) for x in xs)
print("%sSERVICES=(%s)" % (p, q(sorted(d["services"]))))
for n, s in d["services"].items():
    v = p + n.replace("-", "_")
    cmd = s.get("command") or []
    if isinstance(cmd, str): cmd = shlex.split(cmd)
    env = s.get("environment") or {}
    if isinstance(env, dict): env = ["%s=%s" % (k, "" if x is None else x) for k, x in env.items()]
    vols = [x if isinstance(x, str) else "%s:%s" % (x.get("source"), x.get("target")) for x in s.get("volumes") or []]
    print("IMAGE_%s=%s" % (v, shlex.quote(s.get("image", ""))))
    print("CMD_%s=(%s)" % (v, q(cmd)))
    print("ENV_%s=(%s)" % (v, q(env)))
    print("VOLS_%s=(%s)" % (v, q(vols)))
    print("NET_%s=%s" % (v, shlex.quote(s.get("network_mode", ""))))
    print("HEALTH_%s=(%s)" % (v, q((s.get("healthcheck") or {}).get("test") or [])))
    nets = s.get("networks") or {}
    print("ALIASES_%s=(%s)" % (v, q(((nets.get("default") or {}).get("aliases")) or [])))
    ports = [p if isinstance(p, str) else "%s:%s:%s" % (p.get("host_ip", ""), p.get("published"), p.get("target"))
             for p in s.get("ports") or []]
    print("PORTS_%s=(%s)" % (v, q(ports)))
' "$1"
}
COIN_API_KEY=placeholder "${DC[@]}" config 2>&1 | dump L_ >"$D/live.sh" || bail "read the resolved file ($(tail -2 "$D/live.sh"))"
env -u COIN_API_KEY "${DC[@]}" --env-file "$DEMO_ENV" config 2>&1 | dump M_ >"$D/demo.sh" || bail "read the resolved demo file"
. "$D/live.sh"
. "$D/demo.sh"
# get PREFIX KIND SERVICE: the name of that array, for ${!name}-style access.
get() { local s=${3//-/_}; echo "$2_$1$s"; }

# Our services: those running the ratecast image. Each runs one of our
# programs, with variables and flags that program accepts.
shipped=$(sed -n 's/^COPY --from=build \(.*\) [^ ]*$/\1/p' Dockerfile | tr ' ' '\n' | sed 's|.*/||')
ours=0
for mode in L_ M_; do
    svcs=${mode}SERVICES[@]
    for svc in ${!svcs}; do
        img=$(get "$mode" IMAGE "$svc")
        [ "${!img}" = ratecast:latest ] || continue
        ours=$((ours + 1))
        cmdv=$(get "$mode" CMD "$svc")[@]
        envv=$(get "$mode" ENV "$svc")[@]
        cmd=("${!cmdv}")
        envs=("${!envv}")
        tag=$svc
        [ "$mode" = M_ ] && tag="$svc (demo)"
        prog=${cmd[0]:-}
        if ! [ -x "$BIN/$prog" ] || [[ " sse-server fetcher fake-coinapi " != *" $prog "* ]]; then
            not_ok "$tag: runs one of our programs (command: ${cmd[*]})"
            continue
        fi
        [ "$mode" = L_ ] && check "$svc: the image ships $prog" grep -qx "$prog" <<<"$shipped"
        "$BIN/$prog" --help >"$D/$prog.help"
        for kv in "${envs[@]}"; do
            [ "$mode" = L_ ] && check "$svc: $prog reads ${kv%%=*}" grep -qw "${kv%%=*}" "$D/$prog.help"
        done
        # rc_config checks every variable and every flag before it reaches
        # --help: a bad name, value or duration fails here.
        accepts() { env -i PATH="$PATH" "${envs[@]}" "$BIN/$prog" "${cmd[@]:1}" --help >/dev/null 2>"$D/args.err"; }
        check "$tag: $prog accepts its command line (${cmd[*]:1}) and environment$(accepts || echo " ($(cat "$D/args.err"))")" accepts
    done
done
check "our services found in the resolved file ($ours)" test "$ours" -ge 8

# Two identical replicas.
replicas() {
    [ "${CMD_L_sse_server_1[*]:-x}" = sse-server ] && [ "${CMD_L_sse_server_2[*]:-y}" = sse-server ] &&
        [ "${ENV_L_sse_server_1[*]:-x}" = "${ENV_L_sse_server_2[*]:-y}" ]
}
check "two sse-server replicas, configured alike" replicas
healthchecks() {
    local s h
    for s in "${M_SERVICES[@]}"; do
        h=HEALTH_M_${s//-/_}[0]
        [ "${!h:-NONE}" != NONE ] || return 1
    done
}
check "every service has a healthcheck, the fetcher and fake-coinapi included" healthchecks
check "the replicas are healthy only while consuming (/readyz)" \
    test "${HEALTH_L_sse_server_1[*]:-}" = "CMD curl -fsS http://127.0.0.1:8181/readyz"
# The fetcher: healthy while ticks reach the broker, read from its metrics.
check "the fetcher's healthcheck is the image's fetcher-healthcheck" \
    test "${HEALTH_L_fetcher[*]:-}" = "CMD fetcher-healthcheck"
check "... which the Dockerfile installs" grep -q '^COPY deploy/compose/fetcher-healthcheck /usr/local/bin/' Dockerfile
mlisten=$(printf '%s\n' "${ENV_L_fetcher[@]}" | sed -n 's/^FETCHER_METRICS_LISTEN=//p')
check "... and the fetcher serves the metrics it reads (FETCHER_METRICS_LISTEN=$mlisten)" \
    bash -c "[[ '$mlisten' == *:* ]] && grep -q 'FETCHER_METRICS_LISTEN' deploy/compose/fetcher-healthcheck"
# Published ports: local only, as the README says.
published() {
    local s p pv
    for s in "${M_SERVICES[@]}"; do
        pv=PORTS_M_${s//-/_}[@]
        for p in "${!pv}"; do [[ $p == 127.0.0.1:* ]] || return 1; done
    done
}
check "every published port is on 127.0.0.1 only" published

# Host paths: every bind mount comes from the repository.
for s in ${L_SERVICES[*]}; do
    vv=VOLS_L_${s//-/_}[@]
    for m in "${!vv}"; do
        src=${m%%:*}
        [[ $src == /* ]] || continue
        check "$s mounts $src: it exists in the repository" bash -c "[[ '$src' == '$TOP'/* ]] && [ -e '$src' ]"
    done
done

# nginx: the committed deploy/nginx, rendered in the container by render.
has() { [[ " $1 " == *" $2 "* ]]; } # has "LIST" WORD
check "nginx mounts deploy/nginx (ratecast.conf and render) at /etc/ratecast/nginx" \
    has "${VOLS_L_nginx[*]:-}" "$TOP/deploy/nginx:/etc/ratecast/nginx:ro"
ncmd=${CMD_L_nginx[2]:-}
renders() {
    [ "${CMD_L_nginx[0]:-} ${CMD_L_nginx[1]:-}" = "sh -c" ] &&
        [[ $ncmd == *"/etc/ratecast/nginx/render "*" /etc/ratecast/nginx/ratecast.conf >/etc/nginx/conf.d/default.conf"* ]]
}
check "nginx's command renders /etc/ratecast/nginx/ratecast.conf with render" renders
# The same command here, on the committed files, up to (not) exec'ing nginx.
here=${ncmd//\/etc\/ratecast\/nginx/$TOP/deploy/nginx}
here=${here//\/etc\/nginx\/conf.d\/default.conf/$D/compose-nginx.conf}
here=${here/exec nginx -g \'daemon off;\'/true}
check "nginx's rendering runs (sh, the way the container runs it)" sh -c "$here" 2>"$D/render.err"
R=$D/compose-nginx.conf
check "... plain HTTP on port 80, no TLS left" bash -c "grep -q '^ *listen 80;' '$R' && ! grep -v '^ *#' '$R' | grep -q ssl"
# The replicas by name, through Docker's DNS, at request time: no fixed
# upstream list that a recreated replica's new address would miss.
check "... no fixed upstream: every proxy_pass looks the replicas up by name" \
    bash -c "! grep -q '^ *upstream ' '$R' && ! grep -q 'proxy_pass http://ratecast_sse;' '$R' && grep -q 'proxy_pass http://\$ratecast_sse;' '$R'"
check "... through Docker's DNS (resolver 127.0.0.11)" grep -q '^ *resolver 127.0.0.11 ' "$R"
rname=$(sed -n 's/^ *set \$ratecast_sse \([^:]*\):8181;/\1/p' "$R")
replicas_named() {
    local s cv ev av n=0
    for s in "${L_SERVICES[@]}"; do
        cv=CMD_L_${s//-/_}[0]
        [ "${!cv:-}" = sse-server ] || continue
        ev=ENV_L_${s//-/_}[*]
        av=ALIASES_L_${s//-/_}[*]
        [[ " ${!ev:-} " == *" SSE_LISTEN=0.0.0.0:8181 "* ]] && has "${!av:-}" "$rname" || return 1
        n=$((n + 1))
    done
    [ "$n" = 2 ]
}
check "... the name ($rname, port 8181) is an alias of both replicas, which listen on 8181" replicas_named
if [ -x /usr/sbin/nginx ]; then
    mkdir -p "$D/ngx/tmp"
    cp "$R" "$D/ngx/site.conf"
    {
        echo "pid $D/ngx/nginx.pid; events {} http {"
        for t in client_body proxy fastcgi uwsgi scgi; do echo "${t}_temp_path $D/ngx/tmp/$t;"; done
        echo "include $D/ngx/site.conf; }"
    } >"$D/ngx/nginx.conf"
    check "nginx -t accepts compose's rendering" \
        /usr/sbin/nginx -t -q -p "$D/ngx/" -c "$D/ngx/nginx.conf" -e "$D/ngx/error.log"
else
    ok "nginx -t on compose's rendering # SKIP /usr/sbin/nginx not installed"
fi

# The demo: the fetcher polls the stand-in by its service name. Not in the
# fetcher's network namespace (network_mode: service:fetcher): a restarted
# fetcher gets a new one, and the stand-in would be left in the old.
check "demo: fake-coinapi has its own network namespace" test -z "$NET_M_fake_coinapi"
fport=$(printf '%s\n' "${CMD_M_fake_coinapi[@]}" | sed -n '/^--port$/{n;p}')
fbind=$(printf '%s\n' "${CMD_M_fake_coinapi[@]}" | sed -n '/^--bind$/{n;p}')
check "demo: it listens on the compose network (--bind $fbind --port $fport)" \
    bash -c "[ '$fbind' = 0.0.0.0 ] && [ -n '$fport' ]"
check "demo: the fetcher polls it by name on that port" \
    has "${ENV_M_fetcher[*]}" "COIN_API_URL=http://fake-coinapi:$fport"
check "outside the demo the fetcher polls the real CoinAPI" has "${ENV_L_fetcher[*]}" COIN_API_URL=https://rest.coinapi.io

# The Dockerfile.
check "the Dockerfile copies only what exists" \
    bash -c "for p in \$(sed -n 's/^COPY \\([a-zA-Z/.-]*\\) .*/\\1/p' Dockerfile); do [ -e \"\$p\" ] || exit 1; done"
# The build stage's context, as the Dockerfile copies it: does its make
# find every file it needs? (A dry run: no compiler work.)
mkdir -p "$D/ctx"
while read -r src dst; do
    mkdir -p "$D/ctx/$(dirname "$dst")"
    cp -r "$src" "$D/ctx/$dst"
done < <(sed -n '/^FROM .* AS build/,/^FROM /{s/^COPY \([^-][^ ]*\) \([^ ]*\)$/\1 \2/p}' Dockerfile)
targets=$(sed -n '/^FROM .* AS build/,/^FROM /{s/^RUN make //p}' Dockerfile)
check "the build stage's make ($targets) has every file it needs" \
    bash -c "[ -n '$targets' ] && make -n -C '$D/ctx' $targets >'$D/ctx.log' 2>&1"
check "the image runs as a non-root user" grep -q '^USER ratecast' Dockerfile
it_done
