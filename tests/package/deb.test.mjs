// The installed .deb's desk app (scripts/deb.sh installs the package, runs
// this, then removes it): /usr/bin/skranke-desk, not the build tree's
// binary, starts under the test command's X display to a new desk's first
// screen, with its UI embedded and its core answering. Runs with a fresh
// home and XDG folders, so nothing of the machine's user (WebKit's caches,
// a desk folder) decides what it shows.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, screenshot, startApp } from "../e2e/driver.mjs";
import { screen } from "../e2e/desk.mjs";

const INSTALLED = "/usr/bin/skranke-desk";
const home = mkdtempSync(join(tmpdir(), "skranke-deb-home-"));
// The desk's own folder inside the fresh home. Named outright: as root (CI)
// the default would be the machine-wide /var/lib/skranke, which outlives the
// package and could hold another desk.
const dataDir = join(home, "desk");
let app;

function workspaceVersion() {
  const section = readFileSync(join(root, "Cargo.toml"), "utf8").split("[workspace.package]")[1];
  return section.match(/^version\s*=\s*"([^"]+)"/m)[1];
}

before(async () => {
  assert.ok(existsSync(INSTALLED), `${INSTALLED} is not there: install the package first (bash scripts/deb.sh does)`);
  const xdg = {};
  for (const [name, dir] of [
    ["XDG_CONFIG_HOME", ".config"],
    ["XDG_CACHE_HOME", ".cache"],
    ["XDG_DATA_HOME", ".local/share"],
    ["XDG_STATE_HOME", ".local/state"],
  ]) {
    xdg[name] = join(home, dir);
    mkdirSync(xdg[name], { recursive: true });
  }
  app = await startApp({ application: INSTALLED, env: { HOME: home, ...xdg, SKRANKE_DATA_DIR: dataDir } });
});

after(async () => {
  await app?.stop();
  rmSync(home, { recursive: true, force: true });
});

test("the installed desk app opens a new desk's setup screen, and its core answers with the workspace version", async () => {
  const { browser } = app;
  await screen(browser, "first-start", 30000);
  // The municipality picker gets its list from the core over IPC: the
  // installed binary's Rust side works, not only its embedded pages.
  const muni = await browser.$("#f-municipality");
  await browser.waitUntil(async () => (await muni.getAttribute("role")) === "combobox", {
    timeout: 10000,
    timeoutMsg: "the municipality picker never got its list from the core",
  });
  const version = await browser.$("#version");
  await browser.waitUntil(async () => (await version.getAttribute("data-version")) !== null, {
    timeout: 10000,
    timeoutMsg: "the core's version never appeared",
  });
  assert.equal(await version.getAttribute("data-version"), workspaceVersion());
  assert.match(await browser.getTitle(), / · Skranke$/);
  await screenshot(browser, "deb-first-start");
});
