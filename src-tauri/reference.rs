//! The lists the window's pickers offer, from the core (one source, no copy
//! in the UI): the 98 municipalities by code and name, and the languages a
//! handout can carry with the default each nationality suggests. Desk-level
//! and without a session: first start needs the municipalities.

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

/// The lists, built from the core's tables.
pub fn reference() -> ReferenceData {
    let municipalities = municipality::all()
        .iter()
        .map(|m| MunicipalityOption { code: format!("{:03}", m.code), name: m.name })
        .collect();
    let handout_languages = texts::available();
    let language_by_nationality = country::languages()
        .iter()
        .filter(|(_, lang)| handout_languages.contains(lang))
        .map(|&(state, lang)| (state, lang))
        .collect();
    ReferenceData { municipalities, handout_languages, handout_always: texts::ALWAYS.to_vec(), language_by_nationality }
}

/// The pickers' lists for the window.
#[tauri::command]
pub fn reference_data() -> ReferenceData {
    reference()
}

#[cfg(test)]
mod tests {
    use super::reference;

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
