// Staff accounts (admin): the list with each account's state, adding a
// member with a first password they must change at first sign-in, a
// temporary password for one who forgot theirs (it also unlocks the
// account), and disabling one who left. Passwords are typed, never shown.
// The core checks the role and audits each change.
import { api, asCommandError, type Role, type StaffRow } from "../api";
import { t } from "../i18n";
import { alertLine, button, field, formatTime, h, onSubmit, showFieldErrors, showRefusal, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

const ROLES: Role[] = ["clerk", "supervisor", "admin"];

/** The state column: what keeps an account from working, most pressing first. */
export function staffState(s: StaffRow): string {
  if (!s.active) return t("staff.state_disabled");
  if (s.locked_until) return t("staff.state_locked", { until: formatTime(s.locked_until) });
  if (s.must_change) return t("staff.state_must_change");
  return t("staff.state_active");
}

export function staffScreen(_ctx: Ctx): Screen {
  const status = statusLine("staff-status");
  const error = alertLine("staff-error");
  const table = h("table", { class: "records", id: "staff-table", "aria-labelledby": "staff-table-caption", "aria-busy": "true" });
  // One place below the table for the action on one account: a temporary
  // password form or the confirmation of a disable. Esc closes it.
  const action = h("div", { id: "staff-action", class: "action-panel" });
  action.hidden = true;
  let closeAction: (() => void) | null = null;

  const addFields = new Map<string, Field>();
  const name = field({ path: "name", label: t("staff.name"), autocomplete: "off", width: "medium", required: true });
  const role = field({ path: "role", label: t("staff.role"), kind: "select", options: ROLES.map((r) => [r, t(`role.${r}`)] as [string, string]), value: "clerk", width: "medium" });
  const password = field({ path: "password", label: t("staff.first_password"), hint: t("staff.first_password_hint"), kind: "password", autocomplete: "new-password", width: "medium", required: true });
  addFields.set("name", name).set("role", role).set("password", password);
  const addError = alertLine("staff-add-error");
  const addSubmit = button(t("staff.add"), { id: "staff-add", primary: true, type: "submit", shortcut: "Enter" });
  const addForm = h(
    "form",
    { class: "form", id: "staff-add-form", novalidate: true, "aria-labelledby": "staff-add-title" },
    h("fieldset", { class: "group" }, h("legend", { id: "staff-add-title" }, t("staff.add_title")), name.wrap, role.wrap, password.wrap),
    addError,
    h("div", { class: "actions" }, addSubmit),
  );

  const el = h(
    "section",
    { class: "screen" },
    h("h1", { id: "screen-title" }, t("staff.title")),
    status,
    error,
    h("h2", { id: "staff-table-caption" }, t("staff.list_title")),
    h("div", { class: "table-wrap" }, table),
    action,
    addForm,
  );

  const render = (list: StaffRow[]) => {
    table.removeAttribute("aria-busy");
    const cols = ["name", "role", "state", "created"].map((c) => h("th", { scope: "col" }, t(`staff.col_${c}`)));
    table.replaceChildren(
      h("thead", {}, h("tr", {}, ...cols, h("th", { scope: "col" }, t("staff.col_actions")))),
      h(
        "tbody",
        {},
        ...list.map((s) => {
          const actions = h("td", { class: "row-actions" });
          if (s.active && !s.me) {
            const reset = button(t("staff.reset"), { id: `staff-reset-${s.staff_id}` });
            reset.setAttribute("aria-label", t("staff.reset_for", { name: s.name }));
            reset.addEventListener("click", () => openReset(s, reset));
            const disable = button(t("staff.disable"), { id: `staff-disable-${s.staff_id}`, danger: true });
            disable.setAttribute("aria-label", t("staff.disable_for", { name: s.name }));
            disable.addEventListener("click", () => openDisable(s, disable));
            actions.append(reset, " ", disable);
          } else if (s.me) {
            actions.append(t("staff.you"));
          }
          return h(
            "tr",
            { "data-staff": s.name, class: s.active ? "" : "inactive" },
            h("th", { scope: "row" }, s.name),
            h("td", {}, t(`role.${s.role}`)),
            h("td", { class: "staff-state" }, staffState(s)),
            h("td", {}, formatTime(s.created_at)),
            actions,
          );
        }),
      ),
    );
  };

  /** Shows `content` in the action area; `back` gets focus when it closes. */
  const showAction = (content: HTMLElement, back: HTMLElement, focus: HTMLElement) => {
    closeAction?.();
    action.replaceChildren(content);
    action.hidden = false;
    closeAction = () => {
      action.hidden = true;
      action.replaceChildren();
      closeAction = null;
      if (back.isConnected) back.focus();
      else name.input.focus();
    };
    focus.focus();
  };

  const done = (list: StaffRow[], message: string) => {
    render(list);
    closeAction?.();
    error.textContent = "";
    status.textContent = message;
  };

  const openReset = (s: StaffRow, back: HTMLElement) => {
    const fields = new Map<string, Field>();
    // Its own ids beside the add form's password field; the core names it `password`.
    const pw = field({ path: "temporary_password", label: t("staff.temporary_password"), hint: t("staff.temporary_password_hint"), kind: "password", autocomplete: "new-password", width: "medium", required: true });
    fields.set("password", pw);
    const formError = alertLine("staff-reset-error");
    const save = button(t("staff.reset_save"), { id: "staff-reset-save", primary: true, type: "submit", shortcut: "Enter" });
    const cancel = button(t("common.cancel"), { id: "staff-reset-cancel", shortcut: "Esc" });
    const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "staff-reset-title" }, h("h2", { id: "staff-reset-title" }, t("staff.reset_title", { name: s.name })), pw.wrap, formError, h("div", { class: "actions" }, save, " ", cancel));
    cancel.addEventListener("click", () => closeAction?.());
    onSubmit(form, save, async () => {
      try {
        const list = await api.staffReset(s.name, pw.input.value);
        done(list, t("staff.reset_done", { name: s.name }));
      } catch (err) {
        pw.input.value = "";
        showRefusal(fields, err, formError, pw.input);
      }
    });
    showAction(form, back, pw.input);
  };

  const openDisable = (s: StaffRow, back: HTMLElement) => {
    const confirm = button(t("staff.disable_confirm"), { id: "staff-disable-confirm", danger: true });
    const cancel = button(t("common.cancel"), { id: "staff-disable-cancel", shortcut: "Esc" });
    const formError = alertLine("staff-disable-error");
    const box = h("div", { role: "group", "aria-labelledby": "staff-disable-title" }, h("h2", { id: "staff-disable-title" }, t("staff.disable_title", { name: s.name })), h("p", {}, t("staff.disable_lead")), formError, h("div", { class: "actions" }, confirm, " ", cancel));
    cancel.addEventListener("click", () => closeAction?.());
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const list = await api.staffDisable(s.name);
        done(list, t("staff.disable_done", { name: s.name }));
      } catch (err) {
        formError.textContent = asCommandError(err).message;
        confirm.focus();
      } finally {
        confirm.disabled = false;
      }
    });
    // Focus on Cancel: disabling is never one stray Enter away.
    showAction(box, back, cancel);
  };

  onSubmit(addForm, addSubmit, async () => {
    addError.textContent = "";
    const who = name.input.value.trim();
    try {
      const list = await api.staffAdd({ name: who, role: role.input.value as Role, password: password.input.value });
      showFieldErrors(addFields, [], null);
      name.input.value = "";
      password.input.value = "";
      role.input.value = "clerk";
      done(list, t("staff.add_done", { name: who }));
      name.input.focus();
    } catch (err) {
      password.input.value = "";
      showRefusal(addFields, err, addError, name.input);
    }
  });

  void api.staffList().then(render).catch((err) => {
    table.removeAttribute("aria-busy");
    error.textContent = asCommandError(err).message;
  });

  return {
    el,
    title: "staff.title",
    focus: () => name.input.focus(),
    onEsc: () => {
      if (!closeAction) return false;
      closeAction();
      return true;
    },
  };
}
