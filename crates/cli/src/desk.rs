//! `skranke desk init` and `skranke desk show`.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::i18n::{self, Lang};
use skranke_core::keystore::OsKeyStore;
use skranke_core::Error;

use crate::session::{self, PASSWORD_ENV};

pub struct InitArgs {
    pub municipality: String,
    pub office: String,
    pub desk: u32,
    pub training: bool,
    pub admin: String,
}

pub fn init(dir: &Path, args: &InitArgs, lang: Lang) -> Result<ExitCode, Error> {
    if !args.training {
        eprintln!("skranke: {}", i18n::text(lang, "desk.cli.only_training"));
        return Ok(ExitCode::from(2));
    }
    let password =
        session::password(PASSWORD_ENV, &i18n::render(lang, "staff.prompt.new_password", &[("name", &args.admin)]))?;
    if std::env::var(PASSWORD_ENV).is_err() {
        let again = session::password("", i18n::text(lang, "staff.prompt.repeat"))?;
        if again != password {
            eprintln!("skranke: {}", i18n::text(lang, "staff.prompt.mismatch"));
            return Ok(ExitCode::from(1));
        }
    }
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: &args.municipality,
        office: &args.office,
        desk_number: args.desk,
        admin_name: &args.admin,
        admin_password: &password,
    };
    let store = desk::init(dir, Box::new(OsKeyStore), &setup, Utc::now(), lang)?;
    let key = if store.is_training() { "desk.cli.created_training" } else { "desk.cli.created" };
    println!("{}", i18n::render(lang, key, &[("desk_id", store.desk_id()), ("dir", &dir.display().to_string())]));
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
