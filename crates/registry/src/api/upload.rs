//! `POST /v1/events`: a batch of immutable events from a desk's outbox.
//!
//! The batch runs in one transaction, under a per-desk lock so that the
//! desk's audit chain advances in order. Each event gets its own verdict:
//! `accepted`, `already_held` (same key, same content hash), `conflict`
//! (same key, record or number with other content; the event is kept in
//! `conflicts` and both desks get a notice) or `invalid` (refused with a
//! reason, also kept). Nothing a desk sends is dropped, and a retry of the
//! same event gets the same verdict.
//!
//! Three steps, because a desk back from a week offline sends thousands of
//! events:
//! - [`read`]: what the verdicts depend on (keys seen, verdicts kept,
//!   records, numbers, units, duplicate candidates, the audit head) is read
//!   for the whole batch in a handful of `= ANY($1)` queries into named rows
//!   ([`judge::Picture`]);
//! - [`judge`]: a pure function judges the events in order against that
//!   picture (kept current as the batch goes) and returns each verdict and
//!   the rows to write ([`judge::Writes`]);
//! - [`write`]: the rows are written with one multi-row statement per table
//!   and kind of change.
//!
//! No query runs per event, whatever its kind.
//!
//! An event that does not decode, or holds a control character in one of its
//! strings, never reaches the judge: `decode::upload` refuses it alone
//! (`invalid` with `malformed` or `control_character`), the others are judged
//! as if it were not there, and it is kept here with the judge's rows (with
//! its control characters replaced, as PostgreSQL cannot store NUL) when its
//! key and claimed hash can be stored, once per key and body.

mod judge;
mod read;
mod write;

use std::collections::HashSet;

use axum::extract::State;
use axum::{Extension, Json};
use skranke_protocol::{EventResult, Outcome, UploadResponse};

use super::{reconciling, Checked};
use crate::auth::Desk;
use crate::decode::{RefusedEvent, Upload};
use crate::error::Result;
use crate::AppState;

pub async fn upload(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(mut req): Checked<Upload>,
) -> Result<Json<UploadResponse>> {
    let now = state.now();
    // Duplicate keys are kept and compared keyed (`crate::duplicates`); the
    // content hashes stay those of the bodies as sent.
    let secret = state.key.duplicates()?;
    secret.key_events(&mut req.events);
    let batch = judge::hashed(&req.events);
    let mut needs = judge::Needs::of(&batch, now.date_naive());
    // The refused events to keep, and their kept verdicts read with the
    // batch's, so that one sent again is not kept twice.
    let to_keep: Vec<(&RefusedEvent, String)> =
        req.refused.iter().filter(|r| r.keepable).map(|r| (r, r.content_hash())).collect();
    needs.keys.extend(to_keep.iter().map(|(r, _)| r.idempotency_key.as_str()));
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7003, hashtext($1))", &[&desk.desk_id]).await?;
    let reconciling = reconciling(&tx).await?;
    let picture = read::picture(&tx, &desk, &batch, &needs, reconciling).await?;
    let mut kept: HashSet<(String, String)> =
        picture.kept.iter().map(|k| (k.idempotency_key.clone(), k.content_hash.clone())).collect();
    let mut judgement = judge::judge(&batch, picture, &desk, &state.block, now);
    for (refused, hash) in to_keep {
        if kept.insert((refused.idempotency_key.clone(), hash.clone())) {
            judgement.writes.conflicts.push(judge::ConflictRow {
                idempotency_key: refused.idempotency_key.clone(),
                reason: format!("invalid:{}", refused.reason),
                body: {
                    let mut body = refused.stored_body();
                    secret.key_json(&mut body);
                    body
                },
                content_hash: hash,
            });
        }
    }
    write::apply(&tx, &desk, judgement.writes).await?;
    let registry_sequence = crate::db::sequence(&tx).await?;
    tx.commit().await?;
    for r in &req.refused {
        crate::telemetry::verdict(Outcome::Invalid, Some(r.reason));
    }
    let judged = req.events.iter().zip(judgement.verdicts).map(|(event, verdict)| {
        crate::telemetry::verdict(verdict.outcome, verdict.reason);
        EventResult {
            idempotency_key: event.idempotency_key.clone(),
            outcome: verdict.outcome,
            reason: verdict.reason.map(str::to_string),
        }
    });
    let results = in_batch_order(judged, &req.refused);
    let sequence_receipt = state.receipt(&desk.desk_id, registry_sequence);
    Ok(Json(UploadResponse { results, registry_time: state.now(), registry_sequence, sequence_receipt }))
}

/// The verdicts of the judged events and of those refused before judging,
/// merged back into the batch's order.
fn in_batch_order(judged: impl Iterator<Item = EventResult>, refused: &[RefusedEvent]) -> Vec<EventResult> {
    let mut judged = judged.peekable();
    let mut refused = refused.iter().peekable();
    let mut results = Vec::new();
    loop {
        let next = match refused.next_if(|r| r.index == results.len()) {
            Some(r) => EventResult {
                idempotency_key: r.idempotency_key.clone(),
                outcome: Outcome::Invalid,
                reason: Some(r.reason.to_string()),
            },
            None => match judged.next() {
                Some(result) => result,
                None => break,
            },
        };
        results.push(next);
    }
    results
}
