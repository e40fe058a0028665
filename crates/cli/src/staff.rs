//! `skranke staff add|list|disable` (admin).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::staff::{NewStaff, Role};
use skranke_core::Error;

use crate::session;

/// The environment variable that holds a new account's password.
pub const NEW_PASSWORD_ENV: &str = "SKRANKE_NEW_STAFF_PASSWORD";

pub fn add(dir: &Path, staff: Option<&str>, name: &str, role: Role, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let admin = session::sign_in(&mut store, staff, lang)?;
    let password =
        session::password(NEW_PASSWORD_ENV, &i18n::render(lang, "staff.prompt.new_password", &[("name", name)]))?;
    let info = store.add_staff(&admin, &NewStaff { name, role, password: &password }, Utc::now(), lang)?;
    let role = i18n::text(lang, info.role.message_key());
    println!(
        "{}",
        i18n::render(lang, "staff.cli.added", &[("name", &info.name), ("role", role), ("id", &info.id.to_string())])
    );
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
    for s in all {
        let state = i18n::text(lang, if s.active { "staff.cli.active" } else { "staff.cli.inactive" });
        let row =
            [("id", s.id.to_string()), ("name", s.name), ("role", i18n::text(lang, s.role.message_key()).to_string())];
        let mut args: Vec<(&str, &str)> = row.iter().map(|(k, v)| (*k, v.as_str())).collect();
        args.push(("state", state));
        println!("{}", i18n::render(lang, "staff.cli.row", &args));
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
