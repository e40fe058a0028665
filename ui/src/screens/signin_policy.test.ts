import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { api } from "../api";
import { $, clerk, mockShell, settle, startApp, submit, type } from "../test/harness";

afterEach(() => clearMocks());

const forced = { ...clerk, must_change: true };

describe("sign-in policy", () => {
  it("goes back to sign-in with a notice when the shell answers locked", async () => {
    const m = mockShell({ session: clerk });
    m.on("records_search", () => {
      throw { message: "The desk locked itself after 5 minutes without activity.", fields: [], code: "locked" };
    });
    await startApp();
    expect($("#main").dataset.screen).toBe("applicant");
    await expect(api.searchRecords("x")).rejects.toMatchObject({ code: "locked" });
    await settle();
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#signin-notice").textContent).toContain("locked itself");
    expect(document.querySelector("#staff-label")).toBeNull();
  });

  it("a refusal without the locked code keeps the session", async () => {
    const m = mockShell({ session: clerk });
    m.on("records_search", () => {
      throw { message: "Something else.", fields: [] };
    });
    await startApp();
    await expect(api.searchRecords("x")).rejects.toMatchObject({ message: "Something else." });
    await settle();
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("shows when a locked account unlocks", async () => {
    const m = mockShell();
    m.on("sign_in", () => {
      throw { message: "The account is locked after too many failed sign-ins. It unlocks at 2026-11-26 23:41.", fields: [], code: "account_locked" };
    });
    await startApp();
    type("#f-name", "anne");
    type("#f-password", "the right one, still refused");
    submit("#f-name");
    await settle();
    expect($("#signin-error").textContent).toContain("unlocks at 2026-11-26 23:41");
    expect($("#main").dataset.screen).toBe("sign-in");
  });

  it("a reset password opens the change form first and then the desk", async () => {
    const m = mockShell();
    m.on("sign_in", () => forced);
    m.on("change_password", () => clerk);
    await startApp();
    type("#f-name", "anne");
    type("#f-password", "temporary passphrase 7");
    submit("#f-name");
    await settle();
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#screen-title").textContent).toBe("Choose your own password");
    expect(document.querySelector("#f-current_password")).toBeNull();
    expect(document.activeElement?.id).toBe("f-new_password");
    expect(document.querySelector("#staff-label")).toBeNull();
    type("#f-new_password", "copper meadow lantern 19");
    type("#f-new_password_repeat", "copper meadow lantern 91");
    submit("#f-new_password");
    await settle();
    expect($("#f-new_password_repeat-error").textContent).toContain("not the same");
    expect(m.called("change_password")).toHaveLength(0);
    type("#f-new_password_repeat", "copper meadow lantern 19");
    submit("#f-new_password");
    await settle();
    expect(m.called("change_password")).toEqual([{ current: "temporary passphrase 7", newPassword: "copper meadow lantern 19" }]);
    expect($("#main").dataset.screen).toBe("applicant");
    expect($("#staff-label").textContent).toBe("anne (clerk)");
  });

  it("puts the core's refusal of a weak new password next to its field", async () => {
    const m = mockShell();
    m.on("sign_in", () => forced);
    m.on("change_password", () => {
      throw {
        message: "This password is too easy to guess: a single word is easy to guess.",
        fields: [{ field: "new_password", code: "staff.password_weak", message: "This password is too easy to guess: a single word is easy to guess." }],
      };
    });
    await startApp();
    type("#f-name", "anne");
    type("#f-password", "temporary passphrase 7");
    submit("#f-name");
    await settle();
    type("#f-new_password", "sunflowers");
    type("#f-new_password_repeat", "sunflowers");
    submit("#f-new_password");
    await settle();
    expect($("#f-new_password-error").textContent).toContain("too easy to guess");
    expect(document.activeElement?.id).toBe("f-new_password");
    expect($("#main").dataset.screen).toBe("sign-in");
  });

  it("a window opened on a reset session asks for the current password too", async () => {
    const m = mockShell({ session: forced });
    m.on("change_password", () => clerk);
    await startApp();
    expect($("#main").dataset.screen).toBe("sign-in");
    expect(document.activeElement?.id).toBe("f-current_password");
    expect(document.querySelector("#nav-records")).toBeNull();
    type("#f-current_password", "temporary passphrase 7");
    type("#f-new_password", "copper meadow lantern 19");
    type("#f-new_password_repeat", "copper meadow lantern 19");
    submit("#f-new_password");
    await settle();
    expect(m.called("change_password")).toEqual([{ current: "temporary passphrase 7", newPassword: "copper meadow lantern 19" }]);
    expect($("#main").dataset.screen).toBe("applicant");
  });
});
