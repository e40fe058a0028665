// The command contract between the desk UI and the Rust shell. Every type
// here mirrors a serde struct in src-tauri/ (same field names, snake_case);
// every command answers either its value or a CommandError whose message is
// a sentence from the core's catalogs in the desk's language.
import { invoke } from "@tauri-apps/api/core";
import { t } from "./i18n";

export type Role = "clerk" | "supervisor" | "admin";
export type Sex = "F" | "M";

/** One problem with one input, named by its JSON path (`document.expiry_date`). */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/**
 * What every command rejects with. `fields` is empty unless input was refused.
 * `code` marks the refusals the window acts on: `locked` (the idle lock ended
 * the session), `account_locked`, `must_change_password`.
 */
export interface CommandError {
  message: string;
  fields: FieldError[];
  code?: string;
}

export interface AppInfo {
  name: string;
  version: string;
}

/** One municipality for the pickers (`MunicipalityOption`): the three-digit code and the name. */
export interface MunicipalityOption {
  code: string;
  name: string;
}

/** The pickers' lists from the core (`ReferenceData` in src-tauri/reference.rs). */
export interface ReferenceData {
  municipalities: MunicipalityOption[];
  /** Every language a handout can be printed in. */
  handout_languages: string[];
  /** The languages every handout carries, in print order. */
  handout_always: string[];
  /** Nationality (alpha-2) to the handout language it suggests, where that handout exists. */
  language_by_nationality: Record<string, string>;
}

export interface DeskView {
  desk_id: string;
  municipality: string;
  municipality_name: string | null;
  office: string;
  desk_number: number;
  training: boolean;
  lease_frozen: boolean;
  frozen_reason: string | null;
}

export interface StaffView {
  staff_id: number;
  name: string;
  role: Role;
  /** An admin reset the password: the change form comes before anything else. */
  must_change?: boolean;
}

/** What the window needs at start: is there a desk, who is signed in, preferences. */
export interface Startup {
  desk: DeskView | null;
  session: StaffView | null;
  lang: "da" | "en";
  idle_lock_minutes: number;
}

export interface DeskInitRequest {
  mode: "training" | "enrol";
  registry_url: string;
  enrolment_code: string;
  municipality: string;
  office: string;
  desk_number: string;
  admin_name: string;
  admin_password: string;
}

/** A form filled from a scanned machine-readable zone (core::applicant::ApplicantDraft). */
export interface ApplicantDraft {
  given_names: string;
  surname: string;
  birth_date: string | null;
  sex: Sex | null;
  nationality: string | null;
  document: {
    type: "passport" | "id-card" | "other" | null;
    number: string;
    issuing_state: string | null;
    expiry_date: string | null;
    sex_on_document: "F" | "M" | "X" | null;
  };
  mrz_valid: boolean;
}

export interface MrzScan {
  draft: ApplicantDraft;
  /** Failed check digits and similar, each naming the form field it concerns. */
  problems: FieldError[];
}

/** A possible earlier record of the same person. */
export interface DuplicateView {
  /** `document`: the same identity document (the same person); `person`: name and birth date match (a review). */
  kind: "document" | "person";
  /** This desk's record; empty for a registry match (the registry names only the desk). */
  record_id: string;
  source: "local" | "registry";
  message: string;
  /** A registry match: the desk that holds it. */
  desk_id?: string | null;
}

/** Whether the registry was asked before issuing: `offline` means only the local check ran. */
export interface RegistryCheck {
  state: "clear" | "matched" | "offline" | "failed";
  message: string;
}

export interface ApplicantCheck {
  valid: boolean;
  errors: FieldError[];
  /** Advice that does not stop issuing (e.g. another municipality's job centre is competent). */
  notices: FieldError[];
  duplicates: DuplicateView[];
  /** Set when the registry was asked (enrolled desk, going on to review). */
  registry?: RegistryCheck | null;
}

/** The applicant as the core's JSON (issue 3's shape), built from the form's values. */
export type ApplicantJson = Record<string, unknown>;

/** A freshly issued record; its handout was spooled in the same act. */
export interface IssuedView {
  record_id: string;
  /** As staff and the handout show it: day + 60 on a training desk. */
  number: string;
  birth_date: string;
  sex: Sex;
  training: boolean;
  issued_at: string;
  source: "online" | "lease";
  reserve_left: number;
  reserve_low: boolean;
  username: string;
  printer: string;
  job: string | null;
  /** Set when the record is issued but the handout did not leave: reprint. */
  delivery_error: string | null;
  /** What staff must know about the committed issue (the core's sentences). */
  warnings: string[];
}

/** The handout-to-be, before issuing: the password is only its masked shape. */
export interface HandoutPreview {
  municipality: string;
  office: string;
  name: string;
  password_mask: string;
  languages: string[];
  lapse_days: number;
  printer: string | null;
  training: boolean;
}

export interface PrintResult {
  record_id: string;
  username: string;
  printer: string;
  job: string | null;
}

export type RecordStatus = "issued" | "received" | "registered" | "voided";
/** Where a record stands with the registry (the core's RecordSyncState). */
export type SyncState = "queued" | "accepted" | "registered" | "refused" | "refused_downstream" | "training";

export interface RecordRow {
  record_id: string;
  number: string;
  name: string | null;
  document: string | null;
  issued_at: string;
  status: RecordStatus;
  sync_state: SyncState;
  training: boolean;
}

export interface RecordView extends RecordRow {
  birth_date: string;
  sex: Sex;
  nationality: string | null;
  issued_by: number;
  void_reason: string | null;
  voided_at: string | null;
  replaced_by: string | null;
  /** False once personal data was erased: a reprint then needs the document again. */
  personal_data: boolean;
}

/** The applicant's document shown again to reprint a record whose personal data was erased. */
export interface PresentedDocument {
  number: string;
  issuing_state: string | null;
  surname: string;
  given_names: string;
}

export interface RefusedEvent {
  event_id: string;
  kind: string;
  record_id: string | null;
  verdict: "conflict" | "invalid" | "unsendable" | "refused_downstream";
  /** The registry's reason as a sentence. */
  reason: string;
  refused_at: string;
}

export interface DuplicateNotice {
  id: number;
  /** `duplicate_document`, `duplicate_review`, `number_conflict`, … */
  kind: string;
  record_id: string | null;
  other_record_id: string | null;
  other_desk_id: string | null;
  message: string;
  created_at: string;
  /** A duplicate person: a supervisor decides which number survives. */
  duplicate: boolean;
  /** This desk's record's status (`issued`, `voided`), if the desk has it. */
  record_status: string | null;
  replaced_by: string | null;
}

/** What the last sync run did. */
export interface SyncCounts {
  uploaded: number;
  accepted: number;
  already_held: number;
  refused: number;
  pending: number;
}

export interface SyncView {
  training: boolean;
  enrolled: boolean;
  /** null: not asked since start. */
  online: boolean | null;
  /** A sync (background or "sync now") runs now. */
  syncing: boolean;
  /** Record events waiting for the registry's answer. */
  queued: number;
  oldest_unsynced: string | null;
  oldest_age_secs: number | null;
  reserve_left: number;
  reserve_low: boolean;
  last_sync: string | null;
  last_report: SyncCounts | null;
  last_error: string | null;
  clock_behind: boolean;
  retired: boolean;
  refused: RefusedEvent[];
  notices: DuplicateNotice[];
}

export interface ReportResult {
  path: string;
  rows: number;
}

export interface SettingsView {
  printer: string;
  printers: string[];
  password_lapse_days: number;
  privacy_controller: string;
  privacy_contact: string;
  privacy_dpo: string;
  /** Optional: printed after the notice's storage sentence only when set. */
  privacy_retention: string;
  /** Codes offered besides Danish and English, comma separated; empty: all. */
  handout_languages: string;
  ui_language: "da" | "en";
  idle_lock_minutes: number;
  /** The keys the municipality set at the registry (not editable here). */
  municipal: string[];
}

/** One staff account as the staff screen lists it; never a password. */
export interface StaffRow {
  staff_id: number;
  name: string;
  role: Role;
  active: boolean;
  created_at: string;
  /** The end of a lock in force now. */
  locked_until: string | null;
  /** The password is temporary (first or reset) and not yet changed. */
  must_change: boolean;
  /** The signed-in admin's own account. */
  me: boolean;
}

/** The add form: a first password the new member must change. */
export interface StaffInput {
  name: string;
  role: Role;
  password: string;
}

/** A rejection as a CommandError whatever the shell or the IPC layer threw. */
export function asCommandError(e: unknown): CommandError {
  if (e && typeof e === "object" && typeof (e as CommandError).message === "string" && (e as CommandError).message) {
    const fields = Array.isArray((e as CommandError).fields) ? (e as CommandError).fields : [];
    const code = (e as CommandError).code;
    return typeof code === "string" ? { message: (e as CommandError).message, fields, code } : { message: (e as CommandError).message, fields };
  }
  if (typeof e === "string" && e.trim()) return { message: t("error.core", { detail: e }), fields: [] };
  return { message: t("error.unknown"), fields: [] };
}

let sessionLocked: (() => void) | null = null;

/** Who hears that the shell dropped the session to the idle lock (the App). */
export function onSessionLocked(handler: (() => void) | null): void {
  sessionLocked = handler;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    const err = asCommandError(e);
    if (err.code === "locked") sessionLocked?.();
    throw err;
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  startup: () => call<Startup>("desk_status"),
  referenceData: () => call<ReferenceData>("reference_data"),
  setLanguage: (lang: "da" | "en") => call<null>("set_language", { lang }),
  deskInit: (request: DeskInitRequest) => call<DeskView>("desk_init", { request }),
  signIn: (name: string, password: string) => call<StaffView>("sign_in", { name, password }),
  signOut: () => call<null>("sign_out"),
  changePassword: (current: string, newPassword: string) =>
    call<StaffView>("change_password", { current, newPassword }),
  mrzScan: (text: string) => call<MrzScan>("mrz_scan", { text }),
  /** `registry`: also ask the registry (going on to review; audited there, so never while typing). */
  checkApplicant: (applicant: ApplicantJson, registry = false) => call<ApplicantCheck>("applicant_check", { applicant, registry }),
  issue: (applicant: ApplicantJson, duplicateReviewed: boolean) =>
    call<IssuedView>("issue", { applicant, duplicateReviewed }),
  handoutPreview: (applicant: ApplicantJson) => call<HandoutPreview>("handout_preview", { applicant }),
  reprint: (recordId: string, document?: PresentedDocument) =>
    call<PrintResult>("record_reprint", { recordId, document: document ?? null }),
  searchRecords: (query: string) => call<RecordRow[]>("records_search", { query }),
  record: (recordId: string) => call<RecordView>("record_detail", { recordId }),
  voidRecord: (recordId: string, reason: string, replacedBy: string) =>
    call<RecordView>("record_void", { recordId, reason, replacedBy }),
  syncStatus: () => call<SyncView>("sync_status"),
  syncNow: () => call<SyncView>("sync_now"),
  dayReport: (date: string, format: "csv" | "pdf", path: string) =>
    call<ReportResult>("report_day", { date, format, path }),
  reportPath: (date: string, format: "csv" | "pdf") => call<string>("report_default_path", { date, format }),
  settings: () => call<SettingsView>("settings_get"),
  saveSettings: (settings: SettingsView) => call<SettingsView>("settings_save", { settings }),
  staffList: () => call<StaffRow[]>("staff_list"),
  staffAdd: (staff: StaffInput) => call<StaffRow[]>("staff_add", { staff }),
  staffReset: (name: string, password: string) => call<StaffRow[]>("staff_reset", { name, password }),
  staffDisable: (name: string) => call<StaffRow[]>("staff_disable", { name }),
};
