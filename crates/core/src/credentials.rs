//! The applicant's first Jobnet login: a username, an initial password and
//! the Argon2id hash that is all the desk keeps of that password.
//!
//! * The [`Username`] is built from the desk's number and a desk-local
//!   sequence, so two desks can never make the same one, even offline. It
//!   carries no personal data and ends in a check character.
//! * The [`InitialPassword`] comes from the operating system's secure random
//!   source (through [`SecureRandom`], so tests can pass a fixed source). It
//!   lives in memory until the handout is rendered and is wiped on drop; it
//!   has no `Display` and its `Debug` hides it.
//! * Only a [`PasswordHash`] (Argon2id, PHC string) is stored and synced.
//!
//! Both username and password use [`ALPHABET`]: 23 upper-case characters
//! chosen so that nothing on the printed page can be read as something else:
//! none of 0/O/Q, 1/I/L, 5/S or U/V, and of 6/G, 2/Z, 8/B only the digit.
//! 23 is prime, which the check character relies on.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::i18n::{self, Lang};

/// The characters of usernames and passwords, in value order. Its length is
/// the prime 23, the modulus of the check character.
pub const ALPHABET: &[u8; 23] = b"2346789ACDEFHJKMNPRTWXY";

const BASE: u64 = ALPHABET.len() as u64;

/// Password length in characters: 16 characters of 23 give 72.4 bits of
/// entropy (the brief asks for at least 64), printed as four groups of four.
pub const PASSWORD_LEN: usize = 16;

/// Characters per printed password group.
pub const PASSWORD_GROUP: usize = 4;

/// Days after registration until an unchanged initial password lapses, unless
/// the desk's settings say otherwise (setting `password_lapse_days`).
pub const DEFAULT_PASSWORD_LAPSE_DAYS: u16 = 14;

/// The range a desk may set the password lapse to, in days.
pub const PASSWORD_LAPSE_DAYS_RANGE: std::ops::RangeInclusive<u16> = 1..=365;

/// Argon2id memory cost in KiB (19 MiB, OWASP's minimum for Argon2id).
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;

/// Minimum digits of the sequence part, so that a desk's first usernames are
/// not conspicuously short.
const MIN_SEQ_DIGITS: usize = 3;

/// Why credentials could not be made or read. Each has a stable
/// [`code`](CredentialError::code) and a catalog message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// A username with characters outside the alphabet or the wrong shape.
    #[error("username format")]
    UsernameFormat,
    /// A username whose check character does not match: a typing mistake.
    #[error("username check character")]
    UsernameCheck,
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Argon2 refused to hash or the stored hash is not a PHC string.
    #[error("hash: {0}")]
    Hash(String),
    /// A password lapse setting outside 1–365 days.
    #[error("lapse days {0}")]
    LapseDays(i64),
}

impl CredentialError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::UsernameFormat => "credentials.username_format",
            CredentialError::UsernameCheck => "credentials.username_check",
            CredentialError::Random(_) => "credentials.random",
            CredentialError::Hash(_) => "credentials.hash",
            CredentialError::LapseDays(_) => "credentials.lapse_days",
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = format!("credentials.error.{}", &self.code()["credentials.".len()..]);
        match self {
            CredentialError::UsernameFormat | CredentialError::UsernameCheck => i18n::render(lang, &key, &[]),
            CredentialError::Random(detail) | CredentialError::Hash(detail) => {
                i18n::render(lang, &key, &[("detail", detail)])
            }
            CredentialError::LapseDays(days) => i18n::render(
                lang,
                &key,
                &[
                    ("days", &days.to_string()),
                    ("min", &PASSWORD_LAPSE_DAYS_RANGE.start().to_string()),
                    ("max", &PASSWORD_LAPSE_DAYS_RANGE.end().to_string()),
                ],
            ),
        }
    }
}

/// The secure random source credentials are drawn from. Production uses
/// [`OsRandom`]; tests pass a fixed source so that results are repeatable.
pub trait SecureRandom {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), CredentialError>;
}

/// The operating system's secure random source (`getrandom`: `getrandom(2)`
/// on Linux, `ProcessPrng` on Windows).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), CredentialError> {
        getrandom::fill(buf).map_err(|e| CredentialError::Random(e.to_string()))
    }
}

fn value_of(c: u8) -> Option<u64> {
    let c = c.to_ascii_uppercase();
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

/// Appends `n` in base 23, most significant first, padded to `min` digits.
fn push_digits(out: &mut Vec<u8>, mut n: u64, min: usize) {
    let mut digits = Vec::with_capacity(14);
    while n > 0 || digits.len() < min.max(1) {
        digits.push(ALPHABET[(n % BASE) as usize]);
        n /= BASE;
    }
    out.extend(digits.iter().rev());
}

/// Weighted sum mod 23 with weights 1, 2, …, 22, 1, 2, … counted from the
/// right (the check character has weight 1). Every weight is non-zero mod 23,
/// so changing one character always changes the sum; adjacent weights differ
/// by 1 or 21, so swapping two different adjacent characters changes it too.
fn check_value(body: &[u64]) -> u64 {
    let n = body.len() as u64;
    let sum: u64 = body.iter().enumerate().map(|(i, v)| ((n - i as u64) % (BASE - 1) + 1) * v).sum();
    // The check value c makes sum + 1·c ≡ 0.
    (BASE - sum % BASE) % BASE
}

/// A Jobnet username, e.g. `3P23T9` (desk 17, sequence 42): unique across all desks by
/// construction, no personal data, one check character at the end.
///
/// Layout: one character giving how many characters the desk number takes
/// (`k`), the desk number in `k` base-23 digits, the desk's sequence number in
/// at least three base-23 digits, the check character. The desk part is
/// self-delimiting, so different (desk, sequence) pairs can never give the
/// same text. Desk 17's 42nd login is 7 characters long; a training desk with
/// a random 32-bit number gets at most 13.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username {
    text: String,
    desk: u32,
    seq: u64,
}

impl Username {
    /// The username of the desk's `seq`-th login. `desk` is the desk's number
    /// as the registry assigned it at enrolment (a training desk's random one);
    /// `seq` is the desk-local sequence that also numbers its records.
    pub fn new(desk: u32, seq: u64) -> Username {
        let mut desk_digits = Vec::new();
        push_digits(&mut desk_digits, u64::from(desk), 1);
        let mut text = vec![ALPHABET[desk_digits.len()]];
        text.extend_from_slice(&desk_digits);
        push_digits(&mut text, seq, MIN_SEQ_DIGITS);
        let values: Vec<u64> = text.iter().filter_map(|&c| value_of(c)).collect();
        text.push(ALPHABET[check_value(&values) as usize]);
        // Every byte comes from ALPHABET, which is ASCII.
        let text = text.into_iter().map(char::from).collect();
        Username { text, desk, seq }
    }

    /// Reads a username typed by staff or found in a file: case-insensitive,
    /// surrounding whitespace ignored; the check character must match.
    pub fn parse(input: &str) -> Result<Username, CredentialError> {
        let bytes = input.trim().as_bytes();
        let values: Vec<u64> =
            bytes.iter().map(|&c| value_of(c)).collect::<Option<_>>().ok_or(CredentialError::UsernameFormat)?;
        let (&check, body) = values.split_last().ok_or(CredentialError::UsernameFormat)?;
        if check_value(body) != check {
            return Err(CredentialError::UsernameCheck);
        }
        let (&len, rest) = body.split_first().ok_or(CredentialError::UsernameFormat)?;
        let len = len as usize;
        if len == 0 || rest.len() < len + MIN_SEQ_DIGITS {
            return Err(CredentialError::UsernameFormat);
        }
        let number = |digits: &[u64]| {
            digits.iter().try_fold(0u64, |acc, &d| acc.checked_mul(BASE).and_then(|a| a.checked_add(d)))
        };
        let desk = number(&rest[..len]).and_then(|d| u32::try_from(d).ok()).ok_or(CredentialError::UsernameFormat)?;
        let seq = number(&rest[len..]).ok_or(CredentialError::UsernameFormat)?;
        // Only the canonical spelling is a username (no extra leading digits).
        let parsed = Username::new(desk, seq);
        if !parsed.text.eq_ignore_ascii_case(std::str::from_utf8(bytes).unwrap_or_default()) {
            return Err(CredentialError::UsernameFormat);
        }
        Ok(parsed)
    }

    /// The username as printed and typed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The desk number it was made from.
    pub fn desk(&self) -> u32 {
        self.desk
    }

    /// The desk-local sequence it was made from.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.text)
    }
}

impl TryFrom<String> for Username {
    type Error = CredentialError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.text
    }
}

/// The first password of a Jobnet login, in memory only: it is printed on
/// the handout and then dropped, which wipes it. It cannot be displayed,
/// serialised or logged; [`expose_grouped`](InitialPassword::expose_grouped)
/// is the one way out, for the letter renderer.
pub struct InitialPassword {
    chars: Zeroizing<[u8; PASSWORD_LEN]>,
}

impl InitialPassword {
    /// Draws a new password, each character uniform over [`ALPHABET`]
    /// (rejection sampling, so no character is more likely than another).
    pub fn generate(rng: &mut impl SecureRandom) -> Result<InitialPassword, CredentialError> {
        // 253 = 11 × 23: bytes at or above it would bias the draw.
        const LIMIT: u8 = (256 / BASE as usize * BASE as usize) as u8;
        let mut chars = Zeroizing::new([0u8; PASSWORD_LEN]);
        let mut filled = 0;
        let mut pool = Zeroizing::new([0u8; 32]);
        while filled < PASSWORD_LEN {
            rng.fill(&mut pool[..])?;
            for &b in pool.iter() {
                if b < LIMIT && filled < PASSWORD_LEN {
                    chars[filled] = ALPHABET[usize::from(b) % ALPHABET.len()];
                    filled += 1;
                }
            }
        }
        Ok(InitialPassword { chars })
    }

    /// The password as printed: four groups of four separated by spaces,
    /// e.g. `K7TX 4M9C RWN3 PAHE`. Only the handout renderer calls this.
    pub fn expose_grouped(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(PASSWORD_LEN + PASSWORD_LEN / PASSWORD_GROUP));
        for (i, &c) in self.chars.iter().enumerate() {
            if i > 0 && i % PASSWORD_GROUP == 0 {
                s.push(' ');
            }
            s.push(char::from(c));
        }
        s
    }

    /// The Argon2id hash to store and sync, with a fresh random salt.
    pub fn hash(&self, rng: &mut impl SecureRandom) -> Result<PasswordHash, CredentialError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| CredentialError::Hash(e.to_string()))?;
        let phc = argon2()?.hash_password(&self.chars[..], &salt).map_err(|e| CredentialError::Hash(e.to_string()))?;
        Ok(PasswordHash(phc.to_string()))
    }
}

impl fmt::Debug for InitialPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialPassword(***)")
    }
}

fn argon2() -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| CredentialError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An Argon2id hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`):
/// what the desk stores and syncs instead of the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A stored PHC string, checked for shape.
    pub fn from_phc(phc: &str) -> Result<PasswordHash, CredentialError> {
        argon2::PasswordHash::new(phc).map_err(|e| CredentialError::Hash(e.to_string()))?;
        Ok(PasswordHash(phc.to_owned()))
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the password this hash was made from. Spaces
    /// are ignored, since the handout prints the password in groups.
    pub fn verify(&self, candidate: &str) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(&self.0) else { return false };
        let mut typed: Zeroizing<Vec<u8>> = Zeroizing::new(candidate.bytes().filter(|b| *b != b' ').collect());
        let ok = Argon2::default().verify_password(&typed, &parsed).is_ok();
        typed.zeroize();
        ok
    }
}

/// A fresh login: what issuing and reprinting create. The username is
/// stored with the record, the hash replaces any earlier one, and the
/// password goes to the handout renderer and is then dropped.
#[derive(Debug)]
pub struct Credentials {
    pub username: Username,
    pub password: InitialPassword,
    pub hash: PasswordHash,
}

impl Credentials {
    /// The first login for the desk's record number `seq`.
    pub fn issue(desk: u32, seq: u64, rng: &mut impl SecureRandom) -> Result<Credentials, CredentialError> {
        Credentials::with_username(Username::new(desk, seq), rng)
    }

    /// A new password for an existing username (a reprint: the old hash is
    /// superseded by the new one).
    pub fn with_username(username: Username, rng: &mut impl SecureRandom) -> Result<Credentials, CredentialError> {
        let password = InitialPassword::generate(rng)?;
        let hash = password.hash(rng)?;
        Ok(Credentials { username, password, hash })
    }
}

/// How many days after registration an unchanged initial password lapses
/// (setting `password_lapse_days`, default 14). The handout says it in words,
/// since an offline desk cannot know the registration date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct LapseDays(u16);

impl LapseDays {
    /// A setting value, checked against 1–365 days.
    pub fn new(days: i64) -> Result<LapseDays, CredentialError> {
        u16::try_from(days)
            .ok()
            .filter(|d| PASSWORD_LAPSE_DAYS_RANGE.contains(d))
            .map(LapseDays)
            .ok_or(CredentialError::LapseDays(days))
    }

    /// The number of days.
    pub fn days(self) -> u16 {
        self.0
    }
}

impl Default for LapseDays {
    fn default() -> Self {
        LapseDays(DEFAULT_PASSWORD_LAPSE_DAYS)
    }
}

impl TryFrom<i64> for LapseDays {
    type Error = CredentialError;
    fn try_from(days: i64) -> Result<Self, Self::Error> {
        LapseDays::new(days)
    }
}

impl From<LapseDays> for i64 {
    fn from(d: LapseDays) -> i64 {
        i64::from(d.0)
    }
}

/// A deterministic stand-in for the OS random source, for tests across the
/// crate (issuing, the letter): splitmix64 from a seed. Never for production.
#[cfg(test)]
pub(crate) struct TestRandom(pub u64);

#[cfg(test)]
impl SecureRandom for TestRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), CredentialError> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_alphabet_has_a_prime_size_and_no_look_alikes() {
        assert!((2..BASE).all(|d| BASE % d != 0));
        for c in b"0OQ1IL5SUVGZB" {
            assert!(!ALPHABET.contains(c), "{} is a look-alike", char::from(*c));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len());
    }

    #[test]
    fn a_username_is_short_for_a_registry_desk() {
        let u = Username::new(17, 42);
        assert_eq!(u.as_str().len(), 1 + 1 + 3 + 1);
        assert!(Username::new(u32::MAX, u64::from(u32::MAX)).as_str().len() <= 1 + 8 + 8 + 1);
    }

    proptest! {
        #[test]
        fn different_desk_and_sequence_give_different_usernames(
            a in (any::<u32>(), 0u64..10_000_000), b in (any::<u32>(), 0u64..10_000_000)
        ) {
            prop_assume!(a != b);
            prop_assert_ne!(Username::new(a.0, a.1), Username::new(b.0, b.1));
        }

        #[test]
        fn a_username_parses_back_to_its_desk_and_sequence(desk in any::<u32>(), seq in any::<u64>()) {
            let u = Username::new(desk, seq);
            let back = Username::parse(&u.as_str().to_ascii_lowercase()).unwrap();
            prop_assert_eq!(back.desk(), desk);
            prop_assert_eq!(back.seq(), seq);
        }

        #[test]
        fn any_single_mistyped_character_is_caught(desk in any::<u32>(), seq in any::<u64>(), pos in 0usize..30, sub in 0usize..23) {
            let u = Username::new(desk, seq);
            let mut bytes = u.as_str().as_bytes().to_vec();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos] != ALPHABET[sub]);
            bytes[pos] = ALPHABET[sub];
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(Username::parse(&typo).is_err(), "{} accepted for {}", typo, u);
        }

        #[test]
        fn any_adjacent_transposition_is_caught(desk in any::<u32>(), seq in any::<u64>(), pos in 0usize..30) {
            let u = Username::new(desk, seq);
            let mut bytes = u.as_str().as_bytes().to_vec();
            let pos = pos % (bytes.len() - 1);
            prop_assume!(bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(Username::parse(&typo).is_err(), "{} accepted for {}", typo, u);
        }

        #[test]
        fn username_parse_never_panics(s in "\\PC{0,30}") {
            let _ = Username::parse(&s);
        }
    }

    #[test]
    fn a_username_with_a_foreign_character_is_a_format_error() {
        assert_eq!(Username::parse("3M6D4O2"), Err(CredentialError::UsernameFormat));
        assert_eq!(Username::parse(""), Err(CredentialError::UsernameFormat));
    }

    #[test]
    fn a_password_has_sixteen_alphabet_characters_in_four_groups() {
        let p = InitialPassword::generate(&mut TestRandom(7)).unwrap();
        let grouped = p.expose_grouped();
        let groups: Vec<&str> = grouped.split(' ').collect();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|c| ALPHABET.contains(&c))));
    }

    #[test]
    fn password_entropy_is_at_least_64_bits() {
        assert!(PASSWORD_LEN as f64 * (ALPHABET.len() as f64).log2() >= 64.0);
    }

    #[test]
    fn different_random_sources_give_different_passwords() {
        let a = InitialPassword::generate(&mut TestRandom(1)).unwrap();
        let b = InitialPassword::generate(&mut TestRandom(2)).unwrap();
        assert_ne!(*a.expose_grouped(), *b.expose_grouped());
        let c = InitialPassword::generate(&mut OsRandom).unwrap();
        let d = InitialPassword::generate(&mut OsRandom).unwrap();
        assert_ne!(*c.expose_grouped(), *d.expose_grouped());
    }

    #[test]
    fn password_characters_are_drawn_without_bias() {
        let mut counts = [0u32; 23];
        let mut rng = TestRandom(99);
        for _ in 0..2000 {
            let p = InitialPassword::generate(&mut rng).unwrap();
            for c in p.expose_grouped().bytes().filter(|&c| c != b' ') {
                counts[ALPHABET.iter().position(|&a| a == c).unwrap()] += 1;
            }
        }
        // 32,000 draws, 1,391 expected per character; 5 sigma is about 180.
        let expected = 2000.0 * 16.0 / 23.0;
        for (i, &n) in counts.iter().enumerate() {
            assert!((f64::from(n) - expected).abs() < 180.0, "{} drawn {n} times", char::from(ALPHABET[i]));
        }
    }

    #[test]
    fn debug_never_reveals_the_password() {
        let creds = Credentials::issue(17, 42, &mut TestRandom(3)).unwrap();
        let shown = format!("{creds:?} {:?}", creds.password);
        assert!(shown.contains("InitialPassword(***)"));
        let plain: String = creds.password.expose_grouped().replace(' ', "");
        assert!(!shown.contains(&plain));
        for group in creds.password.expose_grouped().split(' ') {
            assert!(!shown.contains(group), "{group} leaked in {shown}");
        }
    }

    #[test]
    fn the_hash_is_argon2id_with_the_required_parameters_and_verifies() {
        let creds = Credentials::issue(17, 42, &mut TestRandom(4)).unwrap();
        let phc = creds.hash.as_str();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let grouped = creds.password.expose_grouped();
        assert!(creds.hash.verify(&grouped));
        assert!(creds.hash.verify(&grouped.replace(' ', "")));
        assert!(!creds.hash.verify("2222 2222 2222 2222"));
        assert!(!phc.contains(&grouped.replace(' ', "")));
        assert_eq!(PasswordHash::from_phc(phc).unwrap(), creds.hash);
        assert!(PasswordHash::from_phc("not a hash").is_err());
    }

    #[test]
    fn a_reprint_gets_a_new_password_and_salt_for_the_same_username() {
        let mut rng = TestRandom(5);
        let first = Credentials::issue(17, 42, &mut rng).unwrap();
        let again = Credentials::with_username(first.username.clone(), &mut rng).unwrap();
        assert_eq!(first.username, again.username);
        assert_ne!(*first.password.expose_grouped(), *again.password.expose_grouped());
        assert_ne!(first.hash, again.hash);
        assert!(!again.hash.verify(&first.password.expose_grouped()));
    }

    #[test]
    fn lapse_days_default_to_14_and_stay_within_a_year() {
        assert_eq!(LapseDays::default().days(), 14);
        assert!(LapseDays::new(0).is_err());
        assert!(LapseDays::new(366).is_err());
        assert!(LapseDays::new(-3).is_err());
        assert_eq!(LapseDays::new(30).unwrap().days(), 30);
    }

    #[test]
    fn every_credential_error_has_a_message_in_both_languages() {
        let all = [
            CredentialError::UsernameFormat,
            CredentialError::UsernameCheck,
            CredentialError::Random("x".into()),
            CredentialError::Hash("x".into()),
            CredentialError::LapseDays(0),
        ];
        for e in all {
            for lang in Lang::ALL {
                let m = e.message(lang);
                assert!(!m.starts_with("credentials.") && !m.contains('{'), "{m}");
            }
        }
    }
}
