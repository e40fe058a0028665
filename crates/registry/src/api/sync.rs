//! `POST /v1/sync` and `GET /v1/records/{record_id}`: what the registry
//! knows about this desk, and nothing about any other desk.
//!
//! Sync is also where a restore from backup is noticed: a desk that has
//! been told a higher `registry_sequence` than the registry now has proves
//! that the database went back in time. The registry then enters
//! *reconciling*: no lease and no online allocation until every active desk
//! has synced completely once more (uploaded every record it issued and
//! reported the units it holds, which the registry re-binds if it forgot).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use deadpool_postgres::GenericClient;
use skranke_protocol::{
    DownstreamRefusalState, DownstreamSystem, Notice, RecordState, RecordStateChange, SyncAnswer, SyncRequest,
};

use super::{bindings, records_held, unit, Checked, UNIT_LOCK};
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::AppState;

/// At most this many state changes per answer; the desk asks again.
const STATES_PER_ANSWER: i64 = 5000;

pub async fn sync(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<SyncRequest>,
) -> Result<Json<SyncAnswer>> {
    let mut client = state.pool.get().await?;
    // An ordinary sync only reads the unit bindings, so it shares the unit
    // lock with online allocations. Noticing a restore or re-binding units
    // while reconciling changes them, and takes the lock alone. The guess
    // made before locking is checked again under the lock.
    let mut exclusive = must_rebind(&client, &req).await?;
    let tx = loop {
        let tx = client.transaction().await?;
        let lock =
            if exclusive { "SELECT pg_advisory_xact_lock($1)" } else { "SELECT pg_advisory_xact_lock_shared($1)" };
        tx.execute(lock, &[&UNIT_LOCK]).await?;
        if exclusive || !must_rebind(&tx, &req).await? {
            break tx;
        }
        tx.rollback().await?;
        exclusive = true;
    };
    let sequence = crate::db::sequence(&tx).await?;
    if req.highest_sequence_seen > sequence {
        tracing::warn!(desk_id = desk.desk_id, seen = req.highest_sequence_seen, sequence, "registry restored");
        tx.execute(
            "UPDATE registry_meta SET generation = generation + 1, reconciling = true, restored_at = now()",
            &[],
        )
        .await?;
        // Move past every sequence handed out before the restore.
        tx.execute("SELECT setval('registry_seq', $1)", &[&(req.highest_sequence_seen + 1)]).await?;
    }
    let (generation, reconciling): (i64, bool) =
        tx.query_one("SELECT generation, reconciling FROM registry_meta", &[]).await?.get_pair();
    let held = records_held(&tx, &desk.desk_id).await?;
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
        }
    }
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
    let answer = SyncAnswer {
        desk_id: desk.desk_id.clone(),
        retired: desk.retired,
        reconciling,
        records_held: held,
        bindings: bindings(&tx, &desk.desk_id).await?,
        record_states,
        notices,
        registry_time: state.now(),
        registry_sequence: crate::db::sequence(&tx).await?,
    };
    tx.commit().await?;
    Ok(Json(answer))
}

/// Whether this sync may change unit bindings: the desk has seen a higher
/// sequence than the registry has (a restore), or the registry reconciles.
async fn must_rebind(client: &impl GenericClient, req: &SyncRequest) -> Result<bool> {
    let sequence = crate::db::sequence(client).await?;
    Ok(req.highest_sequence_seen > sequence || super::reconciling(client).await?)
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
