//! Merges the message catalogs `messages/<lang>/*.json` into one catalog per
//! language, so that each module (and each translator) keeps its own file.
//! A key defined twice within a language fails the build.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn main() {
    let root = Path::new("messages");
    println!("cargo:rerun-if-changed=messages");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for lang in ["da", "en"] {
        let dir = root.join(lang);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for file in files {
            println!("cargo:rerun-if-changed={}", file.display());
            let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let map: BTreeMap<String, String> = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not a flat JSON object of strings: {e}", file.display()));
            for (k, v) in map {
                if merged.insert(k.clone(), v).is_some() {
                    panic!("message key {k} is defined twice for language {lang} (again in {})", file.display());
                }
            }
        }
        let json = serde_json::to_string(&merged).expect("catalog serialises");
        fs::write(Path::new(&out_dir).join(format!("messages_{lang}.json")), json).expect("write merged catalog");
    }
}
