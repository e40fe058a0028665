// Small DOM helpers: elements, labelled fields with a reserved error line,
// and the announcements screen readers need. No framework (see ARCHITECTURE.md).
import { t } from "./i18n";
import { asCommandError, type CommandError, type FieldError } from "./api";

type Attrs = Record<string, string | boolean | number | undefined | null>;
type Child = Node | string | null | undefined | false;

/** An element with attributes (`false`/`null` skip one) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") el.className = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** Text from the catalog. */
export function tx(key: string, args?: Record<string, string>): Text {
  return document.createTextNode(t(key, args));
}

/** A keyboard shortcut shown next to an action, e.g. `Enter`, `Alt+N`. */
export function kbd(keys: string): HTMLElement {
  return h("kbd", { "aria-hidden": "true" }, keys);
}

/** A button with its label and the shortcut that also triggers it. */
export function button(label: string, opts: { id?: string; primary?: boolean; shortcut?: string; type?: "button" | "submit"; danger?: boolean } = {}): HTMLButtonElement {
  const cls = ["btn", opts.primary ? "primary" : "", opts.danger ? "danger" : ""].filter(Boolean).join(" ");
  const b = h("button", { type: opts.type ?? "button", id: opts.id, class: cls, "aria-keyshortcuts": opts.shortcut }, label);
  if (opts.shortcut) b.append(" ", kbd(opts.shortcut));
  return b;
}

export interface FieldOptions {
  /** The JSON path the core names in its FieldErrors; also gives the element's id. */
  path: string;
  label: string;
  hint?: string;
  kind?: "text" | "password" | "select" | "checkbox" | "textarea" | "number";
  options?: Array<[string, string]>;
  value?: string;
  autocomplete?: string;
  required?: boolean;
  width?: "short" | "medium" | "long";
  inputmode?: string;
  /** Shown but not editable (a select is disabled, which also keeps it out of tab order). */
  readonly?: boolean;
}

export interface Field {
  wrap: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  error: HTMLElement;
}

/** The element id of the input for a JSON path: `document.number` → `f-document-number`. */
export function fieldId(path: string): string {
  return "f-" + path.replace(/[^A-Za-z0-9_-]/g, "-");
}

/**
 * A labelled input with an optional hint and an error line that always takes
 * its room (no layout jump when a message appears). The input names both in
 * `aria-describedby`; the error line is a live region.
 */
export function field(o: FieldOptions): Field {
  const id = fieldId(o.path);
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [o.hint ? hintId : "", errorId].filter(Boolean).join(" ");
  let input: Field["input"];
  const common = { id, name: o.path, "aria-describedby": describedBy, "data-path": o.path, "aria-required": o.required ? "true" : undefined };
  if (o.kind === "select") {
    input = h("select", common);
    for (const [value, label] of o.options ?? []) input.append(h("option", { value }, label));
    if (o.value !== undefined) input.value = o.value;
  } else if (o.kind === "textarea") {
    input = h("textarea", { ...common, rows: 3, spellcheck: "false", autocomplete: "off" });
    input.value = o.value ?? "";
  } else {
    input = h("input", {
      ...common,
      type: o.kind === "checkbox" ? "checkbox" : o.kind === "password" ? "password" : "text",
      autocomplete: o.autocomplete ?? "off",
      inputmode: o.inputmode,
      spellcheck: "false",
    });
    if (o.kind !== "checkbox") input.value = o.value ?? "";
  }
  const error = h("p", { id: errorId, class: "field-error", role: "alert", "aria-live": "polite" });
  const label = h("label", { for: id }, o.label);
  if (o.readonly) {
    if (input instanceof HTMLSelectElement) input.disabled = true;
    else input.readOnly = true;
    input.setAttribute("aria-readonly", "true");
  }
  const hint = o.hint ? h("p", { id: hintId, class: "hint" }, o.hint) : null;
  const cls = `field ${o.kind === "checkbox" ? "check" : ""} ${o.width ?? ""}`.trim();
  const wrap = o.kind === "checkbox" ? h("div", { class: cls }, h("div", { class: "check-row" }, input, label), hint, error) : h("div", { class: cls }, label, hint, input, error);
  return { wrap, input, error };
}

/** Shows one field's error (or clears it with null), marking the input invalid. */
export function setFieldError(f: Field, message: string | null): void {
  f.error.textContent = message ?? "";
  if (message) f.input.setAttribute("aria-invalid", "true");
  else f.input.removeAttribute("aria-invalid");
}

/**
 * Puts each FieldError next to its field; errors for paths without a field
 * go to `rest` (a form-level message). Returns the first field that has an error.
 */
export function showFieldErrors(fields: Map<string, Field>, errors: FieldError[], rest: HTMLElement | null, only?: Set<string>): Field | null {
  const byPath = new Map<string, string>();
  const unplaced: string[] = [];
  for (const e of errors) {
    if (fields.has(e.field)) {
      if (!byPath.has(e.field)) byPath.set(e.field, e.message);
    } else unplaced.push(e.message);
  }
  let first: Field | null = null;
  for (const [path, f] of fields) {
    if (only && !only.has(path)) continue;
    const message = byPath.get(path) ?? null;
    setFieldError(f, message);
    if (message && !first) first = f;
  }
  if (rest) rest.textContent = unplaced.join(" ");
  return first;
}

/**
 * Shows a command's refusal on a form: each field problem next to its field,
 * any other sentence in `rest`. Focus goes to the first field in error, else
 * to `fallback`. Returns the refusal for callers that act on its code.
 */
export function showRefusal(fields: Map<string, Field>, err: unknown, rest: HTMLElement, fallback: HTMLElement): CommandError {
  const ce = asCommandError(err);
  const first = showFieldErrors(fields, ce.fields, rest);
  if (!ce.fields.length) rest.textContent = ce.message;
  (first?.input ?? fallback).focus();
  return ce;
}

/**
 * Runs `run` when the form is submitted (Enter or its submit button), one
 * submission at a time: `submit` is disabled until `run` has finished, so a
 * second Enter on a slow command does nothing.
 */
export function onSubmit(form: HTMLFormElement, submit: HTMLButtonElement, run: () => Promise<void>): void {
  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    busy = true;
    submit.disabled = true;
    try {
      await run();
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });
}

/** A status line that screen readers announce politely. */
export function statusLine(id?: string): HTMLElement {
  return h("p", { id, class: "status", role: "status", "aria-live": "polite" });
}

/** An alert line for refusals: announced at once, kept on screen. */
export function alertLine(id?: string): HTMLElement {
  return h("p", { id, class: "alert-line", role: "alert" });
}

/** A date and time from the shell (RFC 3339) in the desk's local form. */
export function formatTime(iso: string | null): string {
  if (!iso) return t("common.never");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Today's date as YYYY-MM-DD in local time. */
export function today(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
