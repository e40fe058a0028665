//! Intake commands: the machine-readable zone and the live check of the
//! form. Both are desk-level (no staff needed) and pure: the core decides.

use chrono::NaiveDate;
use serde::Serialize;
use skranke_core::applicant::{Applicant, ApplicantDraft, IntakeContext};
use skranke_core::i18n::Lang;
use skranke_core::{mrz, FieldError};

use crate::error::{UiError, UiResult};

/// A scan's result (`MrzScan` in ui/src/api.ts).
#[derive(Debug, Serialize)]
pub struct MrzScan {
    pub draft: ApplicantDraft,
    pub problems: Vec<FieldError>,
}

/// A possible earlier record of the same person (`DuplicateView`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DuplicateView {
    pub kind: &'static str,
    /// This desk's record; empty for a registry match (it names no record).
    pub record_id: String,
    pub source: &'static str,
    pub message: String,
    /// For a registry match: the desk that holds it.
    pub desk_id: Option<String>,
}

/// Whether the registry was asked before issuing, and what came of it
/// (`RegistryCheck`): `clear`, `matched`, `offline` (only the local check
/// ran) or `failed` (the registry answered with a refusal).
#[derive(Debug, Serialize)]
pub struct RegistryCheck {
    pub state: &'static str,
    pub message: String,
}

/// The form's check (`ApplicantCheck`).
#[derive(Debug, Serialize)]
pub struct ApplicantCheck {
    pub valid: bool,
    pub errors: Vec<FieldError>,
    pub notices: Vec<FieldError>,
    pub duplicates: Vec<DuplicateView>,
    /// Set when the registry was asked (an enrolled desk, a valid form, going on to review).
    pub registry: Option<RegistryCheck>,
}

/// Parses what a passport reader typed and fills a draft of the form.
pub fn scan(text: &str, today: NaiveDate, lang: Lang) -> UiResult<MrzScan> {
    let zone = mrz::parse(text, today).map_err(|e| UiError {
        message: e.message(lang),
        fields: vec![FieldError { field: "mrz".into(), code: e.code().into(), message: e.message(lang) }],
        code: None,
    })?;
    let problems = zone
        .problems
        .iter()
        .map(|p| FieldError { field: "mrz".into(), code: p.code().into(), message: p.message(lang) })
        .collect();
    Ok(MrzScan { draft: ApplicantDraft::from_mrz(&zone), problems })
}

/// Reads the form's JSON and applies every intake rule; the valid applicant
/// with its duplicate keys, or every problem at once.
pub fn validate(
    json: &serde_json::Value,
    ctx: &IntakeContext,
    lang: Lang,
) -> Result<skranke_core::applicant::ValidApplicant, Vec<FieldError>> {
    let text = json.to_string();
    let applicant = Applicant::from_json(&text, lang)?;
    applicant.validate(ctx, lang)
}

/// The check the form shows live: errors, notices; duplicates are added by
/// the caller from the store.
pub fn check(json: &serde_json::Value, ctx: &IntakeContext, lang: Lang) -> ApplicantCheck {
    match validate(json, ctx, lang) {
        Ok(valid) => ApplicantCheck {
            valid: true,
            errors: Vec::new(),
            notices: valid
                .notices
                .into_iter()
                .map(|n| FieldError { field: n.field, code: n.code, message: n.message })
                .collect(),
            duplicates: Vec::new(),
            registry: None,
        },
        Err(errors) => {
            ApplicantCheck { valid: false, errors, notices: Vec::new(), duplicates: Vec::new(), registry: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn ctx() -> IntakeContext {
        IntakeContext { today: today(), desk_municipality: 101 }
    }

    fn form() -> serde_json::Value {
        json!({
            "given_names": "Anna", "surname": "Kowalska", "birth_date": "1990-03-25", "sex": "F",
            "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
            "document": {"type": "passport", "number": "AB1234567", "issuing_state": "PL",
                         "expiry_date": "2035-12-31", "original_seen": true, "sex_on_document": null,
                         "no_expiry_confirmed": false},
            "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true,
            "language": "pl", "contact": {"email": null, "phone": null, "address_dk": null}
        })
    }

    #[test]
    fn the_forms_json_passes_the_core_when_complete() {
        let c = check(&form(), &ctx(), Lang::En);
        assert!(c.valid, "{:?}", c.errors);
    }

    #[test]
    fn an_expired_document_is_refused_on_its_field() {
        let mut f = form();
        f["document"]["expiry_date"] = json!("2020-01-01");
        let c = check(&f, &ctx(), Lang::En);
        assert!(!c.valid);
        assert!(c.errors.iter().any(|e| e.field == "document.expiry_date"), "{:?}", c.errors);
    }

    #[test]
    fn a_danish_national_is_refused_on_the_nationality() {
        let mut f = form();
        f["nationality"] = json!("DK");
        let c = check(&f, &ctx(), Lang::Da);
        assert!(c.errors.iter().any(|e| e.field == "nationality"), "{:?}", c.errors);
    }

    #[test]
    fn empty_form_fields_are_named_not_a_parse_failure() {
        let mut f = form();
        f["birth_date"] = json!(null);
        f["municipality_of_stay"] = json!("abc");
        let c = check(&f, &ctx(), Lang::En);
        let fields: Vec<_> = c.errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"birth_date"), "{fields:?}");
        assert!(fields.contains(&"municipality_of_stay"), "{fields:?}");
    }

    #[test]
    fn a_scanned_td3_fills_the_draft() {
        let zone = "P<D<<MUELLER<<JUERGEN<<<<<<<<<<<<<<<<<<<<<<<\nC01X00T478D<<6408125M3010312<<<<<<<<<<<<<<<2";
        let s = scan(zone, today(), Lang::En).unwrap();
        assert_eq!(s.draft.surname, "MUELLER");
        assert!(s.draft.mrz_valid);
        assert!(s.problems.is_empty());
    }

    #[test]
    fn an_unreadable_zone_is_a_sentence_on_the_zone_field() {
        let e = scan("hello\nworld", today(), Lang::En).unwrap_err();
        assert_eq!(e.fields[0].field, "mrz");
        assert!(!e.message.is_empty());
    }
}
