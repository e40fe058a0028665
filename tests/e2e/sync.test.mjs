// An enrolled desk in the real window against a real registry: first start
// with enrolment (a dead address and a wrong code first, each refused next
// to its field), a number issued after the registry's duplicate lookup,
// "sync now" empties the queue, the record shows where it stands, and the
// enrolment and sync screens pass the accessibility check.
//
// Needs PostgreSQL (DATABASE_URL: the test command starts one) and the
// registry binary next to the desk app (built by the Rust test run, or here).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { root, startApp } from "./driver.mjs";
import { completeForm, fill, handoutSettings, record, scan, screen, signIn, td3, text, waitText, yymmdd } from "./desk.mjs";

const ADMIN = "admin";
const PASSWORD = "correct horse battery staple";
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const registryBin = join(targetDir, "debug", "skranke-registry");
const dataDir = mkdtempSync(join(tmpdir(), "skranke-e2e-sync-"));
const keyFile = `${dataDir}-registry-key.json`;
const dbName = `skranke_e2e_${randomBytes(6).toString("hex")}`;
const a11y = {};
let app;
let registry;
let registryUrl;
let code;
let registryLog;

function testPrinter() {
  if (process.env.SKRANKE_TEST_PRINTER) return process.env.SKRANKE_TEST_PRINTER;
  try {
    return execFileSync("lpstat", ["-e"], { encoding: "utf8" }).split("\n").includes("skranke-test") ? "skranke-test" : "";
  } catch {
    return "";
  }
}
const printer = testPrinter();

/** The server's URL with another database name. */
function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A loopback port nothing listens on (the OS picks it, then it is freed). */
function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((done) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.end(), done(true)));
      s.once("error", () => (s.destroy(), done(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the registry did not listen on ${port}`);
    await sleep(100);
  }
}

before(async () => {
  const server = process.env.DATABASE_URL;
  assert.ok(server, "DATABASE_URL is not set: start PostgreSQL with scripts/ci/postgres.sh (the test command does)");
  assert.ok(printer, "no CUPS test queue: run scripts/ci/cups-setup.sh (the test command does)");
  if (!existsSync(registryBin)) {
    execFileSync("cargo", ["build", "--quiet", "-p", "skranke-registry", "--bin", "skranke-registry"], { cwd: root, stdio: "inherit" });
  }
  execFileSync("psql", [server, "-q", "-c", `CREATE DATABASE ${dbName}`]);
  // The registry's own key, in a file of its own as an operator keeps it.
  const env = { ...process.env, DATABASE_URL: withDatabase(server, dbName), SKRANKE_LANG: "en", SKRANKE_REGISTRY_KEY_FILE: keyFile };
  delete env.SKRANKE_REGISTRY_KEY;
  execFileSync(registryBin, ["key", "generate", "--file", keyFile], { env, stdio: "ignore" });
  // The operator makes the one-time code for Aalborg (851), desk 4.
  code = execFileSync(registryBin, ["enrolment-code", "--municipality", "851", "--office", "Jobcenter Aalborg", "--desk", "4"], { env, encoding: "utf8" }).trim();
  assert.match(code, /^(\w{4}-){7}\w{4}$/);
  const port = await freePort();
  registryUrl = `http://127.0.0.1:${port}`;
  const logs = join(root, "target", "e2e-logs");
  mkdirSync(logs, { recursive: true });
  registryLog = join(logs, `registry-${dbName}.log`);
  const log = openSync(registryLog, "a");
  registry = spawn(registryBin, ["serve", "--listen", `127.0.0.1:${port}`, "--insecure-http"], { env, stdio: ["ignore", log, log] });
  await waitForPort(port, 30000);
  // No background sync during the test: "sync now" is what it checks.
  app = await startApp({ env: { SKRANKE_DATA_DIR: dataDir, SKRANKE_SYNC_INTERVAL_SECS: "0" } });
});

after(async () => {
  await app?.stop();
  if (registry) {
    registry.kill("SIGTERM");
    await sleep(500);
  }
  try {
    execFileSync("psql", [process.env.DATABASE_URL, "-q", "-c", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]);
  } catch {
    // A leftover test database is harmless.
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(keyFile, { force: true });
  mkdirSync(join(root, "target"), { recursive: true });
  writeFileSync(join(root, "target", "e2e-axe-sync.json"), JSON.stringify(a11y, null, 2));
});

async function submitFirstStart(browser) {
  await (await browser.$("#first-create")).click();
}

test("first start enrols with the registry; a dead address and a wrong code are refused by field", async () => {
  const { browser } = app;
  await screen(browser, "first-start", 30000);
  // English, for readable assertions (the window's switch; Danish is the default).
  await (await browser.$("#lang-toggle")).click();
  await waitText(browser, "#screen-title", /Set up this desk/);
  await (await browser.$("#mode-enrol")).click();
  assert.equal(await (await browser.$("#f-municipality")).isEnabled(), false);
  const dead = await freePort();
  await fill(browser, "#f-registry_url", `http://127.0.0.1:${dead}`);
  await fill(browser, "#f-enrolment_code", code);
  await fill(browser, "#f-admin_name", ADMIN);
  await fill(browser, "#f-admin_password", PASSWORD);
  await fill(browser, "#f-admin_password_repeat", PASSWORD);
  a11y["first-start-enrol"] = await record(browser, "first-start-enrol");
  await submitFirstStart(browser);
  await waitText(browser, "#f-registry_url-error", /does not answer/, 60000);
  assert.equal(await browser.execute(() => document.activeElement?.id), "f-registry_url");

  await fill(browser, "#f-registry_url", registryUrl);
  await fill(browser, "#f-enrolment_code", "WRONG-CODE-1");
  await submitFirstStart(browser);
  await waitText(browser, "#f-enrolment_code-error", /32 letters and digits/, 60000);
  // Well formed and naming this registry's key, but a secret no operator made.
  const wrong = (code.startsWith("AAAA") ? "BBBB" : "AAAA") + code.slice(4);
  await fill(browser, "#f-enrolment_code", wrong);
  await submitFirstStart(browser);
  await waitText(browser, "#f-enrolment_code-error", /not valid or has already been used/, 60000);
  assert.equal(await text(browser, "#f-registry_url-error"), "");
  await record(browser, "first-start-enrol-refused");

  await fill(browser, "#f-enrolment_code", code);
  await submitFirstStart(browser);
  await screen(browser, "sign-in", 60000);
  // The label clips with an ellipsis in a narrow window (overflow: hidden),
  // which WebDriver's visible-text rule reads as hidden: take the text of a
  // label that has a width instead.
  const place = await browser.execute(() => {
    const label = document.getElementById("desk-label");
    return label && label.getBoundingClientRect().width > 0 ? label.textContent : "";
  });
  assert.match(place, /Jobcenter Aalborg/);
  assert.equal(await browser.$("#training-mark").isExisting(), false);
});

test("an enrolled desk issues a number after asking the registry for duplicates", async () => {
  const { browser } = app;
  await signIn(browser, ADMIN, PASSWORD);
  await handoutSettings(browser, printer);
  const passport = td3({ surname: "KOWALSKA", given: "ANNA", number: "AB1234567", birth: "900325", sex: "F", expiry: yymmdd(5) });
  await scan(browser, passport);
  await fill(browser, "#f-surname", "Kowalska");
  await fill(browser, "#f-given_names", "Anna");
  await completeForm(browser);
  await (await browser.$("#f-surname")).click();
  await browser.keys("Enter");
  await screen(browser, "review", 30000);
  await waitText(browser, "#preview-password", /^[•\s]+$/);
  await browser.keys("Enter");
  await screen(browser, "result", 60000);
  // A real number (no day + 60): the registry's or the lease's.
  assert.match(await text(browser, "#result-number"), /^250390-\d{4}$/);
  assert.equal(await text(browser, "#result-error"), "");
  const spool = `/var/spool/cups-pdf-${printer}`;
  await browser.waitUntil(() => existsSync(spool) && readdirSync(spool).some((f) => f.endsWith(".pdf")), { timeout: 60000, timeoutMsg: `no PDF arrived in ${spool}` });
  await sleep(1000);
  for (const f of readdirSync(spool)) rmSync(join(spool, f), { force: true });
  // Going on to review asked the registry for duplicates; issuing asked it for the number.
  const served = readFileSync(registryLog, "utf8");
  assert.match(served, /\/v1\/lookup/, "the form asked the registry before issuing");
  assert.match(served, /\/v1\/allocate/, "the desk asked the registry for the number");
  await browser.keys("Enter");
  await screen(browser, "applicant");
});

test("sync now empties the queue; the header and the record follow", async () => {
  const { browser } = app;
  await waitText(browser, "#online", /waiting/, 40000);
  await (await browser.$("#nav-sync")).click();
  await screen(browser, "sync");
  await waitText(browser, "#sync-queued", /^[1-9]\d*$/);
  a11y["sync-enrolled"] = await record(browser, "sync-enrolled");
  await (await browser.$("#sync-now")).click();
  await waitText(browser, "#sync-queued", /^0$/, 120000);
  assert.equal(await text(browser, "#sync-error"), "");
  assert.match(await text(browser, "#sync-result"), /^Sent \d+ events: \d+ accepted, .* 0 refused\. 0 still waiting\.$/);
  assert.match(await text(browser, "#sync-connection"), /^Online$/);
  assert.doesNotMatch(await text(browser, "#sync-last"), /never/);
  assert.doesNotMatch(await text(browser, "#online"), /waiting/);
  a11y["sync-after"] = await record(browser, "sync-after");

  await (await browser.$("#nav-records")).click();
  await screen(browser, "records");
  await fill(browser, "#f-query", "kowalska");
  await browser.keys("Enter");
  await waitText(browser, "#records-status", /^1 /);
  await (await browser.$("#records-table button.link")).click();
  await screen(browser, "record");
  await waitText(browser, "#record-facts", /received by the registry/);
});
