//! `POST /v1/lease` and `POST /v1/lease/return`: binding units to a desk and
//! taking them back after a complete sync. Both are idempotent by key: the
//! first answer is stored and a retry gets it again, with the registry's
//! time, sequence and receipt of now (an old sequence would read to the
//! desk as a registry gone back in time).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use deadpool_postgres::GenericClient;
use serde::de::DeserializeOwned;
use serde::Serialize;
use skranke_protocol::{LeaseRequest, LeaseResponse, ReturnRequest, ReturnResponse};

use super::{bindings, may_hand_out, records_held, unit, Checked, UNIT_LOCK};
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::AppState;

async fn stored_answer<T: DeserializeOwned>(
    client: &impl GenericClient,
    state: &AppState,
    desk: &Desk,
    key: &str,
) -> Result<Option<T>> {
    let row = client
        .query_opt(
            "SELECT response FROM lease_requests WHERE desk_id = $1 AND idempotency_key = $2",
            &[&desk.desk_id, &key],
        )
        .await?;
    let Some(mut answer) = row.map(|r| r.get::<_, serde_json::Value>(0)) else { return Ok(None) };
    let sequence = crate::db::sequence(client).await?;
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("registry_time".into(), serde_json::json!(state.now()));
        fields.insert("registry_sequence".into(), serde_json::json!(sequence));
        fields.insert("sequence_receipt".into(), serde_json::json!(state.receipt(&desk.desk_id, sequence)));
    }
    // The key names a lease or a return: the same key for the other is
    // another request, not a retry.
    serde_json::from_value(answer)
        .map(Some)
        .map_err(|_| RegistryError::refused(StatusCode::CONFLICT, "request.key_reused"))
}

async fn store_answer<T: Serialize>(client: &impl GenericClient, desk: &Desk, key: &str, answer: &T) -> Result<()> {
    let value = serde_json::to_value(answer).unwrap_or_default();
    let stored = client
        .execute(
            "INSERT INTO lease_requests (desk_id, idempotency_key, response) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&desk.desk_id, &key, &value],
        )
        .await?;
    // A request under the same key that committed first (two sent at once):
    // this one's transaction must not commit beside it.
    if stored == 0 {
        return Err(RegistryError::refused(StatusCode::CONFLICT, "request.key_reused"));
    }
    Ok(())
}

pub async fn lease(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<LeaseRequest>,
) -> Result<Json<LeaseResponse>> {
    let mut client = state.pool.get().await?;
    if let Some(answer) = stored_answer(&client, &state, &desk, &req.idempotency_key).await? {
        return Ok(Json(answer));
    }
    may_hand_out(&client, &desk).await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&UNIT_LOCK]).await?;
    let bound: i64 = tx.query_one("SELECT count(*) FROM units WHERE desk_id = $1", &[&desk.desk_id]).await?.get(0);
    let room = i64::from(state.config.units_per_desk).saturating_sub(bound).max(0);
    let want = i64::from(req.units).min(room);
    let granted = tx
        .query(
            "UPDATE units SET desk_id = $1, bound_at = now()
             WHERE (slot, rank) IN (
                 SELECT slot, rank FROM units WHERE desk_id IS NULL AND NOT retired
                 ORDER BY slot, rank LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING slot, rank",
            &[&desk.desk_id, &want],
        )
        .await?;
    let mut granted: Vec<_> = granted.iter().filter_map(|r| unit(r.get(0), r.get(1))).collect();
    granted.sort();
    let registry_sequence = crate::db::sequence(&tx).await?;
    let answer = LeaseResponse {
        granted,
        bindings: bindings(&tx, &desk.desk_id).await?,
        registry_time: state.now(),
        registry_sequence,
        sequence_receipt: state.receipt(&desk.desk_id, registry_sequence),
    };
    store_answer(&tx, &desk, &req.idempotency_key, &answer).await?;
    tx.commit().await?;
    crate::telemetry::units_granted(answer.granted.len());
    Ok(Json(answer))
}

pub async fn give_back(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<ReturnRequest>,
) -> Result<Json<ReturnResponse>> {
    let mut client = state.pool.get().await?;
    if let Some(answer) = stored_answer(&client, &state, &desk, &req.idempotency_key).await? {
        return Ok(Json(answer));
    }
    if desk.retired {
        return Err(RegistryError::refused(StatusCode::FORBIDDEN, "desk.retired"));
    }
    // A quarantined desk's units stay bound to it: the copy that did not
    // sync may still issue from them, and another desk leasing them would
    // draw the same numbers.
    if desk.quarantined {
        return Err(RegistryError::refused(StatusCode::FORBIDDEN, "desk.quarantined"));
    }
    // Units come back only after a complete sync: every record the desk has
    // issued is here, so the numbers used in them are known to the registry.
    if records_held(&client, &desk.desk_id).await? < req.records_issued {
        return Err(RegistryError::refused(StatusCode::CONFLICT, "lease.sync_incomplete"));
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&UNIT_LOCK]).await?;
    let mut returned = Vec::new();
    for u in &req.units {
        let Some(u) = unit(i32::from(u.slot.value()), i32::from(u.rank)) else {
            return Err(RegistryError::bad_field("units"));
        };
        let n = tx
            .execute(
                "UPDATE units SET desk_id = NULL, bound_at = NULL
                 WHERE slot = $1 AND rank = $2 AND desk_id = $3 AND NOT retired",
                &[&i32::from(u.slot.value()), &i32::from(u.rank), &desk.desk_id],
            )
            .await?;
        if n == 1 {
            returned.push(u);
        }
    }
    let registry_sequence = crate::db::sequence(&tx).await?;
    let answer = ReturnResponse {
        returned,
        bindings: bindings(&tx, &desk.desk_id).await?,
        registry_time: state.now(),
        registry_sequence,
        sequence_receipt: state.receipt(&desk.desk_id, registry_sequence),
    };
    store_answer(&tx, &desk, &req.idempotency_key, &answer).await?;
    tx.commit().await?;
    Ok(Json(answer))
}
