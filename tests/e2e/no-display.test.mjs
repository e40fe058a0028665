// The desk app started without a graphical session (a server, an SSH
// login): it must say so in plain words from the core's catalog, point to
// the `skranke` CLI and exit with status 1, not panic in the windowing
// library. Runs the same debug build as the window tests, with no display
// in its environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appPath, root } from "./driver.mjs";

const catalog = (lang) => JSON.parse(readFileSync(join(root, "crates/rules/messages", lang, "shell.json"), "utf8"));

/** Starts the built desk app with no DISPLAY, no WAYLAND_DISPLAY and only the given SKRANKE_LANG. */
function startWithoutDisplay(lang) {
  assert.ok(existsSync(appPath), `${appPath} is missing: build it with npx tauri build --debug --no-bundle`);
  const env = { ...process.env };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.SKRANKE_LANG;
  if (lang) env.SKRANKE_LANG = lang;
  const dataDir = mkdtempSync(join(tmpdir(), "skranke-nodisplay-"));
  try {
    return spawnSync(appPath, [], { env: { ...env, SKRANKE_DATA_DIR: dataDir }, encoding: "utf8", timeout: 30000 });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// The check is Linux's (X11 or Wayland); other systems always have a desktop session.
const linuxOnly = { skip: process.platform !== "linux" ? "the display check is Linux's" : false };

test("without a display the desk app says it needs a graphical session, in Danish by default, and exits 1", linuxOnly, () => {
  const run = startWithoutDisplay();
  assert.equal(run.signal, null, "ended by a signal");
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stderr.trim(), catalog("da")["shell.no_display"]);
  assert.match(run.stderr, /grafisk session/);
  assert.match(run.stderr, /skranke --help/);
  assert.doesNotMatch(run.stderr, /panicked|RUST_BACKTRACE/);
});

test("SKRANKE_LANG=en gives the same message in English", linuxOnly, () => {
  const run = startWithoutDisplay("en");
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stderr.trim(), catalog("en")["shell.no_display"]);
  assert.match(run.stderr, /needs a graphical session/);
  assert.match(run.stderr, /skranke --help/);
});
