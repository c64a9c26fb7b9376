// Real-browser and EventSource conformance tests, against a running
// sse-server fed by a running fetcher (tests/integration/browser.sh starts
// them and passes their addresses in the environment).
//
// Prints one "ok - ..." / "not ok - ..." line per check, like the shell
// tests, and exits non-zero if any failed.
import { chromium } from "playwright-core";
import EventSourceModule from "eventsource";
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

const EventSource = EventSourceModule.default || EventSourceModule;
const SSE = process.env.SSE;                 // http://127.0.0.1:PORT of sse-server
const OTHER = process.env.OTHER_ORIGIN;      // a page server on another port
const ARTIFACTS = process.env.ARTIFACTS;     // where the screenshot goes
const RESTART = process.env.RESTART_CMD;     // restarts sse-server on the same port
const PUBLISH = process.env.PUBLISH_CMD;     // publishes one body (argv[1]) to the exchange
let failures = 0;

function check(what, cond, detail = "") {
  if (cond) console.log(`ok - ${what}`);
  else { failures++; console.log(`not ok - ${what}${detail ? ` (${detail})` : ""}`); }
}
async function until(fn, ms, step = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(step);
  }
}

// ---- headless Chromium -------------------------------------------------
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
  const seen = [];
  await page.exposeFunction("recordId", (id) => seen.push(id));
  await page.addInitScript(() => {
    // Record every event id the page's EventSource delivers, to find
    // duplicates across the server restart below.
    const Orig = window.EventSource;
    window.EventSource = function (url, opts) {
      const es = new Orig(url, opts);
      es.addEventListener("message", (ev) => window.recordId(ev.lastEventId));
      return es;
    };
    window.EventSource.CLOSED = Orig.CLOSED;
  });
  await page.goto(`${SSE}/`);
  const count = () => page.evaluate(() => (window.ratecast ? window.ratecast.count : 0));
  check("the demo page shows ticks arriving", await until(async () => (await count()) >= 3, 15000));
  const c1 = await count();
  const shown = await page.textContent("#count");
  check("the page's counter shows the events received", Number(shown) >= c1 - 1, `shown ${shown}, counted ${c1}`);
  check("the connection state says open", (await page.textContent("#state")) === "open");
  const points = () => page.evaluate(() => {
    let n = 0; for (const s of window.ratecast.series.values()) n += s.length; return n; });
  const p1 = await points();
  const ink = () => page.evaluate(() => {
    const c = document.getElementById("chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200) lit++;  // the blue line
    return lit; });
  check("the chart has a line drawn", (await ink()) > 50);
  check("counter and chart advance", await until(async () => (await count()) > c1 && (await points()) > p1, 10000));
  await until(async () => (await count()) >= 10, 15000);
  await page.screenshot({ path: `${ARTIFACTS}/demo-page.png` });
  check("screenshot after 10 ticks saved", (await count()) >= 10);

  // A page opened now fills its chart at once from ?since=15m (the page's
  // default): the server's kept events, as many as the first page has seen
  // (it replayed them too), in far less time than they took to publish.
  {
    const n0 = await count();
    const late = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    await late.goto(`${SSE}/`);
    const latePoints = () => late.evaluate(() => {
      let n = 0; if (window.ratecast) for (const s of window.ratecast.series.values()) n += s.length; return n; });
    check("a page opened later shows the kept history at once (?since=15m)",
          await until(async () => (await latePoints()) >= n0, 1500), `${await latePoints()} points, want ${n0}`);
    await late.close();
  }
  // The snapshot shows a price before any new tick: a pair published once,
  // before the page opens, and never again, can only come from it (since=
  // empty: no replay of the window).
  {
    execFileSync("bash", ["-c", `${PUBLISH} '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"SNP","asset_id_quote":"USD","rate":1.5}'`]);
    await until(() => page.$('.rate[data-pair="SNP/USD"]'), 5000); // the server has it
    const snap = await browser.newPage();
    await snap.goto(`${SSE}/?pairs=SNP/USD&since=`);
    const value = () => snap.textContent('.rate[data-pair="SNP/USD"] .value').catch(() => null);
    check("a pair's latest price shows at once from the snapshot, with no new tick",
          await until(async () => (await value()) === "1.5", 3000), `shown ${await value()}`);
    await snap.close();
  }

  // The server goes away and comes back on the same port: EventSource
  // reconnects by itself (retry: ~3 s) and the count goes on.
  const before = await count();
  execFileSync("bash", ["-c", RESTART], { stdio: "inherit" });
  check("after a server restart the page reconnects by itself and the count continues",
        await until(async () => (await count()) > before + 2, 20000), `count ${await count()} vs ${before}`);
  check("... showing the connection open again", (await page.textContent("#state")) === "open");
  const dups = seen.filter((id, i) => seen.indexOf(id) !== i);
  check("... with no duplicate event ids", dups.length === 0, `duplicates: ${dups.slice(0, 3)}`);
  const ordered = seen.every((id, i) => i === 0 || BigInt(id) > BigInt(seen[i - 1]));
  check("... and ids strictly increasing", ordered);

  // Another origin: a page served from another port reads the stream
  // through CORS, as a frontend on its own host would.
  const other = await browser.newPage();
  await other.goto(`${OTHER}/cors.html?sse=${encodeURIComponent(SSE)}`);
  check("a page from another origin receives ticks through CORS",
        await until(() => other.evaluate(() => window.got >= 2), 15000));
} finally {
  await browser.close();
}

// ---- EventSource conformance with Node's eventsource ------------------
// collect(...).opened: resolves true once the stream is open (the server
// sends the response head after subscribing the client, so anything
// published from then on reaches it), false if it never opened.
function collect(url, opts, n, ms) {
  let opened;
  const openedP = new Promise((r) => { opened = r; });
  const p = new Promise((resolve) => {
    const got = { events: [], resets: [], opens: 0, es: null };
    const es = new EventSource(url, opts);
    got.es = es;
    es.onopen = () => { got.opens++; opened(true); };
    es.onmessage = (ev) => { got.events.push(ev); if (got.events.length >= n) { es.close(); resolve(got); } };
    es.addEventListener("reset", (ev) => got.resets.push(ev));
    setTimeout(() => { es.close(); opened(false); resolve(got); }, ms);
  });
  p.opened = openedP;
  return p;
}
const first = await collect(`${SSE}/api/v1/sso/stream`, {}, 4, 15000);
check("eventsource: events arrive with ids", first.events.length === 4 && first.events.every((e) => /^\d+$/.test(e.lastEventId)));
const lastId = first.events[1].lastEventId;
const resumed = await collect(`${SSE}/api/v1/sso/stream`, { headers: { "Last-Event-ID": lastId } }, 2, 15000);
check("eventsource: Last-Event-ID resumes with the very next event",
      resumed.events.length === 2 && resumed.events[0].lastEventId === first.events[2].lastEventId,
      `${resumed.events.map((e) => e.lastEventId)} vs ${first.events[2].lastEventId}`);
const reset = await collect(`${SSE}/api/v1/sso/stream`, { headers: { "Last-Event-ID": "1" } }, 1, 15000);
check("eventsource: an id too old gives a 'reset' event, then live events",
      reset.resets.length === 1 && reset.events.length === 1);
check("... the reset names the range kept", (() => { try { const d = JSON.parse(reset.resets[0].data); return d.requested === "1" && /^\d+$/.test(d.newest); } catch { return false; } })());

// The server is killed (SIGKILL: a crash) and comes back. The client
// reconnects by itself, honouring retry: (the server sent 3000-4500 ms, so
// not at once), sends Last-Event-ID, and the new server, which filled its
// ring from the history stream before it was ready, replays exactly what
// the client missed: no reset, no gap, no duplicate.
{
  const es = new EventSource(`${SSE}/api/v1/sso/stream`);
  const opens = [], resets = [], events = [];
  es.onopen = () => opens.push(Date.now());
  es.onmessage = (ev) => events.push(ev.lastEventId);
  es.addEventListener("reset", (ev) => resets.push(ev.data));
  await until(() => opens.length >= 1 && events.length >= 1, 10000);
  const killedAt = Date.now();
  execFileSync("bash", ["-c", `SIG=KILL ${RESTART}`], { stdio: "inherit" });
  await until(() => opens.length >= 2 && events.length >= 6, 20000);
  es.close();
  const gap = opens[1] - killedAt;
  check("eventsource: after a SIGKILL and restart the client reconnects by itself",
        opens.length >= 2, `opens ${opens.length}`);
  check("... honouring retry: (after the server's 3-4.5 s, not at once)", gap >= 2500, `gap ${gap} ms`);
  check("... and resumes without a reset (the restarted server has the history)",
        resets.length === 0 && events.length >= 6, `resets ${resets.length}, events ${events.length}`);
  // Every event the server kept since the client's first one, as a client
  // asking for the window sees them: the resumed client has the same ids,
  // in the same order, none missing and none twice.
  const all = await collect(`${SSE}/api/v1/sso/stream?since=1h`, {}, 100000, 1500);
  const kept = all.events.map((e) => e.lastEventId);
  const from = kept.indexOf(events[0]);
  const want = from < 0 ? [] : kept.slice(from, from + events.length);
  check("... with every event it missed while the server was down, once and in order",
        from >= 0 && want.join() === events.join(),
        `client ${events.length} events from ${events[0]}, kept ${kept.length}, at ${from}`);
}

// A message whose JSON has \n and \r inside strings arrives intact, as one
// event (the escapes are JSON's, never raw line breaks on the wire).
{
  const body = '{"time":"2026-11-28T02:31:19.5655909Z","asset_id_base":"BTC","asset_id_quote":"USD","rate":1.25,"note":"line1\\nline2\\r\\nend"}';
  const p = collect(`${SSE}/api/v1/sso/stream?pairs=BTC/USD`, {}, 50, 8000);
  if (await p.opened) execFileSync("bash", ["-c", `${PUBLISH} '${body}'`]);
  const got = await p;
  const mine = got.events.find((e) => e.data.includes('"note"'));
  let parsed = null; try { parsed = JSON.parse(mine.data); } catch {}
  check("eventsource: JSON with \\n and \\r inside strings arrives intact, as one event",
        parsed && parsed.note === "line1\nline2\r\nend" && mine.data === body, mine ? mine.data : "not received");
}

process.exit(failures ? 1 : 0);
