#!/usr/bin/env bash
# docker-compose.yml: no Docker engine runs here, so check what can be
# checked without one: the file is valid for Debian's docker-compose, and
# every environment variable it sets is one our programs really read.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init compose
cd "$TOP"
check "docker-compose config accepts the file" \
    env COIN_API_KEY=placeholder docker-compose -f docker-compose.yml config -q
check "docker-compose refuses to start the fetcher without COIN_API_KEY" \
    bash -c "! env -u COIN_API_KEY docker-compose -f docker-compose.yml config -q 2>/dev/null"
COIN_API_KEY=placeholder docker-compose -f docker-compose.yml config >"$IT_DIR/resolved.yml"
check "services rabbitmq, sse-server and fetcher" \
    bash -c "for s in rabbitmq sse-server fetcher; do grep -q \"^  \$s:\" '$IT_DIR/resolved.yml' || exit 1; done"
for svc in sse-server fetcher; do
    "$BIN/$svc" --help >"$IT_DIR/$svc.help"
    vars=$(awk -v s="  $svc:" '$0 == s { on = 1; next } /^  [a-z]/ { on = 0 } on && /^      [A-Z_]+:/ { sub(":", "", $1); print $1 }' \
        "$IT_DIR/resolved.yml")
    [ -n "$vars" ] || not_ok "$svc: no environment found in the resolved file"
    for v in $vars; do
        check "$svc reads $v" grep -qw "$v" "$IT_DIR/$svc.help"
    done
done
check "the Dockerfile builds only what exists" \
    bash -c "for p in \$(sed -n 's/^COPY \\([a-zA-Z/.-]*\\) .*/\\1/p' Dockerfile); do [ -e \"\$p\" ] || exit 1; done"
check "the image runs as a non-root user" grep -q '^USER ratecast' Dockerfile
it_done
