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
//!
//! No string of a request body may hold a control character (U+0000 to
//! U+001F, U+007F; tab and line feed included, as free text on the desk
//! refuses them too): PostgreSQL cannot store NUL in `text` or `jsonb`, and
//! none of the others belongs in a key, a code or a name. A body with one is
//! refused as `request.control_character` naming the field by its JSON path
//! (`registered[1]`, `refused[0].record_id`), before it is decoded into its
//! type, so that no route can reach the database with one and answer 500.
//! An upload is the exception: there the event holding it is refused alone
//! (see [`upload`]).

use axum::http::StatusCode;
use chrono::NaiveDate;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use skranke_protocol::{canonical_json, sha256_hex, valid_reason_code};
use skranke_protocol::{
    header, parse_protocol_version, signing_message, versioned_signing_message, AllocateRequest, EnrolRequest, Event,
    FeedConfirm, LeaseRequest, LookupRequest, ReturnRequest, SyncRequest, MAX_BATCH_EVENTS, MAX_CLOCK_SKEW_SECS,
    PROTOCOL_VERSION,
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
    /// The versions the request names (signed with it), or `None` for a
    /// desk older than versioning (protocol 1.0, legacy signature).
    pub versions: Option<Versions>,
}

/// What a desk says it runs, as its signed headers name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versions {
    /// As sent (`MAJOR.MINOR`), and parsed.
    pub protocol: String,
    pub parsed: (u16, u16),
    /// The desk app's version: up to 32 of `0-9 A-Z a-z . + -`.
    pub app: String,
}

impl Versions {
    /// The protocol and app versions from their headers: both or neither.
    /// Another major version than this registry's is refused with a problem
    /// that says which it serves; a newer minor is served (it only adds
    /// fields, which this registry ignores).
    fn read<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Result<Option<Versions>> {
        let refused =
            |detail: String| RegistryError::refused_with(StatusCode::BAD_REQUEST, "protocol.unsupported", detail);
        let (protocol, app) = match (header(header::PROTOCOL), header(header::APP_VERSION)) {
            (None, None) => return Ok(None),
            (Some(p), Some(a)) => (p.trim(), a.trim()),
            (Some(_), None) => return Err(refused(format!("{} without {}", header::PROTOCOL, header::APP_VERSION))),
            (None, Some(_)) => return Err(refused(format!("{} without {}", header::APP_VERSION, header::PROTOCOL))),
        };
        let (major, minor) = PROTOCOL_VERSION;
        let parsed = parse_protocol_version(protocol)
            .filter(|(m, _)| *m == major)
            .ok_or_else(|| refused(format!("this registry serves protocol {major}.x (up to {major}.{minor})")))?;
        let app_ok = !app.is_empty()
            && app.len() <= 32
            && app.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
        if !app_ok {
            return Err(RegistryError::bad_field(header::APP_VERSION));
        }
        Ok(Some(Versions { protocol: protocol.to_string(), parsed, app: app.to_string() }))
    }
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
        let versions = Versions::read(&header)?;
        Ok(SignedHeaders { desk_id, timestamp, nonce, signature, versions })
    }

    /// Verifies the signature over method, path, headers and body with the
    /// desk's public key as stored at enrolment (32 bytes).
    pub fn verify(&self, public_key: &[u8], method: &str, path_and_query: &str, body: &[u8]) -> Result<()> {
        let key = <[u8; 32]>::try_from(public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or(RegistryError::unauthorized("auth.signature"))?;
        let message = match &self.versions {
            Some(v) => versioned_signing_message(
                method,
                path_and_query,
                self.timestamp,
                &self.nonce,
                &v.protocol,
                &v.app,
                body,
            ),
            None => signing_message(method, path_and_query, self.timestamp, &self.nonce, body),
        };
        key.verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| RegistryError::unauthorized("auth.signature"))
    }
}

/// A JSON body as the handlers' extractor reads it: serde's message (which
/// names the field and position) goes back to the caller as detail. A
/// control character in any string, known field or not, is refused first
/// ([`refuse_control`]).
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    if may_hold_control(body) {
        refuse_control(&serde_json::from_slice(body).map_err(not_json)?)?;
    }
    serde_json::from_slice(body).map_err(not_json)
}

fn not_json(e: serde_json::Error) -> RegistryError {
    RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.json", e.to_string())
}

/// The characters no string of a request may hold: C0 controls and DEL.
pub fn is_control(c: char) -> bool {
    c <= '\u{1f}' || c == '\u{7f}'
}

/// Whether a JSON text may hold a control character in a string: JSON
/// writes C0 controls only escaped (`\u00XX`, or `\b`, `\f`, `\n`, `\r`,
/// `\t`; raw they are a syntax error), DEL escaped or raw. A body without
/// any of these is not walked, so the common case costs one scan of the
/// bytes; a false alarm (an escaped backslash before `n`) only costs the walk.
fn may_hold_control(body: &[u8]) -> bool {
    body.iter().enumerate().any(|(i, &b)| {
        let escaped = &body[i + 1..];
        b == 0x7f
            || (b == b'\\'
                && (matches!(escaped.first(), Some(b'b' | b'f' | b'n' | b'r' | b't')) || escaped.starts_with(b"u00")))
    })
}

/// One step of a JSON path.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Member(&'a str),
    Index(usize),
}

/// A JSON path as a refusal names it: `events[3].payload.reason`. A control
/// character in a member's name is written escaped (`x\u{0}`), so the path
/// itself never carries one.
fn path(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Member(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                for c in name.chars() {
                    if is_control(c) {
                        out.extend(c.escape_unicode());
                    } else {
                        out.push(c);
                    }
                }
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("body");
    }
    out
}

/// Walks `value` depth first (members in the order the object keeps them)
/// and leaves in `trail` the path of the first string or member name that
/// holds a control character; `false` when there is none. serde_json's
/// recursion limit bounds the depth.
fn first_control<'a>(value: &'a Value, trail: &mut Vec<Step<'a>>) -> bool {
    match value {
        Value::String(s) => s.chars().any(is_control),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            trail.push(Step::Index(i));
            let found = first_control(item, trail);
            if !found {
                trail.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(name, item)| {
            trail.push(Step::Member(name));
            let found = name.chars().any(is_control) || first_control(item, trail);
            if !found {
                trail.pop();
            }
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// `request.control_character` naming the first string of `value` that
/// holds a control character.
pub fn refuse_control(value: &Value) -> Result<()> {
    let mut trail = Vec::new();
    if first_control(value, &mut trail) {
        return Err(RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.control_character", path(&trail)));
    }
    Ok(())
}

/// `request.control_character` naming `field` when `text` (a path
/// parameter, a query value) holds a control character: what the body's
/// check is for text a route reads from elsewhere.
pub fn check_text(field: &str, text: &str) -> Result<()> {
    if text.chars().any(is_control) {
        return Err(RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.control_character", field));
    }
    Ok(())
}

/// A copy of `value` with every control character in its strings and member
/// names replaced by U+FFFD: how a refused event is kept (PostgreSQL's
/// `jsonb` cannot hold NUL, and the registry stores no control character).
fn storable(value: &Value) -> Value {
    let clean = |s: &str| s.chars().map(|c| if is_control(c) { char::REPLACEMENT_CHARACTER } else { c }).collect();
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(items) => Value::Array(items.iter().map(storable).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (clean(k), storable(v))).collect()),
        other => other.clone(),
    }
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

/// `POST /v1/events` decoded: the events that decoded, for the judge, and
/// those refused here, each with its place in the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// In batch order.
    pub events: Vec<Event>,
    /// In batch order.
    pub refused: Vec<RefusedEvent>,
}

/// Why an event is refused before it is judged (the verdict's reason code).
pub const CONTROL_CHARACTER: &str = "control_character";
/// The event does not decode: not an object, an unknown kind, a payload of
/// the wrong shape.
pub const MALFORMED: &str = "malformed";

/// An event of a batch refused on its own: `invalid` with [`Self::reason`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedEvent {
    /// Its place in the batch.
    pub index: usize,
    /// The key it was sent with (`""` when it has none that is a string):
    /// the verdict names the event by it.
    pub idempotency_key: String,
    /// [`CONTROL_CHARACTER`] or [`MALFORMED`].
    pub reason: &'static str,
    /// For a control character, the path of the string that holds it
    /// (`events[1].payload.reason`).
    pub field: Option<String>,
    /// Whether the fault is in the event's body (`kind` and `payload`) and
    /// its key and claimed hash are usable: only then is it kept, under the
    /// hash of that body, so that the same event sent again is refused
    /// again and a corrected one is judged anew.
    pub keepable: bool,
    /// The event as it came.
    pub raw: Value,
}

impl RefusedEvent {
    /// The body as received, tagged as the judge keeps bodies.
    fn tagged(&self) -> Value {
        let mut tagged = Map::new();
        tagged.insert("kind".into(), self.raw.get("kind").cloned().unwrap_or(Value::Null));
        tagged.insert("payload".into(), self.raw.get("payload").cloned().unwrap_or(Value::Null));
        Value::Object(tagged)
    }

    /// The registry's content hash of the body as received (as
    /// [`Event::received_hash`] computes it for an event that decodes).
    pub fn content_hash(&self) -> String {
        sha256_hex(canonical_json(&self.tagged()).as_bytes())
    }

    /// The body as it is kept: control characters replaced by U+FFFD.
    pub fn stored_body(&self) -> Value {
        storable(&self.tagged())
    }
}

/// An upload re-encodes as the batch it came as, events in their order.
impl Serialize for Upload {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        struct Events<'a>(&'a Upload);
        impl Serialize for Events<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                let upload = self.0;
                let mut seq = serializer.serialize_seq(Some(upload.events.len() + upload.refused.len()))?;
                let (mut events, mut refused) = (upload.events.iter(), upload.refused.iter().peekable());
                for index in 0..upload.events.len() + upload.refused.len() {
                    match refused.next_if(|r| r.index == index) {
                        Some(r) => seq.serialize_element(&r.raw)?,
                        None => seq.serialize_element(&events.next())?,
                    }
                }
                seq.end()
            }
        }
        let mut map = Map::new();
        map.insert("events".into(), serde_json::to_value(Events(self)).map_err(serde::ser::Error::custom)?);
        map.serialize(serializer)
    }
}

/// `POST /v1/events`: at most [`MAX_BATCH_EVENTS`]. Only the envelope can
/// refuse the batch (not JSON, no `events` array, too many events, a control
/// character in a field beside `events`). Each event decodes on its own: one
/// that does not ([`MALFORMED`]) or holds a control character in any string
/// ([`CONTROL_CHARACTER`]) is refused alone, and the rest are judged later
/// (where a bad key or hash refuses that event, not the batch).
pub fn upload(body: &[u8]) -> Result<Upload> {
    #[derive(Deserialize)]
    struct Envelope {
        events: Vec<Value>,
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(not_json)?;
    if envelope.events.len() > MAX_BATCH_EVENTS {
        return Err(RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "upload.batch_too_large"));
    }
    let suspect = may_hold_control(body);
    if suspect {
        // The envelope's other fields (the typed request has none, so they
        // are otherwise ignored) and member names.
        if let Value::Object(map) = serde_json::from_slice(body).map_err(not_json)? {
            let mut trail = Vec::new();
            let outside = map.iter().any(|(name, value)| {
                trail.push(Step::Member(name));
                let found = name.chars().any(is_control) || (name != "events" && first_control(value, &mut trail));
                if !found {
                    trail.pop();
                }
                found
            });
            if outside {
                let field = path(&trail);
                return Err(RegistryError::refused_with(StatusCode::BAD_REQUEST, "request.control_character", field));
            }
        }
    }
    let mut upload = Upload { events: Vec::with_capacity(envelope.events.len()), refused: Vec::new() };
    for (index, raw) in envelope.events.into_iter().enumerate() {
        let mut trail = vec![Step::Member("events"), Step::Index(index)];
        let control = suspect && first_control(&raw, &mut trail);
        let decoded = if control { None } else { Event::deserialize(&raw).ok() };
        if let Some(event) = decoded {
            upload.events.push(event);
            continue;
        }
        let key = raw.get("idempotency_key").and_then(Value::as_str);
        let envelope_usable = key.is_some_and(|k| check_key(k).is_ok())
            && raw.get("content_hash").and_then(Value::as_str).is_some_and(|h| !h.chars().any(is_control));
        let in_body = !control || matches!(trail.get(2), Some(Step::Member("kind" | "payload")));
        upload.refused.push(RefusedEvent {
            index,
            idempotency_key: key.unwrap_or("").to_string(),
            reason: if control { CONTROL_CHARACTER } else { MALFORMED },
            field: control.then(|| path(&trail)),
            keepable: envelope_usable && in_body,
            raw,
        });
    }
    Ok(upload)
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

impl Decode for Upload {
    fn decode(body: &[u8], _today: NaiveDate) -> Result<Self> {
        upload(body)
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
    Upload(Upload),
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

    /// Every control character, however a client escapes it (serde_json's
    /// short escapes, `\u00XX` in either case, DEL raw), is found, named by
    /// its path, and refused before typed decoding; other text passes.
    #[test]
    fn a_control_character_however_escaped_is_refused_naming_its_path() {
        let controls = ('\u{0}'..='\u{1f}').chain(['\u{7f}']);
        for c in controls {
            let body = serde_json::to_vec(&serde_json::json!({ "registered": ["R-1", format!("R{c}2")] })).unwrap();
            assert!(may_hold_control(&body), "{c:?} in {}", String::from_utf8_lossy(&body));
            let err = feed_confirm(&body).unwrap_err();
            assert_eq!(
                (err.code(), err.problem().detail.as_deref()),
                ("request.control_character", Some("registered[1]"))
            );
        }
        for written in [r#"{"person_key":"p\u001F"}"#, r#"{"person_key":"p\u001f"}"#, "{\"person_key\":\"p\u{7f}\"}"] {
            assert_eq!(lookup(written.as_bytes()).unwrap_err().code(), "request.control_character", "{written}");
        }
        // Not control characters: an escaped backslash before `n`, C1 and
        // other text, escaped or not.
        for fine in [r#"{"person_key":"p\\n"}"#, r#"{"person_key":"\u0085 ø \u00e6"}"#, r#"{"person_key":"p/q"}"#] {
            assert!(lookup(fine.as_bytes()).is_ok(), "{fine}");
        }
        let nested = serde_json::json!({ "a": [1, { "b": [null, "x\u{0}"] }] });
        assert_eq!(refuse_control(&nested).unwrap_err().problem().detail.as_deref(), Some("a[1].b[1]"));
        assert_eq!(check_text("record_id", "D-1\u{0}").unwrap_err().problem().detail.as_deref(), Some("record_id"));
        assert!(check_text("record_id", "D-1").is_ok());
        let name = serde_json::json!({ "a": { "k\u{1}": 1 } });
        assert_eq!(refuse_control(&name).unwrap_err().problem().detail.as_deref(), Some("a.k\\u{1}"));
    }

    /// An upload keeps the events that decode and refuses the others on
    /// their own, in their places, keeping only those whose fault is in the
    /// body and whose key and hash are usable; it re-encodes as it came.
    #[test]
    fn an_upload_refuses_bad_events_alone_and_re_encodes_in_its_order() {
        let good = r#"{"idempotency_key":"k1","content_hash":"h","kind":"erased","payload":{"record_id":"D-1","erased_at":"2026-01-01T00:00:00Z"}}"#;
        let nul = r#"{"idempotency_key":"k2","content_hash":"h","kind":"erased","payload":{"record_id":"D-\u0000","erased_at":"2026-01-01T00:00:00Z"}}"#;
        let unknown = r#"{"idempotency_key":"k3","content_hash":"h","kind":"teleported","payload":{}}"#;
        let bad_key = r#"{"idempotency_key":"k\t4","content_hash":"h","kind":"erased","payload":{}}"#;
        let body = format!(r#"{{"events":[{good},{nul},{unknown},{bad_key},{good}]}}"#);
        let upload = upload(body.as_bytes()).unwrap();
        assert_eq!(upload.events.len(), 2);
        let refused: Vec<_> =
            upload.refused.iter().map(|r| (r.index, r.idempotency_key.as_str(), r.reason, r.keepable)).collect();
        assert_eq!(
            refused,
            [(1, "k2", CONTROL_CHARACTER, true), (2, "k3", MALFORMED, true), (3, "k\t4", CONTROL_CHARACTER, false)]
        );
        assert_eq!(upload.refused[0].field.as_deref(), Some("events[1].payload.record_id"));
        assert_eq!(upload.refused[0].stored_body()["payload"]["record_id"], "D-\u{FFFD}");
        assert_ne!(
            upload.refused[0].content_hash(),
            sha256_hex(canonical_json(&upload.refused[0].stored_body()).as_bytes())
        );
        let again = serde_json::to_vec(&upload).unwrap();
        assert_eq!(self::upload(&again).unwrap(), upload);

        let too_many = format!(r#"{{"events":[{}]}}"#, vec!["1"; MAX_BATCH_EVENTS + 1].join(","));
        assert_eq!(self::upload(too_many.as_bytes()).unwrap_err().code(), "upload.batch_too_large");
        assert_eq!(self::upload(br#"{"events":{}}"#).unwrap_err().code(), "request.json");
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
