//! `skranke audit verify`: checks the hash chain and names the first broken link.

use std::path::Path;
use std::process::ExitCode;

use skranke_core::audit::Verification;
use skranke_core::i18n::{self, Lang};
use skranke_core::Error;

use crate::session;

pub fn verify(dir: &Path, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let store = session::open(dir, lang)?;
    let outcome = store.verify_audit()?;
    if json {
        session::print_json(&outcome);
    }
    match outcome {
        Verification::Intact { events, head } => {
            if !json {
                println!(
                    "{}",
                    i18n::render(lang, "audit.cli.intact", &[("events", &events.to_string()), ("head", &head)])
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken { seq, reason } => {
            let reason = i18n::render(lang, reason.message_key(), &[("seq", &seq.to_string())]);
            eprintln!("skranke: {}", i18n::render(lang, "audit.cli.broken", &[("reason", &reason)]));
            Ok(ExitCode::from(1))
        }
    }
}
