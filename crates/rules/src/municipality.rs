//! Danish municipalities (kommuner) and their codes (kommunekoder).
//!
//! The 98 municipalities since the 2007 reform, from Danmarks Statistik's
//! list, are compiled in from `data/kommunekoder.csv`. The code is three
//! digits (101 København); address data writes it with four ("0101"), which
//! [`parse_code`] accepts too. The job centre of the municipality where an
//! applicant stays is the competent one.

use std::sync::OnceLock;

const CSV: &str = include_str!("../data/kommunekoder.csv");

/// One municipality (kommune) and its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Municipality {
    /// The kommunekode, e.g. 101.
    pub code: u16,
    /// The municipality's name, e.g. "København".
    pub name: &'static str,
    /// The region's code, e.g. 1084.
    pub region_code: u16,
    /// The region's name, e.g. "Region Hovedstaden".
    pub region_name: &'static str,
}

impl Municipality {
    /// The competent job centre's name as staff say it: "Jobcenter København".
    pub fn job_centre(&self) -> String {
        format!("Jobcenter {}", self.name)
    }
}

/// Every municipality, sorted by code.
pub fn all() -> &'static [Municipality] {
    static ALL: OnceLock<Vec<Municipality>> = OnceLock::new();
    ALL.get_or_init(|| parse_csv(CSV))
}

/// The municipality with kommunekode `code`.
///
/// ```
/// use skranke_rules::municipality;
/// assert_eq!(municipality::lookup(461).map(|m| m.name), Some("Odense"));
/// assert!(municipality::lookup(100).is_none());
/// ```
pub fn lookup(code: u16) -> Option<&'static Municipality> {
    let all = all();
    all.binary_search_by_key(&code, |m| m.code).ok().map(|i| &all[i])
}

/// Parses a kommunekode written with three or four digits ("101", "0101")
/// and returns the municipality, when one has that code.
pub fn parse_code(text: &str) -> Option<&'static Municipality> {
    let text = text.trim();
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().and_then(lookup)
}

// The CSV is compiled in and checked by the tests below, so a malformed row
// is a build defect; it is skipped rather than crashing a desk.
fn parse_csv(csv: &'static str) -> Vec<Municipality> {
    let mut rows: Vec<Municipality> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.trim_end_matches('\r').split(',');
            let code = cols.next()?.trim().parse().ok()?;
            let name = cols.next()?.trim();
            let region_code = cols.next()?.trim().parse().ok()?;
            let region_name = cols.next()?.trim();
            Some(Municipality { code, name, region_code, region_name })
        })
        .collect();
    rows.sort_by_key(|m| m.code);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_98_municipalities_with_unique_codes() {
        assert_eq!(all().len(), 98);
        assert_eq!(CSV.lines().skip(1).filter(|l| !l.trim().is_empty()).count(), 98, "every CSV row parses");
        assert!(all().windows(2).all(|w| w[0].code < w[1].code));
    }

    #[test]
    fn known_codes_resolve_to_their_names_and_regions() {
        for (code, name) in [
            (101, "København"),
            (147, "Frederiksberg"),
            (461, "Odense"),
            (751, "Aarhus"),
            (851, "Aalborg"),
            (400, "Bornholm"),
        ] {
            assert_eq!(lookup(code).map(|m| m.name), Some(name), "{code}");
        }
        assert_eq!(lookup(101).map(|m| m.region_name), Some("Region Hovedstaden"));
        assert_eq!(lookup(851).map(|m| m.region_name), Some("Region Nordjylland"));
    }

    #[test]
    fn every_municipality_lies_in_one_of_the_five_regions() {
        for m in all() {
            assert!((1081..=1085).contains(&m.region_code), "{m:?}");
            assert!(m.region_name.starts_with("Region "), "{m:?}");
        }
    }

    #[test]
    fn codes_that_are_no_municipality_are_unknown() {
        for code in [0, 1, 100, 102, 104, 999, 1084, u16::MAX] {
            assert!(lookup(code).is_none(), "{code}");
        }
    }

    #[test]
    fn four_digit_codes_from_address_data_parse() {
        assert_eq!(parse_code("0101").map(|m| m.code), Some(101));
        assert_eq!(parse_code(" 751 ").map(|m| m.code), Some(751));
        for bad in ["", "01010", "10a", "-101", "+101", "１０１"] {
            assert!(parse_code(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_job_centre_is_named_after_the_municipality() {
        assert_eq!(lookup(461).map(|m| m.job_centre()), Some("Jobcenter Odense".to_string()));
    }
}
