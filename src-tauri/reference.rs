//! The lists the window's pickers offer, from the core (one source, no copy
//! in the UI): the 98 municipalities by code and name, and the languages a
//! handout can carry with the default each nationality suggests. Desk-level
//! and without a session: first start needs the municipalities. The
//! languages are those the desk offers (setting `handout_languages`, which
//! the municipality may set): the core prints no other.

use std::collections::BTreeMap;

use serde::Serialize;
use skranke_core::country;
use skranke_core::letter::texts;
use skranke_core::municipality;

/// One municipality as the pickers show it (`MunicipalityOption`).
#[derive(Debug, Serialize)]
pub struct MunicipalityOption {
    /// The kommunekode with three digits, as the form sends it ("101").
    pub code: String,
    pub name: &'static str,
}

/// The pickers' lists (`ReferenceData` in ui/src/api.ts).
#[derive(Debug, Serialize)]
pub struct ReferenceData {
    /// Sorted by code.
    pub municipalities: Vec<MunicipalityOption>,
    /// Every language a handout can be printed in (a catalog in letters/).
    pub handout_languages: Vec<&'static str>,
    /// The languages every handout carries, in print order.
    pub handout_always: Vec<&'static str>,
    /// Nationality (alpha-2) to the handout language it suggests, only where
    /// that language's handout exists.
    pub language_by_nationality: BTreeMap<&'static str, &'static str>,
}

/// The lists, built from the core's tables, with the handout languages limited to `offered` besides the
/// ones every handout carries (none given: every language there is).
pub fn reference_offering(offered: &[String]) -> ReferenceData {
    let municipalities = municipality::all()
        .iter()
        .map(|m| MunicipalityOption { code: format!("{:03}", m.code), name: m.name })
        .collect();
    let handout_languages: Vec<&'static str> = texts::available()
        .into_iter()
        .filter(|l| offered.is_empty() || texts::ALWAYS.contains(l) || offered.iter().any(|o| o == l))
        .collect();
    let language_by_nationality = country::languages()
        .iter()
        .filter(|(_, lang)| handout_languages.contains(lang))
        .map(|&(state, lang)| (state, lang))
        .collect();
    ReferenceData { municipalities, handout_languages, handout_always: texts::ALWAYS.to_vec(), language_by_nationality }
}

/// The pickers' lists for the window; before a desk exists, every language.
#[tauri::command]
pub fn reference_data(shell: tauri::State<'_, crate::state::Shell>) -> ReferenceData {
    let offered = shell.with_store(|store, _| Ok(store.handout_settings().map(|s| s.languages).unwrap_or_default()));
    reference_offering(&offered.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    fn reference() -> super::ReferenceData {
        super::reference_offering(&[])
    }

    /// A desk whose municipality offers only some handout languages offers
    /// those (and Danish and English), and a nationality suggests only an
    /// offered one.
    #[test]
    fn only_the_offered_handout_languages_are_offered() {
        let r = super::reference_offering(&["de".to_string()]);
        let mut langs = r.handout_languages.clone();
        langs.sort_unstable();
        assert_eq!(langs, ["da", "de", "en"]);
        assert_eq!(r.language_by_nationality.get("AT"), Some(&"de"));
        assert_eq!(r.language_by_nationality.get("PL"), None);
    }

    #[test]
    fn every_municipality_is_offered_with_a_three_digit_code() {
        let r = reference();
        assert_eq!(r.municipalities.len(), 98);
        assert!(r.municipalities.iter().all(|m| m.code.len() == 3 && !m.name.is_empty()));
        assert!(r.municipalities.iter().any(|m| m.code == "101" && m.name == "København"));
    }

    #[test]
    fn a_nationality_suggests_its_language_exactly_when_that_handout_exists() {
        let r = reference();
        assert_eq!(r.language_by_nationality.get("DE"), Some(&"de"));
        assert_eq!(r.language_by_nationality.get("AT"), Some(&"de"));
        for &(state, lang) in skranke_core::country::languages() {
            let offered = r.handout_languages.contains(&lang);
            assert_eq!(r.language_by_nationality.get(state), offered.then_some(&lang), "{state}");
        }
        assert!(skranke_core::country::languages().iter().any(|(_, l)| !r.handout_languages.contains(l)));
    }
}
