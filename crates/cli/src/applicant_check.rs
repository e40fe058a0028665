//! `skranke applicant check FILE`: check an intake record (JSON) against
//! every intake rule, as the desk would before drawing a number.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use chrono::NaiveDate;
use serde_json::json;
use skranke_core::applicant::{Applicant, IntakeContext, MAX_JSON_BYTES};
use skranke_core::i18n::{self, Lang};

/// Checks the record in `path` (`-`: standard input). `desk_municipality`
/// is the desk's kommunekode; without it no job-centre notice is given.
/// Exit status 0 when valid, 1 when not, 2 when the file cannot be read.
pub fn run(path: &str, json: bool, desk_municipality: Option<u16>, lang: Lang, today: NaiveDate) -> ExitCode {
    let bytes = match read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = i18n::render(lang, "applicant.cli.read_failed", &[("path", path), ("error", &e.to_string())]);
            eprintln!("skranke: {message}");
            return ExitCode::from(2);
        }
    };
    let result = Applicant::from_json_bytes(&bytes, lang).and_then(|a| {
        let desk_municipality = desk_municipality.unwrap_or(a.municipality_of_stay);
        a.validate(&IntakeContext { today, desk_municipality }, lang)
    });
    let (errors, notices) = match &result {
        Ok(v) => (Vec::new(), v.notices.clone()),
        Err(errors) => (errors.clone(), Vec::new()),
    };
    let output = if json {
        json!({"valid": result.is_ok(), "errors": errors, "notices": notices}).to_string()
    } else {
        let mut s =
            i18n::text(lang, if result.is_ok() { "applicant.cli.valid" } else { "applicant.cli.invalid" }).to_string();
        for e in &errors {
            s.push_str(&format!("\n  {}: {}", e.field, e.message));
        }
        for n in &notices {
            s.push_str(&format!("\n{}", n.message));
        }
        s
    };
    let mut out = io::stdout().lock();
    if writeln!(out, "{output}").and_then(|()| out.flush()).is_err() {
        return ExitCode::from(2);
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Reads at most one byte more than the core accepts, so that an oversized
/// file is refused by the core with its message rather than read whole.
fn read(path: &str) -> io::Result<Vec<u8>> {
    let limit = MAX_JSON_BYTES as u64 + 1;
    let mut buf = Vec::new();
    if path == "-" {
        io::stdin().lock().take(limit).read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(Path::new(path))?.take(limit).read_to_end(&mut buf)?;
    }
    Ok(buf)
}
