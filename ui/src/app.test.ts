import { afterEach, describe, expect, it, vi } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, admin, clerk, key, mockShell, settle, startApp, supervisor, type, submit } from "./test/harness";
import { roleIncludes } from "./app";
import { showAppInfo } from "./main";

afterEach(() => {
  clearMocks();
  vi.useRealTimers();
});

describe("start", () => {
  it("opens first start when the machine has no desk", async () => {
    mockShell({ desk: null });
    await startApp();
    expect($("#main").dataset.screen).toBe("first-start");
    expect(document.activeElement?.id).toBe("mode-training");
  });

  it("opens sign-in when no one is signed in, and marks a training desk on every screen", async () => {
    mockShell();
    await startApp();
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#training-mark").textContent).toBe("TRAINING");
    expect(document.title).toContain("TRAINING");
    expect($("#online").textContent).toContain("Training");
  });

  it("says in a sentence when the shell does not answer", async () => {
    const m = mockShell();
    m.on("desk_status", () => {
      throw { message: "The desk's key is missing from the key store.", fields: [] };
    });
    await startApp();
    expect($("#fatal").textContent).toBe("The desk's key is missing from the key store.");
  });

  it("shows the core's version in the footer", async () => {
    mockShell();
    document.body.innerHTML = `<span id="version"></span>`;
    await showAppInfo(document);
    expect($("#version").dataset.version).toBe("0.1.0");
  });
});

describe("navigation", () => {
  it("shows each role only the screens it may use", async () => {
    mockShell({ session: clerk });
    await startApp();
    expect(document.querySelector("#nav-records")).not.toBeNull();
    expect(document.querySelector("#nav-report")).toBeNull();
    expect(document.querySelector("#nav-settings")).toBeNull();
    expect(roleIncludes("admin", "supervisor")).toBe(true);
    expect(roleIncludes("clerk", "supervisor")).toBe(false);
  });

  it("opens screens with their shortcuts and goes back with Esc", async () => {
    mockShell({ session: supervisor });
    await startApp();
    expect($("#main").dataset.screen).toBe("applicant");
    key(document.body, "r", { altKey: true, code: "KeyR" });
    await settle();
    expect($("#main").dataset.screen).toBe("records");
    key(document.body, "d", { altKey: true, code: "KeyD" });
    await settle();
    expect($("#main").dataset.screen).toBe("report");
    key(document.body, "Escape");
    await settle();
    expect($("#main").dataset.screen).toBe("records");
    key(document.body, "Escape");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("does not open the settings of an admin for a supervisor's shortcut", async () => {
    mockShell({ session: supervisor });
    await startApp();
    key(document.body, "i", { altKey: true, code: "KeyI" });
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("switches the language with one click and keeps the screen", async () => {
    mockShell({ session: admin });
    await startApp();
    expect($("#screen-title").textContent).toBe("New applicant");
    $("#lang-toggle").click();
    expect($("#screen-title").textContent).toBe("Ny ansøger");
    expect(document.documentElement.lang).toBe("da");
    $("#lang-toggle").click();
    expect($("#screen-title").textContent).toBe("New applicant");
  });
});

describe("locking", () => {
  it("Alt+L signs out and returns to sign-in", async () => {
    const m = mockShell({ session: clerk });
    await startApp();
    key(document.body, "l", { altKey: true, code: "KeyL" });
    await settle();
    expect($("#main").dataset.screen).toBe("sign-in");
    expect(m.called("sign_out")).toHaveLength(1);
    expect(document.querySelector("#nav-records")).toBeNull();
  });

  it("locks itself after the idle minutes and says why", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const m = mockShell({ session: null, idle_lock_minutes: 2 });
    m.on("sign_in", () => clerk);
    const started = startApp();
    await vi.advanceTimersByTimeAsync(10);
    await started;
    type("#f-name", "anne");
    type("#f-password", "correct horse battery");
    submit("#f-name");
    await vi.advanceTimersByTimeAsync(10);
    expect($("#main").dataset.screen).toBe("applicant");
    await vi.advanceTimersByTimeAsync(60_000);
    key(document.body, "a"); // activity restarts the clock
    await vi.advanceTimersByTimeAsync(100_000);
    expect($("#main").dataset.screen).toBe("applicant");
    await vi.advanceTimersByTimeAsync(30_000);
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#signin-notice").textContent).toContain("locked itself");
  });
});
