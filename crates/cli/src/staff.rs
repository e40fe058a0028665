//! `skranke staff add|list|disable|reset|passwd`: accounts (admin) and one's
//! own password (anyone signed in).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::staff::{NewStaff, Role};
use skranke_core::Error;

use crate::session;

/// The environment variable that holds a new account's password.
pub const NEW_PASSWORD_ENV: &str = "SKRANKE_NEW_STAFF_PASSWORD";

/// The environment variable that holds the new password of `reset` and `passwd`.
pub const CHANGED_PASSWORD_ENV: &str = "SKRANKE_NEW_PASSWORD";

/// Adds an account; with `temporary`, its owner must choose their own
/// password at the first sign-in.
pub fn add(
    dir: &Path,
    staff: Option<&str>,
    name: &str,
    role: Role,
    temporary: bool,
    lang: Lang,
) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let admin = session::sign_in(&mut store, staff, lang)?;
    let password =
        session::password(NEW_PASSWORD_ENV, &i18n::render(lang, "staff.prompt.new_password", &[("name", name)]))?;
    let info = store.add_staff(&admin, &NewStaff { name, role, password: &password, temporary }, Utc::now(), lang)?;
    let role = i18n::text(lang, info.role.message_key());
    println!(
        "{}",
        i18n::render(lang, "staff.cli.added", &[("name", &info.name), ("role", role), ("id", &info.id.to_string())])
    );
    if info.must_change {
        println!("{}", i18n::render(lang, "staff.cli.added_temporary", &[("name", &info.name)]));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(dir: &Path, staff: Option<&str>, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let admin = session::sign_in(&mut store, staff, lang)?;
    let all = store.list_staff(&admin)?;
    if json {
        session::print_json(&all);
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    for s in all {
        let state = i18n::text(lang, if s.active { "staff.cli.active" } else { "staff.cli.inactive" });
        let locked = match s.locked_at(now) {
            Some(until) => i18n::render(
                lang,
                "staff_policy.cli.locked_until",
                &[("until", &until.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())],
            ),
            None => i18n::text(lang, "staff_policy.cli.not_locked").to_string(),
        };
        let must_change =
            if s.must_change { "staff_policy.cli.must_change_yes" } else { "staff_policy.cli.must_change_no" };
        let row = [
            ("id", s.id.to_string()),
            ("name", s.name),
            ("role", i18n::text(lang, s.role.message_key()).to_string()),
            ("state", state.to_string()),
            ("locked", locked),
            ("must_change", i18n::text(lang, must_change).to_string()),
        ];
        let args: Vec<(&str, &str)> = row.iter().map(|(k, v)| (*k, v.as_str())).collect();
        println!("{}", i18n::render(lang, "staff_policy.cli.row", &args));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn disable(dir: &Path, staff: Option<&str>, name: &str, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let admin = session::sign_in(&mut store, staff, lang)?;
    store.disable_staff(&admin, name, Utc::now())?;
    println!("{}", i18n::render(lang, "staff.cli.disabled", &[("name", name)]));
    Ok(ExitCode::SUCCESS)
}

pub fn reset(dir: &Path, staff: Option<&str>, name: &str, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let admin = session::sign_in(&mut store, staff, lang)?;
    let password =
        session::password(CHANGED_PASSWORD_ENV, &i18n::render(lang, "staff_policy.prompt.new", &[("name", name)]))?;
    store.reset_password(&admin, name, &password, Utc::now(), lang)?;
    println!("{}", i18n::render(lang, "staff_policy.cli.reset", &[("name", name.trim())]));
    Ok(ExitCode::SUCCESS)
}

/// The signed-in staff member's own password: the current one signs in (and
/// is asked for again by the core), the new one replaces it.
pub fn passwd(dir: &Path, staff: Option<&str>, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let name = session::staff_name(staff, lang)?.to_string();
    // Asked for before signing in, because the core wants it again to change it.
    let current = session::password(
        session::PASSWORD_ENV,
        &i18n::render(lang, "staff_policy.prompt.current", &[("name", &name)]),
    )?;
    let mut me = session::sign_in_with(&mut store, Some(&name), &current, lang)?;
    store.check_idle(&mut me, Utc::now())?;
    let new =
        session::password(CHANGED_PASSWORD_ENV, &i18n::render(lang, "staff_policy.prompt.new", &[("name", &name)]))?;
    if std::env::var(CHANGED_PASSWORD_ENV).is_err() {
        let again = session::password("", i18n::text(lang, "staff.prompt.repeat"))?;
        if again != new {
            eprintln!("skranke: {}", i18n::text(lang, "staff.prompt.mismatch"));
            return Ok(ExitCode::from(1));
        }
    }
    store.change_password(&mut me, &current, &new, Utc::now(), lang)?;
    println!("{}", i18n::render(lang, "staff_policy.cli.changed", &[("name", &name)]));
    Ok(ExitCode::SUCCESS)
}
