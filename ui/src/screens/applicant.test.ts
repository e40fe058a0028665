import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, TD3, check, clerk, key, mockShell, reference, settle, startApp, submit, type } from "../test/harness";
import { applicantJson, mrzComplete } from "./applicant";
import type { ApplicantCheck, MrzScan } from "../api";

afterEach(() => clearMocks());

const draft: MrzScan = {
  draft: {
    given_names: "ANNA",
    surname: "KOWALSKA",
    birth_date: "1990-03-25",
    sex: "F",
    nationality: "PL",
    document: { type: "passport", number: "AB1234567", issuing_state: "PL", expiry_date: "2035-12-31", sex_on_document: null },
    mrz_valid: true,
  },
  problems: [],
};
const ok: ApplicantCheck = { valid: true, errors: [], notices: [], duplicates: [] };

async function open(checkResult: (a: Record<string, unknown>) => ApplicantCheck = () => ok) {
  const m = mockShell({ session: clerk });
  m.on("mrz_scan", () => draft);
  m.on("applicant_check", (a) => checkResult(a.applicant as Record<string, unknown>));
  await startApp();
  return m;
}

describe("machine-readable zone", () => {
  it("judges a zone complete by its shape: TD3 two lines, TD1 three", () => {
    expect(mrzComplete("P<POL" + "<".repeat(39))).toBe(false);
    expect(mrzComplete(TD3)).toBe(true);
    expect(mrzComplete("I<UTO" + "<".repeat(25) + "\n" + "7".repeat(30))).toBe(false);
    expect(mrzComplete("I<UTO" + "<".repeat(25) + "\n" + "7".repeat(30) + "\n" + "<".repeat(30))).toBe(true);
  });

  it("a reader's Enter after the last line fills the form, and focus goes to what the zone cannot fill", async () => {
    const m = await open();
    const mrz = $("#f-mrz") as HTMLTextAreaElement;
    expect(document.activeElement).toBe(mrz);
    mrz.value = TD3.split("\n")[0];
    expect(key(mrz, "Enter").defaultPrevented).toBe(false); // first line: a newline
    mrz.value = TD3;
    expect(key(mrz, "Enter").defaultPrevented).toBe(true);
    await settle();
    expect(m.called("mrz_scan")[0].text).toBe(TD3);
    expect(($("#f-surname") as HTMLInputElement).value).toBe("KOWALSKA");
    expect(($("#f-document-number") as HTMLInputElement).value).toBe("AB1234567");
    expect(($("#f-document-type") as HTMLSelectElement).value).toBe("passport");
    expect(($("#f-birth_date") as HTMLInputElement).value).toBe("1990-03-25");
    expect($("#mrz-status").textContent).toContain("Check the names");
    expect(document.activeElement?.id).toBe("group-eu-jobseeker");
  });

  it("shows the core's refusal of an unreadable zone next to the zone field", async () => {
    const m = await open();
    m.on("mrz_scan", () => {
      throw { message: "The zone has 2 lines of 20 characters: a passport has 2 lines of 44.", fields: [] };
    });
    const mrz = $("#f-mrz") as HTMLTextAreaElement;
    mrz.value = "garbage\ngarbage";
    key(mrz, "Enter", { ctrlKey: true });
    await settle();
    expect($("#f-mrz-error").textContent).toContain("2 lines of 44");
    expect(mrz.getAttribute("aria-invalid")).toBe("true");
  });

  it("Esc clears the zone field for the next scan, not the form", async () => {
    await open();
    type("#f-surname", "Nowak");
    ($("#f-mrz") as HTMLTextAreaElement).value = "P<POL";
    key(document.body, "Escape");
    expect(($("#f-mrz") as HTMLTextAreaElement).value).toBe("");
    expect(($("#f-surname") as HTMLInputElement).value).toBe("Nowak");
    expect($("#main").dataset.screen).toBe("applicant");
  });
});

describe("live validation", () => {
  it("shows the core's error next to a field once it was touched, and clears it when fixed", async () => {
    const m = await open((a) => {
      const doc = a.document as Record<string, unknown>;
      return doc.expiry_date === "2020-01-01"
        ? { valid: false, errors: [{ field: "document.expiry_date", code: "expired", message: "The document expired on 2020-01-01." }, { field: "surname", code: "required", message: "Write the surname." }], notices: [], duplicates: [] }
        : ok;
    });
    type("#f-document-expiry_date", "2020-01-01");
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(m.called("applicant_check").length).toBeGreaterThan(0);
    expect($("#f-document-expiry_date-error").textContent).toBe("The document expired on 2020-01-01.");
    // Not yet touched: no error shown under the surname while the clerk works.
    expect($("#f-surname-error").textContent).toBe("");
    type("#f-document-expiry_date", "2031-01-01");
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect($("#f-document-expiry_date-error").textContent).toBe("");
    expect($("#f-document-expiry_date").hasAttribute("aria-invalid")).toBe(false);
  });

  it("going on with errors shows them all and focuses the first", async () => {
    await open(() => ({ valid: false, errors: [{ field: "nationality", code: "dk", message: "A Danish national never gets an administrative number." }, { field: "group", code: "required", message: "Choose the group." }], notices: [], duplicates: [] }));
    submit("#f-surname");
    await settle();
    expect($("#f-nationality-error").textContent).toContain("Danish national");
    expect($("#f-group-error").textContent).toBe("Choose the group.");
    expect($("#applicant-error").textContent).toContain("2 fields");
    expect(document.activeElement?.id).toBe("f-nationality");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("enables the asylum case reference only for the asylum group", async () => {
    await open();
    expect(($("#f-asylum_case_ref") as HTMLInputElement).disabled).toBe(true);
    check("#group-asylum-personal-assistance");
    expect(($("#f-asylum_case_ref") as HTMLInputElement).disabled).toBe(false);
  });

  it("a document already issued here blocks going on; a name match asks for review", async () => {
    await open(() => ({ ...ok, duplicates: [{ kind: "document", record_id: "T-ABCD1234-7", source: "local", message: "This passport was used for record T-ABCD1234-7." }] }));
    submit("#f-surname");
    await settle();
    expect($("#duplicates").textContent).toContain("T-ABCD1234-7");
    expect($("#applicant-error").textContent).toContain("already has a number");
    expect($("#main").dataset.screen).toBe("applicant");
  });

  it("a name match with a record of this desk blocks too (the core refuses it)", async () => {
    await open(() => ({ ...ok, duplicates: [{ kind: "person", record_id: "T-ABCD1234-9", source: "local", message: "Same name as record T-ABCD1234-9." }] }));
    submit("#f-surname");
    await settle();
    expect($("#main").dataset.screen).toBe("applicant");
    expect($("#duplicates").textContent).toContain("Possibly the same person");
  });

  it("shows notices that do not stop issuing", async () => {
    await open(() => ({ ...ok, notices: [{ field: "municipality_of_stay", code: "other_jobcentre", message: "Aarhus job centre is competent." }] }));
    type("#f-surname", "X");
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect($("#notices").textContent).toContain("Aarhus job centre");
  });
});

describe("the applicant's JSON", () => {
  it("has the core's shape, with empty fields as null and the municipality as a number", () => {
    const a = applicantJson({
      surname: "Kowalska",
      given_names: "",
      birth_date: "1990-03-25",
      sex: "F",
      nationality: "pl",
      municipality_of_stay: "101",
      group: "eu-jobseeker",
      "document.type": "passport",
      "document.number": " AB1234567 ",
      "document.issuing_state": "pl",
      "document.expiry_date": "",
      "document.original_seen": true,
      "document.no_expiry_confirmed": false,
      "document.sex_on_document": "",
      asylum_case_ref: "should not be sent",
      no_danish_cpr: true,
      not_residence_registered: true,
      language: "pl",
      "contact.email": "",
    });
    expect(a).toEqual({
      given_names: "",
      surname: "Kowalska",
      birth_date: "1990-03-25",
      sex: "F",
      nationality: "PL",
      municipality_of_stay: 101,
      group: "eu-jobseeker",
      document: { type: "passport", number: "AB1234567", issuing_state: "PL", expiry_date: null, original_seen: true, sex_on_document: null, no_expiry_confirmed: false },
      asylum_case_ref: null,
      no_danish_cpr: true,
      not_residence_registered: true,
      language: "pl",
      contact: { email: null, phone: null, address_dk: null },
    });
  });

  it("sends a non-numeric municipality as text so the core can name the field", () => {
    expect(applicantJson({ municipality_of_stay: "abc" }).municipality_of_stay).toBe("abc");
  });
});

describe("every input is labelled", () => {
  it("has a label and an error line for each field", async () => {
    await open();
    const inputs = [...document.querySelectorAll<HTMLElement>("#main input, #main select, #main textarea")];
    expect(inputs.length).toBeGreaterThan(20);
    for (const input of inputs) {
      expect(document.querySelector(`label[for="${input.id}"]`), input.id).not.toBeNull();
    }
    for (const input of inputs.filter((i) => i.getAttribute("type") !== "radio")) {
      const errorId = input.getAttribute("aria-describedby")!.split(" ").pop()!;
      expect(document.getElementById(errorId)?.classList.contains("field-error"), input.id).toBe(true);
    }
  });
});

describe("municipality of stay", () => {
  it("starts at the desk's municipality with its name, and a name picked sends its code", async () => {
    const m = await open();
    await settle();
    const input = $("#f-municipality_of_stay") as HTMLInputElement;
    expect(input.value).toBe("101");
    expect($("#f-municipality_of_stay-name").textContent).toBe("København");
    input.focus();
    type("#f-municipality_of_stay", "Aalb");
    key(input, "Enter");
    expect(input.value).toBe("851");
    expect($("#f-municipality_of_stay-name").textContent).toBe("Aalborg");
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    const last = m.called("applicant_check").at(-1)!.applicant as Record<string, unknown>;
    expect(last.municipality_of_stay).toBe(851);
  });

  it("Esc in the open list closes it and keeps the zone field as it is", async () => {
    await open();
    await settle();
    ($("#f-mrz") as HTMLTextAreaElement).value = "P<POL";
    const input = $("#f-municipality_of_stay") as HTMLInputElement;
    input.focus();
    type("#f-municipality_of_stay", "Ode");
    key(input, "Escape");
    expect(input.getAttribute("aria-expanded")).toBe("false");
    expect(($("#f-mrz") as HTMLTextAreaElement).value).toBe("P<POL");
  });
});

describe("the handout's language", () => {
  const german: MrzScan = {
    draft: { ...draft.draft, surname: "MUELLER", given_names: "KLAUS PETER", nationality: "DE", document: { ...draft.draft.document, issuing_state: "DE" } },
    problems: [],
  };

  it("offers exactly the languages the core has a handout in", async () => {
    await open();
    await settle();
    const offered = [...($("#f-language") as HTMLSelectElement).options].map((o) => o.value).sort();
    expect(offered).toEqual([...reference.handout_languages].sort());
    expect($("#handout-carries").textContent).toBe("The handout will be in: Danish, English");
  });

  it("a German passport's zone sets German, and the form says the handout carries Danish, English and German", async () => {
    const m = await open();
    m.on("mrz_scan", () => german);
    await settle();
    const mrz = $("#f-mrz") as HTMLTextAreaElement;
    mrz.value = TD3;
    key(mrz, "Enter");
    await settle();
    expect(($("#f-language") as HTMLSelectElement).value).toBe("de");
    expect($("#handout-carries").textContent).toBe("The handout will be in: Danish, English, German");
    expect(applicantJson({ language: ($("#f-language") as HTMLSelectElement).value }).language).toBe("de");
  });

  it("a typed nationality without a handout in its language leaves Danish (Danish and English only)", async () => {
    await open();
    await settle();
    type("#f-nationality", "AT");
    expect(($("#f-language") as HTMLSelectElement).value).toBe("de");
    type("#f-nationality", "SE");
    expect(($("#f-language") as HTMLSelectElement).value).toBe("da");
    expect($("#handout-carries").textContent).toBe("The handout will be in: Danish, English");
  });

  it("once the clerk chooses the language, the nationality no longer changes it", async () => {
    await open();
    await settle();
    type("#f-language", "pl");
    expect($("#handout-carries").textContent).toBe("The handout will be in: Danish, English, Polish");
    type("#f-nationality", "DE");
    expect(($("#f-language") as HTMLSelectElement).value).toBe("pl");
  });
});

describe("names read from the zone", () => {
  const german: MrzScan = {
    draft: { ...draft.draft, surname: "MUELLER", given_names: "KLAUS PETER", nationality: "DE", document: { ...draft.draft.document, issuing_state: "DE" } },
    problems: [],
  };

  async function scanned() {
    const m = await open();
    m.on("mrz_scan", () => german);
    const mrz = $("#f-mrz") as HTMLTextAreaElement;
    mrz.value = TD3;
    key(mrz, "Enter");
    await settle();
    return m;
  }

  it("says at the name fields that they came from the zone, naming its form, and asks to check them against the page", async () => {
    await open();
    expect($("#names-from-zone").hidden).toBe(true);
    await scanned();
    const note = $("#names-from-zone");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toContain("MUELLER, KLAUS PETER");
    expect(note.textContent).toContain("printed page");
    for (const id of ["#f-surname", "#f-given_names"]) expect($(id).getAttribute("aria-describedby")).toContain("names-from-zone");
    expect($("#f-surname").closest(".field")!.classList.contains("from-zone")).toBe(true);
  });

  it("keeps the note with the zone's form when the clerk writes the name as printed", async () => {
    const m = await scanned();
    type("#f-surname", "Müller");
    expect($("#names-from-zone").textContent).toContain("MUELLER");
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect((m.called("applicant_check").at(-1)!.applicant as Record<string, unknown>).surname).toBe("Müller");
  });

  it("a form typed by hand has no such note", async () => {
    await open();
    type("#f-surname", "Müller");
    expect($("#names-from-zone").hidden).toBe(true);
    expect($("#f-surname").closest(".field")!.classList.contains("from-zone")).toBe(false);
  });
});

describe("a form carried back from review", () => {
  it("keeps the language the clerk chose, though the options arrive after the form", async () => {
    await open();
    const app = await startApp();
    app.state.flow = { form: { surname: "Nowak", nationality: "DE", language: "pl" }, languageChosen: true };
    app.reset("applicant");
    await settle();
    expect(($("#f-language") as HTMLSelectElement).value).toBe("pl");
    expect($("#handout-carries").textContent).toBe("The handout will be in: Danish, English, Polish");
  });
});
