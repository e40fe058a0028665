// Records: search this desk's records by name, number, document or date;
// the detail with reprint (clerk) and void (supervisor), and the sync state.
import { api, asCommandError, type PresentedDocument, type RecordRow, type RecordView } from "../api";
import { t, tn } from "../i18n";
import { alertLine, button, field, formatTime, h, kbd, showFieldErrors, showRefusal, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

export function records(ctx: Ctx, params: Record<string, unknown>): Screen {
  const q = field({ path: "query", label: t("records.query"), hint: t("records.query_hint"), width: "long", value: typeof params.query === "string" ? params.query : "" });
  const searchBtn = button(t("records.search"), { id: "records-search", primary: true, type: "submit", shortcut: "Enter" });
  const status = statusLine("records-status");
  const error = alertLine("records-error");
  const table = h("table", { class: "records", id: "records-table" });
  const form = h("form", { class: "form inline", role: "search", novalidate: true }, q.wrap, searchBtn);

  const row = (r: RecordRow) => {
    const open = h("button", { type: "button", class: "link", "data-record": r.record_id }, r.number);
    open.addEventListener("click", () => ctx.go("record", { id: r.record_id, query: q.input.value }));
    return h(
      "tr",
      {},
      h("td", {}, open),
      h("td", {}, r.name ?? t("records.erased")),
      h("td", {}, r.document ?? ""),
      h("td", {}, formatTime(r.issued_at)),
      h("td", {}, h("span", { class: `state ${r.status}` }, t(`status.${r.status}`))),
      h("td", {}, t(`syncstate.${r.sync_state}`)),
      h("td", { class: "mono" }, r.record_id),
    );
  };
  const search = async () => {
    error.textContent = "";
    try {
      const rows = await api.searchRecords(q.input.value.trim());
      table.replaceChildren(
        h("caption", { class: "sr-only" }, t("records.caption")),
        h("thead", {}, h("tr", {}, ...["number", "name", "document", "issued_at", "status", "sync", "record"].map((c) => h("th", { scope: "col" }, t(`records.col_${c}`))))),
        h("tbody", {}, ...rows.map(row)),
      );
      status.textContent = tn("records.found", rows.length);
    } catch (err) {
      error.textContent = asCommandError(err).message;
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void search();
  });
  void search();
  const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("records.title")), form, status, error, h("div", { class: "table-wrap" }, table));
  return { el, title: "records.title", focus: () => q.input.focus() };
}

export function recordDetail(ctx: Ctx, params: Record<string, unknown>): Screen {
  const id = String(params.id ?? "");
  const facts = h("div", { id: "record-facts", "aria-busy": "true" });
  const status = statusLine("record-status");
  const error = alertLine("record-error");
  const reprintBtn = button(t("record.reprint"), { id: "reprint", primary: true });
  const actions = h("div", { class: "actions" }, reprintBtn);
  const voidArea = h("div", { id: "void-area" });
  // Shown only for a record whose personal data was erased: the document again.
  const docArea = h("div", { id: "reprint-document" });
  const docFields = new Map<string, Field>();
  const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("record.title", { id })), facts, status, error, docArea, actions, voidArea);

  const documentForm = () => {
    docFields.clear();
    const number = field({ path: "document.number", label: t("reprint_document.number"), hint: t("reprint_document.number_hint"), width: "medium", required: true });
    const state = field({ path: "document.issuing_state", label: t("reprint_document.issuing_state"), hint: t("reprint_document.issuing_state_hint"), width: "short" });
    const surname = field({ path: "surname", label: t("reprint_document.surname"), width: "long", required: true });
    const given = field({ path: "given_names", label: t("reprint_document.given_names"), width: "long" });
    for (const f of [number, state, surname, given]) docFields.set(f.input.getAttribute("data-path") ?? "", f);
    docArea.replaceChildren(h("h2", { id: "reprint-document-title" }, t("reprint_document.title")), h("p", {}, t("reprint_document.intro")), number.wrap, state.wrap, surname.wrap, given.wrap);
  };
  const presented = (): PresentedDocument | undefined => {
    if (!docFields.size) return undefined;
    const v = (path: string) => (docFields.get(path)?.input.value ?? "").trim();
    return { number: v("document.number"), issuing_state: v("document.issuing_state") || null, surname: v("surname"), given_names: v("given_names") };
  };

  const show = (r: RecordView) => {
    facts.removeAttribute("aria-busy");
    const rows: Array<[string, string]> = [
      [t("records.col_number"), r.number],
      [t("records.col_name"), r.name ?? t("records.erased")],
      [t("applicant.birth_date"), r.birth_date],
      [t("applicant.sex"), t(`sex.${r.sex}`)],
      [t("applicant.nationality"), r.nationality ?? ""],
      [t("records.col_document"), r.document ?? ""],
      [t("records.col_issued_at"), formatTime(r.issued_at)],
      [t("record.issued_by"), String(r.issued_by)],
      [t("records.col_status"), t(`status.${r.status}`)],
      [t("records.col_sync"), t(`syncstate.${r.sync_state}`)],
    ];
    if (r.void_reason) rows.push([t("record.void_reason"), r.void_reason], [t("record.voided_at"), formatTime(r.voided_at)]);
    if (r.replaced_by) rows.push([t("record.replaced_by"), r.replaced_by]);
    const list = h("dl", { class: "facts" });
    for (const [k, v] of rows) if (v) list.append(h("dt", {}, k), h("dd", { "data-fact": k }, v));
    facts.replaceChildren(...(r.training ? [h("p", { class: "training-mark" }, t("app.training"))] : []), list);
    const voided = r.status === "voided";
    reprintBtn.disabled = voided;
    if (!r.personal_data) status.textContent = t("record.erased_note");
    if (!r.personal_data && !voided) documentForm();
    else {
      docFields.clear();
      docArea.replaceChildren();
    }
    voidArea.replaceChildren();
    if (ctx.can("supervisor") && !voided) voidArea.append(voidForm(r));
  };

  const voidForm = (r: RecordView) => {
    const fields = new Map<string, Field>();
    const reason = field({ path: "reason", label: t("record.void_reason"), kind: "textarea", width: "long", required: true });
    const replaced = field({ path: "replaced_by", label: t("record.replaced_by"), hint: t("record.replaced_by_hint"), width: "medium" });
    fields.set("reason", reason);
    fields.set("replaced_by", replaced);
    const confirmBtn = button(t("record.void"), { id: "void", danger: true, type: "submit" });
    const formError = alertLine("void-error");
    const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "void-title" }, h("h2", { id: "void-title" }, t("record.void_title")), reason.wrap, replaced.wrap, formError, h("div", { class: "actions" }, confirmBtn));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      formError.textContent = "";
      try {
        const updated = await api.voidRecord(r.record_id, reason.input.value.trim(), replaced.input.value.trim());
        show(updated);
        status.textContent = t("record.voided", { id: r.record_id });
        void ctx.refreshSync();
        reprintBtn.focus();
      } catch (err) {
        showRefusal(fields, err, formError, confirmBtn);
      }
    });
    return form;
  };

  reprintBtn.addEventListener("click", async () => {
    error.textContent = "";
    if (docFields.size) showFieldErrors(docFields, [], null);
    status.textContent = t("handout.printing");
    reprintBtn.disabled = true;
    try {
      const r = await api.reprint(id, presented());
      status.textContent = t("record.reprinted", { printer: r.printer });
    } catch (err) {
      status.textContent = "";
      const ce = asCommandError(err);
      // A refused document names its field: the message goes next to it.
      const first = docFields.size ? showFieldErrors(docFields, ce.fields, error) : undefined;
      if (!ce.fields.length || !docFields.size) error.textContent = ce.message;
      first?.input.focus();
    } finally {
      reprintBtn.disabled = false;
    }
  });

  void api
    .record(id)
    .then(show)
    .catch((err) => {
      facts.removeAttribute("aria-busy");
      reprintBtn.disabled = true;
      error.textContent = asCommandError(err).message;
    });
  el.append(h("p", { class: "shortcuts" }, kbd("Esc"), " ", t("common.back")));
  return { el, title: "record.heading", focus: () => reprintBtn.focus() };
}
