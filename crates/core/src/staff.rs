//! Staff accounts (medarbejdere), roles, and signing in.
//!
//! Roles nest: a supervisor (afdelingsleder) may do all a clerk
//! (sagsbehandler) may, an admin all a supervisor may. The core checks the
//! role for every act, inside the act's transaction, against the staff table
//! as it is then: a disabled account or a lowered role stops working at once,
//! even in a session that signed in before. Passwords are kept only as
//! Argon2id hashes (m = 19 MiB, t = 2, p = 1).
//!
//! # Sign-in policy (adgangspolitik)
//!
//! - **Lockout.** Five consecutive failed sign-ins lock the account: one
//!   minute after the fifth failure, doubling with each further failure
//!   (2, 4, 8, … minutes), never more than 24 hours ([`lock_period`]). While
//!   locked, even the right password is refused; attempts then do not count
//!   and do not lengthen the lock. A successful sign-in resets the count, and
//!   so does an admin's password reset. Failures and locks are audited by
//!   staff ID. An unknown name is checked against a decoy hash, so it takes
//!   as long as a wrong password and gets the same refusal; only a name that
//!   has been locked tells that it exists (staff must see when it unlocks).
//! - **Passwords.** At least [`MIN_PASSWORD_CHARS`] characters and a zxcvbn
//!   score of at least [`MIN_PASSWORD_SCORE`], judged with the staff name and
//!   the desk's municipality and office as words an attacker would try first.
//! - **Reset.** An admin sets a temporary password; the account must change
//!   it at the next sign-in. Until then every act is refused
//!   ([`StaffError::PasswordChangeRequired`]) except
//!   [`Store::change_password`], which always needs the current password.
//! - **Idle lock.** A [`Session`] remembers its last activity;
//!   [`Store::check_idle`] refuses one that was idle longer than the
//!   `idle_lock_minutes` setting (default 5) and otherwise touches it. The
//!   desk app calls it before every command; a CLI session lasts one command,
//!   which checks it once after signing in (a command never waits on staff
//!   after that).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Event};
use crate::i18n::{self, Lang};
use crate::store::{timestamp, Store, StoreError};
use crate::FieldError;

pub use crate::password::{check_password, MIN_PASSWORD_CHARS, MIN_PASSWORD_SCORE};

/// What staff acts and sign-in refuse with. Each variant has a catalog
/// message ([`StaffError::message`]); a failure of the store underneath is
/// [`StaffError::Store`].
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("sign-in refused")]
    SignInRefused,
    #[error("{action} needs the role {needed:?}")]
    Forbidden { action: String, needed: Role },
    #[error("staff name {name} is taken")]
    StaffExists { name: String },
    #[error("no staff member {name}")]
    StaffNotFound { name: String },
    /// Also what keeps the last active admin: only another active admin
    /// could disable it.
    #[error("a staff member cannot disable their own account")]
    DisableSelf,
    /// Too many failed sign-ins (see core::staff's sign-in policy).
    #[error("the account is locked until {until}")]
    AccountLocked { until: DateTime<Utc> },
    /// An admin reset the password: only changing it is allowed.
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    /// The session was idle longer than the `idle_lock_minutes` setting.
    #[error("the desk locked after {minutes} idle minutes")]
    IdleLocked { minutes: u32 },
    /// A new account or password that failed validation, each problem naming its field.
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for StaffError {
    fn from(e: rusqlite::Error) -> Self {
        StaffError::Store(e.into())
    }
}

impl StaffError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StaffError::SignInRefused => "staff.sign_in_refused",
            StaffError::Forbidden { .. } => "staff.forbidden",
            StaffError::StaffExists { .. } => "staff.exists",
            StaffError::StaffNotFound { .. } => "staff.not_found",
            StaffError::DisableSelf => "staff.disable_self",
            StaffError::AccountLocked { .. } => "staff.account_locked",
            StaffError::PasswordChangeRequired => "staff.must_change_password",
            StaffError::IdleLocked { .. } => "staff.locked",
            StaffError::Invalid(_) => "staff.invalid",
            StaffError::Store(e) => e.code(),
        }
    }

    /// Whether this is a refusal of the request (exit 1 in the CLI) rather
    /// than a failure of the machine or its setup.
    pub fn is_refusal(&self) -> bool {
        match self {
            StaffError::Store(e) => e.is_refusal(),
            _ => true,
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let args: Vec<(&str, String)> = match self {
            StaffError::Store(e) => return e.message(lang),
            // Field messages were rendered in the desk's language when found.
            StaffError::Invalid(errors) => {
                return errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("\n")
            }
            StaffError::SignInRefused | StaffError::DisableSelf | StaffError::PasswordChangeRequired => vec![],
            // Staff read the time on the desk's clock.
            StaffError::AccountLocked { until } => {
                vec![("until", until.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())]
            }
            StaffError::IdleLocked { minutes } => vec![("minutes", minutes.to_string())],
            StaffError::Forbidden { action, needed } => vec![
                ("action", i18n::text(lang, &format!("staff.action.{action}")).to_string()),
                ("role", i18n::text(lang, needed.message_key()).to_string()),
            ],
            StaffError::StaffExists { name } | StaffError::StaffNotFound { name } => vec![("name", name.clone())],
        };
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        i18n::render(lang, &format!("{}.error", self.code()), &args)
    }
}

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
    must_change: bool,
    last_activity: DateTime<Utc>,
}

impl Session {
    pub fn staff_id(&self) -> i64 {
        self.staff_id
    }

    /// The role at sign-in (each act re-checks the current one).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the password was set by an admin and must be changed before
    /// anything else (the acts check the account itself, not this flag).
    pub fn must_change(&self) -> bool {
        self.must_change
    }

    /// When the session last did something (see [`Store::check_idle`]).
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.last_activity
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
    /// The end of the latest lockout (may be past: see [`StaffInfo::locked_at`]).
    pub locked_until: Option<DateTime<Utc>>,
    /// The password is temporary (an admin set it when adding or resetting the
    /// account) and not yet changed by its owner.
    pub must_change: bool,
}

impl StaffInfo {
    /// The end of the lock in force at `now`, if any.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }
}

/// A new account.
pub struct NewStaff<'a> {
    pub name: &'a str,
    pub role: Role,
    pub password: &'a str,
    /// The password is a first one that somebody else chose (an admin at
    /// the desk): the account must change it at its first sign-in.
    pub temporary: bool,
}

/// Consecutive failed sign-ins that lock an account.
pub const LOCK_AFTER_FAILURES: u32 = 5;

/// The longest lock: a day, so a forgotten lock never outlasts a shift change.
pub const MAX_LOCK: Duration = Duration::hours(24);

/// The lock earned by `failures` consecutive failed sign-ins: none below
/// five, one minute at the fifth, doubling with each further one, at most
/// [`MAX_LOCK`].
///
/// ```
/// use chrono::Duration;
/// use skranke_core::staff::lock_period;
/// assert_eq!(lock_period(4), None);
/// assert_eq!(lock_period(5), Some(Duration::minutes(1)));
/// assert_eq!(lock_period(7), Some(Duration::minutes(4)));
/// assert_eq!(lock_period(40), Some(Duration::hours(24)));
/// ```
pub fn lock_period(failures: u32) -> Option<Duration> {
    let beyond = failures.checked_sub(LOCK_AFTER_FAILURES)?;
    // 2^11 minutes already exceeds a day, so larger exponents need not be computed.
    let minutes = 1i64 << beyond.min(11);
    Some(Duration::minutes(minutes).min(MAX_LOCK))
}

/// Whether a session last active at `last_activity` has been idle longer
/// than `minutes` at `now`.
pub fn idle_expired(last_activity: DateTime<Utc>, now: DateTime<Utc>, minutes: u32) -> bool {
    now - last_activity > Duration::minutes(i64::from(minutes))
}

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
/// `context` holds the desk's municipality and office, words the password
/// must not lean on (empty when they are not known yet).
pub fn validate_new(new: &NewStaff<'_>, context: &[&str], lang: Lang) -> Result<(), Vec<FieldError>> {
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
    if let Err(e) = check_password("password", new.password, name, context, lang) {
        errors.push(e);
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
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<i64, StaffError> {
    let name = name.trim();
    let taken: Option<i64> = conn.query_row("SELECT id FROM staff WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    if taken.is_some() {
        return Err(StaffError::StaffExists { name: name.to_string() });
    }
    conn.execute(
        "INSERT INTO staff (name, role, password_hash, active, created_at, must_change) VALUES (?1, ?2, ?3, 1, ?4, ?5)",
        (name, role.code(), password_hash, timestamp(now), must_change),
    )?;
    Ok(conn.last_insert_rowid())
}

/// Checks, inside an act's transaction, that the session's account is still
/// active and holds at least `needed`. `action` names the act for the
/// refusal message (`staff.action.<action>` in the catalogs).
/// An account whose password an admin reset is refused every act until it
/// chose its own, even in a session from before the reset.
pub(crate) fn authorize(conn: &Connection, session: &Session, needed: Role, action: &str) -> Result<(), StaffError> {
    let row: Option<(String, bool, bool)> = conn
        .prepare_cached("SELECT role, active, must_change FROM staff WHERE id = ?1")?
        .query_row([session.staff_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        Some((_, true, true)) => Err(StaffError::PasswordChangeRequired),
        Some((role, true, false)) => {
            let role = Role::from_code(&role).unwrap_or(Role::Clerk);
            if role >= needed {
                Ok(())
            } else {
                Err(StaffError::Forbidden { action: action.to_string(), needed })
            }
        }
        _ => Err(StaffError::SignInRefused),
    }
}

/// A hash to verify against when the name is unknown, so that a wrong name
/// and a wrong password take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("skranke decoy password").unwrap_or_default())
}

/// A stored time, or none when it does not parse (never written so by the store).
fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

/// The desk's municipality (code and name) and office: words a password
/// must not lean on.
fn desk_words(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let (code, office): (String, String) =
        conn.query_row("SELECT municipality, office FROM desk WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut words = vec![code.clone(), office];
    if let Some(m) = crate::municipality::parse_code(&code) {
        words.push(m.name.to_string());
    }
    Ok(words)
}

/// One staff row as the sign-in policy needs it.
struct Account {
    id: i64,
    role: Role,
    hash: String,
    active: bool,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    must_change: bool,
}

const ACCOUNT_COLUMNS: &str = "id, role, password_hash, active, failed_sign_ins, locked_until, must_change";

fn account(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        role: Role::from_code(&row.get::<_, String>(1)?).unwrap_or(Role::Clerk),
        hash: row.get(2)?,
        active: row.get(3)?,
        failures: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(u32::MAX),
        locked_until: parse_time(row.get(5)?),
        must_change: row.get(6)?,
    })
}

/// Counts one more failed sign-in for `staff_id` inside the caller's act,
/// locks the account when the count earns it, and audits either. Returns the
/// end of the new lock, if one began.
fn record_failure(
    tx: &Connection,
    desk_id: &str,
    staff_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let failures: i64 = tx.query_row("SELECT failed_sign_ins FROM staff WHERE id = ?1", [staff_id], |r| r.get(0))?;
    let failures = u32::try_from(failures).unwrap_or(u32::MAX - 1).saturating_add(1);
    let until = lock_period(failures).map(|p| now + p);
    tx.execute(
        "UPDATE staff SET failed_sign_ins = ?1, locked_until = coalesce(?2, locked_until) WHERE id = ?3",
        (failures, until.map(timestamp), staff_id),
    )?;
    let event = match until {
        Some(until) => Event { staff_id: Some(staff_id), ..Event::desk("staff.locked", now) }
            .detail(&format!("failures:{failures} until:{}", timestamp(until))),
        None => Event { staff_id: Some(staff_id), ..Event::desk("staff.sign_in_refused", now) }
            .detail(&format!("failures:{failures}")),
    };
    audit::append(tx, desk_id, &event)?;
    Ok(until)
}

impl Store {
    /// Signs a staff member in (see the module's sign-in policy). A wrong
    /// name, a wrong password and a disabled account get the same refusal; a
    /// locked account is refused with the end of its lock, whatever the
    /// password. Each refusal is audited (by staff ID when the name exists,
    /// never by name).
    pub fn sign_in(&mut self, name: &str, password: &str, now: DateTime<Utc>) -> Result<Session, StaffError> {
        let row: Option<Account> = self
            .connection()
            .query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM staff WHERE name = ?1"), [name.trim()], account)
            .optional()
            .map_err(StoreError::from)?;
        // Always one Argon2 verification, whatever the outcome: no path is faster.
        let hash = row.as_ref().map_or(decoy_hash(), |a| a.hash.as_str());
        let password_ok = verify_password(hash, password) && row.is_some();
        let refuse = |store: &mut Store, staff_id: Option<i64>, detail: &str| -> Result<(), StoreError> {
            store.act::<_, StoreError>(|tx, ctx| {
                let event = Event { staff_id, ..Event::desk("staff.sign_in_refused", now) }.detail(detail);
                audit::append(tx, &ctx.desk_id, &event)?;
                Ok(())
            })
        };
        let acc = match row {
            Some(acc) if acc.active => acc,
            other => {
                let staff_id = other.map(|a| a.id);
                refuse(self, staff_id, if staff_id.is_some() { "disabled" } else { "unknown" })?;
                self.oplog().sign_in(staff_id, false);
                return Err(StaffError::SignInRefused.into());
            }
        };
        if let Some(until) = acc.locked_until.filter(|u| *u > now) {
            refuse(self, Some(acc.id), "locked")?;
            self.oplog().sign_in(Some(acc.id), false);
            return Err(StaffError::AccountLocked { until }.into());
        }
        if !password_ok {
            let locked = self.act(|tx, ctx| record_failure(tx, &ctx.desk_id, acc.id, now))?;
            self.oplog().sign_in(Some(acc.id), false);
            return Err(match locked {
                Some(until) => StaffError::AccountLocked { until },
                None => StaffError::SignInRefused,
            }
            .into());
        }
        if acc.failures > 0 || acc.locked_until.is_some() {
            // Resetting the count is bookkeeping: a sign-in is not an act.
            self.bookkeeping::<_, StaffError>(|tx, _| {
                tx.execute("UPDATE staff SET failed_sign_ins = 0, locked_until = NULL WHERE id = ?1", [acc.id])?;
                Ok(())
            })?;
        }
        self.oplog().sign_in(Some(acc.id), true);
        Ok(Session { staff_id: acc.id, role: acc.role, must_change: acc.must_change, last_activity: now })
    }

    /// Refuses a session idle longer than the `idle_lock_minutes` setting
    /// with [`StaffError::IdleLocked`] (the caller drops it and asks for a
    /// sign-in), else marks it active at `now`. The desk app calls this
    /// before every command that uses the session.
    pub fn check_idle(&self, session: &mut Session, now: DateTime<Utc>) -> Result<(), StaffError> {
        let minutes = self.idle_lock_minutes()?;
        if idle_expired(session.last_activity, now, minutes) {
            return Err(StaffError::IdleLocked { minutes }.into());
        }
        session.last_activity = session.last_activity.max(now);
        Ok(())
    }

    /// Adds a staff account (admin).
    pub fn add_staff(
        &mut self,
        session: &Session,
        new: &NewStaff<'_>,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<StaffInfo, StaffError> {
        let words = desk_words(self.connection())?;
        let context: Vec<&str> = words.iter().map(String::as_str).collect();
        validate_new(new, &context, lang).map_err(StaffError::Invalid)?;
        let hash = hash_password(new.password)?;
        let id = self.act::<_, StaffError>(|tx, ctx| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let id = insert(tx, new.name, new.role, &hash, new.temporary, now)?;
            audit::append(
                tx,
                &ctx.desk_id,
                &Event::by(session.staff_id, "staff.added", now).detail(&format!(
                    "staff:{id} role:{} temporary:{}",
                    new.role.code(),
                    new.temporary
                )),
            )?;
            Ok(id)
        })?;
        Ok(StaffInfo {
            id,
            name: new.name.trim().to_string(),
            role: new.role,
            active: true,
            created_at: timestamp(now),
            locked_until: None,
            must_change: new.temporary,
        })
    }

    /// Every account (admin).
    pub fn list_staff(&mut self, session: &Session) -> Result<Vec<StaffInfo>, StaffError> {
        Ok(self.read::<_, StaffError>(|tx, _| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let mut stmt = tx.prepare(
                "SELECT id, name, role, active, created_at, locked_until, must_change FROM staff ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StaffInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::from_code(&r.get::<_, String>(2)?).unwrap_or(Role::Clerk),
                    active: r.get(3)?,
                    created_at: r.get(4)?,
                    locked_until: parse_time(r.get(5)?),
                    must_change: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?)
    }

    /// Disables an account (admin), never the admin's own: so the desk
    /// always keeps an active admin, since only another one can disable it.
    pub fn disable_staff(&mut self, session: &Session, name: &str, now: DateTime<Utc>) -> Result<(), StaffError> {
        Ok(self.act(|tx, ctx| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let id: i64 = tx
                .query_row("SELECT id FROM staff WHERE name = ?1 AND active = 1", [name.trim()], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StaffError::StaffNotFound { name: name.trim().to_string() })?;
            if id == session.staff_id {
                return Err(StaffError::DisableSelf);
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

    /// Sets a temporary password for the active account `name` (admin): the
    /// account must change it at its next sign-in, and is unlocked. The
    /// temporary password meets the same policy as any other.
    pub fn reset_password(
        &mut self,
        session: &Session,
        name: &str,
        temporary: &str,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<(), StaffError> {
        let name = name.trim();
        let words = desk_words(self.connection())?;
        let context: Vec<&str> = words.iter().map(String::as_str).collect();
        check_password("password", temporary, name, &context, lang).map_err(|e| StaffError::Invalid(vec![e]))?;
        let hash = hash_password(temporary)?;
        Ok(self.act::<_, StaffError>(|tx, ctx| {
            authorize(tx, session, Role::Admin, "manage_staff")?;
            let id: i64 = tx
                .query_row("SELECT id FROM staff WHERE name = ?1 AND active = 1", [name], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StaffError::StaffNotFound { name: name.to_string() })?;
            tx.execute(
                "UPDATE staff SET password_hash = ?1, must_change = 1, failed_sign_ins = 0, locked_until = NULL,
                 password_changed_at = ?2 WHERE id = ?3",
                (&hash, timestamp(now), id),
            )?;
            audit::append(
                tx,
                &ctx.desk_id,
                &Event::by(session.staff_id, "staff.password_reset", now).detail(&format!("staff:{id}")),
            )?;
            Ok(())
        })?)
    }

    /// The signed-in staff member changes their own password (`passwd`):
    /// the current one is required, and a wrong one counts as a failed
    /// sign-in. The only act a session with a reset password may do.
    pub fn change_password(
        &mut self,
        session: &mut Session,
        current: &str,
        new: &str,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<(), StaffError> {
        let row: Option<(String, Account)> = self
            .connection()
            .query_row(&format!("SELECT {ACCOUNT_COLUMNS}, name FROM staff WHERE id = ?1"), [session.staff_id], |r| {
                Ok((r.get(7)?, account(r)?))
            })
            .optional()
            .map_err(StoreError::from)?;
        let Some((name, acc)) = row.filter(|(_, a)| a.active) else {
            return Err(StaffError::SignInRefused.into());
        };
        if let Some(until) = acc.locked_until.filter(|u| *u > now) {
            return Err(StaffError::AccountLocked { until }.into());
        }
        let words = desk_words(self.connection())?;
        let context: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut problems = Vec::new();
        if let Err(e) = check_password("new_password", new, &name, &context, lang) {
            problems.push(e);
        } else if new == current {
            problems.push(FieldError {
                field: "new_password".into(),
                code: "staff.password_unchanged".into(),
                message: i18n::text(lang, "staff_policy.field.password_unchanged").to_string(),
            });
        }
        if !verify_password(&acc.hash, current) {
            if let Some(until) = self.act(|tx, ctx| record_failure(tx, &ctx.desk_id, acc.id, now))? {
                return Err(StaffError::AccountLocked { until }.into());
            }
            problems.insert(
                0,
                FieldError {
                    field: "old_password".into(),
                    code: "staff.old_password_wrong".into(),
                    message: i18n::text(lang, "staff_policy.field.old_password_wrong").to_string(),
                },
            );
        }
        if !problems.is_empty() {
            return Err(StaffError::Invalid(problems));
        }
        let hash = hash_password(new)?;
        self.act::<_, StaffError>(|tx, ctx| {
            tx.execute(
                "UPDATE staff SET password_hash = ?1, must_change = 0, failed_sign_ins = 0, locked_until = NULL,
                 password_changed_at = ?2 WHERE id = ?3 AND active = 1",
                (&hash, timestamp(now), acc.id),
            )?;
            audit::append(tx, &ctx.desk_id, &Event::by(acc.id, "staff.password_changed", now))?;
            Ok(())
        })?;
        session.must_change = false;
        session.role = acc.role;
        session.last_activity = session.last_activity.max(now);
        Ok(())
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
        let errs = validate_new(
            &NewStaff { name: " ", role: Role::Clerk, password: "short", temporary: false },
            &[],
            Lang::En,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "password"]);
        assert_eq!(errs[1].code, "staff.password_short");
        assert!(errs[1].message.contains("12"), "{}", errs[1].message);
        let ok = NewStaff { name: "Ana", role: Role::Clerk, password: "quiet lantern orbit 42", temporary: false };
        assert!(validate_new(&ok, &[], Lang::En).is_ok());
    }

    #[test]
    fn the_fifth_failure_locks_for_a_minute_and_each_further_one_doubles_up_to_a_day() {
        for n in 0..LOCK_AFTER_FAILURES {
            assert_eq!(lock_period(n), None, "{n}");
        }
        assert_eq!(lock_period(5), Some(Duration::minutes(1)));
        assert_eq!(lock_period(6), Some(Duration::minutes(2)));
        assert_eq!(lock_period(10), Some(Duration::minutes(32)));
        assert_eq!(lock_period(15), Some(Duration::minutes(1024)));
        assert_eq!(lock_period(16), Some(MAX_LOCK));
        assert_eq!(lock_period(u32::MAX), Some(MAX_LOCK));
        for n in 5..40 {
            assert!(lock_period(n + 1) >= lock_period(n), "{n}");
        }
    }

    #[test]
    fn a_session_is_idle_only_after_more_than_the_set_minutes() {
        let t0 = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        assert!(!idle_expired(t0, t0 + Duration::minutes(5), 5));
        assert!(idle_expired(t0, t0 + Duration::minutes(5) + Duration::seconds(1), 5));
        // A clock that went back is not idleness.
        assert!(!idle_expired(t0, t0 - Duration::hours(1), 5));
    }
}
