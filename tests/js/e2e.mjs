// End-to-end checks of the badge in Debian's Chromium, driven by playwright-core, against the
// real server. One browser for every scenario; reads its plan as JSON on stdin and prints what
// it saw as JSON on stdout, for the Rust test to judge.

import { badge as kitBadge, launch, log, pageHtml, readPlan, settle } from "./kit.mjs";

const plan = await readPlan();
const base = plan.base;
const browser = await launch();
const badge = (token, extra = "") => kitBadge(token, base, extra);
const page_html = ({ body, head = "" }) => pageHtml({ body, head, issuers: [base] });

/**
 * Every uncaught exception, console error, failed request and error response of every page of
 * `context`, popups included, with the page's URL: the test fails on any. A scenario that
 * provokes one (a refused request) names it in `expected`, and only that one passes.
 */
const errors = [];
// The server's pages declare no icon, so Chromium asks for /favicon.ico, which is not there.
const everywhere = [/^404 http:\/\/127\.0\.0\.1:\d+\/favicon\.ico$/];
function watch(context, expected = []) {
  context.on("page", (page) => {
    const note = (kind, text) => {
      if ([...everywhere, ...expected].some((pattern) => pattern.test(text))) log("expected", kind, page.url(), text);
      else errors.push({ kind, url: page.url(), text });
    };
    page.on("pageerror", (error) => note("pageerror", error.message));
    page.on("console", (message) => {
      // Chromium's "Failed to load resource" names no URL; the two handlers below report it with one.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
        note("console", message.text());
      }
    });
    page.on("response", (response) => { if (response.status() >= 400) note("response", `${response.status()} ${response.url()}`); });
    page.on("requestfailed", (request) => note("requestfailed", `${request.failure()?.errorText} ${request.url()}`));
  });
  return context;
}

/** Opens a page whose HTML (and headers) the test chooses, served at the server's origin. */
async function open(context, path, html, headers = {}) {
  const page = await context.newPage();
  await page.route(`${base}${path}`, (route) =>
    route.fulfill({ status: 200, headers: { "content-type": "text/html; charset=utf-8", ...headers }, body: html }));
  await page.goto(`${base}${path}`);
  return page;
}

const result = {};
const context = watch(await browser.newContext({ viewport: { width: 1000, height: 900 } }));

// 0. The badge flips to expired at the second of `exp` while the page stays open. The page's
// clock is set to the server's, which runs ahead to just before the expiry; this runs first,
// while that moment is furthest away.
if (plan.expiry) {
  const clocked = watch(await browser.newContext());
  const page = await clocked.newPage();
  const margin_ms = plan.expiry.exp_ms - (Date.now() + plan.expiry.offset_ms);
  // A second ahead of the server's: the badge's time is the later of the page's clock and the
  // signed `iat` of its status list plus the time since, so a page clock that starts behind the
  // server's (installing it takes a round trip to the browser, long on a loaded machine) would
  // move the flip earlier by that lag, as it should for a real device.
  await page.clock.install({ time: Date.now() + plan.expiry.offset_ms + 1000 });
  const path = "/__e2e/expiry";
  await page.route(`${plan.expiry.base}${path}`, (route) => route.fulfill({
    status: 200, contentType: "text/html",
    body: page_html({ body: badge(plan.expiry.token) }).replace(`${base}/widget/`, `${plan.expiry.base}/widget/`),
  }));
  await page.goto(`${plan.expiry.base}${path}`);
  const state = () => page.evaluate(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state"));
  const settled = (await settle(page))[0].state;
  // Every change of state from here on, with the page's (installed) clock at that moment: a flip
  // at any other time than `exp` is recorded when it happens, however late it is drawn or read.
  await page.evaluate(() => {
    window.__zp_changes = [];
    const element = document.querySelector("zakup-prospoleczny");
    new MutationObserver((records) => {
      for (const record of records) {
        const state = element.getAttribute("data-zp-state");
        if (record.oldValue !== state) window.__zp_changes.push({ state, at_ms: Date.now() });
      }
    }).observe(element, { attributes: true, attributeFilter: ["data-zp-state"], attributeOldValue: true });
  });
  await page.clock.pauseAt(plan.expiry.exp_ms - 1000);
  const second_before = await state();
  await page.clock.runFor(990);
  const just_before = await state();
  await page.clock.runFor(20);
  await page.waitForFunction(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state") === "expired",
    null, { timeout: 5000 }).catch(() => {});
  const changes = await page.evaluate(() => window.__zp_changes);
  result.expiry = { settled, second_before, just_before, after: await state(), changes, margin_ms };
  await clocked.close();
}

// 1. One badge per state.
{
  const body = plan.badges.map((b) => `<p id="${b.name}">${badge(b.token, b.extra ?? "")}</p>`).join("\n");
  const page = await open(context, "/__e2e/states", page_html({ body }));
  const seen = await settle(page);
  result.states = plan.badges.map((b, i) => ({ name: b.name, ...seen[i] }));
  await page.screenshot({ path: `${plan.out_dir}/badge-states.png`, fullPage: true });
  await page.close();
}

// 2. The status list is unreachable and nothing is cached: the badge says it cannot confirm.
{
  const offline = watch(await browser.newContext(), [/^net::ERR_CONNECTION_REFUSED .*\/api\/v1\/status-lists\/0$/]);
  const page = await offline.newPage();
  await page.route(/\/api\/v1\/status-lists\//, (route) => route.abort("connectionrefused"));
  await page.route(`${base}/__e2e/offline`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: page_html({ body: badge(plan.valid_token) }) }));
  await page.goto(`${base}/__e2e/offline`);
  result.offline = (await settle(page))[0];
  await offline.close();
}

// 3. Twenty badges: one wasm fetch, one JWKS fetch, one status-list fetch.
{
  const counts = { wasm: 0, lists: 0, jwks: 0, glue: 0 };
  const page = await context.newPage();
  page.on("request", (request) => {
    const url = request.url();
    if (url.endsWith(".wasm")) counts.wasm += 1;
    if (url.includes("/api/v1/status-lists/")) counts.lists += 1;
    if (url.endsWith("/.well-known/jwks.json")) counts.jwks += 1;
    if (/zp-widget-[0-9a-f]+\.js$/.test(url)) counts.glue += 1;
  });
  const body = Array.from({ length: 20 }, () => badge(plan.valid_token)).join("\n");
  await page.route(`${base}/__e2e/twenty`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: page_html({ body }) }));
  await page.goto(`${base}/__e2e/twenty`);
  const seen = await settle(page);
  result.twenty = { ...counts, states: seen.map((s) => s.state) };
  await page.close();
}

// 4. A page whose CSP blocks WebAssembly still shows the verification link.
{
  const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'";
  const page = await open(context, "/__e2e/strict-csp", page_html({ body: badge(plan.valid_token) }),
    { "content-security-policy": csp });
  await page.waitForFunction(() => document.querySelector("zakup-prospoleczny")?.getAttribute("data-zp-state"),
    null, { timeout: 15000 });
  result.strict_csp = await page.evaluate(() => {
    const element = document.querySelector("zakup-prospoleczny");
    const link = element.querySelector("a.fallback");
    const box = link.getBoundingClientRect();
    return {
      state: element.getAttribute("data-zp-state"),
      shadow: element.shadowRoot !== null,
      link_visible: box.width > 0 && box.height > 0 && getComputedStyle(link).visibility !== "hidden",
      link_href: link.getAttribute("href"),
    };
  });
  await page.close();
}

// 5. Hostile host CSS does not change the badge.
{
  const measure = async (path, head) => {
    const page = await open(context, path, page_html({ head, body: `<div>${badge(plan.valid_token)}</div>` }));
    await settle(page);
    const box = await page.evaluate(() => {
      const element = document.querySelector("zakup-prospoleczny");
      const link = element.shadowRoot.querySelector("a");
      const headline = element.shadowRoot.querySelector(".zp__headline");
      const rect = link.getBoundingClientRect();
      return {
        width: Math.round(rect.width), height: Math.round(rect.height),
        font_size: getComputedStyle(headline).fontSize, color: getComputedStyle(link).color,
        border: getComputedStyle(link).borderTopWidth,
      };
    });
    await page.locator("zakup-prospoleczny").screenshot({ path: `${plan.out_dir}/badge${path.replace(/\//g, "-")}.png` });
    await page.close();
    return box;
  };
  const plain = await measure("/__e2e/plain", "");
  const hostile = await measure("/__e2e/hostile-css",
    `<style>* { all: unset !important; } html, body, div { font-size: 64px !important; color: magenta !important; ` +
    `line-height: 5 !important; } zakup-prospoleczny { font-size: 90px; color: lime; border: 9px solid red; }</style>`);
  result.hostile_css = { plain, hostile };
}

// 6. An entity name carrying markup renders as text.
{
  const page = await open(context, "/__e2e/xss", page_html({ body: badge(plan.hostile_token) }));
  const seen = (await settle(page))[0];
  result.xss = {
    ...seen,
    images: await page.evaluate(() => document.querySelector("zakup-prospoleczny").shadowRoot.querySelectorAll("img").length),
    fired: await page.evaluate(() => window.__zp_xss === 1),
  };
  await page.close();
}

// 7. Keyboard: Tab reaches the badge, Enter opens the verification page.
{
  const page = await open(context, "/__e2e/keyboard", page_html({ body: `<button>before</button>${badge(plan.valid_token)}` }));
  await settle(page);
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => {
    const element = document.activeElement;
    const inner = element?.shadowRoot?.activeElement;
    return { host: element?.tagName?.toLowerCase() ?? null, label: inner?.getAttribute("aria-label") ?? null };
  });
  const [opened] = await Promise.all([context.waitForEvent("page"), page.keyboard.press("Enter")]);
  await opened.waitForLoadState();
  result.keyboard = { ...focused, opened: opened.url(), opened_title: await opened.title() };
  await opened.close();
  await page.close();
}

// 8. 200% zoom (a 2× device on a half-width window): the badge still fits and reads in full.
{
  const zoomed = watch(await browser.newContext({ viewport: { width: 480, height: 800 }, deviceScaleFactor: 2 }));
  const page = await open(zoomed, "/__e2e/zoom", page_html({ body: badge(plan.valid_token) }));
  await settle(page);
  result.zoom = await page.evaluate(() => {
    const link = document.querySelector("zakup-prospoleczny").shadowRoot.querySelector("a");
    const rect = link.getBoundingClientRect();
    return { right: Math.round(rect.right), viewport: window.innerWidth, overflow: link.scrollWidth > link.clientWidth + 1 };
  });
  await page.screenshot({ path: `${plan.out_dir}/badge-zoom-200.png` });
  await zoomed.close();
}

// 9a. Attribute changes re-render; removing the element tears the badge down.
{
  const page = await open(context, "/__e2e/attributes", page_html({ body: `<div id="slot">${badge(plan.valid_token)}</div>` }));
  const first = (await settle(page))[0].state;
  await page.evaluate((token) => document.querySelector("zakup-prospoleczny").setAttribute("token", token), plan.revoked_token);
  await page.waitForFunction(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state") === "revoked",
    null, { timeout: 10000 }).catch(() => {});
  const changed = (await settle(page))[0];
  await page.evaluate(() => document.querySelector("zakup-prospoleczny").setAttribute("lang", "en"));
  await page.waitForFunction(() => document.querySelector("zakup-prospoleczny").shadowRoot.textContent.includes("Certificate revoked"),
    null, { timeout: 10000 }).catch(() => {});
  const english = (await settle(page))[0];
  // Yew tears the app down on a later turn: wait for its shadow root to empty, for a while.
  const removed_handle = await page.evaluateHandle(() => {
    const element = document.querySelector("zakup-prospoleczny");
    element.remove();
    return element;
  });
  await page.waitForFunction((element) => element.shadowRoot.textContent.length === 0, removed_handle,
    { timeout: 5000 }).catch(() => {});
  const removed = await removed_handle.evaluate((element) => element.shadowRoot.textContent.length);
  await page.evaluate((html) => { document.querySelector("#slot").innerHTML = html; }, badge(plan.valid_token));
  const readded = (await settle(page))[0].state;
  result.attributes = { first, changed: changed.state, english: english.text, removed_text: removed, readded };
  await page.close();
}

// 9. Revocation through the admin API shows on the open page within the status list's ttl.
{
  const page = await open(context, "/__e2e/revocation", page_html({ body: badge(plan.revocation.token) }));
  const before = (await settle(page))[0].state;
  const started = Date.now();
  const response = await fetch(`${base}/api/v1/admin/certificates/${plan.revocation.id}/revoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${plan.admin_key}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "misuse" }),
  });
  let after = null;
  try {
    await page.waitForFunction(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state") === "revoked",
      null, { timeout: (plan.revocation.ttl + 10) * 1000 });
    after = "revoked";
  } catch {
    after = await page.evaluate(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state"));
  }
  result.revocation = { before, after, admin_status: response.status, seconds: (Date.now() - started) / 1000 };
  await page.close();
}

// 10. The demo shop page, photographed for people to look at.
if (plan.demo_url) {
  const page = await context.newPage();
  await page.goto(plan.demo_url);
  try {
    result.demo = await settle(page);
  } catch (error) {
    result.demo = { error: String(error) };
  }
  await page.screenshot({ path: `${plan.out_dir}/demo-shop.png`, fullPage: true });
  await page.close();
}

await browser.close();
result.errors = errors;
process.stdout.write(JSON.stringify(result));
