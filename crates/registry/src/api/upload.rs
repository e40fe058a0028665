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

mod judge;
mod read;
mod write;

use axum::extract::State;
use axum::{Extension, Json};
use skranke_protocol::{EventResult, UploadRequest, UploadResponse};

use super::{reconciling, Checked};
use crate::auth::Desk;
use crate::error::Result;
use crate::AppState;

pub async fn upload(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<UploadRequest>,
) -> Result<Json<UploadResponse>> {
    let now = state.now();
    let batch = judge::hashed(&req.events);
    let needs = judge::Needs::of(&batch, now.date_naive());
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7003, hashtext($1))", &[&desk.desk_id]).await?;
    let reconciling = reconciling(&tx).await?;
    let picture = read::picture(&tx, &desk, &batch, &needs, reconciling).await?;
    let judgement = judge::judge(&batch, picture, &desk, &state.block, now);
    write::apply(&tx, &desk, judgement.writes).await?;
    let registry_sequence = crate::db::sequence(&tx).await?;
    tx.commit().await?;
    let results = req
        .events
        .iter()
        .zip(judgement.verdicts)
        .map(|(event, verdict)| EventResult {
            idempotency_key: event.idempotency_key.clone(),
            outcome: verdict.outcome,
            reason: verdict.reason.map(str::to_string),
        })
        .collect();
    let sequence_receipt = state.receipt(&desk.desk_id, registry_sequence);
    Ok(Json(UploadResponse { results, registry_time: state.now(), registry_sequence, sequence_receipt }))
}
