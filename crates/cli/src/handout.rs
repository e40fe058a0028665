//! The handout's side of `skranke issue` and `skranke reprint`: where the
//! letter goes, what staff are told about it, and `skranke reprint` itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use serde::Serialize;
use skranke_core::credentials::OsRandom;
use skranke_core::handout::{Delivered, Delivery, HandedOut, HandoutError};
use skranke_core::i18n::{self, Lang};
use skranke_core::print::Printer;
use skranke_core::retention::PresentedDocument;
use skranke_core::store::Store;
use skranke_core::Error;

use crate::session;

/// Where the handout goes: `--print` or `--pdf OUT.pdf` (clap requires one).
pub enum Target {
    Print,
    Pdf(PathBuf),
}

impl Target {
    pub fn from_args(pdf: Option<PathBuf>) -> Target {
        pdf.map_or(Target::Print, Target::Pdf)
    }
}

/// A [`Target`] made ready: the desk's printer looked up (refused before
/// anything is issued when setting `printer` is empty), or the file's path.
pub enum Output {
    Printer(Box<dyn Printer + Send + Sync>),
    Pdf(PathBuf),
}

impl Target {
    pub fn open(&self, store: &Store) -> Result<Output, Error> {
        Ok(match self {
            Target::Print => Output::Printer(store.desk_printer()?),
            Target::Pdf(path) => Output::Pdf(path.clone()),
        })
    }
}

impl Output {
    pub fn delivery(&self) -> Delivery<'_> {
        match self {
            Output::Printer(p) => Delivery::Print(p.as_ref()),
            Output::Pdf(path) => Delivery::SavePdf(path),
        }
    }
}

/// "printed", "saved" or "failed", for JSON output.
pub fn outcome_code(h: &HandedOut) -> &'static str {
    match &h.delivery {
        Ok(Delivered::Printed { .. }) => "printed",
        Ok(Delivered::Saved { .. }) => "saved",
        Err(_) => "failed",
    }
}

/// Tells staff what became of the handout (on stdout unless `json`; a
/// failure always on stderr) and gives the exit status: 0 when it came out,
/// 2 when it did not (the record stays issued: reprint).
pub fn report(h: &HandedOut, json: bool, lang: Lang) -> ExitCode {
    let id = h.record_id.as_str();
    let code = match &h.delivery {
        Ok(delivered) => {
            if !json {
                println!("{}", i18n::render(lang, "handout.cli.username", &[("username", h.username.as_str())]));
                let line = match delivered {
                    Delivered::Printed { job_id } => {
                        let job = job_id
                            .as_deref()
                            .map(|j| i18n::render(lang, "handout.cli.job", &[("job_id", j)]))
                            .unwrap_or_default();
                        i18n::render(lang, "handout.cli.printed", &[("record_id", id), ("job", &job)])
                    }
                    Delivered::Saved { path } => i18n::render(
                        lang,
                        "handout.cli.saved",
                        &[("record_id", id), ("path", &path.display().to_string())],
                    ),
                };
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let detail = e.message(lang);
            eprintln!(
                "skranke: {}",
                i18n::render(lang, "handout.cli.failed", &[("record_id", id), ("detail", &detail)])
            );
            ExitCode::from(2)
        }
    };
    if let Some(e) = &h.note_failed {
        eprintln!("skranke: {}", i18n::render(lang, "handout.cli.note_failed", &[("detail", &e.message(lang))]));
    }
    code
}

#[derive(Serialize)]
struct ReprintJson<'a> {
    record_id: &'a str,
    username: &'a str,
    handout: &'static str,
}

/// The identity document shown again, for the reprint of a record whose
/// personal data was erased (`core::retention`); ignored otherwise.
#[derive(clap::Args)]
pub struct DocumentArgs {
    /// The applicant's document number (needed once the record's personal data is erased).
    #[arg(long, value_name = "NUMBER", requires = "surname")]
    document: Option<String>,
    /// The document's issuing state, ISO alpha-2 (optional: the number is checked against every state).
    #[arg(long, value_name = "XX", requires = "document")]
    issuing_state: Option<String>,
    /// The surname as the document prints it (for the handout; not stored).
    #[arg(long, requires = "document")]
    surname: Option<String>,
    /// The given names as the document prints it (for the handout; not stored).
    #[arg(long, requires = "document")]
    given_names: Option<String>,
}

impl DocumentArgs {
    pub fn presented(self) -> Option<PresentedDocument> {
        Some(PresentedDocument {
            number: self.document?,
            issuing_state: self.issuing_state,
            surname: self.surname.unwrap_or_default(),
            given_names: self.given_names.unwrap_or_default(),
        })
    }
}

/// `skranke reprint ID (--print | --pdf OUT.pdf) [--json] [--document NUMBER --surname NAME ...]`.
pub fn reprint(
    dir: &Path,
    staff: Option<&str>,
    id: &str,
    target: &Target,
    presented: Option<PresentedDocument>,
    json: bool,
    lang: Lang,
) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let staff_session = session::sign_in(&mut store, staff, lang)?;
    let output = target.open(&store)?;
    let today = chrono::Local::now().date_naive();
    let id = id.trim();
    let handed = store
        .reprint_presenting(
            &staff_session,
            id,
            presented.as_ref(),
            today,
            Utc::now(),
            lang,
            output.delivery(),
            &mut OsRandom,
        )
        .inspect_err(|e| {
            if matches!(e, HandoutError::ApplicantErased { .. }) {
                eprintln!("skranke: {}", i18n::render(lang, "retention.cli.need_document", &[("record_id", id)]));
            }
        })?;
    if json {
        session::print_json(&ReprintJson {
            record_id: &handed.record_id,
            username: handed.username.as_str(),
            handout: outcome_code(&handed),
        });
    } else if handed.delivery.is_ok() {
        println!("{}", i18n::render(lang, "handout.cli.reprinted", &[("record_id", &handed.record_id)]));
    }
    Ok(report(&handed, json, lang))
}
