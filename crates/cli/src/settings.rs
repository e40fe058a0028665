//! `skranke settings get [KEY]` and `skranke settings set KEY VALUE` (admin).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::settings::{self, SettingKey, SettingSource, SettingValue};
use skranke_core::Error;

use crate::session;

/// The key, or exit 2 with a message naming it and listing the known ones.
fn key(code: &str, lang: Lang) -> Result<SettingKey, ExitCode> {
    settings::parse_key(code, lang).map_err(|e| {
        eprintln!("skranke: {}", e.message);
        ExitCode::from(2)
    })
}

fn print_row(v: &SettingValue, lang: Lang) {
    let unset = i18n::text(lang, "settings.cli.unset");
    // Where a value in force comes from, when it is not the desk admin's own.
    let default = match v.source {
        SettingSource::Municipality => i18n::text(lang, "settings.cli.municipality"),
        SettingSource::Default if v.value.is_some() => i18n::text(lang, "settings.cli.default"),
        _ => "",
    };
    println!(
        "{}",
        i18n::render(
            lang,
            "settings.cli.row",
            &[("key", v.key), ("value", v.value.as_deref().unwrap_or(unset)), ("default", default)]
        )
    );
}

pub fn get(dir: &Path, staff: Option<&str>, key_code: Option<&str>, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let wanted = match key_code.map(|k| key(k, lang)).transpose() {
        Ok(k) => k,
        Err(code) => return Ok(code),
    };
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    match wanted {
        Some(k) => {
            let v = store.get_setting(&s, k)?;
            if json {
                session::print_json(&v);
            } else {
                print_row(&v, lang);
            }
        }
        None => {
            let all = store.settings(&s)?;
            if json {
                session::print_json(&all);
            } else {
                all.iter().for_each(|v| print_row(v, lang));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn set(dir: &Path, staff: Option<&str>, key_code: &str, value: &str, lang: Lang) -> Result<ExitCode, Error> {
    let k = match key(key_code, lang) {
        Ok(k) => k,
        Err(code) => return Ok(code),
    };
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    let stored = store.change_setting(&s, k, value, Utc::now(), lang)?;
    println!("{}", i18n::render(lang, "settings.cli.set", &[("key", k.code()), ("value", &stored)]));
    Ok(ExitCode::SUCCESS)
}

/// `skranke settings printers`: the machine's printers as the core lists
/// them (no desk or sign-in needed: it names no person). Exit 2 when they
/// cannot be listed, with the reason.
pub fn printers(json: bool, lang: Lang) -> ExitCode {
    match skranke_core::print::printers() {
        Ok(names) if json => {
            session::print_json(&names);
            ExitCode::SUCCESS
        }
        Ok(names) => {
            names.iter().for_each(|n| println!("{n}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skranke: {}", e.message(lang));
            ExitCode::from(2)
        }
    }
}
