//! `skranke sync [--json]` and `skranke sync status [--json]`: run as the
//! desk (no staff sign-in), so municipal IT can schedule them.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use skranke_core::i18n::{self, Lang};
use skranke_core::sync;
use skranke_core::Error;

use crate::session;

pub fn run(dir: &Path, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let client = sync::client_for(&mut store)?;
    let report = sync::run(&mut store, &client)?;
    if json {
        session::print_json(&report);
    } else {
        let n = |v: u64| v.to_string();
        println!(
            "{}",
            i18n::render(
                lang,
                "sync.cli.report",
                &[
                    ("uploaded", &n(report.uploaded)),
                    ("accepted", &n(report.accepted)),
                    ("already_held", &n(report.already_held)),
                    ("conflict", &n(report.conflict)),
                    ("invalid", &n(report.invalid)),
                    ("pending", &n(report.pending)),
                ]
            )
        );
        if report.claim_refused {
            println!("{}", i18n::text(lang, "sync.cli.claim_refused"));
        }
        if report.resent > 0 {
            println!("{}", i18n::render_count(lang, "sync.cli.resent", report.resent, &[]));
        }
        let refused = sync::status(&mut store, Utc::now())?.refused.len();
        if refused > 0 {
            println!("{}", i18n::render_count(lang, "sync.cli.refused_waiting", refused as u64, &[]));
        }
        if report.retired {
            println!("{}", i18n::text(lang, "sync.cli.retired"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(dir: &Path, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let status = sync::status(&mut store, Utc::now())?;
    if json {
        session::print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    if status.training {
        println!("{}", i18n::text(lang, "sync.training.error"));
    }
    let none = i18n::text(lang, "sync.cli.none");
    println!(
        "{}",
        i18n::render(
            lang,
            "sync.cli.status",
            &[
                ("desk_id", &status.desk_id),
                ("queued", &status.queued_events.to_string()),
                ("oldest", status.oldest_unsynced_at.as_deref().unwrap_or(none)),
                ("units", &status.reserve_units.to_string()),
                ("last_success", status.last_success.as_deref().unwrap_or(i18n::text(lang, "sync.cli.never"))),
            ]
        )
    );
    for (flag, key) in [
        (status.reserve_low, "sync.cli.low"),
        (status.clock_behind, "sync.cli.clock_behind"),
        (status.retired, "sync.cli.retired"),
    ] {
        if flag {
            println!("{}", i18n::text(lang, key));
        }
    }
    if !status.retention_flagged.is_empty() {
        let count = status.retention_flagged.len().to_string();
        println!("{}", i18n::render(lang, "retention.cli.status_flagged", &[("count", &count)]));
    }
    for r in &status.refused {
        // CPR or Jobnet refused the record: who, why and what to do.
        if let ("refused_downstream", Some((system, code))) =
            (r.outcome.as_str(), r.reason.as_deref().and_then(|x| x.split_once(':')))
        {
            let system = i18n::render(lang, &format!("shell.downstream_system.{system}"), &[]);
            let record = r.record_id.as_deref().unwrap_or(none);
            let what = i18n::render(lang, "shell.refused_downstream", &[("system", &system), ("code", code)]);
            println!(
                "{}",
                i18n::render(lang, "sync.cli.refused_downstream_line", &[("record", record), ("what", &what)])
            );
            continue;
        }
        println!(
            "{}",
            i18n::render(
                lang,
                "sync.cli.refused_line",
                &[
                    ("kind", &r.kind),
                    ("record", r.record_id.as_deref().unwrap_or(none)),
                    ("outcome", &r.outcome),
                    ("reason", r.reason.as_deref().unwrap_or(none)),
                ]
            )
        );
    }
    for n in &status.notices {
        let municipality = n.other_municipality.map(|m| format!("{m:03}"));
        println!(
            "{}",
            i18n::render(
                lang,
                "sync.cli.notice_line",
                &[
                    ("kind", &n.kind),
                    ("record", n.record_id.as_deref().unwrap_or(none)),
                    ("other_record", n.other_record_id.as_deref().unwrap_or(none)),
                    ("other_desk", n.other_desk_id.as_deref().unwrap_or(none)),
                    ("other_municipality", municipality.as_deref().unwrap_or(none)),
                ]
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
