//! The HTTP API: the route table, the request-log middleware, and small
//! helpers the handlers share. Each handler lives in a submodule named after
//! what it does and is short: check the request, run plain SQL, answer.

mod allocate;
mod enrol;
mod feed;
mod lease;
mod lookup;
mod signing;
mod sync;
mod upload;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use skranke_protocol::Binding;
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::{LeaseUnit, RANKS};

use crate::error::{problem_response, RegistryError, Result};
use crate::limits::{self, Limited};
use crate::AppState;

/// The OpenAPI 3 document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone: `/health`, `/ready`, `/openapi.json`.
    Public,
    /// Anyone holding a one-time enrolment code (checked by the handler).
    Enrolment,
    /// A request signed by an enrolled desk, which then sees only its own.
    Desk,
    /// The downstream consumer with its bearer token.
    Feed,
}

/// Whether a route's answers are signed with the registry's key
/// ([`signing`]): every answer a desk reads is (desk and enrolment routes,
/// `GET /v1/registry-key`); the feed, `/health` and `/openapi.json` are
/// read by others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answers {
    Signed,
    Plain,
}

/// One route: method and path as the OpenAPI document spells them, who may
/// call it, the largest body it reads, and whether its answers are signed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub body_limit: usize,
    pub signed: bool,
}

/// Body limits: an upload batch is large ([`crate::auth::MAX_BODY_BYTES`],
/// sized for `MAX_BATCH_EVENTS` events); a sync names at most a few
/// hundred units, a feed confirmation up to a page of record IDs; every
/// other request is a handful of fields.
pub const SMALL_BODY: usize = 8 * 1024;
pub const SYNC_BODY: usize = 256 * 1024;
pub const FEED_CONFIRM_BODY: usize = 1024 * 1024;

/// Collects routes and remembers each, so that the OpenAPI test checks the
/// router actually built rather than a list kept by hand. Each route gets
/// its layers in one order: the answer's signature (outermost, so that
/// every refusal below is signed too), body limit, then authentication,
/// then the rate limit (which counts per authenticated desk), then the
/// handler.
struct Routes {
    state: AppState,
    router: Router<AppState>,
    list: Vec<RouteInfo>,
}

impl Routes {
    fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        answers: Answers,
        body_limit: usize,
        limited: Option<Limited>,
        handler: H,
    ) -> Routes
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        // Innermost, so that the signature covers the problem it makes.
        let mut route = on(filter, handler).layer(middleware::from_fn(as_problem));
        if let Some(act) = limited {
            route = route.layer(middleware::from_fn_with_state((self.state.clone(), act), limits::rate_limit));
        }
        match access {
            Access::Desk => {
                route = route.layer(middleware::from_fn_with_state(self.state.clone(), crate::auth::require_desk));
            }
            Access::Feed => {
                route = route.layer(middleware::from_fn_with_state(self.state.clone(), feed::require_feed));
            }
            Access::Public | Access::Enrolment => {}
        }
        route = route.layer(middleware::from_fn_with_state(body_limit, limits::body_limit));
        if answers == Answers::Signed {
            route = route.layer(middleware::from_fn_with_state(self.state.clone(), signing::sign_answers));
        }
        self.router = self.router.route(path, route);
        let method = if method == Method::POST { "post" } else { "get" };
        self.list.push(RouteInfo { method, path, access, body_limit, signed: answers == Answers::Signed });
        self
    }
}

/// The service's router and the list of its routes.
pub fn router(state: AppState) -> (Router, Vec<RouteInfo>) {
    use Access::{Desk, Enrolment, Feed, Public};
    use Answers::{Plain, Signed};
    let post = Method::POST;
    let get = Method::GET;
    let upload_body = crate::auth::MAX_BODY_BYTES;
    let routes = Routes { state: state.clone(), router: Router::new(), list: Vec::new() }
        .add(post.clone(), "/v1/allocate", Desk, Signed, SMALL_BODY, Some(Limited::Allocate), allocate::allocate)
        .add(post.clone(), "/v1/lease", Desk, Signed, SMALL_BODY, None, lease::lease)
        .add(post.clone(), "/v1/lease/return", Desk, Signed, SYNC_BODY, None, lease::give_back)
        .add(post.clone(), "/v1/events", Desk, Signed, upload_body, None, upload::upload)
        .add(post.clone(), "/v1/sync", Desk, Signed, SYNC_BODY, None, sync::sync)
        .add(post.clone(), "/v1/lookup", Desk, Signed, SMALL_BODY, Some(Limited::Lookup), lookup::lookup)
        .add(get.clone(), "/v1/records/{record_id}", Desk, Signed, SMALL_BODY, None, sync::record)
        .add(get.clone(), "/health", Public, Plain, SMALL_BODY, None, health)
        .add(get.clone(), "/ready", Public, Plain, SMALL_BODY, None, ready)
        .add(get.clone(), "/openapi.json", Public, Plain, SMALL_BODY, None, openapi)
        .add(get.clone(), "/v1/registry-key", Public, Signed, SMALL_BODY, None, signing::registry_key)
        .add(post.clone(), "/v1/enrol", Enrolment, Signed, SMALL_BODY, Some(Limited::Enrol), enrol::enrol)
        .add(get, "/v1/feed", Feed, Plain, SMALL_BODY, None, feed::page)
        .add(post, "/v1/feed/confirm", Feed, Plain, FEED_CONFIRM_BODY, None, feed::confirm);
    let mut router = routes.router;
    // The operator's scrape, outside the API document (it is no part of
    // what desks or the feed consumer call) and absent without a token.
    if state.config.metrics_token.is_some() {
        crate::telemetry::install();
        let scrape = axum::routing::get(crate::telemetry::scrape)
            .layer(middleware::from_fn_with_state(state.clone(), crate::telemetry::require_token));
        router = router.route("/metrics", scrape);
    }
    let router = router
        .fallback(signing::not_found)
        // The per-route limits above are the only ones; axum's own default
        // (2 MiB, answered in plain text) would cut uploads short.
        .layer(DefaultBodyLimit::disable())
        // And whatever is answered outside the routes' own layers.
        .layer(middleware::from_fn(as_problem))
        .layer(middleware::from_fn(log_request))
        .with_state(state);
    (router, routes.list)
}

/// Makes every refusal a problem document: what axum answers by itself (a
/// path parameter that does not decode, 400 in plain text; a method the
/// route does not serve, 405 with an empty body) leaves like the registry's
/// own refusals, with its status and headers (`Allow`) kept. Its text,
/// which says what did not decode, becomes the detail (a server error's is
/// dropped: it is for no caller).
async fn as_problem(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let code = framework_code(status);
    let detail: String = String::from_utf8_lossy(&text)
        .chars()
        .map(|c| if crate::decode::is_control(c) { ' ' } else { c })
        .take(300)
        .collect();
    let error = match detail.trim() {
        _ if status.is_server_error() => RegistryError::refused(status, code),
        "" => RegistryError::refused(status, code),
        detail => RegistryError::refused_with(status, code, detail),
    };
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "request failed outside the handlers");
    }
    let problem = problem_response(&error.problem());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
    let (_, body) = problem.into_parts();
    Response::from_parts(parts, body)
}

/// The code of a refusal axum made, by its status.
fn framework_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "request.not_found",
        StatusCode::METHOD_NOT_ALLOWED => "request.method",
        StatusCode::PAYLOAD_TOO_LARGE => "request.too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "request.media_type",
        s if s.is_server_error() => "internal.error",
        _ => "request.malformed",
    }
}

/// The authenticated desk of a request, put on the response by the
/// authentication middleware so that the request log can name it.
#[derive(Clone, Debug)]
pub struct LoggedDesk(pub String);

/// One log line per request: method, route template (never the raw path:
/// a record ID is a path parameter), status, duration and the desk the
/// request was authenticated as. No bodies, no query strings, no headers,
/// no record content: nothing personal.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "-".into());
    let response = next.run(req).await;
    crate::telemetry::request(method.as_str(), &route, response.status(), started.elapsed());
    let desk = response.extensions().get::<LoggedDesk>().map(|d| d.0.as_str()).unwrap_or("-");
    tracing::info!(
        target: "skranke_registry::request",
        %method,
        route = %route,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        desk = %desk,
    );
    response
}

/// Liveness: the process answers. It asks the database nothing and says
/// nothing else (the sequence is for desks, in signed answers only).
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// How long `/ready` waits for a connection and a trivial query: a load
/// balancer asks often and must hear "not ready" quickly.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Readiness: the database answers `SELECT 1` within [`READY_TIMEOUT`];
/// otherwise 503 as a problem document (`registry.not_ready`).
async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    let check = async {
        let client = state.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok::<_, RegistryError>(())
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(Json(serde_json::json!({ "status": "ready" }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e.loggable(), "not ready: the database did not answer");
            Err(RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "registry.not_ready"))
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            Err(RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "registry.not_ready"))
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// A request body decoded and checked by [`crate::decode`] before the
/// handler runs: the handlers run exactly the code the `registry_request`
/// fuzz target runs. Refusals leave as problem documents naming what was
/// wrong (axum's own `Json` answers in plain text); serde's message, which
/// names the field and position, goes to the caller only, never to the log.
pub struct Checked<T>(pub T);

impl<T: crate::decode::Decode> FromRequest<AppState> for Checked<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> std::result::Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| {
            problem_response(&RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large").problem())
        })?;
        T::decode(&bytes, state.now().date_naive()).map(Checked).map_err(IntoResponse::into_response)
    }
}

pub use crate::decode::check_key;

/// A number as stored: ten digits, no dash.
pub fn stored(number: &Personnummer) -> String {
    number.digits().iter().map(|d| char::from(b'0' + d)).collect()
}

/// A stored number back (the registry only stores valid ones).
pub fn from_stored(digits: &str) -> Option<Personnummer> {
    Personnummer::parse(digits, NaiveDate::MAX).ok()
}

/// A unit from the database's integers, if they make one.
pub fn unit(slot: i32, rank: i32) -> Option<LeaseUnit> {
    let slot = skranke_rules::cpr::Slot::new(u16::try_from(slot).ok()?)?;
    LeaseUnit::new(slot, u8::try_from(rank).ok().filter(|r| *r < RANKS)?)
}

/// Every unit bound to the desk with the numbers the registry holds in it.
pub async fn bindings(client: &impl GenericClient, desk_id: &str) -> Result<Vec<Binding>> {
    let units = client
        .query("SELECT slot, rank, bound_at FROM units WHERE desk_id = $1 ORDER BY slot, rank", &[&desk_id])
        .await?;
    let used = client
        .query(
            "SELECT n.slot, n.rank, n.number FROM numbers n
             JOIN units u ON u.slot = n.slot AND u.rank = n.rank
             WHERE u.desk_id = $1 ORDER BY n.number",
            &[&desk_id],
        )
        .await?;
    // Numbers on handouts that no accepted record holds (a clone's, say)
    // are used too: the desk holding their unit never issues them.
    let disputed = client.query("SELECT number FROM disputed_numbers", &[]).await?;
    let mut out: Vec<Binding> = units
        .iter()
        .filter_map(|r| {
            Some(Binding {
                unit: unit(r.get(0), r.get(1))?,
                bound_at: r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(2).unwrap_or_default(),
                used: Vec::new(),
            })
        })
        .collect();
    for r in &used {
        let (Some(u), Some(n)) = (unit(r.get(0), r.get(1)), from_stored(r.get::<_, &str>(2))) else { continue };
        if let Some(b) = out.iter_mut().find(|b| b.unit == u) {
            b.used.push(n.to_string());
        }
    }
    for r in &disputed {
        let Some(n) = r.get::<_, Option<&str>>(0).and_then(from_stored) else { continue };
        let Some(u) = LeaseUnit::containing(&n) else { continue };
        if let Some(b) = out.iter_mut().find(|b| b.unit == u) {
            let shown = n.to_string();
            if !b.used.contains(&shown) {
                b.used.push(shown);
            }
        }
    }
    for b in &mut out {
        b.used.sort_unstable();
    }
    Ok(out)
}

/// How many distinct records of the desk the registry has received,
/// whatever its verdict (accepted, conflicting or refused ones are all kept).
pub async fn records_held(client: &impl GenericClient, desk_id: &str) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM (
                 SELECT record_id FROM records WHERE desk_id = $1
                 UNION
                 SELECT body->'payload'->>'record_id' FROM conflicts WHERE desk_id = $1 AND body->>'kind' = 'issued'
             ) AS held",
            &[&desk_id],
        )
        .await?
        .get(0);
    Ok(u64::try_from(n).unwrap_or_default())
}

/// Whether the registry waits for desks to reconcile after a restore.
pub async fn reconciling(client: &impl GenericClient) -> Result<bool> {
    Ok(client.query_one("SELECT reconciling FROM registry_meta", &[]).await?.get(0))
}

/// Refuses acts that hand out numbers while the registry reconciles, to a
/// retired desk, or to a quarantined one (its audit chain forked: two
/// copies may be issuing under its ID, so no number is given to either).
pub async fn may_hand_out(client: &impl GenericClient, desk: &crate::auth::Desk) -> Result<()> {
    if desk.retired {
        return Err(RegistryError::refused(StatusCode::FORBIDDEN, "desk.retired"));
    }
    if desk.quarantined {
        return Err(RegistryError::refused(StatusCode::FORBIDDEN, "desk.quarantined"));
    }
    if reconciling(client).await? {
        return Err(RegistryError::refused(StatusCode::SERVICE_UNAVAILABLE, "registry.reconciling"));
    }
    Ok(())
}

/// Serializes lease grants against online allocation from unbound units: a
/// unit cannot be leased while an allocation inside it is being decided.
pub const UNIT_LOCK: i64 = 7002;
