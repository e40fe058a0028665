//! `skranke records list|show` and `skranke void` (acts on people: a signed-in
//! staff member; voiding needs a supervisor).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use serde::Serialize;
use skranke_core::i18n::{self, Lang};
use skranke_core::issue::RecordSummary;
use skranke_core::query::RecordSyncState;
use skranke_core::store::Store;
use skranke_core::Error;

use crate::session;

fn sex_text(lang: Lang, code: &str) -> &'static str {
    i18n::text(lang, if code == "M" { "issue.sex.male" } else { "issue.sex.female" })
}

fn status_text(lang: Lang, status: &str) -> String {
    i18n::text(lang, &format!("issue.status.{status}")).to_string()
}

/// Where a record stands with the registry (queued, accepted, registered,
/// refused by the registry, refused downstream, training), as the desk
/// window shows it: the core's one rule, `RecordSyncState::of`.
fn standing(store: &mut Store, record_id: &str) -> Result<RecordSyncState, Error> {
    Ok(store.record_standing(record_id)?.map_or(RecordSyncState::Queued, |s| s.sync_state))
}

fn standing_text(lang: Lang, s: RecordSyncState) -> String {
    i18n::render(lang, &format!("issue.cli.standing.{}", s.code()), &[])
}

/// A record as `--json` prints it: the summary and its standing.
#[derive(Serialize)]
struct Listed<'a, T: Serialize> {
    #[serde(flatten)]
    record: &'a T,
    standing: RecordSyncState,
}

fn row(lang: Lang, r: &RecordSummary, standing: RecordSyncState) -> String {
    let training = if r.training { i18n::text(lang, "issue.cli.training_mark") } else { "" };
    i18n::render(
        lang,
        "issue.cli.row",
        &[
            ("record_id", &r.record_id),
            ("number", &r.number),
            ("birth_date", &r.birth_date),
            ("sex", sex_text(lang, &r.sex)),
            ("status", &status_text(lang, &r.status)),
            ("issued_at", &r.issued_at),
            ("training", training),
            ("standing", &standing_text(lang, standing)),
        ],
    )
}

pub fn list(dir: &Path, staff: Option<&str>, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    let records = store.records(&s)?;
    let standings = records.iter().map(|r| standing(&mut store, &r.record_id)).collect::<Result<Vec<_>, _>>()?;
    if json {
        let listed: Vec<Listed<'_, RecordSummary>> =
            records.iter().zip(&standings).map(|(record, &standing)| Listed { record, standing }).collect();
        session::print_json(&listed);
    } else if records.is_empty() {
        println!("{}", i18n::text(lang, "issue.cli.no_records"));
    } else {
        for (r, &st) in records.iter().zip(&standings) {
            println!("{}", row(lang, r, st));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(dir: &Path, staff: Option<&str>, id: &str, json: bool, lang: Lang) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    let r = store.record(&s, id)?;
    let st = standing(&mut store, id)?;
    if json {
        session::print_json(&Listed { record: &r, standing: st });
        return Ok(ExitCode::SUCCESS);
    }
    let sum = &r.summary;
    println!(
        "{}",
        i18n::render(
            lang,
            "issue.cli.show",
            &[
                ("record_id", &sum.record_id),
                ("number", &sum.number),
                ("birth_date", &sum.birth_date),
                ("sex", sex_text(lang, &sum.sex)),
                ("status", &status_text(lang, &sum.status)),
                ("issued_at", &sum.issued_at),
                ("issued_by", &r.issued_by.to_string()),
                ("source", sum.source.code()),
                ("standing", &standing_text(lang, st)),
            ]
        )
    );
    if sum.training {
        println!("{}", i18n::text(lang, "issue.cli.training"));
    }
    if let (Some(at), Some(by)) = (&r.voided_at, r.voided_by) {
        let reason = r.void_reason.clone().unwrap_or_default();
        println!(
            "{}",
            i18n::render(
                lang,
                "issue.cli.show_void",
                &[("voided_at", at), ("voided_by", &by.to_string()), ("reason", &reason)]
            )
        );
    }
    if let Some(by) = &r.replaced_by {
        println!("{}", i18n::render(lang, "issue.cli.show_replaced", &[("replaced_by", by)]));
    }
    if let Some(a) = &r.applicant {
        println!("{}", i18n::text(lang, "issue.cli.show_applicant"));
        println!("{}", serde_json::to_string_pretty(a).unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn void(
    dir: &Path,
    staff: Option<&str>,
    id: &str,
    reason: &str,
    replaced_by: Option<&str>,
    lang: Lang,
) -> Result<ExitCode, Error> {
    let mut store = session::open(dir, lang)?;
    let s = session::sign_in(&mut store, staff, lang)?;
    store.void(&s, id, reason, replaced_by, Utc::now(), lang)?;
    println!("{}", i18n::render(lang, "issue.cli.voided", &[("record_id", id)]));
    Ok(ExitCode::SUCCESS)
}
