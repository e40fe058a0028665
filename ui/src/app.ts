// The window's frame: header (desk, training mark, online state, staff,
// language), navigation with shortcuts, the screen stack (Esc goes back),
// and the idle lock. Screens are plain functions that build their DOM.
import { api, onSessionLocked, type DeskView, type StaffView, type SyncView, type Role } from "./api";
import { lang, setLang, t, type Lang } from "./i18n";
import { button, h, kbd } from "./dom";

export type ScreenName =
  | "first-start"
  | "sign-in"
  | "applicant"
  | "review"
  | "result"
  | "records"
  | "record"
  | "sync"
  | "report"
  | "settings"
  | "staff"
  | "password";

export interface Screen {
  el: HTMLElement;
  /** Catalog key of the screen's heading (the window title follows it). */
  title: string;
  /** Where focus goes when the screen opens. */
  focus?: () => void;
  /** Esc on this screen; return true when handled (default: go back). */
  onEsc?: () => boolean;
  dispose?: () => void;
}

export interface AppState {
  desk: DeskView | null;
  session: StaffView | null;
  sync: SyncView | null;
  idleLockMinutes: number;
  /** A draft or an issued record carried between the steps of one applicant. */
  flow: Record<string, unknown>;
}

export interface Ctx {
  state: AppState;
  go(name: ScreenName, params?: Record<string, unknown>): void;
  back(): void;
  /** Replaces the whole stack (after sign-in, a finished issue, a lock). */
  reset(name: ScreenName, params?: Record<string, unknown>): void;
  signedIn(staff: StaffView): void;
  deskReady(desk: DeskView): void;
  lock(reasonKey?: string): void;
  refreshSync(): Promise<void>;
  setSync(view: SyncView): void;
  can(role: Role): boolean;
}

export type ScreenFactory = (ctx: Ctx, params: Record<string, unknown>) => Screen;

const ACTIVITY = ["keydown", "pointerdown", "input"];
const ROLE_ORDER: Role[] = ["clerk", "supervisor", "admin"];

/** Whether `have` includes `need` (each role includes the one before it). */
export function roleIncludes(have: Role | undefined, need: Role): boolean {
  return !!have && ROLE_ORDER.indexOf(have) >= ROLE_ORDER.indexOf(need);
}

interface NavItem {
  screen: ScreenName;
  key: string;
  shortcut: string;
  code: string;
  role: Role;
}

export const NAV: NavItem[] = [
  { screen: "applicant", key: "nav.applicant", shortcut: "Alt+N", code: "KeyN", role: "clerk" },
  { screen: "records", key: "nav.records", shortcut: "Alt+R", code: "KeyR", role: "clerk" },
  { screen: "sync", key: "nav.sync", shortcut: "Alt+Y", code: "KeyY", role: "clerk" },
  { screen: "report", key: "nav.report", shortcut: "Alt+D", code: "KeyD", role: "supervisor" },
  { screen: "settings", key: "nav.settings", shortcut: "Alt+I", code: "KeyI", role: "admin" },
  { screen: "staff", key: "nav.staff", shortcut: "Alt+P", code: "KeyP", role: "admin" },
];

/** Builds the frame inside `root` and runs the desk UI. */
export class App implements Ctx {
  state: AppState = { desk: null, session: null, sync: null, idleLockMinutes: 5, flow: {} };
  private stack: Array<{ name: ScreenName; params: Record<string, unknown> }> = [];
  private current: Screen | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private syncTimer: ReturnType<typeof setInterval> | null = null;
  private readonly header: HTMLElement;
  private readonly nav: HTMLElement;
  private readonly main: HTMLElement;
  private readonly announcer: HTMLElement;
  private readonly keyListener = (e: KeyboardEvent) => this.onKey(e);
  private readonly activityListener = () => this.touch();

  constructor(
    private readonly root: HTMLElement,
    private readonly screens: Record<ScreenName, ScreenFactory>,
  ) {
    this.header = h("header", { class: "app-header" });
    this.nav = h("nav", { class: "app-nav", "aria-label": "" });
    this.main = h("main", { id: "main", class: "app-main", tabindex: "-1" });
    this.announcer = h("p", { class: "sr-only", "aria-live": "polite", id: "announcer" });
    root.replaceChildren(h("a", { href: "#main", class: "skip-link", id: "skip-link" }), this.header, this.nav, this.main, this.announcer);
    document.addEventListener("keydown", this.keyListener, true);
    for (const ev of ACTIVITY) document.addEventListener(ev, this.activityListener, true);
    // The shell applies the idle lock too (the core's rule): when it answers
    // `locked`, the window goes back to sign-in and says why.
    onSessionLocked(() => this.lock("signin.locked_idle"));
  }

  /** Asks the shell what state the desk is in and opens the first screen. */
  async start(): Promise<void> {
    try {
      const s = await api.startup();
      setLang(s.lang);
      this.state.desk = s.desk;
      this.state.session = s.session;
      this.state.idleLockMinutes = s.idle_lock_minutes;
    } catch (e) {
      this.renderFrame();
      this.main.replaceChildren(h("p", { class: "alert-line", role: "alert", id: "fatal" }, (e as { message: string }).message));
      return;
    }
    this.renderFrame();
    if (!this.state.desk) this.reset("first-start");
    else if (this.state.session?.must_change) {
      // A reset password: nothing but the change form until it is changed.
      this.state.session = null;
      this.renderFrame();
      this.reset("sign-in", { mustChange: true });
    } else if (!this.state.session) this.reset("sign-in");
    else this.reset("applicant");
    void this.refreshSync();
    this.syncTimer = setInterval(() => void this.refreshSync(), 30_000);
  }

  /** Ends timers and listeners (tests start many apps in one document). */
  stop(): void {
    document.removeEventListener("keydown", this.keyListener, true);
    for (const ev of ACTIVITY) document.removeEventListener(ev, this.activityListener, true);
    onSessionLocked(null);
    this.current?.dispose?.();
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
  }

  can(role: Role): boolean {
    return roleIncludes(this.state.session?.role, role);
  }

  go(name: ScreenName, params: Record<string, unknown> = {}): void {
    this.stack.push({ name, params });
    this.show();
  }

  back(): void {
    if (this.stack.length > 1) {
      this.stack.pop();
      this.show();
    }
  }

  reset(name: ScreenName, params: Record<string, unknown> = {}): void {
    this.stack = [{ name, params }];
    this.show();
  }

  signedIn(staff: StaffView): void {
    this.state.session = staff;
    this.renderFrame();
    this.touch();
    this.reset("applicant");
  }

  deskReady(desk: DeskView): void {
    this.state.desk = desk;
    this.renderFrame();
    this.reset("sign-in");
    void this.refreshSync();
  }

  lock(reasonKey?: string): void {
    void api.signOut().catch(() => undefined);
    this.state.session = null;
    this.state.flow = {};
    this.renderFrame();
    this.reset("sign-in", reasonKey ? { notice: reasonKey } : {});
  }

  async refreshSync(): Promise<void> {
    if (!this.state.desk) return;
    try {
      this.setSync(await api.syncStatus());
    } catch {
      // The indicator keeps its last state; the sync screen shows the error.
    }
  }

  setSync(view: SyncView): void {
    this.state.sync = view;
    this.renderIndicator();
  }

  /** Language switch from the header: one click, re-renders the frame and the screen. */
  switchLang(l: Lang): void {
    setLang(l);
    // The core's sentences follow the window's language.
    void api.setLanguage(l).catch(() => undefined);
    this.renderFrame();
    this.show();
  }

  private show(): void {
    this.current?.dispose?.();
    const top = this.stack[this.stack.length - 1];
    if (!top) return;
    const screen = this.screens[top.name](this, top.params);
    this.current = screen;
    this.main.dataset.screen = top.name;
    this.main.replaceChildren(screen.el);
    // A screen opens at its top, whatever the last one was scrolled to.
    if (document.scrollingElement) document.scrollingElement.scrollTop = 0;
    document.title = `${t(screen.title)} · ${t("app.name")}${this.state.desk?.training ? ` · ${t("app.training")}` : ""}`;
    this.renderNavState(top.name);
    this.announcer.textContent = t(screen.title);
    (screen.focus ?? (() => this.main.focus()))();
    // When the first screen took focus: the benchmark's "interactive" moment.
    if (!this.main.dataset.readyAt) this.main.dataset.readyAt = String(Date.now());
  }

  private renderFrame(): void {
    const desk = this.state.desk;
    const staff = this.state.session;
    const other: Lang = lang() === "da" ? "en" : "da";
    const langBtn = h("button", { type: "button", class: "btn ghost", id: "lang-toggle", lang: other }, t(`lang.${other}`));
    langBtn.addEventListener("click", () => this.switchLang(other));
    const lockBtn = staff ? button(t("nav.lock"), { id: "lock", shortcut: "Alt+L" }) : null;
    lockBtn?.classList.add("ghost");
    lockBtn?.addEventListener("click", () => this.lock());
    // The signed-in member's name opens the change of their own password.
    const staffLabel = staff ? t("app.staff_label", { name: staff.name, role: t(`role.${staff.role}`) }) : null;
    const staffButton = staffLabel
      ? h("button", { type: "button", class: "staff", id: "staff-label", title: `${t("app.change_password")} (Alt+K)`, "aria-label": `${staffLabel}: ${t("app.change_password")}`, "aria-keyshortcuts": "Alt+K" }, staffLabel)
      : null;
    staffButton?.addEventListener("click", () => this.openFromNav("password"));
    const parts: Array<Node | null> = [
      h("span", { class: "app-name", id: "app-name" }, t("app.name")),
      desk?.training ? h("span", { class: "training-mark", id: "training-mark" }, t("app.training")) : null,
      desk ? h("span", { class: "desk-label", id: "desk-label", title: desk.desk_id }, t("app.desk_label", { office: desk.office, desk: String(desk.desk_number) })) : null,
      h("span", { class: "spacer" }),
      h("span", { id: "online", class: "online-indicator", role: "status" }),
      staffButton,
      langBtn,
      lockBtn,
    ];
    this.header.replaceChildren(...parts.filter((p): p is Node => p !== null));
    this.skipLink().textContent = t("app.skip");
    this.nav.setAttribute("aria-label", t("nav.label"));
    this.nav.replaceChildren();
    if (staff) {
      for (const item of NAV) {
        if (!this.can(item.role)) continue;
        const b = h("button", { type: "button", class: "nav-item", id: `nav-${item.screen}`, "aria-keyshortcuts": item.shortcut }, t(item.key), " ", kbd(item.shortcut));
        b.addEventListener("click", () => this.openFromNav(item.screen));
        this.nav.append(b);
      }
    }
    this.nav.hidden = !staff;
    this.renderIndicator();
  }

  private skipLink(): HTMLElement {
    return this.root.querySelector("#skip-link") as HTMLElement;
  }

  private renderIndicator(): void {
    const el = this.header.querySelector("#online");
    if (!el) return;
    const s = this.state.sync;
    let key = "online.unknown";
    let cls = "unknown";
    if (this.state.desk?.training || s?.training) {
      key = "online.training";
      cls = "training";
    } else if (s?.online === true) {
      key = "online.online";
      cls = "online";
    } else if (s?.online === false) {
      key = "online.offline";
      cls = "offline";
    }
    el.className = `online-indicator ${cls}`;
    el.replaceChildren(h("span", { class: "dot", "aria-hidden": "true" }), t(key));
    if (s?.syncing) el.append(" · ", t("sync.syncing_now"));
    if (s && s.queued > 0) el.append(" · ", t("online.queued", { count: String(s.queued) }));
  }

  private renderNavState(name: ScreenName): void {
    this.nav.querySelectorAll<HTMLElement>(".nav-item").forEach((b) => {
      const active = b.id === `nav-${name}` || (name === "record" && b.id === "nav-records") || (["review", "result"].includes(name) && b.id === "nav-applicant");
      if (active) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    });
  }

  private openFromNav(screen: ScreenName): void {
    const top = this.stack[this.stack.length - 1];
    if (screen === "applicant") {
      this.state.flow = {};
      this.reset("applicant");
    } else if (top?.name !== screen) {
      this.go(screen);
    }
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "Escape") {
      // An open list (the municipality picker) closes first; Esc is its own.
      if ((e.target as Element | null)?.getAttribute?.("aria-expanded") === "true") return;
      if (!this.current) return;
      const handled = this.current.onEsc?.() ?? false;
      if (!handled) this.back();
      e.preventDefault();
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey && this.state.session) {
      if (e.code === "KeyL") {
        e.preventDefault();
        this.lock();
        return;
      }
      if (e.code === "KeyK") {
        e.preventDefault();
        this.openFromNav("password");
        return;
      }
      const item = NAV.find((n) => n.code === e.code);
      if (item && this.can(item.role)) {
        e.preventDefault();
        this.openFromNav(item.screen);
      }
    }
  }

  /** Any activity restarts the idle lock's clock. */
  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (!this.state.session || this.state.idleLockMinutes <= 0) return;
    this.idleTimer = setTimeout(() => {
      this.lock("signin.locked_idle");
    }, this.state.idleLockMinutes * 60_000);
  }
}
