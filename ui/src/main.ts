import { App, type ScreenFactory, type ScreenName } from "./app";
import { api } from "./api";
import { t } from "./i18n";
import { firstStart } from "./screens/firststart";
import { signIn } from "./screens/signin";
import { applicantForm } from "./screens/applicant";
import { result, review } from "./screens/issue";
import { recordDetail, records } from "./screens/records";
import { syncPanel } from "./screens/sync";
import { dayReport } from "./screens/report";
import { settings } from "./screens/settings";
import { staffScreen } from "./screens/staff";
import { passwordScreen } from "./screens/password";

export const SCREENS: Record<ScreenName, ScreenFactory> = {
  "first-start": firstStart,
  "sign-in": signIn,
  applicant: applicantForm,
  review,
  result,
  records,
  record: recordDetail,
  sync: syncPanel,
  report: dayReport,
  settings,
  staff: staffScreen,
  password: passwordScreen,
};

/** Shows the core's version in the footer, asked from the Rust side. */
export async function showAppInfo(doc: Document = document): Promise<void> {
  const version = doc.getElementById("version")!;
  try {
    const info = await api.appInfo();
    version.textContent = t("app.version", { version: info.version });
    version.dataset.version = info.version;
  } catch (e) {
    version.textContent = (e as { message: string }).message;
    version.classList.add("error");
  }
}

/** Starts the desk UI in `root`. */
export async function startApp(root: HTMLElement): Promise<App> {
  const app = new App(root, SCREENS);
  await app.start();
  void showAppInfo();
  return app;
}

if (!import.meta.env.VITEST) {
  void startApp(document.getElementById("app")!);
}
