// The application cycle in Chromium against the real server, in two phases the Rust test runs
// one after the other (it reads the letters from the SMTP server in between):
//
// - "apply": an applicant with scripts off fills /apply, first with a NIP whose check digit is
//   wrong and a file that claims to be a PDF but is not (refused next to each field, nothing
//   recorded), then properly with a PDF; a second applicant does the same with scripts on.
// - "decide": the first applicant opens the case by the e-mailed link (then the same link again:
//   used up); staff enrol with a passkey, find the case in the panel's inbox, tick criteria, ask
//   a question; the applicant answers with a PDF; staff grant the mark with the board's
//   resolution; the applicant sees the decision, the badge kit, and a renewal form filled in.
//   Staff refuse the second application; its applicant reads the reasons.
//
// axe-core (WCAG 2.2 AA) runs on every page state; screenshots go to the plan's directory.
import { createRequire } from "node:module";
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

async function check(page, name) {
  await page.screenshot({ path: `${plan.shots}/apply-${name}.png`, fullPage: true });
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async (tags) => {
    const r = await globalThis.axe.run(document, { runOnly: { type: "tag", values: tags } });
    return { violations: r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) })), passes: r.passes.length };
  }, TAGS);
  result.axe.push({ name, url: page.url(), ...found });
}

async function context({ javaScriptEnabled = true, viewport = { width: 1280, height: 900 }, passkeys = false } = {}) {
  // Scripts off: the page's own scripts do not run; axe-core is added through the DevTools protocol,
  // which Playwright allows only with scripts on, so those pages are checked in a second context.
  const ctx = await browser.newContext({ viewport, javaScriptEnabled, acceptDownloads: true, bypassCSP: true });
  const page = await ctx.newPage();
  page.on("pageerror", (err) => result.pageErrors.push(String(err)));
  if (passkeys) {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
        isUserVerified: true, automaticPresenceSimulation: true },
    });
  }
  return { ctx, page };
}

/** Fills the application form. */
async function fill(page, { name, nip, email, file }) {
  await page.fill("[name='entity.name']", name);
  await page.selectOption("[name='entity.legal_form']", "social_cooperative");
  await page.fill("[name='entity.nip']", nip);
  await page.fill("[name='entity.city']", "Biłgoraj");
  await page.selectOption("[name='entity.voivodeship']", "lubelskie");
  await page.fill("[name='entity.domains']", "sitarze.example.pl");
  await page.fill("[name='products']", "Sita z włosia końskiego = 5901234123457\nWarsztaty sitarskie");
  await page.fill("[name='quality']", "Rzemiosło z tradycją; każde sito sprawdza mistrz cechu.");
  await page.fill("[name='contact.name']", "Józef Sitarz");
  await page.fill("[name='contact.email']", email);
  if (file) await page.setInputFiles("#f-attachments", file);
  await page.check("#f-consent");
}

let current;
try {
  if (plan.phase === "apply") {
    // Scripts off.
    const off = await context({ javaScriptEnabled: false });
    current = off.page;
    await off.page.goto(`${plan.base}/apply`);
    await fill(off.page, { name: "Spółdzielnia Socjalna „Sitarze”", nip: "774-000-14-55", email: plan.emails[0], file: plan.fakePdf });
    await off.page.click("button[type=submit]");
    await off.page.waitForSelector(".error-summary");
    const errors = await off.page.$$eval(".error-summary li", (items) => items.map((i) => i.textContent.trim()));
    const kept = await off.page.inputValue("[name='entity.name']");
    step("refused", { errors, kept, status: off.page.url() });
    await fill(off.page, { name: "Spółdzielnia Socjalna „Sitarze”", nip: "774-000-14-54", email: plan.emails[0], file: plan.pdf });
    await off.page.click("button[type=submit]");
    await off.page.waitForURL(/\/apply\/received\//);
    step("received without scripts", { url: off.page.url(), text: await off.page.textContent("main") });
    // The same pages with scripts on, for axe-core.
    const on = await context();
    current = on.page;
    await on.page.goto(`${plan.base}/apply`);
    await check(on.page, "form");
    await fill(on.page, { name: "Spółdzielnia Socjalna „Sitarze”", nip: "774-000-14-55", email: "x", file: plan.fakePdf });
    await on.page.click("button[type=submit]");
    await on.page.waitForSelector(".error-summary");
    await check(on.page, "form-refused");
    // A second applicant, scripts on, on a phone-sized screen, in English.
    const phone = await context({ viewport: { width: 390, height: 844 } });
    current = phone.page;
    await phone.page.goto(`${plan.base}/apply?lang=en`);
    await fill(phone.page, { name: "Fundacja „Ogród”", nip: "", email: plan.emails[1], file: plan.pdf });
    await phone.page.click("button[type=submit]");
    await phone.page.waitForURL(/\/apply\/received\//);
    await check(phone.page, "received-en-phone");
    step("received with scripts", { url: phone.page.url() });
    await off.ctx.close();
    await on.ctx.close();
    await phone.ctx.close();
  } else {
    // The applicant opens the case by the e-mailed link.
    const applicant = await context();
    current = applicant.page;
    const page = applicant.page;
    await page.goto(plan.links[0]);
    await check(page, "login-link");
    await page.click("main button[type=submit]");
    await page.waitForURL(/\/case$/);
    await check(page, "cases");
    await page.click(`a[href^='/case/${plan.ids[0]}']`);
    await page.waitForURL(new RegExp(`/case/${plan.ids[0]}$`));
    await check(page, "case-submitted");
    step("case opened", { state: await page.textContent("dl.facts") });
    const again = await context();
    await again.page.goto(plan.links[0]);
    await again.page.click("main button[type=submit]");
    step("link reused", { heading: await again.page.textContent("h1") });
    await again.ctx.close();

    // Staff enrol with a passkey and review the case.
    const staff = await context({ passkeys: true });
    current = staff.page;
    const desk = staff.page;
    await desk.goto(plan.enrol);
    await desk.fill("#passkey-name", "laptop");
    await desk.click("form[data-passkey] button[type=submit]");
    await desk.waitForSelector("#recovery-codes:not([hidden])");
    await desk.click("#recovery-codes a");
    await desk.waitForURL(/\/panel$/);
    await desk.click("a[href='/panel/applications']");
    await desk.waitForURL(/\/panel\/applications$/);
    await check(desk, "panel-inbox");
    await desk.click(`a[href='/panel/applications/${plan.ids[0]}']`);
    await check(desk, "panel-case");
    await desk.check("#k-social_economy");
    await desk.check("#k-quality");
    await desk.click("form[action$='/checklist'] button");
    await desk.waitForURL(/done=checked/);
    await desk.fill("#f-question", "Prosimy o zdjęcie sit z certyfikatem cechu.");
    await desk.click("form[action$='/question'] button");
    await desk.waitForURL(/done=asked/);
    await check(desk, "panel-asked");

    // The applicant answers with a file.
    current = page;
    await page.reload();
    await page.fill("#f-answer", "Zdjęcia w załączniku.");
    await page.setInputFiles("#f-attachments", plan.pdf);
    await page.click("form[enctype] button[type=submit]");
    await page.waitForURL(new RegExp(`/case/${plan.ids[0]}$`));
    await check(page, "case-answered");
    step("answered", { state: await page.textContent("dl.facts") });

    // Staff grant the mark.
    current = desk;
    await desk.reload();
    await desk.fill("#f-resolution", "14/2026");
    await desk.fill("#f-resolution_date", plan.resolutionDate);
    await desk.click("form[action$='/approve'] button");
    await desk.waitForURL(/done=approved/);
    await check(desk, "panel-approved");
    const certificate = (await desk.getAttribute("a[href^='/panel/certificates/']", "href")).split("/").pop();
    step("approved", { certificate, notice: await desk.textContent(".notice") });

    // The applicant sees the decision and, as the holder, the badge kit and a renewal form.
    current = page;
    await page.reload();
    await check(page, "case-approved");
    step("decision seen", { text: await page.textContent("main") });
    await page.goto(`${plan.base}/case`);
    await check(page, "holder");
    const snippet = await page.inputValue("textarea.snippet");
    await page.click("a[href*='renew=']");
    await page.waitForURL(/\/apply\?renew=/);
    step("renewal form", { entity: await page.inputValue("[name='entity.name']"), kind: await page.inputValue("[name='kind']"), snippet });
    await check(page, "renewal-form");

    // Staff refuse the second application; its applicant reads why.
    current = desk;
    await desk.goto(`${plan.panel}/panel/applications/${plan.ids[1]}`);
    await desk.fill("#f-reasons", "Fundacja nie prowadzi działalności na terenie województwa.");
    await desk.click("form[action$='/refuse'] button");
    await desk.waitForURL(/done=refused/);
    const second = await context();
    current = second.page;
    await second.page.goto(plan.links[1]);
    await second.page.click("main button[type=submit]");
    await second.page.goto(`${plan.base}/case/${plan.ids[1]}?lang=en`);
    await check(second.page, "case-refused-en");
    step("refusal seen", { text: await second.page.textContent("main") });
    await second.ctx.close();
    await staff.ctx.close();
    await applicant.ctx.close();
  }
} catch (err) {
  result.error = String(err.stack || err);
  if (current) {
    result.failedAt = current.url();
    result.failedText = (await current.textContent("main").catch(() => ""))?.slice(0, 2000);
    await current.screenshot({ path: `${plan.shots}/apply-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
