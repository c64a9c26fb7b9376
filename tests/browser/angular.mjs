// The Angular example (examples/angular) in headless Chromium: its built
// files served from one origin, pointed at sse-server on another with
// ?server=. tests/integration/browser_angular.sh starts sse-server and a
// fetcher and passes SSE (sse-server's origin) and APP_DIR (the dist
// browser/ directory).
//
// Prints "ok - ..." / "not ok - ..." lines; exits non-zero if any failed.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const SSE = process.env.SSE;
const APP_DIR = process.env.APP_DIR;
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

if (!SSE || !APP_DIR || !fs.existsSync(path.join(APP_DIR, "index.html"))) {
  console.log(`not ok - SSE and APP_DIR (with index.html) are set (SSE=${SSE} APP_DIR=${APP_DIR})`);
  process.exit(1);
}

// A tiny static file server for the built app: any static server would do.
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".json": "application/json", ".ico": "image/x-icon", ".txt": "text/plain" };
const root = path.resolve(APP_DIR);
const server = http.createServer((req, res) => {
  let p = decodeURIComponent(new URL(req.url, "http://x").pathname);
  let file = path.resolve(root, "." + p);
  if (!file.startsWith(root + path.sep) && file !== root) { res.writeHead(403).end(); return; }
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(root, "index.html");
  res.setHeader("Content-Type", TYPES[path.extname(file)] || "application/octet-stream");
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const APP = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${APP}/?server=${encodeURIComponent(SSE)}`);

  const count = async () => Number((await page.textContent("#count").catch(() => "")) || 0);
  check("the Angular app renders its counter", await until(async () => (await page.$("#count")) !== null, 10000));
  check("the counter counts messages", await until(async () => (await count()) >= 2, 15000), `at ${await count()}`);
  const c1 = await count();
  check("the counter keeps increasing", await until(async () => (await count()) > c1, 10000), `stuck at ${c1}`);
  const priceRe = /^1 BTC Price Now: USD \d+\.\d{2}$/;
  const price = async () => ((await page.textContent("#price").catch(() => "")) || "").trim();
  check("the BTC/USD price is shown with 2 decimals", await until(async () => priceRe.test(await price()), 15000),
        `shows "${await price()}"`);
  console.log(`# ${await price()}; ${await count()} messages`);
  check("the page logged no errors", errors.length === 0, errors.slice(0, 3).join(" | "));
} catch (e) {
  failures++;
  console.log(`not ok - the Angular browser test ran (${e.message.split("\n")[0]})`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failures ? 1 : 0);
