// Starts the real desk application under tauri-driver (which drives
// WebKitWebDriver) and hands back a WebdriverIO session. Needs an X display
// (the test command starts Xvfb) and a debug build with the UI embedded
// (`npx tauri build --debug --no-bundle`).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join, resolve } from "node:path";
import net from "node:net";
import { remote } from "webdriverio";

export const root = resolve(import.meta.dirname, "../..");
export const appPath = join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "skranke-desk");
export const screenshotDir = join(root, "target", "e2e-screenshots");
const logDir = join(root, "target", "e2e-logs");

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((done, fail) => {
    const attempt = () => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.end();
        done();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) fail(new Error(`tauri-driver did not listen on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function tauriDriverPath() {
  const home = process.env.CARGO_HOME ?? join(process.env.HOME ?? "/root", ".cargo");
  return join(home, "bin", "tauri-driver");
}

/** Starts tauri-driver and the app; returns { browser, stop }. */
export async function startApp({ env = {}, application = appPath } = {}) {
  if (!process.env.DISPLAY) throw new Error("no DISPLAY: run the e2e tests through the README's test command (it starts Xvfb)");
  if (!existsSync(application)) throw new Error(`no app build at ${application}: run \`npx tauri build --debug --no-bundle\``);
  const port = 4444 + Math.floor(Math.random() * 1000);
  const nativePort = port + 1000;
  // The driver, WebKitWebDriver, the app and WebKit's helper processes share
  // one process group (ended as a whole in stop()) and write to a log file:
  // an inherited stdout would keep the test runner's pipe open after a kill.
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, "tauri-driver.log"), "a");
  const driver = spawn(tauriDriverPath(), ["--port", String(port), "--native-port", String(nativePort)], {
    stdio: ["ignore", log, log],
    detached: true,
    // Measured here: with compositing disabled, WebKitWebDriver's screenshot
    // of an idle page never returns; with it enabled the window renders fine
    // under Xvfb. "0" enables it explicitly whatever the caller's environment.
    env: { ...process.env, WEBKIT_DISABLE_COMPOSITING_MODE: "0", ...env },
  });
  const killGroup = (signal) => {
    try {
      process.kill(-driver.pid, signal);
    } catch {
      // Already gone.
    }
  };
  try {
    await waitForPort(port, 15000);
    const browser = await remote({
      hostname: "127.0.0.1",
      port,
      logLevel: "error",
      capabilities: {
        "tauri:options": { application },
        "wdio:enforceWebDriverClassic": true,
      },
    });
    const stop = async () => {
      try {
        await browser.deleteSession();
      } finally {
        killGroup("SIGTERM");
        await sleep(300);
        killGroup("SIGKILL");
      }
    };
    return { browser, stop };
  } catch (e) {
    killGroup("SIGKILL");
    throw e;
  }
}

export async function screenshot(browser, name) {
  mkdirSync(screenshotDir, { recursive: true });
  // WebKitWebDriver answers the classic screenshot command; write the PNG ourselves.
  const png = await Promise.race([
    browser.takeScreenshot(),
    sleep(20000, undefined, { ref: false }).then(() => {
      throw new Error(`screenshot "${name}" did not arrive within 20 s`);
    }),
  ]);
  writeFileSync(join(screenshotDir, `${name}.png`), Buffer.from(png, "base64"));
}
