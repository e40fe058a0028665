// Review and issue: the applicant's details and a preview of the handout
// (the password only as its masked shape: it is never on screen), then one
// act that issues and prints; the result with the number large and clear.
// The core issues and prints together: a login whose password no one could
// read would be lost, so there is no issuing without the handout.
import { api, asCommandError, type ApplicantCheck, type ApplicantJson, type HandoutPreview, type IssuedView } from "../api";
import { t } from "../i18n";
import { languageName } from "../reference";
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

function previewBlock(p: HandoutPreview): Node[] {
  const pending = t("handout.at_issue");
  return [
    ...(p.training ? [h("p", { class: "training-mark big" }, t("app.training"))] : []),
    h("p", { class: "muni" }, `${p.municipality} · ${p.office}`),
    dl([
      [t("handout.name"), p.name],
      [t("handout.number"), h("span", { class: "pending" }, pending)],
      [t("handout.username"), h("span", { class: "pending" }, pending)],
      [t("handout.password"), h("span", { class: "mono masked", id: "preview-password", "aria-label": t("handout.password_hidden") }, p.password_mask)],
      [t("handout.languages"), p.languages.map(languageName).join(", ")],
      [t("handout.lapse"), t("handout.lapse_days", { days: String(p.lapse_days) })],
      [t("handout.printer"), p.printer ?? t("handout.no_printer")],
    ]),
  ];
}

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
        h("ul", {}, ...personDupes.map((d) => h("li", {}, d.message, d.record_id ? ` ${t("dup.record", { id: d.record_id })}` : ""))),
        h("div", { class: "check-row" }, confirm, h("label", { for: "dup-reviewed" }, t("dup.reviewed"))),
      )
    : null;
  const issueBtn = button(t("review.issue"), { id: "issue", primary: true, shortcut: "Enter" });
  const backBtn = button(t("review.back"), { id: "review-back", shortcut: "Esc" });
  const error = alertLine("issue-error");
  const status = statusLine("issue-status");
  // One row per name part, each under its own label: a combined label
  // would have to match the order of the combined value.
  const summary = dl([
    [t("applicant.surname"), str(a.surname)],
    [t("applicant.given_names"), str(a.given_names)],
    [t("applicant.birth_date"), str(a.birth_date)],
    [t("applicant.sex"), a.sex ? t(`sex.${str(a.sex)}`) : ""],
    [t("applicant.nationality"), str(a.nationality)],
    [t("applicant.document_type"), doc.type ? t(`doctype.${str(doc.type)}`) : ""],
    [t("applicant.document_number"), str(doc.number)],
    [t("applicant.issuing_state"), str(doc.issuing_state)],
    [t("applicant.expiry_date"), doc.expiry_date ? str(doc.expiry_date) : t("review.no_expiry")],
    [t("applicant.municipality_of_stay"), str(a.municipality_of_stay)],
    [t("applicant.section_group"), a.group ? t(`group.${str(a.group)}`) : ""],
    [t("applicant.language"), languageName(str(a.language))],
  ], "review-facts");
  const preview = h("section", { class: "handout-preview", id: "handout-preview", "aria-busy": "true", "aria-labelledby": "preview-title" }, h("h2", { id: "preview-title" }, t("handout.title")));
  void api
    .handoutPreview(a)
    .then((p) => {
      preview.removeAttribute("aria-busy");
      preview.append(...previewBlock(p));
    })
    .catch((err) => {
      preview.removeAttribute("aria-busy");
      preview.append(h("p", { class: "alert-line" }, asCommandError(err).message));
    });

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
      ctx.reset("result");
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
    h("div", { class: "review-columns" }, summary, preview),
    dupBox,
    // Offline or refused: the clerk knows only this desk's records were checked.
    check?.registry && ["offline", "failed"].includes(check.registry.state) ? h("p", { class: "hint", id: "review-registry-note" }, check.registry.message) : null,
    error,
    status,
    h("div", { class: "actions" }, issueBtn, backBtn),
    h("p", { class: "hint" }, t("handout.password_note")),
  );
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target !== confirm && (e.target as HTMLElement).tagName !== "BUTTON") {
      e.preventDefault();
      void issue();
    }
  });
  return { el, title: "review.title", focus: () => (personDupes.length ? confirm : issueBtn).focus() };
}

/** The result: the number large and clear; a handout that did not leave is reprinted here. */
export function result(ctx: Ctx): Screen {
  const issued = ctx.state.flow.issued as IssuedView | undefined;
  const nextBtn = button(t("result.next"), { id: "next-applicant", primary: !issued?.delivery_error, shortcut: "Enter" });
  const reprintBtn = button(t("result.reprint"), { id: "result-reprint", primary: !!issued?.delivery_error });
  const status = statusLine("result-status");
  const error = alertLine("result-error");
  if (issued?.delivery_error) error.textContent = t("result.not_printed", { reason: issued.delivery_error });
  else if (issued) status.textContent = t("result.printed", { printer: issued.printer });
  nextBtn.addEventListener("click", () => {
    ctx.state.flow = {};
    ctx.reset("applicant");
  });
  reprintBtn.addEventListener("click", async () => {
    if (!issued) return;
    error.textContent = "";
    status.textContent = t("handout.printing");
    try {
      const r = await api.reprint(issued.record_id);
      status.textContent = t("result.reprinted", { printer: r.printer });
      nextBtn.focus();
    } catch (err) {
      status.textContent = "";
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
      [t("result.username"), issued?.username],
      [t("result.issued_at"), issued ? formatTime(issued.issued_at) : null],
      [t("result.source"), issued ? t(`source.${issued.source}`) : null],
    ], "result-facts"),
    issued?.reserve_low ? h("p", { class: "warning", role: "alert" }, t("result.reserve_low", { count: String(issued.reserve_left) })) : null,
    ...(issued?.warnings ?? []).map((w) => h("p", { class: "warning", role: "status" }, w)),
    status,
    error,
    h("div", { class: "actions" }, nextBtn, reprintBtn),
    h("p", { class: "shortcuts" }, kbd("Enter"), " ", t("result.next")),
  );
  // A handout that did not leave: Reprint first, so the applicant gets a password.
  return { el, title: "result.title", focus: () => (issued?.delivery_error ? reprintBtn : nextBtn).focus(), onEsc: () => true };
}
