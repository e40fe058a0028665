//! The registry's own key, against the real registry on PostgreSQL: every
//! answer a desk reads is signed over the request's nonce, status and body;
//! a restore is believed only on a receipt the registry signed; a rotation
//! hands desks over through the old key's endorsement; enrolment codes end
//! in the key's fingerprint; and the key file is made, shown, rotated and
//! guarded by the operator's commands.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use skranke_protocol::trust::{self, header};
use skranke_registry::RegistryKey;
use skranke_rules::cpr::Sex;

/// Whether `answer` carries `key`'s signature over `nonce`, its status and its body.
fn signed_by(answer: &Answer, nonce: &str, key: &[u8; 32]) -> bool {
    let shown = answer.header(header::REGISTRY_KEY).and_then(trust::public_key_from_hex);
    let signature = answer.header(header::ANSWER_SIGNATURE).unwrap_or("");
    shown == Some(*key)
        && trust::verify(key, &trust::answer_signing_message(nonce, answer.status.as_u16(), &answer.body), signature)
}

async fn operator_log(reg: &Registry, action: &str) -> Vec<Value> {
    let client = reg.state.pool.get().await.unwrap();
    client
        .query("SELECT detail FROM operator_log WHERE action = $1 ORDER BY id", &[&action])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A registry that has been running a while: its sequence is at 100, so
/// that a restore can take it back.
async fn running_a_while(reg: &Registry) {
    reg.state.pool.get().await.unwrap().execute("SELECT setval('registry_seq', 100)", &[]).await.unwrap();
}

async fn scalar_i64(reg: &Registry, sql: &str) -> i64 {
    reg.state.pool.get().await.unwrap().query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn every_answer_a_desk_reads_is_signed_over_its_nonce_status_and_body_refusals_included() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    let key = reg.state.key.public_key();
    // Taken, refused and unknown, each checked against the nonce it was sent with.
    let calls = [
        (Method::POST, "/v1/lease", json!({ "idempotency_key": "l", "units": 1 }), StatusCode::OK),
        (
            Method::POST,
            "/v1/allocate",
            json!({ "idempotency_key": "a", "birth_date": "1990-13-01", "sex": "M" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/sync",
            json!({ "highest_sequence_seen": 0, "records_issued": 0, "units": [], "states_after": 0, "notices_after": 0 }),
            StatusCode::OK,
        ),
        (Method::GET, "/v1/records/none-1", Value::Null, StatusCode::NOT_FOUND),
        (Method::GET, "/v1/no-such-route", Value::Null, StatusCode::NOT_FOUND),
    ];
    for (method, path, body, status) in calls {
        let (answer, nonce) = desk.call_raw(method, path, &body).await;
        assert_eq!(answer.status, status, "{path}: {}", String::from_utf8_lossy(&answer.body));
        assert!(signed_by(&answer, &nonce, &key), "{path}: signed by the registry's key over this request's nonce");
        assert!(!signed_by(&answer, "another nonce", &key), "{path}: not valid for another request");
    }
    // A request whose desk signature fails is refused, and the refusal is signed too.
    let (answer, nonce) = desk.call_raw(Method::POST, "/v1/lease", &json!({})).await;
    assert!(signed_by(&answer, &nonce, &key));
    // The key answer is signed over the nonce the caller sent; an enrolment refusal as well.
    let asked = send_raw(
        &reg.router,
        Method::GET,
        "/v1/registry-key",
        Vec::new(),
        &[(skranke_protocol::header::NONCE, "n-1".into())],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(signed_by(&asked, "n-1", &key));
    assert_eq!(asked.json(), json!({ "registry_key": hex::encode(key), "fingerprint": reg.state.key.fingerprint() }));
    let body = serde_json::to_vec(&json!({ "enrolment_code": "AAAAAAAAAAAAAAAA", "public_key": "00" })).unwrap();
    let refused =
        send_raw(&reg.router, Method::POST, "/v1/enrol", body, &[(skranke_protocol::header::NONCE, "n-2".into())])
            .await;
    assert!(refused.status.is_client_error());
    assert!(signed_by(&refused, "n-2", &key));
    // What others read (the feed, health, the document) is not a desk's answer.
    let health = send_raw(&reg.router, Method::GET, "/health", Vec::new(), &[]).await;
    assert_eq!(health.header(header::ANSWER_SIGNATURE), None);
}

#[tokio::test]
async fn a_higher_sequence_without_the_registrys_receipt_changes_nothing_and_the_operator_log_says_so() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let (_, la) = a.lease("l", 1).await;
    let seq = la["registry_sequence"].as_i64().unwrap();
    let before = scalar_i64(&reg, "SELECT generation FROM registry_meta").await;
    let stranger = RegistryKey::generate(chrono::Utc::now());
    let b_receipt = reg.state.receipt(&b.id, seq + 1000);
    // No receipt, a receipt by another key, another desk's receipt, and the end of the sequence.
    let claims = [
        (seq + 1000, None, "no_receipt"),
        (seq + 1000, Some(stranger.receipt(&a.id, seq + 1000)), "receipt_not_signed"),
        (seq + 1000, Some(b_receipt), "receipt_not_signed"),
        (i64::MAX, None, "no_receipt"),
    ];
    for (claimed, receipt, _) in &claims {
        let mut body = json!({ "highest_sequence_seen": claimed, "records_issued": 0, "units": [], "states_after": 0, "notices_after": 0 });
        if let Some(r) = receipt {
            body["sequence_receipt"] = json!(r);
        }
        let (s, answer) = a.post("/v1/sync", body).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!((answer["claim_refused"].as_bool(), answer["reconciling"].as_bool()), (Some(true), Some(false)));
        let answered = answer["registry_sequence"].as_i64().unwrap();
        assert!(answered < seq + 1000, "the sequence did not move to the claim");
        assert!(reg.state.key.verifies_receipt(&a.id, answered, answer["sequence_receipt"].as_str().unwrap(), 0));
    }
    assert_eq!(scalar_i64(&reg, "SELECT generation FROM registry_meta").await, before);
    let logged = operator_log(&reg, "restore_claim_refused").await;
    let reasons: Vec<&str> = logged.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, claims.iter().map(|c| c.2).collect::<Vec<_>>());
    assert!(logged.iter().all(|d| d["desk_id"] == json!(a.id)));
    // Every other desk goes on leasing and allocating.
    let (s, _) = b.lease("l", 1).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = b.allocate("x", date(1980, 1, 1), Sex::Male).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_second_proof_of_the_same_restore_starts_no_new_generation() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    running_a_while(&reg).await;
    let (_, la) = a.lease("l", 1).await;
    // B was told a later sequence than A: still above the one A's proof moves the registry to.
    reg.state.pool.get().await.unwrap().execute("SELECT setval('registry_seq', 200)", &[]).await.unwrap();
    let (_, lb) = b.sync(0, 0).await;
    let generation = scalar_i64(&reg, "SELECT generation FROM registry_meta").await;
    {
        let client = reg.state.pool.get().await.unwrap();
        client.execute("SELECT setval('registry_seq', 1)", &[]).await.unwrap();
    }
    for (desk, lease) in [(&a, &la), (&b, &lb)] {
        let body = json!({
            "highest_sequence_seen": lease["registry_sequence"], "sequence_receipt": lease["sequence_receipt"],
            "records_issued": 0, "units": [], "states_after": 0, "notices_after": 0,
        });
        let (_, answer) = desk.post("/v1/sync", body).await;
        assert_eq!(answer["claim_refused"], false);
    }
    assert_eq!(scalar_i64(&reg, "SELECT generation FROM registry_meta").await, generation + 1);
    assert_eq!(operator_log(&reg, "restore_detected").await.len(), 2);
    let highest = lb["registry_sequence"].as_i64().unwrap().max(la["registry_sequence"].as_i64().unwrap());
    assert!(scalar_i64(&reg, "SELECT last_value FROM registry_seq").await > highest);
}

#[tokio::test]
async fn after_a_rotation_answers_carry_the_old_keys_endorsement_and_its_receipts_still_prove_a_restore() {
    let mut reg = Registry::start().await;
    let desk = reg.desk(101).await;
    running_a_while(&reg).await;
    let (_, lease) = desk.lease("l", 1).await;
    let old = reg.state.key.public_key();
    let rotated = reg.state.key.rotate(chrono::Utc::now(), 30);
    let new = rotated.public_key();
    reg.use_key(rotated);
    let desk = Desk { router: reg.router.clone(), ..desk };
    let (answer, nonce) =
        desk.call_raw(Method::POST, "/v1/lease", &json!({ "idempotency_key": "l2", "units": 1 })).await;
    assert!(signed_by(&answer, &nonce, &new));
    let until: i64 = answer.header(header::KEY_ENDORSED_UNTIL).unwrap().parse().unwrap();
    let endorsement = answer.header(header::KEY_ENDORSEMENT).unwrap();
    assert!(trust::verify(&old, &trust::endorsement_message(&new, until), endorsement), "the old key endorses the new");
    assert!(until > chrono::Utc::now().timestamp() + 29 * 86_400);
    // The registry goes back; the desk shows the receipt the old key signed.
    {
        let client = reg.state.pool.get().await.unwrap();
        client.execute("SELECT setval('registry_seq', 1)", &[]).await.unwrap();
    }
    let body = json!({
        "highest_sequence_seen": lease["registry_sequence"], "sequence_receipt": lease["sequence_receipt"],
        "records_issued": 0, "units": [], "states_after": 0, "notices_after": 0,
    });
    let (_, sync) = desk.post("/v1/sync", body).await;
    assert_eq!(sync["claim_refused"], false);
    assert_eq!(operator_log(&reg, "restore_detected").await.len(), 1, "the old key's receipt proves the restore");
    // Once the overlap has ended the endorsement is no longer sent.
    *reg.clock.lock().unwrap() = chrono::DateTime::from_timestamp(until + 1, 0).unwrap();
    let desk = Desk { clock: reg.clock.clone(), ..desk };
    let (answer, _) = desk.call_raw(Method::POST, "/v1/sync", &json!({ "highest_sequence_seen": 0, "records_issued": 0, "units": [], "states_after": 0, "notices_after": 0 })).await;
    assert_eq!(answer.header(header::KEY_ENDORSEMENT), None);
}

#[tokio::test]
async fn an_enrolment_code_ends_in_the_keys_fingerprint_and_enrols_by_its_secret_or_whole() {
    let reg = Registry::start().await;
    let code = reg.enrolment_code(101).await;
    assert_eq!(code.len(), 39, "eight groups of four: {code}");
    let (secret, fingerprint) = trust::split_enrolment_code(&code).unwrap();
    assert_eq!(fingerprint, reg.state.key.fingerprint());
    // The whole code, in lower case without dashes, is taken once; the secret of another code too.
    let key = new_key();
    let whole = code.replace('-', "").to_lowercase();
    let body = json!({ "enrolment_code": whole, "public_key": hex::encode(key.verifying_key().as_bytes()) });
    let (s, answer) = reg.send(Method::POST, "/v1/enrol", &body, &[]).await;
    assert_eq!(s, StatusCode::OK, "{answer}");
    assert_eq!(answer["registry_key"], json!(reg.state.key.public_hex()));
    let seq = answer["registry_sequence"].as_i64().unwrap();
    let desk_id = answer["desk_id"].as_str().unwrap();
    assert!(reg.state.key.verifies_receipt(desk_id, seq, answer["sequence_receipt"].as_str().unwrap(), 0));
    let body = json!({ "enrolment_code": secret, "public_key": hex::encode(new_key().verifying_key().as_bytes()) });
    let (s, _) = reg.send(Method::POST, "/v1/enrol", &body, &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "spent");
    // The database keeps a hash of the secret, never the code or its fingerprint.
    let stored: Vec<String> = reg
        .state
        .pool
        .get()
        .await
        .unwrap()
        .query("SELECT code_hash FROM enrolment_codes", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(stored.iter().all(|h| !h.contains(&secret) && !h.contains(&fingerprint)));
}

fn registry_bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skranke-registry"));
    command.env_remove("SKRANKE_REGISTRY_KEY").env_remove("SKRANKE_REGISTRY_KEY_FILE").env("SKRANKE_LANG", "en");
    command
}

#[test]
fn the_key_file_is_made_0600_never_overwritten_shown_without_its_secret_rotated_and_refused_when_readable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.key");
    let out = registry_bin().args(["key", "generate", "--file"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let seed: Value = serde_json::from_str(&text).unwrap();
    let seed = seed["seed"].as_str().unwrap().to_string();
    let key = RegistryKey::load_file(&file).unwrap();
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains(&key.fingerprint()) && shown.contains(&key.public_hex()) && !shown.contains(&seed));
    // Never overwritten.
    let again = registry_bin().args(["key", "generate", "--file"]).arg(&file).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("key rotate"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // Rotated: a new key the old one endorses; a second rotation waits for the overlap.
    let rotated = registry_bin().args(["key", "rotate", "--overlap-days", "7", "--file"]).arg(&file).output().unwrap();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let new = RegistryKey::load_file(&file).unwrap();
    assert_ne!(new.public_key(), key.public_key());
    assert_eq!(new.previous.as_ref().unwrap().public_key, key.public_key());
    let twice = registry_bin().args(["key", "rotate", "--file"]).arg(&file).output().unwrap();
    assert!(!twice.status.success());
    let show = registry_bin().args(["key", "show", "--file"]).arg(&file).output().unwrap();
    let shown = String::from_utf8(show.stdout).unwrap();
    assert!(shown.contains(&new.fingerprint()) && shown.contains(&key.public_hex()), "{shown}");
    // serve refuses a key file others may read, and no key at all, before any database.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let serve = registry_bin()
        .args(["serve", "--insecure-http", "--database-url", "postgres://nobody@127.0.0.1:1/none", "--key-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!serve.status.success());
    assert!(String::from_utf8_lossy(&serve.stderr).contains("chmod 600"), "{}", String::from_utf8_lossy(&serve.stderr));
    let keyless = registry_bin()
        .args(["serve", "--insecure-http", "--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .output()
        .unwrap();
    assert!(!keyless.status.success());
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("key generate"));
}
