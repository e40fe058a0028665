//! The desk's staff accounts (admin): list them, add one with a first
//! password that its owner must change at first sign-in, set a temporary
//! password for one who forgot theirs (which also unlocks it), and disable
//! one who left. The core checks the role and audits every change; the
//! shell only puts each refusal next to the field it is about.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::i18n::Lang;
use skranke_core::staff::{NewStaff, Role, StaffError, StaffInfo};
use skranke_core::store::Store;
use skranke_core::{Error, FieldError};
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::{Shell, Signed};

/// One account as the staff screen lists it (`StaffRow`). Never a password
/// or its hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StaffRow {
    pub staff_id: i64,
    pub name: String,
    pub role: &'static str,
    pub active: bool,
    pub created_at: String,
    /// The end of a lock in force now; none when the account is not locked.
    pub locked_until: Option<String>,
    /// The password is temporary (first or reset) and not yet changed.
    pub must_change: bool,
    /// The signed-in admin's own account (never disabled from here).
    pub me: bool,
}

/// The add form (`StaffInput`): a first password the new member must change.
#[derive(Debug, Deserialize)]
pub struct StaffInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

fn rows(store: &mut Store, signed: &Signed, lang: Lang) -> UiResult<Vec<StaffRow>> {
    let now = Utc::now();
    let list = store.list_staff(&signed.session).map_err(|e| UiError::core(lang, e))?;
    Ok(list.into_iter().map(|s| row(s, signed.session.staff_id(), now)).collect())
}

fn row(s: StaffInfo, me: i64, now: chrono::DateTime<Utc>) -> StaffRow {
    StaffRow {
        staff_id: s.id,
        locked_until: s.locked_at(now).map(|t| t.to_rfc3339()),
        name: s.name,
        role: s.role.code(),
        active: s.active,
        created_at: s.created_at,
        must_change: s.must_change,
        me: s.id == me,
    }
}

/// The role the form chose, refused by name when it is none of the three.
pub fn parse_role(role: &str, lang: Lang) -> Result<Role, UiError> {
    Role::from_code(role.trim())
        .ok_or_else(|| UiError::field(lang, "role", "staff.role_invalid", "shell.error.staff_role", &[]))
}

/// Puts a refusal about a named account next to the name field (a taken
/// name when adding); anything else stays the core's sentence.
fn on_name(lang: Lang, e: impl Into<Error>) -> UiError {
    match e.into() {
        Error::Staff(s @ StaffError::StaffExists { .. }) => {
            UiError::fields(vec![FieldError { field: "name".into(), code: s.code().into(), message: s.message(lang) }])
        }
        other => UiError::core(lang, other),
    }
}

/// Every account of this desk (admin).
#[tauri::command]
pub async fn staff_list(shell: State<'_, Shell>) -> UiResult<Vec<StaffRow>> {
    shell.with_session(rows)
}

/// Adds an account with a first password its owner must change at first
/// sign-in (admin). Returns the new list.
#[tauri::command]
pub async fn staff_add(shell: State<'_, Shell>, staff: StaffInput) -> UiResult<Vec<StaffRow>> {
    shell.with_session(|store, signed, lang| {
        let role = parse_role(&staff.role, lang)?;
        let new = NewStaff { name: &staff.name, role, password: &staff.password, temporary: true };
        store.add_staff(&signed.session, &new, Utc::now(), lang).map_err(|e| on_name(lang, e))?;
        rows(store, signed, lang)
    })
}

/// Sets a temporary password for `name` (admin): the account is unlocked
/// and must change it at its next sign-in. Returns the new list.
#[tauri::command]
pub async fn staff_reset(shell: State<'_, Shell>, name: String, password: String) -> UiResult<Vec<StaffRow>> {
    shell.with_session(|store, signed, lang| {
        store
            .reset_password(&signed.session, &name, &password, Utc::now(), lang)
            .map_err(|e| UiError::core(lang, e))?;
        rows(store, signed, lang)
    })
}

/// Disables `name` (admin); the core refuses the signed-in admin's own
/// account, which also keeps the last active admin. Returns the new list.
#[tauri::command]
pub async fn staff_disable(shell: State<'_, Shell>, name: String) -> UiResult<Vec<StaffRow>> {
    shell.with_session(|store, signed, lang| {
        store.disable_staff(&signed.session, &name, Utc::now()).map_err(|e| UiError::core(lang, e))?;
        rows(store, signed, lang)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_unknown_role_is_refused_on_the_role_field() {
        let e = parse_role("superuser", Lang::En).unwrap_err();
        assert_eq!(e.fields.len(), 1);
        assert_eq!(e.fields[0].field, "role");
        assert!(!e.message.contains("shell.error"), "a sentence, not a key: {}", e.message);
        assert_eq!(parse_role(" supervisor ", Lang::Da).unwrap(), Role::Supervisor);
    }

    #[test]
    fn a_taken_name_lands_on_the_name_field_and_other_refusals_do_not() {
        let taken = on_name(Lang::En, StaffError::StaffExists { name: "anne".into() });
        assert_eq!(taken.fields.len(), 1, "{taken:?}");
        assert_eq!(taken.fields[0].field, "name");
        assert!(taken.message.contains("anne"), "{}", taken.message);
        let last = on_name(Lang::En, StaffError::DisableSelf);
        assert!(last.fields.is_empty(), "{last:?}");
        assert!(!last.message.is_empty());
    }

    #[test]
    fn a_row_shows_only_a_lock_still_in_force_and_marks_the_admins_own_account() {
        let now = Utc::now();
        let info = |id, locked_until| StaffInfo {
            id,
            name: format!("s{id}"),
            role: Role::Clerk,
            active: true,
            created_at: "2026-11-27T08:00:00Z".into(),
            locked_until,
            must_change: false,
        };
        let past = row(info(2, Some(now - Duration::minutes(1))), 1, now);
        assert_eq!(past.locked_until, None);
        assert!(!past.me);
        let locked = row(info(1, Some(now + Duration::minutes(5))), 1, now);
        assert!(locked.locked_until.is_some());
        assert!(locked.me);
    }
}
