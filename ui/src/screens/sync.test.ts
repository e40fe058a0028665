import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, clerk, desk, key, mockShell, settle, startApp, supervisor, syncView, type } from "../test/harness";
import type { DuplicateNotice, RecordView, StaffView, SyncView } from "../api";
import { formatAge } from "./sync";
import { setLang } from "../i18n";

afterEach(() => clearMocks());

const enrolledDesk = { ...desk, desk_id: "D-851-4", training: false };
const notice: DuplicateNotice = {
  id: 7,
  kind: "duplicate_document",
  record_id: "D-851-4-3",
  other_record_id: "D-101-1-9",
  other_desk_id: "D-101-1",
  message: "Record D-851-4-3 and record D-101-1-9 at desk D-101-1 (municipality 101) were issued on the same identity document.",
  created_at: "2026-11-26T09:00:00Z",
  duplicate: true,
  record_status: "issued",
  replaced_by: null,
};
const waiting: SyncView = {
  ...syncView,
  training: false,
  enrolled: true,
  online: true,
  queued: 2,
  oldest_unsynced: "2026-11-26T08:00:00Z",
  oldest_age_secs: 7200,
  reserve_left: 4,
  last_sync: null,
  notices: [notice],
};

async function openPanel(staff: StaffView, status: SyncView = waiting) {
  const m = mockShell({ session: staff, desk: enrolledDesk });
  m.on("sync_status", () => status);
  await startApp();
  key(document.body, "y", { altKey: true, code: "KeyY" });
  await settle();
  return m;
}

describe("sync panel: sync now", () => {
  it("shows progress while the sync runs, then the run's counts and the emptied queue", async () => {
    let finish: (v: SyncView) => void = () => undefined;
    const m = await openPanel(clerk);
    m.on("sync_now", () => new Promise<SyncView>((done) => (finish = done)));
    expect($("#sync-queued").textContent).toBe("2");
    expect($("#sync-oldest").textContent).toContain("2 h ago");
    expect($("#sync-last").textContent).toBe("never");
    $("#sync-now").click();
    await settle();
    expect(($("#sync-progress") as HTMLProgressElement).hidden).toBe(false);
    expect($("#sync-status").textContent).toBe("Syncing…");
    expect(($("#sync-now") as HTMLButtonElement).disabled).toBe(true);
    finish({
      ...waiting,
      queued: 0,
      oldest_unsynced: null,
      oldest_age_secs: null,
      last_sync: "2026-11-26T10:00:00Z",
      last_report: { uploaded: 5, accepted: 4, already_held: 1, refused: 0, pending: 0 },
    });
    await settle();
    expect(m.called("sync_now")).toHaveLength(1);
    expect(($("#sync-progress") as HTMLProgressElement).hidden).toBe(true);
    expect($("#sync-queued").textContent).toBe("0");
    expect($("#sync-result").textContent).toBe("Sent 5 events: 4 accepted, 1 already held, 0 refused. 0 still waiting.");
    expect($("#online").textContent).not.toContain("waiting");
    expect(($("#sync-now") as HTMLButtonElement).disabled).toBe(false);
  });

  it("an unreachable registry is a sentence, and the header turns offline", async () => {
    const m = await openPanel(clerk);
    m.on("sync_now", () => {
      throw { message: "The registry cannot be reached (connection refused). Everything stays queued.", fields: [] };
    });
    m.on("sync_status", () => ({ ...waiting, online: false, last_error: "The registry cannot be reached." }));
    $("#sync-now").click();
    await settle();
    expect($("#sync-error").textContent).toContain("cannot be reached");
    expect($("#sync-status").textContent).toBe("");
    expect($("#online").textContent).toContain("Offline");
    expect($("#sync-facts").textContent).toContain("The registry cannot be reached.");
  });

  it("the header says when a background sync runs, on every screen", async () => {
    const m = mockShell({ session: clerk, desk: enrolledDesk });
    m.on("sync_status", () => ({ ...waiting, syncing: true }));
    await startApp();
    expect($("#main").dataset.screen).toBe("applicant");
    expect($("#online").textContent).toContain("Online");
    expect($("#online").textContent).toContain("Syncing…");
    expect($("#online").textContent).toContain("2 waiting");
  });

  it("ages read in minutes, hours, then days", () => {
    setLang("en");
    expect(formatAge(59)).toBe("0 min ago");
    expect(formatAge(600)).toBe("10 min ago");
    expect(formatAge(3 * 3600)).toBe("3 h ago");
    expect(formatAge(3 * 86400)).toBe("3 days ago");
    expect(formatAge(null)).toBe("");
  });
});

describe("sync panel: duplicates from the registry", () => {
  it("a supervisor keeps the other number: this desk's record is voided with replaced_by", async () => {
    const m = await openPanel(supervisor);
    m.on("record_void", () => ({}) as RecordView);
    expect($("#sync-notices").textContent).toContain("D-101-1-9");
    const decide = $("#decide-void-7");
    expect(decide.textContent).toContain("Void D-851-4-3, keep D-101-1-9");
    type("#f-reason-7", "Same passport as D-101-1-9");
    m.on("sync_status", () => ({ ...waiting, notices: [{ ...notice, record_status: "voided", replaced_by: "D-101-1-9" }] }));
    decide.click();
    await settle();
    expect(m.called("record_void")[0]).toEqual({ recordId: "D-851-4-3", reason: "Same passport as D-101-1-9", replacedBy: "D-101-1-9" });
    expect($("#sync-status").textContent).toContain("replaced by D-101-1-9");
    expect($("#notice-7").textContent).toContain("Decided: record D-851-4-3 is voided and replaced by D-101-1-9.");
    expect(document.querySelector("#decide-void-7")).toBeNull();
  });

  it("a clerk sees the notice but not the decision", async () => {
    await openPanel(clerk);
    expect($("#notice-7").textContent).toContain("A supervisor decides");
    expect(document.querySelector("#decide-void-7")).toBeNull();
  });

  it("a refusal by the core (e.g. not a supervisor any more) stays next to the decision", async () => {
    const m = await openPanel(supervisor);
    m.on("record_void", () => {
      throw { message: "Only a supervisor may void a record.", fields: [] };
    });
    $("#decide-void-7").click();
    await settle();
    expect($("#decide-error-7").textContent).toBe("Only a supervisor may void a record.");
    expect(m.called("record_void")[0].reason).toContain("D-101-1-9");
  });

  it("a notice that is not about a duplicate person offers no decision", async () => {
    await openPanel(supervisor, { ...waiting, notices: [{ ...notice, kind: "audit_chain", duplicate: false, message: "The audit chain forked." }] });
    expect($("#notice-7").textContent).toBe("The audit chain forked.");
    expect(document.querySelector("#decide-void-7")).toBeNull();
  });
});

describe("record detail: sync state", () => {
  it("shows where the record stands with the registry", async () => {
    const m = mockShell({ session: clerk, desk: enrolledDesk });
    const rec: RecordView = {
      record_id: "D-851-4-3",
      number: "250390-4012",
      name: "Anna Kowalska",
      document: "PL AB1234567",
      issued_at: "2026-11-26T10:00:00Z",
      status: "issued",
      sync_state: "registered",
      training: false,
      birth_date: "1990-03-25",
      sex: "F",
      nationality: "PL",
      issued_by: 2,
      void_reason: null,
      voided_at: null,
      replaced_by: null,
      personal_data: true,
    };
    m.on("records_search", () => [rec]);
    m.on("record_detail", () => rec);
    await startApp();
    key(document.body, "r", { altKey: true, code: "KeyR" });
    await settle();
    expect($("#records-table").textContent).toContain("registered in CPR and Jobnet");
    ($("[data-record='D-851-4-3']") as HTMLButtonElement).click();
    await settle();
    expect($("#record-facts").textContent).toContain("registered in CPR and Jobnet");
    m.on("record_detail", () => ({ ...rec, sync_state: "accepted" }));
    key(document.body, "Escape");
    await settle();
    ($("[data-record='D-851-4-3']") as HTMLButtonElement).click();
    await settle();
    expect($("#record-facts").textContent).toContain("received by the registry");
  });
});

describe("sync panel: what CPR or Jobnet refused", () => {
  it("lists a downstream refusal with its own label and the shell's sentence on what to do", async () => {
    await openPanel(supervisor, {
      ...waiting,
      notices: [],
      refused: [
        {
          event_id: "D-851-4-2/issued",
          kind: "issued",
          record_id: "D-851-4-2",
          verdict: "refused_downstream",
          reason: "Jobnet refused the record (username_taken). Check the applicant's data against the document; once it is right, reprint the handout.",
          refused_at: "2026-11-27T10:00:00Z",
        },
      ],
    });
    const list = $("#sync-refused");
    expect(list.textContent).toContain("Refused downstream:");
    expect(list.textContent).toContain("D-851-4-2");
    expect(list.textContent).toContain("Jobnet refused the record (username_taken)");
    expect(list.textContent).not.toContain("verdict.");
  });
});
