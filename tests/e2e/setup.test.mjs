// A new desk's first hour in the real window: first start picks the
// municipality by name from the core's list, the admin's setup checklist
// leads to the screens that clear it and is gone when all is done, a German
// passport's zone sets the handout's language and marks the names as the
// zone's, and at 1280 and 1920 wide the forms use two columns.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startApp } from "./driver.mjs";
import { fill, record, scan, screen, signIn, td3, text, waitText, yymmdd } from "./desk.mjs";

const ADMIN = "admin";
const PASSWORD = "correct horse battery staple";
const dataDir = mkdtempSync(join(tmpdir(), "skranke-e2e-setup-"));
function testPrinter() {
  if (process.env.SKRANKE_TEST_PRINTER) return process.env.SKRANKE_TEST_PRINTER;
  try {
    return execFileSync("lpstat", ["-e"], { encoding: "utf8" }).split("\n").includes("skranke-test") ? "skranke-test" : "";
  } catch {
    return "";
  }
}
let app;

before(async () => {
  app = await startApp({ env: { SKRANKE_DATA_DIR: dataDir } });
});

after(async () => {
  await app?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Whether the checklist item `id` is shown as still to do (a link) or done. */
async function itemState(browser, id) {
  return browser.execute((id) => document.getElementById(`check-${id}`)?.className ?? "absent", id);
}

/** Saves the settings form and fails on a refusal. */
async function save(browser) {
  await (await browser.$("#settings-save")).click();
  await browser.waitUntil(async () => /\S/.test((await text(browser, "#settings-status")) + (await text(browser, "#settings-error"))), { timeout: 15000 });
  assert.equal(await text(browser, "#settings-error"), "");
}

test("first start picks the municipality by name from the keyboard, and its name shows beside the code", async () => {
  const { browser } = app;
  await screen(browser, "first-start", 30000);
  const muni = await browser.$("#f-municipality");
  await browser.waitUntil(async () => (await muni.getAttribute("role")) === "combobox", { timeout: 10000, timeoutMsg: "the picker never got its list" });
  await muni.click();
  await muni.addValue("Odens");
  await waitText(browser, "#f-municipality-list", /461\s+Odense/);
  assert.equal(await muni.getAttribute("aria-expanded"), "true");
  await record(browser, "first-start-picker");
  await browser.keys("Enter");
  await browser.waitUntil(async () => (await muni.getValue()) === "461", { timeout: 5000, timeoutMsg: "Enter did not pick Odense" });
  assert.equal(await text(browser, "#f-municipality-name"), "Odense");
  assert.equal(await muni.getAttribute("aria-expanded"), "false");
  assert.equal(await (await browser.$("#main")).getAttribute("data-screen"), "first-start", "Enter picked, it did not submit");
  // A code typed shows its name too; Esc closes the list and stays on the screen.
  await fill(browser, "#f-municipality", "10");
  await browser.keys("1");
  await waitText(browser, "#f-municipality-name", /^København$/);
  await browser.keys("Escape");
  assert.equal(await muni.getAttribute("aria-expanded"), "false");
  await fill(browser, "#f-office", "Borgerservice Vest");
  await fill(browser, "#f-desk_number", "2");
  await fill(browser, "#f-admin_name", ADMIN);
  await fill(browser, "#f-admin_password", PASSWORD);
  await fill(browser, "#f-admin_password_repeat", PASSWORD);
  await browser.keys("Enter");
  await screen(browser, "sign-in", 30000);
  await signIn(browser, ADMIN, PASSWORD);
});

test("the admin's setup checklist links to each step and is gone when printer, privacy notice and staff are there", async () => {
  const { browser } = app;
  const printer = testPrinter();
  assert.ok(printer, "no CUPS test queue: run scripts/ci/cups-setup.sh (the test command does)");
  await (await browser.$("#setup-checklist h2")).waitForDisplayed({ timeout: 15000 });
  for (const id of ["printer", "privacy", "staff"]) assert.equal(await itemState(browser, id), "todo", id);
  // The checklist does not take the clerk's place: focus stays on the zone.
  assert.equal(await browser.execute(() => document.activeElement?.id), "f-mrz");
  await record(browser, "setup-checklist");

  // The printer's step opens Settings, where the privacy notice is too (the
  // form saves both at once: its privacy fields are required).
  await (await browser.$("#check-printer-link")).click();
  await screen(browser, "settings");
  const select = await browser.$("#f-printer");
  await select.waitForExist({ timeout: 10000 });
  await select.selectByAttribute("value", printer);
  await fill(browser, "#f-privacy_controller", "Odense Kommune");
  await fill(browser, "#f-privacy_contact", "borgerservice@odense.example");
  await fill(browser, "#f-privacy_dpo", "dpo@odense.example");
  await save(browser);
  await (await browser.$("#nav-applicant")).click();
  await screen(browser, "applicant");
  await browser.waitUntil(async () => (await itemState(browser, "printer")) === "done", { timeout: 10000, timeoutMsg: "the printer step never showed done" });
  assert.equal(await itemState(browser, "privacy"), "done");
  assert.equal(await itemState(browser, "staff"), "todo");
  // Danish, the desk's default language: one step is "1 trin".
  assert.match(await text(browser, "#setup-checklist"), /1 trin tilbage/);

  await (await browser.$("#check-staff-link")).click();
  await screen(browser, "staff");
  await waitText(browser, "#staff-table", new RegExp(ADMIN));
  await fill(browser, "#f-name", "karin");
  await fill(browser, "#f-password", "velvet harbour mosaic 7");
  await browser.keys("Enter");
  await waitText(browser, "#staff-status", /karin/, 30000);
  await (await browser.$("#nav-applicant")).click();
  await screen(browser, "applicant");
  // Asked anew when the form opens: give the answer its moment, then it must be gone.
  await sleep(1000);
  assert.equal(await (await browser.$("#setup-checklist")).isDisplayed(), false, "the checklist stays after every step is done");
});

test("a German passport's zone sets German for the handout and marks the names as the zone's", async () => {
  const { browser } = app;
  await scan(browser, td3({ state: "D<<", nationality: "D<<", surname: "MUELLER", given: "KLAUS PETER", number: "C01X00T47", birth: "640812", sex: "M", expiry: yymmdd(4) }));
  assert.equal(await (await browser.$("#f-language")).getValue(), "de");
  await waitText(browser, "#handout-carries", /Dansk, Engelsk, Tysk/);
  await waitText(browser, "#names-from-zone", /MUELLER, KLAUS PETER/);
  await record(browser, "applicant-zone-names");
});

test("at 1280 and 1920 wide the applicant form and settings use two columns and fit the window", async () => {
  const { browser } = app;
  try {
    for (const [w, hgt] of [[1280, 800], [1920, 1080]]) {
      await browser.setWindowSize(w, hgt);
      await browser.waitUntil(async () => Math.abs((await browser.execute(() => window.innerWidth)) - w) < 40, { timeout: 10000, timeoutMsg: `the window did not become ${w} wide` });
      await sleep(300);
      const m = await browser.execute(() => {
        const box = (sel) => document.querySelector(sel).closest("fieldset").getBoundingClientRect();
        const doc = box("#f-document-number");
        const person = box("#f-surname");
        return {
          scroll: document.documentElement.scrollWidth,
          width: document.documentElement.clientWidth,
          used: document.querySelector("#main form").getBoundingClientRect().width,
          sideBySide: Math.abs(doc.top - person.top) < 2 && person.left > doc.right,
        };
      });
      assert.ok(m.scroll <= m.width, `${w}: wider than the window (${m.scroll} > ${m.width})`);
      assert.ok(m.sideBySide, `${w}: the document and the person are not side by side`);
      assert.ok(m.used > 0.8 * Math.min(m.width, 1680) - 60, `${w}: the form uses ${m.used} of ${m.width} px`);
      await record(browser, `applicant-${w}`);
    }
    await (await browser.$("#nav-settings")).click();
    await screen(browser, "settings");
    await (await browser.$("#f-privacy_dpo")).waitForExist({ timeout: 10000 });
    await record(browser, "settings-1920");
  } finally {
    await browser.setWindowSize(1200, 800);
  }
});
