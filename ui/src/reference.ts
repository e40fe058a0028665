// The lists the pickers offer, asked once from the shell (the core's tables:
// municipalities, handout languages, a nationality's language) and kept for
// the window's life. The window holds no copy of its own.
import { api, type ReferenceData } from "./api";
import { lang, t } from "./i18n";

let loaded: Promise<ReferenceData> | null = null;

/** The lists; asked from the shell on first use, then from memory. */
export function referenceData(): Promise<ReferenceData> {
  if (!loaded) {
    loaded = api.referenceData().catch((e) => {
      // A failed ask is asked again next time instead of kept.
      loaded = null;
      throw e;
    });
  }
  return loaded;
}

/** Forgets the lists (tests start many windows in one document). */
export function forgetReferenceData(): void {
  loaded = null;
}

/** A kommunekode as typed ("101", "0101") to the three digits the list uses. */
export function normaliseCode(text: string): string | null {
  const s = text.trim();
  if (!/^\d{1,4}$/.test(s)) return null;
  return String(Number(s)).padStart(3, "0");
}

/** The municipality's name for a typed code, or null when no municipality has it. */
export function municipalityName(data: ReferenceData, text: string): string | null {
  const code = normaliseCode(text);
  return code ? (data.municipalities.find((m) => m.code === code)?.name ?? null) : null;
}

/**
 * The handout's languages for a chosen language, in print order: those every
 * handout carries, then the chosen one when its handout exists.
 */
export function handoutLanguages(data: ReferenceData, chosen: string): string[] {
  const out = [...data.handout_always];
  if (data.handout_languages.includes(chosen) && !out.includes(chosen)) out.push(chosen);
  return out;
}

/** The handout language a nationality suggests, when that language's handout exists. */
export function languageFor(data: ReferenceData, nationality: string): string | null {
  return data.language_by_nationality[nationality.trim().toUpperCase()] ?? null;
}

/**
 * A language's name in the window's language: the catalog's, else (a handout
 * language added to the core before the window's catalogs name it) the
 * platform's, else the code.
 */
export function languageName(code: string): string {
  const key = `language.${code}`;
  const own = t(key);
  if (own !== key) return own;
  try {
    return new Intl.DisplayNames([lang()], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}
