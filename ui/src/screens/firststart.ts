// First start: a training desk (no registry, numbers with day + 60) or a desk
// enrolled with the registry; its municipality, office and desk number; and
// the first admin account.
import { api, type DeskInitRequest } from "../api";
import { t } from "../i18n";
import { municipalityPicker } from "../picker";
import { referenceData } from "../reference";
import { alertLine, button, field, h, showFieldErrors, showRefusal, statusLine, type Field } from "../dom";
import type { Ctx, Screen } from "../app";

export function firstStart(ctx: Ctx): Screen {
  const fields = new Map<string, Field>();
  const add = (f: Field, path: string) => (fields.set(path, f), f.wrap);

  const training = h("input", { type: "radio", name: "mode", id: "mode-training", value: "training", checked: true });
  const enrol = h("input", { type: "radio", name: "mode", id: "mode-enrol", value: "enrol" });
  const mode = h(
    "fieldset",
    { class: "choice" },
    h("legend", {}, t("first.mode")),
    h("div", { class: "check-row" }, training, h("label", { for: "mode-training" }, t("first.mode_training"))),
    h("p", { class: "hint" }, t("first.mode_training_hint")),
    h("div", { class: "check-row" }, enrol, h("label", { for: "mode-enrol" }, t("first.mode_enrol"))),
  );

  const url = field({ path: "registry_url", label: t("first.registry_url"), hint: t("first.registry_url_hint"), width: "long" });
  const code = field({ path: "enrolment_code", label: t("first.enrolment_code"), width: "medium" });
  const registry = h("fieldset", { class: "group", id: "enrol-fields" }, h("legend", {}, t("first.registry")), add(url, "registry_url"), add(code, "enrolment_code"));

  const muni = field({ path: "municipality", label: t("first.municipality"), hint: t("first.municipality_hint"), width: "medium", required: true });
  // The list comes from the core; until it is there (or if it fails) the field takes a typed code.
  void referenceData()
    .then((data) => municipalityPicker(muni, data.municipalities, t("common.municipality_list")))
    .catch(() => undefined);
  const office = field({ path: "office", label: t("first.office"), width: "long", required: true });
  const deskNo = field({ path: "desk_number", label: t("first.desk_number"), width: "short", inputmode: "numeric", required: true });
  const placeHint = h("p", { class: "hint", id: "place-from-code", hidden: true }, t("first.place_from_code"));
  const place = h("fieldset", { class: "group", id: "place-fields" }, h("legend", {}, t("first.place")), placeHint, add(muni, "municipality"), add(office, "office"), add(deskNo, "desk_number"));

  const admin = field({ path: "admin_name", label: t("first.admin_name"), width: "medium", autocomplete: "username", required: true });
  const pw = field({ path: "admin_password", label: t("first.admin_password"), hint: t("first.admin_password_hint"), kind: "password", width: "medium", autocomplete: "new-password", required: true });
  const pw2 = field({ path: "admin_password_repeat", label: t("first.admin_password_repeat"), kind: "password", width: "medium", autocomplete: "new-password", required: true });
  const adminSet = h("fieldset", { class: "group" }, h("legend", {}, t("first.admin")), add(admin, "admin_name"), add(pw, "admin_password"), add(pw2, "admin_password_repeat"));

  const submit = button(t("first.create"), { id: "first-create", primary: true, type: "submit", shortcut: "Enter" });
  const formError = alertLine("first-error");
  const progress = statusLine("first-status");
  const form = h("form", { class: "form columns", novalidate: true, "aria-labelledby": "screen-title" }, mode, registry, place, adminSet, formError, h("div", { class: "actions" }, submit, progress));

  const syncMode = () => {
    const enrolling = enrol.checked;
    url.input.disabled = !enrolling;
    code.input.disabled = !enrolling;
    registry.classList.toggle("inactive", !enrolling);
    // An enrolled desk's municipality, office and number come with its code.
    for (const f of [muni, office, deskNo]) {
      f.input.disabled = enrolling;
      f.input.required = !enrolling;
    }
    place.classList.toggle("inactive", enrolling);
    placeHint.hidden = !enrolling;
    submit.textContent = t(enrolling ? "first.enrol" : "first.create");
  };
  training.addEventListener("change", syncMode);
  enrol.addEventListener("change", syncMode);
  syncMode();

  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    const request: DeskInitRequest = {
      mode: enrol.checked ? "enrol" : "training",
      registry_url: url.input.value.trim(),
      enrolment_code: code.input.value.trim(),
      municipality: muni.input.value.trim(),
      office: office.input.value,
      desk_number: deskNo.input.value.trim(),
      admin_name: admin.input.value,
      admin_password: pw.input.value,
    };
    if (pw.input.value !== pw2.input.value) {
      showFieldErrors(fields, [{ field: "admin_password_repeat", code: "mismatch", message: t("first.password_mismatch") }], formError);
      pw2.input.focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    formError.textContent = "";
    progress.textContent = request.mode === "enrol" ? t("first.enrolling") : "";
    try {
      const desk = await api.deskInit(request);
      ctx.deskReady(desk);
    } catch (err) {
      showRefusal(fields, err, formError, submit);
    } finally {
      busy = false;
      submit.disabled = false;
      progress.textContent = "";
    }
  });

  const el = h("section", { class: "screen narrow" }, h("h1", { id: "screen-title" }, t("first.title")), h("p", { class: "lead" }, t("first.lead")), form);
  return { el, title: "first.title", focus: () => training.focus(), onEsc: () => true };
}
