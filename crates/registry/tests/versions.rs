//! Protocol and app versions in signed headers, against the real registry
//! on PostgreSQL: a desk one minor version ahead is served (the fields it
//! adds are ignored and still covered by the content hash), another major
//! version is refused with a problem that says what this registry serves,
//! the versions cannot be changed on the way, and the registry keeps what
//! each desk last said it runs.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use ed25519_dalek::Signer;
use serde_json::{json, Value};
use skranke_protocol::{canonical_json, header, sha256_hex, versioned_signing_message, NumberSource, PROTOCOL_VERSION};
use skranke_rules::cpr::Sex;

/// A POST signed as a desk that names its versions.
async fn post_versioned(
    reg: &Registry,
    desk: &Desk,
    path: &str,
    body: &Value,
    protocol: &str,
    app: &str,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = reg.clock.lock().unwrap().timestamp();
    let nonce = random_hex(16);
    let signature = desk.key.sign(&versioned_signing_message("POST", path, ts, &nonce, protocol, app, &bytes));
    let headers = [
        (header::DESK, desk.id.clone()),
        (header::TIMESTAMP, ts.to_string()),
        (header::NONCE, nonce),
        (header::PROTOCOL, protocol.to_string()),
        (header::APP_VERSION, app.to_string()),
        (header::SIGNATURE, hex::encode(signature.to_bytes())),
    ];
    send(&reg.router, Method::POST, path, bytes, &headers).await
}

async fn versions_of(reg: &Registry, desk: &Desk) -> (Option<String>, Option<String>) {
    let row = reg
        .state
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT protocol_version, app_version FROM desks WHERE desk_id = $1", &[&desk.id])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_desk_one_minor_version_ahead_is_served_and_its_new_fields_are_covered_by_the_hash() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let (major, minor) = PROTOCOL_VERSION;
    let ahead = format!("{major}.{}", minor + 1);
    let (_, lease) =
        post_versioned(&reg, &desk, "/v1/lease", &json!({ "idempotency_key": "l", "units": 1 }), &ahead, "9.1.0").await;
    let unit = units_of(&lease["granted"])[0];
    // An issued event with a field this registry does not know.
    let rid = desk.record_id();
    let event = issued(&rid, &unit.number(date(1980, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "doc-ahead");
    let mut sent = serde_json::to_value(&event).unwrap();
    sent["payload"]["proof_of_address"] = json!("seen");
    let body = json!({ "kind": sent["kind"], "payload": sent["payload"] });
    sent["content_hash"] = json!(sha256_hex(canonical_json(&body).as_bytes()));
    let (s, up) = post_versioned(&reg, &desk, "/v1/events", &json!({ "events": [sent] }), &ahead, "9.1.0").await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(outcomes(&up), ["accepted"]);
    assert_eq!(versions_of(&reg, &desk).await, (Some(ahead), Some("9.1.0".into())));
}

#[tokio::test]
async fn another_major_version_is_refused_and_the_versions_cannot_be_changed_on_the_way() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    let (major, _) = PROTOCOL_VERSION;
    let body = json!({ "idempotency_key": "l", "units": 1 });
    let (s, p) = post_versioned(&reg, &desk, "/v1/lease", &body, &format!("{}.0", major + 1), "9.0.0").await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("protocol.unsupported")));
    assert!(p["detail"].as_str().unwrap_or("").contains(&format!("{major}.")), "{p}");
    assert!(
        !p["title"].as_str().unwrap_or("protocol.problem").starts_with("protocol.problem."),
        "a catalog title: {p}"
    );
    for bad in ["1", "x.y", "1.2.3"] {
        let (s, p) = post_versioned(&reg, &desk, "/v1/lease", &body, bad, "9.0.0").await;
        assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("protocol.unsupported")), "{bad}");
    }
    // Signed as one app version, sent as another: the signature fails.
    let bytes = serde_json::to_vec(&body).unwrap();
    let ts = reg.clock.lock().unwrap().timestamp();
    let nonce = random_hex(16);
    let protocol = format!("{}.{}", PROTOCOL_VERSION.0, PROTOCOL_VERSION.1);
    let signature =
        desk.key.sign(&versioned_signing_message("POST", "/v1/lease", ts, &nonce, &protocol, "1.0.0", &bytes));
    let headers = [
        (header::DESK, desk.id.clone()),
        (header::TIMESTAMP, ts.to_string()),
        (header::NONCE, nonce),
        (header::PROTOCOL, protocol.clone()),
        (header::APP_VERSION, "6.6.6".to_string()),
        (header::SIGNATURE, hex::encode(signature.to_bytes())),
    ];
    let (s, _) = send(&reg.router, Method::POST, "/v1/lease", bytes, &headers).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(versions_of(&reg, &desk).await.1, None, "nothing unsigned is kept");
    // A desk older than versioning signs without them: served, recorded as 1.0.
    let (s, _) = desk.lease("l", 1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(versions_of(&reg, &desk).await, (Some("1.0".into()), None));
}
