//! Desk authentication: every desk request is signed with the Ed25519 key
//! whose public half the desk presented at enrolment (see
//! [`skranke_protocol`] for what is signed and why not mutual TLS).
//!
//! The middleware reads the whole body (the signature covers its hash),
//! checks the timestamp against the registry's clock, verifies the
//! signature, and only then records the nonce, so that unauthenticated
//! callers cannot fill the nonce table. Each failure is a 401 problem.
//!
//! A revoked desk's key (`revoke-desk`: stolen or lost) proves nothing any
//! more: a request it signs is refused with 403 `desk.revoked` whatever the
//! route, after the signature is checked (so only the key's holder, not
//! anyone who knows a desk ID, makes the refusal and its entry in
//! `operator_log`) and before anything else is touched.

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use skranke_protocol::MAX_CLOCK_SKEW_SECS;

use crate::decode::SignedHeaders;
use crate::error::{RegistryError, Result};
use crate::AppState;

/// The largest request body the registry reads (an upload batch; every
/// other route has a smaller limit, see `api::router`).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The desk a request was authenticated as; handlers take it as an
/// `Extension`.
#[derive(Clone, Debug)]
pub struct Desk {
    pub desk_id: String,
    pub municipality: u16,
    pub retired: bool,
    /// Its audit chain forked (`desks.quarantined_at`): it gets no lease and
    /// no online number, but still uploads and syncs.
    pub quarantined: bool,
}

pub async fn require_desk(State(state): State<AppState>, req: Request, next: Next) -> Result<Response> {
    let (mut parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large"))?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedHeaders::read(header, state.now().timestamp())?;

    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT public_key, municipality, retired_at IS NOT NULL, revoked_at IS NOT NULL,
                    quarantined_at IS NOT NULL
             FROM desks WHERE desk_id = $1",
            &[&signed.desk_id],
        )
        .await?
        .ok_or(RegistryError::unauthorized("auth.signature"))?;
    let public_key: Vec<u8> = row.get(0);
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    signed.verify(&public_key, parts.method.as_str(), path, &body)?;

    if row.get::<_, bool>(3) {
        let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str()).unwrap_or("-");
        crate::revocation::note_revoked_refusal(&client, &signed.desk_id, route, state.now()).await?;
        let mut response = RegistryError::refused(StatusCode::FORBIDDEN, "desk.revoked").into_response();
        response.extensions_mut().insert(crate::api::LoggedDesk(signed.desk_id));
        return Ok(response);
    }

    let fresh = client
        .execute(
            "INSERT INTO request_nonces (desk_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&signed.desk_id, &signed.nonce],
        )
        .await?;
    if fresh == 0 {
        return Err(RegistryError::unauthorized("auth.replay"));
    }
    // What the desk runs, as it signed it; written only when it changed.
    let (protocol, app) = match &signed.versions {
        Some(v) => (v.protocol.as_str(), v.app.as_str()),
        None => ("1.0", ""),
    };
    client
        .execute(
            "UPDATE desks SET protocol_version = $2, app_version = nullif($3, ''), version_seen_at = now()
             WHERE desk_id = $1
               AND (protocol_version IS DISTINCT FROM $2 OR app_version IS DISTINCT FROM nullif($3, ''))",
            &[&signed.desk_id, &protocol, &app],
        )
        .await?;
    drop(client);

    let municipality: i32 = row.get(1);
    parts.extensions.insert(Desk {
        desk_id: signed.desk_id.clone(),
        municipality: u16::try_from(municipality).unwrap_or_default(),
        retired: row.get(2),
        quarantined: row.get(4),
    });
    let mut response = next.run(Request::from_parts(parts, Body::from(body))).await;
    response.extensions_mut().insert(crate::api::LoggedDesk(signed.desk_id));
    Ok(response)
}

/// Forgets nonces older than twice the skew window: a request that old is
/// refused by its timestamp anyway.
pub async fn prune_nonces(state: &AppState) -> Result<u64> {
    let client = state.pool.get().await?;
    let secs = (2 * MAX_CLOCK_SKEW_SECS) as f64;
    Ok(client.execute("DELETE FROM request_nonces WHERE seen_at < now() - make_interval(secs => $1)", &[&secs]).await?)
}
