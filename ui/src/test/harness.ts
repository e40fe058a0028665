// Test harness: a mocked shell (mockIPC) with per-command handlers and a
// record of every call, and the real App started in a fresh document.
import { mockIPC } from "@tauri-apps/api/mocks";
import { App } from "../app";
import { SCREENS } from "../main";
import { setLang } from "../i18n";
import { forgetReferenceData } from "../reference";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { DeskView, ReferenceData, StaffView, Startup, SyncView } from "../api";

export type Handler = (args: Record<string, unknown>) => unknown;

export const desk: DeskView = {
  desk_id: "T-ABCD1234",
  municipality: "101",
  municipality_name: "København",
  office: "Borgerservice Nord",
  desk_number: 3,
  training: true,
  lease_frozen: false,
  frozen_reason: null,
};

export const clerk: StaffView = { staff_id: 2, name: "anne", role: "clerk" };
export const supervisor: StaffView = { staff_id: 3, name: "bo", role: "supervisor" };
export const admin: StaffView = { staff_id: 1, name: "admin", role: "admin" };

export const syncView: SyncView = {
  training: true,
  enrolled: false,
  online: null,
  syncing: false,
  queued: 0,
  oldest_unsynced: null,
  oldest_age_secs: null,
  reserve_left: 16,
  reserve_low: false,
  last_sync: null,
  last_report: null,
  last_error: null,
  clock_behind: false,
  retired: false,
  refused: [],
  notices: [],
};

const coreDir = join(import.meta.dirname, "../../../crates/core");
const rulesDir = join(import.meta.dirname, "../../../crates/rules");

/**
 * What `reference_data` answers, from the project's own files: the 98
 * municipalities of the rules' data/kommunekoder.csv and the handout
 * languages of the core's letters/; the nationality map is a sample of the
 * rules'.
 */
export const reference: ReferenceData = {
  municipalities: readFileSync(join(rulesDir, "data/kommunekoder.csv"), "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const [code, name] = l.split(",");
      return { code: code.padStart(3, "0"), name };
    }),
  handout_languages: readdirSync(join(coreDir, "letters"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""))
    .sort(),
  handout_always: ["da", "en"],
  language_by_nationality: { AT: "de", DE: "de", PL: "pl", RO: "ro", GR: "el", GB: "en", DK: "da" },
};

export interface Mock {
  calls: Array<{ cmd: string; args: Record<string, unknown> }>;
  on(cmd: string, handler: Handler): void;
  called(cmd: string): Array<Record<string, unknown>>;
}

/** Mocks the shell: `startup` answers desk_status; other commands need `on`. */
export function mockShell(startup: Partial<Startup> = {}): Mock {
  const handlers = new Map<string, Handler>();
  const calls: Mock["calls"] = [];
  handlers.set("desk_status", () => ({ desk, session: null, lang: "en", idle_lock_minutes: 5, ...startup }));
  handlers.set("reference_data", () => reference);
  handlers.set("app_info", () => ({ name: "Skranke", version: "0.1.0" }));
  handlers.set("sync_status", () => syncView);
  handlers.set("sign_out", () => null);
  handlers.set("set_language", () => null);
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    const h = handlers.get(cmd);
    if (!h) throw { message: `no mock for ${cmd}`, fields: [] };
    return h((args ?? {}) as Record<string, unknown>);
  });
  return {
    calls,
    on: (cmd, handler) => handlers.set(cmd, handler),
    called: (cmd) => calls.filter((c) => c.cmd === cmd).map((c) => c.args),
  };
}

/** Starts the real App in a clean document. */
let running: App | null = null;

export async function startApp(): Promise<App> {
  running?.stop();
  forgetReferenceData();
  setLang("en");
  document.body.innerHTML = `<div id="app"></div><span id="version"></span>`;
  const app = new App(document.getElementById("app")!, SCREENS);
  running = app;
  await app.start();
  await settle();
  return app;
}

/** Lets pending promises (mocked IPC answers) and their DOM updates run. */
export async function settle(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await new Promise((r) => setTimeout(r, 0));
}

export function $(selector: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(selector);
  if (!el) throw new Error(`no element ${selector}`);
  return el;
}

export function type(selector: string, value: string): void {
  const el = $(selector) as HTMLInputElement;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

export function check(selector: string, on = true): void {
  const el = $(selector) as HTMLInputElement;
  el.checked = on;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

export function key(target: Element, k: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const e = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(e);
  return e;
}

export function submit(selector: string): void {
  const form = $(selector).closest("form")!;
  form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
}

/** A valid TD3 zone for a Polish passport (check digits computed by the test). */
export const TD3 = ["P<POLKOWALSKA<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<", "AB12345674POL9003254F3512319<<<<<<<<<<<<<<06"].join("\n");
