//! Country codes: ISO 3166-1 alpha-2 (what Skranke stores), the ICAO
//! 3-letter codes of machine-readable zones, and the EU/EEA/Swiss list that
//! decides who may register as a job seeker.
//!
//! Eurostat writes `EL` for Greece; ISO 3166 and Skranke use `GR`. Germany is
//! `D` in an MRZ, not `DEU`.

/// The 27 EU member states (ISO alpha-2).
pub const EU: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// EEA members outside the EU.
pub const EEA_NON_EU: [&str; 3] = ["IS", "LI", "NO"];

/// Switzerland, treated as an EEA state for job seekers.
pub const SWITZERLAND: &str = "CH";

/// Denmark: its citizens never get an administrative personnummer.
pub const DENMARK: &str = "DK";

/// ICAO codes for persons without a nationality to state: `XXA` stateless,
/// `XXB` refugee (1951 Convention), `XXC` other refugee, `XXX` unspecified.
pub const ICAO_NON_NATIONALITIES: [&str; 4] = ["XXA", "XXB", "XXC", "XXX"];

/// ISO 3166-1 alpha-3 to alpha-2, sorted by alpha-3 for binary search.
/// ICAO uses alpha-3 for every state except Germany (`D`).
const ALPHA3_TO_ALPHA2: [(&str, &str); 249] = [
    ("ABW", "AW"),
    ("AFG", "AF"),
    ("AGO", "AO"),
    ("AIA", "AI"),
    ("ALA", "AX"),
    ("ALB", "AL"),
    ("AND", "AD"),
    ("ARE", "AE"),
    ("ARG", "AR"),
    ("ARM", "AM"),
    ("ASM", "AS"),
    ("ATA", "AQ"),
    ("ATF", "TF"),
    ("ATG", "AG"),
    ("AUS", "AU"),
    ("AUT", "AT"),
    ("AZE", "AZ"),
    ("BDI", "BI"),
    ("BEL", "BE"),
    ("BEN", "BJ"),
    ("BES", "BQ"),
    ("BFA", "BF"),
    ("BGD", "BD"),
    ("BGR", "BG"),
    ("BHR", "BH"),
    ("BHS", "BS"),
    ("BIH", "BA"),
    ("BLM", "BL"),
    ("BLR", "BY"),
    ("BLZ", "BZ"),
    ("BMU", "BM"),
    ("BOL", "BO"),
    ("BRA", "BR"),
    ("BRB", "BB"),
    ("BRN", "BN"),
    ("BTN", "BT"),
    ("BVT", "BV"),
    ("BWA", "BW"),
    ("CAF", "CF"),
    ("CAN", "CA"),
    ("CCK", "CC"),
    ("CHE", "CH"),
    ("CHL", "CL"),
    ("CHN", "CN"),
    ("CIV", "CI"),
    ("CMR", "CM"),
    ("COD", "CD"),
    ("COG", "CG"),
    ("COK", "CK"),
    ("COL", "CO"),
    ("COM", "KM"),
    ("CPV", "CV"),
    ("CRI", "CR"),
    ("CUB", "CU"),
    ("CUW", "CW"),
    ("CXR", "CX"),
    ("CYM", "KY"),
    ("CYP", "CY"),
    ("CZE", "CZ"),
    ("DEU", "DE"),
    ("DJI", "DJ"),
    ("DMA", "DM"),
    ("DNK", "DK"),
    ("DOM", "DO"),
    ("DZA", "DZ"),
    ("ECU", "EC"),
    ("EGY", "EG"),
    ("ERI", "ER"),
    ("ESH", "EH"),
    ("ESP", "ES"),
    ("EST", "EE"),
    ("ETH", "ET"),
    ("FIN", "FI"),
    ("FJI", "FJ"),
    ("FLK", "FK"),
    ("FRA", "FR"),
    ("FRO", "FO"),
    ("FSM", "FM"),
    ("GAB", "GA"),
    ("GBR", "GB"),
    ("GEO", "GE"),
    ("GGY", "GG"),
    ("GHA", "GH"),
    ("GIB", "GI"),
    ("GIN", "GN"),
    ("GLP", "GP"),
    ("GMB", "GM"),
    ("GNB", "GW"),
    ("GNQ", "GQ"),
    ("GRC", "GR"),
    ("GRD", "GD"),
    ("GRL", "GL"),
    ("GTM", "GT"),
    ("GUF", "GF"),
    ("GUM", "GU"),
    ("GUY", "GY"),
    ("HKG", "HK"),
    ("HMD", "HM"),
    ("HND", "HN"),
    ("HRV", "HR"),
    ("HTI", "HT"),
    ("HUN", "HU"),
    ("IDN", "ID"),
    ("IMN", "IM"),
    ("IND", "IN"),
    ("IOT", "IO"),
    ("IRL", "IE"),
    ("IRN", "IR"),
    ("IRQ", "IQ"),
    ("ISL", "IS"),
    ("ISR", "IL"),
    ("ITA", "IT"),
    ("JAM", "JM"),
    ("JEY", "JE"),
    ("JOR", "JO"),
    ("JPN", "JP"),
    ("KAZ", "KZ"),
    ("KEN", "KE"),
    ("KGZ", "KG"),
    ("KHM", "KH"),
    ("KIR", "KI"),
    ("KNA", "KN"),
    ("KOR", "KR"),
    ("KWT", "KW"),
    ("LAO", "LA"),
    ("LBN", "LB"),
    ("LBR", "LR"),
    ("LBY", "LY"),
    ("LCA", "LC"),
    ("LIE", "LI"),
    ("LKA", "LK"),
    ("LSO", "LS"),
    ("LTU", "LT"),
    ("LUX", "LU"),
    ("LVA", "LV"),
    ("MAC", "MO"),
    ("MAF", "MF"),
    ("MAR", "MA"),
    ("MCO", "MC"),
    ("MDA", "MD"),
    ("MDG", "MG"),
    ("MDV", "MV"),
    ("MEX", "MX"),
    ("MHL", "MH"),
    ("MKD", "MK"),
    ("MLI", "ML"),
    ("MLT", "MT"),
    ("MMR", "MM"),
    ("MNE", "ME"),
    ("MNG", "MN"),
    ("MNP", "MP"),
    ("MOZ", "MZ"),
    ("MRT", "MR"),
    ("MSR", "MS"),
    ("MTQ", "MQ"),
    ("MUS", "MU"),
    ("MWI", "MW"),
    ("MYS", "MY"),
    ("MYT", "YT"),
    ("NAM", "NA"),
    ("NCL", "NC"),
    ("NER", "NE"),
    ("NFK", "NF"),
    ("NGA", "NG"),
    ("NIC", "NI"),
    ("NIU", "NU"),
    ("NLD", "NL"),
    ("NOR", "NO"),
    ("NPL", "NP"),
    ("NRU", "NR"),
    ("NZL", "NZ"),
    ("OMN", "OM"),
    ("PAK", "PK"),
    ("PAN", "PA"),
    ("PCN", "PN"),
    ("PER", "PE"),
    ("PHL", "PH"),
    ("PLW", "PW"),
    ("PNG", "PG"),
    ("POL", "PL"),
    ("PRI", "PR"),
    ("PRK", "KP"),
    ("PRT", "PT"),
    ("PRY", "PY"),
    ("PSE", "PS"),
    ("PYF", "PF"),
    ("QAT", "QA"),
    ("REU", "RE"),
    ("ROU", "RO"),
    ("RUS", "RU"),
    ("RWA", "RW"),
    ("SAU", "SA"),
    ("SDN", "SD"),
    ("SEN", "SN"),
    ("SGP", "SG"),
    ("SGS", "GS"),
    ("SHN", "SH"),
    ("SJM", "SJ"),
    ("SLB", "SB"),
    ("SLE", "SL"),
    ("SLV", "SV"),
    ("SMR", "SM"),
    ("SOM", "SO"),
    ("SPM", "PM"),
    ("SRB", "RS"),
    ("SSD", "SS"),
    ("STP", "ST"),
    ("SUR", "SR"),
    ("SVK", "SK"),
    ("SVN", "SI"),
    ("SWE", "SE"),
    ("SWZ", "SZ"),
    ("SXM", "SX"),
    ("SYC", "SC"),
    ("SYR", "SY"),
    ("TCA", "TC"),
    ("TCD", "TD"),
    ("TGO", "TG"),
    ("THA", "TH"),
    ("TJK", "TJ"),
    ("TKL", "TK"),
    ("TKM", "TM"),
    ("TLS", "TL"),
    ("TON", "TO"),
    ("TTO", "TT"),
    ("TUN", "TN"),
    ("TUR", "TR"),
    ("TUV", "TV"),
    ("TWN", "TW"),
    ("TZA", "TZ"),
    ("UGA", "UG"),
    ("UKR", "UA"),
    ("UMI", "UM"),
    ("URY", "UY"),
    ("USA", "US"),
    ("UZB", "UZ"),
    ("VAT", "VA"),
    ("VCT", "VC"),
    ("VEN", "VE"),
    ("VGB", "VG"),
    ("VIR", "VI"),
    ("VNM", "VN"),
    ("VUT", "VU"),
    ("WLF", "WF"),
    ("WSM", "WS"),
    ("YEM", "YE"),
    ("ZAF", "ZA"),
    ("ZMB", "ZM"),
    ("ZWE", "ZW"),
];

/// ICAO codes that are not ISO alpha-3 but still name a state.
const ICAO_EXTRA: [(&str, &str); 7] = [
    // Germany writes `D` (padded `D<<` in the zone).
    ("D", "DE"),
    // British nationals of the various kinds: the issuing state is the UK.
    ("GBD", "GB"),
    ("GBN", "GB"),
    ("GBO", "GB"),
    ("GBP", "GB"),
    ("GBS", "GB"),
    // Kosovo: ICAO `RKS`; `XK` is the code the EU uses (user-assigned in ISO).
    ("RKS", "XK"),
];

/// Whether `code` is an EU, EEA or Swiss ISO alpha-2 code (Denmark included:
/// callers refuse `DK` separately, with its own message).
pub fn is_eu_eea_or_ch(code: &str) -> bool {
    EU.contains(&code) || EEA_NON_EU.contains(&code) || code == SWITZERLAND
}

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code (upper case), or
/// `XK` (Kosovo), which the EU and ICAO practice treat as one.
///
/// ```
/// use skranke_rules::country::is_alpha2;
/// assert!(is_alpha2("SE"));
/// assert!(!is_alpha2("EL"));
/// ```
pub fn is_alpha2(code: &str) -> bool {
    code == "XK" || ALPHA3_TO_ALPHA2.iter().any(|&(_, a2)| a2 == code)
}

/// The ISO alpha-2 code for an ICAO 3-letter code as an MRZ writes it
/// (trailing `<` fillers allowed), or `None` where no state exists: `XXA`,
/// `XXB`, `XXC`, `UNO`, the specimen state `UTO`, and unknown codes.
///
/// ```
/// use skranke_rules::country::icao_to_alpha2;
/// assert_eq!(icao_to_alpha2("D<<"), Some("DE"));
/// assert_eq!(icao_to_alpha2("SWE"), Some("SE"));
/// assert_eq!(icao_to_alpha2("UTO"), None);
/// ```
pub fn icao_to_alpha2(code: &str) -> Option<&'static str> {
    let code = code.trim_end_matches('<');
    if let Some(&(_, a2)) = ICAO_EXTRA.iter().find(|(icao, _)| *icao == code) {
        return Some(a2);
    }
    ALPHA3_TO_ALPHA2.binary_search_by(|(a3, _)| (*a3).cmp(code)).ok().map(|i| ALPHA3_TO_ALPHA2[i].1)
}

/// The ICAO 3-letter code for an ISO alpha-2 code (`D` for Germany), as an
/// MRZ writes it before padding. Used by the MRZ formatter.
pub fn alpha2_to_icao(code: &str) -> Option<&'static str> {
    match code {
        "DE" => Some("D"),
        "XK" => Some("RKS"),
        _ => ALPHA3_TO_ALPHA2.iter().find(|&&(_, a2)| a2 == code).map(|&(a3, _)| a3),
    }
}

/// Whether `code` is one of ICAO's codes for a stateless person or refugee.
pub fn is_icao_non_nationality(code: &str) -> bool {
    ICAO_NON_NATIONALITIES.contains(&code)
}

/// The language (ISO 639-1) a state's citizens most likely read, for the
/// handout's third language: the official or most widely read language,
/// one per state; states with several equal ones (Belgium, Switzerland)
/// and those without a clear one are left out, so the clerk chooses.
/// Whether a handout exists in that language is `letter::texts`'s to say.
const LANGUAGES: [(&str, &str); 46] = [
    ("AE", "ar"),
    ("AF", "fa"),
    ("AT", "de"),
    ("BG", "bg"),
    ("CY", "el"),
    ("CZ", "cs"),
    ("DE", "de"),
    ("DK", "da"),
    ("DZ", "ar"),
    ("EE", "et"),
    ("EG", "ar"),
    ("ER", "ti"),
    ("ES", "es"),
    ("FI", "fi"),
    ("FR", "fr"),
    ("GB", "en"),
    ("GR", "el"),
    ("HR", "hr"),
    ("HU", "hu"),
    ("IE", "en"),
    ("IQ", "ar"),
    ("IR", "fa"),
    ("IS", "is"),
    ("IT", "it"),
    ("JO", "ar"),
    ("LB", "ar"),
    ("LI", "de"),
    ("LT", "lt"),
    ("LV", "lv"),
    ("LY", "ar"),
    ("MA", "ar"),
    ("MD", "ro"),
    ("NL", "nl"),
    ("NO", "nb"),
    ("PL", "pl"),
    ("PS", "ar"),
    ("PT", "pt"),
    ("RO", "ro"),
    ("SA", "ar"),
    ("SD", "ar"),
    ("SE", "sv"),
    ("SI", "sl"),
    ("SK", "sk"),
    ("SO", "so"),
    ("SY", "ar"),
    ("TN", "ar"),
];

/// The language a state's citizens most likely read (ISO 639-1), by the
/// state's alpha-2 code (case-insensitive), if there is one clear language.
///
/// ```
/// use skranke_rules::country::language;
/// assert_eq!(language("de"), Some("de"));
/// assert_eq!(language("AT"), Some("de"));
/// assert_eq!(language("BE"), None); // Dutch, French and German
/// ```
pub fn language(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    LANGUAGES.binary_search_by(|(a2, _)| (*a2).cmp(code.as_str())).ok().map(|i| LANGUAGES[i].1)
}

/// Every state with a clear language, as (alpha-2, ISO 639-1), sorted by state.
pub fn languages() -> &'static [(&'static str, &'static str)] {
    &LANGUAGES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alpha3_table_is_sorted_for_binary_search() {
        assert!(ALPHA3_TO_ALPHA2.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_eu_eea_and_swiss_code_is_a_valid_alpha2() {
        for code in EU.iter().chain(EEA_NON_EU.iter()).chain([SWITZERLAND].iter()) {
            assert!(is_alpha2(code), "{code}");
            assert!(is_eu_eea_or_ch(code), "{code}");
        }
        assert_eq!(EU.len() + EEA_NON_EU.len() + 1, 31);
    }

    #[test]
    fn greece_is_gr_not_eurostats_el() {
        assert!(is_eu_eea_or_ch("GR"));
        assert!(!is_alpha2("EL"));
        assert_eq!(icao_to_alpha2("GRC"), Some("GR"));
    }

    #[test]
    fn non_eea_states_are_not_eea() {
        for code in ["GB", "US", "UA", "TR", "SY"] {
            assert!(is_alpha2(code));
            assert!(!is_eu_eea_or_ch(code), "{code}");
        }
    }

    #[test]
    fn germany_is_d_in_an_mrz() {
        assert_eq!(icao_to_alpha2("D"), Some("DE"));
        assert_eq!(icao_to_alpha2("D<<"), Some("DE"));
        assert_eq!(alpha2_to_icao("DE"), Some("D"));
        // DEU is the ISO alpha-3; some readers or documents still write it.
        assert_eq!(icao_to_alpha2("DEU"), Some("DE"));
    }

    #[test]
    fn stateless_refugee_and_specimen_codes_map_to_no_state() {
        for code in ["XXA", "XXB", "XXC", "XXX", "UTO", "UNO", "XOM", "QQQ", "", "<<<"] {
            assert_eq!(icao_to_alpha2(code), None, "{code}");
        }
        assert!(is_icao_non_nationality("XXA"));
        assert!(!is_icao_non_nationality("UTO"));
    }

    #[test]
    fn alpha2_and_icao_round_trip_for_every_state() {
        for &(_, a2) in &ALPHA3_TO_ALPHA2 {
            let icao = alpha2_to_icao(a2).unwrap_or_default();
            assert_eq!(icao_to_alpha2(icao), Some(a2), "{a2}");
        }
    }

    #[test]
    fn the_language_table_is_sorted_and_names_only_real_states() {
        assert!(LANGUAGES.windows(2).all(|w| w[0].0 < w[1].0));
        for (a2, lang) in LANGUAGES {
            assert!(is_alpha2(a2), "{a2}");
            assert!(lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()), "{lang}");
        }
    }

    #[test]
    fn a_state_with_one_clear_language_has_it_and_others_have_none() {
        assert_eq!(language("DE"), Some("de"));
        assert_eq!(language(" pl "), Some("pl"));
        assert_eq!(language("GR"), Some("el"));
        assert_eq!(language("SY"), Some("ar"));
        assert_eq!(language("ER"), Some("ti"));
        for code in ["BE", "CH", "LU", "XXA", "", "ZZ"] {
            assert_eq!(language(code), None, "{code}");
        }
    }
}
