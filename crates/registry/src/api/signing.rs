//! Signed answers: every answer to a desk, refusals included, carries the
//! registry's signature over the request's nonce, the status and the body
//! (`skranke_protocol::trust::answer_signing_message`), the public key that
//! made it, and while a rotation overlaps the previous key's endorsement of
//! that key. A desk acts on nothing it cannot verify, so a proxy or a
//! plain-HTTP hop between the two cannot change what the desk is told.
//!
//! Also `GET /v1/registry-key`: the key, before a desk spends its enrolment
//! code (the desk checks it against the code's fingerprint).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use skranke_protocol::trust::{self, header};
use skranke_protocol::RegistryKeyAnswer;

use crate::error::RegistryError;
use crate::AppState;

/// The nonce a request names (the desk's signed-request nonce, or the one
/// an unsigned enrolment or key request sends); empty when it names none.
pub fn nonce_of(headers: &HeaderMap) -> String {
    headers.get(skranke_protocol::header::NONCE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Route middleware, outermost on every signed route: runs the rest (body
/// limit, authentication, rate limit, handler) and signs what comes back.
pub async fn sign_answers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let nonce = nonce_of(req.headers());
    let response = next.run(req).await;
    sign(&state, &nonce, response).await
}

/// `response` with the answer headers added.
pub async fn sign(state: &AppState, nonce: &str, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => {
            // The handlers' bodies are whole in memory; should one fail to
            // read, the desk gets a signed refusal, never an unsigned answer.
            let problem = RegistryError::Config("answer body".into()).into_response();
            let (p, b) = problem.into_parts();
            parts = p;
            to_bytes(b, usize::MAX).await.unwrap_or_default()
        }
    };
    let key = &state.key;
    let signature = key.sign(&trust::answer_signing_message(nonce, parts.status.as_u16(), &bytes));
    let mut add = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            parts.headers.insert(HeaderName::from_static(name), v);
        }
    };
    add(header::ANSWER_SIGNATURE, signature);
    add(header::REGISTRY_KEY, key.public_hex());
    if let Some(previous) = key.endorsement_at(state.now().timestamp()) {
        add(header::KEY_ENDORSEMENT, previous.endorsement.clone());
        add(header::KEY_ENDORSED_UNTIL, previous.until.to_string());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `GET /v1/registry-key`.
pub async fn registry_key(State(state): State<AppState>) -> Json<RegistryKeyAnswer> {
    Json(RegistryKeyAnswer { registry_key: state.key.public_hex(), fingerprint: state.key.fingerprint() })
}

/// Answers to paths no route serves are signed too: a desk calling a route
/// this registry does not have learns so from the registry itself.
pub async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let refusal = RegistryError::refused(StatusCode::NOT_FOUND, "request.not_found").into_response();
    sign(&state, &nonce_of(&headers), refusal).await
}
