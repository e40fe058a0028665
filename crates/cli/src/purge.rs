//! `skranke purge [--dry-run] [--json]` (supervisor): erases the personal
//! data that retention (`skranke_core::retention`) says is due now, and
//! lists what it erased (or would erase) and what it keeps and flags. IDs
//! and dates only, never a name.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::retention::{ErasureBasis, FlagReason, PurgeReport, DEFAULT_RETENTION_DAYS};
use skranke_core::Error;

use crate::session;

pub fn run(dir: &Path, staff: Option<&str>, dry_run: bool, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    // Opened without the automatic run, so that this act (audited as the
    // supervisor's) does the erasing and a dry run shows what is due.
    let mut store = session::open_without_retention(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    let report = store.purge(&s, Utc::now(), DEFAULT_RETENTION_DAYS, dry_run)?;
    if json {
        session::print_json(&report);
    } else {
        print_report(&report, lang);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &PurgeReport, lang: Lang) {
    let days = report.retention_days.to_string();
    let heading = if report.dry_run { "retention.cli.would_erase" } else { "retention.cli.erased" };
    println!("{}", i18n::render_count(lang, heading, report.erased.len() as u64, &[("days", &days)]));
    for r in &report.erased {
        let basis = match r.basis {
            ErasureBasis::Confirmed => i18n::render(
                lang,
                "retention.cli.basis.confirmed",
                &[("confirmed_at", r.confirmed_at.as_deref().unwrap_or_default())],
            ),
            ErasureBasis::Training => i18n::text(lang, "retention.cli.basis.training").to_string(),
        };
        println!(
            "{}",
            i18n::render(
                lang,
                "retention.cli.erased_line",
                &[("record_id", &r.record_id), ("issued_at", &r.issued_at), ("basis", &basis)]
            )
        );
    }
    if report.flagged.is_empty() {
        return;
    }
    println!("{}", i18n::render_count(lang, "retention.cli.flagged", report.flagged.len() as u64, &[("days", &days)]));
    for f in &report.flagged {
        let reason = match f.reason {
            FlagReason::Unconfirmed if f.refused => i18n::text(lang, "retention.cli.reason.refused").to_string(),
            FlagReason::Unconfirmed => {
                let state = f.registry_state.as_deref().unwrap_or(i18n::text(lang, "retention.cli.state_none"));
                i18n::render(lang, "retention.cli.reason.unconfirmed", &[("state", state)])
            }
            FlagReason::EventsUnanswered => i18n::text(lang, "retention.cli.reason.events_unanswered").to_string(),
        };
        println!(
            "{}",
            i18n::render(
                lang,
                "retention.cli.flagged_line",
                &[("record_id", &f.record_id), ("issued_at", &f.issued_at), ("reason", &reason)]
            )
        );
    }
}
