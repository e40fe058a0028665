//! What the registry's operators run and watch: `/health` and `/ready`,
//! the operator lists and the audited opening of a case, and `/metrics`.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::Value;
use skranke_registry::{db, AppState, Config, RegistryKey};
use skranke_rules::lease::Block;

/// A registry whose pool points at `url` (the database itself is never touched
/// before a request asks for it).
fn registry_on(url: &str) -> axum::Router {
    let pool = db::pool(url, 2).unwrap();
    let key = std::sync::Arc::new(RegistryKey::generate(chrono::Utc::now()));
    let state = AppState::new(pool, Block::default_block(), Config::default(), skranke_registry::system_clock(), key);
    skranke_registry::api::router(state).0
}

#[tokio::test]
async fn health_says_only_that_the_process_answers_and_ready_that_the_database_does() {
    let reg = Registry::start().await;
    let (s, health) = reg.send(Method::GET, "/health", &Value::Null, &[]).await;
    assert_eq!((s, health), (StatusCode::OK, serde_json::json!({ "status": "ok" })));
    let (s, ready) = reg.send(Method::GET, "/ready", &Value::Null, &[]).await;
    assert_eq!((s, ready), (StatusCode::OK, serde_json::json!({ "status": "ready" })));

    // No database at all: alive, not ready, and a problem document says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = registry_on(&format!("postgres://postgres@127.0.0.1:{port}/none"));
    let (s, health) = send(&gone, Method::GET, "/health", Vec::new(), &[]).await;
    assert_eq!((s, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, p) = send(&gone, Method::GET, "/ready", Vec::new(), &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("registry.not_ready")));
    assert!(p.get("registry_sequence").is_none() && p["detail"].is_null(), "{p}");

    // A database that accepts the connection and never answers: not ready
    // within the timeout, not hanging.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let hung = registry_on(&format!("postgres://postgres@127.0.0.1:{port}/none"));
    let started = std::time::Instant::now();
    let (s, p) = send(&hung, Method::GET, "/ready", Vec::new(), &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("registry.not_ready")));
    let waited = started.elapsed();
    assert!(waited >= skranke_registry::api::READY_TIMEOUT && waited < std::time::Duration::from_secs(5), "{waited:?}");
    drop(silent);
}
