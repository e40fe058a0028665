//! `POST /v1/enrol`: a one-time code and a fresh public key become a desk.
//!
//! A code is 16 secret characters followed by the fingerprint of the
//! registry's key (`ops::create_enrolment_code`). A desk sends the secret
//! alone (it checks the fingerprint itself, against `GET /v1/registry-key`,
//! before spending the code); the whole code is taken too, and only its
//! secret part counts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use skranke_protocol::EnrolResponse;

use super::Checked;
use crate::decode::Enrolment;
use crate::error::{RegistryError, Result};
use crate::{ops, AppState};

pub async fn enrol(
    State(state): State<AppState>,
    Checked(Enrolment { request: req, public_key: key }): Checked<Enrolment>,
) -> Result<Json<EnrolResponse>> {
    let secret =
        ops::code_secret(&req.enrolment_code).ok_or(RegistryError::refused(StatusCode::FORBIDDEN, "enrol.code"))?;
    let code_hash = ops::code_hash(&secret);
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    // Claiming the code and creating the desk commit together: a code is
    // spent exactly once even when two desks present it at the same time.
    let code = tx
        .query_opt(
            "UPDATE enrolment_codes SET used_at = now()
             WHERE code_hash = $1 AND used_at IS NULL AND cancelled_at IS NULL AND expires_at > now()
             RETURNING municipality, office, desk_number",
            &[&code_hash],
        )
        .await?
        .ok_or(RegistryError::refused(StatusCode::FORBIDDEN, "enrol.code"))?;
    if tx.query_opt("SELECT 1 FROM desks WHERE public_key = $1", &[&key.as_slice()]).await?.is_some() {
        return Err(RegistryError::refused(StatusCode::CONFLICT, "enrol.key_in_use"));
    }
    let (municipality, office, desk_number): (i32, String, i32) = (code.get(0), code.get(1), code.get(2));
    let generation: i64 = tx.query_one("SELECT generation FROM registry_meta", &[]).await?.get(0);
    let desk_id = loop {
        let candidate = ops::random_id(8);
        let inserted = tx
            .execute(
                "INSERT INTO desks (desk_id, public_key, municipality, office, desk_number, reconciled_generation)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (desk_id) DO NOTHING",
                &[&candidate, &key.as_slice(), &municipality, &office, &desk_number, &generation],
            )
            .await?;
        if inserted == 1 {
            break candidate;
        }
    };
    tx.execute("UPDATE enrolment_codes SET desk_id = $2 WHERE code_hash = $1", &[&code_hash, &desk_id]).await?;
    let login_number: i32 =
        tx.query_one("SELECT login_number FROM desks WHERE desk_id = $1", &[&desk_id]).await?.get(0);
    let registry_sequence = crate::db::sequence(&tx).await?;
    tx.commit().await?;
    tracing::info!(desk_id, municipality, "desk enrolled");
    let sequence_receipt = state.receipt(&desk_id, registry_sequence);
    Ok(Json(EnrolResponse {
        desk_id,
        municipality: u16::try_from(municipality).unwrap_or_default(),
        office,
        desk_number: u32::try_from(desk_number).unwrap_or_default(),
        login_number: u32::try_from(login_number).unwrap_or_default(),
        registry_key: state.key.public_hex(),
        registry_time: state.now(),
        sequence_receipt,
        registry_sequence,
    }))
}
