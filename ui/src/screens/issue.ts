// Review and issue, the handout (preview with the password masked: it is
// never on screen), Print, and the result with the number large.
import { api, asCommandError, type ApplicantCheck, type ApplicantJson, type HandoutPreview, type IssuedView, type PrintResult } from "../api";
import { t } from "../i18n";
import { alertLine, button, formatTime, h, kbd, statusLine } from "../dom";
import type { Ctx, Screen } from "../app";

function dl(rows: Array<[string, string | Node | null | undefined]>, id?: string): HTMLElement {
  const list = h("dl", { class: "facts", id });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    list.append(h("dt", {}, label), h("dd", {}, value));
  }
  return list;
}

const str = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

export function review(ctx: Ctx): Screen {
  const a = ctx.state.flow.applicant as ApplicantJson | undefined;
  if (!a) {
    const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("review.title")), h("p", {}, t("review.nothing")));
    return { el, title: "review.title" };
  }
  const doc = (a.document ?? {}) as Record<string, unknown>;
  const check = ctx.state.flow.check as ApplicantCheck | undefined;
  const personDupes = (check?.duplicates ?? []).filter((d) => d.kind === "person" && d.source === "registry");
  const confirm = h("input", { type: "checkbox", id: "dup-reviewed", "aria-describedby": "dup-list" });
  const dupBox = personDupes.length
    ? h(
        "div",
        { class: "duplicate person", id: "dup-list" },
        h("strong", {}, t("dup.person_title")),
        h("ul", {}, ...personDupes.map((d) => h("li", {}, d.message, " ", t("dup.record", { id: d.record_id })))),
        h("div", { class: "check-row" }, confirm, h("label", { for: "dup-reviewed" }, t("dup.reviewed"))),
      )
    : null;
  const issueBtn = button(t("review.issue"), { id: "issue", primary: true, shortcut: "Enter" });
  const backBtn = button(t("review.back"), { id: "review-back", shortcut: "Esc" });
  const error = alertLine("issue-error");
  const status = statusLine("issue-status");
  const name = [str(a.given_names), str(a.surname)].filter(Boolean).join(" ");
  const summary = dl([
    [t("applicant.surname") + " / " + t("applicant.given_names"), name],
    [t("applicant.birth_date"), str(a.birth_date)],
    [t("applicant.sex"), a.sex ? t(`sex.${str(a.sex)}`) : ""],
    [t("applicant.nationality"), str(a.nationality)],
    [t("applicant.document_type"), doc.type ? t(`doctype.${str(doc.type)}`) : ""],
    [t("applicant.document_number"), str(doc.number)],
    [t("applicant.issuing_state"), str(doc.issuing_state)],
    [t("applicant.expiry_date"), doc.expiry_date ? str(doc.expiry_date) : t("review.no_expiry")],
    [t("applicant.municipality_of_stay"), str(a.municipality_of_stay)],
    [t("applicant.section_group"), a.group ? t(`group.${str(a.group)}`) : ""],
    [t("applicant.language"), t(`language.${str(a.language)}`)],
  ], "review-facts");

  let busy = false;
  const issue = async () => {
    if (busy) return;
    if (personDupes.length && !confirm.checked) {
      error.textContent = t("dup.confirm_first");
      confirm.focus();
      return;
    }
    busy = true;
    issueBtn.disabled = true;
    error.textContent = "";
    status.textContent = t("review.issuing");
    try {
      const issued = await api.issue(a, personDupes.length > 0 && confirm.checked);
      ctx.state.flow.issued = issued;
      void ctx.refreshSync();
      ctx.reset("handout");
    } catch (err) {
      status.textContent = "";
      const ce = asCommandError(err);
      error.textContent = ce.fields.length ? ce.fields.map((f) => f.message).join(" ") : ce.message;
      issueBtn.focus();
    } finally {
      busy = false;
      issueBtn.disabled = false;
    }
  };
  issueBtn.addEventListener("click", () => void issue());
  backBtn.addEventListener("click", () => ctx.back());
  const el = h(
    "section",
    { class: "screen" },
    h("h1", { id: "screen-title" }, t("review.title")),
    h("p", { class: "lead" }, t("review.lead")),
    summary,
    dupBox,
    error,
    status,
    h("div", { class: "actions" }, issueBtn, backBtn),
  );
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target !== confirm && (e.target as HTMLElement).tagName !== "BUTTON") {
      e.preventDefault();
      void issue();
    }
  });
  return { el, title: "review.title", focus: () => (personDupes.length ? confirm : issueBtn).focus() };
}

/** The handout preview before printing; the password is only its masked shape. */
export function handout(ctx: Ctx): Screen {
  const issued = ctx.state.flow.issued as IssuedView | undefined;
  const preview = h("div", { class: "handout-preview", id: "handout-preview", "aria-busy": "true" });
  const printBtn = button(t("handout.print"), { id: "print", primary: true, shortcut: "Enter" });
  const error = alertLine("print-error");
  const status = statusLine("print-status");
  const el = h(
    "section",
    { class: "screen" },
    h("h1", { id: "screen-title" }, t("handout.title")),
    issued ? h("p", { class: "lead" }, t("handout.lead", { number: issued.number })) : null,
    preview,
    error,
    status,
    h("div", { class: "actions" }, printBtn),
    h("p", { class: "hint" }, t("handout.password_note")),
  );
  if (!issued) {
    printBtn.disabled = true;
    error.textContent = t("handout.nothing");
    return { el, title: "handout.title" };
  }
  void api
    .handoutPreview(issued.record_id)
    .then((p: HandoutPreview) => {
      preview.removeAttribute("aria-busy");
      preview.replaceChildren(
        ...(p.training ? [h("p", { class: "training-mark big" }, t("app.training"))] : []),
        h("p", { class: "muni" }, `${p.municipality} · ${p.office}`),
        dl([
          [t("handout.name"), p.name],
          [t("handout.number"), h("span", { class: "number", id: "preview-number" }, p.number)],
          [t("handout.username"), h("span", { class: "mono", id: "preview-username" }, p.username)],
          [t("handout.password"), h("span", { class: "mono masked", id: "preview-password", "aria-label": t("handout.password_hidden") }, p.password_mask)],
          [t("handout.languages"), p.languages.map((l) => t(`language.${l}`)).join(", ")],
          [t("handout.lapse"), t("handout.lapse_days", { days: String(p.lapse_days) })],
          [t("handout.reference"), p.reference],
          [t("handout.issue_date"), p.issue_date],
          [t("handout.printer"), p.printer ?? t("handout.no_printer")],
        ]),
      );
    })
    .catch((err) => {
      preview.removeAttribute("aria-busy");
      error.textContent = asCommandError(err).message;
    });

  let busy = false;
  const print = async () => {
    if (busy) return;
    busy = true;
    printBtn.disabled = true;
    error.textContent = "";
    status.textContent = t("handout.printing");
    try {
      const result = await api.print(issued.record_id);
      ctx.state.flow.printed = result;
      ctx.reset("result");
    } catch (err) {
      status.textContent = "";
      error.textContent = asCommandError(err).message;
      printBtn.focus();
    } finally {
      busy = false;
      printBtn.disabled = false;
    }
  };
  printBtn.addEventListener("click", () => void print());
  // Nothing to go back to: the record exists; the handout must be printed.
  return { el, title: "handout.title", focus: () => printBtn.focus(), onEsc: () => true };
}

/** The result: the number large and clear, then the next applicant. */
export function result(ctx: Ctx): Screen {
  const issued = ctx.state.flow.issued as IssuedView | undefined;
  const printed = ctx.state.flow.printed as PrintResult | undefined;
  const nextBtn = button(t("result.next"), { id: "next-applicant", primary: true, shortcut: "Enter" });
  const reprintBtn = button(t("result.reprint"), { id: "result-reprint" });
  const status = statusLine("result-status");
  const error = alertLine("result-error");
  nextBtn.addEventListener("click", () => {
    ctx.state.flow = {};
    ctx.reset("applicant");
  });
  reprintBtn.addEventListener("click", async () => {
    if (!issued) return;
    error.textContent = "";
    try {
      const r = await api.reprint(issued.record_id);
      status.textContent = t("result.reprinted", { printer: r.printer });
    } catch (err) {
      error.textContent = asCommandError(err).message;
    }
  });
  const el = h(
    "section",
    { class: "screen result" },
    h("h1", { id: "screen-title" }, t("result.title")),
    issued?.training ? h("p", { class: "training-mark big" }, t("app.training")) : null,
    h("p", { class: "number-label" }, t("result.number")),
    h("p", { class: "big-number", id: "result-number" }, issued?.number ?? ""),
    dl([
      [t("result.record"), issued?.record_id],
      [t("result.username"), issued?.username ?? null],
      [t("result.issued_at"), issued ? formatTime(issued.issued_at) : null],
      [t("result.printed_on"), printed?.printer],
      [t("result.source"), issued ? t(`source.${issued.source}`) : null],
    ], "result-facts"),
    issued?.reserve_low ? h("p", { class: "warning", role: "alert" }, t("result.reserve_low", { count: String(issued.reserve_left) })) : null,
    status,
    error,
    h("div", { class: "actions" }, nextBtn, reprintBtn),
    h("p", { class: "shortcuts" }, kbd("Enter"), " ", t("result.next")),
  );
  return { el, title: "result.title", focus: () => nextBtn.focus(), onEsc: () => true };
}
