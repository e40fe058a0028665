// Settings (admin): printer, password lapse days, the municipality's
// privacy-notice details, the handout languages, the UI language and the
// idle lock. A value the municipality set at the registry is shown as such
// and cannot be edited (the core refuses a change to it as well).
import { api, asCommandError, type SettingsView } from "../api";
import { setLang, t } from "../i18n";
import { alertLine, button, field, h, showFieldErrors, showRefusal, statusLine, type Field, type FieldOptions } from "../dom";
import type { Ctx, Screen } from "../app";

export function settings(ctx: Ctx): Screen {
  const fields = new Map<string, Field>();
  const form = h("form", { class: "form columns", novalidate: true, "aria-labelledby": "screen-title", "aria-busy": "true" });
  const status = statusLine("settings-status");
  const error = alertLine("settings-error");
  const el = h("section", { class: "screen narrow" }, h("h1", { id: "screen-title" }, t("settings.title")), form, status);
  let first: HTMLElement | null = null;
  let loadedLanguage = "";

  const build = (s: SettingsView) => {
    form.removeAttribute("aria-busy");
    loadedLanguage = s.ui_language;
    const printers: Array<[string, string]> = [["", t("settings.no_printer")], ...s.printers.map((p) => [p, p] as [string, string])];
    if (s.printer && !s.printers.includes(s.printer)) printers.push([s.printer, s.printer]);
    // A value the municipality set: read-only, and its hint says so.
    const municipal = new Set(s.municipal);
    const source = (path: string, hint?: string): Pick<FieldOptions, "hint" | "readonly"> =>
      municipal.has(path) ? { hint: t("settings.from_municipality"), readonly: true } : { hint };
    const list: Field[] = [
      field({ path: "printer", label: t("settings.printer"), kind: "select", options: printers, value: s.printer, width: "medium" }),
      field({ path: "password_lapse_days", label: t("settings.lapse_days"), value: String(s.password_lapse_days), width: "medium", inputmode: "numeric", ...source("password_lapse_days", t("settings.lapse_days_hint")) }),
      field({ path: "privacy_controller", label: t("settings.privacy_controller"), value: s.privacy_controller, width: "long", required: true, ...source("privacy_controller") }),
      field({ path: "privacy_contact", label: t("settings.privacy_contact"), value: s.privacy_contact, width: "long", required: true, ...source("privacy_contact") }),
      field({ path: "privacy_dpo", label: t("settings.privacy_dpo"), value: s.privacy_dpo, width: "long", required: true, ...source("privacy_dpo") }),
      field({ path: "privacy_retention", label: t("settings.privacy_retention"), value: s.privacy_retention, width: "long", ...source("privacy_retention", t("settings.privacy_retention_hint")) }),
      field({ path: "handout_languages", label: t("settings.handout_languages"), value: s.handout_languages, width: "long", ...source("handout_languages", t("settings.handout_languages_hint")) }),
      field({ path: "ui_language", label: t("settings.ui_language"), kind: "select", options: [["da", t("lang.da")], ["en", t("lang.en")]], value: s.ui_language, width: "short", ...source("ui_language") }),
      field({ path: "idle_lock_minutes", label: t("settings.idle_lock"), value: String(s.idle_lock_minutes), width: "medium", inputmode: "numeric", ...source("idle_lock_minutes", t("settings.idle_lock_hint")) }),
    ];
    for (const f of list) fields.set(f.input.dataset.path!, f);
    const save = button(t("settings.save"), { id: "settings-save", primary: true, type: "submit", shortcut: "Enter" });
    form.replaceChildren(
      h("fieldset", { class: "group" }, h("legend", {}, t("settings.section_print")), fields.get("printer")!.wrap, fields.get("password_lapse_days")!.wrap),
      h("fieldset", { class: "group" }, h("legend", {}, t("settings.section_privacy")), fields.get("privacy_controller")!.wrap, fields.get("privacy_contact")!.wrap, fields.get("privacy_dpo")!.wrap, fields.get("privacy_retention")!.wrap, fields.get("handout_languages")!.wrap),
      h("fieldset", { class: "group" }, h("legend", {}, t("settings.section_desk")), fields.get("ui_language")!.wrap, fields.get("idle_lock_minutes")!.wrap),
      error,
      h("div", { class: "actions" }, save),
    );
    first = fields.get("printer")!.input;
    first.focus();
  };

  const num = (v: string) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    status.textContent = "";
    const v = (p: string) => fields.get(p)!.input.value;
    const next: SettingsView = {
      printer: v("printer"),
      printers: [],
      password_lapse_days: num(v("password_lapse_days")),
      privacy_controller: v("privacy_controller").trim(),
      privacy_contact: v("privacy_contact").trim(),
      privacy_dpo: v("privacy_dpo").trim(),
      privacy_retention: v("privacy_retention").trim(),
      handout_languages: v("handout_languages").trim(),
      ui_language: v("ui_language") === "en" ? "en" : "da",
      idle_lock_minutes: num(v("idle_lock_minutes")),
      municipal: [],
    };
    // A number field with letters reaches the shell as null (NaN) and is refused there by name.
    try {
      const saved = await api.saveSettings(next);
      showFieldErrors(fields, [], null);
      ctx.state.idleLockMinutes = saved.idle_lock_minutes;
      // The default language applies now only when it was changed here.
      if (saved.ui_language !== loadedLanguage) setLang(saved.ui_language);
      loadedLanguage = saved.ui_language;
      status.textContent = t("settings.saved");
    } catch (err) {
      showRefusal(fields, err, error, form);
    }
  });

  void api.settings().then(build).catch((err) => {
    form.removeAttribute("aria-busy");
    form.replaceChildren(error);
    error.textContent = asCommandError(err).message;
  });
  return { el, title: "settings.title", focus: () => (first ?? document.getElementById("main"))?.focus() };
}
