import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, key, mockShell, reference, settle, startApp, type } from "./test/harness";
import { filterMunicipalities, fold } from "./picker";
import { handoutLanguages, languageFor, languageName, municipalityName, normaliseCode } from "./reference";
import { setLang } from "./i18n";

afterEach(() => clearMocks());

const list = reference.municipalities;
const names = (q: string) => filterMunicipalities(list, q).map((m) => m.name);

describe("finding a municipality", () => {
  it("folds Danish letters and accents, so a name typed without them is found", () => {
    expect(fold("København")).toBe("kobenhavn");
    expect(fold("Ærø")).toBe("aero");
    expect(names("kobenhavn")).toEqual(["København"]);
    expect(names("aero")).toContain("Ærø");
  });

  it("lists names that start with the query before those that only contain it", () => {
    const found = names("hol");
    expect(found.slice(0, 2).sort()).toEqual(["Holbæk", "Holstebro"]);
    expect(found.slice(2).sort()).toEqual(["Bornholm", "Hørsholm"]);
  });

  it("finds by code prefix, with three or four digits", () => {
    expect(filterMunicipalities(list, "101").map((m) => m.code)).toEqual(["101"]);
    expect(filterMunicipalities(list, "0101").map((m) => m.code)).toEqual(["101"]);
    expect(filterMunicipalities(list, "46").map((m) => m.code)).toContain("461");
  });

  it("names a typed code, and no name for a code no municipality has", () => {
    expect(normaliseCode("0101")).toBe("101");
    expect(normaliseCode("abc")).toBeNull();
    expect(municipalityName(reference, "461")).toBe("Odense");
    expect(municipalityName(reference, "999")).toBeNull();
  });

  it("offers all 98 municipalities for an empty query", () => {
    expect(filterMunicipalities(list, "")).toHaveLength(98);
  });
});

describe("the picker at first start", () => {
  async function open() {
    mockShell({ desk: null });
    await startApp();
    return $("#f-municipality") as HTMLInputElement;
  }

  it("typing a name and Enter puts the municipality's code in the field and its name beside it", async () => {
    const input = await open();
    expect(input.getAttribute("role")).toBe("combobox");
    input.focus();
    type("#f-municipality", "Odens");
    expect(input.getAttribute("aria-expanded")).toBe("true");
    expect($("#f-municipality-list").textContent).toContain("461 Odense");
    expect(input.getAttribute("aria-activedescendant")).toBe("f-municipality-opt-461");
    const enter = key(input, "Enter");
    expect(enter.defaultPrevented).toBe(true); // picks; does not submit the form
    expect(input.value).toBe("461");
    expect($("#f-municipality-name").textContent).toBe("Odense");
    expect(input.getAttribute("aria-expanded")).toBe("false");
    expect($("#main").dataset.screen).toBe("first-start");
  });

  it("arrow keys move through the matches and Esc closes the list, leaving the screen as it is", async () => {
    const input = await open();
    input.focus();
    type("#f-municipality", "fre");
    const first = input.getAttribute("aria-activedescendant");
    key(input, "ArrowDown");
    const second = input.getAttribute("aria-activedescendant");
    expect(second).not.toBe(first);
    expect($(`#${second}`).getAttribute("aria-selected")).toBe("true");
    key(input, "Escape");
    expect(input.getAttribute("aria-expanded")).toBe("false");
    expect($("#f-municipality-list").hidden).toBe(true);
    expect(input.value).toBe("fre");
  });

  it("shows the name next to a typed code, and none for an unknown code", async () => {
    const input = await open();
    type("#f-municipality", "101");
    expect($("#f-municipality-name").textContent).toBe("København");
    // A typed code is not replaced by Enter: the form goes on with it.
    expect(key(input, "Enter").defaultPrevented).toBe(false);
    type("#f-municipality", "999");
    expect($("#f-municipality-name").textContent).toBe("");
    expect(input.getAttribute("aria-describedby")).toContain("f-municipality-name");
  });

  it("a click on a match picks it", async () => {
    const input = await open();
    input.focus();
    type("#f-municipality", "Aarhus");
    $("#f-municipality-opt-751").click();
    await settle();
    expect(input.value).toBe("751");
    expect($("#f-municipality-name").textContent).toBe("Aarhus");
  });
});

describe("handout languages", () => {
  it("carries Danish and English, then the chosen language only when its handout exists", () => {
    expect(handoutLanguages(reference, "da")).toEqual(["da", "en"]);
    expect(handoutLanguages(reference, "de")).toEqual(["da", "en", "de"]);
    expect(handoutLanguages(reference, "sv")).toEqual(["da", "en"]);
  });

  it("suggests a nationality's language, written in any case", () => {
    expect(languageFor(reference, " at ")).toBe("de");
    expect(languageFor(reference, "SE")).toBeNull();
  });

  it("names a language the catalogs do not know yet in the window's language", () => {
    setLang("en");
    expect(languageName("de")).toBe("German");
    expect(languageName("sv")).toBe("Swedish");
    setLang("da");
    expect(languageName("de")).toBe("Tysk");
    expect(languageName("sv").toLowerCase()).toBe("svensk");
    setLang("en");
  });
});
