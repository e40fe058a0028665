// Sign-in with a staff account of this desk. The idle lock and the Lock
// button come back here; the refusal never says whether the name exists
// (a locked account's refusal says when it unlocks: the core's sentence).
// A password an admin reset must be changed here before anything else.
import { api, asCommandError, type StaffView } from "../api";
import { t } from "../i18n";
import { alertLine, button, field, h, onSubmit, showFieldErrors, showRefusal, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

export function signIn(ctx: Ctx, params: Record<string, unknown>): Screen {
  const name = field({ path: "name", label: t("signin.name"), autocomplete: "username", width: "medium", required: true });
  const pw = field({ path: "password", label: t("signin.password"), kind: "password", autocomplete: "current-password", width: "medium", required: true });
  const submit = button(t("signin.submit"), { id: "signin-submit", primary: true, type: "submit", shortcut: "Enter" });
  const error = alertLine("signin-error");
  const notice = statusLine("signin-notice");
  if (typeof params.notice === "string") notice.textContent = t(params.notice);
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "screen-title" }, name.wrap, pw.wrap, error, h("div", { class: "actions" }, submit));
  const title = h("h1", { id: "screen-title" }, t("signin.title"));
  const desk = ctx.state.desk;
  const lead = desk ? h("p", { class: "lead" }, t("signin.lead", { office: desk.office, desk: String(desk.desk_number) })) : null;
  const el = h("section", { class: "screen narrow" }, title, lead, notice, form);
  let focus = () => name.input.focus();

  /** Replaces the sign-in form with the change form; `current` is the password just typed, if any. */
  const askForChange = (current: string | null) => {
    const change = changeForm(current, (staff) => ctx.signedIn(staff));
    title.textContent = t("signin.change_title");
    notice.textContent = t("signin.change_lead");
    form.replaceWith(change.form);
    focus = change.focus;
    focus();
  };

  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    if (!name.input.value.trim() || !pw.input.value) {
      error.textContent = t("signin.missing");
      (name.input.value.trim() ? pw.input : name.input).focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    error.textContent = "";
    try {
      const password = pw.input.value;
      const staff = await api.signIn(name.input.value.trim(), password);
      pw.input.value = "";
      if (staff.must_change) askForChange(password);
      else ctx.signedIn(staff);
    } catch (err) {
      error.textContent = asCommandError(err).message;
      pw.input.value = "";
      pw.input.focus();
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });
  if (params.mustChange === true) askForChange(null);
  return { el, title: "signin.title", focus: () => focus(), onEsc: () => true };
}

/**
 * A change of one's own password: the new one twice, and the current one
 * unless it was just typed (a temporary password at sign-in). Field problems
 * come from the core, next to their field; `done` gets the signed-in staff
 * member once the core took the new password.
 */
export function changeForm(known: string | null, done: (staff: StaffView) => void): { form: HTMLFormElement; focus: () => void } {
  const fields = new Map<string, Field>();
  const current = known === null ? field({ path: "current_password", label: t("signin.current_password"), kind: "password", autocomplete: "current-password", width: "medium", required: true }) : null;
  const next = field({ path: "new_password", label: t("signin.new_password"), hint: t("signin.new_password_hint"), kind: "password", autocomplete: "new-password", width: "medium", required: true });
  const again = field({ path: "new_password_repeat", label: t("signin.new_password_repeat"), kind: "password", autocomplete: "new-password", width: "medium", required: true });
  if (current) fields.set("current_password", current);
  fields.set("new_password", next);
  fields.set("new_password_repeat", again);
  const submit = button(t("signin.change_submit"), { id: "change-submit", primary: true, type: "submit", shortcut: "Enter" });
  const error = alertLine("change-error");
  const form = h("form", { class: "form", id: "change-form", novalidate: true, "aria-labelledby": "screen-title" }, current?.wrap ?? null, next.wrap, again.wrap, error, h("div", { class: "actions" }, submit)) as HTMLFormElement;
  onSubmit(form, submit, async () => {
    if (next.input.value !== again.input.value) {
      showFieldErrors(fields, [{ field: "new_password_repeat", code: "mismatch", message: t("signin.password_mismatch") }], error);
      again.input.focus();
      return;
    }
    error.textContent = "";
    try {
      const staff: StaffView = await api.changePassword(current ? current.input.value : (known ?? ""), next.input.value);
      for (const f of fields.values()) f.input.value = "";
      showFieldErrors(fields, [], error);
      done(staff);
    } catch (err) {
      // The idle lock took the session: the App shows sign-in instead.
      if (asCommandError(err).code === "locked") return;
      next.input.value = "";
      again.input.value = "";
      showRefusal(fields, err, error, next.input);
    }
  });
  return { form, focus: () => (current ?? next).input.focus() };
}
