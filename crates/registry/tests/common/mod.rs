//! Test harness: a fresh PostgreSQL database per test (dropped afterwards),
//! the registry's router driven in-process with a key of its own, and desks
//! that sign requests exactly as real desks do.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use skranke_protocol::{
    header, signing_message, DocumentSummary, Event, EventBody, IssuedRecord, NumberSource, PersonRecord,
};
use skranke_registry::{api, db, ops, AppState, Config, RegistryKey};
use skranke_rules::cpr::{Personnummer, Sex};
use skranke_rules::lease::Block;
use tower::ServiceExt;

pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

/// A database of its own, created from `DATABASE_URL` and dropped at the end.
pub struct TestDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL is not set: the registry's tests need a real PostgreSQL. \
             Start one with `eval \"$(bash scripts/ci/postgres.sh)\"` and run the tests again.",
        );
        let name = format!("skranke_test_{}", random_hex(6));
        let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        let mut config: tokio_postgres::Config = admin_url.parse().unwrap();
        config.dbname(&name);
        let url = to_url(&config);
        TestDb { admin_url, name, url }
    }
}

fn to_url(c: &tokio_postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().unwrap_or("postgres");
    let password = c.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{}", c.get_dbname().unwrap_or("postgres"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// The registry under test, with a clock the test can move.
pub struct Registry {
    pub db: TestDb,
    pub state: AppState,
    pub router: Router,
    pub routes: Vec<api::RouteInfo>,
    pub clock: Arc<Mutex<DateTime<Utc>>>,
    config: Config,
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl Registry {
    pub async fn start() -> Registry {
        Registry::with_config(Config { feed_token: Some("feed-secret".into()), ..Config::default() }).await
    }

    pub async fn with_config(config: Config) -> Registry {
        let db = TestDb::new().await;
        let pool = db::pool(&db.url, 8).unwrap();
        db::migrate(&pool, &Block::default_block()).await.unwrap();
        let clock = Arc::new(Mutex::new(Utc::now()));
        let key = Arc::new(RegistryKey::generate(Utc::now()));
        let state = state(pool, config.clone(), &clock, key);
        let (router, routes) = api::router(state.clone());
        Registry { db, state, router, routes, clock, config }
    }

    /// From now on the registry signs with `key` (as `serve` does after a
    /// restart with a rotated key file), on the same database and clock.
    pub fn use_key(&mut self, key: RegistryKey) {
        self.state = state(self.state.pool.clone(), self.config.clone(), &self.clock, Arc::new(key));
        let (router, routes) = api::router(self.state.clone());
        (self.router, self.routes) = (router, routes);
    }

    /// A one-time enrolment code as the operator command makes it.
    pub async fn enrolment_code(&self, municipality: u16) -> String {
        ops::create_enrolment_code(&self.state.pool, "tester", &self.state.key, municipality, "Borgerservice", 1)
            .await
            .unwrap()
    }

    /// Enrols a new desk through the API, sending the code's secret part
    /// as a desk does.
    pub async fn desk(&self, municipality: u16) -> Desk {
        let code = self.enrolment_code(municipality).await;
        let (secret, _) = skranke_protocol::trust::split_enrolment_code(&code).expect("a well-formed code");
        let key = new_key();
        let (status, body) = self
            .send(
                Method::POST,
                "/v1/enrol",
                &json!({ "enrolment_code": secret, "public_key": hex::encode(key.verifying_key().as_bytes()) }),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let login_number = body["login_number"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap();
        LOGIN_NUMBERS.lock().unwrap().insert(body["desk_id"].as_str().unwrap().to_string(), login_number);
        Desk {
            id: body["desk_id"].as_str().unwrap().to_string(),
            key,
            router: self.router.clone(),
            clock: self.clock.clone(),
            next: 0,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        headers: &[(&str, String)],
    ) -> (StatusCode, Value) {
        send(&self.router, method, path, serde_json::to_vec(body).unwrap(), headers).await
    }

    pub async fn sql_count(&self, sql: &str) -> i64 {
        let client = self.state.pool.get().await.unwrap();
        client.query_one(sql, &[]).await.unwrap().get(0)
    }
}

fn state(
    pool: deadpool_postgres::Pool,
    config: Config,
    clock: &Arc<Mutex<DateTime<Utc>>>,
    key: Arc<RegistryKey>,
) -> AppState {
    let c = clock.clone();
    AppState::new(pool, Block::default_block(), config, Arc::new(move || *c.lock().unwrap()), key)
}

pub fn new_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    SigningKey::from_bytes(&seed)
}

/// An answer as it came: status, headers and the body's bytes.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send_raw(
    router: &Router,
    method: Method,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Answer {
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, headers, body }
}

pub async fn send(
    router: &Router,
    method: Method,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (StatusCode, Value) {
    let answer = send_raw(router, method, path, body, headers).await;
    let value = answer.json();
    if !answer.status.is_success() {
        let content_type = answer.header("content-type").unwrap_or("");
        assert_eq!(content_type, "application/problem+json", "every error is a problem document: {value}");
    }
    (answer.status, value)
}

/// An enrolled desk: signs every request with its own key.
pub struct Desk {
    pub id: String,
    pub key: SigningKey,
    pub router: Router,
    pub clock: Arc<Mutex<DateTime<Utc>>>,
    pub next: u64,
}

impl Desk {
    pub fn signed_headers(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        desk_id: &str,
        key: &SigningKey,
    ) -> Vec<(&'static str, String)> {
        let ts = self.clock.lock().unwrap().timestamp();
        let nonce = random_hex(16);
        let sig = key.sign(&signing_message(method, path, ts, &nonce, body));
        vec![
            (header::DESK, desk_id.to_string()),
            (header::TIMESTAMP, ts.to_string()),
            (header::NONCE, nonce),
            (header::SIGNATURE, hex::encode(sig.to_bytes())),
        ]
    }

    pub async fn call(&self, method: Method, path: &str, body: &Value) -> (StatusCode, Value) {
        let bytes = if method == Method::GET { Vec::new() } else { serde_json::to_vec(body).unwrap() };
        let headers = self.signed_headers(method.as_str(), path, &bytes, &self.id, &self.key);
        send(&self.router, method, path, bytes, &headers).await
    }

    /// A signed request's answer as it came, and the nonce it was sent with.
    pub async fn call_raw(&self, method: Method, path: &str, body: &Value) -> (Answer, String) {
        let bytes = if method == Method::GET { Vec::new() } else { serde_json::to_vec(body).unwrap() };
        let headers = self.signed_headers(method.as_str(), path, &bytes, &self.id, &self.key);
        let nonce = headers.iter().find(|(k, _)| *k == header::NONCE).map(|(_, v)| v.clone()).unwrap_or_default();
        (send_raw(&self.router, method, path, bytes, &headers).await, nonce)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, &body).await
    }

    pub async fn allocate(&self, key: &str, birth_date: NaiveDate, sex: Sex) -> (StatusCode, Value) {
        self.post("/v1/allocate", json!({ "idempotency_key": key, "birth_date": birth_date, "sex": sex })).await
    }

    pub async fn lease(&self, key: &str, units: u32) -> (StatusCode, Value) {
        self.post("/v1/lease", json!({ "idempotency_key": key, "units": units })).await
    }

    pub async fn upload(&self, events: &[Event]) -> (StatusCode, Value) {
        self.post("/v1/events", json!({ "events": events })).await
    }

    pub async fn sync(&self, highest_seen: i64, records_issued: u64) -> (StatusCode, Value) {
        self.post(
            "/v1/sync",
            json!({ "highest_sequence_seen": highest_seen, "records_issued": records_issued, "units": [], "states_after": 0, "notices_after": 0 }),
        )
        .await
    }

    /// The next record ID of this desk.
    pub fn record_id(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.id, self.next)
    }
}

/// The outcome of each result of an upload answer.
pub fn outcomes(body: &Value) -> Vec<String> {
    body["results"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap().to_string()).collect()
}

pub fn reasons(body: &Value) -> Vec<String> {
    body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap_or("").to_string()).collect()
}

/// The login numbers of the desks [`Registry::desk`] enrolled, by desk ID:
/// the default record's username is made from its desk's, as a desk makes it.
static LOGIN_NUMBERS: Mutex<std::collections::BTreeMap<String, u32>> = Mutex::new(std::collections::BTreeMap::new());

/// A well-formed Argon2id hash with the desk's parameters (16-byte salt,
/// 32-byte hash), as the registry requires of every record.
pub const DEFAULT_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

/// The username a desk makes for record `<desk id>-<seq>`: from the desk's
/// login number and the record's sequence. Empty (a record from before
/// logins) for a desk not enrolled through [`Registry::desk`].
pub fn username_of(record_id: &str) -> String {
    let Some((desk_id, seq)) = record_id.rsplit_once('-') else { return String::new() };
    let login = LOGIN_NUMBERS.lock().unwrap().get(desk_id).copied();
    match (login, seq.parse::<u64>()) {
        (Some(login), Ok(seq)) => skranke_core::credentials::Username::new(login, seq).to_string(),
        _ => String::new(),
    }
}

/// An `issued` event for `number`, with duplicate keys derived from `who`,
/// the username its desk would print and a well-formed password hash.
pub fn issued(record_id: &str, number: &Personnummer, source: NumberSource, who: &str) -> Event {
    let body = EventBody::Issued(IssuedRecord {
        record_id: record_id.to_string(),
        number: number.to_string(),
        source,
        issued_at: Utc::now(),
        municipality: 101,
        person: PersonRecord {
            name_document: format!("Person {who}"),
            name_latin: format!("PERSON {who}"),
            birth_date: number.birth_date(),
            sex: number.sex(),
            nationality: "DE".into(),
            document: DocumentSummary { kind: "passport".into(), issuing_state: "D".into(), expiry_date: None },
        },
        document_key: format!("doc-{who}"),
        person_key: format!("person-{who}"),
        jobnet_username: username_of(record_id),
        password_hash: DEFAULT_HASH.into(),
    });
    Event::new(format!("{record_id}:issued"), body)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn number(s: &str) -> Personnummer {
    Personnummer::parse(s, today()).unwrap()
}

/// The units of a lease answer as `(slot, rank)`.
pub fn units_of(v: &Value) -> Vec<skranke_rules::lease::LeaseUnit> {
    serde_json::from_value(v.clone()).unwrap()
}
