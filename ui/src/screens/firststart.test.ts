import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, check, desk, mockShell, settle, startApp, submit, type } from "../test/harness";

afterEach(() => clearMocks());

function fill() {
  type("#f-municipality", "101");
  type("#f-office", "Borgerservice Nord");
  type("#f-desk_number", "3");
  type("#f-admin_name", "admin");
  type("#f-admin_password", "correct horse battery");
  type("#f-admin_password_repeat", "correct horse battery");
}

describe("first start", () => {
  it("creates a training desk and goes on to sign-in", async () => {
    const m = mockShell({ desk: null });
    m.on("desk_init", () => desk);
    await startApp();
    expect(($("#f-registry_url") as HTMLInputElement).disabled).toBe(true);
    fill();
    submit("#f-office");
    await settle();
    const req = m.called("desk_init")[0].request as Record<string, string>;
    expect(req.mode).toBe("training");
    expect(req.municipality).toBe("101");
    expect(req.desk_number).toBe("3");
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#training-mark").textContent).toBe("TRAINING");
  });

  it("enables the registry fields for enrolment and sends them", async () => {
    const m = mockShell({ desk: null });
    m.on("desk_init", () => ({ ...desk, training: false }));
    await startApp();
    check("#mode-enrol");
    expect(($("#f-registry_url") as HTMLInputElement).disabled).toBe(false);
    type("#f-registry_url", "https://registry.example");
    type("#f-enrolment_code", "ABCD-1234");
    fill();
    submit("#f-office");
    await settle();
    const req = m.called("desk_init")[0].request as Record<string, string>;
    expect(req.mode).toBe("enrol");
    expect(req.enrolment_code).toBe("ABCD-1234");
  });

  it("puts each refusal next to its field and focuses the first", async () => {
    const m = mockShell({ desk: null });
    m.on("desk_init", () => {
      throw {
        message: "invalid",
        fields: [
          { field: "municipality", code: "unknown", message: "999 is not a municipality code." },
          { field: "admin_password", code: "short", message: "The password is too short." },
        ],
      };
    });
    await startApp();
    fill();
    type("#f-municipality", "999");
    submit("#f-office");
    await settle();
    const muni = $("#f-municipality");
    expect(muni.getAttribute("aria-invalid")).toBe("true");
    expect(muni.getAttribute("aria-describedby")).toContain("f-municipality-error");
    expect($("#f-municipality-error").textContent).toBe("999 is not a municipality code.");
    expect($("#f-municipality-error").getAttribute("role")).toBe("alert");
    expect($("#f-admin_password-error").textContent).toBe("The password is too short.");
    expect(document.activeElement?.id).toBe("f-municipality");
  });

  it("refuses two different passwords without calling the core", async () => {
    const m = mockShell({ desk: null });
    await startApp();
    fill();
    type("#f-admin_password_repeat", "something else");
    submit("#f-office");
    await settle();
    expect(m.called("desk_init")).toHaveLength(0);
    expect($("#f-admin_password_repeat-error").textContent).toContain("not the same");
  });
});
