// New applicant: one form in the order a clerk works from a passport. The
// machine-readable zone field sits at the top with focus: a desk passport
// reader types its lines and Enter, the core parses them and the form fills
// itself. Every change is checked by the core (live, per field), and the
// core's duplicate check shows before going on to review.
import { api, asCommandError, type ApplicantCheck, type ApplicantDraft, type ApplicantJson, type FieldError, type ReferenceData } from "../api";
import { t, tn } from "../i18n";
import { municipalityPicker, type Picker } from "../picker";
import { handoutLanguages, languageFor, languageName, referenceData } from "../reference";
import { setupChecklist } from "./checklist";
import { alertLine, button, field, h, kbd, setFieldError, showFieldErrors, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

const GROUPS = ["eu-jobseeker", "eu-offers", "asylum-personal-assistance"] as const;

type Values = Record<string, string | boolean>;

/**
 * Whether the zone typed so far is complete: TD1 ID cards have three lines
 * of 30, TD2 and TD3 two lines of 36 and 44. Only the shape is judged here;
 * the core parses and checks.
 */
export function mrzComplete(text: string): boolean {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) return false;
  return lines[0].length <= 32 ? lines.length >= 3 : lines.length >= 2;
}

/** The applicant's JSON (issue 3's shape) from the form's values; empty means null. */
export function applicantJson(v: Values): ApplicantJson {
  const s = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : "");
  const orNull = (k: string) => (s(k).trim() === "" ? null : s(k).trim());
  const b = (k: string) => v[k] === true;
  const muni = s("municipality_of_stay").trim();
  const group = orNull("group");
  return {
    given_names: s("given_names"),
    surname: s("surname"),
    birth_date: orNull("birth_date"),
    sex: orNull("sex"),
    nationality: orNull("nationality")?.toUpperCase() ?? null,
    municipality_of_stay: /^\d{1,4}$/.test(muni) ? Number(muni) : muni === "" ? null : muni,
    group,
    document: {
      type: orNull("document.type"),
      number: s("document.number").trim(),
      issuing_state: orNull("document.issuing_state")?.toUpperCase() ?? null,
      expiry_date: orNull("document.expiry_date"),
      original_seen: b("document.original_seen"),
      sex_on_document: orNull("document.sex_on_document"),
      no_expiry_confirmed: b("document.no_expiry_confirmed"),
    },
    asylum_case_ref: group === "asylum-personal-assistance" ? orNull("asylum_case_ref") : null,
    no_danish_cpr: b("no_danish_cpr"),
    not_residence_registered: b("not_residence_registered"),
    language: s("language") || "da",
    contact: { email: orNull("contact.email"), phone: orNull("contact.phone"), address_dk: null },
  };
}

/** The form values a scanned zone gives. */
export function valuesFromDraft(d: ApplicantDraft): Values {
  const v: Values = {
    surname: d.surname,
    given_names: d.given_names,
    "document.number": d.document.number,
  };
  if (d.birth_date) v.birth_date = d.birth_date;
  if (d.sex) v.sex = d.sex;
  if (d.nationality) v.nationality = d.nationality;
  if (d.document.type) v["document.type"] = d.document.type;
  if (d.document.issuing_state) v["document.issuing_state"] = d.document.issuing_state;
  if (d.document.expiry_date) v["document.expiry_date"] = d.document.expiry_date;
  v["document.sex_on_document"] = d.document.sex_on_document === "X" ? "X" : "";
  return v;
}

export function applicantForm(ctx: Ctx): Screen {
  const fields = new Map<string, Field>();
  const touched = new Set<string>();
  let showAll = false;
  const add = (f: Field) => {
    fields.set(f.input.dataset.path!, f);
    return f.wrap;
  };
  const opt = (prefix: string, values: readonly string[], empty = true): Array<[string, string]> => [
    ...(empty ? ([["", t("common.choose")]] as Array<[string, string]>) : []),
    ...values.map((v) => [v, t(`${prefix}.${v}`)] as [string, string]),
  ];

  // Machine-readable zone.
  const mrz = field({ path: "mrz", label: t("applicant.mrz"), hint: t("applicant.mrz_hint"), kind: "textarea", width: "long" });
  mrz.input.classList.add("mrz");
  const readBtn = button(t("applicant.mrz_read"), { id: "mrz-read", shortcut: "Ctrl+Enter" });
  const mrzStatus = statusLine("mrz-status");
  const mrzSet = h("fieldset", { class: "group mrz-group" }, h("legend", {}, t("applicant.section_mrz")), mrz.wrap, h("div", { class: "row-actions" }, readBtn, mrzStatus));

  // The identity document and its check.
  const docSet = h(
    "fieldset",
    { class: "group grid" },
    h("legend", {}, t("applicant.section_document")),
    add(field({ path: "document.type", label: t("applicant.document_type"), kind: "select", options: opt("doctype", ["passport", "id-card", "other"]), width: "medium" })),
    add(field({ path: "document.number", label: t("applicant.document_number"), width: "medium" })),
    add(field({ path: "document.issuing_state", label: t("applicant.issuing_state"), hint: t("applicant.country_hint"), width: "short" })),
    add(field({ path: "document.expiry_date", label: t("applicant.expiry_date"), hint: t("common.date_hint"), width: "short", inputmode: "numeric" })),
    add(field({ path: "document.no_expiry_confirmed", label: t("applicant.no_expiry_confirmed"), kind: "checkbox" })),
    add(field({ path: "document.original_seen", label: t("applicant.original_seen"), kind: "checkbox" })),
  );

  // The person as the document prints them. Names a scan filled in are the
  // zone's (no accents: MÜLLER as MUELLER): a note at the fields says so and
  // keeps the zone's form in view, the Latin form the duplicate check uses.
  const surnameField = field({ path: "surname", label: t("applicant.surname"), hint: t("applicant.name_hint"), width: "long" });
  const givenField = field({ path: "given_names", label: t("applicant.given_names"), width: "long" });
  const zoneNote = h("p", { class: "zone-note", id: "names-from-zone", role: "status", hidden: true });
  for (const f of [surnameField, givenField]) f.input.setAttribute("aria-describedby", `${zoneNote.id} ${f.input.getAttribute("aria-describedby")}`);
  /** Says at the name fields that the zone filled them, or clears the note (null). */
  const showZoneNames = (zone: { surname: string; given_names: string } | null) => {
    zoneNote.hidden = !zone;
    zoneNote.textContent = zone ? t("applicant.names_from_zone", { zone: [zone.surname, zone.given_names].filter(Boolean).join(", ") }) : "";
    for (const f of [surnameField, givenField]) f.wrap.classList.toggle("from-zone", !!zone);
  };
  const personSet = h(
    "fieldset",
    { class: "group grid" },
    h("legend", {}, t("applicant.section_person")),
    zoneNote,
    add(surnameField),
    add(givenField),
    add(field({ path: "birth_date", label: t("applicant.birth_date"), hint: t("common.date_hint"), width: "short", inputmode: "numeric" })),
    add(field({ path: "sex", label: t("applicant.sex"), kind: "select", options: opt("sex", ["F", "M"]), width: "short" })),
    add(field({ path: "document.sex_on_document", label: t("applicant.sex_on_document"), kind: "select", options: [["", t("applicant.sex_on_document_same")], ["X", t("applicant.sex_on_document_x")]], width: "medium" })),
    add(field({ path: "nationality", label: t("applicant.nationality"), hint: t("applicant.country_hint"), width: "short" })),
  );

  // Eligibility: the group and its own fields.
  const groupRadios = GROUPS.map((g) => {
    const input = h("input", { type: "radio", name: "group", id: `group-${g}`, value: g, "data-path": "group", "aria-describedby": "f-group-error" });
    return { g, input, row: h("div", { class: "check-row" }, input, h("label", { for: `group-${g}` }, t(`group.${g}`))) };
  });
  const groupError = h("p", { id: "f-group-error", class: "field-error", role: "alert", "aria-live": "polite" });
  const asylum = field({ path: "asylum_case_ref", label: t("applicant.asylum_case_ref"), width: "medium" });
  fields.set("asylum_case_ref", asylum);
  // The radios share one error line; a pseudo-field lets showFieldErrors place it.
  const groupField: Field = { wrap: h("div"), input: groupRadios[0].input, error: groupError };
  fields.set("group", groupField);
  const muniStay = field({ path: "municipality_of_stay", label: t("applicant.municipality_of_stay"), hint: t("applicant.municipality_hint"), width: "medium", value: ctx.state.desk?.municipality ?? "" });
  let muniPicker: Picker | null = null;
  // The handout's languages come from the core; Danish until they are there.
  const languageField = field({ path: "language", label: t("applicant.language"), hint: t("applicant.language_hint"), kind: "select", options: [["da", languageName("da")]], value: "da", width: "medium" });
  const languageSelect = languageField.input as HTMLSelectElement;
  const carries = h("p", { class: "hint", id: "handout-carries", "aria-live": "polite" });
  languageField.error.before(carries);
  languageSelect.setAttribute("aria-describedby", `${carries.id} ${languageSelect.getAttribute("aria-describedby")}`);
  let reference: ReferenceData | null = null;
  const eligSet = h(
    "fieldset",
    { class: "group", id: "group-set" },
    h("legend", {}, t("applicant.section_group")),
    ...groupRadios.map((r) => r.row),
    groupError,
    asylum.wrap,
    h("div", { class: "grid" },
      add(muniStay),
      add(languageField),
    ),
    add(field({ path: "no_danish_cpr", label: t("applicant.no_danish_cpr"), kind: "checkbox" })),
    add(field({ path: "not_residence_registered", label: t("applicant.not_residence_registered"), kind: "checkbox" })),
  );

  const contactSet = h(
    "fieldset",
    { class: "group grid" },
    h("legend", {}, t("applicant.section_contact")),
    add(field({ path: "contact.email", label: t("applicant.email"), width: "long", autocomplete: "off" })),
    add(field({ path: "contact.phone", label: t("applicant.phone"), width: "medium", inputmode: "tel" })),
  );

  const notices = h("ul", { class: "notices", id: "notices", "aria-live": "polite" });
  const dupes = h("div", { class: "duplicates", id: "duplicates", "aria-live": "polite" });
  const registryNote = statusLine("registry-note");
  registryNote.classList.add("hint");
  const formError = alertLine("applicant-error");
  const next = button(t("applicant.continue"), { id: "applicant-continue", primary: true, type: "submit", shortcut: "Enter" });
  const clear = button(t("applicant.clear"), { id: "applicant-clear" });
  const form = h("form", { class: "form applicant columns", novalidate: true, "aria-labelledby": "screen-title" }, mrzSet, docSet, personSet, eligSet, contactSet, notices, dupes, registryNote, formError, h("div", { class: "actions" }, next, clear));

  const values = (): Values => {
    const v: Values = {};
    for (const [path, f] of fields) {
      if (path === "group") continue;
      const input = f.input as HTMLInputElement;
      v[path] = input.type === "checkbox" ? input.checked : input.value;
    }
    v.group = groupRadios.find((r) => r.input.checked)?.g ?? "";
    return v;
  };
  const fill = (v: Values) => {
    for (const [path, value] of Object.entries(v)) {
      if (path === "group") {
        groupRadios.forEach((r) => (r.input.checked = r.g === value));
        continue;
      }
      const f = fields.get(path);
      if (!f) continue;
      const input = f.input as HTMLInputElement;
      if (input.type === "checkbox") input.checked = value === true;
      else input.value = String(value);
    }
    syncGroup();
    muniPicker?.refresh();
    showCarries();
  };
  /** The languages the handout will carry, in print order, under the choice. */
  const showCarries = () => {
    if (!reference) return;
    carries.textContent = t("applicant.handout_carries", { languages: handoutLanguages(reference, languageSelect.value).map(languageName).join(", ") });
  };
  /**
   * Until the clerk chooses the language, it follows the nationality: the
   * nationality's language where its handout exists, else Danish.
   */
  const suggestLanguage = () => {
    if (!reference || ctx.state.flow.languageChosen) return;
    const nationality = (fields.get("nationality")!.input as HTMLInputElement).value;
    languageSelect.value = languageFor(reference, nationality) ?? "da";
    showCarries();
  };
  const syncGroup = () => {
    const asylumOn = groupRadios.find((r) => r.input.checked)?.g === "asylum-personal-assistance";
    asylum.input.disabled = !asylumOn;
    asylum.wrap.classList.toggle("inactive", !asylumOn);
  };

  const showCheck = (check: ApplicantCheck) => {
    const only = showAll ? undefined : touched;
    const errors = check.errors.filter((e) => e.field !== "mrz");
    showFieldErrors(fields, errors, null, only);
    notices.replaceChildren(...check.notices.map((n) => h("li", { class: "notice" }, n.message)));
    dupes.replaceChildren(
      ...check.duplicates.map((d) =>
        h(
          "div",
          { class: `duplicate ${d.kind} ${d.source}`, role: "alert", "data-source": d.source },
          h("strong", {}, t(d.kind === "document" ? "dup.document_title" : "dup.person_title")),
          " ",
          d.message,
          d.source === "local" ? ` ${t("dup.record", { id: d.record_id })}` : "",
        ),
      ),
    );
    registryNote.textContent = check.registry && check.registry.state !== "matched" ? check.registry.message : "";
    ctx.state.flow.check = check;
  };

  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const check = async (registry = false): Promise<ApplicantCheck | null> => {
    const mine = ++seq;
    try {
      const result = await api.checkApplicant(applicantJson(values()), registry);
      if (mine === seq) showCheck(result);
      return result;
    } catch (err) {
      if (mine === seq) formError.textContent = asCommandError(err).message;
      return null;
    }
  };
  const scheduleCheck = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void check(), 250);
  };

  form.addEventListener("input", (e) => {
    const path = (e.target as HTMLElement).dataset?.path;
    if (!path || path === "mrz") return;
    touched.add(path);
    if (path === "language") ctx.state.flow.languageChosen = true;
    if (path === "nationality") suggestLanguage();
    if (path === "language") showCarries();
    ctx.state.flow.form = values();
    if (path === "group") syncGroup();
    scheduleCheck();
  });
  form.addEventListener("change", (e) => {
    const path = (e.target as HTMLElement).dataset?.path;
    if (path === "group") {
      touched.add("group");
      syncGroup();
      ctx.state.flow.form = values();
      scheduleCheck();
    }
  });
  form.addEventListener("focusout", (e) => {
    const path = (e.target as HTMLElement).dataset?.path;
    if (path && path !== "mrz" && !touched.has(path) && (e.target as HTMLInputElement).value !== "") {
      touched.add(path);
      scheduleCheck();
    }
  });

  const scan = async () => {
    const text = mrz.input.value;
    if (!text.trim()) return;
    setFieldError(mrz, null);
    mrzStatus.textContent = "";
    try {
      const result = await api.mrzScan(text);
      fill(valuesFromDraft(result.draft));
      showZoneNames(result.draft.surname || result.draft.given_names ? result.draft : null);
      ctx.state.flow.zoneNames = result.draft.surname || result.draft.given_names ? { surname: result.draft.surname, given_names: result.draft.given_names } : null;
      suggestLanguage();
      for (const k of Object.keys(valuesFromDraft(result.draft))) touched.add(k);
      ctx.state.flow.form = values();
      if (result.problems.length) setFieldError(mrz, result.problems.map((p: FieldError) => p.message).join(" "));
      mrzStatus.textContent = t(result.draft.mrz_valid ? "applicant.mrz_filled" : "applicant.mrz_filled_problems");
      await check();
      firstEmpty()?.focus();
    } catch (err) {
      setFieldError(mrz, asCommandError(err).message);
      mrz.input.focus();
    }
  };
  /** After a scan: the first thing the zone could not fill. */
  const firstEmpty = (): HTMLElement | null => {
    const v = values();
    if (!v.group) return groupRadios[0].input;
    for (const p of ["document.type", "document.number", "document.issuing_state", "surname", "birth_date", "sex", "nationality", "municipality_of_stay"]) {
      if (!v[p]) return fields.get(p)!.input;
    }
    if (!v["document.original_seen"]) return fields.get("document.original_seen")!.input;
    return fields.get("surname")!.input;
  };

  mrz.input.addEventListener("keydown", (e) => {
    const ke = e as KeyboardEvent;
    if (ke.key !== "Enter") return;
    if (ke.ctrlKey || mrzComplete(mrz.input.value)) {
      ke.preventDefault();
      ke.stopPropagation();
      void scan();
    }
  });
  mrz.input.addEventListener("paste", () => setTimeout(() => mrzComplete(mrz.input.value) && void scan(), 0));
  readBtn.addEventListener("click", () => void scan());
  clear.addEventListener("click", () => {
    ctx.state.flow = {};
    ctx.reset("applicant");
  });

  // Enter in any single-line input goes on to review (the form's submit).
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showAll = true;
    formError.textContent = "";
    const result = await check();
    if (!result) return;
    if (!result.valid) {
      const first = showFieldErrors(fields, result.errors, formError);
      formError.textContent = tn("applicant.has_errors", result.errors.length);
      (first?.input ?? next).focus();
      return;
    }
    // The core refuses any match with a record of this desk; a person match
    // reported by the registry only asks for a review on the next screen.
    if (result.duplicates.some((d) => d.kind === "document" || d.source === "local")) {
      formError.textContent = t("dup.blocked");
      next.focus();
      return;
    }
    // An enrolled desk asks the registry too, once, as the clerk goes on
    // (the lookup is audited there): a match elsewhere shows beside the
    // local warnings; offline, a quiet note says only the local check ran.
    if (ctx.state.desk && !ctx.state.desk.training) {
      registryNote.textContent = t("applicant.registry_asking");
      const asked = await check(true);
      if (!asked) return;
      if (asked.duplicates.some((d) => d.kind === "document")) {
        formError.textContent = t("dup.blocked_registry");
        next.focus();
        return;
      }
    }
    ctx.state.flow.form = values();
    ctx.state.flow.applicant = applicantJson(values());
    ctx.go("review");
  });

  if (ctx.state.flow.form) {
    fill(ctx.state.flow.form as Values);
    showZoneNames((ctx.state.flow.zoneNames as { surname: string; given_names: string } | null | undefined) ?? null);
    for (const k of Object.keys(ctx.state.flow.form as Values)) touched.add(k);
    void check();
  }
  syncGroup();
  void referenceData()
    .then((data) => {
      muniPicker = municipalityPicker(muniStay, data.municipalities, t("common.municipality_list"));
      reference = data;
      // A form carried back from review keeps its language (the options were not there to hold it).
      const carried = (ctx.state.flow.form as Values | undefined)?.language;
      const chosen = typeof carried === "string" && carried ? carried : languageSelect.value;
      languageSelect.replaceChildren(...data.handout_languages.map((l) => h("option", { value: l }, languageName(l))).sort((a, b) => a.textContent!.localeCompare(b.textContent!)));
      languageSelect.value = data.handout_languages.includes(chosen) ? chosen : "da";
      if (ctx.state.flow.languageChosen) showCarries();
      else suggestLanguage();
    })
    .catch(() => undefined);

  const shortcuts = h("p", { class: "shortcuts" }, kbd("Enter"), " ", t("applicant.shortcut_enter"), " · ", kbd("Esc"), " ", t("applicant.shortcut_esc"));
  const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("applicant.title")), setupChecklist(ctx), shortcuts, form);
  return {
    el,
    title: "applicant.title",
    focus: () => mrz.input.focus(),
    // Esc clears the zone field for a new scan; it never throws away the form.
    onEsc: () => {
      mrz.input.value = "";
      mrz.input.focus();
      return true;
    },
    dispose: () => timer && clearTimeout(timer),
  };
}
