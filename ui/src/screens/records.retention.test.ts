// Reprinting a record whose personal data was erased: the window asks for
// the applicant's document again and places the core's refusal at its field.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, clerk, key, mockShell, settle, startApp, type } from "../test/harness";
import type { RecordRow, RecordView } from "../api";

afterEach(() => clearMocks());

const row: RecordRow = {
  record_id: "T-ABCD1234-1",
  number: "856490-4006",
  name: null,
  document: null,
  issued_at: "2026-10-20T10:00:00Z",
  status: "issued",
  sync_state: "training",
  training: true,
};
const erased: RecordView = { ...row, birth_date: "1990-03-25", sex: "F", nationality: null, issued_by: 2, void_reason: null, voided_at: null, replaced_by: null, personal_data: false };

async function openErased() {
  const m = mockShell({ session: clerk });
  m.on("records_search", () => [row]);
  m.on("record_detail", () => erased);
  await startApp();
  key(document.body, "r", { altKey: true, code: "KeyR" });
  await settle();
  ($("[data-record='T-ABCD1234-1']") as HTMLButtonElement).click();
  await settle();
  return m;
}

describe("reprint after erasure", () => {
  it("asks for the document, shows a refusal at the number, and sends the document with the reprint", async () => {
    const m = await openErased();
    expect($("#reprint-document").textContent).toContain("document");
    m.on("record_reprint", () => {
      throw { message: "invalid", fields: [{ field: "document.number", code: "document_mismatch", message: "This is not the document the number was issued on." }] };
    });
    type("#f-document-number", "EA7654321");
    type("#f-surname", "Kowalska");
    $("#reprint").click();
    await settle();
    expect($("#f-document-number-error").textContent).toBe("This is not the document the number was issued on.");
    expect(document.activeElement?.id).toBe("f-document-number");
    expect(m.called("record_reprint")[0].document).toEqual({ number: "EA7654321", issuing_state: null, surname: "Kowalska", given_names: "" });

    m.on("record_reprint", () => ({ record_id: row.record_id, username: "jn4k7p2q", printer: "Skranke-PDF", job: "2" }));
    type("#f-document-number", "AB1234567");
    type("#f-document-issuing_state", "PL");
    $("#reprint").click();
    await settle();
    expect(m.called("record_reprint").at(-1)!.document).toEqual({ number: "AB1234567", issuing_state: "PL", surname: "Kowalska", given_names: "" });
    expect($("#record-status").textContent).toContain("new password");
    expect($("#f-document-number-error").textContent).toBe("");
  });

  it("a record that keeps its data is reprinted without asking for the document", async () => {
    const m = mockShell({ session: clerk });
    m.on("records_search", () => [{ ...row, name: "Anna Kowalska" }]);
    m.on("record_detail", () => ({ ...erased, name: "Anna Kowalska", personal_data: true }));
    m.on("record_reprint", () => ({ record_id: row.record_id, username: "jn4k7p2q", printer: "Skranke-PDF", job: "1" }));
    await startApp();
    key(document.body, "r", { altKey: true, code: "KeyR" });
    await settle();
    ($("[data-record='T-ABCD1234-1']") as HTMLButtonElement).click();
    await settle();
    expect(document.querySelector("#f-document-number")).toBeNull();
    $("#reprint").click();
    await settle();
    expect(m.called("record_reprint")[0].document).toBeNull();
  });
});
