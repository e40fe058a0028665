//! Arbitrary bytes as an HTTP request to the registry, written as text:
//!
//! ```text
//! POST /v1/sync
//! x-skranke-desk: D1
//! x-skranke-timestamp: 1800000000
//! …
//!
//! {"highest_sequence_seen": …}
//! ```
//!
//! The registry's decoding before the database (`skranke_registry::decode`:
//! signature headers, signature, JSON bodies and their first checks, and the
//! content hashes of uploaded events) never panics; a refusal is a 4xx
//! problem with a catalog title; a decoded body re-encodes to a request
//! with the same content; and the canonical JSON the hashes are taken over denotes the same
//! value as the body.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use skranke_protocol::{canonical_json, EventBody};
use skranke_registry::decode::{self, Decoded, SignedHeaders};
use skranke_registry::RegistryError;
use skranke_rules::lease::encodable;

/// The registry's clock in the seed corpus's signed requests.
const NOW: i64 = 1_800_000_000;
/// The public half of the key (seed `[7; 32]`) that signed the seed requests.
const DESK_KEY_SEED: [u8; 32] = [7; 32];

fn desk_public_key() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&DESK_KEY_SEED).verifying_key().to_bytes()
}

fn assert_refusal(e: &RegistryError) {
    let problem = e.problem();
    assert!((400..500).contains(&problem.status), "{e}: status {}", problem.status);
    assert!(!problem.title.is_empty() && !problem.title.starts_with("protocol.problem."), "{e}: no catalog title");
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

fn encode(d: &Decoded) -> Vec<u8> {
    let v = match d {
        Decoded::Enrol(r) => serde_json::to_vec(r),
        Decoded::Allocate(r) => serde_json::to_vec(r),
        Decoded::Lease(r) => serde_json::to_vec(r),
        Decoded::Return(r) => serde_json::to_vec(r),
        Decoded::Upload(r) => serde_json::to_vec(r),
        Decoded::Sync(r) => serde_json::to_vec(r),
        Decoded::Lookup(r) => serde_json::to_vec(r),
        Decoded::FeedConfirm(r) => serde_json::to_vec(r),
    };
    v.expect("a decoded request serialises")
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let (method, target) = lines.next().and_then(|l| l.split_once(' ')).unwrap_or(("POST", "/"));
    // An HTTP header value as text: visible ASCII, spaces and tabs only.
    let headers: Vec<(String, &str)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .filter(|(_, value)| value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| *v);

    match SignedHeaders::read(header, NOW) {
        Ok(signed) => {
            assert!(signed.timestamp.abs_diff(NOW) <= 300);
            match signed.verify(&desk_public_key(), method, target, body) {
                Ok(()) => {
                    // The signature covers the body: one more byte breaks it.
                    let mut changed = body.to_vec();
                    changed.push(b' ');
                    assert!(signed.verify(&desk_public_key(), method, target, &changed).is_err());
                }
                Err(e) => assert_refusal(&e),
            }
        }
        Err(e) => assert_refusal(&e),
    }

    let Some(today) = DateTime::from_timestamp(NOW, 0).map(|t| t.date_naive()) else { return };
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    match decode::body(path, body, today) {
        Ok(decoded) => {
            // What was decoded re-encodes to a request with the same content.
            // (An event's `received_hash` is of the bytes as they came, so a
            // body that left out a field the typed body writes as `null`
            // hashes differently; the re-encoded one hashes as its typed body.)
            let again = decode::body(path, &encode(&decoded), today).expect("a re-encoded request decodes");
            assert_eq!(encode(&again), encode(&decoded), "a decoded request does not round-trip");
            if let Decoded::Upload(upload) = &again {
                for event in &upload.events {
                    assert_eq!(event.received_hash(), event.body.content_hash(), "a typed body hashes as sent");
                }
            }
            if let Decoded::Upload(upload) = &decoded {
                for event in &upload.events {
                    let _ = (event.body.kind(), event.body.record_id());
                    assert_eq!(event.body.content_hash().len(), 64);
                    if let EventBody::Audit(entry) = &event.body {
                        assert_eq!(entry.chain_hash().len(), 64);
                    }
                }
            }
            if let Decoded::Allocate(req) = &decoded {
                assert!(req.birth_date <= today && encodable(req.birth_date));
            }
        }
        Err(e) => assert_refusal(&e),
    }

    // Canonical JSON (what content hashes are taken over) is JSON for the
    // same value, and canonical again. Only for values without fractions:
    // serde_json's default parser may read a float one ulp off (exact only
    // with its `float_roundtrip` feature), and no request body carries one.
    if let Some(value) = serde_json::from_slice::<Value>(body).ok().filter(|v| !has_float(v)) {
        let canonical = canonical_json(&value);
        let reread: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
        assert_eq!(reread, value, "canonical JSON changed the value");
        assert_eq!(canonical_json(&reread), canonical);
    }
});
