//! The desk (skranken): its identity, settings, first start, and training mode.
//!
//! A desk is identified by its desk ID, which names its key-store entries and
//! prefixes its record IDs. An enrolled desk gets its ID and lease from the
//! registry (the registry issue builds that); a **training desk** (øvelsesskranke)
//! draws a random ID starting `T-`, leases itself a fixed local reserve of
//! units, shows every number with 60 added to the day of month, marks every
//! record TRAINING, and can never upload.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::audit::{self, Event};
use crate::i18n::{self, Lang};
use crate::keystore::KeyStore;
use crate::lease::{Block, LeaseUnit};
use crate::staff::{self, NewStaff, Role, StaffError};
use crate::store::{timestamp, valid_desk_id, DeskFile, Store, StoreError};
use crate::Error;
use crate::FieldError;

/// How many slots of the default block a training desk leases itself (four
/// units each): 16 numbers per birth date and sex.
pub const TRAINING_SLOTS: usize = 4;

/// The units a training desk holds: the first [`TRAINING_SLOTS`] slots of the
/// default block, every rank. Every training desk holds the same ones; it
/// never syncs, and its numbers are shown in the day+60 form.
pub fn training_units() -> Vec<LeaseUnit> {
    Block::default_block().units().take(TRAINING_SLOTS * usize::from(crate::lease::RANKS)).collect()
}

/// Crockford's base 32 alphabet: no I, L, O, U, so an ID read aloud is unambiguous.
const BASE32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A training desk's ID from 5 random bytes: `T-` and 8 base-32 characters.
pub fn training_desk_id(random: [u8; 5]) -> String {
    let bits = random.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    let mut id = String::from("T-");
    for i in (0..8).rev() {
        id.push(char::from(BASE32[((bits >> (i * 5)) & 31) as usize]));
    }
    id
}

/// Which kind of desk to create.
#[derive(Clone, Debug)]
pub enum DeskKind {
    /// A training desk with a random ID and its own local reserve.
    Training,
    /// A desk enrolled with the registry: the ID and units it assigned.
    Enrolled { desk_id: String, units: Vec<LeaseUnit> },
}

/// What `desk init` needs.
pub struct DeskSetup<'a> {
    pub kind: DeskKind,
    /// Kommunekode, three digits.
    pub municipality: &'a str,
    pub office: &'a str,
    pub desk_number: u32,
    pub admin_name: &'a str,
    pub admin_password: &'a str,
}

/// The desk as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeskInfo {
    pub desk_id: String,
    pub municipality: String,
    pub office: String,
    pub desk_number: u32,
    pub training: bool,
    pub created_at: String,
    pub lease_frozen: bool,
    pub frozen_reason: Option<String>,
}

fn field(field: &str, code: &str, lang: Lang) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: i18n::render(lang, &format!("desk.field.{code}"), &[]),
    }
}

/// Whether `code` is one of the 98 kommunekoder (three or four digits).
fn municipality_known(code: &str) -> bool {
    crate::municipality::parse_code(code).is_some()
}

/// Checks the desk's identity fields; every problem names its field.
pub fn validate_setup(setup: &DeskSetup<'_>, lang: Lang) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let m = setup.municipality.trim();
    if !municipality_known(m) {
        errors.push(field("municipality", "municipality_unknown", lang));
    }
    let office = setup.office.trim();
    if office.is_empty() || office.chars().count() > 100 || office.chars().any(char::is_control) {
        errors.push(field("office", "office_invalid", lang));
    }
    if !(1..=999).contains(&setup.desk_number) {
        errors.push(field("desk", "desk_number_invalid", lang));
    }
    if let DeskKind::Enrolled { desk_id, .. } = &setup.kind {
        if !valid_desk_id(desk_id) || desk_id.starts_with("T-") {
            errors.push(field("desk_id", "desk_id_invalid", lang));
        }
    }
    let municipality_name = crate::municipality::parse_code(m).map_or("", |mu| mu.name);
    if let Err(mut e) = staff::validate_new(
        &NewStaff { name: setup.admin_name, role: Role::Admin, password: setup.admin_password, temporary: false },
        &[m, municipality_name, office],
        lang,
    ) {
        for fe in &mut e {
            fe.field = format!("admin.{}", fe.field);
        }
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Creates a desk in `dir`: its key-store entries, its encrypted store, its
/// first admin, and (training) its local reserve, in one audited transaction.
pub fn init(
    dir: &Path,
    keystore: Box<dyn KeyStore>,
    setup: &DeskSetup<'_>,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<Store, Error> {
    validate_setup(setup, lang).map_err(Error::Invalid)?;
    let (desk_id, training, units, source) = match &setup.kind {
        DeskKind::Training => {
            let mut random = [0u8; 5];
            getrandom::fill(&mut random).map_err(|e| StoreError::Random { detail: e.to_string() })?;
            (training_desk_id(random), true, training_units(), "training")
        }
        DeskKind::Enrolled { desk_id, units } => (desk_id.clone(), false, units.clone(), "registry"),
    };
    // A training desk's login number is random and in the training range; an
    // enrolled desk gets its own from the registry (Store::set_login_number).
    let login_number = match setup.kind {
        DeskKind::Training => {
            let mut random = [0u8; 4];
            getrandom::fill(&mut random).map_err(|e| StoreError::Random { detail: e.to_string() })?;
            Some(crate::handout::training_login_number(random))
        }
        DeskKind::Enrolled { .. } => None,
    };
    let admin_hash = staff::hash_password(setup.admin_password)?;
    let desk = DeskFile { format: 1, desk_id: desk_id.clone(), training };
    let (store, ()) = Store::create::<_, StaffError>(dir, &desk, keystore, |tx, ctx| {
        tx.execute(
            "INSERT INTO desk (id, desk_id, municipality, office, desk_number, training, created_at, login_number)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            (
                &ctx.desk_id,
                setup.municipality.trim(),
                setup.office.trim(),
                setup.desk_number,
                training,
                timestamp(now),
                login_number,
            ),
        )?;
        let admin = staff::insert(tx, setup.admin_name, Role::Admin, &admin_hash, false, now)?;
        crate::alloc::insert_units(tx, &units, source, now)?;
        let detail = format!("admin:staff:{admin} units:{} training:{training}", units.len());
        audit::append(tx, &ctx.desk_id, &Event::desk("desk.initialised", now).detail(&detail))?;
        Ok(())
    })?;
    Ok(store)
}

impl Store {
    /// The desk's identity and state (no staff needed: desk-level).
    pub fn desk_info(&mut self) -> Result<DeskInfo, Error> {
        Ok(self.read::<_, crate::store::StoreError>(|tx, _| {
            Ok(tx.query_row(
                "SELECT desk_id, municipality, office, desk_number, training, created_at, lease_frozen, frozen_reason
                 FROM desk WHERE id = 1",
                [],
                |r| {
                    Ok(DeskInfo {
                        desk_id: r.get(0)?,
                        municipality: r.get(1)?,
                        office: r.get(2)?,
                        desk_number: r.get(3)?,
                        training: r.get(4)?,
                        created_at: r.get(5)?,
                        lease_frozen: r.get(6)?,
                        frozen_reason: r.get(7)?,
                    })
                },
            )?)
        })?)
    }

    /// Stores a desk setting unchecked (admin), audited: the core's own
    /// callers only; staff's values go through `core::settings`
    /// (`Store::change_setting`, `Store::change_settings`), which check them.
    pub(crate) fn set_setting(
        &mut self,
        session: &staff::Session,
        key: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StaffError> {
        self.set_settings_raw(session, &[(key, value)], now)
    }

    /// Stores checked settings in one transaction, each change audited by key.
    pub(crate) fn set_settings(
        &mut self,
        session: &staff::Session,
        values: &[(crate::settings::SettingKey, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StaffError> {
        let raw: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.code(), v.as_str())).collect();
        self.set_settings_raw(session, &raw, now)
    }

    fn set_settings_raw(
        &mut self,
        session: &staff::Session,
        values: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<(), StaffError> {
        self.act(|tx, ctx| {
            staff::authorize(tx, session, Role::Admin, "settings")?;
            for &(key, value) in values {
                tx.execute(
                    "INSERT INTO setting (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )?;
                audit::append(tx, &ctx.desk_id, &Event::by(session.staff_id(), "desk.setting_changed", now).detail(key))?;
            }
            Ok(())
        })
    }

    /// The desk's kommunekode.
    pub fn municipality_code(&self) -> Result<u16, StoreError> {
        let code: String =
            self.connection().query_row("SELECT municipality FROM desk WHERE id = 1", [], |r| r.get(0))?;
        // Written validated by `init`; an unreadable code cannot come from there.
        Ok(code.parse().unwrap_or(0))
    }

    /// The audit head, for status displays.
    pub fn audit_head(&self) -> Result<audit::AuditHead, Error> {
        Ok(audit::head(self.connection(), self.desk_id())?)
    }

    /// The number of staff accounts (0 only for a broken desk).
    pub fn staff_count(&self) -> Result<i64, Error> {
        let n: Option<i64> = self
            .connection()
            .query_row("SELECT count(*) FROM staff", [], |r| r.get(0))
            .optional()
            .map_err(StoreError::from)?;
        Ok(n.unwrap_or(0))
    }
}

/// Removes a desk's key-store entries (after its folder is deleted, or in tests).
/// Without them its database can never be opened again.
pub fn forget_keys(keystore: &dyn KeyStore, desk_id: &str) -> Result<(), Error> {
    for entry in [crate::keystore::DB_KEY, crate::keystore::DUPLICATE_KEY, crate::keystore::GUARD] {
        keystore.delete(desk_id, entry)?;
    }
    Ok(())
}

/// The default folder for a desk when neither `--data-dir` nor
/// `SKRANKE_DATA_DIR` names one.
///
/// Linux `/var/lib/skranke` and macOS `/Library/Application Support/Skranke`
/// (machine-wide), or the user's data folder when that cannot be written (no
/// admin rights at install): `$XDG_DATA_HOME/skranke` (or
/// `~/.local/share/skranke`), `~/Library/Application Support/Skranke`.
///
/// Windows: always the user's `%LOCALAPPDATA%\Skranke` (see
/// [`windows_data_dir`]).
pub fn default_data_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(windows) {
        return windows_data_dir(env);
    }
    let home = env("HOME").unwrap_or_else(|| PathBuf::from("."));
    let (machine, user) = if cfg!(target_os = "macos") {
        (PathBuf::from("/Library/Application Support/Skranke"), home.join("Library/Application Support/Skranke"))
    } else {
        (
            PathBuf::from("/var/lib/skranke"),
            env("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")).join("skranke"),
        )
    };
    if writable(&machine) {
        machine
    } else {
        user
    }
}

/// The desk folder on Windows: `%LOCALAPPDATA%\Skranke` (else
/// `%USERPROFILE%\AppData\Local\Skranke`), given the environment as `env`.
///
/// Not `%ProgramData%`: the desk's keys live in the Credential Manager of
/// one Windows account, so its database belongs in that account's profile,
/// where other accounts on the counter PC cannot read it (files created under
/// `%ProgramData%` are readable by every user by default).
pub fn windows_data_dir(env: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    env("LOCALAPPDATA")
        .or_else(|| env("USERPROFILE").map(|p| p.join("AppData").join("Local")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("Skranke")
}

/// Whether a file can be created in `dir` (creating `dir` if need be).
fn writable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".skranke-probe-{}", std::process::id()));
    let ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_desk_ids_are_well_formed_and_differ_with_the_randomness() {
        let a = training_desk_id([0, 0, 0, 0, 0]);
        let b = training_desk_id([255, 1, 2, 3, 4]);
        assert_eq!(a, "T-00000000");
        assert!(valid_desk_id(&a) && valid_desk_id(&b));
        assert_eq!(b.len(), 10);
        assert_ne!(a, b);
        assert!(!b[2..].contains(['I', 'L', 'O', 'U']));
    }

    #[test]
    fn desk_ids_with_lowercase_spaces_or_a_leading_dash_are_refused() {
        for bad in ["", "t-1", "A B", "-A", "A/B", &"A".repeat(33)] {
            assert!(!valid_desk_id(bad), "{bad:?}");
        }
        assert!(valid_desk_id("KBH-101-3"));
    }

    #[test]
    fn training_units_are_sixteen_distinct_units_of_the_default_block() {
        let units = training_units();
        assert_eq!(units.len(), 16);
        let block = Block::default_block();
        assert!(units.iter().all(|u| block.slots().contains(&u.slot)));
        let distinct: std::collections::HashSet<_> = units.iter().collect();
        assert_eq!(distinct.len(), 16);
    }

    #[test]
    fn the_windows_desk_folder_is_skranke_in_local_app_data_else_in_the_profile() {
        let lookup =
            |vars: &[(&str, &str)], key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| PathBuf::from(v));
        let local = r"C:\Users\anna\AppData\Local";
        let with_local =
            [("LOCALAPPDATA", local), ("USERPROFILE", r"C:\Users\anna"), ("ProgramData", r"C:\ProgramData")];
        assert_eq!(windows_data_dir(|k| lookup(&with_local, k)), PathBuf::from(local).join("Skranke"));
        let profile_only = [("USERPROFILE", r"C:\Users\anna")];
        assert_eq!(
            windows_data_dir(|k| lookup(&profile_only, k)),
            PathBuf::from(r"C:\Users\anna").join("AppData").join("Local").join("Skranke")
        );
    }

    #[test]
    fn only_real_kommunekoder_are_accepted_in_three_or_four_digits() {
        assert!(municipality_known("101") && municipality_known("0461") && municipality_known("400"));
        assert!(!municipality_known("100") && !municipality_known("12") && !municipality_known("abc"));
    }

    #[test]
    fn a_setup_with_bad_fields_names_every_field() {
        let setup = DeskSetup {
            kind: DeskKind::Enrolled { desk_id: "bad id".into(), units: vec![] },
            municipality: "100",
            office: "",
            desk_number: 0,
            admin_name: "",
            admin_password: "x",
        };
        let fields: Vec<String> = validate_setup(&setup, Lang::Da).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["municipality", "office", "desk", "desk_id", "admin.name", "admin.password"]);
    }
}
