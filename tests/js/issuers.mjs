// The badge follows its certificate, across issuers: renewals reach a page that still carries the
// first token, badges of several issuers share a page, trust lists vouch for other issuers and
// are refused when tampered with, and a status list kept past its ttl stops counting. Real
// Chromium against real servers; reads its plan as JSON on stdin, prints what it saw as JSON.

import { execFileSync } from "node:child_process";

import { badge, launch, log, pageHtml, pageServer, readBadges, readPlan, settle } from "./kit.mjs";

const plan = await readPlan();
const [A, B, C] = plan.issuers;
const browser = await launch();
const shop = await pageServer();
const result = {};
/** Runs the issuer's CLI (`zp`) on A's data, as A's staff would. */
const zpOnA = (...args) => execFileSync(plan.zp.binary, [...plan.zp.global, ...args], { encoding: "utf8" });

/** Counts the requests a page makes, by kind and issuer. */
function countRequests(page) {
  const counts = { wasm: 0, glue: 0, jwks: {}, lists: {}, trust: {}, token: 0 };
  const bump = (map, url) => { const origin = new URL(url).origin; map[origin] = (map[origin] ?? 0) + 1; };
  page.on("request", (request) => {
    const url = request.url();
    if (url.endsWith(".wasm")) counts.wasm += 1;
    if (/zp-widget-[0-9a-f]+\.js$/.test(url)) counts.glue += 1;
    if (url.endsWith("/.well-known/jwks.json")) bump(counts.jwks, url);
    if (url.includes("/api/v1/status-lists/")) bump(counts.lists, url);
    if (url.endsWith("/.well-known/zp-trust-list.jwt")) bump(counts.trust, url);
    if (/\/api\/v1\/certificates\/[^/]+\/token$/.test(url)) counts.token += 1;
  });
  return counts;
}

/** Opens a page on A's origin that loads the loaders of `issuers` and shows `tokens`. */
async function open(context, path, issuers, tokens, setup = async () => {}) {
  const page = await context.newPage();
  page.on("pageerror", (error) => log("pageerror", path, error.message));
  await setup(page);
  const body = tokens.map((token) => badge(token, issuers[0])).join("\n");
  await page.route(`${A}${path}`, (route) => route.fulfill({
    status: 200, contentType: "text/html; charset=utf-8", body: pageHtml({ body, issuers }),
  }));
  await page.goto(`${A}${path}`);
  return page;
}

/** Records every state each badge passes through, from the first render on. */
const recordStates = (page) => page.addInitScript(() => {
  window.__zp_seen = [];
  new MutationObserver((records) => {
    for (const record of records) {
      const element = record.target;
      window.__zp_seen.push({
        index: [...document.querySelectorAll("zakup-prospoleczny")].indexOf(element),
        state: element.getAttribute("data-zp-state"),
        through: element.getAttribute("data-zp-valid-through"),
      });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-zp-state", "data-zp-valid-through"] });
});
const seenStates = (page) => page.evaluate(() => window.__zp_seen);

/** Waits until the first badge is in `state`, or `timeout` ms pass; returns what it is then. */
async function waitForState(page, state, timeout) {
  await page.waitForFunction((wanted) => document.querySelector("zakup-prospoleczny")?.getAttribute("data-zp-state") === wanted,
    state, { timeout }).catch(() => {});
  return (await readBadges(page))[0];
}

const context = await browser.newContext();

// 1. A certificate whose year ended yesterday, renewed since: the page still carries the old
// token and shows the mark verified, through the new end date, without any change to the page.
{
  const page = await open(context, "/__issuers/lapsed", [A], [plan.lapsed.old_token], recordStates);
  const [seen] = await settle(page);
  result.lapsed = { ...seen, seen: await seenStates(page) };
  await page.screenshot({ path: `${plan.out_dir}/badge-renewed-after-lapse.png` });
  await page.close();
}

// 2. A token valid for months: the badge never asks for the current token.
{
  const page = await context.newPage();
  const counts = countRequests(page);
  await page.route(`${A}/__issuers/quiet`, (route) => route.fulfill({
    status: 200, contentType: "text/html; charset=utf-8",
    body: pageHtml({ body: badge(plan.a_token, A), issuers: [A] }),
  }));
  await page.goto(`${A}/__issuers/quiet`);
  const [seen] = await settle(page);
  result.quiet = { state: seen.state, token_requests: counts.token };
  await page.close();
}

// 3. A renewal while valid: an open page, with the page's clock at the issuer's, moves past the
// old end date to the renewed token without ever showing "expired".
{
  const clocked = await browser.newContext();
  const page = await clocked.newPage();
  await recordStates(page);
  await page.clock.install({ time: Date.now() + plan.renewal.offset_ms });
  await page.route(`${plan.renewal.base}/__issuers/renewal`, (route) => route.fulfill({
    status: 200, contentType: "text/html; charset=utf-8",
    body: pageHtml({ body: badge(plan.renewal.old_token, plan.renewal.base), issuers: [plan.renewal.base] }),
  }));
  await page.goto(`${plan.renewal.base}/__issuers/renewal`);
  const [first] = await settle(page);
  await page.clock.pauseAt(plan.renewal.old_exp_ms - 1000);
  await page.waitForTimeout(100);
  const before = (await readBadges(page))[0];
  await page.clock.runFor(2000);
  await page.waitForTimeout(200);
  const after = (await readBadges(page))[0];
  await page.clock.runFor(60_000);
  await page.waitForTimeout(200);
  const later = (await readBadges(page))[0];
  result.renewal = { first, before, after, later, seen: await seenStates(page) };
  await clocked.close();
}

// 4. Two issuers' loaders on one page, in both orders: each badge verifies with its own issuer's
// keys; one wasm download, and one JWKS and one status-list fetch per issuer. C's genuine mark,
// which nobody on the page vouches for, is "issuer not recognised".
for (const [name, loaders] of [["ab", [A, B]], ["ba", [B, A]]]) {
  const page = await context.newPage();
  const counts = countRequests(page);
  await page.goto(shop.page(`/${name}`, pageHtml({
    body: [plan.a_token, plan.b_token, plan.c_token].map((t) => badge(t, loaders[0])).join("\n"), issuers: loaders,
  })));
  const seen = await settle(page);
  result[`loaders_${name}`] = { seen, counts };
  if (name === "ab") await page.screenshot({ path: `${plan.out_dir}/badges-two-issuers.png` });
  await page.close();
}

// 5. Only A's loader, after A vouches for B: B's mark verifies with B's keys; C's does not.
async function onlyA(name, setup) {
  const page = await context.newPage();
  const counts = countRequests(page);
  await setup?.(page);
  await page.goto(shop.page(`/${name}`, pageHtml({
    body: [plan.b_token, plan.c_token].map((t) => badge(t, A)).join("\n"), issuers: [A],
  })));
  return { page, counts };
}

zpOnA("issuers", "add", B, "--name", "ROPS B", "--voivodeship", "świętokrzyskie");
{
  const { page, counts } = await onlyA("vouched");
  const seen = await settle(page);
  result.vouched = { seen, counts };
  await page.close();
}

// 6. A tampered trust list is refused: a broken signature, and B's own list served as A's (signed
// with another issuer's key). B's mark is then not recognised, never verified.
{
  const tampered = async (name, body) => {
    const { page } = await onlyA(name, (page) => page.route(`${A}/.well-known/zp-trust-list.jwt`, async (route) => {
      const real = await route.fetch();
      route.fulfill({ response: real, body: body(await real.text()) });
    }));
    const seen = await settle(page);
    await page.close();
    return seen[0];
  };
  const flip = (jws) => {
    const [head, payload, signature] = jws.trim().split(".");
    const first = signature[0] === "A" ? "B" : "A";
    return `${head}.${payload}.${first}${signature.slice(1)}`;
  };
  const otherKey = await (await fetch(`${B}/.well-known/zp-trust-list.jwt`)).text();
  result.tampered = {
    bad_signature: await tampered("bad-signature", flip),
    other_key: await tampered("other-key", () => otherKey),
  };
}

// 7. A stops vouching for B: an open page falls back within the trust list's ttl.
{
  const { page } = await onlyA("unvouched");
  const before = (await settle(page))[0].state;
  const started = Date.now();
  zpOnA("issuers", "remove", B);
  const after = await waitForState(page, "issuer-unrecognised", (plan.ttl + 10) * 1000);
  result.unvouched = { before, after: after.state, seconds: (Date.now() - started) / 1000 };
  await page.close();
}

// 8. A status list signed before a revocation, served to the badge after it by a proxy that
// keeps handing out that copy: green only until its `iat + ttl`, then not confirmed.
{
  const page = await context.newPage();
  await recordStates(page);
  const stale = plan.stale;
  const held = await (await fetch(stale.list_url)).text();
  const signed = JSON.parse(Buffer.from(held.split(".")[1], "base64url").toString()).iat;
  await fetch(stale.revoke_url, {
    method: "POST",
    headers: { authorization: `Bearer ${stale.admin_key}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "misuse" }),
  });
  await page.route(/\/api\/v1\/status-lists\//, (route) => route.fulfill({
    status: 200, headers: { "content-type": "application/statuslist+jwt", "access-control-allow-origin": "*" }, body: held,
  }));
  await page.route(`${stale.base}/__issuers/stale`, (route) => route.fulfill({
    status: 200, contentType: "text/html; charset=utf-8",
    body: pageHtml({ body: badge(stale.token, stale.base), issuers: [stale.base] }),
  }));
  await page.goto(`${stale.base}/__issuers/stale`);
  const after = await waitForState(page, "cannot-confirm", (stale.ttl + 10) * 1000);
  result.stale = {
    after: after.state,
    flipped_after_iat_s: Date.now() / 1000 - signed,
    seen: (await seenStates(page)).map((s) => s.state),
  };
  await page.close();
}

await browser.close();
await shop.close();
process.stdout.write(JSON.stringify(result));
