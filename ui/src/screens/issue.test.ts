import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, check, clerk, key, mockShell, settle, startApp, submit } from "../test/harness";
import type { ApplicantCheck, HandoutPreview, IssuedView } from "../api";

afterEach(() => clearMocks());

const issued: IssuedView = {
  record_id: "T-ABCD1234-1",
  number: "856490-4006",
  birth_date: "1990-03-25",
  sex: "F",
  training: true,
  issued_at: "2026-11-26T10:00:00Z",
  source: "lease",
  reserve_left: 15,
  reserve_low: false,
  username: "jn4k7p2q",
};
const preview: HandoutPreview = {
  record_id: issued.record_id,
  reference: "T-ABCD1234-1",
  municipality: "København",
  office: "Borgerservice Nord",
  name: "Anna Kowalska",
  number: issued.number,
  username: "jn4k7p2q",
  password_mask: "•••• •••• •••• ••••",
  languages: ["da", "en", "pl"],
  lapse_days: 14,
  issue_date: "2026-11-26",
  printer: "Skranke-PDF",
  training: true,
};

async function toReview(result: ApplicantCheck = { valid: true, errors: [], notices: [], duplicates: [] }) {
  const m = mockShell({ session: clerk });
  m.on("applicant_check", () => result);
  m.on("issue", () => issued);
  m.on("handout_preview", () => preview);
  m.on("handout_print", () => ({ record_id: issued.record_id, number: issued.number, printer: "Skranke-PDF", job: "Skranke-PDF-12" }));
  m.on("record_reprint", () => ({ record_id: issued.record_id, number: issued.number, printer: "Skranke-PDF", job: "Skranke-PDF-13" }));
  await startApp();

  submit("#f-surname");
  await settle();
  return m;
}

describe("review and issue", () => {
  it("issues on Enter, then previews the handout without the password", async () => {
    const m = await toReview();
    expect($("#main").dataset.screen).toBe("review");
    expect(document.activeElement?.id).toBe("issue");
    key($("#review-facts"), "Enter");
    await settle();
    expect(m.called("issue")).toHaveLength(1);
    expect(m.called("issue")[0].duplicateReviewed).toBe(false);
    expect($("#main").dataset.screen).toBe("handout");
    expect($("#preview-number").textContent).toBe("856490-4006");
    expect($("#preview-password").textContent).toBe("•••• •••• •••• ••••");
    expect($("#preview-password").textContent).toMatch(/^[• ]+$/);
    expect(document.activeElement?.id).toBe("print");
  });

  it("Esc on review goes back to the form with the values kept", async () => {
    await toReview();
    key(document.body, "Escape");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("shows the core's refusal as a sentence and stays on review", async () => {
    const m = await toReview();
    m.on("issue", () => {
      throw { message: "The reserve holds no number for 25.03.1990 (female): connect to the registry.", fields: [] };
    });
    $("#issue").click();
    await settle();
    expect($("#issue-error").textContent).toContain("connect to the registry");
    expect($("#main").dataset.screen).toBe("review");
  });

  it("a possible duplicate person reported by the registry must be confirmed before issuing", async () => {
    const m = await toReview({ valid: true, errors: [], notices: [], duplicates: [{ kind: "person", record_id: "D-7-4", source: "registry", message: "Same name and birth date as record D-7-4." }] });
    expect(document.activeElement?.id).toBe("dup-reviewed");
    $("#issue").click();
    await settle();
    expect(m.called("issue")).toHaveLength(0);
    expect($("#issue-error").textContent).toContain("Confirm");
    check("#dup-reviewed");
    $("#issue").click();
    await settle();
    expect(m.called("issue")[0].duplicateReviewed).toBe(true);
  });
});

describe("handout and result", () => {
  it("prints and shows the number large; Enter starts the next applicant", async () => {
    const m = await toReview();
    $("#issue").click();
    await settle();
    $("#print").click();
    await settle();
    expect(m.called("handout_print")[0].recordId).toBe("T-ABCD1234-1");
    expect($("#main").dataset.screen).toBe("result");
    expect($("#result-number").textContent).toBe("856490-4006");
    expect($("#result-number").classList.contains("big-number")).toBe(true);
    expect(document.activeElement?.id).toBe("next-applicant");
    $("#next-applicant").click();
    expect($("#main").dataset.screen).toBe("applicant");
    expect(($("#f-surname") as HTMLInputElement).value).toBe("");
  });

  it("a print failure keeps the handout on screen to try again", async () => {
    const m = await toReview();
    m.on("handout_print", () => {
      throw { message: "The printer Skranke-PDF does not answer.", fields: [] };
    });
    $("#issue").click();
    await settle();
    $("#print").click();
    await settle();
    expect($("#print-error").textContent).toBe("The printer Skranke-PDF does not answer.");
    expect($("#main").dataset.screen).toBe("handout");
  });

  it("Esc and the New-applicant shortcut do not leave an unprinted handout", async () => {
    await toReview();
    $("#issue").click();
    await settle();
    key(document.body, "Escape");
    key(document.body, "n", { altKey: true, code: "KeyN" });
    expect($("#main").dataset.screen).toBe("handout");
  });

  it("the password never reaches the window", async () => {
    const m = await toReview();
    $("#issue").click();
    await settle();
    $("#print").click();
    await settle();
    for (const c of m.calls) expect(JSON.stringify(c.args)).not.toMatch(/password/i);
  });
});
