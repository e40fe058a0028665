//! `POST /v1/sync` and `GET /v1/records/{record_id}`: what the registry
//! knows about this desk, and nothing about any other desk.
//!
//! Sync is also where a restore from backup is noticed: a desk that has
//! been told a higher `registry_sequence` than the registry now has, and
//! shows the registry's own receipt for it, proves that the database went
//! back in time. The registry then enters *reconciling*: no lease and no
//! online allocation until every active desk has synced completely once
//! more (uploaded every record it issued and reported the units it holds,
//! which the registry re-binds if it forgot). Until a desk has, each of its
//! syncs says what the registry no longer holds of it ([`Awaited`]), so
//! that the desk resends exactly that.
//!
//! A restore can also pass unnoticed: when other desks' uploads move the
//! restored sequence past a desk's receipts before that desk syncs, its
//! receipts prove nothing. Its records are not lost for that: whenever the
//! registry holds fewer of a desk's records than the desk says it issued,
//! the answer names the missing ones (`awaited`, outside reconciling too),
//! and the desk resends those it had been answered for.
//!
//! A higher sequence without a receipt the registry signed proves nothing:
//! nothing is done on it (a desk, or whoever holds a desk's key, could
//! otherwise stop every desk from leasing, or push the sequence to its
//! end); the operator log records it and the answer says `claim_refused`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use deadpool_postgres::GenericClient;
use serde_json::json;
use skranke_protocol::{
    Awaited, DownstreamRefusalState, DownstreamSystem, Notice, RecordState, RecordStateChange, SeqRange, SyncAnswer,
    SyncRequest,
};

use super::{bindings, records_held, unit, Checked, UNIT_LOCK};
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::{ops, AppState};

/// At most this many state changes per answer; the desk asks again.
const STATES_PER_ANSWER: i64 = 5000;

pub async fn sync(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<SyncRequest>,
) -> Result<Json<SyncAnswer>> {
    if req.unused_allocations.len() > skranke_protocol::MAX_UNUSED_ALLOCATIONS {
        return Err(RegistryError::bad_field("unused_allocations"));
    }
    // Only the registry's own signature makes a higher sequence a proof;
    // checked before anything is locked (it needs no database).
    let proven = req.sequence_receipt.as_deref().is_some_and(|receipt| {
        state.key.verifies_receipt(&desk.desk_id, req.highest_sequence_seen, receipt, state.now().timestamp())
    });
    let mut client = state.pool.get().await?;
    // An ordinary sync only reads the unit bindings, so it shares the unit
    // lock with online allocations. Noticing a restore or re-binding units
    // while reconciling changes them, and takes the lock alone. The guess
    // made before locking is checked again under the lock.
    let mut exclusive = must_rebind(&client, &req, proven).await?;
    let tx = loop {
        let tx = client.transaction().await?;
        let lock =
            if exclusive { "SELECT pg_advisory_xact_lock($1)" } else { "SELECT pg_advisory_xact_lock_shared($1)" };
        tx.execute(lock, &[&UNIT_LOCK]).await?;
        if exclusive || !must_rebind(&tx, &req, proven).await? {
            break tx;
        }
        tx.rollback().await?;
        exclusive = true;
    };
    let sequence = crate::db::sequence(&tx).await?;
    let mut claim_refused = false;
    if req.highest_sequence_seen > sequence {
        if proven {
            restored(&tx, &desk, req.highest_sequence_seen, sequence).await?;
        } else {
            claim_refused = true;
            refuse_claim(&tx, &desk, &req, sequence).await?;
        }
    }
    let (generation, reconciling): (i64, bool) =
        tx.query_one("SELECT generation, reconciling FROM registry_meta", &[]).await?.get_pair();
    let held = records_held(&tx, &desk.desk_id).await?;
    let mut awaited = None;
    if reconciling {
        reclaim_units(&tx, &desk, &req).await?;
        if held >= req.records_issued {
            tx.execute("UPDATE desks SET reconciled_generation = $2 WHERE desk_id = $1", &[&desk.desk_id, &generation])
                .await?;
        }
        let waiting: i64 = tx
            .query_one(
                "SELECT count(*) FROM desks WHERE retired_at IS NULL AND reconciled_generation < $1",
                &[&generation],
            )
            .await?
            .get(0);
        if waiting == 0 {
            tx.execute("UPDATE registry_meta SET reconciling = false", &[]).await?;
            tracing::info!(generation, "every desk reconciled");
        } else {
            let reached: i64 = tx
                .query_one("SELECT reconciled_generation FROM desks WHERE desk_id = $1", &[&desk.desk_id])
                .await?
                .get(0);
            if reached < generation {
                awaited = Some(awaited_of(&tx, &desk.desk_id, req.records_issued).await?);
            }
        }
    }
    if awaited.is_none() && held < req.records_issued {
        // Fewer of this desk's records than it issued: most often the ones
        // it has yet to upload, but also what a restore the registry could
        // not notice took back (other desks' uploads moved the restored
        // sequence past this desk's receipts before it synced). The desk
        // resends whatever of the missing it had been answered for; nothing
        // else changes for anyone, so a desk's count proves nothing here.
        let missing = awaited_of(&tx, &desk.desk_id, req.records_issued).await?;
        if !missing.missing_records.is_empty() {
            awaited = Some(missing);
        }
    }
    free_unused(&tx, &desk, &req.unused_allocations).await?;
    tx.execute("UPDATE desks SET last_sync_at = now() WHERE desk_id = $1", &[&desk.desk_id]).await?;
    let reconciling: bool = tx.query_one("SELECT reconciling FROM registry_meta", &[]).await?.get(0);

    let record_states = tx
        .query(
            "SELECT record_id, state, state_seq, refused_downstream_by, refused_downstream_reason, refused_downstream_at
             FROM records WHERE desk_id = $1 AND state_seq > $2 ORDER BY state_seq LIMIT $3",
            &[&desk.desk_id, &req.states_after, &STATES_PER_ANSWER],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(RecordStateChange {
                record_id: r.get(0),
                state: state_of(r.get(1))?,
                sequence: r.get(2),
                downstream_refusal: refusal_of(r.get(3), r.get(4), r.get(5)),
            })
        })
        .collect();
    let notices = notices(&tx, &desk.desk_id, req.notices_after).await?;
    let registry_sequence = crate::db::sequence(&tx).await?;
    let answer = SyncAnswer {
        desk_id: desk.desk_id.clone(),
        retired: desk.retired,
        reconciling,
        records_held: held,
        claim_refused,
        awaited,
        municipality_settings: Some(crate::settings::for_desk(&tx, desk.municipality).await?),
        minimum_desk_version: crate::settings::minimum_version(&tx).await?.map(|m| m.version),
        bindings: bindings(&tx, &desk.desk_id).await?,
        record_states,
        notices,
        registry_time: state.now(),
        registry_sequence,
        sequence_receipt: state.receipt(&desk.desk_id, registry_sequence),
    };
    tx.commit().await?;
    Ok(Json(answer))
}

/// Online numbers allocated to this desk that it reports it did not put on
/// a handout (the answer came too late for it, could not be believed, or
/// the issue failed after it) go back to the pool, unless a record uses
/// them. Only this desk's own allocations, by their keys.
async fn free_unused(client: &impl GenericClient, desk: &Desk, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let freed = client
        .execute(
            "DELETE FROM numbers WHERE desk_id = $1 AND origin = 'online' AND record_id IS NULL
               AND idempotency_key = ANY($2)
               AND NOT EXISTS (SELECT 1 FROM records r WHERE r.number = numbers.number)",
            &[&desk.desk_id, &keys],
        )
        .await?;
    if freed > 0 {
        tracing::info!(desk_id = desk.desk_id, freed, "unused online numbers freed");
    }
    Ok(())
}

/// Whether this sync may change unit bindings: the desk proves it has seen
/// a higher sequence than the registry has (a restore), or the registry
/// reconciles.
async fn must_rebind(client: &impl GenericClient, req: &SyncRequest, proven: bool) -> Result<bool> {
    let sequence = crate::db::sequence(client).await?;
    Ok((proven && req.highest_sequence_seen > sequence) || super::reconciling(client).await?)
}

/// Who the operator log names for what the service itself decided.
const SERVICE: &str = "skranke-registry serve";

/// A proven restore: reconciling begins (a new generation every active desk
/// must reach), unless it already runs, and the sequence moves past every
/// sequence handed out before the restore, `seen` included.
async fn restored(client: &impl GenericClient, desk: &Desk, seen: i64, sequence: i64) -> Result<()> {
    if super::reconciling(client).await? {
        tracing::warn!(desk_id = desk.desk_id, seen, sequence, "registry restored, already reconciling");
    } else {
        tracing::warn!(desk_id = desk.desk_id, seen, sequence, "registry restored");
        client
            .execute(
                "UPDATE registry_meta SET generation = generation + 1, reconciling = true, restored_at = now(),
                        feed_restored_after = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM feed_seq_seq)",
                &[],
            )
            .await?;
    }
    // A receipt for i64::MAX is one the registry never signs: its sequence
    // would have had to be there.
    client.execute("SELECT setval('registry_seq', $1)", &[&seen.saturating_add(1)]).await?;
    ops::record(
        client,
        SERVICE,
        "restore_detected",
        json!({ "desk_id": desk.desk_id, "claimed": seen, "registry_sequence": sequence }),
    )
    .await
}

/// A higher sequence without the registry's receipt for it: recorded for
/// the operator, nothing else.
async fn refuse_claim(client: &impl GenericClient, desk: &Desk, req: &SyncRequest, sequence: i64) -> Result<()> {
    let reason = if req.sequence_receipt.is_some() { "receipt_not_signed" } else { "no_receipt" };
    let claimed = req.highest_sequence_seen;
    tracing::warn!(desk_id = desk.desk_id, claimed, sequence, reason, "restore claim refused");
    ops::record(
        client,
        SERVICE,
        "restore_claim_refused",
        json!({ "desk_id": desk.desk_id, "claimed": claimed, "registry_sequence": sequence, "reason": reason }),
    )
    .await
}

/// What the registry no longer holds of a desk that has issued
/// `records_issued` records.
async fn awaited_of(client: &impl GenericClient, desk_id: &str, records_issued: u64) -> Result<Awaited> {
    let prefix = format!("{desk_id}-");
    let held: Vec<u64> = client
        .query(
            "SELECT record_id FROM records WHERE desk_id = $1
             UNION
             SELECT body->'payload'->>'record_id' FROM conflicts WHERE desk_id = $1 AND body->>'kind' = 'issued'",
            &[&desk_id],
        )
        .await?
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>(0))
        .filter_map(|id| id.strip_prefix(&prefix)?.parse().ok())
        .collect();
    let events_held: i64 = client
        .query_one("SELECT count(*) FROM events WHERE desk_id = $1 AND kind <> 'audit'", &[&desk_id])
        .await?
        .get(0);
    let audit_seq: i64 = client
        .query_opt("SELECT seq FROM audit_heads WHERE desk_id = $1", &[&desk_id])
        .await?
        .map(|r| r.get(0))
        .unwrap_or(0);
    Ok(Awaited {
        missing_records: missing_ranges(records_issued, held),
        events_held: u64::try_from(events_held).unwrap_or_default(),
        audit_seq,
    })
}

/// The ranges of `1..=issued` that `held` leaves out, ascending. As many
/// ranges as held counters at most, whatever `issued` claims.
pub fn missing_ranges(issued: u64, mut held: Vec<u64>) -> Vec<SeqRange> {
    held.retain(|n| (1..=issued).contains(n));
    held.sort_unstable();
    held.dedup();
    let mut out = Vec::new();
    let mut next = 1u64;
    for n in held {
        if n > next {
            out.push(SeqRange { first: next, last: n - 1 });
        }
        next = n + 1;
    }
    if issued >= next {
        out.push(SeqRange { first: next, last: issued });
    }
    out
}

/// After a restore: units the desk reports holding are bound to it again
/// when free; a unit the restored registry gave to another desk is disputed
/// and retired for good (its numbers stay protected by the number key).
async fn reclaim_units(client: &impl GenericClient, desk: &Desk, req: &SyncRequest) -> Result<()> {
    if desk.retired {
        return Ok(());
    }
    for report in &req.units {
        let Some(u) = unit(i32::from(report.unit.slot.value()), i32::from(report.unit.rank)) else { continue };
        let (slot, rank) = (i32::from(u.slot.value()), i32::from(u.rank));
        let row = client
            .query_opt("SELECT desk_id, retired FROM units WHERE slot = $1 AND rank = $2", &[&slot, &rank])
            .await?;
        let Some(row) = row else { continue };
        let (holder, retired): (Option<String>, bool) = (row.get(0), row.get(1));
        match holder {
            None if !retired => {
                client
                    .execute(
                        "UPDATE units SET desk_id = $3, bound_at = now() WHERE slot = $1 AND rank = $2",
                        &[&slot, &rank, &desk.desk_id],
                    )
                    .await?;
            }
            Some(other) if other != desk.desk_id && !retired => {
                client
                    .execute("UPDATE units SET retired = true WHERE slot = $1 AND rank = $2", &[&slot, &rank])
                    .await?;
                for d in [&desk.desk_id, &other] {
                    client.execute("INSERT INTO notices (desk_id, kind) VALUES ($1, 'unit_disputed')", &[d]).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

async fn notices(client: &impl GenericClient, desk_id: &str, after: i64) -> Result<Vec<Notice>> {
    Ok(client
        .query(
            "SELECT id, kind, record_id, other_record_id, other_desk_id, other_municipality, created_at
             FROM notices WHERE desk_id = $1 AND id > $2 ORDER BY id LIMIT 1000",
            &[&desk_id, &after],
        )
        .await?
        .iter()
        .map(|r| Notice {
            id: r.get(0),
            kind: r.get(1),
            record_id: r.get(2),
            other_record_id: r.get(3),
            other_desk_id: r.get(4),
            other_municipality: r.get::<_, Option<i32>>(5).and_then(|m| u16::try_from(m).ok()),
            created_at: r.get(6),
        })
        .collect())
}

fn refusal_of(
    system: Option<&str>,
    reason: Option<String>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<DownstreamRefusalState> {
    Some(DownstreamRefusalState { system: DownstreamSystem::from_code(system?)?, reason: reason?, refused_at: at? })
}

fn state_of(s: &str) -> Option<RecordState> {
    match s {
        "received" => Some(RecordState::Received),
        "registered" => Some(RecordState::Registered),
        "voided" => Some(RecordState::Voided),
        _ => None,
    }
}

/// One of the desk's own records: its state. Another desk's record is
/// answered exactly like a record that does not exist.
pub async fn record(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Path(record_id): Path<String>,
) -> Result<Json<RecordStateChange>> {
    // A path is text from the network like a body (PostgreSQL refuses NUL).
    crate::decode::check_text("record_id", &record_id)?;
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT state, state_seq, refused_downstream_by, refused_downstream_reason, refused_downstream_at
             FROM records WHERE record_id = $1 AND desk_id = $2",
            &[&record_id, &desk.desk_id],
        )
        .await?
        .ok_or(RegistryError::refused(StatusCode::NOT_FOUND, "record.not_found"))?;
    let state = state_of(row.get(0)).ok_or(RegistryError::refused(StatusCode::NOT_FOUND, "record.not_found"))?;
    let downstream_refusal = refusal_of(row.get(2), row.get(3), row.get(4));
    Ok(Json(RecordStateChange { record_id, state, sequence: row.get(1), downstream_refusal }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> SeqRange {
        SeqRange { first, last }
    }

    #[test]
    fn the_missing_ranges_are_what_the_held_counters_leave_out_of_one_to_issued() {
        assert_eq!(missing_ranges(0, vec![]), vec![]);
        assert_eq!(missing_ranges(5, vec![]), vec![r(1, 5)]);
        assert_eq!(missing_ranges(5, vec![1, 2, 3, 4, 5]), vec![]);
        assert_eq!(missing_ranges(9, vec![5, 2, 2, 9]), vec![r(1, 1), r(3, 4), r(6, 8)]);
        // Counters beyond what the desk says it issued, or zero, are no gap.
        assert_eq!(missing_ranges(3, vec![0, 1, 7]), vec![r(2, 3)]);
        // A huge claim costs one range, not a counter per record.
        assert_eq!(missing_ranges(u64::MAX, vec![1]), vec![r(2, u64::MAX)]);
    }
}

trait RowPair {
    fn get_pair<A, B>(&self) -> (A, B)
    where
        A: for<'a> tokio_postgres::types::FromSql<'a>,
        B: for<'a> tokio_postgres::types::FromSql<'a>;
}

impl RowPair for tokio_postgres::Row {
    fn get_pair<A, B>(&self) -> (A, B)
    where
        A: for<'a> tokio_postgres::types::FromSql<'a>,
        B: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        (self.get(0), self.get(1))
    }
}
