// First start with enrolment, and the registry's duplicate lookup before
// issuing on an enrolled desk.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, check, clerk, desk, mockShell, settle, startApp, submit, type } from "../test/harness";
import type { ApplicantCheck } from "../api";

afterEach(() => clearMocks());

const enrolledDesk = { ...desk, desk_id: "D-851-4", municipality: "851", office: "Jobcenter Aalborg", desk_number: 4, training: false };

function fillEnrolment() {
  check("#mode-enrol");
  type("#f-registry_url", "https://registry.example");
  type("#f-enrolment_code", "K7QX-2M9P");
  type("#f-admin_name", "admin");
  type("#f-admin_password", "correct horse battery");
  type("#f-admin_password_repeat", "correct horse battery");
}

describe("first start: enrol with a registry", () => {
  it("the place comes from the code: its fields are off, and the desk the registry made is shown", async () => {
    const m = mockShell({ desk: null });
    m.on("desk_init", () => enrolledDesk);
    await startApp();
    fillEnrolment();
    expect(($("#f-municipality") as HTMLInputElement).disabled).toBe(true);
    expect(($("#f-office") as HTMLInputElement).disabled).toBe(true);
    expect($("#place-from-code").hidden).toBe(false);
    expect($("#first-create").textContent).toContain("Enrol the desk");
    submit("#f-registry_url");
    await settle();
    const req = m.called("desk_init")[0].request as Record<string, string>;
    expect(req).toMatchObject({ mode: "enrol", registry_url: "https://registry.example", enrolment_code: "K7QX-2M9P", admin_name: "admin" });
    expect($("#main").dataset.screen).toBe("sign-in");
    expect($("#desk-label").textContent).toContain("Jobcenter Aalborg");
    expect(document.querySelector("#training-mark")).toBeNull();
  });

  it("says it is contacting the registry while enrolment runs", async () => {
    const m = mockShell({ desk: null });
    let finish: (v: unknown) => void = () => undefined;
    m.on("desk_init", () => new Promise((done) => (finish = done)));
    await startApp();
    fillEnrolment();
    submit("#f-registry_url");
    await settle();
    expect($("#first-status").textContent).toBe("Contacting the registry…");
    expect(($("#first-create") as HTMLButtonElement).disabled).toBe(true);
    finish(enrolledDesk);
    await settle();
    expect($("#main").dataset.screen).toBe("sign-in");
  });

  it("an unreachable registry is told next to the address, and a used code next to the code", async () => {
    const m = mockShell({ desk: null });
    m.on("desk_init", () => {
      throw {
        message: "x",
        fields: [{ field: "registry_url", code: "unreachable", message: "Registry address: the registry at https://registry.example does not answer." }],
      };
    });
    await startApp();
    fillEnrolment();
    submit("#f-registry_url");
    await settle();
    expect($("#f-registry_url-error").textContent).toContain("does not answer");
    expect($("#f-registry_url").getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement?.id).toBe("f-registry_url");
    m.on("desk_init", () => {
      throw { message: "x", fields: [{ field: "enrolment_code", code: "code", message: "Enrolment code: the code is not valid or has already been used." }] };
    });
    submit("#f-registry_url");
    await settle();
    expect($("#f-enrolment_code-error").textContent).toContain("already been used");
    expect($("#f-registry_url-error").textContent).toBe("");
    expect(document.activeElement?.id).toBe("f-enrolment_code");
  });

  it("back to training mode turns the place fields on again", async () => {
    mockShell({ desk: null });
    await startApp();
    check("#mode-enrol");
    check("#mode-training");
    expect(($("#f-municipality") as HTMLInputElement).disabled).toBe(false);
    expect(($("#f-registry_url") as HTMLInputElement).disabled).toBe(true);
    expect($("#place-from-code").hidden).toBe(true);
  });
});

const ok: ApplicantCheck = { valid: true, errors: [], notices: [], duplicates: [], registry: null };

async function applicant(onCheck: (registry: boolean) => ApplicantCheck, onDesk = enrolledDesk) {
  const m = mockShell({ session: clerk, desk: onDesk });
  m.on("applicant_check", (a) => onCheck(a.registry === true));
  m.on("handout_preview", () => ({ municipality: "Aalborg", office: "Jobcenter", name: "Anna", password_mask: "••••", languages: ["da", "en"], lapse_days: 14, printer: "pdf", training: false }));
  await startApp();
  type("#f-surname", "Kowalska");
  return m;
}

describe("duplicate check at the registry before issuing", () => {
  it("the live check never asks the registry; going on does, once", async () => {
    const m = await applicant(() => ok);
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(m.called("applicant_check").every((a) => a.registry === false)).toBe(true);
    submit("#f-surname");
    await settle();
    expect(m.called("applicant_check").filter((a) => a.registry === true)).toHaveLength(1);
    expect($("#main").dataset.screen).toBe("review");
  });

  it("a document known at another desk shows where, beside the local warnings, and blocks", async () => {
    await applicant((registry) =>
      registry
        ? {
            ...ok,
            registry: { state: "matched", message: "The registry knows this person from another desk." },
            duplicates: [{ kind: "document", record_id: "", source: "registry", desk_id: "D-101-1", message: "A match exists at desk D-101-1 (municipality 101 København)." }],
          }
        : ok,
    );
    submit("#f-surname");
    await settle();
    const shown = $("#duplicates [data-source='registry']");
    expect(shown.textContent).toContain("A match exists at desk D-101-1");
    expect(shown.textContent).not.toContain("Record .");
    expect($("#applicant-error").textContent).toContain("another desk");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("offline: a quiet note that only the local check ran, also on the review", async () => {
    await applicant((registry) => (registry ? { ...ok, registry: { state: "offline", message: "The registry cannot be reached: only this desk's records were checked." } } : ok));
    submit("#f-surname");
    await settle();
    expect($("#main").dataset.screen).toBe("review");
    expect($("#review-registry-note").textContent).toContain("only this desk's records were checked");
    expect($("#review-registry-note").getAttribute("role")).toBeNull();
  });

  it("a training desk never asks the registry", async () => {
    const m = await applicant(() => ok, { ...desk });
    submit("#f-surname");
    await settle();
    expect(m.called("applicant_check").some((a) => a.registry === true)).toBe(false);
    expect($("#main").dataset.screen).toBe("review");
  });
});
