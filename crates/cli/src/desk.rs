//! `skranke desk init` and `skranke desk show`.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::i18n::{self, Lang};
use skranke_core::keystore::OsKeyStore;
use skranke_core::sync::{self, Enrolment};
use skranke_core::Error;

use crate::session::{self, PASSWORD_ENV};

pub struct InitArgs {
    pub registry: Option<String>,
    pub enrolment_code: Option<String>,
    pub municipality: Option<String>,
    pub office: Option<String>,
    pub desk: Option<u32>,
    pub training: bool,
    pub admin: String,
}

/// The first admin's password, asked twice on a terminal.
fn admin_password(admin: &str, lang: Lang) -> Result<Option<String>, Error> {
    let password =
        session::password(PASSWORD_ENV, &i18n::render(lang, "staff.prompt.new_password", &[("name", admin)]))?;
    if std::env::var(PASSWORD_ENV).is_err() {
        let again = session::password("", i18n::text(lang, "staff.prompt.repeat"))?;
        if again != password {
            eprintln!("skranke: {}", i18n::text(lang, "staff.prompt.mismatch"));
            return Ok(None);
        }
    }
    Ok(Some(password))
}

pub fn init(dir: &Path, args: &InitArgs, lang: Lang) -> Result<ExitCode, Error> {
    if let (Some(url), Some(code)) = (&args.registry, &args.enrolment_code) {
        return enrol(dir, url, code, &args.admin, lang);
    }
    if !args.training {
        eprintln!("skranke: {}", i18n::text(lang, "sync.cli.init_needs_kind"));
        return Ok(ExitCode::from(2));
    }
    let (Some(municipality), Some(office), Some(desk_number)) = (&args.municipality, &args.office, args.desk) else {
        eprintln!("skranke: {}", i18n::text(lang, "sync.cli.init_needs_identity"));
        return Ok(ExitCode::from(2));
    };
    let Some(password) = admin_password(&args.admin, lang)? else { return Ok(ExitCode::from(1)) };
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality,
        office,
        desk_number,
        admin_name: &args.admin,
        admin_password: &password,
    };
    let store = desk::init(dir, Box::new(OsKeyStore), &setup, Utc::now(), lang)?;
    let key = if store.is_training() { "desk.cli.created_training" } else { "desk.cli.created" };
    println!("{}", i18n::render(lang, key, &[("desk_id", store.desk_id()), ("dir", &dir.display().to_string())]));
    Ok(ExitCode::SUCCESS)
}

/// Enrols with the registry: the municipality, office and desk number come
/// from the registry's answer (the code was made for them).
fn enrol(dir: &Path, url: &str, code: &str, admin: &str, lang: Lang) -> Result<ExitCode, Error> {
    let Some(password) = admin_password(admin, lang)? else { return Ok(ExitCode::from(1)) };
    let enrolment = Enrolment { registry_url: url, enrolment_code: code, admin_name: admin, admin_password: &password };
    let (mut store, answer) = sync::enrol(dir, Box::new(OsKeyStore), &enrolment, Utc::now(), lang)?;
    println!(
        "{}",
        i18n::render(
            lang,
            "sync.cli.enrolled",
            &[
                ("desk_id", &answer.desk_id),
                ("municipality", &format!("{:03}", answer.municipality)),
                ("office", &answer.office),
                ("desk_number", &answer.desk_number.to_string()),
                ("dir", &dir.display().to_string()),
            ]
        )
    );
    let units = store.lease_status()?.units;
    println!("{}", i18n::render(lang, "sync.cli.enrolled_units", &[("units", &units.to_string())]));
    Ok(ExitCode::SUCCESS)
}

pub fn show(dir: &Path, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let info = store.desk_info()?;
    if json {
        session::print_json(&info);
    } else {
        println!(
            "{}",
            i18n::render(
                lang,
                "desk.cli.show",
                &[
                    ("desk_id", &info.desk_id),
                    ("municipality", &info.municipality),
                    ("office", &info.office),
                    ("desk_number", &info.desk_number.to_string()),
                ]
            )
        );
        if info.training {
            println!("{}", i18n::text(lang, "lease.cli.training"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
