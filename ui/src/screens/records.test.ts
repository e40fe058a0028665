import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, clerk, key, mockShell, settle, startApp, submit, supervisor, type } from "../test/harness";
import type { RecordRow, RecordView, StaffView } from "../api";

afterEach(() => clearMocks());

const row: RecordRow = {
  record_id: "T-ABCD1234-1",
  number: "856490-4006",
  name: "Anna Kowalska",
  document: "PL AB1234567",
  issued_at: "2026-11-26T10:00:00Z",
  status: "issued",
  sync_state: "training",
  training: true,
};
const view: RecordView = { ...row, birth_date: "1990-03-25", sex: "F", nationality: "PL", issued_by: 2, void_reason: null, voided_at: null, replaced_by: null, personal_data: true };

async function open(staff: StaffView) {
  const m = mockShell({ session: staff });
  m.on("records_search", (a) => (String(a.query).includes("Nowak") ? [] : [row]));
  m.on("record_detail", () => view);
  m.on("record_reprint", () => ({ record_id: row.record_id, username: "jn4k7p2q", printer: "Skranke-PDF", job: "1" }));
  m.on("record_void", (a) => ({ ...view, status: "voided", void_reason: a.reason, voided_at: "2026-11-26T11:00:00Z" }));
  await startApp();
  key(document.body, "r", { altKey: true, code: "KeyR" });
  await settle();
  return m;
}

describe("records", () => {
  it("lists records and searches by what the clerk types", async () => {
    const m = await open(clerk);
    expect($("#records-table").textContent).toContain("856490-4006");
    expect($("#records-status").textContent).toBe("1 record found.");
    type("#f-query", "Nowak");
    submit("#f-query");
    await settle();
    expect(m.called("records_search").at(-1)!.query).toBe("Nowak");
    expect($("#records-status").textContent).toBe("0 records found.");
  });

  it("a clerk can open and reprint a record but not void it", async () => {
    const m = await open(clerk);
    ($("[data-record='T-ABCD1234-1']") as HTMLButtonElement).click();
    await settle();
    expect($("#main").dataset.screen).toBe("record");
    expect($("#record-facts").textContent).toContain("Anna Kowalska");
    expect(document.querySelector("#void")).toBeNull();
    $("#reprint").click();
    await settle();
    expect(m.called("record_reprint")[0].recordId).toBe("T-ABCD1234-1");
    expect($("#record-status").textContent).toContain("new password");
    key(document.body, "Escape");
    expect($("#main").dataset.screen).toBe("records");
  });

  it("a supervisor voids with a reason; the core's refusal names the field", async () => {
    const m = await open(supervisor);
    ($("[data-record='T-ABCD1234-1']") as HTMLButtonElement).click();
    await settle();
    m.on("record_void", () => {
      throw { message: "invalid", fields: [{ field: "reason", code: "required", message: "Give a reason for voiding." }] };
    });
    submit("#void");
    await settle();
    expect($("#f-reason-error").textContent).toBe("Give a reason for voiding.");
    expect(document.activeElement?.id).toBe("f-reason");
    m.on("record_void", (a) => ({ ...view, status: "voided", void_reason: a.reason, voided_at: "2026-11-26T11:00:00Z" }));
    type("#f-reason", "Duplicate of T-X-2");
    submit("#void");
    await settle();
    expect(m.called("record_void").at(-1)!.reason).toBe("Duplicate of T-X-2");
    expect($("#record-facts").textContent).toContain("voided");
    expect(($("#reprint") as HTMLButtonElement).disabled).toBe(true);
    expect(document.querySelector("#void")).toBeNull();
  });
});
