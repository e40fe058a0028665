import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, check, clerk, key, mockShell, settle, startApp, submit, type } from "../test/harness";
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
  printer: "Skranke-PDF",
  job: "Skranke-PDF-12",
  delivery_error: null,
  warnings: [],
};
const preview: HandoutPreview = {
  municipality: "København",
  office: "Borgerservice Nord",
  name: "Anna Kowalska",
  password_mask: "•••• •••• •••• ••••",
  languages: ["da", "en", "pl"],
  lapse_days: 14,
  printer: "Skranke-PDF",
  training: true,
};

async function toReview(result: ApplicantCheck = { valid: true, errors: [], notices: [], duplicates: [] }) {
  const m = mockShell({ session: clerk });
  m.on("applicant_check", () => result);
  m.on("issue", () => issued);
  m.on("handout_preview", () => preview);
  m.on("record_reprint", () => ({ record_id: issued.record_id, username: issued.username, printer: "Skranke-PDF", job: "Skranke-PDF-13" }));
  await startApp();

  submit("#f-surname");
  await settle();
  return m;
}

describe("review and issue", () => {
  it("previews the handout with the password masked, and issues and prints on Enter", async () => {
    const m = await toReview();
    expect($("#main").dataset.screen).toBe("review");
    expect(document.activeElement?.id).toBe("issue");
    expect($("#preview-password").textContent).toMatch(/^[• ]+$/);
    expect($("#handout-preview").textContent).toContain("Polish");
    key($("#review-facts"), "Enter");
    await settle();
    expect(m.called("issue")).toHaveLength(1);
    expect(m.called("issue")[0].duplicateReviewed).toBe(false);
    expect($("#main").dataset.screen).toBe("result");
    expect($("#result-number").textContent).toBe("856490-4006");
    expect($("#result-number").classList.contains("big-number")).toBe(true);
    expect($("#result-status").textContent).toContain("Skranke-PDF");
    expect(document.activeElement?.id).toBe("next-applicant");
  });

  it("shows the surname and the given names each under its own label", async () => {
    const m = mockShell({ session: clerk });
    m.on("applicant_check", () => ({ valid: true, errors: [], notices: [], duplicates: [] }));
    m.on("handout_preview", () => preview);
    await startApp();
    type("#f-surname", "MUELLER");
    type("#f-given_names", "KLAUS PETER");
    submit("#f-surname");
    await settle();
    expect($("#main").dataset.screen).toBe("review");
    const facts = new Map([...$("#review-facts").querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(facts.get("Surname")).toBe("MUELLER");
    expect(facts.get("Given names")).toBe("KLAUS PETER");
    expect([...facts.keys()].some((label) => label?.includes("/"))).toBe(false);
  });

  it("Esc on review goes back to the form with the values kept", async () => {
    await toReview();
    key(document.body, "Escape");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("shows the core's refusal as a sentence and stays on review", async () => {
    const m = await toReview();
    m.on("issue", () => {
      throw { message: "No printer is set for this desk.", fields: [] };
    });
    $("#issue").click();
    await settle();
    expect($("#issue-error").textContent).toBe("No printer is set for this desk.");
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

describe("result", () => {
  it("Enter starts the next applicant with an empty form", async () => {
    await toReview();
    $("#issue").click();
    await settle();
    $("#next-applicant").click();
    expect($("#main").dataset.screen).toBe("applicant");
    expect(($("#f-surname") as HTMLInputElement).value).toBe("");
  });

  it("a handout that did not print says so and puts Reprint first", async () => {
    const m = await toReview();
    m.on("issue", () => ({ ...issued, job: null, delivery_error: "The printer Skranke-PDF does not answer." }));
    $("#issue").click();
    await settle();
    expect($("#result-number").textContent).toBe("856490-4006");
    expect($("#result-error").textContent).toContain("does not answer");
    expect(document.activeElement?.id).toBe("result-reprint");
    $("#result-reprint").click();
    await settle();
    expect(m.called("record_reprint")[0].recordId).toBe("T-ABCD1234-1");
    expect($("#result-status").textContent).toContain("new password");
  });

  it("a warning about the committed issue is shown with the result", async () => {
    const m = await toReview();
    const warning = "Record T-ABCD1234-1 is issued, but the registry's time from its answer could not be noted.";
    m.on("issue", () => ({ ...issued, warnings: [warning] }));
    $("#issue").click();
    await settle();
    expect($("#result-number").textContent).toBe("856490-4006");
    expect($("#main").textContent).toContain(warning);
  });

  it("the password never reaches the window", async () => {
    const m = await toReview();
    $("#issue").click();
    await settle();
    for (const c of m.calls) expect(JSON.stringify(c.args)).not.toMatch(/password/i);
    expect(document.body.textContent).not.toMatch(/[A-Za-z0-9]{4} [A-Za-z0-9]{4} [A-Za-z0-9]{4} [A-Za-z0-9]{4}/);
  });
});
