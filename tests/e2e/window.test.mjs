// The desk application opens a real WebKit window that shows the product's
// name and the core's version, asked from Rust through a Tauri command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, screenshot, startApp } from "./driver.mjs";

function coreVersion() {
  // The workspace version is the core's version (crates/core inherits it).
  const manifest = readFileSync(join(root, "Cargo.toml"), "utf8");
  const section = manifest.split("[workspace.package]")[1];
  return section.match(/^version\s*=\s*"([^"]+)"/m)[1];
}

test("the window shows the application name and the core's version", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skranke-window-"));
  const { browser, stop } = await startApp({ env: { SKRANKE_DATA_DIR: dataDir } });
  try {
    const version = await browser.$("#version");
    await browser.waitUntil(async () => (await version.getAttribute("data-version")) !== null, {
      timeout: 15000,
      timeoutMsg: "the version never appeared",
    });
    assert.equal(await version.getAttribute("data-version"), coreVersion());
    assert.match(await version.getText(), new RegExp(`Version ${coreVersion().replace(/\./g, "\\.")}`));
    assert.equal(await browser.$("#app-name").getText(), "Skranke");
    // The title names the screen, then the product.
    assert.match(await browser.getTitle(), / · Skranke$/);
    await screenshot(browser, "shell");
  } finally {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
