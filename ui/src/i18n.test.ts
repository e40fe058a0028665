import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { catalogKeys, pluralFamilies, setLang, t, tn } from "./i18n";
import da from "./locales/da.json";
import en from "./locales/en.json";
import { asCommandError } from "./api";

const placeholders = (s: string) => (s.match(/\{(\w+)\}/g) ?? []).sort();

describe("catalogs", () => {
  it("Danish and English have exactly the same keys", () => {
    expect(catalogKeys("da")).toEqual(catalogKeys("en"));
  });

  it("every translation uses the same placeholders as the English", () => {
    for (const key of catalogKeys("en")) {
      expect(placeholders((da as Record<string, string>)[key]), key).toEqual(placeholders((en as Record<string, string>)[key]));
    }
  });

  it("every literal catalog key the code asks for exists", () => {
    const dir = join(import.meta.dirname);
    const files = [...readdirSync(dir), ...readdirSync(join(dir, "screens")).map((f) => `screens/${f}`)].filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    const keys = new Set(catalogKeys("en"));
    const missing: string[] = [];
    for (const f of files) {
      const src = readFileSync(join(dir, f), "utf8");
      for (const m of src.matchAll(/\bt\("([a-z_]+\.[a-z_.-]+)"/g)) if (!keys.has(m[1])) missing.push(`${f}: ${m[1]}`);
      // A count's text: the base key has its plural forms.
      for (const m of src.matchAll(/\btn\("([a-z_]+\.[a-z_.-]+)"/g)) for (const form of ["one", "other"]) if (!keys.has(`${m[1]}.${form}`)) missing.push(`${f}: ${m[1]}.${form}`);
    }
    expect(missing).toEqual([]);
  });

  it("Danish is the default and fills placeholders", () => {
    setLang("da");
    expect(t("app.version", { version: "1.2.3" })).toBe("Version 1.2.3");
    expect(t("nav.records")).toBe("Sager");
  });
});

describe("plural forms", () => {
  it("each count's text has the forms its language's plural rules name (one and other for Danish and English) in both catalogs", () => {
    for (const l of ["da", "en"] as const) {
      const families = pluralFamilies(l);
      expect(families.size, l).toBeGreaterThan(3);
      const need = [...new Set([1, 0, 2, 5, 21, 100].map((n) => new Intl.PluralRules(l).select(n)))].sort();
      for (const [key, forms] of families) expect(forms, `${l} ${key}`).toEqual(need);
    }
    expect([...pluralFamilies("da").keys()].sort()).toEqual([...pluralFamilies("en").keys()].sort());
  });

  it("chooses the form by the count: 1 is singular, 0 and 2 plural, in both languages", () => {
    setLang("en");
    expect(tn("applicant.has_errors", 1)).toBe("1 field needs attention before going on.");
    expect(tn("applicant.has_errors", 2)).toBe("2 fields need attention before going on.");
    expect(tn("records.found", 0)).toBe("0 records found.");
    expect(tn("report.saved", 1, { path: "/tmp/d.csv" })).toBe("1 record saved to /tmp/d.csv.");
    setLang("da");
    expect(tn("applicant.has_errors", 1)).toBe("1 felt skal rettes, før du kan gå videre.");
    expect(tn("applicant.has_errors", 3)).toBe("3 felter skal rettes, før du kan gå videre.");
    expect(tn("sync.age_days", 1)).toBe("for 1 dag siden");
    expect(tn("sync.age_days", 2)).toBe("for 2 dage siden");
    setLang("en");
  });
});

describe("errors reach the clerk as a sentence", () => {
  it("keeps the shell's sentence and its field errors", () => {
    const e = asCommandError({ message: "Dokumentet er udløbet.", fields: [{ field: "document.expiry_date", code: "expired", message: "x" }] });
    expect(e.message).toBe("Dokumentet er udløbet.");
    expect(e.fields).toHaveLength(1);
  });

  it("never says 'undefined' for an empty or odd rejection", () => {
    setLang("en");
    for (const odd of [undefined, null, {}, "", { message: "" }, 42, new Error("")]) {
      const e = asCommandError(odd);
      expect(e.message).not.toMatch(/undefined|null|\[object/);
      expect(e.message.length).toBeGreaterThan(10);
    }
  });

  it("wraps a bare string from the IPC layer in a sentence", () => {
    setLang("en");
    expect(asCommandError("command issue not allowed").message).toContain("command issue not allowed");
  });
});
