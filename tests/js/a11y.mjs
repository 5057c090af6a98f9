// axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA) on each page of the plan, in Chromium, at a
// phone's width and a desktop's, and once more with scripts off (the pages must work without
// JavaScript; at the phone's width). Prints every violation as JSON; the Rust test fails on any.
import { createRequire } from "node:module";
import { launch, readPlan, log } from "./kit.mjs";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const VIEWPORTS = [{ width: 375, height: 740 }, { width: 1280, height: 900 }];

const plan = await readPlan();
const browser = await launch();
const results = [];
try {
  for (const javaScriptEnabled of [true, false]) {
    // Without scripts, the phone's width: what the markup alone gives.
    for (const viewport of javaScriptEnabled ? VIEWPORTS : VIEWPORTS.slice(0, 1)) {
      // The pages forbid scripts from elsewhere (CSP); axe is injected past that, as a tester would.
      const context = await browser.newContext({ viewport, javaScriptEnabled, bypassCSP: true });
      for (const url of plan.urls) {
        const page = await context.newPage();
        const response = await page.goto(url, { waitUntil: "load" });
        // With scripts off the page cannot run axe itself: its markup is checked in a page that can.
        let checked = page;
        if (!javaScriptEnabled) {
          const html = await page.content();
          checked = await (await browser.newContext({ viewport, bypassCSP: true })).newPage();
          await checked.route("**/*", (route) => route.request().url() === url
            ? route.fulfill({ contentType: "text/html; charset=utf-8", body: html })
            : route.continue());
          await checked.goto(url);
        }
        await checked.addScriptTag({ path: axePath });
        const found = await checked.evaluate(async (tags) => {
          const result = await globalThis.axe.run(document, { runOnly: { type: "tag", values: tags } });
          return {
            violations: result.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            })),
            passes: result.passes.length,
          };
        }, TAGS);
        results.push({ url, status: response.status(), javaScriptEnabled, width: viewport.width, ...found });
        log(`${url} ${viewport.width}px js=${javaScriptEnabled}: ${found.violations.length} violations, ${found.passes} rules passed`);
        if (checked !== page) await checked.context().close();
        await page.close();
      }
      await context.close();
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ results }));
