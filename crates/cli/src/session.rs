//! What the desk's commands share: finding the desk's folder, opening its
//! store on the OS key store, signing a staff member in, and turning core
//! errors into messages and exit statuses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::keystore::OsKeyStore;
use skranke_core::staff::Session;
use skranke_core::store::{GuardOutcome, Store};
use skranke_core::Error;

/// The environment variable that holds the signing-in staff member's password.
pub const PASSWORD_ENV: &str = "SKRANKE_STAFF_PASSWORD";

/// `--data-dir`, else `SKRANKE_DATA_DIR` (clap reads both), else the machine-wide default.
pub fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(skranke_core::desk::default_data_dir)
}

/// Prints a core error for staff and returns the exit status: 1 for a
/// refused request (bad input, a duplicate, a missing role), 2 for a problem
/// with the machine or its setup (key store, database).
pub fn fail(e: &Error, lang: Lang) -> ExitCode {
    eprintln!("skranke: {}", e.message(lang));
    ExitCode::from(if e.is_refusal() { 1 } else { 2 })
}

/// Opens the desk in `dir` and tells staff what the rollback guard found.
pub fn open(dir: &Path, lang: Lang) -> Result<Store, Error> {
    tell_guard(Store::open(dir, Box::new(OsKeyStore), Utc::now())?, lang)
}

/// [`open`] without the automatic retention run (`skranke purge` runs it itself).
pub fn open_without_retention(dir: &Path, lang: Lang) -> Result<Store, Error> {
    tell_guard(Store::open_without_retention(dir, Box::new(OsKeyStore), Utc::now())?, lang)
}

fn tell_guard(store: Store, lang: Lang) -> Result<Store, Error> {
    let key = match store.guard_outcome() {
        GuardOutcome::InStep => None,
        GuardOutcome::CaughtUp => Some("store.guard.caught_up"),
        GuardOutcome::FrozeNow => Some("store.guard.froze_now"),
        GuardOutcome::Frozen => Some("store.guard.frozen"),
    };
    if let Some(key) = key {
        eprintln!("skranke: {}", i18n::text(lang, key));
    }
    Ok(store)
}

/// Reads a password from `env`, else asks on the terminal without echo.
pub fn password(env: &str, prompt: &str) -> Result<String, Error> {
    if let Ok(p) = std::env::var(env) {
        return Ok(p);
    }
    rpassword::prompt_password(prompt).map_err(|source| Error::Io { context: prompt.trim().to_string(), source })
}

/// Signs in `--staff NAME` with the password from `SKRANKE_STAFF_PASSWORD` or a prompt.
///
/// The idle lock: a CLI session lives for one command, so it is checked here
/// once, right after signing in, with the same core rule the desk app
/// applies before every command ([`Store::check_idle`]). A command never
/// waits on staff after this point; one that ever does must call
/// `check_idle` again before each act.
pub fn sign_in(store: &mut Store, staff: Option<&str>, lang: Lang) -> Result<Session, Error> {
    let name = staff_name(staff, lang)?;
    let pw = password(PASSWORD_ENV, &i18n::render(lang, "staff.prompt.password", &[("name", name)]))?;
    let mut session = sign_in_with(store, Some(name), &pw, lang)?;
    store.check_idle(&mut session, Utc::now())?;
    if session.must_change() {
        eprintln!("skranke: {}", i18n::text(lang, "staff_policy.cli.must_change"));
    }
    Ok(session)
}

/// Signs in `--staff NAME` with a password already read.
pub fn sign_in_with(store: &mut Store, staff: Option<&str>, password: &str, lang: Lang) -> Result<Session, Error> {
    Ok(store.sign_in(staff_name(staff, lang)?, password, Utc::now())?)
}

/// `--staff NAME`, or a refusal that says how to give it.
pub fn staff_name(staff: Option<&str>, lang: Lang) -> Result<&str, Error> {
    staff.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
        Error::Invalid(vec![skranke_core::FieldError {
            field: "staff".into(),
            code: "staff.missing".into(),
            message: i18n::text(lang, "staff.cli.need_staff").to_string(),
        }])
    })
}

/// Prints a value as one line of JSON.
pub fn print_json<T: serde::Serialize>(value: &T) {
    // Serialising the core's plain data types cannot fail.
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}
