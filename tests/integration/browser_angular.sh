#!/usr/bin/env bash
# The Angular example (examples/angular) in headless Chromium: built once
# (npm ci && npm run build, when dist/ is missing), served from its own
# origin and pointed at a live sse-server with ?server=. The checks live in
# tests/browser/angular.mjs; this script starts what they talk to.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init browser_angular
it_broker
D=$IT_DIR
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-browser-angular-$$
APP=$TOP/examples/angular
[ -x /usr/bin/chromium ] || bail "chromium is not installed (make deps)"
if [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ]; then
    (cd "$TOP/tests/browser" && npm ci --no-audit --no-fund >"$D/npm.log" 2>&1) ||
        bail "npm ci in tests/browser ($(tail -3 "$D/npm.log"))"
fi
if [ ! -d "$APP/dist" ]; then
    (cd "$APP" && npm ci --no-audit --no-fund && npm run build) >"$D/angular-build.log" 2>&1 ||
        bail "build examples/angular ($(tail -5 "$D/angular-build.log"))"
fi
APP_DIR=$(find "$APP/dist" -mindepth 2 -maxdepth 2 -type d -name browser | head -1)
[ -n "$APP_DIR" ] && [ -f "$APP_DIR/index.html" ] || bail "examples/angular/dist/*/browser/index.html exists"

start_fake "$D/fake.log"
start_sse "$D/sse.log"
spawn "$D/fetcher.log" env COIN_API_KEY=k COIN_API_URL="$FAKE" "$BIN/fetcher" --duration 0 --interval 500ms
SSE=$SSE APP_DIR=$APP_DIR node "$TOP/tests/browser/angular.mjs" | tee "$D/run.out"
grep -q '^ok - ' "$D/run.out" || not_ok "the Angular browser test ran"
IT_CHECKS=$((IT_CHECKS + $(grep -c '^ok - \|^not ok - ' "$D/run.out")))
IT_FAILS=$((IT_FAILS + $(grep -c '^not ok - ' "$D/run.out")))
it_done
