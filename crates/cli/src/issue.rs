//! `skranke issue --applicant FILE.json (--print | --pdf OUT.pdf)
//! [--duplicate-reviewed] [--json]`: issue a number and its Jobnet login to
//! an intake record and produce the handout, as a signed-in staff member,
//! through the core's counter (`core::counter::issue`: the registry's
//! duplicate lookup and online allocation for an enrolled desk, the lease
//! otherwise). Invalid input, or a registry match without
//! `--duplicate-reviewed`: exit 1, every problem printed with its field,
//! nothing stored. A handout that did not come out after the commit: exit 2,
//! with the record to reprint. Warnings about a committed issue go to stderr.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use skranke_core::applicant::Applicant;
use skranke_core::counter::{self, IssueRequest, Moment};
use skranke_core::credentials::OsRandom;
use skranke_core::i18n::{self, Lang};
use skranke_core::Error;

use crate::handout::{self, Target};
use crate::session;

/// The JSON output: the record, the username and what became of the handout.
#[derive(Serialize)]
struct IssueJson<'a> {
    #[serde(flatten)]
    issued: &'a skranke_core::issue::Issued,
    username: &'a str,
    handout: &'static str,
}

fn read(path: &str) -> std::io::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

pub fn run(
    dir: &Path,
    staff: Option<&str>,
    path: &str,
    target: &Target,
    duplicate_reviewed: bool,
    json: bool,
    lang: Lang,
) -> Result<ExitCode, Error> {
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
    let output = target.open(&store)?;
    let request = IssueRequest {
        applicant: &applicant,
        duplicate_reviewed,
        delivery: output.delivery(),
        at: Moment::now(),
        lang,
    };
    let out = counter::issue(&mut store, &staff_session, &request, &mut OsRandom)?;
    let (issued, notices) = (&out.issued, &out.notices);
    if json {
        session::print_json(&IssueJson {
            issued,
            username: out.handout.username.as_str(),
            handout: handout::outcome_code(&out.handout),
        });
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
        for n in notices {
            println!("{}", n.message);
        }
    }
    for w in &out.warnings {
        eprintln!("skranke: {}", w.message);
    }
    if issued.reserve_low {
        eprintln!(
            "skranke: {}",
            i18n::render(lang, "issue.cli.reserve_low", &[("left", &issued.reserve_left.to_string())])
        );
    }
    Ok(handout::report(&out.handout, json, lang))
}
