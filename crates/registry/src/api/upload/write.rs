//! Writing a judged batch: one multi-row statement per table and kind of
//! change, inserts in the order the events asked for them, then the updates
//! of records (which may be records this batch inserted).

use deadpool_postgres::Transaction;

use super::judge::Writes;
use crate::auth::Desk;
use crate::error::Result;

/// Applies the writes in the batch's transaction.
pub async fn apply(tx: &Transaction<'_>, desk: &Desk, w: Writes) -> Result<()> {
    let desk_id = desk.desk_id.as_str();
    if !w.unit_binds.is_empty() {
        let (slot, rank): (Vec<i32>, Vec<i32>) = w.unit_binds.iter().map(|u| (u.slot, u.rank)).unzip();
        tx.execute(
            "UPDATE units SET desk_id = $1, bound_at = now() FROM unnest($2::int4[], $3::int4[]) AS u(s, r)
             WHERE units.slot = u.s AND units.rank = u.r AND units.desk_id IS NULL",
            &[&desk_id, &slot, &rank],
        )
        .await?;
    }
    if !w.numbers.is_empty() {
        let (mut n, mut d, mut s, mut m, mut o, mut sl, mut rk, mut rec) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for row in w.numbers {
            n.push(row.number);
            d.push(row.birth_date);
            s.push(row.sex);
            m.push(row.modulus11);
            o.push(row.origin);
            sl.push(row.slot);
            rk.push(row.rank);
            rec.push(row.record_id);
        }
        tx.execute(
            "INSERT INTO numbers (number, birth_date, sex, modulus11, origin, slot, rank, desk_id, record_id)
             SELECT n, d, s, m, o, sl, rk, $9, rec
             FROM unnest($1::text[], $2::date[], $3::text[], $4::bool[], $5::text[], $6::int4[], $7::int4[], $8::text[])
                  AS t(n, d, s, m, o, sl, rk, rec)",
            &[&n, &d, &s, &m, &o, &sl, &rk, &rec, &desk_id],
        )
        .await?;
    }
    if !w.linked.is_empty() {
        let (n, r): (Vec<String>, Vec<String>) = w.linked.into_iter().map(|l| (l.number, l.record_id)).unzip();
        tx.execute(
            "UPDATE numbers SET record_id = u.r FROM unnest($1::bpchar[], $2::text[]) AS u(n, r)
             WHERE numbers.number = u.n",
            &[&n, &r],
        )
        .await?;
    }
    if !w.reclaimed.is_empty() {
        let (n, r): (Vec<String>, Vec<String>) = w.reclaimed.into_iter().map(|l| (l.number, l.record_id)).unzip();
        // The allocation's key goes with it: the other desk asking again
        // under that key is given a new number.
        tx.execute(
            "UPDATE numbers SET record_id = u.r, desk_id = $3, idempotency_key = NULL
             FROM unnest($1::bpchar[], $2::text[]) AS u(n, r)
             WHERE numbers.number = u.n AND numbers.record_id IS NULL",
            &[&n, &r, &desk_id],
        )
        .await?;
    }
    if !w.records.is_empty() {
        let (mut id, mut num, mut mu, mut dk, mut pk, mut c, mut h) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for row in w.records {
            id.push(row.record_id);
            num.push(row.number);
            mu.push(row.municipality);
            dk.push(row.document_key);
            pk.push(row.person_key);
            c.push(row.content);
            h.push(row.content_hash);
        }
        tx.execute(
            "INSERT INTO records (record_id, desk_id, number, municipality, document_key, person_key, content, content_hash)
             SELECT id, $8, num, mu, dk, pk, c, h
             FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
                  WITH ORDINALITY AS t(id, num, mu, dk, pk, c, h, o)
             ORDER BY o",
            &[&id, &num, &mu, &dk, &pk, &c, &h, &desk_id],
        )
        .await?;
    }
    if !w.logins.is_empty() {
        let (mut id, mut patch) = (vec![], vec![]);
        for l in w.logins {
            id.push(l.record_id);
            patch.push(serde_json::json!({ "jobnet_username": l.jobnet_username, "password_hash": l.password_hash }));
        }
        tx.execute(
            "UPDATE records SET content = content || u.p FROM unnest($1::text[], $2::jsonb[]) AS u(id, p)
             WHERE records.record_id = u.id",
            &[&id, &patch],
        )
        .await?;
    }
    if !w.refusals_cleared.is_empty() {
        // The desk learns it from the moved `state_seq`.
        tx.execute(
            "UPDATE records SET refused_downstream_by = NULL, refused_downstream_reason = NULL,
                                refused_downstream_at = NULL, state_seq = nextval('registry_seq')
             WHERE record_id = ANY($1) AND refused_downstream_by IS NOT NULL",
            &[&w.refusals_cleared],
        )
        .await?;
    }
    if !w.voids.is_empty() {
        let (id, by): (Vec<String>, Vec<Option<String>>) =
            w.voids.into_iter().map(|v| (v.record_id, v.replaced_by)).unzip();
        tx.execute(
            "UPDATE records SET state = 'voided', replaced_by = u.by, state_seq = nextval('registry_seq')
             FROM unnest($1::text[], $2::text[]) AS u(id, by) WHERE records.record_id = u.id",
            &[&id, &by],
        )
        .await?;
    }
    if !w.erasures.is_empty() {
        tx.execute(
            "UPDATE records SET erased_at = now() WHERE record_id = ANY($1) AND desk_id = $2",
            &[&w.erasures, &desk_id],
        )
        .await?;
    }
    if !w.feed.is_empty() {
        let (mut id, mut kind, mut payload) = (vec![], vec![], vec![]);
        for item in w.feed {
            id.push(item.record_id);
            kind.push(item.kind);
            payload.push(item.payload);
        }
        tx.execute(
            "INSERT INTO feed (record_id, kind, payload)
             SELECT id, k, v FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS t(id, k, v, o)
             ORDER BY o",
            &[&id, &kind, &payload],
        )
        .await?;
    }
    if !w.events.is_empty() {
        let (mut key, mut kind, mut rec, mut hash, mut body) = (vec![], vec![], vec![], vec![], vec![]);
        for e in w.events {
            key.push(e.idempotency_key);
            kind.push(e.kind);
            rec.push(e.record_id);
            hash.push(e.content_hash);
            body.push(e.body);
        }
        tx.execute(
            "INSERT INTO events (desk_id, idempotency_key, kind, record_id, content_hash, body)
             SELECT $6, k, kd, r, h, b
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS t(k, kd, r, h, b, o)
             ORDER BY o",
            &[&key, &kind, &rec, &hash, &body, &desk_id],
        )
        .await?;
    }
    if !w.conflicts.is_empty() {
        let (mut key, mut reason, mut body, mut hash) = (vec![], vec![], vec![], vec![]);
        for c in w.conflicts {
            key.push(c.idempotency_key);
            reason.push(c.reason);
            body.push(c.body);
            hash.push(c.content_hash);
        }
        tx.execute(
            "INSERT INTO conflicts (desk_id, idempotency_key, reason, body, content_hash)
             SELECT $5, k, r, b, h FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
                  WITH ORDINALITY AS t(k, r, b, h, o)
             ORDER BY o",
            &[&key, &reason, &body, &hash, &desk_id],
        )
        .await?;
        // Refused issued events count as disputed numbers only up to a cap
        // per desk (migrations/0007): past it, the operator is told once.
        if reason.iter().any(|r| r.starts_with("invalid:")) {
            tx.execute(
                "INSERT INTO operator_log (operator, action, detail)
                 SELECT 'skranke-registry serve', 'disputed_cap_reached', jsonb_build_object('desk_id', $1::text)
                 WHERE (SELECT count(*) FROM conflicts
                        WHERE desk_id = $1 AND body->>'kind' = 'issued' AND reason LIKE 'invalid:%') > 50
                   AND NOT EXISTS (SELECT 1 FROM operator_log
                                   WHERE action = 'disputed_cap_reached' AND detail->>'desk_id' = $1)",
                &[&desk_id],
            )
            .await?;
        }
    }
    if !w.notices.is_empty() {
        let (mut d, mut k, mut r, mut or, mut od, mut om) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for n in w.notices {
            d.push(n.desk_id);
            k.push(n.kind);
            r.push(n.record_id);
            or.push(n.other_record_id);
            od.push(n.other_desk_id);
            om.push(n.other_municipality);
        }
        tx.execute(
            "INSERT INTO notices (desk_id, kind, record_id, other_record_id, other_desk_id, other_municipality)
             SELECT d, k, r, o_r, o_d, o_m
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[])
                  WITH ORDINALITY AS t(d, k, r, o_r, o_d, o_m, o)
             ORDER BY o",
            &[&d, &k, &r, &or, &od, &om],
        )
        .await?;
    }
    if let Some(head) = w.audit_head {
        tx.execute(
            "INSERT INTO audit_heads (desk_id, seq, hash) VALUES ($1, $2, $3)
             ON CONFLICT (desk_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            &[&desk_id, &head.seq, &head.hash],
        )
        .await?;
    }
    if let Some(seq) = w.quarantine {
        quarantine(tx, desk_id, seq).await?;
    }
    Ok(())
}

/// Quarantines a desk whose audit chain forked at entry `seq`, once: the
/// first fork sets `quarantined_at`, writes `desk_quarantined` to
/// `operator_log` (the desk and the seq, no content) and tells the desk, so
/// that a supervisor at either copy sees it. Later forks change nothing.
async fn quarantine(tx: &Transaction<'_>, desk_id: &str, seq: i64) -> Result<()> {
    let now_quarantined = tx
        .execute("UPDATE desks SET quarantined_at = now() WHERE desk_id = $1 AND quarantined_at IS NULL", &[&desk_id])
        .await?;
    if now_quarantined == 1 {
        let detail = serde_json::json!({ "desk_id": desk_id, "audit_seq": seq });
        tx.execute(
            "INSERT INTO operator_log (operator, action, detail) VALUES ($1, 'desk_quarantined', $2)",
            &[&SERVICE, &detail],
        )
        .await?;
        tx.execute("INSERT INTO notices (desk_id, kind) VALUES ($1, 'desk_quarantined')", &[&desk_id]).await?;
    }
    Ok(())
}

/// What `operator_log` names the service as for what it did by itself.
const SERVICE: &str = "skranke-registry serve";
