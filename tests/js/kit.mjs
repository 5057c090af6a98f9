// What every browser test script shares: reading its plan, starting Debian's Chromium, writing a
// badge into a page, and waiting for badges to settle.

import { chromium } from "playwright-core";

/** The plan the Rust test sends as JSON on standard input. */
export async function readPlan() {
  return JSON.parse(await new Promise((resolve) => {
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk));
    process.stdin.on("end", () => resolve(text));
  }));
}

export const log = (...args) => process.stderr.write(args.join(" ") + "\n");

/** Debian's Chromium, headless, with a fresh profile; `args` are added to the usual flags. */
export function launch({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", ...args],
  });
}

export const escape = (text) => text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** The snippet's element for `token`, with its fallback link to `registry`. */
export const badge = (token, registry, extra = "") =>
  `<zakup-prospoleczny token="${escape(token)}" ${extra}><a class="fallback" href="${registry}/">Zakup Prospołeczny: sprawdź certyfikat</a></zakup-prospoleczny>`;

/** A page that loads the loaders of `issuers` (base URLs), in that order. */
export const pageHtml = ({ body, head = "", issuers }) =>
  `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Test</title>${head}` +
  issuers.map((issuer) => `<script type="module" src="${issuer}/widget/zp-badge.js"></script>`).join("") +
  `</head><body>${body}</body></html>`;

/** Waits until no badge on the page is still checking, then reads each one. */
export async function settle(page, timeout = 15000) {
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll("zakup-prospoleczny")];
    return all.length > 0 && all.every((e) => {
      const state = e.getAttribute("data-zp-state");
      return state && state !== "checking";
    });
  }, null, { timeout });
  return readBadges(page);
}

/** Each badge on the page as it is now. */
export function readBadges(page) {
  return page.evaluate(() => [...document.querySelectorAll("zakup-prospoleczny")].map((e) => {
    const link = e.shadowRoot?.querySelector("a");
    return {
      state: e.getAttribute("data-zp-state"),
      through: e.getAttribute("data-zp-valid-through"),
      text: e.shadowRoot?.textContent ?? null,
      label: link?.getAttribute("aria-label") ?? null,
      href: link?.getAttribute("href") ?? null,
    };
  }));
}

/**
 * A small web server on loopback for the shop pages of a test. Pages fulfilled by request
 * interception count as public to Chromium's local-network checks, which then refuse their
 * requests to other loopback servers (a second issuer); pages served from loopback do not.
 */
export async function pageServer() {
  const { createServer } = await import("node:http");
  const pages = new Map();
  const server = createServer((request, response) => {
    const html = pages.get(new URL(request.url, "http://x").pathname);
    response.writeHead(html === undefined ? 404 : 200, { "content-type": "text/html; charset=utf-8" });
    response.end(html ?? "");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    /** Serves `html` at `path` and returns its URL. */
    page: (path, html) => { pages.set(path, html); return `${origin}${path}`; },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
