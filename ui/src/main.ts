import { invoke } from "@tauri-apps/api/core";
import { setLang, t, translate, type Lang } from "./i18n";

interface AppInfo {
  name: string;
  version: string;
}

/** Shows the product's name and the core's version, asked from the Rust side. */
export async function showAppInfo(doc: Document = document): Promise<void> {
  const version = doc.getElementById("version")!;
  const status = doc.getElementById("status")!;
  try {
    const info = await invoke<AppInfo>("app_info");
    doc.getElementById("app-name")!.textContent = info.name;
    version.textContent = t("app.version", { version: info.version });
    version.dataset.version = info.version;
  } catch (e) {
    status.textContent = t("app.error.backend", { detail: String(e) });
    status.classList.add("error");
  }
}

function start(): void {
  const select = document.getElementById("lang-select") as HTMLSelectElement;
  const apply = (l: Lang) => {
    setLang(l);
    translate(document);
    void showAppInfo();
  };
  select.addEventListener("change", () => apply(select.value as Lang));
  apply("da");
}

if (!import.meta.env.VITEST) {
  start();
}
