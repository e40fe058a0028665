//! What the registry signs and a desk verifies: the registry's own Ed25519
//! key, its fingerprint in the enrolment code, signed answers, endorsements
//! that carry a desk from one registry key to the next, and sequence
//! receipts that let a desk prove the registry was restored from a backup.
//!
//! # Why each piece exists
//!
//! - **Signed answers.** TLS protects the hop, not the whole path: a
//!   TLS-terminating proxy or a plain-HTTP hop inside a municipality's
//!   network could otherwise change what a desk is told (erase this, stop
//!   issuing, here is a new lease). Every answer to a desk, refusals
//!   included, is signed over [`answer_signing_message`]: the request's
//!   nonce (so an old answer cannot be replayed to a new request), the HTTP
//!   status and the SHA-256 of the body. A desk acts on nothing unsigned.
//! - **The fingerprint in the enrolment code.** The first contact is
//!   verified too: the code an operator hands out ends in the fingerprint
//!   of the key that will sign the answers ([`key_fingerprint`]); the desk
//!   pins that key in the OS key store.
//! - **Endorsements.** A key is rotated with an overlap: the new key's
//!   answers carry the old key's signature over the new public key and an
//!   end time ([`endorsement_message`]). A desk pinned to the old key moves
//!   to the new one when the endorsement verifies and has not ended.
//! - **Sequence receipts.** Every answer that carries a `registry_sequence`
//!   also carries the registry's signature over that sequence and the
//!   desk's ID ([`receipt_message`]). A desk that later sees a lower
//!   sequence presents its highest receipt; the registry verifies its own
//!   signature and only then believes it was restored. A number nobody
//!   signed proves nothing.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::sha256_hex;

/// Answer headers of every signed answer.
pub mod header {
    /// Hex Ed25519 signature over [`super::answer_signing_message`].
    pub const ANSWER_SIGNATURE: &str = "x-skranke-answer-signature";
    /// Hex public key that made the signature.
    pub const REGISTRY_KEY: &str = "x-skranke-registry-key";
    /// While a rotation overlaps: the previous key's hex signature over
    /// [`super::endorsement_message`] for [`REGISTRY_KEY`].
    pub const KEY_ENDORSEMENT: &str = "x-skranke-key-endorsement";
    /// The endorsement's end, Unix seconds.
    pub const KEY_ENDORSED_UNTIL: &str = "x-skranke-key-endorsed-until";
}

/// How far ahead of both the desk's clock and the last registry time it
/// accepted a desk lets a registry time be. Further is refused and shown,
/// not obeyed: one such answer would otherwise stop the desk from issuing
/// until its clock caught up.
pub const MAX_REGISTRY_TIME_AHEAD_SECS: i64 = 3600;

/// Characters of an enrolment code's secret part, and of its fingerprint part.
pub const CODE_SECRET_LEN: usize = 16;
pub const CODE_FINGERPRINT_LEN: usize = 16;

/// Letters and digits that cannot be mistaken for one another when read
/// aloud or typed from paper (no 0/O, 1/I/L, U/V): enrolment codes and
/// fingerprints use only these.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";

/// The bytes the registry signs for an answer:
/// `skranke-answer-v1\nnonce\nstatus\nsha256(body)`.
///
/// ```
/// use skranke_protocol::trust::answer_signing_message;
/// let m = answer_signing_message("ab12", 200, b"{}");
/// assert!(String::from_utf8(m).unwrap().starts_with("skranke-answer-v1\nab12\n200\n"));
/// ```
pub fn answer_signing_message(nonce: &str, status: u16, body: &[u8]) -> Vec<u8> {
    format!("skranke-answer-v1\n{nonce}\n{status}\n{}", sha256_hex(body)).into_bytes()
}

/// What an old key signs to hand desks over to a new one.
pub fn endorsement_message(new_key: &[u8; 32], until: i64) -> Vec<u8> {
    format!("skranke-key-endorsement-v1\n{}\n{until}", hex::encode(new_key)).into_bytes()
}

/// What the registry signs for each `registry_sequence` it tells a desk.
pub fn receipt_message(desk_id: &str, sequence: i64) -> Vec<u8> {
    format!("skranke-sequence-v1\n{desk_id}\n{sequence}").into_bytes()
}

/// The fingerprint of a registry public key as it ends an enrolment code:
/// [`CODE_FINGERPRINT_LEN`] characters of [`CODE_ALPHABET`] (about 78 bits),
/// drawn from SHA-256 of the key.
///
/// ```
/// use skranke_protocol::trust::key_fingerprint;
/// let f = key_fingerprint(&[7u8; 32]);
/// assert_eq!(f.len(), 16);
/// assert_ne!(f, key_fingerprint(&[8u8; 32]));
/// ```
pub fn key_fingerprint(public_key: &[u8; 32]) -> String {
    let mut input = b"skranke-registry-key-v1\n".to_vec();
    input.extend_from_slice(public_key);
    let digest = hex::decode(sha256_hex(&input)).unwrap_or_default();
    digest
        .iter()
        .take(CODE_FINGERPRINT_LEN)
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect()
}

/// An enrolment code as typed: case, dashes and spaces do not matter.
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Splits an enrolment code into its secret (sent to the registry) and the
/// fingerprint of the registry key (checked by the desk, never sent).
/// `None` unless the code has exactly the two parts' length in
/// [`CODE_ALPHABET`].
///
/// ```
/// use skranke_protocol::trust::split_enrolment_code;
/// let (secret, fp) = split_enrolment_code("abcd-efgh-jkmn-pqrs-2345-6789-ABCD-EFGH").unwrap();
/// assert_eq!(secret, "ABCDEFGHJKMNPQRS");
/// assert_eq!(fp, "23456789ABCDEFGH");
/// assert!(split_enrolment_code("ABCD-EFGH-JKMN-PQRS").is_none());
/// ```
pub fn split_enrolment_code(code: &str) -> Option<(String, String)> {
    let normal = normalize_code(code);
    if normal.len() != CODE_SECRET_LEN + CODE_FINGERPRINT_LEN || !normal.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return None;
    }
    let (secret, fingerprint) = normal.split_at(CODE_SECRET_LEN);
    Some((secret.to_string(), fingerprint.to_string()))
}

/// Groups a code in fours for people: `ABCD-EFGH-…`.
pub fn group_code(normal: &str) -> String {
    normal.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// A 32-byte public key from hex, if it is one.
pub fn public_key_from_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    let key: [u8; 32] = bytes.try_into().ok()?;
    VerifyingKey::from_bytes(&key).ok()?;
    Some(key)
}

/// Whether `signature_hex` is `public_key`'s Ed25519 signature of `message`
/// (strict verification: no malleable or small-order forms).
pub fn verify(public_key: &[u8; 32], message: &[u8], signature_hex: &str) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else { return false };
    let Some(bytes) = hex::decode(signature_hex.trim()).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&bytes)).is_ok()
}

/// `GET /v1/registry-key`: the key that signs answers, before a desk spends
/// its enrolment code. The answer is signed like every other, over the
/// nonce the desk sent in `x-skranke-nonce`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryKeyAnswer {
    /// Hex Ed25519 public key.
    pub registry_key: String,
    /// [`key_fingerprint`] of it, as the enrolment code ends.
    pub fingerprint: String,
}

/// A range of a desk's record counter, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqRange {
    pub first: u64,
    pub last: u64,
}

/// After a restore, until the desk is reconciled: what the registry no
/// longer holds of this desk, so that the desk resends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaited {
    /// The desk's records (by the counter that ends each record ID,
    /// `<desk>-<n>`) the registry does not hold, in ascending ranges.
    pub missing_records: Vec<SeqRange>,
    /// How many of the desk's outbox events the registry holds (accepted
    /// or already held): fewer than the desk had answered means events on
    /// records it still holds were lost too.
    pub events_held: u64,
    /// The last audit entry of the desk whose chain link the registry holds
    /// (0 for none): the desk resends from the one after it.
    pub audit_seq: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn a_signature_verifies_only_for_its_own_message_and_key() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let other = SigningKey::from_bytes(&[4u8; 32]);
        let public = key.verifying_key().to_bytes();
        let message = answer_signing_message("n1", 200, b"{\"a\":1}");
        let signature = hex::encode(key.sign(&message).to_bytes());
        assert!(verify(&public, &message, &signature));
        assert!(!verify(&public, &answer_signing_message("n2", 200, b"{\"a\":1}"), &signature), "another nonce");
        assert!(!verify(&public, &answer_signing_message("n1", 403, b"{\"a\":1}"), &signature), "another status");
        assert!(!verify(&public, &answer_signing_message("n1", 200, b"{\"a\":2}"), &signature), "another body");
        assert!(!verify(&other.verifying_key().to_bytes(), &message, &signature), "another key");
        assert!(!verify(&public, &message, "zz"), "not hex");
        assert!(!verify(&public, &message, ""), "empty");
    }

    #[test]
    fn receipts_and_endorsements_name_what_they_are_for() {
        assert_ne!(receipt_message("D1", 5), receipt_message("D2", 5));
        assert_ne!(receipt_message("D1", 5), receipt_message("D1", 6));
        assert_ne!(endorsement_message(&[1; 32], 10), endorsement_message(&[1; 32], 11));
        assert_ne!(endorsement_message(&[1; 32], 10), endorsement_message(&[2; 32], 10));
    }

    #[test]
    fn an_enrolment_code_splits_into_secret_and_fingerprint_whatever_its_dashes_and_case() {
        let fp = key_fingerprint(&SigningKey::from_bytes(&[9u8; 32]).verifying_key().to_bytes());
        let code = group_code(&format!("ABCDEFGHJKMNPQRS{fp}"));
        assert_eq!(code.len(), 39);
        let (secret, got) = split_enrolment_code(&code.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!((secret.as_str(), got.as_str()), ("ABCDEFGHJKMNPQRS", fp.as_str()));
        // A letter outside the alphabet (an O for a 0) is a typing error, not a code.
        assert!(split_enrolment_code(&code.replacen('A', "O", 1)).is_none());
        assert!(split_enrolment_code(&code[..code.len() - 1]).is_none());
    }

    #[test]
    fn only_a_valid_public_key_is_read_from_hex() {
        let public = SigningKey::from_bytes(&[5u8; 32]).verifying_key().to_bytes();
        assert_eq!(public_key_from_hex(&hex::encode(public)), Some(public));
        assert_eq!(public_key_from_hex("abcd"), None);
        assert_eq!(public_key_from_hex(&"g".repeat(64)), None);
    }
}
