//! Keyed duplicate hashes. A desk sends each record's duplicate keys as
//! `skranke_protocol::registry_duplicate_key`: SHA-256 of the plain key, the
//! same at every desk, so that two desks' uploads of one person match. An
//! all-digit document number is few enough guesses to recover from that
//! hash alone, so the registry never keeps it: on receipt (an upload, a
//! lookup, an operator's export by document) it takes HMAC-SHA256 under
//! its duplicate secret over the hash the desk sent, and stores and
//! compares only that keyed form.
//!
//! The secret lives in the registry key file beside the signing seed
//! (`key.rs`: mode 0600, or `SKRANKE_REGISTRY_KEY`), outside the database:
//! a dump or a backup alone cannot test a guessed document number; the
//! registry with its secret still can (it must, to find duplicates).
//!
//! Databases from before: [`rekey`] (run by every command that reads the key,
//! after the migrations) keys every stored copy in one transaction and
//! records the secret's fingerprint in `duplicate_keying` (migration 0010),
//! so it runs once, and a registry started with another secret is refused
//! rather than silently finding no duplicates.

use std::fmt;

use deadpool_postgres::Pool;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use skranke_protocol::{Event, EventBody, LookupRequest};

use crate::error::{RegistryError, Result};

/// The JSON fields that hold duplicate keys, wherever a record is copied.
const KEY_FIELDS: [&str; 2] = ["document_key", "person_key"];

/// What the fingerprint kept in the database is the keyed form of.
const FINGERPRINT_LABEL: &str = "skranke-duplicate-secret-fingerprint-v1";

/// The registry's duplicate secret: 32 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct DuplicateSecret([u8; 32]);

/// Never the secret.
impl fmt::Debug for DuplicateSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplicateSecret").field("fingerprint", &self.fingerprint()).finish()
    }
}

impl DuplicateSecret {
    /// A fresh secret from the OS's secure random source.
    pub fn generate() -> DuplicateSecret {
        let mut secret = [0u8; 32];
        // Without a working OS random source nothing here is safe to run.
        getrandom::fill(&mut secret).expect("the OS random source works");
        DuplicateSecret(secret)
    }

    /// From 64 hex digits (as in the key file).
    pub fn from_hex(text: &str) -> Option<DuplicateSecret> {
        hex::decode(text.trim()).ok().and_then(|b| b.try_into().ok()).map(DuplicateSecret)
    }

    /// 64 hex digits, for the key file only.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The keyed form of a duplicate key as a desk sent it: hex
    /// HMAC-SHA256 under this secret.
    pub fn key(&self, sent: &str) -> String {
        hex::encode(hmac_sha256(&self.0, sent.as_bytes()))
    }

    /// What identifies this secret in the database without revealing it.
    pub fn fingerprint(&self) -> String {
        self.key(FINGERPRINT_LABEL)
    }

    /// Keys, in place, the duplicate keys of every `issued` event of a
    /// batch. The registry's content hash was taken over the body as sent
    /// (`Event::received_hash`), so verdicts on resends are unchanged.
    pub fn key_events(&self, events: &mut [Event]) {
        for event in events {
            if let EventBody::Issued(r) = &mut event.body {
                r.document_key = self.key(&r.document_key);
                r.person_key = self.key(&r.person_key);
            }
        }
    }

    /// Keys a lookup's two keys in place.
    pub fn key_lookup(&self, req: &mut LookupRequest) {
        for k in [&mut req.document_key, &mut req.person_key].into_iter().flatten() {
            *k = self.key(k);
        }
    }

    /// Keys every string field named `document_key` or `person_key` in a
    /// stored JSON value, at any depth (a record's content, an event's body
    /// with its payload, a refused event as it came). Whether any changed.
    pub fn key_json(&self, value: &mut Value) -> bool {
        match value {
            Value::Object(map) => {
                let mut changed = false;
                for (name, v) in map.iter_mut() {
                    match v {
                        Value::String(s) if KEY_FIELDS.contains(&name.as_str()) => {
                            *s = self.key(s);
                            changed = true;
                        }
                        other => changed |= self.key_json(other),
                    }
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |c, v| self.key_json(v) | c),
            _ => false,
        }
    }
}

/// HMAC-SHA256 (RFC 2104, the `hmac` crate).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// What [`rekey`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// False when the stored hashes were keyed already (nothing changed).
    pub ran: bool,
    pub records: u64,
    pub events: u64,
    pub conflicts: u64,
    pub feed: u64,
}

/// Keys every stored duplicate key that is not keyed yet, in one
/// transaction: `records.document_key`/`person_key` and the copies in
/// `records.content`, `events.body`, `conflicts.body` and `feed.payload`
/// (`lookups` keeps only whether a lookup matched). Runs once: the
/// secret's fingerprint in `duplicate_keying` says it has; with another
/// secret the registry refuses to start (`registry.key.duplicate_secret_changed`).
pub async fn rekey(pool: &Pool, secret: &DuplicateSecret) -> Result<Rekeyed> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let marker: Option<String> = tx.query_one("SELECT fingerprint FROM duplicate_keying FOR UPDATE", &[]).await?.get(0);
    let fingerprint = secret.fingerprint();
    match marker {
        Some(held) if held == fingerprint => return Ok(Rekeyed::default()),
        Some(_) => return Err(RegistryError::Key { code: "duplicate_secret_changed", args: Vec::new() }),
        None => {}
    }
    let mut done = Rekeyed { ran: true, ..Rekeyed::default() };

    let (mut ids, mut dks, mut pks, mut contents) = (vec![], vec![], vec![], vec![]);
    for row in tx.query("SELECT record_id, document_key, person_key, content FROM records", &[]).await? {
        let mut content: Value = row.get(3);
        secret.key_json(&mut content);
        ids.push(row.get::<_, String>(0));
        dks.push(secret.key(row.get(1)));
        pks.push(secret.key(row.get(2)));
        contents.push(content);
    }
    if !ids.is_empty() {
        done.records = tx
            .execute(
                "UPDATE records SET document_key = u.dk, person_key = u.pk, content = u.c
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS u(id, dk, pk, c)
                 WHERE records.record_id = u.id",
                &[&ids, &dks, &pks, &contents],
            )
            .await?;
    }

    let (mut desks, mut keys, mut bodies) = (vec![], vec![], vec![]);
    for row in tx.query("SELECT desk_id, idempotency_key, body FROM events", &[]).await? {
        let mut body: Value = row.get(2);
        if secret.key_json(&mut body) {
            desks.push(row.get::<_, String>(0));
            keys.push(row.get::<_, String>(1));
            bodies.push(body);
        }
    }
    if !desks.is_empty() {
        done.events = tx
            .execute(
                "UPDATE events SET body = u.b FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS u(d, k, b)
                 WHERE events.desk_id = u.d AND events.idempotency_key = u.k",
                &[&desks, &keys, &bodies],
            )
            .await?;
    }

    for (table, id, column) in [("conflicts", "id", "body"), ("feed", "seq", "payload")] {
        let (mut ids, mut values) = (Vec::<i64>::new(), Vec::<Value>::new());
        for row in tx.query(&format!("SELECT {id}, {column} FROM {table}"), &[]).await? {
            let mut value: Value = row.get(1);
            if secret.key_json(&mut value) {
                ids.push(row.get(0));
                values.push(value);
            }
        }
        if ids.is_empty() {
            continue;
        }
        let n = tx
            .execute(
                &format!(
                    "UPDATE {table} SET {column} = u.v FROM unnest($1::int8[], $2::jsonb[]) AS u(i, v)
                     WHERE {table}.{id} = u.i"
                ),
                &[&ids, &values],
            )
            .await?;
        if table == "conflicts" {
            done.conflicts = n;
        } else {
            done.feed = n;
        }
    }
    tx.execute("UPDATE duplicate_keying SET fingerprint = $1, keyed_at = now()", &[&fingerprint]).await?;
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 1: twenty 0x0b bytes.
        let mac = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(hex::encode(mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    #[test]
    fn keyed_forms_depend_on_the_secret_and_the_debug_form_never_shows_it() {
        let (a, b) = (DuplicateSecret::generate(), DuplicateSecret::generate());
        assert_eq!(a.key("h"), a.key("h"));
        assert_ne!(a.key("h"), b.key("h"));
        assert_ne!(a.key("h"), "h");
        assert_eq!(DuplicateSecret::from_hex(&a.to_hex()), Some(a.clone()));
        assert!(DuplicateSecret::from_hex("abc").is_none());
        assert!(!format!("{a:?}").contains(&a.to_hex()));
    }

    #[test]
    fn every_key_field_of_a_stored_body_is_keyed_and_nothing_else() {
        let s = DuplicateSecret::generate();
        let mut body = json!({
            "kind": "issued",
            "payload": { "document_key": "d", "person_key": "p", "name": "document_key", "n": [{ "person_key": "q" }] },
            "person_key": null,
        });
        assert!(s.key_json(&mut body));
        assert_eq!(body["payload"]["document_key"], json!(s.key("d")));
        assert_eq!(body["payload"]["person_key"], json!(s.key("p")));
        assert_eq!(body["payload"]["n"][0]["person_key"], json!(s.key("q")));
        assert_eq!(body["payload"]["name"], "document_key");
        assert_eq!(body["person_key"], Value::Null);
        assert!(!s.key_json(&mut json!({ "kind": "voided", "payload": { "record_id": "r" } })));
    }
}
