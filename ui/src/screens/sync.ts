// The sync panel: what waits to go to the registry, the reserve, refused
// events with their reasons, duplicate notices, and "sync now".
import { api, asCommandError, type SyncView } from "../api";
import { t } from "../i18n";
import { alertLine, button, formatTime, h, statusLine } from "../dom";
import type { Ctx, Screen } from "../app";

export function syncPanel(ctx: Ctx): Screen {
  const facts = h("dl", { class: "facts", id: "sync-facts" });
  const refused = h("div", { id: "sync-refused" });
  const notices = h("div", { id: "sync-notices" });
  const status = statusLine("sync-status");
  const error = alertLine("sync-error");
  const progress = h("progress", { id: "sync-progress", hidden: true, "aria-label": t("sync.progress") });
  const now = button(t("sync.now"), { id: "sync-now", primary: true, shortcut: "Enter" });

  const show = (s: SyncView) => {
    ctx.setSync(s);
    const online = s.training ? t("online.training") : s.online === true ? t("online.online") : s.online === false ? t("online.offline") : t("online.unknown");
    const rows: Array<[string, string]> = [
      [t("sync.connection"), online],
      [t("sync.queued"), String(s.queued)],
      [t("sync.oldest"), s.oldest_unsynced ? formatTime(s.oldest_unsynced) : t("sync.none_waiting")],
      [t("sync.reserve"), String(s.reserve_left)],
      [t("sync.last"), formatTime(s.last_sync)],
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    if (s.reserve_low) facts.append(h("dt", {}, t("sync.warning")), h("dd", { class: "warning" }, t("sync.reserve_low")));
    refused.replaceChildren(
      h("h2", {}, t("sync.refused_title", { count: String(s.refused.length) })),
      s.refused.length
        ? h("ul", { class: "list" }, ...s.refused.map((r) => h("li", {}, h("strong", {}, t(`verdict.${r.verdict}`)), " ", r.record_id ?? r.event_id, ": ", r.reason)))
        : h("p", {}, t("sync.refused_none")),
    );
    notices.replaceChildren(
      h("h2", {}, t("sync.notices_title", { count: String(s.notices.length) })),
      s.notices.length
        ? h("ul", { class: "list" }, ...s.notices.map((n) => h("li", {}, n.message, " ", t("sync.notice_records", { a: n.record_id, b: n.other_record_id }))))
        : h("p", {}, t("sync.notices_none")),
    );
    now.disabled = s.training || !s.enrolled;
    if (s.training) status.textContent = t("sync.training");
  };

  let busy = false;
  now.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    now.disabled = true;
    progress.hidden = false;
    error.textContent = "";
    status.textContent = t("sync.running");
    try {
      show(await api.syncNow());
      status.textContent = t("sync.done");
    } catch (err) {
      status.textContent = "";
      error.textContent = asCommandError(err).message;
    } finally {
      busy = false;
      progress.hidden = true;
      now.disabled = ctx.state.sync ? ctx.state.sync.training || !ctx.state.sync.enrolled : false;
    }
  });

  void api.syncStatus().then(show).catch((err) => (error.textContent = asCommandError(err).message));
  const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("sync.title")), facts, h("div", { class: "actions" }, now, progress), status, error, refused, notices);
  return { el, title: "sync.title", focus: () => (now.disabled ? document.getElementById("main")?.focus() : now.focus()) };
}
