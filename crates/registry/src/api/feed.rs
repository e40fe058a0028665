//! The outbound feed to CPR and Jobnet: `GET /v1/feed?after=N` pages
//! through accepted events in receipt order, `POST /v1/feed/confirm` marks
//! records `registered` or refused by CPR or Jobnet, which desks learn at
//! their next sync. The consumer authenticates with a bearer token
//! configured on the registry.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use skranke_protocol::{DeskPlace, FeedConfirm, FeedConfirmResponse, FeedItem, FeedPage};

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

/// A page of the feed, each item with the place of the desk that issued
/// the record and whether the registry has erased its personal data.
pub async fn page(
    State(state): State<AppState>,
    query: std::result::Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<FeedPage>> {
    // A query that does not parse is a problem document like any refusal,
    // never axum's plain text.
    let Query(q) =
        query.map_err(|e| RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.query", e.body_text()))?;
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let mut client = state.pool.get().await?;
    move_past_cursor(&mut client, q.after).await?;
    let items: Vec<FeedItem> = client
        .query(
            "SELECT f.seq, f.record_id, f.kind, f.payload, r.personal_erased_at IS NOT NULL,
                    d.desk_id, d.municipality, d.office, d.desk_number
             FROM feed f JOIN records r USING (record_id) JOIN desks d ON d.desk_id = r.desk_id
             WHERE f.seq > $1 ORDER BY f.seq LIMIT $2",
            &[&q.after, &limit],
        )
        .await?
        .iter()
        .map(|r| FeedItem {
            seq: r.get(0),
            record_id: r.get(1),
            kind: r.get(2),
            payload: r.get(3),
            erased: r.get(4),
            desk: DeskPlace {
                desk_id: r.get(5),
                municipality: u16::try_from(r.get::<_, i32>(6)).unwrap_or_default(),
                office: r.get(7),
                desk_number: u32::try_from(r.get::<_, i32>(8)).unwrap_or_default(),
            },
        })
        .collect();
    let next_after = items.last().map_or(q.after, |i| i.seq);
    Ok(Json(FeedPage { items, next_after }))
}

/// After a restore the consumer's cursor may lie beyond where the restored
/// feed stood: the consumer read, under numbers the restored feed hands out
/// again, items the restore lost. Once a restore was noticed (its mark,
/// `registry_meta.feed_restored_after`), the consumer's first read decides:
/// a cursor beyond the mark has every item written since the restore
/// numbered again after it, in order, so that the consumer, reading on from
/// where it was, misses none of the records desks sent again; a cursor at
/// or before the mark will see them anyway. Either way the mark is then
/// cleared. Without a mark, a cursor beyond everything numbered moves the
/// numbering past it. The consumer is authenticated by its token; a cursor
/// past half the range is no consumer's and is ignored.
async fn move_past_cursor(client: &mut deadpool_postgres::Client, after: i64) -> Result<()> {
    if after < 0 || after > i64::MAX / 2 {
        return Ok(());
    }
    let numbered = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM feed_seq_seq";
    let look = "SELECT feed_restored_after FROM registry_meta";
    let needed = |mark: Option<i64>, last: i64| mark.is_some() || after > last;
    let mark: Option<i64> = client.query_one(look, &[]).await?.get(0);
    if !needed(mark, client.query_one(numbered, &[]).await?.get(0)) {
        return Ok(());
    }
    let tx = client.transaction().await?;
    // One consumer read at a time moves the feed; the checks are repeated under the lock.
    tx.execute("LOCK TABLE feed IN EXCLUSIVE MODE", &[]).await?;
    let mark: Option<i64> = tx.query_one(&format!("{look} FOR UPDATE"), &[]).await?.get(0);
    let last: i64 = tx.query_one(numbered, &[]).await?.get(0);
    if !needed(mark, last) {
        return Ok(tx.commit().await?);
    }
    if after > last {
        tracing::warn!(after, last, "feed cursor ahead of the registry: numbering new items after it");
        tx.execute("SELECT setval('feed_seq_seq', $1)", &[&after]).await?;
    }
    if let Some(mark) = mark {
        if after > mark {
            let since = tx.query("SELECT seq FROM feed WHERE seq > $1 ORDER BY seq", &[&mark]).await?;
            for row in &since {
                let seq: i64 = row.get(0);
                tx.execute("UPDATE feed SET seq = nextval('feed_seq_seq') WHERE seq = $1", &[&seq]).await?;
            }
            tracing::warn!(
                moved = since.len(),
                after,
                "feed items written since the restore numbered after the cursor"
            );
        }
        tx.execute("UPDATE registry_meta SET feed_restored_after = NULL", &[]).await?;
    }
    Ok(tx.commit().await?)
}

/// The consumer's answer: records CPR and Jobnet registered, and records one
/// of them refused (with a reason code). A refusal is kept on the record,
/// moves its `state_seq` (the desk learns it at sync) and stands until a
/// reprint, a login amendment or a registration; a registered record is
/// never refused afterwards. Both are idempotent.
pub async fn confirm(
    State(state): State<AppState>,
    Checked(req): Checked<FeedConfirm>,
) -> Result<Json<FeedConfirmResponse>> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let now = state.now();
    let confirmed = tx
        .execute(
            "UPDATE records SET state = 'registered', registered_at = $2, state_seq = nextval('registry_seq'),
                    refused_downstream_by = NULL, refused_downstream_reason = NULL, refused_downstream_at = NULL
             WHERE record_id = ANY($1) AND state = 'received'",
            &[&req.registered, &now],
        )
        .await?;
    let mut refused = 0;
    for r in &req.refused {
        refused += tx
            .execute(
                "UPDATE records SET refused_downstream_by = $2, refused_downstream_reason = $3,
                        refused_downstream_at = $4, state_seq = nextval('registry_seq')
                 WHERE record_id = $1 AND state = 'received'
                   AND (refused_downstream_by IS DISTINCT FROM $2 OR refused_downstream_reason IS DISTINCT FROM $3)",
                &[&r.record_id, &r.system.code(), &r.reason, &now],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(Json(FeedConfirmResponse { confirmed, refused }))
}
