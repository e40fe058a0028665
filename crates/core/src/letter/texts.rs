//! The handout's text catalogs: one flat JSON file per language in
//! `crates/core/letters/<code>.json`, embedded at build time (`build.rs`).
//! A translator adds a language by adding a file with the same keys as
//! `en.json`; the tests below hold every catalog to that.
//!
//! Keys starting with `_` are about the catalog, never printed. The only one
//! is [`REVIEW_KEY`]: a catalog whose translation no native speaker has yet
//! checked carries it, with a note saying so (`build.rs` refuses any other
//! `_` key, so a misspelt marker cannot pass silently).

use std::collections::HashMap;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/letters.rs"));

/// The languages every handout carries, in print order.
pub const ALWAYS: [&str; 2] = ["da", "en"];

/// The meta key marking a translation that still needs a native speaker's
/// review; its value says who wrote it and what to check.
pub const REVIEW_KEY: &str = "_review";

/// One language's handout texts.
#[derive(Debug)]
pub struct LetterTexts {
    code: &'static str,
    map: HashMap<String, String>,
}

impl LetterTexts {
    /// The ISO 639-1 code, e.g. `pl`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Whether the language is written right to left: the direction of its
    /// own name (`language`), by the Unicode Bidirectional Algorithm.
    pub fn rtl(&self) -> bool {
        unicode_bidi::get_base_direction(self.get("language")) == unicode_bidi::Direction::Rtl
    }

    /// The catalog's review note, if its translation awaits a native
    /// speaker's review.
    pub fn needs_review(&self) -> Option<&str> {
        self.map.get(REVIEW_KEY).map(String::as_str)
    }

    /// The printed keys (not the `_` meta keys), sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.map.keys().map(String::as_str).filter(|k| !k.starts_with('_')).collect();
        k.sort_unstable();
        k
    }

    /// The text for `key`, falling back to English (the tests hold every
    /// catalog to English's keys, so the empty last resort never prints).
    pub fn get<'s>(&'s self, key: &str) -> &'s str {
        self.map.get(key).or_else(|| find("en").and_then(|en| en.map.get(key))).map(String::as_str).unwrap_or("")
    }

    /// The text for `key` with `{name}` placeholders filled in.
    pub fn render(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut out = self.get(key).to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

fn all() -> &'static [LetterTexts] {
    static ALL: OnceLock<Vec<LetterTexts>> = OnceLock::new();
    ALL.get_or_init(|| {
        LETTER_CATALOGS
            .iter()
            .map(|(code, src)| LetterTexts {
                code,
                // build.rs has parsed every file already; an empty map here
                // would only mean a build defect, and `get` falls back to English.
                map: serde_json::from_str(src).unwrap_or_default(),
            })
            .collect()
    })
}

/// The catalog for a language code (case-insensitive), if one ships.
pub fn find(code: &str) -> Option<&'static LetterTexts> {
    let code = code.trim().to_ascii_lowercase();
    all().iter().find(|t| t.code == code)
}

/// Every language a handout can be printed in, by code.
pub fn available() -> Vec<&'static str> {
    all().iter().map(|t| t.code).collect()
}

/// The languages of one handout: Danish and English, then the applicant's
/// language when a catalog exists for it (otherwise Danish and English only).
pub fn handout_languages(applicant: Option<&str>) -> Vec<&'static LetterTexts> {
    let mut langs: Vec<&'static LetterTexts> = ALWAYS.iter().filter_map(|c| find(c)).collect();
    if let Some(extra) = applicant.and_then(find) {
        if !langs.iter().any(|l| l.code == extra.code) {
            langs.push(extra);
        }
    }
    langs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::placeholders;

    fn keys(t: &LetterTexts) -> Vec<&str> {
        t.keys()
    }

    #[test]
    fn the_required_languages_ship() {
        for code in ["da", "en", "pl", "ro", "de", "lt", "bg", "es", "it", "lv", "el", "ar", "fa", "ti"] {
            assert!(find(code).is_some(), "no handout catalog for {code}");
        }
    }

    #[test]
    fn every_catalog_has_exactly_the_keys_of_english() {
        let en = find("en").unwrap();
        assert!(!en.map.is_empty());
        for t in all() {
            assert_eq!(keys(t), keys(en), "keys of letters/{}.json differ from en.json", t.code);
        }
    }

    #[test]
    fn every_catalog_uses_the_placeholders_of_english() {
        let en = find("en").unwrap();
        for t in all() {
            for key in keys(en) {
                assert_eq!(placeholders(t.get(key)), placeholders(en.get(key)), "{key} in {}", t.code);
            }
        }
    }

    #[test]
    fn no_catalog_text_is_empty_or_left_in_english() {
        let en = find("en").unwrap();
        for t in all().iter().filter(|t| t.code != "en") {
            for key in ["title", "next.wait", "next.mitid", "rights", "lapse", "privacy.purpose"] {
                assert!(!t.get(key).trim().is_empty(), "{key} empty in {}", t.code);
                assert_ne!(t.get(key), en.get(key), "{key} untranslated in {}", t.code);
            }
        }
    }

    #[test]
    fn a_handout_is_danish_and_english_plus_a_known_applicant_language() {
        let codes = |a: Option<&str>| handout_languages(a).iter().map(|t| t.code()).collect::<Vec<_>>();
        assert_eq!(codes(None), ["da", "en"]);
        assert_eq!(codes(Some("PL")), ["da", "en", "pl"]);
        assert_eq!(codes(Some("en")), ["da", "en"]);
        assert_eq!(codes(Some("xx")), ["da", "en"]);
    }

    /// The Arabic, Persian and Tigrinya texts were written for Skranke
    /// without a native speaker: they carry the review marker until one has
    /// checked them (then the marker and this list shrink together). The
    /// reviewed catalogs carry none, and a note is a sentence, not a flag.
    #[test]
    fn unreviewed_translations_are_marked_and_only_they() {
        let unreviewed: Vec<&str> = all().iter().filter(|t| t.needs_review().is_some()).map(|t| t.code()).collect();
        assert_eq!(unreviewed, ["ar", "fa", "ti"]);
        for t in all() {
            if let Some(note) = t.needs_review() {
                assert!(note.split_whitespace().count() >= 5, "{}: {note:?}", t.code());
            }
        }
    }

    /// Arabic and Persian are set right to left, the others left to right.
    #[test]
    fn the_direction_comes_from_the_languages_own_name() {
        let rtl: Vec<&str> = all().iter().filter(|t| t.rtl()).map(|t| t.code()).collect();
        assert_eq!(rtl, ["ar", "fa"]);
    }

    #[test]
    fn render_fills_placeholders() {
        assert!(find("en").unwrap().render("lapse", &[("days", "14")]).contains("14 days"));
    }
}
