// Message catalogs for the desk UI: Danish by default, English one click
// away. Every visible string comes from here, never inline in markup or code.
import da from "./locales/da.json";
import en from "./locales/en.json";

export type Lang = "da" | "en";
type Catalog = Record<string, string>;

const catalogs: Record<Lang, Catalog> = { da, en };
let current: Lang = "da";

export function setLang(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
}

export function lang(): Lang {
  return current;
}

/** The text for `key` with `{name}` placeholders filled; the key itself when missing. */
export function t(key: string, args: Record<string, string> = {}): string {
  const template = catalogs[current][key] ?? catalogs.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => args[name] ?? whole);
}

/**
 * The text for a count: the catalog holds one key per plural form of the
 * language (`key.one`, `key.other`, as `Intl.PluralRules` names them; Danish
 * and English have these two), `{count}` is filled with the number. A form
 * the catalog lacks falls back to `key.other`.
 */
export function tn(key: string, count: number, args: Record<string, string> = {}): string {
  const form = new Intl.PluralRules(current).select(count);
  const catalog = catalogs[current];
  const chosen = catalog[`${key}.${form}`] !== undefined ? `${key}.${form}` : `${key}.other`;
  return t(chosen, { ...args, count: String(count) });
}

/**
 * The plural families of a catalog: each key with a `.one` form and the
 * forms it has (`records.found` → one, other). Without a `.one` a key such
 * as `doctype.other` names a kind, not a plural form.
 */
export function pluralFamilies(l: Lang): Map<string, string[]> {
  const keys = Object.keys(catalogs[l]);
  const out = new Map<string, string[]>();
  for (const key of keys) {
    const base = key.endsWith(".one") ? key.slice(0, -4) : null;
    if (!base) continue;
    const forms = ["zero", "one", "two", "few", "many", "other"].filter((f) => keys.includes(`${base}.${f}`));
    out.set(base, forms.sort());
  }
  return out;
}

/** Fills every element marked `data-i18n` below `root`. */
export function translate(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n!);
  });
}

export function catalogKeys(l: Lang): string[] {
  return Object.keys(catalogs[l]).sort();
}
