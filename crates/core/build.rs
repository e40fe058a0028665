//! Embeds the handout's text catalogs `letters/<lang>.json`: every file
//! there becomes a handout language, so a translator adds a language by
//! adding a file. Each must be a flat JSON object of strings (the tests in
//! `letter::texts` check that all have the same keys and placeholders). Keys
//! starting with `_` describe the catalog; the only one allowed is
//! `_review`, a non-empty note that the translation awaits a native
//! speaker's review.
//! (The staff-facing message catalogs are merged by skranke-rules' build.)

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    embed_letter_catalogs(&out_dir);
}

/// Writes `letters.rs`: a sorted table of (language code, catalog text).
fn embed_letter_catalogs(out_dir: &str) {
    let dir = Path::new("letters");
    println!("cargo:rerun-if-changed=letters");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut table = String::from("/// Handout catalogs embedded from `letters/*.json`, sorted by code.\n");
    table.push_str("pub(crate) const LETTER_CATALOGS: &[(&str, &str)] = &[\n");
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let code = file.file_stem().and_then(|s| s.to_str()).expect("catalog file name is UTF-8");
        assert!(
            code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()),
            "{} must be named by a lower-case ISO 639-1 code, e.g. pl.json",
            file.display()
        );
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let map: BTreeMap<String, String> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a flat JSON object of strings: {e}", file.display()));
        for (key, value) in map.iter().filter(|(k, _)| k.starts_with('_')) {
            assert!(key == "_review", "{}: unknown meta key {key:?} (the only one is \"_review\")", file.display());
            assert!(!value.trim().is_empty(), "{}: \"_review\" must say what awaits review", file.display());
        }
        let abs = fs::canonicalize(&file).expect("catalog path");
        table.push_str(&format!("    ({code:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    table.push_str("];\n");
    fs::write(Path::new(out_dir).join("letters.rs"), table).expect("write letter table");
}
