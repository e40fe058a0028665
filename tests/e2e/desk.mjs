// Helpers for the desk's end-to-end tests: machine-readable zones with
// correct check digits, the steps a clerk takes, and the axe-core check.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root, screenshot } from "./driver.mjs";

/** ICAO 9303 check digit: weights 7, 3, 1; digits as values, A–Z as 10–35, `<` as 0. */
export function checkDigit(field) {
  const weights = [7, 3, 1];
  let sum = 0;
  [...field].forEach((c, i) => {
    const v = c === "<" ? 0 : /[0-9]/.test(c) ? Number(c) : c.charCodeAt(0) - 55;
    sum += v * weights[i % 3];
  });
  return String(sum % 10);
}

const pad = (s, n) => (s + "<".repeat(n)).slice(0, n);

/** A TD3 (passport) zone, two lines of 44, every check digit right. Dates as YYMMDD. */
export function td3({ state = "POL", surname, given, number, nationality = state, birth, sex, expiry }) {
  const line1 = pad(`P<${state}${surname}<<${given.replace(/ /g, "<")}`, 44);
  const doc = pad(number, 9);
  const optional = "<".repeat(14);
  const parts = [doc, checkDigit(doc), nationality, birth, checkDigit(birth), sex, expiry, checkDigit(expiry), optional, checkDigit(optional)];
  const composite = doc + checkDigit(doc) + birth + checkDigit(birth) + expiry + checkDigit(expiry) + optional + checkDigit(optional);
  const line2 = parts.join("") + checkDigit(composite);
  assert.equal(line1.length, 44);
  assert.equal(line2.length, 44);
  return [line1, line2];
}

/** YYMMDD `years` from today (the expiry of a valid or an expired document). */
export function yymmdd(yearsFromNow) {
  const d = new Date();
  d.setFullYear(d.getFullYear() + yearsFromNow);
  return `${String(d.getFullYear()).slice(2)}${String(d.getMonth() + 1).padStart(2, "0")}${String(d.getDate()).padStart(2, "0")}`;
}

export async function screen(browser, name, timeout = 15000) {
  const main = await browser.$("#main");
  await browser.waitUntil(async () => (await main.getAttribute("data-screen")) === name, {
    timeout,
    timeoutMsg: `screen ${name} never opened (at ${await main.getAttribute("data-screen")})`,
  });
}

export async function text(browser, selector) {
  return (await browser.$(selector)).getText();
}

/** Waits until an element's text matches. */
export async function waitText(browser, selector, re, timeout = 15000) {
  const el = await browser.$(selector);
  await browser.waitUntil(async () => re.test(await el.getText()), {
    timeout,
    timeoutMsg: `${selector} never matched ${re}: "${await el.getText().catch(() => "")}"`,
  });
}

const axeSource = readFileSync(join(root, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * Runs axe-core on the current screen (WCAG 2.1 A and AA rules) and fails on
 * a serious or critical violation. Returns the violations for the record.
 */
export async function axeCheck(browser, name) {
  const has = await browser.execute(() => typeof window.axe !== "undefined");
  if (!has) await browser.execute(`${axeSource}\n;return true;`);
  const result = await browser.executeAsync((done) => {
    window.axe
      .run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
      .then((r) => done(JSON.stringify(r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) })))))
      .catch((e) => done(JSON.stringify([{ id: "axe-error", impact: "critical", nodes: [String(e)] }])));
  });
  const violations = JSON.parse(result);
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `axe found serious or critical violations on ${name}`);
  return violations;
}

/** Screenshot and accessibility check of one main screen. */
export async function record(browser, name) {
  await screenshot(browser, name);
  return axeCheck(browser, name);
}

export async function fill(browser, selector, value) {
  const el = await browser.$(selector);
  await el.clearValue();
  await el.setValue(value);
}

/** First start on a fresh machine: a training desk and its first admin. */
export async function firstStartTraining(browser, admin, password) {
  await screen(browser, "first-start");
  await fill(browser, "#f-municipality", "101");
  await fill(browser, "#f-office", "Borgerservice Nord");
  await fill(browser, "#f-desk_number", "3");
  await fill(browser, "#f-admin_name", admin);
  await fill(browser, "#f-admin_password", password);
  await fill(browser, "#f-admin_password_repeat", password);
  await browser.keys("Enter");
  await screen(browser, "sign-in", 30000);
}

export async function signIn(browser, name, password) {
  await screen(browser, "sign-in");
  await fill(browser, "#f-name", name);
  await fill(browser, "#f-password", password);
  await browser.keys("Enter");
  await screen(browser, "applicant", 30000);
}

/** Types a zone as a keyboard-wedge passport reader does: each line, then Enter. */
export async function scan(browser, lines) {
  const mrz = await browser.$("#f-mrz");
  await mrz.click();
  await mrz.clearValue();
  for (const line of lines) {
    // Element Send Keys types the line (action chains drop repeated keys in
    // WebKitWebDriver); Enter ends the line as the reader does.
    await mrz.addValue(line);
    await browser.keys("Enter");
  }
  const status = await browser.$("#mrz-status");
  const error = await browser.$("#f-mrz-error");
  await browser.waitUntil(async () => /\S/.test((await status.getText()) + (await error.getText())), {
    timeout: 15000,
    timeoutMsg: `the scan gave no answer; the field holds ${JSON.stringify(await mrz.getValue())}`,
  });
  const problem = await error.getText();
  assert.equal(problem, "", `the scan was refused: ${problem}; the field holds ${JSON.stringify(await mrz.getValue())}`);
}

/** The clerk's part after a scan: the group, the document check, the conditions. */
export async function completeForm(browser) {
  await (await browser.$("#group-eu-jobseeker")).click();
  for (const id of ["#f-document-original_seen", "#f-no_danish_cpr", "#f-not_residence_registered"]) {
    const box = await browser.$(id);
    if (!(await box.isSelected())) await box.click();
  }
}

/** The admin sets the desk's printer and the privacy notice (the handout needs both). */
export async function handoutSettings(browser, printer) {
  await (await browser.$("#nav-settings")).click();
  await screen(browser, "settings");
  const select = await browser.$("#f-printer");
  await select.waitForExist({ timeout: 10000 });
  await select.selectByAttribute("value", printer);
  await fill(browser, "#f-privacy_controller", "Københavns Kommune");
  await fill(browser, "#f-privacy_contact", "borgerservice@kk.example");
  await fill(browser, "#f-privacy_dpo", "dpo@kk.example");
  await (await browser.$("#settings-save")).click();
  const status = await browser.$("#settings-status");
  const error = await browser.$("#settings-error");
  await browser.waitUntil(async () => /\S/.test((await status.getText()) + (await error.getText())), { timeout: 15000 });
  assert.equal(await error.getText(), "");
  await (await browser.$("#nav-applicant")).click();
  await screen(browser, "applicant");
}
