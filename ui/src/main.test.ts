import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { catalogKeys, setLang, t } from "./i18n";
import { showAppInfo } from "./main";

function page(): Document {
  document.body.innerHTML = `<h1 id="app-name"></h1><span id="version"></span><p id="status"></p>`;
  return document;
}

afterEach(() => clearMocks());

describe("header", () => {
  it("shows the version the core reports", async () => {
    mockIPC((cmd) => (cmd === "app_info" ? { name: "Skranke", version: "9.8.7" } : undefined));
    setLang("en");
    const doc = page();
    await showAppInfo(doc);
    expect(doc.getElementById("version")!.textContent).toBe("Version 9.8.7");
    expect(doc.getElementById("version")!.dataset.version).toBe("9.8.7");
  });

  it("says in a sentence when the core does not answer, never 'undefined'", async () => {
    mockIPC(() => {
      throw new Error("backend gone");
    });
    setLang("da");
    const doc = page();
    await showAppInfo(doc);
    const status = doc.getElementById("status")!.textContent!;
    expect(status).toContain("Programmets kerne svarer ikke");
    expect(status).not.toContain("undefined");
  });
});

describe("catalogs", () => {
  it("Danish and English have exactly the same keys", () => {
    expect(catalogKeys("da")).toEqual(catalogKeys("en"));
  });

  it("Danish is the default and fills placeholders", () => {
    setLang("da");
    expect(t("app.version", { version: "1.2.3" })).toBe("Version 1.2.3");
    expect(t("app.language")).toBe("Sprog");
  });
});
