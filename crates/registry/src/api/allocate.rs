//! `POST /v1/allocate`: a number drawn centrally, recorded at once, within
//! a short deadline (the desk falls back to its lease when it passes).
//!
//! The deadline holds for the commit too: every statement of the attempt
//! runs under a `statement_timeout` of what is left, and nothing commits
//! once the deadline has passed, so a desk that gave up waiting has no
//! number recorded for it. (A commit that finishes just as the desk gives
//! up is the one case left: the desk reports the attempt's key as unused
//! at its next sync, and the number goes back; see `api::sync`.)
//!
//! Modulus-11 numbers are few and still widely demanded: one desk gets at
//! most `Config::modulus11_per_desk_day` of them per 24 hours, then others.

use std::collections::HashSet;
use std::time::Instant;

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
    let deadline = Instant::now() + state.config.allocate_deadline;
    let number = draw(&state, &desk, &req, deadline).await.map_err(|e| match e {
        // A statement cut by the deadline's timeout (SQLSTATE 57014).
        RegistryError::Database(db) if db.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
            timed_out()
        }
        other => other,
    })?;
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

fn timed_out() -> RegistryError {
    RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "allocate.timeout")
}

/// What is left of the deadline, as a `statement_timeout`; none left is a timeout.
fn remaining_ms(deadline: Instant) -> Result<String> {
    let left = deadline.saturating_duration_since(Instant::now()).as_millis();
    if left == 0 {
        return Err(timed_out());
    }
    Ok(format!("{left}ms"))
}

async fn draw(state: &AppState, desk: &Desk, req: &AllocateRequest, deadline: Instant) -> Result<Personnummer> {
    let left = deadline.saturating_duration_since(Instant::now());
    let mut client = tokio::time::timeout(left, state.pool.get()).await.map_err(|_| timed_out())??;
    let earlier = "SELECT number FROM numbers WHERE desk_id = $1 AND idempotency_key = $2 AND origin = 'online'";
    if let Some(row) = client.query_opt(earlier, &[&desk.desk_id, &req.idempotency_key]).await? {
        return same_request(row.get(0), req);
    }
    may_hand_out(&client, desk).await?;
    let sex = req.sex.code();
    let quota = i64::from(state.config.modulus11_per_desk_day);
    for _attempt in 0..8 {
        let tx = client.transaction().await?;
        tx.execute("SELECT set_config('statement_timeout', $1, true)", &[&remaining_ms(deadline)?]).await?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&UNIT_LOCK]).await?;
        let modulus11_today: i64 = tx
            .query_one(
                "SELECT count(*) FROM numbers WHERE desk_id = $1 AND origin = 'online' AND modulus11
                   AND used_at > now() - interval '24 hours'",
                &[&desk.desk_id],
            )
            .await?
            .get(0);
        let mut used: HashSet<Personnummer> = tx
            .query("SELECT number FROM numbers WHERE birth_date = $1 AND sex = $2", &[&req.birth_date, &sex])
            .await?
            .iter()
            .filter_map(|r| from_stored(r.get(0)))
            .collect();
        // A disputed number is on a handout already: never handed out again.
        let day = req.birth_date.format("%d%m%y").to_string();
        used.extend(
            tx.query("SELECT number FROM disputed_numbers WHERE left(number, 6) = $1", &[&day])
                .await?
                .iter()
                .filter_map(|r| r.get::<_, Option<&str>>(0).and_then(from_stored))
                .filter(|n| n.birth_date() == req.birth_date),
        );
        let held: HashSet<LeaseUnit> = tx
            .query("SELECT slot, rank FROM units WHERE desk_id IS NOT NULL OR retired", &[])
            .await?
            .iter()
            .filter_map(|r| unit(r.get(0), r.get(1)))
            .collect();
        let mut candidates = online_candidates(&state.block, req.birth_date, req.sex, &used, &held);
        if modulus11_today >= quota {
            candidates.retain(|n| !n.passes_modulus11());
        }
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
                // Never a commit after the deadline: the desk has given up.
                if Instant::now() >= deadline {
                    tx.rollback().await?;
                    return Err(timed_out());
                }
                tx.commit().await?;
                crate::telemetry::allocated(&number);
                return Ok(number);
            }
            if let Some(row) = tx.query_opt(earlier, &[&desk.desk_id, &req.idempotency_key]).await? {
                return same_request(row.get(0), req);
            }
        }
        tx.rollback().await?;
    }
    Err(timed_out())
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
