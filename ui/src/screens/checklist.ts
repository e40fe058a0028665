// The setup checklist an admin sees above the applicant form until the desk
// is ready to hand out: a printer chosen, the privacy notice's controller,
// contact and data protection officer set (the core refuses a handout
// without any of them), and staff added beside
// the admin. Each open item links to the screen that does it; the list is
// gone once all are done. It is asked anew each time the form opens.
import { api, type SettingsView, type StaffRow } from "../api";
import { t, tn } from "../i18n";
import { h } from "../dom";
import type { Ctx, ScreenName } from "../app";

export interface ChecklistItem {
  id: "printer" | "privacy" | "staff";
  done: boolean;
  /** The screen that does it. */
  screen: ScreenName;
}

/** The three items and whether each is done, from the settings and the staff list. */
export function checklistItems(settings: SettingsView, staff: StaffRow[]): ChecklistItem[] {
  return [
    { id: "printer", done: settings.printer.trim() !== "", screen: "settings" },
    {
      id: "privacy",
      done: [settings.privacy_controller, settings.privacy_contact, settings.privacy_dpo].every((v) => v.trim() !== ""),
      screen: "settings",
    },
    { id: "staff", done: staff.some((s) => !s.me && s.active), screen: "staff" },
  ];
}

/**
 * The checklist's place on the applicant screen: empty for anyone but an
 * admin and once every item is done (or when the lists cannot be read: the
 * screens themselves then say why).
 */
export function setupChecklist(ctx: Ctx): HTMLElement {
  const box = h("section", { class: "checklist", id: "setup-checklist", "aria-labelledby": "setup-checklist-title", hidden: true });
  if (!ctx.can("admin")) return box;
  void Promise.all([api.settings(), api.staffList()])
    .then(([settings, staff]) => {
      const items = checklistItems(settings, staff);
      if (items.every((i) => i.done)) return;
      const open = items.filter((i) => !i.done).length;
      box.replaceChildren(
        h("h2", { id: "setup-checklist-title" }, t("checklist.title")),
        h("p", { class: "hint" }, tn("checklist.lead", open)),
        h(
          "ul",
          {},
          ...items.map((item) => {
            const state = h("span", { class: "check-state" }, t(item.done ? "checklist.done" : "checklist.todo"));
            if (item.done) return h("li", { class: "done", id: `check-${item.id}` }, state, " ", t(`checklist.${item.id}`));
            const link = h("button", { type: "button", class: "link", id: `check-${item.id}-link` }, t(`checklist.${item.id}`));
            link.addEventListener("click", () => ctx.go(item.screen));
            return h("li", { class: "todo", id: `check-${item.id}` }, state, " ", link);
          }),
        ),
      );
      box.hidden = false;
    })
    .catch(() => undefined);
  return box;
}
