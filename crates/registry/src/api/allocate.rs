//! `POST /v1/allocate`: a number drawn centrally, recorded at once, within
//! a short deadline (the desk falls back to its lease when it passes).

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use skranke_protocol::{AllocateRequest, AllocateResponse};
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::LeaseUnit;

use super::{from_stored, may_hand_out, stored, unit, Checked, UNIT_LOCK};
use crate::alloc::online_candidates;
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::AppState;

/// How many candidates one attempt tries before it re-reads what others
/// took in the meantime.
const TRIES_PER_ATTEMPT: usize = 16;

pub async fn allocate(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<AllocateRequest>,
) -> Result<Json<AllocateResponse>> {
    let deadline = state.config.allocate_deadline;
    let number = tokio::time::timeout(deadline, draw(&state, &desk, &req))
        .await
        .map_err(|_| RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "allocate.timeout"))??;
    let client = state.pool.get().await?;
    let registry_sequence = crate::db::sequence(&client).await?;
    Ok(Json(AllocateResponse {
        number: number.to_string(),
        passes_modulus11: number.passes_modulus11(),
        registry_time: state.now(),
        registry_sequence,
        sequence_receipt: state.receipt(&desk.desk_id, registry_sequence),
    }))
}

async fn draw(state: &AppState, desk: &Desk, req: &AllocateRequest) -> Result<Personnummer> {
    let mut client = state.pool.get().await?;
    let earlier = "SELECT number FROM numbers WHERE desk_id = $1 AND idempotency_key = $2 AND origin = 'online'";
    if let Some(row) = client.query_opt(earlier, &[&desk.desk_id, &req.idempotency_key]).await? {
        return same_request(row.get(0), req);
    }
    may_hand_out(&client, desk).await?;
    let sex = req.sex.code();
    for _attempt in 0..8 {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&UNIT_LOCK]).await?;
        let used: HashSet<Personnummer> = tx
            .query("SELECT number FROM numbers WHERE birth_date = $1 AND sex = $2", &[&req.birth_date, &sex])
            .await?
            .iter()
            .filter_map(|r| from_stored(r.get(0)))
            .collect();
        let held: HashSet<LeaseUnit> = tx
            .query("SELECT slot, rank FROM units WHERE desk_id IS NOT NULL OR retired", &[])
            .await?
            .iter()
            .filter_map(|r| unit(r.get(0), r.get(1)))
            .collect();
        let candidates = online_candidates(&state.block, req.birth_date, req.sex, &used, &held);
        if candidates.is_empty() {
            return Err(RegistryError::refused(StatusCode::CONFLICT, "allocate.exhausted"));
        }
        for number in candidates.into_iter().take(TRIES_PER_ATTEMPT) {
            let rank = LeaseUnit::containing(&number).map(|u| i32::from(u.rank));
            // The primary key on the number is the guarantee; the partial
            // unique index on (desk, key) makes a concurrent retry harmless.
            let inserted = tx
                .execute(
                    "INSERT INTO numbers (number, birth_date, sex, modulus11, origin, slot, rank, desk_id, idempotency_key)
                     VALUES ($1, $2, $3, $4, 'online', $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    &[
                        &stored(&number),
                        &req.birth_date,
                        &sex,
                        &number.passes_modulus11(),
                        &i32::from(number.slot().value()),
                        &rank,
                        &desk.desk_id,
                        &req.idempotency_key,
                    ],
                )
                .await?;
            if inserted == 1 {
                tx.commit().await?;
                return Ok(number);
            }
            if let Some(row) = tx.query_opt(earlier, &[&desk.desk_id, &req.idempotency_key]).await? {
                return same_request(row.get(0), req);
            }
        }
        tx.rollback().await?;
    }
    Err(RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "allocate.timeout"))
}

/// A retry with the same key gets the same number, but only for the same
/// birth date and sex.
fn same_request(digits: &str, req: &AllocateRequest) -> Result<Personnummer> {
    let number = from_stored(digits).ok_or_else(|| RegistryError::Config("stored number unreadable".into()))?;
    if number.birth_date() != req.birth_date || number.sex() != req.sex {
        return Err(RegistryError::refused(StatusCode::CONFLICT, "request.key_reused"));
    }
    Ok(number)
}
