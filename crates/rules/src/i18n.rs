//! Message catalogs for every sentence a person reads.
//!
//! Text shown to staff never lives inline in code: it is looked up by a
//! stable key in a catalog file (`messages/<lang>/<module>.json`, merged per
//! language at build time), Danish by default. A template names its arguments in braces, e.g.
//! `"Dag {day} findes ikke"`, and [`render`] fills them in.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The language of the desk's UI and of CLI messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Danish, the default.
    #[default]
    Da,
    /// English.
    En,
}

impl Lang {
    /// All UI languages, the default first.
    pub const ALL: [Lang; 2] = [Lang::Da, Lang::En];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Da => "da",
            Lang::En => "en",
        }
    }

    /// Parses an ISO 639-1 code (`da`, `en`), case-insensitively.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "da" => Some(Lang::Da),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const DA: &str = include_str!(concat!(env!("OUT_DIR"), "/messages_da.json"));
const EN: &str = include_str!(concat!(env!("OUT_DIR"), "/messages_en.json"));

type Catalog = HashMap<String, String>;

fn catalog(lang: Lang) -> &'static Catalog {
    static DA_CAT: OnceLock<Catalog> = OnceLock::new();
    static EN_CAT: OnceLock<Catalog> = OnceLock::new();
    let (cell, src) = match lang {
        Lang::Da => (&DA_CAT, DA),
        Lang::En => (&EN_CAT, EN),
    };
    // The catalogs are compiled in and checked by the tests below, so a
    // parse failure is a build defect, not a runtime condition.
    cell.get_or_init(|| serde_json::from_str(src).expect("embedded message catalog is valid JSON"))
}

/// The template for `key`, or the key itself when no catalog has it (so a
/// missing translation shows up as a readable key, never as a crash).
pub fn text(lang: Lang, key: &str) -> &str {
    catalog(lang).get(key).or_else(|| catalog(Lang::En).get(key)).map(String::as_str).unwrap_or(key)
}

/// Renders the template for `key` with named arguments.
///
/// ```
/// use skranke_rules::i18n::{render, Lang};
/// let s = render(Lang::En, "cpr.error.month", &[("month", "13")]);
/// assert!(s.contains("13"));
/// ```
pub fn render(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let template = text(lang, key);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The plural form CLDR's rules give a whole count in `lang`: Danish and
/// English both say `one` for 1 and `other` for every other count (0, 2, 21).
/// The window's `Intl.PluralRules` gives the same forms.
pub fn plural_form(lang: Lang, count: u64) -> &'static str {
    match lang {
        Lang::Da | Lang::En if count == 1 => "one",
        Lang::Da | Lang::En => "other",
    }
}

/// Renders a count's text: the catalog holds one key per plural form
/// (`key.one`, `key.other`); `{count}` is filled with the number.
///
/// ```
/// use skranke_rules::i18n::{render_count, Lang};
/// assert_eq!(render_count(Lang::En, "report.pdf.count", 1, &[]), "1 record");
/// assert_eq!(render_count(Lang::Da, "report.pdf.count", 2, &[]), "2 sager");
/// ```
pub fn render_count(lang: Lang, key: &str, count: u64, args: &[(&str, &str)]) -> String {
    let n = count.to_string();
    let mut all: Vec<(&str, &str)> = vec![("count", n.as_str())];
    all.extend_from_slice(args);
    let form = format!("{key}.{}", plural_form(lang, count));
    let key = if catalog(lang).contains_key(&form) { form } else { format!("{key}.other") };
    render(lang, &key, &all)
}

/// The placeholder names of a template, for catalog consistency checks.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    names.sort_unstable();
    names
}

/// Every key of a language's catalog, sorted.
pub fn keys(lang: Lang) -> Vec<&'static str> {
    let mut keys: Vec<&str> = catalog(lang).keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_exactly_the_same_keys() {
        assert_eq!(keys(Lang::Da), keys(Lang::En));
    }

    #[test]
    fn translations_use_the_same_placeholders() {
        for key in keys(Lang::En) {
            assert_eq!(
                placeholders(text(Lang::Da, key)),
                placeholders(text(Lang::En, key)),
                "placeholders differ for {key}"
            );
        }
    }

    #[test]
    fn render_fills_named_arguments_and_keeps_unknown_ones_visible() {
        assert!(render(Lang::En, "cpr.error.month", &[("month", "13")]).contains("13"));
        assert!(render(Lang::En, "cpr.error.month", &[]).contains("{month}"));
    }

    #[test]
    fn an_unknown_key_renders_as_itself() {
        assert_eq!(render(Lang::Da, "no.such.key", &[]), "no.such.key");
    }

    #[test]
    fn a_count_takes_its_languages_plural_form() {
        assert_eq!(render_count(Lang::En, "report.pdf.count", 1, &[]), "1 record");
        assert_eq!(render_count(Lang::En, "report.pdf.count", 0, &[]), "0 records");
        assert_eq!(render_count(Lang::En, "report.pdf.count", 21, &[]), "21 records");
        assert_eq!(render_count(Lang::Da, "report.pdf.count", 1, &[]), "1 sag");
        assert_eq!(render_count(Lang::Da, "report.pdf.count", 2, &[]), "2 sager");
    }

    #[test]
    fn every_plural_family_has_the_one_and_other_forms_in_both_languages() {
        for lang in Lang::ALL {
            let keys = keys(lang);
            let mut families = 0;
            // A family is a key with a `.one` form (`shell.notice.other` is
            // the notice of kind "other", not a plural form).
            for base in keys.iter().filter_map(|k| k.strip_suffix(".one")) {
                families += 1;
                assert!(keys.contains(&format!("{base}.other").as_str()), "{base}.other missing in {lang:?}");
            }
            assert!(families > 0);
        }
    }

    /// The counts the CLI and the registry print as a sentence's subject
    /// read as the language says them: one form for 1, another for the
    /// rest, never a "record(s)" or "sag(er)" that fits both.
    #[test]
    fn the_command_lines_counts_agree_with_their_number() {
        let families = [
            "report.cli.saved",
            "retention.cli.erased",
            "retention.cli.would_erase",
            "retention.cli.flagged",
            "sync.cli.refused_waiting",
            "registry.purge_unconfirmed",
        ];
        for lang in Lang::ALL {
            for key in families {
                let one = render_count(lang, key, 1, &[]);
                let two = render_count(lang, key, 2, &[]);
                assert!(one.starts_with('1') || one.contains(" 1 "), "{key} ({lang:?}) does not show the count: {one}");
                assert_ne!(one.replacen('1', "2", 1), two, "{key} ({lang:?}) has one form for 1 and 2");
                for text in [&one, &two] {
                    assert!(!text.contains("(s)") && !text.contains("(er)"), "{key} ({lang:?}): {text}");
                }
            }
        }
    }

    #[test]
    fn lang_codes_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code(" EN "), Some(Lang::En));
        assert_eq!(Lang::from_code("sv"), None);
    }
}
