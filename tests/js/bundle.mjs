// The badge pinned by Subresource Integrity after an upgrade of the bundle, in Debian's Chromium
// driven by playwright-core, against the real server. Reads its plan as JSON on stdin and prints
// what it saw as JSON on stdout, for the Rust test to judge.

import { badge, launch, log, pageServer, readPlan } from "./kit.mjs";

const plan = await readPlan();
const base = plan.base;
const browser = await launch();
const context = await browser.newContext();

// The shop: its own origin on the same host (the token names the host, not the port), so the
// bundle loads across origins as on a real shop's page. Not `page.route`: an intercepted page
// hides the headers the browser really sent.
const shop = await pageServer();

/**
 * Opens a shop's page with `script` (the loader's tag) and one badge, and reports
 * the badge's state, what the page logged, and every bundle file it fetched: its status, the
 * `Accept-Encoding` the browser sent and the `Content-Encoding` it got.
 */
async function badge_page(name, script, wait_ms = 15000) {
  const page = await context.newPage();
  const errors = [];
  const files = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
  page.on("response", async (response) => {
    const url = response.url();
    if (!url.includes("/widget/")) return;
    const headers = await response.allHeaders();
    const sent = await response.request().allHeaders();
    files.push({
      url,
      status: response.status(),
      encoding: headers["content-encoding"] ?? null,
      accept: sent["accept-encoding"] ?? null,
    });
  });
  const path = `/__bundle/${name}`;
  const html = `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>${name}</title><link rel="icon" href="data:,">${script}</head>` +
    `<body>${badge(plan.token, base)}</body></html>`;
  await page.goto(shop.page(path, html));
  const state = () => page.evaluate(() => document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state"));
  try {
    await page.waitForFunction(() => {
      const state = document.querySelector("zakup-prospoleczny").getAttribute("data-zp-state");
      return state && state !== "checking";
    }, null, { timeout: wait_ms });
  } catch (error) {
    log(name, "no verdict:", String(error).split("\n")[0]);
  }
  // Let late responses report in.
  await page.waitForTimeout(200);
  const seen = { state: await state(), files, errors };
  await page.close();
  return seen;
}

const pinned = (integrity) =>
  `<script type="module" src="${plan.pinned.src}" integrity="${integrity}" crossorigin="anonymous"></script>`;

const result = {
  // The snippet pinned before the upgrade.
  pinned: await badge_page("pinned", pinned(plan.pinned.integrity)),
  // The same tag with another hash: the browser must refuse to run it, or the check proves nothing.
  tampered: await badge_page("tampered", pinned(plan.tampered_integrity), 3000),
  // The two-line snippet, which follows upgrades.
  stable: await badge_page("stable", `<script type="module" src="${base}/widget/zp-badge.js"></script>`),
};

await browser.close();
await shop.close();
process.stdout.write(JSON.stringify(result));
