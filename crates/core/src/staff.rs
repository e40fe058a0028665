//! Staff accounts (medarbejdere), roles, and signing in.
//!
//! Roles nest: a supervisor (afdelingsleder) may do all a clerk
//! (sagsbehandler) may, an admin all a supervisor may. The core checks the
//! role for every act, inside the act's transaction, against the staff table
//! as it is then: a disabled account or a lowered role stops working at once,
//! even in a session that signed in before. Passwords are kept only as
//! Argon2id hashes (m = 19 MiB, t = 2, p = 1).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Event};
use crate::error::FieldError;
use crate::i18n::{self, Lang};
use crate::store::{timestamp, Store, StoreError};
use crate::Error;

/// A staff role. The order is the inclusion order: `Clerk < Supervisor < Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sagsbehandler: issue, reprint, see this desk's records.
    Clerk,
    /// Afdelingsleder: also void, export, resolve refused events and duplicates.
    Supervisor,
    /// Administrator: also staff, settings and enrolment.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Clerk, Role::Supervisor, Role::Admin];

    pub fn code(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code.trim().to_ascii_lowercase())
    }

    /// The catalog key of the role's name.
    pub fn message_key(self) -> &'static str {
        match self {
            Role::Clerk => "staff.role.clerk",
            Role::Supervisor => "staff.role.supervisor",
            Role::Admin => "staff.role.admin",
        }
    }
}

/// A signed-in staff member. Only [`Store::sign_in`] makes one, and every act
/// on people takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    staff_id: i64,
    role: Role,
}

impl Session {
    pub fn staff_id(&self) -> i64 {
        self.staff_id
    }

    /// The role at sign-in (each act re-checks the current one).
    pub fn role(&self) -> Role {
        self.role
    }
}

/// A staff account as listed for an admin. No password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: String,
}

/// A new account.
pub struct NewStaff<'a> {
    pub name: &'a str,
    pub role: Role,
    pub password: &'a str,
}

/// The shortest password accepted for a staff account.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn argon2() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1: the OWASP minimum for Argon2id; constant, so `new` cannot fail.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An Argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::Random { detail: e.to_string() })?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Random { detail: e.to_string() })?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Random { detail: e.to_string() })
}

/// Whether `password` matches the PHC string `hash` (a malformed hash matches nothing).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Checks a new account's name and password; every problem names its field.
pub fn validate_new(new: &NewStaff<'_>, lang: Lang) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = new.name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 64 || name.chars().any(char::is_control) {
        errors.push(FieldError {
            field: "name".into(),
            code: "staff.name_invalid".into(),
            message: i18n::render(lang, "staff.field.name_invalid", &[]),
        });
    }
    if new.password.chars().count() < MIN_PASSWORD_CHARS {
        errors.push(FieldError {
            field: "password".into(),
            code: "staff.password_short".into(),
            message: i18n::render(lang, "staff.field.password_short", &[("min", &MIN_PASSWORD_CHARS.to_string())]),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Inserts an account inside the caller's transaction (used by `desk init`
/// for the first admin, and by [`Store::add_staff`]). Returns the staff ID.
pub(crate) fn insert(
    conn: &Connection,
    name: &str,
    role: Role,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let name = name.trim();
    let taken: Option<i64> = conn.query_row("SELECT id FROM staff WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    if taken.is_some() {
        return Err(StoreError::StaffExists { name: name.to_string() });
    }
    conn.execute(
        "INSERT INTO staff (name, role, password_hash, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
        (name, role.code(), password_hash, timestamp(now)),
    )?;
    Ok(conn.last_insert_rowid())
}

/// Checks, inside an act's transaction, that the session's account is still
/// active and holds at least `needed`. `action` names the act for the
/// refusal message (`staff.action.<action>` in the catalogs).
pub(crate) fn authorize(conn: &Connection, session: &Session, needed: Role, action: &str) -> Result<(), StoreError> {
    let row: Option<(String, bool)> = conn
        .prepare_cached("SELECT role, active FROM staff WHERE id = ?1")?
        .query_row([session.staff_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        Some((role, true)) => {
            let role = Role::from_code(&role).unwrap_or(Role::Clerk);
            if role >= needed {
                Ok(())
            } else {
                Err(StoreError::Forbidden { action: action.to_string(), needed })
            }
        }
        _ => Err(StoreError::SignInRefused),
    }
}

/// A hash to verify against when the name is unknown, so that a wrong name
/// and a wrong password take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("skranke decoy password").unwrap_or_default())
}

impl Store {
    /// Signs a staff member in. A wrong name, a wrong password and a disabled
    /// account get the same refusal; each refusal is audited (by staff ID
    /// when the name exists, never by name).
    pub fn sign_in(&mut self, name: &str, password: &str, now: DateTime<Utc>) -> Result<Session, Error> {
        let row: Option<(i64, String, String, bool)> = self
            .connection()
            .query_row("SELECT id, role, password_hash, active FROM staff WHERE name = ?1", [name.trim()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(StoreError::from)?;
        let (hash, known) = match &row {
            Some((_, _, hash, _)) => (hash.as_str(), true),
            None => (decoy_hash(), false),
        };
        let password_ok = verify_password(hash, password) && known;
        match row {
            Some((id, role, _, true)) if password_ok => {
                self.oplog().sign_in(Some(id), true);
                Ok(Session { staff_id: id, role: Role::from_code(&role).unwrap_or(Role::Clerk) })
            }
            other => {
                let staff_id = other.map(|(id, ..)| id);
                self.act(|tx, ctx| {
                    let event = Event { staff_id, ..Event::desk("staff.sign_in_refused", now) };
                    audit::append(tx, &ctx.desk_id, &event)?;
                    Ok(())
                })?;
                self.oplog().sign_in(staff_id, false);
                Err(StoreError::SignInRefused.into())
            }
        }
    }

    /// Adds a staff account (admin).
    pub fn add_staff(
        &mut self,
        session: &Session,
        new: &NewStaff<'_>,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<StaffInfo, Error> {
        validate_new(new, lang).map_err(Error::Invalid)?;
        let hash = hash_password(new.password)?;
        let id = self.act(|tx, ctx| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let id = insert(tx, new.name, new.role, &hash, now)?;
            audit::append(
                tx,
                &ctx.desk_id,
                &Event::by(session.staff_id, "staff.added", now)
                    .detail(&format!("staff:{id} role:{}", new.role.code())),
            )?;
            Ok(id)
        })?;
        Ok(StaffInfo {
            id,
            name: new.name.trim().to_string(),
            role: new.role,
            active: true,
            created_at: timestamp(now),
        })
    }

    /// Every account (admin).
    pub fn list_staff(&mut self, session: &Session) -> Result<Vec<StaffInfo>, Error> {
        Ok(self.read(|tx, _| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let mut stmt = tx.prepare("SELECT id, name, role, active, created_at FROM staff ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(StaffInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::from_code(&r.get::<_, String>(2)?).unwrap_or(Role::Clerk),
                    active: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?)
    }

    /// Disables an account (admin). The last active admin stays.
    pub fn disable_staff(&mut self, session: &Session, name: &str, now: DateTime<Utc>) -> Result<(), Error> {
        Ok(self.act(|tx, ctx| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let (id, role): (i64, String) = tx
                .query_row("SELECT id, role FROM staff WHERE name = ?1 AND active = 1", [name.trim()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .ok_or_else(|| StoreError::StaffNotFound { name: name.trim().to_string() })?;
            if role == Role::Admin.code() {
                let admins: i64 =
                    tx.query_row("SELECT count(*) FROM staff WHERE role = 'admin' AND active = 1", [], |r| r.get(0))?;
                if admins <= 1 {
                    return Err(StoreError::LastAdmin);
                }
            }
            tx.execute("UPDATE staff SET active = 0 WHERE id = ?1", [id])?;
            audit::append(
                tx,
                &ctx.desk_id,
                &Event::by(session.staff_id, "staff.disabled", now).detail(&format!("staff:{id}")),
            )?;
            Ok(())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_before_them() {
        assert!(Role::Clerk < Role::Supervisor && Role::Supervisor < Role::Admin);
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
        }
        assert_eq!(Role::from_code("root"), None);
    }

    #[test]
    fn a_password_hash_is_argon2id_with_the_required_cost_and_verifies_only_its_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterx"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salts differ");
    }

    #[test]
    fn a_new_account_needs_a_name_and_a_long_enough_password() {
        let errs = validate_new(&NewStaff { name: " ", role: Role::Clerk, password: "short" }, Lang::En).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "password"]);
        assert!(validate_new(&NewStaff { name: "Ana", role: Role::Clerk, password: "long enough!" }, Lang::En).is_ok());
    }
}
