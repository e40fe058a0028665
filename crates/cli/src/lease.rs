//! `skranke lease status`: the desk's reserve (desk-level, no staff needed).

use std::path::Path;
use std::process::ExitCode;

use skranke_core::cpr::Sex;
use skranke_core::i18n::{self, Lang};
use skranke_core::Error;

use crate::session;

pub fn status(dir: &Path, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let status = store.lease_status()?;
    if json {
        session::print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    if status.training {
        println!("{}", i18n::text(lang, "lease.cli.training"));
    }
    println!(
        "{}",
        i18n::render(
            lang,
            "lease.cli.status",
            &[
                ("units", &status.units.to_string()),
                ("per_date", &status.units.to_string()),
                ("frozen_units", &status.frozen_units.to_string()),
                ("issued", &status.issued_from_lease.to_string()),
            ]
        )
    );
    if let Some(t) = &status.tightest {
        let sex = i18n::text(lang, if t.sex == Sex::Male { "issue.sex.male" } else { "issue.sex.female" });
        let date = t.birth_date.format("%Y-%m-%d").to_string();
        println!(
            "{}",
            i18n::render(
                lang,
                "lease.cli.tightest",
                &[("birth_date", &date), ("sex", sex), ("left", &t.left.to_string())]
            )
        );
    }
    if status.frozen {
        println!("{}", i18n::text(lang, "lease.cli.frozen"));
    }
    if status.low {
        println!("{}", i18n::text(lang, "lease.cli.low"));
    }
    Ok(ExitCode::SUCCESS)
}
