//! `skranke issue --applicant FILE.json [--json]`: validate an intake record
//! and issue a number, as a signed-in staff member. Invalid input: exit 1,
//! every problem printed with its field, nothing stored.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::applicant::Applicant;
use skranke_core::i18n::{self, Lang};
use skranke_core::Error;

use crate::session;

fn read(path: &str) -> std::io::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

pub fn run(dir: &Path, staff: Option<&str>, path: &str, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => {
            let detail = e.to_string();
            eprintln!(
                "skranke: {}",
                i18n::render(lang, "issue.cli.read_failed", &[("path", path), ("detail", &detail)])
            );
            return Ok(ExitCode::from(2));
        }
    };
    let applicant = Applicant::from_json_bytes(&bytes, lang).map_err(Error::Invalid)?;
    let mut store = session::open(dir, lang)?;
    let staff_session = session::sign_in(&mut store, staff, lang)?;
    let now = Utc::now();
    let today = chrono::Local::now().date_naive();
    let (issued, notices) = store.issue_applicant(&staff_session, &applicant, today, now, lang, None, None)?;
    if json {
        session::print_json(&issued);
    } else {
        println!(
            "{}",
            i18n::render(
                lang,
                "issue.cli.issued",
                &[
                    ("number", &issued.display_number),
                    ("record_id", &issued.record_id),
                    ("issued_at", &issued.issued_at)
                ]
            )
        );
        if issued.training {
            println!("{}", i18n::text(lang, "issue.cli.training"));
        }
        for n in &notices {
            println!("{}", n.message);
        }
    }
    if issued.reserve_low {
        eprintln!(
            "skranke: {}",
            i18n::render(lang, "issue.cli.reserve_low", &[("left", &issued.reserve_left.to_string())])
        );
    }
    Ok(ExitCode::SUCCESS)
}
