// Domain binding of the badges without scripts, in Debian's Chromium driven by playwright-core,
// against the real server: shop pages on chosen origins (served by the test through page.route)
// frame `/embed/{ID}`, show `/badge/{ID}.svg` and link to `/v/{ID}`. Reads its plan as JSON on
// stdin and prints what the browser saw as JSON on stdout, for the Rust test to judge.

import { launch, log, readPlan } from "./kit.mjs";

const plan = await readPlan();
// Local network access checks would stop a public page from loading anything from 127.0.0.1
// before the frame's policy is even read; the test is about that policy.
const browser = await launch({
  args: ["--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights"],
});
const context = await browser.newContext({ viewport: { width: 800, height: 700 } });

const shop = (title) =>
  `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>${title}</title></head><body>` +
  `<h1>${title}</h1>` +
  `<iframe id="embed" src="${plan.base}/embed/${plan.id}" title="Znak Zakup Prospołeczny" width="320" height="120" style="border:0"></iframe>` +
  `<p><a id="check" href="${plan.base}/v/${plan.id}"><img id="badge" src="${plan.base}/badge/${plan.id}.svg" ` +
  `alt="Znak Zakup Prospołeczny — sprawdź certyfikat" width="320" height="64"></a></p></body></html>`;

/** Opens the shop page at `url`, and reports what its frame and its image showed. */
async function visit(name, url) {
  const page = await context.newPage();
  const console_messages = [];
  page.on("console", (message) => console_messages.push(message.text()));
  page.on("pageerror", (error) => log("pageerror", name, error.message));
  const images = [];
  page.on("response", (response) => {
    if (response.url().includes("/badge/")) {
      images.push((async () => ({
        status: response.status(),
        referer: (await response.request().headerValue("referer")) ?? null,
        body: await response.text(),
      }))());
    }
  });
  await page.route(url, (route) =>
    route.fulfill({ status: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: shop(name) }));
  await page.goto(url, { waitUntil: "load" });
  const frame = await (await page.$("#embed")).contentFrame();
  let frame_text = null;
  try {
    await frame.waitForSelector("a.zp", { timeout: plan.expect_frame[name] ? 10000 : 2000 });
    frame_text = await frame.evaluate(() => document.querySelector("a.zp").textContent);
  } catch {
    // Blocked: the frame holds the browser's error page, or nothing.
  }
  // The browser reports the refusal on the console of the page that framed it.
  const refusal = () => console_messages.filter((m) => m.includes("frame-ancestors"));
  for (let i = 0; i < 50 && !plan.expect_frame[name] && refusal().length === 0; i += 1) {
    await page.waitForTimeout(100);
  }
  const natural_width = await page.evaluate(() => {
    const img = document.querySelector("#badge");
    return img.complete ? img.naturalWidth : -1;
  });
  const seen = {
    url: page.url(),
    frame_url: frame?.url() ?? null,
    frame_text,
    refusals: refusal(),
    image: (await Promise.all(images))[0] ?? null,
    natural_width,
  };
  await page.screenshot({ path: `${plan.out_dir}/domains-${name}.png`, fullPage: true });
  // A shopper follows the badge's link to the verification page.
  await Promise.all([page.waitForURL(`${plan.base}/v/**`), page.click("#check")]);
  seen.verify = await page.evaluate(() => ({
    headline: document.querySelector("#verdict")?.textContent ?? null,
    warning: document.querySelector("#elsewhere")?.textContent ?? null,
    websites: [...document.querySelectorAll("ul.websites li")].map((li) => li.textContent),
  }));
  if (seen.verify.warning) {
    await page.screenshot({ path: `${plan.out_dir}/domains-${name}-verification.png`, fullPage: true });
  }
  await page.close();
  return seen;
}

const result = {};
for (const [name, url] of Object.entries(plan.shops)) {
  result[name] = await visit(name, url);
}
await browser.close();
process.stdout.write(JSON.stringify(result));
