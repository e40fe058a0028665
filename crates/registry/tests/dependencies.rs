//! What the registry links, and what the pure crates link: read from
//! `cargo metadata` (the workspace's resolved graph for the host platform)
//! and walked over normal dependency edges only, the ones that end up in the
//! binary. Dev-dependencies (the desk-against-registry tests drive real
//! desks) and build-dependencies are not followed.
//!
//! The registry needs the rules and the wire, never the desk: no SQLCipher
//! store, OS key store, PDF renderer or HTTP client may reach the server
//! through a dependency. The rules and the wire do no I/O at all.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// What the registry's normal dependency tree must not contain.
const NOT_IN_THE_REGISTRY: &[&str] = &["skranke-core", "rusqlite", "keyring", "printpdf", "ureq"];

/// What the pure crates' normal dependency trees must not contain: the
/// desk's store, key store, PDF renderer and HTTP client, an async runtime,
/// and the desk crate itself.
const NOT_IN_PURE_CRATES: &[&str] = &["skranke-core", "rusqlite", "keyring", "printpdf", "ureq", "tokio"];

/// The workspace's packages and their normal dependency edges.
struct Graph {
    /// Package ID to package name.
    names: HashMap<String, String>,
    /// Package ID to the IDs it depends on with a normal (non-dev, non-build) edge.
    normal: HashMap<String, Vec<String>>,
    /// Package ID to the IDs it depends on with an edge of any kind.
    any: HashMap<String, Vec<String>>,
    /// The workspace members' IDs.
    members: Vec<String>,
}

fn graph() -> &'static Graph {
    static GRAPH: OnceLock<Graph> = OnceLock::new();
    GRAPH.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        // Offline: the build that compiled this test has every package of
        // the host's graph at hand (other platforms' packages may be absent).
        let output = Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host()])
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
        assert!(output.status.success(), "cargo metadata failed:\n{}", String::from_utf8_lossy(&output.stderr));
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        parse(&metadata)
    })
}

/// The host's target triple, as rustc reports it (the platform this test runs on).
fn host() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", rustc.to_string_lossy()));
    assert!(output.status.success(), "rustc -vV failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("rustc -vV prints UTF-8");
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("rustc -vV names no host:\n{text}"))
        .to_owned()
}

fn parse(metadata: &Value) -> Graph {
    let str_of = |v: &Value| v.as_str().expect("a string in cargo metadata").to_owned();
    let names = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (str_of(&p["id"]), str_of(&p["name"])))
        .collect();
    let members = metadata["workspace_members"].as_array().expect("workspace_members").iter().map(str_of).collect();
    let mut normal = HashMap::new();
    let mut any = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve.nodes (not --no-deps)") {
        let id = str_of(&node["id"]);
        let mut normal_deps = Vec::new();
        let mut any_deps = Vec::new();
        for dep in node["deps"].as_array().expect("deps") {
            let pkg = str_of(&dep["pkg"]);
            // `kind` is null for a normal edge, "dev" or "build" otherwise
            // (edges of other platforms were filtered out by cargo).
            if dep["dep_kinds"].as_array().expect("dep_kinds").iter().any(|k| k["kind"].is_null()) {
                normal_deps.push(pkg.clone());
            }
            any_deps.push(pkg);
        }
        normal.insert(id.clone(), normal_deps);
        any.insert(id, any_deps);
    }
    Graph { names, normal, any, members }
}

impl Graph {
    /// The workspace member called `name`.
    fn member(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|id| self.names[*id] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"))
    }

    /// The first path (by breadth, as package names) from the member `root`
    /// to a package named in `wanted`, over `edges`.
    fn path_to(&self, edges: &HashMap<String, Vec<String>>, root: &str, wanted: &[&str]) -> Option<Vec<String>> {
        let start = self.member(root).to_owned();
        let mut came_from: HashMap<String, String> = HashMap::new();
        let mut seen = HashSet::from([start.clone()]);
        let mut queue = VecDeque::from([start]);
        while let Some(id) = queue.pop_front() {
            if seen.len() > 1 && wanted.contains(&self.names[&id].as_str()) {
                let mut path = vec![self.names[&id].clone()];
                let mut at = &id;
                while let Some(prev) = came_from.get(at) {
                    path.push(self.names[prev].clone());
                    at = prev;
                }
                path.reverse();
                return Some(path);
            }
            for next in edges.get(&id).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    came_from.insert(next.clone(), id.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        None
    }

    fn normal_path(&self, root: &str, wanted: &[&str]) -> Option<Vec<String>> {
        self.path_to(&self.normal, root, wanted)
    }
}

/// The registry links no desk: neither `skranke-core` nor SQLite
/// (rusqlite), the OS key store (keyring), the PDF renderer (printpdf) or
/// the desk's HTTP client (ureq) is in its normal dependency tree.
#[test]
fn the_registry_links_no_desk_store_key_store_pdf_or_http_client() {
    if let Some(path) = graph().normal_path("skranke-registry", NOT_IN_THE_REGISTRY) {
        panic!("the registry links what it must not: {}", path.join(" -> "));
    }
}

/// The rules and the wire are pure: no store, key store, PDF renderer,
/// HTTP client, async runtime or desk in their normal dependency trees, and
/// the rules do not depend on the wire (the wire builds on the rules).
#[test]
fn the_rules_and_the_wire_link_no_io() {
    for root in ["skranke-rules", "skranke-protocol"] {
        if let Some(path) = graph().normal_path(root, NOT_IN_PURE_CRATES) {
            panic!("{root} links what it must not: {}", path.join(" -> "));
        }
    }
    if let Some(path) = graph().normal_path("skranke-rules", &["skranke-protocol"]) {
        panic!("the rules depend on the wire: {}", path.join(" -> "));
    }
}

/// The walk sees what is there, so the two tests above cannot pass for
/// want of a graph: the desk's normal tree has SQLCipher, the registry
/// depends on the rules directly, and the desk crate is in the
/// registry's graph only as a dev-dependency (its tests drive real desks),
/// which the normal walk does not follow.
#[test]
fn the_walk_finds_normal_paths_and_skips_dev_edges() {
    let g = graph();
    assert_eq!(g.normal_path("skranke-core", &["rusqlite"]), Some(vec!["skranke-core".into(), "rusqlite".into()]));
    assert_eq!(
        g.normal_path("skranke-registry", &["skranke-rules"]).map(|p| p.len()),
        Some(2),
        "the registry depends on the rules directly"
    );
    let via_tests = g.path_to(&g.any, "skranke-registry", &["skranke-core"]);
    assert_eq!(via_tests, Some(vec!["skranke-registry".into(), "skranke-core".into()]));
    assert_eq!(g.normal_path("skranke-registry", &["skranke-core"]), None);
}
