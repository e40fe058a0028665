// Sign-in with a staff account of this desk. The idle lock and the Lock
// button come back here; the refusal never says whether the name exists.
import { api, asCommandError } from "../api";
import { t } from "../i18n";
import { alertLine, button, field, h, statusLine } from "../dom";
import type { Ctx, Screen } from "../app";

export function signIn(ctx: Ctx, params: Record<string, unknown>): Screen {
  const name = field({ path: "name", label: t("signin.name"), autocomplete: "username", width: "medium", required: true });
  const pw = field({ path: "password", label: t("signin.password"), kind: "password", autocomplete: "current-password", width: "medium", required: true });
  const submit = button(t("signin.submit"), { id: "signin-submit", primary: true, type: "submit", shortcut: "Enter" });
  const error = alertLine("signin-error");
  const notice = statusLine("signin-notice");
  if (typeof params.notice === "string") notice.textContent = t(params.notice);
  const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "screen-title" }, name.wrap, pw.wrap, error, h("div", { class: "actions" }, submit));
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
      const staff = await api.signIn(name.input.value.trim(), pw.input.value);
      pw.input.value = "";
      ctx.signedIn(staff);
    } catch (err) {
      error.textContent = asCommandError(err).message;
      pw.input.value = "";
      pw.input.focus();
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });
  const desk = ctx.state.desk;
  const el = h(
    "section",
    { class: "screen narrow" },
    h("h1", { id: "screen-title" }, t("signin.title")),
    desk ? h("p", { class: "lead" }, t("signin.lead", { office: desk.office, desk: String(desk.desk_number) })) : null,
    notice,
    form,
  );
  return { el, title: "signin.title", focus: () => name.input.focus(), onEsc: () => true };
}
