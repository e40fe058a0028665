import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, admin, clerk, key, mockShell, settle, startApp, submit, supervisor, syncView, type } from "../test/harness";
import type { SettingsView, SyncView } from "../api";

afterEach(() => clearMocks());

const online: SyncView = {
  ...syncView,
  training: false,
  enrolled: true,
  online: true,
  queued: 3,
  oldest_unsynced: "2026-11-26T08:00:00Z",
  reserve_left: 2,
  reserve_low: true,
  last_sync: "2026-11-25T16:00:00Z",
  refused: [{ event_id: "e-9", kind: "issued", record_id: "D-1-9", verdict: "conflict", reason: "The number was issued twice.", refused_at: "2026-11-26T09:00:00Z" }],
  notices: [
    {
      id: 4,
      kind: "duplicate_document",
      record_id: "D-1-3",
      other_record_id: "D-7-1",
      other_desk_id: "D-7",
      message: "Record D-1-3 and record D-7-1 at desk D-7 were issued on the same identity document.",
      created_at: "2026-11-26T09:00:00Z",
      duplicate: true,
      record_status: "issued",
      replaced_by: null,
    },
  ],
};

describe("sync panel", () => {
  it("shows what waits, the reserve, refusals and notices, and the header follows", async () => {
    const m = mockShell({ session: clerk, desk: { ...(await import("../test/harness")).desk, training: false } });
    m.on("sync_status", () => online);
    m.on("sync_now", () => ({ ...online, queued: 0, oldest_unsynced: null, refused: [] }));
    await startApp();
    key(document.body, "y", { altKey: true, code: "KeyY" });
    await settle();
    expect($("#sync-facts").textContent).toContain("3");
    expect($("#sync-facts").textContent).toContain("running low");
    expect($("#sync-reserve").textContent).toContain("at least 2 per birth date and sex, for every date");
    expect($("#sync-reserve-hint").textContent).toContain("not the total");
    expect($("#sync-facts").textContent).toContain("can get a number only while online");
    expect($("#sync-refused").textContent).toContain("The number was issued twice.");
    expect($("#sync-notices").textContent).toContain("D-7-1");
    expect($("#online").textContent).toContain("Online");
    expect($("#online").textContent).toContain("3 waiting");
    $("#sync-now").click();
    await settle();
    expect(m.called("sync_now")).toHaveLength(1);
    expect($("#sync-status").textContent).toBe("Sync finished.");
    expect($("#online").textContent).not.toContain("waiting");
  });

  it("says in Danish that the reserve is counted per birth date and sex", async () => {
    const m = mockShell({ session: clerk, lang: "da", desk: { ...(await import("../test/harness")).desk, training: false } });
    m.on("sync_status", () => online);
    await startApp();
    key(document.body, "y", { altKey: true, code: "KeyY" });
    await settle();
    expect($("#sync-reserve").textContent).toContain("mindst 2 pr. fødselsdato og køn, for hver dato");
    expect($("#sync-reserve-hint").textContent).toContain("ikke det samlede antal");
  });

  it("a training desk cannot sync and says so", async () => {
    mockShell({ session: clerk });
    await startApp();
    key(document.body, "y", { altKey: true, code: "KeyY" });
    await settle();
    expect(($("#sync-now") as HTMLButtonElement).disabled).toBe(true);
    expect($("#sync-status").textContent).toContain("never syncs");
  });

  it("shows offline plainly", async () => {
    const m = mockShell({ session: clerk, desk: { ...(await import("../test/harness")).desk, training: false } });
    m.on("sync_status", () => ({ ...online, online: false }));
    await startApp();
    expect($("#online").textContent).toContain("Offline");
    expect($("#online").classList.contains("offline")).toBe(true);
  });
});

describe("day report", () => {
  it("suggests a path and saves the report the core writes", async () => {
    const m = mockShell({ session: supervisor });
    m.on("report_default_path", (a) => `/home/desk/skranke-${a.date}.${a.format}`);
    m.on("report_day", (a) => ({ path: a.path, rows: 4 }));
    await startApp();
    key(document.body, "d", { altKey: true, code: "KeyD" });
    await settle();
    type("#f-date", "2026-11-26");
    $("#f-date").dispatchEvent(new Event("change"));
    await settle();
    expect(($("#f-path") as HTMLInputElement).value).toBe("/home/desk/skranke-2026-11-26.csv");
    submit("#f-date");
    await settle();
    expect(m.called("report_day")[0]).toEqual({ date: "2026-11-26", format: "csv", path: "/home/desk/skranke-2026-11-26.csv" });
    expect($("#report-status").textContent).toContain("4 records saved");
  });

  it("puts a refused date next to the date field", async () => {
    const m = mockShell({ session: supervisor });
    m.on("report_default_path", () => "/tmp/x.csv");
    m.on("report_day", () => {
      throw { message: "x", fields: [{ field: "date", code: "date", message: "2026-13-01 is not a date." }] };
    });
    await startApp();
    key(document.body, "d", { altKey: true, code: "KeyD" });
    await settle();
    submit("#f-date");
    await settle();
    expect($("#f-date-error").textContent).toBe("2026-13-01 is not a date.");
  });
});

describe("settings", () => {
  const s: SettingsView = {
    printer: "Skranke-PDF",
    printers: ["Skranke-PDF", "Office"],
    password_lapse_days: 14,
    privacy_controller: "Københavns Kommune",
    privacy_contact: "borgerservice@kk.dk",
    privacy_dpo: "dpo@kk.dk",
    privacy_retention: "",
    handout_languages: "",
    ui_language: "en",
    idle_lock_minutes: 5,
    municipal: [],
  };

  it("loads and saves, and the new idle lock applies", async () => {
    const m = mockShell({ session: admin });
    m.on("settings_get", () => s);
    m.on("settings_save", (a) => a.settings);
    const app = await startApp();
    key(document.body, "i", { altKey: true, code: "KeyI" });
    await settle();
    expect(($("#f-printer") as HTMLSelectElement).value).toBe("Skranke-PDF");
    type("#f-idle_lock_minutes", "10");
    submit("#f-printer");
    await settle();
    expect((m.called("settings_save")[0].settings as SettingsView).idle_lock_minutes).toBe(10);
    expect($("#settings-status").textContent).toBe("Settings saved.");
    expect(app.state.idleLockMinutes).toBe(10);
  });

  it("shows the values the municipality set as such, read-only, and saves them unchanged", async () => {
    const m = mockShell({ session: admin });
    m.on("settings_get", () => ({ ...s, privacy_dpo: "dpo@aarhus.dk", handout_languages: "de,pl", municipal: ["privacy_dpo", "handout_languages"] }));
    m.on("settings_save", (a) => a.settings);
    await startApp();
    key(document.body, "i", { altKey: true, code: "KeyI" });
    await settle();
    const dpo = $("#f-privacy_dpo") as HTMLInputElement;
    expect(dpo.readOnly).toBe(true);
    expect(dpo.value).toBe("dpo@aarhus.dk");
    expect($("#f-privacy_dpo-hint").textContent).toBe("Set by the municipality at the registry: ask its operators to change it");
    expect(($("#f-handout_languages") as HTMLInputElement).readOnly).toBe(true);
    expect(($("#f-privacy_controller") as HTMLInputElement).readOnly).toBe(false);
    expect($("#f-idle_lock_minutes-hint").textContent).toBe("1 to 240");
    type("#f-privacy_retention", "Five years after the case is closed.");
    submit("#f-printer");
    await settle();
    const sent = m.called("settings_save")[0].settings as SettingsView;
    expect([sent.privacy_dpo, sent.handout_languages, sent.privacy_retention]).toEqual(["dpo@aarhus.dk", "de,pl", "Five years after the case is closed."]);
  });

  it("shows a refused value next to its field", async () => {
    const m = mockShell({ session: admin });
    m.on("settings_get", () => s);
    m.on("settings_save", () => {
      throw { message: "x", fields: [{ field: "password_lapse_days", code: "range", message: "Between 1 and 365 days." }] };
    });
    await startApp();
    key(document.body, "i", { altKey: true, code: "KeyI" });
    await settle();
    type("#f-password_lapse_days", "abc");
    submit("#f-printer");
    await settle();
    expect($("#f-password_lapse_days-error").textContent).toBe("Between 1 and 365 days.");
  });
});
