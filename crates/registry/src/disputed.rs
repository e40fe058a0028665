//! Disputed numbers: numbers on applicants' handouts that the registry holds
//! in no accepted record, because the event that carried them was kept as a
//! conflict (a cloned or restored desk reusing record IDs or keys) or, within
//! a per-desk cap, as invalid. They are never handed out again (see
//! `migrations/0007_disputed_numbers.sql`), the desk holding their unit is
//! told they are used, and the operator lists them here.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;

use crate::error::Result;

/// One disputed number as the operator sees it: no names, no content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisputedNumber {
    /// `DDMMYY-SSSS`.
    pub number: String,
    /// The desk whose kept event carried it, and that event's record.
    pub desk_id: String,
    pub municipality: i32,
    pub record_id: Option<String>,
    /// The verdict it was kept under (`conflict:record_conflict`, ...).
    pub reason: String,
    /// The accepted record that holds the same number, if one does.
    pub held_by: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Every disputed number, oldest first.
pub async fn list(pool: &Pool) -> Result<Vec<DisputedNumber>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT d.number::text, d.desk_id, k.municipality, d.record_id, d.reason,
                    (SELECT r.record_id FROM records r WHERE r.number = d.number ORDER BY r.record_id LIMIT 1),
                    d.received_at
             FROM disputed_numbers d JOIN desks k USING (desk_id)
             ORDER BY d.received_at, d.number",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let digits: String = r.get(0);
            let number = match digits.get(..6).zip(digits.get(6..)) {
                Some((day, serial)) => format!("{day}-{serial}"),
                None => digits,
            };
            DisputedNumber {
                number,
                desk_id: r.get(1),
                municipality: r.get(2),
                record_id: r.get(3),
                reason: r.get(4),
                held_by: r.get(5),
                received_at: r.get(6),
            }
        })
        .collect())
}
