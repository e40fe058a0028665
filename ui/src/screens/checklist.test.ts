import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, admin, clerk, mockShell, settle, startApp } from "../test/harness";
import type { SettingsView, StaffRow } from "../api";

afterEach(() => clearMocks());

const bare: SettingsView = { printer: "", printers: ["Counter_3"], password_lapse_days: 14, privacy_controller: "", privacy_contact: "", privacy_dpo: "", privacy_retention: "", handout_languages: "", ui_language: "en", idle_lock_minutes: 5, municipal: [] };
const me: StaffRow = { staff_id: 1, name: "admin", role: "admin", active: true, created_at: "2026-12-01T08:00:00Z", locked_until: null, must_change: false, me: true };
const karin: StaffRow = { ...me, staff_id: 2, name: "karin", role: "clerk", me: false };

async function open(settings: SettingsView, staff: StaffRow[], session = admin) {
  const m = mockShell({ session });
  m.on("settings_get", () => settings);
  m.on("staff_list", () => staff);
  m.on("applicant_check", () => ({ valid: true, errors: [], notices: [], duplicates: [] }));
  await startApp();
  await settle();
  return m;
}

describe("the setup checklist", () => {
  it("shows a fresh desk's admin the three open steps, each a link to the screen that does it", async () => {
    await open(bare, [me]);
    const box = $("#setup-checklist");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("Set up the desk");
    for (const id of ["printer", "privacy", "staff"]) expect($(`#check-${id}`).classList.contains("todo")).toBe(true);
    $("#check-printer-link").click();
    expect($("#main").dataset.screen).toBe("settings");
  });

  it("the staff step opens the staff screen", async () => {
    await open(bare, [me]);
    $("#check-staff-link").click();
    expect($("#main").dataset.screen).toBe("staff");
  });

  it("marks a step done once done, and keeps the rest as links", async () => {
    await open({ ...bare, printer: "Counter_3" }, [me]);
    expect($("#check-printer").classList.contains("done")).toBe(true);
    expect(document.querySelector("#check-printer-link")).toBeNull();
    expect($("#check-privacy-link")).toBeTruthy();
    // An admin account other than one's own that is disabled is no staff yet.
    await open({ ...bare, printer: "Counter_3" }, [me, { ...karin, active: false }]);
    expect($("#check-staff").classList.contains("todo")).toBe(true);
  });

  it("keeps the privacy step open until controller, contact and data protection officer are all set", async () => {
    await open({ ...bare, printer: "Counter_3", privacy_controller: "Københavns Kommune", privacy_contact: "kk@kk.dk" }, [me, karin]);
    expect($("#check-privacy").classList.contains("todo")).toBe(true);
  });

  it("is gone when the printer, the privacy notice and a member of staff are there", async () => {
    await open({ ...bare, printer: "Counter_3", privacy_controller: "Københavns Kommune", privacy_contact: "kk@kk.dk", privacy_dpo: "dpo@kk.dk" }, [me, karin]);
    expect($("#setup-checklist").hidden).toBe(true);
    expect($("#setup-checklist").textContent).toBe("");
  });

  it("is not shown to a clerk, who cannot do the steps (and is never asked for the admin's lists)", async () => {
    const m = await open(bare, [me], clerk);
    expect($("#setup-checklist").hidden).toBe(true);
    expect(m.called("settings_get")).toHaveLength(0);
    expect(m.called("staff_list")).toHaveLength(0);
  });

  it("leaves focus on the zone field", async () => {
    await open(bare, [me]);
    expect(document.activeElement?.id).toBe("f-mrz");
  });
});
