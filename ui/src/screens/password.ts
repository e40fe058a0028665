// A signed-in staff member changes their own password (the header's name
// button, Alt+K): the current one, then the new one twice. A wrong current
// password counts as a failed sign-in in the core, as at the desk's door.
import { t } from "../i18n";
import { h, statusLine } from "../dom";
import type { Ctx, Screen } from "../app";
import { changeForm } from "./signin";

export function passwordScreen(ctx: Ctx): Screen {
  const status = statusLine("password-status");
  const change = changeForm(null, (staff) => {
    ctx.state.session = staff;
    status.textContent = t("password.changed");
    change.focus();
  });
  const el = h(
    "section",
    { class: "screen narrow" },
    h("h1", { id: "screen-title" }, t("password.title")),
    h("p", { class: "lead" }, t("password.lead")),
    status,
    change.form,
  );
  return { el, title: "password.title", focus: change.focus };
}
