// The whole desk in the real window: first start as a training desk, sign
// in, issue for a scanned TD3 passport, the handout, records (find, reprint,
// void), the refusals (expired document, Danish national, duplicate), and
// a clerk added by the admin who must choose their own password, and every
// main screen photographed and checked with axe-core.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { root, startApp } from "./driver.mjs";
import { completeForm, fill, firstStartTraining, record, scan, screen, signIn, td3, text, waitText, yymmdd } from "./desk.mjs";

const ADMIN = "admin";
const PASSWORD = "correct horse battery staple";
const dataDir = mkdtempSync(join(tmpdir(), "skranke-e2e-"));
// The CUPS PDF queue scripts/ci/cups-setup.sh sets up; its output stands for the paper.
function testPrinter() {
  if (process.env.SKRANKE_TEST_PRINTER) return process.env.SKRANKE_TEST_PRINTER;
  try {
    return execFileSync("lpstat", ["-e"], { encoding: "utf8" }).split("\n").includes("skranke-test") ? "skranke-test" : "";
  } catch {
    return "";
  }
}
const printer = testPrinter();
const a11y = {};
let app;

const passport = td3({ surname: "KOWALSKA", given: "ANNA", number: "AB1234567", birth: "900325", sex: "F", expiry: yymmdd(5) });

before(async () => {
  app = await startApp({ env: { SKRANKE_DATA_DIR: dataDir } });
});

after(async () => {
  await app?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(join(root, "target"), { recursive: true });
  writeFileSync(join(root, "target", "e2e-axe.json"), JSON.stringify(a11y, null, 2));
});

test("first start creates a training desk, and the admin signs in", async () => {
  const { browser } = app;
  await screen(browser, "first-start", 30000);
  a11y["first-start"] = await record(browser, "first-start");
  assert.equal(await browser.execute(() => document.activeElement?.id), "mode-training");
  await firstStartTraining(browser, ADMIN, PASSWORD);
  assert.equal(await text(browser, "#training-mark"), "ØVELSE");
  a11y["sign-in"] = await record(browser, "sign-in");
  await signIn(browser, ADMIN, PASSWORD);
  assert.equal(await browser.execute(() => document.activeElement?.id), "f-mrz");
});

test("the admin sets the printer and the privacy notice the handout needs", async () => {
  const { browser } = app;
  assert.ok(printer, "no CUPS test queue: run scripts/ci/cups-setup.sh (the test command does)");
  await (await browser.$("#nav-settings")).click();
  await screen(browser, "settings");
  const select = await browser.$("#f-printer");
  await select.waitForExist({ timeout: 10000 });
  await select.selectByAttribute("value", printer);
  await fill(browser, "#f-privacy_controller", "Københavns Kommune");
  await fill(browser, "#f-privacy_contact", "borgerservice@kk.example");
  await fill(browser, "#f-privacy_dpo", "dpo@kk.example");
  await (await browser.$("#settings-save")).click();
  await browser.waitUntil(async () => /\S/.test((await text(browser, "#settings-status")) + (await text(browser, "#settings-error"))), { timeout: 15000 });
  assert.equal(await text(browser, "#settings-error"), "");
  await (await browser.$("#nav-applicant")).click();
  await screen(browser, "applicant");
});

test("English is one click away", async () => {
  const { browser } = app;
  await (await browser.$("#lang-toggle")).click();
  await waitText(browser, "#screen-title", /^New applicant$/);
  assert.equal(await text(browser, "#training-mark"), "TRAINING");
});

test("a scanned TD3 passport fills the form, and the number is issued from the keyboard", async () => {
  const { browser } = app;
  a11y["applicant"] = await record(browser, "applicant-empty");
  await scan(browser, passport);
  assert.equal(await (await browser.$("#f-surname")).getValue(), "KOWALSKA");
  assert.equal(await (await browser.$("#f-document-number")).getValue(), "AB1234567");
  assert.equal(await (await browser.$("#f-birth_date")).getValue(), "1990-03-25");
  assert.equal(await browser.execute(() => document.activeElement?.id), "group-eu-jobseeker");
  // The clerk corrects the name to the printed page.
  await fill(browser, "#f-surname", "Kowalska");
  await fill(browser, "#f-given_names", "Anna");
  await completeForm(browser);
  await record(browser, "applicant-filled");
  await (await browser.$("#f-surname")).click();
  await browser.keys("Enter");
  await screen(browser, "review");
  a11y["review"] = await record(browser, "review");
  // The review shows each name part under its own label, as the document prints it.
  assert.match(await text(browser, "#review-facts"), /Surname\s*Kowalska\s*Given names\s*Anna/);
  await waitText(browser, "#preview-password", /^[•\s]+$/);
  await browser.keys("Enter");
  await screen(browser, "result", 60000);
  const number = await text(browser, "#result-number");
  // Training numbers: day of month plus 60.
  assert.match(number, /^850390-\d{4}$/);
  assert.equal(await text(browser, "#result-error"), "");
  a11y["result"] = await record(browser, "result");
  // The queue's PDF stands for the paper: it carries the number; then it goes.
  const spool = `/var/spool/cups-pdf-${printer}`;
  let pdf = null;
  await browser.waitUntil(() => {
    pdf = existsSync(spool) ? readdirSync(spool).find((f) => f.endsWith(".pdf")) : null;
    return !!pdf;
  }, { timeout: 60000, timeoutMsg: `no PDF arrived in ${spool}` });
  await sleep(1000);
  const printed = execFileSync("pdftotext", [join(spool, pdf), "-"], { encoding: "utf8" });
  assert.ok(printed.includes(number), "the printout carries the number");
  assert.ok(printed.includes("Kowalska"), "the printout carries the name as printed");
  for (const f of readdirSync(spool)) rmSync(join(spool, f), { force: true });
  await browser.keys("Enter");
  await screen(browser, "applicant");
});

test("refusals: an expired document, a Danish national, a duplicate", async () => {
  const { browser } = app;
  const expired = td3({ surname: "NOWAK", given: "JAN", number: "XY7654321", birth: "850101", sex: "M", expiry: yymmdd(-1) });
  await scan(browser, expired);
  await completeForm(browser);
  await (await browser.$("#f-surname")).click();
  await browser.keys("Enter");
  await waitText(browser, "#f-document-expiry_date-error", /\S/);
  assert.equal(await (await browser.$("#f-document-expiry_date")).getAttribute("aria-invalid"), "true");
  await record(browser, "refusal-expired");

  await (await browser.$("#applicant-clear")).click();
  const danish = td3({ state: "DNK", surname: "JENSEN", given: "METTE", number: "DK1234567", birth: "800202", sex: "F", expiry: yymmdd(4) });
  await scan(browser, danish);
  await completeForm(browser);
  await (await browser.$("#f-surname")).click();
  await browser.keys("Enter");
  await waitText(browser, "#f-nationality-error", /\S/);
  await record(browser, "refusal-danish");
  assert.equal(await browser.$("#main").getAttribute("data-screen"), "applicant");

  await (await browser.$("#applicant-clear")).click();
  await scan(browser, passport);
  await completeForm(browser);
  await waitText(browser, "#duplicates", /\S/);
  await (await browser.$("#f-surname")).click();
  await browser.keys("Enter");
  await waitText(browser, "#applicant-error", /\S/);
  assert.equal(await browser.$("#main").getAttribute("data-screen"), "applicant");
  await record(browser, "refusal-duplicate");
});

test("records: find the record, open it, reprint, void it", async () => {
  const { browser } = app;
  await (await browser.$("#nav-records")).click();
  await screen(browser, "records");
  await fill(browser, "#f-query", "kowalska");
  await browser.keys("Enter");
  await waitText(browser, "#records-status", /^1 /);
  a11y["records"] = await record(browser, "records");
  await (await browser.$("#records-table button.link")).click();
  await screen(browser, "record");
  await waitText(browser, "#record-facts", /Anna Kowalska/);
  a11y["record"] = await record(browser, "record");
  await (await browser.$("#reprint")).click();
  await browser.waitUntil(async () => !/…/.test(await text(browser, "#record-status")), { timeout: 60000 });
  assert.equal(await text(browser, "#record-error"), "");
  assert.match(await text(browser, "#record-status"), /new password/);
  await fill(browser, "#f-reason", "Test: issued in error");
  await (await browser.$("#void")).click();
  await waitText(browser, "#record-status", /voided|annulleret/i);
  assert.match(await text(browser, "#record-facts"), /voided/);
  await browser.keys("Escape");
  await screen(browser, "records");
});

test("sync panel, day report and settings open and pass the accessibility check", async () => {
  const { browser } = app;
  await (await browser.$("#nav-sync")).click();
  await screen(browser, "sync");
  await waitText(browser, "#sync-facts", /\S/);
  a11y["sync"] = await record(browser, "sync");

  await (await browser.$("#nav-report")).click();
  await screen(browser, "report");
  const out = join(dataDir, "day.csv");
  await fill(browser, "#f-path", out);
  await browser.keys("Enter");
  await waitText(browser, "#report-status", /1 record saved/);
  a11y["report"] = await record(browser, "report");

  await (await browser.$("#nav-settings")).click();
  await screen(browser, "settings");
  await (await browser.$("#f-idle_lock_minutes")).waitForExist({ timeout: 10000 });
  a11y["settings"] = await record(browser, "settings");
  await fill(browser, "#f-password_lapse_days", "21");
  await (await browser.$("#settings-save")).click();
  await browser.waitUntil(async () => /\S/.test((await text(browser, "#settings-status")) + (await text(browser, "#settings-error"))), { timeout: 15000 });
  assert.equal(await text(browser, "#settings-error"), "");
  assert.match(await text(browser, "#settings-status"), /saved/);
});

test("at the smallest window, 1024 × 700, every screen fits its width, opens at its top, and the menu stays on one line", async () => {
  const { browser } = app;
  await browser.setWindowSize(1024, 700);
  await browser.waitUntil(async () => (await browser.execute(() => window.innerWidth)) <= 1024, { timeout: 10000, timeoutMsg: "the window did not shrink" });
  try {
    // English now, then Danish (the longer words), then back to English.
    for (const language of ["en", "da"]) {
      if (language === "da") await (await browser.$("#lang-toggle")).click();
      for (const name of ["applicant", "records", "sync", "report", "settings", "staff"]) {
        // Scrolled to the bottom of the last screen, the next one still opens at its top.
        await browser.execute(() => window.scrollTo(0, document.documentElement.scrollHeight));
        await (await browser.$(`#nav-${name}`)).click();
        await screen(browser, name);
        await sleep(300);
        const m = await browser.execute(() => {
          const nav = [...document.querySelectorAll(".nav-item")].map((b) => b.getBoundingClientRect().top);
          return {
            scroll: document.documentElement.scrollWidth,
            width: document.documentElement.clientWidth,
            navRows: new Set(nav.map((t) => Math.round(t))).size,
            scrolled: window.scrollY,
            // The outermost elements that stick out, to name in a failure.
            over: [...document.querySelectorAll("body *")]
              .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
              .filter((e) => !(e.parentElement && e.parentElement.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5))
              .slice(0, 5)
              .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""}`),
          };
        });
        assert.ok(m.scroll <= m.width, `${name} (${language}) is wider than the window: ${m.scroll} > ${m.width} (${m.over.join(", ")})`);
        assert.equal(m.navRows, 1, `the menu wraps on ${name} (${language})`);
        assert.equal(m.scrolled, 0, `${name} (${language}) opened scrolled down by ${m.scrolled} px, the menu out of sight`);
        if (name === "applicant") await record(browser, `applicant-1024x700-${language}`);
      }
    }
  } finally {
    if ((await browser.execute(() => document.documentElement.lang)) === "da") await (await browser.$("#lang-toggle")).click();
    await browser.setWindowSize(1200, 800);
  }
});

test("the admin adds a clerk, who must choose their own password at first sign-in, sees no admin screen, and changes it later herself", async () => {
  const { browser } = app;
  const first = "velvet harbour mosaic 7";
  const chosen = "copper meadow lantern 19";
  await (await browser.$("#nav-staff")).click();
  await screen(browser, "staff");
  await waitText(browser, "#staff-table", new RegExp(ADMIN));
  await fill(browser, "#f-name", "karin");
  await fill(browser, "#f-password", first);
  await browser.keys("Enter");
  await waitText(browser, "#staff-status", /karin/, 30000);
  assert.equal(await text(browser, "#staff-add-error"), "");
  assert.match(await text(browser, '#staff-table tr[data-staff="karin"] .staff-state'), /new password/);
  a11y["staff"] = await record(browser, "staff");
  // The temporary-password form opens under the list, passes axe too, and Esc closes it.
  const reset = await browser.$('#staff-table tr[data-staff="karin"] button[id^="staff-reset-"]');
  await reset.click();
  await browser.waitUntil(async () => (await browser.execute(() => document.activeElement?.id)) === "f-temporary_password", { timeout: 10000 });
  a11y["staff-reset"] = await record(browser, "staff-reset");
  await browser.keys("Escape");
  await screen(browser, "staff");
  assert.equal(await (await browser.$("#staff-action")).isDisplayed(), false);

  await (await browser.$("#lock")).click();
  await screen(browser, "sign-in");
  await fill(browser, "#f-name", "karin");
  await fill(browser, "#f-password", first);
  await browser.keys("Enter");
  await (await browser.$("#change-form")).waitForExist({ timeout: 30000 });
  a11y["sign-in-change"] = await record(browser, "sign-in-change");
  await fill(browser, "#f-new_password", chosen);
  await fill(browser, "#f-new_password_repeat", chosen);
  await browser.keys("Enter");
  await screen(browser, "applicant", 30000);
  assert.equal(await (await browser.$("#nav-staff")).isExisting(), false, "a clerk has no staff screen");
  assert.equal(await (await browser.$("#nav-settings")).isExisting(), false, "a clerk has no settings screen");

  // Later she changes it again herself, from her name in the header.
  await (await browser.$("#staff-label")).click();
  await screen(browser, "password");
  a11y["password"] = await record(browser, "password");
  await fill(browser, "#f-current_password", chosen);
  await fill(browser, "#f-new_password", "amber quiver hollow 64");
  await fill(browser, "#f-new_password_repeat", "amber quiver hollow 64");
  await browser.keys("Enter");
  await waitText(browser, "#password-status", /changed/, 30000);
  await (await browser.$("#lock")).click();
  await signIn(browser, "karin", "amber quiver hollow 64");
});

test("Lock returns to sign-in", async () => {
  const { browser } = app;
  await (await browser.$("#lock")).click();
  await screen(browser, "sign-in");
});
