#!/usr/bin/env bash
# Real browsers: headless Chromium (Debian's, driven by playwright-core)
# on the demo page, across a server restart and from another origin; and
# EventSource conformance with Node's eventsource package. The checks live
# in tests/browser/run.mjs; this script starts what they talk to.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
it_init browser
it_broker
D=$IT_DIR
export AMQP_URL=$AMQP AMQP_EXCHANGE=test-browser-$$
[ -x /usr/bin/chromium ] || bail "chromium is not installed (make deps)"
if [ ! -d "$TOP/tests/browser/node_modules/playwright-core" ]; then
    (cd "$TOP/tests/browser" && npm ci --no-audit --no-fund >"$D/npm.log" 2>&1) ||
        bail "npm ci in tests/browser ($(tail -3 "$D/npm.log"))"
fi

start_fake "$D/fake.log"
start_sse "$D/sse.log"
echo "$SSE_PID" >"$D/sse.pid"
# Restart on the same port: what a browser sees when a server is replaced
# (SIG=KILL: when it crashes).
cat >"$D/restart.sh" <<EOS
kill -\${SIG:-TERM} \$(cat "$D/sse.pid"); while kill -0 \$(cat "$D/sse.pid") 2>/dev/null; do sleep 0.1; done
"$BIN/sse-server" --listen 127.0.0.1:$SSE_PORT >>"$D/sse.log" 2>&1 &
echo \$! >"$D/sse.pid"
for i in \$(seq 50); do curl -s -o /dev/null "$SSE/healthz" && break; sleep 0.1; done
EOS
spawn "$D/fetcher.log" env COIN_API_KEY=k COIN_API_URL="$FAKE" "$BIN/fetcher" --duration 0 --interval 500ms
# Another origin: the same page server idea as a frontend's own host.
spawn "$D/origin.log" node -e '
  const http = require("http"), fs = require("fs");
  const page = fs.readFileSync(process.argv[1]);
  const s = http.createServer((q, r) => { r.setHeader("Content-Type", "text/html"); r.end(page); });
  s.listen(0, "127.0.0.1", () => console.log(s.address().port));' "$TOP/tests/browser/cors.html"
wait_for 5 test -s "$D/origin.log" || bail "the other-origin page server starts"
mkdir -p "$TOP/.run/test-artifacts"
SSE=$SSE OTHER_ORIGIN=http://127.0.0.1:$(head -1 "$D/origin.log") ARTIFACTS=$TOP/.run/test-artifacts \
    RESTART_CMD="bash $D/restart.sh" PUBLISH_CMD="amqp-publish --url=$AMQP -e $AMQP_EXCHANGE -b" \
    node "$TOP/tests/browser/run.mjs" | tee "$D/run.out"
grep -q '^ok - ' "$D/run.out" || not_ok "the browser tests ran"
IT_CHECKS=$((IT_CHECKS + $(grep -c '^ok - \|^not ok - ' "$D/run.out")))
IT_FAILS=$((IT_FAILS + $(grep -c '^not ok - ' "$D/run.out")))
kill "$(cat "$D/sse.pid")" 2>/dev/null
it_done
