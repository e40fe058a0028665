//! What the registry does to a request before it touches the database: read
//! the signature headers, verify the signature, decode the JSON body and
//! check the fields a handler checks first.
//!
//! Pure functions over bytes and strings, so that hostile input can be fed to
//! them directly: the `registry_request` fuzz target (`fuzz/`) runs them
//! without a server or PostgreSQL. They are the code that serves: the auth
//! middleware reads and verifies with [`SignedHeaders`], and every handler
//! takes its body through `api::Checked`, which calls [`Decode`].
//!
//! Where a handler computes with a decoded number (a timestamp, a cursor),
//! the check here also refuses the values the computation cannot take
//! (`i64::MIN`, negative cursors), so that no request can make it overflow;
//! the sequence a desk claims to have seen is taken whole and moved past
//! with saturating arithmetic, once the registry's receipt proves it.

use axum::http::StatusCode;
use chrono::NaiveDate;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::DeserializeOwned;
use skranke_protocol::valid_reason_code;
use skranke_protocol::{
    header, signing_message, AllocateRequest, EnrolRequest, FeedConfirm, LeaseRequest, LookupRequest, ReturnRequest,
    SyncRequest, UploadRequest, MAX_BATCH_EVENTS, MAX_CLOCK_SKEW_SECS,
};
use skranke_rules::lease::{encodable, RANKS};

use crate::error::{RegistryError, Result};

/// The signature headers of a desk request, read and checked for form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub desk_id: String,
    /// Seconds since the Unix epoch, within [`MAX_CLOCK_SKEW_SECS`] of the
    /// registry's clock.
    pub timestamp: i64,
    /// 16 to 64 hex characters.
    pub nonce: String,
    pub signature: [u8; 64],
}

impl SignedHeaders {
    /// Reads the four signature headers; `header(name)` gives a header's value
    /// as text (`None` when absent or not visible ASCII). `now` is the
    /// registry's clock in Unix seconds.
    pub fn read<'a>(header: impl Fn(&str) -> Option<&'a str>, now: i64) -> Result<SignedHeaders> {
        let get = |name: &str| header(name).ok_or(RegistryError::unauthorized("auth.missing"));
        let desk_id = get(header::DESK)?.to_string();
        let timestamp: i64 =
            get(header::TIMESTAMP)?.parse().map_err(|_| RegistryError::unauthorized("auth.missing"))?;
        let nonce = get(header::NONCE)?.to_string();
        if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::unauthorized("auth.missing"));
        }
        let signature: [u8; 64] = hex::decode(get(header::SIGNATURE)?)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(RegistryError::unauthorized("auth.signature"))?;
        // `abs_diff`: `now - timestamp` overflows for a timestamp near i64::MIN.
        if now.abs_diff(timestamp) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(RegistryError::unauthorized("auth.stale"));
        }
        Ok(SignedHeaders { desk_id, timestamp, nonce, signature })
    }

    /// Verifies the signature over method, path, headers and body with the
    /// desk's public key as stored at enrolment (32 bytes).
    pub fn verify(&self, public_key: &[u8], method: &str, path_and_query: &str, body: &[u8]) -> Result<()> {
        let key = <[u8; 32]>::try_from(public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or(RegistryError::unauthorized("auth.signature"))?;
        let message = signing_message(method, path_and_query, self.timestamp, &self.nonce, body);
        key.verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| RegistryError::unauthorized("auth.signature"))
    }
}

/// A JSON body as the handlers' extractor reads it: serde's message (which
/// names the field and position) goes back to the caller as detail.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.json", e.to_string()))
}

/// Idempotency keys: 1 to 200 printable ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RegistryError::bad_field("idempotency_key"));
    }
    Ok(())
}

/// `POST /v1/enrol`: the request and the public key it presents.
pub fn enrol(body: &[u8]) -> Result<(EnrolRequest, [u8; 32])> {
    let req: EnrolRequest = json(body)?;
    let key: [u8; 32] = hex::decode(req.public_key.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .filter(|k: &[u8; 32]| VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| RegistryError::bad_field("public_key"))?;
    Ok((req, key))
}

/// `POST /v1/allocate`: the birth date must be encodable and not after `today`.
pub fn allocate(body: &[u8], today: NaiveDate) -> Result<AllocateRequest> {
    let req: AllocateRequest = json(body)?;
    check_key(&req.idempotency_key)?;
    if !encodable(req.birth_date) || req.birth_date > today {
        return Err(RegistryError::bad_field("birth_date"));
    }
    Ok(req)
}

/// `POST /v1/lease`.
pub fn lease(body: &[u8]) -> Result<LeaseRequest> {
    let req: LeaseRequest = json(body)?;
    check_key(&req.idempotency_key)?;
    Ok(req)
}

/// `POST /v1/lease/return`: every unit must exist.
pub fn give_back(body: &[u8]) -> Result<ReturnRequest> {
    let req: ReturnRequest = json(body)?;
    check_key(&req.idempotency_key)?;
    if req.units.iter().any(|u| u.rank >= RANKS) {
        return Err(RegistryError::bad_field("units"));
    }
    Ok(req)
}

/// `POST /v1/events`: at most [`MAX_BATCH_EVENTS`]. Each event is judged on
/// its own later (a bad key or hash refuses that event, not the batch).
pub fn upload(body: &[u8]) -> Result<UploadRequest> {
    let req: UploadRequest = json(body)?;
    if req.events.len() > MAX_BATCH_EVENTS {
        return Err(RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "upload.batch_too_large"));
    }
    Ok(req)
}

/// `POST /v1/sync`: the cursors are sequences, never negative. The highest
/// sequence seen may be anything a desk was told or claims to have been
/// (`i64::MAX` included): the handler believes it only with the registry's
/// receipt, and refuses any other claim in its answer, not as a malformed
/// request.
pub fn sync(body: &[u8]) -> Result<SyncRequest> {
    let req: SyncRequest = json(body)?;
    if req.highest_sequence_seen < 0 {
        return Err(RegistryError::bad_field("highest_sequence_seen"));
    }
    if req.states_after < 0 {
        return Err(RegistryError::bad_field("states_after"));
    }
    if req.notices_after < 0 {
        return Err(RegistryError::bad_field("notices_after"));
    }
    Ok(req)
}

/// `POST /v1/lookup`: one key at least, each 1 to 256 bytes.
pub fn lookup(body: &[u8]) -> Result<LookupRequest> {
    let req: LookupRequest = json(body)?;
    let valid = |k: &Option<String>| k.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= 256);
    if !valid(&req.document_key) || !valid(&req.person_key) || (req.document_key.is_none() && req.person_key.is_none())
    {
        return Err(RegistryError::bad_field("document_key"));
    }
    Ok(req)
}

/// `POST /v1/feed/confirm`: record IDs of plain form and reason codes
/// (never free text: they are stored and shown to desk staff).
pub fn feed_confirm(body: &[u8]) -> Result<FeedConfirm> {
    let req: FeedConfirm = json(body)?;
    let well_formed = |id: &str| !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic());
    if req.registered.len() + req.refused.len() > 10_000 {
        return Err(RegistryError::bad_field("registered"));
    }
    if !req.registered.iter().all(|id| well_formed(id)) {
        return Err(RegistryError::bad_field("registered"));
    }
    for r in &req.refused {
        if !well_formed(&r.record_id) {
            return Err(RegistryError::bad_field("refused.record_id"));
        }
        if !valid_reason_code(&r.reason) {
            return Err(RegistryError::bad_field("refused.reason"));
        }
    }
    Ok(req)
}

/// `POST /v1/enrol` decoded: the request and the public key it presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    pub request: EnrolRequest,
    pub public_key: [u8; 32],
}

/// A request body a handler takes, decoded and checked as above (the
/// handlers' extractor, `api::Checked`, calls this). `today` is the
/// registry's date.
pub trait Decode: Sized {
    fn decode(body: &[u8], today: NaiveDate) -> Result<Self>;
}

impl Decode for Enrolment {
    fn decode(body: &[u8], _today: NaiveDate) -> Result<Self> {
        enrol(body).map(|(request, public_key)| Enrolment { request, public_key })
    }
}

impl Decode for AllocateRequest {
    fn decode(body: &[u8], today: NaiveDate) -> Result<Self> {
        allocate(body, today)
    }
}

/// The routes whose check does not depend on the date.
macro_rules! decode_with {
    ($($ty:ty => $f:ident),* $(,)?) => {$(
        impl Decode for $ty {
            fn decode(body: &[u8], _today: NaiveDate) -> Result<Self> {
                $f(body)
            }
        }
    )*};
}

decode_with! {
    LeaseRequest => lease,
    ReturnRequest => give_back,
    UploadRequest => upload,
    SyncRequest => sync,
    LookupRequest => lookup,
    FeedConfirm => feed_confirm,
}

/// A decoded request body, by route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Enrol(EnrolRequest),
    Allocate(AllocateRequest),
    Lease(LeaseRequest),
    Return(ReturnRequest),
    Upload(UploadRequest),
    Sync(SyncRequest),
    Lookup(LookupRequest),
    FeedConfirm(FeedConfirm),
}

/// Decodes the body of a `POST` to `path` (without query) as its handler
/// would; `request.not_found` for any other path.
pub fn body(path: &str, body: &[u8], today: NaiveDate) -> Result<Decoded> {
    Ok(match path {
        "/v1/enrol" => Decoded::Enrol(enrol(body)?.0),
        "/v1/allocate" => Decoded::Allocate(allocate(body, today)?),
        "/v1/lease" => Decoded::Lease(lease(body)?),
        "/v1/lease/return" => Decoded::Return(give_back(body)?),
        "/v1/events" => Decoded::Upload(upload(body)?),
        "/v1/sync" => Decoded::Sync(sync(body)?),
        "/v1/lookup" => Decoded::Lookup(lookup(body)?),
        "/v1/feed/confirm" => Decoded::FeedConfirm(feed_confirm(body)?),
        _ => return Err(RegistryError::refused(StatusCode::NOT_FOUND, "request.not_found")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const NOW: i64 = 1_800_000_000;
    const NONCE: &str = "00112233445566778899aabbccddeeff";

    fn headers(timestamp: &str, signature: &str) -> impl Fn(&str) -> Option<&'static str> {
        let timestamp: &'static str = Box::leak(timestamp.to_string().into_boxed_str());
        let signature: &'static str = Box::leak(signature.to_string().into_boxed_str());
        move |name| match name {
            header::DESK => Some("D1"),
            header::TIMESTAMP => Some(timestamp),
            header::NONCE => Some(NONCE),
            header::SIGNATURE => Some(signature),
            _ => None,
        }
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_body_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let message = signing_message("POST", "/v1/sync", NOW, NONCE, b"{}");
        let signature = hex::encode(key.sign(&message).to_bytes());
        let h = SignedHeaders::read(headers(&NOW.to_string(), &signature), NOW).unwrap();
        let public = key.verifying_key().to_bytes();
        assert!(h.verify(&public, "POST", "/v1/sync", b"{}").is_ok());
        assert_eq!(h.verify(&public, "POST", "/v1/sync", b"{ }").unwrap_err().code(), "auth.signature");
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let signature = "00".repeat(64);
        for timestamp in [i64::MIN, i64::MAX, NOW - 301, NOW + 301] {
            let err = SignedHeaders::read(headers(&timestamp.to_string(), &signature), NOW).unwrap_err();
            assert_eq!(err.code(), "auth.stale", "{timestamp}");
        }
        assert!(SignedHeaders::read(headers(&(NOW - 300).to_string(), &signature), NOW).is_ok());
    }

    #[test]
    fn negative_sync_cursors_are_refused_and_a_sequence_claim_of_any_size_is_left_to_the_handler() {
        let body = |seen: i64, states: i64| {
            format!(
                r#"{{"highest_sequence_seen":{seen},"records_issued":0,"units":[],"states_after":{states},"notices_after":0}}"#
            )
        };
        assert!(sync(body(5, 0).as_bytes()).is_ok());
        assert!(sync(body(i64::MAX, 0).as_bytes()).is_ok());
        assert_eq!(sync(body(-1, 0).as_bytes()).unwrap_err().code(), "request.field");
        assert_eq!(sync(body(5, -1).as_bytes()).unwrap_err().code(), "request.field");
    }

    #[test]
    fn a_returned_unit_with_a_rank_outside_the_slot_is_refused() {
        let ok = br#"{"idempotency_key":"k1","units":[{"slot":400,"rank":3}],"records_issued":2}"#;
        let bad = br#"{"idempotency_key":"k1","units":[{"slot":400,"rank":4}],"records_issued":2}"#;
        assert!(give_back(ok).is_ok());
        assert_eq!(give_back(bad).unwrap_err().code(), "request.field");
    }

    #[test]
    fn bodies_go_to_their_route_and_unknown_paths_are_not_found() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let lease = br#"{"idempotency_key":"k1","units":2}"#;
        assert!(matches!(body("/v1/lease", lease, today), Ok(Decoded::Lease(_))));
        assert_eq!(body("/v1/nope", lease, today).unwrap_err().code(), "request.not_found");
        assert_eq!(body("/v1/lookup", b"{}", today).unwrap_err().code(), "request.field");
        assert_eq!(body("/v1/lookup", b"{", today).unwrap_err().code(), "request.json");
    }
}
