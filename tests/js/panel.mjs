// The staff panel in Chromium with a virtual WebAuthn authenticator, against the real server:
// enrolment from the CLI's link, passkey sign-in, an entity (a bad NIP first), issue, renew, a
// branch added, suspend, reinstate, a recovery code that works once, revocation after
// re-authentication with the keyboard alone, CSV import (dry run with errors, then commit) and
// export, an invited account disabled while its session is open. axe-core runs on every page;
// screenshots go to the plan's directory. Prints what it saw as JSON for the Rust test.
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { launch, readPlan, log } from "./kit.mjs";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const plan = await readPlan();
const browser = await launch();
const result = { steps: [], axe: [], pageErrors: [] };
const step = (name, data = {}) => {
  result.steps.push({ name, ...data });
  log(`step ${name} ${JSON.stringify(data)}`);
};

/** A browser context with its own virtual passkey authenticator. */
async function person(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, bypassCSP: true, acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (err) => result.pageErrors.push(String(err)));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { context, page };
}

const seen = new Set();
/** axe-core on the page as it is, once per path, and a screenshot. */
async function check(page, name) {
  await page.screenshot({ path: `${plan.shots}/panel-${name}.png`, fullPage: true });
  const path = new URL(page.url()).pathname.replace(/\/(entities|certificates|accounts)\/[A-Za-z0-9_-]+/g, "/$1/{id}");
  if (seen.has(`${path} ${name}`)) return;
  seen.add(`${path} ${name}`);
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async (tags) => {
    const r = await globalThis.axe.run(document, { runOnly: { type: "tag", values: tags } });
    return { violations: r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) })), passes: r.passes.length };
  }, TAGS);
  result.axe.push({ name, url: page.url(), ...found });
}

/** Presses Tab until `selector` has the focus, as a keyboard user would; fails after 150 presses. */
async function tabTo(page, selector) {
  for (let i = 0; i < 150; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

async function keyboardFill(page, selector, text) {
  await tabTo(page, selector);
  await page.keyboard.type(text);
}

let current;
try {
  const admin = await person();
  const page = admin.page;
  current = page;

  // Enrolment from the CLI's link: a passkey and ten recovery codes shown once.
  await page.goto(plan.enrol);
  await check(page, "enrol");
  await page.fill("#passkey-name", "laptop służbowy");
  await page.click("form[data-passkey] button[type=submit]");
  await page.waitForSelector("#recovery-codes:not([hidden])");
  const codes = await page.$$eval("#recovery-codes ol li", (items) => items.map((i) => i.textContent));
  await check(page, "recovery-codes");
  step("enrolled", { codes: codes.length });
  await page.click("#recovery-codes a");
  await page.waitForURL(/\/panel$/);
  await check(page, "dashboard");

  // Sign out, then in again with the passkey.
  await page.click("button.link");
  await page.waitForURL(/\/panel\/login/);
  await check(page, "login");
  await page.fill("#login-email", plan.email);
  await page.click("form[data-passkey] button[type=submit]");
  await page.waitForURL(/\/panel$/);
  step("signed in with the passkey", { url: page.url() });

  // An entity: a NIP with a wrong check digit comes back next to the field, then the right one.
  await page.goto(`${plan.panel}/panel/entities/new`);
  await page.fill("#f-name", "Spółdzielnia Socjalna „Złoty Kłos”");
  await page.selectOption("#f-legal_form", "social_cooperative");
  await page.fill("#f-nip", "1234567890");
  await page.fill("#f-city", "Łęczna");
  await page.fill("#f-domains", "zloty-klos.example.pl");
  await page.click("form.stack button[type=submit]");
  const nipError = await page.textContent("#f-nip-error");
  await check(page, "entity-error");
  step("bad NIP refused", { message: nipError });
  await page.fill("#f-nip", "7251801126");
  await page.click("form.stack button[type=submit]");
  await page.waitForURL(/\/panel\/entities\/[A-Z0-9]+\?done=created/);
  await check(page, "entity");
  step("entity created", { url: page.url() });
  const entityUrl = page.url().split("?")[0];

  // Edit it: the form filled in, saved, and the page shows the change.
  await page.click("a[href$='/edit']");
  await page.waitForURL(/\/panel\/entities\/[A-Z0-9]+\/edit/);
  await check(page, "entity-edit");
  await page.fill("#f-city", "Lublin");
  await page.click("form.stack button[type=submit]");
  await page.waitForURL(/\/panel\/entities\/[A-Z0-9]+\?done=updated/);
  step("entity updated", { facts: await page.textContent("dl.facts") });

  // Issue, dated so that the renewal window is open.
  await page.fill("#f-products", "Catering okolicznościowy\nChleb na zakwasie | 5901234123457");
  await page.fill("#f-valid_from", plan.validFrom);
  await page.fill("#f-issue-resolution", "12/2026");
  await page.fill("#f-issue-resolution_date", plan.validFrom);
  await page.click("form[action='/panel/certificates'] button[type=submit]");
  await page.waitForURL(/\/panel\/certificates\/[A-Z0-9-]+\?done=issued/);
  const certificate = page.url().split("/panel/certificates/")[1].split("?")[0];
  await check(page, "certificate");
  step("issued", { certificate });

  const act = async (action, name) => {
    await page.click(`form[action$='/${action}'] button[type=submit]`);
    await page.waitForURL(new RegExp(`done=${name}`));
    step(name, { state: await page.textContent("dl.facts") });
  };
  await act("renew", "renewed");
  await page.fill("form[action$='/products'] textarea", "Usługi krawieckie");
  await act("products", "products");
  await act("suspend", "suspended");
  await check(page, "certificate-suspended");
  await act("reinstate", "reinstated");

  // A recovery code signs in once; the second time it is refused.
  await page.click("button.link");
  await page.waitForURL(/\/panel\/login/);
  await page.fill("#code-email", plan.email);
  await page.fill("#code", codes[0]);
  await page.click("form[action='/panel/login/recovery'] button[type=submit]");
  await page.waitForURL(/\/panel$/);
  step("recovery code signed in", { url: page.url() });
  await page.click("button.link");
  await page.waitForURL(/\/panel\/login/);
  await page.fill("#code-email", plan.email);
  await page.fill("#code", codes[0]);
  await page.click("form[action='/panel/login/recovery'] button[type=submit]");
  const reused = await page.textContent("#code-error");
  await check(page, "login-code-reused");
  step("recovery code reused", { url: page.url(), message: reused });
  await page.fill("#code", codes[1]);
  await page.click("form[action='/panel/login/recovery'] button[type=submit]");
  await page.waitForURL(/\/panel$/);

  // Issue and revoke with the keyboard alone; a session from a recovery code must confirm with
  // the passkey before revoking.
  await page.goto(entityUrl);
  await keyboardFill(page, "#f-products", "Pierogi ruskie\nUsługi pralnicze");
  await tabTo(page, "form[action='/panel/certificates'] button[type=submit]");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/panel\/certificates\/[A-Z0-9-]+\?done=issued/);
  const second = page.url().split("/panel/certificates/")[1].split("?")[0];
  step("issued by keyboard", { certificate: second });
  const before = await page.textContent("section[aria-labelledby=actions]");
  await tabTo(page, "a[href^='/panel/reauth']");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/panel\/reauth/);
  await check(page, "reauth");
  await tabTo(page, "form[data-passkey] button[type=submit]");
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`/panel/certificates/${second}`));
  await tabTo(page, "#f-reason");
  await page.keyboard.press("ArrowDown");
  await keyboardFill(page, "form[action$='/revoke'] #f-note", "Produkty nie spełniają kryteriów jakości.");
  await keyboardFill(page, "form[action$='/revoke'] #f-internal_note", "Kontrola 2026-11-20");
  await tabTo(page, "form[action$='/revoke'] button[type=submit]");
  await page.keyboard.press("Enter");
  await page.waitForURL(/done=revoked/);
  await check(page, "certificate-revoked");
  step("revoked", { needed_reauth: before.includes("Potwierdź") || before.includes("Confirm"), state: await page.textContent("dl.facts") });

  // CSV: a file with a bad row commits nothing; the corrected file imports; the export has it.
  await page.goto(`${plan.panel}/panel/import`);
  await check(page, "import");
  await page.setInputFiles("#f-file", plan.csvBad);
  await page.click("button[value=yes]");
  await page.waitForSelector(".error-summary");
  const errors = await page.$$eval("table tbody tr", (rows) => rows.map((r) => r.textContent));
  await check(page, "import-errors");
  step("import refused", { errors });
  await page.setInputFiles("#f-file", plan.csvGood);
  await page.click("button[value=no]");
  await page.waitForSelector(".notice");
  step("import dry run", { notice: await page.textContent(".notice") });
  await page.setInputFiles("#f-file", plan.csvGood);
  await page.click("button[value=yes]");
  await page.waitForSelector(".notice");
  step("import committed", { notice: await page.textContent(".notice") });
  await page.goto(`${plan.panel}/panel/export`);
  await check(page, "export");
  await page.check("#f-bom");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("form.stack button[type=submit]")]);
  const exported = await readFile(await download.path(), "utf8");
  step("exported", { bom: exported.charCodeAt(0) === 0xfeff, lines: exported.trim().split("\n").length, text: exported });

  // Accounts: invite a staff member (the admin confirms with the passkey), who enrols and
  // works; disabled meanwhile, the open session is refused on its next click.
  await page.goto(`${plan.panel}/panel/accounts`);
  if (await page.$("a[href^='/panel/reauth']")) {
    await page.click("a[href^='/panel/reauth']");
    await page.click("form[data-passkey] button[type=submit]");
    await page.waitForURL(/\/panel\/accounts/);
  }
  await page.fill("#f-email", "ewa.staff@rops.test");
  await page.fill("#f-name", "Ewa Żak");
  await page.selectOption("#f-role", "staff");
  await page.click("form[action='/panel/accounts'] button[type=submit]");
  const link = (await page.textContent("pre.snippet")).trim();
  await check(page, "accounts");
  const staff = await person({ width: 375, height: 740 });
  await staff.page.goto(link);
  await staff.page.click("form[data-passkey] button[type=submit]");
  await staff.page.waitForSelector("#recovery-codes:not([hidden])");
  await staff.page.click("#recovery-codes a");
  await staff.page.waitForURL(/\/panel$/);
  await check(staff.page, "dashboard-phone");
  const staffAccounts = await staff.page.goto(`${plan.panel}/panel/accounts`);
  step("staff cannot manage accounts", { status: staffAccounts.status() });
  await staff.page.goto(`${plan.panel}/panel/entities`);
  await page.goto(`${plan.panel}/panel/accounts`);
  const row = page.locator("tr", { hasText: "ewa.staff@rops.test" });
  await row.locator("form[action$='/disable'] button").click();
  await page.waitForURL(/done=changed/);
  await staff.page.click("a[href='/panel/certificates']");
  step("disabled session refused", { url: staff.page.url() });

  // The remaining pages, in both languages.
  for (const [name, path] of [["entities", "/panel/entities"], ["certificates", "/panel/certificates"],
    ["audit", "/panel/audit"], ["me", "/panel/me"], ["outbox", "/panel/outbox"], ["entity-new", "/panel/entities/new"]]) {
    await page.goto(`${plan.panel}${path}`);
    await check(page, name);
  }
  await page.click("a[hreflang=en]");
  await page.waitForURL(/\/panel\/entities$/);
  step("english", { heading: await page.textContent("h1") });
  await check(page, "entity-new-en");
  await page.goto(`${plan.panel}/panel`);
  await check(page, "dashboard-en");

  // Keys: an admin API key shown once, and a planned rotation of the signing key.
  await page.goto(`${plan.panel}/panel/keys`);
  await page.fill("#f-key-name", "System OWES Lublin");
  await page.click("form[action='/panel/keys/api'] button[type=submit]");
  const secret = (await page.textContent("pre.snippet")).trim();
  await check(page, "keys");
  await page.click("form[action='/panel/keys/rotate'] button[type=submit]");
  step("keys", { secret, rotated: await page.textContent(".notice") });
  await staff.context.close();
  await admin.context.close();
} catch (err) {
  result.error = String(err.stack || err);
  if (current) {
    result.failedAt = current.url();
    result.failedText = (await current.textContent("main").catch(() => ""))?.slice(0, 2000);
    await current.screenshot({ path: `${plan.shots}/panel-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
