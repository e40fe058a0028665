// The day report (supervisor): this desk's records of a day as CSV or PDF,
// with reference, number, time, staff ID and state only. The core writes it
// and audits it; the same as `skranke report --day DATE (--csv|--pdf) OUT`.
import { api } from "../api";
import { t, tn } from "../i18n";
import { alertLine, button, field, h, showFieldErrors, showRefusal, statusLine, today, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

export function dayReport(_ctx: Ctx): Screen {
  const fields = new Map<string, Field>();
  const date = field({ path: "date", label: t("report.date"), hint: t("common.date_hint"), width: "short", value: today(), inputmode: "numeric" });
  const format = field({ path: "format", label: t("report.format"), kind: "select", options: [["csv", "CSV"], ["pdf", "PDF"]], width: "short" });
  const path = field({ path: "path", label: t("report.path"), width: "long" });
  for (const f of [date, format, path]) fields.set(f.input.dataset.path!, f);
  const submit = button(t("report.create"), { id: "report-create", primary: true, type: "submit", shortcut: "Enter" });
  const status = statusLine("report-status");
  const error = alertLine("report-error");
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "screen-title" }, date.wrap, format.wrap, path.wrap, error, h("div", { class: "actions" }, submit));

  let pathEdited = false;
  path.input.addEventListener("input", () => (pathEdited = true));
  const suggest = async () => {
    if (pathEdited) return;
    try {
      path.input.value = await api.reportPath(date.input.value.trim(), format.input.value as "csv" | "pdf");
    } catch {
      // The clerk types a path; the report command names any problem.
    }
  };
  date.input.addEventListener("change", () => void suggest());
  format.input.addEventListener("change", () => void suggest());
  void suggest();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    status.textContent = "";
    try {
      const r = await api.dayReport(date.input.value.trim(), format.input.value as "csv" | "pdf", path.input.value.trim());
      showFieldErrors(fields, [], null);
      status.textContent = tn("report.saved", r.rows, { path: r.path });
    } catch (err) {
      showRefusal(fields, err, error, submit);
    }
  });
  const el = h("section", { class: "screen narrow" }, h("h1", { id: "screen-title" }, t("report.title")), h("p", { class: "lead" }, t("report.lead")), form, status);
  return { el, title: "report.title", focus: () => date.input.focus() };
}
