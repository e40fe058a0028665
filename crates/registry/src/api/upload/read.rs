//! Reading the picture of a batch: what its verdicts depend on, for the
//! whole batch at once (one `= ANY($1)` query per table, none per event).

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use serde_json::Value;

use super::judge::{
    bodies_needed, AuditHead, Candidate, DisputedNumber, HeldEvent, HeldNumber, HeldRecord, HeldUnit, KeptVerdict,
    Needs, Picture, Sent,
};
use crate::auth::Desk;
use crate::error::Result;

/// Reads what [`Needs`] names for the batch. `reconciling`: whether the
/// registry reconciles after a restore.
pub async fn picture(
    tx: &Transaction<'_>,
    desk: &Desk,
    batch: &[Sent<'_>],
    needs: &Needs<'_>,
    reconciling: bool,
) -> Result<Picture> {
    let mut picture = Picture { reconciling, ..Picture::default() };
    // What the desk's records are checked against: the namespace of its
    // usernames and its retirement (`auth::Desk` knows only whether).
    let desk_row =
        tx.query_one("SELECT login_number, retired_at FROM desks WHERE desk_id = $1", &[&desk.desk_id]).await?;
    picture.login_number = desk_row.get::<_, Option<i32>>(0).and_then(|n| u32::try_from(n).ok());
    picture.retired_at = desk_row.get(1);
    picture.events = tx
        .query(
            "SELECT idempotency_key, content_hash FROM events WHERE desk_id = $1 AND idempotency_key = ANY($2)",
            &[&desk.desk_id, &needs.keys],
        )
        .await?
        .iter()
        .map(|row| HeldEvent { idempotency_key: row.get(0), content_hash: row.get(1), body: None })
        .collect();
    // Bodies only where the batch sends other content under a held key and
    // might fill a login in (rare: a desk from before the username fix).
    let keys = bodies_needed(batch, &picture.events);
    if !keys.is_empty() {
        let mut bodies: HashMap<String, Value> = tx
            .query(
                "SELECT idempotency_key, body FROM events WHERE desk_id = $1 AND idempotency_key = ANY($2)",
                &[&desk.desk_id, &keys],
            )
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for held in &mut picture.events {
            held.body = bodies.remove(&held.idempotency_key);
        }
    }
    picture.kept = tx
        .query(
            "SELECT idempotency_key, content_hash, reason FROM conflicts
             WHERE desk_id = $1 AND idempotency_key = ANY($2) ORDER BY id",
            &[&desk.desk_id, &needs.keys],
        )
        .await?
        .iter()
        .map(|row| KeptVerdict { idempotency_key: row.get(0), content_hash: row.get(1), reason: row.get(2) })
        .collect();
    if !needs.record_ids.is_empty() {
        picture.records = tx
            .query(
                "SELECT record_id, desk_id, content_hash, coalesce(content->>'jobnet_username', ''),
                        coalesce(content->>'password_hash', ''), personal_erased_at IS NOT NULL
                 FROM records WHERE record_id = ANY($1)",
                &[&needs.record_ids],
            )
            .await?
            .iter()
            .map(|row| HeldRecord {
                record_id: row.get(0),
                desk_id: row.get(1),
                content_hash: row.get(2),
                jobnet_username: row.get(3),
                password_hash: row.get(4),
                personal_erased: row.get(5),
            })
            .collect();
    }
    if needs.issues() {
        picture.numbers = tx
            .query(
                "SELECT n.number::text, n.origin, n.desk_id, d.municipality, n.record_id
                 FROM numbers n LEFT JOIN desks d ON d.desk_id = n.desk_id
                 WHERE n.number = ANY($1::bpchar[])",
                &[&needs.numbers],
            )
            .await?
            .iter()
            .map(|row| HeldNumber {
                number: row.get(0),
                origin: row.get(1),
                desk_id: row.get(2),
                desk_municipality: row.get(3),
                record_id: row.get(4),
            })
            .collect();
        picture.disputed = tx
            .query(
                "SELECT DISTINCT ON (p.number) p.number::text, p.desk_id, d.municipality, p.record_id
                 FROM disputed_numbers p JOIN desks d USING (desk_id)
                 WHERE p.number = ANY($1::bpchar[]) ORDER BY p.number, p.received_at",
                &[&needs.numbers],
            )
            .await?
            .iter()
            .map(|row| DisputedNumber {
                number: row.get(0),
                desk_id: row.get(1),
                municipality: row.get(2),
                record_id: row.get(3),
            })
            .collect();
        picture.units = tx
            .query("SELECT slot, rank, desk_id, retired FROM units WHERE slot = ANY($1)", &[&needs.slots])
            .await?
            .iter()
            .map(|row| HeldUnit { slot: row.get(0), rank: row.get(1), desk_id: row.get(2), retired: row.get(3) })
            .collect();
        picture.candidates = tx
            .query(
                "SELECT r.record_id, r.desk_id, d.municipality, r.document_key, r.person_key
                 FROM records r JOIN desks d USING (desk_id)
                 WHERE (r.document_key = ANY($1) OR r.person_key = ANY($2)) AND r.state <> 'voided'",
                &[&needs.document_keys, &needs.person_keys],
            )
            .await?
            .iter()
            .map(|row| Candidate {
                record_id: row.get(0),
                desk_id: row.get(1),
                municipality: row.get(2),
                document_key: row.get(3),
                person_key: row.get(4),
            })
            .collect();
    }
    if needs.audit_head {
        picture.audit_head = tx
            .query_opt("SELECT seq, hash FROM audit_heads WHERE desk_id = $1", &[&desk.desk_id])
            .await?
            .map(|row| AuditHead { seq: row.get(0), hash: row.get(1) });
    }
    Ok(picture)
}
