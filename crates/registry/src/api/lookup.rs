//! `POST /v1/lookup`: is this person already known, and where? Audited and
//! rate-limited per desk (`limits`, on the route); the answer names desks and municipalities only,
//! never a number, a name or a record. A retired desk may not look up: it
//! issues nothing more, so it has no one to look up for.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use skranke_protocol::{LookupMatch, LookupRequest, LookupResponse, MatchKind};

use super::Checked;
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::AppState;

pub async fn lookup(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(mut req): Checked<LookupRequest>,
) -> Result<Json<LookupResponse>> {
    if desk.retired {
        return Err(RegistryError::refused(StatusCode::FORBIDDEN, "desk.retired"));
    }
    // Stored keys are keyed (`crate::duplicates`): so are the ones compared.
    state.key.duplicates()?.key_lookup(&mut req);
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT DISTINCT r.document_key = $1, r.desk_id, d.municipality
             FROM records r JOIN desks d USING (desk_id)
             WHERE (r.document_key = $1 OR r.person_key = $2) AND r.state <> 'voided'
             ORDER BY 2, 1 DESC",
            &[&req.document_key, &req.person_key],
        )
        .await?;
    let matches: Vec<LookupMatch> = rows
        .iter()
        .map(|r| LookupMatch {
            kind: if r.get::<_, Option<bool>>(0) == Some(true) { MatchKind::Document } else { MatchKind::Person },
            desk_id: r.get(1),
            municipality: u16::try_from(r.get::<_, i32>(2)).unwrap_or_default(),
        })
        .collect();
    client
        .execute("INSERT INTO lookups (desk_id, matched) VALUES ($1, $2)", &[&desk.desk_id, &!matches.is_empty()])
        .await?;
    Ok(Json(LookupResponse { matches, registry_time: state.now() }))
}
