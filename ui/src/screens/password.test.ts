import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, clerk, key, mockShell, settle, startApp, submit, type } from "../test/harness";

afterEach(() => clearMocks());

/** Opens the screen with Alt+K, fills the three fields and submits them. */
async function change(current: string, next: string, repeat: string): Promise<void> {
  key(document.body, "k", { altKey: true, code: "KeyK" });
  await settle();
  type("#f-current_password", current);
  type("#f-new_password", next);
  type("#f-new_password_repeat", repeat);
  submit("#f-new_password");
  await settle();
}

describe("change your own password", () => {
  it("opens from the name in the header and from Alt+K, with the current password first", async () => {
    mockShell({ session: clerk });
    await startApp();
    const button = $("#staff-label");
    expect(button.tagName).toBe("BUTTON");
    expect(button.textContent).toBe("anne (clerk)");
    expect(button.getAttribute("aria-label")).toBe("anne (clerk): Change your password");
    button.click();
    await settle();
    expect($("#main").dataset.screen).toBe("password");
    expect(document.activeElement?.id).toBe("f-current_password");
    key(document.activeElement!, "Escape");
    await settle();
    expect($("#main").dataset.screen).toBe("applicant");
    key(document.body, "k", { altKey: true, code: "KeyK" });
    await settle();
    expect($("#main").dataset.screen).toBe("password");
  });

  it("changes it with the current one, says so, and keeps no password on screen", async () => {
    const m = mockShell({ session: clerk });
    m.on("change_password", () => clerk);
    await startApp();
    await change("saffron glacier pillow 23", "copper meadow lantern 19", "copper meadow lantern 19");
    expect(m.called("change_password")).toEqual([{ current: "saffron glacier pillow 23", newPassword: "copper meadow lantern 19" }]);
    expect($("#password-status").textContent).toBe("Your password is changed. Use the new one from your next sign-in.");
    expect($("#main").dataset.screen).toBe("password");
    for (const id of ["#f-current_password", "#f-new_password", "#f-new_password_repeat"]) {
      expect(($(id) as HTMLInputElement).value).toBe("");
    }
  });

  it("refuses two different new passwords without asking the core, and puts a wrong current one at its field", async () => {
    const m = mockShell({ session: clerk });
    m.on("change_password", () => {
      throw { message: "x", fields: [{ field: "current_password", code: "staff.password_wrong", message: "The current password is wrong." }] };
    });
    await startApp();
    await change("not it at all, sorry", "copper meadow lantern 19", "copper meadow lantern 91");
    expect(m.called("change_password")).toHaveLength(0);
    expect($("#f-new_password_repeat-error").textContent).toBe("The two new passwords are not the same.");
    type("#f-new_password_repeat", "copper meadow lantern 19");
    submit("#f-new_password");
    await settle();
    expect($("#f-current_password-error").textContent).toBe("The current password is wrong.");
    expect($("#password-status").textContent).toBe("");
  });
});
