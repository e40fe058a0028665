// The municipality picker: a field's text input becomes a combobox (the
// WAI-ARIA 1.2 pattern). Not a native datalist: WebKitGTK draws its
// suggestions as a popup outside the page, which WebDriver cannot see (so
// the real-window test could not pick from it) and which matches by the
// engine's own rule, not by a name without its Danish letters. The input keeps the
// three-digit code the core reads; typing a name or a code filters the 98
// municipalities, ArrowDown/ArrowUp move, Enter or Tab picks, Esc closes the
// list. The name of a typed code shows next to the input.
import type { MunicipalityOption } from "./api";
import type { Field } from "./dom";
import { h } from "./dom";
import { normaliseCode } from "./reference";

/** Lower case without accents, ø as o, æ as ae, å as a: "Kobenhavn" finds København. */
export function fold(s: string): string {
  return s
    .toLowerCase()
    .replace(/ø/g, "o")
    .replace(/æ/g, "ae")
    .replace(/å/g, "a")
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "");
}

/**
 * The municipalities a query finds: by code prefix when it is digits, else
 * by name, those whose name starts with it first. An empty query finds all.
 */
export function filterMunicipalities(list: MunicipalityOption[], query: string): MunicipalityOption[] {
  const q = query.trim();
  if (!q) return list;
  if (/^\d+$/.test(q)) {
    const digits = q.replace(/^0(?=\d{3})/, "");
    return list.filter((m) => m.code.startsWith(digits) || String(Number(m.code)).startsWith(digits));
  }
  const f = fold(q);
  const starts = list.filter((m) => fold(m.name).startsWith(f));
  const inner = list.filter((m) => !fold(m.name).startsWith(f) && fold(m.name).includes(f));
  return [...starts, ...inner];
}

export interface Picker {
  /** Shows the name for the input's current code (after a programmatic fill). */
  refresh(): void;
}

/** Makes `f` (a text field) a municipality picker over `list`. */
export function municipalityPicker(f: Field, list: MunicipalityOption[], listLabel: string): Picker {
  const input = f.input as HTMLInputElement;
  const id = input.id;
  const listbox = h("ul", { id: `${id}-list`, class: "combo-list", role: "listbox", "aria-label": listLabel, hidden: true });
  const name = h("span", { id: `${id}-name`, class: "combo-name", "aria-live": "polite" });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("aria-describedby", `${name.id} ${input.getAttribute("aria-describedby") ?? ""}`.trim());
  const combo = h("div", { class: "combo" });
  input.replaceWith(combo);
  combo.append(h("div", { class: "combo-row" }, input, name), listbox);
  f.wrap.classList.add("picker");

  let shown: MunicipalityOption[] = [];
  let active = -1;
  // The input event pick() sends on is the form's news, not a new query.
  let picking = false;

  const refresh = () => {
    const code = normaliseCode(input.value);
    name.textContent = code ? (list.find((m) => m.code === code)?.name ?? "") : "";
  };
  const setActive = (i: number) => {
    active = i;
    listbox.querySelectorAll<HTMLElement>("[role=option]").forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    const li = i >= 0 ? (listbox.children[i] as HTMLElement | undefined) : undefined;
    if (li) {
      input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView?.({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const close = () => {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(-1);
  };
  const open = () => {
    shown = filterMunicipalities(list, input.value);
    listbox.replaceChildren(
      ...shown.map((m) => {
        const li = h("li", { id: `${id}-opt-${m.code}`, role: "option", "aria-selected": "false", "data-code": m.code }, h("span", { class: "code" }, m.code), " ", m.name);
        // Keeps focus in the input: the click picks, the blur does not close first.
        li.addEventListener("mousedown", (e) => e.preventDefault());
        li.addEventListener("click", () => pick(m));
        return li;
      }),
    );
    const any = shown.length > 0;
    listbox.hidden = !any;
    input.setAttribute("aria-expanded", String(any));
    // A typed name picks its first match with Enter; a typed code stays as typed.
    setActive(any && input.value.trim() !== "" && !/^\d+$/.test(input.value.trim()) ? 0 : -1);
  };
  const pick = (m: MunicipalityOption) => {
    input.value = m.code;
    close();
    refresh();
    picking = true;
    try {
      input.dispatchEvent(new Event("input", { bubbles: true }));
    } finally {
      picking = false;
    }
  };

  input.addEventListener("input", () => {
    refresh();
    if (!picking) open();
  });
  input.addEventListener("keydown", (e) => {
    const expanded = !listbox.hidden;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (!expanded) open();
      else setActive(Math.min(active + 1, shown.length - 1));
    } else if (e.key === "ArrowUp" && expanded) {
      e.preventDefault();
      setActive(Math.max(active - 1, 0));
    } else if (e.key === "Enter" && expanded && active >= 0) {
      e.preventDefault();
      pick(shown[active]);
    } else if (e.key === "Tab" && expanded && active >= 0) {
      pick(shown[active]);
    } else if (e.key === "Escape" && expanded) {
      e.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", close);
  refresh();
  return { refresh };
}
