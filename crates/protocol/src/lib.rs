//! The wire between a desk and the central registry: the JSON bodies both
//! sides exchange, the request signature, and the canonical hashes that make
//! upload idempotent and let the registry check each desk's audit chain.
//!
//! Both `core::sync` (the desk) and `crates/registry` use these types, so a
//! field renamed here is renamed on both ends at once.
//!
//! # Authentication
//!
//! A desk enrols once with a one-time code and the public half of an Ed25519
//! key pair it generated itself; afterwards it signs every request. The
//! signature covers [`signing_message`]: method, path with query, a Unix
//! timestamp, a random nonce and the SHA-256 of the body. The registry
//! refuses timestamps further than [`MAX_CLOCK_SKEW_SECS`] from its own
//! clock and any nonce it has seen from that desk before, so a captured
//! request cannot be replayed. Signed requests rather than mutual TLS: the
//! key pair lives in the OS key store beside the desk's other secrets, and
//! no certificate authority or TLS-terminating proxy has to know desks.
//!
//! # Idempotency
//!
//! Every state-changing request carries an idempotency key chosen by the
//! desk. Each uploaded [`Event`] carries its own key and the SHA-256 of its
//! canonical content ([`canonical_json`]): the same key with the same hash is
//! `already_held`, with another hash a `conflict`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod trust;

pub use trust::{Awaited, RegistryKeyAnswer, SeqRange};

use skranke_rules::cpr::Sex;
use skranke_rules::lease::LeaseUnit;

/// The path prefix of every desk-facing endpoint.
pub const API_PREFIX: &str = "/v1";

/// Request headers of a signed desk request.
pub mod header {
    /// The desk's ID, as assigned at enrolment.
    pub const DESK: &str = "x-skranke-desk";
    /// Seconds since the Unix epoch, as the desk's clock says.
    pub const TIMESTAMP: &str = "x-skranke-timestamp";
    /// A fresh random value per request (hex, 16 to 64 characters).
    pub const NONCE: &str = "x-skranke-nonce";
    /// Hex Ed25519 signature over [`super::signing_message`] (or, when the
    /// request names its versions, [`super::versioned_signing_message`]).
    pub const SIGNATURE: &str = "x-skranke-signature";
    /// The protocol version the desk speaks, `MAJOR.MINOR`
    /// ([`super::PROTOCOL_VERSION`]); signed with the request.
    pub const PROTOCOL: &str = "x-skranke-protocol";
    /// The desk app's version (`skranke-core`'s package version); signed
    /// with the request.
    pub const APP_VERSION: &str = "x-skranke-app-version";
}

/// The protocol version this build speaks: a registry serves every minor
/// version of its major (a newer minor only adds fields, which older
/// readers ignore) and refuses another major. Requests without the header
/// come from desks older than versioning: 1.0.
/// 1.1: versions in signed headers; 1.2: sync answers carry the
/// municipality's settings and the deployment's minimum desk version.
pub const PROTOCOL_VERSION: (u16, u16) = (1, 2);

/// The settings a municipality sets at the registry for every desk of its
/// own (the desk's setting keys): the privacy notice, how long an initial
/// password lives, the idle lock and the handout languages offered.
pub mod municipality_setting {
    pub const PRIVACY_CONTROLLER: &str = "privacy_controller";
    pub const PRIVACY_CONTACT: &str = "privacy_contact";
    pub const PRIVACY_DPO: &str = "privacy_dpo";
    pub const PRIVACY_RETENTION: &str = "privacy_retention";
    pub const PASSWORD_LAPSE_DAYS: &str = "password_lapse_days";
    pub const IDLE_LOCK_MINUTES: &str = "idle_lock_minutes";
    pub const HANDOUT_LANGUAGES: &str = "handout_languages";
    /// Every key a municipality may set, in the order operators list them.
    pub const ALL: [&str; 7] = [
        PRIVACY_CONTROLLER,
        PRIVACY_CONTACT,
        PRIVACY_DPO,
        PRIVACY_RETENTION,
        PASSWORD_LAPSE_DAYS,
        IDLE_LOCK_MINUTES,
        HANDOUT_LANGUAGES,
    ];
    /// The longest value of any of them, in characters.
    pub const MAX_CHARS: usize = 500;
}

/// A desk app version `MAJOR.MINOR.PATCH` (a pre-release or build suffix
/// after `-` or `+` is ignored), comparable as a tuple; `None` if `text` is
/// not one.
///
/// ```
/// use skranke_protocol::parse_app_version;
/// assert_eq!(parse_app_version("0.10.2"), Some((0, 10, 2)));
/// assert!(parse_app_version("0.9.9") < parse_app_version("0.10.0"));
/// assert_eq!(parse_app_version("1.2"), None);
/// ```
pub fn parse_app_version(text: &str) -> Option<(u32, u32, u32)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let mut next = || -> Option<u32> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let version = (next()?, next()?, next()?);
    parts.next().is_none().then_some(version)
}

/// A `MAJOR.MINOR` version, if `text` is one.
///
/// ```
/// use skranke_protocol::parse_protocol_version;
/// assert_eq!(parse_protocol_version("1.12"), Some((1, 12)));
/// assert_eq!(parse_protocol_version("1"), None);
/// ```
pub fn parse_protocol_version(text: &str) -> Option<(u16, u16)> {
    let (major, minor) = text.trim().split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The bytes a desk that names its versions signs: as
/// [`signing_message`], with the protocol and app versions, so that no one
/// on the way can change what the registry records of them:
/// `skranke-v2\nMETHOD\npath?query\ntimestamp\nnonce\nprotocol\napp\nsha256(body)`.
///
/// ```
/// use skranke_protocol::{signing_message, versioned_signing_message};
/// let v2 = versioned_signing_message("POST", "/v1/sync", 1, "ab12", "1.1", "0.1.0", b"{}");
/// assert!(String::from_utf8(v2.clone()).unwrap().starts_with("skranke-v2\nPOST\n/v1/sync\n1\nab12\n1.1\n0.1.0\n"));
/// assert_ne!(v2, signing_message("POST", "/v1/sync", 1, "ab12", b"{}"));
/// ```
pub fn versioned_signing_message(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    protocol: &str,
    app_version: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "skranke-v2\n{}\n{path_and_query}\n{timestamp}\n{nonce}\n{protocol}\n{app_version}\n{}",
        method.to_ascii_uppercase(),
        sha256_hex(body)
    )
    .into_bytes()
}

/// How far a request's timestamp may lie from the registry's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The most events one upload batch may carry.
pub const MAX_BATCH_EVENTS: usize = 2000;

/// The `prev_hash` of a desk's first audit entry: bound to the desk's ID, so
/// that one desk's chain never verifies as another's.
///
/// ```
/// use skranke_protocol::audit_genesis;
/// assert_ne!(audit_genesis("D1"), audit_genesis("D2"));
/// assert_eq!(audit_genesis("D1").len(), 64);
/// ```
pub fn audit_genesis(desk_id: &str) -> String {
    sha256_hex(format!("skranke-audit-genesis\n{desk_id}").as_bytes())
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bytes a desk signs and the registry verifies:
/// `skranke-v1\nMETHOD\npath?query\ntimestamp\nnonce\nsha256(body)`.
///
/// ```
/// use skranke_protocol::signing_message;
/// let m = signing_message("POST", "/v1/sync", 1_700_000_000, "ab12", b"{}");
/// assert!(String::from_utf8(m).unwrap().starts_with("skranke-v1\nPOST\n/v1/sync\n1700000000\nab12\n"));
/// ```
pub fn signing_message(method: &str, path_and_query: &str, timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    format!("skranke-v1\n{}\n{path_and_query}\n{timestamp}\n{nonce}\n{}", method.to_ascii_uppercase(), sha256_hex(body))
        .into_bytes()
}

/// The duplicate key as the registry compares it across desks: SHA-256 of the
/// plain key (`core::applicant::DuplicateKeys`), domain-separated by kind.
/// Desks keep their own keys as HMAC under a desk-local key, which no other
/// desk can match; this form is the same at every desk. The registry holds
/// the person's name and birth date anyway, and the document number is not
/// in any record it receives.
///
/// ```
/// use skranke_protocol::registry_duplicate_key;
/// let a = registry_duplicate_key("document", "DE|C01X00T47");
/// assert_eq!(a, registry_duplicate_key("document", "DE|C01X00T47"));
/// assert_ne!(a, registry_duplicate_key("person", "DE|C01X00T47"));
/// ```
pub fn registry_duplicate_key(kind: &str, plain: &str) -> String {
    sha256_hex(format!("skranke-duplicate-v1\n{kind}\n{plain}").as_bytes())
}

/// JSON with object keys sorted at every level and no insignificant
/// whitespace: the form that content hashes are taken over, so that desk and
/// registry agree whatever order a serializer writes fields in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

// ---------------------------------------------------------------- enrolment

/// `POST /v1/enrol` (unsigned: the one-time code is the credential).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// The secret part of the one-time enrolment code the operator handed
    /// out ([`trust::split_enrolment_code`]); the fingerprint part stays at
    /// the desk, which checks the registry's key against it.
    pub enrolment_code: String,
    /// The desk's Ed25519 public key, 64 hex characters.
    pub public_key: String,
}

/// The registry's answer to an enrolment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The desk's ID: its key-store entries and record IDs are named by it.
    pub desk_id: String,
    /// Kommunekode, 3 digits.
    pub municipality: u16,
    pub office: String,
    pub desk_number: u32,
    /// The prefix of the Jobnet usernames this desk makes: unique across
    /// desks, assigned by the registry at enrolment (below 2^31).
    pub login_number: u32,
    /// The registry's public key (hex) that signs its answers: the desk pins
    /// it after checking it against the enrolment code's fingerprint.
    pub registry_key: String,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

// --------------------------------------------------------- online allocation

/// `POST /v1/allocate`: a number drawn centrally for an applicant in front
/// of the desk now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocateRequest {
    /// Same key, same number: a retry after a lost answer wastes nothing.
    pub idempotency_key: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocateResponse {
    /// `DDMMYY-SSSS`.
    pub number: String,
    pub passes_modulus11: bool,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

// -------------------------------------------------------------------- leases

/// `POST /v1/lease`: more reserve for offline issuing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub idempotency_key: String,
    /// How many more units the desk would like (the registry may grant fewer).
    pub units: u32,
}

/// A unit bound to the desk and the numbers the registry already holds in
/// it, which the desk must never issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub unit: LeaseUnit,
    pub bound_at: DateTime<Utc>,
    /// `DDMMYY-SSSS`, ascending.
    pub used: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseResponse {
    /// Units newly bound by this request (the same on a retry with the same key).
    pub granted: Vec<LeaseUnit>,
    /// Every unit bound to the desk now.
    pub bindings: Vec<Binding>,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

/// `POST /v1/lease/return`: units handed back after a complete sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub idempotency_key: String,
    pub units: Vec<LeaseUnit>,
    /// The desk's issue counter: how many records it has ever issued. The
    /// registry refuses the return unless it holds that many records from
    /// the desk, i.e. the sync before it was complete.
    pub records_issued: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnResponse {
    pub returned: Vec<LeaseUnit>,
    pub bindings: Vec<Binding>,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

// -------------------------------------------------------------------- upload

/// Where an issued number came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberSource {
    /// Allocated by the registry for this desk (`/v1/allocate`).
    Online,
    /// Drawn from one of the desk's lease units.
    Lease,
}

impl NumberSource {
    /// The code as the wire and the desk's store write it.
    pub fn code(self) -> &'static str {
        match self {
            NumberSource::Online => "online",
            NumberSource::Lease => "lease",
        }
    }

    /// The source a stored code names.
    pub fn from_code(code: &str) -> Option<NumberSource> {
        match code {
            "online" => Some(NumberSource::Online),
            "lease" => Some(NumberSource::Lease),
            _ => None,
        }
    }
}

/// The identity document, as the clerk assessed it. Its number is not sent
/// in clear: the registry needs only the keyed document hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSummary {
    /// `passport`, `id_card`, … as the desk's intake names them.
    pub kind: String,
    /// ICAO 3-letter issuing state (`D`, `POL`, `XXA`, …).
    pub issuing_state: String,
    pub expiry_date: Option<NaiveDate>,
}

/// The person as CPR and Jobnet need them. Deliberately without the
/// eligibility group: it says something about disability and asylum and is
/// never exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// The name as the document prints it.
    pub name_document: String,
    /// ICAO 9303 transliteration (Latin letters, as in the MRZ).
    pub name_latin: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// ISO 3166 alpha-2 nationality (`DE`, `PL`, …).
    pub nationality: String,
    pub document: DocumentSummary,
}

/// An `issued` event: a record with its number (the desk's local
/// transaction committed it; the registry now receives it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedRecord {
    /// Unique across desks: `<desk id>-<desk-local sequence>`.
    pub record_id: String,
    /// `DDMMYY-SSSS`.
    pub number: String,
    pub source: NumberSource,
    pub issued_at: DateTime<Utc>,
    /// Kommunekode of the municipality where the person stays.
    pub municipality: u16,
    pub person: PersonRecord,
    /// Keyed hash of the identity document (type, issuing state, number):
    /// the same document twice is a duplicate person.
    pub document_key: String,
    /// Keyed hash of birth date, nationality and Latin name: a match only
    /// opens a review.
    pub person_key: String,
    /// The Jobnet username printed on the handout. Empty only for a record
    /// issued before logins existed; its login follows in a reprint.
    pub jobnet_username: String,
    /// Argon2id PHC string; the plain password never leaves the desk.
    pub password_hash: String,
}

/// A `reprinted` event: a new password superseding the old hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reprint {
    pub record_id: String,
    pub reprinted_at: DateTime<Utc>,
    pub password_hash: String,
    /// The login the new password belongs to. Absent in reprints from desks
    /// before this field existed (their content hashes stay as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobnet_username: Option<String>,
}

/// A `login_amended` event: the login of a record whose `issued` event
/// reached the registry without it (desks before the username fix sent an
/// empty `jobnet_username`). Its own kind and idempotency key
/// (`<record id>/login`), so it never conflicts with the original event; it
/// only fills what is missing and goes down the feed as a correction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAmendment {
    pub record_id: String,
    pub jobnet_username: String,
    /// The record's current Argon2id hash (a later reprint's, if any).
    pub password_hash: String,
    pub amended_at: DateTime<Utc>,
}

/// A `voided` event. The number stays used for ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Void {
    pub record_id: String,
    pub voided_at: DateTime<Utc>,
    /// A stable reason code (`duplicate`, `clerk_error`, …).
    pub reason: String,
    /// The record that survives, when a duplicate was resolved.
    pub replaced_by: Option<String>,
}

/// An `erased` event: the desk erased the record's personal data after the
/// retention period; number, dates and status stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub record_id: String,
    pub erased_at: DateTime<Utc>,
}

/// One row of a desk's append-only, hash-chained audit log (revisionsspor).
/// No names: staff and records appear by ID only. The desk's own log
/// (`core::audit`) stores exactly these fields and seals them with
/// [`AuditEntry::chain_hash`], so the registry verifies the chain the desk
/// wrote, link by link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … per desk without gaps.
    pub seq: u64,
    /// Whole milliseconds: the desk stores times at that precision, and the
    /// hash must come out the same from the stored row.
    pub at: DateTime<Utc>,
    /// The desk-local ID of the staff member; `None` for acts of the desk itself.
    pub staff_id: Option<i64>,
    /// A stable action code (`record.issued`, `record.voided`, `staff.sign_in`, …).
    pub action: String,
    pub record_id: Option<String>,
    /// Non-personal detail (a reason code, a role, a count): never a name.
    pub detail: Option<String>,
    /// The previous entry's `hash`, [`audit_genesis`] of the desk for the first.
    pub prev_hash: String,
    /// [`AuditEntry::chain_hash`] of this entry.
    pub hash: String,
}

impl AuditEntry {
    /// The chain hash: SHA-256 over `prev_hash`, a newline, and the canonical
    /// JSON of the entry without its `hash` field (so `prev_hash` is covered
    /// twice, which costs nothing and keeps the rule short).
    pub fn chain_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.remove("hash");
        }
        sha256_hex(format!("{}\n{}", self.prev_hash, canonical_json(&v)).as_bytes())
    }

    /// Fills in `hash` for an entry whose other fields are set.
    pub fn sealed(mut self) -> AuditEntry {
        self.hash = self.chain_hash();
        self
    }
}

/// What an event says, tagged by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum EventBody {
    Issued(IssuedRecord),
    Reprinted(Reprint),
    Voided(Void),
    Erased(Erasure),
    LoginAmended(LoginAmendment),
    Audit(AuditEntry),
}

impl EventBody {
    /// The kind as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Issued(_) => "issued",
            EventBody::Reprinted(_) => "reprinted",
            EventBody::Voided(_) => "voided",
            EventBody::Erased(_) => "erased",
            EventBody::LoginAmended(_) => "login_amended",
            EventBody::Audit(_) => "audit",
        }
    }

    /// The record the event is about, if any.
    pub fn record_id(&self) -> Option<&str> {
        match self {
            EventBody::Issued(r) => Some(&r.record_id),
            EventBody::Reprinted(r) => Some(&r.record_id),
            EventBody::Voided(v) => Some(&v.record_id),
            EventBody::Erased(e) => Some(&e.record_id),
            EventBody::LoginAmended(l) => Some(&l.record_id),
            EventBody::Audit(a) => a.record_id.as_deref(),
        }
    }

    /// SHA-256 of the canonical JSON of the tagged body.
    pub fn content_hash(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        sha256_hex(canonical_json(&v).as_bytes())
    }
}

/// One immutable event from a desk's outbox.
///
/// Decoding keeps the SHA-256 of the canonical JSON of `kind` and `payload`
/// exactly as they arrived ([`Event::received_hash`]): a newer desk may send
/// fields this version does not know, which the typed `body` drops, and its
/// content hash covers them. Unknown fields are ignored, never refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub idempotency_key: String,
    /// [`EventBody::content_hash`] of `body`, as the desk computed it.
    pub content_hash: String,
    #[serde(flatten)]
    pub body: EventBody,
    /// The hash of the body as received (as built, for [`Event::new`]).
    #[serde(skip)]
    received_hash: String,
}

impl Event {
    /// An event with its content hash filled in.
    pub fn new(idempotency_key: impl Into<String>, body: EventBody) -> Event {
        let content_hash = body.content_hash();
        Event { idempotency_key: idempotency_key.into(), received_hash: content_hash.clone(), content_hash, body }
    }

    /// SHA-256 of the canonical JSON of the body (`kind` and `payload`) as
    /// it was decoded, unknown fields included: what the registry checks
    /// `content_hash` against and keeps.
    pub fn received_hash(&self) -> &str {
        &self.received_hash
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        #[derive(Deserialize)]
        struct Received {
            idempotency_key: String,
            content_hash: String,
            kind: Value,
            #[serde(default)]
            payload: Value,
        }
        let r = Received::deserialize(deserializer)?;
        let mut tagged = serde_json::Map::new();
        tagged.insert("kind".into(), r.kind);
        tagged.insert("payload".into(), r.payload);
        let tagged = Value::Object(tagged);
        let received_hash = sha256_hex(canonical_json(&tagged).as_bytes());
        let body = EventBody::deserialize(tagged).map_err(serde::de::Error::custom)?;
        Ok(Event { idempotency_key: r.idempotency_key, content_hash: r.content_hash, body, received_hash })
    }
}

/// `POST /v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub events: Vec<Event>,
}

/// The registry's verdict on one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Received now.
    Accepted,
    /// The identical event was received before.
    AlreadyHeld,
    /// Same key, record or number with different content: both are kept and
    /// a supervisor decides.
    Conflict,
    /// Refused, with a reason code; the desk keeps it in a visible list.
    Invalid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventResult {
    pub idempotency_key: String,
    pub outcome: Outcome,
    /// A stable reason code for `conflict` and `invalid` (`number_not_held`,
    /// `content_hash`, `audit_chain`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// One per event, in request order.
    pub results: Vec<EventResult>,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

// ---------------------------------------------------------------------- sync

/// How far the desk has used one of its units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitReport {
    pub unit: LeaseUnit,
    /// Numbers issued from the unit so far.
    pub used: u64,
}

/// `POST /v1/sync`: after uploading, the desk reports where it stands and
/// learns its bindings, notices and record states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The highest `registry_sequence` the desk has ever been told. Higher
    /// than the registry's own means the registry was restored from a backup.
    pub highest_sequence_seen: i64,
    /// The registry's receipt for `highest_sequence_seen`
    /// ([`trust::receipt_message`]): without one that verifies, a higher
    /// sequence proves nothing and is never acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_receipt: Option<String>,
    /// The desk's issue counter (see [`ReturnRequest::records_issued`]).
    pub records_issued: u64,
    /// The units the desk believes it holds.
    pub units: Vec<UnitReport>,
    /// Cursor: record states changed after this sequence.
    pub states_after: i64,
    /// Cursor: notices after this ID.
    pub notices_after: i64,
    /// Idempotency keys of online allocations whose number the desk did not
    /// put on a handout (the answer came too late, could not be believed,
    /// or the issue failed after it): the registry frees those numbers
    /// again. At most [`MAX_UNUSED_ALLOCATIONS`] per request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused_allocations: Vec<String>,
}

/// The most unused allocations one sync request reports; the desk reports
/// the rest at its next sync.
pub const MAX_UNUSED_ALLOCATIONS: usize = 1000;

/// A record's state in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// The registry holds it and has queued it for CPR and Jobnet.
    Received,
    /// CPR and Jobnet confirmed it.
    Registered,
    /// Voided; the number stays used.
    Voided,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStateChange {
    pub record_id: String,
    pub state: RecordState,
    /// Registry sequence of the change; the next `states_after`.
    pub sequence: i64,
    /// CPR or Jobnet refused the record (its state stays `received`: a
    /// desk from before refusals existed reads the answer as before). Absent
    /// when nothing downstream refused it, or a later event cleared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downstream_refusal: Option<DownstreamRefusalState>,
}

/// The downstream system that refused a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownstreamSystem {
    Cpr,
    Jobnet,
}

impl DownstreamSystem {
    pub fn code(self) -> &'static str {
        match self {
            DownstreamSystem::Cpr => "cpr",
            DownstreamSystem::Jobnet => "jobnet",
        }
    }

    pub fn from_code(code: &str) -> Option<DownstreamSystem> {
        match code {
            "cpr" => Some(DownstreamSystem::Cpr),
            "jobnet" => Some(DownstreamSystem::Jobnet),
            _ => None,
        }
    }
}

/// What a desk learns of a downstream refusal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownstreamRefusalState {
    pub system: DownstreamSystem,
    /// The consumer's reason code ([`valid_reason_code`]).
    pub reason: String,
    pub refused_at: DateTime<Utc>,
}

/// A reason code from the feed's consumer: a lower-case letter, then up to
/// 39 lower-case letters, digits or `_` (it is shown to staff and stored, so
/// it is never free text).
///
/// ```
/// use skranke_protocol::valid_reason_code;
/// assert!(valid_reason_code("name_invalid"));
/// assert!(!valid_reason_code("Name invalid"));
/// assert!(!valid_reason_code(""));
/// ```
pub fn valid_reason_code(code: &str) -> bool {
    let mut bytes = code.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && code.len() <= 40
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Something a supervisor at the desk must see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: i64,
    /// `duplicate_document`, `duplicate_review`, `number_conflict`,
    /// `record_conflict`, `event_conflict` (other content under a key the
    /// desk used before), `audit_chain`, `unit_disputed`.
    pub kind: String,
    /// This desk's record the notice is about.
    pub record_id: Option<String>,
    /// The other record, possibly at another desk.
    pub other_record_id: Option<String>,
    pub other_desk_id: Option<String>,
    pub other_municipality: Option<u16>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAnswer {
    pub desk_id: String,
    /// A retired desk never issues again.
    pub retired: bool,
    /// The registry was restored and waits for every desk to reconcile: no
    /// lease and no online allocation until then.
    pub reconciling: bool,
    /// How many of the desk's records the registry holds; equal to
    /// `records_issued` after a complete sync.
    pub records_held: u64,
    /// The desk's `highest_sequence_seen` was not believed (no receipt,
    /// or one the registry did not sign): nothing was done on it.
    #[serde(default)]
    pub claim_refused: bool,
    /// What the registry does not hold of the desk, for the desk to resend
    /// what of it had been answered: while the registry reconciles and this
    /// desk is not reconciled yet, and whenever it holds fewer of the
    /// desk's records than `records_issued`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaited: Option<Awaited>,
    /// The settings the desk's municipality set at the registry (keys of
    /// [`municipality_setting::ALL`]), each in force at the desk over its
    /// own; a key absent here is the desk's again. `None` from a registry
    /// older than protocol 1.2: the desk changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality_settings: Option<BTreeMap<String, String>>,
    /// The lowest desk app version that may issue in this deployment (a
    /// desk below it still syncs what it issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_desk_version: Option<String>,
    pub bindings: Vec<Binding>,
    pub record_states: Vec<RecordStateChange>,
    pub notices: Vec<Notice>,
    pub registry_time: DateTime<Utc>,
    pub registry_sequence: i64,
    /// The registry's signature over this sequence for this desk
    /// ([`trust::receipt_message`]), hex: the desk keeps the one for the
    /// highest sequence it has seen, its proof should the registry go back.
    pub sequence_receipt: String,
}

// -------------------------------------------------------------------- lookup

/// `POST /v1/lookup`: before issuing, is this person already known?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRequest {
    pub document_key: Option<String>,
    pub person_key: Option<String>,
}

/// Which key matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The same identity document: a duplicate.
    Document,
    /// Same birth date, nationality and Latin name: a review.
    Person,
}

/// Whether and where: no number, no name, no record content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupMatch {
    pub kind: MatchKind,
    pub desk_id: String,
    pub municipality: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupResponse {
    pub matches: Vec<LookupMatch>,
    pub registry_time: DateTime<Utc>,
}

// --------------------------------------------------------------- downstream

/// Where a record was issued, as the feed's consumer needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskPlace {
    pub desk_id: String,
    /// Kommunekode of the desk's municipality.
    pub municipality: u16,
    pub office: String,
    pub desk_number: u32,
}

/// One item of the outbound feed to CPR and Jobnet. Its `payload` is the
/// event's own body (an [`IssuedRecord`], a [`Reprint`], a [`Void`], a
/// [`LoginAmendment`]) or an operator's correction (`corrected`:
/// `record_id` and `person`); `/openapi.json` gives each kind's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedItem {
    /// The cursor: strictly increasing.
    pub seq: i64,
    pub record_id: String,
    /// `issued`, `reprinted`, `voided`, `login_amended` or `corrected`.
    pub kind: String,
    /// The registry erased the record's personal data (retention): the
    /// payload keeps its record ID, number and dates only.
    pub erased: bool,
    pub desk: DeskPlace,
    pub payload: Value,
}

/// `GET /v1/feed?after=N&limit=M`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// Pass as `after` next time.
    pub next_after: i64,
}

/// `POST /v1/feed/confirm`: the consumer registered these records, and
/// CPR or Jobnet refused those.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedConfirm {
    pub registered: Vec<String>,
    #[serde(default)]
    pub refused: Vec<DownstreamRefusal>,
}

/// One record CPR or Jobnet would not take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownstreamRefusal {
    pub record_id: String,
    pub system: DownstreamSystem,
    /// A reason code ([`valid_reason_code`]), e.g. `username_taken`.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedConfirmResponse {
    /// Records newly marked registered (confirming twice is harmless).
    pub confirmed: u64,
    /// Refusals newly recorded (the same refusal twice is recorded once).
    #[serde(default)]
    pub refused: u64,
}

// -------------------------------------------------------------------- errors

/// The one error shape of the registry (RFC 9457, `application/problem+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `urn:skranke:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// English summary; desks show their own catalog text for `code`.
    pub title: String,
    pub status: u16,
    /// A stable code (`auth.signature`, `lease.retired`, …).
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use skranke_rules::cpr::Slot;

    fn issued() -> EventBody {
        EventBody::Issued(IssuedRecord {
            record_id: "D1-1".into(),
            number: "120874-4002".into(),
            source: NumberSource::Lease,
            issued_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            municipality: 101,
            person: PersonRecord {
                name_document: "Jürgen Müller".into(),
                name_latin: "JUERGEN MUELLER".into(),
                birth_date: NaiveDate::from_ymd_opt(1974, 8, 12).unwrap(),
                sex: Sex::Male,
                nationality: "DE".into(),
                document: DocumentSummary { kind: "passport".into(), issuing_state: "D".into(), expiry_date: None },
            },
            document_key: "dk".into(),
            person_key: "pk".into(),
            jobnet_username: "abc".into(),
            password_hash: "$argon2id$...".into(),
        })
    }

    #[test]
    fn a_reprint_without_a_username_hashes_as_it_did_before_the_field_existed() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let old = EventBody::Reprinted(Reprint {
            record_id: "D1-1".into(),
            reprinted_at: at,
            password_hash: "h".into(),
            jobnet_username: None,
        });
        let json = serde_json::to_value(&old).unwrap();
        assert_eq!(json["payload"].as_object().unwrap().len(), 3, "no new key: {json}");
        let with = EventBody::Reprinted(Reprint {
            record_id: "D1-1".into(),
            reprinted_at: at,
            password_hash: "h".into(),
            jobnet_username: Some("u".into()),
        });
        assert_ne!(old.content_hash(), with.content_hash());
    }

    #[test]
    fn a_sync_answer_without_refusals_reads_as_before_and_one_with_a_refusal_carries_it() {
        let old: RecordStateChange =
            serde_json::from_str(r#"{"record_id":"D1-1","state":"received","sequence":4}"#).unwrap();
        assert_eq!(old.downstream_refusal, None);
        assert!(!serde_json::to_string(&old).unwrap().contains("downstream_refusal"));
        let refused: RecordStateChange = serde_json::from_str(
            r#"{"record_id":"D1-1","state":"received","sequence":5,
                "downstream_refusal":{"system":"jobnet","reason":"username_taken","refused_at":"2026-12-01T10:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!(refused.downstream_refusal.unwrap().system, DownstreamSystem::Jobnet);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_so_field_order_never_changes_a_hash() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":3}],"x":"é"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"é","y":[1,{"p":3,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"é","y":[1,{"p":3,"q":2}]},"b":1}"#);
    }

    #[test]
    fn an_event_survives_the_wire_and_its_hash_still_matches() {
        let e = Event::new("D1:1", issued());
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""kind":"issued""#));
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.body.content_hash(), e.content_hash);
    }

    /// A newer desk's event with a field this version does not know is
    /// read, and its hash is the one over what was sent, so its own content
    /// hash matches (it does not become `invalid:content_hash`).
    #[test]
    fn an_unknown_field_is_read_and_hashed_as_received() {
        let e = Event::new("D1-1/issued", issued());
        let mut json = serde_json::to_value(&e).unwrap();
        json["payload"]["added_later"] = Value::from("x");
        let body = serde_json::json!({ "kind": json["kind"], "payload": json["payload"] });
        json["content_hash"] = Value::from(sha256_hex(canonical_json(&body).as_bytes()));
        let back: Event = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.body, e.body, "the known fields read as before");
        assert_eq!(back.received_hash(), json["content_hash"].as_str().unwrap());
        assert_ne!(back.received_hash(), back.body.content_hash(), "the typed body alone lacks the new field");
        let plain: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(plain.received_hash(), e.content_hash);
    }

    #[test]
    fn a_changed_field_changes_the_content_hash() {
        let a = issued();
        let mut b = issued();
        if let EventBody::Issued(r) = &mut b {
            r.number = "120874-4004".into();
        }
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn the_audit_chain_hash_covers_prev_hash_and_every_field_but_itself() {
        let e = AuditEntry {
            seq: 1,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            staff_id: Some(1),
            action: "record.issue".into(),
            record_id: Some("D1-1".into()),
            detail: None,
            prev_hash: audit_genesis("D1"),
            hash: String::new(),
        }
        .sealed();
        assert_eq!(e.hash, e.chain_hash());
        let mut other = e.clone();
        other.prev_hash = "1".repeat(64);
        assert_ne!(other.chain_hash(), e.hash);
        let mut other = e.clone();
        other.action = "record.void".into();
        assert_ne!(other.chain_hash(), e.hash);
        let mut other = e.clone();
        other.detail = Some("x".into());
        assert_ne!(other.chain_hash(), e.hash);
        let mut other = e.clone();
        other.staff_id = Some(2);
        assert_ne!(other.chain_hash(), e.hash);
    }

    #[test]
    fn the_signing_message_changes_with_every_signed_part() {
        let base = signing_message("POST", "/v1/sync", 1, "n", b"{}");
        assert_ne!(base, signing_message("GET", "/v1/sync", 1, "n", b"{}"));
        assert_ne!(base, signing_message("POST", "/v1/lease", 1, "n", b"{}"));
        assert_ne!(base, signing_message("POST", "/v1/sync", 2, "n", b"{}"));
        assert_ne!(base, signing_message("POST", "/v1/sync", 1, "m", b"{}"));
        assert_ne!(base, signing_message("POST", "/v1/sync", 1, "n", b"{ }"));
    }

    #[test]
    fn lease_units_travel_as_slot_and_rank() {
        let u = LeaseUnit::new(Slot::new(412).unwrap(), 3).unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), r#"{"slot":412,"rank":3}"#);
        let bad: Result<LeaseUnit, _> = serde_json::from_str(r#"{"slot":1412,"rank":0}"#);
        assert!(bad.is_err());
    }
}
