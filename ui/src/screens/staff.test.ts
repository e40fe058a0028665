import { afterEach, describe, expect, it } from "vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { $, admin, clerk, key, mockShell, settle, startApp, submit, supervisor, type } from "../test/harness";
import type { StaffInput, StaffRow } from "../api";
import { staffState } from "./staff";

afterEach(() => clearMocks());

const me: StaffRow = { staff_id: 1, name: "admin", role: "admin", active: true, created_at: "2026-11-20T08:00:00Z", locked_until: null, must_change: false, me: true };
const anne: StaffRow = { staff_id: 2, name: "anne", role: "clerk", active: true, created_at: "2026-11-21T08:00:00Z", locked_until: null, must_change: false, me: false };
const gone: StaffRow = { staff_id: 3, name: "bo", role: "supervisor", active: false, created_at: "2026-11-22T08:00:00Z", locked_until: null, must_change: false, me: false };

async function openStaff(list: StaffRow[]) {
  const m = mockShell({ session: admin });
  m.on("staff_list", () => list);
  await startApp();
  key(document.body, "p", { altKey: true, code: "KeyP" });
  await settle();
  return m;
}

const row = (name: string) => $(`#staff-table tr[data-staff="${name}"]`);

describe("staff screen", () => {
  it("is in the menu for an admin only", async () => {
    for (const [who, shown] of [[clerk, false], [supervisor, false], [admin, true]] as const) {
      mockShell({ session: who });
      await startApp();
      expect(!!document.querySelector("#nav-staff"), who.role).toBe(shown);
      clearMocks();
    }
  });

  it("lists every account with its state, and offers no action on the admin's own or a disabled one", async () => {
    await openStaff([me, anne, gone]);
    expect($("#screen-title").textContent).toBe("Staff");
    expect(row("anne").querySelector(".staff-state")!.textContent).toBe("Active");
    expect(row("bo").querySelector(".staff-state")!.textContent).toBe("Disabled");
    expect(row("anne").querySelector("#staff-reset-2")).not.toBeNull();
    expect(row("admin").querySelector("button")).toBeNull();
    expect(row("bo").querySelector("button")).toBeNull();
    expect(document.activeElement?.id).toBe("f-name");
  });

  it("names the state that keeps an account from working, a lock before a pending change", () => {
    expect(staffState({ ...anne, must_change: true })).toBe("Must choose a new password");
    expect(staffState({ ...anne, must_change: true, locked_until: "2026-11-27T09:30:00Z" })).toMatch(/^Locked until 2026-11-27 \d\d:30$/);
    expect(staffState({ ...gone, locked_until: "2026-11-27T09:30:00Z" })).toBe("Disabled");
  });

  it("adds a member with the chosen role and shows the new list", async () => {
    const m = await openStaff([me]);
    m.on("staff_add", (a) => {
      const s = a.staff as StaffInput;
      return [me, { ...anne, name: s.name, role: s.role, must_change: true }];
    });
    type("#f-name", "  karin ");
    ($("#f-role") as HTMLSelectElement).value = "supervisor";
    type("#f-password", "velvet harbour mosaic 7");
    submit("#f-name");
    await settle();
    expect(m.called("staff_add")[0].staff).toEqual({ name: "karin", role: "supervisor", password: "velvet harbour mosaic 7" });
    expect(row("karin").querySelector(".staff-state")!.textContent).toBe("Must choose a new password");
    expect($("#staff-status").textContent).toBe("karin is added and must choose a new password at first sign-in.");
    expect(($("#f-password") as HTMLInputElement).value).toBe("");
    expect(document.activeElement?.id).toBe("f-name");
  });

  it("sends one add however often Enter is pressed while the core works", async () => {
    const m = await openStaff([me]);
    let finish: (v: StaffRow[]) => void = () => undefined;
    m.on("staff_add", () => new Promise<StaffRow[]>((resolve) => (finish = resolve)));
    type("#f-name", "karin");
    type("#f-password", "velvet harbour mosaic 7");
    submit("#f-name");
    submit("#f-name");
    await settle();
    expect(($("#staff-add") as HTMLButtonElement).disabled).toBe(true);
    finish([me, { ...anne, name: "karin", must_change: true }]);
    await settle();
    expect(m.called("staff_add")).toHaveLength(1);
    expect(($("#staff-add") as HTMLButtonElement).disabled).toBe(false);
  });

  it("puts a refused password and a taken name next to their fields, and keeps no password typed", async () => {
    const m = await openStaff([me, anne]);
    m.on("staff_add", () => {
      throw {
        message: "x",
        fields: [
          { field: "name", code: "staff.exists", message: "There is already a staff member named anne." },
          { field: "password", code: "staff.password_short", message: "At least 12 characters." },
        ],
      };
    });
    type("#f-name", "anne");
    type("#f-password", "short");
    submit("#f-name");
    await settle();
    expect($("#f-name-error").textContent).toBe("There is already a staff member named anne.");
    expect($("#f-password-error").textContent).toBe("At least 12 characters.");
    expect($("#f-name").getAttribute("aria-invalid")).toBe("true");
    expect(($("#f-password") as HTMLInputElement).value).toBe("");
    expect(document.activeElement?.id).toBe("f-name");
  });

  it("sets a temporary password from the row, and Esc closes the form without a call", async () => {
    const m = await openStaff([me, anne]);
    m.on("staff_reset", () => [me, { ...anne, must_change: true }]);
    $("#staff-reset-2").click();
    expect(document.activeElement?.id).toBe("f-temporary_password");
    expect($("#staff-reset-title").textContent).toBe("Temporary password for anne");
    key(document.activeElement!, "Escape");
    await settle();
    expect($("#staff-action").hidden).toBe(true);
    expect(document.activeElement?.id).toBe("staff-reset-2");
    expect($("#screen-title").textContent).toBe("Staff");

    $("#staff-reset-2").click();
    type("#f-temporary_password", "copper meadow lantern 19");
    submit("#f-temporary_password");
    await settle();
    expect(m.called("staff_reset")).toEqual([{ name: "anne", password: "copper meadow lantern 19" }]);
    expect(row("anne").querySelector(".staff-state")!.textContent).toBe("Must choose a new password");
    expect($("#staff-status").textContent).toMatch(/^anne has a temporary password/);
  });

  it("puts a refused temporary password next to its own field, whose ids are not the add form's", async () => {
    const m = await openStaff([me, anne]);
    m.on("staff_reset", () => {
      throw { message: "x", fields: [{ field: "password", code: "staff.password_weak", message: "Too easy to guess." }] };
    });
    $("#staff-reset-2").click();
    type("#f-temporary_password", "qwertyuiop12");
    submit("#f-temporary_password");
    await settle();
    expect($("#f-temporary_password-error").textContent).toBe("Too easy to guess.");
    expect($("#f-password-error").textContent).toBe("");
    expect(document.activeElement?.id).toBe("f-temporary_password");
    const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
    expect(ids.length).toBe(new Set(ids).size);
  });

  it("disables only after a confirmation that starts on Cancel, and shows the core's refusal", async () => {
    const m = await openStaff([me, anne]);
    let allow = false;
    m.on("staff_disable", () => {
      if (!allow) throw { message: "You cannot disable your own account: another admin can.", fields: [] };
      return [me, { ...anne, active: false }];
    });
    $("#staff-disable-2").click();
    expect(document.activeElement?.id).toBe("staff-disable-cancel");
    expect(m.called("staff_disable")).toHaveLength(0);
    $("#staff-disable-confirm").click();
    await settle();
    expect($("#staff-disable-error").textContent).toBe("You cannot disable your own account: another admin can.");
    allow = true;
    $("#staff-disable-confirm").click();
    await settle();
    expect(m.called("staff_disable")).toEqual([{ name: "anne" }, { name: "anne" }]);
    expect(row("anne").querySelector(".staff-state")!.textContent).toBe("Disabled");
    expect(row("anne").querySelector("button")).toBeNull();
    expect($("#staff-status").textContent).toBe("anne is disabled.");
  });
});
