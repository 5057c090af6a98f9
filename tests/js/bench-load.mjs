// Load-time benchmark of the badge for `cargo xtask bench browser`: HTML to verified badge in
// Debian's Chromium (playwright-core), the real badge against a minimal web-sys baseline, and
// the fetches of a page with many badges. Reads its plan as JSON on stdin and prints one JSON
// object per line on stdout (`{"figure": ...}`); progress goes to stderr.
//
// With `plan.mobile`, it instead loads the same one-badge pages, and the certificate's
// verification page, on a throttled phone profile (CPU and network emulated through the Chrome
// DevTools Protocol) and reports times and bytes on the wire.
//
// Both bundles come from `zp serve` (the real badge from the issuer, the baseline from a second
// `zp serve` whose --widget-dir holds it), behind one small proxy, so that pages, bundles, keys
// and status lists all share one origin and the headers the server sends:
//
//   http://127.0.0.1:PORT/bench/*.html     the test pages (from memory, the same headers for both)
//   http://127.0.0.1:PORT/baseline/...     → the baseline's server, without the prefix
//   http://127.0.0.1:PORT/...              → the issuer's server (badge bundle, JWKS, status lists)

import http from "node:http";
import { chromium } from "playwright-core";

const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const log = (...args) => process.stderr.write(args.join(" ") + "\n");
const emit = (object) => process.stdout.write(JSON.stringify(object) + "\n");

const origin = `http://127.0.0.1:${plan.port}`;
const upstreams = { issuer: new URL(plan.issuer_upstream), baseline: new URL(plan.baseline_upstream) };
const variants = {
  widget: { loader: `${origin}/widget/zp-badge.js` },
  baseline: { loader: `${origin}/baseline/widget/zp-badge.js` },
};

// ---- the proxy ----------------------------------------------------------------------------

const pages = new Map();
const agent = new http.Agent({ keepAlive: true });

function forward(request, response, upstream, path) {
  const outgoing = http.request({
    agent, host: upstream.hostname, port: upstream.port, method: request.method, path,
    headers: { ...request.headers, host: upstream.host },
  }, (answer) => {
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  outgoing.on("error", (error) => {
    log("proxy:", path, error.message);
    response.writeHead(502).end();
  });
  request.pipe(outgoing);
}

const proxy = http.createServer((request, response) => {
  const path = request.url ?? "/";
  const page = pages.get(path);
  if (page !== undefined) {
    response.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-length": Buffer.byteLength(page),
    });
    response.end(page);
  } else if (path.startsWith("/baseline/")) {
    forward(request, response, upstreams.baseline, path.slice("/baseline".length));
  } else {
    forward(request, response, upstreams.issuer, path);
  }
});
await new Promise((resolve, reject) => {
  proxy.once("error", reject);
  proxy.listen(plan.port, "127.0.0.1", resolve);
});

// ---- the token and the pages ---------------------------------------------------------------

const found = await (await fetch(`${origin}/api/v1/certificates?limit=100`)).json();
const certificate = found.items
  .filter((c) => c.status === "valid" && c.token && c.entity.domains.includes("127.0.0.1"))
  .sort((a, b) => b.valid_until_unix - a.valid_until_unix)[0];
if (!certificate) throw new Error("no valid demo certificate for 127.0.0.1 in /api/v1/certificates");

const escape = (text) => text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
const badge = `<zakup-prospoleczny token="${escape(certificate.token)}" lang="pl">` +
  `<a href="${origin}/v/${certificate.id}">Zakup Prospołeczny: sprawdź certyfikat</a></zakup-prospoleczny>`;
const html = (loader, count) =>
  `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Sklep</title>` +
  `<script type="module" src="${loader}"></script></head><body><h1>Sklep</h1>` +
  Array.from({ length: count }, () => `<p>${badge}</p>`).join("\n") + `</body></html>`;
for (const [name, variant] of Object.entries(variants)) {
  variant.one = `/bench/${name}.html`;
  variant.many = `/bench/${name}-${plan.badges}.html`;
  pages.set(variant.one, html(variant.loader, 1));
  pages.set(variant.many, html(variant.loader, plan.badges));
}

// ---- the browser ---------------------------------------------------------------------------

// Installed in every page before its HTML is parsed: records, on the page's clock
// (performance.now(), 0 at navigation start), when a badge first says "verified" and when every
// badge on the page does, and resolves `window.__zpBench.done` then.
function observe() {
  const bench = { first: null, all: null, states: [] };
  bench.done = new Promise((resolve) => (bench.resolve = resolve));
  window.__zpBench = bench;
  new MutationObserver((records) => {
    const now = performance.now();
    for (const record of records) bench.states.push([record.target.getAttribute("data-zp-state"), Math.round(now)]);
    const badges = [...document.querySelectorAll("zakup-prospoleczny")];
    const verified = badges.filter((b) => b.getAttribute("data-zp-state") === "verified").length;
    if (verified > 0 && bench.first === null) bench.first = now;
    if (verified === badges.length && bench.all === null) {
      bench.all = now;
      bench.resolve();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-zp-state"] });
}

const browser = await chromium.launch({
  executablePath: plan.chromium,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});

const kind = (url) => {
  if (url.endsWith(".wasm")) return "wasm";
  if (url.includes("/api/v1/status-lists/")) return "lists";
  if (url.endsWith("/.well-known/jwks.json")) return "jwks";
  if (/zp-widget-[0-9a-f]+\.js$/.test(url)) return "glue";
  if (url.endsWith("/zp-badge.js")) return "loader";
  return "other";
};

/** One load in a fresh context (empty HTTP cache), until every badge on the page says verified. */
async function load(path) {
  const context = await browser.newContext();
  try {
    await context.addInitScript(observe);
    const page = await context.newPage();
    const requests = { wasm: 0, lists: 0, jwks: 0, glue: 0, loader: 0, other: 0 };
    page.on("request", (request) => (requests[kind(request.url())] += 1));
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin}${path}`, { waitUntil: "commit" });
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, plan.timeout_ms, "timeout")));
    const outcome = await Promise.race([page.evaluate(() => window.__zpBench.done.then(() => "done")), timeout]);
    clearTimeout(timer);
    if (outcome !== "done") {
      const states = await page.evaluate(() => window.__zpBench.states).catch(() => "?");
      throw new Error(`${path}: not verified within ${plan.timeout_ms} ms (states ${JSON.stringify(states)}; errors ${errors.join("; ")})`);
    }
    // Late fetches would still count against the page.
    await page.waitForTimeout(plan.settle_ms);
    const seen = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      return {
        first: window.__zpBench.first,
        all: window.__zpBench.all,
        html_ms: nav.responseEnd,
        resources: performance.getEntriesByType("resource").map((e) => ({
          name: e.name, start: e.startTime, end: e.responseEnd, bytes: e.decodedBodySize,
        })),
        // Marks a bundle may set while someone looks into its loading (none by default).
        marks: performance.getEntriesByType("mark").map((e) => ({ name: e.name, at: e.startTime })),
      };
    });
    return { ...seen, requests };
  } finally {
    await context.close();
  }
}

/**
 * One cold load of `path` on the phone profile: a fresh context (empty cache), the CPU slowed
 * `cpu_rate` times and the network held to `latency_ms` per request and the given throughput, all
 * through CDP before navigating. Waits for every badge to say verified (`badge`) or for the first
 * contentful paint (a page). Returns the times and the bytes Chromium counted on the wire per
 * kind of resource (`encodedDataLength`: headers and body as received).
 */
async function loadThrottled(path, profile, badge) {
  const context = await browser.newContext();
  try {
    await context.addInitScript(observe);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: profile.cpu_rate });
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: profile.latency_ms,
      downloadThroughput: (profile.down_kbit * 1000) / 8,
      uploadThroughput: (profile.up_kbit * 1000) / 8,
    });
    const urls = new Map();
    const wire = {};
    cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
    cdp.on("Network.loadingFinished", (e) => {
      const url = urls.get(e.requestId) ?? "";
      const { pathname } = new URL(url || origin);
      const key = pathname.endsWith(".css") ? "css"
        : pathname.startsWith("/bench/") || pathname === `/v/${certificate.id}` ? "html" : kind(url);
      wire[key] = (wire[key] ?? 0) + e.encodedDataLength;
    });
    await page.goto(`${origin}${path}`, { waitUntil: "commit" });
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, plan.timeout_ms * 3, "timeout")));
    const done = badge
      ? page.evaluate(() => window.__zpBench.done.then(() => "done"))
      : page.waitForLoadState("load").then(() => "done");
    const outcome = await Promise.race([done, timeout]);
    clearTimeout(timer);
    if (outcome !== "done") throw new Error(`${path}: not done within ${plan.timeout_ms * 3} ms on the phone profile`);
    await page.waitForTimeout(plan.settle_ms);
    const seen = await page.evaluate(() => ({
      verified: window.__zpBench.first,
      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
    }));
    return { ...seen, wire };
  } finally {
    await context.close();
  }
}

/** The phone profile: badge against baseline, then the verification page, each a median. */
async function mobile(profile) {
  const loads = { widget: [], baseline: [] };
  for (let round_ = 0; round_ < profile.warmup + profile.loads; round_ += 1) {
    const order = round_ % 2 === 0 ? ["widget", "baseline"] : ["baseline", "widget"];
    for (const name of order) {
      const seen = await loadThrottled(variants[name].one, profile, true);
      if (round_ >= profile.warmup) loads[name].push(seen);
    }
    if (round_ >= profile.warmup) {
      const last = (name) => Math.round(loads[name].at(-1).verified);
      log(`  phone load ${round_ - profile.warmup + 1}/${profile.loads}: badge ${last("widget")} ms, baseline ${last("baseline")} ms`);
    }
  }
  for (const [name, seen] of Object.entries(loads)) {
    const wire = {};
    for (const key of new Set(seen.flatMap((s) => Object.keys(s.wire)))) wire[key] = median(seen.map((s) => s.wire[key] ?? 0));
    emit({
      figure: "mobile_badge", variant: name, loads: seen.length,
      median_ms: round(median(seen.map((s) => s.verified))),
      samples_ms: seen.map((s) => round(s.verified)), wire,
    });
  }
  const ratios = loads.widget.map((w, i) => w.verified / loads.baseline[i].verified);
  emit({ figure: "mobile_paired", rounds: ratios.length, median_ratio: Math.round(median(ratios) * 1000) / 1000 });

  // The verification page a QR code leads to, beside a bare page of the same origin (the network's
  // floor on this profile).
  pages.set("/bench/blank.html", "<!doctype html><html lang=\"pl\"><head><meta charset=\"utf-8\"><title>Sklep</title></head><body><p>Sklep</p></body></html>");
  const page = { verify: [], blank: [] };
  for (let round_ = 0; round_ < profile.warmup + profile.loads; round_ += 1) {
    const order = round_ % 2 === 0 ? ["verify", "blank"] : ["blank", "verify"];
    for (const name of order) {
      const seen = await loadThrottled(name === "verify" ? `/v/${certificate.id}` : "/bench/blank.html", profile, false);
      if (round_ >= profile.warmup) page[name].push(seen);
    }
  }
  for (const [name, seen] of Object.entries(page)) {
    const wire = {};
    for (const key of new Set(seen.flatMap((s) => Object.keys(s.wire)))) wire[key] = median(seen.map((s) => s.wire[key] ?? 0));
    emit({
      figure: "mobile_page", variant: name, loads: seen.length,
      fcp_median_ms: round(median(seen.map((s) => s.fcp))), wire,
    });
  }
}

/** Milliseconds since navigation start at which each step of one load ended. */
function phases(seen) {
  const by = {};
  for (const entry of seen.resources) by[kind(entry.name)] ??= entry;
  const at = (k, field) => by[k]?.[field] ?? NaN;
  return {
    html: seen.html_ms,
    loader: at("loader", "end"),
    glue: at("glue", "end"),
    wasm_start: at("wasm", "start"),
    wasm: at("wasm", "end"),
    jwks_start: at("jwks", "start"),
    jwks: at("jwks", "end"),
    list_start: at("lists", "start"),
    list: at("lists", "end"),
    verified: seen.first,
    ...Object.fromEntries(seen.marks.map((m) => [`mark ${m.name}`, m.at])),
  };
}

const median = (values) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (value) => (value === null ? null : Math.round(value * 10) / 10);

emit({ figure: "environment", chromium: browser.version(), certificate: certificate.id, origin });

if (plan.mobile) {
  await mobile(plan.mobile);
  await browser.close();
  proxy.closeAllConnections();
  proxy.close();
  agent.destroy();
  process.exit(0);
}

// Cold loads of a one-badge page, alternating the two (ABBA, so neither always goes first);
// the first round of each warms the servers and the disk and is not counted.
const samples = { widget: [], baseline: [] };
for (let round_ = 0; round_ < plan.warmup + plan.loads; round_ += 1) {
  const order = round_ % 2 === 0 ? ["widget", "baseline"] : ["baseline", "widget"];
  for (const name of order) {
    const seen = await load(variants[name].one);
    if (round_ >= plan.warmup) samples[name].push(seen);
  }
  if (round_ >= plan.warmup) {
    const last = (name) => Math.round(samples[name].at(-1).first);
    log(`  load ${round_ - plan.warmup + 1}/${plan.loads}: badge ${last("widget")} ms, baseline ${last("baseline")} ms`);
  }
}
for (const [name, loads] of Object.entries(samples)) {
  const times = loads.map((s) => s.first);
  const sorted = [...times].sort((a, b) => a - b);
  const each = loads.map(phases);
  const step = {};
  for (const key of new Set(each.flatMap(Object.keys))) step[key] = round(median(each.map((p) => p[key])));
  const bytes = {};
  for (const entry of loads[0].resources) bytes[kind(entry.name)] = entry.bytes;
  emit({
    figure: "cold_load", variant: name, loads: loads.length,
    median_ms: round(median(times)), min_ms: round(sorted[0]), max_ms: round(sorted.at(-1)),
    samples_ms: times.map(round), phases_median_ms: step, bytes,
  });
}

// Each round's two loads ran back to back: the median of their ratios is less exposed to the
// machine's drift than the ratio of the medians.
const ratios = samples.widget.map((w, i) => w.first / samples.baseline[i].first);
emit({ figure: "paired", rounds: ratios.length, median_ratio: Math.round(median(ratios) * 1000) / 1000 });

// A page with many badges: what each bundle fetches.
for (const name of ["widget", "baseline"]) {
  const seen = await load(variants[name].many);
  emit({ figure: "many_badges", variant: name, badges: plan.badges, all_verified_ms: round(seen.all), ...seen.requests });
}

await browser.close();
proxy.closeAllConnections();
proxy.close();
agent.destroy();
