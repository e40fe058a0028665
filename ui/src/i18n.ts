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

/** Fills every element marked `data-i18n` below `root`. */
export function translate(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n!);
  });
}

export function catalogKeys(l: Lang): string[] {
  return Object.keys(catalogs[l]).sort();
}
