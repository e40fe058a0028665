//! The outbound feed to CPR and Jobnet: `GET /v1/feed?after=N` pages
//! through accepted events in receipt order, `POST /v1/feed/confirm` marks
//! records `registered`, which desks learn at their next sync. The consumer
//! authenticates with a bearer token configured on the registry.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use skranke_core::protocol::{FeedConfirm, FeedConfirmResponse, FeedItem, FeedPage};

use super::Checked;
use crate::error::{RegistryError, Result};
use crate::AppState;

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// Route middleware of the feed's routes: the consumer's token before
/// anything else (a body is not even parsed for a caller without it).
pub async fn require_feed(State(state): State<AppState>, req: Request, next: Next) -> Result<Response> {
    authorize(&state, req.headers())?;
    Ok(next.run(req).await)
}

/// Compares hashes of the tokens, so the time taken says nothing about how
/// much of a guess was right.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let expected =
        state.config.feed_token.as_deref().ok_or(RegistryError::refused(StatusCode::FORBIDDEN, "feed.disabled"))?;
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return Err(RegistryError::unauthorized("auth.feed_token"));
    }
    Ok(())
}

pub async fn page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Result<Json<FeedPage>> {
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let client = state.pool.get().await?;
    let items: Vec<FeedItem> = client
        .query(
            "SELECT seq, record_id, kind, payload FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&q.after, &limit],
        )
        .await?
        .iter()
        .map(|r| FeedItem { seq: r.get(0), record_id: r.get(1), kind: r.get(2), payload: r.get(3) })
        .collect();
    let next_after = items.last().map_or(q.after, |i| i.seq);
    Ok(Json(FeedPage { items, next_after }))
}

pub async fn confirm(
    State(state): State<AppState>,
    Checked(req): Checked<FeedConfirm>,
) -> Result<Json<FeedConfirmResponse>> {
    let client = state.pool.get().await?;
    let n = client
        .execute(
            "UPDATE records SET state = 'registered', registered_at = $2, state_seq = nextval('registry_seq')
             WHERE record_id = ANY($1) AND state = 'received'",
            &[&req.registered, &state.now()],
        )
        .await?;
    Ok(Json(FeedConfirmResponse { confirmed: n }))
}
