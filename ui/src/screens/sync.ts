// The sync panel: what waits to go to the registry, the reserve, the last
// sync, refused events with their reasons, the registry's notices (a
// supervisor decides a duplicate here), and "sync now" with its progress.
import { api, asCommandError, type DuplicateNotice, type SyncView } from "../api";
import { t, tn } from "../i18n";
import { forgetReferenceData } from "../reference";
import { alertLine, button, field, formatTime, h, showRefusal, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

/** An age in seconds as the panel shows it: minutes, hours or days. */
export function formatAge(secs: number | null): string {
  if (secs === null) return "";
  if (secs < 3600) return t("sync.age_minutes", { n: String(Math.max(0, Math.floor(secs / 60))) });
  if (secs < 2 * 86400) return t("sync.age_hours", { n: String(Math.floor(secs / 3600)) });
  return tn("sync.age_days", Math.floor(secs / 86400));
}

export function connectionText(s: SyncView): string {
  if (s.training) return t("online.training");
  if (s.syncing) return t("sync.syncing_now");
  return s.online === true ? t("online.online") : s.online === false ? t("online.offline") : t("online.unknown");
}

export function syncPanel(ctx: Ctx): Screen {
  const facts = h("dl", { class: "facts", id: "sync-facts" });
  const refused = h("div", { id: "sync-refused" });
  const notices = h("div", { id: "sync-notices" });
  const status = statusLine("sync-status");
  const result = h("p", { id: "sync-result" });
  const error = alertLine("sync-error");
  const progress = h("progress", { id: "sync-progress", hidden: true, "aria-label": t("sync.progress") });
  const now = button(t("sync.now"), { id: "sync-now", primary: true, shortcut: "Enter" });

  const show = (s: SyncView) => {
    ctx.setSync(s);
    const oldest = s.oldest_unsynced ? `${formatTime(s.oldest_unsynced)} (${formatAge(s.oldest_age_secs)})` : t("sync.none_waiting");
    const rows: Array<[string, string, string]> = [
      ["sync-connection", t("sync.connection"), connectionText(s)],
      ["sync-queued", t("sync.queued"), String(s.queued)],
      ["sync-oldest", t("sync.oldest"), oldest],
      ["sync-reserve", t("sync.reserve"), t("sync.reserve_value", { count: String(s.reserve_left) })],
      ["sync-last", t("sync.last"), s.last_sync ? formatTime(s.last_sync) : t("sync.never")],
    ];
    facts.replaceChildren(...rows.flatMap(([id, k, v]) => [h("dt", {}, k), h("dd", { id }, v)]));
    // The reserve is counted per birth date and sex: a bare number reads as the total.
    facts.querySelector("#sync-reserve")?.append(h("p", { class: "hint", id: "sync-reserve-hint" }, t("sync.reserve_hint")));
    const warnings: string[] = [];
    if (s.reserve_low) warnings.push(t("sync.reserve_low"));
    if (s.clock_behind) warnings.push(t("sync.clock_behind"));
    if (s.retired) warnings.push(t("sync.retired"));
    if (s.last_error) warnings.push(s.last_error);
    for (const w of warnings) facts.append(h("dt", {}, t("sync.warning")), h("dd", { class: "warning" }, w));
    refused.replaceChildren(
      h("h2", {}, t("sync.refused_title", { count: String(s.refused.length) })),
      s.refused.length
        ? h("ul", { class: "list" }, ...s.refused.map((r) => h("li", {}, h("strong", {}, t(`verdict.${r.verdict}`)), " ", r.record_id ?? r.event_id, ": ", r.reason, " ", h("span", { class: "hint" }, formatTime(r.refused_at)))))
        : h("p", {}, t("sync.refused_none")),
    );
    notices.replaceChildren(
      h("h2", {}, t("sync.notices_title", { count: String(s.notices.length) })),
      s.notices.length ? h("ul", { class: "list" }, ...s.notices.map((n) => noticeItem(n))) : h("p", {}, t("sync.notices_none")),
    );
    now.disabled = s.training || !s.enrolled;
    if (s.training) status.textContent = t("sync.training");
  };

  /** A notice, and for a duplicate the supervisor's decision (or what was decided). */
  const noticeItem = (n: DuplicateNotice): HTMLElement => {
    const li = h("li", { class: "notice-item", id: `notice-${n.id}` }, h("p", {}, n.message));
    if (!n.duplicate || !n.record_id) return li;
    if (n.record_status === "voided") {
      li.append(h("p", { class: "decided" }, n.replaced_by ? t("sync.decided_replaced", { record: n.record_id, other: n.replaced_by }) : t("sync.decided_voided", { record: n.record_id })));
      return li;
    }
    if (!ctx.can("supervisor")) {
      li.append(h("p", { class: "hint" }, t("sync.decide_supervisor")));
      return li;
    }
    li.append(decideForm(n));
    return li;
  };

  /**
   * Which number survives: keeping this desk's needs nothing here (the other
   * desk voids theirs); keeping the other voids this desk's record with
   * `replaced_by` (the core's void, audited and synced).
   */
  const decideForm = (n: DuplicateNotice): HTMLElement => {
    const other = n.other_record_id ?? "";
    const fields = new Map<string, Field>();
    const reason = field({ path: `reason-${n.id}`, label: t("sync.decide_reason"), width: "long" });
    fields.set("reason", reason);
    const voidBtn = button(t("sync.decide_void", { record: n.record_id ?? "", other }), { id: `decide-void-${n.id}`, danger: true, type: "submit" });
    const formError = alertLine(`decide-error-${n.id}`);
    const form = h(
      "form",
      { class: "form decide", novalidate: true, "aria-label": t("sync.decide_title", { record: n.record_id ?? "" }) },
      h("p", { class: "hint" }, t("sync.decide_keep", { record: n.record_id ?? "" })),
      reason.wrap,
      formError,
      h("div", { class: "actions" }, voidBtn),
    );
    if (!other) voidBtn.disabled = true;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      formError.textContent = "";
      try {
        await api.voidRecord(n.record_id ?? "", reason.input.value.trim() || t("sync.decide_default_reason", { other }), other);
        status.textContent = t("sync.decided_now", { record: n.record_id ?? "", other });
        show(await api.syncStatus());
      } catch (err) {
        showRefusal(fields, err, formError, voidBtn);
      }
    });
    return form;
  };

  let busy = false;
  now.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    now.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    error.textContent = "";
    result.textContent = "";
    status.textContent = t("sync.running");
    try {
      const s = await api.syncNow();
      // The sync may have brought the municipality's handout languages.
      forgetReferenceData();
      show(s);
      status.textContent = t("sync.done");
      const r = s.last_report;
      if (r) result.textContent = t("sync.result", { uploaded: String(r.uploaded), accepted: String(r.accepted), already_held: String(r.already_held), refused: String(r.refused), pending: String(r.pending) });
    } catch (err) {
      status.textContent = "";
      error.textContent = asCommandError(err).message;
      void api.syncStatus().then(show).catch(() => undefined);
    } finally {
      busy = false;
      progress.hidden = true;
      now.disabled = ctx.state.sync ? ctx.state.sync.training || !ctx.state.sync.enrolled : false;
    }
  });

  void api.syncStatus().then(show).catch((err) => (error.textContent = asCommandError(err).message));
  const el = h("section", { class: "screen" }, h("h1", { id: "screen-title" }, t("sync.title")), facts, h("div", { class: "actions" }, now, progress), status, result, error, refused, notices);
  return { el, title: "sync.title", focus: () => (now.disabled ? document.getElementById("main")?.focus() : now.focus()) };
}
