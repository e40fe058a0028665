import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, clerk, mockShell, settle, startApp, submit, type } from "../test/harness";

afterEach(() => clearMocks());

describe("sign-in", () => {
  it("labels each input and focuses the name", async () => {
    mockShell();
    await startApp();
    expect(document.activeElement?.id).toBe("f-name");
    expect($("label[for=f-name]").textContent).toBe("User name");
    expect($("#f-password").getAttribute("type")).toBe("password");
  });

  it("signs in and opens the new-applicant form with the scan field focused", async () => {
    const m = mockShell();
    m.on("sign_in", (a) => (a.name === "anne" && a.password === "pw-1234567" ? clerk : (() => { throw { message: "wrong", fields: [] }; })()));
    await startApp();
    type("#f-name", " anne ");
    type("#f-password", "pw-1234567");
    submit("#f-name");
    await settle();
    expect($("#main").dataset.screen).toBe("applicant");
    expect(document.activeElement?.id).toBe("f-mrz");
    expect($("#staff-label").textContent).toBe("anne (clerk)");
  });

  it("shows the core's refusal, clears the password and keeps the name", async () => {
    const m = mockShell();
    m.on("sign_in", () => {
      throw { message: "The user name or the password is wrong.", fields: [] };
    });
    await startApp();
    type("#f-name", "anne");
    type("#f-password", "nope");
    submit("#f-name");
    await settle();
    expect($("#signin-error").textContent).toBe("The user name or the password is wrong.");
    expect(($("#f-password") as HTMLInputElement).value).toBe("");
    expect(($("#f-name") as HTMLInputElement).value).toBe("anne");
    expect(document.activeElement?.id).toBe("f-password");
  });

  it("asks for both fields before calling the core", async () => {
    const m = mockShell();
    await startApp();
    submit("#f-name");
    await settle();
    expect(m.called("sign_in")).toHaveLength(0);
    expect($("#signin-error").textContent).toContain("user name and password");
  });
});
